import SolidEngine
import SolidReactor

/// Ending a message early: its timeout, or a cancel from the sender.
extension Pool {
    /// A message's timeout passed: fail it if it still waits in the queue or for its response. A message
    /// being written is left to finish; a request then fails with the timeout as soon as it is written
    /// (or dropped), instead of waiting for a response without a deadline.
    func expire(_ serial: UInt64) {
        timeouts.removeValue(forKey: serial)
        if let item = queue.remove(serial: serial) {
            item.givePlaceBack()
            finish(serial)
            item.fail(.timeout(progress: .notSent))
            return
        }
        if let sent = inFlightMessages[serial], !sent.written {
            sent.timedOut = true  // decided in written(_:_:)
            return
        }
        guard let sent = inFlightMessages[serial], sent.written, sent.requestID != 0, let link = sent.link,
            link.awaiting.removeValue(forKey: sent.requestID) != nil
        else { return }
        inFlightMessages.removeValue(forKey: serial)
        link.inFlight -= 1
        link.connection.cancelRequest(sent.requestID)
        finish(serial)
        sent.answer(.failure(.timeout(progress: .sentAwaitingResponse)))
        dispatch()
    }

    /// Cancels message `serial`: dropped from the queue, cancelled in its connection's writer (a partly
    /// written one becomes a cancel record), or, when it awaits a response, completed at once while the
    /// peer is told the response is no longer wanted. The message's own callback reports it, once.
    func cancel(_ serial: UInt64) {
        if let item = queue.remove(serial: serial) {
            item.givePlaceBack()
            finish(serial)
            item.fail(.canceled(progress: .notSent))
            return
        }
        guard let sent = inFlightMessages[serial], let link = sent.link else { return }
        if !sent.written, let writerID = sent.writerID, link.connection.cancel(writerID) {
            return  // the write completion reports the cancel with how far it got
        }
        guard sent.requestID != 0, link.awaiting.removeValue(forKey: sent.requestID) != nil else { return }
        inFlightMessages.removeValue(forKey: serial)
        link.inFlight -= 1
        link.connection.cancelRequest(sent.requestID)
        finish(serial)
        sent.answer(.failure(.canceled(progress: .sentAwaitingResponse)))
        dispatch()
    }
}
