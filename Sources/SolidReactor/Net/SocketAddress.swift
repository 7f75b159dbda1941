import CSolidLinux
import Glibc

/// A socket address: IPv4 or IPv6 (IP plus port), or a Unix-domain socket (a path or a Linux abstract name).
public enum SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// An IPv4 address.
    case v4(sockaddr_in)
    /// An IPv6 address.
    case v6(sockaddr_in6)
    /// A Unix-domain stream socket on this host.
    case unix(UnixAddress)

    /// A Unix-domain socket at a filesystem path, or, for a text starting with `@`, a Linux abstract
    /// name (no file; gone when the last socket closes).
    /// - Throws: ``AddressError/unixPathTooLong(_:)`` beyond 107 bytes, ``AddressError/emptyUnixPath``.
    public static func unix(path: String) throws(AddressError) -> SocketAddress { .unix(try UnixAddress(parsing: path)) }

    /// Parses a numeric IP (`"127.0.0.1"`, `"::1"`) and a port. No name resolution; see ``Resolver``.
    /// - Throws: ``AddressError/invalidIP(_:)`` when `ip` is neither IPv4 nor IPv6 text.
    public init(ip: String, port: UInt16) throws(AddressError) {
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, ip, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
            self = .v4(v4)
            return
        }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, ip, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
            self = .v6(v6)
            return
        }
        throw AddressError.invalidIP(ip)
    }

    /// `127.0.0.1:port`.
    public static func loopbackV4(port: UInt16 = 0) -> SocketAddress { try! SocketAddress(ip: "127.0.0.1", port: port) }
    /// `[::1]:port`.
    public static func loopbackV6(port: UInt16 = 0) -> SocketAddress { try! SocketAddress(ip: "::1", port: port) }

    /// Reads an address the kernel filled in; `nil` for families other than IPv4 and IPv6.
    init?(storage: sockaddr_storage) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            self = withUnsafeBytes(of: &storage) { .v4($0.load(as: sockaddr_in.self)) }
        case AF_INET6:
            self = withUnsafeBytes(of: &storage) { .v6($0.load(as: sockaddr_in6.self)) }
        case AF_UNIX:
            self = withUnsafeBytes(of: &storage) { .unix(UnixAddress(sockaddr: $0.load(as: sockaddr_un.self))) }
        default:
            return nil
        }
    }

    /// The address family (`AF_INET` or `AF_INET6`).
    public var family: Int32 {
        switch self {
        case .v4: AF_INET
        case .v6: AF_INET6
        case .unix: AF_UNIX
        }
    }

    /// The port, in host byte order; 0 for a Unix-domain address.
    public var port: UInt16 {
        switch self {
        case .v4(let address): UInt16(bigEndian: address.sin_port)
        case .v6(let address): UInt16(bigEndian: address.sin6_port)
        case .unix: 0
        }
    }

    /// The same address with another port (a Unix-domain address stays as it is).
    public func withPort(_ port: UInt16) -> SocketAddress {
        switch self {
        case .unix:
            return self
        case .v4(var address):
            address.sin_port = port.bigEndian
            return .v4(address)
        case .v6(var address):
            address.sin6_port = port.bigEndian
            return .v6(address)
        }
    }

    /// The IP as text, without the port (for a Unix-domain address: its path, or `@name`).
    public var ipString: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch self {
        case .unix(let address):
            return address.text
        case .v4(var address):
            inet_ntop(AF_INET, &address.sin_addr, &buffer, socklen_t(buffer.count))
        case .v6(var address):
            inet_ntop(AF_INET6, &address.sin6_addr, &buffer, socklen_t(buffer.count))
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `1.2.3.4:80`, `[::1]:80`, `unix:/run/app.sock` or `unix:@name`.
    public var description: String {
        switch self {
        case .v4: "\(ipString):\(port)"
        case .v6: "[\(ipString)]:\(port)"
        case .unix(let address): "unix:\(address.text)"
        }
    }

    /// Calls `body` with a pointer to the `sockaddr` and its length.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws(SystemError) -> R) throws(SystemError) -> R {
        switch self {
        case .v4(var address):
            return try withUnsafeBytes(of: &address) { (raw) throws(SystemError) -> R in
                try body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
            }
        case .v6(var address):
            return try withUnsafeBytes(of: &address) { (raw) throws(SystemError) -> R in
                try body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
            }
        case .unix(let unix):
            var address = unix.sockaddr
            let length = unix.sockaddrLength
            return try withUnsafeBytes(of: &address) { (raw) throws(SystemError) -> R in
                try body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
            }
        }
    }

    public static func == (lhs: SocketAddress, rhs: SocketAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(var a), .v4(var b)):
            return memcmp(&a, &b, MemoryLayout<sockaddr_in>.size) == 0
        case (.v6(var a), .v6(var b)):
            return memcmp(&a, &b, MemoryLayout<sockaddr_in6>.size) == 0
        case (.unix(let a), .unix(let b)):
            return a == b
        default:
            return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(description)
    }
}

extension sockaddr_in: @retroactive @unchecked Sendable {}
extension sockaddr_in6: @retroactive @unchecked Sendable {}

/// A malformed address.
public enum AddressError: Error, Sendable, Equatable {
    /// The text is not a numeric IPv4 or IPv6 address.
    case invalidIP(String)
    /// A Unix-domain path or abstract name longer than ``UnixAddress/maxBytes`` bytes (the kernel's limit).
    case unixPathTooLong(String)
    /// An empty Unix-domain path or abstract name.
    case emptyUnixPath
}
