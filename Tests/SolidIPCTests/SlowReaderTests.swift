import Glibc
import SolidEngine
import SolidIPC
import Testing

@Suite("A peer that does not read", .serialized)
struct SlowReaderTests {
    @Test("requests from a peer that never reads: reading it stops at maxQueuedMessages, others are served, it closes with outgoingQueueStalled (manual clock)")
    func neverReads() throws {
        let clock = ManualClock()
        let group = try ReactorGroup(threads: 2, clock: clock)
        defer { group.shutdown() }
        let stops = EventLog()
        let big = String(repeating: "r", count: 256 * 1024)
        let (server, destination) = try startServer(group: group, configure: { configuration in
            configuration.connection.maxQueuedMessages = 16
            configuration.connection.queueStallTimeout = .seconds(5)
            configuration.onConnectionStop = { _, error in stops.add("\(error)") }
        }) { server in
            try server.handle(Note.self) { note, context in
                try? context.respond(Note(id: note.id, text: note.id >= 1000 ? big : "small"))
            }
        }
        defer { server.stop() }
        // The attacker: a hello, then 200 requests of 8 KiB, each answered with 256 KiB it never reads.
        let attack = try helloAndRequests((0..<200).map { Note(id: UInt64(1000 + $0), text: String(repeating: "q", count: 8192)) })
        let attacker = HostilePeers(1, connectingTo: destination.port, group: group, firstReactor: 1, sending: attack, reading: false)
        // The server stops reading it: far fewer than 200 requests get in, and no more later.
        #expect(waitUntil { server.statistics.messagesReceived >= 16 })
        var received = 0
        for _ in 0..<20 {
            _ = pendingTimers(group)
            received = server.statistics.messagesReceived
        }
        usleep(200_000)
        #expect(server.statistics.messagesReceived <= received + 2, "reading stays paused (one read may be in flight)")
        #expect(received < 40, "\(received) requests read of 200 (limit 16 + one read)")
        // Another client is served meanwhile.
        let client = try startClient(group: group)
        defer { client.stop() }
        let answers = EventLog()
        try client.request(Note(id: 1, text: "hi"), to: destination, expecting: Note.self) { result in
            answers.add((try? result.get().text) ?? "error \(result)")
        }
        #expect(answers.wait { !$0.isEmpty })
        #expect(answers.all == ["small"])
        #expect(stops.all.isEmpty)
        // Full for longer than the stall limit: closed, with its own error.
        clock.advance(by: .seconds(6))
        _ = pendingTimers(group)
        #expect(stops.wait { !$0.isEmpty })
        #expect(stops.all == ["the peer does not read: outgoing queue full for too long"])
        attacker.close()
    }
}

@Suite("A peer that does not read large answers", .serialized)
struct SlowReaderBytesTests {
    @Test("200 requests of 8 KiB answered with 1 MiB each from a peer that never reads: reading stops at the 64 MiB byte limit (defaults), memory stays bounded, closed on the stall (manual clock)")
    func neverReadsLargeAnswers() throws {
        let clock = ManualClock()
        let group = try ReactorGroup(threads: 2, clock: clock)
        defer { group.shutdown() }
        let stops = EventLog()
        let (server, destination) = try startServer(group: group, configure: { configuration in
            configuration.onConnectionStop = { _, error in stops.add("\(error)") }
        }) { server in
            try server.handle(Note.self) { note, context in
                try? context.respond(Blob(id: note.id, size: 1 << 20))
            }
        }
        defer { server.stop() }
        let attack = try helloAndRequests((0..<200).map { Note(id: UInt64($0), text: String(repeating: "q", count: 8192)) })
        let residentBefore = residentBytes()
        let attacker = HostilePeers(1, connectingTo: destination.port, group: group, firstReactor: 1, sending: attack, reading: false)
        defer { attacker.close() }
        #expect(waitUntil { server.statistics.messagesReceived >= 64 })
        for _ in 0..<20 { _ = pendingTimers(group) }
        let received = server.statistics.messagesReceived
        // 64 MiB of answers (plus what the socket took) stops reading; the message limit (1024) never
        // came near.
        #expect(received < 100, "\(received) requests read of 200")
        // The bound the library keeps: the connection's queued answers stop at the 64 MiB limit plus the
        // answers to the read that crossed it (one 64 KiB read holds up to 8 requests of 8 KiB: 8 MiB).
        let connection = try #require(server.snapshot().acceptedConnections.first)
        let queued = connection.bytesQueued
        #expect(
            queued <= (64 + 8 + 1) << 20,
            "\(queued >> 20) MiB queued; \(connection)")
        // The process as a whole (other suites run meanwhile: a loose bound; the sanitizers' shadow memory
        // and quarantine make RSS meaningless there).
        let grown = residentBytes() - residentBefore
        if !runningUnderSanitizer { #expect(grown < 256 << 20, "resident memory grew by \(grown >> 20) MiB") }
        #expect(stops.all.isEmpty)
        clock.advance(by: .seconds(31))
        _ = pendingTimers(group)
        #expect(stops.wait { !$0.isEmpty })
        #expect(stops.all == ["\(ConnectionError.outgoingQueueStalled)"])
    }
}
