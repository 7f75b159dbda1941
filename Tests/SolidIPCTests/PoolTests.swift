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
}
