import Glibc
import SolidEngine
import SolidIPC
import Testing

@Suite("One-shot means fail fast", .serialized)
struct FailFastTests {
    @Test("a peer that accepts and never says hello: a one-shot request fails with connectFailed(helloTimeout) (manual clock)")
    func silentAcceptor() throws {
        let clock = ManualClock()
        let group = try ReactorGroup(threads: 1, clock: clock)
        defer { group.shutdown() }
        // A listener that accepts and keeps the socket without a word (a stopped server's backlog does the same).
        let reactor = group.reactors[0]
        let held = Lock<[SocketStream]>([])
        let bound = Lock<UInt16>(0)
        let listenerBox = Lock<SocketListener?>(nil)
        _ = reactor.execute {
            let listener = try! SocketListener(address: .loopbackV4(), on: reactor) { accepted in
                if let stream = try? SocketStream(adopting: accepted, on: reactor) {
                    stream.onRead = { _ in }
                    held.withLock { $0.append(stream) }
                }
            }
            listenerBox.withLock { $0 = listener }
            bound.withLock { $0 = listener.localAddress.port }
        }
        #expect(waitUntil { bound.withLock { $0 } != 0 })
        defer { _ = reactor.execute { listenerBox.withLock { $0?.close() } } }
        let client = try startClient(group: group) { $0.reconnectDelay = .seconds(10) }
        defer { client.stop() }
        let destination = try Destination(host: "127.0.0.1", port: bound.withLock { $0 })
        let outcomes = EventLog()
        try client.request(Note(id: 1, text: "hello?"), to: destination, options: .oneShot, expecting: Note.self) { result in
            outcomes.add("\(result)")
        }
        #expect(waitUntil { held.withLock { $0.count } == 1 })
        clock.advance(by: .seconds(9))
        _ = pendingTimers(group)
        #expect(outcomes.all.isEmpty, "not before the hello timeout")
        clock.advance(by: .seconds(2))
        _ = pendingTimers(group)
        #expect(outcomes.wait { !$0.isEmpty })
        #expect(outcomes.all == ["\(Result<Note, SendError>.failure(.connectFailed(destination, .helloTimeout)))"])
    }

    @Test("a one-shot message sent while the destination waits for its next retry fails at once with the last cause")
    func betweenRetries() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let reserved = try reservePort()
        defer { close(reserved.fd) }
        // A back-off (60 s) far longer than the bounds below, so they tell failing fast from waiting for it.
        let client = try startClient(group: group) { configuration in
            configuration.reconnectDelay = .seconds(60)
            configuration.maxReconnectDelay = .seconds(60)
        }
        defer { client.stop() }
        let destination = try Destination(host: "127.0.0.1", port: reserved.port)
        let outcomes = EventLog()
        // A waiting (not one-shot) message keeps the pool retrying with back-off.
        try client.send(Note(id: 0, text: "patient"), to: destination) { result in outcomes.add("patient \(result)") }
        try client.send(Note(id: 1, text: "first"), to: destination, options: .oneShot) { result in outcomes.add("first \(result)") }
        #expect(outcomes.wait { !$0.isEmpty })
        let refused = "\(Result<Void, SendError>.failure(.connectFailed(destination, .stream(.connectionRefused))))"
        #expect(outcomes.all == ["first \(refused)"])
        // Now the pool waits 60 s before its next round; a one-shot message does not wait for it.
        let sent = ContinuousClock.now
        try client.send(Note(id: 2, text: "second"), to: destination, options: .oneShot) { result in outcomes.add("second \(result)") }
        #expect(outcomes.wait(seconds: 10) { $0.count == 2 })
        #expect(ContinuousClock.now - sent < .seconds(10))
        #expect(outcomes.all.last == "second \(refused)")
    }
}

@Suite("Frozen registry")
struct FrozenRegistryTests {
    @Test("a service freezes its registry when it starts: a later registration fails with registryFrozen")
    func frozenAtStart() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let registry = try noteRegistry()
        #expect(!registry.isFrozen)
        let service = try IPCService(configuration: ServiceConfiguration(registry: registry), group: group)
        try service.start()
        defer { service.stop() }
        #expect(registry.isFrozen)
        #expect(throws: WireError.registryFrozen) { try registry.register(AlphaMessage.self, protocol: 77, index: 0) }
        #expect(registry.typeID(of: AlphaMessage.self) == nil)
    }
}
