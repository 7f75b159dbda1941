import SolidEngine

/// Requests an accepted connection sent, waiting for their responses (request ids are per connection).
struct ResponseTable {
    typealias Waiter = @Sendable (Result<any WireMessage, SendError>) -> Void
    private var nextID: UInt64 = 1
    private var waiting: [UInt64: Waiter] = [:]

    /// Files `waiter` under a fresh request id.
    mutating func add(_ waiter: @escaping Waiter) -> UInt64 {
        let id = nextID
        nextID += 1
        waiting[id] = waiter
        return id
    }

    /// The waiter for a response part (it stays filed).
    func part(_ id: UInt64) -> Waiter? { waiting[id] }

    /// Removes and returns the waiter for request `id`.
    mutating func take(_ id: UInt64) -> Waiter? { waiting.removeValue(forKey: id) }

    /// `true` when no request waits.
    var isEmpty: Bool { waiting.isEmpty }

    /// Removes every waiter, in request order.
    mutating func takeAll() -> [Waiter] {
        defer { waiting.removeAll() }
        return waiting.sorted { $0.key < $1.key }.map(\.value)
    }
}
