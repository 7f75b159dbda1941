public import SolidEngine
import Synchronization

// The async forms of send and request: structured (no task of their own), cancelled with the task that
// awaits them, bounded by an optional timeout, and suspending while the destination's queue is full.
// They run on the caller's isolation (`nonisolated(nonsending)`): posting needs no executor, and each
// hop to the generic executor on the way in cost the runtime a look-up of the task's preferred executor
// under a lock (measured: W1 async 0.68-0.81x -> 0.88-0.89x of the callback row, W1b 0.67-0.76x ->
// 0.76-0.79x).
extension IPCService {
    /// Sends `message` and returns once it was written. While the destination's queue is full, suspends
    /// until there is room instead of failing (the callback API fails at once with
    /// ``SendError/queueFull(_:)``).
    ///
    /// Cancelling the awaiting task cancels the message (``cancel(_:)``): this throws
    /// ``SendError/canceled(progress:)`` saying how far it got, once. `timeout` bounds it from the send
    /// on (``SendError/timeout(progress:)``), as in the callback API.
    /// - Throws: ``SendError`` with how far the message got.
    @inlinable
    nonisolated(nonsending) public func send<M: WireMessage & Sendable>(
        _ message: M, to destination: Destination, options: SendOptions = [], timeout: Duration? = nil
    ) async throws(SendError) {
        while true {
            guard !Task.isCancelled else { throw .canceled(progress: .notSent) }
            let item = AwaitedMessageItem(message, serial: takeSerial(), flags: MessageFlags(options), timeout: timeout)
            let result = await outcome(of: item, type: M.self, to: destination)
            if case .failure(.queueFull) = result {
                try await waitForRoom(in: destination)
                continue
            }
            return try result.get()
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
    ///
    /// Awaited from a task that prefers the destination's reactor as its executor
    /// (`Task(executorPreference: reactor)`, see `Reactor`), the response resumes the task on that thread
    /// without a hop to another one.
    @inlinable
    nonisolated(nonsending) public func request<Request: WireMessage & Sendable, Response: WireMessage & Sendable>(
        _ request: Request, to destination: Destination, options: SendOptions = [], timeout: Duration? = nil,
        expecting: Response.Type = Response.self
    ) async throws(SendError) -> Response {
        while true {
            guard !Task.isCancelled else { throw .canceled(progress: .notSent) }
            let entry: PoolEntry
            do {
                entry = try reservePlace(for: Request.self, to: destination)
            } catch .queueFull {
                try await waitForRoom(in: destination)
                continue
            }
            // A finished awaited request of the same types, put aside by an earlier call, saves an allocation.
            var item: AwaitedRequestItem<Request, Response>
            if let spare = entry.takeSpareRequest() as? AwaitedRequestItem<Request, Response> {
                spare.reuse(request, serial: takeSerial(), flags: MessageFlags(options), timeout: timeout)
                item = spare
            } else {
                item = AwaitedRequestItem(request, serial: takeSerial(), flags: MessageFlags(options), timeout: timeout)
            }
            let result = await outcome(of: item, type: Request.self, to: destination, on: entry)
            PoolItem.reuseIfUnique(&item, in: entry)
            return try result.get()
        }
    }

    /// Posts `item` to `destination`'s pool and awaits its outcome. A cancel of the awaiting task cancels
    /// the item once it is with its pool (at once when it already is); a failure to post (a full queue,
    /// say) is the outcome.
    @inlinable
    nonisolated(nonsending) func outcome<Value: Sendable, M: WireMessage>(
        of item: AwaitedItem<Value>, type: M.Type, to destination: Destination, on entry: PoolEntry? = nil
    ) async -> Result<Value, SendError> {
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Result<Value, SendError>, Never>) in
                item.continuation = continuation
                do throws(SendError) {
                    // With `entry`, the caller reserved the queue place there already.
                    if let entry { try post(item, type: M.self, on: entry) } else { try post(item, type: M.self, to: destination) }
                } catch {
                    return item.resume(.failure(error))
                }
                if item.cancellation.markPosted() { item.postCancel() }
            }
        } onCancel: {
            if item.cancellation.markCancelled() { item.postCancel() }
        }
    }

    /// The destination's queue was full: waits for room; a task cancelled meanwhile stops waiting and
    /// sends nothing (``SendError/canceled(progress:)``, `notSent`).
    @usableFromInline
    func waitForRoom(in destination: Destination) async throws(SendError) {
        await withTaskCancellationHandler {
            await waitForRoom(destination)
        } onCancel: {
            self.stopWaitingForRoom(destination)
        }
        guard !Task.isCancelled else { throw .canceled(progress: .notSent) }
    }
}
