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

    /// `true` when the limited part of the outgoing queue (what a peer can drive: responses, messages from
    /// handlers; not a pool's own sends) is at ``ConnectionConfiguration/maxQueuedMessages`` or
    /// ``ConnectionConfiguration/maxQueuedBytes``.
    @inline(__always)
    func queueIsOverLimit(_ writer: MessageWriter) -> Bool {
        writer.limitedPendingCount >= queueLimit || writer.limitedQueuedBytes >= queueByteLimit
    }

    /// The outgoing queue reached its limit (a peer that sends and does not read what it is sent): stop
    /// reading from it, so it cannot make the queue grow, and close with
    /// ``ConnectionError/outgoingQueueStalled`` if no packet goes out for
    /// ``ConnectionConfiguration/queueStallTimeout`` while it stays over the limit.
    func queueOverLimit() {
        guard !pausedForQueue, case .active = state else { return }
        pausedForQueue = true
        stream.pauseReading()
        lastQueueProgress = reactor.now()
        if let limit = configuration.queueStallTimeout { scheduleStallCheck(after: limit) }
    }

    private func scheduleStallCheck(after delay: Duration) {
        queueStallTimer = reactor.schedule(after: delay) { [weak self] in
            guard let self else { return }
            self.queueStallTimer = nil
            guard self.pausedForQueue, let limit = self.configuration.queueStallTimeout else { return }
            let idle = self.reactor.now().duration(since: self.lastQueueProgress)
            if idle >= limit {
                self.finish(.outgoingQueueStalled)
            } else {
                self.scheduleStallCheck(after: limit - idle)  // a slow reader that still reads is not stalled
            }
        }
    }

    /// A packet went out: read again once the queue is down to half of both limits.
    func queueMayHaveRoom() {
        lastQueueProgress = reactor.now()
        guard pausedForQueue, let writer, writer.limitedPendingCount <= queueLimit / 2,
            writer.limitedQueuedBytes <= queueByteLimit / 2
        else { return }
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
