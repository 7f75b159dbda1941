import Testing
@testable import SolidReactor

@Suite("Timer queue (pure logic, explicit time)")
struct TimerQueueTests {
    private func at(_ milliseconds: UInt64) -> ReactorInstant { ReactorInstant(nanoseconds: milliseconds * 1_000_000) }

    @Test("fires in deadline order, ties in scheduling order, only when due")
    func order() {
        let queue = TimerQueue()
        var fired: [String] = []
        queue.schedule(at: at(30)) { fired.append("c") }
        queue.schedule(at: at(10)) { fired.append("a1") }
        queue.schedule(at: at(20)) { fired.append("b") }
        queue.schedule(at: at(10)) { fired.append("a2") }
        #expect(queue.nextDeadline == at(10))
        #expect(queue.fireDue(now: at(9)) == 0)
        #expect(queue.fireDue(now: at(20)) == 3)
        #expect(fired == ["a1", "a2", "b"])
        #expect(queue.count == 1)
        #expect(queue.fireDue(now: at(100)) == 1)
        #expect(fired == ["a1", "a2", "b", "c"])
        #expect(queue.nextDeadline == nil)
    }

    @Test("a huge delay saturates (never fires) instead of wrapping into the past; so does a huge interval")
    func hugeDelays() {
        let queue = TimerQueue()
        var fired: [String] = []
        let start = at(1000)
        queue.schedule(at: start.advanced(by: .seconds(Int64.max))) { fired.append("never") }
        queue.schedule(at: start.advanced(by: .milliseconds(1)), repeating: .seconds(Int64.max)) { fired.append("once") }
        #expect(start.advanced(by: .seconds(Int64.max)) == ReactorInstant(nanoseconds: .max))
        #expect(queue.fireDue(now: at(2000)) == 1)
        #expect(queue.fireDue(now: at(3_000_000)) == 0)
        #expect(fired == ["once"])
        #expect(queue.count == 2, "both wait for the end of time")
    }

    @Test("cancel: pending → true once; fired or unknown → false; slot reuse keeps ids distinct")
    func cancel() {
        let queue = TimerQueue()
        var fired = 0
        let first = queue.schedule(at: at(10)) { fired += 1 }
        #expect(queue.cancel(first))
        #expect(!queue.cancel(first))
        let second = queue.schedule(at: at(10)) { fired += 1 }  // reuses the slot
        #expect(!queue.cancel(first), "a stale id must not cancel the slot's new timer")
        #expect(queue.fireDue(now: at(10)) == 1)
        #expect(fired == 1)
        #expect(!queue.cancel(second), "already fired")
    }

    @Test("repeating timers fire every interval and skip missed beats instead of bursting")
    func repeating() {
        let queue = TimerQueue()
        var ticks: [UInt64] = []
        var now = at(0)
        let id = queue.schedule(at: at(10), repeating: .milliseconds(10)) { ticks.append(now.nanoseconds / 1_000_000) }
        for step in 1...5 {
            now = at(UInt64(step) * 10)
            queue.fireDue(now: now)
        }
        #expect(ticks == [10, 20, 30, 40, 50])
        now = at(200)  // a long stall: one tick, then back on a 10 ms beat from now
        #expect(queue.fireDue(now: now) == 1)
        #expect(queue.nextDeadline == at(210))
        #expect(queue.cancel(id))
        #expect(queue.count == 0)
    }

    @Test("a repeating timer can cancel itself; a callback can schedule and cancel others")
    func reentrancy() {
        let queue = TimerQueue()
        var count = 0
        var selfID: TimerID?
        selfID = queue.schedule(at: at(1), repeating: .milliseconds(1)) {
            count += 1
            if count == 3 { #expect(queue.cancel(selfID!)) }
        }
        var victimFired = false
        let victim = queue.schedule(at: at(5)) { victimFired = true }
        var lateFired = false
        queue.schedule(at: at(2)) {
            queue.cancel(victim)
            queue.schedule(at: at(2)) { lateFired = true }
        }
        for step in 1...10 { queue.fireDue(now: at(UInt64(step))) }
        #expect(count == 3)
        #expect(!victimFired)
        #expect(lateFired)
        #expect(queue.count == 0)
    }

    @Test("100k timers: schedule, cancel half, the rest fire in order")
    func hundredThousand() {
        let queue = TimerQueue()
        var generator = SystemRandomNumberGenerator()
        var deadlines: [UInt64] = []
        var ids: [TimerID] = []
        var firedDeadlines: [UInt64] = []
        for _ in 0..<100_000 {
            let deadline = UInt64.random(in: 1...1_000_000, using: &generator)
            deadlines.append(deadline)
            ids.append(queue.schedule(at: ReactorInstant(nanoseconds: deadline)) { firedDeadlines.append(deadline) })
        }
        #expect(queue.count == 100_000)
        var cancelled = 0
        for index in stride(from: 0, to: ids.count, by: 2) where queue.cancel(ids[index]) { cancelled += 1 }
        #expect(cancelled == 50_000)
        #expect(queue.fireDue(now: ReactorInstant(nanoseconds: 2_000_000)) == 50_000)
        let expected = stride(from: 1, to: deadlines.count, by: 2).map { deadlines[$0] }.sorted()
        #expect(firedDeadlines == expected)
        #expect(queue.count == 0)
    }

    @Test("removeAll drops pending timers without running them")
    func removeAll() {
        let queue = TimerQueue()
        var fired = false
        let id = queue.schedule(at: at(1)) { fired = true }
        queue.removeAll()
        #expect(queue.count == 0)
        #expect(!queue.cancel(id))
        #expect(queue.fireDue(now: at(10)) == 0)
        #expect(!fired)
    }

    @Test("durations convert to nanoseconds with clamping")
    func durations() {
        #expect(Duration.milliseconds(3).clampedNanoseconds == 3_000_000)
        #expect(Duration.nanoseconds(-5).clampedNanoseconds == 0)
        #expect(Duration.seconds(Int64.max).clampedNanoseconds == UInt64.max)
        #expect(ReactorInstant(nanoseconds: 10).advanced(by: .nanoseconds(5)).nanoseconds == 15)
    }
}
