import SolidEngine
import Logging
import SolidReactor
import Synchronization

/// The client side of one destination, pinned to one reactor: resolves the name, opens connections
/// (up to the configured number, one pending at a time by default), spreads queued messages over them
/// and matches responses to requests.
///
/// Scaling: messages go to the active connection with the fewest in flight (a message is in flight until
/// written, a request until its response), up to the connection's slot count; what does not fit waits in
/// the pool's queue, and a waiting message makes the pool open one more connection (within the limits).
/// Failures: a failed connect tries the next resolved address; when every address failed and no
/// connection is up, one-shot messages fail with ``SendError/connectFailed(_:_:)`` and the others wait
/// while the pool resolves again and retries after a back-off that doubles per failure (also when the
/// last connection drops while messages wait, unless this side closed it on purpose). Resend rule (the
/// seed's): when a connection drops, its messages that had not started go back to the front of the
/// pool's queue, and so do idempotent ones (partly sent, or awaiting a response); a partly sent plain
/// message fails with ``SendError/connectionClosed(_:progress:)`` (`partlySent`), a plain request
/// awaiting its response with `sentAwaitingResponse`.
final class Pool: ReactorObject {
    typealias Waiter = @Sendable (Result<any WireMessage, SendError>) -> Void

    let entry: PoolEntry
    var core: ServiceCore { entry.core }
    var settings: ServiceConfigurationSnapshot { entry.core.configuration }
    @exclusivity(unchecked) var stopped = false
    /// What messages still waiting get once stopped (service stop or pool close).
    @exclusivity(unchecked) var stopError = SendError.serviceStopped
    /// Set by a graceful close: called once the pool has drained.
    @exclusivity(unchecked) var closeWhenDrained: (() -> Void)?
    @exclusivity(unchecked) var queue = ItemQueue()
    @exclusivity(unchecked) var links: [PoolLink] = []
    /// The connection that carries the pool's synchronous messages, chosen when the first one goes out.
    weak var synchronousLink: PoolLink?
    @exclusivity(unchecked) var connecting = 0
    @exclusivity(unchecked) var resolving = false
    @exclusivity(unchecked) private var addresses: [SocketAddress] = []
    @exclusivity(unchecked) private var nextAddress = 0
    @exclusivity(unchecked) private var failedInARow = 0
    @exclusivity(unchecked) private var failedThisRound = 0
    /// Timers of messages with a timeout, by serial.
    @exclusivity(unchecked) var timeouts: [UInt64: TimerID] = [:]
    @exclusivity(unchecked) var retryTimer: TimerID?
    /// Why the last round of connect attempts failed, while the pool waits to retry: a one-shot message
    /// sent meanwhile fails at once with it instead of waiting for the next round.
    @exclusivity(unchecked) private var lastRoundFailure: ConnectionError?
    @exclusivity(unchecked) var id: ObjectID?
    /// Messages handed to a connection and not completed, by serial (for cancel).
    @exclusivity(unchecked) var inFlightMessages = InFlightList()

    /// Messages a dropping connection gave back (not started, or idempotent), in their order; they go to
    /// the front of the queue when the pool learns of the drop.
    @exclusivity(unchecked) var givenBack: [PoolItem] = []
    /// The end-of-turn checks (drained close, draining links, idle retirement) are scheduled.
    @exclusivity(unchecked) var checksScheduled = false

    init(entry: PoolEntry) {
        self.entry = entry
        id = entry.reactor.register(self)
    }

    /// Open connections (active or in their handshake), for tests and statistics.
    var connectionCount: Int { links.count }

    /// A message arrived from a sender.
    func enqueue(_ item: PoolItem) {
        guard !stopped else {
            item.givePlaceBack()
            finish(item.serial)
            item.fail(.serviceStopped)
            return
        }
        if item.oneShot, links.isEmpty, retryTimer != nil, let lastRoundFailure {
            failUnsent(item, .connectFailed(entry.destination, lastRoundFailure))
            return
        }
        queue.append(item)
        if let timeout = item.timeout {
            timeouts[item.serial] = entry.reactor.schedule(after: timeout) { [weak self] in self?.expire(item) }
        }
        dispatch()
        scale()
    }

    // MARK: connections

    /// Connections on their way: connecting, in the handshake, or passive (not yet activated).
    private var pending: Int { connecting + links.filter { !$0.takesPoolMessages && !$0.draining }.count }

    /// Opens one more connection when messages wait and the limits allow.
    func scale() {
        guard !stopped, retryTimer == nil, !resolving, !queue.isEmpty,
            links.count(where: { !$0.draining }) + connecting < settings.maxConnectionsPerPool,
            pending < settings.maxPendingConnectionsPerPool
        else { return }
        guard !addresses.isEmpty else {
            resolve()
            return
        }
        let address = addresses[nextAddress % addresses.count]
        nextAddress += 1
        connecting += 1
        let started = entry.reactor.now()
        SocketStream.connect(to: address, on: entry.reactor, timeout: settings.connectTimeout) { [self] result in
            guard !stopped else {
                connecting -= 1
                if case .success(let stream) = result { stream.close() }
                return
            }
            switch result {
            case .success(let stream):
                guard let proxy else {
                    connecting -= 1
                    return connected(stream, leftover: [])
                }
                let target = ProxyTarget(host: entry.destination.host, port: entry.destination.port)
                // The connect and the proxy's handshake share one connectTimeout.
                let left = max(settings.connectTimeout - entry.reactor.now().duration(since: started), .milliseconds(1))
                proxy.openTunnel(to: target, over: stream, timeout: left) { [self] tunnel in
                    connecting -= 1
                    guard !stopped else {
                        if case .success(let (stream, _)) = tunnel { stream.close() }
                        return
                    }
                    switch tunnel {
                    case .success(let (stream, leftover)): connected(stream, leftover: leftover)
                    case .failure(let error): connectFailed(.stream(error))
                    }
                }
            case .failure(let error):
                connecting -= 1
                connectFailed(.stream(error))
            }
        }
    }

    /// The proxy, unless the destination is a Unix-domain socket (always direct).
    private var proxy: ProxySettings? {
        guard entry.destination.unixAddress == nil else { return nil }
        if let choose = settings.proxyForDestination { return choose(entry.destination) }
        return settings.proxy
    }

    /// A stream to the destination (through the proxy's tunnel, if any): TLS first when configured, then
    /// the connection. `leftover`: the destination's first bytes, read with the proxy's reply.
    private func connected(_ stream: SocketStream, leftover: [UInt8]) {
        guard let tls = settings.tls, settings.secureFromStart else { return attach(stream, initialInput: leftover) }
        do throws(StreamError) {
            attach(try tls.makeClientStream(
                over: stream, serverName: entry.destination.serverName, initialInput: leftover, onHandshake: nil))
        } catch {
            stream.close()
            connectFailed(.stream(error))
        }
    }

    private func resolve() {
        let destination = entry.destination
        if let unix = destination.unixAddress {
            // Nothing to resolve: the path is the address.
            addresses = [.unix(unix)]
            nextAddress = 0
            scale()
            return
        }
        resolving = true
        // Through a proxy the pool connects to the proxy; the proxy resolves the destination's name.
        let (host, port) = proxy.map { ($0.host, $0.port) } ?? (destination.host, destination.port)
        entry.reactor.resolve(host: host, port: port) { [self] result in
            resolving = false
            guard !stopped else { return }
            switch result {
            case .failure(let error):
                failQueue(.resolveFailed(destination, "\(error)"))
                retireIfIdle()
            case .success(let resolved):
                addresses = resolved
                nextAddress = 0
                scale()
                retireIfIdle()  // the queue may have emptied (timeouts, cancels) while resolving
            }
        }
    }

    private func connectFailed(_ reason: ConnectionError) {
        failedInARow += 1
        failedThisRound += 1
        if links.isEmpty && failedThisRound >= addresses.count {
            // Every address failed and nothing is up: one-shot messages fail now, the others wait while
            // the pool resolves again and retries with back-off.
            failedThisRound = 0
            addresses = []
            lastRoundFailure = reason
            failQueue(.connectFailed(entry.destination, reason), where: { $0.oneShot })
            if !queue.isEmpty { scheduleRetry() }
            retireIfIdle()
            return
        }
        scale()  // the next address
        retireIfIdle()
    }

    private func attach(_ stream: any ByteStream, initialInput: [UInt8] = []) {
        let raw = settings.connectionStartState == .raw
        let connection = Connection(stream: stream, configuration: settings.connection, counters: core.counters, raw: raw)
        let link = PoolLink(connection: connection, pool: self, active: settings.connectionStartState == .active)
        links.append(link)
        let handle = link.handle
        core.provideSinks(to: connection, handle: handle)
        let destination = entry.destination
        var info = ConnectionInfo(handle: handle, connection: connection, destination: destination)
        connection.onActive = { [self] agreed in
            info = ConnectionInfo(handle: handle, connection: connection, destination: destination)
            core.counters.connectionsOpened.add(1, ordering: .relaxed)
            link.handshaken = true
            link.capacity = agreed.slots
            failedInARow = 0
            failedThisRound = 0
            lastRoundFailure = nil
            settings.onConnectionStart?(info)
            dispatch()
            scale()
        }
        if let tls = settings.tls {
            connection.secureUpgrade = SecureUpgrade(transport: tls, isClient: true, serverName: destination.serverName)
            connection.secureFromStart = settings.secureFromStart
        }
        connection.onSecured = { [settings, connection] _ in
            settings.onConnectionSecure?(ConnectionInfo(handle: handle, connection: connection, destination: destination))
        }
        connection.onMessage = { [self] header, message in
            if header.responseTo != 0 {
                respond(header, message, on: link)
            } else {
                core.dispatch(header, message, from: handle, on: connection)
            }
        }
        connection.onEvent = { [self] event in peerRecord(event, on: link) }
        connection.onGoingAway = { [self] in peerGoingAway(on: link) }
        connection.onClose = { [self] error in
            core.counters.connectionsClosed.add(1, ordering: .relaxed)
            settings.onConnectionStop?(info, error)
            link.unregister()
            // A connection that never completed its handshake (TLS or hello) is a failed attempt: one-shot
            // messages fail with its cause once every address failed, as after a refused connect.
            // So is a Raw connection its owner closed before activating it (a refused relay or proxy
            // exchange): the pool backs off instead of reconnecting at once.
            let failedAttempt = !link.handshaken && (error != .closedLocally || raw)
            // A connection that went away gracefully closed in order, whoever closed it: no back-off.
            detach(link, reason: error, closedHere: error == .closedLocally || link.draining, failedAttempt: failedAttempt)
            closeIfDrained()  // a graceful pool close waits for its connections
        }
        // The destination's first bytes that came with a proxy's reply (its hello, say), now that every
        // callback is in place.
        if !initialInput.isEmpty { connection.consume(initialInput: initialInput) }
        if raw { settings.onConnectionRaw?(info) }
    }

    /// `closedHere`: this side closed the connection on purpose (not a failure: no back-off before the next).
    /// `failedAttempt`: it closed before its handshake completed (counted as a failed connect).
    private func detach(_ link: PoolLink, reason: ConnectionError, closedHere: Bool, failedAttempt: Bool = false) {
        links.removeAll { $0 === link }
        if synchronousLink === link { synchronousLink = nil }
        for item in link.awaiting.removeAll() {
            inFlightMessages.remove(item)
            // An idempotent request is asked again until its response arrives.
            if !stopped, item.idempotent, !item.addressed {
                givenBack.append(item)
                continue
            }
            finish(item.serial)
            item.answer(.failure(stopped ? stopError : .connectionClosed(reason, progress: .sentAwaitingResponse)))
        }
        requeueGivenBack()
        guard !stopped else { return }
        if failedAttempt {
            connectFailed(reason)
        } else if links.isEmpty && !queue.isEmpty && !closedHere {
            failedInARow += 1
            scheduleRetry()
        } else {
            scale()
        }
        retireIfIdle()
    }

    private func scheduleRetry() {
        guard retryTimer == nil else { return }
        let delay = Self.backOff(
            base: settings.reconnectDelay, failures: failedInARow, limit: settings.maxReconnectDelay)
        retryTimer = entry.reactor.schedule(after: .nanoseconds(Int64(delay))) { [self] in
            retryTimer = nil
            scale()
            retireIfIdle()
        }
    }

    // MARK: sending

    /// Hands queued messages to the least loaded active connections that have room.
    ///
    /// Synchronous messages all go to one connection (``synchronousLink``), whose writer sends them one
    /// after another in queue order, whatever its load; when that connection drops, the ones it had not
    /// started come back to the front of the queue in order and go to the next connection chosen.
    func dispatch() {
        while let head = queue.first {
            let link: PoolLink
            if head.synchronous {
                // A synchronous link that is closing gracefully finishes what it has first (keeping the
                // order); the next synchronous message waits for it to close, then takes a new link.
                if let current = synchronousLink, current.draining { return }
                if synchronousLink == nil { synchronousLink = leastLoaded(needingRoom: false) }
                guard let chosen = synchronousLink else { return }
                link = chosen
            } else {
                guard let chosen = leastLoaded(needingRoom: true) else { return }
                link = chosen
            }
            _ = queue.popFirst()
            send(head, on: link)
        }
    }

    /// The active connection with the fewest messages in flight (among those with a free slot).
    private func leastLoaded(needingRoom: Bool) -> PoolLink? {
        var best: PoolLink?
        for link in links where link.takesPoolMessages && (!needingRoom || link.inFlight < link.capacity) {
            if best == nil || link.inFlight < best!.inFlight { best = link }
        }
        return best
    }

    func send(_ item: PoolItem, on link: PoolLink) {
        var requestID: UInt64 = 0
        if item.isRequest { requestID = link.awaiting.add(item) }
        item.pool = self
        item.link = link
        item.requestID = requestID
        item.writerID = nil
        item.written = false
        link.inFlight += 1
        inFlightMessages.insert(item)
        do {
            item.writerID = try item.send(on: link.connection, requestID: requestID)  // outcome: written(_:_:)
        } catch {
            link.inFlight -= 1
            item.givePlaceBack()
            inFlightMessages.remove(item)
            if requestID != 0 { link.awaiting.remove(requestID) }
            finish(item.serial)
            item.fail(.encodingFailed(error, progress: .notSent))
        }
    }

    /// The message left the pool's books: nothing of it remains to cancel.
    func finish(_ serial: UInt64) {
        entry.finished(serial)
        if !timeouts.isEmpty, let timer = timeouts.removeValue(forKey: serial) { entry.reactor.cancelTimer(timer) }
        // Checks that only matter once things quieten down, at most one batch per reactor turn.
        guard !checksScheduled, closeWhenDrained != nil || links.isEmpty || links.contains(where: \.draining) else {
            return
        }
        checksScheduled = true
        entry.reactor.runSoon { [weak self] in
            guard let self else { return }
            self.checksScheduled = false
            self.closeIfDrained()
            self.closeDrainedLinks()
            self.retireIfIdle()
        }
    }

    private func respond(_ header: MessageHeader, _ message: any WireMessage, on link: PoolLink) {
        core.counters.messagesReceived.add(1, ordering: .relaxed)
        if header.flags.contains(.responsePart) {
            link.awaiting.peek(header.responseTo)?.answer(.success(message))
        } else if let sent = link.awaiting.remove(header.responseTo) {
            link.inFlight -= 1
            inFlightMessages.remove(sent)
            finish(sent.serial)
            sent.answer(.success(message))
            dispatch()
        } else {
            core.logger.debug("response to an unknown request", metadata: ["request": "\(header.responseTo)"])
        }
    }
}

extension Pool {
    /// The wait before the next attempt after `failures` failures in a row: `base` doubled per failure
    /// after the first, saturating (never wrapping into a short wait), at most `limit`, in nanoseconds.
    static func backOff(base: Duration, failures: Int, limit: Duration) -> Int64 {
        let shift = min(max(failures - 1, 0), 62)
        let (doubled, overflow) = base.clampedToNanoseconds.multipliedReportingOverflow(by: Int64(1) << shift)
        return min(overflow ? .max : doubled, limit.clampedToNanoseconds)
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to 0...Int64.max.
    var clampedToNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : whole + attoseconds / 1_000_000_000
    }
}
