import SolidEngine
import SolidReactor

/// One connection of a pool. Registered on the pool's reactor under its own id, so the handle in its
/// ``ConnectionInfo`` and in the ``MessageContext`` of what arrives on it names exactly this connection:
/// control requests, activation and messages addressed to it reach it alone.
///
/// Passive (not ``active``): it sends only messages addressed to it. Active: it also takes messages from
/// the pool's queue.
final class PoolLink: ReactorObject {
    let connection: Connection
    /// ``connection``, unretained: what `sendAddressed` sends on without an event (see
    /// `connection(heldBy:)`).
    let connectionReference: Unmanaged<Connection>
    private weak var pool: Pool?
    /// Takes messages from the pool's queue.
    @exclusivity(unchecked) var active: Bool
    /// The handshake completed.
    @exclusivity(unchecked) var handshaken = false
    /// Closing gracefully: takes no pool messages, closes once nothing it carries is left. Only ever set;
    /// the pool learns of it so its per-message checks need not look at every link.
    @exclusivity(unchecked) var draining = false {
        didSet { if draining && !oldValue { pool?.hasDrainingLink = true } }
    }
    /// Messages the connection takes at once (the agreed slot count).
    @exclusivity(unchecked) var capacity = 1
    /// Messages handed to it and not completed (requests until their response).
    @exclusivity(unchecked) var inFlight = 0
    /// Requests sent on it, by request id, until their response arrives.
    @exclusivity(unchecked) var awaiting = AwaitingTable()
    /// Its entry in the reactor's object table while registered.
    private var id: ObjectID?
    /// Names this connection to other threads.
    private(set) var handle: ObjectHandle

    init(connection: Connection, pool: Pool, active: Bool) {
        self.connection = connection
        connectionReference = .passUnretained(connection)
        self.pool = pool
        self.active = active
        let reactor = connection.reactor
        handle = ObjectHandle(reactor: reactor, id: ObjectID(slot: 0, generation: 0))  // replaced below
        let id = reactor.register(self)
        self.id = id
        handle = ObjectHandle(reactor: reactor, id: id)
    }

    /// Takes part in the pool's messages from now on, or only once the handshake completes.
    var takesPoolMessages: Bool { active && handshaken && !draining }

    /// Leaves the reactor's table: events posted to the handle afterwards fail with `peerGone`.
    func unregister() {
        if let id { _ = connection.reactor.unregister(id) }
        id = nil
    }

    func handle(_ event: ReactorEvent) {
        guard let pool else { return event.undeliverable(.targetGone) }
        pool.linkEvent(event, on: self)
    }

    func reactorStopping() { connection.close() }
}
