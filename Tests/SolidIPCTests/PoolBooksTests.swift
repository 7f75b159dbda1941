import Testing
@testable import SolidIPC

/// The pool's books without sockets: request ids and the in-flight list.
@Suite("Pool books")
struct PoolBooksTests {
    static func item(_ serial: UInt64) -> PoolItem { PoolItem(serial: serial, flags: [], timeout: nil, addressed: false) }

    @Test("request ids grow, skip taken slots, survive growth; stale and unknown ids find nothing")
    func awaitingTable() {
        var table = AwaitingTable()
        let first = (1...8).map { _ in Self.item(0) }
        let ids = first.map { table.add($0) }
        #expect(ids == Array(1...8))
        #expect(table.count == 8)
        // Free all but id 2: the slot of 2 stays taken while ids go round the table.
        for id: UInt64 in [1, 3, 4, 5, 6, 7, 8] { #expect(table.remove(id) === first[Int(id) - 1]) }
        var later: [UInt64] = []
        var items: [PoolItem] = []
        for _ in 0..<40 {
            let item = Self.item(0)
            items.append(item)
            later.append(table.add(item))
        }
        #expect(Set(later).count == 40 && later.allSatisfy { $0 > 8 }, "fresh, unique ids: \(later)")
        #expect(later == later.sorted(), "ids only grow")
        #expect(table.peek(2) === first[1], "id 2 kept its item through the growth")
        for (id, item) in zip(later, items) { #expect(table.peek(id) === item) }
        #expect(table.peek(1) == nil && table.remove(5) == nil && table.peek(0) == nil, "given-up ids find nothing")
        #expect(table.peek(later.last! + 16) == nil, "an id never given out finds nothing")
        let all = table.removeAll()
        #expect(all.map(\.requestID) == [2] + later, "everything, in the order sent")
        #expect(table.isEmpty && table.peek(2) == nil)
    }

    @Test("in-flight list: insert, remove in any order (twice is harmless), find by serial, remove all")
    func inFlightList() {
        var list = InFlightList()
        let items = (1...5).map { Self.item(UInt64($0)) }
        for item in items { list.insert(item) }
        #expect(list.count == 5)
        list.remove(items[2])
        list.remove(items[2])
        list.remove(items[0])
        list.remove(items[4])
        #expect(list.count == 2)
        #expect(list.first(serial: 2) === items[1] && list.first(serial: 4) === items[3])
        #expect(list.first(serial: 1) == nil && list.first(serial: 3) == nil && list.first(serial: 5) == nil)
        list.insert(items[0])  // removed items can come back (a message resent after a drop)
        #expect(list.first(serial: 1) === items[0] && list.count == 3)
        list.removeAll()
        #expect(list.isEmpty && items.allSatisfy { !$0.listed && $0.listNext == nil })
    }
}

@Suite("Pool queue memory")
struct ItemQueueMemoryTests {
    @Test("a queue that never empties frees what it popped and keeps its storage bounded")
    func neverEmpty() {
        var queue = ItemQueue()
        var popped: [Weak] = []
        for serial in 0..<UInt64(10) { queue.append(PoolBooksTests.item(serial)) }
        for serial in 10..<UInt64(100_010) {
            queue.append(PoolBooksTests.item(serial))
            if let item = queue.popFirst(), serial % 1000 == 0 { popped.append(Weak(item)) }
            #expect(queue.count == 10)
        }
        #expect(popped.count == 100)
        #expect(popped.allSatisfy { $0.value == nil }, "every popped item is freed (no reference left in the queue)")
        #expect(queue.storageCount <= 64, "storage \(queue.storageCount) for 10 queued items")
        // Order kept throughout.
        #expect(queue.popFirst()?.serial == 100_000)
    }
}

@Suite("Pool queue order")
struct ItemQueueOrderTests {
    @Test("a ring that wrapped around keeps order through growth, removal by serial, prepending and removal by predicate")
    func orderAcrossWrapAndGrowth() {
        var queue = ItemQueue()
        for serial in 0..<UInt64(12) { queue.append(PoolBooksTests.item(serial)) }
        for expected in 0..<UInt64(8) { #expect(queue.popFirst()?.serial == expected) }
        // 4 left at the ring's end; 20 more wrap around its start, then grow it.
        for serial in 12..<UInt64(32) { queue.append(PoolBooksTests.item(serial)) }
        #expect(queue.count == 24 && queue.first?.serial == 8)
        #expect(queue.remove(serial: 20)?.serial == 20)
        #expect(queue.remove(serial: 99) == nil)
        queue.prepend([PoolBooksTests.item(100), PoolBooksTests.item(101)])
        let removed = queue.removeAll { $0.serial % 3 == 0 }
        #expect(removed.map(\.serial) == [9, 12, 15, 18, 21, 24, 27, 30])
        var rest: [UInt64] = []
        while let item = queue.popFirst() { rest.append(item.serial) }
        let expected: [UInt64] = [100, 101] + (8..<UInt64(32)).filter { $0 != 20 && $0 % 3 != 0 }
        #expect(rest == expected)
        #expect(queue.isEmpty && queue.first == nil && queue.count == 0)
    }

    @Test("a large ring is freed when it empties")
    func largeRingFreed() {
        var queue = ItemQueue()
        for serial in 0..<UInt64(5000) { queue.append(PoolBooksTests.item(serial)) }
        #expect(queue.storageCount >= 5000)
        while queue.popFirst() != nil {}
        #expect(queue.storageCount == 0)
    }
}

/// A weak reference, to see whether something was freed.
final class Weak {
    weak var value: PoolItem?
    init(_ value: PoolItem) { self.value = value }
}

@Suite("Reconnect back-off")
struct BackOffTests {
    @Test("doubles per failure up to the limit, and a long base saturates instead of wrapping to a short wait")
    func saturates() {
        let limit = Duration.seconds(10)
        #expect(Dialer.backOff(base: .milliseconds(100), failures: 1, limit: limit) == 100_000_000)
        #expect(Dialer.backOff(base: .milliseconds(100), failures: 4, limit: limit) == 800_000_000)
        #expect(Dialer.backOff(base: .milliseconds(100), failures: 60, limit: limit) == 10_000_000_000)
        // 10^6 s << 20 overflows Int64 nanoseconds: the old shift wrapped it into a tight retry loop.
        let week = Duration.seconds(7 * 86_400)
        #expect(Dialer.backOff(base: .seconds(1_000_000), failures: 21, limit: .seconds(Int64.max)) == Int64.max)
        #expect(Dialer.backOff(base: .seconds(1_000_000), failures: 21, limit: week) == 7 * 86_400 * 1_000_000_000)
        #expect(Dialer.backOff(base: .milliseconds(5), failures: 0, limit: limit) == 5_000_000)
    }
}
