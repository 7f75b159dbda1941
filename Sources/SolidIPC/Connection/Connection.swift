public import SolidEngine
public import SolidReactor
import Synchronization
import Logging

/// One message connection over a `ByteStream` (TCP, a Unix-domain socket, or TLS over either), on the
/// stream's reactor: the handshake, then messages in both directions through a `MessageWriter` and a
/// `PacketReader`, plus keep-alive. It never learns which kind of stream it runs on.
///
/// Everything runs on the reactor thread; callbacks too.
public final class Connection {
    /// Where the connection is in its life.
    public enum State: Equatable, Sendable {
        /// Raw (the seed's Raw state): no hello yet and no message; the owner exchanges bytes itself
        /// (``rawWrite(_:completion:)``, ``rawRead(_:)``) until ``startMessaging()``.
        case raw
        /// The hello went out; waiting for the peer's.
        case handshaking
        /// Both hellos exchanged: messages flow.
        case active(AgreedParameters)
        /// Closed; the error says why.
        case closed(ConnectionError)
    }

    /// The current state.
    @exclusivity(unchecked) public internal(set) var state: State = .handshaking
    /// Called once when the handshake completes.
    public var onActive: ((AgreedParameters) -> Void)?
    /// Called for every complete incoming message.
    @exclusivity(unchecked) public var onMessage: ((MessageHeader, any WireMessage) -> Void)?
    /// Called for every other reader event (rejected messages, peer cancels, cancel requests, keep-alives).
    @exclusivity(unchecked) public var onEvent: ((ReaderEvent) -> Void)?
    /// Called once when the connection closes.
    public var onClose: ((ConnectionError) -> Void)?
    /// Provides sinks for incoming stream fields.
    public var makeSinks: (MessageHeader, any WireMessage) -> [any ByteSink] {
        get { reader.makeSinks }
        set { reader.makeSinks = newValue }
    }

    /// The reactor the connection lives on.
    public let reactor: Reactor
    /// Packets sent so far (data and keep-alive, not the hello).
    @exclusivity(unchecked) public internal(set) var packetsSent = 0
    /// Keep-alive packets sent so far.
    public internal(set) var keepAlivesSent = 0
    /// Bytes written to the stream (hello, packets, keep-alives, raw bytes).
    @exclusivity(unchecked) public internal(set) var bytesSent = 0
    /// Bytes read from the stream.
    @exclusivity(unchecked) public internal(set) var bytesReceived = 0
    /// When the connection was made, on its reactor's clock.
    public let createdAt: ReactorInstant

    /// The stream messages run on; replaced by a TLS stream over it when the connection is secured later
    /// (Connection+Secure.swift).
    @exclusivity(unchecked) var stream: any ByteStream
    /// The service's traffic counters, when a service owns the connection.
    let counters: ServiceCounters?
    let configuration: ConnectionConfiguration
    let reader: PacketReader
    @exclusivity(unchecked) var writer: MessageWriter?
    /// Messages sent before the handshake finished: they go to the writer once it exists.
    var waitingForHandshake: [PendingSend] = []
    @exclusivity(unchecked) var inFlight = 0
    var keepAliveTimer: TimerID?
    var helloTimer: TimerID?
    @exclusivity(unchecked) var sentSinceTick = false
    /// Receive-side limits (see Connection+Limits.swift).
    @exclusivity(unchecked) var receivedSinceCheck = false
    var inactivityTimer: TimerID?
    var keepAliveWindowTimer: TimerID?
    var keepAlivesInWindow = 0
    @exclusivity(unchecked) var pumpScheduled = false
    /// Outgoing queue limit (Connection+Limits.swift): reading paused while the queue is over it.
    @exclusivity(unchecked) var pausedForQueue = false
    @exclusivity(unchecked) var pausedByOwner = false
    var queueStallTimer: TimerID?
    /// ``ConnectionConfiguration/maxQueuedMessages``, or no limit.
    let queueLimit: Int
    /// ``ConnectionConfiguration/maxQueuedBytes``, or no limit.
    let queueByteLimit: Int
    /// When a packet last went out while reading was paused for the queue limit.
    @exclusivity(unchecked) var lastQueueProgress = ReactorInstant(nanoseconds: 0)
    /// STARTTLS (Connection+Secure.swift): how this side can secure the connection later, if at all.
    var secureUpgrade: SecureUpgrade?
    /// Between this side's start-secure packet and the TLS stream taking over: nothing is written.
    @exclusivity(unchecked) var securing = false
    var sentStartSecure = false
    var secureCompletions: [(Result<SecurityInfo, ConnectionError>) -> Void] = []
    /// Called once a STARTTLS handshake completed (not for connections secure from the start).
    public var onSecured: ((SecurityInfo) -> Void)?
    /// `true` while ``pump()`` runs (it is not re-entered).
    @exclusivity(unchecked) var pumping = false
    /// The previous packet was (nearly) full: bulk data is flowing.
    @exclusivity(unchecked) var lastPacketWasFull = false
    /// The completion of every packet write and the deferred pump, each made once: a closure made per
    /// packet or per turn was an allocation each time (measured: two per request on each side with one
    /// request per connection and turn, as in W4).
    @exclusivity(unchecked) private(set) var packetWritten: (StreamError?) -> Void = { _ in }
    @exclusivity(unchecked) private(set) var deferredPump: () -> Void = {}
    /// Requests the peer sent on this connection that this side has not answered (final response or
    /// reject) yet: a graceful close waits for them.
    let unanswered = IDTable()
    /// Peer requests this side answers in parts and has not finished answering (see `orderingParts`).
    @exclusivity(unchecked) var answeringInParts: Set<UInt64> = []
    /// The tasks of `async` handlers answering peer requests (Connection+HandlerTasks.swift).
    @exclusivity(unchecked) var handlerTasks: [UInt64: Task<Void, Never>] = [:]
    /// Graceful close (Connection+Closing.swift): this side sent its going-away record.
    public internal(set) var sentGoingAway = false
    /// The peer's going-away record arrived (or its input ended): it starts nothing new.
    @exclusivity(unchecked) public internal(set) var peerGoingAway = false
    /// This side's going-away came first (not as the answer to the peer's): it closes once drained.
    var initiatedGoingAway = false
    @exclusivity(unchecked) var inputEnded = false
    @exclusivity(unchecked) var drainRequested = false
    var drainTimer: TimerID?
    /// Called once when the peer goes away (its going-away record, or the end of its input): the owner
    /// gives the connection no new work and, once its own requests are answered, calls
    /// ``closeWhenDrained()``.
    public var onGoingAway: (() -> Void)?
    /// Raw state (Connection+Raw.swift): bytes read and not yet consumed, and who reads them next.
    var rawBuffer: [UInt8] = []
    var rawReader: (([UInt8]) -> Int)?
    var pausedForRaw = false
    /// A raw read is running its callback (a secure start from it takes what the callback leaves).
    var deliveringRaw = false
    /// Set by a secure start from inside a raw read's callback: the stream is wrapped once it returns.
    var secureAfterRawRead = false
    /// The peer's input ended while Raw: raw reads get what is left, then an empty array; the owner
    /// decides what follows (Connection+Raw.swift).
    var rawInputEnded = false
    /// The last raw read consumed nothing: the next waits for new bytes.
    var rawNeedsMore = false
    /// The stream was TLS from the start (the Raw phase, if any, runs inside it).
    var secureFromStart = false
    /// Set by ``closeWhenWritten()``.
    @exclusivity(unchecked) var closeOnceWritten = false

    /// Takes over `stream` (open, on its reactor's thread) and sends the hello (a secure stream sends it
    /// once its handshake is done).
    /// `raw`: start in the Raw state (no hello until ``startMessaging()``).
    public convenience init(stream: any ByteStream, configuration: ConnectionConfiguration, raw: Bool = false) {
        self.init(stream: stream, configuration: configuration, counters: nil, raw: raw)
    }

    /// The service's form: traffic is also added to `counters`.
    init(stream: any ByteStream, configuration: ConnectionConfiguration, counters: ServiceCounters?, raw: Bool = false) {
        stream.reactor.preconditionInReactor()
        self.counters = counters
        self.stream = stream
        self.reactor = stream.reactor
        createdAt = stream.reactor.now()
        self.configuration = configuration
        queueLimit = configuration.maxQueuedMessages ?? .max
        queueByteLimit = configuration.maxQueuedBytes ?? .max
        var readerConfiguration = ReaderConfiguration()
        readerConfiguration.local = configuration.effectiveHello
        readerConfiguration.codecs = configuration.codecs
        readerConfiguration.limits = configuration.limits
        readerConfiguration.maxBodyBytes = configuration.maxBodyBytes
        readerConfiguration.maxReceivingBytes = configuration.maxReceivingBytes
        readerConfiguration.sharedBudget = configuration.sharedReceiveBudget
        readerConfiguration.prepareLargeArray = { MemoryAdvice.preferHugePages($0) }
        reader = PacketReader(configuration: readerConfiguration, registry: configuration.registry)
        // Unretained: the connection owns its reader, which calls these only from the connection's own
        // reads (`received(_:)`, whose caller keeps the connection alive). A checked `unowned` cost a
        // runtime check and a retain of the connection per message, and the connection's weak
        // references (timers) make each of its retains take the runtime's slow path.
        let unretained = Unmanaged.passUnretained(self)
        reader.onEvent = { event in unretained._withUnsafeGuaranteedRef { $0.readerEvent(event) } }
        reader.onMessage = { header, message in
            unretained._withUnsafeGuaranteedRef { $0.messageArrived(header, message) }
        }
        // Through a constant holder: a `[weak self]` capture is a mutable box, checked for exclusivity on
        // every call (measured: two `swift_beginAccess` per request and side).
        let weakSelf = WeakConnection(self)
        packetWritten = { error in weakSelf.connection?.packetWasWritten(error) }
        deferredPump = { weakSelf.connection?.runDeferredPump() }
        installCallbacks(on: stream)
        stream.applyOptions(
            StreamOptions(
                unsentBytesLimit: configuration.unsentBytesLimit, receiveBufferSize: configuration.receiveBufferSize))
        startReceiveLimits()
        if raw {
            state = .raw
            startRawPhaseTimer()
        } else {
            sendHello()
        }
    }

    /// Writes this side's hello and starts waiting for the peer's.
    func sendHello() {
        var hello = [UInt8](repeating: 0, count: PacketFormat.headerSize + Hello.payloadSize)
        _ = hello.withUnsafeMutableBytes { Hello.write(configuration.effectiveHello, into: $0) }
        countSent(hello.count)
        stream.write(hello)
        if let helloTimer { reactor.cancelTimer(helloTimer) }  // the Raw phase's
        helloTimer = nil
        if let limit = configuration.helloTimeout {
            helloTimer = reactor.schedule(after: limit) { [weak self] in
                self?.helloTimer = nil
                self?.finish(.helloTimeout)
            }
        }
    }

    /// The stream holds these closures, and so the connection, until it closes.
    func installCallbacks(on stream: any ByteStream) {
        stream.onRead = { bytes in self.received(bytes) }
        stream.onClose = { error in self.finish(error.map(ConnectionError.stream) ?? .closedByPeer) }
        stream.onEndOfInput = { self.endOfInput() }
    }

    /// Queues `message`; `completion` (on the reactor thread) says whether it was written, cancelled or
    /// failed. Messages sent before the handshake completes wait for it.
    /// - Returns: the writer's id for ``cancel(_:)`` when the connection is active; `nil` before the handshake.
    /// - Throws: `WireError/unregisteredType(_:)` and other encoding errors, at once.
    @discardableResult
    public func send<M: WireMessage>(
        _ message: M, flags: MessageFlags = [], requestID: UInt64 = 0, responseTo: UInt64 = 0,
        completion: ((MessageWriter.Outcome) -> Void)? = nil
    ) throws(WireError) -> UInt64? {
        try send(message, flags: flags, requestID: requestID, responseTo: responseTo, completion: completion, observer: nil)
    }

    /// ``send(_:flags:requestID:responseTo:completion:)`` telling an observer object instead of a closure.
    ///
    /// `limited: false` leaves the message out of the queue limits (``ConnectionConfiguration/maxQueuedBytes``,
    /// ``ConnectionConfiguration/maxQueuedMessages``): for messages the owner bounds itself and a peer
    /// cannot make grow — a pool's own sends. Only what a peer can drive (responses, messages sent from
    /// handlers) counts, so a large message of this side's own never stops the reading of its answers.
    @discardableResult
    public func send<M: WireMessage>(
        _ message: M, flags: MessageFlags = [], requestID: UInt64 = 0, responseTo: UInt64 = 0,
        observer: any MessageOutcomeObserver, limited: Bool = true
    ) throws(WireError) -> UInt64? {
        try send(
            message, flags: flags, requestID: requestID, responseTo: responseTo, completion: nil, observer: observer,
            limited: limited)
    }

    private func send<M: WireMessage>(
        _ message: M, flags: MessageFlags, requestID: UInt64, responseTo: UInt64,
        completion: ((MessageWriter.Outcome) -> Void)?, observer: (any MessageOutcomeObserver)?, limited: Bool = true
    ) throws(WireError) -> UInt64? {
        reactor.preconditionInReactor()
        if responseTo != 0, !unanswered.contains(responseTo), case .active = state {
            // The request was answered, refused or cancelled by the peer already: nobody wants this.
            guard configuration.registry.typeID(of: M.self) != nil else { throw .unregisteredType("\(M.self)") }
            observer?.messageEnded(.canceledByPeer(partlySent: false))
            completion?(.canceledByPeer(partlySent: false))
            return nil
        }
        let flags = responseTo == 0 ? flags : orderingParts(flags, responseTo: responseTo)
        let answers = responseTo != 0 && !flags.contains(.responsePart)
        if let writer, case .active = state {
            // The common case, with no closure to allocate: the writer checks the type (cached) itself.
            do {
                let id = try writer.enqueue(
                    message, registry: configuration.registry, flags: flags, requestID: requestID,
                    responseTo: responseTo, completion: completion, observer: observer, limited: limited)
                if answers {
                    if !unanswered.isEmpty { unanswered.remove(responseTo) }
                    forgetHandlerTask(of: responseTo)
                }
                schedulePump()
                if queueIsOverLimit(writer) { queueOverLimit() }
                return id
            } catch .unregisteredType(let name) {
                throw .unregisteredType(name)
            } catch {
                // A final response that cannot be sent still answers its request: with a reject.
                if answers && unanswered.contains(responseTo) {
                    reject(responseTo, PeerRejection(code: .handlerFailed, reason: "the response could not be sent: \(error)"))
                }
                observer?.messageEnded(.failed(error, partlySent: false))
                completion?(.failed(error, partlySent: false))
                return nil
            }
        }
        guard configuration.registry.typeID(of: M.self) != nil else { throw .unregisteredType("\(M.self)") }
        if case .closed = state {
            observer?.messageEnded(.canceled(partlySent: false))
            completion?(.canceled(partlySent: false))
            return nil
        }
        let registry = configuration.registry
        waitingForHandshake.append(
            PendingSend(completion: completion, observer: observer) { writer, completion, observer throws(WireError) in
                try writer.enqueue(
                    message, registry: registry, flags: flags, requestID: requestID, responseTo: responseTo,
                    completion: completion, observer: observer, limited: limited)
            })
        return nil
    }

    /// Cancels a message queued or partly written on this connection (the peer drops what it got).
    /// Its completion reports `MessageWriter/Outcome/canceled(partlySent:)`. `false` when it already ended.
    @discardableResult
    public func cancel(_ writerID: UInt64) -> Bool {
        guard let writer, writer.cancel(writerID) else { return false }
        schedulePump()
        return true
    }

    /// Tells the peer that the response to `requestID` is no longer wanted.
    public func cancelRequest(_ requestID: UInt64) {
        guard let writer else { return }
        writer.cancelRequest(requestID)
        schedulePump()
    }

    @discardableResult
    private func enqueue(_ pending: PendingSend, into writer: MessageWriter) -> UInt64? {
        do {
            return try pending.enqueue(writer, pending.completion, pending.observer)
        } catch {
            pending.end(.failed(error, partlySent: false))
            return nil
        }
    }

    /// Stops reading from the peer (its sends then back up into its own queue) until ``resumeReading()``.
    public func pauseReading() {
        pausedByOwner = true
        stream.pauseReading()
    }

    /// Reads again, starting with what arrived while paused.
    public func resumeReading() {
        pausedByOwner = false
        if !pausedForQueue && !pausedForRaw { stream.resumeReading() }
    }

    /// The peer's address.
    public var remoteAddress: SocketAddress? { stream.remoteAddress }

    /// What the secure stream verified about the peer (protocol, cipher, certificate); `nil` when plain.
    public var security: SecurityInfo? { stream.security }

    /// Closes the connection; queued messages complete as cancelled.
    public func close() { finish(.closedLocally) }

    // MARK: reading

    /// Reads bytes that arrived before the connection took the stream over (the destination's first
    /// bytes after a proxy's reply), as if the stream had just delivered them. Reactor thread.
    public func consume(initialInput bytes: [UInt8]) {
        reactor.preconditionInReactor()
        bytes.withUnsafeBytes { received($0) }
    }

    func received(_ bytes: UnsafeRawBufferPointer) {
        receivedSinceCheck = true
        bytesReceived &+= bytes.count
        counters?.bytesReceived.add(bytes.count, ordering: .relaxed)
        if case .raw = state { return rawReceived(bytes) }
        parse(bytes)
    }

    /// Reads bytes already counted (in Raw, or given at the start) as packets.
    func parse(_ bytes: UnsafeRawBufferPointer) {
        do {
            try reader.consume(bytes)
        } catch {
            finish(.protocolViolation(error))
            return
        }
        if reader.isSuspended {
            // The peer's start-secure packet arrived: the rest of the input is TLS.
            peerStartedSecure()
            return
        }
        if drainRequested { closeIfDone() }  // a message that was still arriving may have ended
        // Answers to what was just read go out now, not after the reactor's other reads this turn (a
        // ping behind 16 reads of bulk data waited about a millisecond; measured in W3).
        if pumpScheduled && !pumping { pump() }
    }

    /// A complete message from the reader (lent, not copied).
    private func messageArrived(_ header: MessageHeader, _ message: any WireMessage) {
        if case .closed = state { return }  // a close in the middle of a read ends it
        if header.flags.contains(.request) { unanswered.increment(header.requestID) }
        onMessage?(header, message)
        // A long read of small messages (a pipelined peer's batch): once enough answers wait, send
        // them while reading on, so the peer works in parallel instead of waiting for the whole batch.
        // Only when nothing else on this reactor is ready: otherwise other connections keep the peer
        // busy and the extra writes only cost.
        // (Not while closing gracefully: a pump may then close the connection mid-read.)
        if pumpScheduled, !pumping, !closeOnceWritten, reactor.readyThisTurn <= 1, let writer,
            writer.pendingCount >= Self.earlyPumpMessages
        {
            pump()
        }
    }

    private func readerEvent(_ event: ReaderEvent) {
        // A close in the middle of a read (a limit, a handler) ends it: the rest of the input is ignored.
        if case .closed = state { return }
        switch event {
        case .handshake(_, let agreed):
            activate(agreed)
        case .message(let header, let message):
            messageArrived(header, message)  // not reached: the reader hands messages to onMessage
        case .startSecure:
            break  // handled once the read is over (received(_:)), with the bytes that followed
        case .keepAlive:
            counters?.keepAlivesReceived.add(1, ordering: .relaxed)
            keepAliveReceived()
            onEvent?(event)
        case .cancelRequest(let requestID):
            // The peer gave up on its request: drop our response to it if it has not gone out yet.
            unanswered.remove(requestID)
            cancelHandlerTask(of: requestID)
            if !answeringInParts.isEmpty { answeringInParts.remove(requestID) }
            if let writer, writer.cancelResponses(to: requestID) > 0 { schedulePump() }
            onEvent?(event)
        case .rejected(let header, let error):
            // The sender of a request learns at once that no response will come (PROTOCOL.md §4).
            if header.flags.contains(.request) { writeReject(header.requestID, PeerRejection(error)) }
            onEvent?(event)
        case .goingAway:
            peerGoingAway = true
            onGoingAway?()  // first: the owner stops giving it work before withdrawn messages are dispatched
            goAway()  // the answer: this side starts nothing new either
            closeIfDone()
        default:
            onEvent?(event)
        }
    }

    private func activate(_ agreed: AgreedParameters) {
        let codec = configuration.codecs.first { $0.maskBit == agreed.codecBit && agreed.codecBit != 0 }
        let writer = MessageWriter(
            packetSize: agreed.packetSize, slots: agreed.slots, codec: codec, maxBodyBytes: configuration.maxBodyBytes)
        if let counters {
            writer.onOutcome = { _, outcome in
                if case .written = outcome { counters.messagesSent.add(1, ordering: .relaxed) }
            }
            if let instrumentation = counters.instrumentation {
                let registry = configuration.registry
                writer.onWritten = { typeID, bytes in
                    instrumentation.messageWritten(type: registry.name(of: typeID) ?? "\(typeID)", bytes: bytes)
                }
            }
        }
        self.writer = writer
        state = .active(agreed)
        if let helloTimer { reactor.cancelTimer(helloTimer) }
        helloTimer = nil
        if let interval = configuration.keepAliveInterval {
            keepAliveTimer = reactor.schedule(after: interval, repeating: interval) { [weak self] in self?.keepAliveTick() }
        }
        onActive?(agreed)
        let waiting = waitingForHandshake
        waitingForHandshake.removeAll()
        for pending in waiting { _ = enqueue(pending, into: writer) }
        pump()
    }
}

/// A weak reference to a connection that closures capture as a constant.
private final class WeakConnection {
    @exclusivity(unchecked) weak var connection: Connection?
    init(_ connection: Connection) { self.connection = connection }
}
