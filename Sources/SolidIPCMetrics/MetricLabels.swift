public import SolidIPC

extension IPCMetrics {
    /// The case of a connection error, as a low-cardinality dimension value.
    public static func label(_ error: ConnectionError) -> String {
        switch error {
        case .stream: "stream"
        case .protocolViolation: "protocolViolation"
        case .closedByPeer: "closedByPeer"
        case .closedLocally: "closedLocally"
        case .inactivityTimeout: "inactivityTimeout"
        case .tooManyKeepAlives: "tooManyKeepAlives"
        case .closingGracefully: "closingGracefully"
        case .helloTimeout: "helloTimeout"
        case .gracefulCloseTimedOut: "gracefulCloseTimedOut"
        case .outgoingQueueStalled: "outgoingQueueStalled"
        case .rawPhaseTimedOut: "rawPhaseTimedOut"
        case .rawExchangeFailed: "rawExchangeFailed"
        }
    }

    /// The case of a send error, as a low-cardinality dimension value.
    public static func label(_ error: SendError) -> String {
        switch error {
        case .unregisteredType: "unregisteredType"
        case .queueFull: "queueFull"
        case .serviceStopped: "serviceStopped"
        case .resolveFailed: "resolveFailed"
        case .connectFailed: "connectFailed"
        case .connectionClosed: "connectionClosed"
        case .canceled: "canceled"
        case .encodingFailed: "encodingFailed"
        case .unexpectedResponse: "unexpectedResponse"
        case .peerGone: "peerGone"
        case .unknownMessage: "unknownMessage"
        case .poolClosed: "poolClosed"
        case .noPool: "noPool"
        case .timeout: "timeout"
        case .canceledByPeer: "canceledByPeer"
        case .rejected: "rejected"
        case .invalidResponse: "invalidResponse"
        case .notRaw: "notRaw"
        case .alreadyActive: "alreadyActive"
        case .alreadyStarted: "alreadyStarted"
        }
    }
}
