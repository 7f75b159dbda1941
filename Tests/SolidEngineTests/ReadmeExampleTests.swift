import SolidEngine
import Testing

/// The README's SolidEngine example, kept compiling and working.
struct Greeting: WireMessage {
    static let version: UInt8 = 1
    var id: UInt64 = 0
    var text = ""
    var file = StreamField()
    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&id)
        try coder.field(&text)
        try coder.stream(&file)
    }
}

@Test("README example: a message with a stream goes through writer and reader")
func readmeExample() throws {
    let registry = MessageRegistry()
    try registry.register(protocol: 1, [Greeting.self])
    let writer = MessageWriter(packetSize: 16384, slots: 64, codec: nil)
    try writer.enqueue(Greeting(id: 1, text: "hi", file: StreamField(source: BytesSource([1, 2, 3]))), registry: registry)
    let reader = PacketReader(agreedPacketSize: 16384, slots: 64, registry: registry)
    let sink = CollectingSink()
    reader.makeSinks = { _, _ in [sink] }
    var received: [(MessageTypeID, UInt64, String)] = []
    reader.onEvent = { event in
        if case .message(let header, let message) = event, let greeting = message as? Greeting {
            received.append((header.typeID, greeting.id, greeting.text))
        }
    }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16384, alignment: 8)
    defer { buffer.deallocate() }
    while case let size = writer.nextPacket(into: buffer), size > 0 {
        try reader.consume(UnsafeRawBufferPointer(rebasing: buffer[0..<size]))
    }
    #expect(received.count == 1)
    #expect(received.first?.0 == MessageTypeID(protocolID: 1, typeIndex: 0))
    #expect(received.first?.1 == 1)
    #expect(received.first?.2 == "hi")
    #expect(sink.bytes == [1, 2, 3] && sink.finished)
}
