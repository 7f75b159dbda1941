/// Where a proxy is asked to connect: a host name (resolved by the proxy, so names this side cannot
/// resolve still work) or an IP address, and a port.
public struct ProxyTarget: Sendable, Hashable, CustomStringConvertible {
    /// A name, or an IPv4 / IPv6 address in text form.
    public var host: String
    /// The destination's port.
    public var port: UInt16

    /// A target.
    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// `host:port` (`[v6]:port` for IPv6).
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A user name and password for a proxy (SOCKS5: RFC 1929; HTTP: Basic).
public struct ProxyCredentials: Sendable, Hashable {
    /// The user name.
    public var user: String
    /// The password.
    public var password: String

    /// Credentials.
    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }
}

/// What a proxy handshake does next with the bytes it was given.
public enum ProxyStep: Equatable, Sendable {
    /// Write these bytes to the proxy, then feed what it answers.
    case send([UInt8])
    /// Feed more bytes: the reply is not complete.
    case needMore
    /// The tunnel is open; `leftover` are bytes after the reply that belong to the destination (its
    /// first bytes may come in the same read as the reply).
    case connected(leftover: [UInt8])
    /// The handshake failed.
    case failed(ProxyError)
}

/// A client-side proxy handshake as a pure state machine: no sockets, so every reply (and every way a
/// hostile proxy can break one) is tested in memory. ``start()`` gives the first bytes to send, each
/// ``receive(_:)`` what to do next.
public protocol ProxyHandshake {
    /// The bytes to send first (or the failure when the request cannot be expressed).
    mutating func start() -> ProxyStep
    /// Feeds bytes from the proxy.
    mutating func receive(_ bytes: UnsafeRawBufferPointer) -> ProxyStep
}
