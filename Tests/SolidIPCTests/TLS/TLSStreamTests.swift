import Dispatch
import Glibc
import SolidIPC
import SolidIPCTLS
import Testing

/// Runs one TLS server stream and one TLS client stream over loopback TCP, on two reactors, and records
/// what each side sees. The server echoes what it reads.
final class TLSPair: @unchecked Sendable {
    // @unchecked: the streams live on their reactors; tests only read the logs (locked).
    let group: ReactorGroup
    let log = EventLog()
    private var listener: SocketListener?
    private(set) var port: UInt16 = 0

    init(group: ReactorGroup, server: TLSTransport, echo: Bool = true) throws {
        self.group = group
        let reactor = group.reactors[0]
        let log = self.log
        let bound = Lock<UInt16>(0)
        let latch = DispatchSemaphore(value: 0)
        _ = reactor.execute { [self] in
            listener = try! SocketListener(address: .loopbackV4(), on: reactor) { accepted in
                guard let plain = try? SocketStream(adopting: accepted, on: reactor) else { return }
                do {
                    let stream = try server.makeServer(over: plain)
                    stream.onHandshake = { info in log.add("server handshake \(info.protocolVersion) peer \(info.peerCommonName ?? "-") verified \(info.peerVerified)") }
                    stream.onRead = { [unowned stream] bytes in
                        if echo { stream.write(Array(bytes)) }
                    }
                    stream.onEndOfInput = { [unowned stream] in
                        log.add("server end of input close_notify \(stream.receivedCloseNotify)")
                        stream.close()
                    }
                    stream.onClose = { error in log.add("server closed \(error.map { "\($0)" } ?? "cleanly")") }
                    self.servers.append(stream)
                } catch {
                    log.add("server setup failed \(error)")
                }
            }
            bound.withLock { $0 = listener!.localAddress.port }
            latch.signal()
        }
        latch.wait()
        port = bound.withLock { $0 }
    }

    /// Server streams, kept so a test can inspect them (reactor 0 only).
    var servers: [TLSStream] = []

    /// Connects a TLS client to the server; `onOpen` runs on reactor 1 with the stream once TCP connected.
    func connect(
        _ client: TLSTransport, serverName: String? = "localhost", address: SocketAddress? = nil,
        onOpen: @escaping @Sendable (TLSStream) -> Void = { _ in }
    ) {
        let reactor = group.reactors[1]
        let log = self.log
        let target = address ?? .loopbackV4(port: port)
        _ = reactor.execute {
            SocketStream.connect(to: target, on: reactor) { result in
                guard case .success(let plain) = result else { return log.add("client connect failed") }
                do {
                    let stream = try client.makeClient(over: plain, serverName: serverName)
                    stream.onHandshake = { info in log.add("client handshake \(info.protocolVersion) resumed \(info.sessionResumed) peer \(info.peerCommonName ?? "-")") }
                    stream.onClose = { error in log.add("client closed \(error.map { "\($0)" } ?? "cleanly")") }
                    onOpen(stream)
                } catch {
                    log.add("client setup failed \(error)")
                    plain.close()
                }
            }
        }
    }

    /// A new two-reactor group with a pair on it; ``stopAll()`` ends both.
    static func start(server: TLSTransport) throws -> TLSPair {
        try TLSPair(group: try ReactorGroup(threads: 2), server: server)
    }

    /// Stops the pair and shuts its group down.
    func stopAll() {
        stop()
        group.shutdown()
    }

    func stop() {
        let latch = DispatchSemaphore(value: 0)
        _ = group.reactors[0].execute { [self] in
            listener?.close()
            for stream in servers { stream.close() }
            servers.removeAll()
            latch.signal()
        }
        latch.wait()
    }
}

/// The first client error in the log (what the client's stream closed with).
private func closeError(_ log: EventLog, side: String) -> String? {
    log.all.first { $0.hasPrefix("\(side) closed") }
}

@Suite("TLS stream over loopback", .serialized)
struct TLSStreamTests {
    let fixture = TLSFixture.shared

    @Test("handshake, 1 MiB echoed through TLS in both directions, close_notify seen by the server")
    func echoAndCloseNotify() throws {
        let pair = try TLSPair.start(server: try fixture.serverTransport())
        defer { pair.stopAll() }
        let payload = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let received = Lock<[UInt8]>([])
        let log = pair.log
        pair.connect(try fixture.clientTransport()) { stream in
            stream.onRead = { [unowned stream] bytes in
                let count = received.withLock { $0.append(contentsOf: bytes); return $0.count }
                if count == payload.count {
                    log.add("client got everything")
                    stream.shutdownWrite()  // close_notify, then FIN
                }
            }
            stream.onEndOfInput = { [unowned stream] in
                log.add("client end of input close_notify \(stream.receivedCloseNotify)")
                stream.close()
            }
            stream.write(payload) { error in log.add("client write done \(error.map { "\($0)" } ?? "ok")") }
        }
        #expect(log.wait { $0.contains("client end of input close_notify true") })
        let got = received.withLock { $0 }
        // Compared outside #expect: a failing comparison of 1 MiB arrays takes minutes to report.
        #expect(got.count == payload.count)
        #expect(got == payload ? true : false, "first difference at \(zip(got, payload).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1)")
        let entries = log.all
        #expect(entries.contains("client handshake TLSv1.3 resumed false peer echo-server"))
        #expect(entries.contains("server handshake TLSv1.3 peer - verified false"))
        #expect(entries.contains("client write done ok"))
        #expect(entries.contains("server end of input close_notify true"))
        #expect(log.wait { $0.contains("client closed cleanly") && $0.contains("server closed cleanly") })
        // Nothing else arrives later.
        usleep(100_000)
        #expect(log.all.filter { $0.contains("closed") }.count == 2)
    }

    @Test("an untrusted server certificate fails with certificateUntrusted (X509_V_ERR 20), the server sees the alert")
    func untrusted() throws {
        let pair = try TLSPair.start(server: try TLSTransport(server: fixture.serverConfiguration(fixture.strangerServer)))
        defer { pair.stopAll() }
        pair.connect(try fixture.clientTransport())
        #expect(pair.log.wait { entries in entries.contains { $0.hasPrefix("client closed") } && entries.contains { $0.hasPrefix("server closed") } })
        let client = closeError(pair.log, side: "client") ?? ""
        #expect(client.hasPrefix("client closed peer certificate untrusted: unable to get local issuer certificate (X509_V_ERR 20 at depth 0)"), "\(client)")
        #expect(closeError(pair.log, side: "server")?.contains("alert unknown ca") == true, "\(pair.log.all)")
    }

    @Test("a wrong host name fails with hostNameMismatch; an IP the certificate lacks too; the right IP works")
    func hostNames() throws {
        let pair = try TLSPair.start(server: try fixture.serverTransport())
        defer { pair.stopAll() }
        let transport = try fixture.clientTransport()
        let errors = Lock<[TLSError]>([])
        let opened = Lock<Int>(0)
        for name in ["not-the-server.example", "10.1.2.3", "127.0.0.1"] {
            pair.connect(transport, serverName: name) { stream in
                let onClose = stream.onClose
                stream.onClose = { error in
                    if case .tls(let tls)? = error { errors.withLock { $0.append(tls) } }
                    onClose?(error)
                }
                stream.onHandshake = { _ in opened.withLock { $0 += 1 } }
            }
        }
        #expect(waitUntil { errors.withLock { $0.count } == 2 && opened.withLock { $0 } == 1 })
        let found = errors.withLock { $0 }
        #expect(found.contains { if case .hostNameMismatch("not-the-server.example", let cause) = $0 { cause.code == 62 } else { false } })
        #expect(found.contains { if case .hostNameMismatch("10.1.2.3", let cause) = $0 { cause.code == 64 } else { false } })
    }

    @Test("an expired server certificate fails with certificateExpired (X509_V_ERR 10)")
    func expired() throws {
        let pair = try TLSPair.start(server: try TLSTransport(server: fixture.serverConfiguration(fixture.expiredServer)))
        defer { pair.stopAll() }
        pair.connect(try fixture.clientTransport())
        #expect(pair.log.wait { $0.contains { $0.hasPrefix("client closed") } })
        #expect(closeError(pair.log, side: "client")?.contains("expired or not yet valid: certificate has expired (X509_V_ERR 10 at depth 0)") == true, "\(pair.log.all)")
    }

    @Test("mutual TLS: no client certificate → server peerCertificateMissing, client certificateRequired; with one the server sees its name")
    func mutualTLS() throws {
        let pair = try TLSPair.start(server: try fixture.serverTransport { $0.clientCertificates = .required })
        defer { pair.stopAll() }
        // The client writes nothing: data the server never reads would make its close a reset, which can
        // discard the alert before the client reads it.
        pair.connect(try fixture.clientTransport())
        #expect(pair.log.wait { entries in entries.contains { $0.hasPrefix("client closed") } && entries.contains { $0.hasPrefix("server closed") } })
        #expect(closeError(pair.log, side: "server") == "server closed the peer sent no certificate (required)", "\(pair.log.all)")
        #expect(closeError(pair.log, side: "client") == "client closed the peer requires a certificate from this side", "\(pair.log.all)")

        let named = try TLSPair(group: pair.group, server: try fixture.serverTransport { $0.clientCertificates = .required })
        defer { named.stop() }
        let withCertificate = try TLSTransport(client: {
            var configuration = fixture.client.tlsConfiguration
            configuration.trustRoots = .certificates(.pem(fixture.authority.certificatePEM))
            return configuration
        }())
        named.connect(withCertificate)
        #expect(named.log.wait { $0.contains("server handshake TLSv1.3 peer echo-client verified true") }, "\(named.log.all)")
    }

    @Test("plain bytes sent to a TLS server close that connection with peerSentGarbage; the server still serves")
    func garbage() throws {
        let pair = try TLSPair.start(server: try fixture.serverTransport())
        defer { pair.stopAll() }
        let reactor = pair.group.reactors[1]
        let address = SocketAddress.loopbackV4(port: pair.port)
        _ = reactor.execute {
            SocketStream.connect(to: address, on: reactor) { result in
                guard case .success(let stream) = result else { return }
                stream.onRead = { _ in }
                stream.write(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            }
        }
        #expect(pair.log.wait { $0.contains { $0.hasPrefix("server closed") } })
        #expect(closeError(pair.log, side: "server")?.hasPrefix("server closed the peer does not speak TLS") == true, "\(pair.log.all)")
        pair.connect(try fixture.clientTransport())
        #expect(pair.log.wait { $0.contains { $0.hasPrefix("client handshake") } })
    }

    @Test("TLS 1.3 session resumption: the second connection to the same name resumes")
    func resumption() throws {
        let pair = try TLSPair.start(server: try fixture.serverTransport())
        defer { pair.stopAll() }
        let transport = try fixture.clientTransport()
        // Read something so the server's tickets (sent after its handshake) arrive before closing.
        pair.connect(transport) { stream in
            stream.onRead = { [unowned stream] _ in
                pair.log.add("client read")
                stream.close()
            }
            stream.write([1, 2, 3])
        }
        #expect(pair.log.wait { $0.contains("client closed cleanly") }, "\(pair.log.all)")
        pair.connect(transport)
        #expect(pair.log.wait { $0.contains("client handshake TLSv1.3 resumed true peer echo-server") }, "\(pair.log.all)")
    }

    @Test("ALPN: the server picks from its list; a client offering none of them fails with the peer's alert")
    func alpn() throws {
        let pair = try TLSPair.start(server: try fixture.serverTransport { $0.applicationProtocols = ["solid-ipc/1", "h2"] })
        defer { pair.stopAll() }
        let chosen = Lock<[String]>([])
        pair.connect(try fixture.clientTransport { $0.applicationProtocols = ["h2", "solid-ipc/1"] }) { stream in
            stream.onHandshake = { info in chosen.withLock { $0.append(info.alpn ?? "none") } }
        }
        #expect(waitUntil { chosen.withLock { $0.count } == 1 })
        #expect(chosen.withLock { $0 } == ["solid-ipc/1"], "the server's preference wins")
        pair.connect(try fixture.clientTransport { $0.applicationProtocols = ["spdy/3"] })
        #expect(pair.log.wait { $0.contains { $0.hasPrefix("client closed") } })
        let closed = pair.log.all.first { $0.hasPrefix("client closed") } ?? ""
        #expect(closed.contains("the peer sent a TLS alert") && closed.contains("no application protocol"), "\(closed)")
    }

    @Test("a truncated handshake (half a ClientHello, then FIN) closes only that connection, with handshakeFailed")
    func truncatedHandshake() throws {
        let pair = try TLSPair.start(server: try fixture.serverTransport())
        defer { pair.stopAll() }
        // A real ClientHello, cut in half: capture one from our own client through a recording stream.
        let reactor = pair.group.reactors[1]
        let address = SocketAddress.loopbackV4(port: pair.port)
        let hello = try TLSTransport(client: fixture.clientConfiguration)
        _ = reactor.execute {
            SocketStream.connect(to: address, on: reactor) { result in
                guard case .success(let socket) = result else { return }
                let recorder = RecordingStream(reactor: reactor)
                let tls = try! hello.makeClient(over: recorder, serverName: "localhost")
                recorder.onFirstWrite = { bytes in
                    socket.onRead = { _ in }
                    socket.write(Array(bytes.prefix(bytes.count / 2))) { _ in socket.shutdownWrite() }
                    _ = tls  // keep the client alive until its hello is out
                }
            }
        }
        #expect(pair.log.wait { $0.contains { $0.hasPrefix("server closed") } })
        let closed = pair.log.all.first { $0.hasPrefix("server closed") } ?? ""
        #expect(closed == "server closed TLS handshake failed: the peer closed the connection during the handshake: no OpenSSL error queued", "\(closed)")
        pair.connect(try fixture.clientTransport())
        #expect(pair.log.wait { $0.contains { $0.hasPrefix("client handshake") } }, "the server still serves")
    }

    @Test("a bad configuration fails when the transport is made, naming the file")
    func badConfiguration() throws {
        #expect {
            _ = try TLSTransport(server: TLSConfiguration(certificateChain: .pemFile("/nonexistent/cert.pem"), privateKey: .pemFile("/nonexistent/key.pem")))
        } throws: { error in
            if case .invalidConfiguration(let what, _) = error as? TLSError { return what == "certificate chain /nonexistent/cert.pem" }
            return false
        }
        // A key that does not belong to the certificate.
        #expect {
            _ = try TLSTransport(server: TLSConfiguration(certificateChain: .pem(fixture.server.certificatePEM), privateKey: .pem(fixture.client.privateKeyPEM)))
        } throws: { error in
            if case .invalidConfiguration(let what, _) = error as? TLSError { return what == "private key" || what.hasPrefix("private key does not match") }
            return false
        }
    }
}

/// A stream that only records what is written to it (the first write is a TLS client's hello).
final class RecordingStream: ByteStream {
    let reactor: Reactor
    var onRead: ((UnsafeRawBufferPointer) -> Void)?
    var onEndOfInput: (() -> Void)?
    var onClose: ((StreamError?) -> Void)?
    var onFirstWrite: (([UInt8]) -> Void)?
    var localAddress: SocketAddress? { nil }
    var remoteAddress: SocketAddress? { nil }
    var isOpen: Bool { true }
    var pendingWriteBytes: Int { 0 }
    var security: SecurityInfo? { nil }

    init(reactor: Reactor) { self.reactor = reactor }

    func write(_ bytes: [UInt8], completion: ((StreamError?) -> Void)?) {
        onFirstWrite?(bytes)
        onFirstWrite = nil
        completion?(nil)
    }
    func pauseReading() {}
    func resumeReading() {}
    func shutdownWrite() {}
    func close() {}
    func abort() {}
    func applyOptions(_ options: StreamOptions) {}
}
