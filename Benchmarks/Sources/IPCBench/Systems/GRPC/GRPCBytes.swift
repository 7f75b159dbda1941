import GRPCCore

/// A plain bytes serializer: the message is its bytes (no protobuf, no code generation).
struct BytesSerializer: MessageSerializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
}

/// A plain bytes deserializer: copies the received bytes into an array.
struct BytesDeserializer: MessageDeserializer {
    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
        serializedMessageBytes.withUnsafeBytes { Array($0) }
    }
}

/// The benchmark's two unary methods.
enum BenchMethods {
    static let service = ServiceDescriptor(fullyQualifiedService: "ipcbench.Bench")
    /// Answers with the request's bytes (W1, W1b, W3 pings).
    static let echo = MethodDescriptor(service: service, method: "Echo")
    /// Answers with the request's length as 8 little-endian bytes (W2, W3 bulk).
    static let bulk = MethodDescriptor(service: service, method: "Bulk")
    /// Request cap raised from gRPC's 4 MiB default so a 256 MiB message fits.
    static let maxMessageBytes = 1 << 30
}

/// The service, registered by hand on the router (what generated code would do).
struct BenchGRPCService: RegistrableRPCService {
    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(forMethod: BenchMethods.echo, deserializer: BytesDeserializer(), serializer: BytesSerializer()) {
            request, _ in
            let single = try await ServerRequest(stream: request)
            return StreamingServerResponse(single: ServerResponse(message: single.message))
        }
        router.registerHandler(forMethod: BenchMethods.bulk, deserializer: BytesDeserializer(), serializer: BytesSerializer()) {
            request, _ in
            let single = try await ServerRequest(stream: request)
            return StreamingServerResponse(single: ServerResponse(message: FrameProtocol.words([UInt64(single.message.count)])))
        }
    }
}

/// Runs async work from the (synchronous) main thread and waits for it: the work runs on the Swift
/// concurrency pool, the main thread blocks on a semaphore outside that pool.
func blockingAsync<T: Sendable>(_ label: String, timeout: Double, _ body: @escaping @Sendable () async throws -> T) throws -> T {
    let done = Completion<Result<T, any Error>>()
    Task {
        do { done.complete(.success(try await body())) } catch { done.complete(.failure(error)) }
    }
    return try done.wait(label, timeout: timeout).get()
}
