import CSnappy
public import SolidEngine

/// Snappy per-packet compression (system `libsnappy`), raw block format.
///
/// Compresses only payloads of at least ``minimumInput`` bytes and only when the result is smaller.
/// Decompression reads Snappy's declared length first and rejects anything larger than the agreed
/// payload limit before writing a byte.
public struct SnappyCodec: PacketCodec {
    /// Payloads smaller than this are not worth compressing.
    public var minimumInput: Int

    /// Creates the codec.
    public init(minimumInput: Int = 256) { self.minimumInput = minimumInput }

    /// Bit 0 of the hello's codec mask.
    public var maskBit: UInt8 { 0x01 }
    /// `"snappy"`.
    public var name: String { "snappy" }

    public func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        guard input.count >= minimumInput, output.count >= snappy_max_compressed_length(input.count) else {
            return nil
        }
        var length = output.count
        let status = snappy_compress(
            input.baseAddress!.assumingMemoryBound(to: CChar.self), input.count,
            output.baseAddress!.assumingMemoryBound(to: CChar.self), &length)
        guard status == SNAPPY_OK, length < input.count else { return nil }
        return length
    }

    public func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(WireError)
        -> Int
    {
        guard let base = input.baseAddress, input.count > 0 else { throw .decompressionFailed("empty input") }
        var declared = 0
        guard snappy_uncompressed_length(base.assumingMemoryBound(to: CChar.self), input.count, &declared) == SNAPPY_OK
        else { throw .decompressionFailed("unreadable length") }
        guard declared <= output.count else { throw .decompressedTooLarge(length: declared, limit: output.count) }
        var length = output.count
        let status = snappy_uncompress(
            base.assumingMemoryBound(to: CChar.self), input.count,
            output.baseAddress!.assumingMemoryBound(to: CChar.self), &length)
        guard status == SNAPPY_OK else { throw .decompressionFailed("corrupt input (status \(status.rawValue))") }
        return length
    }
}
