import Synchronization

/// Shared state of one echo run.
final class EchoRun: @unchecked Sendable {
    // @unchecked: `latency`, `errors` and `firstError` are touched only on the client's single reactor or
    // event-loop thread (sends start there too); the main thread reads them after `completion`.
    let total: Int
    let size: Int
    let finished = Atomic<Int>(0)
    let completion = Completion<UInt64>()
    var latency = LatencyHistogram()
    var errors = 0
    var firstError: String?

    init(total: Int, size: Int) {
        self.total = total
        self.size = size
    }

    /// Records one finished round trip (or failure); completes the run with the time of the last one.
    func finish(sentAt: UInt64, error: String?) {
        let now = nowNanos()
        if let error {
            errors += 1
            if firstError == nil { firstError = error }
        } else {
            latency.record(nanos: now &- sentAt)
        }
        if finished.add(1, ordering: .relaxed).newValue == total { completion.complete(now) }
    }

    func outcome(elapsed: UInt64) -> EchoOutcome {
        EchoOutcome(roundTrips: total - errors, elapsedNanos: elapsed, latency: latency, errors: errors, firstError: firstError)
    }
}
