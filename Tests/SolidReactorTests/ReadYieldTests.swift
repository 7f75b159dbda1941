import Testing
@testable import SolidReactor

/// Counts of the read-yield test, on one reactor thread.
private final class ReadYieldRig: @unchecked Sendable {
    // @unchecked: every field is touched on the rig's reactor thread only.
    var reads = 0
    var readsWhenPaused = -1
}

@Suite("A stream's read loop and the reactor's queue")
struct ReadYieldTests {
    /// How the read callback defers the pause it asks for.
    enum Deferral {
        /// Posted to the reactor's queue (what a handler's response does when the queue is not empty).
        case posted
        /// Run at the end of the turn (what a connection's pump of the answers a read produced does).
        case endOfTurn
    }

    @Test("an event posted while a read is delivered runs before the next read: a pause it makes stops reading after that one read")
    func queuedEventRunsBeforeTheNextRead() throws {
        let (whenPaused, total) = try readsAroundDeferredPause(.posted)
        #expect(whenPaused == 1, "reads delivered before the posted pause ran")
        #expect(total == 1)
    }

    @Test("a task deferred to the end of the turn while a read is delivered runs before the next read: a pause it makes stops reading after that one read")
    func endOfTurnTaskRunsBeforeTheNextRead() throws {
        let (whenPaused, total) = try readsAroundDeferredPause(.endOfTurn)
        #expect(whenPaused == 1, "reads delivered before the deferred pause ran")
        #expect(total == 1)
    }

    /// The reads delivered when the pause the first read deferred ran, and in all (a few turns later).
    private func readsAroundDeferredPause(_ deferral: Deferral) throws -> (Int, Int) {
        // 1 KiB reads, 64 KiB waiting: without the yield the loop would take its whole budget (16 reads)
        // before the deferred pause ran.
        let group = try ReactorGroup(threads: 1, readBufferSize: 1024)
        defer { group.shutdown() }
        let reactor = group.reactors[0]
        let pair = try ConnectedPair.make(on: reactor)
        let rig = ReadYieldRig()
        let written = TestSignal()
        let paused = TestSignal()
        try onReactor(reactor) {
            pair.client.onRead = { _ in }
            pair.client.onEndOfInput = {}
            pair.client.write([UInt8](repeating: 7, count: 64 * 1024)) { error in
                if error == nil { written.signal() }
            }
        }
        #expect(written.wait())
        try onReactor(reactor) {
            let server = pair.accepted
            server.onEndOfInput = {}
            server.onRead = { _ in
                rig.reads += 1
                guard rig.reads == 1 else { return }
                let pause: @Sendable () -> Void = {
                    pair.accepted.pauseReading()
                    rig.readsWhenPaused = rig.reads
                    paused.signal()
                }
                switch deferral {
                case .posted: reactor.execute(pause)
                case .endOfTurn: reactor.runSoon(pause)
                }
            }
            server.resumeReading()
        }
        #expect(paused.wait())
        // A few more turns of the reactor: nothing more is read while paused.
        for _ in 0..<5 { try onReactor(reactor) {} }
        let counts = try onReactor(reactor) { (rig.readsWhenPaused, rig.reads) }
        try pair.close(on: reactor)
        return counts
    }
}
