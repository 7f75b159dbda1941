/// A small hash map from request ids to counts, for the per-message books on the hot path (requests
/// awaiting an answer, responses queued per request). Far cheaper than a `Dictionary<UInt64, Int>` here:
/// Swift's seeded SipHash costs ~130 instructions per lookup, and five lookups per round trip were 7 % of a
/// whole `ipc-echo` round trip (callgrind).
///
/// Open addressing with linear probing and backward-shift deletion (no tombstones), in storage of its own
/// (a class, so its owner holds it as a `let`: no copy-on-write or exclusivity checks per operation).
/// Keys come from the peer, so each table mixes a random seed into its hash: a peer cannot pick colliding
/// ids. The seed is XORed in and the multiplier is fixed (Fibonacci hashing, the golden ratio), which
/// spreads runs of ids evenly; a random multiplier (as before) was sometimes a bad one for runs of ids
/// (measured: an ipc-echo round trip spent 190 to 1,100 instructions in this table, by the draw).
/// Not thread-safe: one owner, one thread.
package final class IDTable {
    private struct Entry {
        var key: UInt64
        var count: Int32  // 0: empty
    }

    // One owner on one thread: no dynamic exclusivity checks (they cost more than the lookups).
    @exclusivity(unchecked) private var entries: UnsafeMutablePointer<Entry>
    @exclusivity(unchecked) private var mask: Int
    @exclusivity(unchecked) private var shift: UInt64
    private let seed: UInt64
    /// Keys present.
    @exclusivity(unchecked) package private(set) var count = 0

    /// An empty table.
    package init() {
        entries = .allocate(capacity: 16)
        entries.initialize(repeating: Entry(key: 0, count: 0), count: 16)
        mask = 15
        shift = 60
        seed = UInt64.random(in: 0...UInt64.max)
    }

    deinit { entries.deallocate() }

    package var isEmpty: Bool { count == 0 }

    @inline(__always)
    private func home(_ key: UInt64) -> Int { Int(truncatingIfNeeded: ((key ^ seed) &* 0x9E37_79B9_7F4A_7C15) >> shift) }

    @inline(__always)
    private func find(_ key: UInt64) -> Int? {
        var index = home(key)
        while entries[index].count != 0 {
            if entries[index].key == key { return index }
            index = (index + 1) & mask
        }
        return nil
    }

    /// The count for `key` (0 when absent).
    package func count(of key: UInt64) -> Int { find(key).map { Int(entries[$0].count) } ?? 0 }

    /// `true` when `key` is present.
    package func contains(_ key: UInt64) -> Bool { count > 0 && find(key) != nil }

    /// Adds one to `key`'s count (inserting it at 1).
    package func increment(_ key: UInt64) {
        var index = home(key)
        while entries[index].count != 0 {
            if entries[index].key == key {
                entries[index].count += 1
                return
            }
            index = (index + 1) & mask
        }
        if (count + 1) * 4 > (mask + 1) * 3 {
            grow()
            index = home(key)
            while entries[index].count != 0 { index = (index + 1) & mask }
        }
        entries[index] = Entry(key: key, count: 1)
        count += 1
    }

    /// Takes one from `key`'s count, removing it at 0. Returns `false` when it was absent.
    @discardableResult
    package func decrement(_ key: UInt64) -> Bool {
        guard count > 0, let index = find(key) else { return false }
        if entries[index].count > 1 {
            entries[index].count -= 1
        } else {
            delete(at: index)
        }
        return true
    }

    /// Removes `key` whatever its count. Returns `false` when it was absent.
    @discardableResult
    package func remove(_ key: UInt64) -> Bool {
        guard count > 0, let index = find(key) else { return false }
        delete(at: index)
        return true
    }

    /// Backward-shift deletion: moves later entries of the probe run into the hole so that no lookup
    /// ever stops early.
    private func delete(at start: Int) {
        var hole = start
        var index = (start + 1) & mask
        while entries[index].count != 0 {
            let wanted = home(entries[index].key)
            // The entry may move back to the hole unless its home lies in (hole, index], cyclically.
            if (hole - wanted) & mask < (index - wanted) & mask {
                entries[hole] = entries[index]
                hole = index
            }
            index = (index + 1) & mask
        }
        entries[hole].count = 0
        count -= 1
    }

    private func grow() {
        let old = entries
        let oldCapacity = mask + 1
        let capacity = oldCapacity * 2
        entries = .allocate(capacity: capacity)
        entries.initialize(repeating: Entry(key: 0, count: 0), count: capacity)
        mask = capacity - 1
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        for slot in 0..<oldCapacity where old[slot].count != 0 {
            var index = home(old[slot].key)
            while entries[index].count != 0 { index = (index + 1) & mask }
            entries[index] = old[slot]
        }
        old.deallocate()
    }
}
