import Glibc
import SolidEngine
import SolidIPC
import Testing

/// A started server on 127.0.0.1 (ephemeral port) with the note registry. `handlers` registers the
/// handlers and receives the service itself, so handlers can answer through it.
/// `secure`: over TLS with the test certificates (``useTestTLS(_:server:)``).
func startServer(
    group: ReactorGroup, secure: Bool = false, configure: (inout ServiceConfiguration) -> Void = { _ in },
    handlers: (IPCService) throws -> Void
) throws -> (IPCService, Destination) {
    var configuration = ServiceConfiguration(registry: try noteRegistry())
    configuration.listenAddress = .loopbackV4()
    if secure { useTestTLS(&configuration, server: true) }
    configure(&configuration)
    let server = try IPCService(configuration: configuration, group: group)
    try handlers(server)
    let address = try server.start()!
    if case .unix(let unix) = address { return (server, try Destination(unixPath: unix.text)) }
    return (server, try Destination(host: "127.0.0.1", port: address.port))
}

/// A server that answers every Note request with the reversed text.
func startEchoService(group: ReactorGroup, secure: Bool = false) throws -> (IPCService, Destination) {
    try startServer(group: group, secure: secure) { server in
        try server.handle(Note.self) { note, context in
            guard context.isRequest else { return }
            try? context.respond(Note(id: note.id, text: String(note.text.reversed())))
        }
    }
}

/// A started client-only service with the note registry; `configure` adjusts the settings first.
func startClient(
    group: ReactorGroup, secure: Bool = false, configure: (inout ServiceConfiguration) -> Void = { _ in }
) throws -> IPCService {
    var configuration = ServiceConfiguration(registry: try noteRegistry())
    if secure { useTestTLS(&configuration, server: false) }
    configure(&configuration)
    let client = try IPCService(configuration: configuration, group: group)
    try client.start()
    return client
}


@Suite("IPCService over loopback", .serialized)
struct ServiceTests {
    @Test("clientServerSendRequest: 300 requests of mixed sizes, each response matched, exactly once (plain, TLS)",
          arguments: [false, true])
    func sendRequest(secure: Bool) throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startEchoService(group: group, secure: secure)
        defer { server.stop() }
        let client = try startClient(group: group, secure: secure)
        defer { client.stop() }
        let log = EventLog()
        let count = 300
        for id in 0..<UInt64(count) {
            let text = String(repeating: "ab\(id)", count: Int(id % 40) * 30)
            try client.request(Note(id: id, text: text), to: destination, expecting: Note.self) { result in
                switch result {
                case .success(let response):
                    log.add(response.id == id && response.text == String(text.reversed()) ? "ok" : "mismatch \(id)")
                case .failure(let error):
                    log.add("error \(error)")
                }
            }
        }
        #expect(log.wait { $0.count >= count })
        #expect(log.all.filter { $0 == "ok" }.count == count, "\(log.all.filter { $0 != "ok" }.prefix(3))")
        #expect(log.all.count == count)
        let statistics = client.statistics
        #expect(statistics.messagesSent == count)
        #expect(statistics.messagesReceived == count)
        #expect(statistics.connectionsOpened == 1)
    }

    @Test("send with completion: each completes once; the server's handler sees every message")
    func sendWithCompletion() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        var configuration = ServiceConfiguration(registry: try noteRegistry())
        configuration.listenAddress = .loopbackV6()
        let server = try IPCService(configuration: configuration, group: group)
        let received = EventLog()
        try server.handle(Note.self) { note, context in received.add("\(note.id) request=\(context.isRequest)") }
        let address = try server.start()!
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let completions = EventLog()
        let destination = try Destination(parsing: "[::1]:\(address.port)")
        for id in 0..<100 {
            try client.send(Note(id: UInt64(id), text: "n"), to: destination) { result in
                if case .success = result { completions.add("written") } else { completions.add("\(result)") }
            }
        }
        #expect(completions.wait { $0.count >= 100 })
        #expect(received.wait { $0.count >= 100 })
        #expect(completions.all == [String](repeating: "written", count: 100))
        #expect(Set(received.all) == Set((0..<100).map { "\($0) request=false" }))
    }

    @Test("a full queue fails at once with queueFull; stop completes queued messages with serviceStopped")
    func backpressureAndStop() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        var configuration = ServiceConfiguration(registry: try noteRegistry())
        configuration.poolQueueCapacity = 5
        let client = try IPCService(configuration: configuration, group: group)
        try client.start()
        // Nothing listens on this port, and the reactor is held busy so nothing leaves the queue yet.
        let destination = try Destination(host: "127.0.0.1", port: 9)
        let gate = EventLog()
        group.reactors[0].execute { _ = gate.wait { $0.contains("go") } }
        let outcomes = EventLog()
        for id in 0..<5 {
            try client.send(Note(id: UInt64(id), text: "q"), to: destination, options: [.oneShot]) { result in
                outcomes.add("\(result)")
            }
        }
        #expect(throws: SendError.queueFull(destination)) {
            try client.send(Note(id: 99, text: "q"), to: destination) { _ in outcomes.add("must not run") }
        }
        gate.add("go")
        #expect(outcomes.wait { $0.count >= 5 })
        // Port 9 on loopback refuses: the queued one-shot messages fail with a precise connect error, once each.
        #expect(outcomes.all.count == 5)
        #expect(outcomes.all.allSatisfy { $0.contains("cannot connect to 127.0.0.1:9") })
        client.stop()
        #expect(throws: SendError.serviceStopped) { try client.send(Note(), to: destination) }
        #expect(!outcomes.all.contains("must not run"))
    }

    @Test("configuration errors are reported before start")
    func invalidConfiguration() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        var configuration = ServiceConfiguration(registry: try noteRegistry())
        configuration.poolQueueCapacity = 0
        #expect(throws: ServiceConfigurationError.invalid("poolQueueCapacity must be positive")) {
            try IPCService(configuration: configuration, group: group)
        }
        configuration.poolQueueCapacity = 10
        configuration.connection.hello.packetSize = 100
        #expect(throws: ServiceConfigurationError.self) { try IPCService(configuration: configuration, group: group) }
        let unregistered = try IPCService(configuration: ServiceConfiguration(registry: MessageRegistry()), group: group)
        try unregistered.start()
        #expect(throws: SendError.unregisteredType("Note")) {
            try unregistered.send(Note(), to: try Destination(parsing: "127.0.0.1:1"))
        }
    }
}

/// A started server whose Note handler answers every request with the same note (the test's own
/// `configure` applies first).
func startMirrorServer(
    group: ReactorGroup, secure: Bool = false, configure: (inout ServiceConfiguration) -> Void = { _ in }
) throws -> (IPCService, Destination) {
    try startServer(group: group, secure: secure, configure: configure) { server in
        try server.handle(Note.self) { note, context in try? context.respond(note) }
    }
}
