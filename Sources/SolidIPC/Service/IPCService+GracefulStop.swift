import SolidReactor

extension IPCService {
    /// Stops gracefully, then as `stop()`: stops accepting; refuses new messages to destinations
    /// (``SendError/serviceStopped``); tells every connection it is going away (PROTOCOL.md §4.1), so
    /// peers send it no new requests; lets every request already received be answered and every message
    /// and request already sent complete; and closes each connection once it is quiet. Whatever is still
    /// under way after `gracePeriod` (on the reactors' clock) is closed as by `stop()`.
    ///
    /// Blocks until done, so like `stop()` it must not be called on a reactor thread (a precondition,
    /// on in release builds). Handlers and ``MessageContext/respond(_:completion:)`` keep working meanwhile.
    public func stop(gracePeriod: Duration) {
        waitOffReactor("stop(gracePeriod:)") { done in beginStop(gracePeriod: gracePeriod) { done(()) } }
    }

    /// Stops gracefully without waiting; `done` runs once when it is over (on a reactor thread, or here).
    func beginStop(gracePeriod: Duration, _ done: @escaping @Sendable () -> Void) {
        let (pools, listener, core) = state.withLock { state -> ([PoolEntry], ObjectHandle?, ServiceCore?) in
            state.draining = true
            return (Array(state.pools.values), state.listener, state.core)
        }
        var fanOut = ReactorFanOut()
        if let listener { fanOut.closeListener(listener) }
        for peer in core?.livePeers() ?? [] {
            fanOut.run(on: peer.reactor) { done in
                if let server = peer.reactor.object(peer.id) as? ServerPeer { server.drain(within: gracePeriod, done: done) } else { done() }
            }
        }
        for entry in pools {
            fanOut.run(on: entry.reactor) { done in
                if let pool = entry.existingPool { pool.drain(within: gracePeriod, done: done) } else { done() }
            }
        }
        fanOut.whenDone { [weak self] in
            guard let self else { return done() }
            self.beginStop(done)
        }
    }
}

extension Pool {
    /// Closes the pool once what is queued or in flight has completed (its connections going away
    /// first), or after `gracePeriod` whatever is left; then calls `done`, once.
    func drain(within gracePeriod: Duration, done: @escaping () -> Void) {
        for link in links where !link.draining {
            link.draining = true
            link.connection.goAway()
        }
        let timer = entry.reactor.schedule(after: gracePeriod) { [weak self] in self?.stop() }
        closeGracefully { [entry] in
            entry.reactor.cancelTimer(timer)
            done()
        }
        closeDrainedLinks()
    }
}
