public import SolidEngine
import Logging
import SolidReactor
import Synchronization

/// The client side of one destination, pinned to one reactor: resolves, connects, sends queued
/// messages on its connection and matches responses to requests.
///
/// This first version keeps one connection per pool; when it closes, what is queued or awaiting a
/// response fails with ``SendError/connectionClosed(_:progress:)`` and the next send reconnects.
final class Pool: ReactorObject {
    private enum Phase { case idle, connecting, active, stopped }

    private let entry: PoolEntry
    private var core: ServiceCore { entry.core }
    private var phase = Phase.idle
    private var queue = ItemQueue()
    private var connection: Connection?
    private var connectionID: ObjectID?
    private var awaiting: [UInt64: @Sendable (Result<any WireMessage, SendError>) -> Void] = [:]
    private var nextRequestID: UInt64 = 1
    private var id: ObjectID?

    init(entry: PoolEntry) {
        self.entry = entry
        id = entry.reactor.register(self)
    }

    /// A message arrived from a sender.
    func enqueue(_ item: PoolItem) {
        guard phase != .stopped else {
            entry.released()
            item.fail(.serviceStopped)
            return
        }
        queue.append(item)
        switch phase {
        case .active: flush()
        case .idle: connect()
        case .connecting, .stopped: break
        }
    }

    // MARK: connecting

    private func connect() {
        phase = .connecting
        let destination = entry.destination
        let reactor = entry.reactor
        reactor.resolve(host: destination.host, port: destination.port) { [self] result in
            guard phase == .connecting else { return }
            switch result {
            case .failure(let error):
                failAll(.resolveFailed(destination, "\(error)"))
            case .success(let addresses):
                TCPStream.connect(to: addresses[0], on: reactor, timeout: core.configuration.connectTimeout) { [self] result in
                    guard phase == .connecting else {
                        if case .success(let stream) = result { stream.close() }
                        return
                    }
                    switch result {
                    case .failure(let error): failAll(.connectFailed(destination, "\(error)"))
                    case .success(let stream): attach(stream)
                    }
                }
            }
        }
    }

    private func attach(_ stream: TCPStream) {
        let connection = Connection(stream: stream, configuration: core.configuration.connection)
        self.connection = connection
        let handle = ObjectHandle(reactor: entry.reactor, id: id!)
        let info = ConnectionInfo(handle: handle, remoteAddress: connection.remoteAddress, destination: entry.destination)
        connection.onActive = { [self] _ in
            core.counters.connectionsOpened.add(1, ordering: .relaxed)
            phase = .active
            core.configuration.onConnectionStart?(info)
            flush()
        }
        connection.onMessage = { [self] header, message in
            if header.responseTo != 0 {
                respond(header, message)
            } else {
                core.dispatch(header, message, from: handle)
            }
        }
        connection.onClose = { [self] error in
            core.counters.connectionsClosed.add(1, ordering: .relaxed)
            core.configuration.onConnectionStop?(info, error)
            self.connection = nil
            guard phase != .stopped else { return }
            phase = .idle
            failAll(.connectionClosed("\(error)", progress: .notSent))
        }
    }

    // MARK: sending

    private func flush() {
        guard let connection else { return }
        while let item = queue.popFirst() {
            var requestID: UInt64 = 0
            if let onResponse = item.onResponse {
                requestID = nextRequestID
                nextRequestID += 1
                awaiting[requestID] = onResponse
            }
            let entry = self.entry
            let counters = core.counters
            do {
                try item.send(connection, requestID) { [weak self] outcome in
                    entry.released()
                    if outcome == .written { counters.messagesSent.add(1, ordering: .relaxed) }
                    let result = SendError.from(outcome, on: connection)
                    if let complete = item.complete {
                        complete(result)
                    } else if case .failure(let error) = result, let self,
                        let waiter = self.awaiting.removeValue(forKey: requestID)
                    {
                        waiter(.failure(error))
                    }
                }
            } catch {
                entry.released()
                if requestID != 0 { awaiting.removeValue(forKey: requestID) }
                item.fail(.encodingFailed(error, progress: .notSent))
            }
        }
    }

    private func respond(_ header: MessageHeader, _ message: any WireMessage) {
        core.counters.messagesReceived.add(1, ordering: .relaxed)
        if header.flags.contains(.responsePart) {
            awaiting[header.responseTo]?(.success(message))
        } else if let waiter = awaiting.removeValue(forKey: header.responseTo) {
            waiter(.success(message))
        } else {
            core.logger.debug("response to an unknown request", metadata: ["request": "\(header.responseTo)"])
        }
    }

    // MARK: failing and stopping

    private func failAll(_ error: SendError) {
        if case .connecting = phase { phase = .idle }
        while let item = queue.popFirst() {
            entry.released()
            item.fail(error)
        }
        let waiting = awaiting
        awaiting.removeAll()
        let progress: SendProgress = .sentAwaitingResponse
        for (_, waiter) in waiting.sorted(by: { $0.key < $1.key }) {
            if case .connectionClosed(let why, _) = error {
                waiter(.failure(.connectionClosed(why, progress: progress)))
            } else {
                waiter(.failure(error))
            }
        }
    }

    /// Control requests (pause, resume, close) for the pool's connection.
    func handle(_ event: ReactorEvent) {
        guard let control = event as? ConnectionControlEvent else {
            event.undeliverable(.targetGone)
            return
        }
        switch control.action {
        case .pauseReading: connection?.pauseReading()
        case .resumeReading: connection?.resumeReading()
        case .close: connection?.close()
        }
    }

    /// Fails everything with ``SendError/serviceStopped`` and closes the connection.
    func stop() {
        guard phase != .stopped else { return }
        phase = .stopped
        failAll(.serviceStopped)
        connection?.close()
        connection = nil
        if let id { entry.reactor.unregister(id) }
        id = nil
    }

    func reactorStopping() { stop() }
}

/// A first-in first-out queue of pool items.
struct ItemQueue {
    private var items: [PoolItem] = []
    private var head = 0

    mutating func append(_ item: PoolItem) { items.append(item) }

    mutating func popFirst() -> PoolItem? {
        guard head < items.count else { return nil }
        let item = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        }
        return item
    }
}
