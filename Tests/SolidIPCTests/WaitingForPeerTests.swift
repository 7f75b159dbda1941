import SolidEngine
import SolidIPC
import SolidReactor
import Testing

/// A port nothing listens on right now (bound, read, closed).
func freePort(group: ReactorGroup) throws -> UInt16 {
    let reactor = group.reactors[0]
    let result = Lock<Result<UInt16, any Error>?>(nil)
    let done = EventLog()
    reactor.execute {
        result.withLock {
            $0 = Result {
                let listener = try TCPListener(address: .loopbackV4(), on: reactor) { _ in }
                defer { listener.close() }
                return listener.localAddress.port
            }
        }
        done.add("x")
    }
    _ = done.wait { !$0.isEmpty }
    return try result.withLock { $0! }.get()
}

@Suite("Waiting for a peer", .serialized)
struct WaitingForPeerTests {
    @Test("clientServerNoServer: a message to a destination that is down waits; cancel completes it, once")
    func noServer() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let client = try startClient(group: group) { $0.reconnectDelay = .milliseconds(5) }
        defer { client.stop() }
        let destination = try Destination(host: "127.0.0.1", port: try freePort(group: group))
        let outcomes = EventLog()
        let id = try client.send(Note(id: 1, text: "anyone?"), to: destination) { result in outcomes.add("\(result)") }
        // Several connect rounds fail meanwhile (each a round trip through the reactor); it keeps waiting.
        for _ in 0..<20 {
            let tick = EventLog()
            group.reactors[0].execute { tick.add("x") }
            _ = tick.wait { !$0.isEmpty }
        }
        #expect(outcomes.all.isEmpty)
        try client.cancel(id)
        #expect(outcomes.wait { !$0.isEmpty })
        #expect(outcomes.all == ["\(Result<Void, SendError>.failure(.canceled(progress: .notSent)))"])
    }

    @Test("clientServerOneShot: no server → a one-shot message fails with connectFailed after one attempt")
    func oneShot() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let destination = try Destination(host: "127.0.0.1", port: try freePort(group: group))
        let outcomes = EventLog()
        let id = try client.sendRequest(Note(id: 1, text: "once"), to: destination, flags: [.oneShot], expecting: Note.self) {
            result in
            if case .failure(.connectFailed(let target, _)) = result { outcomes.add("connectFailed \(target)") } else {
                outcomes.add("\(result)")
            }
        }
        #expect(outcomes.wait { !$0.isEmpty })
        #expect(outcomes.all == ["connectFailed \(destination)"])
        #expect(throws: SendError.unknownMessage) { try client.cancel(id) }
    }

    @Test("a per-message timeout ends the wait with timeout(notSent) (manual clock)")
    func timeout() throws {
        let clock = ManualClock()
        let group = try ReactorGroup(threads: 1, clock: clock)
        defer { group.shutdown() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let destination = try Destination(host: "127.0.0.1", port: try freePort(group: group))
        let outcomes = EventLog()
        try client.send(Note(id: 1, text: "t"), to: destination, timeout: .seconds(5)) { result in outcomes.add("\(result)") }
        let tick = EventLog()
        group.reactors[0].execute { tick.add("x") }
        _ = tick.wait { !$0.isEmpty }
        #expect(outcomes.all.isEmpty)
        clock.advance(by: .seconds(5))
        #expect(outcomes.wait { !$0.isEmpty })
        #expect(outcomes.all == ["\(Result<Void, SendError>.failure(.timeout(progress: .notSent)))"])
    }

    @Test("clientServerDelayed: the client sends first, the server starts later, the request is answered")
    func delayed() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let port = try freePort(group: group)
        let client = try startClient(group: group) { $0.reconnectDelay = .milliseconds(10) }
        defer { client.stop() }
        let destination = try Destination(host: "127.0.0.1", port: port)
        let outcomes = EventLog()
        try client.sendRequest(Note(id: 3, text: "later"), to: destination, expecting: Note.self) { result in
            outcomes.add((try? result.get().text) ?? "\(result)")
        }
        let oneShot = EventLog()
        try client.send(Note(id: 4, text: "one-shot"), to: destination, flags: [.oneShot]) { result in oneShot.add("\(result)") }
        #expect(oneShot.wait { !$0.isEmpty })
        #expect(oneShot.all.first?.contains("cannot connect") == true)
        // Now the server comes up on that port.
        let (server, _) = try startServer(group: group, configure: { $0.listenAddress = .loopbackV4(port: port) }) { server in
            try server.handle(Note.self) { note, context in
                try? server.sendResponse(Note(id: note.id, text: String(note.text.reversed())), for: context)
            }
        }
        defer { server.stop() }
        #expect(outcomes.wait { !$0.isEmpty })
        #expect(outcomes.all == ["retal"])
    }
}
