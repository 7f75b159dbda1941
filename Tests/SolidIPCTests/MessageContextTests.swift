import Glibc
import SolidEngine
import SolidIPC
import Testing

/// A handler answers through its ``MessageContext`` alone: final responses, parts, rejects, messages and
/// requests back on the same connection — no reference to the service.
@Suite("MessageContext answers on its connection", .serialized)
struct MessageContextTests {
    @Test("parts of very different sizes and a tiny final response arrive in the order sent, each once")
    func partsKeepTheirOrder() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        // A 4 MiB part, then small ones: without ordering the writer's interleaving lets the small final
        // response overtake the big part, and the requester would drop the part that came after the end.
        let sizes = [4 << 20, 100, 1 << 20, 3]
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Blob.self) { blob, context in
                for (index, size) in sizes.dropLast().enumerated() {
                    try? context.respond(part: Blob(id: UInt64(index), size: size))
                }
                try? context.respond(Blob(id: UInt64(sizes.count - 1), size: sizes.last!))
            }
        }
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let log = EventLog()
        try client.request(Blob(id: 99, size: 8), to: destination, expecting: Blob.self) { result in
            log.add((try? result.get()).map { "\($0.id):\($0.data.count):\($0.isIntact)" } ?? "\(result)")
        }
        #expect(log.wait { $0.count >= sizes.count })
        #expect(!log.wait(seconds: 0.3) { $0.count > sizes.count }, "no duplicate or late part")
        #expect(log.all == sizes.enumerated().map { "\($0.offset):\($0.element):true" })
    }

    @Test("a handler sends a message and a request back on its connection and answers after the client's reply")
    func sendAndRequestBack() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let serverLog = EventLog()
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { note, context in
                try? context.send(Note(id: 100, text: "pushed"))
                try? context.request(Note(id: 101, text: "question"), expecting: Note.self) { result in
                    serverLog.add("server got \((try? result.get().text) ?? "\(result)")")
                    try? context.respond(Note(id: note.id, text: "done"))
                }
            }
        }
        defer { server.stop() }
        let clientLog = EventLog()
        let answering = try IPCService(configuration: ServiceConfiguration(registry: try noteRegistry()), group: group)
        try answering.handle(Note.self) { note, context in
            if context.isRequest {
                try? context.respond(Note(id: note.id, text: "answer to \(note.text)"))
            } else {
                clientLog.add("client got \(note.text)")
            }
        }
        try answering.start()
        defer { answering.stop() }
        try answering.request(Note(id: 1, text: "start"), to: destination, expecting: Note.self) { result in
            clientLog.add("final \((try? result.get().text) ?? "\(result)")")
        }
        #expect(clientLog.wait { $0.count >= 2 })
        #expect(!clientLog.wait(seconds: 0.3) { $0.count > 2 })
        #expect(clientLog.all == ["client got pushed", "final done"])
        #expect(serverLog.all == ["server got answer to question"])
    }

    @Test("context.reject refuses with the code and reason; a reject after the final response changes nothing")
    func rejectThroughTheContext() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { note, context in
                if note.text == "refuse" {
                    try? context.reject(PeerRejection(code: .overloaded, reason: "busy"))
                } else {
                    try? context.respond(Note(id: note.id, text: "fine"))
                    try? context.reject(PeerRejection(code: .overloaded, reason: "too late"))
                }
            }
        }
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let outcomes = try AnsweringHandlerTests.ask(client, destination, ["refuse", "answer"])
        #expect(outcomes == [
            "\(Result<Note, SendError>.failure(.rejected(PeerRejection(code: .overloaded, reason: "busy"))))", "fine",
        ])
        // The connection stays usable: the stray reject was not a protocol error.
        #expect(try AnsweringHandlerTests.ask(client, destination, ["c", "d"]) == ["fine", "fine"])
    }

    @Test("a context kept past its connection's end reports peerGone; an unregistered response type is refused")
    func contextAfterTheConnection() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let kept = Lock<MessageContext?>(nil)
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { _, context in
                kept.withLock { $0 = context }
                #expect(throws: SendError.unregisteredType("Unknown")) { try context.respond(Unknown()) }
            }
        }
        defer { server.stop() }
        let client = try startClient(group: group)
        try client.send(Note(id: 1, text: "remember me"), to: destination)
        #expect(waitUntil { kept.withLock { $0 } != nil })
        client.stop()
        let context = try #require(kept.withLock { $0 })
        #expect(waitUntil {
            do {
                try context.send(Note(id: 2, text: "anyone?"))
                return false
            } catch {
                return (error as? SendError) == .peerGone
            }
        })
    }
}

/// The review's cases: a reject after a response part, a response to a request its sender cancelled.
@Suite("MessageContext after a reject or a cancel", .serialized)
struct MessageContextEndTests {
    @Test("a reject after a 4 MiB part: the unwritten part is cancelled (its completion says so), the requester sees only the reject")
    func rejectAfterPart() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let partOutcome = EventLog()
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Blob.self) { blob, context in
                try? context.respond(part: Blob(id: 1, size: 4 << 20)) { partOutcome.add("\($0)") }
                try? context.reject(PeerRejection(code: .overloaded, reason: "changed my mind"))
            }
        }
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let log = EventLog()
        try client.request(Blob(id: 9, size: 8), to: destination, expecting: Blob.self) { result in
            log.add((try? result.get()).map { "part \($0.id)" } ?? "\(result)")
        }
        #expect(log.wait { !$0.isEmpty })
        #expect(partOutcome.wait { !$0.isEmpty })
        #expect(!log.wait(seconds: 0.3) { $0.count > 1 })
        #expect(log.all == ["\(Result<Blob, SendError>.failure(.rejected(PeerRejection(code: .overloaded, reason: "changed my mind"))))"])
        #expect(partOutcome.all == ["\(Result<Void, SendError>.failure(.canceled(progress: .notSent)))"]
            || partOutcome.all == ["\(Result<Void, SendError>.failure(.canceled(progress: .partlySent)))"], "\(partOutcome.all)")
    }

    @Test("a response to a request its sender cancelled is not written: its completion reports canceledByPeer(notSent)")
    func responseAfterPeerCancel() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let held = Lock<MessageContext?>(nil)
        let second = EventLog()
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { note, context in
                if note.id == 1 { held.withLock { $0 = context } } else { second.add("second") }
            }
        }
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let outcomes = EventLog()
        let id = try client.request(Note(id: 1, text: "held"), to: destination, options: .synchronous, expecting: Note.self) {
            outcomes.add("\($0)")
        }
        #expect(waitUntil { held.withLock { $0 } != nil })
        try client.cancel(id)
        #expect(outcomes.wait { !$0.isEmpty })
        // The cancel record goes out before this message (same connection, in order): once the server
        // handles it, it has seen the cancel.
        try client.send(Note(id: 2, text: "after the cancel"), to: destination, options: .synchronous)
        #expect(second.wait { !$0.isEmpty })
        let late = EventLog()
        try #require(held.withLock { $0 }).respond(Note(id: 1, text: "too late")) { late.add("\($0)") }
        #expect(late.wait { !$0.isEmpty })
        #expect(late.all == ["\(Result<Void, SendError>.failure(.canceledByPeer(progress: .notSent)))"])
        #expect(server.statistics.messagesSent == 0, "nothing was written")
    }
}

/// A message type no registry of these tests knows.
private struct Unknown: WireMessage, Sendable {
    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {}
}
