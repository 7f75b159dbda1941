public import SolidEngine
import SolidReactor

// Handlers that answer: the handler returns the response (or throws, and the sender's request fails with
// the reason), with no reference back to the service object.
extension IPCService {
    /// Registers the handler for requests of type `Request` (before `start()`): what it returns is sent
    /// as the response; when it throws, the request is refused with a reject record
    /// (`RejectCode/handlerFailed`, the error's description as the reason) and the sender's completion
    /// fails with ``SendError/rejected(_:)``. Messages of that type sent without expecting a response are
    /// handed to it too; what it returns for them is dropped.
    ///
    /// Runs on the connection's reactor thread, like ``handle(_:_:)``: keep it short (for slow work use
    /// the `async` form).
    public func handleRequests<Request: WireMessage, Response: WireMessage & Sendable>(
        _ type: Request.Type, answering: @escaping @Sendable (Request, MessageContext) throws -> Response
    ) throws(SendError) {
        try checkRegistered(Response.self)
        try handle(type) { [weak self] request, context in
            guard let self else { return }
            do {
                let response = try answering(request, context)
                if context.isRequest { try? self.sendResponse(response, for: context) }
            } catch {
                self.refuse(context, because: error)
            }
        }
    }

    /// Registers an `async` handler for requests of type `Request` (before `start()`): it runs in a task
    /// of its own per request, off the reactor thread; what it returns is the response, and a throw
    /// refuses the request as the synchronous form does.
    public func handleRequests<Request: WireMessage & Sendable, Response: WireMessage & Sendable>(
        _ type: Request.Type, answering: @escaping @Sendable (Request, MessageContext) async throws -> Response
    ) throws(SendError) {
        try checkRegistered(Response.self)
        try handle(type) { [weak self] request, context in
            Task { [weak self] in
                do {
                    let response = try await answering(request, context)
                    if context.isRequest { try? self?.sendResponse(response, for: context) }
                } catch {
                    self?.refuse(context, because: error)
                }
            }
        }
    }

    /// Refuses the request described by `context` (a reject record, PROTOCOL.md §4): it gets no response
    /// and its sender's completion fails at once with ``SendError/rejected(_:)`` carrying `rejection`.
    /// Nothing happens for a message that is not a request, or one already answered.
    /// - Throws: ``SendError/peerGone`` when the connection is gone.
    public func reject(_ context: MessageContext, _ rejection: PeerRejection) throws(SendError) {
        guard context.isRequest else { return }
        try deliver(RejectEvent(requestID: context.header.requestID, rejection: rejection), to: context.connection)
    }

    /// A handler threw: its request is refused (best effort: the connection may be gone already).
    private func refuse(_ context: MessageContext, because error: any Error) {
        try? reject(context, PeerRejection(code: .handlerFailed, reason: "\(error)"))
    }
}

/// A reject record for one request of one connection (``IPCService/reject(_:_:)``).
final class RejectEvent: ConnectionCommandEvent, @unchecked Sendable {
    // @unchecked: immutable; handed to one reactor thread.
    let requestID: UInt64
    let rejection: PeerRejection

    init(requestID: UInt64, rejection: PeerRejection) {
        self.requestID = requestID
        self.rejection = rejection
    }

    override func apply(to connection: Connection) { connection.reject(requestID, rejection) }
}
