import Foundation
import Testing
@testable import SolidEngine

/// The process's virtual size (address space reserved), from /proc/self/status.
func virtualBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmSize:") }),
        let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
    else { return 0 }
    return kilobytes * 1024
}

/// Hand-made Blob messages (protocol 1, type 1 of ``outOfLineRegistry()``).
enum BlobBytes {
    /// A header and the first `sent` bytes of a Blob whose array of `count` bytes is in line.
    static func inLine(count: Int, sent: Int) -> (header: [UInt8], body: [UInt8], bodyLength: Int) {
        var prefix: [UInt8] = []
        Varint.append(UInt64(count) << 1, to: &prefix)
        let bodyLength = prefix.count + count
        return (Bytes.header(type: 1, body: UInt64(bodyLength)), prefix + [UInt8](repeating: 7, count: sent), bodyLength)
    }

    /// A header and body of a Blob whose array of `count` bytes goes out of line, plus the first segment.
    static func outOfLine(count: Int, firstSegment: Int) -> [UInt8] {
        var body: [UInt8] = []
        Varint.append(UInt64(count) << 1 | 1, to: &body)
        let segment = [UInt8(firstSegment & 0xFF), UInt8(firstSegment >> 8)] + [UInt8](repeating: 9, count: firstSegment)
        return Bytes.header(type: 1, body: UInt64(body.count)) + body + segment
    }

    /// Feeds `bytes` as chunks of `slot` in packets of at most `packetSize`.
    static func feed(_ reader: PacketReader, slot: UInt8, _ bytes: [UInt8], first: Bool, last: Bool, packetSize: Int = 4096)
        throws
    {
        let room = packetSize - 4 - 4
        var offset = 0
        repeat {
            let end = min(bytes.count, offset + room)
            let packet = Bytes.data(
                Bytes.chunk(slot: slot, first: first && offset == 0, last: last && end == bytes.count, Array(bytes[offset..<end])))
            try packet.withUnsafeBytes { try reader.consume($0) }
            offset = end
        } while offset < bytes.count
    }
}

@Suite("Receive budgets: declared sizes cost memory only as bytes arrive, and are bounded")
struct ReceiveBudgetTests {
    static let megabyte = 1024 * 1024

    @Test("64 slots declaring 400 MiB bodies with 2 KB sent reserve no address space for the undelivered bytes")
    func declaredBodiesReserveNothing() throws {
        let reader = PacketReader(
            agreedPacketSize: 4096, slots: 64, registry: try outOfLineRegistry(), maxReceivingBytes: 64 * 512 * Self.megabyte)
        var rejected: [WireError] = []
        reader.onEvent = { if case .rejected(_, let error) = $0 { rejected.append(error) } }
        let before = virtualBytes()
        for slot in 0..<64 {
            let (header, body, _) = BlobBytes.inLine(count: 400 * Self.megabyte, sent: 32)
            try BlobBytes.feed(reader, slot: UInt8(slot), header + body, first: true, last: false)
        }
        let grown = virtualBytes() - before
        #expect(rejected.isEmpty)
        #expect(reader.receivingBytes > 64 * 400 * Self.megabyte, "charged at the declared sizes")
        #expect(grown < Self.addressSpaceBound, "address space grew by \(grown) bytes for 64 × 400 MiB declared")
    }

    /// The address-space growth these tests allow: far below the 16–25 GB declared, but room for what the
    /// other suites running in parallel map meanwhile (8 MiB of stack per reactor thread they start: at
    /// 64 MiB this failed once in a full run while other suites started reactor groups).
    static let addressSpaceBound = 1024 * megabyte

    @Test("out-of-line arrays declared at 250 MiB in 64 slots reserve no address space either")
    func declaredArraysReserveNothing() throws {
        let reader = PacketReader(
            agreedPacketSize: 4096, slots: 64, registry: try outOfLineRegistry(), maxReceivingBytes: 64 * 512 * Self.megabyte)
        var rejected: [WireError] = []
        reader.onEvent = { if case .rejected(_, let error) = $0 { rejected.append(error) } }
        let before = virtualBytes()
        for slot in 0..<64 {
            try BlobBytes.feed(
                reader, slot: UInt8(slot), BlobBytes.outOfLine(count: 250 * Self.megabyte, firstSegment: 1000),
                first: true, last: false)
        }
        let grown = virtualBytes() - before
        #expect(rejected.isEmpty)
        #expect(grown < Self.addressSpaceBound, "address space grew by \(grown) bytes for 64 × 400 MiB declared")
    }

    @Test("over the connection's budget a message is rejected alone; once the first is delivered the budget is free again")
    func connectionBudget() throws {
        let limit = 100_000
        let reader = PacketReader(
            agreedPacketSize: 4096, slots: 4, registry: try outOfLineRegistry(), maxReceivingBytes: limit)
        var events: [String] = []
        reader.onEvent = { event in
            switch event {
            case .rejected(_, let error): events.append("rejected: \(error)")
            case .message(_, let message): events.append("message of \((message as! Blob).data.count)")
            default: events.append("other")
            }
        }
        let first = BlobBytes.inLine(count: 60_000, sent: 100)
        try BlobBytes.feed(reader, slot: 0, first.header + first.body, first: true, last: false)
        #expect(reader.receivingBytes == first.bodyLength)
        let second = BlobBytes.inLine(count: 60_000, sent: 100)
        try BlobBytes.feed(reader, slot: 1, second.header + second.body, first: true, last: false)
        let expected = WireError.receiveBudgetExceeded(
            requested: UInt64(second.bodyLength), inUse: first.bodyLength, limit: limit, scope: .connection)
        #expect(events == ["rejected: \(expected)"])
        // The rest of the rejected message is dropped; the connection goes on.
        try BlobBytes.feed(reader, slot: 1, [UInt8](repeating: 1, count: 60_000 - 100), first: false, last: true)
        try BlobBytes.feed(reader, slot: 0, [UInt8](repeating: 7, count: 60_000 - 100), first: false, last: true)
        #expect(events == ["rejected: \(expected)", "message of 60000"])
        #expect(reader.receivingBytes == 0)
        let third = BlobBytes.inLine(count: 60_000, sent: 60_000)
        try BlobBytes.feed(reader, slot: 2, third.header + third.body, first: true, last: true)
        #expect(events.last == "message of 60000")
        #expect(reader.receivingBytes == 0)
    }

    @Test("a shared budget is charged by every reader and given back when a reader goes away")
    func sharedBudget() throws {
        let budget = ReceiveBudget(limit: 100_000)
        let registry = try outOfLineRegistry()
        var first: PacketReader? = PacketReader(agreedPacketSize: 4096, slots: 4, registry: registry, sharedBudget: budget)
        let second = PacketReader(agreedPacketSize: 4096, slots: 4, registry: registry, sharedBudget: budget)
        var rejected: [WireError] = []
        second.onEvent = { if case .rejected(_, let error) = $0 { rejected.append(error) } }
        let message = BlobBytes.inLine(count: 60_000, sent: 10)
        try BlobBytes.feed(first!, slot: 0, message.header + message.body, first: true, last: false)
        #expect(budget.inUse == message.bodyLength)
        try BlobBytes.feed(second, slot: 0, message.header + message.body, first: true, last: false)
        #expect(rejected == [
            .receiveBudgetExceeded(
                requested: UInt64(message.bodyLength), inUse: message.bodyLength, limit: 100_000, scope: .service),
        ])
        #expect(budget.inUse == message.bodyLength, "nothing charged for the rejected one")
        first = nil  // the connection died with its message unfinished
        #expect(budget.inUse == 0)
        try BlobBytes.feed(second, slot: 1, message.header + message.body, first: true, last: false)
        #expect(budget.inUse == message.bodyLength)
        #expect(rejected.count == 1)
    }

    @Test("a connection error gives back what its unfinished messages held")
    func failureReleases() throws {
        let budget = ReceiveBudget(limit: 1 << 30)
        let reader = PacketReader(agreedPacketSize: 4096, slots: 4, registry: try outOfLineRegistry(), sharedBudget: budget)
        try BlobBytes.feed(reader, slot: 0, BlobBytes.outOfLine(count: 5_000_000, firstSegment: 100), first: true, last: false)
        #expect(budget.inUse > 5_000_000)
        #expect(throws: WireError.unknownPacketKind(9)) { try Bytes.packet(9, []).withUnsafeBytes { try reader.consume($0) } }
        #expect(budget.inUse == 0)
    }

    @Test("growth: four times the capacity, the whole declared size once a sixteenth or 1 MiB arrived, never above it")
    func growthPolicy() {
        #expect(ReceiveGrowth.capacity(current: 0, needed: 10, declared: 100 << 20) == ReceiveGrowth.initialBytes)
        #expect(ReceiveGrowth.capacity(current: 0, needed: 10, declared: 1000) == 1000)
        // Under 1 MiB (and under a sixteenth): four times.
        #expect(ReceiveGrowth.capacity(current: 256 << 10, needed: (256 << 10) + 1, declared: 256 << 20) == 1 << 20)
        // 1 MiB reached: the whole declared size, so at most 1 MiB is ever copied on the way.
        #expect(ReceiveGrowth.capacity(current: 1 << 20, needed: (1 << 20) + 1, declared: 256 << 20) == 256 << 20)
        #expect(ReceiveGrowth.capacity(current: 1 << 20, needed: 1 << 20, declared: 512 << 20) == 512 << 20)
        // A sixteenth reached first (a 4 MiB message at 256 KiB): the whole of it.
        #expect(ReceiveGrowth.capacity(current: 0, needed: 256 << 10, declared: 4 << 20) == 4 << 20)
        #expect(ReceiveGrowth.capacity(current: 0, needed: (256 << 10) - 1, declared: 4 << 20) == 256 << 10)
        #expect(ReceiveGrowth.capacity(current: 64, needed: 5000, declared: 4000) == 4000)
    }
}
