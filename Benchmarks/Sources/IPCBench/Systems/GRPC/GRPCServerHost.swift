import GRPCCore
import GRPCNIOTransportHTTP2Posix
import NIOPosix

/// The grpc-swift 2 baseline server: ``GRPCServer`` over the HTTP/2 NIO Posix transport, plaintext,
/// one event-loop thread, request cap raised to 1 GiB; every other setting at its default.
final class GRPCServerHost: SystemServer {
    /// The server's event-loop thread, never shut down: grpc-swift still schedules work on it after
    /// `serve()` returned, which a shut-down group refuses (it prints an error).
    private static let sharedGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var server: GRPCServer<HTTP2ServerTransport.Posix>?
    private var serving: Task<Void, Never>?

    func start() throws -> ServerEndpoints {
        let group = Self.sharedGroup
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext,
            config: .defaults { $0.rpc.maxRequestPayloadSize = BenchMethods.maxMessageBytes }, eventLoopGroup: group)
        let server = GRPCServer(transport: transport, services: [BenchGRPCService()])
        self.server = server
        serving = Task {
            do { try await server.serve() } catch { printError("ipc-bench: gRPC server stopped: \(error)") }
        }
        let port = try blockingAsync("gRPC listen", timeout: 30) { try await transport.listeningAddress.ipv4?.port }
        guard let port else { throw BenchError("gRPC server did not bind an IPv4 port") }
        return ServerEndpoints(port: UInt16(port))
    }

    func stop() {
        server?.beginGracefulShutdown()
        if let serving { _ = try? blockingAsync("gRPC server stop", timeout: 10) { await serving.value } }
        serving = nil
        server = nil
    }
}
