import CSolidLinux
import Glibc
import SolidEngine
import SolidIPC
import SolidReactor
import Testing

/// A loopback port that refuses connections and that no other test can get: a socket is bound to it
/// but never listens. Close the returned descriptor to release the port.
func reservePort() throws -> (port: UInt16, fd: Int32) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw SystemError("socket", errno: errno) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
            bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
        }
    }
    guard bound else {
        close(fd)
        throw SystemError("bind", errno: errno)
    }
    return (UInt16(bigEndian: address.sin_port), fd)
}

@Suite("Waiting for a peer", .serialized)
struct WaitingForPeerTests {
    @Test("clientServerNoServer: a message to a destination that is down waits; cancel completes it, once")
    func noServer() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let reserved = try reservePort()
        defer { close(reserved.fd) }  // after the client stopped (defers run last-first): no retry reaches a reused port
        let client = try startClient(group: group) { $0.reconnectDelay = .milliseconds(5) }
        defer { client.stop() }
        let destination = try Destination(host: "127.0.0.1", port: reserved.port)
        let outcomes = EventLog()
        let id = try client.send(Note(id: 1, text: "anyone?"), to: destination) { result in outcomes.add("\(result)") }
        // Several connect rounds fail meanwhile (each a round trip through the reactor); it keeps waiting.
        for _ in 0..<20 {
            let tick = EventLog()
            group.reactors[0].execute { tick.add("x") }
            _ = tick.wait { !$0.isEmpty }
        }
        #expect(outcomes.all.isEmpty)
        try client.cancel(id)
        #expect(outcomes.wait { !$0.isEmpty })
        #expect(outcomes.all == ["\(Result<Void, SendError>.failure(.canceled(progress: .notSent)))"])
    }

    @Test("clientServerOneShot: no server → a one-shot message fails with connectFailed after one attempt")
    func oneShot() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let reserved = try reservePort()
        defer { close(reserved.fd) }  // after the client stopped (defers run last-first)
        let client = try startClient(group: group)
        defer { client.stop() }
        let destination = try Destination(host: "127.0.0.1", port: reserved.port)
        let outcomes = EventLog()
        let id = try client.request(Note(id: 1, text: "once"), to: destination, options: [.oneShot], expecting: Note.self) {
            result in
            if case .failure(.connectFailed(let target, _)) = result { outcomes.add("connectFailed \(target)") } else {
                outcomes.add("\(result)")
            }
        }
        #expect(outcomes.wait { !$0.isEmpty })
        #expect(outcomes.all == ["connectFailed \(destination)"])
        #expect(throws: SendError.unknownMessage) { try client.cancel(id) }
    }

    @Test("a per-message timeout ends the wait with timeout(notSent) (manual clock)")
    func timeout() throws {
        let clock = ManualClock()
        let group = try ReactorGroup(threads: 1, clock: clock)
        defer { group.shutdown() }
        let reserved = try reservePort()
        defer { close(reserved.fd) }  // after the client stopped (defers run last-first)
        let client = try startClient(group: group)
        defer { client.stop() }
        let destination = try Destination(host: "127.0.0.1", port: reserved.port)
        let outcomes = EventLog()
        try client.send(Note(id: 1, text: "t"), to: destination, timeout: .seconds(5)) { result in outcomes.add("\(result)") }
        let tick = EventLog()
        group.reactors[0].execute { tick.add("x") }
        _ = tick.wait { !$0.isEmpty }
        #expect(outcomes.all.isEmpty)
        clock.advance(by: .seconds(5))
        #expect(outcomes.wait { !$0.isEmpty })
        #expect(outcomes.all == ["\(Result<Void, SendError>.failure(.timeout(progress: .notSent)))"])
    }

    @Test("ServiceConfiguration.defaultTimeout bounds sends without a timeout of their own; an explicit timeout wins (manual clock)")
    func defaultTimeout() throws {
        let clock = ManualClock()
        let group = try ReactorGroup(threads: 1, clock: clock)
        defer { group.shutdown() }
        let reserved = try reservePort()
        defer { close(reserved.fd) }  // after the client stopped (defers run last-first)
        let client = try startClient(group: group) { $0.defaultTimeout = .seconds(2) }
        defer { client.stop() }
        let destination = try Destination(host: "127.0.0.1", port: reserved.port)
        let outcomes = EventLog()
        try client.send(Note(id: 1, text: "default"), to: destination) { outcomes.add("default \($0)") }
        try client.request(Note(id: 2, text: "own"), to: destination, timeout: .seconds(5), expecting: Note.self) {
            outcomes.add("own \($0)")
        }
        let tick = EventLog()
        group.reactors[0].execute { tick.add("x") }
        _ = tick.wait { !$0.isEmpty }
        clock.advance(by: .seconds(2))
        #expect(outcomes.wait { !$0.isEmpty })
        #expect(outcomes.all == ["default \(Result<Void, SendError>.failure(.timeout(progress: .notSent)))"])
        clock.advance(by: .seconds(3))
        #expect(outcomes.wait { $0.count == 2 })
        #expect(outcomes.all.last == "own \(Result<Note, SendError>.failure(.timeout(progress: .notSent)))")
        #expect(throws: ServiceConfigurationError.invalid("defaultTimeout must be positive")) {
            var bad = ServiceConfiguration(registry: try noteRegistry())
            bad.defaultTimeout = .zero
            _ = try IPCService(configuration: bad, group: group)
        }
    }

    @Test("clientServerDelayed: the client sends first, the server starts later, the request is answered; cancel afterwards fails")
    func delayed() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let reserved = try reservePort()
        let port = reserved.port
        let client = try startClient(group: group) { $0.reconnectDelay = .milliseconds(10) }
        defer { client.stop() }
        let destination = try Destination(host: "127.0.0.1", port: port)
        let outcomes = EventLog()
        let id = try client.request(Note(id: 3, text: "later"), to: destination, expecting: Note.self) { result in
            outcomes.add((try? result.get().text) ?? "\(result)")
        }
        let oneShot = EventLog()
        try client.send(Note(id: 4, text: "one-shot"), to: destination, options: [.oneShot]) { result in oneShot.add("\(result)") }
        #expect(oneShot.wait { !$0.isEmpty })
        #expect(oneShot.all.first?.contains("cannot connect") == true)
        // Now the server comes up on that port (released just before).
        close(reserved.fd)
        let (server, _) = try startServer(group: group, configure: { $0.listenAddress = .loopbackV4(port: port) }) { server in
            try server.handle(Note.self) { note, context in
                try? context.respond(Note(id: note.id, text: String(note.text.reversed())))
            }
        }
        defer { server.stop() }
        #expect(outcomes.wait { !$0.isEmpty })
        #expect(outcomes.all == ["retal"])
        // Answered, so it is finished: cancelling it now fails, and its callback does not run again.
        #expect(throws: SendError.unknownMessage) { try client.cancel(id) }
        #expect(outcomes.all == ["retal"])
    }
}

@Suite("Resend rules", .serialized)
struct ResendTests {
    @Test("clientServerIdempotent: an idempotent request survives a dropped connection and is answered")
    func idempotentRequest() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let attempts = Lock<[UInt64: Int]>([:])
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { note, context in
                let attempt = attempts.withLock { counts -> Int in
                    counts[note.id, default: 0] += 1
                    return counts[note.id]!
                }
                if attempt == 1 {
                    try? server.closeConnection(context.connection)  // the first try dies with its connection
                } else {
                    try? context.respond(Note(id: note.id, text: "attempt \(attempt)"))
                }
            }
        }
        defer { server.stop() }
        let client = try startClient(group: group) { $0.reconnectDelay = .milliseconds(5) }
        defer { client.stop() }
        let outcomes = EventLog()
        try client.request(Note(id: 7, text: "again"), to: destination, options: [.idempotent], expecting: Note.self) {
            result in outcomes.add("idempotent: " + ((try? result.get().text) ?? "\(result)"))
        }
        #expect(outcomes.wait { !$0.isEmpty })
        #expect(outcomes.all == ["idempotent: attempt 2"])
        // A plain request that meets the same fate fails and says it was sent.
        try client.request(Note(id: 8, text: "once"), to: destination, expecting: Note.self) { result in
            if case .failure(let error) = result { outcomes.add("plain: \(error.progress)") } else { outcomes.add("plain: ok") }
        }
        #expect(outcomes.wait { $0.count >= 2 })
        #expect(outcomes.all.last == "plain: sentAwaitingResponse")
        #expect(attempts.withLock { $0 } == [7: 2, 8: 1])
    }

    @Test("messages behind a dropped connection complete exactly once: written, resent, or failed as partly sent")
    func exactlyOnceAcrossDrops() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let seen = Lock<[UInt64: Int]>([:])
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { note, context in
                seen.withLock { $0[note.id, default: 0] += 1 }
                if note.id % 50 == 49 { try? server.closeConnection(context.connection) }
            }
        }
        defer { server.stop() }
        let client = try startClient(group: group) { $0.reconnectDelay = .milliseconds(5) }
        defer { client.stop() }
        let outcomes = EventLog()
        let count = 300
        for id in 0..<count {
            try client.send(Note(id: UInt64(id), text: String(repeating: "r", count: 20_000)), to: destination) { result in
                switch result {
                case .success: outcomes.add("\(id) ok")
                case .failure(let error): outcomes.add("\(id) \(error.progress)")
                }
            }
        }
        #expect(outcomes.wait { $0.count >= count })
        let all = outcomes.all
        #expect(all.count == count, "each message completed exactly once")
        #expect(Set(all.map { $0.split(separator: " ")[0] }).count == count)
        #expect(all.allSatisfy { $0.hasSuffix(" ok") || $0.hasSuffix(" partlySent") }, "\(Set(all.map { $0.split(separator: " ")[1] }))")
        // Nothing was delivered twice (resent messages had not started before).
        #expect(seen.withLock { $0.values.allSatisfy { $0 == 1 } })
    }
}
