/// Everything that can be wrong with bytes on the wire or with a message's encoding.
///
/// Each case names what was wrong; `docs/PROTOCOL.md` lists when each is raised (its §8 says for each
/// whether it ends the connection or one message). Errors in packet framing, the handshake, records,
/// message headers, stream segment framing and message ends end the connection
/// (``PacketReader/consume(_:)`` throws); errors decoding one message's body, its limits and its sinks
/// reject only that message (``ReaderEvent/rejected(_:_:)``).
public enum WireError: Error, Sendable, Equatable, CustomStringConvertible {
    // Packet framing
    /// The packet kind byte is not one of the known kinds.
    case unknownPacketKind(UInt8)
    /// The packet flags byte has bits this version does not define (or a flag the kind forbids).
    case invalidPacketFlags(kind: UInt8, flags: UInt8)
    /// The declared payload length exceeds the agreed packet size.
    case packetTooLarge(length: Int, limit: Int)
    /// A keep-alive packet carried a payload.
    case keepAliveWithPayload(Int)
    /// A start-secure packet carried a payload.
    case startSecureWithPayload(Int)
    /// A type was registered after the registry was frozen (its service had started).
    case registryFrozen
    /// A compressed packet arrived but no codec was agreed.
    case compressionNotAgreed
    /// The codec failed to decompress a packet.
    case decompressionFailed(String)
    /// A packet would decompress to more than the agreed packet size.
    case decompressedTooLarge(length: Int, limit: Int)

    // Handshake
    /// A packet other than the hello arrived before the handshake finished (a second hello is
    /// ``duplicateHello``).
    case unexpectedPacketBeforeHandshake(UInt8)
    /// The hello packet is malformed (wrong length or magic).
    case malformedHello(String)
    /// The peer speaks a protocol version this side does not.
    case unsupportedProtocolVersion(UInt16)
    /// The peer's packet size or slot count is outside the allowed range.
    case invalidHelloParameter(String)
    /// A second hello arrived after the handshake.
    case duplicateHello

    // Records inside a data packet
    /// The record command byte is unknown (low nibble) or has undefined flag bits.
    case unknownRecord(UInt8)
    /// A record ends before its fields do.
    case truncatedRecord
    /// A reject record names request id 0 (no request has it).
    case rejectWithoutRequest
    /// A record names a slot at or above the agreed slot count.
    case slotOutOfRange(slot: Int, limit: Int)
    /// A chunk claims more bytes than the packet has left.
    case chunkLengthExceedsPacket(length: Int, remaining: Int)
    /// A first chunk arrived for a slot that already holds an unfinished message.
    case slotBusy(Int)
    /// A continuation chunk or cancel arrived for a slot holding no message.
    case slotIdle(Int)
    /// The message's bytes ended where its header, body or streams say more must come, or went on after.
    case messageLengthMismatch(slot: Int)

    // Message header
    /// The message header is longer than any valid header.
    case messageHeaderTooLong
    /// The message header has flag bits this version does not define.
    case invalidMessageFlags(UInt8)
    /// The message header's flags contradict each other or its ids (for example a response part without
    /// a request it answers).
    case inconsistentMessageFlags(String)
    /// The declared body length exceeds the configured limit.
    case messageTooLarge(length: UInt64, limit: Int)
    /// Holding this message until it is complete would take the receiver over its budget for messages
    /// still being received: `requested` bytes declared, `inUse` already held, `limit` of the `scope`.
    case receiveBudgetExceeded(requested: UInt64, inUse: Int, limit: Int, scope: ReceiveBudgetScope)
    /// The message declares more stream fields than allowed.
    case tooManyStreams(Int)
    /// A stream segment is longer than a packet can carry.
    case invalidStreamSegment(Int)

    // Field decoding (message level)
    /// A varint runs past 10 bytes or overflows its type.
    case malformedVarint
    /// The body ended inside a field.
    case truncatedField(String)
    /// A string is longer than allowed, or not valid UTF-8.
    case invalidString(String)
    /// A byte array, array or dictionary declares more elements than allowed.
    case collectionTooLarge(count: UInt64, limit: Int)
    /// A boolean byte other than 0 or 1, an optional tag other than 0 or 1.
    case invalidTag(UInt8)
    /// Nested values go deeper than allowed.
    case nestingTooDeep(Int)
    /// A nested value's declared length exceeds what encloses it.
    case nestedLengthMismatch
    /// A value does not fit the field's type (for example an Int8 field receiving 300).
    case valueOutOfRange(String)
    /// The message type id is not registered on this side.
    case unknownMessageType(protocol: UInt64, type: UInt64)
    /// The message's stream count does not match what its type describes.
    case streamCountMismatch(declared: Int, described: Int)

    // Sending side
    /// The message type is not registered, so it cannot be sent.
    case unregisteredType(String)
    /// A registration clashes with an earlier one.
    case duplicateRegistration(String)
    /// A stream field on the sending side has no source.
    case missingStreamSource
    /// A stream source failed while its message was being written.
    case streamSourceFailed(String)
    /// A stream sink failed while its message was being read.
    case streamSinkFailed(String)
    /// The connection ended before the message was complete: what its sinks' `abort` is told (never on
    /// the wire).
    case connectionEnded

    /// A readable text.
    public var description: String {
        switch self {
        case .unknownPacketKind(let kind): "unknown packet kind \(kind)"
        case .invalidPacketFlags(let kind, let flags): "invalid flags 0x\(String(flags, radix: 16)) for packet kind \(kind)"
        case .packetTooLarge(let length, let limit): "packet payload of \(length) bytes exceeds the limit of \(limit)"
        case .keepAliveWithPayload(let length): "keep-alive packet with a \(length)-byte payload"
        case .startSecureWithPayload(let length): "start-secure packet with a \(length)-byte payload"
        case .registryFrozen: "the registry is frozen: register every type before the service starts"
        case .compressionNotAgreed: "compressed packet but no codec was agreed"
        case .decompressionFailed(let why): "decompression failed: \(why)"
        case .decompressedTooLarge(let length, let limit): "packet decompresses to \(length) bytes, limit \(limit)"
        case .unexpectedPacketBeforeHandshake(let kind): "packet kind \(kind) before the handshake"
        case .malformedHello(let why): "malformed hello: \(why)"
        case .unsupportedProtocolVersion(let version): "unsupported protocol version \(version)"
        case .invalidHelloParameter(let why): "invalid hello parameter: \(why)"
        case .duplicateHello: "second hello after the handshake"
        case .unknownRecord(let byte): "unknown record command 0x\(String(byte, radix: 16))"
        case .rejectWithoutRequest: "reject record for request id 0"
        case .truncatedRecord: "record truncated at the end of the packet"
        case .slotOutOfRange(let slot, let limit): "slot \(slot) out of range (limit \(limit))"
        case .chunkLengthExceedsPacket(let length, let remaining): "chunk of \(length) bytes but \(remaining) left in packet"
        case .slotBusy(let slot): "slot \(slot) already holds an unfinished message"
        case .slotIdle(let slot): "slot \(slot) holds no message"
        case .messageLengthMismatch(let slot): "message in slot \(slot) ended at the wrong place"
        case .messageHeaderTooLong: "message header too long"
        case .invalidMessageFlags(let flags): "invalid message flags 0x\(String(flags, radix: 16))"
        case .inconsistentMessageFlags(let why): "inconsistent message flags: \(why)"
        case .messageTooLarge(let length, let limit): "message body of \(length) bytes exceeds the limit of \(limit)"
        case .receiveBudgetExceeded(let requested, let inUse, let limit, let scope):
            "receiving \(requested) more bytes would exceed the \(scope) budget (\(inUse) of \(limit) in use)"
        case .tooManyStreams(let count): "too many stream fields (\(count))"
        case .invalidStreamSegment(let length): "invalid stream segment length \(length)"
        case .malformedVarint: "malformed varint"
        case .truncatedField(let what): "body ended inside \(what)"
        case .invalidString(let why): "invalid string: \(why)"
        case .collectionTooLarge(let count, let limit): "collection of \(count) elements exceeds the limit of \(limit)"
        case .invalidTag(let tag): "invalid tag byte \(tag)"
        case .nestingTooDeep(let depth): "nesting deeper than \(depth)"
        case .nestedLengthMismatch: "nested value length exceeds its container"
        case .valueOutOfRange(let what): "value out of range for \(what)"
        case .unknownMessageType(let proto, let type): "unknown message type \(proto).\(type)"
        case .streamCountMismatch(let declared, let described): "message declares \(declared) streams, type has \(described)"
        case .connectionEnded: "the connection ended before the message was complete"
        case .unregisteredType(let name): "message type \(name) is not registered"
        case .duplicateRegistration(let what): "duplicate registration: \(what)"
        case .missingStreamSource: "stream field has no source"
        case .streamSourceFailed(let why): "stream source failed: \(why)"
        case .streamSinkFailed(let why): "stream sink failed: \(why)"
        }
    }
}

/// Which receive budget a message would have exceeded.
public enum ReceiveBudgetScope: Sendable, Equatable, CustomStringConvertible {
    /// The connection's own (``ReaderConfiguration/maxReceivingBytes``).
    case connection
    /// The one shared by all connections of a service (``ReaderConfiguration/sharedBudget``).
    case service

    /// `connection` or `service`.
    public var description: String {
        switch self {
        case .connection: "connection"
        case .service: "service"
        }
    }
}
