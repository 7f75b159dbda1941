import CSolidLinux
import Dispatch
import Foundation
import Glibc
import SolidIPC
import SolidIPCTLS
import Testing

// Our TLS stream against TLS implementations nobody on the team wrote: OpenSSL's `s_server` / `s_client`
// and GnuTLS's `gnutls-serv` / `gnutls-cli`, started by each test on 127.0.0.1 with a free port, fed on
// stdin and read back on stdout. Every process is stopped (and waited for) before its test returns.

private let opensslPath = "/usr/bin/openssl"
private let gnutlsServerPath = "/usr/bin/gnutls-serv"
private let gnutlsClientPath = "/usr/bin/gnutls-cli"

/// The tools are Debian packages (openssl, gnutls-bin); a machine without them skips their tests.
private let haveOpenSSL = FileManager.default.isExecutableFile(atPath: opensslPath)
private let haveGnuTLS =
    FileManager.default.isExecutableFile(atPath: gnutlsServerPath)
    && FileManager.default.isExecutableFile(atPath: gnutlsClientPath)


// MARK: - External processes (Support/ExternalPeer.swift)

extension ExternalPeer {
    /// `openssl s_server` on 127.0.0.1, ready once it printed ACCEPT (it exits when the port is taken).
    static func opensslServer(_ arguments: [String]) throws -> (ExternalPeer, UInt16) {
        try startServer(
            opensslPath, arguments: { ["s_server", "-accept", "127.0.0.1:\($0)"] + arguments },
            ready: { output, _ in output.stdout.offset(of: Array("ACCEPT\n".utf8)) != nil },
            failed: { output, _ in output.status != nil })
    }

    /// `gnutls-serv` (it has no option to choose the address: it listens on every interface, IPv4 and
    /// IPv6, of this machine; only 127.0.0.1 is ever connected to). A taken port does not end it: it says so.
    static func gnutlsServer(_ arguments: [String]) throws -> (ExternalPeer, UInt16) {
        try startServer(
            gnutlsServerPath, arguments: { ["-p", "\($0)"] + arguments },
            ready: { output, port in output.stderrText.contains("IPv4 0.0.0.0 port \(port)...done") },
            failed: { output, port in output.stderrText.contains("IPv4 0.0.0.0 port \(port)...bind() failed") })
    }
}


// MARK: - Payloads

/// `nil` when `got` is `expected` byte for byte, else where they part. (Swift Testing's own diff of two
/// large arrays that differ takes minutes: compare here, report the first difference.)
private func mismatch(_ got: [UInt8], _ expected: [UInt8]) -> String? {
    if got == expected { return nil }
    let common = zip(got, expected).prefix { $0 == $1 }.count
    let text = { (bytes: ArraySlice<UInt8>) in
        bytes.prefix(24).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ") + (bytes.count > 24 ? " …" : "")
    }
    return "\(got.count) bytes where \(expected.count) were expected; from offset \(common): "
        + "[\(text(got[common...]))] instead of [\(text(expected[common...]))]"
}

/// Binary bytes, every value from 0 to 255 (for peers that pass bytes through untouched).
private func binaryPayload(_ count: Int, seed: UInt32) -> [UInt8] {
    var state = seed | 1
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 17
        state ^= state << 5
        return UInt8(truncatingIfNeeded: state)
    }
}

/// Lines of printable ASCII, for peers that work on text: no NUL, no CR (gnutls-serv's echo turns CR LF
/// into LF and stops at a NUL) and no `Q`/`q` (a chunk that s_server reads from its stdin starting with
/// one of those is its quit command).
private func textPayload(lines: Int, tag: String) -> [UInt8] {
    let alphabet = Array(" !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPRSTUVWXYZ[\\]^_`abcdefghijklmnoprstuvwxyz{|}~".utf8)
    var bytes: [UInt8] = []
    for line in 0..<lines {
        bytes += Array("\(tag) \(String(line + 10000).dropFirst()): ".utf8)
        for column in 0..<(20 + line % 60) { bytes.append(alphabet[(line * 7 + column * 3) % alphabet.count]) }
        bytes.append(UInt8(ascii: "\n"))
    }
    return bytes
}

// MARK: - Our client

/// Our TLS client on `reactor`, connected to 127.0.0.1:`port`, recording everything it sees.
private final class InteropClient: @unchecked Sendable {
    // @unchecked: `stream` is only touched on `reactor`; the record is locked.
    struct Record: Sendable {
        var security: SecurityInfo?
        var received: [UInt8] = []
        /// `receivedCloseNotify` when `onEndOfInput` ran (the stream closes itself then).
        var endOfInput: [Bool] = []
        /// What `onClose` got, and whether our `close_notify` had gone out by then.
        var closes: [StreamError?] = []
        var sentCloseNotifyAtClose: Bool?
        var setupFailure: String?
    }

    let log = EventLog()
    private let record = Lock<Record>(Record())
    private let reactor: Reactor
    private var stream: TLSStream?

    init(on reactor: Reactor, transport: TLSTransport, port: UInt16, serverName: String? = "localhost") {
        self.reactor = reactor
        let log = log
        let record = record
        _ = reactor.execute { [self] in
            SocketStream.connect(to: .loopbackV4(port: port), on: reactor) { result in
                let plain: SocketStream
                switch result {
                case .failure(let error):
                    record.withLock { $0.setupFailure = "connect: \(error)" }
                    log.add("connect failed")
                    return
                case .success(let stream):
                    plain = stream
                }
                do {
                    let stream = try transport.makeClient(over: plain, serverName: serverName)
                    stream.onHandshake = { info in
                        record.withLock { $0.security = info }
                        log.add("handshake")
                    }
                    stream.onRead = { bytes in
                        record.withLock { $0.received.append(contentsOf: bytes) }
                        log.add("read")
                    }
                    stream.onEndOfInput = { [unowned stream] in
                        record.withLock { $0.endOfInput.append(stream.receivedCloseNotify) }
                        log.add("end of input")
                        stream.close()
                    }
                    stream.onClose = { [unowned stream] error in
                        let sent = stream.sentCloseNotify
                        record.withLock {
                            $0.closes.append(error)
                            $0.sentCloseNotifyAtClose = sent
                        }
                        log.add("closed")
                    }
                    self.stream = stream
                } catch {
                    record.withLock { $0.setupFailure = "makeClient: \(error)" }
                    log.add("setup failed")
                    plain.close()
                }
            }
        }
    }

    var current: Record { record.withLock { $0 } }

    /// Waits until `predicate` holds for the record, at most `seconds`.
    func wait(seconds: Double = stepTimeout, until predicate: (Record) -> Bool) -> Bool {
        let record = record
        return log.wait(seconds: seconds) { _ in record.withLock { predicate($0) } }
    }

    /// Waits for the handshake (or a failure) and returns what it established.
    func handshake() -> SecurityInfo? {
        _ = wait { $0.security != nil || !$0.closes.isEmpty || $0.setupFailure != nil }
        return current.security
    }

    func write(_ bytes: [UInt8]) {
        let log = log
        _ = reactor.execute { [self] in
            guard let stream else { return log.add("write without a stream") }
            stream.write(bytes) { error in log.add("write done \(error.map { "\($0)" } ?? "ok")") }
        }
    }

    /// close_notify (when it can go at once), then the socket closes.
    func close() { _ = reactor.execute { [self] in stream?.close() } }

    /// close_notify and a FIN; reading goes on until the peer's close_notify.
    func shutdownWrite() { _ = reactor.execute { [self] in stream?.shutdownWrite() } }

    /// Drops the stream on its reactor (closing it if it is still open); bounded.
    func finish() {
        let latch = DispatchSemaphore(value: 0)
        _ = reactor.execute { [self] in
            stream?.close()
            stream = nil
            latch.signal()
        }
        _ = latch.wait(timeout: .now() + 10)
    }
}

/// Closes every server stream of `pair` (close_notify, then the socket), on its reactor; bounded.
private func closeServerStreams(_ pair: TLSPair) {
    let latch = DispatchSemaphore(value: 0)
    _ = pair.group.reactors[0].execute {
        for stream in pair.servers { stream.close() }
        latch.signal()
    }
    _ = latch.wait(timeout: .now() + 10)
}

// MARK: - Tests

@Suite("TLS interop with OpenSSL's and GnuTLS's command-line tools", .serialized)
struct TLSInteropTests {
    let fixture = TLSFixture.shared

    // MARK: our client → openssl s_server

    @Test(
        "our client ↔ openssl s_server: the version asked for, 100 KB binary up, 25 KB of text down, s_server sees our close_notify",
        .enabled(if: haveOpenSSL), arguments: ["TLSv1.3", "TLSv1.2"], [false, true])
    func clientToOpenSSLServer(version: String, halfClose: Bool) throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let versionFlag = version == "TLSv1.3" ? "-tls1_3" : "-tls1_2"
        // Plain s_server: what it reads goes to its stdout, its stdin goes to the client. On the client's
        // close_notify it prints DONE, answers with its own close_notify and (-naccept 1) exits.
        let (server, port) = try ExternalPeer.opensslServer([
            "-cert", fixture.path("server.pem"), "-key", fixture.path("server.key"), versionFlag, "-naccept", "1",
        ])
        defer { server.stop() }
        let client = InteropClient(on: group.reactors[1], transport: try fixture.clientTransport(), port: port)
        defer { client.finish() }

        let info = try #require(client.handshake(), "\(client.current) \(server.transcript)")
        #expect(info.protocolVersion == version)
        #expect(info.peerCommonName == "echo-server")
        #expect(info.peerVerified)
        #expect(info.peerDNSNames == ["localhost", "echo-server"])
        #expect(info.sessionResumed == false)

        // Up: binary bytes through our stream, out of s_server's stdout unchanged.
        let up = binaryPayload(100_000, seed: 0x5EED_0001)
        client.write(up)
        #expect(server.wait { $0.stdout.offset(of: up) != nil }, "\(server.transcript.suffix(2000))")
        #expect(client.log.wait { $0.contains("write done ok") })

        // Down: s_server's stdin, through its TLS, out of our stream unchanged.
        let down = textPayload(lines: 400, tag: "s_server")
        #expect(server.send(down), "\(server.transcript)")
        #expect(client.wait { $0.received.count >= down.count }, "\(client.current.received.count) of \(down.count)")
        #expect(mismatch(client.current.received, down) == nil)

        // Our close_notify: s_server's "DONE" (SSL_read said close_notify; a bare FIN prints "ERROR").
        if halfClose {
            client.shutdownWrite()
            // s_server answers with its close_notify: end of input for us, then a clean close.
            #expect(client.wait { !$0.closes.isEmpty }, "\(server.transcript)")
            #expect(client.current.endOfInput == [true])
        } else {
            client.close()
            #expect(client.wait { !$0.closes.isEmpty })
            #expect(client.current.endOfInput == [])
        }
        #expect(client.current.closes == [nil])
        #expect(client.current.sentCloseNotifyAtClose == true)
        #expect(server.waitForExit() == 0, "\(server.transcript)")
        let output = server.current
        let end = try #require(output.stdout.offset(of: up)) + up.count
        #expect(String(decoding: output.stdout[end...], as: UTF8.self).hasPrefix("DONE\nshutting down SSL\nCONNECTION CLOSED\n"), "\(server.transcript)")
        #expect(!String(decoding: output.stdout[end...], as: UTF8.self).contains("ERROR"))
        #expect(!output.stderrText.contains("unexpected eof"), "\(output.stderrText)")
        // Nothing more happens to our stream afterwards.
        #expect(client.current.closes.count == 1)
    }

    @Test(
        "openssl s_server -rev reverses our lines; its CLOSE ends the stream with close_notify; killed, it truncates → closedWithoutCloseNotify",
        .enabled(if: haveOpenSSL))
    func clientToOpenSSLReverser() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, port) = try ExternalPeer.opensslServer([
            "-cert", fixture.path("server.pem"), "-key", fixture.path("server.key"), "-rev", "-naccept", "2",
        ])
        defer { server.stop() }
        let transport = try fixture.clientTransport()

        // First connection: reversed lines, then s_server's own close (its "CLOSE" command).
        do {
            let client = InteropClient(on: group.reactors[1], transport: transport, port: port)
            defer { client.finish() }
            #expect(try #require(client.handshake(), "\(server.transcript)").protocolVersion == "TLSv1.3")
            let text = textPayload(lines: 300, tag: "rev")
            var expected: [UInt8] = []
            for line in text.split(separator: UInt8(ascii: "\n")) { expected += line.reversed() + [UInt8(ascii: "\n")] }
            // Sent in uneven pieces, so lines are split across our writes (and records).
            var offset = 0
            var piece = 1
            while offset < text.count {
                let end = min(text.count, offset + piece)
                client.write(Array(text[offset..<end]))
                offset = end
                piece = piece * 3 + 7
            }
            #expect(client.wait { $0.received.count >= expected.count }, "\(client.current.received.count) of \(expected.count)")
            #expect(mismatch(client.current.received, expected) == nil)

            client.write(Array("CLOSE\n".utf8))
            #expect(client.wait { !$0.closes.isEmpty }, "\(server.transcript)")
            #expect(client.current.endOfInput == [true])
            #expect(client.current.closes == [nil])
            #expect(mismatch(client.current.received, expected) == nil)
            #expect(server.waitForStderr("CONNECTION CLOSED"), "\(server.transcript)")
        }

        // Second connection: a line round trip, then s_server dies: its kernel sends a FIN with no
        // close_notify before it, which must not pass for an end of input.
        let client = InteropClient(on: group.reactors[1], transport: transport, port: port)
        defer { client.finish() }
        let info = try #require(client.handshake(), "\(server.transcript)")
        #expect(info.sessionResumed, "the ticket from the first connection")
        client.write(Array("abc\n".utf8))
        #expect(client.wait { $0.received.count >= 4 })
        #expect(mismatch(client.current.received, Array("cba\n".utf8)) == nil)
        server.kill()
        #expect(client.wait { !$0.closes.isEmpty }, "\(server.transcript)")
        #expect(client.current.closes == [.tls(.closedWithoutCloseNotify)])
        #expect(client.current.endOfInput == [])
    }

    @Test(
        "our client → openssl s_server with a certificate from a CA we do not trust: certificateUntrusted (X509_V_ERR 20)",
        .enabled(if: haveOpenSSL))
    func untrustedOpenSSLServer() throws {
        let stranger = try CertificateAuthority(commonName: "Interop stranger CA")
        let certificate = try stranger.issue(commonName: "echo-server", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
        var template = Array("/tmp/solid-tls-interop-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw InteropFailure(description: "mkdtemp: errno \(errno)") }
        let directory = String(cString: made)
        let certificatePath = "\(directory)/stranger.pem"
        let keyPath = "\(directory)/stranger.key"
        defer {
            unlink(certificatePath)
            unlink(keyPath)
            rmdir(directory)
        }
        try Data(certificate.certificatePEM).write(to: URL(fileURLWithPath: certificatePath))
        try Data(certificate.privateKeyPEM).write(to: URL(fileURLWithPath: keyPath))

        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, port) = try ExternalPeer.opensslServer(["-cert", certificatePath, "-key", keyPath, "-naccept", "1"])
        defer { server.stop() }
        let client = InteropClient(on: group.reactors[1], transport: try fixture.clientTransport(), port: port)
        defer { client.finish() }

        #expect(client.wait { !$0.closes.isEmpty }, "\(server.transcript)")
        let record = client.current
        #expect(record.security == nil)
        #expect(
            record.closes == [
                .tls(.certificateUntrusted(CertificateVerifyError(code: 20, reason: "unable to get local issuer certificate", depth: 0)))
            ], "\(record.closes)")
        // Our side told s_server why: the unknown_ca alert (48).
        #expect(server.waitForStderr("SSL alert number 48"), "\(server.transcript)")
        #expect(server.current.stderrText.contains("alert unknown ca"))
    }

    @Test(
        "trust roots from a hashed directory (openssl rehash) verify s_server; minimumVersion .tls13 refuses a TLS 1.2-only s_server",
        .enabled(if: haveOpenSSL))
    func trustDirectoryAndMinimumVersion() throws {
        var template = Array("/tmp/solid-tls-dir-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw InteropFailure(description: "mkdtemp: errno \(errno)") }
        let directory = String(cString: made)
        try Data(fixture.authority.certificatePEM).write(to: URL(fileURLWithPath: "\(directory)/ca.pem"))
        let rehash = Process()
        rehash.executableURL = URL(fileURLWithPath: opensslPath)
        rehash.arguments = ["rehash", directory]
        try rehash.run()
        rehash.waitUntilExit()
        #expect(rehash.terminationStatus == 0)
        defer {
            if let names = try? FileManager.default.contentsOfDirectory(atPath: directory) {
                for name in names { unlink("\(directory)/\(name)") }
            }
            rmdir(directory)
        }
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let serverArguments = ["-cert", fixture.path("server.pem"), "-key", fixture.path("server.key"), "-naccept", "1"]
        let (server, port) = try ExternalPeer.opensslServer(serverArguments)
        defer { server.stop() }
        let fromDirectory = try TLSTransport(client: {
            var configuration = TLSConfiguration()
            configuration.trustRoots = .directory(directory)
            return configuration
        }())
        let client = InteropClient(on: group.reactors[1], transport: fromDirectory, port: port)
        defer { client.finish() }
        let info = try #require(client.handshake(), "\(client.current) \(server.transcript)")
        #expect(info.peerVerified && info.peerCommonName == "echo-server")

        let (old, oldPort) = try ExternalPeer.opensslServer(serverArguments + ["-tls1_2"])
        defer { old.stop() }
        let strict = InteropClient(on: group.reactors[1], transport: try fixture.clientTransport { $0.minimumVersion = .tls13 }, port: oldPort)
        defer { strict.finish() }
        #expect(strict.wait { !$0.closes.isEmpty }, "\(old.transcript)")
        #expect(strict.current.security == nil)
        let closed = strict.current.closes.first.map { "\($0)" } ?? ""
        #expect(closed.contains("alert protocol version") || closed.contains("unsupported protocol"), "\(closed)")
    }

    // MARK: openssl s_client → our server

    @Test(
        "openssl s_client (verifying chain and name) → our echo server: 64 KiB binary echoed, our close_notify ends it with status 0",
        .enabled(if: haveOpenSSL), arguments: ["TLSv1.3", "TLSv1.2"])
    func openSSLClientToServer(version: String) throws {
        let pair = try TLSPair.start(server: try fixture.serverTransport())
        defer { pair.stopAll() }
        let client = try ExternalPeer(opensslPath, [
            "s_client", "-connect", "127.0.0.1:\(pair.port)", "-servername", "localhost", "-verify_hostname", "localhost",
            "-CAfile", fixture.path("ca.pem"), "-verify_return_error", "-quiet", "-nocommands",
            version == "TLSv1.3" ? "-tls1_3" : "-tls1_2",
        ])
        defer { client.stop() }

        #expect(pair.log.wait { $0.contains("server handshake \(version) peer - verified false") }, "\(pair.log.all) \(client.transcript)")
        // -quiet: stdout is exactly what came through TLS.
        let payload = binaryPayload(64 * 1024, seed: 0x5EED_0002)
        #expect(client.send(payload), "\(client.transcript)")
        #expect(client.wait { $0.stdout.count >= payload.count }, "\(client.current.stdout.count) of \(payload.count)\n\(client.transcript.suffix(1500))")
        #expect(mismatch(client.current.stdout, payload) == nil)
        #expect(client.current.stderrText.contains("verify return:1"))

        // Our close_notify: s_client's SSL_read returns 0 and it exits with 0 (stdin still open).
        closeServerStreams(pair)
        #expect(client.waitForExit() == 0, "\(client.transcript)")
        #expect(pair.log.wait { $0.contains("server closed cleanly") }, "\(pair.log.all)")
        #expect(!client.current.stderrText.contains("error"), "\(client.current.stderrText)")
        #expect(pair.log.all.filter { $0.hasPrefix("server closed") } == ["server closed cleanly"])
    }

    @Test(
        "mutual TLS with openssl s_client: with -cert our server verifies echo-client; without, peerCertificateMissing and s_client sees alert 116",
        .enabled(if: haveOpenSSL))
    func openSSLClientMutualTLS() throws {
        let pair = try TLSPair.start(server: try fixture.serverTransport { $0.clientCertificates = .required })
        defer { pair.stopAll() }
        let common = [
            "s_client", "-connect", "127.0.0.1:\(pair.port)", "-servername", "localhost", "-verify_hostname", "localhost",
            "-CAfile", fixture.path("ca.pem"), "-verify_return_error", "-quiet", "-nocommands",
        ]

        // With a certificate: accepted, named and verified.
        do {
            let client = try ExternalPeer(opensslPath, common + ["-cert", fixture.path("client.pem"), "-key", fixture.path("client.key")])
            defer { client.stop() }
            #expect(pair.log.wait { $0.contains("server handshake TLSv1.3 peer echo-client verified true") }, "\(pair.log.all) \(client.transcript)")
            let line = Array("mutual TLS from openssl s_client\n".utf8)
            #expect(client.send(line), "\(client.transcript)")
            #expect(client.wait { $0.stdout.count >= line.count }, "\(client.transcript)")
            #expect(mismatch(client.current.stdout, line) == nil)
            closeServerStreams(pair)
            #expect(client.waitForExit() == 0, "\(client.transcript)")
            #expect(pair.log.wait { $0.contains("server closed cleanly") }, "\(pair.log.all)")
        }

        // Without one: TLS 1.3 lets the client finish its handshake; our server rejects the empty
        // Certificate with certificate_required, which s_client reports when it reads.
        let client = try ExternalPeer(opensslPath, common)
        defer { client.stop() }
        let expected = "server closed \(StreamError.tls(.peerCertificateMissing))"
        #expect(pair.log.wait { $0.contains(expected) }, "\(pair.log.all) \(client.transcript)")
        #expect(client.waitForExit() == 1, "\(client.transcript)")
        #expect(client.current.stderrText.contains("tlsv13 alert certificate required"), "\(client.transcript)")
        #expect(client.current.stderrText.contains("SSL alert number 116"))
        #expect(client.current.stdout.isEmpty)
        #expect(pair.log.all.filter { $0.hasPrefix("server handshake") }.count == 1, "\(pair.log.all)")
    }

    // MARK: our client → gnutls-serv

    @Test(
        "our client ↔ gnutls-serv --echo: 33 KB of text echoed; our close_notify answered with GnuTLS's",
        .enabled(if: haveGnuTLS), arguments: ["TLSv1.3", "TLSv1.2"])
    func clientToGnuTLSServer(version: String) throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let priority = version == "TLSv1.3" ? "NORMAL:-VERS-ALL:+VERS-TLS1.3" : "NORMAL:-VERS-ALL:+VERS-TLS1.2"
        let (server, port) = try ExternalPeer.gnutlsServer([
            "--echo", "--x509certfile", fixture.path("server.pem"), "--x509keyfile", fixture.path("server.key"),
            "--priority", priority,
        ])
        defer { server.stop() }
        let client = InteropClient(on: group.reactors[1], transport: try fixture.clientTransport(), port: port)
        defer { client.finish() }

        let info = try #require(client.handshake(), "\(client.current) \(server.transcript)")
        #expect(info.protocolVersion == version)
        #expect(info.peerCommonName == "echo-server")
        #expect(info.peerVerified)

        // gnutls-serv echoes line by line; write in pieces that cut lines.
        let text = textPayload(lines: 500, tag: "gnutls-serv")
        let half = text.count / 2 + 13
        client.write(Array(text[..<half]))
        client.write(Array(text[half...]))
        #expect(client.wait { $0.received.count >= text.count }, "\(client.current.received.count) of \(text.count)\n\(server.transcript.suffix(1500))")
        #expect(mismatch(client.current.received, text) == nil)

        client.shutdownWrite()
        #expect(client.wait { !$0.closes.isEmpty }, "\(server.transcript)")
        #expect(client.current.endOfInput == [true])
        #expect(client.current.closes == [nil])
        #expect(mismatch(client.current.received, text) == nil)
        #expect(server.current.status == nil, "gnutls-serv keeps serving")
    }

    // MARK: gnutls-cli → our server

    @Test(
        "gnutls-cli (verifying chain and name) → our echo server: text echoed, clean close started by either side",
        .enabled(if: haveGnuTLS), arguments: ["our server", "gnutls-cli"])
    func gnuTLSClientToServer(closer: String) throws {
        let pair = try TLSPair.start(server: try fixture.serverTransport())
        defer { pair.stopAll() }
        let client = try ExternalPeer(gnutlsClientPath, [
            "--x509cafile", fixture.path("ca.pem"), "-p", "\(pair.port)", "--verify-hostname", "localhost",
            "--sni-hostname", "localhost", "127.0.0.1",
        ])
        defer { client.stop() }

        let marker = "- Simple Client Mode:\n\n"
        #expect(client.waitForStdout(marker), "\(client.transcript)")
        #expect(client.current.stdoutText.contains("- Status: The certificate is trusted."), "\(client.transcript)")
        #expect(pair.log.wait { $0.contains("server handshake TLSv1.3 peer - verified false") }, "\(pair.log.all)")

        let text = textPayload(lines: 300, tag: "gnutls-cli")
        #expect(client.send(text), "\(client.transcript)")
        let expectedStdout = Array(marker.utf8) + text
        #expect(client.wait { $0.stdout.offset(of: expectedStdout) != nil }, "\(client.transcript.suffix(1500))")

        if closer == "our server" {
            closeServerStreams(pair)
        } else {
            // End of its stdin: gnutls-cli sends close_notify and waits for ours.
            client.closeInput()
            #expect(pair.log.wait { $0.contains("server end of input close_notify true") }, "\(pair.log.all)")
        }
        #expect(client.waitForExit() == 0, "\(client.transcript)")
        #expect(pair.log.wait { $0.contains("server closed cleanly") }, "\(pair.log.all)")
        let stdout = client.current.stdout
        let start = try #require(stdout.offset(of: expectedStdout))
        // After the echo, only GnuTLS's report of our close_notify.
        #expect(mismatch(Array(stdout[start...]), expectedStdout + Array("- Peer has closed the GnuTLS connection\n".utf8)) == nil)
        #expect(pair.log.all.filter { $0.hasPrefix("server closed") } == ["server closed cleanly"])
    }
}
