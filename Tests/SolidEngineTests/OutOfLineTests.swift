import Testing
@testable import SolidEngine

/// A nested structure with a byte array of its own.
struct Attachment: WireStruct, Equatable {
    var title = ""
    var data: [UInt8] = []

    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&title)
        try coder.field(&data)
    }
}

/// Byte arrays in every position a field can take, plus a stream between them.
struct Bundle: WireMessage {
    var label = ""
    var small: [UInt8] = []
    var big: [UInt8] = []
    var file = StreamField()
    var parts: [[UInt8]] = []
    var attachment = Attachment()
    var maybe: [UInt8]? = nil
    var trailer: UInt32 = 0

    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&label)
        try coder.field(&small)
        try coder.field(&big)
        try coder.stream(&file)
        try coder.field(&parts)
        try coder.field(&attachment)
        try coder.field(&maybe)
        try coder.field(&trailer)
    }
}

/// One byte array and nothing else, for hand-made input.
struct Blob: WireMessage, Equatable {
    var data: [UInt8] = []

    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) { try coder.field(&data) }
}

/// Protocol 1 = Ping, Blob, Bundle.
func outOfLineRegistry() throws -> MessageRegistry {
    let registry = MessageRegistry()
    try registry.register(protocol: 1, [Ping.self, Blob.self, Bundle.self])
    return registry
}

/// `count` bytes of a pattern that differs per `seed`.
func pattern(_ count: Int, seed: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 7 &+ $0 >> 8) }
}

@Suite("Out-of-line byte arrays")
struct OutOfLineTests {
    static let threshold = WireEncoder.outOfLineThreshold

    @Test("byte arrays at and above the threshold travel after the body and round-trip in every position", arguments: [4096, 65536])
    func roundTrip(packetSize: Int) throws {
        let registry = try outOfLineRegistry()
        let loop = WireLoop(packetSize: packetSize, slots: 4, registry: registry)
        let streamed = pattern(200_000, seed: 9)
        let sink = CollectingSink()
        loop.reader.makeSinks = { _, _ in [sink] }
        var bundle = Bundle()
        bundle.label = "bundle"
        bundle.small = pattern(Self.threshold - 1, seed: 1)
        bundle.big = pattern(Self.threshold, seed: 2)
        bundle.file = StreamField(source: BytesSource(streamed))
        bundle.parts = [pattern(1 << 20, seed: 3), pattern(10, seed: 4), pattern(20_000, seed: 5)]
        bundle.attachment = Attachment(title: "photo", data: pattern(100_000, seed: 6))
        bundle.maybe = pattern(3 << 20, seed: 7)
        bundle.trailer = 0xDEAD_BEEF
        try loop.writer.enqueue(bundle, registry: registry)
        var generator = SeededGenerator(seed: UInt64(packetSize))
        try loop.drain(split: { _ in Int.random(in: 1...9000, using: &generator) })

        #expect(loop.messages.count == 1)
        let (header, message) = try #require(loop.messages.first)
        let received = try #require(message as? Bundle)
        #expect(received.label == "bundle")
        #expect(received.small == bundle.small)
        #expect(received.big == bundle.big)
        #expect(received.parts == bundle.parts)
        #expect(received.attachment == bundle.attachment)
        #expect(received.maybe == bundle.maybe)
        #expect(received.trailer == 0xDEAD_BEEF)
        #expect(received.file.index == 0)
        #expect(sink.bytes == streamed)
        #expect(sink.finished)
        #expect(header.streamCount == 1, "out-of-line arrays are not streams")
        // In the body: label, the in-line array and the small part; the rest is after it.
        #expect(header.bodyLength < UInt64(Self.threshold + 100), "body \(header.bodyLength) bytes")
        #expect(loop.outcomes.map(\.1) == [.written])
    }

    @Test("a small message overtakes a 4 MiB out-of-line array; encoding it copies nothing into the body")
    func multiplexed() throws {
        let registry = try outOfLineRegistry()
        let loop = WireLoop(packetSize: 16384, slots: 4, registry: registry)
        let data = pattern(4 << 20, seed: 11)
        let encoded = try WireEncoder.encode(Blob(data: data))
        #expect(encoded.bytes.count == Varint.size(UInt64(data.count) << 1 | 1))
        #expect(encoded.outOfLineBytes == data.count)
        #expect(encoded.streamCount == 0)
        #expect(encoded.tail.count == 1)

        try loop.writer.enqueue(Blob(data: data), registry: registry)
        try loop.writer.enqueue(Ping(id: 5, text: "quick"), registry: registry)
        try loop.drain()
        #expect(loop.messages.count == 2)
        #expect((loop.messages.first?.1 as? Ping)?.id == 5, "the ping arrives first")
        #expect((loop.messages.last?.1 as? Blob)?.data == data)
    }

    @Test("the reader lets its owner prepare each allocation of 4 MiB or more for an array before its bytes arrive")
    func prepareLargeArrays() throws {
        final class Seen: @unchecked Sendable {  // @unchecked: touched by this test's thread only
            var sizes: [Int] = []
        }
        let seen = Seen()
        let registry = try outOfLineRegistry()
        var configuration = ReaderConfiguration()
        configuration.local = HelloParameters(packetSize: 65536, slots: 4)
        configuration.prepareLargeArray = { region in seen.sizes.append(region.count) }
        let reader = PacketReader(configuration: configuration, registry: registry)
        var messages: [[UInt8]] = []
        reader.onEvent = { if case .message(_, let message) = $0 { messages.append((message as! Blob).data) } }
        let writer = MessageWriter(packetSize: 65536, slots: 4)
        let big = pattern(ReaderConfiguration.largeArrayBytes, seed: 3)
        let smaller = pattern(ReaderConfiguration.largeArrayBytes - 1, seed: 4)
        try writer.enqueue(Blob(data: big), registry: registry)
        try writer.enqueue(Blob(data: smaller), registry: registry)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
        defer { buffer.deallocate() }
        let hello = Hello.write(HelloParameters(packetSize: 65536, slots: 4), into: buffer)
        try reader.consume(UnsafeRawBufferPointer(rebasing: buffer[0..<hello]))
        while case let size = writer.nextPacket(into: buffer), size > 0 {
            try reader.consume(UnsafeRawBufferPointer(rebasing: buffer[0..<size]))
        }
        #expect(seen.sizes == [big.count])
        #expect(messages == [big, smaller])
    }

    @Test("the writer counts out-of-line bytes against maxBodyBytes")
    func writerLimit() throws {
        let registry = try outOfLineRegistry()
        let writer = MessageWriter(packetSize: 4096, slots: 4, maxBodyBytes: 100_000)
        let size = Varint.size(UInt64(200_000) << 1 | 1)
        #expect(throws: WireError.messageTooLarge(length: UInt64(size + 200_000), limit: 100_000)) {
            try writer.enqueue(Blob(data: pattern(200_000, seed: 1)), registry: registry)
        }
        #expect(writer.pendingCount == 0)
        try writer.enqueue(Blob(data: pattern(90_000, seed: 1)), registry: registry)
        #expect(writer.pendingCount == 1)
    }

    /// A `Blob` (type 1) whose array is declared out of line with `declared` bytes, then `segments`.
    static func hostileBlob(declared: Int, segments: [[UInt8]], last: Bool = true) -> [UInt8] {
        var body: [UInt8] = []
        Varint.append(UInt64(declared) << 1 | 1, to: &body)
        var tail: [UInt8] = []
        for segment in segments { tail += [UInt8(segment.count & 0xFF), UInt8(segment.count >> 8)] + segment }
        return Bytes.chunk(last: last, Bytes.header(type: 1, body: UInt64(body.count)) + body + tail)
    }

    @Test("hostile out-of-line declarations reject that message alone, with the precise error")
    func hostileMessageLevel() throws {
        let registry = try outOfLineRegistry()
        let cases: [(String, [UInt8], WireError)] = [
            ("fewer bytes than declared", Self.hostileBlob(declared: 20_000, segments: [[1, 2, 3], []]),
             .streamSinkFailed("out-of-line byte array: 3 bytes for 20000 declared")),
            ("more bytes than declared", Self.hostileBlob(declared: 1, segments: [[1, 2, 3], []]),
             .streamSinkFailed("out-of-line byte array: 3 bytes for 1 declared")),
            ("body and arrays above maxBodyBytes", Self.hostileBlob(declared: 2 << 20, segments: [[1], []]),
             .messageTooLarge(length: UInt64(Varint.size(UInt64(2 << 20) << 1 | 1) + (2 << 20)), limit: 1 << 20)),
            ("array above maxByteCount", Self.hostileBlob(declared: 300 << 20, segments: []),
             .collectionTooLarge(count: 300 << 20, limit: 256 << 20)),
        ]
        MalformedInputTests.expectRejectedAlone(cases, registry: registry)
    }

    @Test("a message that ends before its out-of-line bytes arrived breaks the framing")
    func endsEarly() throws {
        let registry = try outOfLineRegistry()
        let bytes = Bytes.data(Self.hostileBlob(declared: 20_000, segments: [[1, 2, 3]]))
        #expect(readerError(bytes, registry: registry) == .messageLengthMismatch(slot: 0))
    }

    @Test("a connection that fails mid-array frees it: nothing delivered, the reader reports the failure")
    func abortedMidArray() throws {
        let registry = try outOfLineRegistry()
        var delivered = 0
        let reader = PacketReader(agreedPacketSize: 4096, slots: 4, registry: registry)
        reader.onEvent = { if case .message = $0 { delivered += 1 } }
        let start = Self.hostileBlob(declared: 20_000, segments: [[UInt8](repeating: 1, count: 1000)], last: false)
        try Bytes.data(start).withUnsafeBytes { try reader.consume($0) }
        #expect(throws: WireError.unknownPacketKind(9)) { try Bytes.packet(9, []).withUnsafeBytes { try reader.consume($0) } }
        #expect(delivered == 0)
    }
}
