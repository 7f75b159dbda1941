import SolidEngine
import SolidReactor
import Synchronization

// Failing queued messages, stopping the pool, and closing it once drained.
extension Pool {

    func failQueue(_ error: SendError, where matches: (PoolItem) -> Bool = { _ in true }) {
        for item in queue.removeAll(where: matches) { failUnsent(item, error) }
    }

    /// Fails everything with ``SendError/serviceStopped`` and closes the connections.
    func stop(with error: SendError = .serviceStopped) {
        guard !stopped else { return }
        stopped = true
        stopError = error
        // A graceful close still waiting for the pool to drain is over too (the service stopped first).
        let pendingClose = closeWhenDrained
        closeWhenDrained = nil
        dialer.stop()
        failQueue(error)
        let back = givenBack  // withdrawn by a connection going away, not yet back in the queue
        givenBack.removeAll()
        for item in back { failUnsent(item, error) }
        for link in links { link.connection.close() }
        inFlightMessages.removeAll()
        links.removeAll()
        for (_, timer) in timeouts { entry.reactor.cancelTimer(timer) }
        timeouts.removeAll()
        if let id { entry.reactor.unregister(id) }
        id = nil
        entry.poolStopped(error)
        // Alive until the end of the reactor turn: a method of this pool may be running further up the
        // stack (an item's outcome reaches the pool unretained, PoolItem.messageEnded).
        entry.reactor.runSoon { withExtendedLifetime(self) {} }
        pendingClose?()
    }

    func reactorStopping() { stop() }

    /// Closes the pool once everything queued or in flight has completed and its connections have closed
    /// gracefully (going away, so requests the peer sent on them are still answered); `done` runs then.
    func closeGracefully(_ done: @escaping () -> Void) {
        closeWhenDrained = done
        closeIfDrained()
    }

    func closeIfDrained() {
        guard let done = closeWhenDrained, queue.isEmpty, inFlightMessages.isEmpty, givenBack.isEmpty else { return }
        guard links.isEmpty else {
            for link in links {
                link.draining = true
                link.connection.closeWhenDrained()
            }
            return  // again when the last one has closed (its onClose)
        }
        closeWhenDrained = nil
        stop(with: .poolClosed(entry.destination))
        done()
    }
}
