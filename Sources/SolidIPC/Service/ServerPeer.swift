import SolidEngine
import SolidReactor
import Synchronization

/// An accepted connection (the server side's unnamed pool of one), pinned to its reactor. Responses and
/// other messages addressed to it arrive as ``PeerSendEvent``s through its ``ObjectHandle``.
final class ServerPeer: ReactorObject {
    private let connection: Connection
    private let core: ServiceCore
    private(set) var id: ObjectID?
    let reactor: Reactor

    init(stream: TCPStream, core: ServiceCore) {
        reactor = stream.reactor
        self.core = core
        connection = Connection(stream: stream, configuration: core.configuration.connection, counters: core.counters)
        let id = reactor.register(self)
        self.id = id
        let handle = ObjectHandle(reactor: reactor, id: id)
        let info = ConnectionInfo(handle: handle, remoteAddress: connection.remoteAddress, destination: nil)
        connection.onActive = { _ in
            core.counters.connectionsOpened.add(1, ordering: .relaxed)
            core.configuration.onConnectionStart?(info)
        }
        connection.onMessage = { header, message in core.dispatch(header, message, from: handle) }
        connection.onClose = { [self] error in
            core.counters.connectionsClosed.add(1, ordering: .relaxed)
            core.configuration.onConnectionStop?(info, error)
            if let id = self.id { reactor.unregister(id) }
            self.id = nil
        }
    }

    func handle(_ event: ReactorEvent) {
        if let control = event as? ConnectionControlEvent {
            switch control.action {
            case .pauseReading: connection.pauseReading()
            case .resumeReading: connection.resumeReading()
            case .close: connection.close()
            }
            return
        }
        guard let send = event as? PeerSendEvent else {
            event.undeliverable(.targetGone)
            return
        }
        let counters = core.counters
        let connection = self.connection
        do {
            try send.send(connection) { [unowned connection] outcome in
                if outcome == .written { counters.messagesSent.add(1, ordering: .relaxed) }
                send.complete?(SendError.from(outcome, on: connection))
            }
        } catch {
            send.complete?(.failure(.encodingFailed(error, progress: .notSent)))
        }
    }

    func close() { connection.close() }

    func reactorStopping() { close() }
}

/// A message for one accepted connection (the seed's "NewConnectionMessage").
final class PeerSendEvent: ReactorEvent, @unchecked Sendable {
    // @unchecked: handed whole to the connection's reactor thread (see ReactorEvent).
    let send: @Sendable (Connection, @escaping (MessageWriter.Outcome) -> Void) throws(WireError) -> Void
    let complete: (@Sendable (Result<Void, SendError>) -> Void)?

    init(
        send: @escaping @Sendable (Connection, @escaping (MessageWriter.Outcome) -> Void) throws(WireError) -> Void,
        complete: (@Sendable (Result<Void, SendError>) -> Void)?
    ) {
        self.send = send
        self.complete = complete
    }

    override func undeliverable(_ reason: PostFailure) {
        complete?(.failure(reason == .reactorStopped ? .serviceStopped : .peerGone))
    }
}
