/// A message's encoded body and what travels after it.
public struct EncodedBody {
    /// The body bytes (after the requested header room).
    public var bytes: [UInt8]
    /// Sources of the bytes that follow the body, in field order: out-of-line byte arrays and streams.
    public var tail: [any ByteSource]
    /// How many of `tail` are stream fields (the header's stream count).
    public var streamCount: Int
    /// Bytes of the out-of-line byte arrays in `tail`.
    public var outOfLineBytes: Int

    /// Collects the parts of an encoded message.
    @inlinable
    public init(bytes: [UInt8], tail: [any ByteSource], streamCount: Int, outOfLineBytes: Int) {
        self.bytes = bytes
        self.tail = tail
        self.streamCount = streamCount
        self.outOfLineBytes = outOfLineBytes
    }
}

/// Writes a message's bounded fields into a byte buffer and collects what follows the body: stream
/// sources and byte arrays of ``outOfLineThreshold`` bytes or more (sent from the array itself, never
/// copied into the body).
public struct WireEncoder: FieldCoder {
    /// Byte arrays this long or longer travel after the body instead of inside it (PROTOCOL.md §5.3), so
    /// encoding a 256 MiB array costs nothing and the receiver fills its array straight from packets.
    public static let outOfLineThreshold = 16 * 1024

    /// The encoded bytes so far.
    public var bytes: [UInt8] { storage }
    /// Sources of the bytes after the body, in field order (out-of-line arrays and streams).
    public var streams: [any ByteSource] { sources }
    @usableFromInline var storage: [UInt8]
    @usableFromInline var sources: [any ByteSource] = []
    @usableFromInline var streamFields = 0
    @usableFromInline var outOfLineBytes = 0
    /// The version being written.
    public let version: UInt8
    /// Always `false`.
    @inlinable public var isDecoding: Bool { false }

    @usableFromInline static let zeros = [UInt8](repeating: 0, count: 64)

    /// Bytes reserved in front of the body by ``encode(_:headerRoom:capacity:storage:)``; their contents are
    /// unspecified (zero in a fresh buffer, whatever a recycled one held).
    public let headerRoom: Int

    /// Creates an encoder writing layout `version`, leaving `headerRoom` zero bytes in front of the body
    /// (the writer puts the message header there, saving a copy).
    @inlinable
    public init(version: UInt8, capacity: Int = 64, headerRoom: Int = 0) {
        self.init(version: version, capacity: capacity, headerRoom: headerRoom, storage: [])
    }

    /// An encoder that writes into `storage` (emptied after its first `headerRoom` bytes, which are left as
    /// they are; its capacity is reused, so a writer that recycles buffers encodes without allocating). A
    /// recycled buffer is used even when it is smaller than `capacity` (a guess): messages of one type are
    /// alike, and a larger one grows it once.
    @inlinable
    public init(version: UInt8, capacity: Int, headerRoom: Int, storage buffer: consuming [UInt8]) {
        self.version = version
        self.headerRoom = headerRoom
        storage = consume buffer  // moved, not copied: emptying a shared array would allocate
        if storage.capacity >= headerRoom + 16 {
            if storage.count >= headerRoom {
                // A recycled buffer keeps its first `headerRoom` bytes as they are: the room's contents
                // are unspecified (the writer writes the header over its end and sends nothing before
                // it), so it is not zeroed again (measured: ~110 instructions a message).
                storage.removeSubrange(headerRoom..<storage.count)
                return
            }
            storage.removeAll(keepingCapacity: true)
        } else {
            // Reserving on an empty array takes a specialised path (measured: `[UInt8](repeating:count:)`
            // and `unsafeUninitializedCapacity` look the storage type up at run time, about 1.5× the cost;
            // a loop of single appends costs more than the slice append below).
            storage = []
            storage.reserveCapacity(capacity + headerRoom)
        }
        if headerRoom > 0 {
            if headerRoom <= Self.zeros.count {
                storage.append(contentsOf: Self.zeros[0..<headerRoom])
            } else {
                storage.append(contentsOf: repeatElement(0, count: headerRoom))
            }
        }
    }

    /// Encodes a whole message: its body and what follows it.
    @inlinable
    public static func encode<M: WireMessage>(_ message: M) throws(WireError) -> EncodedBody {
        try encode(message, headerRoom: 0)
    }

    /// Encodes a whole message after `headerRoom` reserved bytes (contents unspecified: zero in a fresh
    /// buffer, what a recycled `storage` held there before).
    @inlinable
    public static func encode<M: WireMessage>(
        _ message: M, headerRoom: Int, capacity: Int = 64, storage: consuming [UInt8] = []
    ) throws(WireError) -> EncodedBody {
        var encoder = WireEncoder(version: M.version, capacity: capacity, headerRoom: headerRoom, storage: consume storage)
        var copy = message
        try copy.describe(&encoder)
        return EncodedBody(
            bytes: encoder.storage, tail: encoder.sources, streamCount: encoder.streamFields,
            outOfLineBytes: encoder.outOfLineBytes)
    }

    @inlinable
    public mutating func varint(_ value: inout UInt64) throws(WireError) {
        Varint.append(value, to: &storage)
    }

    @inlinable
    public mutating func fixed(_ value: inout UInt64, size: Int) throws(WireError) {
        var remaining = value
        for _ in 0..<size {
            storage.append(UInt8(truncatingIfNeeded: remaining))
            remaining >>= 8
        }
    }

    @inlinable
    public mutating func bytes(_ value: inout [UInt8]) throws(WireError) {
        // Count shifted left; the low bit says the bytes follow the body (PROTOCOL.md §6).
        if value.count >= Self.outOfLineThreshold {
            Varint.append(UInt64(value.count) << 1 | 1, to: &storage)
            sources.append(BytesSource(value))  // keeps a reference: no copy
            outOfLineBytes += value.count
        } else {
            Varint.append(UInt64(value.count) << 1, to: &storage)
            storage.append(contentsOf: value)
        }
    }

    @inlinable
    public mutating func string(_ value: inout String) throws(WireError) {
        Varint.append(UInt64(value.utf8.count), to: &storage)
        storage.append(contentsOf: value.utf8)
    }

    @inlinable
    public mutating func count(_ value: inout Int) throws(WireError) {
        Varint.append(UInt64(value), to: &storage)
    }

    @inlinable
    public mutating func nested<T: WireStruct>(_ value: inout T) throws(WireError) {
        // u32 length placeholder, patched once the nested fields are written.
        let start = storage.count
        storage.append(contentsOf: [0, 0, 0, 0])
        try value.describe(&self)
        let length = UInt32(truncatingIfNeeded: storage.count - start - 4)
        for index in 0..<4 { storage[start + index] = UInt8(truncatingIfNeeded: length >> (8 * UInt32(index))) }
    }

    @inlinable
    public mutating func stream(_ value: inout StreamField) throws(WireError) {
        guard let source = value.source else { throw .missingStreamSource }
        value.position = streamFields
        streamFields += 1
        sources.append(source)
    }
}
