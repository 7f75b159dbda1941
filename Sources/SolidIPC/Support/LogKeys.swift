import Logging

/// The metadata keys of the library's log lines: every line about a connection carries its handle, its
/// peer and (for a pool's connection) the pool's destination, so one connection's story can be grepped.
enum LogKey {
    static let connection = "solidipc.connection"
    static let peer = "solidipc.peer"
    static let pool = "solidipc.pool"
    static let reason = "solidipc.reason"
    static let retryIn = "solidipc.retry_in"
    static let queued = "solidipc.queued"
    static let tls = "solidipc.tls"

    /// A connection's metadata: handle, peer address, pool (nil for an accepted one), TLS protocol.
    static func connection(_ handle: ObjectHandle, _ connection: Connection, pool: Destination?) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            Self.connection: "\(handle)", peer: "\(connection.stream.remoteAddress.map { "\($0)" } ?? "?")",
        ]
        if let pool { metadata[Self.pool] = "\(pool)" }
        if let security = connection.security { metadata[tls] = "\(security.protocolVersion)" }
        return metadata
    }
}

extension ConnectionError {
    /// Closed on purpose by either side, not a failure worth more than a debug line.
    var isOrderly: Bool {
        switch self {
        case .closedLocally, .closedByPeer, .closingGracefully: true
        default: false
        }
    }
}
