import SolidEngine
import SolidReactor
import Synchronization

// What happens to a message once its connection's writer is done with it: the seed's resend rules.
extension Pool {
    /// The writer is done with `item`: written, cancelled or failed.
    func written(_ item: PoolItem, _ outcome: MessageWriter.Outcome) {
        // The common case first: a request written whole, in time, now awaits its response. Nothing of
        // the link or its connection is needed (measured: taking them cost two retains per request, of
        // objects whose weak references make every retain take the runtime's slow path).
        if case .written = outcome, item.isRequest, !item.timedOut, item.link != nil {
            item.givePlaceBack()
            item.written = true
            return
        }
        guard let link = item.link else { return }
        let connection = link.connection
        if givesBack(outcome, on: connection, item) {
            inFlightMessages.remove(item)
            if item.requestID != 0 { link.awaiting.remove(item.requestID) }
            link.inFlight -= 1
            if item.timedOut {
                // Its deadline passed while it was on this connection: no second try.
                item.givePlaceBack()
                finish(item.serial)
                if case .canceled(let partly) = outcome {
                    item.fail(.timeout(progress: partly ? .partlySent : .notSent))
                } else {
                    item.fail(.timeout(progress: .notSent))
                }
                return
            }
            givenBack.append(item)
            if case .withdrawn = outcome {
                // Its connection is going away, not closed: back to the queue once the writer is done.
                entry.reactor.runSoon { [weak self] in self?.requeueGivenBack() }
            }
            return
        }
        item.givePlaceBack()
        if item.isRequest && item.timedOut && outcome == .written {
            // Written after its deadline: fail it now and tell the peer its answer is not wanted.
            link.awaiting.remove(item.requestID)
            abandonResponse(item, on: link, .timeout(progress: .sentAwaitingResponse))
            return
        }
        if !item.isRequest {
            inFlightMessages.remove(item)
            finish(item.serial)
            item.complete(SendError.from(outcome, on: connection))
            link.inFlight -= 1
            dispatch()
        } else if outcome == .written {
            item.written = true  // now awaiting its response
        } else if case .failure(let error) = SendError.from(outcome, on: connection) {
            inFlightMessages.remove(item)
            if link.awaiting.remove(item.requestID) != nil {
                finish(item.serial)
                item.answer(.failure(error))
                link.inFlight -= 1
                dispatch()
            }
        }
    }

    /// Messages a connection gave back go to the front of the queue, in the order they were first sent
    /// (serials grow with each send), and out again.
    func requeueGivenBack() {
        guard !givenBack.isEmpty else { return }
        let back = givenBack.sorted { $0.serial < $1.serial }
        givenBack.removeAll()
        guard !stopped else {
            for item in back { failUnsent(item, stopError) }
            return
        }
        queue.prepend(back)
        dispatch()
        scale()  // their connection is going away: another may open for them
    }

    /// The seed's resend rule: a message its connection dropped goes back to the pool when it had not
    /// started, or when it is idempotent; a partly sent plain one fails (with how far it got). One that
    /// a going-away connection withdrew before it started goes back too.
    func givesBack(_ outcome: MessageWriter.Outcome, on connection: Connection, _ item: PoolItem) -> Bool {
        if case .withdrawn = outcome { return !stopped && !item.addressed }
        guard !stopped, !item.addressed, case .canceled(let partly) = outcome, case .closed = connection.state else {
            return false
        }
        return !partly || item.idempotent
    }
}
