/// What the reader found in the bytes it was given.
public enum ReaderEvent {
    /// The peer's hello arrived; both sides now use `agreed`.
    case handshake(remote: HelloParameters, agreed: AgreedParameters)
    /// A keep-alive packet.
    case keepAlive
    /// The peer's start-secure packet: it sends nothing more in plain. The reader is suspended: what
    /// follows in the input is kept (``PacketReader/takeLeftover()``) for the TLS stream, until
    /// ``PacketReader/resume()``.
    case startSecure
    /// A complete message (its streams, if any, have finished into their sinks).
    case message(MessageHeader, any WireMessage)
    /// One message was rejected (unknown type, bad field, sink failure…); the connection goes on.
    case rejected(MessageHeader, WireError)
    /// The peer abandoned the message it was sending in a slot; what arrived of it was dropped.
    case canceledByPeer(MessageHeader?)
    /// The peer no longer wants the response to the request it got from us with this id.
    case cancelRequest(UInt64)
    /// The peer rejected our request with this id; no response will come.
    case rejectedByPeer(requestID: UInt64, PeerRejection)
    /// The peer starts no new message on this connection (PROTOCOL.md §4.1); what it started goes on.
    case goingAway
}

/// Settings of a reader.
public struct ReaderConfiguration {
    /// This side's hello; the reader agrees with the peer's hello on the smaller values.
    public var local = HelloParameters()
    /// Codecs this side can decompress with.
    public var codecs: [any PacketCodec] = []
    /// Field limits.
    public var limits = DecodingLimits()
    /// Largest message body (bounded fields) accepted; streams are not counted.
    public var maxBodyBytes = 512 * 1024 * 1024
    /// Most bytes of messages still being received that this connection holds at once (bodies arriving
    /// in pieces and out-of-line byte arrays, at their declared sizes; streams are not held). A message
    /// that would go over it is rejected on its own. Keep it at least ``maxBodyBytes``.
    public var maxReceivingBytes = 1024 * 1024 * 1024
    /// A budget shared with other connections (a service's), charged together with ``maxReceivingBytes``.
    public var sharedBudget: ReceiveBudget?
    /// Called with the storage of each out-of-line byte array of at least ``largeArrayBytes`` before its
    /// bytes arrive (SolidIPC asks the kernel for huge pages there: a fresh 256 MiB array otherwise costs
    /// 65,536 page faults as it fills). `nil`: nothing is done.
    public var prepareLargeArray: (@Sendable (UnsafeMutableRawBufferPointer) -> Void)?
    /// Size from which ``prepareLargeArray`` is called.
    public static let largeArrayBytes = 4 * 1024 * 1024

    /// The defaults: 64 KiB packets, 64 slots, no codec.
    public init() {}
}

/// Reads the byte stream of one connection: packets, the handshake, records and messages.
///
/// Accepts input split anywhere (one byte at a time works) and validates everything a peer declares
/// before acting on it; `docs/PROTOCOL.md` lists every check. A connection-level violation makes
/// ``consume(_:)`` throw, and the reader stays failed. Memory: one packet buffer, one decompression
/// buffer, and per message in flight its header and body (bounded by the configuration).
///
/// Not thread-safe: one reader per connection. (For that reason the hot fields skip dynamic exclusivity
/// checks, which cost about a fifth of the small-message path.)
public final class PacketReader {
    /// Receives everything the reader finds, in order.
    @exclusivity(unchecked) public var onEvent: (ReaderEvent) -> Void = { _ in }
    /// When set, receives every complete message instead of ``onEvent`` (which then gets no
    /// ``ReaderEvent/message(_:_:)``): the message is lent to it, never copied (binding it out of an
    /// event copies it through its value witnesses: one retain, release and ~200 instructions a message).
    @exclusivity(unchecked) public var onMessage: ((MessageHeader, any WireMessage) -> Void)?
    /// Provides the sinks of a message's stream fields once its body is decoded (one per stream, in
    /// field order). The default provides none, which rejects messages that have streams.
    @exclusivity(unchecked) public var makeSinks: (MessageHeader, any WireMessage) -> [any ByteSink] = { _, _ in [] } {
        didSet { context = nil }
    }

    /// Bytes of packet buffers this reader holds: none while every packet arrives whole in one call to
    /// ``consume(_:)`` (it is parsed where it lies); the agreed packet size once one arrives split, and
    /// the agreed packet size again for decompression when a codec was agreed.
    public var bufferBytes: Int { payload.count + (decompressed?.count ?? 0) }

    /// The parameters in force (after the handshake, or given at creation).
    public var agreed: AgreedParameters? { agreedParameters }
    @exclusivity(unchecked) private var agreedParameters: AgreedParameters?
    private let configuration: ReaderConfiguration
    private let registry: MessageRegistry
    @exclusivity(unchecked) private var codec: (any PacketCodec)?

    @exclusivity(unchecked) private var headerBuffer: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
    @exclusivity(unchecked) private var headerFilled = 0
    @exclusivity(unchecked) private var kind = PacketFormat.Kind.data
    @exclusivity(unchecked) private var flags: UInt8 = 0
    @exclusivity(unchecked) private var payloadLength = 0
    @exclusivity(unchecked) private var payloadFilled = 0
    /// Holds the payload of a packet that arrives split across calls: allocated the first time one does
    /// (hello-sized until the handshake, then the agreed packet size).
    @exclusivity(unchecked) private var payload = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    /// Decompression output: allocated only when a codec was agreed.
    @exclusivity(unchecked) private var decompressed: UnsafeMutableRawBufferPointer?
    /// One assembly per slot, made the first time the peer uses the slot (a connection with one message
    /// at a time uses a few of its 64 slots: measured, 64 assemblies made at the handshake were about
    /// 15 KiB of each idle connection's memory).
    @exclusivity(unchecked) private var slots: [MessageAssembly?] = []
    @exclusivity(unchecked) private var failure: WireError?
    /// After a start-secure packet: input is kept, not parsed.
    public var isSuspended: Bool { suspended }
    // Stored privately: other modules read a stored class property with a dynamic exclusivity check even
    // when it is marked unchecked; the getter has none.
    @exclusivity(unchecked) private var suspended = false
    @exclusivity(unchecked) private var leftover: [UInt8] = []
    /// What assemblies need, built once (and again when ``makeSinks`` changes).
    @exclusivity(unchecked) private var context: ReaderContext?
    /// Bytes held for messages still arriving, against this connection's and the shared budget.
    private let account: ReceiveAccount

    /// `true` while some message has started arriving and not ended.
    public var hasMessagesInProgress: Bool { slots.contains { $0?.isBusy ?? false } }

    /// Bytes this reader holds for messages still arriving (charged at their declared sizes).
    public var receivingBytes: Int { account.inUse }

    /// A reader that first expects the peer's hello.
    public init(configuration: ReaderConfiguration, registry: MessageRegistry) {
        self.configuration = configuration
        self.registry = registry
        account = ReceiveAccount(connectionLimit: configuration.maxReceivingBytes, shared: configuration.sharedBudget)
    }

    /// A reader whose parameters are already agreed (no hello expected), for in-memory use and tests.
    public convenience init(
        agreedPacketSize: Int, slots: Int, codec: (any PacketCodec)? = nil, registry: MessageRegistry,
        limits: DecodingLimits = DecodingLimits(), maxBodyBytes: Int = 512 * 1024 * 1024,
        maxReceivingBytes: Int = 1024 * 1024 * 1024, sharedBudget: ReceiveBudget? = nil
    ) {
        var configuration = ReaderConfiguration()
        configuration.local = HelloParameters(packetSize: agreedPacketSize, slots: slots, codecMask: codec?.maskBit ?? 0)
        configuration.codecs = codec.map { [$0] } ?? []
        configuration.limits = limits
        configuration.maxBodyBytes = maxBodyBytes
        configuration.maxReceivingBytes = maxReceivingBytes
        configuration.sharedBudget = sharedBudget
        self.init(configuration: configuration, registry: registry)
        adopt(AgreedParameters(packetSize: agreedPacketSize, slots: slots, codecBit: codec?.maskBit ?? 0))
    }

    /// The connection is gone: every message still arriving is dropped and its sinks are aborted with
    /// ``WireError/connectionEnded``, now rather than whenever the reader is freed. Idempotent.
    package func abandonIncomplete() {
        for case let slot? in slots where slot.isBusy { slot.abort(.connectionEnded) }
    }

    deinit {
        for case let slot? in slots where slot.isBusy { slot.abort(.connectionEnded) }
        payload.deallocate()
        decompressed?.deallocate()
    }

    private func adopt(_ parameters: AgreedParameters) {
        // The payload buffer is allocated again at the agreed size when a packet first arrives split (an
        // idle connection whose packets arrive whole holds none); decompression only with a codec.
        payload.deallocate()
        payload = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        decompressed?.deallocate()
        decompressed = nil
        agreedParameters = parameters
        context = nil
        codec = configuration.codecs.first { $0.maskBit == parameters.codecBit && parameters.codecBit != 0 }
        if codec != nil { decompressed = .allocate(byteCount: parameters.packetSize, alignment: 16) }
        slots = Array(repeating: nil, count: parameters.slots)
    }

    /// Feeds bytes as they arrive. Events are reported through ``onEvent`` before this returns.
    /// - Throws: the ``WireError`` that makes the connection unusable; every later call throws it again.
    public func consume(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        if let failure { throw failure }
        if isSuspended {
            leftover.append(contentsOf: bytes)
            return
        }
        do {
            try consumeUnchecked(bytes)
        } catch {
            failure = error
            for case let slot? in slots where slot.isBusy { slot.abort(error) }
            throw error
        }
    }

    /// The bytes that followed the peer's start-secure packet (they belong to TLS); emptied.
    public func takeLeftover() -> [UInt8] {
        defer { leftover = [] }
        return leftover
    }

    /// Parses input again (once the connection runs over TLS).
    public func resume() {
        suspended = false
        leftover = []
    }

    private func consumeUnchecked(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        var offset = 0
        while offset < bytes.count {
            if headerFilled < PacketFormat.headerSize {
                if headerFilled == 0 && bytes.count - offset >= PacketFormat.headerSize {
                    // A whole header: taken at once.
                    withUnsafeMutableBytes(of: &headerBuffer) {
                        $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + PacketFormat.headerSize)]))
                    }
                    headerFilled = PacketFormat.headerSize
                    offset += PacketFormat.headerSize
                } else {
                    withUnsafeMutableBytes(of: &headerBuffer) { $0[headerFilled] = bytes[offset] }
                    headerFilled += 1
                    offset += 1
                }
                guard headerFilled == PacketFormat.headerSize else { continue }
                try startPacket()
                // A payload that is all here is parsed where it lies (no copy); a split one is copied below.
                guard bytes.count - offset >= payloadLength else { continue }
                let packet = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + payloadLength)])
                offset += payloadLength
                try finishPacket(packet)
                if isSuspended {
                    leftover.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset...]))
                    return
                }
                continue
            }
            if payloadFilled == 0 && payload.count < payloadLength { allocatePayload() }
            let take = min(bytes.count - offset, payloadLength - payloadFilled)
            (payload.baseAddress! + payloadFilled).copyMemory(from: bytes.baseAddress! + offset, byteCount: take)
            payloadFilled += take
            offset += take
            if payloadFilled == payloadLength {
                try finishPacket(UnsafeRawBufferPointer(start: payload.baseAddress!, count: payloadLength))
            }
        }
    }

    /// Validates a complete packet header before any payload byte is accepted.
    private func startPacket() throws(WireError) {
        let (rawKind, rawFlags, low, high) = headerBuffer
        guard let kind = PacketFormat.Kind(rawValue: rawKind) else { throw .unknownPacketKind(rawKind) }
        let length = Int(low) | Int(high) << 8
        guard let agreed else {
            guard kind == .hello else { throw .unexpectedPacketBeforeHandshake(rawKind) }
            guard rawFlags == 0 else { throw .invalidPacketFlags(kind: rawKind, flags: rawFlags) }
            guard length <= PacketFormat.maxHelloPayload else {
                throw .packetTooLarge(length: length, limit: PacketFormat.maxHelloPayload)
            }
            self.kind = kind
            self.flags = 0
            payloadLength = length
            payloadFilled = 0
            return
        }
        switch kind {
        case .hello:
            throw .duplicateHello
        case .keepAlive:
            guard rawFlags == 0 else { throw .invalidPacketFlags(kind: rawKind, flags: rawFlags) }
            guard length == 0 else { throw .keepAliveWithPayload(length) }
        case .startSecure:
            guard rawFlags == 0 else { throw .invalidPacketFlags(kind: rawKind, flags: rawFlags) }
            guard length == 0 else { throw .startSecureWithPayload(length) }
        case .data:
            guard rawFlags & ~PacketFormat.compressedFlag == 0 else { throw .invalidPacketFlags(kind: rawKind, flags: rawFlags) }
            if rawFlags & PacketFormat.compressedFlag != 0 && codec == nil { throw .compressionNotAgreed }
        }
        let limit = agreed.packetSize - PacketFormat.headerSize
        guard length <= limit else { throw .packetTooLarge(length: length, limit: limit) }
        self.kind = kind
        self.flags = rawFlags
        payloadLength = length
        payloadFilled = 0
    }

    /// The buffer for packets that arrive split: the largest payload allowed now (kept for later ones).
    private func allocatePayload() {
        payload.deallocate()
        let size = agreed.map { $0.packetSize - PacketFormat.headerSize } ?? PacketFormat.maxHelloPayload
        payload = .allocate(byteCount: size, alignment: 16)
    }

    /// Handles one whole packet whose payload is `bytes` (in the caller's input or in `payload`).
    private func finishPacket(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        headerFilled = 0
        switch kind {
        case .hello:
            let remote = try Hello.parse(bytes)
            let agreed = Hello.agree(local: configuration.local, remote: remote)
            adopt(agreed)
            onEvent(.handshake(remote: remote, agreed: agreed))
        case .keepAlive:
            onEvent(.keepAlive)
        case .startSecure:
            suspended = true
            onEvent(.startSecure)
        case .data:
            if flags & PacketFormat.compressedFlag != 0 {
                let limit = agreed!.packetSize - PacketFormat.headerSize
                let output = UnsafeMutableRawBufferPointer(start: decompressed!.baseAddress!, count: limit)
                let length = try codec!.decompress(bytes, into: output)
                guard length <= limit else { throw .decompressedTooLarge(length: length, limit: limit) }
                try readRecords(UnsafeRawBufferPointer(start: output.baseAddress!, count: length))
            } else {
                try readRecords(bytes)
            }
        }
    }

    private func readRecords(_ records: UnsafeRawBufferPointer) throws(WireError) {
        var offset = 0
        while offset < records.count {
            let byte = records[offset]
            let flagBits = byte & 0xF0
            guard let command = PacketFormat.Command(rawValue: byte & 0x0F) else { throw .unknownRecord(byte) }
            offset += 1
            switch command {
            case .chunk:
                guard flagBits & ~(PacketFormat.firstChunkFlag | PacketFormat.lastChunkFlag) == 0 else {
                    throw .unknownRecord(byte)
                }
                let slot = try readSlot(records, &offset)
                guard records.count - offset >= 2 else { throw .truncatedRecord }
                let length = Int(records[offset]) | Int(records[offset + 1]) << 8
                offset += 2
                guard length <= records.count - offset else {
                    throw .chunkLengthExceedsPacket(length: length, remaining: records.count - offset)
                }
                try chunk(
                    slot: slot, UnsafeRawBufferPointer(rebasing: records[offset..<(offset + length)]),
                    first: flagBits & PacketFormat.firstChunkFlag != 0, last: flagBits & PacketFormat.lastChunkFlag != 0)
                offset += length
            case .cancelMessage:
                guard flagBits == 0 else { throw .unknownRecord(byte) }
                let slot = try readSlot(records, &offset)
                guard let assembly = slots[slot], assembly.isBusy else { throw .slotIdle(slot) }
                let header = assembly.header
                assembly.abort(.messageLengthMismatch(slot: slot))
                onEvent(.canceledByPeer(header))
            case .cancelRequest:
                guard flagBits == 0 else { throw .unknownRecord(byte) }
                let requestID = try readVarint(records, &offset)
                onEvent(.cancelRequest(requestID))
            case .reject:
                guard flagBits == 0 else { throw .unknownRecord(byte) }
                let requestID = try readVarint(records, &offset)
                guard records.count - offset >= 2 else { throw .truncatedRecord }
                let code = RejectCode(rawValue: records[offset])
                let length = Int(records[offset + 1])
                offset += 2
                guard records.count - offset >= length else { throw .truncatedRecord }
                guard requestID != 0 else { throw .rejectWithoutRequest }
                let reason = String(decoding: UnsafeRawBufferPointer(rebasing: records[offset..<(offset + length)]), as: UTF8.self)
                offset += length
                onEvent(.rejectedByPeer(requestID: requestID, PeerRejection(code: code, reason: reason)))
            case .goingAway:
                guard flagBits == 0 else { throw .unknownRecord(byte) }
                onEvent(.goingAway)
            }
        }
    }

    private func readVarint(_ records: UnsafeRawBufferPointer, _ offset: inout Int) throws(WireError) -> UInt64 {
        switch Varint.read(records, at: offset) {
        case .incomplete: throw .truncatedRecord
        case .malformed: throw .malformedVarint
        case .value(let value, let length):
            offset += length
            return value
        }
    }

    private func readSlot(_ records: UnsafeRawBufferPointer, _ offset: inout Int) throws(WireError) -> Int {
        let value = try readVarint(records, &offset)
        guard value < UInt64(slots.count) else { throw .slotOutOfRange(slot: Int(clamping: value), limit: slots.count) }
        return Int(value)
    }

    private func chunk(slot: Int, _ data: UnsafeRawBufferPointer, first: Bool, last: Bool) throws(WireError) {
        let assembly: MessageAssembly
        if let existing = slots[slot] {
            assembly = existing
        } else {
            assembly = MessageAssembly(account: account)
            slots[slot] = assembly
        }
        if first {
            guard !assembly.isBusy else { throw .slotBusy(slot) }
            assembly.start()
        } else {
            guard assembly.isBusy else { throw .slotIdle(slot) }
        }
        let context: ReaderContext
        if let existing = self.context {
            context = existing
        } else {
            context = ReaderContext(
                registry: registry, limits: configuration.limits, maxBodyBytes: configuration.maxBodyBytes,
                maxSegment: agreed!.packetSize, makeSinks: makeSinks,
                prepareLargeArray: configuration.prepareLargeArray)
            self.context = context
        }
        context.slot = slot
        try assembly.feed(data, context: context) { header, error in onEvent(.rejected(header, error)) }
        guard last else { return }
        try assembly.end(slot: slot) { header, message in
            if let onMessage { onMessage(header, message) } else { onEvent(.message(header, message)) }
        }
    }
}
