import Synchronization

/// A budget of bytes for messages still being received, shared by the readers of many connections
/// (SolidIPC gives each service one). A message whose declared size would take the budget over its
/// limit is rejected on its own with ``WireError/receiveBudgetExceeded(requested:inUse:limit:scope:)``.
///
/// Messages that arrive whole in one chunk never touch it: only a message kept in memory across
/// chunks (a body in pieces, out-of-line byte arrays) is charged, at its declared size, until it is
/// delivered, rejected or dropped.
public final class ReceiveBudget: Sendable {
    /// Most bytes held at once.
    public let limit: Int
    private let used = Atomic<Int>(0)

    /// A budget of `limit` bytes.
    public init(limit: Int) {
        precondition(limit >= 0, "a receive budget cannot be negative")
        self.limit = limit
    }

    /// Bytes charged now.
    public var inUse: Int { used.load(ordering: .relaxed) }

    /// Charges `bytes` if they fit; `false` (nothing charged) if they do not.
    func reserve(_ bytes: Int) -> Bool {
        var current = used.load(ordering: .relaxed)
        while true {
            guard bytes <= limit - current else { return false }
            let (exchanged, original) = used.compareExchange(
                expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    /// Gives back bytes charged by ``reserve(_:)``.
    func release(_ bytes: Int) {
        used.subtract(bytes, ordering: .relaxed)
    }
}

/// The receive accounting of one reader: its own limit, and the shared budget when there is one.
/// Owned by one reader on one thread.
final class ReceiveAccount {
    let connectionLimit: Int
    let shared: ReceiveBudget?
    private(set) var inUse = 0

    init(connectionLimit: Int, shared: ReceiveBudget?) {
        self.connectionLimit = connectionLimit
        self.shared = shared
    }

    /// Charges `bytes` to the connection and to the shared budget, or returns the error that rejects
    /// the message (nothing charged then).
    func reserve(_ bytes: UInt64) -> WireError? {
        guard bytes <= UInt64(connectionLimit - inUse) else {
            return .receiveBudgetExceeded(requested: bytes, inUse: inUse, limit: connectionLimit, scope: .connection)
        }
        let count = Int(bytes)
        if let shared, !shared.reserve(count) {
            return .receiveBudgetExceeded(requested: bytes, inUse: shared.inUse, limit: shared.limit, scope: .service)
        }
        inUse += count
        return nil
    }

    func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        inUse -= bytes
        shared?.release(bytes)
    }
}

/// How storage for a message's bytes grows as they arrive: nothing is reserved for bytes that have not
/// come yet beyond a small start, so a peer that declares 64 × 512 MiB and sends 2 KB costs 2 KB of
/// memory, not 32 GiB of address space (which traps where overcommit is strict).
enum ReceiveGrowth {
    /// The first allocation for a message kept across chunks.
    static let initialBytes = 256 * 1024

    /// Bytes received after which a message's storage is made at its whole declared size.
    static let wholeAfterBytes = 1024 * 1024

    /// The capacity to grow to when `needed` bytes must fit: four times the current capacity (so the
    /// bytes copied on the way stay under a third of the final size), the whole declared size once a
    /// sixteenth of it or ``wholeAfterBytes`` has arrived, and never more than declared. So a large
    /// message is copied at most once, at most 1 MiB of it: the copy runs on the reactor thread, into
    /// fresh pages, and at a sixteenth of 256 MiB it held everything on that reactor, a ping on the same
    /// connection included, for about 3 ms (measured). Reserving the declared size early is bounded by
    /// the receive budgets, which charge every declared size before a byte of it is accepted.
    @inline(__always)
    static func capacity(current: Int, needed: Int, declared: Int) -> Int {
        if needed >= min(declared / 16, wholeAfterBytes) { return declared }
        return min(declared, max(needed, current * 4, initialBytes))
    }

    /// Appends `bytes` to `storage` (of a message of `declared` bytes), growing it by
    /// ``capacity(current:needed:declared:)`` first when they do not fit. `prepareLarge` sees each new
    /// allocation of at least ``ReaderConfiguration/largeArrayBytes`` before it is filled.
    static func append(
        _ bytes: UnsafeRawBufferPointer, to storage: inout [UInt8], declared: Int,
        prepareLarge: (@Sendable (UnsafeMutableRawBufferPointer) -> Void)? = nil
    ) {
        if storage.capacity - storage.count < bytes.count {
            let capacity = capacity(current: storage.capacity, needed: storage.count + bytes.count, declared: declared)
            let old = storage
            // UInt8 is trivial: the capacity beyond the bytes copied stays unset until bytes arrive.
            storage = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
                if capacity >= ReaderConfiguration.largeArrayBytes, let prepareLarge {
                    prepareLarge(UnsafeMutableRawBufferPointer(buffer))
                }
                old.withUnsafeBufferPointer { source in
                    if let base = source.baseAddress { buffer.baseAddress!.initialize(from: base, count: source.count) }
                }
                initialized = old.count
            }
        }
        storage.append(contentsOf: bytes)
    }
}
