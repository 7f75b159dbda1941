import SolidEngine
import SolidReactor

/// A message on its way to a pool, type-erased so pools need no generics. Crosses from the sender's
/// thread to the pool's reactor inside a ``PoolSendEvent``. A class: queues, resends and the books of
/// messages in flight pass one reference around instead of copying three closures.
final class PoolItem: Sendable {
    /// The service-wide number of the message (its ``MessageID``).
    let serial: UInt64
    /// Fails at once, instead of waiting, when the pool cannot connect (``MessageFlags/oneShot``).
    let oneShot: Bool
    /// Sent again after a connection failure even when it had started, or was awaiting its response
    /// (``MessageFlags/idempotent``).
    let idempotent: Bool
    /// Fails with ``SendError/timeout(progress:)`` if still queued or awaiting its response after this long.
    let timeout: Duration?
    /// Queues the message on a connection (reactor thread); `requestID` is 0 for plain sends. Returns the
    /// connection writer's id for the message.
    let send: @Sendable (Connection, UInt64, @escaping (MessageWriter.Outcome) -> Void) throws(WireError) -> UInt64?
    /// For plain sends: called once with the outcome.
    let complete: (@Sendable (Result<Void, SendError>) -> Void)?
    /// For requests: called once with the response or the failure.
    let onResponse: (@Sendable (Result<any WireMessage, SendError>) -> Void)?
    /// Addressed to one connection (``Service/sendRequest(_:on:flags:expecting:onResponse:)``): never moved
    /// to another connection of the pool.
    let addressed: Bool
    /// Written after the pool's previous synchronous message, on the same connection
    /// (``MessageFlags/synchronous``).
    let synchronous: Bool

    init(
        serial: UInt64, flags: MessageFlags, timeout: Duration?, addressed: Bool = false,
        send: @escaping @Sendable (Connection, UInt64, @escaping (MessageWriter.Outcome) -> Void) throws(WireError)
            -> UInt64?,
        complete: (@Sendable (Result<Void, SendError>) -> Void)?,
        onResponse: (@Sendable (Result<any WireMessage, SendError>) -> Void)?
    ) {
        self.serial = serial
        oneShot = flags.contains(.oneShot)
        idempotent = flags.contains(.idempotent)
        synchronous = flags.contains(.synchronous)
        self.timeout = timeout
        self.addressed = addressed
        self.send = send
        self.complete = complete
        self.onResponse = onResponse
    }

    /// Completes the item with `error`, whichever kind it is.
    func fail(_ error: SendError) {
        complete?(.failure(error))
        onResponse?(.failure(error))
    }
}

/// Carries one message to its pool's reactor (the seed's "NewPoolMessage").
final class PoolSendEvent: ReactorEvent, @unchecked Sendable {
    // @unchecked: handed whole from the sender to the pool's reactor thread (see ReactorEvent).
    let entry: PoolEntry
    let item: PoolItem

    init(entry: PoolEntry, item: PoolItem) {
        self.entry = entry
        self.item = item
    }

    override func run(on reactor: Reactor) {
        entry.pool(on: reactor).enqueue(item)
    }

    override func undeliverable(_ reason: PostFailure) {
        entry.released()
        entry.finished(item.serial)
        item.fail(.serviceStopped)
    }
}

/// Asks a pool to cancel one of its messages.
final class CancelEvent: ReactorEvent, @unchecked Sendable {
    // @unchecked: immutable; handed to one reactor thread.
    let entry: PoolEntry
    let serial: UInt64

    init(entry: PoolEntry, serial: UInt64) {
        self.entry = entry
        self.serial = serial
    }

    override func run(on reactor: Reactor) {
        entry.existingPool?.cancel(serial)
    }
}
