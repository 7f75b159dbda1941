
/// Where messages go: a host (name or numeric IP) and a port, written `"host:port"` or `"[v6]:port"`, or
/// a Unix-domain socket on this host, written `"unix:/path"` or `"unix:@abstract-name"`.
///
/// A destination names one connection pool of a service. Names are resolved off the reactor threads
/// (`Reactor/resolve(host:port:_:)`), and a name may stand for several addresses.
public struct Destination: Hashable, Sendable, CustomStringConvertible {
    /// The host name or numeric IP, without brackets; for a Unix-domain socket its path (or `@name`).
    public let host: String
    /// The TCP port (1–65535); 0 for a Unix-domain socket.
    public let port: UInt16
    /// The Unix-domain socket address, for a `unix:` destination.
    public let unixAddress: UnixAddress?
    /// Hashed once: a service looks its pool up by destination on every send.
    private let hash: Int

    /// Creates a destination from its parts.
    /// - Throws: ``DestinationError/emptyHost`` or ``DestinationError/invalidPort(_:)`` for port 0.
    public init(host: String, port: UInt16) throws(DestinationError) {
        guard !host.isEmpty else { throw .emptyHost }
        guard port != 0 else { throw .invalidPort("0") }
        self.host = host
        self.port = port
        unixAddress = nil
        var hasher = Hasher()
        hasher.combine(host)
        hasher.combine(port)
        hash = hasher.finalize()
    }

    /// Same host text and port.
    public static func == (lhs: Destination, rhs: Destination) -> Bool {
        lhs.hash == rhs.hash && lhs.port == rhs.port && lhs.host == rhs.host
            && (lhs.unixAddress == nil) == (rhs.unixAddress == nil)
    }

    /// Feeds the hash computed at creation.
    public func hash(into hasher: inout Hasher) { hasher.combine(hash) }

    /// A Unix-domain socket at `path`, or the abstract name after a leading `@`.
    /// - Throws: ``DestinationError/invalidUnixPath(_:)`` for an empty or too long path (107 bytes at most).
    public init(unixPath path: String) throws(DestinationError) {
        do {
            unixAddress = try UnixAddress(parsing: path)
        } catch {
            throw .invalidUnixPath(path)
        }
        host = path
        port = 0
        var hasher = Hasher()
        hasher.combine(path)
        hasher.combine(port)
        hash = hasher.finalize()
    }

    /// The name a TLS client checks the server's certificate against: the host; `nil` for a Unix-domain
    /// socket (set `TLSConfiguration.serverNameOverride` there).
    public var serverName: String? { unixAddress == nil ? host : nil }

    /// Parses `"host:port"`, `"1.2.3.4:port"`, `"[::1]:port"`, `"unix:/path"` or `"unix:@name"`.
    /// - Throws: ``DestinationError`` naming what is wrong with `text`.
    public init(parsing text: String) throws(DestinationError) {
        if text.hasPrefix("unix:") {
            try self.init(unixPath: String(text.dropFirst(5)))
            return
        }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .malformed(text) }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw .missingPort(text) }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw .missingPort(text) }
            host = text[..<colon]
            guard !host.contains(":") else { throw .malformed(text) }  // bare IPv6 needs brackets
            portText = text[text.index(after: colon)...]
        }
        guard let port = UInt16(portText), port != 0 else { throw .invalidPort(String(portText)) }
        try self.init(host: String(host), port: port)
    }

    /// `host:port`, with brackets around an IPv6 host; `unix:path` for a Unix-domain socket.
    public var description: String {
        if unixAddress != nil { return "unix:\(host)" }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// A destination text that cannot be used.
public enum DestinationError: Error, Sendable, Equatable {
    /// The host part is empty.
    case emptyHost
    /// There is no `:port` part.
    case missingPort(String)
    /// The port is not a number in 1–65535.
    case invalidPort(String)
    /// The text is not `host:port` or `[ipv6]:port`.
    case malformed(String)
    /// A `unix:` path that is empty or longer than the kernel allows (107 bytes).
    case invalidUnixPath(String)
}
