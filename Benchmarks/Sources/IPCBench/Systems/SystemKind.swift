/// The systems ipc-bench compares: SolidIPC and the three things a Swift user would pick instead.
enum SystemKind: String, CaseIterable, Codable, Sendable {
    case solidipc, raw, nio, grpc

    /// The name printed in tables.
    var label: String {
        switch self {
        case .solidipc: "SolidIPC"
        case .raw: "raw TCP (SolidReactor)"
        case .nio: "SwiftNIO"
        case .grpc: "grpc-swift 2"
        }
    }

    /// A server of this system, not started.
    func makeServer() -> any SystemServer {
        switch self {
        case .solidipc: SolidServerHost()
        case .raw: RawServerHost()
        case .nio: NIOServerHost()
        case .grpc: GRPCServerHost()
        }
    }

    /// A client for `endpoints`; `snappy` applies to SolidIPC only.
    func makeClient(endpoints: ServerEndpoints, snappy: Bool) throws -> any SystemClient {
        switch self {
        case .solidipc: try SolidSystemClient(endpoints: endpoints, snappy: snappy)
        case .raw: try RawSystemClient(endpoints: endpoints)
        case .nio: try NIOSystemClient(endpoints: endpoints)
        case .grpc: try GRPCSystemClient(endpoints: endpoints)
        }
    }
}

/// Where a started server listens (127.0.0.1).
struct ServerEndpoints: Sendable {
    /// Every workload: echo, bulk, streams and pings.
    var port: UInt16
}

/// The server half of a system, hosted in the child process (or in the client's for `--processes 1`).
protocol SystemServer: AnyObject {
    /// Starts listening on 127.0.0.1 with ephemeral ports.
    func start() throws -> ServerEndpoints
    /// Stops and releases everything.
    func stop()
}
