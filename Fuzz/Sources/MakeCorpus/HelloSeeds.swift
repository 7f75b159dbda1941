import FuzzSamples
import SolidEngine
import SolidIPCSnappy

/// Seeds for `FuzzHello`: valid hellos of many parameter combinations, each followed by the real
/// writer's packets for the parameters they agree on.
enum HelloSeeds {
    /// (this side, the peer) pairs: the extremes of each range, odd sizes, codec masks with and without
    /// a common bit.
    static let pairs: [(HelloParameters, HelloParameters)] = [
        (HelloParameters(packetSize: 4096, slots: 1, codecMask: 0), HelloParameters(packetSize: 4096, slots: 1, codecMask: 0)),
        (HelloParameters(packetSize: 65536, slots: 4096, codecMask: 1), HelloParameters(packetSize: 65536, slots: 4096, codecMask: 1)),
        (HelloParameters(packetSize: 8192, slots: 8, codecMask: 1), HelloParameters(packetSize: 16384, slots: 4, codecMask: 1)),
        (HelloParameters(packetSize: 65536, slots: 64, codecMask: 0), HelloParameters(packetSize: 10_000, slots: 300, codecMask: 1)),
        (HelloParameters(packetSize: 12_345, slots: 130, codecMask: 3), HelloParameters(packetSize: 40_000, slots: 200, codecMask: 6)),
        (HelloParameters(packetSize: 4097, slots: 2, codecMask: 0xFF), HelloParameters(packetSize: 65535, slots: 4095, codecMask: 0x80)),
    ]

    static func all(registry: MessageRegistry) throws -> [[UInt8]] {
        var seeds: [[UInt8]] = []
        for (index, (local, remote)) in pairs.enumerated() {
            let pieces: (UInt8, UInt8) = [(0xFF, 0xFF), (0, 0), (3, 17), (63, 0xC0), (1, 5), (13, 0xFF)][index]
            var prefix = [pieces.0, pieces.1]
            appendLittleEndian(UInt64(local.packetSize), size: 4, to: &prefix)
            appendLittleEndian(UInt64(local.slots), size: 2, to: &prefix)
            prefix.append(local.codecMask)
            for variant in 0..<3 {
                let stream = try self.stream(local: local, remote: remote, variant: variant, registry: registry)
                try check(stream, local: local, registry: registry)
                seeds.append(prefix + stream)
            }
        }
        return seeds
    }

    /// The peer's hello, then (variant 1 and 2) messages, a cancel-request and a keep-alive, and
    /// (variant 2) a start-secure packet followed by bytes that belong to TLS.
    static func stream(local: HelloParameters, remote: HelloParameters, variant: Int, registry: MessageRegistry) throws -> [UInt8] {
        let agreed = Hello.agree(local: local, remote: remote)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: agreed.packetSize, alignment: 16)
        defer { buffer.deallocate() }
        var output = Array(buffer[0..<Hello.write(remote, into: buffer)])
        guard variant > 0 else { return output }
        let writer = MessageWriter(packetSize: agreed.packetSize, slots: agreed.slots, codec: agreed.codecBit == 1 ? SnappyCodec() : nil)
        try writer.enqueue(FuzzPing(id: 1, text: "hello"), registry: registry, flags: [.request], requestID: 7)
        var mixed = FuzzMixed()
        mixed.bytes = Array(repeating: 0xAB, count: variant * 700)
        mixed.numbers = [1, 2, 3]
        try writer.enqueue(mixed, registry: registry, flags: [.synchronous])
        var file = FuzzFile()
        file.name = "f"
        file.data = StreamField(source: BytesSource(Array(repeating: 0x33, count: 5000)))
        try writer.enqueue(file, registry: registry)
        writer.cancelRequest(9)
        while case let size = writer.nextPacket(into: buffer), size > 0 { output += buffer[0..<size] }
        output += buffer[0..<PacketFormat.writeKeepAlive(into: buffer)]
        if variant == 2 { output += [PacketFormat.Kind.startSecure.rawValue, 0, 0, 0, 0x16, 0x03, 0x01] }
        return output
    }

    /// A seed must handshake without error, configured as `FuzzHello` configures its reader.
    static func check(_ stream: [UInt8], local: HelloParameters, registry: MessageRegistry) throws {
        var configuration = ReaderConfiguration()
        configuration.local = local
        configuration.codecs = local.codecMask & 1 != 0 ? [SnappyCodec()] : []
        let reader = PacketReader(configuration: configuration, registry: registry)
        reader.makeSinks = { header, _ in (0..<header.streamCount).map { _ in DiscardingSink() } }
        var handshakes = 0
        reader.onEvent = { event in if case .handshake = event { handshakes += 1 } }
        try stream.withUnsafeBytes { try reader.consume($0) }
        guard handshakes == 1 else { throw MakeCorpus.CorpusError(path: "hello seed without a handshake") }
    }

    static func appendLittleEndian(_ value: UInt64, size: Int, to bytes: inout [UInt8]) {
        for index in 0..<size { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))) }
    }
}
