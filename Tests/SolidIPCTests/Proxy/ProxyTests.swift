import CSolidLinux
import Foundation
import Glibc
import SolidEngine
import SolidIPC
import SolidIPCTLS
import SolidReactor
import Testing

// Pools through proxies nobody on the team wrote: microsocks (SOCKS5) and tinyproxy (HTTP CONNECT),
// Debian packages started by each test on 127.0.0.1 with a free port and stopped before it returns.

private let microsocksPath = "/usr/bin/microsocks"
private let tinyproxyPath = "/usr/bin/tinyproxy"

/// `true` once something accepts TCP connections on 127.0.0.1:`port`.
private func listening(_ port: UInt16) -> Bool {
    withLoopbackSocket(port: port) { descriptor, address in
        address.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    } ?? false
}

/// microsocks on 127.0.0.1 (on `port`, or a free one), with credentials when given.
func startMicrosocks(port fixed: UInt16? = nil, user: String? = nil, password: String? = nil) throws -> (ExternalPeer, UInt16) {
    for _ in 0..<5 {
        guard let port = fixed ?? freeLoopbackPort() else { continue }
        var arguments = ["-i", "127.0.0.1", "-p", "\(port)"]
        if let user, let password { arguments += ["-u", user, "-P", password] }
        let peer = try ExternalPeer(microsocksPath, arguments)
        if waitUntil(seconds: stepTimeout, { listening(port) }) { return (peer, port) }
        peer.stop()
    }
    throw InteropFailure(description: "microsocks did not start")
}

/// tinyproxy in the foreground on 127.0.0.1 with a generated config; `connectPorts` limits CONNECT.
func startTinyproxy(connectPorts: [UInt16] = []) throws -> (ExternalPeer, UInt16, String) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("solid-ipc-tinyproxy-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    for _ in 0..<5 {
        guard let port = freeLoopbackPort() else { continue }
        let config = directory.appendingPathComponent("tinyproxy.conf")
        var text = "Port \(port)\nListen 127.0.0.1\nTimeout 60\nLogLevel Info\nMaxClients 50\nAllow 127.0.0.1\n"
        for allowed in connectPorts { text += "ConnectPort \(allowed)\n" }
        try text.write(to: config, atomically: true, encoding: .utf8)
        let peer = try ExternalPeer(tinyproxyPath, ["-d", "-c", config.path])
        let ready = Array("Accepting connections".utf8)
        if peer.wait(until: { $0.stdout.offset(of: ready) != nil || $0.stderr.offset(of: ready) != nil || $0.status != nil }),
            peer.current.status == nil
        {
            return (peer, port, directory.path)
        }
        peer.stop()
    }
    throw InteropFailure(description: "tinyproxy did not start")
}

/// One request, its outcome as text.
private func ask(_ client: IPCService, _ id: UInt64, to destination: Destination, options: SendOptions = []) throws -> String {
    let log = EventLog()
    try client.request(Note(id: id, text: "via proxy"), to: destination, options: options, expecting: Note.self) { result in
        switch result {
        case .success(let note): log.add("\(note.id) \(note.text)")
        case .failure(let error): log.add("\(error)")
        }
    }
    #expect(log.wait { !$0.isEmpty })
    return log.all.first ?? "no outcome"
}

@Suite("Through real proxies", .serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: microsocksPath)))
struct ProxyTests {
    @Test("SOCKS5 (microsocks) without authentication: requests to an IPv4 address and to a name the proxy resolves")
    func socks5() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startMirrorServer(group: group)
        defer { server.stop() }
        let (proxy, proxyPort) = try startMicrosocks()
        defer { proxy.stop() }
        let client = try startClient(group: group) { $0.proxy = .socks5(host: "127.0.0.1", port: proxyPort) }
        defer { client.stop() }
        #expect(try ask(client, 1, to: destination) == "1 via proxy")
        #expect(try ask(client, 2, to: try Destination(host: "localhost", port: destination.port)) == "2 via proxy")
        for id in 3...50 { #expect(try ask(client, UInt64(id), to: destination) == "\(id) via proxy") }
        // Only through the proxy: once it is gone, a one-shot request fails; nothing connects directly.
        proxy.stop()
        let later = try startClient(group: group) { $0.proxy = .socks5(host: "127.0.0.1", port: proxyPort) }
        defer { later.stop() }
        #expect(try ask(later, 99, to: destination, options: [.oneShot])
            == "\(SendError.connectFailed(destination, .stream(.connectionRefused)))")
    }

    @Test("SOCKS5 with user and password: accepted; a wrong password is authenticationFailed; a refused destination is the proxy's reply code")
    func socks5Authentication() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startMirrorServer(group: group)
        defer { server.stop() }
        let (proxy, proxyPort) = try startMicrosocks(user: "alice", password: "s3cret")
        defer { proxy.stop() }
        let good = try startClient(group: group) {
            $0.proxy = .socks5(host: "127.0.0.1", port: proxyPort, credentials: ProxyCredentials(user: "alice", password: "s3cret"))
        }
        defer { good.stop() }
        #expect(try ask(good, 1, to: destination) == "1 via proxy")
        let bad = try startClient(group: group) {
            $0.proxy = .socks5(host: "127.0.0.1", port: proxyPort, credentials: ProxyCredentials(user: "alice", password: "wrong"))
        }
        defer { bad.stop() }
        let wrong = try ask(bad, 2, to: destination, options: [.oneShot])
        // microsocks answers a wrong password with RFC 1929 status 2.
        #expect(wrong == "\(SendError.connectFailed(destination, .stream(.proxy(.authenticationFailed(status: 2)))))", "\(wrong)")
        let closed = try Destination(host: "127.0.0.1", port: try #require(freeLoopbackPort()))
        let refusal = try ask(good, 3, to: closed, options: [.oneShot])
        #expect(refusal == "\(SendError.connectFailed(closed, .stream(.proxy(.socks5Refused(.connectionRefused)))))"
            || refusal == "\(SendError.connectFailed(closed, .stream(.proxy(.socks5Refused(.generalFailure)))))", "\(refusal)")
    }

    @Test("the proxy is down, then comes back on its port: a waiting request is delivered after the retry")
    func proxyComesBack() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startMirrorServer(group: group)
        defer { server.stop() }
        let proxyPort = try #require(freeLoopbackPort())
        let stops = EventLog()
        let client = try startClient(group: group) { configuration in
            configuration.proxy = .socks5(host: "127.0.0.1", port: proxyPort)
            configuration.reconnectDelay = .milliseconds(50)
            configuration.maxReconnectDelay = .milliseconds(200)
            configuration.onConnectionStop = { _, error in stops.add("\(error)") }
        }
        defer { client.stop() }
        let answer = EventLog()
        try client.request(Note(id: 7, text: "later"), to: destination, expecting: Note.self) { result in
            answer.add((try? result.get().text) ?? "\(result)")
        }
        #expect(answer.all.isEmpty)
        let (proxy, _) = try startMicrosocks(port: proxyPort)
        defer { proxy.stop() }
        #expect(answer.wait { !$0.isEmpty })
        #expect(answer.all == ["later"])
    }

    @Test("a proxy per destination: one destination through a proxy that is down fails, another (direct) is served")
    func perDestination() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startMirrorServer(group: group)
        defer { server.stop() }
        let deadProxy = try #require(freeLoopbackPort())
        let proxied = try Destination(host: "localhost", port: destination.port)  // same server, another pool
        let client = try startClient(group: group) { configuration in
            configuration.proxyForDestination = { target in
                target == proxied ? .socks5(host: "127.0.0.1", port: deadProxy) : nil
            }
        }
        defer { client.stop() }
        #expect(try ask(client, 1, to: destination) == "1 via proxy", "direct")
        #expect(try ask(client, 2, to: proxied, options: [.oneShot]) == "\(SendError.connectFailed(proxied, .stream(.connectionRefused)))")
    }

    @Test("TLS through SOCKS5: the server's certificate is verified against the destination's name, not the proxy's")
    func tlsThroughSOCKS5() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startMirrorServer(group: group, secure: true)
        defer { server.stop() }
        let (proxy, proxyPort) = try startMicrosocks()
        defer { proxy.stop() }
        let client = try startClient(group: group, secure: true) { $0.proxy = .socks5(host: "127.0.0.1", port: proxyPort) }
        defer { client.stop() }
        let named = try Destination(host: "localhost", port: destination.port)
        #expect(try ask(client, 1, to: named) == "1 via proxy", "localhost is in the certificate")
        var wrongName = TLSFixture.shared.clientConfiguration
        wrongName.serverNameOverride = "not-in-the-certificate.example"
        let strict = try startClient(group: group) { configuration in
            configuration.tls = try! TLSTransport(client: wrongName)
            configuration.proxy = .socks5(host: "127.0.0.1", port: proxyPort)
        }
        defer { strict.stop() }
        let refused = try ask(strict, 2, to: named, options: [.oneShot])
        #expect(refused.contains("does not match not-in-the-certificate.example"), "\(refused)")
    }
}

@Suite("Through a real HTTP proxy", .serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: tinyproxyPath)))
struct HTTPProxyTests {
    @Test("HTTP CONNECT (tinyproxy): requests through the tunnel; a CONNECT the proxy forbids is its status and reason")
    func httpConnect() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startMirrorServer(group: group)
        defer { server.stop() }
        let (proxy, proxyPort, directory) = try startTinyproxy()
        defer {
            proxy.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
        let client = try startClient(group: group) { $0.proxy = .httpConnect(host: "127.0.0.1", port: proxyPort) }
        defer { client.stop() }
        for id in 1...20 { #expect(try ask(client, UInt64(id), to: destination) == "\(id) via proxy") }

        let (strict, strictPort, strictDirectory) = try startTinyproxy(connectPorts: [443])
        defer {
            strict.stop()
            try? FileManager.default.removeItem(atPath: strictDirectory)
        }
        let refusedClient = try startClient(group: group) { $0.proxy = .httpConnect(host: "127.0.0.1", port: strictPort) }
        defer { refusedClient.stop() }
        let refused = try ask(refusedClient, 21, to: destination, options: [.oneShot])
        #expect(refused.hasPrefix("connectFailed") || refused.contains("HTTP proxy answered 403"), "\(refused)")
        #expect(refused.contains("HTTP proxy answered 403"), "\(refused)")
    }
}
