import NIOCore
import NIOPosix
import NIOSSL

/// The SwiftNIO baseline's client transport: a ``ClientBootstrap`` on a one-thread event loop group,
/// frames as ``ByteBuffer``s; with an ``NIOSSLContext`` an `NIOSSLClientHandler` comes first in the
/// pipeline (the NIOSSL baseline).
final class NIOTransport: FramedTransport {
    let name: String
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let port: Int
    let tls: NIOSSLContext?
    private var bulk: (size: Int, parts: [ByteBuffer])?

    init(endpoints: ServerEndpoints, tls: NIOSSLContext?) {
        port = Int(endpoints.port)
        self.tls = tls
        name = tls == nil ? "NIO" : "NIO+NIOSSL"
    }

    /// A bootstrap whose pipeline ends in `connection`.
    func bootstrap(for connection: NIOClientConnection) -> ClientBootstrap {
        let tls = self.tls
        return ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // No host name: NIOSSL checks the certificate's IP entries against the remote address.
                    if let tls { try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: nil)) }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(connection)
                }
            }
    }

    func open(mode: UInt8) throws -> NIOClientConnection {
        let connection = NIOClientConnection()
        let channel = try bootstrap(for: connection).connect(host: "127.0.0.1", port: port).wait()
        try channel.writeAndFlush(ByteBuffer.frame([mode])).wait()
        return connection
    }

    func execute(_ body: @escaping @Sendable () -> Void) { group.next().execute(body) }
    func frame(_ payload: [UInt8]) -> ByteBuffer { .frame(payload) }

    func bulkFrame(_ size: Int) -> [ByteBuffer] {
        if let bulk, bulk.size == size { return bulk.parts }
        let parts = [ByteBuffer.frame(MessagePayloads.bytes(size))]  // one ByteBuffer, reused by every send
        bulk = (size, parts)
        return parts
    }

    func streamFrame(offset: Int, count: Int) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 4 + count)
        buffer.writeInteger(UInt32(count), endianness: .little)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { space in
            Payload.fillStream(UnsafeMutableRawBufferPointer(rebasing: space[0..<count]), offset: offset)
            return count
        }
        return buffer
    }

    func shutdown() { try? group.syncShutdownGracefully() }
}

/// One SwiftNIO client connection: the pipeline's last handler, matching response frames to requests.
final class NIOClientConnection: ChannelInboundHandler, FramedConnection, @unchecked Sendable {
    // @unchecked: created on the main thread before its channel exists, then used only on the channel's
    // event loop (the transport's one thread).
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    var onResponse: ((FrameTag, UInt64, FrameReply) -> Void)?
    private var context: ChannelHandlerContext?
    private var pending = PendingRequests()

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        if let (tag, sentAt) = pending.pop() { onResponse?(tag, sentAt, frame.frameReply) }
    }

    func channelReadComplete(context: ChannelHandlerContext) { context.flush() }

    func send(_ parts: [ByteBuffer], tag: FrameTag, flush: Bool) {
        guard let context else { return }
        pending.push(tag)
        for part in parts { context.write(Self.wrapOutboundOut(part), promise: nil) }
        if flush { context.flush() }
    }

    func write(_ chunk: ByteBuffer, written: @escaping () -> Void) {
        guard let context else { return }
        context.writeAndFlush(Self.wrapOutboundOut(chunk)).assumeIsolated().whenComplete { _ in written() }
    }

    func flush() { context?.flush() }

    func close() {
        onResponse = nil
        context?.close(promise: nil)
    }
}

/// The SwiftNIO (and NIOSSL) baseline client: the shared framed client over ``NIOTransport``.
typealias NIOSystemClient = FramedSystemClient<NIOTransport>

extension FramedSystemClient where Transport == NIOTransport {
    convenience init(endpoints: ServerEndpoints, tls: NIOSSLContext?) throws {
        self.init(transport: NIOTransport(endpoints: endpoints, tls: tls))
    }
}
