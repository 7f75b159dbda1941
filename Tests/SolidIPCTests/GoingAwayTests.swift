import SolidEngine
import SolidIPC
import SolidReactor
import Testing

/// The going-away record and the half-close on the wire (PROTOCOL.md §4.1).
@Suite("Going away and half-close", .serialized)
struct GoingAwayTests {
    @Test("the server goes away in the middle of 300 requests: every request completes once, with its answer; the rest go on a new connection")
    func serverGoesAwayUnderLoad() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let serverStops = EventLog()
        let arrivals = Lock<Int>(0)
        let (server, destination) = try startServer(group: group, configure: { configuration in
            configuration.onConnectionStop = { _, error in serverStops.add("\(error)") }
        }) { server in
            try server.handle(Note.self) { note, context in
                try? context.respond(Note(id: note.id, text: "a\(note.id)"))
                if arrivals.withLock({ $0 += 1; return $0 }) == 50 {
                    try? server.closeConnection(context.connection, mode: .graceful)
                }
            }
        }
        defer { server.stop() }
        let clientStops = EventLog()
        let client = try startClient(group: group) { configuration in
            configuration.onConnectionStop = { _, error in clientStops.add("\(error)") }
        }
        defer { client.stop() }
        let answers = EventLog()
        for id in 1...300 {
            try client.request(Note(id: UInt64(id), text: "q"), to: destination, expecting: Note.self) { result in
                answers.add((try? result.get()).map { $0.text == "a\($0.id)" ? "ok" : "wrong \($0.text)" } ?? "\(result)")
            }
        }
        #expect(answers.wait { $0.count == 300 })
        #expect(answers.all == Array(repeating: "ok", count: 300))
        #expect(serverStops.wait { !$0.isEmpty })
        #expect(serverStops.all == ["\(ConnectionError.closedLocally)"], "the side that went away closes")
        #expect(clientStops.wait { !$0.isEmpty })
        #expect(clientStops.all == ["\(ConnectionError.closedByPeer)"])
        #expect(client.statistics.connectionsOpened == 2)
        #expect(server.statistics.messagesReceived == 300, "none twice, none lost")
    }

    @Test("a peer that goes away gets the answers to what it asked, then the server's going-away and the close")
    func peerGoesAway() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let holding = try HoldingServer(group: group)
        let (server, destination, held, serverStops) = (holding.service, holding.destination, holding.held, holding.stops)
        defer { server.stop() }
        let peer = RawPeer(connectingTo: destination.port, on: group.reactors[1], registry: try noteRegistry())
        defer { peer.close() }
        #expect(peer.log.wait { $0.contains("hello") })
        peer.sendRequests([1, 2, 3])
        #expect(waitUntil { held.withLock { $0.count } == 3 })
        peer.goAway()
        #expect(peer.log.wait { $0.contains("going away") }, "the server answers with its own")
        _ = pendingTimers(group)
        #expect(serverStops.all.isEmpty, "three requests are still owed an answer")
        try holding.answerHeld()
        #expect(peer.log.wait { $0.filter { $0.hasPrefix("message") }.count == 3 })
        // The peer went away first: it is the one to close. Until it does, the server keeps the line.
        _ = pendingTimers(group)
        #expect(serverStops.all.isEmpty)
        peer.close()
        #expect(serverStops.wait { !$0.isEmpty })
        #expect(serverStops.all == ["\(ConnectionError.closedByPeer)"])
        #expect(peer.log.all.filter { $0.hasPrefix("message") } == ["message 1 a1", "message 2 a2", "message 3 a3"])
    }

    @Test("half-close: a peer that sends its requests and then FIN gets every answer, even those given after its FIN arrived")
    func halfClose() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let holding = try HoldingServer(group: group, answersAtOnce: { $0.id <= 7 })
        let (server, destination, held, serverStops) = (holding.service, holding.destination, holding.held, holding.stops)
        defer { server.stop() }
        let peer = RawPeer(connectingTo: destination.port, on: group.reactors[1], registry: try noteRegistry())
        defer { peer.close() }
        #expect(peer.log.wait { $0.contains("hello") })
        peer.sendRequests(Array(1...10))
        #expect(waitUntil { held.withLock { $0.count } == 3 })
        peer.shutdownWrite()
        // The FIN reaches the server (one turn of every reactor after the peer's shutdown): it must not
        // close while three answers are owed.
        _ = pendingTimers(group)
        _ = pendingTimers(group)
        #expect(serverStops.all.isEmpty)
        try holding.answerHeld(firstID: 8)
        #expect(peer.log.wait { $0.contains("end of input") || $0.contains("closed") })
        #expect(peer.log.all.filter { $0.hasPrefix("message") } == (1...10).map { "message \($0) a\($0)" })
        #expect(serverStops.wait { !$0.isEmpty })
        #expect(serverStops.all == ["\(ConnectionError.closedByPeer)"])
    }

    @Test("a peer that never answers the going-away is closed after gracefulCloseTimeout (manual clock)")
    func drainTimeout() throws {
        let clock = ManualClock()
        let group = try ReactorGroup(threads: 2, clock: clock)
        defer { group.shutdown() }
        let handles = Lock<[ObjectHandle]>([])
        let serverStops = EventLog()
        let (server, destination) = try startServer(group: group, configure: { configuration in
            configuration.connection.gracefulCloseTimeout = .seconds(5)
            configuration.onConnectionStart = { info in handles.withLock { $0.append(info.handle) } }
            configuration.onConnectionStop = { _, error in serverStops.add("\(error)") }
        }) { _ in }
        defer { server.stop() }
        // The raw peer reads and never answers (an implementation that ignores going-away records).
        let peer = RawPeer(connectingTo: destination.port, on: group.reactors[1], registry: try noteRegistry())
        defer { peer.close() }
        #expect(waitUntil { handles.withLock { $0.count } == 1 })
        try server.closeConnection(handles.withLock { $0[0] }, mode: .graceful)
        #expect(peer.log.wait { $0.contains("going away") })
        clock.advance(by: .seconds(4))
        _ = pendingTimers(group)
        #expect(serverStops.all.isEmpty)
        clock.advance(by: .seconds(2))
        _ = pendingTimers(group)
        #expect(serverStops.wait { !$0.isEmpty })
        #expect(serverStops.all == ["\(ConnectionError.gracefulCloseTimedOut)"])
    }
}

/// A peer that floods keep-alives (idle, but never quiet).
@Suite("Keep-alive flood", .serialized)
struct KeepAliveFloodTests {
    @Test("10,000 keep-alives from one peer: the server (defaults) closes it with tooManyKeepAlives after 21, and serves another client")
    func flood() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let serverStops = EventLog()
        let (server, destination) = try startMirrorServer(group: group, configure: { configuration in
            configuration.onConnectionStop = { _, error in serverStops.add("\(error)") }
        })
        defer { server.stop() }
        let peer = RawPeer(connectingTo: destination.port, on: group.reactors[1], registry: try noteRegistry())
        defer { peer.close() }
        #expect(peer.log.wait { $0.contains("hello") })
        let residentBefore = residentBytes()
        peer.sendRaw([UInt8](repeating: 0, count: 10_000 * 4).enumerated().map { $0.offset % 4 == 0 ? 2 : 0 })
        #expect(serverStops.wait { !$0.isEmpty })
        #expect(serverStops.all == ["\(ConnectionError.tooManyKeepAlives)"])
        #expect(server.statistics.keepAlivesReceived == 21, "closed at the first one over the limit")
        let grown = residentBytes() - residentBefore
        // The process's RSS (other suites run meanwhile); meaningless under the sanitizers' quarantine and
        // shadow memory (ASan in CI: 44 MiB with the rest of the suite running).
        if !runningUnderSanitizer { #expect(grown < 16 << 20, "the flood cost \(grown >> 10) KiB") }
        let client = try startClient(group: group)
        defer { client.stop() }
        let answers = EventLog()
        try client.request(Note(id: 1, text: "hi"), to: destination, expecting: Note.self) { result in
            answers.add((try? result.get().text) ?? "\(result)")
        }
        #expect(answers.wait { !$0.isEmpty })
        #expect(answers.all == ["hi"])
    }
}
