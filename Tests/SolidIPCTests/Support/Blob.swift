import SolidEngine

/// A message with an id, a byte payload and the payload's checksum, so every receiver can tell an intact
/// payload from a damaged one.
struct Blob: WireMessage, Sendable, Equatable {
    var id: UInt64 = 0
    var checksum: UInt64 = 0
    var data: [UInt8] = []

    init() {}

    /// A blob of `size` bytes derived from `id` (different ids give different bytes).
    init(id: UInt64, size: Int) {
        self.id = id
        data = [UInt8](repeating: 0, count: size)
        var state = id &* 0x9E37_79B9_7F4A_7C15 | 1
        data.withUnsafeMutableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                withUnsafeBytes(of: state) { word in
                    let count = min(8, bytes.count - offset)
                    bytes.baseAddress!.advanced(by: offset).copyMemory(from: word.baseAddress!, byteCount: count)
                }
                offset += 8
            }
        }
        checksum = Blob.checksum(of: data)
    }

    /// `true` when the payload matches its checksum.
    var isIntact: Bool { Blob.checksum(of: data) == checksum }

    /// A position-dependent sum over 8-byte words (cheap enough for megabytes in debug builds).
    static func checksum(of bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { raw in
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(raw.count)
            var offset = 0
            while offset + 8 <= raw.count {
                hash = (hash ^ raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0x100_0000_01b3
                offset += 8
            }
            while offset < raw.count {
                hash = (hash ^ UInt64(raw[offset])) &* 0x100_0000_01b3
                offset += 1
            }
            return hash
        }
    }

    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&id)
        try coder.field(&checksum)
        try coder.field(&data)
    }
}
