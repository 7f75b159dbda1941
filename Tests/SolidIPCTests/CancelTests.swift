import Glibc
import SolidEngine
import SolidIPC
import SolidReactor
import Synchronization
import Testing

@Suite("IPCService cancel", .serialized)
struct CancelTests {
    @Test("cancel while queued: completes once with canceled(notSent); cancelling again or a finished id fails")
    func cancelQueued() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let destination = try Destination(host: "127.0.0.1", port: 9)  // refused: nothing listens
        let gate = EventLog()
        group.reactors[0].execute { _ = gate.wait { $0.contains("go") } }  // keep everything queued
        let outcomes = EventLog()
        var ids: [MessageID] = []
        for id in 0..<4 {
            // One-shot: when nothing answers they fail after one attempt instead of waiting.
            ids.append(try client.send(Note(id: UInt64(id), text: "q"), to: destination, options: [.oneShot]) { result in
                if case .failure(let error) = result { outcomes.add("\(id): \(error)") } else { outcomes.add("\(id): ok") }
            })
        }
        try client.cancel(ids[1])
        try client.cancel(ids[3])
        gate.add("go")
        #expect(outcomes.wait { $0.count >= 4 })
        let all = outcomes.all
        #expect(all.count == 4)
        #expect(all.contains("1: \(SendError.canceled(progress: .notSent))"))
        #expect(all.contains("3: \(SendError.canceled(progress: .notSent))"))
        #expect(all.filter { $0.hasPrefix("0:") || $0.hasPrefix("2:") }.allSatisfy { $0.contains("cannot connect") })
        #expect(throws: SendError.unknownMessage) { try client.cancel(ids[1]) }
        #expect(throws: SendError.unknownMessage) { try client.cancel(ids[0]) }
        #expect(throws: SendError.unknownMessage) {
            try client.cancel(MessageID(destination: try Destination(parsing: "other:1"), serial: 1))
        }
    }

    @Test("cancel while awaiting the response: canceled(sentAwaitingResponse) at once; the late answer is ignored")
    func cancelAwaitingResponse() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let held = Lock<MessageContext?>(nil)
        let arrived = EventLog()
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { note, context in
                held.withLock { $0 = context }  // answer later, after the cancel
                arrived.add("\(note.id)")
            }
        }
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let outcomes = EventLog()
        let id = try client.request(Note(id: 5, text: "slow"), to: destination, expecting: Note.self) { result in
            outcomes.add("\(result)")
        }
        #expect(arrived.wait { !$0.isEmpty })
        try client.cancel(id)
        #expect(outcomes.wait { !$0.isEmpty })
        #expect(outcomes.all == ["\(Result<Note, SendError>.failure(.canceled(progress: .sentAwaitingResponse)))"])
        // The server answers anyway; the client must not call back a second time.
        if let context = held.withLock({ $0 }) { try context.respond(Note(id: 5, text: "late")) }
        let probe = EventLog()
        try client.request(Note(id: 6, text: "probe"), to: destination, expecting: Note.self) { _ in probe.add("x") }
        #expect(arrived.wait { $0.contains("6") })
        // Answer the probe: it goes out on the same connection after the late answer, so once the client has
        // it, the client has processed the late answer too.
        if let context = held.withLock({ $0 }) { try context.respond(Note(id: 6, text: "probe")) }
        #expect(probe.wait { !$0.isEmpty })
        #expect(outcomes.all.count == 1)
        #expect(throws: SendError.unknownMessage) { try client.cancel(id) }
    }

    @Test("cancel a large message mid-write to a paused peer: canceled(partlySent); the peer never sees it")
    func cancelPartlySent() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let received = EventLog()
        let pausedOn = Pinned<ObjectHandle>()
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { note, context in
                if note.id == 0 {
                    try? server.pauseReading(context.connection)
                    pausedOn.value = context.connection
                }
                // After the pause is recorded: the test thread reads pausedOn once it sees this entry (the
                // log's mutex orders the two).
                received.add("\(note.id) \(note.text.count)")
            }
        }
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        try client.send(Note(id: 0, text: "pause now"), to: destination)
        #expect(received.wait { !$0.isEmpty })
        let outcomes = EventLog()
        // A 64 MB stream cannot fit in the socket buffers of a peer that stopped reading: once its source
        // has produced 64 KB, the message is certainly partly written, and it can go no further (the
        // connection keeps at most 32 KB unsent in the kernel).
        let produced = EventLog()
        let total = 64 << 20
        var made = 0
        let source = ClosureByteSource { buffer in
            let count = min(buffer.count, total - made)
            buffer.initializeMemory(as: UInt8.self, repeating: 0x42)
            made += count
            if made >= 64 << 10 && made - count < 64 << 10 { produced.add("64 KB") }
            return count
        }
        let big = try client.send(SendableUpload(name: "big", source: source), to: destination) { result in
            outcomes.add("\(result)")
        }
        #expect(produced.wait { !$0.isEmpty })
        try client.cancel(big)
        #expect(outcomes.wait { !$0.isEmpty })
        #expect(outcomes.all == ["\(Result<Void, SendError>.failure(.canceled(progress: .partlySent)))"])
        try server.resumeReading(pausedOn.value!)
        try client.send(Note(id: 2, text: "after"), to: destination)
        #expect(received.wait { $0.contains("2 5") })
        #expect(received.all == ["0 9", "2 5"], "the cancelled message never reached the handler")
    }
}

/// A cancel from the requester reaches the responder.
@Suite("IPCService cancel by peer", .serialized)
struct CancelByPeerTests {
    @Test("the requester cancels while the response is being written: the responder's send ends canceledByPeer")
    func responseCanceledByPeer() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let responses = EventLog()
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Blob.self) { blob, context in
                let size = blob.id == 1 ? 32 << 20 : 16  // the first answer is too big for the socket buffers
                try? context.respond(Blob(id: blob.id, size: size)) { responses.add("\(blob.id): \($0)") }
            }
        }
        defer { server.stop() }
        // The client stops reading, so the big response stays partly written on the server.
        let clientConnection = Lock<ObjectHandle?>(nil)
        let clientBox = Lock<IPCService?>(nil)
        let client = try startClient(group: group) { configuration in
            configuration.onConnectionStart = { info in
                clientConnection.withLock { $0 = info.handle }
                try? clientBox.withLock { $0 }?.pauseReading(info.handle)
            }
        }
        clientBox.withLock { $0 = client }
        defer { client.stop() }
        let answers = EventLog()
        let id = try client.request(Blob(id: 1, size: 10), to: destination, expecting: Blob.self) { result in
            answers.add("1: \(result.map(\.id))")
        }
        #expect(waitUntil { server.statistics.bytesSent > 64 << 10 }, "the response is under way")
        try client.cancel(id)
        #expect(answers.wait { !$0.isEmpty })
        #expect(answers.all == ["1: \(Result<UInt64, SendError>.failure(.canceled(progress: .sentAwaitingResponse)))"])
        #expect(responses.wait { !$0.isEmpty })
        #expect(responses.all == ["1: \(Result<Void, SendError>.failure(.canceledByPeer(progress: .partlySent)))"])
        // The connection stays healthy: reading resumes, the partial response is dropped, the next request works.
        try client.resumeReading(clientConnection.withLock { $0 }!)
        try client.request(Blob(id: 2, size: 10), to: destination, expecting: Blob.self) { result in
            answers.add("2: \((try? result.get())?.isIntact == true ? "intact" : "\(result)")")
        }
        #expect(answers.wait { $0.count == 2 })
        #expect(answers.all.last == "2: intact")
        #expect(client.statistics.connectionsOpened == 1 && client.statistics.connectionsClosed == 0)
    }
}

/// SolidFrame's cancel table (test_clientserver_cancel_client), sizes halved.
@Suite("IPCService cancel table", .serialized)
struct CancelTableTests {
    @Test("cancel_client: 15 messages, 10 cancelled when the first is written; none of them reaches the peer (plain, TLS)",
          arguments: [false, true])
    func cancelTable(secure: Bool) throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let received = EventLog()
        let (server, destination) = try startServer(group: group, secure: secure) { server in
            try server.handle(Blob.self) { blob, _ in received.add(blob.isIntact ? "\(blob.id)" : "damaged \(blob.id)") }
        }
        defer { server.stop() }
        let kilobyte = 1024
        // (size, synchronous, cancel)
        let table: [(Int, Bool, Bool)] = [
            (50 * kilobyte, false, false), (8192 * kilobyte, false, true), (4096 * kilobyte, true, true),
            (2048 * kilobyte, false, true), (1024 * kilobyte, false, true), (5120 * kilobyte, false, true),
            (256 * kilobyte, true, false), (1280 * kilobyte, false, true), (640 * kilobyte, false, false),
            (3200 * kilobyte, false, true), (16 * kilobyte, false, false), (800 * kilobyte, false, true),
            (4096 * kilobyte, false, true), (2048 * kilobyte, false, true), (100 * kilobyte, false, false),
        ]
        let blobs = table.enumerated().map { Blob(id: UInt64($0.offset), size: $0.element.0) }
        // Passive start: the connection takes the queue only once all 15 are in it, as six at a time
        // (the table's multiplex); the first completion then cancels the ten from the reactor thread.
        let firstConnection = Lock<ObjectHandle?>(nil)
        let client = try startClient(group: group, secure: secure) { configuration in
            configuration.connectionStartState = .passive
            configuration.connection.hello.slots = 6
            configuration.onConnectionStart = { info in firstConnection.withLock { $0 = info.handle } }
        }
        defer { client.stop() }
        let ids = Lock<[MessageID]>([])
        let outcomes = Lock<[Int: [String]]>([:])
        let done = EventLog()
        for (index, (_, synchronous, _)) in table.enumerated() {
            let id = try client.send(blobs[index], to: destination, options: synchronous ? .synchronous : []) { result in
                if index == 0 {
                    for (other, entry) in table.enumerated() where entry.2 {
                        try? client.cancel(ids.withLock { $0[other] })
                    }
                }
                outcomes.withLock { $0[index, default: []].append("\(result)") }
                done.add("\(index)")
            }
            ids.withLock { $0.append(id) }
        }
        #expect(waitUntil { firstConnection.withLock { $0 } != nil })
        try client.activateConnection(firstConnection.withLock { $0 }!)
        #expect(done.wait { $0.count == 15 })
        let kept = table.indices.filter { !table[$0].2 }.map { "\($0)" }
        #expect(received.wait { $0.count == kept.count })
        #expect(Set(received.all) == Set(kept), "exactly the five kept ones arrived, intact")
        let final = outcomes.withLock { $0 }
        for (index, entry) in table.enumerated() {
            #expect(final[index]?.count == 1, "message \(index) completed once")
            if entry.2 {
                let canceled = ["\(Result<Void, SendError>.failure(.canceled(progress: .partlySent)))",
                    "\(Result<Void, SendError>.failure(.canceled(progress: .notSent)))"]
                #expect(canceled.contains(final[index]?.first ?? ""), "message \(index): \(final[index] ?? [])")
            } else {
                #expect(final[index] == ["success()"], "message \(index)")
            }
        }
    }
}

/// An upload message for tests. `@unchecked Sendable`: its source is created on the test thread and then
/// used only by the pool's reactor thread that writes the message.
struct SendableUpload: WireMessage, @unchecked Sendable {
    var name = ""
    var data = StreamField()

    init() {}
    init(name: String, source: any ByteSource) {
        self.name = name
        data = StreamField(source: source)
    }

    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&name)
        try coder.stream(&data)
    }
}

@Suite("IPCService closePool", .serialized)
struct ClosePoolTests {
    @Test("graceful: everything queued completes, new sends fail with poolClosed until it closed, then reopen")
    func graceful() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        // The server holds its answers until the test has checked that sends fail while the close is under
        // way, so the pool cannot finish closing (and a send open a fresh one) before that check.
        let gate = EventLog()
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { note, context in
                _ = gate.wait { $0.contains("open") }
                try? context.respond(Note(id: note.id, text: String(note.text.reversed())))
            }
        }
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        defer { gate.add("open") }  // runs first: never leave the server's reactor waiting on a failed test
        let log = EventLog()
        for id in 0..<20 {
            try client.request(Note(id: UInt64(id), text: "g\(id)"), to: destination, expecting: Note.self) { result in
                log.add((try? result.get()).map { _ in "ok" } ?? "\(result)")
            }
        }
        let closed = EventLog()
        try client.closePool(destination, mode: .graceful) { closed.add("closed") }
        #expect(throws: SendError.poolClosed(destination)) { try client.send(Note(), to: destination) }
        gate.add("open")
        #expect(closed.wait { !$0.isEmpty })
        #expect(log.all == [String](repeating: "ok", count: 20), "all 20 completed before the close")
        let again = EventLog()
        try client.request(Note(id: 99, text: "again"), to: destination, expecting: Note.self) { result in
            again.add((try? result.get().text) ?? "\(result)")
        }
        #expect(again.wait { !$0.isEmpty })
        #expect(again.all == ["niaga"])
        #expect(client.statistics.connectionsOpened == 2, "a fresh pool opened a new connection")
    }

    @Test("force: waiting requests fail with poolClosed at once, each exactly once")
    func force() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let arrived = EventLog()
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { note, _ in arrived.add("\(note.id)") }  // never answers
        }
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let log = EventLog()
        for id in 0..<3 {
            try client.request(Note(id: UInt64(id), text: "f"), to: destination, expecting: Note.self) { result in
                log.add("\(result)")
            }
        }
        #expect(arrived.wait { $0.count >= 3 })
        try client.closePool(destination, mode: .force)
        #expect(log.wait { $0.count >= 3 })
        #expect(log.all == [String](repeating: "\(Result<Note, SendError>.failure(.poolClosed(destination)))", count: 3))
        let unknown = try Destination(parsing: "127.0.0.1:1")
        #expect(throws: SendError.noPool(unknown)) { try client.closePool(unknown, mode: .force) }
    }
}
