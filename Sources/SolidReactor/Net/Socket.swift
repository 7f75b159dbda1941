import CSolidLinux
import Glibc

/// Thin wrappers over the socket system calls the reactor uses. Every call goes through ``syscall``.
enum Socket {
    /// A new non-blocking, close-on-exec stream socket for `family` (TCP for IP families).
    static func makeStream(family: Int32) throws(SystemError) -> Int32 {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        return try syscallValue("socket") { Glibc.socket(family, type, 0) }
    }

    static func setOption(_ fd: Int32, level: Int32, name: Int32, value: Int32, _ label: StaticString) throws(SystemError) {
        var value = value
        _ = try syscallValue(label) {
            setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    static func setNoDelay(_ fd: Int32) throws(SystemError) {
        try setOption(fd, level: Int32(IPPROTO_TCP), name: TCP_NODELAY, value: 1, "setsockopt(TCP_NODELAY)")
    }

    /// `TCP_NOTSENT_LOWAT`: the socket reports writable only while fewer than `bytes` wait unsent in it.
    static func setNotSentLowWatermark(_ fd: Int32, bytes: Int32) throws(SystemError) {
        try setOption(fd, level: Int32(IPPROTO_TCP), name: 25 /* TCP_NOTSENT_LOWAT */, value: bytes,
            "setsockopt(TCP_NOTSENT_LOWAT)")
    }

    /// `SO_RCVBUF`: the kernel's receive buffer (and so the TCP window) for the socket.
    static func setReceiveBufferSize(_ fd: Int32, bytes: Int32) throws(SystemError) {
        try setOption(fd, level: SOL_SOCKET, name: SO_RCVBUF, value: bytes, "setsockopt(SO_RCVBUF)")
    }

    static func setReuseAddress(_ fd: Int32) throws(SystemError) {
        try setOption(fd, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1, "setsockopt(SO_REUSEADDR)")
    }

    static func setIPv6Only(_ fd: Int32) throws(SystemError) {
        try setOption(fd, level: Int32(IPPROTO_IPV6), name: IPV6_V6ONLY, value: 1, "setsockopt(IPV6_V6ONLY)")
    }

    static func bind(_ fd: Int32, to address: SocketAddress) throws(SystemError) {
        _ = try address.withSockAddr { (pointer, length) throws(SystemError) in
            try syscallValue("bind") { Glibc.bind(fd, pointer, length) }
        }
    }

    static func listen(_ fd: Int32, backlog: Int32) throws(SystemError) {
        _ = try syscallValue("listen") { Glibc.listen(fd, backlog) }
    }

    /// Accepts one connection as a non-blocking, close-on-exec socket, or `.wouldBlock`.
    static func accept(_ fd: Int32) throws(SystemError) -> IOResult<(Int32, SocketAddress?)> {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let flags = Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let result = try withUnsafeMutablePointer(to: &storage) { (pointer) throws(SystemError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (address) throws(SystemError) in
                try syscall("accept4", nonBlocking: true) { solid_accept4(fd, address, &length, flags) }
            }
        }
        switch result {
        case .wouldBlock: return .wouldBlock
        case .done(let accepted): return .done((accepted, SocketAddress(storage: storage)))
        }
    }

    /// Starts a non-blocking connect: `.done` when already connected, `.wouldBlock` when in progress.
    static func connect(_ fd: Int32, to address: SocketAddress) throws(SystemError) -> IOResult<Void> {
        try address.withSockAddr { (pointer, length) throws(SystemError) -> IOResult<Void> in
            while Glibc.connect(fd, pointer, length) < 0 {
                let code = solid_errno()
                switch code {
                case EINTR: continue
                case EINPROGRESS, EAGAIN: return .wouldBlock
                default: throw SystemError("connect", errno: code)
                }
            }
            return .done(())
        }
    }

    /// The socket's address family (`SO_DOMAIN`), or -1 when it cannot be read.
    static func family(_ fd: Int32) -> Int32 {
        var value: Int32 = -1
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &value, &length) < 0 { return -1 }
        return value
    }

    /// Removes the file of a Unix-domain socket nobody listens on any more (a stale one from a process that
    /// died), so that bind can succeed. Leaves anything else alone: a socket someone listens on, or a file
    /// that is not a socket, makes bind fail with `EADDRINUSE` as it would anyway.
    static func removeStaleUnixSocket(_ address: UnixAddress) throws(SystemError) {
        guard !address.isAbstract else { return }
        var info = stat()
        guard stat(address.name, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK else { return }
        let probe = try makeStream(family: AF_UNIX)
        defer { closeDescriptor(probe) }
        do throws(SystemError) {
            _ = try connect(probe, to: .unix(address))
        } catch where error.errno == ECONNREFUSED {
            _ = try syscallValue("unlink") { unlink(address.name) }
            return
        }
        throw SystemError("bind", errno: EADDRINUSE)  // connected, or queued: someone listens
    }

    /// Sets the mode of a Unix-domain socket's file.
    static func setMode(_ path: String, _ mode: mode_t) throws(SystemError) {
        _ = try syscallValue("chmod") { chmod(path, mode) }
    }

    /// The pending error of a socket (`SO_ERROR`), 0 when none.
    static func pendingError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) < 0 { return solid_errno() }
        return value
    }

    static func localAddress(_ fd: Int32) -> SocketAddress? {
        name(fd, getsockname)
    }

    static func remoteAddress(_ fd: Int32) -> SocketAddress? {
        name(fd, getpeername)
    }

    private static func name(
        _ fd: Int32,
        _ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fd, $0, &length) }
        }
        return result == 0 ? SocketAddress(storage: storage) : nil
    }

    /// Reads into `buffer`: `.done(0)` means end of stream.
    @inline(__always)
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try syscall("read", nonBlocking: true) { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// Gathers `count` buffers into one `sendmsg` with `MSG_NOSIGNAL` (a closed peer gives `EPIPE`, never
    /// `SIGPIPE`).
    @inline(__always)
    static func writeVector(_ fd: Int32, _ vectors: UnsafeMutablePointer<iovec>, count: Int) throws(SystemError) -> IOResult<Int> {
        var message = msghdr()
        message.msg_iov = vectors
        message.msg_iovlen = count
        return try syscall("sendmsg", nonBlocking: true) { sendmsg(fd, &message, Int32(MSG_NOSIGNAL)) }
    }

    static func shutdownWrite(_ fd: Int32) throws(SystemError) {
        _ = try syscallValue("shutdown(SHUT_WR)") { Glibc.shutdown(fd, Int32(SHUT_WR)) }
    }

    /// Makes `close` send a reset instead of a FIN (used by tests that need a peer reset).
    static func setLingerZero(_ fd: Int32) throws(SystemError) {
        var value = linger(l_onoff: 1, l_linger: 0)
        _ = try syscallValue("setsockopt(SO_LINGER)") {
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, socklen_t(MemoryLayout<linger>.size))
        }
    }
}
