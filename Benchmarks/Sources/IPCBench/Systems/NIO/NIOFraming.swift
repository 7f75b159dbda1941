import NIOCore

/// Splits the inbound bytes into whole ``FrameProtocol`` frames (prefix included), as a plain SwiftNIO
/// length-prefixed decoder does: a frame is passed on once all of it is in the cumulation buffer.
struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .little, as: UInt32.self),
              buffer.readableBytes >= 4 + Int(length),
              let frame = buffer.readSlice(length: 4 + Int(length))
        else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }
}

extension ByteBuffer {
    /// A frame holding `payload`.
    static func frame(_ payload: [UInt8], allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 4 + payload.count)
        buffer.writeInteger(UInt32(payload.count), endianness: .little)
        buffer.writeBytes(payload)
        return buffer
    }

    /// A frame holding little-endian UInt64 words.
    static func frame(words: [UInt64], allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 4 + 8 * words.count)
        buffer.writeInteger(UInt32(8 * words.count), endianness: .little)
        for word in words { buffer.writeInteger(word, endianness: .little) }
        return buffer
    }

    /// Reads a whole frame (prefix included) as a ``FrameReply``.
    var frameReply: FrameReply {
        let length = readableBytes - 4
        let word0 = length >= 8 ? getInteger(at: readerIndex + 4, endianness: .little, as: UInt64.self) ?? 0 : 0
        let word1 = length >= 16 ? getInteger(at: readerIndex + 12, endianness: .little, as: UInt64.self) ?? 0 : 0
        return FrameReply(length: length, word0: word0, word1: word1)
    }
}
