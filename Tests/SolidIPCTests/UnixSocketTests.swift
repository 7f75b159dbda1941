import CSolidLinux
import Glibc
import SolidEngine
import SolidIPC
import SolidIPCTLS
import Testing

@Suite("Unix-domain sockets", .serialized)
struct UnixSocketTests {
    /// A fresh path in a fresh directory.
    private func socketPath(_ name: String = "echo.sock") -> String {
        var template = Array("/tmp/solid-unix-XXXXXX".utf8CString)
        return String(cString: mkdtemp(&template)!) + "/" + name
    }

    private func echo(_ client: IPCService, _ destination: Destination, count: Int = 200) -> [String] {
        let log = EventLog()
        for id in 0..<UInt64(count) {
            let text = String(repeating: "u\(id)", count: Int(id % 50) * 40)
            _ = try? client.request(Note(id: id, text: text), to: destination, expecting: Note.self) { result in
                log.add((try? result.get()).map { $0.id == id && $0.text == String(text.reversed()) ? "ok" : "bad" } ?? "error \(result)")
            }
        }
        _ = log.wait { $0.count >= count }
        return log.all
    }

    @Test("echo over a socket path (plain and TLS), the file mode as configured, removed at stop", arguments: [false, true])
    func echoOverPath(secure: Bool) throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let path = socketPath()
        let (server, _) = try startServer(group: group, secure: secure, configure: { configuration in
            configuration.listenAddress = try! .unix(path: path)
            configuration.unixSocketPermissions = 0o600
        }) { server in
            try server.handle(Note.self) { note, context in
                try? context.respond(Note(id: note.id, text: String(note.text.reversed())))
            }
        }
        var info = stat()
        #expect(stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK)
        #expect(info.st_mode & 0o777 == 0o600)
        let client = try startClient(group: group, secure: secure) { configuration in
            if secure {
                // A path names no host: the client says which name the server's certificate must carry.
                var tls = TLSFixture.shared.clientConfiguration
                tls.serverNameOverride = "localhost"
                configuration.tls = try! TLSTransport(client: tls)
            }
        }
        defer { client.stop() }
        let destination = try Destination(parsing: "unix:" + path)
        #expect(destination.description == "unix:" + path)
        let results = echo(client, destination)
        #expect(results.count == 200 && results.allSatisfy { $0 == "ok" }, "\(Set(results))")
        server.stop()
        #expect(access(path, F_OK) != 0, "the socket file is gone after stop")
    }

    @Test("a stale socket file (nobody listens) is replaced; a live one or a regular file is not")
    func staleFile() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let path = socketPath()
        // Leave a stale socket file: bind a socket and close it without removing the file.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        close(fd)
        #expect(access(path, F_OK) == 0, "the stale file exists")
        let (server, _) = try startEchoServiceAt(path, group: group)
        // A second listener on the same live path fails with EADDRINUSE; the first keeps working.
        #expect {
            _ = try startEchoServiceAt(path, group: group)
        } throws: { error in (error as? SystemError)?.errno == EADDRINUSE }
        let client = try startClient(group: group)
        defer { client.stop() }
        #expect(echo(client, try Destination(unixPath: path), count: 10).allSatisfy { $0 == "ok" })
        server.stop()
        // A regular file at the path is never removed.
        let regular = socketPath("not-a-socket")
        let file = fopen(regular, "w")
        fclose(file)
        #expect {
            _ = try startEchoServiceAt(regular, group: group)
        } throws: { error in (error as? SystemError)?.errno == EADDRINUSE }
        #expect(access(regular, F_OK) == 0)
    }

    @Test("abstract names work; a path over 107 bytes fails with a clear error")
    func abstractAndTooLong() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let name = "@solid-ipc-test-\(getpid())"
        let (server, _) = try startEchoServiceAt(name, group: group)
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        #expect(echo(client, try Destination(parsing: "unix:" + name), count: 10).allSatisfy { $0 == "ok" })
        let long = "/tmp/" + String(repeating: "x", count: 120)
        #expect(throws: AddressError.unixPathTooLong(long)) { _ = try SocketAddress.unix(path: long) }
        #expect(throws: DestinationError.invalidUnixPath(long)) { _ = try Destination(unixPath: long) }
    }

    @Test("a destination path nobody listens on: a one-shot message fails with connectFailed(connection refused or no such file)")
    func nobodyListening() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let outcome = EventLog()
        try client.send(Note(id: 1, text: "x"), to: try Destination(unixPath: socketPath()), options: .oneShot) { result in
            if case .failure(.connectFailed(_, .stream(let cause))) = result { outcome.add("\(cause)") } else { outcome.add("other \(result)") }
        }
        #expect(outcome.wait { !$0.isEmpty })
        #expect(outcome.all.first?.hasPrefix("connect: No such file or directory") == true, "\(outcome.all)")
    }
}

/// An echo server on a Unix-domain path or `@name`.
func startEchoServiceAt(_ path: String, group: ReactorGroup) throws -> (IPCService, Destination) {
    try startServer(group: group, configure: { $0.listenAddress = try! .unix(path: path) }) { server in
        try server.handle(Note.self) { note, context in
            try? context.respond(Note(id: note.id, text: String(note.text.reversed())))
        }
    }
}
