import Foundation
import Synchronization
import SolidReactor
import SolidEngine
import SolidIPC
import Testing

/// A pool puts a completed request's item aside for the next request of the same types to its
/// destination (one allocation less per request). These check what must not change: every response
/// reaches its own callback once, with its own type, and a completed request keeps nothing of its caller's.
@Suite("Request items reused by their pool", .serialized)
struct RequestItemReuseTests {
    /// A server that answers a Note with the reversed text and a Blob with the same blob.
    private func startServer(group: ReactorGroup) throws -> (IPCService, Destination) {
        var configuration = ServiceConfiguration(registry: try noteRegistry())
        configuration.listenAddress = .loopbackV4()
        let server = try IPCService(configuration: configuration, group: group)
        try server.handle(Note.self) { note, context in
            try? context.respond(Note(id: note.id, text: String(note.text.reversed())))
        }
        try server.handle(Blob.self) { blob, context in try? context.respond(blob) }
        let address = try server.start()!
        return (server, try Destination(host: "127.0.0.1", port: address.port))
    }

    @Test("a completed request lets go of its callback (the item put aside for reuse keeps none of it)")
    func completedRequestLetsGo() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startServer(group: group)
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        final class Token: Sendable {}
        let log = EventLog()
        weak var released: Token?
        do {
            let token = Token()
            released = token
            try client.request(Note(id: 1, text: "ab"), to: destination, expecting: Note.self) { result in
                withExtendedLifetime(token) { log.add((try? result.get().text) ?? "error \(result)") }
            }
        }
        #expect(log.wait { $0.count >= 1 })
        #expect(log.all == ["ba"])
        // The callback runs inside the pool's handling of the response; the item is put aside right after.
        #expect(waitUntil { released == nil }, "the callback's captures were released")
    }

    @Test("requests of two response types to one destination, each sent from the previous one's callback: every response once, typed, in order")
    func mixedTypesChained() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startServer(group: group)
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let log = EventLog()
        let total: UInt64 = 300
        // Runs of one type and changes of type (the item put aside is reused, or dropped for another type).
        let pattern = [false, false, true, false, true, true, true]
        let send = Lock<(@Sendable (UInt64) -> Void)?>(nil)
        let next: @Sendable (UInt64) -> Void = { id in
            guard id < total else { return }
            do {
                if pattern[Int(id) % pattern.count] {
                    try client.request(Blob(id: id, size: 100), to: destination, expecting: Blob.self) { result in
                        let ok = (try? result.get()) == Blob(id: id, size: 100)
                        log.add(ok ? "blob \(id)" : "bad blob \(id): \(result)")
                        send.withLock { $0 }?(id + 1)
                    }
                } else {
                    try client.request(Note(id: id, text: "n\(id)"), to: destination, expecting: Note.self) { result in
                        let ok = (try? result.get()).map { $0.id == id && $0.text == String("n\(id)".reversed()) } ?? false
                        log.add(ok ? "note \(id)" : "bad note \(id): \(result)")
                        send.withLock { $0 }?(id + 1)
                    }
                }
            } catch {
                log.add("refused \(id): \(error)")
            }
        }
        send.withLock { $0 = next }
        next(0)
        #expect(log.wait { $0.count >= Int(total) })
        let expected = (0..<total).map { pattern[Int($0) % pattern.count] ? "blob \($0)" : "note \($0)" }
        #expect(log.all == expected)
        // After the last one, no duplicate arrives.
        Thread.sleep(forTimeInterval: 0.1)
        #expect(log.all.count == Int(total))
        send.withLock { $0 = nil }
    }

    @Test("four threads sending to one destination while responses put items aside: 2,000 responses, each once and its own")
    func concurrentSenders() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startServer(group: group)
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let received = Lock<[UInt64: Int]>([:])
        let failures = Lock<[String]>([])
        let perThread: UInt64 = 500
        let threads = (0..<UInt64(4)).map { thread in
            Thread {
                // At most 32 in flight per thread: 128 in all, far below the pool's queue capacity.
                let window = DispatchSemaphore(value: 32)
                for index in 0..<perThread {
                    let id = thread * perThread + index
                    window.wait()
                    do {
                        try client.request(Note(id: id, text: "t\(id)"), to: destination, expecting: Note.self) { result in
                            defer { window.signal() }
                            guard let note = try? result.get(), note.id == id, note.text == String("t\(id)".reversed()) else {
                                return failures.withLock { $0.append("\(id): \(result)") }
                            }
                            received.withLock { $0[id, default: 0] += 1 }
                        }
                    } catch {
                        window.signal()
                        failures.withLock { $0.append("\(id) refused: \(error)") }
                    }
                }
            }
        }
        for thread in threads { thread.start() }
        #expect(waitUntil { received.withLock { $0.count } + failures.withLock { $0.count } >= 2000 })
        Thread.sleep(forTimeInterval: 0.1)
        #expect(failures.withLock { $0 } == [])
        #expect(received.withLock { $0.count } == 2000)
        #expect(received.withLock { $0.values.allSatisfy { $0 == 1 } })
    }

    @Test("awaited requests of two response types, one after the other, from a task on the client's reactor (items reused): each returns its own response, typed; a cancelled one in between throws canceled once")
    func awaitedMixedTypes() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startServer(group: group)
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let outcome = try await Task(executorPreference: group.reactors[0]) { () async throws -> [String] in
            var seen: [String] = []
            for id in UInt64(0)..<200 {
                if id % 3 == 2 {
                    let blob = try await client.request(Blob(id: id, size: 64), to: destination, expecting: Blob.self)
                    seen.append(blob == Blob(id: id, size: 64) ? "blob \(id)" : "bad blob \(id)")
                } else {
                    let note = try await client.request(Note(id: id, text: "a\(id)"), to: destination, expecting: Note.self)
                    seen.append(note.id == id && note.text == String("a\(id)".reversed()) ? "note \(id)" : "bad note \(id)")
                }
                if id == 100 {
                    // Cancelled before it is sent: fails once with canceled(notSent); the next ones go on.
                    let cancelled = Task {
                        withUnsafeCurrentTask { $0?.cancel() }
                        return try await client.request(Note(id: 999, text: "c"), to: destination, expecting: Note.self)
                    }
                    do {
                        _ = try await cancelled.value
                        seen.append("not cancelled")
                    } catch let error as SendError {
                        seen.append("\(error)")
                    }
                }
            }
            return seen
        }.value
        var expected = (UInt64(0)..<200).map { $0 % 3 == 2 ? "blob \($0)" : "note \($0)" }
        expected.insert("\(SendError.canceled(progress: .notSent))", at: 101)
        #expect(outcome == expected)
    }
}
