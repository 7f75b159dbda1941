import Synchronization
import SolidEngine
import SolidReactor

/// A destination's pool as the service's map sees it: its reactor, its queue count (for backpressure,
/// checked on the sender's thread), and the reactor-pinned ``Pool`` itself, created on first use.
@usableFromInline
final class PoolEntry: @unchecked Sendable {
    // @unchecked: `pool` is created and used only on `reactor`'s thread; the rest is atomic or immutable.
    let destination: Destination
    let reactor: Reactor
    let core: ServiceCore
    private let queued = Atomic<Int>(0)
    private let waitingCount = Atomic<Int>(0)
    private let waiters = Lock<[CheckedContinuation<Void, Never>]>([])
    private let live = LiveSerials()
    /// For the pools gauge: 1 once its creation was reported, 2 once its removal was (each once).
    private let reported = Atomic<UInt8>(0)
    /// Set by ``IPCService/closePool(_:mode:completion:)``: new sends fail at once.
    let closing = Atomic<Bool>(false)
    /// Set while the idle pool is being removed from the service's map, and for good once removed: a
    /// sender that reserved a place and then sees it looks the destination up again.
    let retired = Atomic<Bool>(false)
    /// Removes this entry from the service's map if it is still there and unused (see ``retireIfUnused()``).
    private let removeFromService: @Sendable (PoolEntry) -> Bool
    private var poolStorage: Pool? {
        didSet { poolReference = poolStorage.map { Unmanaged.passUnretained($0) } }
    }
    /// ``poolStorage``, unretained (see ``enqueue(_:on:)``).
    private var poolReference: Unmanaged<Pool>?
    /// Set (under the waiters' lock) once the entry left the service: waiting for room here is pointless.
    private var gone = false
    /// A finished request item put aside for the next request to reuse (retained, as an opaque pointer):
    /// put by the pool's reactor thread, taken by any sender (``takeSpareRequest()``).
    private let spareRequest = Atomic<UnsafeMutableRawPointer?>(nil)

    init(
        destination: Destination, reactor: Reactor, core: ServiceCore,
        removeFromService: @escaping @Sendable (PoolEntry) -> Bool
    ) {
        self.destination = destination
        self.reactor = reactor
        self.core = core
        self.removeFromService = removeFromService
    }

    deinit {
        if let spare = spareRequest.exchange(nil, ordering: .acquiring) { Unmanaged<PoolItem>.fromOpaque(spare).release() }
    }

    /// Keeps `item` (finished, its books emptied, nothing else refers to it) for the next request, unless
    /// one is kept already. Any thread.
    func putAside(_ item: PoolItem) {
        guard spareRequest.load(ordering: .relaxed) == nil else { return }
        let pointer = Unmanaged.passRetained(item).toOpaque()
        if !spareRequest.compareExchange(expected: nil, desired: pointer, ordering: .releasing).exchanged {
            Unmanaged<PoolItem>.fromOpaque(pointer).release()
        }
    }

    /// The request item put aside, if any, now the caller's alone. Any thread.
    @usableFromInline
    func takeSpareRequest() -> PoolItem? {
        // A plain load first: the exchange (a locked instruction) only when there is one.
        guard spareRequest.load(ordering: .relaxed) != nil,
            let spare = spareRequest.exchange(nil, ordering: .acquiring)
        else { return nil }
        return Unmanaged<PoolItem>.fromOpaque(spare).takeRetainedValue()
    }

    /// `true` the first time: the caller reports the pool's creation.
    func reportCreation() -> Bool {
        // Asked on every send: a plain load first, the compare-exchange (a locked instruction) only once.
        reported.load(ordering: .relaxed) == 0
            && reported.compareExchange(expected: 0, desired: 1, ordering: .relaxed).exchanged
    }

    /// `true` the first time after its creation was reported: the caller reports its removal.
    func reportRemoval() -> Bool { reported.compareExchange(expected: 1, desired: 2, ordering: .relaxed).exchanged }

    /// Reserves a queue place; `false` when the queue is at capacity.
    ///
    /// Sequentially consistent, paired with ``retireIfUnused()``: either the sender sees `retired` after
    /// its reservation, or the retiring pool sees the reservation and stays.
    func reserve(capacity: Int) -> Bool {
        if queued.add(1, ordering: .sequentiallyConsistent).newValue > capacity {
            queued.subtract(1, ordering: .relaxed)
            return false
        }
        if core.isInstrumented { core.configuration.instrumentation?.queuedMessagesChanged(by: 1) }
        return true
    }

    /// Called by the service with its map's lock held: marks the entry retired unless a place is reserved.
    func markRetiredIfUnused() -> Bool {
        retired.store(true, ordering: .sequentiallyConsistent)
        if queued.load(ordering: .sequentiallyConsistent) != 0 {
            retired.store(false, ordering: .sequentiallyConsistent)
            return false
        }
        return true
    }

    /// Asks the service to drop this (idle) entry from its map. Reactor thread; `true` when it is gone.
    func retireIfUnused() -> Bool { removeFromService(self) }

    /// Gives a queue place back (the message left the queue) and wakes one sender waiting for room.
    ///
    /// Sequentially consistent, paired with ``waitForRoom(capacity:)``: either the waiter sees the freed
    /// place, or this sees the waiter.
    func released() {
        queued.subtract(1, ordering: .sequentiallyConsistent)
        if core.isInstrumented { core.configuration.instrumentation?.queuedMessagesChanged(by: -1) }
        if waitingCount.load(ordering: .sequentiallyConsistent) > 0 {
            let waiter = waiters.withLock { $0.isEmpty ? nil : $0.removeFirst() }
            if let waiter {
                waitingCount.subtract(1, ordering: .releasing)
                waiter.resume()
            }
        }
    }

    /// Suspends until a queue place may be free (async senders under backpressure).
    func waitForRoom(capacity: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = waiters.withLock { waiters -> Bool in
                // Interest first, then the check: a release either sees the count or left a place we see.
                waitingCount.add(1, ordering: .sequentiallyConsistent)
                // A cancel checked under the lock: one that comes later wakes us through wakeWaiters().
                if queued.load(ordering: .sequentiallyConsistent) < capacity || gone || Task.isCancelled {
                    waitingCount.subtract(1, ordering: .sequentiallyConsistent)
                    return true
                }
                waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Records that message `serial` is live (queued, in flight or awaiting its response).
    func started(_ serial: UInt64) { live.insert(serial) }

    /// Records that message `serial` completed.
    func finished(_ serial: UInt64) { live.remove(serial) }

    /// `true` while message `serial` has not completed.
    func isLive(_ serial: UInt64) -> Bool { live.contains(serial) }

    /// Messages that hold a queue place (queued, or being written).
    var queuedCount: Int { queued.load(ordering: .relaxed) }

    /// Wakes every sender waiting for room (they look the destination up again): the entry is gone.
    func wakeAllWaiters() { wakeWaiters(gone: true) }

    /// Wakes every sender waiting for room; each looks again (and waits again if there is still none).
    /// `gone`: the entry is being freed, later waits return at once.
    func wakeWaiters(gone isGone: Bool = false) {
        let all = waiters.withLock { waiters -> [CheckedContinuation<Void, Never>] in
            if isGone { gone = true }
            defer { waiters.removeAll() }
            return waiters
        }
        waitingCount.subtract(all.count, ordering: .sequentiallyConsistent)
        for waiter in all { waiter.resume() }
    }

    /// Hands `item` to the pool, created on first use; `false` once the pool stopped (closed, freed or the
    /// service stopped). Reactor thread only.
    ///
    /// The pool is reached unretained: pools have weak references, so every retain and release of one
    /// takes the runtime's slow path (measured: ~125 instructions a message). Safe: `poolStorage` holds
    /// it, and a pool that stops during the call stays alive until the end of the reactor turn
    /// (`Pool.stop(with:)`).
    func enqueue(_ item: PoolItem, on reactor: Reactor) -> Bool {
        reactor.preconditionInReactor()
        if poolReference == nil {
            if stopError != nil { return false }
            poolStorage = Pool(entry: self)
        }
        poolReference.unsafelyUnwrapped._withUnsafeGuaranteedRef { $0.enqueue(item) }
        return true
    }

    /// The pool stopped with `error`: let go of it (breaking the pool ↔ entry cycle) and refuse to make
    /// another; messages still arriving fail with `error`. Reactor thread only.
    func poolStopped(_ error: SendError) {
        stopError = error
        poolStorage = nil
    }

    /// Why the pool stopped, once it did. Reactor thread only.
    private(set) var stopError: SendError?

    /// The pool if it exists. Reactor thread only.
    var existingPool: Pool? { poolStorage }
}
