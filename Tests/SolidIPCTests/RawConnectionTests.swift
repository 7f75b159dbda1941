import SolidEngine
@testable import SolidIPC
import SolidIPCTLS
import SolidReactor
import Testing

/// The Raw state on a bare ``Connection`` (no service): the end of the peer's input, readers that need
/// more, and TLS started from inside a raw read's callback.
@Suite("Raw state on a connection", .serialized)
struct RawConnectionTests {
    /// A listener on `reactor` that hands each accepted stream to `accepted` (on the reactor thread).
    static func listen(
        on reactor: Reactor, _ accepted: @escaping @Sendable (SocketStream) -> Void
    ) throws -> SocketAddress {
        let address = Pinned<SocketAddress>()
        let ready = EventLog()
        reactor.execute {
            let listener = try? SocketListener(address: .loopbackV4(), on: reactor) { socket in
                if let stream = try? SocketStream(adopting: socket, on: reactor) { accepted(stream) }
            }
            address.value = listener?.localAddress
            ready.add("ready")
        }
        _ = ready.wait { !$0.isEmpty }
        return try #require(address.value)
    }

    /// Connects to `address` on `reactor` and makes a Raw connection over the stream (reactor thread).
    static func rawClient(
        to address: SocketAddress, on reactor: Reactor, registry: MessageRegistry,
        _ made: @escaping @Sendable (Connection) -> Void
    ) {
        reactor.execute {
            SocketStream.connect(to: address, on: reactor) { result in
                guard case .success(let stream) = result else { return }
                made(Connection(stream: stream, configuration: ConnectionConfiguration(registry: registry), raw: true))
            }
        }
    }

    /// Runs `body` on `reactor` and returns its result.
    static func onReactor<T: Sendable>(_ reactor: Reactor, _ body: @escaping @Sendable () -> T) -> T? {
        let result = Lock<T?>(nil)
        reactor.execute { result.withLock { $0 = body() } }
        _ = waitUntil { result.withLock { $0 } != nil }
        return result.withLock { $0 }
    }

    @Test("the peer writes 3 bytes and ends its input while nobody reads: a raw read registered later still gets them, the next one the end (empty); the connection waits for its owner's decision")
    func endOfInputBeforeTheRead() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let address = try Self.listen(on: group.reactors[1]) { stream in
            stream.write(Array("BYE".utf8))
            stream.shutdownWrite()
        }
        let log = EventLog()
        let box = Pinned<Connection>()
        let reactor = group.reactors[0]
        Self.rawClient(to: address, on: reactor, registry: try noteRegistry()) { connection in
            box.value = connection
            connection.onClose = { log.add("closed \($0)") }
        }
        // The end of input has been read and the connection waits for its owner.
        #expect(waitUntil { Self.onReactor(reactor) { box.value?.rawInputEnded ?? false } == true })
        #expect(log.all.isEmpty)
        _ = Self.onReactor(reactor) {
            box.value?.rawRead { [unowned connection = box.value!] bytes in
                log.add("read \(String(decoding: bytes, as: UTF8.self))")
                connection.rawRead { end in
                    log.add("end \(end.count)")
                    return 0
                }
                return bytes.count
            } ?? false
        }
        #expect(log.wait { $0.count == 2 })
        #expect(!log.wait(seconds: 0.1) { $0.count > 2 }, "no close of its own, no second end")
        _ = Self.onReactor(reactor) { box.value?.failRaw("the peer said bye") ?? false }
        #expect(log.wait { $0.count == 3 })
        #expect(log.all == ["read BYE", "end 0", "closed \(ConnectionError.rawExchangeFailed("the peer said bye"))"])
    }

    @Test("bytes, then the end of input, read by a reader that needs more (waits for a line end): it gets the bytes, then the end (empty) once when re-armed from its callback, and again when asked later")
    func endOfInputWhileNeedingMore() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let address = try Self.listen(on: group.reactors[1]) { stream in
            stream.write(Array("ERR".utf8))  // no line end: the reader never has what it waits for
            stream.shutdownWrite()
        }
        let log = EventLog()
        let box = Pinned<Connection>()
        let reactor = group.reactors[0]
        Self.rawClient(to: address, on: reactor, registry: try noteRegistry()) { connection in
            box.value = connection
            connection.onClose = { log.add("closed \($0)") }
            func arm() {
                connection.rawRead { bytes in
                    log.add("read '\(String(decoding: bytes, as: UTF8.self))'")
                    guard bytes.contains(UInt8(ascii: "\n")) else {
                        if !bytes.isEmpty { arm() }  // the empty read is the end: nothing more to wait for
                        return 0
                    }
                    return bytes.count
                }
            }
            arm()
        }
        #expect(log.wait { $0.contains("read ''") })
        #expect(!log.wait(seconds: 0.2) { $0.count > 2 }, "the end once, no loop")
        #expect(log.all == ["read 'ERR'", "read ''"])
        // Asked again from outside, the end again.
        _ = Self.onReactor(reactor) { box.value?.rawRead { bytes in log.add("again '\(bytes.count)'"); return 0 } ?? false }
        #expect(log.wait { $0.count == 3 })
        #expect(log.all.last == "again '0'")
        _ = Self.onReactor(reactor) { box.value?.failRaw("unterminated line") ?? false }
        #expect(log.wait { $0.count == 4 })
        #expect(log.all.last == "closed \(ConnectionError.rawExchangeFailed("unterminated line"))")
    }

    @Test("a raw reader that consumes nothing and re-arms from its callback is called again only when new bytes arrive")
    func readerThatNeedsMore() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let peer = Pinned<SocketStream>()  // touched on reactor 1 only
        let ready = EventLog()
        let address = try Self.listen(on: group.reactors[1]) { stream in
            peer.value = stream
            ready.add("accepted")
        }
        let log = EventLog()
        let box = Pinned<Connection>()
        let reactor = group.reactors[0]
        Self.rawClient(to: address, on: reactor, registry: try noteRegistry()) {
            connection in
            box.value = connection
            ready.add("connected")
            func arm() {
                connection.rawRead { bytes in
                    log.add(String(decoding: bytes, as: UTF8.self))
                    guard bytes.count >= 2 else {
                        arm()
                        return 0  // needs more
                    }
                    return bytes.count
                }
            }
            arm()
        }
        #expect(ready.wait { $0.count == 2 })
        group.reactors[1].execute { peer.value?.write(Array("A".utf8)) }
        #expect(log.wait { !$0.isEmpty })
        // A reader called again with the same byte would loop here; wait to see that it is not.
        #expect(!log.wait(seconds: 0.2) { $0.count > 1 })
        group.reactors[1].execute { peer.value?.write(Array("B".utf8)) }
        #expect(log.wait { $0.count == 2 })
        #expect(log.all == ["A", "AB"])
        group.reactors[1].execute { peer.value?.close() }
    }

    @Test("TLS started from inside a raw read's callback: the bytes that came after the consumed ones are the first TLS input; a request is answered over TLS")
    func secureFromInsideARawRead() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let fixture = TLSFixture.shared
        let serverTLS = try fixture.serverTransport()
        let clientTLS = try fixture.clientTransport()
        let registry = try noteRegistry()
        let log = EventLog()
        let serverReactor = group.reactors[1]
        let address = try Self.listen(on: serverReactor) { stream in
            let connection = Connection(stream: stream, configuration: ConnectionConfiguration(registry: registry), raw: true)
            connection.secureUpgrade = SecureUpgrade(transport: serverTLS, isClient: false, serverName: nil)
            connection.onMessage = { [unowned connection] header, message in
                let note = message as! Note
                log.add("server got \(note.text) secure \(connection.security != nil)")
                _ = try? connection.send(note, responseTo: header.requestID)
            }
            connection.onClose = { log.add("server closed \($0)") }
            func arm() {
                connection.rawRead { bytes in
                    // The client's "AUTH" and the start of its ClientHello, in one buffer.
                    guard bytes.count > 4 else {
                        arm()
                        return 0
                    }
                    log.add("server raw \(String(decoding: bytes[0..<4], as: UTF8.self)) + \(bytes.count - 4) more")
                    connection.startSecure { result in log.add("server secured \((try? result.get()) != nil)") }
                    return 4
                }
            }
            arm()
        }
        let clientBox = Pinned<Connection>()
        Self.rawClient(to: address, on: group.reactors[0], registry: registry) {
            connection in
            clientBox.value = connection
            connection.secureUpgrade = SecureUpgrade(transport: clientTLS, isClient: true, serverName: "localhost")
            connection.onMessage = { header, message in log.add("client got \((message as! Note).text)") }
            connection.onClose = { log.add("client closed \($0)") }
            connection.rawWrite(Array("AUTH".utf8))
            connection.startSecure { result in log.add("client secured \((try? result.get())?.protocolVersion ?? "-")") }
            _ = try? connection.send(Note(id: 1, text: "over tls"), flags: .request, requestID: 1)
        }
        #expect(log.wait { $0.contains("client got over tls") }, "\(log.all)")
        let entries = log.all
        #expect(entries.first?.hasPrefix("server raw AUTH + ") == true, "\(entries)")
        #expect(entries.contains("server secured true"))
        #expect(entries.contains("client secured TLSv1.3"))
        #expect(entries.contains("server got over tls secure true"))
        #expect(!entries.contains { $0.contains("closed") })
        group.reactors[0].execute { clientBox.value?.close() }
        #expect(log.wait { $0.contains("server closed \(ConnectionError.closedByPeer)") })
    }
}
