/// One message on its way out: its encoded header and body, then its streams, produced a chunk at a time.
///
/// Used only by its writer's thread; exclusivity is unchecked on the hot fields (measured: the dynamic
/// checks cost about a fifth of the small-message path). Only its writer holds it, so the writer recycles
/// it, with its buffer, for a later message (``reuse(id:header:buffer:headerRoom:streams:)``).
final class OutgoingMessage {
    @exclusivity(unchecked) private(set) var id: UInt64 = 0
    @exclusivity(unchecked) private(set) var synchronous = false
    /// The request this message answers (0 when it is not a response).
    @exclusivity(unchecked) private(set) var responseTo: UInt64 = 0
    /// Called once with the outcome (see ``MessageWriter/enqueue(_:registry:flags:requestID:responseTo:completion:observer:limited:)``).
    @exclusivity(unchecked) var completion: ((MessageWriter.Outcome) -> Void)?
    /// Told once with the outcome, like `completion`, without a closure to allocate.
    @exclusivity(unchecked) var observer: (any MessageOutcomeObserver)?
    @exclusivity(unchecked) var slot = -1
    /// Header and body bytes, from `preambleOffset` on.
    @exclusivity(unchecked) private var preamble: [UInt8] = []
    @exclusivity(unchecked) private var preambleOffset = 0
    @exclusivity(unchecked) private var streams: [any ByteSource] = []
    @exclusivity(unchecked) private var streamIndex = 0
    /// Bytes of it the writer still counts as queued (``MessageWriter/queuedBytes``): its header and body
    /// and its out-of-line arrays, less what was produced so far. Set by the writer.
    @exclusivity(unchecked) var accounted = 0
    /// Counted in the writer's ``MessageWriter/limitedQueuedBytes`` and ``MessageWriter/limitedPendingCount``.
    @exclusivity(unchecked) var limited = true
    /// `true` once any byte went out: cancelling then needs a cancel record.
    @exclusivity(unchecked) private(set) var started = false
    /// Its type and in-line body size (the header's), for ``MessageWriter/onWritten``.
    @exclusivity(unchecked) private(set) var typeID = MessageTypeID(protocolID: 0, typeIndex: 0)
    @exclusivity(unchecked) private(set) var bodyLength = 0

    /// `buffer` holds the body after `headerRoom` spare bytes; the header is written just before the body
    /// (no copy) when it fits, else header and body are joined in a new buffer.
    init(id: UInt64, header: MessageHeader, buffer: consuming [UInt8], headerRoom: Int, streams: [any ByteSource]) {
        reuse(id: id, header: header, buffer: buffer, headerRoom: headerRoom, streams: streams)
    }

    /// Makes this (finished, recycled) object carry a new message; see ``init(id:header:buffer:headerRoom:streams:)``.
    func reuse(id: UInt64, header: MessageHeader, buffer: consuming [UInt8], headerRoom: Int, streams: [any ByteSource]) {
        self.id = id
        self.synchronous = header.flags.contains(.synchronous)
        self.responseTo = header.responseTo
        typeID = header.typeID
        bodyLength = Int(header.bodyLength)
        self.streams = streams
        slot = -1
        streamIndex = 0
        started = false
        if headerRoom >= MessageHeader.maxEncodedSize {
            var bytes = consume buffer  // moved: writing into a shared array would copy it
            let start = bytes.withUnsafeMutableBytes { raw in
                // Encode at the front of the room, then move it up against the body.
                let size = header.encode(to: raw.baseAddress!)
                let start = headerRoom - size
                if start > 0 { (raw.baseAddress! + start).copyMemory(from: raw.baseAddress!, byteCount: size) }
                return start
            }
            preamble = bytes
            preambleOffset = start
        } else {
            var encoded: [UInt8] = []
            encoded.reserveCapacity(MessageHeader.maxEncodedSize + buffer.count - headerRoom)
            header.encode(into: &encoded)
            encoded.append(contentsOf: buffer[headerRoom...])
            preamble = encoded
            preambleOffset = 0
        }
    }

    var isFinished: Bool { preambleOffset == preamble.count && streamIndex == streams.count }

    /// Lets go of everything the finished message held and hands back its buffer (its capacity is what
    /// the writer may reuse for the next message's encoding).
    func recycle() -> [UInt8] {
        completion = nil
        observer = nil
        if !streams.isEmpty { streams = [] }
        var buffer: [UInt8] = []
        swap(&buffer, &preamble)
        preambleOffset = 0
        return buffer
    }

    /// Writes the next bytes of the message into `space`; returns how many. Streams are written as
    /// segments: u16 little-endian length, then that many bytes; length 0 ends a stream.
    func produce(into space: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        var written = 0
        if preambleOffset < preamble.count {
            let count = min(space.count, preamble.count - preambleOffset)
            preamble.withUnsafeBytes { bytes in
                space.baseAddress!.copyMemory(from: bytes.baseAddress! + preambleOffset, byteCount: count)
            }
            preambleOffset += count
            written = count
        }
        while preambleOffset == preamble.count && streamIndex < streams.count && space.count - written >= 3 {
            let base = space.baseAddress! + written
            let room = min(space.count - written - 2, Int(UInt16.max))
            let count: Int
            do {
                count = try streams[streamIndex].read(into: UnsafeMutableRawBufferPointer(start: base + 2, count: room))
            } catch {
                throw .streamSourceFailed("\(error)")
            }
            guard count >= 0 && count <= room else { throw .streamSourceFailed("read returned \(count) for \(room) bytes") }
            base.storeBytes(of: UInt8(truncatingIfNeeded: count), as: UInt8.self)
            base.storeBytes(of: UInt8(truncatingIfNeeded: count >> 8), toByteOffset: 1, as: UInt8.self)
            written += 2 + count
            if count == 0 { streamIndex += 1 }
        }
        if written > 0 { started = true }
        return written
    }
}
