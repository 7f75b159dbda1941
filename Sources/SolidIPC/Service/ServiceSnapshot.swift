// Introspection: what an operator prints when something is stuck. Values, gathered on each reactor.

/// One connection, as `IPCService.snapshot()` saw it.
public struct ConnectionSnapshot: Sendable, CustomStringConvertible {
    /// Where the connection is in its life.
    public enum Phase: String, Sendable {
        /// The seed's Raw state: the owner exchanges bytes before the hello.
        case raw
        /// TLS and/or the hello under way.
        case handshaking
        /// Messages flow.
        case active
        /// Closed (about to disappear from the snapshot).
        case closed
    }

    /// The connection, for the connection-addressed API (`send(_:on:)`, `closeConnection(_:mode:)`).
    public let handle: ObjectHandle
    /// Opened by a pool (client) or accepted (server).
    public let side: ConnectionSide
    public let phase: Phase
    /// A pool's connection that takes only messages addressed to it until activated.
    public let isPassive: Bool
    /// One side sent or received a going-away record: the connection takes no new requests.
    public let isGoingAway: Bool
    /// The peer's address.
    public let peerAddress: SocketAddress?
    /// TLS: protocol, cipher and the peer's verified identity; nil on a plain connection.
    public let security: SecurityInfo?
    /// Messages in the connection's writer (queued or partly written).
    public let messagesQueued: Int
    /// Bytes waiting: in the writer and in the stream's unsent buffer.
    public let bytesQueued: Int
    /// Requests this side sent that await their response (client), or requests received that are not
    /// answered yet (server).
    public let requestsInFlight: Int
    /// Bytes written and read so far.
    public let bytesSent: Int
    public let bytesReceived: Int
    /// How long ago the connection was made (on the reactor's clock).
    public let age: Duration

    public var description: String {
        var text = "\(side) \(handle) \(phase.rawValue)\(isPassive ? " passive" : "")\(isGoingAway ? " going-away" : "")"
        text += " peer \(peerAddress.map { "\($0)" } ?? "?")"
        if let security { text += " tls \(security.protocolVersion) \(security.peerCommonName ?? "-")" }
        text += " queued \(messagesQueued) msgs/\(bytesQueued) B, in flight \(requestsInFlight),"
        text += " sent \(bytesSent) B, received \(bytesReceived) B, age \(age)"
        return text
    }
}

/// One destination's pool.
public struct PoolSnapshot: Sendable, CustomStringConvertible {
    public let destination: Destination
    /// Messages waiting in the pool's queue for a connection.
    public let messagesQueued: Int
    /// Connections being dialled (resolve, connect, proxy, TLS).
    public let connecting: Int
    /// Why the last round of connection attempts failed, while the pool waits to retry.
    public let retryingAfter: ConnectionError?
    public let connections: [ConnectionSnapshot]

    public var description: String {
        var text = "pool \(destination): queued \(messagesQueued), connecting \(connecting)"
        if let retryingAfter { text += ", retrying after \(retryingAfter)" }
        for connection in connections { text += "\n    " + connection.description }
        return text
    }
}

/// A whole service: its listener, pools and accepted connections, and its counters.
public struct ServiceSnapshot: Sendable, CustomStringConvertible {
    public let listeningAddress: SocketAddress?
    /// Pools, ordered by destination.
    public let pools: [PoolSnapshot]
    /// Accepted connections, oldest first.
    public let acceptedConnections: [ConnectionSnapshot]
    public let statistics: ServiceStatistics

    public var description: String {
        var lines = ["service listening on \(listeningAddress.map { "\($0)" } ?? "-"): \(pools.count) pools, \(acceptedConnections.count) accepted connections"]
        lines += pools.map { "  " + $0.description }
        lines += acceptedConnections.map { "  " + $0.description }
        return lines.joined(separator: "\n")
    }
}

extension ConnectionSnapshot {
    /// Reads `connection` on its reactor thread.
    init(_ connection: Connection, handle: ObjectHandle, side: ConnectionSide, passive: Bool, requestsInFlight: Int) {
        connection.reactor.preconditionInReactor()
        self.handle = handle
        self.side = side
        switch connection.state {
        case .raw: phase = .raw
        case .handshaking: phase = .handshaking
        case .active: phase = .active
        case .closed: phase = .closed
        }
        isPassive = passive
        isGoingAway = connection.sentGoingAway || connection.peerGoingAway
        peerAddress = connection.stream.remoteAddress
        security = connection.security
        messagesQueued = (connection.writer?.pendingCount ?? 0) + connection.waitingForHandshake.count
        bytesQueued = (connection.writer?.queuedBytes ?? 0) + connection.stream.pendingWriteBytes
        self.requestsInFlight = requestsInFlight
        bytesSent = connection.bytesSent
        bytesReceived = connection.bytesReceived
        let now = connection.reactor.now().nanoseconds
        age = .nanoseconds(Int64(now &- min(now, connection.createdAt.nanoseconds)))
    }
}
