import SolidEngine
import SolidIPC
import SolidIPCTLS
import Synchronization

/// The SolidIPC client: fresh client ``IPCService``s per repetition on a one-thread ``ReactorGroup``, so
/// every response callback runs on that one thread. The TLS variant shares one client ``TLSTransport``
/// (one session cache) across its services; the Unix variant connects to the server's socket path.
final class SolidSystemClient: SystemClient {
    let group: ReactorGroup
    let destination: Destination
    let snappy: Bool
    let variant: SolidVariant
    /// The client TLS settings of the TLS variant.
    let tls: TLSTransport?
    /// What the last TLS handshake negotiated (protocol and cipher), for the report's placement lines.
    let negotiated = Locked<String?>(nil)
    /// The server's port (the relay variant names it in its relay header).
    let serverPort: UInt16
    /// The proxy's port (proxied variants).
    let proxyPort: UInt16?

    /// W1/W1b through `try await request` in tasks instead of the callback API.
    let asyncAPI: Bool
    /// Echo workloads through one service whose pool opens up to `connections` connections by itself,
    /// with every request in flight at once (SolidFrame's W4 configuration), instead of one service of
    /// one connection per connection.
    let onePool: Bool

    init(endpoints: ServerEndpoints, variant: SolidVariant, snappy: Bool, asyncAPI: Bool = false, onePool: Bool = false) throws {
        group = try ReactorGroup(threads: 1, name: "solid-client")
        self.asyncAPI = asyncAPI
        self.onePool = onePool
        self.variant = variant
        serverPort = endpoints.port
        proxyPort = endpoints.proxyPort
        switch variant {
        case .tcp:
            destination = try Destination(host: "127.0.0.1", port: endpoints.port)
            tls = nil
        case .tls(let material):
            destination = try Destination(host: "127.0.0.1", port: endpoints.port)
            tls = try material.solidClient()
        case .unix:
            guard let path = endpoints.unixPath else { throw BenchError("the Unix-socket server named no path") }
            destination = try Destination(unixPath: path)
            tls = nil
        case .socks5, .relay:
            guard let proxyPort = endpoints.proxyPort else { throw BenchError("the proxied server has no proxy port") }
            // Through SOCKS5 the destination is the server (the proxy connects to it); through the relay
            // the pool connects to the relay and names the server in its relay header.
            destination = try Destination(host: "127.0.0.1", port: variant.isRelay ? proxyPort : endpoints.port)
            tls = nil
        }
        self.snappy = snappy
    }

    /// The client group's only reactor: where every callback runs.
    var reactor: Reactor { group.reactors[0] }

    func shutdown() { group.shutdown() }

    var connectionNote: String? { negotiated.withLock { $0 } }

    /// A started client service (Snappy offered when this client is the Snappy variant). `tls` replaces
    /// the client's own TLS settings (the handshake workload's no-resumption transport); `onStart` runs on
    /// the reactor for every connection that completed its handshake.
    func makeService(
        tls override: TLSTransport? = nil, maxConnections: Int = 1, onStart: (@Sendable (ConnectionInfo) -> Void)? = nil
    ) throws -> IPCService {
        var configuration = ServiceConfiguration(registry: benchRegistry())
        configuration.maxConnectionsPerPool = maxConnections
        configuration.connection = solidConnectionConfiguration(registry: configuration.registry, snappy: snappy)
        if let transport = override ?? tls {
            configuration.tls = transport
            let negotiated = self.negotiated
            configuration.onConnectionStart = { info in
                if let security = info.security {
                    negotiated.withLock { $0 = "\(security.protocolVersion) \(security.cipher) (client side)" }
                }
                onStart?(info)
            }
        } else {
            configuration.onConnectionStart = onStart
        }
        var relay: ServiceReference?
        switch variant {
        case .socks5: configuration.proxy = .socks5(host: "127.0.0.1", port: proxyPort!)
        case .relay: relay = RelayHeader.configure(&configuration, serverPort: serverPort)
        default: break
        }
        let service = try IPCService(configuration: configuration, group: group)
        relay?.service = service
        try service.start()
        return service
    }

    /// Sends one request and waits for its response (opens and warms the pool's connection).
    func roundTrip<Request: WireMessage & Sendable, Response: WireMessage & Sendable>(
        _ service: IPCService, _ request: Request, to destination: Destination, expecting: Response.Type,
        label: String, timeout: Double = 30, progress: (() -> String)? = nil
    ) throws -> (Response, UInt64) {
        let done = Completion<Result<(Response, UInt64), SendError>>()
        try service.request(request, to: destination, expecting: Response.self) { result in
            done.complete(result.map { ($0, nowNanos()) })
        }
        return try done.wait(label, timeout: timeout, progress: progress).get()
    }

    func echo(_ spec: EchoSpec, phase: MeasuredPhase) throws -> EchoOutcome {
        if spec.phaseIncludesConnecting { try phase.begin() }
        if onePool { return try pooledEcho(spec, phase: phase) }
        let services = try (0..<spec.connections).map { _ in try makeService() }
        defer { for service in services { service.stop() } }
        let payload = Payload.randomBytes(spec.size, seed: 7)
        for service in services {
            _ = try roundTrip(service, EchoMessage(payload: payload), to: destination, expecting: EchoMessage.self, label: "SolidIPC warm-up")
        }
        let run = EchoRun(total: spec.roundTrips, size: spec.size)
        if asyncAPI { return try asyncEcho(spec, services: services, payload: payload, run: run, phase: phase) }
        let lanes = services.enumerated().map { index, service in
            EchoLane(service: service, destination: destination, payload: payload, run: run,
                     total: spec.roundTrips / spec.connections + (index < spec.roundTrips % spec.connections ? 1 : 0))
        }
        if !spec.phaseIncludesConnecting { try phase.begin() }
        let start = nowNanos()
        reactor.execute {
            for lane in lanes { for _ in 0..<min(spec.depth, lane.total) { lane.sendOne() } }
        }
        let end = try run.completion.wait("SolidIPC echo", timeout: Deadline.echo(spec)) {
            "\(run.finished.load(ordering: .relaxed)) of \(spec.roundTrips) round trips"
        }
        try phase.end()
        var outcome = run.outcome(elapsed: end - start)
        outcome.connectionsOpened = services.reduce(0) { $0 + $1.statistics.connectionsOpened }
        return outcome
    }
}

extension SolidSystemClient {
    /// W4 as SolidFrame's client runs it: one service whose pool may open up to `spec.connections`
    /// connections (it opens one more, one at a time, while requests wait for room), with all
    /// `connections × depth` requests in flight on it. The rate counts from after one warm-up round trip
    /// (the first connection); the pool's growth is part of the measured run, as SolidFrame's is.
    func pooledEcho(_ spec: EchoSpec, phase: MeasuredPhase) throws -> EchoOutcome {
        let service = try makeService(maxConnections: spec.connections)
        defer { service.stop() }
        let payload = Payload.randomBytes(spec.size, seed: 7)
        _ = try roundTrip(service, EchoMessage(payload: payload), to: destination, expecting: EchoMessage.self, label: "SolidIPC warm-up")
        let run = EchoRun(total: spec.roundTrips, size: spec.size)
        let lane = EchoLane(service: service, destination: destination, payload: payload, run: run, total: spec.roundTrips)
        let inFlight = min(spec.connections * spec.depth, spec.roundTrips)
        let start = nowNanos()
        reactor.execute { for _ in 0..<inFlight { lane.sendOne() } }
        let end = try run.completion.wait("SolidIPC echo (one pool)", timeout: Deadline.echo(spec)) {
            "\(run.finished.load(ordering: .relaxed)) of \(spec.roundTrips) round trips"
        }
        try phase.end()
        var outcome = run.outcome(elapsed: end - start)
        outcome.connectionsOpened = service.statistics.connectionsOpened
        return outcome
    }
}

/// Keeps `depth` requests in flight on one client service: each response sends the next request.
final class EchoLane: @unchecked Sendable {
    // @unchecked: `sent` is touched only on the client group's single reactor thread.
    let service: IPCService
    let destination: Destination
    let payload: [UInt8]
    let run: EchoRun
    let total: Int
    private var sent = 0

    init(service: IPCService, destination: Destination, payload: [UInt8], run: EchoRun, total: Int) {
        self.service = service
        self.destination = destination
        self.payload = payload
        self.run = run
        self.total = total
    }

    func sendOne() {
        guard sent < total else { return }
        sent += 1
        let sentAt = nowNanos()
        let size = payload.count
        do {
            try service.request(EchoMessage(payload: payload), to: destination, expecting: EchoMessage.self) { result in
                switch result {
                case .success(let response):
                    self.run.finish(sentAt: sentAt, error: response.payload.count == size ? nil : "wrong echo size")
                case .failure(let error):
                    self.run.finish(sentAt: sentAt, error: "\(error)")
                }
                self.sendOne()
            }
        } catch {
            // Refused at once: this lane stops; its unsent requests count as failed so the run ends.
            run.finish(sentAt: sentAt, error: "\(error)")
            while sent < total {
                sent += 1
                run.finish(sentAt: sentAt, error: "\(error)")
            }
        }
    }
}
