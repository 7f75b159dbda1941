import Synchronization

// Incoming messages of one type as an AsyncSequence, with backpressure: a consumer that falls behind
// pauses reading the connections that fill its buffer, and reading resumes as it catches up.

extension IPCService {
    /// The incoming messages of type `M` as an `AsyncSequence` (register before `start()`; it takes the
    /// place of a handler for `M`). Each element carries the message and its ``MessageContext`` (answer a
    /// request with ``MessageContext/respond(_:completion:)``).
    ///
    /// **Backpressure.** When `bufferLimit` messages wait for the consumer, the connection that delivered
    /// the last one stops being read (its peer's messages wait in the peer's queue, TCP holds the rest);
    /// once the consumer has taken the buffer down to half, every connection paused this way reads
    /// again. A few more messages than `bufferLimit` can arrive: those already read with the last one.
    ///
    /// The sequence ends when the service stops. One consumer iterates it; cancelling the consumer's task
    /// ends its iteration (`next()` returns nil).
    /// - Throws: ``SendError/unregisteredType(_:)``.
    public func messages<M: WireMessage & Sendable>(of type: M.Type, bufferLimit: Int = 64) throws(SendError)
        -> IncomingMessages<M>
    {
        precondition(bufferLimit > 0, "bufferLimit must be positive")
        let buffer = IncomingBuffer<M>(limit: bufferLimit)
        try handle(type) { message, context in buffer.arrived(message, context) }
        whenStopped { buffer.finish() }
        return IncomingMessages(buffer: buffer)
    }
}

/// Incoming messages of type `M` with their contexts, in arrival order (``IPCService/messages(of:bufferLimit:)``).
public struct IncomingMessages<M: WireMessage & Sendable>: AsyncSequence, Sendable {
    public typealias Element = (message: M, context: MessageContext)
    let buffer: IncomingBuffer<M>

    public func makeAsyncIterator() -> Iterator { Iterator(buffer: buffer) }

    /// Takes the messages one by one; suspends while none waits.
    public struct Iterator: AsyncIteratorProtocol {
        let buffer: IncomingBuffer<M>

        public mutating func next() async -> Element? { await buffer.next() }
    }
}

/// The buffer between the connections' reactor threads and the consumer.
final class IncomingBuffer<M: WireMessage & Sendable>: Sendable {
    private struct State {
        var waiting: [(message: M, context: MessageContext)] = []
        var head = 0
        var consumer: CheckedContinuation<(message: M, context: MessageContext)?, Never>?
        var paused: Set<ObjectHandle> = []
        var finished = false
        var count: Int { waiting.count - head }
    }

    private let state = Lock(State())  // the pthread-based lock: ThreadSanitizer sees its ordering (it reported Mutex accesses here as races)
    private let limit: Int
    // No reference to the service: the pause and resume go straight to the connection's holder (a weak
    // reference to the service would make every retain of it take the runtime's slow path).

    init(limit: Int) {
        self.limit = limit
    }

    /// On a connection's reactor thread: hands the message to a waiting consumer or buffers it, pausing
    /// its connection when the buffer is full.
    func arrived(_ message: M, _ context: MessageContext) {
        let (consumer, pause) = state.withLock { state -> (CheckedContinuation<(message: M, context: MessageContext)?, Never>?, Bool) in
            if let consumer = state.consumer {
                state.consumer = nil
                return (consumer, false)
            }
            state.waiting.append((message, context))
            guard state.count >= limit, !state.paused.contains(context.connection) else { return (nil, false) }
            state.paused.insert(context.connection)
            return (nil, true)
        }
        if let consumer { consumer.resume(returning: (message, context)) }
        if pause { setReading(of: context.connection, soonest: true) }
    }

    /// The next message; nil once the service stopped and the buffer is empty, or the task is cancelled.
    func next() async -> (message: M, context: MessageContext)? {
        if let (element, resume) = state.withLock({ Self.take(&$0, limit: limit) }) {
            self.resume(resume)
            return element
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready: ((message: M, context: MessageContext)?, Set<ObjectHandle>)? = state.withLock { state in
                    if let (element, resume) = Self.take(&state, limit: limit) { return (element, resume) }
                    if state.finished || Task.isCancelled { return (nil, []) }
                    state.consumer = continuation
                    return nil
                }
                if let (element, resume) = ready {
                    self.resume(resume)
                    continuation.resume(returning: element)
                }
            }
        } onCancel: {
            let consumer = state.withLock { state in
                defer { state.consumer = nil }
                return state.consumer
            }
            consumer?.resume(returning: nil)
        }
    }

    private func resume(_ connections: Set<ObjectHandle>) {
        for connection in connections { setReading(of: connection, soonest: false) }
    }

    /// Pauses or resumes `connection` as the buffer's state says when the event runs. A plain pause or
    /// resume could run out of order: a handler's pause that found the reactor's queue busy was queued
    /// behind the consumer's resume, which had already taken the connection off the paused set, and the
    /// connection stayed paused for good (a test hung so under the full suite's load).
    private func setReading(of connection: ObjectHandle, soonest: Bool) {
        let event = ReadingStateEvent { [state] in state.withLock { $0.paused.contains(connection) } }
        try? deliverEvent(event, to: connection, soonest: soonest)
    }

    /// Takes the first buffered message, and the connections to resume if the buffer is now at half.
    private static func take(_ state: inout State, limit: Int) -> ((message: M, context: MessageContext), Set<ObjectHandle>)? {
        guard state.count > 0 else { return nil }
        let element = state.waiting[state.head]
        state.head += 1
        if state.head > 64, state.head * 2 > state.waiting.count {
            state.waiting.removeFirst(state.head)
            state.head = 0
        }
        var resume: Set<ObjectHandle> = []
        if !state.paused.isEmpty, state.count <= limit / 2 {
            resume = state.paused
            state.paused = []
        }
        return (element, resume)
    }

    /// The service stopped: the consumer gets what is buffered, then nil.
    func finish() {
        let consumer = state.withLock { state in
            state.finished = true
            defer { state.consumer = nil }
            return state.consumer
        }
        consumer?.resume(returning: nil)
    }
}
