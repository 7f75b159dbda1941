import Glibc

/// A mutual-exclusion lock over `pthread_mutex_t`, for cold paths (clocks, thread lists, test helpers).
///
/// Used instead of `Synchronization.Mutex` because ThreadSanitizer understands pthread mutexes: the
/// standard library's futex-based `Mutex` is not instrumented, so TSan would report false races.
public final class Lock<State>: @unchecked Sendable {
    // @unchecked: `state` is only touched inside `withLock`, with `mutex` held.
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    // Exclusivity is the mutex's job: the dynamic check cost about 80 instructions per call (measured).
    // Internal only so `withLock` can be inlined: nothing else touches it.
    @usableFromInline @exclusivity(unchecked) var state: State

    /// Creates a lock protecting `initial`.
    public init(_ initial: State) {
        state = initial
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the protected state. Inlinable: called from another module
    /// without its body, it ran unspecialised, through the generic witnesses of `State` and `Result`
    /// (measured: ~250 instructions a call on the send path).
    @inlinable @inline(__always)
    public func withLock<Result>(_ body: (inout State) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }
}
