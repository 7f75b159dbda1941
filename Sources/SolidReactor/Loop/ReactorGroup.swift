import CSolidLinux
import Glibc
import Logging
import Synchronization

/// A group of reactors, one thread and one epoll instance each, plus a small resolver pool.
///
/// Create one per process (or per subsystem), hand its reactors to listeners, streams and higher
/// layers, and call ``shutdown()`` before exit: it stops accepting, closes every socket, completes
/// pending work with errors and joins the threads.
public final class ReactorGroup: Sendable {
    /// The reactors, in thread order.
    public let reactors: [Reactor]
    /// Resolves host names off the reactor threads.
    public let resolver: Resolver
    private let threads: Lock<[pthread_t]>
    private let nextIndex = Atomic<Int>(0)
    private let logger: Logger

    /// Starts `threads` reactors (default: one per available processor).
    ///
    /// - Parameters:
    ///   - threads: Number of reactor threads; at least 1.
    ///   - clock: Time source for timers; tests pass a ``ManualClock``.
    ///   - name: Prefix of the thread names (`name-0`, `name-1`, …), at most 12 characters shown.
    ///   - resolverThreads: Threads that run blocking `getaddrinfo` calls.
    ///   - readBufferSize: Size of each reactor's shared socket read buffer.
    ///   - logger: Where the reactors log (debug and trace levels only in normal operation).
    /// - Throws: ``SystemError`` when an epoll instance, eventfd or thread cannot be created, or
    ///   ``ReactorGroupError/invalidThreadCount(_:)``.
    public init(
        threads: Int = ReactorGroup.activeProcessorCount,
        clock: any ReactorClock = MonotonicClock(),
        name: String = "solid-reactor",
        resolverThreads: Int = 2,
        readBufferSize: Int = 64 * 1024,
        logger: Logger = Logger(label: "solid.reactor")
    ) throws {
        guard threads >= 1 else { throw ReactorGroupError.invalidThreadCount(threads) }
        guard readBufferSize >= 1024 else { throw ReactorGroupError.invalidReadBufferSize(readBufferSize) }
        let resolver = Resolver(threads: max(1, resolverThreads), name: name)
        var reactors: [Reactor] = []
        do {
            for index in 0..<threads {
                reactors.append(
                    try Reactor(
                        index: index, clock: clock, resolver: resolver, logger: logger,
                        readBufferSize: readBufferSize))
            }
        } catch {
            resolver.shutdown()
            throw error
        }
        self.reactors = reactors
        self.resolver = resolver
        self.logger = logger
        var started: [pthread_t] = []
        for reactor in reactors {
            let threadName = String("\(name.prefix(12))-\(reactor.index)".prefix(15))
            do {
                started.append(try startThread(name: threadName) { reactor.run() })
            } catch {
                for reactor in reactors { reactor.requestStop() }
                for thread in started { pthread_join(thread, nil) }
                resolver.shutdown()
                throw error
            }
        }
        self.threads = Lock(started)
    }

    deinit {
        shutdown()
    }

    /// The number of processors this process may run on.
    public static var activeProcessorCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Picks reactors round-robin, for spreading accepted connections or new objects.
    public func next() -> Reactor {
        let index = nextIndex.add(1, ordering: .relaxed).oldValue
        return reactors[index % reactors.count]
    }

    /// Stops every reactor and joins the threads. Idempotent; must not be called on a reactor thread.
    ///
    /// Each reactor asks its objects to stop (listeners close, streams close and fail pending writes with
    /// ``StreamError/reactorStopped``), fails pending resolves, drops timers and completes queued events
    /// with ``PostFailure/reactorStopped``. Posting afterwards returns `.reactorStopped`.
    public func shutdown() {
        precondition(!reactors.contains { $0.isCurrent }, "ReactorGroup.shutdown() called on a reactor thread")
        let toJoin = threads.withLock { threads -> [pthread_t] in
            defer { threads.removeAll() }
            return threads
        }
        guard !toJoin.isEmpty else { return }
        for reactor in reactors { reactor.requestStop() }
        for thread in toJoin { pthread_join(thread, nil) }
        resolver.shutdown()
        logger.debug("reactor group stopped", metadata: ["threads": "\(reactors.count)"])
    }
}

/// Invalid arguments to ``ReactorGroup/init(threads:clock:name:resolverThreads:readBufferSize:logger:)``.
public enum ReactorGroupError: Error, Sendable, Equatable {
    /// The thread count must be at least 1.
    case invalidThreadCount(Int)
    /// The read buffer must be at least 1 KiB.
    case invalidReadBufferSize(Int)
}

/// Starts a joinable pthread that names itself and runs `body`.
func startThread(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) -> pthread_t {
    final class Start: Sendable {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
    let context = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { raw in
        let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
        _ = solid_set_thread_name(start.name)
        start.body()
        return nil
    }, context)
    guard result == 0 else {
        Unmanaged<AnyObject>.fromOpaque(context).release()
        throw SystemError("pthread_create", errno: result)
    }
    return thread
}
