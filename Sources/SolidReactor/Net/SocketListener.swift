import Glibc
import Logging

/// A non-blocking listening stream socket on one reactor: TCP, or a Unix-domain socket.
///
/// A Unix-domain listener at a path removes a stale socket file left by a process that died (nobody
/// accepts on it) before binding, fails with `EADDRINUSE` when someone does listen there or the path is
/// another kind of file, and removes its file when it closes.
///
/// Accepts with `accept4` until `EAGAIN` each time the socket is readable (level-triggered), at most
/// ``acceptBatch`` connections per turn so one busy listener cannot starve the reactor. When the process
/// or system runs out of descriptors (`EMFILE`/`ENFILE`) it stops watching the socket and tries again
/// after ``descriptorExhaustionBackoff``, so it never spins; pending connections wait in the backlog.
public final class SocketListener: ReactorObject {
    /// Called on the reactor thread for each accepted connection.
    public typealias AcceptHandler = (AcceptedSocket) -> Void

    /// The reactor the listener lives on.
    public let reactor: Reactor
    /// The bound address; with port 0 requested, the port the kernel chose.
    public let localAddress: SocketAddress
    /// Connections accepted per readiness report before yielding to other work.
    public var acceptBatch = 64
    /// How long to wait before accepting again after `EMFILE`/`ENFILE`.
    public var descriptorExhaustionBackoff: Duration = .milliseconds(100)
    /// How many times accepting paused because descriptors ran out.
    public private(set) var exhaustionPauses = 0
    /// How many connections were accepted.
    public private(set) var acceptedCount = 0

    private var fd: Int32
    /// The socket file this listener created (removed on close).
    private let unixPath: String?
    private var id: ObjectID?
    private var watching = false
    private var retryTimer: TimerID?
    private let onAccept: AcceptHandler
    /// The accept call; tests replace it to simulate descriptor exhaustion.
    var acceptCall: (Int32) throws(SystemError) -> IOResult<(Int32, SocketAddress?)> = { fd throws(SystemError) in
        try Socket.accept(fd)
    }

    /// Binds and listens on `address` (port 0 picks a free port), on the calling reactor's thread.
    ///
    /// - Parameters:
    ///   - address: Where to listen. IPv6 listeners accept IPv6 only (`IPV6_V6ONLY`).
    ///   - backlog: The kernel's queue of not yet accepted connections.
    ///   - unixPermissions: For a Unix-domain path: the file's mode (e.g. `0o600` for this user only);
    ///     `nil` keeps what the process umask gives.
    ///   - reactor: The reactor to live on; call from its thread.
    ///   - onAccept: Receives each connection; adopt it with ``SocketStream/init(adopting:on:)`` here or on
    ///     another reactor.
    /// - Throws: ``SystemError`` from `socket`, `bind` (for example `EADDRINUSE`) or `listen`.
    public init(
        address: SocketAddress,
        backlog: Int32 = 1024,
        unixPermissions: mode_t? = nil,
        on reactor: Reactor,
        onAccept: @escaping AcceptHandler
    ) throws(SystemError) {
        reactor.preconditionInReactor()
        self.reactor = reactor
        self.onAccept = onAccept
        let fd = try Socket.makeStream(family: address.family)
        var unixPath: String?
        do {
            if case .unix(let unix) = address {
                try Socket.removeStaleUnixSocket(unix)
                try Socket.bind(fd, to: address)
                if !unix.isAbstract {
                    unixPath = unix.name
                    if let unixPermissions { try Socket.setMode(unix.name, unixPermissions) }
                }
            } else {
                try Socket.setReuseAddress(fd)
                if address.family == AF_INET6 { try Socket.setIPv6Only(fd) }
                try Socket.bind(fd, to: address)
            }
            try Socket.listen(fd, backlog: backlog)
        } catch {
            closeDescriptor(fd)
            if let unixPath { unlink(unixPath) }
            throw error
        }
        self.unixPath = unixPath
        self.fd = fd
        localAddress = Socket.localAddress(fd) ?? address
        let id = reactor.register(self)
        self.id = id
        do {
            try startWatching()
        } catch {
            reactor.unregister(id)
            closeDescriptor(fd)
            if let unixPath { unlink(unixPath) }
            throw error
        }
        reactor.logger.debug("listening", metadata: ["address": "\(localAddress)"])
    }

    /// `true` until ``close()``.
    public var isOpen: Bool { fd >= 0 }

    /// The listener's id on its reactor while open (post to it, or find it with ``Reactor/object(_:)``).
    public var objectID: ObjectID? { id }

    private func startWatching() throws(SystemError) {
        guard let id, !watching else { return }
        try reactor.watch(fd, for: id, interest: .readLevel)
        watching = true
    }

    /// Accepts what is pending (called on readiness).
    public func ioReady(_ events: IOEvents) {
        acceptPending()
    }

    private func acceptPending() {
        var accepted = 0
        while fd >= 0 && accepted < acceptBatch {
            do {
                switch try acceptCall(fd) {
                case .wouldBlock:
                    return
                case .done(let (connection, remote)):
                    accepted += 1
                    acceptedCount += 1
                    onAccept(AcceptedSocket(fd: connection, remoteAddress: remote))
                }
            } catch where error.isDescriptorExhaustion {
                pauseForDescriptors(error)
                return
            } catch where error.errno == ECONNABORTED || error.errno == EPROTO {
                continue  // the peer gave up while queued; try the next one
            } catch {
                reactor.logger.warning("accept failed", metadata: ["error": "\(error)"])
                return
            }
        }
    }

    private func pauseForDescriptors(_ error: SystemError) {
        exhaustionPauses += 1
        reactor.logger.warning(
            "out of file descriptors; pausing accept", metadata: ["error": "\(error)", "address": "\(localAddress)"])
        if watching {
            reactor.unwatch(fd)
            watching = false
        }
        retryTimer = reactor.schedule(after: descriptorExhaustionBackoff) { [weak self] in
            guard let self, self.fd >= 0 else { return }
            self.retryTimer = nil
            do {
                try self.startWatching()
            } catch {
                self.reactor.logger.error("cannot watch listener again", metadata: ["error": "\(error)"])
            }
            self.acceptPending()
        }
    }

    /// Stops listening and releases the socket. Idempotent. Reactor thread.
    public func close() {
        reactor.preconditionInReactor()
        guard fd >= 0 else { return }
        if watching { reactor.unwatch(fd) }
        watching = false
        if let retryTimer { reactor.cancelTimer(retryTimer) }
        closeDescriptor(fd)
        fd = -1
        if let unixPath { unlink(unixPath) }
        if let id { reactor.unregister(id) }
        id = nil
    }

    /// Closes the listener when its reactor stops.
    public func reactorStopping() { close() }
}
