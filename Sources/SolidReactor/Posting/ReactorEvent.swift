import Synchronization

/// A unit of work posted to a reactor from any thread.
///
/// Subclass it to carry a payload (for example "a new message for this pool"). The reactor delivers
/// the event on its own thread to the target object named at posting time, through
/// ``ReactorObject/handle(_:)``. An event is linked into the reactor's queue intrusively: posting
/// allocates nothing beyond the event object itself.
///
/// An event may be posted again once it has been delivered, never while it is queued.
open class ReactorEvent: @unchecked Sendable {
    // @unchecked: the producer hands the whole event to one reactor thread through the queue's
    // release/acquire link; no two threads touch its fields at the same time.

    /// Intrusive link of the multi-producer single-consumer queue.
    let queueLink = Atomic<UnsafeMutableRawPointer?>(nil)
    /// The object this event goes to; `nil` for work addressed to the reactor itself.
    var target: ObjectID?

    /// Creates an event.
    public init() {}

    /// Runs an event that was posted to the reactor itself (with ``Reactor/post(_:)``).
    ///
    /// The default implementation traps: override it in subclasses that are posted untargeted.
    open func run(on reactor: Reactor) {
        preconditionFailure("\(type(of: self)) was posted without a target but does not override run(on:)")
    }

    /// Called on the reactor thread, exactly once, when the event was queued but can no longer be
    /// delivered: its target object was unregistered first, or the reactor stopped.
    ///
    /// Override it to complete whatever the payload promised (for example fail a message) so nothing
    /// is lost silently. The default does nothing.
    open func undeliverable(_ reason: PostFailure) {}
}

/// The outcome of posting an event.
public enum PostResult: Sendable, Equatable {
    /// The event is queued; it will be delivered or, if its target goes away first, reported through
    /// ``ReactorEvent/undeliverable(_:)``.
    case posted
    /// Not queued: the target object is gone. The caller still owns the payload.
    case targetGone
    /// Not queued: the reactor stopped. The caller still owns the payload.
    case reactorStopped

    /// `true` for ``posted``.
    public var isPosted: Bool { self == .posted }
}

/// Why a queued event could not be delivered.
public enum PostFailure: Error, Sendable, Equatable {
    /// The target object is gone (closed or never existed on this reactor).
    case targetGone
    /// The reactor stopped or is stopping.
    case reactorStopped
}

/// An untargeted event that runs a closure on the reactor thread.
final class ClosureEvent: ReactorEvent, @unchecked Sendable {
    // @unchecked: see ReactorEvent; the closure itself is @Sendable.
    private let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
    }

    override func run(on reactor: Reactor) { body() }
}
