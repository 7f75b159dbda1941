import Glibc
import SolidEngine
import SolidIPC
import Synchronization
import Testing

@Suite("IPCService lifecycle, pause, peer to peer", .serialized)
struct ServiceLifecycleTests {
    @Test("peer2peerBasic: two services, each server and client, exchange requests both ways")
    func peerToPeer() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (first, firstAddress) = try startEchoServiceWithAddress(group: group, name: "first")
        let (second, secondAddress) = try startEchoServiceWithAddress(group: group, name: "second")
        defer {
            first.stop()
            second.stop()
        }
        let log = EventLog()
        for (service, address, name) in [(first, secondAddress, "first→second"), (second, firstAddress, "second→first")] {
            for id in 0..<20 {
                try service.request(Note(id: UInt64(id), text: name), to: address, expecting: Note.self) { result in
                    log.add((try? result.get().text) ?? "error \(result)")
                }
            }
        }
        #expect(log.wait { $0.count >= 40 })
        #expect(log.all.filter { $0 == String("first→second".reversed()) }.count == 20)
        #expect(log.all.filter { $0 == String("second→first".reversed()) }.count == 20)
    }

    @Test("clientServerPauseRead: a paused server backs the client up to queueFull; resuming delivers everything")
    func pauseRead() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        var serverConfiguration = ServiceConfiguration(registry: try noteRegistry())
        serverConfiguration.listenAddress = .loopbackV4()
        let server = try IPCService(configuration: serverConfiguration, group: group)
        let received = Atomic<Int>(0)
        let pausedOn = Pinned<ObjectHandle>()
        let paused = EventLog()
        let arrivals = EventLog()
        try server.handle(Note.self) { _, context in
            defer { arrivals.add("a") }  // after the count, so a waiter on arrivals sees the count final
            if received.add(1, ordering: .relaxed).newValue == 2 {
                try? server.pauseReading(context.connection)
                pausedOn.value = context.connection
                paused.add("paused")
            }
        }
        let address = try server.start()!
        defer { server.stop() }
        var clientConfiguration = ServiceConfiguration(registry: try noteRegistry())
        clientConfiguration.poolQueueCapacity = 1024
        let client = try IPCService(configuration: clientConfiguration, group: group)
        try client.start()
        defer { client.stop() }
        let destination = try Destination(host: "127.0.0.1", port: address.port)
        let written = EventLog()
        let text = String(repeating: "p", count: 4000)
        try client.send(Note(id: 0, text: text), to: destination) { _ in written.add("w") }
        try client.send(Note(id: 1, text: text), to: destination) { _ in written.add("w") }
        #expect(paused.wait { !$0.isEmpty })
        var sent = 2
        var full = false
        while sent < 100_000 && !full {
            switch trySend(client, Note(id: UInt64(sent), text: text), to: destination, written: written) {
            case .success: sent += 1
            case .failure(let error): full = error == .queueFull(destination)
            }
        }
        #expect(full, "the queue filled before 100,000 messages")
        #expect(received.load(ordering: .relaxed) < sent)
        try server.resumeReading(pausedOn.value!)
        #expect(written.wait { $0.count >= sent })
        // Every message was written; the server reads them all once resumed, exactly once each.
        #expect(arrivals.wait { $0.count >= sent })
        #expect(received.load(ordering: .relaxed) == sent)
        #expect(arrivals.all.count == sent)
    }

    @Test("lifecycle hooks: start and stop on both sides, with the precise error for a hostile peer")
    func hooks() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let log = EventLog()
        var serverConfiguration = ServiceConfiguration(registry: try noteRegistry())
        serverConfiguration.listenAddress = .loopbackV4()
        serverConfiguration.onConnectionStart = { info in log.add("server start \(info.destination == nil)") }
        serverConfiguration.onConnectionStop = { _, error in log.add("server stop \(error)") }
        let server = try IPCService(configuration: serverConfiguration, group: group)
        let address = try server.start()!
        defer { server.stop() }
        var clientConfiguration = ServiceConfiguration(registry: try noteRegistry())
        clientConfiguration.onConnectionStart = { info in log.add("client start \(info)") }
        clientConfiguration.onConnectionStop = { _, error in log.add("client stop \(error)") }
        let client = try IPCService(configuration: clientConfiguration, group: group)
        try client.start()
        let destination = try Destination(host: "127.0.0.1", port: address.port)
        try client.send(Note(id: 1, text: "hello"), to: destination)
        #expect(log.wait { $0.contains("server start true") && $0.contains("client start 127.0.0.1:\(address.port)") })
        client.stop()
        #expect(log.wait { $0.contains { $0.hasPrefix("server stop") } && $0.contains { $0.hasPrefix("client stop") } })
        #expect(log.all.contains("client stop \(ConnectionError.closedLocally)"))
        #expect(log.all.contains("server stop \(ConnectionError.closedByPeer)"))
        // A peer that sends an oversized packet after its hello: the server says exactly why it closed it.
        var helloBytes = [UInt8](repeating: 0, count: PacketFormat.headerSize + Hello.payloadSize)
        // Offers 16 KiB packets, so the 60 KiB packet below is too large.
        _ = helloBytes.withUnsafeMutableBytes { Hello.write(HelloParameters(packetSize: 16384), into: $0) }
        let hello = helloBytes
        let reactor = group.reactors[1]
        reactor.execute {
            SocketStream.connect(to: address, on: reactor) { result in
                guard case .success(let stream) = result else { return }
                stream.onRead = { _ in }
                stream.write(hello + [1, 0, 0x00, 0xF0])
            }
        }
        let expected = "server stop \(ConnectionError.protocolViolation(.packetTooLarge(length: 61440, limit: 16380)))"
        #expect(log.wait { $0.contains(expected) })
    }
}

/// An echo service on an ephemeral port, also usable as a client.
func startEchoServiceWithAddress(group: ReactorGroup, name: String) throws -> (IPCService, Destination) {
    try startEchoService(group: group)
}

/// One send, its immediate failure as a value.
func trySend(_ client: IPCService, _ note: Note, to destination: Destination, written: EventLog) -> Result<Void, SendError> {
    do {
        try client.send(note, to: destination) { _ in written.add("w") }
        return .success(())
    } catch {
        return .failure(error)
    }
}

@Suite("IPCService connection loss")
struct ServiceConnectionLossTests {
    @Test("the server closes the connection instead of answering: the request fails with connectionClosed, sent")
    func closedWhileAwaitingResponse() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { _, context in
                if context.isRequest { try? server.closeConnection(context.connection) }
            }
        }
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let outcomes = EventLog()
        for id in 0..<3 {
            try client.send(Note(id: UInt64(id), text: "plain"), to: destination) { result in
                if case .success = result { outcomes.add("ok") } else { outcomes.add("\(result)") }
            }
        }
        try client.request(Note(id: 9, text: "answer me"), to: destination, expecting: Note.self) { result in
            switch result {
            case .success: outcomes.add("unexpected response")
            case .failure(let error): outcomes.add("request: \(error.progress) \(error)")
            }
        }
        #expect(outcomes.wait { $0.count >= 4 })
        let all = outcomes.all
        #expect(all.count == 4, "each message completed exactly once")
        #expect(all.filter { $0 == "ok" }.count == 3)
        #expect(all.contains { $0.hasPrefix("request: sentAwaitingResponse connection closed") }, "\(all)")
    }
}
