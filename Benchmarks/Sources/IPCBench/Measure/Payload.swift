import Synchronization

/// The bytes every system sends: pseudo-random (incompressible), so Snappy rows show its cost, not a gain
/// on easy data. A 64 KiB pattern is repeated for streams; whole messages are filled once per process.
enum Payload {
    /// 64 KiB of xorshift output; stream byte `i` is `pattern[i % pattern.count]`.
    static let pattern: [UInt8] = randomBytes(65536, seed: 0x9E37_79B9_7F4A_7C15)

    /// `count` pseudo-random bytes (deterministic for a seed).
    static func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var index = 0
            while index < count {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                var word = state
                for _ in 0..<min(8, count - index) {
                    buffer[index] = UInt8(truncatingIfNeeded: word)
                    word >>= 8
                    index += 1
                }
            }
            initialized = count
        }
    }

    /// Fills `buffer` with stream bytes starting at stream offset `offset`.
    static func fillStream(_ buffer: UnsafeMutableRawBufferPointer, offset: Int) {
        pattern.withUnsafeBytes { source in
            var written = 0
            var position = offset % source.count
            while written < buffer.count {
                let take = min(buffer.count - written, source.count - position)
                (buffer.baseAddress! + written).copyMemory(from: source.baseAddress! + position, byteCount: take)
                written += take
                position = 0
            }
        }
    }

    /// The checksum a sink must arrive at for a stream of `length` bytes.
    static func expectedStreamChecksum(length: Int) -> UInt64 {
        let full = UInt64(length / pattern.count)
        let rest = length % pattern.count
        let whole = pattern.withUnsafeBytes { Checksum.of($0) }
        let partial = pattern.withUnsafeBytes { Checksum.of(UnsafeRawBufferPointer(rebasing: $0[0..<rest])) }
        return full &* whole &+ partial
    }
}

/// The stream checksum: the sum of all bytes (position-independent, so chunk boundaries do not matter;
/// the loop vectorises, so a sink keeps up with loopback TCP).
struct Checksum {
    private(set) var value: UInt64 = 0
    private(set) var bytes = 0

    /// Adds a chunk.
    mutating func add(_ chunk: UnsafeRawBufferPointer) {
        value &+= Checksum.of(chunk)
        bytes += chunk.count
    }

    /// The byte sum of one buffer.
    static func of(_ chunk: UnsafeRawBufferPointer) -> UInt64 {
        var total: UInt64 = 0
        var index = 0
        let count = chunk.count
        // Sum in blocks of 4096 bytes into a 32-bit accumulator (cannot overflow: 4096 × 255), which
        // the compiler vectorises well.
        while index < count {
            let end = min(index + 4096, count)
            var block: UInt32 = 0
            for position in index..<end { block &+= UInt32(chunk[position]) }
            total &+= UInt64(block)
            index = end
        }
        return total
    }
}

/// Shared message payloads, made once per process and reused by every system.
enum MessagePayloads {
    private static let cache = PayloadCache()

    /// `count` pseudo-random bytes (the same for every caller asking the same size).
    static func bytes(_ count: Int) -> [UInt8] { cache.bytes(count) }

    /// Drops every kept payload.
    static func clear() { cache.clear() }
}

/// Keeps the last large payload so repetitions do not regenerate it.
final class PayloadCache: Sendable {
    private let stored = Mutex<[Int: [UInt8]]>([:])

    func clear() { stored.withLock { $0 = [:] } }

    func bytes(_ count: Int) -> [UInt8] {
        stored.withLock { cache in
            if let found = cache[count] { return found }
            if count > 1 << 20 { cache = cache.filter { $0.key <= 1 << 20 } }  // hold one large payload at a time
            let made = Payload.randomBytes(count, seed: UInt64(count) &* 0x2545_F491_4F6C_DD1D | 1)
            cache[count] = made
            return made
        }
    }
}
