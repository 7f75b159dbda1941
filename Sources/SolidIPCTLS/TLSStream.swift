import COpenSSL
import CSolidTLS
import Glibc
import Synchronization
public import SolidReactor

/// A TLS stream over another ``ByteStream`` (TCP, a Unix-domain socket, or a stream that already ran a
/// raw phase), driven by OpenSSL through two memory BIOs on the stream's reactor thread.
///
/// **Data path.** Ciphertext read from the inner stream is copied into the read BIO; `SSL_read` decrypts
/// into the reactor's shared read buffer and the owner's ``onRead`` sees it there. A write encrypts at
/// once (`SSL_write` into the write BIO) and hands the ciphertext to the inner stream, whose completion
/// is the write's completion. Output OpenSSL produces on its own (handshake messages, session tickets,
/// alerts, `close_notify`) is drained to the inner stream after every operation.
///
/// **Bounds.** The read BIO never holds more than one inner read while reading is paused (the inner
/// stream is paused too); the write BIO is emptied after every call; plaintext written before the
/// handshake completes waits, up to ``TLSConfiguration/maxBufferedBeforeHandshake``.
///
/// **Closing.** ``close()`` sends `close_notify` when the inner stream can take it at once, then closes
/// the inner stream. The peer's `close_notify` is end of input (``onEndOfInput``); the inner stream
/// ending without one closes with ``TLSError/closedWithoutCloseNotify``.
public final class TLSStream: ByteStream {
    /// Receives decrypted bytes. The buffer is only valid during the call.
    public var onRead: ((UnsafeRawBufferPointer) -> Void)?
    /// Called when the peer sent `close_notify`.
    public var onEndOfInput: (() -> Void)?
    /// Called once when the stream closes.
    public var onClose: ((StreamError?) -> Void)?
    /// Called once when the handshake completes (before any decrypted byte is delivered).
    public var onHandshake: ((SecurityInfo) -> Void)?

    /// The reactor the stream lives on.
    public let reactor: Reactor
    /// What the handshake established; `nil` until it completes.
    public private(set) var security: SecurityInfo?
    /// `true` once the peer's `close_notify` arrived.
    public private(set) var receivedCloseNotify = false
    /// `true` once this side's `close_notify` went to the inner stream.
    public private(set) var sentCloseNotify = false

    private enum Phase { case handshaking, established, closed }
    private var phase = Phase.handshaking
    private let inner: any ByteStream
    private let context: TLSContext
    let ssl: OpaquePointer
    private let readBIO: OpaquePointer
    private let writeBIO: OpaquePointer
    /// The host name the peer's certificate must carry (client side), for the error text.
    let expectedName: String?
    /// Key of the client's session cache.
    private let sessionKey: String?
    private var readingPaused = false
    private var inputEnded = false
    private var handshakeTimer: TimerID?
    /// Plaintext written before the handshake completed, with its completions.
    private var waiting: [([UInt8], ((StreamError?) -> Void)?)] = []
    private var waitingBytes = 0
    /// `true` while the writes that waited for the handshake are encrypted.
    private var flushingWaiting = false
    /// Depth of the certificate that failed verification (from the verify callback).
    var failedDepth: Int32 = 0

    init(over inner: any ByteStream, context: TLSContext, serverName: String?, initialInput: [UInt8]) throws(TLSError) {
        inner.reactor.preconditionInReactor()
        reactor = inner.reactor
        self.inner = inner
        self.context = context
        let configuration = context.configuration
        ssl = try OpenSSL.make("session", "SSL_new") { SSL_new(context.context) }
        guard let readBIO = BIO_new(BIO_s_mem()), let writeBIO = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw .invalidConfiguration("memory BIO", OpenSSL.takeErrors("BIO_new"))
        }
        // An empty read BIO means "wait for more", not end of file.
        solid_bio_set_mem_eof_return(readBIO, -1)
        SSL_set_bio(ssl, readBIO, writeBIO)  // the session owns both from here
        context.liveStreams.add(1, ordering: .relaxed)
        self.readBIO = readBIO
        self.writeBIO = writeBIO
        if context.role == .client {
            let name = configuration.serverNameOverride ?? serverName
            expectedName = name
            sessionKey = configuration.sessionResumption ? (name ?? inner.remoteAddress?.description) : nil
        } else {
            expectedName = nil
            sessionKey = nil
        }
        SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(self).toOpaque())
        SSL_set_verify(ssl, SSL_get_verify_mode(ssl), tlsVerifyCallback)
        // Every property is set: a throw from here runs deinit, which frees the session.
        try configureRole()
        if !initialInput.isEmpty { feed(initialInput) }
        inner.onRead = { bytes in self.innerRead(bytes) }  // cleared in finish (and by the inner stream when it closes)
        inner.onEndOfInput = { self.innerEnded() }
        inner.onClose = { error in self.finish(error ?? (self.phase == .handshaking ? .closed : nil)) }
        if let limit = configuration.handshakeTimeout {
            handshakeTimer = reactor.schedule(after: limit) { [weak self] in
                self?.handshakeTimer = nil
                self?.fail(.handshakeTimeout(limit))
            }
        }
        // The first step (the client's hello) runs after the owner has set its callbacks.
        reactor.runSoon { [weak self] in self?.advance() }
    }

    deinit {
        SSL_free(ssl)
        context.liveStreams.subtract(1, ordering: .relaxed)
    }

    private func configureRole() throws(TLSError) {
        guard context.role == .client else {
            SSL_set_accept_state(ssl)
            return
        }
        SSL_set_connect_state(ssl)
        let verification = context.configuration.serverVerification
        if let name = expectedName {
            let numeric = (try? SocketAddress(ip: name, port: 1)) != nil
            if !numeric {
                try OpenSSL.check("server name '\(name)'", "SSL_set_tlsext_host_name") { solid_ssl_set_tlsext_host_name(ssl, name) }
            }
            if verification == .full {
                if numeric {
                    try OpenSSL.check("IP address '\(name)'", "X509_VERIFY_PARAM_set1_ip_asc") {
                        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name)
                    }
                } else {
                    SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
                    try OpenSSL.check("server name '\(name)'", "SSL_set1_host") { SSL_set1_host(ssl, name) }
                }
            }
        } else if verification == .full {
            throw .invalidConfiguration(
                "full verification needs a server name (set serverNameOverride for this destination)",
                TLSLibraryErrors(operation: "configuration", entries: []))
        }
        if let sessionKey, let session = context.session(for: sessionKey) {
            SSL_set_session(ssl, session)
            SSL_SESSION_free(session)
        }
    }

    // MARK: ByteStream

    /// This side's address (the inner stream's).
    public var localAddress: SocketAddress? { inner.localAddress }
    /// The peer's address (the inner stream's).
    public var remoteAddress: SocketAddress? { inner.remoteAddress }
    /// `true` until the stream closes.
    public var isOpen: Bool { phase != .closed }
    /// Ciphertext queued in the inner stream plus plaintext waiting for the handshake.
    public var pendingWriteBytes: Int { inner.pendingWriteBytes + waitingBytes }

    /// Encrypts `bytes` and hands them to the inner stream (after the handshake: they wait until then).
    public func write(_ bytes: [UInt8], completion: ((StreamError?) -> Void)?) {
        switch phase {
        case .closed:
            completion?(.closed)
        case .handshaking:
            guard waitingBytes + bytes.count <= context.configuration.maxBufferedBeforeHandshake else {
                completion?(.closed)
                fail(.invalidState("more than \(context.configuration.maxBufferedBeforeHandshake) bytes written before the handshake completed"))
                return
            }
            waiting.append((bytes, completion))
            waitingBytes += bytes.count
        case .established:
            if flushingWaiting {
                // A completion of a waiting write wrote again: keep the order.
                waiting.append((bytes, completion))
                waitingBytes += bytes.count
            } else {
                encrypt(bytes, completion: completion)
            }
        }
    }

    /// Stops delivering decrypted bytes (and reading ciphertext) until ``resumeReading()``.
    public func pauseReading() {
        readingPaused = true
        inner.pauseReading()
    }

    /// Delivers what waits in the read BIO, then reads again.
    public func resumeReading() {
        guard readingPaused else { return }
        readingPaused = false
        reactor.runSoon { [weak self] in
            guard let self, !self.readingPaused, self.phase != .closed else { return }
            self.advance()
            if !self.readingPaused { self.inner.resumeReading() }
        }
    }

    /// Sends `close_notify` after what is queued, then a FIN; reading goes on until the peer's.
    public func shutdownWrite() {
        guard phase == .established else { return }
        sendCloseNotify()
        inner.shutdownWrite()
    }

    /// Sends `close_notify` (when the inner stream can take it now) and closes. Idempotent.
    public func close() {
        guard phase != .closed else { return }
        if phase == .established && inner.pendingWriteBytes == 0 { sendCloseNotify() }
        finish(nil)
    }

    /// Closes the inner stream with a reset; no `close_notify`. Idempotent.
    public func abort() {
        guard phase != .closed else { return }
        inner.abort()
        finish(nil)
    }

    /// Passes the options to the inner stream.
    public func applyOptions(_ options: StreamOptions) { inner.applyOptions(options) }

    // MARK: input

    private func innerRead(_ bytes: UnsafeRawBufferPointer) {
        guard phase != .closed else { return }
        feed(bytes)
        advance()
    }

    private func feed(_ bytes: [UInt8]) { bytes.withUnsafeBytes { feed($0) } }

    private func feed(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        // A memory BIO takes everything (it grows); the inner stream is paused while we are.
        _ = BIO_write(readBIO, bytes.baseAddress, Int32(bytes.count))
    }

    /// Runs the handshake or decrypts, then sends what OpenSSL produced.
    private func advance() {
        if phase == .handshaking { handshakeStep() }
        if phase == .established { decrypt() }
        if phase != .closed { drainOutput() }
    }

    private func handshakeStep() {
        OpenSSL.clearErrors()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            established()
            return
        }
        let code = SSL_get_error(ssl, result)
        if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE { return }
        fail(classifyHandshakeFailure(code))
    }

    private func established() {
        phase = .established
        if let handshakeTimer { reactor.cancelTimer(handshakeTimer) }
        handshakeTimer = nil
        let info = makeSecurityInfo()
        security = info
        onHandshake?(info)
        onHandshake = nil
        // Completions of these writes may write more: those wait behind them (see write(_:completion:)).
        // Each leaves the list before it is encrypted, so a failure meanwhile completes only the others.
        // (The list is short: the connection keeps a few packets in flight.)
        flushingWaiting = true
        while !waiting.isEmpty && phase == .established {
            let (bytes, completion) = waiting.removeFirst()
            waitingBytes -= bytes.count
            encrypt(bytes, completion: completion)
        }
        flushingWaiting = false
    }

    private func decrypt() {
        let buffer = reactor.readBuffer
        let capacity = Int32(clamping: buffer.count)
        while phase == .established && !readingPaused && !receivedCloseNotify {
            OpenSSL.clearErrors()
            let count = SSL_read(ssl, buffer.baseAddress, capacity)
            if count > 0 {
                onRead?(UnsafeRawBufferPointer(rebasing: buffer[0..<Int(count)]))
                continue
            }
            let code = SSL_get_error(ssl, count)
            switch code {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                // A post-handshake message (a session ticket) can end a call early: go on while
                // ciphertext is buffered.
                if BIO_ctrl_pending(readBIO) > 0 { continue }
                return
            case SSL_ERROR_ZERO_RETURN:
                receivedCloseNotify = true
                endOfInput()
                return
            default:
                fail(classifyStreamFailure(code))
                return
            }
        }
    }

    /// The inner stream's FIN: without a `close_notify` first, the data may have been cut short.
    private func innerEnded() {
        guard phase != .closed else { return }
        switch phase {
        case .handshaking:
            fail(.handshakeFailed(TLSLibraryErrors(operation: "the peer closed the connection during the handshake", entries: [])))
        case .established:
            if !receivedCloseNotify {
                // What is buffered may still hold the close_notify: decrypt before judging.
                decrypt()
                if phase == .established && !receivedCloseNotify { fail(.closedWithoutCloseNotify) }
            }
        case .closed:
            break
        }
    }

    private func endOfInput() {
        guard !inputEnded else { return }
        inputEnded = true
        if let onEndOfInput {
            onEndOfInput()
        } else {
            close()
        }
    }

    // MARK: output

    private func encrypt(_ bytes: [UInt8], completion: ((StreamError?) -> Void)?) {
        guard !bytes.isEmpty else {
            completion?(nil)
            return
        }
        OpenSSL.clearErrors()
        let written = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
        guard written == Int32(bytes.count) else {
            completion?(.closed)
            fail(classifyStreamFailure(SSL_get_error(ssl, written)))
            return
        }
        drainOutput(completion: completion)
    }

    /// Hands everything in the write BIO to the inner stream in one write.
    private func drainOutput(completion: ((StreamError?) -> Void)? = nil) {
        let pending = Int(BIO_ctrl_pending(writeBIO))
        guard pending > 0 else {
            completion?(nil)
            return
        }
        let ciphertext = [UInt8](unsafeUninitializedCapacity: pending) { storage, count in
            count = Int(max(0, BIO_read(writeBIO, storage.baseAddress, Int32(pending))))
        }
        inner.write(ciphertext, completion: completion)
    }

    private func sendCloseNotify() {
        guard !sentCloseNotify else { return }
        sentCloseNotify = true
        OpenSSL.clearErrors()
        _ = SSL_shutdown(ssl)
        drainOutput()
    }

    // MARK: closing

    private func fail(_ error: TLSError) {
        guard phase != .closed else { return }
        drainOutput()  // an alert telling the peer why, when OpenSSL made one
        finish(.tls(error))
    }

    private func finish(_ error: StreamError?) {
        guard phase != .closed else { return }
        // Clearing the inner stream's callbacks may drop the last references to this stream.
        withExtendedLifetime(self) { finishNow(error) }
    }

    private func finishNow(_ error: StreamError?) {
        phase = .closed
        if let handshakeTimer { reactor.cancelTimer(handshakeTimer) }
        handshakeTimer = nil
        inner.onRead = nil
        inner.onEndOfInput = nil
        inner.onClose = nil
        inner.close()
        let queued = waiting
        waiting.removeAll()
        waitingBytes = 0
        let onClose = self.onClose
        self.onClose = nil
        onRead = nil
        onEndOfInput = nil
        onHandshake = nil
        for (_, completion) in queued { completion?(error ?? .closed) }
        onClose?(error)
    }

    // MARK: OpenSSL callbacks

    /// A TLS 1.3 ticket from the server (client side): kept for the next connection to the same name.
    func sessionTicketArrived(_ session: OpaquePointer) -> Bool {
        guard let sessionKey else { return false }
        context.store(session, for: sessionKey)
        return true
    }
}
