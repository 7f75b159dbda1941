public import SolidEngine

/// How far a message got before it failed: tells a caller whether sending it again is safe.
public enum SendProgress: Sendable, Equatable {
    /// No byte of it reached the peer: retrying cannot duplicate it.
    case notSent
    /// Part of it was written; the peer was told to drop it (or the connection died mid-way).
    case partlySent
    /// It was written completely; the response (if any) did not come.
    case sentAwaitingResponse
}

/// Why a send or a request failed. Every message completes exactly once, with success or one of these.
public enum SendError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The message type is not in the service's registry.
    case unregisteredType(String)
    /// The destination's queue holds its configured maximum; try later (backpressure).
    case queueFull(Destination)
    /// The service is stopped or stopping.
    case serviceStopped
    /// The destination could not be resolved.
    case resolveFailed(Destination, ResolveError)
    /// No connection could be made to the destination: the last attempt's cause (a TCP connect error, a
    /// TLS handshake failure such as an untrusted certificate, a peer that closed before its hello, …).
    case connectFailed(Destination, ConnectionError)
    /// The connection closed before the message completed; the cause is why it closed.
    case connectionClosed(ConnectionError, progress: SendProgress)
    /// Cancelled.
    case canceled(progress: SendProgress)
    /// Encoding or streaming the message failed.
    case encodingFailed(WireError, progress: SendProgress)
    /// The response that arrived is not of the expected type.
    case unexpectedResponse(String)
    /// The message context names a connection that is gone.
    case peerGone
    /// ``IPCService/cancel(_:)`` named a message that already completed or never existed.
    case unknownMessage
    /// The destination's pool was closed with ``IPCService/closePool(_:mode:completion:)``.
    case poolClosed(Destination)
    /// ``IPCService/closePool(_:mode:completion:)`` named a destination that has no pool: nothing was sent
    /// to it, or its pool was closed or freed after it had nothing left to do.
    case noPool(Destination)
    /// The message's timeout passed while it waited for a connection or for its response.
    case timeout(progress: SendProgress)
    /// The peer gave up on the request this response answers (it cancelled it) before the response was
    /// written.
    case canceledByPeer(progress: SendProgress)
    /// The peer refused the request (a reject record: unknown type, over a limit, a body it cannot read,
    /// no handler, its handler failed…); it was not processed and no response will come.
    case rejected(PeerRejection)
    /// The response that arrived could not be read (its body does not decode as this side's version of
    /// the type, or its streams failed).
    case invalidResponse(WireError)
    /// A raw send or receive named a connection that is not in the Raw state (or a raw read already
    /// waits on it).
    case notRaw
    /// ``IPCService/activateConnection(_:completion:)`` named a connection that is already active.
    case alreadyActive
    /// `start()` (or ``IPCService/serve()``) was called on a service already started.
    case alreadyStarted

    /// How far the message got.
    public var progress: SendProgress {
        switch self {
        case .connectionClosed(_, let progress), .canceled(let progress), .encodingFailed(_, let progress),
            .canceledByPeer(let progress),
            .timeout(let progress):
            progress
        case .unexpectedResponse, .rejected, .invalidResponse: .sentAwaitingResponse
        default: .notSent
        }
    }

    /// A readable text.
    public var description: String {
        switch self {
        case .unregisteredType(let name): "message type \(name) is not registered"
        case .queueFull(let destination): "queue for \(destination) is full"
        case .serviceStopped: "service stopped"
        case .resolveFailed(let destination, let why): "cannot resolve \(destination): \(why)"
        case .connectFailed(let destination, let why): "cannot connect to \(destination): \(why)"
        case .connectionClosed(let why, let progress): "connection closed (\(why)); \(progress)"
        case .canceled(let progress): "canceled; \(progress)"
        case .encodingFailed(let error, let progress): "encoding failed: \(error); \(progress)"
        case .unexpectedResponse(let type): "unexpected response of type \(type)"
        case .peerGone: "the peer's connection is gone"
        case .unknownMessage: "no such message (already completed or never sent)"
        case .noPool(let destination): "no pool for \(destination) (nothing sent to it, or already closed or freed)"
        case .poolClosed(let destination): "the pool for \(destination) was closed"
        case .timeout(let progress): "timed out; \(progress)"
        case .canceledByPeer(let progress): "canceled by the peer; \(progress)"
        case .rejected(let rejection): "rejected by the peer: \(rejection)"
        case .notRaw: "the connection is not in the raw state"
        case .invalidResponse(let error): "the response could not be read: \(error)"
        case .alreadyActive: "the connection is already active"
        case .alreadyStarted: "the service was already started"
        }
    }
}

extension SendError {
    /// Maps a writer outcome on `connection` to a completion result: a message the writer dropped
    /// because its connection closed fails with ``connectionClosed(_:progress:)`` and the reason.
    static func from(_ outcome: MessageWriter.Outcome, on connection: Connection) -> Result<Void, SendError> {
        switch outcome {
        case .written:
            return .success(())
        case .canceled(let partly):
            let progress: SendProgress = partly ? .partlySent : .notSent
            if case .closed(let reason) = connection.state {
                return .failure(.connectionClosed(reason, progress: progress))
            }
            return .failure(.canceled(progress: progress))
        case .failed(let error, let partly):
            return .failure(.encodingFailed(error, progress: partly ? .partlySent : .notSent))
        case .canceledByPeer(let partly):
            return .failure(.canceledByPeer(progress: partly ? .partlySent : .notSent))
        case .withdrawn:
            return .failure(.connectionClosed(.closingGracefully, progress: .notSent))
        }
    }
}
