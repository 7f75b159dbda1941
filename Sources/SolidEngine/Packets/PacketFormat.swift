/// Constants and helpers of the packet layer; `docs/PROTOCOL.md` is the specification.
public enum PacketFormat {
    /// Bytes of the packet header: kind, flags, payload length (u16 little-endian).
    public static let headerSize = 4
    /// Smallest packet size a side may offer.
    public static let minPacketSize = 4096
    /// Largest packet size a side may offer (header included).
    public static let maxPacketSize = 65536
    /// Largest payload of a packet before the handshake (the hello).
    public static let maxHelloPayload = 64

    /// Packet kinds (byte 0 of the header).
    public enum Kind: UInt8, Sendable {
        /// Records: message chunks and cancels.
        case data = 1
        /// Nothing but the header; keeps an idle connection alive.
        case keepAlive = 2
        /// The handshake: each side's parameters.
        case hello = 3
        /// STARTTLS: the sender sends nothing more in plain; after each side sent one, TLS follows.
        case startSecure = 4
    }

    /// Packet flag: the payload is compressed with the agreed codec (data packets only).
    public static let compressedFlag: UInt8 = 0x01

    /// Record commands (low nibble of a record's first byte).
    public enum Command: UInt8, Sendable {
        /// A piece of a message: slot, length, bytes.
        case chunk = 1
        /// The message in a slot is abandoned; drop what arrived of it.
        case cancelMessage = 2
        /// The request with this id (sent by the receiver of this record) is cancelled by its sender.
        case cancelRequest = 3
        /// The receiver rejected the request with this id (sent by the receiver of this record): code and
        /// reason follow. No response will come.
        case reject = 4
        /// The sender starts no new message on this connection; what it started goes on (PROTOCOL.md §4.1).
        case goingAway = 5
    }

    /// Chunk flag: the first chunk of a message.
    public static let firstChunkFlag: UInt8 = 0x10
    /// Chunk flag: the last chunk of a message.
    public static let lastChunkFlag: UInt8 = 0x20

    /// Writes a packet header at `pointer`.
    @inline(__always)
    static func writeHeader(kind: Kind, flags: UInt8, payloadLength: Int, to pointer: UnsafeMutableRawPointer) {
        pointer.storeBytes(of: kind.rawValue, toByteOffset: 0, as: UInt8.self)
        pointer.storeBytes(of: flags, toByteOffset: 1, as: UInt8.self)
        pointer.storeBytes(of: UInt8(truncatingIfNeeded: payloadLength), toByteOffset: 2, as: UInt8.self)
        pointer.storeBytes(of: UInt8(truncatingIfNeeded: payloadLength >> 8), toByteOffset: 3, as: UInt8.self)
    }

    /// Writes a keep-alive packet; returns its size (4). `buffer` must hold at least 4 bytes.
    public static func writeKeepAlive(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        precondition(buffer.count >= headerSize)
        writeHeader(kind: .keepAlive, flags: 0, payloadLength: 0, to: buffer.baseAddress!)
        return headerSize
    }
}

/// A per-packet compression codec, agreed in the handshake.
public protocol PacketCodec: Sendable {
    /// The codec's bit in the hello's codec mask (one bit, 0x01…0x80).
    var maskBit: UInt8 { get }
    /// A short name for logs.
    var name: String { get }
    /// Compresses `input` into `output`; returns the compressed size, or `nil` when it would not be
    /// smaller than the input (the packet then goes uncompressed).
    func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int?
    /// Decompresses `input` into `output`, whose size is the agreed payload limit. Must check the
    /// decompressed size against `output.count` before writing anything.
    func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(WireError) -> Int
}
