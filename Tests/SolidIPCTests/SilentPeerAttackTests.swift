import SolidEngine
import SolidIPC
import SolidReactor
import Testing

@Suite("Peers that never say hello", .serialized)
struct SilentPeerAttackTests {
    @Test("200 peers that connect and never say hello: bounded memory while they wait, all closed with helloTimeout at 10 s (defaults, manual clock), another client served")
    func neverHello() throws {
        let clock = ManualClock()
        let group = try ReactorGroup(threads: 2, clock: clock)
        defer { group.shutdown() }
        let stops = EventLog()
        let (server, destination) = try startServer(group: group, configure: { configuration in
            configuration.onConnectionStop = { _, error in stops.add("\(error)") }
        }) { server in
            try server.handle(Note.self) { note, context in try? server.sendResponse(note, for: context) }
        }
        defer { server.stop() }
        let residentBefore = residentBytes()
        let silent = Lock<[(Int, SocketStream)]>([])
        for index in 0..<200 {
            let reactor = group.reactors[index % group.reactors.count]
            _ = reactor.execute {
                SocketStream.connect(to: .loopbackV4(port: destination.port), on: reactor) { result in
                    guard case .success(let stream) = result else { return }
                    stream.onRead = { _ in }  // reads the server's hello, answers nothing
                    silent.withLock { $0.append((index % group.reactors.count, stream)) }
                }
            }
        }
        defer {
            for (index, reactor) in group.reactors.enumerated() {
                _ = reactor.execute { silent.withLock { $0 }.filter { $0.0 == index }.forEach { $0.1.close() } }
            }
        }
        #expect(waitUntil { server.statistics.connectionsAccepted == 200 })
        let grown = residentBytes() - residentBefore
        #expect(grown < 32 << 20, "200 silent connections cost \(grown >> 10) KiB")
        clock.advance(by: .seconds(9))
        _ = pendingTimers(group)
        #expect(stops.all.isEmpty)
        clock.advance(by: .seconds(2))
        _ = pendingTimers(group)
        #expect(stops.wait { $0.count == 200 })
        #expect(Set(stops.all) == ["\(ConnectionError.helloTimeout)"])
        let client = try startClient(group: group)
        defer { client.stop() }
        let answers = EventLog()
        try client.sendRequest(Note(id: 1, text: "hi"), to: destination, expecting: Note.self) { result in
            answers.add((try? result.get().text) ?? "\(result)")
        }
        #expect(answers.wait { !$0.isEmpty })
        #expect(answers.all == ["hi"])
    }
}
