import Glibc

/// Why a byte stream failed or closed.
public enum StreamError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The peer reset the connection (`ECONNRESET`).
    case connectionReset
    /// A write hit a connection the peer had closed (`EPIPE`).
    case brokenPipe
    /// Nothing listens at the address (`ECONNREFUSED`).
    case connectionRefused
    /// The connect did not finish within its timeout.
    case connectTimeout
    /// The stream was closed locally with ``ByteStream/close()`` before the operation finished.
    case closed
    /// The reactor stopped.
    case reactorStopped
    /// Another system error.
    case system(SystemError)
    /// A secure stream failed (handshake, certificate, record layer).
    case tls(TLSError)
    /// The proxy handshake failed (SOCKS5 or HTTP CONNECT), with the proxy's reason.
    case proxy(ProxyError)

    /// Maps a system error to the named case when there is one.
    public init(_ error: SystemError) {
        switch error.errno {
        case ECONNRESET: self = .connectionReset
        case EPIPE: self = .brokenPipe
        case ECONNREFUSED: self = .connectionRefused
        default: self = .system(error)
        }
    }

    /// A readable text.
    public var description: String {
        switch self {
        case .connectionReset: "connection reset by peer"
        case .brokenPipe: "broken pipe (peer closed)"
        case .connectionRefused: "connection refused"
        case .connectTimeout: "connect timed out"
        case .closed: "stream closed locally"
        case .reactorStopped: "reactor stopped"
        case .system(let error): error.description
        case .tls(let error): error.description
        case .proxy(let error): error.description
        }
    }
}
