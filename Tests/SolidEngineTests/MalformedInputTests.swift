import SolidIPCSnappy
import Testing
@testable import SolidEngine

/// Builders for hand-made hostile input.
enum Bytes {
    static func packet(_ kind: UInt8, flags: UInt8 = 0, _ payload: [UInt8]) -> [UInt8] {
        [kind, flags, UInt8(payload.count & 0xFF), UInt8(payload.count >> 8)] + payload
    }

    static func data(_ records: [UInt8]...) -> [UInt8] { packet(1, records.flatMap { $0 }) }

    static func chunk(slot: UInt8 = 0, first: Bool = true, last: Bool = true, _ bytes: [UInt8]) -> [UInt8] {
        var command: UInt8 = 0x01
        if first { command |= 0x10 }
        if last { command |= 0x20 }
        return [command, slot, UInt8(bytes.count & 0xFF), UInt8(bytes.count >> 8)] + bytes
    }

    static func header(
        protocolID: UInt64 = 1, type: UInt64 = 0, version: UInt8 = 0, flags: UInt8 = 0, request: UInt64 = 0,
        responseTo: UInt64 = 0, body: UInt64 = 0, streams: UInt8 = 0
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        for value in [protocolID, type] { Varint.append(value, to: &bytes) }
        bytes += [version, flags]
        for value in [request, responseTo, body] { Varint.append(value, to: &bytes) }
        bytes.append(streams)
        return bytes
    }

    static func hello(
        magic: [UInt8] = Array("SIPC".utf8), version: UInt16 = 1, packetSize: UInt32 = 4096, slots: UInt16 = 4,
        codecs: UInt8 = 0, reserved: UInt8 = 0, flags: UInt8 = 0
    ) -> [UInt8] {
        var payload = magic
        payload += [UInt8(version & 0xFF), UInt8(version >> 8)]
        payload += (0..<4).map { UInt8(truncatingIfNeeded: packetSize >> (8 * $0)) }
        payload += [UInt8(slots & 0xFF), UInt8(slots >> 8), codecs, reserved]
        return packet(3, flags: flags, payload)
    }
}

@Suite("Malformed input: every violation is a precise error")
struct MalformedInputTests {
    /// Ping body: id 7, text "hi".
    static let pingBody: [UInt8] = [7, 2, 104, 105]

    static let connectionErrors: [(String, [UInt8], Bool, WireError)] = {
        let ping = Bytes.header(body: 4) + pingBody
        let longHeader = [UInt8](repeating: 0x80, count: 9) + [0] + [UInt8](repeating: 0x80, count: 9) + [0]
            + [0, 0] + [UInt8](repeating: 0x80, count: 9) + [0] + [UInt8](repeating: 0x80, count: 9)
        let fileHeader = Bytes.header(type: 2, body: 2, streams: 1) + [1, 120]  // name "x"
        return [
            ("packet kind 0", Bytes.packet(0, []), false, .unknownPacketKind(0)),
            ("packet kind 9", Bytes.packet(9, []), false, .unknownPacketKind(9)),
            ("data packet, undefined flag", Bytes.packet(1, flags: 0x02, []), false, .invalidPacketFlags(kind: 1, flags: 2)),
            ("compressed without a codec", Bytes.packet(1, flags: 0x01, [1]), false, .compressionNotAgreed),
            ("keep-alive with a flag", Bytes.packet(2, flags: 0x01, []), false, .invalidPacketFlags(kind: 2, flags: 1)),
            ("keep-alive with payload", Bytes.packet(2, [1, 2, 3]), false, .keepAliveWithPayload(3)),
            ("payload beyond packet size", [1, 0, 0x88, 0x13], false, .packetTooLarge(length: 5000, limit: 4092)),
            ("hello after the handshake", Bytes.hello(), false, .duplicateHello),
            ("data before the hello", Bytes.data(Bytes.chunk(ping)), true, .unexpectedPacketBeforeHandshake(1)),
            ("keep-alive before the hello", Bytes.packet(2, []), true, .unexpectedPacketBeforeHandshake(2)),
            ("oversized hello", [3, 0, 100, 0], true, .packetTooLarge(length: 100, limit: 64)),
            ("hello of wrong length", Bytes.packet(3, [UInt8](repeating: 0, count: 10)), true, .malformedHello("payload of 10 bytes")),
            ("hello with bad magic", Bytes.hello(magic: Array("XIPC".utf8)), true, .malformedHello("bad magic")),
            ("hello of version 2", Bytes.hello(version: 2), true, .unsupportedProtocolVersion(2)),
            ("hello of version 0", Bytes.hello(version: 0), true, .unsupportedProtocolVersion(0)),
            ("hello with tiny packets", Bytes.hello(packetSize: 100), true,
             .invalidHelloParameter("packet size 100 outside 4096...65536")),
            ("hello with huge packets", Bytes.hello(packetSize: 1 << 20), true,
             .invalidHelloParameter("packet size 1048576 outside 4096...65536")),
            ("hello with no slots", Bytes.hello(slots: 0), true, .invalidHelloParameter("slot count 0 outside 1...4096")),
            ("hello with reserved byte set", Bytes.hello(reserved: 1), true, .malformedHello("reserved byte is 1")),
            ("hello with a flag", Bytes.hello(flags: 1), true, .invalidPacketFlags(kind: 3, flags: 1)),
            ("record command 0", Bytes.data([0x00]), false, .unknownRecord(0x00)),
            ("record command 15", Bytes.data([0x0F]), false, .unknownRecord(0x0F)),
            ("chunk with undefined flag", Bytes.data([0x41, 0, 0, 0]), false, .unknownRecord(0x41)),
            ("chunk cut after the command", Bytes.data([0x31]), false, .truncatedRecord),
            ("chunk cut inside the length", Bytes.data([0x31, 0, 5]), false, .truncatedRecord),
            ("chunk slot beyond the slot count", Bytes.data(Bytes.chunk(slot: 4, ping)), false, .slotOutOfRange(slot: 4, limit: 4)),
            ("chunk slot as an 11-byte varint", Bytes.data([0x31] + [UInt8](repeating: 0xFF, count: 11)), false, .malformedVarint),
            ("chunk longer than the packet", Bytes.data([0x31, 0, 10, 0, 1, 2]), false, .chunkLengthExceedsPacket(length: 10, remaining: 2)),
            ("continuation on an idle slot", Bytes.data(Bytes.chunk(first: false, [5])), false, .slotIdle(0)),
            ("first chunk on a busy slot", Bytes.data(Bytes.chunk(last: false, [1]), Bytes.chunk([1])), false, .slotBusy(0)),
            ("cancel of an idle slot", Bytes.data([0x02, 1]), false, .slotIdle(1)),
            ("cancel with flag bits", Bytes.data([0x12, 0]), false, .unknownRecord(0x12)),
            ("cancel-request cut short", Bytes.data([0x03, 0x80]), false, .truncatedRecord),
            ("message flags with undefined bit", Bytes.data(Bytes.chunk(Bytes.header(flags: 0x80))), false, .invalidMessageFlags(0x80)),
            ("request flag without request id", Bytes.data(Bytes.chunk(Bytes.header(flags: 0x01))), false,
             .inconsistentMessageFlags("request without a request id")),
            ("request id without request flag", Bytes.data(Bytes.chunk(Bytes.header(request: 5))), false,
             .inconsistentMessageFlags("request id without the request flag")),
            ("response part answering nothing", Bytes.data(Bytes.chunk(Bytes.header(flags: 0x02))), false,
             .inconsistentMessageFlags("response part without a request to answer")),
            ("17 stream fields", Bytes.data(Bytes.chunk(Bytes.header(streams: 17))), false, .tooManyStreams(17)),
            ("protocol id beyond 16 bits", Bytes.data(Bytes.chunk(Bytes.header(protocolID: 70000))), false,
             .valueOutOfRange("message header")),
            ("header longer than any valid one", Bytes.data(Bytes.chunk(last: false, longHeader)), false, .messageHeaderTooLong),
            ("message ends inside its header", Bytes.data(Bytes.chunk([1, 0, 0])), false, .messageLengthMismatch(slot: 0)),
            ("message ends inside its body", Bytes.data(Bytes.chunk(Bytes.header(body: 4) + [7, 2])), false,
             .messageLengthMismatch(slot: 0)),
            ("message goes on after its end", Bytes.data(Bytes.chunk(ping + [0])), false, .messageLengthMismatch(slot: 0)),
            ("stream segment longer than a packet", Bytes.data(Bytes.chunk(fileHeader + [0xFF, 0xFF])), false,
             .invalidStreamSegment(65535)),
            ("message ends inside its stream", Bytes.data(Bytes.chunk(fileHeader + [2, 0, 1])), false,
             .messageLengthMismatch(slot: 0)),
        ]
    }()

    @Test("connection-level violations: 45 inputs, each with its exact error, and the reader stays failed")
    func connectionLevel() throws {
        let registry = try sampleRegistry()
        #expect(Self.connectionErrors.count >= 30)
        for (name, bytes, handshake, expected) in Self.connectionErrors {
            let error = readerError(bytes, handshake: handshake, registry: registry, sinks: { _, _ in [CollectingSink()] })
            #expect(error == expected, "\(name)")
        }
        // Once failed, always failed.
        let reader = PacketReader(agreedPacketSize: 4096, slots: 4, registry: registry)
        let bad = Bytes.packet(9, [])
        for _ in 0..<2 {
            #expect(throws: WireError.unknownPacketKind(9)) { try bad.withUnsafeBytes { try reader.consume($0) } }
        }
        #expect(throws: WireError.unknownPacketKind(9)) { try Bytes.packet(2, []).withUnsafeBytes { try reader.consume($0) } }
    }

    @Test("message-level violations reject one message and the connection goes on")
    func messageLevel() throws {
        let registry = try sampleRegistry()
        let cases: [(String, [UInt8], WireError)] = [
            ("unknown protocol", Bytes.chunk(Bytes.header(protocolID: 9)), .unknownMessageType(protocol: 9, type: 0)),
            ("unknown type index", Bytes.chunk(Bytes.header(type: 40)), .unknownMessageType(protocol: 1, type: 40)),
            ("body larger than allowed", Bytes.chunk(Bytes.header(body: 1 << 40) + [1, 2, 3]),
             .messageTooLarge(length: 1 << 40, limit: 1 << 20)),
            ("string runs past the body", Bytes.chunk(Bytes.header(body: 3) + [7, 9, 65]), .truncatedField("string")),
            ("invalid UTF-8", Bytes.chunk(Bytes.header(body: 4) + [7, 2, 0xC3, 0x28]), .invalidString("not UTF-8")),
            ("streams declared for a type without", Bytes.chunk(Bytes.header(body: 4, streams: 1) + Self.pingBody),
             .streamCountMismatch(declared: 1, described: 0)),
        ]
        Self.expectRejectedAlone(cases, registry: registry)
    }

    /// For each case, a fresh reader (4 KiB packets, `maxBodyBytes` 1 MiB) gets the bad chunk and then a
    /// good `Ping` (id 7) in another slot in one data packet: it must reject exactly the bad message, with
    /// the expected error, and deliver the ping.
    static func expectRejectedAlone(_ cases: [(String, [UInt8], WireError)], registry: MessageRegistry) {
        let good = Bytes.chunk(slot: 1, Bytes.header(body: 4) + pingBody)
        for (name, bad, expected) in cases {
            var events: [String] = []
            let reader = PacketReader(agreedPacketSize: 4096, slots: 4, registry: registry, maxBodyBytes: 1 << 20)
            reader.onEvent = { event in
                switch event {
                case .rejected(_, let error): events.append("rejected: \(error)")
                case .message(_, let message): events.append("message \((message as! Ping).id)")
                default: events.append("other")
                }
            }
            let bytes = Bytes.data(bad, good)
            #expect(throws: Never.self, "\(name)") { try bytes.withUnsafeBytes { try reader.consume($0) } }
            #expect(events == ["rejected: \(expected)", "message 7"], "\(name)")
        }
    }
}
