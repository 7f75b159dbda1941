import CSolidLinux
import Glibc
import Synchronization

/// The Linux readiness backend: one epoll instance plus an eventfd for cross-thread wake-ups.
final class EpollBackend: PollBackend, @unchecked Sendable {
    // @unchecked: only `wakeUp()` is called from other threads, and it touches nothing but the
    // eventfd number, which is immutable until `close()` (called after the reactor thread stopped).

    /// Token reported for the wake-up eventfd; never a valid ``ObjectID/packed`` (generations are odd).
    static let wakeToken: UInt64 = 0

    private let epollFD: Int32
    private let eventFD: Int32
    private var events: UnsafeMutablePointer<epoll_event>
    private let capacity: Int32
    private var closed = false
    /// How many times `wakeUp` wrote the eventfd (shows how well wake-ups coalesce).
    let wakeUpWrites = Atomic<Int>(0)

    init(maxEventsPerWait: Int32 = 256) throws(SystemError) {
        capacity = maxEventsPerWait
        epollFD = try syscallValue("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        do {
            eventFD = try syscallValue("eventfd") { eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) }
        } catch {
            closeDescriptor(epollFD)
            throw error
        }
        events = .allocate(capacity: Int(maxEventsPerWait))
        events.initialize(repeating: epoll_event(), count: Int(maxEventsPerWait))
        var wake = epoll_event()
        wake.events = EPOLLIN.rawValue
        wake.data.u64 = Self.wakeToken
        do {
            _ = try syscallValue("epoll_ctl(ADD eventfd)") { epoll_ctl(epollFD, EPOLL_CTL_ADD, eventFD, &wake) }
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
    }

    func register(_ fd: Int32, token: UInt64, interest: IOInterest) throws(SystemError) {
        var event = epoll_event()
        switch interest {
        case .readLevel:
            event.events = EPOLLIN.rawValue
        case .readWriteEdge:
            event.events = EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue
        }
        event.data.u64 = token
        _ = try syscallValue("epoll_ctl(ADD)") { epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) }
    }

    func deregister(_ fd: Int32) throws(SystemError) {
        var event = epoll_event()
        _ = try syscallValue("epoll_ctl(DEL)") { epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, &event) }
    }

    func wait(timeoutMilliseconds: Int32, _ report: (UInt64, IOEvents, Int) -> Void) throws(SystemError) -> Int {
        let ready: Int32
        switch try syscall("epoll_wait", nonBlocking: true, { epoll_wait(epollFD, events, capacity, timeoutMilliseconds) }) {
        case .done(let count): ready = count
        case .wouldBlock: ready = 0
        }
        var objects = Int(ready)
        for index in 0..<Int(ready) where events[index].data.u64 == Self.wakeToken { objects -= 1 }
        for index in 0..<Int(ready) {
            let event = events[index]
            let token = event.data.u64
            if token == Self.wakeToken {
                drainWakeUps()
                continue
            }
            report(token, Self.translate(event.events), objects)
        }
        return objects
    }

    @inline(__always)
    private static func translate(_ bits: UInt32) -> IOEvents {
        var result: IOEvents = []
        if bits & EPOLLIN.rawValue != 0 { result.insert(.readable) }
        if bits & EPOLLOUT.rawValue != 0 { result.insert(.writable) }
        if bits & EPOLLRDHUP.rawValue != 0 { result.insert(.readHangup) }
        if bits & EPOLLHUP.rawValue != 0 { result.insert(.hangup) }
        if bits & EPOLLERR.rawValue != 0 { result.insert(.error) }
        return result
    }

    private func drainWakeUps() {
        var value: UInt64 = 0
        _ = Glibc.read(eventFD, &value, 8)  // EAGAIN (already drained) is fine
    }

    func wakeUp() {
        wakeUpWrites.add(1, ordering: .relaxed)
        var one: UInt64 = 1
        while Glibc.write(eventFD, &one, 8) < 0 {
            let code = solid_errno()
            if code == EINTR { continue }
            // EAGAIN: the counter is saturated, so a wake-up is already pending.
            precondition(code == EAGAIN, "eventfd write failed with errno \(code)")
            return
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        closeDescriptor(eventFD)
        closeDescriptor(epollFD)
        events.deinitialize(count: Int(capacity))
        events.deallocate()
    }
}
