import SolidEngine

/// A first-in first-out queue of pool items.
///
/// Popping drops the queue's reference at once (the slot is emptied), and the storage is compacted once
/// the emptied front is at least half of it, so a queue that never empties (steady backpressure) holds
/// only what is queued, not every item that ever passed through it.
struct ItemQueue {
    private var items: [PoolItem?] = []
    private var head = 0

    var isEmpty: Bool { head == items.count }

    /// The next item, left in place.
    var first: PoolItem? { head < items.count ? items[head] : nil }

    mutating func append(_ item: PoolItem) { items.append(item) }

    /// Puts `front` ahead of everything queued, in its order.
    mutating func prepend(_ front: [PoolItem]) {
        items = front.map(Optional.some) + items[head...]
        head = 0
    }

    /// How many items are queued.
    var count: Int { items.count - head }

    /// Slots the storage holds (queued items plus emptied ones not yet compacted), for tests.
    var storageCount: Int { items.count }

    /// Removes and returns the queued items that match, keeping the others in order.
    mutating func removeAll(where matches: (PoolItem) -> Bool) -> [PoolItem] {
        var removed: [PoolItem] = []
        var kept: [PoolItem?] = []
        for case let item? in items[head...] {
            if matches(item) { removed.append(item) } else { kept.append(item) }
        }
        items = kept
        head = 0
        return removed
    }

    /// Removes the item with `serial`, if queued.
    mutating func remove(serial: UInt64) -> PoolItem? {
        guard let index = items[head...].firstIndex(where: { $0?.serial == serial }) else { return nil }
        return items.remove(at: index)
    }

    mutating func popFirst() -> PoolItem? {
        guard head < items.count else { return nil }
        let item = items[head]
        items[head] = nil
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 32 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return item
    }
}
