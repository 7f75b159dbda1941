import Synchronization

/// An atomic integer that escaping closures and tasks can share (`Atomic` itself cannot be captured).
final class SharedCounter: Sendable {
    let value = Atomic<Int>(0)
    init() {}
}

/// A lock-protected value that escaping closures and tasks can share.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}
