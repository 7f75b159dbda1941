import Glibc
import Synchronization
@testable import SolidReactor

/// A counter that threads bump and a test waits on, with a bounded wait (no sleeping).
final class TestSignal: @unchecked Sendable {
    // @unchecked: every field is accessed with `mutex` held.
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var value = 0

    init() {
        pthread_mutex_init(&mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(&condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    func signal(_ amount: Int = 1) {
        pthread_mutex_lock(&mutex)
        value += amount
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
    }

    var count: Int {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return value
    }

    /// Waits until at least `target` signals arrived or `seconds` passed; returns whether it arrived.
    @discardableResult
    func wait(for target: Int = 1, seconds: Double = 30) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let total = Int(deadline.tv_nsec) + Int(seconds * 1e9)
        deadline.tv_sec += total / 1_000_000_000
        deadline.tv_nsec = total % 1_000_000_000
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while value < target {
            if pthread_cond_timedwait(&condition, &mutex, &deadline) == ETIMEDOUT { return value >= target }
        }
        return true
    }
}

/// A thread-safe list of things that happened, for exact assertions after the fact.
final class Recorder<Element: Sendable>: Sendable {
    private let items = Lock<[Element]>([])
    func append(_ item: Element) { items.withLock { $0.append(item) } }
    var all: [Element] { items.withLock { $0 } }
    var count: Int { items.withLock { $0.count } }
}

/// Holds reactor-pinned objects for a test; touched only on the reactor thread that created them.
final class ReactorLocal<Value>: @unchecked Sendable {
    // @unchecked: `value` is set and read on one reactor thread only (the tests post to it).
    var value: Value?
    init() {}
}

/// Runs `body` on `reactor` and waits for it to finish; returns its result.
@discardableResult
func onReactor<T: Sendable>(_ reactor: Reactor, _ body: @escaping @Sendable () throws -> T) throws -> T {
    let result = Lock<Result<T, any Error>?>(nil)
    let done = TestSignal()
    let posted = reactor.execute {
        result.withLock { $0 = Result { try body() } }
        done.signal()
    }
    guard posted == .posted else { throw TestFailure("reactor refused the work: \(posted)") }
    guard done.wait() else { throw TestFailure("reactor did not run the work in time") }
    return try result.withLock { $0! }.get()
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Number of open descriptors of this process (entries of /proc/self/fd, minus the one used to list).
func openDescriptorCount() -> Int {
    guard let directory = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(directory) }
    var count = 0
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { count += 1 }
    }
    return count - 1
}

/// Starts a thread that runs `body` and returns a function that joins it.
func spawn(_ body: @escaping @Sendable () -> Void) throws -> () -> Void {
    let thread = try startThread(name: "test-worker", body)
    return { pthread_join(thread, nil) }
}
