// The tasks of `async` handlers still working on a peer's request: cancelled when the peer cancels that
// request or the connection ends before the request is answered.
extension Connection {
    /// Remembers `task`, which answers the peer's request `requestID`, until the request is answered,
    /// rejected, cancelled by the peer (the task is cancelled) or the connection ends (cancelled too).
    func track(_ task: Task<Void, Never>, answering requestID: UInt64) {
        reactor.preconditionInReactor()
        guard case .active = state, unanswered.contains(requestID) else { return task.cancel() }
        handlerTasks[requestID] = task
    }

    /// The request is answered or refused: its task, if any, is no longer this connection's concern.
    func forgetHandlerTask(of requestID: UInt64) {
        if !handlerTasks.isEmpty { handlerTasks.removeValue(forKey: requestID) }
    }

    /// The peer gave up on `requestID`: the task answering it is cancelled.
    func cancelHandlerTask(of requestID: UInt64) {
        if !handlerTasks.isEmpty { handlerTasks.removeValue(forKey: requestID)?.cancel() }
    }

    /// The connection ended: every task still answering one of its requests is cancelled.
    func cancelHandlerTasks() {
        guard !handlerTasks.isEmpty else { return }
        let tasks = handlerTasks.values
        handlerTasks.removeAll()
        for task in tasks { task.cancel() }
    }
}
