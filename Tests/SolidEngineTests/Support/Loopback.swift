import SolidEngine

/// Runs a writer into a reader in memory, feeding the reader in pieces of the sizes `split` returns.
final class WireLoop {
    let writer: MessageWriter
    let reader: PacketReader
    var events: [ReaderEvent] = []
    var outcomes: [(UInt64, MessageWriter.Outcome)] = []
    var packets = 0
    var bytes = 0
    private let buffer: UnsafeMutableRawBufferPointer

    init(packetSize: Int = 16384, slots: Int = 16, codec: (any PacketCodec)? = nil, registry: MessageRegistry) {
        writer = MessageWriter(packetSize: packetSize, slots: slots, codec: codec)
        reader = PacketReader(agreedPacketSize: packetSize, slots: slots, codec: codec, registry: registry)
        buffer = .allocate(byteCount: packetSize, alignment: 16)
        reader.onEvent = { [unowned self] in self.events.append($0) }
        writer.onOutcome = { [unowned self] in self.outcomes.append(($0, $1)) }
    }

    deinit { buffer.deallocate() }

    /// Writes one packet and feeds it; returns `false` when the writer had nothing.
    @discardableResult
    func step(split: (Int) -> Int = { $0 }) throws -> Bool {
        let size = writer.nextPacket(into: buffer)
        guard size > 0 else { return false }
        packets += 1
        bytes += size
        var offset = 0
        while offset < size {
            let piece = max(1, min(split(size - offset), size - offset))
            try reader.consume(UnsafeRawBufferPointer(start: buffer.baseAddress! + offset, count: piece))
            offset += piece
        }
        return true
    }

    /// Runs until the writer is idle.
    func drain(split: (Int) -> Int = { $0 }) throws {
        while try step(split: split) {}
    }

    var messages: [(MessageHeader, any WireMessage)] {
        events.compactMap { if case .message(let header, let message) = $0 { (header, message) } else { nil } }
    }
}

/// Feeds raw bytes to a fresh reader and returns the error it throws, or `nil`.
func readerError(
    _ bytes: [UInt8], packetSize: Int = 4096, slots: Int = 4, codec: (any PacketCodec)? = nil, handshake: Bool = false,
    registry: MessageRegistry, events: ((ReaderEvent) -> Void)? = nil,
    sinks: ((MessageHeader, any WireMessage) -> [any ByteSink])? = nil
) -> WireError? {
    let reader: PacketReader
    if handshake {
        var configuration = ReaderConfiguration()
        configuration.local = HelloParameters(packetSize: packetSize, slots: slots, codecMask: codec?.maskBit ?? 0)
        configuration.codecs = codec.map { [$0] } ?? []
        reader = PacketReader(configuration: configuration, registry: registry)
    } else {
        reader = PacketReader(agreedPacketSize: packetSize, slots: slots, codec: codec, registry: registry)
    }
    if let events { reader.onEvent = events }
    if let sinks { reader.makeSinks = sinks }
    do {
        try bytes.withUnsafeBytes { try reader.consume($0) }
        return nil
    } catch {
        return error as? WireError
    }
}
