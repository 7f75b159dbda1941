import SolidIPCSnappy
import Testing
@testable import SolidEngine

/// A seeded generator so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        var value = state
        value = (value ^ (value >> 33)) &* 0xff51_afd7_ed55_8ccd
        return value ^ (value >> 33)
    }
}

@Suite("Field coding")
struct FieldCodingTests {
    @Test("every field kind round-trips through encoder and decoder")
    func roundTrip() throws {
        var generator = SeededGenerator(seed: 1)
        for size in [0, 1, 127, 128, 5000] {
            let original = Everything.random(using: &generator, size: size)
            let encoded = try WireEncoder.encode(original)
            let body = encoded.bytes, streams = encoded.tail
            #expect(streams.isEmpty)
            let (decoded, streamCount) = try body.withUnsafeBytes {
                try WireDecoder.decode(Everything.self, from: $0, version: 0, limits: DecodingLimits())
            }
            #expect(decoded == original)
            #expect(streamCount == 0)
        }
    }

    @Test("varints: sizes, boundaries, malformed and incomplete input")
    func varints() {
        for value: UInt64 in [0, 1, 127, 128, 16383, 16384, UInt64(UInt32.max), .max] {
            var bytes: [UInt8] = []
            Varint.append(value, to: &bytes)
            #expect(bytes.count == Varint.size(value))
            let read = bytes.withUnsafeBytes { Varint.read($0, at: 0) }
            #expect(read == .value(value, length: bytes.count))
            let short = Array(bytes.dropLast())
            #expect(short.withUnsafeBytes { Varint.read($0, at: 0) } == .incomplete)
        }
        let tooLong = [UInt8](repeating: 0xFF, count: 11)
        #expect(tooLong.withUnsafeBytes { Varint.read($0, at: 0) } == .malformed)
        let overflow: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02]
        #expect(overflow.withUnsafeBytes { Varint.read($0, at: 0) } == .malformed)
        for value: Int64 in [0, -1, 1, .min, .max] { #expect(Varint.unzigzag(Varint.zigzag(value)) == value) }
    }

    @Test("versioning: an older reader skips appended fields, a newer reader defaults missing ones")
    func versioning() throws {
        let newer = ProfileV2(name: "ada", age: 36, home: Point(x: 1, y: 2, label: "home"))
        let newBody = try WireEncoder.encode(newer).bytes
        let (asOld, _) = try newBody.withUnsafeBytes {
            try WireDecoder.decode(ProfileV1.self, from: $0, version: ProfileV2.version, limits: DecodingLimits())
        }
        #expect(asOld == ProfileV1(name: "ada"))
        let oldBody = try WireEncoder.encode(ProfileV1(name: "bob")).bytes
        let (asNew, _) = try oldBody.withUnsafeBytes {
            try WireDecoder.decode(ProfileV2.self, from: $0, version: ProfileV1.version, limits: DecodingLimits())
        }
        #expect(asNew == ProfileV2(name: "bob", age: 99, home: Point()))
    }

    @Test("decoding limits and bad values are typed errors")
    func decodingErrors() throws {
        var limits = DecodingLimits()
        limits.maxStringBytes = 4
        limits.maxCollectionCount = 3
        limits.maxByteCount = 8
        func decode<M: WireMessage>(_ type: M.Type, _ bytes: [UInt8], limits: DecodingLimits = DecodingLimits()) -> WireError? {
            do {
                _ = try bytes.withUnsafeBytes { try WireDecoder.decode(type, from: $0, version: 0, limits: limits) }
                return nil
            } catch {
                return error as? WireError
            }
        }
        #expect(decode(Ping.self, [1, 5, 104, 101, 108, 108, 111], limits: limits) == .invalidString("5 bytes exceeds the limit of 4"))
        #expect(decode(Ping.self, [1, 2, 0xC3, 0x28]) == .invalidString("not UTF-8"))
        #expect(decode(Ping.self, [1, 9, 65]) == .truncatedField("string"))
        #expect(decode(Ping.self, [0x80]) == .truncatedField("varint"))
        #expect(decode(Ping.self, [UInt8](repeating: 0xFF, count: 11)) == .malformedVarint)
        var everything = Everything()
        everything.numbers = [1, 2, 3, 4]
        let body = try WireEncoder.encode(everything).bytes
        #expect(decode(Everything.self, body, limits: limits) == .collectionTooLarge(count: 4, limit: 3))
        everything.numbers = []
        everything.bytes = Array(repeating: 1, count: 9)
        let bytesBody = try WireEncoder.encode(everything).bytes
        #expect(decode(Everything.self, bytesBody, limits: limits) == .collectionTooLarge(count: 9, limit: 8))
        // A UInt8 field receiving 300.
        var wide: [UInt8] = []
        Varint.append(300, to: &wide)
        #expect(decode(Everything.self, wide) == .valueOutOfRange("UInt8"))
        // A Bool byte of 2: u8..int are 1-byte varints of 0, then fixed32 (4) and fixed64 (8), then the bool.
        let badBool = [UInt8](repeating: 0, count: 9) + [UInt8](repeating: 0, count: 12) + [2]
        #expect(decode(Everything.self, badBool) == .invalidTag(2))
    }

    @Test("nested values: depth limit and lengths beyond their container")
    func nesting() throws {
        var limits = DecodingLimits()
        limits.maxNestingDepth = 0
        let body = try WireEncoder.encode(Everything()).bytes
        let depthError = body.withUnsafeBytes { bytes -> WireError? in
            do {
                _ = try WireDecoder.decode(Everything.self, from: bytes, version: 0, limits: limits)
                return nil
            } catch { return error as? WireError }
        }
        #expect(depthError == .nestingTooDeep(0))
        var truncated = body
        truncated.removeLast()  // the origin point's bytes end early: its length now lies
        let lengthError = truncated.withUnsafeBytes { bytes -> WireError? in
            do {
                _ = try WireDecoder.decode(Everything.self, from: bytes, version: 0, limits: DecodingLimits())
                return nil
            } catch { return error as? WireError }
        }
        #expect(lengthError == .nestedLengthMismatch)
    }
}

@Suite("Writer → reader in memory")
struct WriterReaderTests {
    @Test("protocolBasic: 2,000 messages of random types and sizes arrive intact, split at random boundaries")
    func protocolBasic() throws {
        let registry = try sampleRegistry()
        var generator = SeededGenerator(seed: 42)
        let loop = WireLoop(packetSize: 8192, slots: 8, registry: registry)
        var expectedPings: [UInt64: Ping] = [:]
        var expectedEverything: [UInt64: Everything] = [:]
        for index in 0..<2000 {
            if Bool.random(using: &generator) {
                let ping = Ping(id: UInt64(index), text: String(repeating: "x", count: Int.random(in: 0...300, using: &generator)))
                expectedPings[UInt64(index)] = ping
                try loop.writer.enqueue(ping, registry: registry)
            } else {
                var message = Everything.random(using: &generator, size: Int.random(in: 0...40_000, using: &generator))
                message.u64 = UInt64(index)
                expectedEverything[UInt64(index)] = message
                try loop.writer.enqueue(message, registry: registry)
            }
            if index % 7 == 0 { try loop.step { _ in Int.random(in: 1...3000, using: &generator) } }
        }
        try loop.drain { _ in Int.random(in: 1...5000, using: &generator) }
        var pings = 0
        var everythings = 0
        for (_, message) in loop.messages {
            if let ping = message as? Ping {
                #expect(expectedPings.removeValue(forKey: ping.id) == ping)
                pings += 1
            } else if let full = message as? Everything {
                #expect(expectedEverything.removeValue(forKey: full.u64) == full)
                everythings += 1
            }
        }
        #expect(pings + everythings == 2000)
        #expect(expectedPings.isEmpty && expectedEverything.isEmpty)
        #expect(loop.outcomes.count == 2000)
        #expect(loop.outcomes.allSatisfy { $0.1 == .written })
        #expect(loop.events.count == 2000, "no rejections, cancels or other events")
    }

    @Test("one byte at a time works")
    func oneByteAtATime() throws {
        let registry = try sampleRegistry()
        var generator = SeededGenerator(seed: 3)
        let loop = WireLoop(packetSize: 4096, slots: 4, registry: registry)
        let messages = (0..<20).map { _ in Everything.random(using: &generator, size: Int.random(in: 0...6000, using: &generator)) }
        for message in messages { try loop.writer.enqueue(message, registry: registry) }
        try loop.drain { _ in 1 }
        let received = loop.messages.map { $0.1 as! Everything }.sorted { $0.u64 < $1.u64 }
        #expect(received.count == messages.count)
        #expect(received == messages.sorted { $0.u64 < $1.u64 }, "contents differ")
    }

    @Test("protocolSynchronous: synchronous messages arrive in send order, asynchronous ones interleave")
    func protocolSynchronous() throws {
        let registry = try sampleRegistry()
        var generator = SeededGenerator(seed: 7)
        let loop = WireLoop(packetSize: 4096, slots: 8, registry: registry)
        var synchronousOrder: [UInt64] = []
        for index in 0..<400 {
            let synchronous = index % 3 == 0
            let ping = Ping(id: UInt64(index), text: String(repeating: "s", count: Int.random(in: 0...20_000, using: &generator)))
            try loop.writer.enqueue(ping, registry: registry, flags: synchronous ? [.synchronous] : [])
            if synchronous { synchronousOrder.append(UInt64(index)) }
        }
        try loop.drain()
        let received = loop.messages
        #expect(received.count == 400)
        let synchronousReceived = received.filter { $0.0.flags.contains(.synchronous) }.map { ($0.1 as! Ping).id }
        #expect(synchronousReceived == synchronousOrder)
        let asynchronous = received.filter { !$0.0.flags.contains(.synchronous) }.map { ($0.1 as! Ping).id }
        #expect(asynchronous != asynchronous.sorted(), "asynchronous messages of different sizes finish out of order")
    }

    @Test("fairness: a 64-byte message waits about one packet per active message behind a huge one")
    func fairness() throws {
        let registry = try sampleRegistry()
        let loop = WireLoop(packetSize: 16384, slots: 8, registry: registry)
        var sent: UInt64 = 0
        let big = FileTransfer(name: "big", data: StreamField(source: ClosureByteSource { buffer in
            let count = min(buffer.count, Int(1 << 30) - Int(sent))
            buffer.initializeMemory(as: UInt8.self, repeating: 0xAB)
            sent += UInt64(count)
            return count
        }))
        loop.reader.makeSinks = { _, _ in [CountingSink()] }
        try loop.writer.enqueue(big, registry: registry)
        for _ in 0..<10 { try loop.step() }
        try loop.writer.enqueue(Ping(id: 1, text: "ping"), registry: registry)
        let before = loop.packets
        while loop.messages.isEmpty { try loop.step() }
        #expect(loop.packets - before <= 2, "the ping went out within \(loop.packets - before) packets")
        #expect((loop.messages.first?.1 as? Ping)?.id == 1)
    }

    @Test("an unknown message type is rejected on its own; the next message still arrives")
    func unknownType() throws {
        let sender = try sampleRegistry()
        let receiver = MessageRegistry()
        try receiver.register(protocol: 1, [Ping.self])  // knows protocol 1 partly, not protocol 2
        let writer = MessageWriter(packetSize: 4096, slots: 4)
        let reader = PacketReader(agreedPacketSize: 4096, slots: 4, registry: receiver)
        var events: [String] = []
        reader.onEvent = { event in
            switch event {
            case .message(_, let message): events.append("message \((message as! Ping).id)")
            case .rejected(let header, let error): events.append("rejected \(header.typeID): \(error)")
            default: events.append("other")
            }
        }
        try writer.enqueue(ProfileV2(name: "x"), registry: sender)
        try writer.enqueue(Everything(), registry: sender)
        try writer.enqueue(Ping(id: 5, text: "after"), registry: sender)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { buffer.deallocate() }
        while case let size = writer.nextPacket(into: buffer), size > 0 {
            try reader.consume(UnsafeRawBufferPointer(rebasing: buffer[0..<size]))
        }
        #expect(events == [
            "rejected 2.0: \(WireError.unknownMessageType(protocol: 2, type: 0))",
            "rejected 1.1: \(WireError.unknownMessageType(protocol: 1, type: 1))",
            "message 5",
        ])
    }
}

/// Counts stream bytes without keeping them.
final class CountingSink: ByteSink {
    var count = 0
    var finished = false
    var aborted: WireError?
    func write(_ bytes: UnsafeRawBufferPointer) throws { count += bytes.count }
    func finish() throws { finished = true }
    func abort(_ error: WireError) { aborted = error }
}

@Suite("Start-secure packet")
struct StartSecurePacketTests {
    @Test("the reader stops at a start-secure packet and keeps every byte after it, also from later reads")
    func leftoverKept() throws {
        let registry = MessageRegistry()
        var configuration = ReaderConfiguration()
        configuration.local = HelloParameters()
        let reader = PacketReader(configuration: configuration, registry: registry)
        var events: [String] = []
        reader.onEvent = { event in
            switch event {
            case .handshake: events.append("hello")
            case .keepAlive: events.append("keep-alive")
            case .startSecure: events.append("start secure")
            default: events.append("other")
            }
        }
        var hello = [UInt8](repeating: 0, count: PacketFormat.headerSize + Hello.payloadSize)
        _ = hello.withUnsafeMutableBytes { Hello.write(HelloParameters(), into: $0) }
        let tlsBytes: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x02, 0x03]
        let input = hello + [2, 0, 0, 0] + [4, 0, 0, 0] + tlsBytes
        try input.withUnsafeBytes { try reader.consume($0) }
        try [UInt8]([9, 9]).withUnsafeBytes { try reader.consume($0) }
        #expect(events == ["hello", "keep-alive", "start secure"])
        #expect(reader.isSuspended)
        #expect(reader.takeLeftover() == tlsBytes + [9, 9])
        reader.resume()
        try [UInt8]([2, 0, 0, 0]).withUnsafeBytes { try reader.consume($0) }
        #expect(events.last == "keep-alive")
    }

    @Test("a start-secure packet with a payload or flags, or before the hello, is a protocol violation")
    func malformed() throws {
        for (input, expected) in [
            ([UInt8]([4, 0, 0, 0]), WireError.unexpectedPacketBeforeHandshake(4)),
        ] {
            let reader = PacketReader(configuration: ReaderConfiguration(), registry: MessageRegistry())
            #expect(throws: expected) { try input.withUnsafeBytes { try reader.consume($0) } }
        }
        var hello = [UInt8](repeating: 0, count: PacketFormat.headerSize + Hello.payloadSize)
        _ = hello.withUnsafeMutableBytes { Hello.write(HelloParameters(), into: $0) }
        for (tail, expected) in [
            ([UInt8]([4, 0, 1, 0, 7]), WireError.startSecureWithPayload(1)),
            ([UInt8]([4, 1, 0, 0]), WireError.invalidPacketFlags(kind: 4, flags: 1)),
        ] {
            let reader = PacketReader(configuration: ReaderConfiguration(), registry: MessageRegistry())
            #expect(throws: expected) { try (hello + tail).withUnsafeBytes { try reader.consume($0) } }
        }
    }
}

@Suite("Reader buffers")
struct ReaderBufferTests {
    @Test("a reader holds no packet buffer while packets arrive whole; one split packet allocates one agreed packet, kept")
    func lazyBuffers() throws {
        var configuration = ReaderConfiguration()
        configuration.local = HelloParameters(packetSize: 16384)
        let reader = PacketReader(configuration: configuration, registry: MessageRegistry())
        var events: [String] = []
        reader.onEvent = { event in
            switch event {
            case .handshake(_, let agreed): events.append("handshake \(agreed.packetSize)")
            case .goingAway: events.append("goingAway")
            case .keepAlive: events.append("keepAlive")
            default: events.append("other")
            }
        }
        #expect(reader.bufferBytes == 0)
        var hello = [UInt8](repeating: 0, count: PacketFormat.headerSize + Hello.payloadSize)
        _ = hello.withUnsafeMutableBytes { Hello.write(HelloParameters(packetSize: 32768), into: $0) }
        try hello.withUnsafeBytes { try reader.consume($0) }
        #expect(reader.bufferBytes == 0, "the hello arrived whole")
        let keepAlive: [UInt8] = [PacketFormat.Kind.keepAlive.rawValue, 0, 0, 0]
        let goingAway: [UInt8] = [PacketFormat.Kind.data.rawValue, 0, 1, 0, PacketFormat.Command.goingAway.rawValue]
        try (keepAlive + goingAway.prefix(4)).withUnsafeBytes { try reader.consume($0) }
        #expect(reader.bufferBytes == 0, "a header alone needs no payload buffer")
        try goingAway.suffix(1).withUnsafeBytes { try reader.consume($0) }
        #expect(reader.bufferBytes == 16384 - PacketFormat.headerSize, "the smaller packet size of both sides, less its header")
        try (goingAway + keepAlive).withUnsafeBytes { try reader.consume($0) }
        #expect(reader.bufferBytes == 16384 - PacketFormat.headerSize, "kept for the next split packet")
        #expect(events == ["handshake 16384", "keepAlive", "goingAway", "goingAway", "keepAlive"])

        let splitHello = PacketReader(configuration: configuration, registry: MessageRegistry())
        try hello.prefix(10).withUnsafeBytes { try splitHello.consume($0) }
        #expect(splitHello.bufferBytes == PacketFormat.maxHelloPayload, "a split hello is copied into a hello-sized buffer")
        try hello.dropFirst(10).withUnsafeBytes { try splitHello.consume($0) }
        #expect(splitHello.bufferBytes == 0, "the handshake frees it")
        let withCodec = PacketReader(agreedPacketSize: 8192, slots: 4, codec: SnappyCodec(), registry: MessageRegistry())
        #expect(withCodec.bufferBytes == 8192, "decompression needs its buffer from the start")
    }
}
