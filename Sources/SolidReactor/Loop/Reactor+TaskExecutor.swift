import Synchronization

// A reactor is a Swift concurrency task executor: a task that prefers it runs its jobs on the reactor
// thread, between the reactor's turns, so code that awaits callbacks of objects on that reactor resumes
// without a thread hop (no wake-up of a cooperative thread, no cross-CPU cache traffic).
extension Reactor: TaskExecutor {
    /// Runs `job` on this reactor's thread: after the current batch of events when enqueued on the
    /// reactor thread itself (a continuation resumed by a callback), otherwise as soon as the reactor
    /// wakes. Once the reactor has stopped, jobs go to the global concurrent executor instead, so an
    /// awaiting task is never stranded.
    ///
    /// Use it with `Task(executorPreference: reactor) { … }` or `withTaskExecutorPreference(reactor) { … }`.
    /// Code running this way runs on the reactor thread: it must not block, or the reactor's sockets wait.
    /// After the reactor stops it runs elsewhere, so reactor-thread-only calls from it then trap.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if isCurrent && !jobs.handedOver {
            jobs.local.append(job)
            return
        }
        guard jobs.pushRemote(job, accepting: isRunning) else {
            return globalConcurrentExecutor.enqueue(job)
        }
        wakeIfSleeping()
    }

    /// Runs the jobs enqueued so far, and those they enqueue, up to a bound per turn so sockets and
    /// posted events are not starved by a task that keeps yielding. Reactor thread.
    func runJobs() {
        if jobs.hasRemote { jobs.local.append(contentsOf: jobs.takeRemote()) }
        guard !jobs.local.isEmpty else { return }
        let executor = asUnownedTaskExecutor()
        // By index, in place: jobs enqueued while these run are appended and run in this pass too (up to
        // the budget), and the array keeps its storage (no allocation per turn).
        var next = 0
        while next < jobs.local.count, next < ReactorJobs.perTurn {
            let job = jobs.local[next]
            next += 1
            job.runSynchronously(on: executor)
            if next == jobs.local.count, jobs.hasRemote { jobs.local.append(contentsOf: jobs.takeRemote()) }
        }
        if next == jobs.local.count {
            jobs.local.removeAll(keepingCapacity: true)
        } else {
            jobs.local.removeSubrange(0..<next)  // the rest runs first next turn
        }
    }

    /// The reactor stopped: jobs still waiting (and any enqueued later) run on the global executor.
    func handJobsOver() {
        jobs.handedOver = true
        let waiting = jobs.local + jobs.closeRemote()
        jobs.local.removeAll()
        for job in waiting { globalConcurrentExecutor.enqueue(job) }
    }
}

/// The two job queues of a reactor: `local` for jobs enqueued on the reactor thread (no lock), `remote`
/// for those enqueued from other threads.
final class ReactorJobs: @unchecked Sendable {
    // @unchecked: `local` is touched on the reactor thread only; `remote` is behind its mutex and
    // `remoteCount` is atomic.
    static let perTurn = 4096
    @exclusivity(unchecked) var local: [UnownedJob] = []  // reactor thread only: no dynamic checks
    /// Set on the reactor thread as it stops: from then on its own jobs go to the global executor too.
    var handedOver = false
    // A pthread `Lock`, not `Synchronization.Mutex`: TSan does not see the futex-based Mutex's
    // synchronisation and reported pushRemote/takeRemote as a race (CI, the executor tests under TSan).
    private let remote = Lock<(jobs: [UnownedJob], closed: Bool)>(([], false))
    private let remoteCount = Atomic<Int>(0)

    init() { local.reserveCapacity(64) }

    /// `true` when jobs enqueued on the reactor thread wait (the loop must not sleep).
    var hasLocal: Bool { !local.isEmpty }

    /// `true` when another thread enqueued jobs not taken yet (sequentially consistent, paired with the
    /// loop's announcement that it may sleep).
    var hasRemote: Bool { remoteCount.load(ordering: .sequentiallyConsistent) > 0 }

    /// Queues a job from another thread; `false` once the queue is closed (the reactor stopped) or when
    /// the reactor no longer accepts work.
    func pushRemote(_ job: UnownedJob, accepting: Bool) -> Bool {
        remote.withLock { remote in
            guard accepting, !remote.closed else { return false }
            remote.jobs.append(job)
            remoteCount.add(1, ordering: .sequentiallyConsistent)
            return true
        }
    }

    /// Takes every job queued from other threads.
    func takeRemote() -> [UnownedJob] {
        remote.withLock { remote in
            remoteCount.store(0, ordering: .sequentiallyConsistent)
            let taken = remote.jobs
            remote.jobs = []
            return taken
        }
    }

    /// Takes what is queued and refuses every later job.
    func closeRemote() -> [UnownedJob] {
        remote.withLock { remote in
            remote.closed = true
            remoteCount.store(0, ordering: .sequentiallyConsistent)
            let taken = remote.jobs
            remote.jobs = []
            return taken
        }
    }
}
