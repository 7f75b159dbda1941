import SolidEngine
import SolidReactor

/// A message on its way to a pool, type-erased so pools need no generics: ``MessageItem`` and
/// ``RequestItem`` carry the typed message and callback. It is itself the event that carries it to the
/// pool's reactor (the seed's "NewPoolMessage"), and then the one reference that queues, resends and the
/// books of messages in flight pass around: one allocation per message on the sending side, none for a
/// request whose pool had a finished request item of the same types to reuse (``reuseIfUnique(_:in:)``).
@usableFromInline
class PoolItem: ReactorEvent, MessageOutcomeObserver, @unchecked Sendable {
    // @unchecked: its settings are set before it is posted (again when a request item is reused, by the
    // one thread that took it) and only read afterwards; the in-flight record is used on the pool's
    // reactor only.
    /// The service-wide number of the message (its ``MessageID``).
    @exclusivity(unchecked) private(set) var serial: UInt64
    /// Fails at once, instead of waiting, when the pool cannot connect (``SendOptions/oneShot``).
    @exclusivity(unchecked) private(set) var oneShot: Bool
    /// Sent again after a connection failure even when it had started, or was awaiting its response
    /// (``SendOptions/idempotent``).
    @exclusivity(unchecked) private(set) var idempotent: Bool
    /// Written after the pool's previous synchronous message, on the same connection
    /// (``SendOptions/synchronous``).
    @exclusivity(unchecked) private(set) var synchronous: Bool
    /// Fails with ``SendError/timeout(progress:)`` if still queued or awaiting its response after this long.
    @exclusivity(unchecked) private(set) var timeout: Duration?
    /// Addressed to one connection (``IPCService/request(_:on:options:expecting:onResponse:)``): never moved
    /// to another connection of the pool.
    @exclusivity(unchecked) private(set) var addressed: Bool
    /// The pool it is posted to (not set for one addressed to a connection).
    var entry: PoolEntry?
    /// Holds one place of the entry's queue capacity (taken when sent, given back once: when written,
    /// failed or cancelled). A message resent after its connection dropped holds none.
    @exclusivity(unchecked) var holdsReservation = false

    // The in-flight record, while a connection has the message (reset when it is sent again elsewhere).
    /// The pool that handed it to a connection; it outlives the message's outcome (stopping a pool closes
    /// its connections first, and a closing connection reports every message it holds).
    var pool: Pool? {
        get { poolReference?.takeUnretainedValue() }
        set { poolReference = newValue.map { Unmanaged.passUnretained($0) } }
    }
    /// ``pool``, unretained: its outcome is reported without retaining the pool (whose weak references
    /// make every retain of it take the runtime's slow path). Safe while the pool outlives the call: a
    /// pool that stops stays alive until the end of the reactor turn (`Pool.stop(with:)`).
    @exclusivity(unchecked) private var poolReference: Unmanaged<Pool>?
    /// The connection it was handed to.
    @exclusivity(unchecked) var link: PoolLink?
    /// Its request id on that connection (0 for a plain message).
    @exclusivity(unchecked) var requestID: UInt64 = 0
    /// The connection writer's id for it.
    @exclusivity(unchecked) var writerID: UInt64?
    /// Written completely (a request now awaits its response).
    @exclusivity(unchecked) var written = false
    /// Its timeout passed while it was being written: it fails with a timeout when the write ends.
    @exclusivity(unchecked) var timedOut = false
    /// Links of the pool's ``InFlightList`` (set while `listed`).
    @exclusivity(unchecked) var listed = false
    @exclusivity(unchecked) var listNext: PoolItem?
    @exclusivity(unchecked) unowned(unsafe) var listPrevious: PoolItem?
    /// Where the outcome goes when no pool sent it (a request on an accepted connection).
    @exclusivity(unchecked) var onEnded: ((MessageWriter.Outcome) -> Void)?
    /// Set when the service is instrumented: reports the outcome.
    var record: SendRecord?

    @usableFromInline
    init(serial: UInt64, flags: MessageFlags, timeout: Duration?, addressed: Bool) {
        self.serial = serial
        oneShot = flags.contains(.oneShot)
        idempotent = flags.contains(.idempotent)
        synchronous = flags.contains(.synchronous)
        self.timeout = timeout
        self.addressed = addressed
    }

    /// Gives a finished item the settings of a new message (see ``reuseIfUnique(_:in:)``); the books were
    /// reset when it was put aside.
    @usableFromInline
    final func reset(serial: UInt64, flags: MessageFlags, timeout: Duration?) {
        self.serial = serial
        oneShot = flags.contains(.oneShot)
        idempotent = flags.contains(.idempotent)
        synchronous = flags.contains(.synchronous)
        self.timeout = timeout
        addressed = false
    }

    /// Puts a completed item aside in `entry` for the next request of the same types to reuse, when
    /// `item` is the only reference left (nothing else can see it change): saves the request's allocation
    /// and its freeing. Any thread (the pool's reactor for a callback request, the awaiting task for an
    /// awaited one). Only request items of the pool's own requests take part (``prepareForReuse()``).
    @usableFromInline
    static func reuseIfUnique<Item: PoolItem>(_ item: inout Item, in entry: PoolEntry) {
        guard isKnownUniquelyReferenced(&item), item.prepareForReuse() else { return }
        entry.putAside(item)
    }

    /// Drops what the finished item refers to (its message, callback and books) so it can wait for reuse;
    /// `false` for kinds that are not reused.
    func prepareForReuse() -> Bool { false }

    /// Empties the books of a finished item (see ``prepareForReuse()``).
    final func clearBooks() {
        entry = nil
        holdsReservation = false
        poolReference = nil
        link = nil
        requestID = 0
        writerID = nil
        written = false
        timedOut = false
        listed = false
        listNext = nil
        listPrevious = nil
        onEnded = nil
        record = nil
    }

    /// `true` for a request (it completes with ``answer(_:)``), `false` for a plain message.
    var isRequest: Bool { false }

    /// Queues the message on `connection` (reactor thread); `requestID` is 0 for plain messages. The
    /// outcome comes back to ``messageEnded(_:)``. Returns the connection writer's id for the message.
    func send(on connection: Connection, requestID: UInt64) throws(WireError) -> UInt64? {
        preconditionFailure("subclass responsibility")
    }

    /// The connection's writer is done with the message.
    @usableFromInline
    final func messageEnded(_ outcome: MessageWriter.Outcome) {
        if let poolReference {
            poolReference._withUnsafeGuaranteedRef { $0.written(self, outcome) }
        } else {
            onEnded?(outcome)
        }
    }

    /// A plain message completed.
    func complete(_ result: Result<Void, SendError>) {}

    /// A request's response (or one part of it) arrived, or the request failed.
    func answer(_ result: Result<any WireMessage, SendError>) {}

    /// A response (or one part of it) arrived. Lent, not copied: a request item unwraps it straight into
    /// its response type (building a `Result` of the existential and binding it out again copied it
    /// twice through its value witnesses).
    func answer(message: any WireMessage) { answer(.success(message)) }

    /// Completes the item with `error`, whichever kind it is.
    final func fail(_ error: SendError) {
        if isRequest { answer(.failure(error)) } else { complete(.failure(error)) }
    }

    override func run(on reactor: Reactor) {
        guard let entry else { return }
        if !entry.enqueue(self, on: reactor) {
            // The pool was closed, stopped or freed after this was posted.
            givePlaceBack()
            entry.finished(serial)
            fail(entry.stopError ?? .serviceStopped)
        }
    }

    /// Returns the queue place this item holds, if any.
    final func givePlaceBack() {
        guard holdsReservation else { return }
        holdsReservation = false
        entry?.released()
    }

    override func undeliverable(_ reason: PostFailure) {
        givePlaceBack()
        entry?.finished(serial)
        fail(reason == .reactorStopped || entry != nil ? .serviceStopped : .peerGone)
    }
}

/// A plain message of type `M` and its completion.
@usableFromInline
final class MessageItem<M: WireMessage & Sendable>: PoolItem, @unchecked Sendable {
    // @unchecked: immutable; see PoolItem.
    let message: M
    let flags: MessageFlags
    let completion: (@Sendable (Result<Void, SendError>) -> Void)?

    @usableFromInline
    init(
        _ message: M, serial: UInt64, flags: MessageFlags, timeout: Duration?,
        completion: (@Sendable (Result<Void, SendError>) -> Void)?
    ) {
        self.message = message
        self.flags = flags.subtracting(.request)
        self.completion = completion
        super.init(serial: serial, flags: flags, timeout: timeout, addressed: false)
    }

    override func send(on connection: Connection, requestID: UInt64) throws(WireError) -> UInt64? {
        try connection.send(message, flags: flags, observer: self, limited: false)
    }

    override func complete(_ result: Result<Void, SendError>) {
        if let record { record.report(isRequest: false, error: result.failure) }
        completion?(result)
    }
}

/// A request of type `Request` whose response is expected as `Response`.
@usableFromInline
final class RequestItem<Request: WireMessage & Sendable, Response: WireMessage>: PoolItem, @unchecked Sendable {
    // @unchecked: set before it is posted (again when reused, by the one thread that took it); see PoolItem.
    /// An empty `Request()` while the item waits for reuse (an optional here cost a run-time metadata
    /// lookup per access in this class's generic code).
    @usableFromInline @exclusivity(unchecked) var request: Request
    @usableFromInline @exclusivity(unchecked) var flags: MessageFlags
    @usableFromInline @exclusivity(unchecked) var onResponse: @Sendable (Result<Response, SendError>) -> Void
    /// What ``onResponse`` is while the item waits for reuse (the caller's closure let go): made in the
    /// initialiser, where the types are concrete, so it captures nothing (made in this class's generic
    /// code, or read back from an optional, it was allocated per request).
    @usableFromInline let idle: @Sendable (Result<Response, SendError>) -> Void
    /// Hands a response (or a failure) to `onResponse`. Made in the (inlined) initialiser, where the types
    /// are concrete, so building the `Result` needs no run-time metadata lookup (measured: ~370
    /// instructions per response from this class's generic code); it captures nothing.
    @usableFromInline let deliver:
        @Sendable (@Sendable (Result<Response, SendError>) -> Void, Result<any WireMessage, SendError>) -> Void
    /// ``deliver`` for a response that arrived (the common case), without a `Result` around it.
    @usableFromInline let deliverMessage: @Sendable (@Sendable (Result<Response, SendError>) -> Void, any WireMessage) -> Void

    @inlinable
    init(
        _ request: Request, serial: UInt64, flags: MessageFlags, timeout: Duration?, addressed: Bool,
        onResponse: @escaping @Sendable (Result<Response, SendError>) -> Void
    ) {
        self.request = request
        self.flags = flags.union(.request)
        self.onResponse = onResponse
        deliver = { onResponse, result in
            switch result {
            case .success(let message): onResponse(typedResponse(message))
            case .failure(let error): onResponse(.failure(error))
            }
        }
        deliverMessage = { onResponse, message in onResponse(typedResponse(message)) }
        idle = { _ in }
        // Addressed to one connection: never resent elsewhere, so the pool's flags do not apply.
        super.init(serial: serial, flags: addressed ? [] : flags, timeout: timeout, addressed: addressed)
    }

    /// Makes an item that waited for reuse carry a new request (the caller took it from its pool entry).
    @inlinable
    func reuse(
        _ request: Request, serial: UInt64, flags: MessageFlags, timeout: Duration?,
        onResponse: @escaping @Sendable (Result<Response, SendError>) -> Void
    ) {
        self.request = request
        self.flags = flags.union(.request)
        self.onResponse = onResponse
        reset(serial: serial, flags: flags, timeout: timeout)
    }

    override var isRequest: Bool { true }

    override func prepareForReuse() -> Bool {
        // Addressed requests are not reused: they come from handlers, one connection, any pool.
        guard !addressed else { return false }
        request = Request()
        onResponse = idle
        clearBooks()
        return true
    }

    override func send(on connection: Connection, requestID: UInt64) throws(WireError) -> UInt64? {
        // A request addressed to a connection (from a handler, say) counts against its limits; a pool's own does not.
        try connection.send(request, flags: flags, requestID: requestID, observer: self, limited: addressed)
    }

    override func answer(_ result: Result<any WireMessage, SendError>) {
        if let record { record.report(isRequest: true, error: result.failure) }
        deliver(onResponse, result)
    }

    override func answer(message: any WireMessage) {
        if let record { record.report(isRequest: true, error: nil) }
        deliverMessage(onResponse, message)
    }
}

/// A response as the type its request expects, or ``SendError/unexpectedResponse(_:)``. Called from the
/// closures request items make in their inlined initialisers, where `Response` is concrete.
@inlinable
func typedResponse<Response: WireMessage>(_ message: any WireMessage) -> Result<Response, SendError> {
    Response.isExactType(of: message)
        ? .success(Response.unwrapExact(message)) : .failure(.unexpectedResponse("\(type(of: message))"))
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
