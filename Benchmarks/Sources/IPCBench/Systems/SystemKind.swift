/// The systems ipc-bench compares: SolidIPC and the three things a Swift user would pick instead, plus
/// SolidIPC over TLS and over a Unix-domain socket and SwiftNIO with NIOSSL.
enum SystemKind: String, CaseIterable, Codable, Sendable {
    case solidipc, raw, nio, grpc
    /// SolidIPC with `ServiceConfiguration.tls` (SolidIPCTLS over OpenSSL), secure from the start.
    case solidtls
    /// SolidIPC over a Unix-domain socket.
    case solidunix
    /// SwiftNIO with an `NIOSSLClientHandler`/`NIOSSLServerHandler` in front of the same framing.
    case niossl
    /// SolidIPC through a SOCKS5 proxy (Debian's `microsocks`, a process of its own).
    case solidsocks
    /// SolidIPC through the seed's relay (`relay-proxy` of Examples/RelayProxy, a process of its own):
    /// pools start Raw, send the relay header, activate on its `'0'`.
    case solidrelay
    /// SolidIPC's async API: each request is `try await service.request(...)` in a task (W1, W1b).
    case solidasync
    /// SolidIPC as SolidFrame's W4 client is configured (W4 only): one service whose pool may open up to
    /// 1,000 connections and scales by itself (one pending connection at a time) while all 1,000
    /// requests are in flight, instead of 1,000 services of one connection each.
    case solidpool
    /// SolidFrame MPRPC (C++), the system SolidIPC re-implements: `sfbench` server and client processes
    /// (`--solidframe PATH`), a fresh pair per repetition.
    case solidframe

    /// The name printed in tables.
    var label: String {
        switch self {
        case .solidipc: "SolidIPC"
        case .raw: "raw TCP (SolidReactor)"
        case .nio: "SwiftNIO"
        case .grpc: "grpc-swift 2"
        case .solidtls: "SolidIPC + TLS"
        case .solidunix: "SolidIPC, Unix socket"
        case .niossl: "SwiftNIO + NIOSSL"
        case .solidsocks: "SolidIPC via SOCKS5 (microsocks)"
        case .solidrelay: "SolidIPC via relay-proxy"
        case .solidasync: "SolidIPC, async request"
        case .solidpool: "SolidIPC, one pool (≤ 1,000 connections)"
        case .solidframe: "SolidFrame MPRPC (C++)"
        }
    }

    /// The proxy process a proxied system's client goes through.
    var proxy: ProxyKind? {
        switch self {
        case .solidsocks: .microsocks
        case .solidrelay: .relay
        default: nil
        }
    }

    /// The SolidIPC systems (the rows whose ratios to the baselines are printed).
    var isSolidIPC: Bool { [.solidipc, .solidtls, .solidunix, .solidsocks, .solidrelay, .solidasync, .solidpool].contains(self) }

    /// Uses the run's certificates.
    var usesTLS: Bool { self == .solidtls || self == .niossl }

    /// What a SolidIPC row's ratio lines compare it with.
    var comparedWith: [SystemKind] {
        switch self {
        case .solidipc: [.raw, .nio, .grpc, .solidframe]
        case .solidtls: [.niossl, .solidipc]
        case .solidunix: [.solidipc, .raw, .nio]
        case .solidsocks, .solidrelay, .solidasync: [.solidipc]
        case .solidpool: [.solidipc, .solidframe]
        default: []
        }
    }

    /// A server of this system, not started; `tls` holds the certificates of the TLS systems.
    func makeServer(tls: TLSMaterial?) throws -> any SystemServer {
        switch self {
        case .solidipc, .solidsocks, .solidrelay, .solidasync, .solidpool: SolidServerHost(variant: .tcp)
        case .solidtls: SolidServerHost(variant: .tls(try requireTLS(tls)))
        case .solidunix: SolidServerHost(variant: .unix)
        case .raw: RawServerHost()
        case .nio: NIOServerHost(tls: nil)
        case .niossl: NIOServerHost(tls: try requireTLS(tls).nioServerContext())
        case .grpc: GRPCServerHost()
        case .solidframe: throw BenchError("SolidFrame runs as sfbench processes (SolidFrameRun), not as an ipc-bench server")
        }
    }

    /// A client for `endpoints`; `snappy` applies to SolidIPC only.
    func makeClient(endpoints: ServerEndpoints, snappy: Bool) throws -> any SystemClient {
        switch self {
        case .solidipc: try SolidSystemClient(endpoints: endpoints, variant: .tcp, snappy: snappy)
        case .solidtls: try SolidSystemClient(endpoints: endpoints, variant: .tls(try requireTLS(endpoints.tls)), snappy: snappy)
        case .solidunix: try SolidSystemClient(endpoints: endpoints, variant: .unix, snappy: snappy)
        case .solidsocks: try SolidSystemClient(endpoints: endpoints, variant: .socks5, snappy: snappy)
        case .solidrelay: try SolidSystemClient(endpoints: endpoints, variant: .relay, snappy: snappy)
        case .solidasync: try SolidSystemClient(endpoints: endpoints, variant: .tcp, snappy: snappy, asyncAPI: true)
        case .solidpool: try SolidSystemClient(endpoints: endpoints, variant: .tcp, snappy: snappy, onePool: true)
        case .raw: try RawSystemClient(endpoints: endpoints)
        case .nio: try NIOSystemClient(endpoints: endpoints, tls: nil)
        case .niossl: try NIOSystemClient(endpoints: endpoints, tls: try requireTLS(endpoints.tls).nioClientContext())
        case .grpc: try GRPCSystemClient(endpoints: endpoints)
        case .solidframe: throw BenchError("SolidFrame runs as sfbench processes (SolidFrameRun), not as an ipc-bench client")
        }
    }

    private func requireTLS(_ material: TLSMaterial?) throws -> TLSMaterial {
        guard let material else { throw BenchError("\(rawValue) needs the run's TLS certificates") }
        return material
    }
}

/// How a SolidIPC server or client connects.
enum SolidVariant: Sendable {
    case tcp
    case tls(TLSMaterial)
    case unix
    /// Through the SOCKS5 proxy at ``ServerEndpoints/proxyPort``.
    case socks5
    /// Through the relay at ``ServerEndpoints/proxyPort``.
    case relay
}

/// Where a started server listens (127.0.0.1, or a Unix-domain socket path).
struct ServerEndpoints: Sendable {
    /// Every workload: echo, bulk, streams and pings (0 for a Unix-domain socket server).
    var port: UInt16
    /// The socket path of a Unix-domain server.
    var unixPath: String?
    /// The run's certificates (TLS systems).
    var tls: TLSMaterial?
    /// The proxy in front of the server (proxied systems), on 127.0.0.1.
    var proxyPort: UInt16?
}

/// The server half of a system, hosted in the child process (or in the client's for `--processes 1`).
protocol SystemServer: AnyObject {
    /// Starts listening on 127.0.0.1 with ephemeral ports (or on a Unix-domain socket).
    func start() throws -> ServerEndpoints
    /// Stops and releases everything.
    func stop()
}
