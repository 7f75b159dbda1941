public import Logging
import Glibc
public import SolidEngine
public import SolidReactor

/// Settings of a ``IPCService``: client part (pools), server part (listener), or both (peer to peer).
public struct ServiceConfiguration {
    /// Message types both directions use.
    public var registry: MessageRegistry
    /// Settings of every connection (hello, codecs, limits, keep-alive).
    public var connection: ConnectionConfiguration
    /// Where to listen; `nil` for a client-only service. Port 0 picks a free port; a
    /// `SocketAddress/unix(_:)` address listens on a Unix-domain socket (a stale socket file is replaced,
    /// the file is removed at stop).
    public var listenAddress: SocketAddress?
    /// The mode of a Unix-domain listen socket's file (e.g. `0o600`: this user only; connecting needs write
    /// permission); `nil` leaves what the umask gives (usually `0o755`, so any local user can connect).
    public var unixSocketPermissions: UInt32?
    /// Messages a destination's queue holds before ``IPCService/send(_:to:options:timeout:completion:)`` fails with
    /// ``SendError/queueFull(_:)``.
    public var poolQueueCapacity = 1024
    /// Most accepted connections open at once (default 4096); beyond it a new one is refused at once with
    /// a reset and counted in ``ServiceStatistics/connectionsRefused``, so a flood of connections cannot
    /// exhaust descriptors or memory. Connections that have not said hello count too.
    public var maxAcceptedConnections = 4096
    /// Most bytes of messages still being received that all connections of the service hold together
    /// (see ``ConnectionConfiguration/maxReceivingBytes``, the per-connection part). The default is a
    /// quarter of the machine's physical memory, at most 4 GiB.
    public var maxReceivingBytes = ServiceConfiguration.defaultMaxReceivingBytes
    /// A quarter of physical memory, at most 4 GiB (4 GiB when the size cannot be read); read once.
    public static let defaultMaxReceivingBytes: Int = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES))
        let pageSize = sysconf(Int32(_SC_PAGESIZE))
        let cap = 4 << 30
        guard pages > 0, pageSize > 0 else { return cap }
        let (physical, overflow) = pages.multipliedReportingOverflow(by: pageSize)
        return overflow ? cap : min(cap, physical / 4)
    }()
    /// How long a connect may take.
    public var connectTimeout: Duration = .seconds(10)
    /// Most connections one destination's pool opens. A pool adds connections one at a time while
    /// messages wait because every open connection is busy.
    public var maxConnectionsPerPool = 1
    /// Most connections of one pool being set up (connecting or in the handshake) at once, so a name that
    /// resolves to 100 addresses does not open 100 connections.
    public var maxPendingConnectionsPerPool = 1
    /// First wait before reconnecting after a pool lost its last connection; doubles per failure.
    public var reconnectDelay: Duration = .milliseconds(100)
    /// Longest wait between reconnect attempts.
    public var maxReconnectDelay: Duration = .seconds(10)
    /// How long ``IPCService/beginGracefulShutdown()`` (and so a ServiceLifecycle graceful shutdown, and
    /// the end of ``IPCService/withRunning(isolation:_:)``) lets requests in flight finish before closing what is
    /// left, as `stop(gracePeriod:)` does.
    public var gracefulShutdownPeriod: Duration = .seconds(30)
    /// The timeout of every message and request sent to a destination without a `timeout:` of its own.
    /// `nil`, the default, is the seed's rule: a message waits for its peer (the pool retries with
    /// back-off) until it is sent, cancelled or the service stops; set it to fail fast service-wide
    /// (``SendError/timeout(progress:)``, saying how far the message got).
    public var defaultTimeout: Duration?
    /// Where the service reports connections, messages, request durations and errors, for metrics
    /// (the `SolidIPCMetrics` product's `IPCMetrics`, or your own). `nil`, the default: nothing is reported.
    public var instrumentation: (any ServiceInstrumentation)?
    /// The state a pool's new connection starts in once its handshake completes. ``ConnectionStartState/active``
    /// (the default) takes the pool's messages at once; ``ConnectionStartState/passive`` sends only messages
    /// addressed to it until ``IPCService/activateConnection(_:completion:)`` — for an application handshake
    /// (authentication, versions) from ``onConnectionStart`` before any queued message goes out.
    /// Accepted connections send only what is addressed to them anyway and are always active.
    public var connectionStartState = ConnectionStartState.active
    /// TLS (`SecureTransport`; the `SolidIPCTLS` product's `TLSTransport`): `nil`, the default, for plain
    /// connections. Its server settings secure accepted connections, its client settings the pools'.
    public var tls: (any SecureTransport)?
    /// With ``tls`` set, every connection runs the TLS handshake before the hello (SolidFrame's
    /// `connection_start_secure`, on by default). The destination's host is the name the server's
    /// certificate must carry (an IP address: its IP-address entries).
    public var secureFromStart = true
    /// A SOCKS5 or HTTP CONNECT proxy every pool connects through (``ProxySettings``); `nil`, the default,
    /// connects directly. Unix-domain destinations are always direct.
    public var proxy: ProxySettings?
    /// When set, chooses the proxy per destination instead of ``proxy`` (`nil`: that destination is
    /// direct). Called once per destination's pool, when the pool is made (on its reactor thread): a
    /// pool freed when idle asks again when it is made anew.
    public var proxyForDestination: (@Sendable (Destination) -> ProxySettings?)?
    /// Where the service logs (debug and trace only in normal operation).
    public var logger = Logger(label: "solid.ipc")
    /// Accepted connections start Raw (see ``ConnectionStartState/raw``) instead of sending their hello.
    public var acceptedConnectionsStartRaw = false
    /// Called on the connection's reactor thread when a connection starting Raw is up (connected or
    /// accepted, TLS from the start done), before any hello: the place for its raw exchange.
    public var onConnectionRaw: (@Sendable (ConnectionInfo) -> Void)?
    /// Called on the connection's reactor thread when a connection completed its handshake.
    public var onConnectionStart: (@Sendable (ConnectionInfo) -> Void)?
    /// Called on the connection's reactor thread when a connection secured later
    /// (``IPCService/secureConnection(_:completion:)``, by either side) completed its TLS handshake: the place
    /// for an application's authentication step before ``IPCService/activateConnection(_:completion:)``.
    public var onConnectionSecure: (@Sendable (ConnectionInfo) -> Void)?
    /// Called on the connection's reactor thread when a connection closed, with the reason.
    public var onConnectionStop: (@Sendable (ConnectionInfo, ConnectionError) -> Void)?

    /// Settings with `registry` and defaults for the rest (client only).
    public init(registry: MessageRegistry) {
        self.registry = registry
        connection = ConnectionConfiguration(registry: registry)
    }

    /// Checks the settings; throws ``ServiceConfigurationError`` naming the first bad one.
    public func validate() throws(ServiceConfigurationError) {
        guard poolQueueCapacity > 0 else { throw .invalid("poolQueueCapacity must be positive") }
        guard maxConnectionsPerPool > 0 else { throw .invalid("maxConnectionsPerPool must be positive") }
        guard maxReceivingBytes >= 0, connection.maxReceivingBytes >= 0 else {
            throw .invalid("maxReceivingBytes cannot be negative")
        }
        guard maxAcceptedConnections > 0 else { throw .invalid("maxAcceptedConnections must be positive") }
        guard maxPendingConnectionsPerPool > 0 else { throw .invalid("maxPendingConnectionsPerPool must be positive") }
        guard reconnectDelay <= maxReconnectDelay else { throw .invalid("reconnectDelay exceeds maxReconnectDelay") }
        guard gracefulShutdownPeriod >= .zero else { throw .invalid("gracefulShutdownPeriod cannot be negative") }
        if let defaultTimeout, defaultTimeout <= .zero { throw .invalid("defaultTimeout must be positive") }
        guard connection.registry === registry else { throw .invalid("connection.registry differs from registry") }
        do {
            try Hello.validate(connection.hello)
        } catch {
            throw .invalidHello(error)
        }
        guard connection.packetsInFlight > 0 else { throw .invalid("connection.packetsInFlight must be positive") }
        if let tls, secureFromStart, listenAddress != nil, !tls.canAccept {
            throw .invalid("tls has no server settings, but the service listens with secureFromStart")
        }
    }
}

/// Which messages a pool's connection sends.
public enum ConnectionStartState: Sendable, Equatable {
    /// Only messages addressed to the connection (``IPCService/send(_:on:completion:)``,
    /// ``IPCService/request(_:on:options:expecting:onResponse:)``, responses); the pool's queue waits.
    case passive
    /// Also messages from the pool's queue.
    case active
    /// Raw (the seed's Raw state): no hello and no message yet; ``ServiceConfiguration/onConnectionRaw``
    /// runs and the owner exchanges bytes with ``IPCService/rawSend(_:on:completion:)`` and
    /// ``IPCService/rawReceive(on:_:completion:)`` (a custom authentication, a relay header…), then leaves Raw:
    /// ``IPCService/activateConnection(_:completion:)`` (hello, then active),
    /// ``IPCService/startMessaging(on:completion:)`` (hello, then passive), ``IPCService/secureConnection(_:completion:)``
    /// (TLS at once, then the hello inside it), or ``IPCService/rawFail(on:reason:completion:)``. Bytes the
    /// peer sent that a raw read did not consume are the start of the next phase, never lost. Bounded by
    /// ``ConnectionConfiguration/rawPhaseTimeout``.
    case raw
}

/// A configuration the service cannot start with.
public enum ServiceConfigurationError: Error, Sendable, Equatable {
    /// What is wrong.
    case invalid(String)
    /// `connection.hello` cannot be sent: the engine's reason.
    case invalidHello(WireError)
}

/// Which connection a lifecycle hook is about.
public struct ConnectionInfo: Sendable, CustomStringConvertible {
    /// Post control requests to it (``IPCService/pauseReading(_:)``, ``IPCService/closeConnection(_:mode:)``).
    public let handle: ObjectHandle
    /// The peer's address.
    public let remoteAddress: SocketAddress?
    /// What TLS established (protocol, the peer's verified certificate); `nil` for a plain connection.
    public let security: SecurityInfo?
    /// The destination of a client pool's connection; `nil` for an accepted one.
    public let destination: Destination?

    /// What the hooks are told about `connection` now: its peer's address and what TLS established.
    init(handle: ObjectHandle, connection: Connection, destination: Destination?) {
        self.init(
            handle: handle, remoteAddress: connection.remoteAddress, security: connection.security, destination: destination)
    }

    /// Creates the record (the service does; public for tests of hooks).
    public init(handle: ObjectHandle, remoteAddress: SocketAddress?, security: SecurityInfo?, destination: Destination?) {
        self.handle = handle
        self.remoteAddress = remoteAddress
        self.security = security
        self.destination = destination
    }

    /// `destination` or `accepted from address`.
    public var description: String {
        destination.map { "\($0)" } ?? "accepted from \(remoteAddress.map { "\($0)" } ?? "?")"
    }
}
