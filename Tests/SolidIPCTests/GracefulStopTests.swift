import Foundation
import SolidEngine
import SolidIPC
import SolidReactor
import Testing

/// ``IPCService/stop(gracePeriod:)``: a server that stops gracefully loses no request in flight.
@Suite("Graceful stop", .serialized)
struct GracefulStopTests {
    /// Runs `body` on a new thread; `done` gets "returned" when it has.
    static func inBackground(_ body: @escaping @Sendable () -> Void) -> EventLog {
        let done = EventLog()
        Thread.detachNewThread {
            body()
            done.add("returned")
        }
        return done
    }

    @Test("a server stopping gracefully answers the requests it holds, tells the peer it is going away, and closes once the peer answered")
    func serverAnswersFirst() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let holding = try HoldingServer(group: group)
        let (server, destination, held, stops) = (holding.service, holding.destination, holding.held, holding.stops)
        let peer = RawPeer(connectingTo: destination.port, on: group.reactors[1], registry: try noteRegistry())
        defer { peer.close() }
        #expect(peer.log.wait { $0.contains("hello") })
        peer.sendRequests([1, 2, 3])
        #expect(waitUntil { held.withLock { $0.count } == 3 })
        let stopped = Self.inBackground { server.stop(gracePeriod: .seconds(30)) }
        #expect(peer.log.wait { $0.contains("going away") })
        #expect(stopped.all.isEmpty, "stop waits for the held requests")
        try holding.answerHeld()
        #expect(peer.log.wait { $0.filter { $0.hasPrefix("message") }.count == 3 })
        peer.goAway()  // a conforming peer answers the going-away
        #expect(stopped.wait { !$0.isEmpty })
        #expect(stops.all == ["\(ConnectionError.closedLocally)"])
        #expect(peer.log.all.filter { $0.hasPrefix("message") } == ["message 1 a1", "message 2 a2", "message 3 a3"])
        #expect(peer.log.wait { $0.contains("end of input") || $0.contains("closed") })
    }

    @Test("what is not done after the grace period is closed (manual clock)")
    func gracePeriodEnds() throws {
        let clock = ManualClock()
        let group = try ReactorGroup(threads: 2, clock: clock)
        defer { group.shutdown() }
        let holding = try HoldingServer(group: group)  // its request is never answered
        let (server, destination, held, stops) = (holding.service, holding.destination, holding.held, holding.stops)
        let peer = RawPeer(connectingTo: destination.port, on: group.reactors[1], registry: try noteRegistry())
        defer { peer.close() }
        #expect(peer.log.wait { $0.contains("hello") })
        peer.sendRequests([1])
        #expect(waitUntil { held.withLock { $0.count } == 1 })
        let stopped = Self.inBackground { server.stop(gracePeriod: .seconds(10)) }
        #expect(peer.log.wait { $0.contains("going away") })
        peer.goAway()
        clock.advance(by: .seconds(9))
        _ = pendingTimers(group)
        #expect(stopped.all.isEmpty && stops.all.isEmpty)
        clock.advance(by: .seconds(2))
        #expect(stopped.wait { !$0.isEmpty })
        #expect(stops.all == ["\(ConnectionError.closedLocally)"])
    }

    @Test("a client stopping gracefully gets the answers to the requests it sent; new sends are refused meanwhile")
    func clientWaitsForAnswers() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let held = Lock<[MessageContext]>([])
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { _, context in held.withLock { $0.append(context) } }
        }
        defer { server.stop() }
        let client = try startClient(group: group)
        let answers = EventLog()
        for id in 1...3 {
            try client.request(Note(id: UInt64(id), text: "q"), to: destination, expecting: Note.self) { result in
                answers.add((try? result.get().text) ?? "\(result)")
            }
        }
        #expect(waitUntil { held.withLock { $0.count } == 3 })
        let stopped = Self.inBackground { client.stop(gracePeriod: .seconds(30)) }
        // Until the stop begins a probe goes through (one-shot to a socket that does not exist: it fails at
        // once and leaves nothing to drain); then it is refused.
        let nowhere = try Destination(unixPath: "/nonexistent/solid-ipc-graceful-stop-probe")
        // (Only serviceStopped counts: the probes can fill the probe pool's queue first, queueFull.)
        #expect(waitUntil {
            do {
                try client.send(Note(id: 9, text: "probe"), to: nowhere, options: [.oneShot])
                return false
            } catch {
                return (error as? SendError) == .serviceStopped
            }
        }, "new sends are refused once the stop began")
        #expect(throws: SendError.serviceStopped) { try client.send(Note(id: 9, text: "late"), to: destination) }
        #expect(stopped.all.isEmpty)
        for context in held.withLock({ $0 }) { try context.respond(Note(id: 0, text: "answer")) }
        #expect(answers.wait { $0.count == 3 })
        #expect(answers.all == ["answer", "answer", "answer"])
        #expect(stopped.wait { !$0.isEmpty })
    }
}

@Suite("Graceful stop races", .serialized)
struct GracefulStopRaceTests {
    @Test("200 messages sent and the stop begun right after: every completion runs exactly once, and stop returns")
    func sendsThenStop() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { _, _ in }
        }
        defer { server.stop() }
        for round in 0..<5 {
            let client = try startClient(group: group)
            let outcomes = EventLog()
            for id in 0..<200 {
                try client.send(Note(id: UInt64(id), text: "r\(round)"), to: destination) { outcomes.add("\($0)") }
            }
            client.stop(gracePeriod: .seconds(10))
            #expect(outcomes.wait { $0.count == 200 }, "round \(round): \(outcomes.all.count) of 200 completed")
            _ = pendingTimers(group)
            #expect(outcomes.all.count == 200, "none twice")
        }
    }
}
