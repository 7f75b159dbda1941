/// The messages a pool has handed to its connections and not yet completed, as an intrusive
/// doubly-linked list through the items themselves: adding and removing cost a few pointer writes, no
/// hashing and no allocation (measured: a `[UInt64: PoolItem]` map cost about 4 % of a round trip).
/// Finding an item by serial walks the list; only ``IPCService/cancel(_:)`` does that.
///
/// Reactor-pinned, like its pool.
struct InFlightList {
    /// The oldest item; each item holds the next one (strongly), so the list keeps its items alive.
    private var head: PoolItem?
    private unowned(unsafe) var tail: PoolItem?
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    /// Adds `item` (not in a list).
    mutating func insert(_ item: PoolItem) {
        precondition(!item.listed, "item \(item.serial) is already in flight")
        item.listed = true
        item.listNext = nil
        item.listPrevious = tail
        if let tail { tail.listNext = item } else { head = item }
        tail = item
        count += 1
    }

    /// Removes `item` if it is in the list.
    mutating func remove(_ item: PoolItem) {
        guard item.listed else { return }
        item.listed = false
        let next = item.listNext
        if let previous = item.listPrevious { previous.listNext = next } else { head = next }
        if let next { next.listPrevious = item.listPrevious } else { tail = item.listPrevious }
        item.listNext = nil
        item.listPrevious = nil
        count -= 1
    }

    /// The item with `serial`, if in flight.
    func first(serial: UInt64) -> PoolItem? {
        var current = head
        while let item = current {
            if item.serial == serial { return item }
            current = item.listNext
        }
        return nil
    }

    /// Empties the list.
    mutating func removeAll() {
        while let item = head { remove(item) }
    }
}
