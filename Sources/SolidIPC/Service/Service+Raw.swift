import SolidEngine
import SolidReactor

extension Service {
    /// Writes `bytes` as they are on a connection in the Raw state (``ConnectionStartState/raw``), from
    /// any thread; `completion` (on the connection's reactor thread) gets success once the socket took
    /// them, ``SendError/notRaw`` when the connection is not Raw,
    /// ``SendError/connectionClosed(_:progress:)`` when the stream failed.
    /// - Throws: ``SendError/peerGone`` when the connection is gone.
    public func rawSend(
        _ bytes: [UInt8], on connection: ObjectHandle, completion: (@Sendable (Result<Void, SendError>) -> Void)? = nil
    ) throws(SendError) {
        try deliver(RawConnectionEvent(.send(bytes), completion: completion), to: connection)
    }

    /// Reads from a connection in the Raw state, from any thread: `reader` (on the connection's reactor
    /// thread) gets what the peer sent — at once when bytes are waiting, else when some arrive — and
    /// returns how many it consumed; the rest stays for the next raw read or for the messaging phase.
    /// Once per call. `completion` gets ``SendError/notRaw`` when the connection is not Raw (the reader is
    /// then never called).
    /// - Throws: ``SendError/peerGone`` when the connection is gone.
    public func rawReceive(
        on connection: ObjectHandle, _ reader: @escaping @Sendable ([UInt8]) -> Int,
        completion: (@Sendable (Result<Void, SendError>) -> Void)? = nil
    ) throws(SendError) {
        try deliver(RawConnectionEvent(.receive(reader), completion: completion), to: connection)
    }
}

/// A raw send or receive on one connection (``Service/rawSend(_:on:completion:)``,
/// ``Service/rawReceive(on:_:completion:)``).
final class RawConnectionEvent: ReactorEvent, @unchecked Sendable {
    // @unchecked: immutable; handed whole to the connection's reactor thread.
    enum Action {
        case send([UInt8])
        case receive(@Sendable ([UInt8]) -> Int)
    }

    let action: Action
    let completion: (@Sendable (Result<Void, SendError>) -> Void)?

    init(_ action: Action, completion: (@Sendable (Result<Void, SendError>) -> Void)?) {
        self.action = action
        self.completion = completion
    }

    func apply(to connection: Connection) {
        switch action {
        case .send(let bytes):
            let completion = self.completion
            let written = connection.rawWrite(bytes) { error in
                completion?(error.map { .failure(.connectionClosed(.stream($0), progress: .partlySent)) } ?? .success(()))
            }
            if !written { completion?(.failure(.notRaw)) }
        case .receive(let reader):
            if connection.rawRead(reader) {
                completion?(.success(()))
            } else {
                completion?(.failure(.notRaw))
            }
        }
    }

    override func undeliverable(_ reason: PostFailure) {
        completion?(.failure(reason == .reactorStopped ? .serviceStopped : .peerGone))
    }
}
