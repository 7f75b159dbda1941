import Testing
@testable import SolidEngine

@Suite("Packet sharing")
struct FairShareTests {
    @Test("a small message queued behind a large one goes out complete in the very next packet")
    func smallMessageInNextPacket() throws {
        let registry = try sampleRegistry()
        let loop = WireLoop(packetSize: 16384, slots: 4, registry: registry)
        try loop.writer.enqueue(Ping(id: 1, text: String(repeating: "x", count: 200_000)), registry: registry)
        try loop.step()
        try loop.step()
        try loop.writer.enqueue(Ping(id: 2, text: "ping"), registry: registry)
        try loop.step()
        #expect(loop.messages.map { ($0.1 as! Ping).id } == [2], "the ping arrived with the next packet")
        try loop.drain()
        #expect(loop.messages.map { ($0.1 as! Ping).id } == [2, 1])
        // Sharing costs nothing in packets: the large message still fills every packet it is alone in.
        let expectedPackets = (200_000 + 200) / (16384 - 16) + 2
        #expect(loop.packets <= expectedPackets, "\(loop.packets) packets")
    }
}
