import Glibc

/// The address of a Unix-domain socket: a filesystem path, or a Linux abstract name (no file, no
/// permissions of its own: any process in the same network namespace can connect).
///
/// A path socket's file takes the listener's umask; ``SocketListener`` can set its mode
/// (``SocketListener/init(address:backlog:unixPermissions:on:onAccept:)``). Connecting needs write
/// permission on the file.
public struct UnixAddress: Sendable, Hashable {
    /// The longest path or name the kernel takes (`sun_path` is 108 bytes with its terminating zero).
    public static let maxBytes = 107

    /// The path, or the abstract name without its leading zero byte; empty for an unnamed (client) socket.
    public let name: String
    /// `true` for an abstract name.
    public let isAbstract: Bool

    /// A filesystem path.
    /// - Throws: ``AddressError/emptyUnixPath``, ``AddressError/unixPathTooLong(_:)``.
    public init(path: String) throws(AddressError) {
        guard !path.isEmpty else { throw .emptyUnixPath }
        guard path.utf8.count <= Self.maxBytes else { throw .unixPathTooLong(path) }
        name = path
        isAbstract = false
    }

    /// A Linux abstract name (written `@name` in texts).
    /// - Throws: ``AddressError/emptyUnixPath``, ``AddressError/unixPathTooLong(_:)``.
    public init(abstractName: String) throws(AddressError) {
        guard !abstractName.isEmpty else { throw .emptyUnixPath }
        guard abstractName.utf8.count <= Self.maxBytes - 1 else { throw .unixPathTooLong("@" + abstractName) }
        name = abstractName
        isAbstract = true
    }

    /// A path, or for a text starting with `@` a Linux abstract name.
    /// - Throws: ``AddressError/emptyUnixPath``, ``AddressError/unixPathTooLong(_:)``.
    public init(parsing text: String) throws(AddressError) {
        if text.hasPrefix("@") {
            try self.init(abstractName: String(text.dropFirst()))
        } else {
            try self.init(path: text)
        }
    }

    /// Reads what the kernel filled in (an accepted peer is usually unnamed).
    init(sockaddr address: sockaddr_un) {
        var address = address
        let bytes = withUnsafeBytes(of: &address.sun_path) { Array($0) }
        if bytes.first == 0 {
            let rest = bytes.dropFirst().prefix { $0 != 0 }
            name = String(decoding: rest, as: UTF8.self)
            isAbstract = !rest.isEmpty
        } else {
            name = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            isAbstract = false
        }
    }

    /// The path, `@name`, or `(unnamed)`.
    public var text: String {
        if name.isEmpty { return "(unnamed)" }
        return isAbstract ? "@" + name : name
    }

    /// The `sockaddr_un` for bind and connect.
    var sockaddr: sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let utf8 = Array(name.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let start = isAbstract ? 1 : 0
            for (index, byte) in utf8.enumerated() where start + index < raw.count { raw[start + index] = byte }
        }
        return address
    }

    /// The length to pass with ``sockaddr``: an abstract name's length is exact (no terminating zero).
    var sockaddrLength: socklen_t {
        let base = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
        return socklen_t(base + (isAbstract ? 1 + name.utf8.count : name.utf8.count + 1))
    }
}
