import Synchronization
import Testing
@testable import SolidReactor

/// Records every event posted to it (reactor thread only) and signals the test.
final class CollectingObject: ReactorObject {
    var received: [(Int, Int)] = []
    var stoppingCalls = 0
    let reactor: Reactor
    let signal: TestSignal
    var id: ObjectID!

    init(reactor: Reactor, signal: TestSignal) {
        self.reactor = reactor
        self.signal = signal
        id = reactor.register(self)
    }

    func handle(_ event: ReactorEvent) {
        let numbered = event as! NumberedEvent
        received.append((numbered.producer, numbered.sequence))
        signal.signal()
    }

    func reactorStopping() {
        stoppingCalls += 1
        reactor.unregister(id)
    }
}

/// An event that counts how it ended.
final class TrackedEvent: ReactorEvent, @unchecked Sendable {
    let failures: Recorder<PostFailure>
    init(failures: Recorder<PostFailure>) { self.failures = failures }
    override func undeliverable(_ reason: PostFailure) { failures.append(reason) }
}

@Suite("Reactor: posting, objects, timers, stop")
struct ReactorTests {
    @Test("execute runs on the reactor's own thread")
    func executeOnThread() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        for reactor in group.reactors {
            #expect(!reactor.isCurrent)
            let (current, otherIsCurrent) = try onReactor(reactor) {
                (reactor.isCurrent, group.reactors.filter { $0 !== reactor }.contains { $0.isCurrent })
            }
            #expect(current)
            #expect(!otherIsCurrent)
        }
    }

    @Test("events from two producer threads reach their object exactly once, in per-producer order")
    func postToObject() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let reactor = group.reactors[0]
        let signal = TestSignal()
        let holder = ReactorLocal<CollectingObject>()
        let id = try onReactor(reactor) {
            let object = CollectingObject(reactor: reactor, signal: signal)
            holder.value = object
            return object.id!
        }
        let perProducer = Int(50_000 * testScale)
        var joins: [() -> Void] = []
        for producer in 0..<2 {
            joins.append(
                try spawn {
                    for sequence in 0..<perProducer {
                        _ = ObjectHandle(reactor: reactor, id: id).post(
                            NumberedEvent(producer: producer, sequence: sequence))
                    }
                })
        }
        for join in joins { join() }
        #expect(signal.wait(for: 2 * perProducer))
        let (count, ordered) = try onReactor(reactor) { () -> (Int, Bool) in
            let received = holder.value!.received
            let ordered = (0..<2).allSatisfy { producer in
                received.filter { $0.0 == producer }.map(\.1) == Array(0..<perProducer)
            }
            return (received.count, ordered)
        }
        #expect(count == 2 * perProducer)
        #expect(ordered)
    }

    @Test("posting to a gone or unknown object fails at once; queued events for it become undeliverable")
    func goneTargets() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let reactor = group.reactors[0]
        let failures = Recorder<PostFailure>()
        let unknown = ObjectID(slot: 12345, generation: 1)
        #expect(reactor.post(TrackedEvent(failures: failures), to: unknown) == .targetGone)
        // Queue an event, then unregister the target before the reactor delivers it.
        let results = try onReactor(reactor) { () -> [PostResult] in
            let object = CollectingObject(reactor: reactor, signal: TestSignal())
            let first = reactor.post(TrackedEvent(failures: failures), to: object.id)
            reactor.unregister(object.id)
            let second = reactor.post(TrackedEvent(failures: failures), to: object.id)
            // A new object reusing the slot must not receive events meant for the old one.
            let successor = CollectingObject(reactor: reactor, signal: TestSignal())
            #expect(successor.id.slot == object.id.slot)
            #expect(successor.id != object.id)
            #expect(!reactor.isRegistered(object.id))
            return [first, second]
        }
        #expect(results[0] == .posted)
        #expect(results[1] == .targetGone)
        try onReactor(reactor) {}  // the queued event has been handled by now
        #expect(failures.all == [.targetGone])
    }

    @Test("stop: queued events reach live objects or complete as reactorStopped; later posts fail at once")
    func postAfterStop() throws {
        let group = try ReactorGroup(threads: 1)
        let reactor = group.reactors[0]
        let signal = TestSignal()
        let gate = TestSignal()
        let failures = Recorder<PostFailure>()
        let stoppingCalls = Recorder<Int>()
        let (live, doomed) = try onReactor(reactor) {
            (CollectingObject(reactor: reactor, signal: signal).id!, CollectingObject(reactor: reactor, signal: signal).id!)
        }
        // Block the reactor so the next events stay queued while the stop begins.
        reactor.execute {
            gate.wait()
            reactor.unregister(doomed)
        }
        for sequence in 0..<3 { reactor.post(NumberedEvent(producer: 0, sequence: sequence), to: live) }
        reactor.post(TrackedEvent(failures: failures), to: doomed)
        reactor.requestStop()
        #expect(reactor.post(NumberedEvent(producer: 0, sequence: 9), to: live) == .reactorStopped)
        #expect(reactor.execute {} == .reactorStopped)
        gate.signal()
        group.shutdown()
        #expect(signal.count == 3, "queued events for a live object are delivered during the stop")
        #expect(failures.all == [.reactorStopped])
        _ = stoppingCalls
        #expect(reactor.objectCount == 0)
    }

    @Test("a busy reactor gets no eventfd writes: posts while it runs coalesce to none")
    func wakeUpsCoalesce() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let reactor = group.reactors[0]
        try onReactor(reactor) {}
        let gate = TestSignal()
        let entered = TestSignal()
        reactor.execute {
            entered.signal()
            gate.wait()
        }
        #expect(entered.wait())
        let before = reactor.wakeUpWrites
        let done = TestSignal()
        for _ in 0..<1000 { reactor.execute { done.signal() } }
        #expect(reactor.wakeUpWrites == before, "the loop is awake, so no post may write the eventfd")
        gate.signal()
        #expect(done.wait(for: 1000))
    }

    @Test("invalid group settings are rejected with a clear error")
    func invalidSettings() {
        #expect(throws: ReactorGroupError.invalidThreadCount(0)) { try ReactorGroup(threads: 0) }
        #expect(throws: ReactorGroupError.invalidReadBufferSize(10)) { try ReactorGroup(threads: 1, readBufferSize: 10) }
    }
}

@Suite("Reactor timers on a manual clock")
struct ReactorTimerTests {
    @Test("one-shot fires only when the clock reaches it; cancel prevents firing")
    func oneShot() throws {
        let clock = ManualClock()
        let group = try ReactorGroup(threads: 1, clock: clock)
        defer { group.shutdown() }
        let reactor = group.reactors[0]
        let fired = TestSignal()
        let cancelledFired = TestSignal()
        try onReactor(reactor) {
            reactor.schedule(after: .seconds(5)) { fired.signal() }
            let doomed = reactor.schedule(after: .seconds(1)) { cancelledFired.signal() }
            #expect(reactor.cancelTimer(doomed))
            #expect(reactor.pendingTimerCount == 1)
        }
        clock.advance(by: .seconds(4))
        try onReactor(reactor) {}
        #expect(fired.count == 0)
        clock.advance(by: .seconds(1))
        #expect(fired.wait())
        #expect(try onReactor(reactor) { reactor.pendingTimerCount } == 0)
        #expect(cancelledFired.count == 0)
        #expect(fired.count == 1)
    }

    @Test("repeating timer fires once per interval step and stops when cancelled")
    func repeating() throws {
        let clock = ManualClock()
        let group = try ReactorGroup(threads: 1, clock: clock)
        defer { group.shutdown() }
        let reactor = group.reactors[0]
        let ticks = TestSignal()
        let id = try onReactor(reactor) { reactor.schedule(after: .seconds(1), repeating: .seconds(1)) { ticks.signal() } }
        for step in 1...10 {
            clock.advance(by: .seconds(1))
            #expect(ticks.wait(for: step))
        }
        #expect(try onReactor(reactor) { reactor.cancelTimer(id) })
        clock.advance(by: .seconds(5))
        try onReactor(reactor) {}
        #expect(ticks.count == 10)
    }

    @Test("real clock: a 20 ms timer fires (bounded wait)")
    func realClock() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let reactor = group.reactors[0]
        let fired = TestSignal()
        let start = MonotonicClock().now()
        try onReactor(reactor) { reactor.schedule(after: .milliseconds(20)) { fired.signal() } }
        #expect(fired.wait(seconds: 10))
        #expect(MonotonicClock().now().nanoseconds - start.nanoseconds >= 20_000_000)
    }
}
