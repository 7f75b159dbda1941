public import SolidEngine
import Synchronization

// The async forms of send and request: structured (no task of their own), cancelled with the task that
// awaits them, bounded by an optional timeout, and suspending while the destination's queue is full.
extension IPCService {
    /// Sends `message` and returns once it was written. While the destination's queue is full, suspends
    /// until there is room instead of failing (the callback API fails at once with
    /// ``SendError/queueFull(_:)``).
    ///
    /// Cancelling the awaiting task cancels the message (``cancel(_:)``): this throws
    /// ``SendError/canceled(progress:)`` saying how far it got, once. `timeout` bounds it from the send
    /// on (``SendError/timeout(progress:)``), as in the callback API.
    /// - Throws: ``SendError`` with how far the message got.
    public func send<M: WireMessage & Sendable>(
        _ message: M, to destination: Destination, options: SendOptions = [], timeout: Duration? = nil
    ) async throws(SendError) {
        try await untilRoom(in: destination) { (call: AsyncCall<Void>) throws(SendError) -> MessageID in
            try self.send(message, to: destination, options: options, timeout: timeout) { call.finish($0) }
        }
    }

    /// Sends a request and returns its response; suspends while the destination's queue is full. A
    /// response the peer sends in parts returns its first part (the others are dropped): use
    /// ``request(_:to:options:timeout:expecting:onResponse:)`` to receive every part.
    ///
    /// Cancelling the awaiting task cancels the request: this throws ``SendError/canceled(progress:)``
    /// (`sentAwaitingResponse` once it is out: the peer is told and its response dropped), once.
    /// `timeout` bounds the wait for the response (``SendError/timeout(progress:)``), so a silent peer
    /// cannot hold the caller forever.
    public func request<Request: WireMessage & Sendable, Response: WireMessage & Sendable>(
        _ request: Request, to destination: Destination, options: SendOptions = [], timeout: Duration? = nil,
        expecting: Response.Type = Response.self
    ) async throws(SendError) -> Response {
        try await untilRoom(in: destination) { (call: AsyncCall<Response>) throws(SendError) -> MessageID in
            try self.request(request, to: destination, options: options, timeout: timeout, expecting: Response.self) {
                call.finish($0)  // a response in parts calls back more than once: the first one counts
            }
        }
    }

    /// Starts the send with `start` (which returns the message's id, for a cancel) and awaits its
    /// outcome; on ``SendError/queueFull(_:)`` waits for room and starts it again. A task cancelled
    /// before its message is handed over sends nothing (``SendError/canceled(progress:)``, `notSent`),
    /// also while it waits for room.
    private func untilRoom<T: Sendable>(
        in destination: Destination, _ start: @escaping (AsyncCall<T>) throws(SendError) -> MessageID
    ) async throws(SendError) -> T {
        while true {
            guard !Task.isCancelled else { throw .canceled(progress: .notSent) }
            let call = AsyncCall<T>()
            let result = await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, SendError>, Never>) in
                    call.begin(continuation)
                    do throws(SendError) {
                        call.started(try start(call), on: self)
                    } catch {
                        call.finish(.failure(error))
                    }
                }
            } onCancel: {
                call.cancel(on: self)
            }
            if case .failure(.queueFull) = result {
                await withTaskCancellationHandler {
                    await waitForRoom(destination)
                } onCancel: {
                    self.stopWaitingForRoom(destination)
                }
                continue
            }
            return try result.get()
        }
    }
}

/// One awaited send: resumes its continuation exactly once, and cancels the message when the awaiting
/// task is cancelled — whether that happens before the message has an id or after.
final class AsyncCall<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Result<T, SendError>, Never>?
        var id: MessageID?
        var cancelled = false
        var finished = false
    }

    private let state = Mutex(State())

    func begin(_ continuation: CheckedContinuation<Result<T, SendError>, Never>) {
        state.withLock { $0.continuation = continuation }
    }

    /// The outcome (the first one: later calls, such as more response parts, are dropped).
    func finish(_ result: Result<T, SendError>) {
        let continuation = state.withLock { state -> CheckedContinuation<Result<T, SendError>, Never>? in
            guard !state.finished else { return nil }
            state.finished = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(returning: result)
    }

    /// The message is on its way under `id`; a cancel that came first is carried out now.
    func started(_ id: MessageID, on service: IPCService) {
        let cancelNow = state.withLock { state -> Bool in
            state.id = id
            return state.cancelled && !state.finished
        }
        if cancelNow { Self.cancel(id, on: service) }
    }

    /// The awaiting task was cancelled: cancel the message now, or as soon as it has an id.
    func cancel(on service: IPCService) {
        let id = state.withLock { state -> MessageID? in
            state.cancelled = true
            return state.finished ? nil : state.id
        }
        if let id { Self.cancel(id, on: service) }
    }

    private static func cancel(_ id: MessageID, on service: IPCService) {
        // The message may have completed meanwhile (unknownMessage) or the service stopped: its own
        // outcome then stands.
        try? service.cancel(id)
    }
}
