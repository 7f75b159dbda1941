import Foundation
import Glibc
import SolidEngine
import SolidIPC
import SolidReactor
import Testing

@Suite("Declared sizes from a hostile peer", .serialized)
struct DeclaredSizeAttackTests {
    /// A hello, then in each of 64 slots the first 2 KB of a Note whose body declares 400 MiB.
    static func attack(registry: MessageRegistry) throws -> [UInt8] {
        var bytes = helloBytes()
        let typeID = try #require(registry.typeID(of: Note.self))
        for slot in 0..<64 {
            var chunk: [UInt8] = []
            MessageHeader(typeID: typeID, version: 0, flags: [], requestID: 0, responseTo: 0, bodyLength: 400 << 20, streamCount: 0)
                .encode(into: &chunk)
            chunk += [UInt8](repeating: 0x41, count: 2000)
            var record: [UInt8] = [PacketFormat.Command.chunk.rawValue | PacketFormat.firstChunkFlag]
            Varint.append(UInt64(slot), to: &record)
            record += [UInt8(chunk.count & 0xFF), UInt8(chunk.count >> 8)] + chunk
            bytes += [PacketFormat.Kind.data.rawValue, 0, UInt8(record.count & 0xFF), UInt8(record.count >> 8)] + record
        }
        return bytes
    }

    @Test("8 peers declaring 64 × 400 MiB each: the server (defaults) holds at most its receive budget in charges, its memory stays flat, and another client is served")
    func declaredSizes() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startMirrorServer(group: group)
        defer { server.stop() }
        let attack = try Self.attack(registry: try noteRegistry())
        let virtualBefore = virtualMemoryBytes()
        let residentBefore = residentBytes()
        let peers = 8
        let attackers = HostilePeers(peers, connectingTo: destination.port, group: group, sending: attack, reading: true)
        defer { attackers.close() }
        #expect(waitUntil { server.statistics.bytesReceived >= peers * attack.count })
        let statistics = server.statistics
        let budget = ServiceConfiguration.defaultMaxReceivingBytes
        #expect(statistics.receivingBytes <= budget, "\(statistics.receivingBytes) charged, budget \(budget)")
        #expect(statistics.receivingBytes >= 400 << 20, "the first declarations are accepted")
        let virtualGrowth = virtualMemoryBytes() - virtualBefore
        let residentGrowth = residentBytes() - residentBefore
        #expect(virtualGrowth < 512 << 20, "address space grew by \(virtualGrowth >> 20) MiB")
        #expect(residentGrowth < 128 << 20, "resident memory grew by \(residentGrowth >> 20) MiB")
        // Another client is served meanwhile.
        let client = try startClient(group: group)
        defer { client.stop() }
        let answers = EventLog()
        try client.request(Note(id: 1, text: "hello"), to: destination, expecting: Note.self) { result in
            answers.add((try? result.get().text) ?? "\(result)")
        }
        #expect(answers.wait { !$0.isEmpty })
        #expect(answers.all == ["hello"])
    }
}
