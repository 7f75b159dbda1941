import SolidEngine
public import SolidReactor

/// How a plain connection can be secured later (STARTTLS): the transport and this side's role.
public struct SecureUpgrade {
    /// Makes the TLS stream.
    public let transport: any SecureTransport
    /// `true` on the side that dialed (it is the TLS client).
    public let isClient: Bool
    /// The name the server's certificate must carry (client side).
    public let serverName: String?

    /// The upgrade for one side.
    public init(transport: any SecureTransport, isClient: Bool, serverName: String?) {
        self.transport = transport
        self.isClient = isClient
        self.serverName = serverName
    }

    /// `true` when the transport has settings for this side's role.
    var isAvailable: Bool { isClient ? transport.canConnect : transport.canAccept }
}

/// STARTTLS at a packet boundary (`docs/PROTOCOL.md`, packet kind 4): the seed's Secure flag, set on an
/// active (or passive) connection after the plain hello.
///
/// Either side may start. A side sends a start-secure packet after the packets it already handed to the
/// stream and then writes nothing in plain; when it receives the peer's, it answers with its own if it
/// has not sent one. Once a side has sent and received one, its stream is wrapped in TLS (the dialing
/// side is the TLS client) and the bytes that followed the peer's packet in the same read are the first
/// TLS input. Messages under way continue over TLS where they stopped.
extension Connection {
    /// Secures the connection; `completion` gets what TLS established once the handshake is done.
    ///
    /// From the Raw state (the seed's "raw handshake → secureConnection → authentication → activate")
    /// TLS starts at once, with no start-secure packet: the peer, Raw too, starts it on its side at the
    /// same point of the raw exchange. The bytes read in Raw and not consumed are the first TLS input;
    /// the hello follows inside TLS, and a pool's connection is then passive until activated.
    ///
    /// Invalid situations close the connection with a specific error (the seed's rule): during the hello
    /// exchange (`TLSError/invalidState(_:)`), a Raw phase that runs inside TLS already (TLS from the
    /// start: `TLSError/invalidState(_:)`), without TLS settings for this side
    /// (`TLSError/notConfigured`). On a connection that is secure already, `completion` gets its
    /// `SecurityInfo` at once.
    public func startSecure(completion: ((Result<SecurityInfo, ConnectionError>) -> Void)? = nil) {
        reactor.preconditionInReactor()
        if case .closed(let error) = state {
            completion?(.failure(error))
            return
        }
        if case .raw = state {
            if let completion { secureCompletions.append(completion) }
            return secureFromRaw()
        }
        if let security = stream.security, !securing {
            completion?(.success(security))
            return
        }
        // From here the completion waits with the others: for the handshake, or for the close below.
        if let completion { secureCompletions.append(completion) }
        guard case .active = state else {
            return finish(.stream(.tls(.invalidState("the connection has not completed its hello"))))
        }
        guard secureUpgrade?.isAvailable == true else { return finish(.stream(.tls(.notConfigured))) }
        if !sentStartSecure { sendStartSecure() }
    }

    /// Leaves Raw into TLS (see ``startSecure(completion:)``).
    private func secureFromRaw() {
        guard !secureFromStart else {
            return finish(.stream(.tls(.invalidState("the Raw phase runs inside TLS already (TLS from the start)"))))
        }
        guard secureUpgrade?.isAvailable == true else { return finish(.stream(.tls(.notConfigured))) }
        state = .handshaking
        rawReader = nil
        // From a raw read's own callback: wrapped once it returns, with what it did not consume.
        if deliveringRaw { return secureAfterRawRead = true }
        wrapRawInTLS(leftover: takeRawBuffer())
        if rawInputEnded { endOfRawInput() }
    }

    /// Puts TLS over the Raw phase's stream: `leftover` (read, not consumed) is its first input; the hello
    /// waits inside TLS for the handshake.
    func wrapRawInTLS(leftover: [UInt8]) {
        guard case .handshaking = state, let upgrade = secureUpgrade else { return }
        let plain = stream
        do throws(StreamError) {
            stream = try makeSecureStream(over: plain, upgrade, initialInput: leftover)
        } catch {
            return finish(.stream(error))
        }
        installCallbacks(on: stream)
        if pausedByOwner || pausedForQueue { stream.pauseReading() }
        if pausedForRaw {
            pausedForRaw = false
            if !pausedByOwner && !pausedForQueue { plain.resumeReading() }
        }
        sendHello()
    }

    /// Writes this side's start-secure packet after everything already handed to the stream.
    private func sendStartSecure() {
        sentStartSecure = true
        securing = true
        stream.write([PacketFormat.Kind.startSecure.rawValue, 0, 0, 0])
    }

    /// The peer's start-secure packet arrived (the reader is suspended, holding what followed).
    func peerStartedSecure() {
        guard let upgrade = secureUpgrade, upgrade.isAvailable else {
            finish(.stream(.tls(.notConfigured)))
            return
        }
        guard stream.security == nil || securing else {
            finish(.stream(.tls(.invalidState("the peer asked for TLS on a secure connection"))))
            return
        }
        if !sentStartSecure { sendStartSecure() }
        // Wrap after this read's callback returns: the plain stream is inside its own read loop now. It is
        // paused meanwhile; what it still delivers is kept by the suspended reader.
        let plain = stream
        plain.pauseReading()
        reactor.runSoon { [weak self] in self?.wrapInTLS(plain, upgrade) }
    }

    private func wrapInTLS(_ plain: any ByteStream, _ upgrade: SecureUpgrade) {
        guard case .active = state, stream === plain else { return }
        let secure: any ByteStream
        do throws(StreamError) {
            secure = try makeSecureStream(over: plain, upgrade, initialInput: reader.takeLeftover())
        } catch {
            finish(.stream(error))
            return
        }
        stream = secure
        installCallbacks(on: secure)
        plain.resumeReading()  // its reads now go to the TLS stream
        reader.resume()
        securing = false
        pump()  // what waited goes into TLS (held there until the handshake is done)
    }

    /// TLS over `plain` in this side's role (the dialing side is the client), `initialInput` its first
    /// input; the handshake's end reaches ``secured(_:)``.
    private func makeSecureStream(
        over plain: any ByteStream, _ upgrade: SecureUpgrade, initialInput: [UInt8]
    ) throws(StreamError) -> any ByteStream {
        let onHandshake: (SecurityInfo) -> Void = { [weak self] info in self?.secured(info) }
        return upgrade.isClient
            ? try upgrade.transport.makeClientStream(
                over: plain, serverName: upgrade.serverName, initialInput: initialInput, onHandshake: onHandshake)
            : try upgrade.transport.makeServerStream(over: plain, initialInput: initialInput, onHandshake: onHandshake)
    }

    private func secured(_ info: SecurityInfo) {
        let completions = secureCompletions
        secureCompletions.removeAll()
        for completion in completions { completion(.success(info)) }
        onSecured?(info)
    }
}
