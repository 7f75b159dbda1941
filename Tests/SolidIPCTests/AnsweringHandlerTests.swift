import SolidEngine
import SolidIPC
import Testing

private struct NotToday: Error, CustomStringConvertible {
    var description: String { "not today" }
}

@Suite("Handlers that answer", .serialized)
struct AnsweringHandlerTests {
    /// Sends requests with these texts and returns each outcome, in the order of `texts`.
    static func ask(_ client: IPCService, _ destination: Destination, _ texts: [String]) throws -> [String] {
        let outcomes = Lock<[Int: String]>([:])
        for (index, text) in texts.enumerated() {
            try client.request(Note(id: UInt64(index), text: text), to: destination, expecting: Note.self) { result in
                outcomes.withLock { $0[index] = (try? result.get().text) ?? "\(result)" }
            }
        }
        _ = waitUntil { outcomes.withLock { $0.count } == texts.count }
        return outcomes.withLock { all in texts.indices.map { all[$0] ?? "none" } }
    }

    static let refused = "\(Result<Note, SendError>.failure(.rejected(PeerRejection(code: .handlerFailed, reason: "not today"))))"

    @Test("a handler that returns its response (no reference to the service); one that throws refuses the request with handlerFailed and its reason")
    func synchronousAnswers() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startServer(group: group) { server in
            try server.handleRequests(Note.self) { note, _ in
                guard note.text != "fail" else { throw NotToday() }
                return Note(id: note.id, text: String(note.text.reversed()))
            }
        }
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let texts = (0..<20).map { $0 == 7 ? "fail" : "note \($0)" }
        let outcomes = try Self.ask(client, destination, texts)
        #expect(outcomes == texts.map { $0 == "fail" ? Self.refused : String($0.reversed()) })
    }

    @Test("an async handler: 50 concurrent requests answered off the reactor thread; a throw refuses its request")
    func asyncAnswers() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startServer(group: group) { server in
            try server.handleRequests(Note.self) { (note: Note, _: MessageContext) async throws -> Note in
                await Task.yield()
                guard note.text != "fail" else { throw NotToday() }
                return Note(id: note.id, text: note.text.uppercased())
            }
        }
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let texts = (0..<50).map { $0 % 10 == 3 ? "fail" : "n\($0)" }
        let outcomes = try Self.ask(client, destination, texts)
        #expect(outcomes == texts.map { $0 == "fail" ? Self.refused : $0.uppercased() })
    }

    @Test("context.reject from a callback handler: the sender fails at once with the code and reason given")
    func explicitReject() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { note, context in
                try? context.reject(PeerRejection(code: .overloaded, reason: "busy, try later"))
            }
        }
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let outcomes = try Self.ask(client, destination, ["x"])
        #expect(outcomes == ["\(Result<Note, SendError>.failure(.rejected(PeerRejection(code: .overloaded, reason: "busy, try later"))))"])
        #expect(server.statistics.messagesSent == 0, "no response went out")
    }
}

/// An async handler that works until cancelled, and logs how it ended.
private func startSlowHandlerServer(group: ReactorGroup, log: EventLog) throws -> (IPCService, Destination) {
    try startServer(group: group) { server in
        try server.handleRequests(Note.self) { (note: Note, _: MessageContext) async throws -> Note in
            log.add("started \(note.id)")
            do {
                try await Task.sleep(for: .seconds(120))
                log.add("finished \(note.id)")
            } catch {
                log.add("cancelled \(note.id): \(type(of: error))")
                throw error
            }
            return note
        }
    }
}

@Suite("Async handler tasks", .serialized)
struct AsyncHandlerTaskTests {
    @Test("the requester cancels its task: the server's handler task is cancelled once, the other request is not")
    func peerCancelCancelsTheHandler() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let log = EventLog()
        let (server, destination) = try startSlowHandlerServer(group: group, log: log)
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let first = Task { try await client.request(Note(id: 1, text: "q"), to: destination, expecting: Note.self) }
        let second = Task { try await client.request(Note(id: 2, text: "q"), to: destination, expecting: Note.self) }
        #expect(await waitUntil { Set(log.all) == ["started 1", "started 2"] })
        first.cancel()
        await #expect(throws: SendError.canceled(progress: .sentAwaitingResponse)) { try await first.value }
        #expect(await waitUntil { log.all.count == 3 })
        #expect(!log.wait(seconds: 0.3) { $0.count > 3 }, "no other handler ends: \(log.all)")
        #expect(log.all.last == "cancelled 1: CancellationError")
        second.cancel()
        _ = await second.result
    }

    @Test("the connection closes: every handler task still answering on it is cancelled, once each")
    func connectionEndCancelsHandlers() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let log = EventLog()
        let (server, destination) = try startSlowHandlerServer(group: group, log: log)
        defer { server.stop() }
        let client = try startClient(group: group)
        for id in 1...3 {
            try client.request(Note(id: UInt64(id), text: "q"), to: destination, expecting: Note.self) { _ in }
        }
        #expect(await waitUntil { log.all.count == 3 })
        await client.stop()
        #expect(await waitUntil { log.all.count == 6 })
        #expect(!log.wait(seconds: 0.3) { $0.count > 6 })
        #expect(Set(log.all.suffix(3)) == Set((1...3).map { "cancelled \($0): CancellationError" }))
    }
}

/// A request that names its response type (``IPCRequest``).
struct Ask: IPCRequest {
    typealias Response = Note
    var text = ""
    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) { try coder.field(&text) }
}

@Suite("Typed requests")
struct TypedRequestTests {
    @Test("a typed request needs no expecting: its handler returns the response type, a throw still refuses it")
    func typedRoundTrip() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let registry = MessageRegistry()
        try registry.register(protocol: 1, [Note.self, Ask.self])
        struct Refused: Error, CustomStringConvertible { var description: String { "no empty questions" } }
        var settings = ServiceConfiguration(registry: registry)
        settings.listenAddress = .loopbackV4()
        let server = try IPCService(configuration: settings, group: group)
        try server.handleRequests(Ask.self) { ask, _ in
            guard !ask.text.isEmpty else { throw Refused() }
            return Note(id: UInt64(ask.text.count), text: ask.text.uppercased())
        }
        let client = try IPCService(configuration: ServiceConfiguration(registry: registry), group: group)
        try await server.withRunning { address in
            try await client.withRunning { _ in
                let destination = try Destination(host: "127.0.0.1", port: try #require(address).port)
                let answer: Note = try await client.request(Ask(text: "why"), to: destination)
                #expect(answer == Note(id: 3, text: "WHY"))
                await #expect(throws: SendError.rejected(PeerRejection(code: .handlerFailed, reason: "no empty questions"))) {
                    _ = try await client.request(Ask(text: ""), to: destination)
                }
            }
        }
    }
}
