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
        try handle(type) { request, context in
            do {
                let response = try answering(request, context)
                if context.isRequest { try? context.respond(response) }
            } catch {
                Self.refuse(context, because: error)
            }
        }
    }

    /// Registers an `async` handler for requests of type `Request` (before `start()`): it runs in a task
    /// of its own per request, off the reactor thread; what it returns is the response, and a throw
    /// refuses the request as the synchronous form does.
    ///
    /// The task is cancelled when the requester cancels the request (its cancel reaches this side) or the
    /// connection closes before the response is queued: a handler doing long work checks
    /// `Task.isCancelled` (or awaits something cancellable) and stops; what it returns then is dropped.
    public func handleRequests<Request: WireMessage & Sendable, Response: WireMessage & Sendable>(
        _ type: Request.Type, answering: @escaping @Sendable (Request, MessageContext) async throws -> Response
    ) throws(SendError) {
        try checkRegistered(Response.self)
        try handleInTasks(type) { request, context in
            Task {
                do {
                    let response = try await answering(request, context)
                    if context.isRequest { try? context.respond(response) }
                } catch {
                    Self.refuse(context, because: error)
                }
            }
        }
    }

    /// A handler threw: its request is refused (best effort: the connection may be gone already).
    private static func refuse(_ context: MessageContext, because error: any Error) {
        try? context.reject(PeerRejection(code: .handlerFailed, reason: "\(error)"))
    }
}

/// A reject record for one request of one connection (``MessageContext/reject(_:)``).
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
