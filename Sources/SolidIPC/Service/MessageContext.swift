public import SolidEngine
public import SolidReactor

/// Where an incoming message came from, and how to answer it: a handler gets one with every message.
///
/// The context answers on the connection the message arrived on without a reference to the service:
/// ``respond(_:completion:)``, ``respond(part:completion:)`` (a response in parts), ``reject(_:)``,
/// ``send(_:completion:)`` and ``request(_:options:expecting:onResponse:)`` (the connection only, never moved to
/// another). It is a small `Sendable` value: an `async` handler may keep it across suspensions. Every call
/// posts to the connection's reactor and returns at once; called on that reactor (a synchronous handler) it
/// is written in the same turn.
///
/// ```swift
/// try server.handle(Search.self) { search, context in
///     for hit in index.hits(search.term) { try? context.respond(part: hit) }
///     try? context.respond(Hit.end)
/// }
/// ```
public struct MessageContext: Sendable {
    /// The connection it arrived on (its holder on its reactor).
    public let connection: ObjectHandle
    /// The message header (type, flags, request id).
    public let header: MessageHeader
    /// What TLS verified about the sender (its certificate's names; mutual TLS on a server); `nil` on a
    /// plain connection.
    public let security: SecurityInfo?
    /// The service's shared part (registry, serials); `nil` for a context made with the public initializer.
    @usableFromInline let core: ServiceCore?

    /// A context for a message that arrived on `connection`. Made this way (for tests of a handler) it
    /// answers as one made by a service does, but a message type the peer's registry lacks is reported to
    /// the completion instead of thrown.
    public init(connection: ObjectHandle, header: MessageHeader, security: SecurityInfo? = nil) {
        self.init(connection: connection, header: header, security: security, core: nil)
    }

    init(connection: ObjectHandle, header: MessageHeader, security: SecurityInfo?, core: ServiceCore?) {
        self.connection = connection
        self.header = header
        self.security = security
        self.core = core
    }

    /// `true` when the sender waits for a response.
    public var isRequest: Bool { header.flags.contains(.request) }
}

extension MessageContext {
    /// Answers the request with its final response (or, for a message that is not a request, sends
    /// `response` back on its connection as a plain message). `completion` runs once it is written.
    /// - Throws: ``SendError/peerGone`` when the connection is gone, ``SendError/unregisteredType(_:)``,
    ///   ``SendError/serviceStopped``; the completion is then not called.
    @inlinable
    public func respond<M: WireMessage & Sendable>(
        _ response: M, completion: (@Sendable (Result<Void, SendError>) -> Void)? = nil
    ) throws(SendError) {
        try post(response, flags: [], responseTo: header.requestID, completion: completion)
    }

    /// Sends one part of the response; more parts may follow, then ``respond(_:completion:)`` ends it. The
    /// requester's callback runs once per part (the async `request` returns the first). The parts and the
    /// final response are written in the order sent, one after the other, whatever their sizes.
    /// For a message that is not a request this sends `part` back as a plain message.
    @inlinable
    public func respond<M: WireMessage & Sendable>(
        part: M, completion: (@Sendable (Result<Void, SendError>) -> Void)? = nil
    ) throws(SendError) {
        let requestID = header.requestID
        try post(part, flags: requestID == 0 ? [] : .responsePart, responseTo: requestID, completion: completion)
    }

    /// Refuses the request with a reject record (PROTOCOL.md §4): it gets no response and its sender's
    /// completion fails at once with ``SendError/rejected(_:)`` carrying `rejection`. Nothing happens for
    /// a message that is not a request, or one already answered.
    /// - Throws: ``SendError/peerGone`` when the connection is gone.
    public func reject(_ rejection: PeerRejection) throws(SendError) {
        guard isRequest else { return }
        try deliverEvent(RejectEvent(requestID: header.requestID, rejection: rejection), to: connection)
    }

    /// Sends `message` on this connection (not as a response). It is never moved to another connection:
    /// if this one closes first, the completion reports ``SendError/connectionClosed(_:progress:)``.
    @inlinable
    public func send<M: WireMessage & Sendable>(
        _ message: M, completion: (@Sendable (Result<Void, SendError>) -> Void)? = nil
    ) throws(SendError) {
        try post(message, flags: [], responseTo: 0, completion: completion)
    }

    /// Sends a request on this connection and calls `onResponse` once with the response, or once per part
    /// (on the connection's reactor thread). Not moved to another connection nor sent again.
    /// - Throws: ``SendError/peerGone`` when the connection is gone, ``SendError/unregisteredType(_:)``.
    public func request<Request: WireMessage & Sendable, Response: WireMessage>(
        _ request: Request, options: SendOptions = [], expecting: Response.Type = Response.self,
        onResponse: @escaping @Sendable (Result<Response, SendError>) -> Void
    ) throws(SendError) {
        try core?.checkRegistered(Request.self)
        let item = RequestItem(
            request, serial: core?.serials.take() ?? 0, flags: MessageFlags(options), timeout: nil, addressed: true,
            onResponse: onResponse)
        try deliverEvent(DirectRequestEvent(item: item), to: connection)
    }

    /// Stops reading from this connection until ``resumeReading()`` (see `IPCService.pauseReading(_:)`).
    public func pauseReading() throws(SendError) {
        try deliverEvent(ConnectionControlEvent(.pauseReading), to: connection)
    }

    /// Reads again from this connection.
    public func resumeReading() throws(SendError) {
        try deliverEvent(ConnectionControlEvent(.resumeReading), to: connection)
    }

    /// Closes this connection (see `IPCService.closeConnection(_:mode:)`).
    public func closeConnection(mode: IPCService.CloseMode = .force) throws(SendError) {
        try deliverEvent(ConnectionControlEvent(mode == .force ? .close : .closeGracefully), to: connection)
    }

    /// Checks the type and posts the message to the connection's holder; from a handler on that
    /// connection's reactor it is sent at once, not at the end of the turn. Inlinable so the event type is
    /// made in the caller's module (its metadata cached there).
    @inlinable
    func post<M: WireMessage & Sendable>(
        _ message: M, flags: MessageFlags, responseTo: UInt64,
        completion: (@Sendable (Result<Void, SendError>) -> Void)?
    ) throws(SendError) {
        try core?.checkRegistered(M.self)
        try sendAddressed(message, flags: flags, responseTo: responseTo, completion: completion, to: connection)
    }
}

/// Posts `event` to `connection`'s holder (at once when `soonest` and on its reactor thread), turning a
/// failure into the ``SendError`` callers see.
@usableFromInline
func deliverEvent(_ event: ReactorEvent, to connection: ObjectHandle, soonest: Bool = false) throws(SendError) {
    try throwIfUndelivered(soonest ? connection.reactor.deliverSoonest(event, to: connection.id) : connection.post(event))
}

/// The ``SendError`` a failed post to a connection's holder means.
@usableFromInline
func throwIfUndelivered(_ result: PostResult) throws(SendError) {
    switch result {
    case .posted: return
    case .targetGone: throw .peerGone
    case .reactorStopped: throw .serviceStopped
    }
}
