public import SolidEngine

/// Reads a fuzzer's input front to back; past the end every read gives `nil` (or an empty buffer).
public struct FuzzInput {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var offset = 0

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// `true` once every byte was read.
    public var isAtEnd: Bool { offset >= bytes.count }

    /// The next byte.
    public mutating func byte() -> UInt8? {
        guard offset < bytes.count else { return nil }
        offset += 1
        return bytes[offset - 1]
    }

    /// The next byte, or 0 past the end.
    public mutating func byteOrZero() -> UInt8 { byte() ?? 0 }

    /// The next two bytes as a little-endian number, or 0 past the end.
    public mutating func u16() -> Int { Int(byteOrZero()) | Int(byteOrZero()) << 8 }

    /// Up to `count` next bytes (fewer at the end).
    public mutating func take(_ count: Int) -> UnsafeRawBufferPointer {
        let end = min(bytes.count, offset + max(count, 0))
        defer { offset = end }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<end])
    }

    /// Everything not read yet.
    public mutating func rest() -> UnsafeRawBufferPointer { take(bytes.count - offset) }
}

/// Feeds `bytes` to `reader` in pieces of `piece` bytes (the last one shorter).
public func feed(_ reader: PacketReader, _ bytes: UnsafeRawBufferPointer, piece: Int) throws(WireError) {
    var offset = 0
    let piece = max(piece, 1)
    repeat {
        let count = min(piece, bytes.count - offset)
        try reader.consume(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
        offset += count
    } while offset < bytes.count
}

/// ``feed(_:_:piece:)`` for bytes in an array.
public func feed(_ reader: PacketReader, _ bytes: [UInt8], piece: Int) throws(WireError) {
    let failure: WireError? = bytes.withUnsafeBytes { buffer in
        do throws(WireError) { try feed(reader, buffer, piece: piece) } catch { return error }
        return nil
    }
    if let failure { throw failure }
}

/// A piece size from a 4-bit selector: 1, 2, 4 … 16384 bytes, or everything at once (15).
public func pieceSize(_ selector: UInt8) -> Int { selector & 15 == 15 ? Int.max : 1 << Int(selector & 15) }

/// A packet size a side offers, from one byte: 4096 plus a step of 240, 65536 for 255.
public func fuzzPacketSize(_ byte: UInt8) -> Int { byte == 255 ? PacketFormat.maxPacketSize : 4096 + Int(byte) * 240 }

/// A slot count a side offers, from one byte: mostly 1…16, sometimes 128…3908 (two-byte slot varints),
/// 4096 for 255.
public func fuzzSlots(_ byte: UInt8) -> Int {
    switch byte {
    case 255: Hello.maxSlots
    case 200...: 128 + Int(byte - 200) * 70
    default: 1 + Int(byte % 16)
    }
}
