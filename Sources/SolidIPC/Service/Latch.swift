import Glibc

/// A counter one thread waits on until others have opened it enough times (blocking; for setup and
/// shutdown paths only, never on a reactor thread).
final class Latch: @unchecked Sendable {
    // @unchecked: every field is accessed with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var opened = 0

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
        pthread_mutex_unlock(mutex)
    }

    func wait(count: Int = 1) {
        pthread_mutex_lock(mutex)
        while opened < count { pthread_cond_wait(condition, mutex) }
        pthread_mutex_unlock(mutex)
    }
}
