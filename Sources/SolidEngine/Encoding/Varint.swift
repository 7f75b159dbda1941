/// LEB128 variable-length unsigned integers (7 bits per byte, low group first, high bit = more follows)
/// and zigzag mapping for signed values.
public enum Varint {
    /// Bytes needed to encode `value` (1–10).
    @inlinable
    public static func size(_ value: UInt64) -> Int {
        var value = value
        var count = 1
        while value >= 0x80 {
            value >>= 7
            count += 1
        }
        return count
    }

    /// Writes `value` at `pointer` and returns the number of bytes written.
    @inlinable
    public static func write(_ value: UInt64, to pointer: UnsafeMutableRawPointer) -> Int {
        var value = value
        var offset = 0
        while value >= 0x80 {
            pointer.storeBytes(of: UInt8(truncatingIfNeeded: value) | 0x80, toByteOffset: offset, as: UInt8.self)
            value >>= 7
            offset += 1
        }
        pointer.storeBytes(of: UInt8(value), toByteOffset: offset, as: UInt8.self)
        return offset + 1
    }

    /// Appends `value` to `bytes`.
    @inlinable
    public static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        if value < 0x80 { return bytes.append(UInt8(value)) }
        if value < 0x4000 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            return bytes.append(UInt8(truncatingIfNeeded: value >> 7))
        }
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    /// Outcome of reading a varint from a bounded buffer.
    public enum ReadResult: Equatable {
        /// The value and the bytes it took.
        case value(UInt64, length: Int)
        /// The buffer ended before the last byte.
        case incomplete
        /// More than 10 bytes, or bits beyond 64.
        case malformed
    }

    /// Reads a varint from `buffer` starting at `offset`.
    @inlinable @inline(__always)
    public static func read(_ buffer: UnsafeRawBufferPointer, at offset: Int) -> ReadResult {
        // Most varints on the wire (lengths, slots, flags, small ids) are one byte: inline that case.
        if offset < buffer.count {
            let byte = buffer[offset]
            if byte < 0x80 { return .value(UInt64(byte), length: 1) }
            if offset + 1 < buffer.count {  // and two (lengths up to 16 KiB)
                let next = buffer[offset + 1]
                if next < 0x80 { return .value(UInt64(byte & 0x7F) | UInt64(next) << 7, length: 2) }
            }
        }
        return readLong(buffer, at: offset)
    }

    /// ``read(_:at:)`` for a varint of two bytes or more (or a truncated one).
    @inlinable @inline(never)
    public static func readLong(_ buffer: UnsafeRawBufferPointer, at offset: Int) -> ReadResult {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var index = offset
        while index < buffer.count {
            let byte = buffer[index]
            index += 1
            if shift == 63 && byte > 1 { return .malformed }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return .value(result, length: index - offset) }
            shift += 7
            if shift > 63 { return .malformed }
        }
        return .incomplete
    }

    /// Zigzag: 0, -1, 1, -2 … → 0, 1, 2, 3 …
    @inlinable
    public static func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }

    /// The inverse of ``zigzag(_:)``.
    @inlinable
    public static func unzigzag(_ value: UInt64) -> Int64 { Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1) }
}
