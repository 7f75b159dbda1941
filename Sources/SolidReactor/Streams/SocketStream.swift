import CSolidLinux
import Glibc
import Logging

/// A connected, non-blocking stream socket on one reactor: TCP, or a Unix-domain socket
/// (``SocketAddress/unix(_:)``). The plain ``ByteStream``.
///
/// **Readiness model.** The socket is registered once, edge-triggered for read and write. Reads run until
/// the socket is drained (a short read or `EAGAIN`), at most ``readBudget`` reads per turn; when the budget
/// runs out, or when events wait in the reactor's queue after a read (``Reactor/hasQueuedEvents``), the
/// stream yields and continues after the reactor's other work. Writes go out immediately
/// when the socket has room; what does not fit waits for the next writable edge. No `epoll_ctl` call is
/// made per write or per pause.
///
/// **Callbacks** run on the reactor thread. ``onRead`` gets a view of the reactor's shared read buffer,
/// valid only during the call. ``onClose`` runs exactly once, with `nil` for an orderly close and a
/// ``StreamError`` otherwise; after it, the stream drops every callback it holds.
public final class SocketStream: ReactorObject, ByteStream {
    /// Receives incoming bytes. The buffer is only valid during the call.
    @exclusivity(unchecked) public var onRead: ((UnsafeRawBufferPointer) -> Void)?
    /// Called when the peer shut down its writing side. When `nil`, the stream closes itself once its
    /// pending writes are flushed.
    public var onEndOfInput: (() -> Void)?
    /// Called once when the stream closes: `nil` for an orderly close, otherwise the error.
    public var onClose: ((StreamError?) -> Void)?
    /// Reads per readiness turn before yielding to other objects on the reactor.
    @exclusivity(unchecked) public var readBudget = 16

    /// The reactor the stream lives on.
    public let reactor: Reactor
    /// The local address, once connected.
    public private(set) var localAddress: SocketAddress?
    /// The peer's address.
    public private(set) var remoteAddress: SocketAddress?
    // The hot fields skip the dynamic exclusivity checks (a `swift_beginAccess` per write and per read;
    // no access to them ever overlaps: completions and callbacks run between accesses, not inside one).
    /// Bytes read so far.
    @exclusivity(unchecked) public private(set) var bytesRead: UInt64 = 0
    /// Bytes written so far.
    @exclusivity(unchecked) public private(set) var bytesWritten: UInt64 = 0

    private enum Phase { case connecting, open, closed }
    @exclusivity(unchecked) private var phase: Phase
    @exclusivity(unchecked) private var fd: Int32
    /// A Unix-domain socket: no TCP options.
    private let isUnixDomain: Bool
    private var id: ObjectID?
    @exclusivity(unchecked) private var readable = false
    @exclusivity(unchecked) private var writable = false
    @exclusivity(unchecked) private var readScheduled = false
    @exclusivity(unchecked) private var readingPaused = false
    private var inputEnded = false
    /// The poller reported the peer's FIN: read until end of stream, not just until a short read.
    @exclusivity(unchecked) private var peerHungUp = false
    @exclusivity(unchecked) private var writeShutdownRequested = false
    private var writeShutdownDone = false
    @exclusivity(unchecked) private var closeWhenFlushed = false
    private var connectCompletion: ((Result<SocketStream, StreamError>) -> Void)?
    private var connectTimer: TimerID?
    @exclusivity(unchecked) private var writes = WriteQueue()
    private let vectors: UnsafeMutablePointer<iovec>
    private static let maxVectors = 64

    /// Takes over an accepted connection on `reactor` (call on that reactor's thread).
    /// - Throws: ``StreamError/system(_:)`` when the socket cannot be watched, ``StreamError/closed`` when
    ///   the socket was adopted already.
    public convenience init(adopting socket: AcceptedSocket, on reactor: Reactor) throws(StreamError) {
        guard let fd = socket.take() else { throw StreamError.closed }
        try self.init(fd: fd, family: socket.remoteAddress?.family ?? Socket.family(fd), phase: .open, reactor: reactor)
        remoteAddress = socket.remoteAddress ?? Socket.remoteAddress(fd)
    }

    private init(fd: Int32, family: Int32, phase: Phase, reactor: Reactor) throws(StreamError) {
        reactor.preconditionInReactor()
        self.reactor = reactor
        self.fd = fd
        self.phase = phase
        isUnixDomain = family == AF_UNIX
        vectors = .allocate(capacity: Self.maxVectors)
        if !isUnixDomain {
            do {
                try Socket.setNoDelay(fd)
            } catch {
                reactor.logger.debug("TCP_NODELAY failed", metadata: ["error": "\(error)"])
            }
        }
        let id = reactor.register(self)
        self.id = id
        do {
            try reactor.watch(fd, for: id, interest: .readWriteEdge)
        } catch {
            reactor.unregister(id)
            closeDescriptor(fd)
            self.fd = -1
            self.phase = .closed
            throw StreamError(error)
        }
        if phase == .open { localAddress = Socket.localAddress(fd) }
    }

    deinit {
        vectors.deallocate()
    }

    /// Connects to `address` from `reactor` (call on its thread).
    ///
    /// `completion` runs exactly once on the reactor thread, never before this call returns: with the
    /// open stream, or with ``StreamError/connectionRefused``, ``StreamError/connectTimeout`` (after
    /// `timeout`), ``StreamError/reactorStopped`` or another error.
    public static func connect(
        to address: SocketAddress,
        on reactor: Reactor,
        timeout: Duration? = .seconds(10),
        completion: @escaping (Result<SocketStream, StreamError>) -> Void
    ) {
        reactor.preconditionInReactor()
        let stream: SocketStream
        do {
            let fd = try Socket.makeStream(family: address.family)
            stream = try SocketStream(fd: fd, family: address.family, phase: .connecting, reactor: reactor)
        } catch let error as SystemError {
            reactor.runSoon { completion(.failure(StreamError(error))) }
            return
        } catch {
            let streamError = error as? StreamError ?? .closed
            reactor.runSoon { completion(.failure(streamError)) }
            return
        }
        stream.remoteAddress = address
        stream.connectCompletion = completion
        do {
            switch try Socket.connect(stream.fd, to: address) {
            case .done:
                reactor.runSoon { stream.finishConnect() }
            case .wouldBlock:
                if let timeout {
                    stream.connectTimer = reactor.schedule(after: timeout) { [weak stream] in
                        stream?.connectTimer = nil
                        stream?.finish(.connectTimeout)
                    }
                }
            }
        } catch {
            reactor.runSoon { stream.finish(StreamError(error)) }
        }
    }

    /// `true` until the stream closes.
    public var isOpen: Bool { phase != .closed }
    /// A plain stream: `nil`.
    public var security: SecurityInfo? { nil }

    /// Applies `TCP_NOTSENT_LOWAT` (TCP only) and `SO_RCVBUF`; a failure is logged at debug level.
    public func applyOptions(_ options: StreamOptions) {
        if let limit = options.unsentBytesLimit, !isUnixDomain {
            do {
                try limitUnsentBytes(to: limit)
            } catch {
                reactor.logger.debug("TCP_NOTSENT_LOWAT failed", metadata: ["error": "\(error)"])
            }
        }
        if let size = options.receiveBufferSize {
            do {
                try setReceiveBufferSize(size)
            } catch {
                reactor.logger.debug("SO_RCVBUF failed", metadata: ["error": "\(error)"])
            }
        }
    }
    /// Bytes queued and not yet accepted by the kernel.
    public var pendingWriteBytes: Int { writes.byteCount }

    // MARK: readiness

    /// Handles readiness reported by the reactor.
    public func ioReady(_ events: IOEvents) {
        if phase == .connecting {
            if events.contains(.writable) || events.contains(.error) || events.contains(.hangup) { finishConnect() }
            return
        }
        if events.contains(.error) {
            let code = Socket.pendingError(fd)
            if code != 0 {
                finish(StreamError(SystemError("socket", errno: code)))
                return
            }
        }
        if events.contains(.writable) {
            writable = true
            flush()
        }
        if !events.isDisjoint(with: [.readHangup, .hangup]) { peerHungUp = true }
        if !events.isDisjoint(with: [.readable, .readHangup, .hangup]) {
            readable = true
            readAvailable()
        }
    }

    private func finishConnect() {
        guard phase == .connecting else { return }
        let code = Socket.pendingError(fd)
        if let connectTimer { reactor.cancelTimer(connectTimer) }
        connectTimer = nil
        if code != 0 {
            finish(StreamError(SystemError("connect", errno: code)))
            return
        }
        phase = .open
        writable = true
        localAddress = Socket.localAddress(fd)
        let completion = connectCompletion
        connectCompletion = nil
        completion?(.success(self))
        if phase == .open {
            flush()
            readable = true  // data may have arrived with the connect edge
            readAvailable()
        }
    }

    // MARK: reading

    /// Stops delivering reads until ``resumeReading()``; the kernel buffers (and then the peer waits).
    public func pauseReading() { readingPaused = true }

    /// Keeps at most about `bytes` of written data waiting unsent in the kernel (`TCP_NOTSENT_LOWAT`):
    /// the rest waits in the caller's own queue, where something more urgent can still go first. A
    /// multiplexing protocol wants this, or a small message queues behind megabytes in the socket buffer.
    public func limitUnsentBytes(to bytes: Int) throws(StreamError) {
        do {
            try Socket.setNotSentLowWatermark(fd, bytes: Int32(clamping: bytes))
        } catch {
            throw StreamError(error)
        }
    }

    /// Sets the kernel's receive buffer (`SO_RCVBUF`; the kernel doubles the value for its bookkeeping and
    /// stops auto-tuning it). A small buffer bounds how much data the peer has in flight towards us, so a
    /// small message behind bulk data waits less; a large one carries more over long fat networks.
    public func setReceiveBufferSize(_ bytes: Int) throws(StreamError) {
        do {
            try Socket.setReceiveBufferSize(fd, bytes: Int32(clamping: bytes))
        } catch {
            throw StreamError(error)
        }
    }

    /// Delivers reads again, starting with whatever arrived while paused.
    public func resumeReading() {
        guard readingPaused else { return }
        readingPaused = false
        scheduleRead()
    }

    private func scheduleRead() {
        guard readable, !readScheduled, phase == .open else { return }
        readScheduled = true
        reactor.runSoon { [self] in
            readScheduled = false
            readAvailable()
        }
    }

    private func readAvailable() {
        var reads = 0
        let buffer = reactor.readBuffer
        while readable && !readingPaused && phase == .open {
            if reads == readBudget {
                scheduleRead()
                return
            }
            reads += 1
            do {
                switch try Socket.read(fd, into: buffer) {
                case .wouldBlock:
                    readable = false
                case .done(0):
                    readable = false
                    endOfInput()
                case .done(let count):
                    // A short read drained the socket and new data raises a new edge, unless the FIN
                    // was already reported: then read on to see the end of stream.
                    if count < buffer.count && !peerHungUp { readable = false }
                    bytesRead &+= UInt64(count)
                    onRead?(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                    // Events queued meanwhile run before the next read (the loop drains the queue before
                    // the scheduled read): a response a handler could not send at once, and the pause its
                    // queue limit causes, come before more input (found in CI: 12 requests read past a
                    // full queue while a test's posts kept the reactor's queue non-empty).
                    // Likewise tasks deferred to the end of the turn (a connection's pump of the answers
                    // this read produced): a ping's answer otherwise waited for the rest of the turn's
                    // reads of bulk data (up to `readBudget` × 64 KiB, ~0.5 ms at 2 GB/s).
                    if readable && (reactor.hasQueuedEvents || reactor.hasSoonTasks) {
                        scheduleRead()
                        return
                    }
                }
            } catch {
                finish(StreamError(error))
            }
        }
    }

    private func endOfInput() {
        guard !inputEnded else { return }
        inputEnded = true
        if let onEndOfInput {
            onEndOfInput()
            if writeShutdownDone { finish(nil) }
        } else {
            closeWhenFlushed = true
            if writes.isEmpty { finish(nil) }
        }
    }

    // MARK: writing

    /// Queues `bytes` and writes as much as the socket takes now.
    ///
    /// `completion` runs once the kernel accepted every byte (possibly before `write` returns), or with
    /// the error that closed the stream (``StreamError/closed`` after a local close).
    public func write(_ bytes: [UInt8], completion: ((StreamError?) -> Void)?) {
        enqueue(bytes, completion: completion)
        flush()
    }

    /// Writes `bytes` (valid only during the call) at once when nothing is queued, and queues a copy of
    /// what the socket did not take; with bytes already queued it queues a copy of them all. `completion`
    /// as for ``write(_:completion:)`` (it runs before this returns when the socket took everything).
    public func write(copying bytes: UnsafeRawBufferPointer, completion: ((StreamError?) -> Void)?) {
        guard phase == .open, writable, writes.isEmpty, !writeShutdownRequested, !closeWhenFlushed,
            let base = bytes.baseAddress, bytes.count > 0
        else {
            write(Array(bytes), completion: completion)
            return
        }
        var vector = iovec(iov_base: UnsafeMutableRawPointer(mutating: base), iov_len: bytes.count)
        let sent: Int
        do {
            switch try Socket.writeVector(fd, &vector, count: 1) {
            case .wouldBlock:
                writable = false
                sent = 0
            case .done(let count):
                sent = count
            }
        } catch {
            enqueue(Array(bytes), completion: completion)
            finish(StreamError(error))  // fails the queued write, as flush() does
            return
        }
        bytesWritten &+= UInt64(sent)
        guard sent < bytes.count else {
            completion?(nil)
            return
        }
        enqueue(Array(bytes[sent...]), completion: completion)  // the rest goes once writable again
    }

    /// Queues `bytes` without writing yet; ``flush()`` sends everything queued with one vectored call.
    public func enqueue(_ bytes: [UInt8], completion: ((StreamError?) -> Void)? = nil) {
        guard phase != .closed, !writeShutdownRequested else {
            completion?(.closed)
            return
        }
        writes.append(bytes, completion)
    }

    /// Writes queued bytes with `sendmsg` (up to 64 buffers per call) until done or the socket is full.
    public func flush() {
        guard phase == .open, writable else { return }
        while !writes.isEmpty {
            let result: IOResult<Int>
            do {
                result = try writeQueued()
            } catch {
                finish(StreamError(error))
                return
            }
            switch result {
            case .wouldBlock:
                writable = false
                return
            case .done(let count):
                bytesWritten &+= UInt64(count)
                var done = writes.consume(count)
                for finished in done { finished.completion(nil) }
                writes.recycle(&done)
                if phase != .open { return }  // a completion closed the stream
            }
        }
        if writeShutdownRequested && !writeShutdownDone { shutdownWriteNow() }
        if closeWhenFlushed { finish(nil) }
    }

    /// Gathers up to `maxVectors` queued buffers by nesting `withUnsafeBytes` (so every pointer is valid
    /// during the call) and sends them with one `sendmsg`.
    private func writeQueued() throws(SystemError) -> IOResult<Int> {
        let count = min(writes.count, Self.maxVectors)
        return try gather(0, count)
    }

    private func gather(_ position: Int, _ count: Int) throws(SystemError) -> IOResult<Int> {
        if position == count {
            return try Socket.writeVector(fd, vectors, count: count)
        }
        let (bytes, offset) = writes.entry(position)
        let result = bytes.withUnsafeBytes { raw -> Result<IOResult<Int>, SystemError> in
            vectors[position] = iovec(
                iov_base: raw.baseAddress.map { UnsafeMutableRawPointer(mutating: $0 + offset) },
                iov_len: raw.count - offset)
            return Result { () throws(SystemError) in try gather(position + 1, count) }
        }
        return try result.get()
    }

    /// Sends a FIN after the queued bytes (half-close); reading goes on. Further writes fail with `.closed`.
    public func shutdownWrite() {
        guard phase != .closed, !writeShutdownRequested else { return }
        writeShutdownRequested = true
        if writes.isEmpty && phase == .open { shutdownWriteNow() }
    }

    private func shutdownWriteNow() {
        writeShutdownDone = true
        do {
            try Socket.shutdownWrite(fd)
        } catch {
            finish(StreamError(error))
            return
        }
        if inputEnded { finish(nil) }
    }

    // MARK: closing

    /// Closes now; queued writes complete with ``StreamError/closed``. Idempotent.
    public func close() { finish(nil) }

    /// Closes with a reset (RST) instead of a FIN, dropping unsent data. Idempotent.
    public func abort() {
        guard phase != .closed else { return }
        try? Socket.setLingerZero(fd)
        finish(nil)
    }

    /// Closes with ``StreamError/reactorStopped`` when the reactor stops.
    public func reactorStopping() { finish(.reactorStopped) }

    private func finish(_ error: StreamError?) {
        guard phase != .closed else { return }
        let wasConnecting = phase == .connecting
        phase = .closed
        reactor.unwatch(fd)
        closeDescriptor(fd)
        fd = -1
        if let id { reactor.unregister(id) }
        id = nil
        if let connectTimer { reactor.cancelTimer(connectTimer) }
        connectTimer = nil
        let failed = writes.removeAll()
        let connectCompletion = self.connectCompletion
        let onClose = self.onClose
        self.connectCompletion = nil
        self.onClose = nil
        onRead = nil
        onEndOfInput = nil
        for completion in failed { completion(error ?? .closed) }
        if wasConnecting {
            connectCompletion?(.failure(error ?? .closed))
        } else {
            onClose?(error)
        }
    }
}
