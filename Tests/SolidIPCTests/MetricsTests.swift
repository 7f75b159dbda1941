import MetricsTestKit
import SolidEngine
import SolidIPC
import SolidIPCMetrics
import SolidReactor
import Testing

/// `IPCMetrics` after a known traffic pattern: exact counts on both sides.
@Suite("swift-metrics instrumentation", .serialized)
struct MetricsTests {
    struct Refused: Error, CustomStringConvertible { var description: String { "odd" } }

    @Test("5 answered requests, 1 refused, 3 plain messages, then the client stops: every counter, byte count and gauge exact on both sides")
    func knownTraffic() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let serverMetrics = TestMetrics()
        let clientMetrics = TestMetrics()
        let (server, destination) = try startServer(group: group, configure: {
            $0.instrumentation = IPCMetrics(factory: serverMetrics)
        }) { server in
            try server.handleRequests(Note.self) { note, _ in
                if note.id == 99 { throw Refused() }
                return Note(id: note.id, text: "re")
            }
        }
        defer { server.stop() }
        var configuration = ServiceConfiguration(registry: try noteRegistry())
        configuration.instrumentation = IPCMetrics(factory: clientMetrics)
        let client = try IPCService(configuration: configuration, group: group)
        try await client.start()
        for id in 1...5 { _ = try await client.request(Note(id: UInt64(id), text: "q"), to: destination, expecting: Note.self) }
        await #expect(throws: SendError.rejected(PeerRejection(code: .handlerFailed, reason: "odd"))) {
            _ = try await client.request(Note(id: 99, text: "q"), to: destination, expecting: Note.self)
        }
        for id in 1...3 { try await client.send(Note(id: UInt64(id), text: "m"), to: destination) }
        #expect(await waitUntil { serverMetrics.counterTotal(label: "solidipc.messages.received") == 9 })
        await client.stop()
        #expect(await waitUntil { serverMetrics.counterTotal(label: "solidipc.connections.closed") == 1 })

        let sent = "solidipc.messages.sent"
        #expect(clientMetrics.counterTotal(label: "solidipc.connections.opened", dimensions: [("side", "client")]) == 1)
        #expect(clientMetrics.counterTotal(label: sent, dimensions: [("type", "Note"), ("kind", "request"), ("outcome", "ok")]) == 5)
        #expect(clientMetrics.counterTotal(label: sent, dimensions: [("kind", "request"), ("outcome", "rejected")]) == 1)
        #expect(clientMetrics.counterTotal(label: sent, dimensions: [("kind", "message"), ("outcome", "ok")]) == 3)
        #expect(clientMetrics.counterTotal(label: sent) == 9)
        #expect(clientMetrics.counterTotal(label: "solidipc.messages.received", dimensions: [("type", "Note")]) == 5)
        #expect(try clientMetrics.expectTimer("solidipc.request.duration", [("type", "Note")]).values.count == 5)
        #expect(clientMetrics.counterTotal(label: "solidipc.connections.closed", dimensions: [("side", "client"), ("reason", "closedLocally")]) == 1)
        #expect(try clientMetrics.expectMeter("solidipc.connections.open", [("side", "client")]).lastValue == 0)
        #expect(clientMetrics.counterTotal(label: "solidipc.connect.failures") == 0)

        #expect(serverMetrics.counterTotal(label: "solidipc.connections.opened", dimensions: [("side", "server")]) == 1)
        #expect(serverMetrics.counterTotal(label: "solidipc.messages.received", dimensions: [("type", "Note")]) == 9)
        #expect(serverMetrics.counterTotal(label: "solidipc.connections.closed", dimensions: [("side", "server"), ("reason", "closedByPeer")]) == 1)
        #expect(serverMetrics.counterTotal(label: sent) == 0, "responses are not sends to a destination")
        #expect(serverMetrics.counterTotal(label: "solidipc.tls.handshakes") == 0)

        // Bytes and writes per type: what one side wrote is what the other received, message for message.
        let written = "solidipc.messages.written", received = "solidipc.messages.received"
        #expect(clientMetrics.counterTotal(label: written, dimensions: [("type", "Note")]) == 9)
        #expect(serverMetrics.counterTotal(label: written, dimensions: [("type", "Note")]) == 5, "the five responses")
        let clientWroteBytes = clientMetrics.counterTotal(label: written + ".bytes", dimensions: [("type", "Note")])
        #expect(clientWroteBytes > 9)
        #expect(serverMetrics.counterTotal(label: received + ".bytes", dimensions: [("type", "Note")]) == clientWroteBytes)
        #expect(clientMetrics.counterTotal(label: received + ".bytes", dimensions: [("type", "Note")])
            == serverMetrics.counterTotal(label: written + ".bytes", dimensions: [("type", "Note")]))
        // Errors by kind: the refused request; the client's orderly close is no error on either side.
        #expect(clientMetrics.counterTotal(label: "solidipc.errors") == 1)
        #expect(clientMetrics.counterTotal(label: "solidipc.errors", dimensions: [("source", "send"), ("kind", "rejected")]) == 1)
        #expect(serverMetrics.counterTotal(label: "solidipc.errors") == 0)
        // Gauges: one pool while it ran, none after the stop; nothing left queued.
        let pools = try clientMetrics.expectMeter("solidipc.pools")
        #expect(pools.values.max() == 1)
        #expect(pools.lastValue == 0)
        let depth = try clientMetrics.expectMeter("solidipc.queue.depth")
        #expect(depth.values.max() ?? 0 >= 1)
        #expect(depth.lastValue == 0)
        #expect(try serverMetrics.expectMeter("solidipc.pools").values.isEmpty, "a server without sends has no pool")
    }

    @Test("a destination nobody listens on: one-shot sends fail connectFailed and each attempt counts as a connect failure; over TLS each handshake counts")
    func failuresAndHandshakes() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let metrics = TestMetrics()
        let client = try startClient(group: group) { $0.instrumentation = IPCMetrics(factory: metrics) }
        defer { client.stop() }
        let port = try #require(freeLoopbackPort())
        let nowhere = try Destination(host: "127.0.0.1", port: port)
        await #expect(throws: SendError.self) { try await client.send(Note(), to: nowhere, options: .oneShot) }
        #expect(metrics.counterTotal(label: "solidipc.messages.sent", dimensions: [("outcome", "connectFailed")]) == 1)
        #expect(metrics.counterTotal(label: "solidipc.connect.failures", dimensions: [("reason", "stream")]) == 1)

        let serverMetrics = TestMetrics()
        let (server, destination) = try startServer(group: group, secure: true, configure: {
            $0.instrumentation = IPCMetrics(factory: serverMetrics)
        }) { server in try server.handleRequests(Note.self) { note, _ in note } }
        defer { server.stop() }
        let tlsMetrics = TestMetrics()
        let secure = try startClient(group: group, secure: true) { $0.instrumentation = IPCMetrics(factory: tlsMetrics) }
        defer { secure.stop() }
        _ = try await secure.request(Note(id: 1, text: "tls"), to: destination, expecting: Note.self)
        #expect(tlsMetrics.counterTotal(label: "solidipc.tls.handshakes", dimensions: [("side", "client")]) == 1)
        #expect(await waitUntil { serverMetrics.counterTotal(label: "solidipc.tls.handshakes", dimensions: [("side", "server")]) == 1 })
    }
}
