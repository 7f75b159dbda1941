import COpenSSL
import CSolidTLS
import Glibc
import Synchronization
public import SolidReactor

/// A TLS stream over another `ByteStream` (TCP, a Unix-domain socket, or a stream that already ran a
/// raw phase), driven by OpenSSL through one BIO of our own on the stream's reactor thread.
///
/// **Data path.** OpenSSL reads ciphertext straight from the view the inner stream hands over (no copy
/// into a memory BIO) and `SSL_read` decrypts into the reactor's `Reactor/transformBuffer`, where the
/// owner's ``onRead`` sees it. A write encrypts at once, `SSL_write` putting the ciphertext straight into
/// the array that goes to the inner stream, whose completion is the write's completion. Output OpenSSL
/// produces on its own (handshake messages, session tickets, alerts, `close_notify`) collects in the
/// BIO's spill buffer and goes to the inner stream after every operation.
///
/// **Bounds.** Ciphertext OpenSSL did not take (reading is paused) is kept, at most one inner read: the
/// inner stream is paused too. The spill buffer is emptied after every call; plaintext written before
/// the handshake completes waits, up to ``TLSConfiguration/maxBufferedBeforeHandshake``.
///
/// **Closing.** ``close()`` sends `close_notify` when the inner stream can take it at once, then closes
/// the inner stream. The peer's `close_notify` is end of input (``onEndOfInput``); the inner stream
/// ending without one closes with `TLSError/closedWithoutCloseNotify`.
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
    /// What the BIO reads from and writes to (see `solid_bio_state`).
    private let bio: UnsafeMutablePointer<solid_bio_state>
    /// Ciphertext that arrived while OpenSSL could not take it (paused, or before the first step).
    private var pendingInput: [UInt8] = []
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
        let state = UnsafeMutablePointer<solid_bio_state>.allocate(capacity: 1)
        state.initialize(to: solid_bio_state())
        guard let streamBIO = solid_bio_new(state) else {
            state.deallocate()
            SSL_free(ssl)
            throw .invalidConfiguration("stream BIO", OpenSSL.takeErrors("BIO_new"))
        }
        SSL_set_bio(ssl, streamBIO, streamBIO)  // the session owns it from here (one reference for both)
        context.liveStreams.add(1, ordering: .relaxed)
        bio = state
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
        pendingInput = initialInput
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
        reactor.runSoon { [weak self] in self?.advancePending() }
    }

    deinit {
        SSL_free(ssl)
        solid_bio_state_release(bio)
        bio.deallocate()
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

    /// Delivers the ciphertext that waited, then reads again.
    public func resumeReading() {
        guard readingPaused else { return }
        readingPaused = false
        reactor.runSoon { [weak self] in
            guard let self, !self.readingPaused, self.phase != .closed else { return }
            self.advancePending()
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
        guard pendingInput.isEmpty else {
            pendingInput.append(contentsOf: bytes)
            advancePending()
            return
        }
        withInput(bytes) { advance() }
    }

    /// Runs ``advance()`` over the ciphertext that waited.
    private func advancePending() { withPendingInput { advance() } }

    /// Lets OpenSSL read the ciphertext that waited during `body`; keeps what it did not take.
    private func withPendingInput(_ body: () -> Void) {
        let input = pendingInput
        pendingInput = []
        input.withUnsafeBytes { bytes in withInput(bytes, body) }
    }

    /// Lets OpenSSL read from `bytes` during `body`; keeps what it did not take.
    private func withInput(_ bytes: UnsafeRawBufferPointer, _ body: () -> Void) {
        bio.pointee.input = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        bio.pointee.input_length = bytes.count
        body()
        if bio.pointee.input_length > 0, phase != .closed, let rest = bio.pointee.input {
            pendingInput.append(contentsOf: UnsafeBufferPointer(start: rest, count: bio.pointee.input_length))
        }
        bio.pointee.input = nil
        bio.pointee.input_length = 0
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
        let buffer = reactor.transformBuffer  // the ciphertext may still be in the read buffer
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
                if bio.pointee.input_length > 0 { continue }
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
                withPendingInput { decrypt() }
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
        if bio.pointee.spill_length > 0 { drainOutput() }  // earlier output goes first
        // Records of at most 16 KiB, each 22 bytes longer in TLS 1.3 (29 in 1.2): room for all of them.
        let capacity = bytes.count + (bytes.count / 16384 + 2) * 64
        var written: Int32 = 0
        OpenSSL.clearErrors()
        var ciphertext = [UInt8](unsafeUninitializedCapacity: capacity) { storage, count in
            bio.pointee.output = storage.baseAddress
            bio.pointee.output_capacity = capacity
            bio.pointee.output_length = 0
            written = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
            count = bio.pointee.output_length
            bio.pointee.output = nil
            bio.pointee.output_capacity = 0
            bio.pointee.output_length = 0
        }
        guard written == Int32(bytes.count) else {
            completion?(.closed)
            fail(classifyStreamFailure(SSL_get_error(ssl, written)))
            return
        }
        if bio.pointee.spill_length > 0 {
            ciphertext.append(contentsOf: takeSpill())  // did not fit (a key update came along)
        }
        inner.write(ciphertext, completion: completion)
    }

    /// Hands what OpenSSL wrote on its own (handshake, tickets, alerts) to the inner stream in one write.
    private func drainOutput(completion: ((StreamError?) -> Void)? = nil) {
        guard bio.pointee.spill_length > 0 else {
            completion?(nil)
            return
        }
        inner.write(takeSpill(), completion: completion)
    }

    private func takeSpill() -> [UInt8] {
        let spilled = [UInt8](UnsafeBufferPointer(start: bio.pointee.spill, count: bio.pointee.spill_length))
        bio.pointee.spill_length = 0
        return spilled
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
