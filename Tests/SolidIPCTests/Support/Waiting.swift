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

/// Checks `condition` until it holds, for at most `seconds`, suspending for a millisecond between checks
/// so an async test gives its cooperative thread to the tasks it waits for. (`Task.yield()` kept the
/// thread busy: under TSan, with the suites running in parallel on two cores, a server's handler tasks
/// did not start within 30 s while tests spun this way.) Under a sanitizer the default is 120 s: the
/// synchronous tests running beside it block the two cooperative threads while they wait for their
/// reactors, and a handler task (which runs on those threads) could still wait more than 30 s to start
/// (AnsweringHandlerTests, about one full TSan run in three; never alone or without a sanitizer).
func waitUntil(seconds: Double = asyncWaitSeconds, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while !condition() {
        if ContinuousClock.now > deadline { return false }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return true
}

/// The async `waitUntil`'s default bound (see there).
let asyncWaitSeconds: Double = runningUnderSanitizer ? 120 : 30
