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
        let (server, destination) = try startMirrorServer(group: group, configure: { configuration in
            configuration.onConnectionStop = { _, error in stops.add("\(error)") }
        })
        defer { server.stop() }
        let residentBefore = residentBytes()
        // They read the server's hello and answer nothing.
        let silent = HostilePeers(200, connectingTo: destination.port, group: group, reading: true)
        defer { silent.close() }
        #expect(waitUntil { server.statistics.connectionsAccepted == 200 })
        let grown = residentBytes() - residentBefore
        // The process's RSS: meaningless under the sanitizers' quarantine and shadow memory.
        if !runningUnderSanitizer { #expect(grown < 32 << 20, "200 silent connections cost \(grown >> 10) KiB") }
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
        try client.request(Note(id: 1, text: "hi"), to: destination, expecting: Note.self) { result in
            answers.add((try? result.get().text) ?? "\(result)")
        }
        #expect(answers.wait { !$0.isEmpty })
        #expect(answers.all == ["hi"])
    }
}
