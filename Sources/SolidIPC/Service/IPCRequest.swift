// Typed request/response pairing: a request type names its response type, so `request(_:to:)` needs no
// `expecting:` and the compiler checks what a handler returns.

/// A request that names its response type. `request(_:to:)` then returns a `Response` with no
/// `expecting:`, and ``IPCService/handleRequests(_:respond:)`` checks that a handler returns one.
///
/// ```swift
/// struct Get: IPCRequest { typealias Response = Value; var key = ""; ... }
/// let value = try await client.request(Get(key: "a"), to: destination)   // a Value
/// ```
public protocol IPCRequest: WireMessage, Sendable {
    /// What the peer answers with.
    associatedtype Response: WireMessage, Sendable
}

extension IPCService {
    /// Sends a typed request and returns its response, as `request(_:to:options:timeout:expecting:)`
    /// does (suspends while the queue is full; cancelled with its task; bounded by `timeout`).
    public func request<Request: IPCRequest>(
        _ request: Request, to destination: Destination, options: SendOptions = [], timeout: Duration? = nil
    ) async throws(SendError) -> Request.Response {
        try await self.request(request, to: destination, options: options, timeout: timeout, expecting: Request.Response.self)
    }

    /// Registers an `async` handler for a typed request (before `start()`): it must return the
    /// request's `Response`; a throw refuses the request (`handleRequests(_:answering:)`).
    public func handleRequests<Request: IPCRequest>(
        _ type: Request.Type, respond: @escaping @Sendable (Request, MessageContext) async throws -> Request.Response
    ) throws(SendError) {
        try handleRequests(type, answering: respond)
    }
}
