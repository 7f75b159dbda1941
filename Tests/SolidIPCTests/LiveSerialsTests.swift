import Synchronization
import Testing
@testable import SolidIPC

@Suite("Live serials")
struct LiveSerialsTests {
    @Test("slots and the overflow set: colliding serials, removal in any order, unknown and 0 are not live")
    func collisions() {
        let live = LiveSerials()
        let serials: [UInt64] = [1, 257, 513, 2, 258, 1000]  // 1, 257 and 513 share a slot; so do 2 and 258
        for serial in serials { live.insert(serial) }
        for serial in serials { #expect(live.contains(serial), "\(serial)") }
        #expect(!live.contains(0))
        #expect(!live.contains(769), "same slot as 1, never inserted")
        live.remove(1)  // frees the slot while 257 and 513 stay in the overflow set
        #expect(!live.contains(1))
        #expect(live.contains(257) && live.contains(513))
        live.insert(769)  // takes the freed slot
        #expect(live.contains(769))
        live.remove(513)
        live.remove(513)  // a second removal changes nothing
        #expect(!live.contains(513) && live.contains(257) && live.contains(769))
        for serial: UInt64 in [257, 769, 2, 258, 1000] { live.remove(serial) }
        for serial: UInt64 in [1, 2, 257, 258, 513, 769, 1000] { #expect(!live.contains(serial), "\(serial)") }
    }

    @Test("4 threads insert and remove 50,000 serials each (windows of 300, so slots collide): none lost or stuck")
    func concurrent() async {
        let live = LiveSerials()
        final class Count: Sendable { let value = Atomic<Int>(0) }
        let lost = Count()
        await withTaskGroup(of: Void.self) { group in
            for thread in 0..<4 {
                group.addTask {
                    var window: [UInt64] = []
                    for index in 0..<50_000 {
                        let serial = UInt64(index * 4 + thread + 1)
                        live.insert(serial)
                        window.append(serial)
                        if window.count > 300 {
                            let done = window.removeFirst()
                            if !live.contains(done) { lost.value.add(1, ordering: .relaxed) }
                            live.remove(done)
                            if live.contains(done) { lost.value.add(1, ordering: .relaxed) }
                        }
                    }
                    for serial in window {
                        if !live.contains(serial) { lost.value.add(1, ordering: .relaxed) }
                        live.remove(serial)
                    }
                }
            }
        }
        #expect(lost.value.load(ordering: .relaxed) == 0)
        for serial in stride(from: UInt64(1), through: 200_000, by: 997) { #expect(!live.contains(serial)) }
    }
}
