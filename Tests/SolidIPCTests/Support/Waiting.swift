import Glibc

extension Result {
    /// `true` for `.success`.
    var isSuccess: Bool {
        if case .success = self { true } else { false }
    }
}

/// Checks `condition` until it holds, for at most 30 s, yielding the CPU between checks.
func waitUntil(seconds: Double = 30, _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while !condition() {
        if ContinuousClock.now > deadline { return false }
        sched_yield()
    }
    return true
}

/// Checks `condition` until it holds, for at most `seconds`, yielding to other tasks between checks (so
/// an async test does not hold a cooperative thread the task it waits for needs).
func waitUntil(seconds: Double = 30, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while !condition() {
        if ContinuousClock.now > deadline { return false }
        await Task.yield()
    }
    return true
}
