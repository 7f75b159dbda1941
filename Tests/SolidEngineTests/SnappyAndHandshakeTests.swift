import SolidIPCSnappy
import Testing
@testable import SolidEngine

@Suite("Snappy codec and handshake")
struct SnappyAndHandshakeTests {
    @Test("Snappy: compressible traffic round-trips compressed; incompressible goes plain")
    func snappyRoundTrip() throws {
        let registry = try sampleRegistry()
        let loop = WireLoop(packetSize: 16384, slots: 4, codec: SnappyCodec(), registry: registry)
        let texts = (0..<50).map { String(repeating: "compressible text \($0) ", count: 200) }
        for (index, text) in texts.enumerated() { try loop.writer.enqueue(Ping(id: UInt64(index), text: text), registry: registry) }
        var generator = SeededGenerator(seed: 5)
        let noise = Everything.random(using: &generator, size: 50_000)
        try loop.writer.enqueue(noise, registry: registry)
        try loop.drain { _ in 1000 }
        let pings = loop.messages.compactMap { $0.1 as? Ping }.sorted { $0.id < $1.id }
        #expect(pings.map(\.text) == texts)
        #expect(loop.messages.compactMap { $0.1 as? Everything } == [noise])
        let raw = texts.reduce(0) { $0 + $1.utf8.count } + 50_000
        #expect(loop.bytes < raw, "compressed traffic (\(loop.bytes) bytes) is smaller than the payload (\(raw))")
    }

    @Test("Snappy: corrupt input, an oversized declared length and compression without a codec are rejected")
    func snappyRejects() throws {
        let registry = try sampleRegistry()
        let codec = SnappyCodec()
        // A valid Snappy block declaring 100,000 bytes: a literal, then copies (compresses well).
        let big = [UInt8](repeating: 7, count: 100_000)
        var output = [UInt8](repeating: 0, count: 200_000)
        let compressedSize = big.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { SnappyCodec(minimumInput: 1).compress(input, into: $0) }
        }
        let compressed = Array(output[0..<(compressedSize ?? 0)])
        #expect(compressed.count > 0 && compressed.count < 8188)
        #expect(readerError(Bytes.packet(1, flags: 1, compressed), packetSize: 8192, codec: codec, registry: registry)
            == .decompressedTooLarge(length: 100_000, limit: 8188))
        // Declares 10 bytes, then garbage.
        let corrupt: [UInt8] = [10, 0xFF, 0xFF, 0xFF, 0xFF]
        let error = readerError(Bytes.packet(1, flags: 1, corrupt), codec: codec, registry: registry)
        guard case .decompressionFailed = error else {
            Issue.record("expected decompressionFailed, got \(String(describing: error))")
            return
        }
        #expect(readerError(Bytes.packet(1, flags: 1, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]), codec: codec, registry: registry)
            == .decompressionFailed("unreadable length"))
        #expect(readerError(Bytes.packet(1, flags: 1, compressed), packetSize: 8192, registry: registry) == .compressionNotAgreed)
    }

    @Test("handshake: each side's hello, agreement on the smaller values and the common codec")
    func handshake() throws {
        let registry = try sampleRegistry()
        var configuration = ReaderConfiguration()
        configuration.local = HelloParameters(packetSize: 32768, slots: 16, codecMask: 0x01)
        configuration.codecs = [SnappyCodec()]
        let reader = PacketReader(configuration: configuration, registry: registry)
        var agreedSeen: [AgreedParameters] = []
        reader.onEvent = { event in
            if case .handshake(let remote, let agreed) = event {
                #expect(remote == HelloParameters(packetSize: 8192, slots: 64, codecMask: 0x03))
                agreedSeen.append(agreed)
            }
        }
        var hello = [UInt8](repeating: 0, count: 32)
        let size = hello.withUnsafeMutableBytes { Hello.write(HelloParameters(packetSize: 8192, slots: 64, codecMask: 0x03), into: $0) }
        try Array(hello[0..<size]).withUnsafeBytes { try reader.consume($0) }
        #expect(agreedSeen == [AgreedParameters(packetSize: 8192, slots: 16, codecBit: 0x01)])
        #expect(reader.agreed == AgreedParameters(packetSize: 8192, slots: 16, codecBit: 0x01))
        // After the handshake, packets follow the agreed size: 8192 - 4 is the largest payload now.
        #expect(throws: WireError.packetTooLarge(length: 9000, limit: 8188)) {
            try [UInt8]([1, 0, 0x28, 0x23]).withUnsafeBytes { try reader.consume($0) }
        }
        #expect(Hello.agree(local: HelloParameters(codecMask: 0x02), remote: HelloParameters(codecMask: 0x01)).codecBit == 0)
        #expect(Hello.agree(local: HelloParameters(codecMask: 0x06), remote: HelloParameters(codecMask: 0x0C)).codecBit == 0x04)
    }

    @Test("keep-alive packets are reported and change nothing else")
    func keepAlive() throws {
        let registry = try sampleRegistry()
        var events = 0
        let error = readerError(Bytes.packet(2, []) + Bytes.packet(2, []), registry: registry) { event in
            if case .keepAlive = event { events += 1 }
        }
        #expect(error == nil)
        #expect(events == 2)
        var buffer = [UInt8](repeating: 9, count: 8)
        #expect(buffer.withUnsafeMutableBytes { PacketFormat.writeKeepAlive(into: $0) } == 4)
        #expect(Array(buffer[0..<4]) == [2, 0, 0, 0])
    }
}
