import NIOCore
import NIOPosix
import NIOSSL

/// The SwiftNIO baseline server: a ``ServerBootstrap`` on a one-thread event loop group, a
/// ``FrameDecoder`` and a handler answering ``FrameProtocol``; with an ``NIOSSLContext`` an
/// `NIOSSLServerHandler` first (the NIOSSL baseline).
final class NIOServerHost: SystemServer {
    private let tls: NIOSSLContext?
    private var group: MultiThreadedEventLoopGroup?
    private var channel: (any Channel)?

    init(tls: NIOSSLContext?) { self.tls = tls }

    func start() throws -> ServerEndpoints {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.group = group
        let tls = self.tls
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(NIOServerHandler())
                }
            }
        let channel = try bootstrap.bind(host: "127.0.0.1", port: 0).wait()
        self.channel = channel
        guard let port = channel.localAddress?.port else { throw BenchError("NIO server has no port") }
        return ServerEndpoints(port: UInt16(port))
    }

    func stop() {
        try? channel?.close().wait()
        try? group?.syncShutdownGracefully()
        channel = nil
        group = nil
    }
}

/// Answers frames on one accepted connection: echo, bulk count, or stream checksum.
final class NIOServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Mode { case unknown, echo, stream }
    private var mode = Mode.unknown
    private var checksum = Checksum()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var frame = Self.unwrapInboundIn(data)
        let length = frame.readableBytes - 4
        switch mode {
        case .unknown:
            mode = frame.getInteger(at: frame.readerIndex + 4, as: UInt8.self) == FrameProtocol.streamMode ? .stream : .echo
        case .echo where length < FrameProtocol.bulkThreshold:
            context.write(Self.wrapOutboundOut(frame), promise: nil)
        case .echo:
            context.write(Self.wrapOutboundOut(.frame(words: [UInt64(length)], allocator: context.channel.allocator)), promise: nil)
        case .stream where length == 0:
            let reply = ByteBuffer.frame(words: [UInt64(checksum.bytes), checksum.value], allocator: context.channel.allocator)
            context.write(Self.wrapOutboundOut(reply), promise: nil)
            checksum = Checksum()
        case .stream:
            frame.moveReaderIndex(forwardBy: 4)
            frame.withUnsafeReadableBytes { checksum.add($0) }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) { context.flush() }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}
