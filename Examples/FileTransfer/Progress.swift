import Foundation
import Synchronization

/// A live progress bar on stderr, redrawn five times a second from its own thread until stopped.
final class ProgressBar: Sendable {
    private let label: String
    private let total: UInt64
    private let counter: TransferCounter
    private let running = Atomic<Bool>(true)
    private let started = Date()

    init(_ label: String, total: UInt64, counter: TransferCounter) {
        self.label = label
        self.total = total
        self.counter = counter
        Thread.detachNewThread { [self] in
            while running.load(ordering: .relaxed) {
                draw()
                Thread.sleep(forTimeInterval: 0.2)  // a redraw interval, not synchronisation
            }
        }
    }

    /// Draws the final state and ends the line.
    func stop() {
        running.store(false, ordering: .relaxed)
        draw()
        FileHandle.standardError.write("\n".data(using: .utf8)!)
    }

    private func draw() {
        let done = counter.bytes.load(ordering: .relaxed)
        let fraction = total == 0 ? 1 : min(1, Double(done) / Double(total))
        let width = 30
        let filled = Int(fraction * Double(width))
        let seconds = max(Date().timeIntervalSince(started), 0.001)
        let rate = Double(done) / seconds / 1e6
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        let line = String(format: "\r%@ [%@] %5.1f%% %8.1f MB/s", label, bar, fraction * 100, rate)
        FileHandle.standardError.write(line.data(using: .utf8)!)
    }
}
