/// Readiness of one registered descriptor, as reported by the poller.
public struct IOEvents: OptionSet, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    /// Creates a set from raw bits.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Data (or a connection, for listeners) can be read.
    public static let readable = IOEvents(rawValue: 1 << 0)
    /// The socket's send buffer has room.
    public static let writable = IOEvents(rawValue: 1 << 1)
    /// The peer shut down its writing side (half-close).
    public static let readHangup = IOEvents(rawValue: 1 << 2)
    /// The connection hung up in both directions.
    public static let hangup = IOEvents(rawValue: 1 << 3)
    /// An error is pending on the socket (read it with `SO_ERROR`).
    public static let error = IOEvents(rawValue: 1 << 4)

    /// Short flags such as `[r w]`.
    public var description: String {
        let names: [(IOEvents, String)] = [
            (.readable, "r"), (.writable, "w"), (.readHangup, "rdhup"), (.hangup, "hup"), (.error, "err"),
        ]
        return "[" + names.filter { contains($0.0) }.map(\.1).joined(separator: " ") + "]"
    }
}

/// What a registration waits for.
public enum IOInterest: Sendable {
    /// Readable only (listeners, wake-up descriptors). Level-triggered.
    case readLevel
    /// Readable and writable, edge-triggered: reported once per change, never again until the owner has
    /// drained the socket (read or written until `EAGAIN`). Registered once; no `epoll_ctl` per write.
    case readWriteEdge
}

/// The small interface every readiness backend implements (epoll today). One per reactor, used only on
/// its thread, apart from ``wakeUp()`` which any thread may call.
protocol PollBackend: AnyObject {
    /// Starts watching `fd` and reports its readiness with `token`.
    func register(_ fd: Int32, token: UInt64, interest: IOInterest) throws(SystemError)
    /// Stops watching `fd`. Pending reports for it in the current batch are dropped by token check.
    func deregister(_ fd: Int32) throws(SystemError)
    /// Waits up to `timeoutMilliseconds` (-1: forever, 0: poll) and reports each ready registration with
    /// how many the wait found in all (wake-ups not counted). Returns that count.
    func wait(timeoutMilliseconds: Int32, _ report: (UInt64, IOEvents, Int) -> Void) throws(SystemError) -> Int
    /// Interrupts a `wait` in progress (or the next one). Any thread.
    func wakeUp()
    /// Releases the backend's own descriptors.
    func close()
}
