import Glibc

/// The proxies a proxied system goes through.
enum ProxyKind: Sendable {
    /// Debian's `microsocks` (SOCKS5, one thread per connection).
    case microsocks
    /// `relay-proxy` (Examples/RelayProxy: the seed's relay, one reactor thread).
    case relay
}

/// Where the proxy programs are (`--microsocks`, `--relay-proxy`).
struct ProxyPaths: Sendable {
    var microsocks = "microsocks"
    var relay = ".build/release/relay-proxy"
}

/// A proxy program running beside the server, on 127.0.0.1, allowed on every CPU (this process is
/// pinned to the client's CPU and its children would inherit that): on two cores it shares one with
/// a side of the benchmark whichever it is given, so the scheduler decides.
final class ProxyProcess {
    let port: UInt16
    let placement: String
    private let process: Subprocess

    init(_ kind: ProxyKind, paths: ProxyPaths) throws {
        let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let affinity = ["taskset", "-c", "0-\(max(cpus - 1, 0))"]
        switch kind {
        case .microsocks:
            guard let free = IPerfLimit.freeLoopbackPort() else { throw BenchError("no free loopback port for microsocks") }
            process = try Subprocess.spawn(affinity + [paths.microsocks, "-i", "127.0.0.1", "-p", "\(free)"])
            guard ProxyProcess.waitForListener(port: free) else {
                kill(process.pid, SIGKILL)
                _ = process.wait()
                throw BenchError("microsocks (\(paths.microsocks)) did not listen on 127.0.0.1:\(free); apt-get install microsocks")
            }
            port = free
        case .relay:
            guard access(paths.relay, X_OK) == 0 else {
                throw BenchError("no relay-proxy at \(paths.relay): build it with `swift build -c release --product relay-proxy` "
                                 + "in the repository root, or pass --relay-proxy PATH")
            }
            process = try Subprocess.spawn(affinity + [paths.relay, "--port", "0"], pipeStdout: true)
            let reader = LineReader(fd: process.stdoutFD!)
            // "relay-proxy listening on 127.0.0.1:PORT (Ctrl-C stops)"
            guard let line = reader.readLine(), let address = line.split(separator: " ").dropFirst(3).first,
                let found = address.split(separator: ":").last.flatMap({ UInt16($0) })
            else {
                kill(process.pid, SIGKILL)
                _ = process.wait()
                throw BenchError("relay-proxy did not say where it listens")
            }
            port = found
        }
        placement = "proxy pid \(process.pid) (\(kind == .relay ? "relay-proxy" : "microsocks")) may run on CPU 0-\(max(cpus - 1, 0))"
    }

    /// Stops the proxy (SIGTERM, then SIGKILL after 5 s).
    func stop() {
        kill(process.pid, SIGTERM)
        for _ in 0..<500 {
            var status: Int32 = 0
            if waitpid(process.pid, &status, WNOHANG) == process.pid { return }
            usleep(10_000)
        }
        kill(process.pid, SIGKILL)
        _ = process.wait()
    }

    /// Polls a connect to 127.0.0.1:`port` for up to 5 s.
    static func waitForListener(port: UInt16) -> Bool {
        for _ in 0..<500 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = port.bigEndian
            let connected = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            close(fd)
            if connected { return true }
            usleep(10_000)
        }
        return false
    }
}

/// A server with a proxy in front: the proxy's port joins the server's endpoints.
final class ProxiedServer: ServerControl {
    private let server: any ServerControl
    private let proxy: ProxyProcess
    let endpoints: ServerEndpoints
    let placement: String

    init(_ server: any ServerControl, proxy kind: ProxyKind, paths: ProxyPaths) throws {
        self.server = server
        do {
            proxy = try ProxyProcess(kind, paths: paths)
        } catch {
            server.stop()
            throw error
        }
        var endpoints = server.endpoints
        endpoints.proxyPort = proxy.port
        self.endpoints = endpoints
        placement = server.placement + "; " + proxy.placement
    }

    func beginPhase() throws { try server.beginPhase() }
    func endPhase() throws -> ServerPhaseReport? { try server.endPhase() }
    var isAlive: Bool { server.isAlive }

    func stop() {
        proxy.stop()
        server.stop()
    }
}
