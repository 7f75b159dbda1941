/// A coder that walks a message's fields in order, writing them (``WireEncoder``) or reading them
/// (``WireDecoder``). A message describes its fields once, in ``WireStruct/describe(_:)``, and the same
/// code serves both directions: the encoder reads each `inout` value, the decoder assigns it.
public protocol FieldCoder {
    /// The layout version in force: the message type's current ``WireMessage/version`` when encoding,
    /// the sender's version when decoding. Guard fields added in version N with `if coder.version >= N`.
    var version: UInt8 { get }
    /// `true` when reading.
    var isDecoding: Bool { get }

    /// An unsigned integer as a varint (1–10 bytes).
    mutating func varint(_ value: inout UInt64) throws(WireError)
    /// `size` bytes, little-endian (1, 2, 4 or 8).
    mutating func fixed(_ value: inout UInt64, size: Int) throws(WireError)
    /// A length-prefixed run of bytes.
    mutating func bytes(_ value: inout [UInt8]) throws(WireError)
    /// A length-prefixed UTF-8 string.
    mutating func string(_ value: inout String) throws(WireError)
    /// An element count for a collection (varint), bounded by the decoder's collection limit.
    mutating func count(_ value: inout Int) throws(WireError)
    /// A nested structure, length-prefixed so an older reader can skip fields it does not know.
    mutating func nested<T: WireStruct>(_ value: inout T) throws(WireError)
    /// A stream field: its bytes travel after the message body, chunk by chunk.
    mutating func stream(_ value: inout StreamField) throws(WireError)
}

extension FieldCoder {
    /// Codes any ``WireCodable`` field: `try coder.field(&self.name)`.
    @inlinable
    public mutating func field<T: WireCodable>(_ value: inout T) throws(WireError) {
        try T.code(&value, with: &self)
    }

    /// Codes a fixed-width integer field (little-endian, the type's size).
    @inlinable
    public mutating func fixed<T: FixedWidthInteger>(_ value: inout T) throws(WireError) {
        var wide = UInt64(truncatingIfNeeded: value)
        try fixed(&wide, size: MemoryLayout<T>.size)
        if isDecoding { value = T(truncatingIfNeeded: wide) }
    }
}

/// A value that knows how to travel as a field.
public protocol WireCodable {
    /// A value to decode into.
    init()
    /// Writes or reads `value` through `coder`.
    static func code<C: FieldCoder>(_ value: inout Self, with coder: inout C) throws(WireError)
}

/// A structure whose fields are described once for both directions.
///
/// As a field of another structure it is length-prefixed: a reader that knows fewer fields (an older
/// version) skips the rest. Add new fields only at the end, guarded by `if coder.version >= N`.
public protocol WireStruct: WireCodable {
    /// Codes every field in order.
    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError)
}

extension WireStruct {
    @inlinable
    public static func code<C: FieldCoder>(_ value: inout Self, with coder: inout C) throws(WireError) {
        try coder.nested(&value)
    }
}

/// A message: a structure with a layout version, registered in a ``MessageRegistry``.
public protocol WireMessage: WireStruct, SendableMetatype {
    /// The layout version this side writes (0–255). Raise it when appending fields.
    static var version: UInt8 { get }
    /// Encodes a message's body after `headerRoom` spare bytes. Provided; do not implement: the default
    /// is emitted in the message's own module, so the field code is specialised for the encoder.
    /// `capacity` is a guess of the body's size (one allocation when it is right); `storage` is a buffer
    /// to reuse (no allocation when its capacity suffices).
    static func encodeBody(_ message: Self, headerRoom: Int, capacity: Int, storage: consuming [UInt8])
        throws(WireError) -> EncodedBody
    /// Decodes a body written with layout `version`; out-of-line byte arrays are taken, in field order, from
    /// `adopting` (left empty when it has none). Provided; do not implement (see ``encodeBody(_:headerRoom:capacity:storage:)``).
    static func decodeBody(
        _ body: UnsafeRawBufferPointer, version: UInt8, limits: DecodingLimits, adopting: inout [[UInt8]]
    ) throws(WireError) -> (any WireMessage, BodyLayout)
}

extension WireMessage {
    /// Version 0 unless the type says otherwise.
    public static var version: UInt8 { 0 }

    @inlinable
    public static func encodeBody(_ message: Self, headerRoom: Int, capacity: Int, storage: consuming [UInt8])
        throws(WireError) -> EncodedBody
    {
        try WireEncoder.encode(message, headerRoom: headerRoom, capacity: capacity, storage: consume storage)
    }

    @inlinable
    public static func decodeBody(
        _ body: UnsafeRawBufferPointer, version: UInt8, limits: DecodingLimits, adopting: inout [[UInt8]]
    ) throws(WireError) -> (any WireMessage, BodyLayout) {
        let (message, layout) = try WireDecoder.decode(
            Self.self, from: body, version: version, limits: limits, adopting: &adopting)
        return (message, layout)
    }
}
