/// Limits a reader enforces on what a peer declares, so nothing is allocated without a bound.
public struct DecodingLimits: Sendable, Equatable {
    /// Longest string, in UTF-8 bytes.
    public var maxStringBytes = 16 * 1024 * 1024
    /// Longest byte array.
    public var maxByteCount = 256 * 1024 * 1024
    /// Most elements in an array or dictionary.
    public var maxCollectionCount = 1 << 20
    /// Deepest nesting of structures.
    public var maxNestingDepth = 32

    /// The defaults above.
    @inlinable
    public init() {}
}

/// What follows a decoded body: its stream fields and out-of-line byte arrays, in field order.
public struct BodyLayout: Sendable, Equatable {
    /// Stream fields in the message.
    public var streamCount = 0
    /// One entry per item after the body, in field order: `-1` for a stream field, otherwise the byte
    /// count of an out-of-line byte array.
    public var tail: [Int] = []
    /// Sum of the out-of-line byte arrays' counts.
    public var outOfLineBytes = 0

    /// `true` when the body has out-of-line byte arrays.
    @inlinable public var hasOutOfLineBytes: Bool { tail.count > streamCount }

    /// A layout with nothing after the body.
    @inlinable public init() {}
}

/// Reads a message's bounded fields from its body bytes, checking every length against the body and the
/// ``DecodingLimits``.
public struct WireDecoder: FieldCoder {
    @usableFromInline let buffer: UnsafeRawBufferPointer
    @usableFromInline var position = 0
    @usableFromInline var end: Int
    @usableFromInline var depth = 0
    @usableFromInline let limits: DecodingLimits
    /// The sender's layout version.
    public let version: UInt8
    /// Always `true`.
    @inlinable public var isDecoding: Bool { true }
    /// Stream fields met so far.
    public var streamCount: Int { layout.streamCount }
    /// What follows the body, as met so far.
    @usableFromInline var layout = BodyLayout()
    /// Out-of-line arrays that arrived after the body, handed to their fields in order.
    @usableFromInline var adopted: [[UInt8]] = []
    @usableFromInline var adoptedIndex = 0

    /// Creates a decoder over `buffer` (which must outlive it).
    @inlinable
    public init(_ buffer: UnsafeRawBufferPointer, version: UInt8, limits: DecodingLimits) {
        self.buffer = buffer
        self.end = buffer.count
        self.version = version
        self.limits = limits
    }

    /// Decodes a whole message of type `M` from `body`; trailing bytes (fields of a newer version) are
    /// skipped. Returns the message and how many stream fields it has.
    @inlinable
    public static func decode<M: WireMessage>(
        _ type: M.Type, from body: UnsafeRawBufferPointer, version: UInt8, limits: DecodingLimits
    ) throws(WireError) -> (M, Int) {
        var none: [[UInt8]] = []
        let (message, layout) = try decode(type, from: body, version: version, limits: limits, adopting: &none)
        return (message, layout.streamCount)
    }

    /// Decodes a whole message of type `M` from `body`, giving its out-of-line byte arrays the contents of
    /// `adopting` in field order (moved, not copied; fields stay empty when `adopting` is empty). Returns
    /// the message and what follows its body.
    @inlinable
    public static func decode<M: WireMessage>(
        _ type: M.Type, from body: UnsafeRawBufferPointer, version: UInt8, limits: DecodingLimits,
        adopting: inout [[UInt8]]
    ) throws(WireError) -> (M, BodyLayout) {
        var decoder = WireDecoder(body, version: version, limits: limits)
        swap(&decoder.adopted, &adopting)
        var message = M()
        try message.describe(&decoder)
        return (message, decoder.layout)
    }

    @inlinable
    mutating func take(_ count: Int, _ what: String) throws(WireError) -> UnsafeRawBufferPointer {
        guard count <= end - position else { throw .truncatedField(what) }
        let slice = UnsafeRawBufferPointer(rebasing: buffer[position..<(position + count)])
        position += count
        return slice
    }

    @inlinable
    public mutating func varint(_ value: inout UInt64) throws(WireError) {
        switch Varint.read(UnsafeRawBufferPointer(rebasing: buffer[position..<end]), at: 0) {
        case .value(let decoded, let length):
            value = decoded
            position += length
        case .incomplete:
            throw .truncatedField("varint")
        case .malformed:
            throw .malformedVarint
        }
    }

    @inlinable
    public mutating func fixed(_ value: inout UInt64, size: Int) throws(WireError) {
        let bytes = try take(size, "fixed-width integer")
        var result: UInt64 = 0
        for index in 0..<size { result |= UInt64(bytes[index]) << (8 * UInt64(index)) }
        value = result
    }

    @inlinable
    mutating func length(limit: Int) throws(WireError) -> Int {
        var declared: UInt64 = 0
        try varint(&declared)
        guard declared <= UInt64(limit) else { throw .collectionTooLarge(count: declared, limit: limit) }
        return Int(declared)
    }

    @inlinable
    public mutating func bytes(_ value: inout [UInt8]) throws(WireError) {
        var declared: UInt64 = 0
        try varint(&declared)
        let count = declared >> 1
        guard count <= UInt64(limits.maxByteCount) else {
            throw .collectionTooLarge(count: count, limit: limits.maxByteCount)
        }
        if declared & 1 == 0 {
            value = Array(try take(Int(count), "byte array"))
            return
        }
        // Out of line: the bytes follow the body; the reader collects them and decodes again with them.
        layout.tail.append(Int(count))
        layout.outOfLineBytes += Int(count)
        if adoptedIndex < adopted.count {
            guard adopted[adoptedIndex].count == Int(count) else { throw .truncatedField("out-of-line byte array") }
            swap(&value, &adopted[adoptedIndex])
            adoptedIndex += 1
        } else {
            value = []
        }
    }

    @inlinable
    public mutating func string(_ value: inout String) throws(WireError) {
        var declared: UInt64 = 0
        try varint(&declared)
        guard declared <= UInt64(limits.maxStringBytes) else {
            throw .invalidString("\(declared) bytes exceeds the limit of \(limits.maxStringBytes)")
        }
        let raw = try take(Int(declared), "string")
        if Self.isASCII(raw) {
            value = String(decoding: raw, as: UTF8.self)  // ASCII is valid UTF-8: skip the validator
            return
        }
        guard let decoded = String(validating: raw, as: UTF8.self) else { throw .invalidString("not UTF-8") }
        value = decoded
    }

    /// `true` when every byte is below 0x80 (checked eight bytes at a time).
    @inlinable
    static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var index = 0
        var accumulated: UInt64 = 0
        while index + 8 <= bytes.count {
            accumulated |= base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < bytes.count {
            accumulated |= UInt64(bytes[index])
            index += 1
        }
        return accumulated & 0x8080_8080_8080_8080 == 0
    }

    @inlinable
    public mutating func count(_ value: inout Int) throws(WireError) {
        value = try length(limit: limits.maxCollectionCount)
        // Each element takes at least one byte: a count beyond the bytes left is a lie.
        guard value <= end - position else { throw .truncatedField("collection of \(value) elements") }
    }

    @inlinable
    public mutating func nested<T: WireStruct>(_ value: inout T) throws(WireError) {
        guard depth < limits.maxNestingDepth else { throw .nestingTooDeep(limits.maxNestingDepth) }
        var length: UInt64 = 0
        try fixed(&length, size: 4)
        guard length <= UInt64(end - position) else { throw .nestedLengthMismatch }
        let outerEnd = end
        end = position + Int(length)
        depth += 1
        try value.describe(&self)
        depth -= 1
        position = end  // skip fields a newer sender appended
        end = outerEnd
    }

    @inlinable
    public mutating func stream(_ value: inout StreamField) throws(WireError) {
        value.position = layout.streamCount
        layout.streamCount += 1
        layout.tail.append(-1)
    }
}
