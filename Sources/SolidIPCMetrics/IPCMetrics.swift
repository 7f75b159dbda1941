public import CoreMetrics
public import SolidIPC
import SolidReactor

/// Reports a service's events to swift-metrics: set it as `ServiceConfiguration.instrumentation`. It uses
/// the metrics backend the application bootstrapped (`MetricsSystem.bootstrap`), or `factory`; the
/// library never bootstraps one.
///
/// | name | kind | dimensions |
/// |---|---|---|
/// | `solidipc.connections.opened` | counter | `side` (`client`, `server`) |
/// | `solidipc.connections.closed` | counter | `side`, `reason` (`ConnectionError` case) |
/// | `solidipc.connections.open` | meter | `side` |
/// | `solidipc.connect.failures` | counter | `reason` |
/// | `solidipc.tls.handshakes` | counter | `side` |
/// | `solidipc.messages.received` | counter | `type` (Swift type name) |
/// | `solidipc.messages.received.bytes` | counter | `type` (in-line body bytes) |
/// | `solidipc.messages.written` | counter | `type`: every message this side wrote completely (responses too) |
/// | `solidipc.messages.written.bytes` | counter | `type` (in-line body bytes) |
/// | `solidipc.messages.sent` | counter | `type`, `kind` (`message`, `request`), `outcome` (`ok` or the `SendError` case): sends to a destination, when they complete |
/// | `solidipc.request.duration` | timer | `type` (answered requests only) |
/// | `solidipc.pools` | meter | — (destinations with a pool now) |
/// | `solidipc.queue.depth` | meter | — (messages accepted for destinations and not yet written) |
/// | `solidipc.errors` | counter | `source` (`send`, `connection`, `connect`), `kind` (the error's case) |
///
/// `solidipc.errors` counts, in one place for alerting: failed sends (`source=send`), connections that
/// ended abnormally (`source=connection`: anything but an orderly close by either side —
/// `closedLocally`, `closingGracefully`, `closedByPeer`) and failed connect attempts.
///
/// The prefix (`solidipc`) is `prefix`. Metric objects are made once per name and dimensions and reused.
public final class IPCMetrics: ServiceInstrumentation {
    private let prefix: String
    private let factory: any MetricsFactory
    // pthread locks (SolidReactor's `Lock`): TSan does not see `Synchronization.Mutex`'s futex.
    private let counters = Lock<[MetricKey: Counter]>([:])
    private let timers = Lock<[String: CoreMetrics.Timer]>([:])
    private let openClient: Meter
    private let openServer: Meter
    private let pools: Meter
    private let queueDepth: Meter

    /// Reports under names starting with `prefix`, through `factory` (default: the bootstrapped one).
    public init(prefix: String = "solidipc", factory: any MetricsFactory = MetricsSystem.factory) {
        self.prefix = prefix
        self.factory = factory
        openClient = Meter(label: prefix + ".connections.open", dimensions: [("side", "client")], factory: factory)
        openServer = Meter(label: prefix + ".connections.open", dimensions: [("side", "server")], factory: factory)
        pools = Meter(label: prefix + ".pools", factory: factory)
        queueDepth = Meter(label: prefix + ".queue.depth", factory: factory)
    }

    public func connectionOpened(side: ConnectionSide) {
        counter("connections.opened", [("side", side.rawValue)]).increment()
        meter(side).increment()
    }

    public func connectionClosed(side: ConnectionSide, reason: ConnectionError) {
        counter("connections.closed", [("side", side.rawValue), ("reason", Self.label(reason))]).increment()
        meter(side).decrement()
        switch reason {
        case .closedLocally, .closingGracefully, .closedByPeer: break  // orderly ends, not failures
        default: error("connection", Self.label(reason))
        }
    }

    public func connectAttemptFailed(reason: ConnectionError) {
        counter("connect.failures", [("reason", Self.label(reason))]).increment()
        error("connect", Self.label(reason))
    }

    public func secured(side: ConnectionSide) {
        counter("tls.handshakes", [("side", side.rawValue)]).increment()
    }

    public func messageReceived(type: String, bytes: Int) {
        counter("messages.received", [("type", type)]).increment()
        counter("messages.received.bytes", [("type", type)]).increment(by: Int64(bytes))
    }

    public func messageWritten(type: String, bytes: Int) {
        counter("messages.written", [("type", type)]).increment()
        counter("messages.written.bytes", [("type", type)]).increment(by: Int64(bytes))
    }

    public func poolsChanged(by delta: Int) {
        if delta >= 0 { pools.increment(by: Double(delta)) } else { pools.decrement(by: Double(-delta)) }
    }

    public func queuedMessagesChanged(by delta: Int) {
        if delta >= 0 { queueDepth.increment(by: Double(delta)) } else { queueDepth.decrement(by: Double(-delta)) }
    }

    public func sendCompleted(type: String, isRequest: Bool, duration: Duration, error: SendError?) {
        let outcome = error.map(Self.label) ?? "ok"
        if error != nil { self.error("send", outcome) }
        counter("messages.sent", [("type", type), ("kind", isRequest ? "request" : "message"), ("outcome", outcome)])
            .increment()
        if isRequest, error == nil {
            let (seconds, attoseconds) = duration.components
            timer(type).recordNanoseconds(seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000)
        }
    }

    private func meter(_ side: ConnectionSide) -> Meter { side == .client ? openClient : openServer }

    private func error(_ source: String, _ kind: String) {
        counter("errors", [("source", source), ("kind", kind)]).increment()
    }

    private func counter(_ name: String, _ dimensions: [(String, String)]) -> Counter {
        let key = MetricKey(name: name, dimensions: dimensions.map { $0.0 + "=" + $0.1 })
        return counters.withLock { counters in
            if let existing = counters[key] { return existing }
            let made = Counter(label: prefix + "." + name, dimensions: dimensions, factory: factory)
            counters[key] = made
            return made
        }
    }

    private func timer(_ type: String) -> CoreMetrics.Timer {
        timers.withLock { timers in
            if let existing = timers[type] { return existing }
            let made = CoreMetrics.Timer(label: prefix + ".request.duration", dimensions: [("type", type)], factory: factory)
            timers[type] = made
            return made
        }
    }
}

/// A metric's name and dimensions, as a dictionary key.
private struct MetricKey: Hashable {
    let name: String
    let dimensions: [String]
}
