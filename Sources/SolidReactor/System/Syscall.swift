import CSolidLinux
import Glibc

/// Runs one system call: retries `EINTR`, maps `EAGAIN` to ``IOResult/wouldBlock`` when the call is
/// non-blocking, and throws ``SystemError`` for anything else.
///
/// Error numbers that can only mean a bug in this library (`EBADF`, `EFAULT`) stop the process: going
/// on after using a closed descriptor could corrupt another object's socket.
@inline(__always)
func syscall<T: FixedWidthInteger>(
    _ operation: StaticString,
    nonBlocking: Bool = false,
    _ body: () -> T
) throws(SystemError) -> IOResult<T> {
    while true {
        let result = body()
        if result >= 0 { return .done(result) }
        let code = solid_errno()
        switch code {
        case EINTR:
            continue
        case EAGAIN where nonBlocking:
            return .wouldBlock
        case EBADF, EFAULT:
            preconditionFailure("\(operation) failed with errno \(code): a bug in SolidReactor (fd misuse)")
        default:
            throw SystemError("\(operation)", errno: code)
        }
    }
}

/// Runs a system call that never returns `EAGAIN`; see ``syscall(_:nonBlocking:_:)``.
@inline(__always)
func syscallValue<T: FixedWidthInteger>(_ operation: StaticString, _ body: () -> T) throws(SystemError) -> T {
    switch try syscall(operation, nonBlocking: false, body) {
    case .done(let value): return value
    case .wouldBlock: preconditionFailure("unreachable: blocking call reported EAGAIN")
    }
}

/// Closes a descriptor, ignoring `EINTR` (on Linux the descriptor is released even then).
func closeDescriptor(_ fd: Int32) {
    let result = Glibc.close(fd)
    if result < 0 {
        let code = solid_errno()
        precondition(code != EBADF, "close(\(fd)) failed with EBADF: double close in SolidReactor")
    }
}
