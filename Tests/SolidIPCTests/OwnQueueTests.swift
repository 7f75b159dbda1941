import SolidEngine
import SolidIPC
import Testing

/// The queue limits guard against a peer that makes this side queue without reading; they must not
/// stop a side from reading just because it queued a large message of its own.
@Suite("Own large messages and the queue limits", .serialized)
struct OwnQueueTests {
    @Test("a client whose own 16 MiB message is stuck behind a paused peer (queue limit 1 MiB) still reads what the peer sends meanwhile")
    func ownMessageDoesNotStopReading() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let held = Lock<MessageContext?>(nil)
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { note, context in
                // The first note: stop reading this client, keep its context to push to it later.
                try? context.pauseReading()
                held.withLock { $0 = context }
                try? context.respond(Note(id: note.id, text: "paused"))
            }
        }
        defer { server.stop() }
        let pushed = EventLog()
        var configuration = ServiceConfiguration(registry: try noteRegistry())
        configuration.connection.maxQueuedBytes = 1 << 20
        let client = try IPCService(configuration: configuration, group: group)
        try client.handle(Note.self) { note, _ in pushed.add(note.text) }
        try client.start()
        defer { client.stop() }
        let answered = EventLog()
        try client.request(Note(id: 1, text: "pause"), to: destination, expecting: Note.self) { answered.add("\($0)") }
        #expect(answered.wait { !$0.isEmpty })
        // 16 MiB the paused server does not read: it stays in the client's queue, far over the 1 MiB limit.
        let sent = EventLog()
        try client.send(Blob(id: 2, size: 16 << 20), to: destination) { sent.add("\($0)") }
        #expect(waitUntil { (try? client.snapshot().pools.first?.connections.first?.bytesQueued ?? 0) ?? 0 > 4 << 20 })
        // The server pushes to the client: the client reads it although its own queue is over the limit.
        let context = try #require(held.withLock { $0 })
        try context.send(Note(id: 3, text: "pushed while you wait"))
        #expect(pushed.wait(seconds: 10) { !$0.isEmpty })
        #expect(pushed.all == ["pushed while you wait"])
        #expect(sent.all.isEmpty, "the big message is still on its way")
        try context.resumeReading()
        #expect(sent.wait { !$0.isEmpty })
        #expect(sent.all == ["\(Result<Void, SendError>.success(()))"])
    }
}
