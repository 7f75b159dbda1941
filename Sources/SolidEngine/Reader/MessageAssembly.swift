/// Rebuilds one message from the chunks of one slot: header, body, then the segments of its out-of-line
/// byte arrays and streams.
///
/// Owned by one reader on one thread; the fields skip dynamic exclusivity checks (measured: they cost
/// about a fifth of the small-message path).
final class MessageAssembly {
    enum Phase {
        case idle, header, body, streams, complete, discarding
    }

    @exclusivity(unchecked) private(set) var phase = Phase.idle
    @exclusivity(unchecked) private var headerBytes: [UInt8] = []
    @exclusivity(unchecked) private(set) var header: MessageHeader?
    @exclusivity(unchecked) private var body: [UInt8] = []
    /// The decoded message, held in a slot of its own: storing, taking and dropping it are then plain
    /// initialise/move/deinitialise of the existential, where an `Optional` existential went through the
    /// runtime's generic value witnesses on every assignment (measured: ~700 instructions per round trip).
    private let messageSlot = UnsafeMutablePointer<any WireMessage>.allocate(capacity: 1)
    @exclusivity(unchecked) private var holdsMessage = false
    /// The receive budget this message is charged to while it is kept across chunks.
    private let account: ReceiveAccount
    /// Bytes charged for this message (its declared body and out-of-line arrays), given back when it ends.
    @exclusivity(unchecked) private var charged = 0

    init(account: ReceiveAccount) { self.account = account }

    deinit {
        dropMessage()
        messageSlot.deallocate()
    }

    private func storeMessage(_ message: consuming any WireMessage) {
        dropMessage()
        messageSlot.initialize(to: message)
        holdsMessage = true
    }

    private func takeMessage() -> any WireMessage {
        precondition(holdsMessage, "no message to take")
        holdsMessage = false
        return messageSlot.move()
    }

    private func dropMessage() {
        guard holdsMessage else { return }
        holdsMessage = false
        messageSlot.deinitialize(count: 1)
    }
    @exclusivity(unchecked) private var sinks: [any ByteSink] = []
    /// The sinks of out-of-line byte arrays, in field order (also in `sinks`); the body is kept in `body`
    /// and decoded again with their arrays once they are complete.
    @exclusivity(unchecked) private var outOfLine: [OutOfLineSink] = []
    @exclusivity(unchecked) private var streamIndex = 0
    @exclusivity(unchecked) private var segmentHeader: [UInt8] = []
    @exclusivity(unchecked) private var segmentRemaining = 0

    var isBusy: Bool { phase != .idle }

    /// Drops the message (cancel record or connection failure): aborts its sinks, goes idle.
    func abort(_ error: WireError) {
        if phase == .streams { for sink in sinks[streamIndex...] { sink.abort(error) } }
        reset()
    }

    private func reset() {
        phase = .idle
        releaseCharge()
        if !headerBytes.isEmpty { headerBytes.removeAll(keepingCapacity: true) }
        header = nil
        if !body.isEmpty || body.capacity > 0 { body = [] }
        dropMessage()
        if !sinks.isEmpty { sinks = [] }
        if !outOfLine.isEmpty { outOfLine = [] }
        streamIndex = 0
        if !segmentHeader.isEmpty { segmentHeader.removeAll(keepingCapacity: true) }
        segmentRemaining = 0
    }

    private func releaseCharge() {
        guard charged > 0 else { return }
        account.release(charged)
        charged = 0
    }

    /// Charges the budget up to `total` bytes for this message; `false` after rejecting it if they do
    /// not fit.
    private func charge(upTo total: UInt64, _ reject: (MessageHeader, WireError) -> Void) -> Bool {
        guard total > UInt64(charged) else { return true }
        if let error = account.reserve(total - UInt64(charged)) {
            discard(error, reject)
            return false
        }
        charged = Int(total)
        return true
    }

    /// Starts a new message (first chunk).
    func start() {
        reset()
        phase = .header
    }

    /// Feeds chunk bytes. Throws connection-level errors; message-level ones go to `reject` and the
    /// rest of the message is dropped.
    func feed(
        _ data: UnsafeRawBufferPointer, context: ReaderContext, reject: (MessageHeader, WireError) -> Void
    ) throws(WireError) {
        var offset = 0
        while offset < data.count {
            let rest = UnsafeRawBufferPointer(rebasing: data[offset...])
            switch phase {
            case .idle:
                preconditionFailure("feed on an idle slot")
            case .header where headerBytes.isEmpty:
                // Fast path: the whole header is in this chunk, parse it in place.
                if let (parsedHeader, used) = try MessageHeader.parse(rest) {
                    offset += used
                    try begin(parsedHeader, context, reject)
                } else {
                    headerBytes.append(contentsOf: rest[0..<min(rest.count, MessageHeader.maxEncodedSize)])
                    offset += min(rest.count, MessageHeader.maxEncodedSize)
                    if headerBytes.count >= MessageHeader.maxEncodedSize { throw .messageHeaderTooLong }
                }
            case .header:
                let take = min(rest.count, MessageHeader.maxEncodedSize - headerBytes.count)
                let before = headerBytes.count
                headerBytes.append(contentsOf: rest[0..<take])
                let parsed = try withBytes(headerBytes) { (bytes) throws(WireError) in try MessageHeader.parse(bytes) }
                guard let (parsedHeader, used) = parsed else {
                    offset += take
                    continue
                }
                offset += used - before
                headerBytes.removeAll(keepingCapacity: true)
                try begin(parsedHeader, context, reject)
            case .body where body.isEmpty && rest.count >= Int(header!.bodyLength):
                // Fast path: the whole body is in this chunk, decode it in place without a copy.
                let length = Int(header!.bodyLength)
                offset += length
                try decodeBody(UnsafeRawBufferPointer(rebasing: rest[0..<length]), context, reject)
            case .body:
                // Kept across chunks: charged at its declared size, but memory grows only as bytes arrive.
                let declared = Int(header!.bodyLength)
                guard charge(upTo: header!.bodyLength, reject) else { continue }
                let take = min(rest.count, declared - body.count)
                ReceiveGrowth.append(UnsafeRawBufferPointer(rebasing: rest[0..<take]), to: &body, declared: declared)
                offset += take
                if body.count == Int(header!.bodyLength) { try finishBody(context, reject) }
            case .streams:
                offset += try feedStream(rest, context, reject)
            case .complete:
                throw .messageLengthMismatch(slot: context.slot)
            case .discarding:
                offset = data.count
            }
        }
    }

    /// The header is known: check the body limit and reserve room for the body.
    private func begin(_ parsed: MessageHeader, _ context: ReaderContext, _ reject: (MessageHeader, WireError) -> Void)
        throws(WireError)
    {
        header = parsed
        guard parsed.bodyLength <= UInt64(context.maxBodyBytes) else {
            discard(.messageTooLarge(length: parsed.bodyLength, limit: context.maxBodyBytes), reject)
            return
        }
        phase = .body
        if parsed.bodyLength == 0 {
            try decodeBody(UnsafeRawBufferPointer(start: nil, count: 0), context, reject)
        }
    }

    private func discard(_ error: WireError, _ reject: (MessageHeader, WireError) -> Void) {
        if phase == .streams { for sink in sinks[streamIndex...] { sink.abort(error) } }
        phase = .discarding
        releaseCharge()
        body = []
        dropMessage()
        sinks = []
        outOfLine = []
        reject(header!, error)
    }

    /// The body arrived in pieces and is complete in `body`.
    private func finishBody(_ context: ReaderContext, _ reject: (MessageHeader, WireError) -> Void) throws(WireError) {
        let complete = body
        body = []
        try withBytes(complete) { (bytes) throws(WireError) in try decodeBody(bytes, kept: complete, context, reject) }
    }

    private func decodeBody(
        _ bytes: UnsafeRawBufferPointer, kept: [UInt8]? = nil, _ context: ReaderContext,
        _ reject: (MessageHeader, WireError) -> Void
    ) throws(WireError) {
        let header = header!
        guard let decoder = context.cache.decoder(for: header.typeID, in: context.registry) else {
            discard(.unknownMessageType(protocol: UInt64(header.typeID.protocolID), type: UInt64(header.typeID.typeIndex)), reject)
            return
        }
        let decodedMessage: any WireMessage
        let layout: BodyLayout
        var none: [[UInt8]] = []
        do {
            (decodedMessage, layout) = try decoder.decode(
                bytes, version: header.version, limits: context.limits, adopting: &none)
        } catch {
            discard(error, reject)
            return
        }
        guard layout.streamCount == header.streamCount else {
            discard(.streamCountMismatch(declared: header.streamCount, described: layout.streamCount), reject)
            return
        }
        storeMessage(consume decodedMessage)
        if layout.tail.isEmpty {
            phase = .complete
            return
        }
        // Out-of-line arrays are held in memory like the body: together they are bounded by maxBodyBytes.
        let total = header.bodyLength + UInt64(layout.outOfLineBytes)
        guard total <= UInt64(context.maxBodyBytes) else {
            discard(.messageTooLarge(length: total, limit: context.maxBodyBytes), reject)
            return
        }
        // The kept body and the arrays stay in memory until the tail has arrived.
        if layout.hasOutOfLineBytes && !charge(upTo: total, reject) { return }
        var streamSinks: [any ByteSink] = []
        if header.streamCount > 0 {
            streamSinks = context.makeSinks(header, messageSlot.pointee)
            guard streamSinks.count == header.streamCount else {
                discard(.streamSinkFailed("\(streamSinks.count) sinks for \(header.streamCount) streams"), reject)
                return
            }
        }
        if !layout.hasOutOfLineBytes {
            sinks = streamSinks
            phase = .streams
            return
        }
        body = kept ?? Array(bytes)  // decoded again once the arrays are in
        var nextStream = 0
        sinks.reserveCapacity(layout.tail.count)
        for item in layout.tail {
            if item < 0 {
                sinks.append(streamSinks[nextStream])
                nextStream += 1
            } else {
                let sink = OutOfLineSink(count: item, prepareLarge: context.prepareLargeArray)
                outOfLine.append(sink)
                sinks.append(sink)
            }
        }
        phase = .streams
    }

    /// Every out-of-line array arrived: decode the kept body again, moving the arrays into their fields.
    private func adoptOutOfLine(_ context: ReaderContext, _ reject: (MessageHeader, WireError) -> Void) {
        let header = header!
        var arrays = outOfLine.map { $0.take() }
        outOfLine = []
        let kept = body
        body = []
        do {
            guard let decoder = context.cache.decoder(for: header.typeID, in: context.registry) else {
                preconditionFailure("the type was decoded before")
            }
            let adopted = try withBytes(kept) { (bytes) throws(WireError) in
                try decoder.decode(bytes, version: header.version, limits: context.limits, adopting: &arrays).0
            }
            storeMessage(adopted)
        } catch {
            discard(error, reject)
        }
    }

    /// Stream bytes: u16 segment length, then data; length 0 ends the current stream.
    private func feedStream(
        _ data: UnsafeRawBufferPointer, _ context: ReaderContext, _ reject: (MessageHeader, WireError) -> Void
    ) throws(WireError) -> Int {
        if segmentRemaining == 0 {
            segmentHeader.append(data[0])
            guard segmentHeader.count == 2 else { return 1 }
            let length = Int(segmentHeader[0]) | Int(segmentHeader[1]) << 8
            segmentHeader.removeAll(keepingCapacity: true)
            guard length <= context.maxSegment else { throw .invalidStreamSegment(length) }
            if length == 0 {
                do {
                    try sinks[streamIndex].finish()
                } catch {
                    discard(Self.sinkError(error), reject)
                    return 1
                }
                streamIndex += 1
                if streamIndex == sinks.count {
                    phase = .complete
                    if !outOfLine.isEmpty { adoptOutOfLine(context, reject) }
                }
                return 1
            }
            segmentRemaining = length
            return 1
        }
        let take = min(data.count, segmentRemaining)
        do {
            try sinks[streamIndex].write(UnsafeRawBufferPointer(rebasing: data[0..<take]))
        } catch {
            segmentRemaining = 0
            discard(Self.sinkError(error), reject)
            return take
        }
        segmentRemaining -= take
        return take
    }

    private static func sinkError(_ error: any Error) -> WireError {
        if let mismatch = error as? OutOfLineSink.Mismatch { return mismatch.wireError }
        return .streamSinkFailed("\(error)")
    }

    /// Ends the message on its last chunk: a complete one goes to `deliver` (a rejected one was reported
    /// when it happened); anything else is a length mismatch.
    func end(slot: Int, deliver: (MessageHeader, any WireMessage) -> Void) throws(WireError) {
        switch phase {
        case .complete:
            // Moved out and lent on, never copied: copying an existential goes through the runtime's
            // value witnesses (measured: each copy and destroy ~100–250 instructions per round trip;
            // binding it out of a returned enum made one).
            let header = header!
            let message = takeMessage()
            reset()
            deliver(header, message)
        case .discarding:
            reset()
        default:
            throw .messageLengthMismatch(slot: slot)
        }
    }
}

/// What an assembly needs from its reader.
/// A class, so passing it per chunk costs one reference, not a copy of every field.
final class ReaderContext {
    let registry: MessageRegistry
    let cache = DecoderCache()
    let limits: DecodingLimits
    let maxBodyBytes: Int
    let maxSegment: Int
    @exclusivity(unchecked) var slot = 0
    let makeSinks: (MessageHeader, any WireMessage) -> [any ByteSink]
    let prepareLargeArray: (@Sendable (UnsafeMutableRawBufferPointer) -> Void)?

    init(
        registry: MessageRegistry, limits: DecodingLimits, maxBodyBytes: Int, maxSegment: Int,
        makeSinks: @escaping (MessageHeader, any WireMessage) -> [any ByteSink],
        prepareLargeArray: (@Sendable (UnsafeMutableRawBufferPointer) -> Void)? = nil
    ) {
        self.prepareLargeArray = prepareLargeArray
        self.registry = registry
        self.limits = limits
        self.maxBodyBytes = maxBodyBytes
        self.maxSegment = maxSegment
        self.makeSinks = makeSinks
    }
}

/// `withUnsafeBytes` keeping the typed error (the standard one rethrows `any Error`).
@inline(__always)
func withBytes<R>(_ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(WireError) -> R) throws(WireError) -> R {
    let result: Result<R, WireError> = array.withUnsafeBytes { bytes in
        Result { () throws(WireError) in try body(bytes) }
    }
    return try result.get()
}

/// Remembers the last type's decoder: consecutive messages of one type skip the registry lookup.
final class DecoderCache {
    @exclusivity(unchecked) private var lastID: MessageTypeID?
    @exclusivity(unchecked) private var lastDecoder: (any MessageDecoding)?

    @inline(__always)
    func decoder(for id: MessageTypeID, in registry: MessageRegistry) -> (any MessageDecoding)? {
        if id == lastID, let lastDecoder { return lastDecoder }
        let found = registry.decoder(for: id)
        if found != nil {
            lastID = id
            lastDecoder = found
        }
        return found
    }
}
