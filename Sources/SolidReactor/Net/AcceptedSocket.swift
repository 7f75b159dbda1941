import Synchronization

/// A freshly accepted connection that is not on any reactor yet.
///
/// It is `Sendable`, so a listener may hand it to another reactor (post it, or capture it in
/// ``Reactor/execute(_:)``) where ``SocketStream/init(adopting:on:)`` takes it over. If nobody adopts it,
/// the descriptor is closed when the last reference goes away: an accepted socket is never leaked.
public final class AcceptedSocket: Sendable {
    private let descriptor: Atomic<Int32>
    /// The peer's address as reported by `accept4`.
    public let remoteAddress: SocketAddress?

    init(fd: Int32, remoteAddress: SocketAddress?) {
        descriptor = Atomic(fd)
        self.remoteAddress = remoteAddress
    }

    deinit {
        let fd = descriptor.exchange(-1, ordering: .relaxed)
        if fd >= 0 { closeDescriptor(fd) }
    }

    /// Refuses the connection: closes it with a reset (the peer learns at once, nothing lingers here).
    public func refuse() {
        guard let fd = take() else { return }
        try? Socket.setLingerZero(fd)
        closeDescriptor(fd)
    }

    /// Takes ownership of the descriptor; `nil` when it was taken already.
    func take() -> Int32? {
        let fd = descriptor.exchange(-1, ordering: .acquiringAndReleasing)
        return fd >= 0 ? fd : nil
    }
}
