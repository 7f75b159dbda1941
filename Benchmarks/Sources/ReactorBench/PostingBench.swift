import Glibc
import Synchronization
import SolidReactor

/// An event with no payload; the sink counts them.
final class PingEvent: ReactorEvent, @unchecked Sendable {}

/// A flag threads can set and poll.
final class Flag: Sendable {
    let value = Atomic<Int>(0)
}

/// Counts delivered events and raises a flag when the expected number arrived.
final class CountingSink: ReactorObject {
    let done: Flag
    var count = 0
    var target = 0

    init(done: Flag) { self.done = done }
    func handle(_ event: ReactorEvent) {
        count += 1
        if count == target { done.value.store(1, ordering: .releasing) }
    }
    func reactorStopping() {}
}

final class SinkBox: @unchecked Sendable {
    // @unchecked: `sink` is created and used on the reactor thread only.
    var sink: CountingSink?
    var id: ObjectID?
}

/// Posted events per second from `producers` threads to one object on one reactor.
func postingRate(group: ReactorGroup, producers: Int, perProducer: Int) throws -> Double {
    let reactor = group.reactors[0]
    let done = Flag()
    let ready = Atomic<Int>(0)
    let box = SinkBox()
    reactor.execute {
        let sink = CountingSink(done: done)
        sink.target = producers * perProducer
        box.sink = sink
        box.id = reactor.register(sink)
        ready.store(1, ordering: .releasing)
    }
    while ready.load(ordering: .acquiring) == 0 { sched_yield() }
    let id = box.id!
    let go = Atomic<Bool>(false)
    var threads: [pthread_t] = []
    for _ in 0..<producers {
        threads.append(try startBenchThread {
            while !go.load(ordering: .acquiring) {}
            for _ in 0..<perProducer { reactor.post(PingEvent(), to: id) }
        })
    }
    let start = seconds()
    go.store(true, ordering: .releasing)
    while done.value.load(ordering: .acquiring) == 0 { sched_yield() }
    let elapsed = seconds() - start
    for thread in threads { pthread_join(thread, nil) }
    reactor.execute { if let id = box.id { reactor.unregister(id) } }
    return Double(producers * perProducer) / elapsed
}

/// Timers scheduled and cancelled per second on a reactor thread, with `background` timers pending.
func timerRate(group: ReactorGroup, operations: Int, background: Int) throws -> Double {
    let reactor = group.reactors[0]
    let result = Atomic<Int>(0)  // nanoseconds, 0 = not done
    reactor.execute {
        var parked: [TimerID] = []
        for index in 0..<background {
            parked.append(reactor.schedule(after: .seconds(3600 + index)) {})
        }
        let start = MonotonicClock().now()
        for index in 0..<operations {
            let id = reactor.schedule(after: .milliseconds(1000 + index % 5000)) {}
            reactor.cancelTimer(id)
        }
        let elapsed = MonotonicClock().now().nanoseconds - start.nanoseconds
        for id in parked { reactor.cancelTimer(id) }
        result.store(Int(max(elapsed, 1)), ordering: .releasing)
    }
    while result.load(ordering: .acquiring) == 0 { sched_yield() }
    return Double(operations) / (Double(result.load(ordering: .acquiring)) / 1e9)
}

final class ThreadBody: Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

func startBenchThread(_ body: @escaping @Sendable () -> Void) throws -> pthread_t {
    var thread = pthread_t()
    let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    let result = pthread_create(&thread, nil, { raw in
        Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
    }, context)
    guard result == 0 else { throw SystemError("pthread_create", errno: result) }
    return thread
}
