import SolidEngine
import SolidIPC
import SolidReactor
import Testing

/// ``IPCService/snapshot()``: pools and connections with their state, what an operator prints when stuck.
@Suite("Service snapshot", .serialized)
struct SnapshotTests {
    @Test("two requests held over TLS: the client's pool shows one active TLS connection with two in flight; the server's accepted connection shows two unanswered")
    func heldRequestsOverTLS() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        // No keep-alives and no inactivity close: the byte counts compared below are then exact however
        // long the test takes (CI's TSan run: a client keep-alive, 4 bytes, landed between the snapshots).
        let holding = try HoldingServer(group: group, configure: {
            useTestTLS(&$0, server: true)
            $0.connection.keepAliveInterval = nil
            $0.connection.inactivityTimeout = nil
        })
        defer { holding.service.stop() }
        let client = try startClient(group: group, secure: true) {
            $0.connection.keepAliveInterval = nil
            $0.connection.inactivityTimeout = nil
        }
        defer { client.stop() }
        for id in 1...2 {
            try client.request(Note(id: UInt64(id), text: "q"), to: holding.destination, expecting: Note.self) { _ in }
        }
        #expect(await waitUntil { holding.held.withLock { $0.count } == 2 })

        let clientView = await client.snapshot()
        #expect(clientView.listeningAddress == nil && clientView.acceptedConnections.isEmpty)
        let pool = try #require(clientView.pools.first)
        #expect(clientView.pools.count == 1)
        #expect(pool.destination == holding.destination && pool.messagesQueued == 0 && pool.retryingAfter == nil)
        let outgoing = try #require(pool.connections.first)
        #expect(pool.connections.count == 1)
        #expect(outgoing.side == .client && outgoing.phase == .active && !outgoing.isPassive && !outgoing.isGoingAway)
        #expect(outgoing.requestsInFlight == 2 && outgoing.messagesQueued == 0)
        #expect(outgoing.peerAddress?.port == holding.destination.port)
        #expect(outgoing.security?.protocolVersion.hasPrefix("TLSv1.") == true)
        #expect(outgoing.security?.peerVerified == true)
        #expect(outgoing.bytesSent > 0 && outgoing.bytesReceived > 0)

        let serverView = blockingSnapshot(of: holding.service)
        #expect(serverView.pools.isEmpty && serverView.listeningAddress?.port == holding.destination.port)
        let incoming = try #require(serverView.acceptedConnections.first)
        #expect(serverView.acceptedConnections.count == 1)
        #expect(incoming.side == .server && incoming.phase == .active && incoming.requestsInFlight == 2)
        #expect(incoming.bytesReceived == outgoing.bytesSent, "all the client wrote has arrived: both sides hold")
        #expect(serverView.description.contains("server") && clientView.description.contains("pool \(holding.destination)"))

        try holding.answerHeld()
        #expect(await waitUntil { holding.service.statistics.messagesSent == 2 })
        #expect(await waitUntilAsync { await client.snapshot().pools.first?.connections.first?.requestsInFlight == 0 })
    }

    @Test("a destination nobody listens on: the pool shows its queued message and why it is retrying, with no connection")
    func stuckPool() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let nowhere = try Destination(host: "127.0.0.1", port: try #require(freeLoopbackPort()))
        try client.send(Note(id: 1, text: "waits"), to: nowhere) { _ in }
        #expect(await waitUntilAsync { await client.snapshot().pools.first?.retryingAfter != nil })
        let pool = try #require(await client.snapshot().pools.first)
        #expect(pool.messagesQueued == 1 && pool.connections.isEmpty)
        if case .stream(.connectionRefused) = pool.retryingAfter {} else { Issue.record("retrying after \(String(describing: pool.retryingAfter))") }
    }
}

/// The blocking form of the snapshot, from a plain (non-reactor) thread.
func blockingSnapshot(of service: IPCService) -> ServiceSnapshot { service.snapshot() }

/// Checks an async `condition` until it holds, for at most `seconds`, suspending a millisecond between
/// checks (as `waitUntil` does, and why).
func waitUntilAsync(seconds: Double = 30, _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while await !condition() {
        if ContinuousClock.now > deadline { return false }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return true
}
