/// What an assembly reports when its message ends.
enum AssemblyEnd {
    /// Not ended yet.
    case pending
    /// Complete and decoded.
    case delivered(MessageHeader, any WireMessage)
    /// Rejected on its own (reported once, when it happened); its remaining bytes were dropped.
    case rejected
}

/// Rebuilds one message from the chunks of one slot: header, body, then stream segments.
final class MessageAssembly {
    enum Phase {
        case idle, header, body, streams, complete, discarding
    }

    private(set) var phase = Phase.idle
    private var headerBytes: [UInt8] = []
    private(set) var header: MessageHeader?
    private var body: [UInt8] = []
    private var message: (any WireMessage)?
    private var sinks: [any ByteSink] = []
    private var streamIndex = 0
    private var segmentHeader: [UInt8] = []
    private var segmentRemaining = 0

    var isBusy: Bool { phase != .idle }

    /// Drops the message (cancel record or connection failure): aborts its sinks, goes idle.
    func abort(_ error: WireError) {
        if phase == .streams { for sink in sinks[streamIndex...] { sink.abort(error) } }
        reset()
    }

    private func reset() {
        phase = .idle
        headerBytes.removeAll(keepingCapacity: true)
        header = nil
        body = []
        message = nil
        sinks = []
        streamIndex = 0
        segmentHeader.removeAll(keepingCapacity: true)
        segmentRemaining = 0
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
                header = parsedHeader
                guard parsedHeader.bodyLength <= UInt64(context.maxBodyBytes) else {
                    discard(.messageTooLarge(length: parsedHeader.bodyLength, limit: context.maxBodyBytes), reject)
                    continue
                }
                // Reserve, never zero-fill: pages are touched only as bytes arrive.
                body.reserveCapacity(Int(parsedHeader.bodyLength))
                phase = .body
                if parsedHeader.bodyLength == 0 { try finishBody(context, reject) }
            case .body:
                let take = min(rest.count, Int(header!.bodyLength) - body.count)
                body.append(contentsOf: rest[0..<take])
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

    private func discard(_ error: WireError, _ reject: (MessageHeader, WireError) -> Void) {
        if phase == .streams { for sink in sinks[streamIndex...] { sink.abort(error) } }
        phase = .discarding
        body = []
        message = nil
        sinks = []
        reject(header!, error)
    }

    private func finishBody(_ context: ReaderContext, _ reject: (MessageHeader, WireError) -> Void) throws(WireError) {
        let header = header!
        guard let decoder = context.registry.decoder(for: header.typeID) else {
            discard(.unknownMessageType(protocol: UInt64(header.typeID.protocolID), type: UInt64(header.typeID.typeIndex)), reject)
            return
        }
        let decoded: (any WireMessage, Int)
        do {
            decoded = try withBytes(body) { (bytes) throws(WireError) in
                try decoder.decode(bytes, version: header.version, limits: context.limits)
            }
        } catch {
            discard(error, reject)
            return
        }
        body = []
        guard decoded.1 == header.streamCount else {
            discard(.streamCountMismatch(declared: header.streamCount, described: decoded.1), reject)
            return
        }
        message = decoded.0
        if header.streamCount == 0 {
            phase = .complete
            return
        }
        sinks = context.makeSinks(header, decoded.0)
        guard sinks.count == header.streamCount else {
            let provided = sinks.count
            sinks = []
            discard(.streamSinkFailed("\(provided) sinks for \(header.streamCount) streams"), reject)
            return
        }
        phase = .streams
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
                    discard(.streamSinkFailed("\(error)"), reject)
                    return 1
                }
                streamIndex += 1
                if streamIndex == sinks.count { phase = .complete }
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
            discard(.streamSinkFailed("\(error)"), reject)
            return take
        }
        segmentRemaining -= take
        return take
    }

    /// The slot's last chunk arrived: the message must be complete (or discarded).
    func end(slot: Int) throws(WireError) -> AssemblyEnd {
        switch phase {
        case .complete:
            let result = AssemblyEnd.delivered(header!, message!)
            reset()
            return result
        case .discarding:
            reset()
            return .rejected
        default:
            throw .messageLengthMismatch(slot: slot)
        }
    }
}

/// What an assembly needs from its reader.
struct ReaderContext {
    let registry: MessageRegistry
    let limits: DecodingLimits
    let maxBodyBytes: Int
    let maxSegment: Int
    let slot: Int
    let makeSinks: (MessageHeader, any WireMessage) -> [any ByteSink]
}

/// `withUnsafeBytes` keeping the typed error (the standard one rethrows `any Error`).
@inline(__always)
func withBytes<R>(_ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(WireError) -> R) throws(WireError) -> R {
    let result: Result<R, WireError> = array.withUnsafeBytes { bytes in
        Result { () throws(WireError) in try body(bytes) }
    }
    return try result.get()
}
