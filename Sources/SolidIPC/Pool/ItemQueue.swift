import SolidEngine

/// A first-in first-out queue of pool items: a ring of slots (a power of two), so appending and popping
/// move no other item and never reallocate once the ring is large enough (measured: the array it
/// replaces, emptied after each pop of a queue of one, cost ~280 instructions per request).
///
/// Popping drops the queue's reference at once (the slot is emptied), so nothing popped is kept alive;
/// the ring grows to the most items ever queued at once and goes back to nothing when a large one
/// (over ``largeRing`` slots) empties.
struct ItemQueue {
    /// Slots; `slots.count` is 0 or a power of two.
    private var slots: [PoolItem?] = []
    /// The slot of the first item.
    private var head = 0
    /// How many items are queued.
    private(set) var count = 0

    /// A ring larger than this is freed when it empties.
    static let largeRing = 1024

    var isEmpty: Bool { count == 0 }

    /// The next item, left in place.
    var first: PoolItem? { count > 0 ? slots[head] : nil }

    /// Slots the storage holds, for tests.
    var storageCount: Int { slots.count }

    @inline(__always)
    private func slot(_ offset: Int) -> Int { (head &+ offset) & (slots.count &- 1) }

    mutating func append(_ item: PoolItem) {
        if count == slots.count { grow() }
        slots[slot(count)] = item
        count += 1
    }

    mutating func popFirst() -> PoolItem? {
        guard count > 0 else { return nil }
        let item = slots[head]
        slots[head] = nil
        head = (head &+ 1) & (slots.count &- 1)
        count -= 1
        if count == 0 && slots.count > Self.largeRing {
            slots = []
            head = 0
        }
        return item
    }

    /// Puts `front` ahead of everything queued, in its order.
    mutating func prepend(_ front: [PoolItem]) {
        rebuild(front + ordered)
    }

    /// Removes and returns the queued items that match, keeping the others in order.
    mutating func removeAll(where matches: (PoolItem) -> Bool) -> [PoolItem] {
        var removed: [PoolItem] = []
        var kept: [PoolItem] = []
        for item in ordered {
            if matches(item) { removed.append(item) } else { kept.append(item) }
        }
        rebuild(kept)
        return removed
    }

    /// Removes the item with `serial`, if queued.
    mutating func remove(serial: UInt64) -> PoolItem? {
        var items = ordered
        guard let index = items.firstIndex(where: { $0.serial == serial }) else { return nil }
        let item = items.remove(at: index)
        rebuild(items)
        return item
    }

    /// The queued items, first to last.
    private var ordered: [PoolItem] { (0..<count).compactMap { slots[slot($0)] } }

    private mutating func grow() {
        let grown = ordered
        rebuild(grown, capacity: Swift.max(16, slots.count * 2))
    }

    /// Replaces the contents with `items`, in order, in a ring of at least `capacity` slots.
    private mutating func rebuild(_ items: [PoolItem], capacity: Int = 0) {
        var size = 16
        while size < Swift.max(items.count, capacity) { size *= 2 }
        if items.isEmpty && capacity == 0 {
            slots = []
        } else {
            slots = [PoolItem?](repeating: nil, count: size)
            for (index, item) in items.enumerated() { slots[index] = item }
        }
        head = 0
        count = items.count
    }
}
