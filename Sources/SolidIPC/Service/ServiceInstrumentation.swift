// The instrumentation seam: what a service reports to metrics without the core linking a metrics
// library. The `SolidIPCMetrics` product implements it with swift-metrics.

/// Which end of a connection this service is.
public enum ConnectionSide: String, Sendable {
    /// A connection a pool opened to a destination.
    case client
    /// A connection the service's listener accepted.
    case server
}

/// Receives a service's events, for metrics (``ServiceConfiguration/instrumentation``). Every method has
/// an empty default, so an implementation writes only those it needs.
///
/// The methods run on reactor threads, on the path of the event they report: keep them short and never
/// block. A service without instrumentation pays one `nil` check per event.
public protocol ServiceInstrumentation: Sendable {
    /// A connection completed its handshake (TLS if any, then the hello).
    func connectionOpened(side: ConnectionSide)
    /// A connection that had opened closed, for `reason` (``ConnectionError/closedLocally`` when this
    /// side closed it on purpose).
    func connectionClosed(side: ConnectionSide, reason: ConnectionError)
    /// A pool's connection attempt failed (connect, proxy, TLS or handshake) for `reason`.
    func connectAttemptFailed(reason: ConnectionError)
    /// A TLS handshake completed on a connection.
    func secured(side: ConnectionSide)
    /// A message (or a response, or a part of one) of type `type` arrived; `bytes` is its in-line body
    /// size (the header's body length: out-of-line arrays and stream fields are not counted).
    func messageReceived(type: String, bytes: Int)
    /// This side wrote a message of type `type` completely (any kind: a message, a request, a response or
    /// a part of one, also one addressed to a connection); `bytes` as in ``messageReceived(type:bytes:)``.
    func messageWritten(type: String, bytes: Int)
    /// A destination's pool was created (`delta` 1) or freed (`delta` -1: idle, closed, or the service
    /// stopped).
    func poolsChanged(by delta: Int)
    /// Messages accepted for destinations and not yet written changed by `delta` (the pools' queues and
    /// the messages their connections are writing): the queue depth. Called on the sender's thread
    /// (`+1`) and on reactor threads (`-1`).
    func queuedMessagesChanged(by delta: Int)
    /// A message or request sent to a destination completed, `duration` after it was sent: written
    /// (a message) or answered (a request; its first part for one answered in parts) when `error` is
    /// nil. Messages addressed to one connection are not reported.
    func sendCompleted(type: String, isRequest: Bool, duration: Duration, error: SendError?)
}

extension ServiceInstrumentation {
    public func connectionOpened(side: ConnectionSide) {}
    public func connectionClosed(side: ConnectionSide, reason: ConnectionError) {}
    public func connectAttemptFailed(reason: ConnectionError) {}
    public func secured(side: ConnectionSide) {}
    public func messageReceived(type: String, bytes: Int) {}
    public func messageWritten(type: String, bytes: Int) {}
    public func poolsChanged(by delta: Int) {}
    public func queuedMessagesChanged(by delta: Int) {}
    public func sendCompleted(type: String, isRequest: Bool, duration: Duration, error: SendError?) {}
}

/// What an instrumented send remembers until it completes (only made when instrumentation is set).
final class SendRecord: @unchecked Sendable {
    // @unchecked: immutable but for `reported`, touched on the pool's reactor thread only.
    let type: String
    let sentAt: ContinuousClock.Instant
    let instrumentation: any ServiceInstrumentation
    private var reported = false

    init(type: String, instrumentation: any ServiceInstrumentation) {
        self.type = type
        self.instrumentation = instrumentation
        sentAt = .now
    }

    /// Reports the outcome once (a response in parts reports its first part).
    func report(isRequest: Bool, error: SendError?) {
        guard !reported else { return }
        reported = true
        instrumentation.sendCompleted(type: type, isRequest: isRequest, duration: .now - sentAt, error: error)
    }
}

extension Result {
    /// The error of a failure, nil for a success.
    var failure: Failure? {
        if case .failure(let error) = self { error } else { nil }
    }
}
