import Glibc
import SolidReactor
import Synchronization
import Testing

/// A reactor as a task executor: jobs run on its thread, resumptions from its callbacks stay there.
@Suite("Reactor as a task executor")
struct ReactorExecutorTests {
    @Test("a task preferring a reactor runs on its thread, also after awaiting a continuation resumed by a reactor callback")
    func runsOnTheReactor() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let reactor = group.reactors[1]
        let observed = await Task(executorPreference: reactor) { () -> [Bool] in
            var seen = [reactor.isCurrent]
            for _ in 0..<100 {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    reactor.execute { continuation.resume() }  // resumed on the reactor thread
                }
                seen.append(reactor.isCurrent)
            }
            await Task.yield()
            seen.append(reactor.isCurrent)
            return seen
        }.value
        #expect(observed.count == 102)
        #expect(observed.allSatisfy { $0 }, "every step ran on reactor 1's thread")
    }

    @Test("1,000 tasks on one reactor, each yielding 10 times, all finish; the reactor still serves posted events")
    func manyTasks() async throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let reactor = group.reactors[0]
        final class Counter: Sendable { let value = Atomic<Int>(0) }
        let steps = Counter()
        await withTaskGroup(of: Void.self) { tasks in
            for _ in 0..<1000 {
                tasks.addTask(executorPreference: reactor) {
                    for _ in 0..<10 {
                        precondition(reactor.isCurrent)
                        steps.value.add(1, ordering: .relaxed)
                        await Task.yield()
                    }
                }
            }
        }
        let total = steps.value.load(ordering: .relaxed)
        #expect(total == 10_000)
        let ran = Atomic<Bool>(false)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            reactor.execute {
                ran.store(true, ordering: .relaxed)
                continuation.resume()
            }
        }
        let didRun = ran.load(ordering: .relaxed)
        #expect(didRun)
    }

    @Test("after the reactor stops, a task that prefers it still runs to its end (on the global executor)")
    func afterShutdown() async throws {
        let group = try ReactorGroup(threads: 1)
        let reactor = group.reactors[0]
        group.shutdown()
        let result = await Task(executorPreference: reactor) { () -> Bool in
            await Task.yield()
            return reactor.isCurrent
        }.value
        #expect(result == false)
    }
}
