import SolidEngine
import SolidReactor

// What the peer says about this pool's requests besides answering them: a reject record, a response
// that cannot be read, and going away (PROTOCOL.md §4).
extension Pool {
    /// Reader events other than messages on one of the pool's connections.
    func peerRecord(_ event: ReaderEvent, on link: PoolLink) {
        switch event {
        case .rejectedByPeer(let requestID, let rejection):
            failAwaiting(requestID, on: link, .rejected(rejection))
        case .rejected(let header, let error) where header.responseTo != 0:
            failAwaiting(header.responseTo, on: link, .invalidResponse(error))
        default:
            break
        }
    }

    /// A request on `link` ends with `error` before its response: at once, and if the peer refused it
    /// while it was still being written, the rest is not written.
    private func failAwaiting(_ requestID: UInt64, on link: PoolLink, _ error: SendError) {
        guard let item = link.awaiting.remove(requestID) else { return }
        link.inFlight -= 1
        inFlightMessages.remove(item)
        finish(item.serial)
        if !item.written, let writerID = item.writerID { link.connection.cancel(writerID) }
        item.answer(.failure(error))
        dispatch()
    }

    /// The peer starts nothing new on `link`: it takes no more pool messages, finishes what it carries
    /// and closes once drained; new work goes to other connections.
    func peerGoingAway(on link: PoolLink) {
        link.draining = true
        closeDrainedLinks()
        dispatch()
        scale()
    }
}
