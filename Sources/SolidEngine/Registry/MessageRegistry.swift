import Synchronization
/// The wire identity of a message type: a protocol number and the type's index in that protocol.
public struct MessageTypeID: Hashable, Sendable, CustomStringConvertible {
    /// The protocol (group of message types) the type belongs to.
    public let protocolID: UInt16
    /// The type's index within its protocol.
    public let typeIndex: UInt16

    /// Creates an id.
    public init(protocolID: UInt16, typeIndex: UInt16) {
        self.protocolID = protocolID
        self.typeIndex = typeIndex
    }

    /// `protocol.type`.
    public var description: String { "\(protocolID).\(typeIndex)" }
}

/// Decodes the body of one registered message type. A class, so the reader holds and copies it as one
/// reference (an existential of a struct is copied through the runtime's value witnesses).
public protocol MessageDecoding: AnyObject, Sendable {
    /// Decodes a body written with layout `version`, moving `adopting`'s arrays into its out-of-line byte
    /// fields; returns the message and what follows its body.
    func decode(_ body: UnsafeRawBufferPointer, version: UInt8, limits: DecodingLimits, adopting: inout [[UInt8]])
        throws(WireError) -> (any WireMessage, BodyLayout)
}

/// The decoder of message type `M`.
final class TypedDecoder<M: WireMessage>: MessageDecoding {
    func decode(_ body: UnsafeRawBufferPointer, version: UInt8, limits: DecodingLimits, adopting: inout [[UInt8]])
        throws(WireError) -> (any WireMessage, BodyLayout)
    {
        try M.decodeBody(body, version: version, limits: limits, adopting: &adopting)
    }
}

/// Which message types this side knows, grouped in protocols: the wire type id is
/// `protocol id + type index`. A side may know only some of the other side's protocols; a message of
/// an unknown type is rejected on its own with ``WireError/unknownMessageType(protocol:type:)``.
///
/// Register everything before the registry is shared; afterwards it is read-only (and `Sendable`): a
/// service freezes its registry when it starts, and later registrations fail with
/// ``WireError/registryFrozen``.
public final class MessageRegistry: @unchecked Sendable {
    // @unchecked: mutated only during setup by one thread (documented), then frozen; read-only once shared.
    @exclusivity(unchecked) private var decoders: [MessageTypeID: any MessageDecoding] = [:]
    @exclusivity(unchecked) private var ids: [ObjectIdentifier: MessageTypeID] = [:]
    @exclusivity(unchecked) private var names: [MessageTypeID: String] = [:]
    /// The same as `ids` while there are few types: a linear scan of pointers beats hashing there.
    @exclusivity(unchecked) private var fewIDs: [(ObjectIdentifier, MessageTypeID)] = []
    private static let fewLimit = 16
    /// Set by ``freeze()``; atomic so a registration racing a service's start is refused, not torn.
    private let frozen = Atomic<Bool>(false)

    /// Creates an empty registry.
    public init() {}

    /// Registers `type` as `typeIndex` of protocol `protocolID`.
    /// - Throws: ``WireError/duplicateRegistration(_:)`` when the id or the type is taken.
    public func register<M: WireMessage>(_ type: M.Type, protocol protocolID: UInt16, index typeIndex: UInt16)
        throws(WireError)
    {
        guard !frozen.load(ordering: .acquiring) else { throw .registryFrozen }
        let id = MessageTypeID(protocolID: protocolID, typeIndex: typeIndex)
        guard decoders[id] == nil else { throw .duplicateRegistration("type id \(id) is taken") }
        guard ids[ObjectIdentifier(type)] == nil else { throw .duplicateRegistration("\(type) is registered") }
        ids[ObjectIdentifier(type)] = id
        fewIDs = ids.count <= Self.fewLimit ? ids.map { ($0.key, $0.value) } : []
        decoders[id] = TypedDecoder<M>()
        names[id] = String(describing: type)
    }

    /// Registers a protocol's types in order: the first gets index 0, the next 1, …
    public func register(protocol protocolID: UInt16, _ types: [any WireMessage.Type]) throws(WireError) {
        for (index, type) in types.enumerated() {
            try registerOpened(type, protocolID, UInt16(index))
        }
    }

    private func registerOpened<M: WireMessage>(_ type: M.Type, _ protocolID: UInt16, _ index: UInt16) throws(WireError) {
        try register(type, protocol: protocolID, index: index)
    }

    /// The wire id of `type`, or `nil` when not registered.
    public func typeID<M: WireMessage>(of type: M.Type) -> MessageTypeID? {
        let wanted = ObjectIdentifier(type)
        if !fewIDs.isEmpty {
            for (identifier, id) in fewIDs where identifier == wanted { return id }
            return nil
        }
        return ids[wanted]
    }

    /// The decoder for `id`, or `nil` when not registered.
    public func decoder(for id: MessageTypeID) -> (any MessageDecoding)? { decoders[id] }

    /// The Swift name of the type registered as `id` (`String(describing:)`, made once at registration),
    /// or `nil`. For logs and metrics: reading it allocates nothing.
    public func name(of id: MessageTypeID) -> String? { names[id] }

    /// Number of registered types.
    public var count: Int { decoders.count }

    /// Refuses further registrations (``WireError/registryFrozen``). Services call it when they start.
    public func freeze() { frozen.store(true, ordering: .releasing) }

    /// `true` after ``freeze()``.
    public var isFrozen: Bool { frozen.load(ordering: .acquiring) }
}
