import Testing
@testable import SolidEngine

@Suite("Writer recycling")
struct WriterRecyclingTests {
    @Test("consecutive small messages are encoded into the same recycled buffer (no allocation per message)")
    func sameBuffer() throws {
        let registry = try sampleRegistry()
        let loop = WireLoop(packetSize: 16384, slots: 4, registry: registry)
        var addresses: [UInt] = []
        for index in 0..<4 {
            try loop.writer.enqueue(Ping(id: UInt64(index), text: String(repeating: "a", count: index * 10)), registry: registry)
            try loop.drain()
            #expect(loop.writer.spareBuffers.count == 1)
            addresses.append(loop.writer.spareBuffers.last!.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) })
        }
        #expect(Set(addresses).count == 1, "one buffer, moved through encoder, message and back: \(addresses)")
        #expect(loop.messages.map { ($0.1 as! Ping).text.count } == [0, 10, 20, 30])
    }

    @Test("a buffer the caller hands to the encoder is written in place, not copied")
    func encoderMovesStorage() throws {
        var spares: [[UInt8]] = [[UInt8](repeating: 1, count: 200)]
        let address = spares[0].withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        let encoded = try WireEncoder.encode(Ping(id: 1, text: "abc"), headerRoom: 39, capacity: 64, storage: spares.popLast()!)
        #expect(encoded.bytes.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } == address)
        // The header room keeps what the recycled buffer held there (its contents are unspecified).
        #expect(encoded.bytes.count == 39 + 5 && encoded.bytes[0..<39].allSatisfy { $0 == 1 })
        let fresh = try WireEncoder.encode(Ping(id: 1, text: "abc"), headerRoom: 39, capacity: 64)
        #expect(fresh.bytes[0..<39].allSatisfy { $0 == 0 } && fresh.bytes[39...] == encoded.bytes[39...])
    }
}
