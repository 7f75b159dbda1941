import SolidEngine
import SolidIPC
import SolidReactor
import Synchronization
import Testing

/// Keep-alive scenarios on a manual clock: minutes of protocol time pass in milliseconds.
@Suite("Keep-alive limits", .serialized)
struct KeepAliveTests {
    /// A server with the given receive limits, a client with the given keep-alive interval, one echo done.
    private func setUp(
        group: ReactorGroup, clock: ManualClock, inactivity: Duration?, maxKeepAlives: Int?, clientKeepAlive: Duration?,
        window: Duration = .seconds(60), log: EventLog
    ) throws -> (IPCService, IPCService, Destination) {
        // Only connections that completed the handshake count: a stray connection from another process on
        // this machine that lands on the ephemeral port never says hello and is not the test's business.
        let started = Lock<Set<ObjectHandle>>([])
        let (server, destination) = try startMirrorServer(group: group, configure: { configuration in
            configuration.connection.inactivityTimeout = inactivity
            configuration.connection.maxKeepAlivesPerWindow = maxKeepAlives
            configuration.connection.keepAliveLimitWindow = window
            configuration.onConnectionStart = { info in started.withLock { _ = $0.insert(info.handle) } }
            configuration.onConnectionStop = { info, error in
                if started.withLock({ $0.contains(info.handle) }) { log.add("server stop: \(error)") }
            }
        })
        let client = try startClient(group: group) { configuration in
            configuration.connection.keepAliveInterval = clientKeepAlive
            configuration.onConnectionStop = { _, error in log.add("client stop: \(error)") }
        }
        let echoed = EventLog()
        try client.request(Note(id: 1, text: "first"), to: destination, expecting: Note.self) { _ in echoed.add("ok") }
        #expect(echoed.wait { !$0.isEmpty })
        return (server, client, destination)
    }

    /// Advances the clock in `step`s, `count` times. After each step it waits until the timers that became
    /// due have run and until every keep-alive the client sent has been read by the server: a reactor round
    /// trip is not an I/O barrier (under load the kernel may deliver loopback data later), so the test
    /// waits for the bytes themselves before time moves on.
    private func advance(
        _ clock: ManualClock, group: ReactorGroup, by step: Duration, times count: Int, server: IPCService,
        client: IPCService
    ) {
        for _ in 0..<count {
            clock.advance(by: step)
            roundTrip(group)  // the due timers ran (events are delivered in order)
            let sent = client.statistics.keepAlivesSent
            let arrived = waitUntil { server.statistics.keepAlivesReceived >= sent }
            #expect(arrived, "the server read \(server.statistics.keepAlivesReceived) of \(sent) keep-alives")
            // The server's own keep-alives keep the client's inactivity limit quiet: wait for them too.
            let answered = server.statistics.keepAlivesSent
            let back = waitUntil { client.statistics.keepAlivesReceived >= answered }
            #expect(back, "the client read \(client.statistics.keepAlivesReceived) of \(answered) keep-alives")
        }
    }

    /// One event through every reactor, waited for.
    private func roundTrip(_ group: ReactorGroup) {
        let done = EventLog()
        for reactor in group.reactors { reactor.execute { done.add("x") } }
        _ = done.wait { $0.count == group.reactors.count }
    }

    @Test("keepAliveFail 0: more keep-alives per window than allowed close the connection with tooManyKeepAlives")
    func tooManyKeepAlives() throws {
        let clock = ManualClock()
        let group = try ReactorGroup(threads: 2, clock: clock)
        defer { group.shutdown() }
        let log = EventLog()
        let (server, client, _) = try setUp(
            group: group, clock: clock, inactivity: nil, maxKeepAlives: 4, clientKeepAlive: .seconds(10),
            window: .seconds(120), log: log)
        defer {
            client.stop()
            server.stop()
        }
        // The first tick sees the echo's traffic and sends nothing; keep-alives follow at 20, 30, 40, 50
        // and 60 s: the fifth within the window is one too many.
        advance(clock, group: group, by: .seconds(10), times: 5, server: server, client: client)
        #expect(log.all.isEmpty, "four keep-alives are within the limit: \(log.all)")
        advance(clock, group: group, by: .seconds(10), times: 1, server: server, client: client)
        #expect(log.wait { $0.contains("server stop: \(ConnectionError.tooManyKeepAlives)") })
    }

    @Test("keepAliveFail 1: a silent peer is closed with inactivityTimeout")
    func inactivity() throws {
        let clock = ManualClock()
        let group = try ReactorGroup(threads: 2, clock: clock)
        defer { group.shutdown() }
        let log = EventLog()
        let (server, client, _) = try setUp(
            group: group, clock: clock, inactivity: .seconds(20), maxKeepAlives: nil, clientKeepAlive: nil, log: log)
        defer {
            client.stop()
            server.stop()
        }
        advance(clock, group: group, by: .seconds(10), times: 2, server: server, client: client)
        #expect(log.all.isEmpty, "not yet: 20 s measured in 10 s checks needs a third check")
        advance(clock, group: group, by: .seconds(10), times: 1, server: server, client: client)
        #expect(log.wait { $0.contains("server stop: \(ConnectionError.inactivityTimeout)") })
    }

    @Test("keepAliveSuccess: keep-alives inside the limits keep an idle connection up; zero disconnects")
    func keepAliveSuccess() throws {
        let clock = ManualClock()
        let group = try ReactorGroup(threads: 2, clock: clock)
        defer { group.shutdown() }
        let log = EventLog()
        // Inactivity 60 s against keep-alives every 10 s: every 30 s check window holds three keep-alives, so
        // the test does not depend on when the server's reactor reads them; without keep-alives the 60 s
        // limit would close the connection well within the two idle minutes.
        let (server, client, destination) = try setUp(
            group: group, clock: clock, inactivity: .seconds(60), maxKeepAlives: 10, clientKeepAlive: .seconds(10),
            log: log)
        defer {
            client.stop()
            server.stop()
        }
        advance(clock, group: group, by: .seconds(10), times: 12, server: server, client: client)  // two minutes idle
        #expect(log.all.isEmpty, "no disconnect while idle: \(log.all)")
        let echoed = EventLog()
        try client.request(Note(id: 2, text: "second"), to: destination, expecting: Note.self) { result in
            echoed.add((try? result.get().text) ?? "\(result)")
        }
        #expect(echoed.wait { !$0.isEmpty })
        #expect(echoed.all == ["second"])
        #expect(client.statistics.connectionsOpened == 1 && client.statistics.connectionsClosed == 0)
        #expect(client.statistics.keepAlivesSent == 11, "every idle tick but the first (which saw the echo)")
        #expect(server.statistics.keepAlivesReceived == 11)
    }
}
