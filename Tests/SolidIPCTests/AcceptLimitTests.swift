import Glibc
import SolidEngine
import SolidIPC
import Testing

@Suite("Accept limit", .serialized)
struct AcceptLimitTests {
    @Test("beyond maxAcceptedConnections a connection is refused at once (reset); a place freed is taken again")
    func refusesBeyondTheLimit() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startMirrorServer(group: group, configure: { $0.maxAcceptedConnections = 3 })
        defer { server.stop() }
        let reactor = group.reactors[1]
        let events = EventLog()
        let streams = Lock<[Int: SocketStream]>([:])
        func open(_ index: Int) {
            _ = reactor.execute {
                SocketStream.connect(to: .loopbackV4(port: destination.port), on: reactor) { result in
                    // The reset may come before or after the connect completes: both are a refusal.
                    guard case .success(let stream) = result else {
                        if case .failure(.connectionReset) = result { return events.add("\(index) refused") }
                        return events.add("\(index) connect failed \(result)")
                    }
                    streams.withLock { $0[index] = stream }
                    stream.onRead = { _ in }  // the server's hello
                    stream.onClose = { error in
                        events.add(error == .connectionReset ? "\(index) refused" : "\(index) closed \(error.map { "\($0)" } ?? "cleanly")")
                    }
                }
            }
        }
        // Three silent connections fill the service; two more are refused.
        for index in 0..<3 { open(index) }
        #expect(waitUntil { server.statistics.connectionsAccepted == 3 })
        for index in 3..<5 { open(index) }
        #expect(events.wait { $0.count == 2 })
        #expect(Set(events.all) == ["3 refused", "4 refused"], "\(events.all)")
        #expect(server.statistics.connectionsRefused == 2)
        #expect(server.statistics.connectionsAccepted == 3)
        // One of the three leaves: a real client is served in its place.
        _ = reactor.execute { streams.withLock { $0[0] }?.close() }
        #expect(events.wait { $0.contains("0 closed cleanly") })
        #expect(waitUntil { server.statistics.connectionsClosed == 1 })
        // The close hook counts the close before it frees the accept place, within one event: a round trip
        // through every reactor orders the freed place before the next connect.
        _ = pendingTimers(group)
        let client = try startClient(group: group)
        defer { client.stop() }
        let answers = EventLog()
        try client.request(Note(id: 1, text: "room?"), to: destination, expecting: Note.self) { result in
            answers.add((try? result.get().text) ?? "error \(result)")
        }
        #expect(answers.wait { !$0.isEmpty })
        #expect(answers.all == ["room?"])
        #expect(server.statistics.connectionsRefused == 2)
        _ = reactor.execute { streams.withLock { $0.values.forEach { $0.close() } } }
    }
}
