/// Names one object registered on one reactor: a slot number plus the slot's generation.
///
/// When an object unregisters, its slot's generation advances, so an old `ObjectID` can never reach
/// whatever object reuses the slot later: events and readiness reports for it are dropped instead.
public struct ObjectID: Hashable, Sendable, CustomStringConvertible {
    /// Index of the slot in the reactor's object table.
    public let slot: UInt32
    /// Generation of the slot when the object registered: 64 bits, so a slot reused at any rate never
    /// comes back to an old generation (32 bits wrapped after 2³¹ reuses of one slot, reviving stale
    /// handles).
    public let generation: UInt64

    /// Creates an identifier from its parts.
    public init(slot: UInt32, generation: UInt64) {
        self.slot = slot
        self.generation = generation
    }

    /// Packs the slot and the low 32 bits of the generation into the 64-bit user data of an epoll
    /// registration (``ObjectTable/lookup(packed:)`` checks those; a registration lives no longer than its
    /// object, so the low bits only have to tell apart the objects of one `epoll_wait` batch).
    var packed: UInt64 { UInt64(slot) << 32 | (generation & 0xFFFF_FFFF) }

    /// `slot.generation`, for logs.
    public var description: String { "\(slot).\(generation)" }
}

/// A reference to a reactor-pinned object that any thread may hold and post events to.
public struct ObjectHandle: Sendable, Hashable, CustomStringConvertible {
    /// The reactor the object lives on.
    public let reactor: Reactor
    /// The object's identifier on that reactor.
    public let id: ObjectID

    /// Creates a handle for `id` on `reactor`.
    public init(reactor: Reactor, id: ObjectID) {
        self.reactor = reactor
        self.id = id
    }

    /// Posts `event` to the object; see ``Reactor/post(_:to:)``.
    @discardableResult
    public func post(_ event: ReactorEvent) -> PostResult {
        reactor.post(event, to: id)
    }

    /// `true` while the object is still registered. Another thread's answer may be stale at once.
    public var isAlive: Bool { reactor.isRegistered(id) }

    public static func == (lhs: ObjectHandle, rhs: ObjectHandle) -> Bool {
        lhs.reactor === rhs.reactor && lhs.id == rhs.id
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(ObjectIdentifier(reactor))
        hasher.combine(id)
    }

    /// `reactor#N/slot.generation`, for logs.
    public var description: String { "reactor#\(reactor.index)/\(id)" }
}
