import SolidEngine
import SolidIPC
import SolidReactor
import Synchronization
import Testing

/// A server service on a loopback port the system picks, with the note registry, not started yet.
func unstartedServer(group: ReactorGroup) throws -> IPCService {
    var configuration = ServiceConfiguration(registry: try noteRegistry())
    configuration.listenAddress = .loopbackV4()
    return try IPCService(configuration: configuration, group: group)
}

/// The async lifecycle: `await start()` / `await stop()`, `serve()` until shutdown, `beginGracefulShutdown()`
/// with requests in flight, cancellation, and the `withRunning` scope.
@Suite("IPCService async lifecycle", .serialized)
struct AsyncLifecycleTests {
    @Test("await start() binds and returns the port; a second start is alreadyStarted; after await stop() sends are refused")
    func startAndStop() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let server = try unstartedServer(group: group)
        try server.handleRequests(Note.self) { note, _ in Note(id: note.id, text: "re " + note.text) }
        let address = try #require(try await server.start())
        #expect(address.port != 0)
        #expect(server.listeningAddress == address)
        await #expect(throws: SendError.alreadyStarted) { try await server.start() }
        let client = try IPCService(configuration: ServiceConfiguration(registry: try noteRegistry()), group: group)
        #expect(try await client.start() == nil)
        let destination = try Destination(host: "127.0.0.1", port: address.port)
        let answer = try await client.request(Note(id: 7, text: "x"), to: destination, expecting: Note.self)
        #expect(answer.text == "re x")
        await client.stop()
        await server.stop()
        #expect(server.listeningAddress == nil)
        await #expect(throws: SendError.serviceStopped) { try await client.send(Note(), to: destination) }
        await #expect(throws: SendError.serviceStopped) { try await server.start() }
    }

    @Test("serve() starts the service and returns after beginGracefulShutdown(): the three requests held are all answered, once, and new sends are refused meanwhile")
    func runUntilGracefulShutdown() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let holding = try HoldingServer(group: group)
        let server = holding.service
        let running = Task { try await server.serve() }  // already started: serve() serves on
        let client = try startClient(group: group)
        defer { client.stop() }
        let answers = EventLog()
        for id in 1...3 {
            try client.request(Note(id: UInt64(id), text: "q"), to: holding.destination, expecting: Note.self) {
                answers.add((try? $0.get().text) ?? "\($0)")
            }
        }
        #expect(await waitUntil { holding.held.withLock { $0.count } == 3 })
        server.beginGracefulShutdown()
        server.beginGracefulShutdown()  // a second call changes nothing
        #expect(throws: SendError.serviceStopped) { try server.send(Note(), to: holding.destination) }
        #expect(server.listeningAddress == nil)
        try holding.answerHeld()
        #expect(answers.wait { $0.count == 3 })
        try await running.value  // returns once the drained connection closed
        #expect(Set(answers.all) == ["a1", "a2", "a3"])
        #expect(holding.stops.all == ["\(ConnectionError.closedLocally)"])
        _ = answers.wait(seconds: 0.2) { $0.count > 3 }
        #expect(answers.all.count == 3, "no answer twice")
    }

    @Test("cancelling the task in serve() stops the service at once: the held request fails with a precise error and serve() returns")
    func runCancelled() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let server = try unstartedServer(group: group)
        let held = Mutex(0)
        try server.handle(Note.self) { _, _ in held.withLock { $0 += 1 } }  // never answers
        let running = Task { try await server.serve() }
        #expect(await waitUntil { server.listeningAddress != nil })
        let destination = try Destination(host: "127.0.0.1", port: try #require(server.listeningAddress).port)
        let client = try startClient(group: group)
        defer { client.stop() }
        let outcome = EventLog()
        try client.request(Note(id: 1, text: "q"), to: destination, options: .oneShot, expecting: Note.self) {
            outcome.add("\($0)")
        }
        #expect(await waitUntil { held.withLock { $0 } == 1 })
        running.cancel()
        try await running.value
        #expect(server.listeningAddress == nil)
        #expect(outcome.wait { $0.count == 1 })
        #expect(outcome.all.count == 1)
        #expect(outcome.all == ["\(Result<Note, SendError>.failure(.connectionClosed(.closedByPeer, progress: .sentAwaitingResponse)))"])
        #expect(throws: SendError.serviceStopped) { try server.send(Note(), to: destination) }
    }

    @Test("serve() on a stopped service throws serviceStopped; a stop() from elsewhere ends serve()")
    func runAndStopFromElsewhere() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let server = try unstartedServer(group: group)
        let running = Task { try await server.serve() }
        #expect(await waitUntil { server.listeningAddress != nil })  // serve() has started it
        await server.stop()
        try await running.value
        await #expect(throws: SendError.serviceStopped) { try await server.serve() }
    }

    @Test("withRunning returns the body's value and leaves the service stopped; a throwing body stops it too and the error comes out")
    func withRunningScope() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let server = try unstartedServer(group: group)
        try server.handleRequests(Note.self) { note, _ in Note(id: note.id, text: note.text.uppercased()) }
        let client = try IPCService(configuration: ServiceConfiguration(registry: try noteRegistry()), group: group)
        let text = try await server.withRunning { address in
            try await client.withRunning { _ in
                let destination = try Destination(host: "127.0.0.1", port: try #require(address).port)
                return try await client.request(Note(id: 1, text: "abc"), to: destination, expecting: Note.self).text
            }
        }
        #expect(text == "ABC")
        #expect(server.listeningAddress == nil)
        await #expect(throws: SendError.serviceStopped) { try await client.send(Note(), to: .init(host: "127.0.0.1", port: 1)) }

        struct Boom: Error, Equatable {}
        let other = try IPCService(configuration: ServiceConfiguration(registry: try noteRegistry()), group: group)
        await #expect(throws: Boom()) { try await other.withRunning { _ in throw Boom() } }
        await #expect(throws: SendError.serviceStopped) { try await other.send(Note(), to: .init(host: "127.0.0.1", port: 1)) }
    }
}
