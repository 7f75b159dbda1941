/// Flags carried by every message on the wire.
public struct MessageFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    /// Creates flags from raw bits.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The sender waits for a response (the header's request id is set).
    public static let request = MessageFlags(rawValue: 1 << 0)
    /// A response part: more parts of the response follow (the header's response-to id is set).
    public static let responsePart = MessageFlags(rawValue: 1 << 1)
    /// Delivered in order with the sender's other synchronous messages.
    public static let synchronous = MessageFlags(rawValue: 1 << 2)
    /// May be sent again after a connection failure.
    public static let idempotent = MessageFlags(rawValue: 1 << 3)
    /// Fails at once when every address of its destination failed and no connection is up, instead of
    /// waiting for the pool's next attempt (a message that had not started when its connection dropped is
    /// still sent again, as any).
    public static let oneShot = MessageFlags(rawValue: 1 << 4)

    /// Every defined bit; others are rejected by the reader.
    public static let all: MessageFlags = [.request, .responsePart, .synchronous, .idempotent, .oneShot]
}

/// The header at the start of every message's bytes.
public struct MessageHeader: Sendable, Equatable {
    /// The message's registered type.
    public var typeID: MessageTypeID
    /// The layout version the sender wrote.
    public var version: UInt8
    /// The message flags.
    public var flags: MessageFlags
    /// The sender's id for this request (0: not a request).
    public var requestID: UInt64
    /// The request this message answers (0: not a response).
    public var responseTo: UInt64
    /// Length of the body (the bounded fields).
    public var bodyLength: UInt64
    /// Number of stream fields that follow the body.
    public var streamCount: Int

    /// Creates a header.
    public init(
        typeID: MessageTypeID, version: UInt8, flags: MessageFlags = [], requestID: UInt64 = 0,
        responseTo: UInt64 = 0, bodyLength: UInt64 = 0, streamCount: Int = 0
    ) {
        self.typeID = typeID
        self.version = version
        self.flags = flags
        self.requestID = requestID
        self.responseTo = responseTo
        self.bodyLength = bodyLength
        self.streamCount = streamCount
    }

    /// The longest valid encoding: 3 + 3 + 1 + 1 + 10 + 10 + 10 + 1.
    public static let maxEncodedSize = 39
    /// Most stream fields a message may have.
    public static let maxStreams = 16

    /// Appends the encoding to `bytes`.
    public func encode(into bytes: inout [UInt8]) {
        Varint.append(UInt64(typeID.protocolID), to: &bytes)
        Varint.append(UInt64(typeID.typeIndex), to: &bytes)
        bytes.append(version)
        bytes.append(flags.rawValue)
        Varint.append(requestID, to: &bytes)
        Varint.append(responseTo, to: &bytes)
        Varint.append(bodyLength, to: &bytes)
        bytes.append(UInt8(streamCount))
    }

    /// Writes the encoding at `pointer` (room for ``maxEncodedSize`` bytes); returns its size.
    public func encode(to pointer: UnsafeMutableRawPointer) -> Int {
        var offset = Varint.write(UInt64(typeID.protocolID), to: pointer)
        offset += Varint.write(UInt64(typeID.typeIndex), to: pointer + offset)
        pointer.storeBytes(of: version, toByteOffset: offset, as: UInt8.self)
        pointer.storeBytes(of: flags.rawValue, toByteOffset: offset + 1, as: UInt8.self)
        offset += 2
        offset += Varint.write(requestID, to: pointer + offset)
        offset += Varint.write(responseTo, to: pointer + offset)
        offset += Varint.write(bodyLength, to: pointer + offset)
        pointer.storeBytes(of: UInt8(truncatingIfNeeded: streamCount), toByteOffset: offset, as: UInt8.self)
        return offset + 1
    }

    /// Checks the flag combination against the ids.
    public func validate() throws(WireError) {
        guard flags.rawValue & ~MessageFlags.all.rawValue == 0 else { throw .invalidMessageFlags(flags.rawValue) }
        if flags.contains(.request) && requestID == 0 {
            throw .inconsistentMessageFlags("request without a request id")
        }
        if !flags.contains(.request) && requestID != 0 {
            throw .inconsistentMessageFlags("request id without the request flag")
        }
        if flags.contains(.responsePart) && responseTo == 0 {
            throw .inconsistentMessageFlags("response part without a request to answer")
        }
        guard streamCount <= Self.maxStreams else { throw .tooManyStreams(streamCount) }
    }

    /// Parses a header from the start of `buffer`: the header and its size, or `nil` when more bytes are
    /// needed.
    public static func parse(_ buffer: UnsafeRawBufferPointer) throws(WireError) -> (MessageHeader, Int)? {
        var offset = 0
        @inline(__always) func varint(_ limit: UInt64) throws(WireError) -> UInt64? {
            switch Varint.read(buffer, at: offset) {
            case .incomplete: return nil
            case .malformed: throw .malformedVarint
            case .value(let value, let length):
                guard value <= limit else { throw .valueOutOfRange("message header") }
                offset += length
                return value
            }
        }
        @inline(__always) func byte() -> UInt8? {
            guard offset < buffer.count else { return nil }
            offset += 1
            return buffer[offset - 1]
        }
        guard let protocolID = try varint(UInt64(UInt16.max)), let typeIndex = try varint(UInt64(UInt16.max)),
            let version = byte(), let flags = byte(), let requestID = try varint(.max),
            let responseTo = try varint(.max), let bodyLength = try varint(.max), let streams = byte()
        else {
            if buffer.count >= maxEncodedSize { throw .messageHeaderTooLong }
            return nil
        }
        let header = MessageHeader(
            typeID: MessageTypeID(protocolID: UInt16(protocolID), typeIndex: UInt16(typeIndex)),
            version: version, flags: MessageFlags(rawValue: flags), requestID: requestID, responseTo: responseTo,
            bodyLength: bodyLength, streamCount: Int(streams))
        try header.validate()
        return (header, offset)
    }
}
