import SolidEngine

/// A service's pools by destination, with the entry found or added last kept aside: a service that
/// sends to one destination finds it by comparing, without hashing (measured: the dictionary lookup,
/// its hashing mostly, was about 1.5 % of an echo round trip). Guarded by the service's state lock.
struct PoolMap {
    private var entries: [Destination: PoolEntry] = [:]
    private var recent: PoolEntry?

    var count: Int { entries.count }
    var values: Dictionary<Destination, PoolEntry>.Values { entries.values }

    subscript(destination: Destination) -> PoolEntry? {
        mutating get {
            if let recent, recent.destination == destination { return recent }
            let found = entries[destination]
            if found != nil { recent = found }
            return found
        }
        set {
            if recent?.destination == destination { recent = nil }
            entries[destination] = newValue
        }
    }

    mutating func removeAll() {
        entries.removeAll()
        recent = nil
    }
}

/// The handlers of a service by message type, searched in a small array: a service has a few handled
/// types, and comparing two 16-bit numbers each is cheaper than hashing (measured: the dictionary lookup
/// was about 1.5 % of an echo round trip). Immutable.
struct HandlerTable: Sendable {
    // A struct per entry: a closure stored bare in an array is kept in its most general form, and
    // reading it back would allocate a thunk.
    private struct Entry: Sendable {
        let typeID: MessageTypeID
        let handler: MessageHandler
    }

    /// Up to ``scanLimit`` handlers; empty when there are more.
    private let entries: [Entry]
    /// More handlers than a scan suits: hashed.
    private let map: [MessageTypeID: MessageHandler]
    static let scanLimit = 16

    init(_ handlers: [MessageTypeID: MessageHandler]) {
        if handlers.count <= Self.scanLimit {
            entries = handlers.map { Entry(typeID: $0.key, handler: $0.value) }
            map = [:]
        } else {
            entries = []
            map = handlers
        }
    }

    subscript(typeID: MessageTypeID) -> MessageHandler? {
        for entry in entries where entry.typeID == typeID { return entry.handler }
        return map.isEmpty ? nil : map[typeID]
    }
}
