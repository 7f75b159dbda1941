import Synchronization

/// An intrusive multi-producer single-consumer queue of ``ReactorEvent``s (Vyukov's algorithm).
///
/// `push` is wait-free for producers: one atomic exchange and one release store, no lock and no
/// allocation (the link lives in the event). `pop` is called by the owning reactor thread only.
/// A push that is half done (exchange made, link not yet stored) makes `pop` return `nil` until the
/// producer finishes; the reactor's wake-up protocol guarantees it looks again.
final class EventQueue: @unchecked Sendable {
    // @unchecked: `tail` is touched only by the single consumer; `head` and the links are atomics.

    private let head: Atomic<UnsafeMutableRawPointer?>
    @exclusivity(unchecked) private var tail: UnsafeMutableRawPointer
    private let stub: ReactorEvent
    private let stubPointer: UnsafeMutableRawPointer

    init() {
        stub = ReactorEvent()
        stubPointer = Unmanaged.passUnretained(stub).toOpaque()
        head = Atomic(stubPointer)
        tail = stubPointer
    }

    deinit {
        // Release whatever is still queued; the owner drains with `pop` first when it cares.
        while pop() != nil {}
    }

    @inline(__always)
    private static func event(_ pointer: UnsafeMutableRawPointer) -> ReactorEvent {
        Unmanaged<ReactorEvent>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// Appends an event. Safe from any thread. The queue keeps the event alive until popped.
    func push(_ event: ReactorEvent) {
        let pointer = Unmanaged.passRetained(event).toOpaque()
        link(pointer, event)
    }

    private func link(_ pointer: UnsafeMutableRawPointer, _ event: ReactorEvent) {
        event.queueLink.store(nil, ordering: .relaxed)
        let previous = head.exchange(pointer, ordering: .acquiringAndReleasing)!
        Self.event(previous).queueLink.store(pointer, ordering: .releasing)
    }

    /// `true` when the queue holds nothing, including no half-done push. Consumer only.
    var isEmpty: Bool {
        tail == stubPointer && stub.queueLink.load(ordering: .acquiring) == nil
            && head.load(ordering: .acquiring) == stubPointer
    }

    /// Removes the oldest event, or returns `nil` when empty (or when the next push is half done).
    /// Consumer thread only.
    func pop() -> ReactorEvent? {
        var current = tail
        var next = Self.event(current).queueLink.load(ordering: .acquiring)
        if current == stubPointer {
            guard let first = next else { return nil }
            tail = first
            current = first
            next = Self.event(current).queueLink.load(ordering: .acquiring)
        }
        if let following = next {
            tail = following
            return Unmanaged<ReactorEvent>.fromOpaque(current).takeRetainedValue()
        }
        if head.load(ordering: .acquiring) != current {
            return nil  // a producer is between its exchange and its link store
        }
        link(stubPointer, stub)
        next = Self.event(current).queueLink.load(ordering: .acquiring)
        if let following = next {
            tail = following
            return Unmanaged<ReactorEvent>.fromOpaque(current).takeRetainedValue()
        }
        return nil
    }
}
