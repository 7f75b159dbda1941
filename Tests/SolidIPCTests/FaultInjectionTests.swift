import SolidEngine
import SolidIPC
import SolidReactor
import Testing

/// Connections killed at random points while 10,000 messages with mixed flags flow: every message must
/// complete exactly once, every success must carry an intact payload, idempotent ones must all succeed.
@Suite("Fault injection", .serialized)
struct FaultInjectionTests {
    /// What one message was sent as.
    private enum Kind: CaseIterable {
        case plain, request, idempotentRequest, idempotentPlain, synchronous, synchronousRequest, oneShotRequest

        var flags: SendOptions {
            switch self {
            case .plain, .request: []
            case .idempotentRequest, .idempotentPlain: .idempotent
            case .synchronous, .synchronousRequest: .synchronous
            case .oneShotRequest: .oneShot
            }
        }

        var isRequest: Bool { [.request, .idempotentRequest, .synchronousRequest, .oneShotRequest].contains(self) }
        var isIdempotent: Bool { self == .idempotentRequest || self == .idempotentPlain }
    }

    @Test("10,000 messages of mixed flags while connections die at random: each completes once, intact")
    func randomConnectionKills() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let serverRandom = Lock(SplitMix(seed: 42))
        let damaged = Lock(0)
        let serverKills = Lock(0)
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Blob.self) { blob, context in
                if !blob.isIntact { damaged.withLock { $0 += 1 } }
                // About one message in 400 makes the server drop the connection it came on.
                if serverRandom.withLock({ $0.next() % 400 == 0 }) {
                    serverKills.withLock { $0 += 1 }
                    try? server.closeConnection(context.connection)
                    return
                }
                if context.isRequest { try? context.respond(blob) }
            }
        }
        defer { server.stop() }
        let connections = Lock<[ObjectHandle]>([])
        let client = try startClient(group: group) { configuration in
            configuration.maxConnectionsPerPool = 3
            configuration.poolQueueCapacity = 20_000
            configuration.reconnectDelay = .milliseconds(1)
            configuration.onConnectionStart = { info in connections.withLock { $0.append(info.handle) } }
            configuration.onConnectionStop = { info, _ in connections.withLock { $0.removeAll { $0 == info.handle } } }
        }
        defer { client.stop() }

        let total = 10_000
        var random = SplitMix(seed: 2026)
        let completions = Lock<[Int]>(Array(repeating: 0, count: total))
        let problems = Lock<[String]>([])
        let finished = Lock(0)
        for index in 0..<total {
            let kind = Kind.allCases[Int(random.next() % UInt64(Kind.allCases.count))]
            let size = random.next() % 50 == 0 ? 100_000 + Int(random.next() % 100_000) : Int(random.next() % 4_000)
            let blob = Blob(id: UInt64(index), size: size)
            let record: @Sendable (String?) -> Void = { problem in
                completions.withLock { $0[index] += 1 }
                if let problem { problems.withLock { $0.append("#\(index) \(kind): \(problem)") } }
                finished.withLock { $0 += 1 }
            }
            let judge: @Sendable (SendError) -> String? = { error in
                // A failure is allowed only for a message that may not be resent, and only once it started.
                if kind.isIdempotent { return "idempotent failed: \(error)" }
                if case .connectionClosed(_, let progress) = error, progress != .notSent { return nil }
                return "unexpected failure: \(error)"
            }
            if kind.isRequest {
                try client.request(blob, to: destination, options: kind.flags, expecting: Blob.self) { result in
                    switch result {
                    case .success(let response): record(response == blob ? nil : "damaged response")
                    case .failure(let error): record(judge(error))
                    }
                }
            } else {
                try client.send(blob, to: destination, options: kind.flags) { result in
                    switch result {
                    case .success: record(nil)
                    case .failure(let error): record(judge(error))
                    }
                }
            }
            // The client kills one of its own connections every 700 sends, at whatever point it has reached.
            if index % 700 == 699, let victim = connections.withLock({ $0.randomElement(using: &random) }) {
                try? client.closeConnection(victim)
            }
        }
        #expect(waitUntil(seconds: 120) { finished.withLock { $0 } == total }, "completed \(finished.withLock { $0 })")
        let counts = completions.withLock { $0 }
        #expect(counts.allSatisfy { $0 == 1 }, "not exactly once: \(counts.enumerated().filter { $0.element != 1 }.prefix(10))")
        #expect(problems.withLock { $0 }.isEmpty, "\(problems.withLock { $0.prefix(10) })")
        #expect(damaged.withLock { $0 } == 0)
        #expect(serverKills.withLock { $0 } > 5, "the scenario really killed connections")
        #expect(client.statistics.connectionsClosed > 10)
    }
}
