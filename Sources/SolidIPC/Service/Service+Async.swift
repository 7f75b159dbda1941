public import SolidEngine
import Synchronization

extension Service {
    /// Sends `message` and returns once it was written. While the destination's queue is full, suspends
    /// until there is room instead of failing (the callback API fails at once with ``SendError/queueFull(_:)``).
    /// - Throws: ``SendError`` with how far the message got.
    public func send<M: WireMessage & Sendable>(
        _ message: M, to destination: Destination, flags: MessageFlags = []
    ) async throws(SendError) {
        let result: Result<Void, SendError> = await withCheckedContinuation { continuation in
            Task {
                await self.sendWaitingForRoom(destination) { () throws(SendError) in
                    try self.send(message, to: destination, flags: flags) { continuation.resume(returning: $0) }
                } onFailure: { continuation.resume(returning: .failure($0)) }
            }
        }
        try result.get()
    }

    /// Sends a request and returns its response; suspends while the destination's queue is full.
    /// A response the peer sends in parts returns its first part (the others are dropped): use
    /// ``sendRequest(_:to:flags:timeout:expecting:onResponse:)`` to receive every part.
    public func request<Request: WireMessage & Sendable, Response: WireMessage & Sendable>(
        _ request: Request, to destination: Destination, flags: MessageFlags = [], expecting: Response.Type = Response.self
    ) async throws(SendError) -> Response {
        let result: Result<Response, SendError> = await withCheckedContinuation { continuation in
            let resumed = Atomic<Bool>(false)  // a response in parts calls back more than once
            Task {
                await self.sendWaitingForRoom(destination) { () throws(SendError) in
                    try self.sendRequest(request, to: destination, flags: flags, expecting: Response.self) {
                        if !resumed.exchange(true, ordering: .acquiringAndReleasing) {
                            continuation.resume(returning: $0)
                        }
                    }
                } onFailure: { continuation.resume(returning: .failure($0)) }
            }
        }
        return try result.get()
    }

    /// Tries `attempt`; on ``SendError/queueFull(_:)`` waits for room and tries again.
    private func sendWaitingForRoom(
        _ destination: Destination, _ attempt: () throws(SendError) -> Void, onFailure: (SendError) -> Void
    ) async {
        while true {
            do {
                try attempt()
                return
            } catch .queueFull {
                await waitForRoom(destination)
            } catch {
                onFailure(error)
                return
            }
        }
    }
}
