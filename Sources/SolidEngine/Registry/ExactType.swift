extension WireMessage {
    /// `true` when `message`'s dynamic type is exactly `Self`: one metadata comparison, where `as?`
    /// costs a dynamic cast and, in unspecialised generic code, a runtime lookup of `Optional<Self>`.
    @inlinable
    public static func isExactType(of message: any WireMessage) -> Bool {
        isSelf(message)  // opening reads the type from the existential (`type(of:)` calls the runtime)
    }

    @inlinable
    static func isSelf<T: WireMessage>(_ value: T) -> Bool { T.self == Self.self }

    /// `message` as `Self`; call only after ``isExactType(of:)`` returned `true`.
    @inlinable
    public static func unwrapExact(_ message: any WireMessage) -> Self {
        precondition(isExactType(of: message), "unwrapExact: \(type(of: message)) is not \(Self.self)")
        return unwrapOpened(message)
    }

    @inlinable
    static func unwrapOpened<T: WireMessage>(_ value: T) -> Self {
        unsafeBitCast(value, to: Self.self)  // the same type (checked by the caller)
    }
}
