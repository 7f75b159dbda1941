import CAllocationCounter
import CBenchSupport

/// What the server side reports about one measured phase (from the child process, or nothing when the
/// server runs in the client's process).
struct ServerPhaseReport: Codable, Sendable {
    /// Heap allocations in the server process during the phase.
    var allocations: Int
    /// Peak RSS of the server process during the phase, in bytes.
    var peakRSS: Int
    /// Its RSS when the phase began.
    var startRSS: Int
}

/// Brackets the measured part of one run: counts the client process's heap allocations (malloc
/// interposer), trims the heap, resets and reads its peak RSS, and asks the server to do the same.
///
/// Call ``begin()`` once connections are up and warm, ``end()`` once the last response arrived, both on
/// the main thread.
final class MeasuredPhase {
    private let control: any ServerControl
    private(set) var clientAllocations: Int?
    private(set) var clientPeakRSS: Int?
    private(set) var clientStartRSS: Int?
    private(set) var serverReport: ServerPhaseReport?
    private var running = false

    init(server: any ServerControl) { control = server }

    func begin() throws {
        try control.beginPhase()
        bench_release_free_memory()
        ProcessMemory.resetPeak()
        clientStartRSS = ProcessMemory.currentBytes()
        running = true
        allocation_counter_start()
    }

    func end() throws {
        guard running else { return }
        clientAllocations = allocation_counter_stop()
        running = false
        clientPeakRSS = ProcessMemory.peakBytes()
        serverReport = try control.endPhase()
    }

    /// Stops counting without a report (a run that failed).
    func abandon() {
        if running { _ = allocation_counter_stop() }
        running = false
    }
}
