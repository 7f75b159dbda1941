/// Identifies a scheduled timer; pass it to ``Reactor/cancelTimer(_:)``.
public struct TimerID: Hashable, Sendable {
    let slot: UInt32
    /// 64 bits: a slot reused at any rate never comes back to an old generation.
    let generation: UInt64
}

/// The timers of one reactor: a binary min-heap of deadlines with an index per timer, so scheduling and
/// cancelling are O(log n) and 100,000 pending timers cost a few megabytes and no scanning.
///
/// Pure logic with no clock of its own: the owner passes "now" in. Not thread-safe (reactor thread only).
public final class TimerQueue {
    /// What a timer runs when it fires (on the reactor thread).
    public typealias Callback = () -> Void

    private struct HeapEntry {
        var deadline: UInt64
        var sequence: UInt64  // ties fire in scheduling order
        var slot: UInt32
    }

    private struct Slot {
        var generation: UInt64 = 0
        var heapIndex: Int = -1  // -1: not scheduled (free or currently firing)
        var interval: UInt64 = 0  // 0: one-shot
        var callback: Callback?
    }

    private var heap: [HeapEntry] = []
    private var slots: [Slot] = []
    private var freeSlots: [UInt32] = []
    private var nextSequence: UInt64 = 0

    /// Creates an empty queue.
    public init() {}

    /// Number of pending timers.
    public var count: Int { heap.count }

    /// The earliest deadline, or `nil` when no timer is pending.
    public var nextDeadline: ReactorInstant? {
        heap.first.map { ReactorInstant(nanoseconds: $0.deadline) }
    }

    /// Schedules `callback` at `deadline`; with `interval`, again every `interval` after that.
    @discardableResult
    public func schedule(
        at deadline: ReactorInstant,
        repeating interval: Duration? = nil,
        _ callback: @escaping Callback
    ) -> TimerID {
        let slot: UInt32
        if let reused = freeSlots.popLast() {
            slot = reused
        } else {
            slot = UInt32(slots.count)
            slots.append(Slot())
        }
        let step = interval.map { max($0.clampedNanoseconds, 1) } ?? 0
        slots[Int(slot)].interval = step
        slots[Int(slot)].callback = callback
        push(HeapEntry(deadline: deadline.nanoseconds, sequence: 0, slot: slot))
        return TimerID(slot: slot, generation: slots[Int(slot)].generation)
    }

    /// Cancels a pending timer. Returns `false` when it already fired (one-shot), was cancelled, or is
    /// unknown. A repeating timer may cancel itself from its own callback.
    @discardableResult
    public func cancel(_ id: TimerID) -> Bool {
        guard Int(id.slot) < slots.count, slots[Int(id.slot)].generation == id.generation,
            slots[Int(id.slot)].callback != nil
        else { return false }
        let index = slots[Int(id.slot)].heapIndex
        if index >= 0 { removeFromHeap(at: index) }
        release(id.slot)
        return true
    }

    /// Runs every timer whose deadline is at or before `now`, earliest first. Returns how many ran.
    ///
    /// A repeating timer is rescheduled at its previous deadline plus its interval; when that is already
    /// past (the reactor was stalled), at `now` plus the interval, so a stall never causes a burst.
    @discardableResult
    public func fireDue(now: ReactorInstant) -> Int {
        var fired = 0
        while let top = heap.first, top.deadline <= now.nanoseconds {
            removeFromHeap(at: 0)
            let slot = Int(top.slot)
            guard let callback = slots[slot].callback else { continue }
            let generation = slots[slot].generation
            let interval = slots[slot].interval
            fired += 1
            callback()
            // The callback may have cancelled this timer (generation moved) or others.
            guard slots[slot].generation == generation, slots[slot].callback != nil else { continue }
            if interval == 0 {
                release(top.slot)
            } else if slots[slot].heapIndex < 0 {
                var next = ReactorInstant(nanoseconds: top.deadline).advanced(by: .nanoseconds(Int64(clamping: interval))).nanoseconds
                if next <= now.nanoseconds { next = now.advanced(by: .nanoseconds(Int64(clamping: interval))).nanoseconds }
                push(HeapEntry(deadline: next, sequence: 0, slot: top.slot))
            }
        }
        return fired
    }

    /// Drops every timer without running it (used when a reactor stops).
    public func removeAll() {
        for entry in heap { release(entry.slot) }
        heap.removeAll()
    }

    private func release(_ slot: UInt32) {
        slots[Int(slot)].callback = nil
        slots[Int(slot)].heapIndex = -1
        slots[Int(slot)].generation &+= 1
        freeSlots.append(slot)
    }

    // MARK: heap

    private func push(_ entry: HeapEntry) {
        var entry = entry
        entry.sequence = nextSequence
        nextSequence &+= 1
        heap.append(entry)
        slots[Int(entry.slot)].heapIndex = heap.count - 1
        siftUp(heap.count - 1)
    }

    private func removeFromHeap(at index: Int) {
        let removedSlot = heap[index].slot
        let last = heap.count - 1
        if index != last {
            heap.swapAt(index, last)
            slots[Int(heap[index].slot)].heapIndex = index
        }
        heap.removeLast()
        slots[Int(removedSlot)].heapIndex = -1
        if index < heap.count {
            siftDown(index)
            siftUp(index)
        }
    }

    @inline(__always)
    private func less(_ a: Int, _ b: Int) -> Bool {
        heap[a].deadline != heap[b].deadline
            ? heap[a].deadline < heap[b].deadline : heap[a].sequence < heap[b].sequence
    }

    private func swap(_ a: Int, _ b: Int) {
        heap.swapAt(a, b)
        slots[Int(heap[a].slot)].heapIndex = a
        slots[Int(heap[b].slot)].heapIndex = b
    }

    private func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(child, parent) else { return }
            swap(child, parent)
            child = parent
        }
    }

    private func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var smallest = left
            if left + 1 < heap.count, less(left + 1, left) { smallest = left + 1 }
            guard less(smallest, parent) else { return }
            swap(smallest, parent)
            parent = smallest
        }
    }
}
