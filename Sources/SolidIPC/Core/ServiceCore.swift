public import SolidEngine
import Logging
import SolidReactor
import Synchronization

/// Handles an incoming message on its connection's reactor thread; an `async` handler returns the task it
/// started, which is cancelled when the peer cancels the request or the connection closes first.
typealias MessageHandler = @Sendable (any WireMessage, MessageContext) -> Task<Void, Never>?

/// Makes the sinks for an incoming message's stream fields (see ``IPCService/handle(_:makeSinks:_:)``).
typealias SinkFactory = @Sendable (any WireMessage, MessageContext) -> [any ByteSink]

/// What every pool and connection of a service shares: configuration, handlers, counters. Immutable
/// after start apart from the atomic counters. A handler's ``MessageContext`` holds it to answer.
@usableFromInline
final class ServiceCore: Sendable {
    let configuration: ServiceConfigurationSnapshot
    /// `configuration.instrumentation != nil`, checked first on per-message paths: reading the optional
    /// existential copies it through its value witnesses even when it is `nil` (measured: ~300
    /// instructions per round trip).
    let isInstrumented: Bool
    /// The service's message serials (requests sent on a connection take theirs here too).
    let serials: SerialCounter
    let handlers: HandlerTable
    let sinkFactories: [MessageTypeID: SinkFactory]
    let counters: ServiceCounters
    /// Accepted connections alive now (for the accept limit).
    let liveAccepted = Atomic<Int>(0)
    let logger: Logger
    /// Accepted connections alive now, so `stop()` can close them; `nil` once stopping.
    private let acceptedPeers = Lock<Set<ObjectHandle>?>([])

    /// Records an accepted connection; `false` when the service is stopping (then close it).
    /// Counts a newly accepted connection in; `false` (and counted as refused) beyond
    /// ``ServiceConfiguration/maxAcceptedConnections``. Any thread.
    func admitAccepted() -> Bool {
        if liveAccepted.add(1, ordering: .relaxed).newValue <= configuration.maxAcceptedConnections { return true }
        liveAccepted.subtract(1, ordering: .relaxed)
        counters.connectionsRefused.add(1, ordering: .relaxed)
        return false
    }

    /// An admitted connection is gone (closed, or it never became a connection).
    func releaseAccepted() { liveAccepted.subtract(1, ordering: .relaxed) }

    func peerStarted(_ handle: ObjectHandle) -> Bool {
        acceptedPeers.withLock { peers in peers?.insert(handle) != nil }
    }

    /// Forgets an accepted connection that closed.
    func peerStopped(_ handle: ObjectHandle) {
        acceptedPeers.withLock { peers in _ = peers?.remove(handle) }
    }

    /// The accepted connections open now.
    func livePeers() -> Set<ObjectHandle> { acceptedPeers.withLock { $0 ?? [] } }

    /// Refuses new accepted connections and returns the live ones.
    func takePeersForStop() -> Set<ObjectHandle> {
        acceptedPeers.withLock { peers in
            defer { peers = nil }
            return peers ?? []
        }
    }

    init(
        configuration: ServiceConfigurationSnapshot, handlers: [MessageTypeID: MessageHandler],
        sinkFactories: [MessageTypeID: SinkFactory], serials: SerialCounter, logger: Logger
    ) {
        self.configuration = configuration
        isInstrumented = configuration.instrumentation != nil
        counters = ServiceCounters(instrumentation: configuration.instrumentation)
        self.serials = serials
        self.handlers = HandlerTable(handlers)
        self.sinkFactories = sinkFactories
        self.logger = logger
    }

    /// Lets `connection` ask the registered factories for stream sinks (messages of other types with
    /// streams are rejected: no sinks).
    func provideSinks(to connection: Connection, handle: ObjectHandle) {
        guard !sinkFactories.isEmpty else { return }
        connection.makeSinks = { [sinkFactories, self] header, message in
            sinkFactories[header.typeID]?(
                message, MessageContext(connection: handle, header: header, security: connection.security, core: self))
                ?? []
        }
    }

    /// Passes an incoming message that is not a response to its handler. When none exists, a request is
    /// rejected (`RejectCode/noHandler`) so its sender learns at once; other messages are dropped.
    func dispatch(_ header: MessageHeader, _ message: any WireMessage, from handle: ObjectHandle, on connection: Connection) {
        countReceived(header)
        guard let handler = handlers[header.typeID] else {
            logger.debug("no handler for message type", metadata: ["type": "\(header.typeID)"])
            if header.flags.contains(.request) {
                connection.reject(header.requestID, PeerRejection(code: .noHandler, reason: "no handler for type \(header.typeID)"))
            }
            return
        }
        let context = MessageContext(connection: handle, header: header, security: connection.security, core: self)
        if let task = handler(message, context), header.flags.contains(.request) {
            connection.track(task, answering: header.requestID)
        }
    }

    /// Counts an incoming message (a response or part too) and reports it to the instrumentation.
    func countReceived(_ header: MessageHeader) {
        counters.messagesReceived.add(1, ordering: .relaxed)
        if isInstrumented, let instrumentation = configuration.instrumentation {
            instrumentation.messageReceived(
                type: configuration.registry.name(of: header.typeID) ?? "\(header.typeID)", bytes: Int(header.bodyLength))
        }
    }

    /// Throws ``SendError/unregisteredType(_:)`` for a type the registry does not know.
    @usableFromInline
    func checkRegistered<M: WireMessage>(_ type: M.Type) throws(SendError) {
        guard configuration.registry.typeID(of: M.self) != nil else { throw .unregisteredType("\(M.self)") }
    }
}

/// Hands out a service's message serials (any thread).
final class SerialCounter: Sendable {
    private let next = Atomic<UInt64>(1)

    /// The next serial.
    func take() -> UInt64 { next.add(1, ordering: .relaxed).oldValue }
}

/// The parts of ``ServiceConfiguration`` the reactors read, as a `Sendable` value.
struct ServiceConfigurationSnapshot: @unchecked Sendable {
    // @unchecked: the registry is read-only once the service started; codecs are Sendable values.
    let connection: ConnectionConfiguration
    let registry: MessageRegistry
    let poolQueueCapacity: Int
    let connectTimeout: Duration
    let maxConnectionsPerPool: Int
    let maxPendingConnectionsPerPool: Int
    let reconnectDelay: Duration
    let maxReconnectDelay: Duration
    let connectionStartState: ConnectionStartState
    let maxAcceptedConnections: Int
    let tls: (any SecureTransport)?
    let secureFromStart: Bool
    let proxy: ProxySettings?
    let proxyForDestination: (@Sendable (Destination) -> ProxySettings?)?
    let acceptedConnectionsStartRaw: Bool
    let onConnectionRaw: (@Sendable (ConnectionInfo) -> Void)?
    let onConnectionStart: (@Sendable (ConnectionInfo) -> Void)?
    let onConnectionSecure: (@Sendable (ConnectionInfo) -> Void)?
    let onConnectionStop: (@Sendable (ConnectionInfo, ConnectionError) -> Void)?
    let instrumentation: (any ServiceInstrumentation)?
    let defaultTimeout: Duration?
}

/// Counters a service exposes (read them with ``IPCService/statistics``).
final class ServiceCounters: Sendable {
    /// The service's instrumentation, for the connections that report to these counters.
    let instrumentation: (any ServiceInstrumentation)?
    let connectionsOpened = Atomic<Int>(0)
    let connectionsClosed = Atomic<Int>(0)
    let messagesSent = Atomic<Int>(0)
    let messagesReceived = Atomic<Int>(0)
    let bytesSent = Atomic<Int>(0)
    let bytesReceived = Atomic<Int>(0)
    let keepAlivesSent = Atomic<Int>(0)
    let keepAlivesReceived = Atomic<Int>(0)
    let connectionsAccepted = Atomic<Int>(0)
    let connectionsRefused = Atomic<Int>(0)

    init(instrumentation: (any ServiceInstrumentation)? = nil) { self.instrumentation = instrumentation }

    /// A snapshot of every counter.
    var snapshot: ServiceStatistics {
        ServiceStatistics(
            connectionsOpened: connectionsOpened.load(ordering: .relaxed),
            connectionsClosed: connectionsClosed.load(ordering: .relaxed),
            messagesSent: messagesSent.load(ordering: .relaxed),
            messagesReceived: messagesReceived.load(ordering: .relaxed),
            bytesSent: bytesSent.load(ordering: .relaxed),
            bytesReceived: bytesReceived.load(ordering: .relaxed),
            keepAlivesSent: keepAlivesSent.load(ordering: .relaxed),
            keepAlivesReceived: keepAlivesReceived.load(ordering: .relaxed),
            connectionsAccepted: connectionsAccepted.load(ordering: .relaxed),
            connectionsRefused: connectionsRefused.load(ordering: .relaxed))
    }
}

/// A snapshot of a service's counters.
public struct ServiceStatistics: Sendable, Equatable {
    /// Connections that completed their handshake.
    public var connectionsOpened: Int
    /// Connections that closed.
    public var connectionsClosed: Int
    /// Messages written completely.
    public var messagesSent: Int
    /// Messages received (responses included).
    public var messagesReceived: Int
    /// Bytes handed to the sockets (hello, packets, keep-alives).
    public var bytesSent: Int = 0
    /// Bytes read from the sockets.
    public var bytesReceived: Int = 0
    /// Keep-alive packets sent on idle connections.
    public var keepAlivesSent: Int = 0
    /// Keep-alive packets received from peers.
    public var keepAlivesReceived: Int = 0
    /// Connections the listener accepted and the service took on (TLS and hello still to come).
    public var connectionsAccepted: Int = 0
    /// Connections refused because ``ServiceConfiguration/maxAcceptedConnections`` were open.
    public var connectionsRefused: Int = 0
    /// Destination pools that exist now (idle ones are freed).
    public var pools: Int = 0
    /// Bytes of messages still being received, held by all connections now (charged at their declared
    /// sizes, against ``ServiceConfiguration/maxReceivingBytes``).
    public var receivingBytes: Int = 0

    /// Every counter zero.
    public static let zero = ServiceStatistics(connectionsOpened: 0, connectionsClosed: 0, messagesSent: 0, messagesReceived: 0)
}
