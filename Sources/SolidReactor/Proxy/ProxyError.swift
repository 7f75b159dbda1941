/// Why a proxy handshake failed (SOCKS5, RFC 1928/1929; HTTP CONNECT, RFC 9110 §9.3.6). Reaches a
/// connection's users as ``StreamError/proxy(_:)``.
public enum ProxyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The SOCKS5 proxy answered the CONNECT with a failure code (RFC 1928 §6).
    case socks5Refused(SOCKS5Reply)
    /// The SOCKS5 proxy accepts none of the offered authentication methods (method 0xFF).
    case noAcceptableMethod
    /// The SOCKS5 proxy chose a method this side did not offer.
    case unexpectedMethod(UInt8)
    /// The SOCKS5 proxy refused the user name and password (RFC 1929 status ≠ 0).
    case authenticationFailed(status: UInt8)
    /// The HTTP proxy answered the CONNECT with a status other than 2xx (its reason phrase, cut to 128
    /// bytes). 407 means it wants (other) credentials.
    case httpRefused(status: Int, reason: String)
    /// The proxy's reply breaks its protocol (wrong version, bad field, not HTTP…).
    case malformedReply(String)
    /// The proxy's reply is longer than this side accepts (HTTP headers over 16 KiB).
    case replyTooLarge(limit: Int)
    /// The proxy closed the connection before its reply was complete.
    case closedDuringHandshake
    /// The destination or the credentials cannot be expressed in the proxy's protocol (a name or a
    /// user name over 255 bytes, a Unix-domain destination).
    case invalidRequest(String)
    /// The handshake did not finish within the connect timeout.
    case timeout

    /// A readable text.
    public var description: String {
        switch self {
        case .socks5Refused(let reply): "SOCKS5 proxy refused the connection: \(reply)"
        case .noAcceptableMethod: "SOCKS5 proxy accepts none of the offered authentication methods"
        case .unexpectedMethod(let method): "SOCKS5 proxy chose method \(method), which was not offered"
        case .authenticationFailed(let status): "SOCKS5 proxy refused the credentials (status \(status))"
        case .httpRefused(let status, let reason): "HTTP proxy answered \(status) \(reason)"
        case .malformedReply(let why): "malformed proxy reply: \(why)"
        case .replyTooLarge(let limit): "proxy reply longer than \(limit) bytes"
        case .closedDuringHandshake: "the proxy closed the connection during the handshake"
        case .invalidRequest(let why): "cannot ask the proxy: \(why)"
        case .timeout: "proxy handshake timed out"
        }
    }
}

/// A SOCKS5 reply code (RFC 1928 §6); codes the RFC does not define keep their number.
public struct SOCKS5Reply: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The code on the wire.
    public let rawValue: UInt8
    /// The code `rawValue`.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// 0: succeeded.
    public static let succeeded = SOCKS5Reply(rawValue: 0)
    /// 1: general SOCKS server failure.
    public static let generalFailure = SOCKS5Reply(rawValue: 1)
    /// 2: connection not allowed by ruleset.
    public static let notAllowed = SOCKS5Reply(rawValue: 2)
    /// 3: network unreachable.
    public static let networkUnreachable = SOCKS5Reply(rawValue: 3)
    /// 4: host unreachable.
    public static let hostUnreachable = SOCKS5Reply(rawValue: 4)
    /// 5: connection refused.
    public static let connectionRefused = SOCKS5Reply(rawValue: 5)
    /// 6: TTL expired.
    public static let ttlExpired = SOCKS5Reply(rawValue: 6)
    /// 7: command not supported.
    public static let commandNotSupported = SOCKS5Reply(rawValue: 7)
    /// 8: address type not supported.
    public static let addressTypeNotSupported = SOCKS5Reply(rawValue: 8)

    /// The RFC's words for the code.
    public var description: String {
        switch rawValue {
        case 0: "succeeded"
        case 1: "general SOCKS server failure"
        case 2: "connection not allowed by ruleset"
        case 3: "network unreachable"
        case 4: "host unreachable"
        case 5: "connection refused"
        case 6: "TTL expired"
        case 7: "command not supported"
        case 8: "address type not supported"
        default: "reply code \(rawValue)"
        }
    }
}
