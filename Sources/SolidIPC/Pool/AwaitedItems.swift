import SolidEngine
import SolidReactor
import Synchronization

// The items of the async `send` and `request`: the item itself resumes the awaiting task and carries its
// cancellation, so an awaited request costs one allocation more than a callback request's item (the
// continuation's) and no call object or completion closure. The continuation is unsafe: a checked one cost
// ~30 % of the async W1 rate. ThreadSanitizer reports a race between `withUnsafeContinuation` and `resume`
// when a response resumes the task before it has suspended — a known false positive of the runtime's
// uninstrumented hand-off (swiftlang/swift#57803), suppressed for CI in `.ci/tsan-suppressions.txt`.

/// The cancellation handshake between an awaiting task and its posted item: whichever of "posted" and
/// "cancelled" comes second posts the cancel, so it is sent once, and never before the pool has the item.
@usableFromInline
struct AwaitedCancellation: ~Copyable, Sendable {
    private let state = Atomic<UInt8>(0)
    private static let posted: UInt8 = 1
    private static let cancelled: UInt8 = 2

    @usableFromInline init() {}

    /// The item was handed to its pool; `true` when a cancel came first (the caller posts it now).
    @usableFromInline
    func markPosted() -> Bool {
        state.bitwiseOr(Self.posted, ordering: .acquiringAndReleasing).oldValue & Self.cancelled != 0
    }

    /// The task was cancelled; `true` when the item is with its pool already (the caller posts the cancel).
    @usableFromInline
    func markCancelled() -> Bool {
        state.bitwiseOr(Self.cancelled, ordering: .acquiringAndReleasing).oldValue & Self.posted != 0
    }

    /// Neither posted nor cancelled again (the item is reused for another request).
    func reset() { state.store(0, ordering: .relaxed) }
}

extension PoolItem {
    /// Asks the item's pool to cancel it (the awaiting task was cancelled). Any thread.
    @usableFromInline
    final func postCancel() {
        guard let entry else { return }
        _ = entry.reactor.post(CancelEvent(entry: entry, serial: serial))
    }
}

/// What the two awaited items share: the task's continuation, resumed once, and the cancel handshake.
@usableFromInline
class AwaitedItem<Value: Sendable>: PoolItem, @unchecked Sendable {
    // @unchecked: `continuation` is set before the item is posted and taken once under `resumed`;
    // `cancellation` is atomic; the rest as in PoolItem.
    @exclusivity(unchecked) @usableFromInline var continuation: UnsafeContinuation<Result<Value, SendError>, Never>?
    @usableFromInline let cancellation = AwaitedCancellation()
    private let resumed = Atomic<Bool>(false)
    /// Stored (releasing) just before the task is resumed, loaded (acquiring) before the task reuses the
    /// item: the runtime's hand-off already orders the resuming thread's accesses before the task's, but
    /// ThreadSanitizer does not see it; this pair it does.
    private let handedOver = Atomic<Bool>(false)

    @usableFromInline
    override init(serial: UInt64, flags: MessageFlags, timeout: Duration?, addressed: Bool) {
        super.init(serial: serial, flags: flags, timeout: timeout, addressed: addressed)
    }

    /// Ready to await another outcome (the item is reused; see ``PoolItem/reuseIfUnique(_:in:)``).
    final func resetAwaiting() {
        _ = handedOver.load(ordering: .acquiring)  // after everything the resuming thread did (see there)
        handedOver.store(false, ordering: .relaxed)
        continuation = nil
        cancellation.reset()
        resumed.store(false, ordering: .relaxed)
    }

    /// Resumes the awaiting task with `result`; later calls (more response parts) do nothing.
    @usableFromInline
    final func resume(_ result: Result<Value, SendError>) {
        guard !resumed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if let record { record.report(isRequest: isRequest, error: result.failure) }
        let continuation = self.continuation
        self.continuation = nil
        handedOver.store(true, ordering: .releasing)
        continuation?.resume(returning: result)
    }
}

/// An awaited request: resumes its task with the first response (or the failure).
@usableFromInline
final class AwaitedRequestItem<Request: WireMessage & Sendable, Response: WireMessage & Sendable>:
    AwaitedItem<Response>, @unchecked Sendable
{
    // @unchecked: set before it is posted (again when reused, by the one task that took it); see AwaitedItem.
    /// An empty `Request()` while the item waits for reuse.
    @usableFromInline @exclusivity(unchecked) var request: Request
    @usableFromInline @exclusivity(unchecked) var flags: MessageFlags
    /// Turns the type-erased outcome into the typed result; made in the inlined initialiser where the
    /// types are concrete (see ``RequestItem``), it captures nothing.
    @usableFromInline let typed: @Sendable (Result<any WireMessage, SendError>) -> Result<Response, SendError>
    /// ``typed`` for a response that arrived, lent without a `Result` around it (see
    /// ``PoolItem/answer(message:)``).
    @usableFromInline let typedMessage: @Sendable (any WireMessage) -> Result<Response, SendError>

    @inlinable
    init(_ request: Request, serial: UInt64, flags: MessageFlags, timeout: Duration?) {
        self.request = request
        self.flags = flags.union(.request)
        typed = { result in
            switch result {
            case .success(let message): typedResponse(message)
            case .failure(let error): .failure(error)
            }
        }
        typedMessage = { message in typedResponse(message) }
        super.init(serial: serial, flags: flags, timeout: timeout, addressed: false)
    }

    /// Makes an item that waited for reuse carry a new request (the caller took it from its pool entry).
    @inlinable
    func reuse(_ request: Request, serial: UInt64, flags: MessageFlags, timeout: Duration?) {
        self.request = request
        self.flags = flags.union(.request)
        reset(serial: serial, flags: flags, timeout: timeout)
    }

    override var isRequest: Bool { true }

    override func prepareForReuse() -> Bool {
        resetAwaiting()  // first: it orders what follows after the resuming thread's accesses
        request = Request()
        clearBooks()
        return true
    }

    override func send(on connection: Connection, requestID: UInt64) throws(WireError) -> UInt64? {
        try connection.send(request, flags: flags, requestID: requestID, observer: self, limited: false)
    }

    override func answer(_ result: Result<any WireMessage, SendError>) { resume(typed(result)) }

    override func answer(message: any WireMessage) { resume(typedMessage(message)) }
}

/// An awaited plain message: resumes its task once it is written (or failed).
@usableFromInline
final class AwaitedMessageItem<M: WireMessage & Sendable>: AwaitedItem<Void>, @unchecked Sendable {
    // @unchecked: immutable; see AwaitedItem.
    @usableFromInline let message: M
    @usableFromInline let flags: MessageFlags

    @inlinable
    init(_ message: M, serial: UInt64, flags: MessageFlags, timeout: Duration?) {
        self.message = message
        self.flags = flags.subtracting(.request)
        super.init(serial: serial, flags: flags, timeout: timeout, addressed: false)
    }

    override func send(on connection: Connection, requestID: UInt64) throws(WireError) -> UInt64? {
        try connection.send(message, flags: flags, observer: self, limited: false)
    }

    override func complete(_ result: Result<Void, SendError>) { resume(result) }
}
