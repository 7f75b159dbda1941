/// An object that lives on one reactor: a listener, a stream, later a connection or a pool.
///
/// Objects are plain classes pinned to their reactor's thread; they are not `Sendable`. Register one with
/// ``Reactor/register(_:)`` to give it an ``ObjectID``: other threads then reach it only by posting
/// ``ReactorEvent``s to that id, and the reactor reports readiness of the descriptors it watches for it.
/// The reactor keeps a registered object alive until it unregisters.
public protocol ReactorObject: AnyObject {
    /// Receives an event posted to this object. Runs on the reactor thread.
    func handle(_ event: ReactorEvent)
    /// Receives readiness of a descriptor registered for this object. Runs on the reactor thread.
    func ioReady(_ events: IOEvents)
    /// The reactor is stopping: release descriptors, complete pending work with an error and unregister.
    func reactorStopping()
}

extension ReactorObject {
    /// Objects that take no events refuse them as if gone, so the sender's payload is still completed.
    public func handle(_ event: ReactorEvent) { event.undeliverable(.targetGone) }
    /// Objects without descriptors ignore readiness.
    public func ioReady(_ events: IOEvents) {}
}
