import SolidEngine

/// A message waiting for the handshake, with its completion.
struct PendingSend {
    let completion: ((MessageWriter.Outcome) -> Void)?
    let observer: (any MessageOutcomeObserver)?
    let enqueue:
        (MessageWriter, ((MessageWriter.Outcome) -> Void)?, (any MessageOutcomeObserver)?) throws(WireError) -> UInt64

    /// Tells whoever waits for the message how it ended.
    func end(_ outcome: MessageWriter.Outcome) {
        observer?.messageEnded(outcome)
        completion?(outcome)
    }
}
