import Glibc
import SolidEngine
import SolidIPC
import SolidReactor
import Testing

/// Cases found in review: queue places after a resend, async senders waiting on a freed pool, and a
/// request whose deadline passes while it is being written.
@Suite("Queue places, waiters and deadlines", .serialized)
struct ReviewFixTests {
    @Test("an idempotent request resent after a drop gives its queue place back once: the idle pool is still freed")
    func placeReturnedOnceAfterResend() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let seen = Lock(0)
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { note, context in
                // The first copy loses its connection; the second is answered.
                if seen.withLock({ value -> Int in value += 1; return value }) == 1 {
                    try? server.closeConnection(context.connection)
                } else {
                    try? context.respond(note)
                }
            }
        }
        defer { server.stop() }
        let handles = Lock<[ObjectHandle]>([])
        let client = try startClient(group: group) { configuration in
            configuration.reconnectDelay = .milliseconds(1)
            configuration.onConnectionStart = { info in handles.withLock { $0.append(info.handle) } }
        }
        defer { client.stop() }
        let answer = EventLog()
        try client.request(Note(id: 1, text: "again"), to: destination, options: .idempotent, expecting: Note.self) {
            answer.add((try? $0.get().text) ?? "\($0)")
        }
        #expect(answer.wait { !$0.isEmpty })
        #expect(answer.all == ["again"] && seen.withLock { $0 } == 2)
        try client.closeConnection(handles.withLock { $0.last! })
        #expect(waitUntil { client.statistics.pools == 0 }, "with an exact count the idle pool is freed")
    }

    @Test("async senders waiting for room on a pool that is freed are woken and finish")
    func waitersOnFreedPool() async throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let reserved = try reservePort()  // nothing listens: every connect is refused
        defer { close(reserved.fd) }
        let client = try startClient(group: group) { configuration in
            configuration.poolQueueCapacity = 1
            configuration.reconnectDelay = .milliseconds(1)
        }
        defer { client.stop() }
        let destination = try Destination(host: "127.0.0.1", port: reserved.port)
        let results = Lock<[String]>([])
        await withTaskGroup(of: Void.self) { tasks in
            for id in 0..<6 as Range<UInt64> {
                tasks.addTask {
                    do {
                        try await client.send(Note(id: id, text: "x"), to: destination, options: .oneShot)
                        results.withLock { $0.append("sent") }
                    } catch {
                        results.withLock { $0.append("\(error)".contains("cannot connect") ? "refused" : "\(error)") }
                    }
                }
            }
        }
        #expect(results.withLock { $0 } == Array(repeating: "refused", count: 6))
    }

    @Test("a request whose deadline passes while it is being written fails with the timeout once written")
    func deadlineWhileWriting() throws {
        let clock = ManualClock()
        let group = try ReactorGroup(threads: 2, clock: clock)
        defer { group.shutdown() }
        let serverBox = Lock<IPCService?>(nil)
        let paused = Lock<ObjectHandle?>(nil)
        let handled = EventLog()
        let (server, destination) = try startServer(group: group, configure: { configuration in
            configuration.onConnectionStart = { info in
                // The pause is asked first: the test resumes once it sees the handle, and a resume that
                // overtook the pause left the connection paused for good (1 run in 7 hung here: a trace
                // showed the resume applied, then the pause).
                try? serverBox.withLock { $0 }?.pauseReading(info.handle)
                paused.withLock { $0 = info.handle }
            }
        }) { server in
            try server.handle(Blob.self) { blob, context in
                handled.add("\(blob.id)")
                try? context.respond(blob)
            }
        }
        serverBox.withLock { $0 = server }
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let outcome = EventLog()
        try client.request(Blob(id: 9, size: 4 << 20), to: destination, timeout: .seconds(5), expecting: Blob.self) {
            outcome.add("\($0.map(\.id))")
        }
        // Part of it is written, the rest is stuck behind the paused reader: then the deadline passes.
        // (20 KB: well past the hello; how much more fits depends on the receive window the paused peer
        // advertises, seen at under 100 KB once under load.)
        #expect(waitUntil { client.statistics.bytesSent > 20_000 })
        clock.advance(by: .seconds(6))
        #expect(waitUntil { paused.withLock { $0 } != nil })
        try server.resumeReading(paused.withLock { $0 }!)
        #expect(outcome.wait { !$0.isEmpty })
        #expect(outcome.all == ["\(Result<UInt64, SendError>.failure(.timeout(progress: .sentAwaitingResponse)))"])
    }
}
