import SolidEngine
import SolidIPC
import SolidReactor
import Testing

/// A refused request fails at once with the peer's reason (reject records, PROTOCOL.md §4).
@Suite("Rejected requests", .serialized)
struct RejectTests {
    /// Sends one request and returns its outcome as text.
    static func outcome<Response: WireMessage>(
        _ client: IPCService, _ message: some WireMessage & Sendable, to destination: Destination, expecting: Response.Type
    ) throws -> String {
        let log = EventLog()
        try client.request(message, to: destination, expecting: Response.self) { result in
            switch result {
            case .success: log.add("success")
            case .failure(let error): log.add("\(error)")
            }
        }
        #expect(log.wait { !$0.isEmpty })
        return log.all.first ?? "no outcome"
    }

    /// A type only the client registers.
    struct Extra: WireMessage, Sendable {
        var id: UInt64 = 0
        mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) { try coder.field(&id) }
    }

    @Test("a type the server does not know, and a type it has no handler for: rejected at once, with the code; the connection goes on")
    func unknownTypeAndNoHandler() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        // The server handles Note only; the client also knows Extra (type 4 of protocol 1).
        let (server, destination) = try startMirrorServer(group: group)
        defer { server.stop() }
        let clientRegistry = MessageRegistry()
        try clientRegistry.register(protocol: 1, [Note.self, Upload.self, SendableUpload.self, Blob.self, Extra.self])
        let client = try IPCService(configuration: ServiceConfiguration(registry: clientRegistry), group: group)
        try client.start()
        defer { client.stop() }
        let unknown = WireError.unknownMessageType(protocol: 1, type: 4)
        #expect(try Self.outcome(client, Extra(id: 1), to: destination, expecting: Note.self)
            == "\(SendError.rejected(PeerRejection(unknown)))")
        let blobType = try #require(try noteRegistry().typeID(of: Blob.self))
        let noHandler = PeerRejection(code: .noHandler, reason: "no handler for type \(blobType)")
        #expect(try Self.outcome(client, Blob(id: 2, size: 10), to: destination, expecting: Blob.self)
            == "\(SendError.rejected(noHandler))")
        #expect(try Self.outcome(client, Note(id: 3, text: "still"), to: destination, expecting: Note.self) == "success")
        #expect(client.statistics.connectionsOpened == 1, "rejections do not close the connection")
    }

    @Test("over the server's body limit and over its receive budget: messageTooLarge and overloaded, at once")
    func limits() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startServer(group: group, configure: { configuration in
            configuration.connection.maxBodyBytes = 1000
        }) { server in
            try server.handle(Blob.self) { blob, context in try? context.respond(Blob(id: blob.id, size: 1)) }
        }
        defer { server.stop() }
        let (budgeted, budgetedDestination) = try startServer(group: group, configure: { configuration in
            configuration.connection.maxReceivingBytes = 100_000
        }) { server in
            try server.handle(Blob.self) { blob, context in try? context.respond(Blob(id: blob.id, size: 1)) }
        }
        defer { budgeted.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let tooLarge = try Self.outcome(client, Blob(id: 1, size: 5000), to: destination, expecting: Blob.self)
        #expect(tooLarge.hasPrefix("rejected by the peer: message too large: message body of "))
        #expect(tooLarge.hasSuffix("bytes exceeds the limit of 1000"))
        // 4 MiB out of line: the budget refuses it at its body, before the array's bytes arrive (the rest
        // of it is dropped unread, and the client stops writing it if it still is).
        let overloaded = try Self.outcome(client, Blob(id: 2, size: 4 << 20), to: budgetedDestination, expecting: Blob.self)
        #expect(overloaded.hasPrefix("rejected by the peer: overloaded: receiving "))
        #expect(overloaded.hasSuffix("would exceed the connection budget (0 of 100000 in use)"))
        #expect(try Self.outcome(client, Blob(id: 3, size: 100), to: budgetedDestination, expecting: Blob.self) == "success")
        #expect(budgeted.statistics.receivingBytes == 0)
    }

    @Test("a response this side cannot read fails its request at once with invalidResponse")
    func invalidResponse() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Blob.self) { blob, context in try? context.respond(Blob(id: blob.id, size: 5000)) }
        }
        defer { server.stop() }
        let client = try startClient(group: group) { configuration in configuration.connection.maxBodyBytes = 1000 }
        defer { client.stop() }
        let outcome = try Self.outcome(client, Blob(id: 1, size: 10), to: destination, expecting: Blob.self)
        #expect(outcome.hasPrefix("the response could not be read: message body of "))
        #expect(outcome.hasSuffix("bytes exceeds the limit of 1000"))
    }

    @Test("a response the server cannot send (over its own body limit) answers the request with a reject: handlerFailed")
    func responseCannotBeSent() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startServer(group: group, configure: { configuration in
            configuration.connection.maxBodyBytes = 1000
        }) { server in
            try server.handle(Note.self) { note, context in
                try? context.respond(Note(id: note.id, text: String(repeating: "z", count: 5000)))
            }
        }
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let outcome = try Self.outcome(client, Note(id: 1, text: "small"), to: destination, expecting: Note.self)
        #expect(outcome.hasPrefix("rejected by the peer: handler failed: the response could not be sent: message body of "), "\(outcome)")
    }
}
