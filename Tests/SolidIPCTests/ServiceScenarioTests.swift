import Glibc
import SolidEngine
import SolidIPC
import Testing

/// Three protocols for the multi-protocol scenario: each has one message type with a tag field.
struct AlphaMessage: WireMessage, Sendable {
    var tag = ""
    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) { try coder.field(&tag) }
}

struct BetaMessage: WireMessage, Sendable {
    var number: Int64 = 0
    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) { try coder.field(&number) }
}

struct GammaMessage: WireMessage, Sendable {
    var flags: [Bool] = []
    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) { try coder.field(&flags) }
}

@Suite("IPCService scenarios", .serialized)
struct ServiceScenarioTests {
    @Test("clientServerSplit: a response in 5 parts reaches the requester as 5 callbacks, in order")
    func splitResponse() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { note, context in
                for part in 0..<4 { try? context.respond(part: Note(id: UInt64(part), text: "\(note.text) part \(part)")) }
                try? context.respond(Note(id: 4, text: "\(note.text) part 4"))
            }
        }
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let log = EventLog()
        try client.request(Note(id: 1, text: "split"), to: destination, expecting: Note.self) { result in
            log.add((try? result.get().text) ?? "error \(result)")
        }
        #expect(log.wait { $0.count >= 5 })
        #expect(log.all == (0..<5).map { "split part \($0)" })
    }

    @Test("multiprotocol: a server knowing 3 protocols serves clients that know subsets of them")
    func multiProtocol() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let serverRegistry = MessageRegistry()
        try serverRegistry.register(AlphaMessage.self, protocol: 10, index: 0)
        try serverRegistry.register(BetaMessage.self, protocol: 20, index: 0)
        try serverRegistry.register(GammaMessage.self, protocol: 30, index: 0)
        var configuration = ServiceConfiguration(registry: serverRegistry)
        configuration.listenAddress = .loopbackV4()
        let server = try IPCService(configuration: configuration, group: group)
        let log = EventLog()
        try server.handle(AlphaMessage.self) { message, _ in log.add("alpha \(message.tag)") }
        try server.handle(BetaMessage.self) { message, _ in log.add("beta \(message.number)") }
        try server.handle(GammaMessage.self) { message, _ in log.add("gamma \(message.flags)") }
        let address = try server.start()!
        defer { server.stop() }
        let destination = try Destination(host: "127.0.0.1", port: address.port)
        // Client A knows protocols 10 and 30; client B only 20.
        let registryA = MessageRegistry()
        try registryA.register(AlphaMessage.self, protocol: 10, index: 0)
        try registryA.register(GammaMessage.self, protocol: 30, index: 0)
        let registryB = MessageRegistry()
        try registryB.register(BetaMessage.self, protocol: 20, index: 0)
        let clientA = try IPCService(configuration: ServiceConfiguration(registry: registryA), group: group)
        let clientB = try IPCService(configuration: ServiceConfiguration(registry: registryB), group: group)
        try clientA.start()
        try clientB.start()
        defer {
            clientA.stop()
            clientB.stop()
        }
        try clientA.send(AlphaMessage(tag: "from A"), to: destination)
        try clientA.send(GammaMessage(flags: [true, false]), to: destination)
        try clientB.send(BetaMessage(number: -42), to: destination)
        #expect(throws: SendError.unregisteredType("AlphaMessage")) { try clientB.send(AlphaMessage(), to: destination) }
        #expect(log.wait { $0.count >= 3 })
        #expect(Set(log.all) == ["alpha from A", "gamma [true, false]", "beta -42"])
    }

    @Test("a hostile peer (garbage, oversized declarations) loses only its own connection")
    func hostilePeer() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startEchoService(group: group)
        defer { server.stop() }
        // Hostile raw peers: garbage, and a valid hello followed by a packet declaring 60 KiB.
        let reactor = group.reactors[1]
        let address = SocketAddress.loopbackV4(port: destination.port)
        let closed = EventLog()
        var hello = [UInt8](repeating: 0, count: PacketFormat.headerSize + Hello.payloadSize)
        // Offers 16 KiB packets, so the 60 KiB packet below is too large.
        _ = hello.withUnsafeMutableBytes { Hello.write(HelloParameters(packetSize: 16384), into: $0) }
        let attacks: [[UInt8]] = [
            Array("\u{16}\u{03}\u{01} not a SolidIPC peer".utf8),
            hello + [1, 0, 0x00, 0xF0],
        ]
        for attack in attacks {
            reactor.execute {
                SocketStream.connect(to: address, on: reactor) { result in
                    guard case .success(let stream) = result else { return }
                    stream.onRead = { _ in }
                    stream.onClose = { error in closed.add("closed \(String(describing: error))") }
                    stream.write(attack)
                }
            }
        }
        #expect(closed.wait { $0.count >= 2 }, "the server closed both hostile connections")
        // A well-behaved client is still served.
        let client = try startClient(group: group)
        defer { client.stop() }
        let log = EventLog()
        try client.request(Note(id: 7, text: "still there?"), to: destination, expecting: Note.self) { result in
            log.add((try? result.get().text) ?? "error")
        }
        #expect(log.wait { !$0.isEmpty })
        #expect(log.all == ["?ereht llits"])
    }
}
