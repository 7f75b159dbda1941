import SolidEngine
import SolidReactor

/// Receive-side limits: inactivity and keep-alive flood (the server side of keep-alive).
extension Connection {
    /// Starts the timers the configuration asks for (from the start, handshake included).
    func startReceiveLimits() {
        if let timeout = configuration.inactivityTimeout {
            let half = timeout / 2
            var idleFor: Duration = .zero
            inactivityTimer = reactor.schedule(after: half, repeating: half) { [weak self] in
                guard let self else { return }
                if self.receivedSinceCheck {
                    idleFor = .zero
                } else {
                    idleFor += half
                    if idleFor >= timeout { self.finish(.inactivityTimeout) }
                }
                self.receivedSinceCheck = false
            }
        }
        if configuration.maxKeepAlivesPerWindow != nil {
            let window = configuration.keepAliveLimitWindow
            keepAliveWindowTimer = reactor.schedule(after: window, repeating: window) { [weak self] in
                self?.keepAlivesInWindow = 0  // the count restarts every window
            }
        }
    }

    /// Counts a keep-alive from the peer; too many in one window close the connection.
    func keepAliveReceived() {
        guard let limit = configuration.maxKeepAlivesPerWindow else { return }
        keepAlivesInWindow += 1
        if keepAlivesInWindow > limit { finish(.tooManyKeepAlives) }
    }

    /// The outgoing queue reached ``ConnectionConfiguration/maxQueuedMessages`` (a peer that sends and
    /// does not read what it is sent): stop reading from it, so it cannot make the queue grow, and close
    /// with ``ConnectionError/outgoingQueueStalled`` if it stays full for
    /// ``ConnectionConfiguration/queueStallTimeout``.
    func queueOverLimit() {
        guard !pausedForQueue, case .active = state else { return }
        pausedForQueue = true
        stream.pauseReading()
        if let limit = configuration.queueStallTimeout {
            queueStallTimer = reactor.schedule(after: limit) { [weak self] in
                self?.queueStallTimer = nil
                self?.finish(.outgoingQueueStalled)
            }
        }
    }

    /// A packet went out: read again once the queue is down to half the limit.
    func queueMayHaveRoom() {
        guard pausedForQueue, let writer = currentWriter, writer.pendingCount <= queueLimit / 2 else { return }
        pausedForQueue = false
        if let queueStallTimer { reactor.cancelTimer(queueStallTimer) }
        queueStallTimer = nil
        if !pausedByOwner { stream.resumeReading() }
    }

    func stopReceiveLimits() {
        if let inactivityTimer { reactor.cancelTimer(inactivityTimer) }
        if let keepAliveWindowTimer { reactor.cancelTimer(keepAliveWindowTimer) }
        inactivityTimer = nil
        keepAliveWindowTimer = nil
    }
}
