import Testing
@testable import SolidReactor

/// An object that only counts what it is handed.
private final class PlainObject: ReactorObject {
    var handled = 0
    func handle(_ event: ReactorEvent) { handled += 1 }
    func reactorStopping() {}
}

@Suite("Reactor: acting on an object at once")
struct RunSoonestTests {
    @Test("runSoonest runs at once on the reactor with nothing queued, and refuses (nil) where deliverSoonest would post")
    func runsOnlyWhenDeliverSoonestWould() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let reactor = group.reactors[0]
        let id = try onReactor(reactor) { reactor.register(PlainObject()) }

        // Another thread: nothing runs, the caller must post.
        var ranOffThread = false
        #expect(reactor.runSoonest(on: id) { _ in ranOffThread = true } == nil)
        #expect(!ranOffThread)

        let results = try onReactor(reactor) { () -> [String] in
            var log: [String] = []
            // Nothing queued: `body` runs before runSoonest returns, with the registered object.
            let direct = reactor.runSoonest(on: id) { object in
                log.append("body \(object is PlainObject)")
                // Nested: not at once (the outer action is not finished), as for deliverSoonest.
                let nested = reactor.runSoonest(on: id) { _ in log.append("nested ran") }
                log.append("nested \(nested.map { "\($0)" } ?? "nil")")
            }
            log.append("direct \(direct.map { "\($0)" } ?? "nil")")
            // An event waits in the queue: refused, so what the caller sends goes after it.
            reactor.execute {}
            let queued = reactor.runSoonest(on: id) { _ in log.append("queued ran") }
            log.append("queued \(queued.map { "\($0)" } ?? "nil")")
            return log
        }
        #expect(results == ["body true", "nested nil", "direct posted", "queued nil"])

        // Unregistered: gone, and `body` does not run.
        let gone = try onReactor(reactor) { () -> String in
            _ = reactor.unregister(id)
            var ran = false
            let result = reactor.runSoonest(on: id) { _ in ran = true }
            return "\(result.map { "\($0)" } ?? "nil") \(ran)"
        }
        #expect(gone == "targetGone false")
    }
}
