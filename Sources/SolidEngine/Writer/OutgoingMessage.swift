/// One message on its way out: its encoded header and body, then its streams, produced a chunk at a time.
final class OutgoingMessage {
    let id: UInt64
    let synchronous: Bool
    var slot = -1
    /// Header and body bytes.
    private let preamble: [UInt8]
    private var preambleOffset = 0
    private let streams: [any ByteSource]
    private var streamIndex = 0
    /// `true` once any byte went out: cancelling then needs a cancel record.
    private(set) var started = false

    init(id: UInt64, header: MessageHeader, body: [UInt8], streams: [any ByteSource]) {
        self.id = id
        self.synchronous = header.flags.contains(.synchronous)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(MessageHeader.maxEncodedSize + body.count)
        header.encode(into: &bytes)
        bytes.append(contentsOf: body)
        preamble = bytes
        self.streams = streams
    }

    var isFinished: Bool { preambleOffset == preamble.count && streamIndex == streams.count }

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
