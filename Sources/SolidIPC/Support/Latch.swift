import Glibc

/// A counter one thread waits on until others have opened it enough times (blocking; for setup and
/// shutdown paths only, never on a reactor thread).
final class Latch: @unchecked Sendable {
    // @unchecked: every field is accessed with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var opened = 0
    /// Run once when `opened` reaches `notifyCount` (``whenOpened(count:_:)``).
    private var notify: (count: Int, action: @Sendable () -> Void)?

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    func open() {
        pthread_mutex_lock(mutex)
        opened += 1
        pthread_cond_broadcast(condition)
        var action: (@Sendable () -> Void)?
        if let pending = notify, opened >= pending.count {
            action = pending.action
            notify = nil
        }
        pthread_mutex_unlock(mutex)
        action?()
    }

    /// Runs `action` once, without blocking anyone, when the latch has been opened `count` times: at
    /// once on this thread if it already has, else on the thread that opens it the last time.
    func whenOpened(count: Int, _ action: @escaping @Sendable () -> Void) {
        pthread_mutex_lock(mutex)
        let ready = opened >= count
        if !ready { notify = (count, action) }
        pthread_mutex_unlock(mutex)
        if ready { action() }
    }

    func wait(count: Int = 1) {
        pthread_mutex_lock(mutex)
        while opened < count { pthread_cond_wait(condition, mutex) }
        pthread_mutex_unlock(mutex)
    }
}

/// Work handed to several reactors and waited for together (stopping a service): each piece runs on its
/// reactor and reports once that it is done; a piece a reactor refuses (it stopped) counts as done.
struct ReactorFanOut {
    private let latch = Latch()
    private var expected = 0

    /// Runs `work` on `reactor`; `work` calls its argument once when it is done (at once or later). When
    /// the reactor refuses the work, `refused` runs on this thread instead.
    mutating func run(
        on reactor: Reactor, refused: () -> Void = {},
        _ work: @escaping @Sendable (_ done: @escaping @Sendable () -> Void) -> Void
    ) {
        expected += 1
        let latch = self.latch
        if reactor.execute({ work { latch.open() } }) != .posted {
            refused()
            latch.open()
        }
    }

    /// Blocks until every piece is done.
    func wait() { latch.wait(count: expected) }

    /// Runs `action` once every piece is done, blocking nobody (on the reactor that finished last, or here).
    func whenDone(_ action: @escaping @Sendable () -> Void) { latch.whenOpened(count: expected, action) }
}
