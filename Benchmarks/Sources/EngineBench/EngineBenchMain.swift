import CAllocationCounter
import Glibc
import SolidEngine
import SolidIPCSnappy

/// A 64-byte message: the header (about 7 bytes) plus an id and a 48-character text.
struct SmallMessage: WireMessage {
    var id: UInt64 = 0
    var text = ""
    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&id)
        try coder.field(&text)
    }
}

/// A message whose only payload is a stream.
struct Blob: WireMessage {
    var data = StreamField()
    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) { try coder.stream(&data) }
}

final class CountingBlobSink: ByteSink {
    var bytes = 0
    func write(_ chunk: UnsafeRawBufferPointer) throws { bytes += chunk.count }
    func finish() throws {}
    func abort(_ error: WireError) {}
}

func now() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

func fixed(_ value: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (value * scale).rounded()
    let whole = Int(scaled / scale)
    guard digits > 0 else { return "\(whole)" }
    let fraction = String(Int(abs(scaled) - abs(Double(whole)) * scale))
    return "\(whole)." + String(repeating: "0", count: max(0, digits - fraction.count)) + fraction
}

/// Writer → reader in memory: `count` small messages; returns (messages/s, allocations per message).
func smallMessages(count: Int, packetSize: Int, codec: (any PacketCodec)?) throws -> (Double, Double) {
    let registry = MessageRegistry()
    try registry.register(SmallMessage.self, protocol: 1, index: 0)
    let writer = MessageWriter(packetSize: packetSize, slots: 64, codec: codec)
    let reader = PacketReader(agreedPacketSize: packetSize, slots: 64, codec: codec, registry: registry)
    var received = 0
    reader.onEvent = { event in if case .message = event { received += 1 } }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: packetSize, alignment: 16)
    defer { buffer.deallocate() }
    var message = SmallMessage(id: 0, text: String(repeating: "m", count: 48))
    let batch = 256
    let start = now()
    allocation_counter_start()
    var sent = 0
    while sent < count {
        for _ in 0..<min(batch, count - sent) {
            message.id = UInt64(sent)
            try writer.enqueue(message, registry: registry)
            sent += 1
        }
        while case let size = writer.nextPacket(into: buffer), size > 0 {
            try reader.consume(UnsafeRawBufferPointer(rebasing: buffer[0..<size]))
        }
    }
    let allocations = allocation_counter_stop()
    let elapsed = now() - start
    if received != count { print("lost messages: \(received) of \(count), writer pending \(writer.pendingCount)"); exit(1) }
    return (Double(count) / elapsed, Double(allocations) / Double(count))
}

/// Writer → reader in memory: one message with a `bytes`-long stream; returns GB/s.
func stream(bytes total: Int, packetSize: Int) throws -> Double {
    let registry = MessageRegistry()
    try registry.register(Blob.self, protocol: 1, index: 0)
    let writer = MessageWriter(packetSize: packetSize, slots: 4)
    let reader = PacketReader(agreedPacketSize: packetSize, slots: 4, registry: registry)
    let sink = CountingBlobSink()
    reader.makeSinks = { _, _ in [sink] }
    var produced = 0
    let source = ClosureByteSource { buffer in
        let count = min(buffer.count, total - produced)
        produced += count
        return count  // the packet buffer's bytes are sent as they are: we measure the engine, not a generator
    }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: packetSize, alignment: 16)
    buffer.initializeMemory(as: UInt8.self, repeating: 0x42)
    defer { buffer.deallocate() }
    try writer.enqueue(Blob(data: StreamField(source: source)), registry: registry)
    let start = now()
    while case let size = writer.nextPacket(into: buffer), size > 0 {
        try reader.consume(UnsafeRawBufferPointer(rebasing: buffer[0..<size]))
    }
    let elapsed = now() - start
    precondition(sink.bytes == total)
    return Double(total) / elapsed / 1e9
}

@main
struct EngineBenchMain {
    static func main() throws {
        let arguments = CommandLine.arguments
        if let index = arguments.firstIndex(of: "--count"), index + 1 < arguments.count, let count = Int(arguments[index + 1]) {
            // One run of `count` small messages, for instruction counting under callgrind.
            let (rate, allocations) = try smallMessages(count: count, packetSize: 16384, codec: nil)
            print("\(count) messages: \(fixed(rate / 1e6, 2)) M msg/s, \(fixed(allocations, 2)) allocations/message")
            return
        }
        let quick = arguments.contains("--quick")
        let messages = quick ? 200_000 : 1_000_000
        let streamBytes = quick ? 256 << 20 : 1 << 30
        print("SolidEngine writer → reader in memory (one thread, release build)")
        for packetSize in [4096, 16384, 65536] {
            var rates: [Double] = []
            var allocations = 0.0
            for _ in 0..<3 {
                let (rate, perMessage) = try smallMessages(count: messages, packetSize: packetSize, codec: nil)
                rates.append(rate)
                allocations = perMessage
            }
            rates.sort()
            print("  64 B messages, \(packetSize / 1024) KiB packets: \(fixed(rates[1] / 1e6, 2)) M msg/s (median of 3), \(fixed(allocations, 2)) allocations/message")
        }
        let (snappyRate, snappyAllocations) = try smallMessages(count: messages / 2, packetSize: 16384, codec: SnappyCodec())
        print("  64 B messages, 16 KiB packets, Snappy: \(fixed(snappyRate / 1e6, 2)) M msg/s, \(fixed(snappyAllocations, 2)) allocations/message")
        for packetSize in [4096, 16384, 65536] {
            var rates: [Double] = []
            for _ in 0..<3 { rates.append(try stream(bytes: streamBytes, packetSize: packetSize)) }
            rates.sort()
            print("  \(streamBytes >> 20) MiB stream, \(packetSize / 1024) KiB packets: \(fixed(rates[1], 2)) GB/s (median of 3)")
        }
    }
}
