import Glibc
import Synchronization

/// Why a name could not be resolved.
public enum ResolveError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `getaddrinfo` failed; `code` is its `EAI_*` result and `message` its text.
    case lookupFailed(host: String, code: Int32, message: String)
    /// The name resolved to no IPv4 or IPv6 address.
    case noAddresses(host: String)
    /// The asking reactor stopped before the answer came.
    case reactorStopped

    /// A readable text.
    public var description: String {
        switch self {
        case .lookupFailed(let host, let code, let message): "resolving \(host) failed: \(message) (\(code))"
        case .noAddresses(let host): "\(host) has no IPv4 or IPv6 address"
        case .reactorStopped: "the reactor stopped before the name was resolved"
        }
    }
}

/// Runs blocking `getaddrinfo` calls on a few threads of its own, so reactor threads never block on DNS.
///
/// Ask from a reactor thread with ``Reactor/resolve(host:port:_:)``; the answer (possibly many
/// addresses, in the order `getaddrinfo` gave) is posted back to that reactor.
public final class Resolver: Sendable {
    private struct Job: Sendable {
        let host: String
        let port: UInt16
        let reactor: Reactor
        let requestID: UInt64
    }

    private let jobs: BlockingQueue<Job>
    private let threads: Lock<[pthread_t]>

    init(threads count: Int, name: String) {
        let jobs = BlockingQueue<Job>()
        self.jobs = jobs
        var started: [pthread_t] = []
        for index in 0..<count {
            if let thread = try? startThread(name: String("\(name.prefix(9))-dns\(index)".prefix(15)), {
                while let job = jobs.take() { Resolver.perform(job) }
            }) {
                started.append(thread)
            }
        }
        precondition(!started.isEmpty, "could not start any resolver thread")
        self.threads = Lock(started)
    }

    func submit(host: String, port: UInt16, reactor: Reactor, requestID: UInt64) {
        if !jobs.put(Job(host: host, port: port, reactor: reactor, requestID: requestID)) {
            reactor.execute { reactor.completeResolve(requestID, .failure(.reactorStopped)) }
        }
    }

    /// Stops taking jobs, lets running lookups finish and joins the threads.
    func shutdown() {
        jobs.close()
        let toJoin = threads.withLock { threads -> [pthread_t] in
            defer { threads.removeAll() }
            return threads
        }
        for thread in toJoin { pthread_join(thread, nil) }
    }

    private static func perform(_ job: Job) {
        let result = lookup(host: job.host, port: job.port)
        // When the reactor stopped, it has already failed the request; the result is dropped.
        job.reactor.execute { job.reactor.completeResolve(job.requestID, result) }
    }

    /// Blocking lookup of TCP addresses for `host`.
    static func lookup(host: String, port: UInt16) -> Result<[SocketAddress], ResolveError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        let code = getaddrinfo(host, String(port), &hints, &list)
        guard code == 0 else {
            return .failure(.lookupFailed(host: host, code: code, message: String(cString: gai_strerror(code))))
        }
        defer { freeaddrinfo(list) }
        var addresses: [SocketAddress] = []
        var cursor = list
        while let entry = cursor {
            if let raw = entry.pointee.ai_addr {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { target in
                    target.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: Int(entry.pointee.ai_addrlen)))
                }
                if let address = SocketAddress(storage: storage), !addresses.contains(address) {
                    addresses.append(address)
                }
            }
            cursor = entry.pointee.ai_next
        }
        return addresses.isEmpty ? .failure(.noAddresses(host: host)) : .success(addresses)
    }
}

/// The resolve requests a reactor is waiting for; their callbacks stay on the reactor thread.
struct ResolveRequests {
    typealias Callback = (Result<[SocketAddress], ResolveError>) -> Void
    private var pending: [UInt64: Callback] = [:]
    private var nextID: UInt64 = 1

    mutating func add(_ callback: @escaping Callback) -> UInt64 {
        let id = nextID
        nextID += 1
        pending[id] = callback
        return id
    }

    mutating func take(_ id: UInt64) -> Callback? { pending.removeValue(forKey: id) }

    mutating func failAll(with error: ResolveError) {
        let callbacks = pending
        pending.removeAll()
        for (_, callback) in callbacks.sorted(by: { $0.key < $1.key }) { callback(.failure(error)) }
    }
}

extension Reactor {
    /// Resolves `host` (a name or a numeric IP) to TCP addresses without blocking the reactor.
    ///
    /// `completion` runs later on this reactor's thread, exactly once: with the addresses, with the
    /// lookup's error, or with ``ResolveError/reactorStopped``. Numeric IPs are answered without a thread hop
    /// but still asynchronously. Reactor thread only.
    public func resolve(
        host: String,
        port: UInt16,
        _ completion: @escaping (Result<[SocketAddress], ResolveError>) -> Void
    ) {
        assertInReactor()
        let id = resolveRequests.add(completion)
        if let numeric = try? SocketAddress(ip: host, port: port) {
            runSoon { [self] in completeResolve(id, .success([numeric])) }
            return
        }
        resolver.submit(host: host, port: port, reactor: self, requestID: id)
    }

    func completeResolve(_ id: UInt64, _ result: Result<[SocketAddress], ResolveError>) {
        resolveRequests.take(id)?(result)
    }
}

/// A blocking FIFO for the resolver threads (a mutex and a condition variable; not on any hot path).
final class BlockingQueue<Element: Sendable>: @unchecked Sendable {
    // @unchecked: every field is accessed with `mutex` held.
    // Heap-allocated: pthread objects must not move, and the address of a Swift stored property is not
    // stable (`&property` may be a temporary).
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var items: [Element] = []
    private var head = 0
    private var closed = false

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Adds an item; returns `false` when the queue is closed.
    func put(_ item: Element) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard !closed else { return false }
        items.append(item)
        pthread_cond_signal(condition)
        return true
    }

    /// Waits for an item; returns `nil` once the queue is closed and empty.
    func take() -> Element? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while head == items.count && !closed { pthread_cond_wait(condition, mutex) }
        guard head < items.count else { return nil }
        let item = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        }
        return item
    }

    /// Wakes every waiter; later `put`s fail and `take` drains what is left, then returns `nil`.
    func close() {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }
}
