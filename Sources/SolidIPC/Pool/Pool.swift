import SolidEngine
import Logging
import SolidReactor
import Synchronization

/// The client side of one destination, pinned to one reactor: opens connections through its
/// ``Dialer`` (up to the configured number, one pending at a time by default), spreads queued messages
/// over them and matches responses to requests.
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
    var stopped = false
    /// What messages still waiting get once stopped (service stop or pool close).
    var stopError = SendError.serviceStopped
    /// Set by a graceful close: called once the pool has drained.
    @exclusivity(unchecked) var closeWhenDrained: (() -> Void)?
    @exclusivity(unchecked) var queue = ItemQueue()
    @exclusivity(unchecked) var links: [PoolLink] = []
    /// The connection that carries the pool's synchronous messages, chosen when the first one goes out.
    weak var synchronousLink: PoolLink?
    /// Resolves, connects, runs the proxy and TLS steps, and keeps the books of attempts and back-off.
    let dialer: Dialer
    /// Timers of messages with a timeout, by serial.
    @exclusivity(unchecked) var timeouts: [UInt64: TimerID] = [:]
    var id: ObjectID?
    /// Messages handed to a connection and not completed, by serial (for cancel).
    @exclusivity(unchecked) var inFlightMessages = InFlightList()

    /// Messages a dropping connection gave back (not started, or idempotent), in their order; they go to
    /// the front of the queue when the pool learns of the drop.
    var givenBack: [PoolItem] = []
    /// The end-of-turn checks (drained close, draining links, idle retirement) are scheduled.
    @exclusivity(unchecked) var checksScheduled = false
    /// Some link may be closing gracefully: set when one starts draining, recomputed by the end-of-turn
    /// checks, so finishing a message does not look at every link (W4 with one pool: 16 links a message).
    @exclusivity(unchecked) var hasDrainingLink = false

    init(entry: PoolEntry, steps: DialSteps? = nil) {
        self.entry = entry
        dialer = Dialer(
            to: entry.destination, plan: DialPlan(entry.core.configuration, for: entry.destination), on: entry.reactor,
            steps: steps,
            onHandshake: entry.core.configuration.instrumentation.map { instrumentation in { _ in instrumentation.secured(side: .client) } })
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
        if item.oneShot, links.isEmpty, let failure = dialer.failureWhileWaiting {
            failUnsent(item, .connectFailed(entry.destination, failure))
            return
        }
        queue.append(item)
        if let timeout = item.timeout ?? settings.defaultTimeout {
            timeouts[item.serial] = entry.reactor.schedule(after: timeout) { [weak self] in self?.expire(item) }
        }
        dispatch()
        scale()
    }

    // MARK: connections

    /// Connections on their way: connecting, in the handshake, or passive (not yet activated).
    private var pending: Int { dialer.connecting + links.filter { !$0.takesPoolMessages && !$0.draining }.count }

    /// Opens one more connection when messages wait and the limits allow.
    func scale() {
        guard !stopped, !dialer.isWaitingToRetry, !dialer.resolving, !queue.isEmpty,
            links.count(where: { !$0.draining }) + dialer.connecting < settings.maxConnectionsPerPool,
            pending < settings.maxPendingConnectionsPerPool
        else { return }
        dialer.dial { [self] outcome in
            switch outcome {
            case .connected(let stream, let initialInput):
                attach(stream, initialInput: initialInput)
            case .failed(let reason):
                connectFailed(reason)
            case .resolved:
                scale()
                retireIfIdle()  // the queue may have emptied (timeouts, cancels) while resolving
            case .unresolvable(let error):
                failQueue(.resolveFailed(entry.destination, error))
                retireIfIdle()
            }
        }
    }

    /// An attempt failed (its connect, proxy or TLS step, or its handshake once attached).
    private func connectFailed(_ reason: ConnectionError) {
        settings.instrumentation?.connectAttemptFailed(reason: reason)
        switch dialer.attemptFailed(reason, linksUp: !links.isEmpty) {
        case .roundFailed(let reason):
            // Every address failed and nothing is up: one-shot messages fail now, the others wait while
            // the dialer resolves again and retries with back-off.
            failQueue(.connectFailed(entry.destination, reason), where: { $0.oneShot })
            if !queue.isEmpty {
                core.logger.notice(
                    "cannot connect; messages wait, retrying with back-off",
                    metadata: [
                        LogKey.pool: "\(entry.destination)", LogKey.reason: "\(reason)",
                        LogKey.retryIn: "\(dialer.nextRetryDelay)", LogKey.queued: "\(queue.count)",
                    ])
                scheduleRetry()
            }
        case .tryNext:
            scale()  // the next address
        }
        retireIfIdle()
    }

    private func scheduleRetry() {
        dialer.scheduleRetry { [self] in
            scale()
            retireIfIdle()
        }
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
            settings.instrumentation?.connectionOpened(side: .client)
            core.logger.debug("connection opened", metadata: LogKey.connection(handle, connection, pool: destination))
            link.handshaken = true
            link.capacity = agreed.slots
            dialer.connectionUp()
            settings.onConnectionStart?(info)
            dispatch()
            scale()
        }
        if let tls = settings.tls {
            connection.secureUpgrade = SecureUpgrade(transport: tls, isClient: true, serverName: destination.serverName)
            connection.secureFromStart = settings.secureFromStart
        }
        connection.onSecured = { [settings, connection] _ in
            settings.instrumentation?.secured(side: .client)
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
            // (One that never opened is reported as a failed attempt by connectFailed, through detach.)
            if link.handshaken {
                settings.instrumentation?.connectionClosed(side: .client, reason: error)
                var metadata = LogKey.connection(handle, connection, pool: destination)
                metadata[LogKey.reason] = "\(error)"
                core.logger.log(level: error.isOrderly ? .debug : .info, "connection closed", metadata: metadata)
            }
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
            dialer.connectionDropped()
            scheduleRetry()
        } else {
            scale()
        }
        retireIfIdle()
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

    /// The active connection with the fewest messages in flight (among those with a free slot); an idle
    /// one at once. Runs per message: it compares through the array's storage and retains only the
    /// link it returns (iterating the array retained and released every link: 16 of them a message in
    /// W4 with one pool).
    private func leastLoaded(needingRoom: Bool) -> PoolLink? {
        links.withUnsafeBufferPointer { links in
            var best = -1
            var bestLoad = Int.max
            for index in links.indices {
                let link = links[index]
                let load = link.inFlight
                guard load < bestLoad, link.takesPoolMessages, !needingRoom || load < link.capacity else { continue }
                best = index
                bestLoad = load
                if load == 0 { break }
            }
            return best < 0 ? nil : links[best]
        }
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
        guard !checksScheduled, closeWhenDrained != nil || links.isEmpty || hasDrainingLink else { return }
        checksScheduled = true
        entry.reactor.runSoon { [weak self] in
            guard let self else { return }
            self.checksScheduled = false
            self.hasDrainingLink = self.links.contains(where: \.draining)
            self.closeIfDrained()
            self.closeDrainedLinks()
            self.retireIfIdle()
        }
    }

    private func respond(_ header: MessageHeader, _ message: any WireMessage, on link: PoolLink) {
        core.countReceived(header)
        if header.flags.contains(.responsePart) {
            link.awaiting.peek(header.responseTo)?.answer(message: message)
        } else if var sent = link.awaiting.remove(header.responseTo) {
            link.inFlight -= 1
            inFlightMessages.remove(sent)
            finish(sent.serial)
            sent.answer(message: message)
            PoolItem.reuseIfUnique(&sent, in: entry)
            dispatch()
        } else {
            core.logger.debug("response to an unknown request", metadata: ["request": "\(header.responseTo)"])
        }
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
