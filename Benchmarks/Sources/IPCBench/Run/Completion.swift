import CBenchSupport
import Dispatch
import Glibc
import Synchronization

/// A one-shot result handed from a reactor or event-loop thread to the main thread, which waits for it
/// with a deadline and prints a progress line to stderr while a run takes long.
final class Completion<Value: Sendable>: Sendable {
    private let value = Mutex<Value?>(nil)
    private let semaphore = DispatchSemaphore(value: 0)

    init() {}

    /// Sets the result; later calls are ignored.
    func complete(_ result: Value) {
        let first = value.withLock { stored -> Bool in
            guard stored == nil else { return false }
            stored = result
            return true
        }
        if first { semaphore.signal() }
    }

    /// Waits up to `timeout` seconds. `progress` (called on this thread) describes how far the run got.
    /// - Throws: ``BenchError`` naming `label` when the deadline passes (a hang).
    func wait(_ label: String, timeout: Double, progress: (() -> String)? = nil) throws -> Value {
        let start = nowNanos()
        var lastPrint = start
        while true {
            if semaphore.wait(timeout: .now() + .milliseconds(250)) == .success {
                if seconds(lastPrint - start) >= 2 { printProgress("") }
                return value.withLock { $0! }
            }
            let now = nowNanos()
            let elapsed = seconds(now - start)
            if elapsed > timeout {
                if seconds(lastPrint - start) >= 2 { printProgress("") }
                let detail = progress.map { " (\($0()))" } ?? ""
                throw BenchError("\(label): no result after \(Int(timeout)) s\(detail) — hung")
            }
            if elapsed >= 2 && seconds(now - lastPrint) >= 1 {
                lastPrint = now
                let detail = progress.map { ", \($0())" } ?? ""
                printProgress("  … \(label): \(Int(elapsed)) s\(detail)")
            }
        }
    }
}

/// Writes a line to stderr (no Foundation, no shared C `stderr` global).
func printError(_ text: String) {
    let bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// Rewrites the current stderr line (a progress ticker) on a terminal; elsewhere prints the line.
/// An empty text clears the ticker.
func printProgress(_ text: String) {
    guard bench_stderr_is_terminal() != 0 else {
        if !text.isEmpty { printError(text) }
        return
    }
    let line = "\r\u{1B}[2K" + text
    let bytes = Array(line.utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}
