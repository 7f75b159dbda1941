/// The requests one connection sent and awaits responses for, by request id.
///
/// The table picks each request's id: the next one (ids only grow) whose slot, `id % capacity`, is free.
/// A lookup is then one array index and one comparison, with no hashing (measured: a
/// `[UInt64: PoolItem]` map cost about 3 % of a round trip). The table doubles when half full; ids
/// that differ in their low bits still do after doubling, so nothing moves to a taken slot. A late
/// response to an id that was given up finds another id (or nothing) in its slot and is ignored.
///
/// Reactor-pinned, like its connection.
struct AwaitingTable {
    private var slots: [PoolItem?] = Array(repeating: nil, count: 16)
    private var nextID: UInt64 = 1
    /// Requests awaiting their response.
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    @inline(__always)
    private func index(_ id: UInt64) -> Int { Int(truncatingIfNeeded: id & UInt64(slots.count - 1)) }

    /// Records `item` as awaiting a response and returns the request id it must be sent with.
    mutating func add(_ item: PoolItem) -> UInt64 {
        if (count + 1) * 2 > slots.count { grow() }
        while slots[index(nextID)] != nil { nextID += 1 }
        let id = nextID
        nextID += 1
        slots[index(id)] = item
        item.requestID = id
        count += 1
        return id
    }

    /// The request sent with `id`, left in place (a response in parts).
    func peek(_ id: UInt64) -> PoolItem? {
        guard id != 0, let item = slots[index(id)], item.requestID == id else { return nil }
        return item
    }

    /// Takes out the request sent with `id`.
    @discardableResult
    mutating func remove(_ id: UInt64) -> PoolItem? {
        guard let item = peek(id) else { return nil }
        slots[index(id)] = nil
        count -= 1
        return item
    }

    /// Takes out every request, in the order they were sent.
    mutating func removeAll() -> [PoolItem] {
        let items = slots.compactMap { $0 }.sorted { $0.requestID < $1.requestID }
        if count > 0 {
            for slot in slots.indices { slots[slot] = nil }
            count = 0
        }
        return items
    }

    private mutating func grow() {
        var larger = [PoolItem?](repeating: nil, count: slots.count * 2)
        let mask = UInt64(larger.count - 1)
        for case let item? in slots { larger[Int(truncatingIfNeeded: item.requestID & mask)] = item }
        slots = larger
    }
}
