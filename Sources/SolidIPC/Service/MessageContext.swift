public import SolidEngine
public import SolidReactor

/// Where an incoming message came from: pass it to ``Service/sendResponse(_:for:completion:)``.
public struct MessageContext: Sendable {
    /// The connection it arrived on (its holder on its reactor).
    public let connection: ObjectHandle
    /// The message header (type, flags, request id).
    public let header: MessageHeader

    /// `true` when the sender waits for a response.
    public var isRequest: Bool { header.flags.contains(.request) }
}
