import Logging
public import SolidEngine
public import SolidReactor
import Synchronization
import Glibc

/// Sends Swift messages to named destinations and serves incoming ones: the SolidIPC user API.
///
/// Client side: one pool per destination (`"host:port"`), pinned to a reactor chosen by the destination,
/// created on the first send. Server side: a listener whose accepted connections can be answered through
/// the ``MessageContext`` a handler receives. Both at once make a peer-to-peer node.
///
/// **Threads.** Call the API from any thread. Completions, response callbacks and handlers run on the
/// reactor thread of the connection involved, never on the caller's.
///
/// **Locking.** A send takes the pool map's lock once to find (or create) the destination's entry,
/// reserves a queue place with one atomic add (failing with ``SendError/queueFull(_:)`` at capacity),
/// and posts the message to the pool's reactor through its lock-free queue. Nothing else is shared.
public final class IPCService: Sendable {
    let configuration: ServiceConfigurationSnapshot
    let group: ReactorGroup
    private let logger: Logger
    private let handlersBeforeStart = Lock<[MessageTypeID: MessageHandler]>([:])
    private let sinkFactoriesBeforeStart = Lock<[MessageTypeID: SinkFactory]>([:])
    let state = Lock<ServiceState>(ServiceState())
    private let listenAddressConfigured: SocketAddress?
    private let unixPermissions: mode_t?
    private let serials = SerialCounter()
    let gracefulShutdownPeriod: Duration

    /// Creates a service on `group`'s reactors. Validates the configuration.
    /// - Throws: ``ServiceConfigurationError``.
    public init(configuration: ServiceConfiguration, group: ReactorGroup) throws(ServiceConfigurationError) {
        try configuration.validate()
        var connection = configuration.connection
        connection.sharedReceiveBudget = ReceiveBudget(limit: configuration.maxReceivingBytes)
        self.configuration = ServiceConfigurationSnapshot(
            connection: connection, registry: configuration.registry,
            poolQueueCapacity: configuration.poolQueueCapacity, connectTimeout: configuration.connectTimeout,
            maxConnectionsPerPool: configuration.maxConnectionsPerPool,
            maxPendingConnectionsPerPool: configuration.maxPendingConnectionsPerPool,
            reconnectDelay: configuration.reconnectDelay, maxReconnectDelay: configuration.maxReconnectDelay,
            connectionStartState: configuration.connectionStartState,
            maxAcceptedConnections: configuration.maxAcceptedConnections, tls: configuration.tls,
            secureFromStart: configuration.secureFromStart, proxy: configuration.proxy,
            proxyForDestination: configuration.proxyForDestination,
            acceptedConnectionsStartRaw: configuration.acceptedConnectionsStartRaw,
            onConnectionRaw: configuration.onConnectionRaw,
            onConnectionStart: configuration.onConnectionStart,
            onConnectionSecure: configuration.onConnectionSecure, onConnectionStop: configuration.onConnectionStop,
            instrumentation: configuration.instrumentation, defaultTimeout: configuration.defaultTimeout)
        self.group = group
        self.logger = configuration.logger
        gracefulShutdownPeriod = configuration.gracefulShutdownPeriod
        listenAddressConfigured = configuration.listenAddress
        unixPermissions = configuration.unixSocketPermissions.map { mode_t($0) }
    }

    /// Registers the handler for incoming messages of type `M` (before `start()`).
    public func handle<M: WireMessage>(_ type: M.Type, _ handler: @escaping @Sendable (M, MessageContext) -> Void)
        throws(SendError)
    {
        guard let typeID = configuration.registry.typeID(of: type) else { throw .unregisteredType("\(type)") }
        handlersBeforeStart.withLock { handlers in
            handlers[typeID] = { message, context in
                // An exact type check, not `as?`: this closure is generic code run once per message.
                if M.isExactType(of: message) { handler(M.unwrapExact(message), context) }
                return nil
            }
        }
    }

    /// Registers a handler that starts a task per message (the `async` handlers): the service cancels the
    /// task of a request when the peer cancels it or its connection closes before it is answered.
    func handleInTasks<M: WireMessage>(
        _ type: M.Type, _ start: @escaping @Sendable (M, MessageContext) -> Task<Void, Never>
    ) throws(SendError) {
        guard let typeID = configuration.registry.typeID(of: type) else { throw .unregisteredType("\(type)") }
        handlersBeforeStart.withLock { handlers in
            handlers[typeID] = { message, context in
                M.isExactType(of: message) ? start(M.unwrapExact(message), context) : nil
            }
        }
    }

    /// Registers the handler for incoming messages of type `M` that carry stream fields (before
    /// `start()`). `makeSinks` runs on the connection's reactor thread when the message's other fields
    /// have arrived, before its streams, and returns one sink per stream field in declaration order (a
    /// wrong count rejects the message); `handler` runs once every stream has ended in its sink. A message
    /// whose sender cancels it, or whose connection drops, aborts its sinks and never reaches `handler`.
    /// The same sinks serve responses of type `M` to this side's requests.
    public func handle<M: WireMessage>(
        _ type: M.Type, makeSinks: @escaping @Sendable (M, MessageContext) -> [any ByteSink],
        _ handler: @escaping @Sendable (M, MessageContext) -> Void
    ) throws(SendError) {
        guard let typeID = configuration.registry.typeID(of: type) else { throw .unregisteredType("\(type)") }
        try handle(type, handler)
        sinkFactoriesBeforeStart.withLock { factories in
            factories[typeID] = { message, context in
                guard M.isExactType(of: message) else { return [] }
                return makeSinks(M.unwrapExact(message), context)
            }
        }
    }

    /// Starts the service; returns the bound listen address (with the chosen port) for a server.
    /// - Throws: `SystemError` when the listener cannot bind; ``SendError/serviceStopped`` after stop,
    ///   ``SendError/alreadyStarted`` the second time.
    ///
    /// Blocks until the listener is bound; must not be called on a reactor thread of the group. In async
    /// code `try await start()` suspends instead of blocking.
    @discardableResult
    public func start() throws -> SocketAddress? {
        try waitOffReactor("start()", beginStart).get()
    }

    /// Starts the service without waiting: `done` runs once with the bound listen address (nil for a
    /// client), on a reactor thread or on this one.
    func beginStart(_ done: @escaping @Sendable (Result<SocketAddress?, any Error>) -> Void) {
        configuration.registry.freeze()  // the connections read it without locks from now on
        let core = ServiceCore(
            configuration: configuration, handlers: handlersBeforeStart.withLock { $0 },
            sinkFactories: sinkFactoriesBeforeStart.withLock { $0 }, serials: serials, logger: logger)
        let started: Result<Void, SendError> = state.withLock { state in
            guard !state.stopped else { return .failure(.serviceStopped) }
            guard state.core == nil else { return .failure(.alreadyStarted) }
            state.core = core
            return .success(())
        }
        if case .failure(let error) = started { return done(.failure(error)) }
        guard let address = listenAddressConfigured else { return done(.success(nil)) }
        let reactor = group.reactors[0]
        let group = self.group
        let unixPermissions = self.unixPermissions
        let logger = self.logger
        let posted = reactor.execute { [state] in
            let outcome = Result { () throws -> SocketAddress in
                let listener = try SocketListener(
                    address: address, unixPermissions: unixPermissions, on: reactor
                ) { accepted in
                    // Beyond the limit a connection is refused at once (a reset), not queued.
                    guard core.admitAccepted() else { return accepted.refuse() }
                    let target = group.next()
                    target.execute {
                        guard let stream = try? SocketStream(adopting: accepted, on: target) else {
                            return core.releaseAccepted()
                        }
                        ServerPeer.accept(stream, core: core)
                    }
                }
                state.withLock { state in
                    state.listener = ObjectHandle(reactor: reactor, id: listener.objectID!)
                    state.listeningAddress = listener.localAddress
                }
                logger.debug("service listening", metadata: ["address": "\(listener.localAddress)"])
                return listener.localAddress
            }
            done(outcome.map { $0 })
        }
        if posted != .posted { done(.failure(SendError.serviceStopped)) }
    }

    /// Sends `message` to `destination`; `completion` runs once on the connection's reactor thread when it
    /// was written (or failed). While the destination is not reachable the message waits (the pool
    /// retries with back-off) unless it is ``SendOptions/oneShot`` (then it fails with
    /// ``SendError/connectFailed(_:_:)`` after one attempt) or its `timeout` passes
    /// (``SendError/timeout(progress:)``).
    /// - Throws: ``SendError/queueFull(_:)``, ``SendError/unregisteredType(_:)``, ``SendError/serviceStopped``
    ///   at once; the completion is then not called.
    /// - Returns: the message's id, for ``cancel(_:)``.
    ///
    /// Inlinable so the message's item type is made in the caller's module, where its metadata is cached.
    @inlinable @discardableResult
    public func send<M: WireMessage & Sendable>(
        _ message: M, to destination: Destination, options: SendOptions = [], timeout: Duration? = nil,
        completion: (@Sendable (Result<Void, SendError>) -> Void)? = nil
    ) throws(SendError) -> MessageID {
        let serial = takeSerial()
        let item = MessageItem(
            message, serial: serial, flags: MessageFlags(options), timeout: timeout, completion: completion)
        try post(item, type: M.self, to: destination)
        return MessageID(destination: destination, serial: serial)
    }

    /// Sends a request and calls `onResponse` once with the response (on the connection's reactor thread),
    /// or once per part when the peer answers in parts.
    /// - Returns: the request's id, for ``cancel(_:)``.
    @inlinable @discardableResult
    public func request<Request: WireMessage & Sendable, Response: WireMessage>(
        _ request: Request, to destination: Destination, options: SendOptions = [], timeout: Duration? = nil,
        expecting: Response.Type = Response.self,
        onResponse: @escaping @Sendable (Result<Response, SendError>) -> Void
    ) throws(SendError) -> MessageID {
        let entry = try reservePlace(for: Request.self, to: destination)
        let serial = takeSerial()
        let item: RequestItem<Request, Response>
        // A finished request item of the same types, put aside by the pool, saves an allocation.
        if let spare = entry.takeSpareRequest() as? RequestItem<Request, Response> {
            spare.reuse(request, serial: serial, flags: MessageFlags(options), timeout: timeout, onResponse: onResponse)
            item = spare
        } else {
            item = RequestItem(
                request, serial: serial, flags: MessageFlags(options), timeout: timeout, addressed: false,
                onResponse: onResponse)
        }
        try post(item, type: Request.self, on: entry)
        return MessageID(destination: destination, serial: serial)
    }

    /// Cancels a message or request. Its own callback then reports ``SendError/canceled(progress:)``
    /// exactly once, saying how far it got: queued ones are dropped (`notSent`), partly written ones
    /// become a cancel record the peer obeys (`partlySent`), and requests awaiting their response
    /// complete at once while the peer is told (`sentAwaitingResponse`).
    /// - Throws: ``SendError/unknownMessage`` when the message already completed or never existed.
    public func cancel(_ id: MessageID) throws(SendError) {
        guard let entry = state.withLock({ $0.pools[id.destination] }), entry.isLive(id.serial) else {
            throw .unknownMessage
        }
        if entry.reactor.post(CancelEvent(entry: entry, serial: id.serial)) != .posted { throw .serviceStopped }
    }

    /// The next message serial.
    @usableFromInline
    func takeSerial() -> UInt64 { serials.take() }

    /// Checks the type, finds the destination's pool (reserving a queue place) and posts `item` to it.
    @usableFromInline
    func post<M: WireMessage>(_ item: PoolItem, type: M.Type, to destination: Destination) throws(SendError) {
        try post(item, type: type, on: reservePlace(for: type, to: destination))
    }

    /// Checks the type and finds the destination's pool entry, reserving a place in its queue (given back
    /// by ``post(_:type:on:)`` when it fails, by the item once written).
    @usableFromInline
    func reservePlace<M: WireMessage>(for type: M.Type, to destination: Destination) throws(SendError) -> PoolEntry {
        try checkRegistered(M.self)
        var entry: PoolEntry
        repeat {
            entry = try poolEntry(for: destination)
            guard !entry.closing.load(ordering: .acquiring) else { throw .poolClosed(destination) }
            guard entry.reserve(capacity: configuration.poolQueueCapacity) else { throw .queueFull(destination) }
            if !entry.retired.load(ordering: .sequentiallyConsistent) { break }
            entry.released()  // the pool is being freed as idle: look the destination up again
        } while true
        return entry
    }

    /// Posts `item` to `entry`'s pool, where the caller reserved a queue place for it.
    @usableFromInline
    func post<M: WireMessage>(_ item: PoolItem, type: M.Type, on entry: PoolEntry) throws(SendError) {
        entry.started(item.serial)
        item.entry = entry
        if entry.core.isInstrumented, let instrumentation = configuration.instrumentation {
            let registry = configuration.registry
            let name = registry.typeID(of: M.self).flatMap { registry.name(of: $0) } ?? "\(M.self)"
            item.record = SendRecord(type: name, instrumentation: instrumentation)
        }
        item.holdsReservation = true
        // At once when called on the pool's reactor (a completion that sends the next request), else queued.
        if entry.reactor.deliverSoonest(item, to: nil) != .posted {
            item.givePlaceBack()
            entry.finished(item.serial)
            throw .serviceStopped
        }
    }

    /// The destination's pool entry, created when there is none.
    private func poolEntry(for destination: Destination) throws(SendError) -> PoolEntry {
        // An optional, not a `Result`: copying a `Result` with a `SendError` went through an outlined
        // switch over every error case on each request. `nil`: the service is stopped or draining.
        let found: PoolEntry? = state.withLock { state in
            guard !state.stopped, !state.draining, let core = state.core else { return nil }
            if let existing = state.pools[destination] { return existing }
            let reactor = group.reactors[Int(UInt(bitPattern: destination.hashValue) % UInt(group.reactors.count))]
            // Refers to the map's lock, not to the service: a weak reference to the service would give it
            // a side table, and every retain of it (an application's closure that captures the service,
            // say) would take the runtime's slow path (measured: ~125 instructions a request).
            let entry = PoolEntry(destination: destination, reactor: reactor, core: core) {
                [weak state = self.state, instrumentation = configuration.instrumentation] entry in
                guard let state else { return false }
                return IPCService.removeIdle(entry, from: state, instrumentation: instrumentation)
            }
            state.pools[destination] = entry
            return entry
        }
        guard let entry = found else { throw .serviceStopped }
        // Reported outside the lock (an instrumentation may read the service); a lost race to create the
        // same entry reports nothing.
        if entry.reportCreation() { configuration.instrumentation?.poolsChanged(by: 1) }
        return entry
    }

    /// Drops an idle pool's entry from the map unless a sender reserved a place in it meanwhile.
    private static func removeIdle(
        _ entry: PoolEntry, from state: Lock<ServiceState>, instrumentation: (any ServiceInstrumentation)?
    ) -> Bool {
        let removed = state.withLock { state in
            guard state.pools[entry.destination] === entry, entry.markRetiredIfUnused() else { return false }
            state.pools[entry.destination] = nil
            return true
        }
        if removed, entry.reportRemoval() { instrumentation?.poolsChanged(by: -1) }
        if removed { entry.wakeAllWaiters() }  // async senders waiting for room here look up again
        return removed
    }

    /// How ``closePool(_:mode:completion:)`` and ``closeConnection(_:mode:)`` treat what is still queued
    /// or in flight.
    public enum CloseMode: Sendable {
        /// Let what started complete first: a pool's queued and in-flight messages and awaited responses;
        /// a connection's messages in flight and awaited responses (it takes no new pool messages).
        case graceful
        /// Close now: a pool's queued messages fail with ``SendError/poolClosed(_:)``; messages inside the
        /// connection fail with ``SendError/connectionClosed(_:progress:)`` saying how far they got (or go
        /// back to the pool's queue, as the resend rule says, when only a connection closes).
        case force
    }

    /// Closes `destination`'s pool. New sends to it fail with ``SendError/poolClosed(_:)`` at once; a later
    /// send after `completion` ran opens a fresh pool. `completion` runs on the pool's reactor thread once
    /// the pool is closed.
    /// - Throws: ``SendError/noPool(_:)`` when there is no pool for `destination` (never used, or
    ///   freed after it had nothing left to do).
    public func closePool(
        _ destination: Destination, mode: CloseMode, completion: (@Sendable () -> Void)? = nil
    ) throws(SendError) {
        guard let entry = state.withLock({ $0.pools[destination] }) else { throw .noPool(destination) }
        entry.closing.store(true, ordering: .releasing)
        // The map's lock, not the service, weakly (see poolEntry(for:)).
        let posted = entry.reactor.execute { [weak state = self.state, instrumentation = configuration.instrumentation] in
            let finish: () -> Void = {
                state?.withLock { state in
                    guard state.pools[destination] === entry else { return }
                    state.pools[destination] = nil
                }
                if entry.reportRemoval() { instrumentation?.poolsChanged(by: -1) }
                entry.wakeAllWaiters()
                completion?()
            }
            guard let pool = entry.existingPool else {
                entry.poolStopped(.poolClosed(destination))  // a message posted meanwhile fails, no pool appears
                return finish()
            }
            switch mode {
            case .graceful: pool.closeGracefully(finish)
            case .force:
                pool.stop(with: .poolClosed(destination))
                finish()
            }
        }
        if posted != .posted { throw .serviceStopped }
    }

    /// Suspends until `destination`'s queue may have room.
    func waitForRoom(_ destination: Destination) async {
        guard let entry = state.withLock({ $0.pools[destination] }) else { return }
        await entry.waitForRoom(capacity: configuration.poolQueueCapacity)
    }

    /// A task waiting for room in `destination`'s queue was cancelled: the waiters wake (the cancelled one
    /// gives up, the others look again and wait on).
    func stopWaitingForRoom(_ destination: Destination) {
        state.withLock({ $0.pools[destination] })?.wakeWaiters()
    }

    /// Counters: connections, messages, bytes, keep-alives.
    public var statistics: ServiceStatistics {
        let (core, pools) = state.withLock { ($0.core, $0.pools.count) }
        var statistics = core?.counters.snapshot ?? .zero
        statistics.pools = pools
        statistics.receivingBytes = configuration.connection.sharedReceiveBudget?.inUse ?? 0
        return statistics
    }

    /// Stops accepting, closes every pool (their queued messages complete with
    /// ``SendError/serviceStopped``) and refuses further sends. Blocks until the reactors have done it,
    /// so it must not be called on a reactor thread — completions, handlers and hooks run there: calling
    /// it from one traps (a precondition, on in release builds); hand it to another thread instead, or use
    /// `await stop()` (which suspends instead of blocking).
    public func stop() {
        waitOffReactor("stop()") { done in beginStop { done(()) } }
    }

    /// Stops without waiting; `done` runs once when the reactors have done it (on one of them, or here).
    func beginStop(_ done: @escaping @Sendable () -> Void) {
        let (pools, listener, core) = state.withLock { state -> ([PoolEntry], ObjectHandle?, ServiceCore?) in
            state.stopped = true
            defer { state.pools.removeAll() }
            return (Array(state.pools.values), state.listener, state.core)
        }
        let removed = pools.filter { $0.reportRemoval() }.count
        if removed > 0 { configuration.instrumentation?.poolsChanged(by: -removed) }
        var fanOut = ReactorFanOut()
        if let listener { fanOut.closeListener(listener) }
        // Accepted connections close too (after the listener, so no new one slips in unnoticed: a peer
        // created after this point sees the service stopping and closes itself).
        for peer in core?.takePeersForStop() ?? [] {
            fanOut.run(on: peer.reactor) { done in
                (peer.reactor.object(peer.id) as? ServerPeer)?.close()
                done()
            }
        }
        for entry in pools {
            fanOut.run(on: entry.reactor, refused: { entry.wakeAllWaiters() }) { done in
                if let pool = entry.existingPool { pool.stop() } else { entry.poolStopped(.serviceStopped) }
                entry.wakeAllWaiters()
                done()
            }
        }
        fanOut.whenDone { [weak self] in
            self?.stopFinished()
            done()
        }
    }
}

extension IPCService {
    /// The blocking form of a `begin…` operation: runs `begin` and waits for the value it reports. Never
    /// on a reactor thread, where what it waits for runs (a precondition, on in release builds).
    func waitOffReactor<Value: Sendable>(
        _ operation: StaticString, _ begin: (@escaping @Sendable (Value) -> Void) -> Void
    ) -> Value {
        precondition(!group.reactors.contains { $0.isCurrent }, "IPCService.\(operation) called on a reactor thread")
        let result = Lock<Value?>(nil)
        let latch = Latch()
        begin { value in
            result.withLock { $0 = value }
            latch.open()
        }
        latch.wait()
        return result.withLock { $0! }
    }
}

extension ReactorFanOut {
    /// Closes the service's listener on its reactor.
    mutating func closeListener(_ listener: ObjectHandle) {
        run(on: listener.reactor) { done in
            (listener.reactor.object(listener.id) as? SocketListener)?.close()
            done()
        }
    }
}

/// The mutable part of a service, behind its lock.
struct ServiceState {
    var stopped = false
    /// `stop(gracePeriod:)` is draining: new messages to destinations are refused.
    var draining = false
    var core: ServiceCore?
    var pools = PoolMap()
    var listener: ObjectHandle?
    var listeningAddress: SocketAddress?
    /// The address to report: none once a stop (graceful or not) began.
    var reportedListeningAddress: SocketAddress? { stopped || draining ? nil : listeningAddress }
    /// The stop has finished (every reactor closed what it held).
    var stopFinished = false
    /// ``IPCService/beginGracefulShutdown()`` was called.
    var shutdownBegun = false
    /// Run once the stop has finished (incoming-message sequences end).
    var stopActions: [@Sendable () -> Void] = []
    /// Tasks in ``IPCService/serve()`` or `await stop()` waiting for the stop to finish.
    var stopWaiters: [CheckedContinuation<Void, Never>] = []
}

/// Names a message sent with ``IPCService/send(_:to:options:timeout:completion:)`` or a request, for cancelling it.
public struct MessageID: Hashable, Sendable, CustomStringConvertible {
    /// Where it was sent.
    public let destination: Destination
    /// Its number within the service.
    public let serial: UInt64

    /// Creates an id (normally returned by a send).
    public init(destination: Destination, serial: UInt64) {
        self.destination = destination
        self.serial = serial
    }

    /// `destination#serial`.
    public var description: String { "\(destination)#\(serial)" }
}
