public import SolidReactor

// The async lifecycle: start and stop that suspend instead of blocking a thread, serve() that serves until
// shutdown, beginGracefulShutdown(), and withRunning, a scope the service cannot outlive running.
extension IPCService {
    /// Starts the service and returns the bound listen address (with the chosen port) for a server, nil
    /// for a client. Suspends until the listener is bound, blocking no thread.
    /// - Throws: `SystemError` when the listener cannot bind; ``SendError/serviceStopped`` after stop,
    ///   ``SendError/alreadyStarted`` the second time.
    @discardableResult
    public func start() async throws -> SocketAddress? {
        try await withCheckedThrowingContinuation { continuation in
            beginStart { continuation.resume(with: $0) }
        }
    }

    /// Stops as the blocking `stop()` does, suspending instead of blocking. Callable from any task.
    public func stop() async {
        await withCheckedContinuation { continuation in beginStop { continuation.resume() } }
    }

    /// Stops gracefully as the blocking `stop(gracePeriod:)` does, suspending instead of blocking.
    public func stop(gracePeriod: Duration) async {
        await withCheckedContinuation { continuation in
            beginStop(gracePeriod: gracePeriod) { continuation.resume() }
        }
    }

    /// Serves until the service stops: starts it if it has not been started, then returns once a
    /// ``beginGracefulShutdown()`` or a `stop()` from anywhere has finished. Cancelling the task that
    /// runs it stops the service at once (as `stop()`) and returns when that is done.
    ///
    /// This is the shape ServiceLifecycle expects; the `SolidIPCLifecycle` product makes an
    /// ``IPCService`` a ServiceLifecycle service whose graceful shutdown calls ``beginGracefulShutdown()``.
    /// - Throws: what `start()` throws, when it had to start the service (``SendError/serviceStopped``
    ///   if it was stopped before).
    public func serve() async throws {
        let (stopped, needsStart) = state.withLock { ($0.stopped, $0.core == nil) }
        if stopped { throw SendError.serviceStopped }
        if needsStart { try await start() }
        await withTaskCancellationHandler {
            await untilStopped()
        } onCancel: {
            beginStop {}
        }
    }

    /// Begins a graceful shutdown and returns at once: stops accepting, refuses new messages
    /// (``SendError/serviceStopped``), lets what is in flight finish for up to
    /// ``ServiceConfiguration/gracefulShutdownPeriod``, then stops (``serve()`` returns then). Callable from
    /// any thread, a reactor thread or a handler included; calling it again changes nothing.
    public func beginGracefulShutdown() {
        let first = state.withLock { state -> Bool in
            guard !state.shutdownBegun else { return false }
            state.shutdownBegun = true
            return true
        }
        if first { beginStop(gracePeriod: gracefulShutdownPeriod) {} }
    }

    /// Starts the service, runs `body` with its listen address, then stops it: gracefully (as
    /// ``beginGracefulShutdown()``, waiting for it) when `body` returns, at once when it throws. The
    /// service never outlives the scope running, also when the task is cancelled. `body` runs on the
    /// caller's actor.
    /// - Returns: what `body` returns.
    /// - Throws: what `start()` or `body` throws.
    public func withRunning<Result>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (_ listenAddress: SocketAddress?) async throws -> Result
    ) async throws -> Result {
        let address = try await start()
        let result: Result
        do {
            result = try await body(address)
        } catch {
            await stop()
            throw error
        }
        await stop(gracePeriod: gracefulShutdownPeriod)
        return result
    }

    /// The address the service listens on (with the port the system chose for port 0) once
    /// `start()` or ``serve()`` has bound it; nil before, for a client, and once a stop began.
    public var listeningAddress: SocketAddress? {
        state.withLock { $0.reportedListeningAddress }
    }

    /// Suspends until a stop has finished.
    func untilStopped() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let finished = state.withLock { state -> Bool in
                if state.stopFinished { return true }
                state.stopWaiters.append(continuation)
                return false
            }
            if finished { continuation.resume() }
        }
    }

    /// A stop has finished: wakes the tasks waiting for it and runs the `whenStopped` actions.
    func stopFinished() {
        let (waiters, actions) = state.withLock { state -> ([CheckedContinuation<Void, Never>], [@Sendable () -> Void]) in
            state.stopFinished = true
            defer {
                state.stopWaiters.removeAll()
                state.stopActions.removeAll()
            }
            return (state.stopWaiters, state.stopActions)
        }
        for waiter in waiters { waiter.resume() }
        for action in actions { action() }
    }

    /// Runs `action` once when a stop has finished (at once if one has).
    func whenStopped(_ action: @escaping @Sendable () -> Void) {
        let finished = state.withLock { state -> Bool in
            if state.stopFinished { return true }
            state.stopActions.append(action)
            return false
        }
        if finished { action() }
    }
}
