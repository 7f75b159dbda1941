@testable import RelayProxy
import SolidEngine
import SolidIPC
import SolidReactor
import Testing

/// The relay proxy example, in this process (test_raw_proxy).
private final class RelayBox: @unchecked Sendable {
    // @unchecked: `server` is touched on its reactor's thread only.
    var server: RelayServer?
}

/// Starts a relay on `reactor`; returns its box and its port.
private func startRelay(on reactor: Reactor) throws -> (RelayBox, UInt16) {
    let box = RelayBox()
    let port = Lock<UInt16?>(nil)
    _ = reactor.execute {
        box.server = try? RelayServer(address: .loopbackV4(), on: reactor)
        port.withLock { $0 = box.server?.address?.port ?? 0 }
    }
    #expect(waitUntil { port.withLock { $0 } != nil })
    return (box, try #require(port.withLock { $0 }))
}

/// A client whose pools start Raw and send the relay header for `target` before activating.
private func relayClient(group: ReactorGroup, target: UInt16, log: EventLog) throws -> IPCService {
    let box = Lock<IPCService?>(nil)
    let client = try startClient(group: group) { configuration in
        configuration.connectionStartState = .raw
        configuration.onConnectionRaw = { info in
            guard let client = box.withLock({ $0 }) else { return }
            let header = RelayHeader(dataLength: 300_000, host: "127.0.0.1", port: target).encoded()
            try? client.rawSend(header, on: info.handle)
            try? client.rawReceive(on: info.handle) { bytes in
                if bytes.first == UInt8(ascii: "0") {
                    log.add("relay ok")
                    try? client.activateConnection(info.handle)
                } else {
                    log.add("relay refused")
                    try? client.rawFail(on: info.handle, reason: "the relay could not reach the destination")
                }
                return 1
            }
        }
    }
    box.withLock { $0 = client }
    return client
}

@Suite("Relay proxy (test_raw_proxy)", .serialized)
struct RelayProxyTests {
    @Test("rawProxy: pools start Raw, send the relay header (300 KB of long data), and clientServerBasic's traffic runs through the relay")
    func throughTheRelay() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startMirrorServer(group: group)
        defer { server.stop() }
        let (relay, relayPort) = try startRelay(on: group.reactors[0])
        defer { _ = group.reactors[0].execute { relay.server?.close() } }
        let log = EventLog()
        let client = try relayClient(group: group, target: destination.port, log: log)
        defer { client.stop() }
        let viaRelay = try Destination(host: "127.0.0.1", port: relayPort)
        let answers = EventLog()
        for id in 1...100 {
            try client.request(Note(id: UInt64(id), text: String(repeating: "r", count: id * 100)), to: viaRelay, expecting: Note.self) {
                result in answers.add((try? result.get()).map { "\($0.id) \($0.text.count)" } ?? "\(result)")
            }
        }
        #expect(answers.wait { $0.count == 100 })
        #expect(Set(answers.all) == Set((1...100).map { "\($0) \($0 * 100)" }))
        #expect(log.all == ["relay ok"])
        #expect(server.statistics.connectionsOpened == 1, "the server saw one connection: the relay's")
        let active = Lock<Int?>(nil)
        _ = group.reactors[0].execute { active.withLock { $0 = relay.server?.active } }
        #expect(waitUntil { active.withLock { $0 } != nil })
        #expect(active.withLock { $0 } == 1)
    }

    @Test("a destination the relay cannot reach: it answers '1'; a one-shot request fails, another waits for the next attempt")
    func badDestination() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (relay, relayPort) = try startRelay(on: group.reactors[0])
        defer { _ = group.reactors[0].execute { relay.server?.close() } }
        let log = EventLog()
        let closedPort = try #require(freeLoopbackPort())
        let client = try relayClient(group: group, target: closedPort, log: log)
        let viaRelay = try Destination(host: "127.0.0.1", port: relayPort)
        let waiting = EventLog()
        try client.request(Note(id: 1, text: "waits"), to: viaRelay, expecting: Note.self) { result in
            waiting.add((try? result.get().text) ?? "\(result)")
        }
        let oneShot = EventLog()
        try client.request(Note(id: 2, text: "once"), to: viaRelay, options: [.oneShot], expecting: Note.self) { result in
            oneShot.add((try? result.get().text) ?? "\(result)")
        }
        #expect(oneShot.wait { !$0.isEmpty })
        // The relay answers '1' and closes; the answer is read before the close (end of input in Raw),
        // and the owner's reason reaches the sender.
        let refused = ConnectionError.rawExchangeFailed("the relay could not reach the destination")
        #expect(oneShot.all == ["\(Result<Note, SendError>.failure(.connectFailed(viaRelay, refused)))"])
        #expect(log.all.first == "relay refused")
        #expect(waiting.all.isEmpty, "a request without one-shot waits for the next attempt")
        client.stop()
        #expect(waiting.wait { !$0.isEmpty })
        #expect(waiting.all == ["\(Result<Note, SendError>.failure(.serviceStopped))"])
    }
}
