import Glibc

/// An operating-system call failed.
///
/// Carries the name of the operation (for example `"connect"`) and the `errno` it returned, so a log
/// line says exactly what went wrong. Frequent causes have named accessors such as
/// ``isConnectionReset`` so callers need not compare raw numbers.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The system call or library function that failed.
    public let operation: String
    /// The `errno` value it reported.
    public let errno: Int32

    /// Creates an error for `operation` failing with `errno`.
    public init(_ operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }

    /// `true` when the peer reset the connection (`ECONNRESET`).
    public var isConnectionReset: Bool { errno == ECONNRESET }
    /// `true` when writing to a connection the peer already closed (`EPIPE`).
    public var isBrokenPipe: Bool { errno == EPIPE }
    /// `true` when nothing listens at the address (`ECONNREFUSED`).
    public var isConnectionRefused: Bool { errno == ECONNREFUSED }
    /// `true` when the process or system ran out of file descriptors (`EMFILE` or `ENFILE`).
    public var isDescriptorExhaustion: Bool { errno == EMFILE || errno == ENFILE }

    /// A readable text such as `connect: Connection refused (errno 111)`.
    public var description: String {
        "\(operation): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// The outcome of a non-blocking operation: done, or it would have blocked (`EAGAIN`).
public enum IOResult<Value> {
    /// The operation finished with this value.
    case done(Value)
    /// The operation could not proceed without blocking; wait for readiness and try again.
    case wouldBlock
}

extension IOResult: Sendable where Value: Sendable {}
