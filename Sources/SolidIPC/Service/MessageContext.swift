public import SolidEngine
public import SolidReactor

/// Where an incoming message came from: pass it to ``IPCService/sendResponse(_:for:last:completion:)``.
public struct MessageContext: Sendable {
    /// The connection it arrived on (its holder on its reactor).
    public let connection: ObjectHandle
    /// The message header (type, flags, request id).
    public let header: MessageHeader
    /// What TLS verified about the sender (its certificate's names; mutual TLS on a server); `nil` on a
    /// plain connection.
    public let security: SecurityInfo?

    /// A context for a message that arrived on `connection`.
    public init(connection: ObjectHandle, header: MessageHeader, security: SecurityInfo? = nil) {
        self.connection = connection
        self.header = header
        self.security = security
    }

    /// `true` when the sender waits for a response.
    public var isRequest: Bool { header.flags.contains(.request) }
}
