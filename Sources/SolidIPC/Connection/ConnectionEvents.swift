import SolidEngine
import SolidReactor
import Synchronization

// Events addressed to one connection (through the handle in ``ConnectionInfo`` or ``MessageContext``),
// handled by its holder: a pool's ``PoolLink`` or an accepted ``ServerPeer``.

/// A request about one connection: pause or resume reading, close, or activate.
final class ConnectionControlEvent: ReactorEvent, @unchecked Sendable {
    // @unchecked: immutable; handed to one reactor thread.
    enum Action { case pauseReading, resumeReading, close, closeGracefully, activate }
    let action: Action
    /// Told whether the request was carried out (activation only).
    let completion: (@Sendable (Result<Void, SendError>) -> Void)?

    init(_ action: Action, completion: (@Sendable (Result<Void, SendError>) -> Void)? = nil) {
        self.action = action
        self.completion = completion
    }

    /// Carries out pause, resume and close on `connection`; `false` for actions the holder decides.
    func apply(to connection: Connection) -> Bool {
        switch action {
        case .pauseReading: connection.pauseReading()
        case .resumeReading: connection.resumeReading()
        case .close: connection.close()
        case .activate, .closeGracefully: return false
        }
        completion?(.success(()))
        return true
    }

    override func undeliverable(_ reason: PostFailure) {
        completion?(.failure(reason == .reactorStopped ? .serviceStopped : .peerGone))
    }
}

/// An event the connection carries out by itself, whoever holds it (a pool's link or an accepted peer):
/// STARTTLS, a raw send or receive, a reject record.
class ConnectionCommandEvent: ReactorEvent, @unchecked Sendable {
    // @unchecked: subclasses are immutable; handed to one reactor thread.
    func apply(to connection: Connection) { preconditionFailure("subclass responsibility") }
}

/// Sets a connection's reading to what its owner's state says when the event runs, not when it was
/// sent: pauses and resumes sent from two threads (a handler pausing, a consumer resuming) may run in
/// either order, and the last one run must agree with the state (``IPCService/messages(of:bufferLimit:)``).
final class ReadingStateEvent: ConnectionCommandEvent, @unchecked Sendable {
    // @unchecked: immutable; handed to one reactor thread.
    /// Read on the connection's reactor thread when the event runs.
    let shouldPause: @Sendable () -> Bool

    init(shouldPause: @escaping @Sendable () -> Bool) { self.shouldPause = shouldPause }

    override func apply(to connection: Connection) {
        if shouldPause() { connection.pauseReading() } else { connection.resumeReading() }
    }
}

/// STARTTLS on one connection (``IPCService/secureConnection(_:completion:)``).
final class SecureConnectionEvent: ConnectionCommandEvent, @unchecked Sendable {
    // @unchecked: immutable; handed to one reactor thread.
    let completion: (@Sendable (Result<SecurityInfo, SendError>) -> Void)?

    init(completion: (@Sendable (Result<SecurityInfo, SendError>) -> Void)?) { self.completion = completion }

    /// Starts securing `connection`; the completion runs once its TLS handshake is done (or failed).
    override func apply(to connection: Connection) {
        let completion = self.completion
        connection.startSecure { result in
            completion?(result.mapError { .connectionClosed($0, progress: .notSent) })
        }
    }

    override func undeliverable(_ reason: PostFailure) {
        completion?(.failure(reason == .reactorStopped ? .serviceStopped : .peerGone))
    }
}

/// A message (or response) for one connection (the seed's "NewConnectionMessage"). The concrete event is
/// ``AddressedMessageEvent``, which carries the message itself (no closure to allocate).
@usableFromInline
class PeerSendEvent: ReactorEvent, @unchecked Sendable {
    // @unchecked: handed whole to the connection's reactor thread (see ReactorEvent).
    let complete: (@Sendable (Result<Void, SendError>) -> Void)?

    init(complete: (@Sendable (Result<Void, SendError>) -> Void)?) { self.complete = complete }

    /// Queues the message on `connection`; the completion reports the outcome once.
    func deliver(on connection: Connection) { preconditionFailure("subclass responsibility") }

    override func undeliverable(_ reason: PostFailure) {
        complete?(.failure(reason == .reactorStopped ? .serviceStopped : .peerGone))
    }
}

/// A message of type `M` for one connection.
@usableFromInline
final class AddressedMessageEvent<M: WireMessage & Sendable>: PeerSendEvent, @unchecked Sendable {
    // @unchecked: immutable; handed whole to the connection's reactor thread.
    let message: M
    let flags: MessageFlags
    let responseTo: UInt64

    @usableFromInline
    init(_ message: M, flags: MessageFlags, responseTo: UInt64, complete: (@Sendable (Result<Void, SendError>) -> Void)?) {
        self.message = message
        self.flags = flags
        self.responseTo = responseTo
        super.init(complete: complete)
    }

    override func deliver(on connection: Connection) {
        queueAddressed(message, flags: flags, responseTo: responseTo, complete: complete, on: connection)
    }
}

/// Queues `message` on `connection`; `complete` reports the outcome once (an encoding error at once).
/// A free function, not a static member of ``AddressedMessageEvent``: calling that from generic code
/// looked the generic class's metadata up at run time on every response (measured: ~330 instructions).
@usableFromInline
func queueAddressed<M: WireMessage & Sendable>(
    _ message: M, flags: MessageFlags, responseTo: UInt64,
    complete: (@Sendable (Result<Void, SendError>) -> Void)?, on connection: Connection
) {
    var outcome: ((MessageWriter.Outcome) -> Void)?
    if let complete {
        outcome = { [unowned(unsafe) connection] in complete(SendError.from($0, on: connection)) }
    }
    do {
        try connection.send(message, flags: flags, responseTo: responseTo, completion: outcome)
    } catch {
        complete?(.failure(.encodingFailed(error, progress: .notSent)))
    }
}

/// Sends `message` to the connection behind `handle`: at once, without an event object, when called on
/// its reactor with nothing queued (a handler answering on its own connection; measured, the event was
/// one allocation per response); otherwise posted (``deliverEvent(_:to:soonest:)``), to keep order.
@usableFromInline
func sendAddressed<M: WireMessage & Sendable>(
    _ message: M, flags: MessageFlags, responseTo: UInt64,
    completion: (@Sendable (Result<Void, SendError>) -> Void)?, to handle: ObjectHandle
) throws(SendError) {
    let result = handle.reactor.runSoonest(on: handle.id) { holder in
        if let connection = connection(heldBy: holder) {
            connection._withUnsafeGuaranteedRef {
                queueAddressed(message, flags: flags, responseTo: responseTo, complete: completion, on: $0)
            }
        } else {
            holder.handle(AddressedMessageEvent(message, flags: flags, responseTo: responseTo, complete: completion))
        }
    }
    guard let result else {
        return try deliverEvent(
            AddressedMessageEvent(message, flags: flags, responseTo: responseTo, complete: completion), to: handle,
            soonest: true)
    }
    try throwIfUndelivered(result)
}

/// The connection an object registered for it sends on (a server peer or a pool link; both hand a
/// ``PeerSendEvent`` straight to it), unretained: connections have weak references, so every retain and
/// release of one takes the runtime's slow path (measured: ~125 instructions a response). Valid while
/// `holder` is: it holds the connection strongly, and the reactor holds `holder` during the call.
@usableFromInline
func connection(heldBy holder: any ReactorObject) -> Unmanaged<Connection>? {
    if let peer = holder as? ServerPeer { return peer.connectionReference }
    if let link = holder as? PoolLink { return link.connectionReference }
    return nil
}

/// A request for one connection: its response comes back to the item's callback.
final class DirectRequestEvent: ReactorEvent, @unchecked Sendable {
    // @unchecked: handed whole to the connection's reactor thread (see ReactorEvent).
    let item: PoolItem

    init(item: PoolItem) { self.item = item }

    override func undeliverable(_ reason: PostFailure) {
        item.fail(reason == .reactorStopped ? .serviceStopped : .peerGone)
    }
}
