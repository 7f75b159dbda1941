import SolidEngine
import SolidIPC
import Testing

@Suite("IPCService async API", .serialized)
struct ServiceAsyncTests {
    @Test("async requests under backpressure: a queue of 2 serves 40 concurrent requests, none fails")
    func asyncBackpressure() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startEchoService(group: group)
        defer { server.stop() }
        var configuration = ServiceConfiguration(registry: try noteRegistry())
        configuration.poolQueueCapacity = 2
        let client = try IPCService(configuration: configuration, group: group)
        try await client.start()
        defer { client.stop() }
        let texts = try await withThrowingTaskGroup(of: String.self) { tasks in
            for id in 0..<40 {
                tasks.addTask {
                    let response = try await client.request(Note(id: UInt64(id), text: "n\(id)"), to: destination, expecting: Note.self)
                    return response.text
                }
            }
            var all: [String] = []
            for try await text in tasks { all.append(text) }
            return all
        }
        #expect(Set(texts) == Set((0..<40).map { String("n\($0)".reversed()) }))
        try await client.send(Note(id: 1, text: "plain"), to: destination)
        await client.stop()
        await #expect(throws: SendError.serviceStopped) { try await client.send(Note(), to: destination) }
    }

    @Test("a response of another type than expected: unexpectedResponse with its type name, once, from the callback and the async request alike")
    func responseOfAnotherType() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startEchoService(group: group)  // answers a Note with a Note
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let outcomes = EventLog()
        try client.request(Note(id: 1, text: "callback"), to: destination, expecting: Blob.self) { result in
            switch result {
            case .success: outcomes.add("a Blob")
            case .failure(let error): outcomes.add("\(error)")
            }
        }
        #expect(outcomes.wait { $0.count == 1 })
        #expect(outcomes.all == ["\(SendError.unexpectedResponse("Note"))"])
        #expect(!outcomes.wait(seconds: 0.2) { $0.count > 1 }, "exactly once")
        await #expect(throws: SendError.unexpectedResponse("Note")) {
            _ = try await client.request(Note(id: 2, text: "async"), to: destination, expecting: Blob.self)
        }
    }

    @Test("cancelling the task that awaits a request cancels it: canceled(sentAwaitingResponse), once; the server's answer is dropped")
    func cancelAwaitedRequest() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let server = try HoldingServer(group: group)
        defer { server.service.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let outcomes = EventLog()
        let task = Task {
            do {
                let note = try await client.request(Note(id: 1, text: "held"), to: server.destination, expecting: Note.self)
                outcomes.add("answered \(note.text)")
            } catch {
                outcomes.add("\(error)")
            }
        }
        #expect(await waitUntil { server.held.withLock { $0.count } == 1 })
        task.cancel()
        await task.value
        #expect(outcomes.all == ["\(SendError.canceled(progress: .sentAwaitingResponse))"])
        try server.answerHeld()  // too late: nobody waits for it any more
        #expect(!outcomes.wait(seconds: 0.2) { $0.count > 1 }, "exactly once")
    }

    @Test("a task cancelled before it sends: canceled(notSent), and the server never sees the request")
    func cancelledBeforeSending() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let server = try HoldingServer(group: group)
        defer { server.service.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let outcome = Lock<String?>(nil)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            do {
                try await client.send(Note(id: 1, text: "never"), to: server.destination)
                outcome.withLock { $0 = "sent" }
            } catch {
                outcome.withLock { $0 = "\(error)" }
            }
        }
        await task.value
        #expect(outcome.withLock { $0 } == "\(SendError.canceled(progress: .notSent))")
        #expect(await waitUntil(seconds: 0.2) { !server.held.withLock { $0.isEmpty } } == false)
    }

    @Test("request(timeout:) against a peer that never answers throws timeout(sentAwaitingResponse) instead of hanging")
    func requestTimeout() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let server = try HoldingServer(group: group)
        defer { server.service.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let started = ContinuousClock.now
        await #expect(throws: SendError.timeout(progress: .sentAwaitingResponse)) {
            _ = try await client.request(
                Note(id: 1, text: "silent"), to: server.destination, timeout: .milliseconds(300), expecting: Note.self)
        }
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(300) && waited < .seconds(10), "\(waited)")
        #expect(server.held.withLock { $0.count } == 1)
    }

    @Test("400 concurrent requests, the odd ones held by the server and their tasks cancelled (64 awaiting their response on the one connection's slots, the rest queued): every task ends once, answered or canceled")
    func manyCancelled() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let server = try HoldingServer(group: group, answersAtOnce: { note in note.id % 2 == 0 })
        defer { server.service.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let outcomes = EventLog()
        var tasks: [Task<Void, Never>] = []
        for id in 0..<UInt64(400) {
            tasks.append(Task {
                do {
                    let note = try await client.request(Note(id: id, text: "r"), to: server.destination, expecting: Note.self)
                    outcomes.add("\(id) \(note.text)")
                } catch {
                    outcomes.add("\(id) \(error)")
                }
            })
        }
        // One connection of 64 slots: they all end up held by odd requests, the rest wait in the queue.
        #expect(await waitUntil { server.held.withLock { $0.count } == 64 })
        for (id, task) in tasks.enumerated() where id % 2 == 1 { task.cancel() }
        for task in tasks { await task.value }
        let all = outcomes.all
        #expect(all.count == 400)
        #expect(Set(all.map { $0.split(separator: " ")[0] }).count == 400, "each task ended once")
        let awaiting = "\(SendError.canceled(progress: .sentAwaitingResponse))"
        let queued = "\(SendError.canceled(progress: .notSent))"
        // The 64 held ones were out; the others were queued — unless a slot a cancel freed took one out
        // before its own cancel arrived.
        #expect(all.filter { $0.hasSuffix(awaiting) }.count >= 64)
        #expect(all.filter { $0.hasSuffix(awaiting) || $0.hasSuffix(queued) }.count == 200)
        #expect(all.filter { $0.hasSuffix(" a\($0.split(separator: " ")[0])") }.count == 200)
    }

    @Test("a task cancelled while it waits for room in a full queue stops waiting, sends nothing and throws canceled(notSent); other destinations are served")
    func cancelledWhileWaitingForRoom() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startMirrorServer(group: group)
        defer { server.stop() }
        let client = try startClient(group: group) { $0.poolQueueCapacity = 1 }
        defer { client.stop() }
        // A destination nobody listens on: its one queue place stays taken by a message that waits for a
        // connection (no one-shot flag, so it is retried with back-off).
        let nowhere = try Destination(host: "127.0.0.1", port: try #require(freeLoopbackPort()))
        try client.send(Note(id: 1, text: "waits for a connection"), to: nowhere, completion: { _ in })
        let outcome = EventLog()
        let waiting = Task {
            do {
                try await client.send(Note(id: 2, text: "no room"), to: nowhere)
                outcome.add("sent")
            } catch {
                outcome.add("\(error)")
            }
        }
        #expect(!outcome.wait(seconds: 0.2) { !$0.isEmpty }, "it waits for room")
        waiting.cancel()
        #expect(outcome.wait { !$0.isEmpty })
        #expect(outcome.all == ["\(SendError.canceled(progress: .notSent))"])
        await waiting.value
        let answer = try await client.request(Note(id: 3, text: "x"), to: destination, timeout: .seconds(30), expecting: Note.self)
        #expect(answer.text == "x")
    }

    @Test("a task cancelled while its message is partly written (a paused peer): canceled(partlySent) once; the peer never sees it and the connection goes on")
    func cancelledWhilePartlyWritten() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let received = EventLog()
        let paused = Lock<MessageContext?>(nil)
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { note, context in
                if note.id == 0 {
                    try? context.pauseReading()
                    paused.withLock { $0 = context }
                }
                received.add("\(note.id) \(note.text.count)")
            }
        }
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        try await client.send(Note(id: 0, text: "pause now"), to: destination)
        #expect(received.wait { !$0.isEmpty })
        // 64 MB cannot fit in the buffers of a peer that stopped reading: once 64 KB were produced the
        // message is partly written and stuck (see CancelTests.cancelPartlySent).
        let produced = EventLog()
        let total = 64 << 20
        let made = Lock(0)
        let source = ClosureByteSource { buffer in
            let (count, crossed) = made.withLock { made -> (Int, Bool) in
                let count = min(buffer.count, total - made)
                made += count
                return (count, made >= 64 << 10 && made - count < 64 << 10)
            }
            buffer.initializeMemory(as: UInt8.self, repeating: 0x42)
            if crossed { produced.add("64 KB") }
            return count
        }
        let outcomes = EventLog()
        let upload = SendableUpload(name: "big", source: source)
        let sender = Task {
            do {
                try await client.send(upload, to: destination)
                outcomes.add("sent")
            } catch {
                outcomes.add("\(error)")
            }
        }
        #expect(produced.wait { !$0.isEmpty })
        sender.cancel()
        await sender.value
        #expect(!outcomes.wait(seconds: 0.3) { $0.count > 1 })
        #expect(outcomes.all == ["\(SendError.canceled(progress: .partlySent))"])
        try #require(paused.withLock { $0 }).resumeReading()
        try await client.send(Note(id: 2, text: "after"), to: destination)
        #expect(received.wait { $0.contains("2 5") })
        #expect(received.all == ["0 9", "2 5"], "the cancelled message never reached the handler")
    }
}
