public import SolidEngine

/// How this side sends one message: local delivery choices, apart from the wire's request and
/// response-part bits, which the API sets itself (`request(_:to:…)`, ``MessageContext/respond(part:completion:)``).
///
/// Each option is carried in the message header for SolidFrame compatibility (PROTOCOL.md §5.2, bits
/// 2–4), but only the sender acts on it; a receiver ignores them.
///
/// ```swift
/// try await client.send(Audit(entry), to: auditServer, options: [.synchronous, .idempotent])
/// ```
public struct SendOptions: OptionSet, Sendable, Hashable {
    /// The raw bits (the header's flag bits 2–4).
    public let rawValue: UInt8

    /// Creates options from raw bits; bits outside ``all`` are dropped.
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0b1_1100 }

    /// Written only once the previous synchronous message is completely written, and all of a pool's
    /// synchronous messages go on one connection: they reach the peer in the order sent.
    public static let synchronous = SendOptions(rawValue: MessageFlags.synchronous.rawValue)
    /// May be sent again on another connection when its connection drops while it is partly written or
    /// awaiting its response (so the peer may get it twice); without it, such a message fails.
    public static let idempotent = SendOptions(rawValue: MessageFlags.idempotent.rawValue)
    /// Fails fast: with ``SendError/connectFailed(_:_:)`` when every address of the destination failed and
    /// no connection is up, instead of waiting for the pool's next attempt.
    public static let oneShot = SendOptions(rawValue: MessageFlags.oneShot.rawValue)

    /// Every option.
    public static let all: SendOptions = [.synchronous, .idempotent, .oneShot]
}

extension MessageFlags {
    /// The header bits for `options` (none of the request/response bits).
    @inlinable
    init(_ options: SendOptions) { self.init(rawValue: options.rawValue) }
}
