import Synchronization
import SolidReactor
import SolidEngine
import SolidIPC
import SolidIPCSnappy
import Testing

/// How a scenario's connections run.
enum PoolTransport: String, Sendable, CustomStringConvertible {
    case plain, tls, tlsSnappy

    var description: String { rawValue }

    func apply(_ configuration: inout ServiceConfiguration, server: Bool) {
        guard self != .plain else { return }
        useTestTLS(&configuration, server: server)
        if self == .tlsSnappy { configuration.connection.codecs = [SnappyCodec()] }
    }
}

@Suite("Pools", .serialized)
struct PoolTests {
    @Test("clientServerBasic: pool sizes 1, 2, 4 — the pool grows to its limit under load; every echo intact; plain, TLS, TLS + Snappy",
          arguments: [1, 2, 4], [PoolTransport.plain, .tls, .tlsSnappy])
    func clientServerBasic(poolSize: Int, transport: PoolTransport) throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let accepted = Atomic<Int>(0)
        var serverConfiguration = ServiceConfiguration(registry: try noteRegistry())
        serverConfiguration.listenAddress = .loopbackV4()
        let connectionsSecure = Atomic<Int>(0)
        serverConfiguration.onConnectionStart = { info in
            accepted.add(1, ordering: .relaxed)
            if info.security?.protocolVersion == "TLSv1.3" { connectionsSecure.add(1, ordering: .relaxed) }
        }
        // Few slots per connection, so a burst overflows one connection and the pool has to grow.
        serverConfiguration.connection.hello = HelloParameters(packetSize: 4096, slots: 4)
        transport.apply(&serverConfiguration, server: true)
        let server = try IPCService(configuration: serverConfiguration, group: group)
        // Hold every answer until the client has filled `poolSize` connections (4 requests each, the
        // slot count), so the pool has to grow to its limit; then answer everything as it comes.
        let held = Lock<[(Note, MessageContext)]?>([])
        try server.handle(Note.self) { note, context in
            let release = held.withLock { pending -> [(Note, MessageContext)] in
                guard var waiting = pending else { return [(note, context)] }
                waiting.append((note, context))
                if waiting.count >= 4 * poolSize {
                    pending = nil
                    return waiting
                }
                pending = waiting
                return []
            }
            for (request, context) in release {
                try? context.respond(Note(id: request.id, text: String(request.text.reversed())))
            }
        }
        let address = try server.start()!
        defer { server.stop() }
        var clientConfiguration = ServiceConfiguration(registry: try noteRegistry())
        clientConfiguration.maxConnectionsPerPool = poolSize
        transport.apply(&clientConfiguration, server: false)
        let client = try IPCService(configuration: clientConfiguration, group: group)
        try client.start()
        defer { client.stop() }
        let destination = try Destination(host: "127.0.0.1", port: address.port)
        let log = EventLog()
        let sizes = [100, 2000, 4000, 8000, 16000, 32000, 64000]
        let count = 150
        for id in 0..<count {
            let text = String(repeating: Character(UnicodeScalar(UInt8(65 + id % 26))), count: sizes[id % sizes.count])
            try client.request(Note(id: UInt64(id), text: text), to: destination, expecting: Note.self) { result in
                log.add((try? result.get()).map { $0.id == UInt64(id) && $0.text == String(text.reversed()) ? "ok" : "bad" } ?? "error \(result)")
            }
        }
        #expect(log.wait { $0.count >= count })
        #expect(log.all.filter { $0 == "ok" }.count == count, "\(Set(log.all))")
        #expect(accepted.load(ordering: .relaxed) == poolSize, "the pool opened exactly \(poolSize) connection(s)")
        #expect(client.statistics.connectionsOpened == poolSize)
        #expect(connectionsSecure.load(ordering: .relaxed) == (transport == .plain ? 0 : poolSize))
    }

    @Test("a name resolving to several addresses: a refused one is skipped, the next is used")
    func nextAddressAfterFailure() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let (server, destination) = try startEchoService(group: group)  // IPv4 only
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        // "localhost" resolves to ::1 and 127.0.0.1 here; whichever comes first, the IPv4 one answers.
        let local = try Destination(host: "localhost", port: destination.port)
        let log = EventLog()
        try client.request(Note(id: 1, text: "hi"), to: local, expecting: Note.self) { result in
            log.add((try? result.get().text) ?? "error \(result)")
        }
        #expect(log.wait { !$0.isEmpty })
        #expect(log.all == ["ih"])
    }

    @Test("a pool hands each message to its least loaded connection: with two idle connections, two requests go one to each")
    func leastLoadedConnection() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        var serverConfiguration = ServiceConfiguration(registry: try noteRegistry())
        serverConfiguration.listenAddress = .loopbackV4()
        // Two slots per connection: a third request in flight needs a second connection.
        serverConfiguration.connection.hello = HelloParameters(packetSize: 4096, slots: 2)
        let server = try IPCService(configuration: serverConfiguration, group: group)
        // Holds the answers of each phase until all its requests arrived (ids 0-2, then 3-4), so none
        // completes while the client is still choosing connections; records where each request came in.
        let arrivals = Lock<[(id: UInt64, connection: ObjectHandle, context: MessageContext)]>([])
        try server.handle(Note.self) { note, context in
            let release = arrivals.withLock { arrivals -> [MessageContext] in
                arrivals.append((note.id, context.connection, context))
                let phase = arrivals.filter { ($0.id < 3) == (note.id < 3) }
                return phase.count == (note.id < 3 ? 3 : 2) ? phase.map(\.context) : []
            }
            for context in release { try? context.respond(Note(id: 0, text: "")) }
        }
        let address = try server.start()!
        defer { server.stop() }
        var clientConfiguration = ServiceConfiguration(registry: try noteRegistry())
        clientConfiguration.maxConnectionsPerPool = 2
        let client = try IPCService(configuration: clientConfiguration, group: group)
        try client.start()
        defer { client.stop() }
        let destination = try Destination(host: "127.0.0.1", port: address.port)
        let log = EventLog()
        func send(_ id: UInt64) throws {
            try client.request(Note(id: id, text: "n"), to: destination, expecting: Note.self) { result in
                log.add(result.isSuccess ? "ok \(id)" : "error \(id): \(result)")
            }
        }
        // Phase 1: the first connection takes two, the third request waits and opens the second.
        for id: UInt64 in 0..<3 { try send(id) }
        #expect(log.wait { $0.count >= 3 })
        #expect(client.statistics.connectionsOpened == 2)
        // Phase 2: both connections idle; the first request takes one, the second the other (the first
        // connection still has a free slot, but carries one already).
        for id: UInt64 in 3..<5 { try send(id) }
        #expect(log.wait { $0.count >= 5 })
        #expect(log.all.sorted() == (0..<5).map { "ok \($0)" })
        let connections = arrivals.withLock { arrivals in
            Dictionary(uniqueKeysWithValues: arrivals.map { ($0.id, $0.connection) })
        }
        #expect(Set([connections[0], connections[1]]).count == 1)
        #expect(connections[2] != connections[0])
        #expect(connections[3] != connections[4])
        #expect(client.statistics.connectionsOpened == 2)
    }
}
