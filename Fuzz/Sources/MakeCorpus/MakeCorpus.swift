import FuzzSamples
import Glibc
import SolidEngine
import SolidIPCSnappy

/// Writes seed inputs made by the real writer: `MakeCorpus [reader-dir [hello-dir [connection-dir [proxy-dir]]]]`
/// (defaults `corpus`, `corpus-hello`, `corpus-connection`), one directory per fuzz target.
@main
struct MakeCorpus {
    static func main() throws {
        let arguments = CommandLine.arguments.dropFirst()
        let directories = ["corpus", "corpus-hello", "corpus-connection", "corpus-proxy"].enumerated().map { index, name in
            arguments.count > index ? arguments[arguments.startIndex + index] : name
        }
        let registry = fuzzRegistry()
        try readerSeeds(into: directories[0], registry: registry)
        try save(HelloSeeds.all(registry: registry), into: directories[1], name: "hello")
        try save(ConnectionSeeds.all(registry: registry), into: directories[2], name: "connection")
        try save(proxySeeds, into: directories[3], name: "proxy")
    }

    /// `FuzzProxy`'s seeds: a mode byte, then well-formed proxy replies (SOCKS5 with and without
    /// authentication, for each address type; HTTP 200 and 407 heads), some with destination bytes after.
    static var proxySeeds: [[UInt8]] {
        let socksReplies: [[UInt8]] = [
            [5, 0, 0, 1, 127, 0, 0, 1, 0x1F, 0x90],
            [5, 0, 0, 4] + [UInt8](repeating: 0, count: 15) + [1, 0x1F, 0x90],
            [5, 0, 0, 3, 4] + Array("host".utf8) + [0, 80],
            [5, 5, 0, 1, 0, 0, 0, 0, 0, 0],
        ]
        var seeds: [[UInt8]] = []
        for reply in socksReplies {
            seeds.append([0x00] + [5, 0] + reply + Array("SIPC".utf8))
            seeds.append([0x12] + [5, 2, 1, 0] + reply)
        }
        seeds.append([0x01] + Array("HTTP/1.1 200 Connection established\r\nVia: proxy\r\n\r\nSIPC".utf8))
        seeds.append([0x33] + Array("HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n".utf8))
        return seeds
    }

    static func save(_ seeds: [[UInt8]], into directory: String, name: String) throws {
        mkdir(directory, 0o755)
        for (index, seed) in seeds.enumerated() { try save(seed, to: "\(directory)/seed-\(name)-\(index)") }
        print("wrote \(seeds.count) seed inputs to \(directory)")
    }

    /// `FuzzReader`'s seeds: a mode byte, then the writer's packets (after a hello in modes with bit 0).
    static func readerSeeds(into directory: String, registry: MessageRegistry) throws {
        mkdir(directory, 0o755)
        var written = 0
        for mode: UInt8 in [0, 1, 2, 3, 0x40, 0x41] {
            for seed in 0..<6 {
                let bytes = try stream(mode: mode, seed: seed, registry: registry)
                try check(bytes, mode: mode, registry: registry)
                try save([mode] + bytes, to: "\(directory)/seed-\(mode)-\(seed)")
                written += 1
            }
        }
        print("wrote \(written) seed inputs to \(directory)")
    }

    static func stream(mode: UInt8, seed: Int, registry: MessageRegistry) throws -> [UInt8] {
        var output: [UInt8] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 8192, alignment: 8)
        defer { buffer.deallocate() }
        if mode & 1 != 0 {
            let size = Hello.write(HelloParameters(packetSize: 8192, slots: 8, codecMask: mode & 2 != 0 ? 1 : 0), into: buffer)
            output += buffer[0..<size]
        }
        let writer = MessageWriter(packetSize: 8192, slots: 8, codec: mode & 2 != 0 ? SnappyCodec() : nil)
        for index in 0..<(seed + 1) {
            try writer.enqueue(FuzzPing(id: UInt64(index), text: String(repeating: "p", count: index * 40)), registry: registry,
                               flags: index % 2 == 0 ? [.synchronous] : [])
            var mixed = FuzzMixed()
            mixed.flag = true
            mixed.bytes = Array(repeating: UInt8(index), count: seed * 100)
            mixed.numbers = [1, -2, 300]
            var point = FuzzPoint()
            point.label = "p"
            mixed.table = ["k": point]
            mixed.points = [point, FuzzPoint()]
            mixed.extra = seed % 2 == 0 ? 9 : nil
            try writer.enqueue(mixed, registry: registry, flags: [.request], requestID: UInt64(index + 1))
            var file = FuzzFile()
            file.name = "f\(index)"
            file.data = StreamField(source: BytesSource(Array(repeating: 0x5A, count: seed * 300)))
            try writer.enqueue(file, registry: registry)
        }
        if seed == 2 {
            // A byte array at the out-of-line threshold: its bytes follow the body (PROTOCOL.md §5.3).
            var large = FuzzMixed()
            large.bytes = (0..<WireEncoder.outOfLineThreshold).map { UInt8(truncatingIfNeeded: $0) }
            try writer.enqueue(large, registry: registry)
        }
        if seed == 3 {
            let id = try writer.enqueue(FuzzPing(id: 99, text: String(repeating: "c", count: 20_000)), registry: registry)
            output += buffer[0..<writer.nextPacket(into: buffer)]
            writer.cancel(id)
            writer.cancelRequest(42)
        }
        while case let size = writer.nextPacket(into: buffer), size > 0 { output += buffer[0..<size] }
        output += buffer[0..<PacketFormat.writeKeepAlive(into: buffer)]
        return output
    }

    /// A seed must be valid input: the reader takes it whole without error and finds every message.
    static func check(_ bytes: [UInt8], mode: UInt8, registry: MessageRegistry) throws {
        let reader = makeFuzzReader(mode: mode, registry: registry)
        var messages = 0
        reader.onEvent = { event in if case .message = event { messages += 1 } }
        try bytes.withUnsafeBytes { try reader.consume($0) }
        guard messages > 0 else { throw CorpusError(path: "seed for mode \(mode) produced no message") }
    }

    static func save(_ bytes: [UInt8], to path: String) throws {
        guard let file = fopen(path, "wb") else { throw CorpusError(path: path) }
        defer { fclose(file) }
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    }

    struct CorpusError: Error {
        let path: String
    }
}
