import SolidEngine
import SolidReactor

extension IPCService {
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
    /// Once per call. A reader that consumed nothing is called again only when more bytes arrive. After
    /// the peer's end of input, reads get what is left, then an empty array: the connection stays Raw
    /// until the owner moves on, calls ``rawFail(on:reason:completion:)`` or closes it (at the latest at
    /// ``ConnectionConfiguration/rawPhaseTimeout``). `completion` gets ``SendError/notRaw`` when the connection is not Raw (the reader is
    /// then never called).
    /// - Throws: ``SendError/peerGone`` when the connection is gone.
    public func rawReceive(
        on connection: ObjectHandle, _ reader: @escaping @Sendable ([UInt8]) -> Int,
        completion: (@Sendable (Result<Void, SendError>) -> Void)? = nil
    ) throws(SendError) {
        try deliver(RawConnectionEvent(.receive(reader), completion: completion), to: connection)
    }

    /// Leaves the Raw state into the Passive one, from any thread: the hello goes out, and the bytes
    /// the peer sent that no raw read consumed are the start of its messaging phase. A pool's
    /// connection then carries only messages addressed to it (an application handshake) until
    /// ``activateConnection(_:completion:)``; an accepted connection is active once the hellos are
    /// exchanged. (``activateConnection(_:completion:)`` on a Raw connection goes to Active at once;
    /// ``secureConnection(_:completion:)`` starts TLS from Raw.) `completion` gets
    /// ``SendError/notRaw`` when the connection is not Raw.
    /// - Throws: ``SendError/peerGone`` when the connection is gone.
    public func startMessaging(
        on connection: ObjectHandle, completion: (@Sendable (Result<Void, SendError>) -> Void)? = nil
    ) throws(SendError) {
        try deliver(RawConnectionEvent(.startMessaging, completion: completion), to: connection)
    }

    /// Ends a connection's Raw phase as failed, from any thread: it closes with
    /// ``ConnectionError/rawExchangeFailed(_:)`` carrying `reason` (a relay's refusal, a failed custom
    /// authentication). For a pool's connection it is a failed connect attempt: messages waiting for a
    /// connection see `connectFailed(destination, .rawExchangeFailed(reason))` (one-shot ones at once
    /// once every address failed), and the pool backs off. `completion` gets ``SendError/notRaw`` when
    /// the connection is not Raw (it is then left as it is).
    /// - Throws: ``SendError/peerGone`` when the connection is gone.
    public func rawFail(
        on connection: ObjectHandle, reason: String, completion: (@Sendable (Result<Void, SendError>) -> Void)? = nil
    ) throws(SendError) {
        try deliver(RawConnectionEvent(.fail(reason), completion: completion), to: connection)
    }
}

/// A raw send or receive on one connection (``IPCService/rawSend(_:on:completion:)``,
/// ``IPCService/rawReceive(on:_:completion:)``).
final class RawConnectionEvent: ConnectionCommandEvent, @unchecked Sendable {
    // @unchecked: immutable; handed whole to the connection's reactor thread.
    enum Action {
        case send([UInt8])
        case receive(@Sendable ([UInt8]) -> Int)
        case startMessaging
        case fail(String)
    }

    let action: Action
    let completion: (@Sendable (Result<Void, SendError>) -> Void)?

    init(_ action: Action, completion: (@Sendable (Result<Void, SendError>) -> Void)?) {
        self.action = action
        self.completion = completion
    }

    override func apply(to connection: Connection) {
        switch action {
        case .send(let bytes):
            let completion = self.completion
            let written = connection.rawWrite(bytes) { error in
                completion?(error.map { .failure(.connectionClosed(.stream($0), progress: .partlySent)) } ?? .success(()))
            }
            if !written { completion?(.failure(.notRaw)) }
        case .receive(let reader):
            // (Not inside `completion?(…)`: optional chaining would skip the call without a completion.)
            let reading = connection.rawRead(reader)
            completion?(reading ? .success(()) : .failure(.notRaw))
        case .startMessaging:
            let started = connection.startMessaging()
            completion?(started ? .success(()) : .failure(.notRaw))
        case .fail(let reason):
            guard case .raw = connection.state else { return completion?(.failure(.notRaw)) ?? () }
            completion?(.success(()))  // before the close's callbacks
            connection.failRaw(reason)
        }
    }

    override func undeliverable(_ reason: PostFailure) {
        completion?(.failure(reason == .reactorStopped ? .serviceStopped : .peerGone))
    }
}
