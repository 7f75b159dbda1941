import SolidReactor

/// The raw-TCP baseline's client transport: SolidReactor ``SocketStream``s on a one-thread group, frames
/// as `[UInt8]`, no message engine.
final class RawTransport: FramedTransport {
    let name = "raw"
    private let group: ReactorGroup
    private let address: SocketAddress
    private var reactor: Reactor { group.reactors[0] }
    private var bulk: (size: Int, parts: [[UInt8]])?

    init(endpoints: ServerEndpoints) throws {
        group = try ReactorGroup(threads: 1, name: "raw-client")
        address = .loopbackV4(port: endpoints.port)
    }

    func open(mode: UInt8) throws -> RawClientConnection {
        let done = Completion<Result<RawClientConnection, BenchError>>()
        let reactor = self.reactor
        let address = self.address
        reactor.execute {
            SocketStream.connect(to: address, on: reactor) { result in
                switch result {
                case .success(let stream):
                    let connection = RawClientConnection(stream: stream)
                    stream.write(FrameProtocol.frame([mode]))
                    done.complete(.success(connection))
                case .failure(let error):
                    done.complete(.failure(BenchError("raw connect: \(error)")))
                }
            }
        }
        return try done.wait("raw connect", timeout: 10).get()
    }

    func execute(_ body: @escaping @Sendable () -> Void) { reactor.execute(body) }
    func frame(_ payload: [UInt8]) -> [UInt8] { FrameProtocol.frame(payload) }

    func bulkFrame(_ size: Int) -> [[UInt8]] {
        if let bulk, bulk.size == size { return bulk.parts }
        let parts = [FrameProtocol.header(size), MessagePayloads.bytes(size)]  // the payload is not copied
        bulk = (size, parts)
        return parts
    }

    func streamFrame(offset: Int, count: Int) -> [UInt8] { FrameProtocol.streamFrame(offset: offset, count: count) }
    func shutdown() { group.shutdown() }
}

/// One raw-TCP client connection: writes frames and matches each response frame to the request it
/// answers, with the time that request was sent.
final class RawClientConnection: FramedConnection, @unchecked Sendable {
    // @unchecked: created by the connect callback and used only on that reactor thread afterwards.
    let stream: SocketStream
    var onResponse: ((FrameTag, UInt64, FrameReply) -> Void)?
    private var parser = FrameParser()
    private var reply = ReplyDigest()
    private var pending = PendingRequests()

    init(stream: SocketStream) {
        self.stream = stream
        stream.onRead = { bytes in self.received(bytes) }
    }

    func send(_ parts: [[UInt8]], tag: FrameTag, flush: Bool) {
        pending.push(tag)
        for part in parts { stream.enqueue(part) }
        if flush { stream.flush() }
    }

    func write(_ chunk: [UInt8], written: @escaping () -> Void) {
        stream.write(chunk) { _ in written() }
    }

    func flush() { stream.flush() }

    func close() {
        onResponse = nil
        stream.close()
    }

    private func received(_ bytes: UnsafeRawBufferPointer) {
        parser.consume(bytes) { event in
            switch event {
            case .start(let length): reply.start(length)
            case .payload(let chunk): reply.add(chunk)
            case .end:
                if let (tag, sentAt) = pending.pop() { onResponse?(tag, sentAt, reply.reply) }
            }
        }
        stream.flush()  // requests the callbacks queued
    }
}

/// The first 16 payload bytes of a response frame, decoded as ``FrameReply``, without keeping the rest.
struct ReplyDigest {
    private var length = 0
    private var seen = 0
    private var words: (UInt64, UInt64) = (0, 0)

    mutating func start(_ length: Int) {
        self.length = length
        seen = 0
        words = (0, 0)
    }

    mutating func add(_ chunk: UnsafeRawBufferPointer) {
        for byte in chunk.prefix(max(0, 16 - seen)) {
            if seen < 8 { words.0 |= UInt64(byte) << UInt64(8 * seen) } else { words.1 |= UInt64(byte) << UInt64(8 * (seen - 8)) }
            seen += 1
        }
    }

    var reply: FrameReply { FrameReply(length: length, word0: words.0, word1: words.1) }
}

/// Requests awaiting their responses, oldest first, with their send times.
struct PendingRequests {
    private var items: [(FrameTag, UInt64)] = []
    private var head = 0

    mutating func push(_ tag: FrameTag) { items.append((tag, nowNanos())) }

    mutating func pop() -> (FrameTag, UInt64)? {
        guard head < items.count else { return nil }
        let item = items[head]
        head += 1
        if head > 4096 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return item
    }
}
