public import SolidReactor

/// A proxy a pool's connections go through (``ServiceConfiguration/proxy``): the pool resolves and
/// connects to the proxy, asks it for the destination, then runs TLS (verified against the destination's
/// name, not the proxy's) and the hello through the tunnel. A proxy that cannot be reached, or that
/// refuses, is a failed connect attempt (``SendError/connectFailed(_:_:)`` with
/// `StreamError/proxy(_:)` or the socket's error): the pool never falls back to a direct connection.
public struct ProxySettings: Sendable, Hashable, CustomStringConvertible {
    /// The proxy's protocol.
    public enum Kind: Sendable, Hashable {
        /// SOCKS5 (RFC 1928): the destination's name is resolved by the proxy.
        case socks5
        /// An HTTP proxy's CONNECT method.
        case httpConnect
    }

    /// The protocol.
    public var kind: Kind
    /// The proxy's host name or address.
    public var host: String
    /// The proxy's port.
    public var port: UInt16
    /// User name and password (SOCKS5: RFC 1929; HTTP: Basic), if the proxy wants them.
    public var credentials: ProxyCredentials?

    /// A proxy.
    public init(kind: Kind, host: String, port: UInt16, credentials: ProxyCredentials? = nil) {
        self.kind = kind
        self.host = host
        self.port = port
        self.credentials = credentials
    }

    /// A SOCKS5 proxy.
    public static func socks5(host: String, port: UInt16, credentials: ProxyCredentials? = nil) -> ProxySettings {
        ProxySettings(kind: .socks5, host: host, port: port, credentials: credentials)
    }

    /// An HTTP CONNECT proxy.
    public static func httpConnect(host: String, port: UInt16, credentials: ProxyCredentials? = nil) -> ProxySettings {
        ProxySettings(kind: .httpConnect, host: host, port: port, credentials: credentials)
    }

    /// `socks5://host:port` or `http://host:port`.
    public var description: String {
        let authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        return kind == .socks5 ? "socks5://\(authority)" : "http://\(authority)"
    }

    /// Opens the tunnel to `target` over `stream` (connected to the proxy; reactor thread).
    func openTunnel(
        to target: ProxyTarget, over stream: any ByteStream, timeout: Duration,
        completion: @escaping (Result<(any ByteStream, leftover: [UInt8]), StreamError>) -> Void
    ) {
        switch kind {
        case .socks5:
            ProxyTunnel.open(
                over: stream, handshake: SOCKS5Handshake(target: target, credentials: credentials), timeout: timeout,
                completion: completion)
        case .httpConnect:
            ProxyTunnel.open(
                over: stream, handshake: HTTPConnectHandshake(target: target, credentials: credentials), timeout: timeout,
                completion: completion)
        }
    }
}
