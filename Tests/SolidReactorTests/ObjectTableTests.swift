import Testing
@testable import SolidReactor

/// A reactor-pinned object that does nothing.
private final class Inert: ReactorObject {
    func handle(_ event: ReactorEvent) {}
    func reactorStopping() {}
}

@Suite("Object table generations")
struct ObjectTableTests {
    @Test("a handle stays dead however often its slot is reused: where a 32-bit generation came round to it, it matches nothing")
    func noRevivalAfterWrap() {
        let table = ObjectTable()
        let first = table.insert(Inert())
        table.remove(first)
        // The slot reused 2³¹ − 1 more times (each insert and removal advances it by one): the next insert's
        // generation has the old one's low 32 bits.
        table.skipGenerations(of: first.slot, by: (1 << 31) - 1)
        let reused = table.insert(Inert())
        #expect(reused.slot == first.slot)
        #expect(reused.generation & 0xFFFF_FFFF == first.generation & 0xFFFF_FFFF)
        #expect(reused.generation != first.generation)
        #expect(table.lookup(first) == nil, "the stale handle reaches nothing")
        #expect(!table.isAlive(first))
        #expect(table.lookup(reused) != nil)
        #expect(table.lookup(packed: reused.packed) != nil, "an epoll token names the live object")
        table.remove(reused)
        #expect(table.lookup(packed: reused.packed) == nil)
    }
}
