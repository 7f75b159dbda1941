public import SolidEngine
import SolidReactor

// Closing a connection: at once, once written, or gracefully with the going-away record (PROTOCOL.md
// §4.1), and what the end of the peer's input means.
extension Connection {
    /// Closes the connection (``ConnectionError/closedLocally``) once everything queued so far, and
    /// anything sent meanwhile, has been handed to the socket.
    public func closeWhenWritten() {
        closeOnceWritten = true
        closeIfDone()
    }

    /// Tells the peer that this side starts nothing new here (the going-away record, once): from now on
    /// only responses start; other messages queued or sent later are held unstarted and end as
    /// cancelled, never sent, when the connection closes. The peer answers with its own going-away and
    /// finishes what it started. Starts ``ConnectionConfiguration/gracefulCloseTimeout``.
    public func goAway() {
        reactor.preconditionInReactor()
        guard !sentGoingAway else { return }
        guard let writer, case .active = state else {
            switch state {
            case .handshaking, .raw: finish(.closedLocally)  // nothing started yet: nothing to drain
            default: break
            }
            return
        }
        sentGoingAway = true
        initiatedGoingAway = !peerGoingAway
        writer.goAway()
        schedulePump()
        startDrainTimer()
    }

    private func startDrainTimer() {
        guard drainTimer == nil, let limit = configuration.gracefulCloseTimeout else { return }
        drainTimer = reactor.schedule(after: limit) { [weak self] in
            self?.drainTimer = nil
            self?.finish(.gracefulCloseTimedOut)
        }
    }

    /// Closes gracefully: sends the going-away record (if not yet) and closes once the connection is
    /// quiet — the peer's going-away has arrived (or its input ended), every request it sent has been
    /// answered, no message of the peer's is still arriving, and everything queued has been written.
    /// The owner calls it once its own requests here have been answered. The side that went away first
    /// closes (``ConnectionError/closedLocally``); the side that answered a going-away waits for that
    /// close (``ConnectionError/closedByPeer``), so each side's reason does not depend on timing. A
    /// peer that never gets quiet is closed after ``ConnectionConfiguration/gracefulCloseTimeout``.
    public func closeWhenDrained() {
        reactor.preconditionInReactor()
        drainRequested = true
        goAway()
        closeIfDone()
    }

    /// Refuses the peer's request `requestID` (a reject record): it gets no response, and its sender's
    /// completion fails at once with `rejection`. Nothing happens for a request already answered (its
    /// final response queued), rejected or cancelled by the peer, or one that never arrived.
    public func reject(_ requestID: UInt64, _ rejection: PeerRejection) {
        reactor.preconditionInReactor()
        guard unanswered.contains(requestID) else { return }
        writeReject(requestID, rejection)
    }

    /// Writes a reject record for `requestID` (also for a request the reader refused, which no handler saw).
    func writeReject(_ requestID: UInt64, _ rejection: PeerRejection) {
        guard requestID != 0, let writer, case .active = state else { return }
        unanswered.remove(requestID)
        forgetHandlerTask(of: requestID)
        // Parts of a response in parts not yet completely written would arrive after the reject (control
        // records go first) and be dropped: they end now, with a cancel record for a partly written one.
        if !answeringInParts.isEmpty, answeringInParts.remove(requestID) != nil {
            _ = writer.cancelResponses(to: requestID, byPeer: false)
        }
        writer.reject(requestID, rejection)
        schedulePump()
    }

    /// A close is waiting for something (written, drained, or the peer's input ended).
    var isClosing: Bool { closeOnceWritten || drainRequested || inputEnded }

    /// Closes when what the pending close waits for is done.
    func closeIfDone() {
        guard isClosing, !pumping, inFlight == 0, !pumpScheduled, waitingForHandshake.isEmpty,
            !(writer?.hasWork ?? false)
        else { return }
        if closeOnceWritten { return finish(.closedLocally) }
        guard unanswered.isEmpty else { return }
        if inputEnded { return finish(.closedByPeer) }
        guard drainRequested, initiatedGoingAway, peerGoingAway, !reader.hasMessagesInProgress else { return }
        finish(.closedLocally)
    }

    /// The peer's end of input (a half-close, PROTOCOL.md §4.1): it sends nothing more. What it asked is
    /// still answered, then the connection closes (``ConnectionError/closedByPeer``); at once when
    /// nothing is owed. This side's own requests cannot be answered any more: they fail at the close.
    func endOfInput() {
        if case .raw = state { return rawEndOfInput() }
        inputEnded = true
        peerGoingAway = true
        if case .active = state, !unanswered.isEmpty || (writer?.hasWork ?? false) || inFlight > 0 {
            startDrainTimer()  // bounded like any graceful close, even if the owner never asks for it
            onGoingAway?()
            closeIfDone()
        } else {
            finish(.closedByPeer)
        }
    }

    func finish(_ error: ConnectionError) {
        if case .closed = state { return }
        state = .closed(error)
        for timer in [keepAliveTimer, helloTimer, queueStallTimer, drainTimer] {
            if let timer { reactor.cancelTimer(timer) }
        }
        keepAliveTimer = nil
        helloTimer = nil
        queueStallTimer = nil
        drainTimer = nil
        stopReceiveLimits()
        let neverQueued = waitingForHandshake
        waitingForHandshake.removeAll()
        for pending in neverQueued { pending.end(.canceled(partlySent: false)) }
        // Everything still queued or in flight completes as cancelled (the writer reports partly sent).
        writer?.cancelAll()
        // Messages still arriving will not complete: their sinks learn it now (a file sink deletes its
        // partial file, say), and the sink factory — which may capture this connection — is dropped.
        reader.abandonIncomplete()
        reader.makeSinks = { _, _ in [] }
        // Handlers still working on this connection's requests can stop: nobody can get their answers.
        cancelHandlerTasks()
        stream.close()
        let waitingForSecure = secureCompletions
        secureCompletions.removeAll()
        onSecured = nil
        for completion in waitingForSecure { completion(.failure(error)) }
        let onClose = self.onClose
        self.onClose = nil
        onMessage = nil
        onEvent = nil
        onActive = nil
        onGoingAway = nil
        onClose?(error)
    }
}
