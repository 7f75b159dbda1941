import SolidEngine
import SolidReactor

/// Ending a message early: its timeout, or a cancel from the sender.
extension Pool {
    /// A message's timeout passed: fail it if it still waits in the queue or for its response. A message
    /// being written is left to finish; a request then fails with the timeout as soon as it is written
    /// (or dropped), instead of waiting for a response without a deadline.
    func expire(_ sent: PoolItem) {
        timeouts.removeValue(forKey: sent.serial)
        if let item = queue.remove(serial: sent.serial) {
            failUnsent(item, .timeout(progress: .notSent))
            return
        }
        guard sent.listed else { return }  // completed meanwhile
        if !sent.written {
            sent.timedOut = true  // decided in written(_:_:)
            return
        }
        guard sent.requestID != 0, let link = sent.link, link.awaiting.remove(sent.requestID) != nil
        else { return }
        abandonResponse(sent, on: link, .timeout(progress: .sentAwaitingResponse))
    }

    /// Cancels message `serial`: dropped from the queue, cancelled in its connection's writer (a partly
    /// written one becomes a cancel record), or, when it awaits a response, completed at once while the
    /// peer is told the response is no longer wanted. The message's own callback reports it, once.
    func cancel(_ serial: UInt64) {
        if let item = queue.remove(serial: serial) {
            failUnsent(item, .canceled(progress: .notSent))
            return
        }
        // Withdrawn by a connection going away and not yet back in the queue (it returns at the end of
        // the turn): cancelled here, or the cancel would be lost.
        if let index = givenBack.firstIndex(where: { $0.serial == serial }) {
            failUnsent(givenBack.remove(at: index), .canceled(progress: .notSent))
            return
        }
        guard let sent = inFlightMessages.first(serial: serial), let link = sent.link else { return }
        if !sent.written, let writerID = sent.writerID, link.connection.cancel(writerID) {
            return  // the write completion reports the cancel with how far it got
        }
        guard sent.requestID != 0, link.awaiting.remove(sent.requestID) != nil else { return }
        abandonResponse(sent, on: link, .canceled(progress: .sentAwaitingResponse))
    }

    /// A message that left the queue unsent ends with `error`.
    func failUnsent(_ item: PoolItem, _ error: SendError) {
        item.givePlaceBack()
        finish(item.serial)
        item.fail(error)
    }

    /// Gives up on the response `item` awaits on `link` (already taken out of `link.awaiting`): the
    /// request completes with `error` now, and the peer is told its answer is no longer wanted.
    func abandonResponse(_ item: PoolItem, on link: PoolLink, _ error: SendError) {
        inFlightMessages.remove(item)
        link.inFlight -= 1
        link.connection.cancelRequest(item.requestID)
        finish(item.serial)
        item.answer(.failure(error))
        dispatch()
    }
}
