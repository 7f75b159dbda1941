public import SolidEngine
public import SolidReactor
import Synchronization

/// The part of the API that names one connection: the handle from ``ConnectionInfo`` (lifecycle hooks)
/// or from a handler's ``MessageContext``. Works for a pool's connections and for accepted ones alike.
extension IPCService {
    /// Sends `message` on one connection only — also a passive one (see ``ConnectionStartState``). It is
    /// never moved to another connection: if this one closes first, the completion reports
    /// ``SendError/connectionClosed(_:progress:)``.
    /// - Throws: ``SendError/peerGone`` when the connection is gone, ``SendError/unregisteredType(_:)``.
    @inlinable
    public func send<M: WireMessage & Sendable>(
        _ message: M, on connection: ObjectHandle, completion: (@Sendable (Result<Void, SendError>) -> Void)? = nil
    ) throws(SendError) {
        try post(message, on: connection, flags: [], responseTo: 0, completion: completion)
    }

    /// Sends a request on one connection only (also a passive one, for an application handshake) and calls
    /// `onResponse` once with the response, or once per part. Not moved to another connection nor resent.
    /// - Throws: ``SendError/peerGone`` when the connection is gone, ``SendError/unregisteredType(_:)``.
    public func request<Request: WireMessage & Sendable, Response: WireMessage>(
        _ request: Request, on connection: ObjectHandle, options: SendOptions = [],
        expecting: Response.Type = Response.self,
        onResponse: @escaping @Sendable (Result<Response, SendError>) -> Void
    ) throws(SendError) {
        try checkRegistered(Request.self)
        let serial = takeSerial()
        let item = RequestItem(
            request, serial: serial, flags: MessageFlags(options), timeout: nil, addressed: true, onResponse: onResponse)
        try deliver(DirectRequestEvent(item: item), to: connection)
    }

    /// Lets a passive pool connection take messages from its pool's queue (see ``ConnectionStartState``);
    /// typically called from ``ServiceConfiguration/onConnectionStart`` once an application handshake is
    /// done. `completion` gets ``SendError/alreadyActive`` for a connection that is active already
    /// (accepted connections always are), ``SendError/peerGone`` when it is gone.
    public func activateConnection(
        _ connection: ObjectHandle, completion: (@Sendable (Result<Void, SendError>) -> Void)? = nil
    ) throws(SendError) {
        try deliver(ConnectionControlEvent(.activate, completion: completion), to: connection)
    }

    /// Secures a plain connection with TLS (STARTTLS at a packet boundary; the seed's Secure flag), from
    /// the passive or the active state, after the hello — or straight from the Raw state, where TLS starts
    /// at once on both sides and the hello follows inside it (``Connection/startSecure(completion:)``): plain hello → `secureConnection` → authenticate
    /// (``ServiceConfiguration/onConnectionSecure``) → ``activateConnection(_:completion:)``. Use it with
    /// ``ServiceConfiguration/secureFromStart`` `false`; the peer's service needs TLS settings too (it
    /// answers on its own). `completion` gets what TLS established, or
    /// ``SendError/connectionClosed(_:progress:)`` with the cause. Invalid situations close the
    /// connection with a specific error: a service without TLS settings for this side
    /// (`TLSError/notConfigured`), a connection in the middle of its hello exchange, or a Raw phase
    /// already inside TLS (`TLSError/invalidState(_:)`).
    /// On a connection that is secure already the completion gets its `SecurityInfo` at once.
    public func secureConnection(
        _ connection: ObjectHandle, completion: (@Sendable (Result<SecurityInfo, SendError>) -> Void)? = nil
    ) throws(SendError) {
        try deliver(SecureConnectionEvent(completion: completion), to: connection)
    }

    /// Stops reading from the connection (for example the one in a handler's ``MessageContext``); the peer's
    /// messages wait in its queue, and its sends fail with ``SendError/queueFull(_:)`` once that fills.
    public func pauseReading(_ connection: ObjectHandle) throws(SendError) {
        try deliver(ConnectionControlEvent(.pauseReading), to: connection)
    }

    /// Reads again from a paused connection.
    public func resumeReading(_ connection: ObjectHandle) throws(SendError) {
        try deliver(ConnectionControlEvent(.resumeReading), to: connection)
    }

    /// Closes one connection. `.force` (the default) closes it now: its messages complete, or go back to
    /// the pool, as the resend rule says. `.graceful` stops giving it pool messages, lets the messages it
    /// carries be written and the responses it awaits arrive, writes what is queued, then closes it
    /// (``ConnectionError/closedLocally``).
    public func closeConnection(_ connection: ObjectHandle, mode: CloseMode = .force) throws(SendError) {
        try deliver(ConnectionControlEvent(mode == .force ? .close : .closeGracefully), to: connection)
    }

    /// Checks the type and posts the message to the connection's holder. Inlinable, so the event type is
    /// made in the caller's module (its metadata cached there).
    @inlinable
    func post<M: WireMessage & Sendable>(
        _ message: M, on connection: ObjectHandle, flags: MessageFlags, responseTo: UInt64,
        completion: (@Sendable (Result<Void, SendError>) -> Void)?
    ) throws(SendError) {
        try checkRegistered(M.self)
        // A handler answering on its own connection's reactor sends at once, not at the end of the turn.
        try sendAddressed(message, flags: flags, responseTo: responseTo, completion: completion, to: connection)
    }

    /// Throws ``SendError/unregisteredType(_:)`` for a type the registry does not know.
    @usableFromInline
    func checkRegistered<M: WireMessage>(_ type: M.Type) throws(SendError) {
        guard configuration.registry.typeID(of: M.self) != nil else { throw .unregisteredType("\(M.self)") }
    }

    @usableFromInline
    func deliver(_ event: ReactorEvent, to connection: ObjectHandle, soonest: Bool = false) throws(SendError) {
        try deliverEvent(event, to: connection, soonest: soonest)
    }
}
