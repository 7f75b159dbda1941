import CSolidLinux
import Glibc
import Logging
import Synchronization

/// One event loop on one thread: an epoll instance, its timers, its registered objects and a lock-free
/// queue through which other threads post work to it.
///
/// Everything except posting (``post(_:to:)``, ``execute(_:)``), ``wakeUp()`` and a few read-only
/// properties must be called on the reactor's own thread; debug builds check it.
///
/// Reactors are created and started by a ``ReactorGroup``.
public final class Reactor: @unchecked Sendable {
    // @unchecked: loop state (objects, timers, tasks) is touched only on the reactor thread (checked with
    // `assertInReactor`); what other threads use is atomic (`state`, `needsWake`, the event queue, the
    // object table's generation directory) or immutable.

    enum State: UInt8 { case running, stopping, stopped }

    /// Position of this reactor in its group.
    public let index: Int
    /// The clock its timers follow.
    public let clock: any ReactorClock
    /// The logger for this reactor (metadata `reactor` = index).
    public let logger: Logger
    /// The group's resolver, used by ``resolve(host:port:_:)``.
    public let resolver: Resolver

    let backend: EpollBackend
    private let queue = EventQueue()
    private let needsWake = Atomic<Bool>(false)
    private let state = Atomic<UInt8>(State.running.rawValue)
    private let threadID = Atomic<UInt>(0)
    let objects = ObjectTable()
    let timers = TimerQueue()
    /// Tasks for the end of this turn, each in a struct: a bare closure stored in an array is converted
    /// to its most general form, which allocated a thunk per task (measured, like `WriteQueue`'s).
    @exclusivity(unchecked) private var soonTasks: [SoonTask] = []
    /// The other of two arrays `runSoonTasks` alternates between, so a turn allocates none (copying
    /// `soonTasks` and emptying it with its capacity kept made a new array every turn: measured).
    @exclusivity(unchecked) private var spareSoonTasks: [SoonTask] = []
    private struct SoonTask {
        let run: () -> Void
    }
    /// How many objects the current turn's wait found ready (sockets, listeners); a hint for batching:
    /// with 1, nothing else on this reactor waits for the caller. Reactor thread.
    public var readyThisTurn: Int { readyCount }
    // Stored privately: other modules read a stored property of a class with a dynamic exclusivity check
    // even when it is marked unchecked (measured: ~76 instructions per read); the getter has none.
    @exclusivity(unchecked) private var readyCount = 0
    /// Immediate deliveries running (``deliverSoonest(_:to:)``); reactor thread only.
    @exclusivity(unchecked) private var immediateDepth = 0
    /// The reactor's shared read buffer: socket streams read into it and hand a view of it to their
    /// owner, valid during that call only.
    public let readBuffer: UnsafeMutableRawBufferPointer
    /// A second shared buffer (64 KiB) for a layer that transforms what a socket stream read while that
    /// view is still in use (a TLS stream decrypts into it). Reactor thread only; never kept across calls.
    public let transformBuffer: UnsafeMutableRawBufferPointer
    /// The buffer ``withScratch(minimumBytes:_:)`` lends (grown to the largest size asked), and whether
    /// it is lent now. Reactor thread only.
    @exclusivity(unchecked) var scratch = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    @exclusivity(unchecked) var scratchLent = false
    var resolveRequests = ResolveRequests()
    private let eventsPerDrain = 4096
    /// Jobs of tasks that prefer this reactor as their executor (Reactor+TaskExecutor.swift).
    let jobs = ReactorJobs()

    init(
        index: Int, clock: any ReactorClock, resolver: Resolver, logger: Logger, readBufferSize: Int
    ) throws(SystemError) {
        self.index = index
        self.resolver = resolver
        self.clock = clock
        var logger = logger
        logger[metadataKey: "reactor"] = "\(index)"
        self.logger = logger
        backend = try EpollBackend()
        readBuffer = .allocate(byteCount: readBufferSize, alignment: 16)
        transformBuffer = .allocate(byteCount: 65536, alignment: 16)
    }

    deinit {
        // Events that raced with stop (posted after the final drain) are completed here.
        while let event = queue.pop() { event.undeliverable(.reactorStopped) }
        backend.close()
        readBuffer.deallocate()
        transformBuffer.deallocate()
        scratch.deallocate()
    }

    // MARK: thread identity

    /// `true` when called on this reactor's thread.
    public var isCurrent: Bool { threadID.load(ordering: .relaxed) == UInt(pthread_self()) }

    /// Traps when not called on this reactor's thread.
    @inline(__always)
    public func preconditionInReactor(file: StaticString = #fileID, line: UInt = #line) {
        precondition(isCurrent, "must be called on reactor #\(index)'s thread", file: file, line: line)
    }

    /// The check of every reactor-thread-only entry point (`register`, `watch`, `schedule`, `runSoon`, …): a
    /// precondition that stays on in release builds (one comparison), so misuse traps instead of racing.
    @inline(__always)
    func assertInReactor(file: StaticString = #fileID, line: UInt = #line) {
        precondition(isCurrent, "must be called on reactor #\(index)'s thread", file: file, line: line)
    }

    /// `true` until the reactor is asked to stop.
    public var isRunning: Bool { state.load(ordering: .acquiring) == State.running.rawValue }

    // MARK: posting (any thread)

    /// Posts `event` to the object `target` on this reactor. Any thread.
    ///
    /// Returns ``PostResult/targetGone`` when `target` is no longer registered and
    /// ``PostResult/reactorStopped`` once the reactor stops; the event is then not queued and the caller
    /// still owns its payload. When
    /// the target goes away after the event was queued, the reactor calls ``ReactorEvent/undeliverable(_:)``.
    @discardableResult
    public func post(_ event: ReactorEvent, to target: ObjectID) -> PostResult {
        guard isRunning else { return .reactorStopped }
        guard objects.isAlive(target) else { return .targetGone }
        event.target = target
        enqueue(event)
        return .posted
    }

    /// Posts an event addressed to the reactor itself; it runs through ``ReactorEvent/run(on:)``.
    @discardableResult
    public func post(_ event: ReactorEvent) -> PostResult {
        guard isRunning else { return .reactorStopped }
        event.target = nil
        enqueue(event)
        return .posted
    }

    /// Delivers `event` to `target` (or runs it, with no target) at once when called on this reactor's
    /// thread while nothing is queued and no other immediate delivery is running; otherwise posts it like
    /// ``post(_:to:)``. Any thread.
    ///
    /// Order is kept: an event is delivered at once only when no earlier one (from any thread) waits in
    /// the queue, and events sent during an immediate delivery are queued, so a chain of callbacks that
    /// send never recurses more than one level. Use it for events whose handler may run inside the
    /// caller's own callback (sending a message from a handler); measured: the queue round trip cost a
    /// response the rest of its reactor turn (up to 16 reads of other data) and ~400 instructions.
    @discardableResult
    public func deliverSoonest(_ event: ReactorEvent, to target: ObjectID?) -> PostResult {
        if let target {
            let delivered = runSoonest(on: target) { object in
                event.target = target
                object.handle(event)
            }
            return delivered ?? post(event, to: target)
        }
        guard canRunAtOnce else { return post(event) }
        immediateDepth += 1
        defer { immediateDepth -= 1 }
        event.target = nil
        event.run(on: self)
        return .posted
    }

    /// On this reactor's thread, nothing queued, no immediate delivery running (`isCurrent` first: the
    /// rest is reactor-only).
    @inline(__always)
    private var canRunAtOnce: Bool { isCurrent && immediateDepth == 0 && isRunning && queue.isEmpty }

    /// Runs `body` with `target`'s object at once when ``deliverSoonest(_:to:)`` would deliver at once (on
    /// this reactor's thread, nothing queued, not inside another immediate delivery), so a caller can act
    /// on the object without allocating an event. Returns `nil` when it would not (the caller posts an
    /// event instead), `.targetGone` when no such object is registered, `.posted` after `body` ran.
    @inline(__always)
    public func runSoonest(on target: ObjectID, _ body: (any ReactorObject) -> Void) -> PostResult? {
        guard canRunAtOnce else { return nil }
        guard let object = objects.lookup(target) else { return .targetGone }
        immediateDepth += 1
        defer { immediateDepth -= 1 }
        body(object)
        return .posted
    }

    /// `true` when events wait in the reactor's queue (posted from other threads, or sent during an
    /// immediate delivery). Reactor thread only: a stream's read loop stops for them, so what they carry
    /// (a handler's response, a pause it causes) happens before more input is read.
    @inline(__always)
    public var hasQueuedEvents: Bool { !queue.isEmpty }

    /// `true` when tasks wait to run after the current batch (``runSoon(_:)``: a connection's deferred
    /// write of what a read just produced, say). Reactor thread only: a stream's read loop stops for them,
    /// so an answer goes out before more input is read.
    @inline(__always)
    public var hasSoonTasks: Bool { !soonTasks.isEmpty }

    /// Runs `body` on the reactor thread soon. Any thread. Costs one allocation (the closure's event).
    @discardableResult
    public func execute(_ body: @escaping @Sendable () -> Void) -> PostResult {
        post(ClosureEvent(body))
    }

    @inline(__always)
    private func enqueue(_ event: ReactorEvent) {
        queue.push(event)
        wakeIfSleeping()
    }

    /// Writes the eventfd only when the loop announced it may sleep, and only once per sleep.
    @inline(__always)
    func wakeIfSleeping() {
        if needsWake.load(ordering: .sequentiallyConsistent),
            needsWake.exchange(false, ordering: .sequentiallyConsistent)
        {
            backend.wakeUp()
        }
    }

    /// How many eventfd wake-ups other threads have written so far (posting coalesces them: a busy reactor
    /// gets none). For measurements.
    public var wakeUpWrites: Int { backend.wakeUpWrites.load(ordering: .relaxed) }

    /// Interrupts the reactor's wait if it is sleeping (used by ``ManualClock``). Any thread.
    public func wakeUp() {
        if needsWake.exchange(false, ordering: .sequentiallyConsistent) { backend.wakeUp() }
    }

    // MARK: objects, descriptors, tasks (reactor thread)

    /// Registers `object` and returns its id. The reactor keeps the object alive until ``unregister(_:)``.
    public func register(_ object: any ReactorObject) -> ObjectID {
        assertInReactor()
        return objects.insert(object)
    }

    /// Unregisters the object; queued events for it become undeliverable. Returns `false` for a stale id.
    @discardableResult
    public func unregister(_ id: ObjectID) -> Bool {
        assertInReactor()
        return objects.remove(id) != nil
    }

    /// `true` while `id` is registered. Any thread; the answer may be stale at once off the reactor.
    public func isRegistered(_ id: ObjectID) -> Bool { objects.isAlive(id) }

    /// The object registered as `id`, or `nil`. Reactor thread.
    public func object(_ id: ObjectID) -> (any ReactorObject)? {
        assertInReactor()
        return objects.lookup(id)
    }

    /// Number of registered objects. Reactor thread.
    public var objectCount: Int { objects.count }

    /// Watches `fd` for `owner` (edge-triggered read/write for streams, level-triggered read otherwise).
    public func watch(_ fd: Int32, for owner: ObjectID, interest: IOInterest) throws(SystemError) {
        assertInReactor()
        try backend.register(fd, token: owner.packed, interest: interest)
    }

    /// Stops watching `fd`. Call before closing it.
    public func unwatch(_ fd: Int32) {
        assertInReactor()
        do {
            try backend.deregister(fd)
        } catch {
            logger.debug("epoll_ctl(DEL) failed", metadata: ["fd": "\(fd)", "error": "\(error)"])
        }
    }

    /// Runs `task` on the reactor thread after the current batch of events (never inside the caller).
    public func runSoon(_ task: @escaping () -> Void) {
        assertInReactor()
        soonTasks.append(SoonTask(run: task))
    }

    // MARK: timers (reactor thread)

    /// The current time on the reactor's clock.
    public func now() -> ReactorInstant { clock.now() }

    /// Runs `body` once after `delay`, or every `interval` when given. Reactor thread.
    @discardableResult
    public func schedule(
        after delay: Duration,
        repeating interval: Duration? = nil,
        _ body: @escaping () -> Void
    ) -> TimerID {
        assertInReactor()
        return timers.schedule(at: clock.now().advanced(by: delay), repeating: interval, body)
    }

    /// Cancels a timer. Returns `false` when it already fired or was cancelled. Reactor thread.
    @discardableResult
    public func cancelTimer(_ id: TimerID) -> Bool {
        assertInReactor()
        return timers.cancel(id)
    }

    /// Runs the timers due now (used by ``ManualClock`` so timers run in order with posted events).
    func runDueTimers() {
        assertInReactor()
        timers.fireDue(now: clock.now())
    }

    /// Number of pending timers. Reactor thread.
    public var pendingTimerCount: Int { timers.count }

    // MARK: the loop

    func requestStop() {
        if state.compareExchange(
            expected: State.running.rawValue, desired: State.stopping.rawValue, ordering: .acquiringAndReleasing
        ).exchanged {
            backend.wakeUp()
        }
    }

    /// The thread body: loops until asked to stop, then shuts everything down on this thread.
    func run() {
        threadID.store(UInt(pthread_self()), ordering: .relaxed)
        clock.attach(self)
        logger.debug("reactor started")
        while isRunning {
            runOnce()
        }
        shutdownOnThread()
        // A thread created later may get this one's pthread_t: it must not pass for this reactor's.
        threadID.store(0, ordering: .relaxed)
        state.store(State.stopped.rawValue, ordering: .releasing)
        logger.debug("reactor stopped")
    }

    private func runOnce() {
        var timeout = computeTimeout()
        if timeout != 0 {
            needsWake.store(true, ordering: .sequentiallyConsistent)
            if !queue.isEmpty || jobs.hasRemote { timeout = 0 }
        }
        do {
            readyCount = try backend.wait(timeoutMilliseconds: timeout) { token, events, ready in
                readyCount = ready
                guard let object = objects.lookup(packed: token) else { return }  // stale
                object.ioReady(events)
            }
        } catch {
            logger.error("epoll_wait failed", metadata: ["error": "\(error)"])
        }
        needsWake.store(false, ordering: .sequentiallyConsistent)
        timers.fireDue(now: clock.now())
        drainQueue(limit: eventsPerDrain)
        runSoonTasks()
        runJobs()
    }

    private func computeTimeout() -> Int32 {
        if !soonTasks.isEmpty || jobs.hasLocal { return 0 }
        guard let deadline = timers.nextDeadline else { return -1 }
        let now = clock.now()
        if deadline <= now { return 0 }
        guard clock.advancesByItself else { return -1 }
        let waitNanos = deadline.nanoseconds - now.nanoseconds
        let millis = (waitNanos + 999_999) / 1_000_000  // round up: never wake before the deadline
        return Int32(clamping: millis)
    }

    private func drainQueue(limit: Int) {
        var delivered = 0
        while delivered < limit, let event = queue.pop() {
            delivered += 1
            deliver(event)
        }
    }

    @inline(__always)
    private func deliver(_ event: ReactorEvent) {
        guard let target = event.target else {
            event.run(on: self)
            return
        }
        if let object = objects.lookup(target) {
            object.handle(event)
        } else {
            event.undeliverable(isRunning ? .targetGone : .reactorStopped)
        }
    }

    private func runSoonTasks() {
        guard !soonTasks.isEmpty else { return }
        var tasks: [SoonTask] = []
        swap(&tasks, &spareSoonTasks)
        swap(&tasks, &soonTasks)  // tasks run now; what they schedule goes into the (empty) spare
        for task in tasks { task.run() }
        tasks.removeAll(keepingCapacity: true)
        if spareSoonTasks.capacity == 0 { spareSoonTasks = tasks }
    }

    /// Stops every object, fails pending resolves, drops timers and drains the queue, repeating while
    /// any of them produced more work (bounded).
    private func shutdownOnThread() {
        for _ in 0..<16 {
            drainQueue(limit: .max)
            runSoonTasks()
            for (_, object) in objects.allObjects() { object.reactorStopping() }
            for (id, _) in objects.allObjects() {
                logger.warning("object did not unregister while stopping; removing it", metadata: ["id": "\(id)"])
                objects.remove(id)
            }
            resolveRequests.failAll(with: .reactorStopped)
            if queue.isEmpty && soonTasks.isEmpty && objects.count == 0 { break }
        }
        timers.removeAll()
        handJobsOver()
    }
}
