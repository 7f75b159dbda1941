import Foundation
import Glibc
import Testing

/// The `ipc-echo` binary built next to the test bundle (`swift test` builds every product).
private func ipcEchoPath() throws -> String {
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    // The test runner's executable sits in .build/<config>/ (or inside its .xctest bundle there).
    for directory in [bundle, bundle.deletingLastPathComponent()] {
        let path = directory.appendingPathComponent("ipc-echo").path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw InteropFailure(description: "ipc-echo not found next to \(bundle.path); build it with `swift build`")
}

/// `ipc-echo server` with its default settings on a port it picks, and the port it printed.
private func startEchoServer(_ extra: [String] = []) throws -> (ExternalPeer, String) {
    let server = try ExternalPeer(try ipcEchoPath(), ["server"] + extra)
    let marker = Array("listening on ".utf8)
    guard server.wait(until: { $0.stdout.offset(of: marker) != nil || $0.status != nil }),
        let line = server.current.stdoutText.split(separator: "\n").first(where: { $0.contains("listening on ") }),
        let address = line.split(separator: " ").first(where: { $0.hasPrefix("127.0.0.1:") || $0.hasPrefix("unix:") || $0.hasPrefix("/") })
    else {
        server.stop()
        throw InteropFailure(description: "the server did not start:\n\(server.transcript)")
    }
    return (server, String(address))
}

/// The client with `arguments`; its exit status and everything it printed.
private func runClient(_ arguments: [String]) throws -> (Int32?, String) {
    let client = try ExternalPeer(try ipcEchoPath(), ["client"] + arguments)
    let status = client.waitForExit(seconds: 60)
    client.stop()
    return (status, client.transcript)
}

/// `ipc-echo`'s command line as independent clients and peers use it: servers on TCP, TLS and Unix
/// sockets, clients direct and through SOCKS5 and HTTP CONNECT proxies, a non-zero exit on any error.
@Suite("ipc-echo command line", .serialized)
struct IPCEchoCommandTests {
    @Test("server --port 0 and client --connect: 2,000 round trips, exit 0; the server stops cleanly on SIGTERM")
    func plainRoundTrips() throws {
        let (server, address) = try startEchoServer(["--port", "0"])
        defer { server.stop() }
        let (status, transcript) = try runClient(["--connect", address, "--count", "2000"])
        #expect(status == 0, "\(transcript)")
        #expect(transcript.contains("summary: 2000 round trips"), "\(transcript)")
        #expect(transcript.contains("0 errors"), "\(transcript)")
        server.stop()
        #expect(server.current.status == 0, "\(server.transcript)")
    }

    @Test("a client that cannot connect exits non-zero at once, naming the cause")
    func unreachableServer() throws {
        let port = try #require(freeLoopbackPort())
        let started = ContinuousClock.now
        let (status, transcript) = try runClient(["--connect", "127.0.0.1:\(port)"])
        #expect(status == 1, "\(transcript)")
        #expect(transcript.contains("cannot connect to 127.0.0.1:\(port): stream: connection refused"), "\(transcript)")
        #expect(ContinuousClock.now - started < .seconds(30), "it stops at the first error instead of trying 100,000 requests")
    }

    @Test("server --tls with a certificate made for the run: a client trusting it succeeds, one that does not fails")
    func tls() throws {
        let (server, address) = try startEchoServer(["--tls"])
        defer { server.stop() }
        let pem = try #require(
            server.current.stdoutText.split(whereSeparator: \.isWhitespace).first { $0.hasSuffix(".pem") }.map(String.init),
            "\(server.transcript)")
        let (trusted, trustedTranscript) = try runClient(["--connect", address, "--tls", "--ca", pem, "--count", "500"])
        #expect(trusted == 0, "\(trustedTranscript)")
        #expect(trustedTranscript.contains("summary: 500 round trips"), "\(trustedTranscript)")
        let (untrusted, untrustedTranscript) = try runClient(["--connect", address, "--tls", "--count", "10"])
        #expect(untrusted == 1, "\(untrustedTranscript)")
        #expect(untrustedTranscript.contains("certificate"), "\(untrustedTranscript)")
    }

    @Test("server --unix and client --unix")
    func unixSocket() throws {
        let path = "/tmp/ipc-echo-test-\(getpid()).sock"
        let (server, _) = try startEchoServer(["--unix", path])
        defer { server.stop() }
        let (status, transcript) = try runClient(["--unix", path, "--count", "1000"])
        #expect(status == 0, "\(transcript)")
        #expect(transcript.contains("summary: 1000 round trips"), "\(transcript)")
    }

    @Test("client --socks5 through microsocks and --http-proxy through tinyproxy")
    func throughProxies() throws {
        let (server, address) = try startEchoServer()
        defer { server.stop() }
        let (socks, socksPort) = try startMicrosocks()
        defer { socks.stop() }
        let (viaSocks, socksTranscript) = try runClient(
            ["--connect", address, "--socks5", "127.0.0.1:\(socksPort)", "--count", "200"])
        #expect(viaSocks == 0, "\(socksTranscript)")
        #expect(socksTranscript.contains("summary: 200 round trips"), "\(socksTranscript)")
        let serverPort = try #require(address.split(separator: ":").last.flatMap { UInt16($0) })
        let (http, httpPort, directory) = try startTinyproxy(connectPorts: [serverPort])
        defer {
            http.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
        let (viaHTTP, httpTranscript) = try runClient(
            ["--connect", address, "--http-proxy", "127.0.0.1:\(httpPort)", "--count", "200"])
        #expect(viaHTTP == 0, "\(httpTranscript)")
        #expect(httpTranscript.contains("summary: 200 round trips"), "\(httpTranscript)")
    }
}
