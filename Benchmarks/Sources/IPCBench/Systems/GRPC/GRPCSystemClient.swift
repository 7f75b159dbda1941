import GRPCCore
import GRPCNIOTransportHTTP2Posix
import NIOPosix
import Synchronization

/// The grpc-swift 2 baseline client: unary calls with a bytes serializer over the HTTP/2 NIO Posix
/// transport, one event-loop thread; one ``GRPCClient`` (one HTTP/2 connection) per connection asked for.
final class GRPCSystemClient: SystemClient {
    typealias Client = GRPCClient<HTTP2ClientTransport.Posix>
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let port: Int

    init(endpoints: ServerEndpoints) throws { port = Int(endpoints.port) }

    func shutdown() { try? group.syncShutdownGracefully() }

    /// A running client and the task running its connections.
    private func makeClient() throws -> (Client, Task<Void, any Error>) {
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext, eventLoopGroup: group)
        let client = GRPCClient(transport: transport)
        let task = Task { try await client.runConnections() }
        return (client, task)
    }

    private func close(_ clients: [(Client, Task<Void, any Error>)]) {
        for (client, _) in clients { client.beginGracefulShutdown() }
        let tasks = clients.map { $0.1 }
        _ = try? blockingAsync("gRPC close", timeout: 30) { for task in tasks { _ = try? await task.value } }
    }

    func echo(_ spec: EchoSpec, phase: MeasuredPhase) throws -> EchoOutcome {
        let clients = try (0..<spec.connections).map { _ in try makeClient() }
        defer { close(clients) }
        let payload = Payload.randomBytes(spec.size, seed: 7)
        for (client, _) in clients {
            _ = try blockingAsync("gRPC warm-up", timeout: 30) { try await GRPCSystemClient.call(client, BenchMethods.echo, payload) }
        }
        let latency = Locked(LatencyHistogram())
        let failures = SharedCounter()
        let firstError = Locked<String?>(nil)
        try phase.begin()
        let start = nowNanos()
        let end = try blockingAsync("gRPC echo", timeout: Deadline.echo(spec)) {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for (index, (client, _)) in clients.enumerated() {
                    let total = spec.roundTrips / spec.connections + (index < spec.roundTrips % spec.connections ? 1 : 0)
                    let next = SharedCounter()
                    for _ in 0..<min(spec.depth, total) {
                        tasks.addTask {
                            while next.value.add(1, ordering: .relaxed).oldValue < total {
                                let sentAt = nowNanos()
                                do {
                                    let response = try await GRPCSystemClient.call(client, BenchMethods.echo, payload)
                                    let elapsed = nowNanos() &- sentAt
                                    if response.count == spec.size {
                                        latency.withLock { $0.record(nanos: elapsed) }
                                    } else {
                                        failures.value.add(1, ordering: .relaxed)
                                    }
                                } catch {
                                    failures.value.add(1, ordering: .relaxed)
                                    firstError.withLock { if $0 == nil { $0 = "\(error)" } }
                                }
                            }
                        }
                    }
                }
                try await tasks.waitForAll()
            }
            return nowNanos()
        }
        try phase.end()
        let errors = failures.value.load(ordering: .relaxed)
        return EchoOutcome(
            roundTrips: spec.roundTrips - errors, elapsedNanos: end - start, latency: latency.withLock { $0 }, errors: errors,
            firstError: firstError.withLock { $0 })
    }

    func bulk(_ spec: TransferSpec, phase: MeasuredPhase) throws -> TransferOutcome {
        let (client, task) = try makeClient()
        defer { close([(client, task)]) }
        _ = try blockingAsync("gRPC warm-up", timeout: 30) { try await GRPCSystemClient.call(client, BenchMethods.echo, [1]) }
        let payload = MessagePayloads.bytes(spec.bytes)
        try phase.begin()
        let start = nowNanos()
        let (reply, end) = try blockingAsync("gRPC bulk \(spec.bytes >> 20) MiB", timeout: Deadline.transfer(spec.bytes)) {
            (try await GRPCSystemClient.call(client, BenchMethods.bulk, payload), nowNanos())
        }
        try phase.end()
        guard FrameProtocol.word(reply, 0) == UInt64(spec.bytes) else {
            throw BenchError("gRPC bulk: server received \(FrameProtocol.word(reply, 0)) of \(spec.bytes) bytes")
        }
        return TransferOutcome(bytes: spec.bytes, elapsedNanos: end - start, checksumOK: nil)
    }

    func headOfLine(_ spec: HeadOfLineSpec, phase: MeasuredPhase) throws -> HeadOfLineOutcome {
        let (client, task) = try makeClient()
        defer { close([(client, task)]) }
        let ping = Payload.randomBytes(spec.pingSize, seed: 11)
        _ = try blockingAsync("gRPC warm-up", timeout: 30) { try await GRPCSystemClient.call(client, BenchMethods.echo, ping) }
        let idle = try blockingAsync("gRPC idle pings", timeout: 60) {
            var histogram = LatencyHistogram()
            for _ in 0..<spec.idlePings {
                let sentAt = nowNanos()
                _ = try await GRPCSystemClient.call(client, BenchMethods.echo, ping)
                histogram.record(nanos: nowNanos() &- sentAt)
            }
            return histogram
        }
        let payload = MessagePayloads.bytes(spec.bulkBytes)
        try phase.begin()
        let start = nowNanos()
        let (busy, end) = try blockingAsync("gRPC W3 bulk + pings", timeout: Deadline.transfer(spec.bulkBytes)) {
            let bulkEnd = SharedCounter()  // nanoseconds; 0 while the bulk call runs
            return try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask {
                    _ = try await GRPCSystemClient.call(client, BenchMethods.bulk, payload)
                    bulkEnd.value.store(Int(nowNanos()), ordering: .releasing)
                }
                var histogram = LatencyHistogram()
                while bulkEnd.value.load(ordering: .acquiring) == 0 {
                    let sentAt = nowNanos()
                    _ = try await GRPCSystemClient.call(client, BenchMethods.echo, ping)
                    histogram.record(nanos: nowNanos() &- sentAt)
                }
                try await tasks.waitForAll()
                return (histogram, UInt64(bulkEnd.value.load(ordering: .acquiring)))
            }
        }
        try phase.end()
        return HeadOfLineOutcome(idle: idle, busy: busy, bulkElapsedNanos: end - start)
    }

    /// One unary call with the bytes serializer; the request cap is raised for bulk messages.
    static func call(_ client: Client, _ method: MethodDescriptor, _ payload: [UInt8]) async throws -> [UInt8] {
        var options = CallOptions.defaults
        options.maxRequestMessageBytes = BenchMethods.maxMessageBytes
        options.maxResponseMessageBytes = BenchMethods.maxMessageBytes
        return try await client.unary(
            request: ClientRequest(message: payload), descriptor: method, serializer: BytesSerializer(),
            deserializer: BytesDeserializer(), options: options
        ) { response in try response.message }
    }
}
