import SolidEngine

/// W1/W1b echo request and response, and the W3 ping: just the payload.
struct EchoMessage: WireMessage, Sendable {
    var payload: [UInt8] = []

    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&payload)
    }
}

/// W2/W3 bulk message: one large bounded field, received whole.
struct BulkMessage: WireMessage, Sendable {
    var payload: [UInt8] = []

    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&payload)
    }
}

/// The small reply to a bulk message or a stream: bytes received and (streams) their checksum.
struct TransferReply: WireMessage, Sendable {
    var bytes: UInt64 = 0
    var checksum: UInt64 = 0

    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&bytes)
        try coder.field(&checksum)
    }
}

/// W2 stream: a message whose only field is a stream, produced by a generator source.
struct StreamMessage: WireMessage, @unchecked Sendable {
    // @unchecked: the source is handed whole to the connection's reactor thread and only read there.
    var data = StreamField()

    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.stream(&data)
    }
}

/// Protocol 1 of the benchmark: every message above.
func benchRegistry() -> MessageRegistry {
    let registry = MessageRegistry()
    try! registry.register(protocol: 1, [EchoMessage.self, BulkMessage.self, TransferReply.self, StreamMessage.self])
    return registry
}

/// Generates `total` stream bytes from ``Payload/pattern`` as the writer asks for them.
final class GeneratorSource: ByteSource {
    private let total: Int
    private(set) var produced = 0

    init(total: Int) { self.total = total }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = min(buffer.count, total - produced)
        guard count > 0 else { return 0 }
        Payload.fillStream(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]), offset: produced)
        produced += count
        return count
    }
}

/// Sums every byte it receives (the checksumming sink of W2's stream).
final class ChecksumSink: ByteSink {
    private(set) var checksum = Checksum()
    private(set) var finished = false

    func write(_ bytes: UnsafeRawBufferPointer) throws { checksum.add(bytes) }
    func finish() throws { finished = true }
    func abort(_ error: WireError) {}
}
