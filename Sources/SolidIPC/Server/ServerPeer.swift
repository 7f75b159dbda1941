import Logging
import SolidEngine
import SolidReactor
import Synchronization

/// An accepted connection (the server side's unnamed pool of one), pinned to its reactor. Everything it
/// sends is addressed to it: responses and messages arrive as ``PeerSendEvent``s, requests as
/// ``DirectRequestEvent``s, through its `ObjectHandle`. It is active from the start.
final class ServerPeer: ReactorObject {
    /// Its connection.
    let connection: Connection
    /// ``connection``, unretained: what `sendAddressed` sends on without an event (see
    /// `connection(heldBy:)`).
    let connectionReference: Unmanaged<Connection>
    private let core: ServiceCore
    private(set) var id: ObjectID?
    let reactor: Reactor
    /// Requests this side sent on the connection, waiting for their responses.
    @exclusivity(unchecked) private var requests = ResponseTable()
    /// Closing gracefully: closes once no request waits and everything queued is written.
    private var draining = false
    /// Told once the connection has closed (``drain(within:done:)``).
    private var whenClosed: [() -> Void] = []

    /// Serves an accepted stream: through TLS first when the service secures connections from the start.
    static func accept(_ stream: SocketStream, core: ServiceCore) {
        defer { core.counters.connectionsAccepted.add(1, ordering: .relaxed) }
        guard let tls = core.configuration.tls, core.configuration.secureFromStart else {
            _ = ServerPeer(stream: stream, core: core)
            return
        }
        do throws(StreamError) {
            _ = ServerPeer(stream: try tls.makeServerStream(
                over: stream, initialInput: [],
                onHandshake: core.configuration.instrumentation.map { instrumentation in { _ in instrumentation.secured(side: .server) } }), core: core)
        } catch {
            core.logger.warning("cannot start TLS on an accepted connection", metadata: ["error": "\(error)"])
            stream.close()
            core.releaseAccepted()
        }
    }

    init(stream: any ByteStream, core: ServiceCore) {
        reactor = stream.reactor
        self.core = core
        connection = Connection(
            stream: stream, configuration: core.configuration.connection, counters: core.counters,
            raw: core.configuration.acceptedConnectionsStartRaw)
        connectionReference = .passUnretained(connection)
        let id = reactor.register(self)
        self.id = id
        let handle = ObjectHandle(reactor: reactor, id: id)
        let accepted = core.peerStarted(handle)
        core.provideSinks(to: connection, handle: handle)
        var info = ConnectionInfo(handle: handle, connection: connection, destination: nil)
        var opened = false
        connection.onActive = { [connection] _ in
            opened = true
            info = ConnectionInfo(handle: handle, connection: connection, destination: nil)
            core.counters.connectionsOpened.add(1, ordering: .relaxed)
            core.configuration.instrumentation?.connectionOpened(side: .server)
            core.logger.debug("connection accepted", metadata: LogKey.connection(handle, connection, pool: nil))
            core.configuration.onConnectionStart?(info)
        }
        if let tls = core.configuration.tls {
            connection.secureUpgrade = SecureUpgrade(transport: tls, isClient: false, serverName: nil)
            connection.secureFromStart = core.configuration.secureFromStart
        }
        connection.onSecured = { [connection] _ in
            core.configuration.instrumentation?.secured(side: .server)
            core.configuration.onConnectionSecure?(ConnectionInfo(handle: handle, connection: connection, destination: nil))
        }
        connection.onMessage = { [self] header, message in
            guard header.responseTo == 0 else {
                // A response to a request this side no longer waits for is dropped (as on a pool's
                // connection), never handed to a handler as if it were a new message.
                if !respond(header, message) {
                    core.logger.debug("response to an unknown request", metadata: ["request": "\(header.responseTo)"])
                }
                return
            }
            core.dispatch(header, message, from: handle, on: connection)
        }
        connection.onEvent = { [self] event in
            switch event {
            case .rejectedByPeer(let requestID, let rejection):
                requests.take(requestID)?(.failure(.rejected(rejection)))
                closeIfDrained()
            case .rejected(let header, let error) where header.responseTo != 0:
                requests.take(header.responseTo)?(.failure(.invalidResponse(error)))
                closeIfDrained()
            default:
                break
            }
        }
        connection.onGoingAway = { [self] in
            draining = true
            closeIfDrained()
        }
        connection.onClose = { [self] error in
            core.counters.connectionsClosed.add(1, ordering: .relaxed)
            if opened { core.configuration.instrumentation?.connectionClosed(side: .server, reason: error) }
            var metadata = LogKey.connection(handle, connection, pool: nil)
            metadata[LogKey.reason] = "\(error)"
            core.logger.debug(opened ? "accepted connection closed" : "accepted connection closed before its handshake", metadata: metadata)
            for waiter in requests.takeAll() {
                waiter(.failure(.connectionClosed(error, progress: .sentAwaitingResponse)))
            }
            core.configuration.onConnectionStop?(info, error)
            core.peerStopped(handle)
            core.releaseAccepted()
            if let id = self.id { reactor.unregister(id) }
            self.id = nil
            let waiting = whenClosed
            whenClosed = []
            for done in waiting { done() }
        }
        if !accepted {
            connection.close()  // the service is stopping
        } else if core.configuration.acceptedConnectionsStartRaw {
            core.configuration.onConnectionRaw?(info)
        }
    }

    /// Passes a response to the request waiting for it; `false` when none waits.
    private func respond(_ header: MessageHeader, _ message: any WireMessage) -> Bool {
        let waiter =
            header.flags.contains(.responsePart) ? requests.part(header.responseTo) : requests.take(header.responseTo)
        guard let waiter else { return false }
        core.countReceived(header)
        waiter(.success(message))
        closeIfDrained()
        return true
    }

    func handle(_ event: ReactorEvent) {
        if let control = event as? ConnectionControlEvent {
            if control.apply(to: connection) { return }
            if control.action == .activate {
                // From Raw: the hello goes out now (accepted connections are active once it is done).
                // (Not inside `completion?(…)`: optional chaining would skip the call without a completion.)
                let started = connection.startMessaging()
                control.completion?(started ? .success(()) : .failure(.alreadyActive))
            } else {
                draining = true
                connection.goAway()
                closeIfDrained()
            }
        } else if let send = event as? PeerSendEvent {
            send.deliver(on: connection)
        } else if let command = event as? ConnectionCommandEvent {
            command.apply(to: connection)
        } else if let request = event as? DirectRequestEvent {
            sendRequest(request.item)
        } else {
            event.undeliverable(.targetGone)
        }
    }

    private func sendRequest(_ item: PoolItem) {
        guard item.isRequest else { return item.fail(.peerGone) }
        guard !draining else {
            item.fail(.connectionClosed(.closingGracefully, progress: .notSent))
            return
        }
        let requestID = requests.add { item.answer($0) }
        let connection = self.connection
        do {
            item.onEnded = { [weak self] outcome in
                if case .failure(let error) = SendError.from(outcome, on: connection) {
                    self?.requests.take(requestID)?(.failure(error))
                    self?.closeIfDrained()
                }
            }
            _ = try item.send(on: connection, requestID: requestID)
        } catch {
            requests.take(requestID)?(.failure(.encodingFailed(error, progress: .notSent)))
        }
    }

    private func closeIfDrained() {
        if draining && requests.isEmpty { connection.closeWhenDrained() }
    }

    func close() { connection.close() }

    /// Goes away gracefully (`stop(gracePeriod:)`): `done` runs once the connection has closed,
    /// at the latest `gracePeriod` from now.
    func drain(within gracePeriod: Duration, done: @escaping () -> Void) {
        guard id != nil else { return done() }
        whenClosed.append(done)
        let timer = reactor.schedule(after: gracePeriod) { [weak self] in self?.connection.close() }
        whenClosed.append { [reactor] in reactor.cancelTimer(timer) }
        draining = true
        connection.goAway()
        closeIfDrained()
    }

    func reactorStopping() { close() }
}

extension ServerPeer {
    /// This accepted connection, read on its reactor thread; in flight: requests received, not answered yet.
    func snapshot(handle: ObjectHandle) -> ConnectionSnapshot {
        ConnectionSnapshot(
            connection, handle: handle, side: .server, passive: false, requestsInFlight: connection.unanswered.count)
    }
}
