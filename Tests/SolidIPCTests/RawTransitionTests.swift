import SolidEngine
import SolidIPC
import SolidReactor
import Testing

/// Leaving the Raw state through a service: to Secure (the seed's "raw handshake → secureConnection →
/// authenticate → activate"), to Passive, to Active without a completion, as failed, and not at all.
@Suite("Raw state transitions", .serialized)
struct RawTransitionTests {
    @Test("raw handshake → secureConnection → authenticate → activate: the ClientHello that came with the raw bytes is TLS's first input; the queued requests go out over TLS only")
    func rawThenSecure() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let serverBox = Lock<IPCService?>(nil)
        let serverLog = EventLog()
        let (server, destination) = try startServer(group: group, secure: true, configure: { configuration in
            configuration.secureFromStart = false
            configuration.acceptedConnectionsStartRaw = true
            configuration.onConnectionSecure = { info in serverLog.add("server secured \(info.security?.protocolVersion ?? "-")") }
            configuration.onConnectionStop = { _, error in serverLog.add("server stop \(error)") }
            configuration.onConnectionRaw = { info in
                guard let server = serverBox.withLock({ $0 }) else { return }
                @Sendable func arm() {
                    try? server.rawReceive(on: info.handle) { bytes in
                        // Wait until "AUTH" and the start of the client's TLS hello are both here.
                        guard bytes.count > 4 else {
                            arm()
                            return 0
                        }
                        serverLog.add("server raw \(String(decoding: bytes[0..<4], as: UTF8.self))")
                        try? server.secureConnection(info.handle)
                        return 4
                    }
                }
                arm()
            }
        }) { server in
            try server.handle(Note.self) { note, context in
                serverLog.add("request \(note.id) secure \(context.security != nil)")
                try? context.respond(note)
            }
        }
        serverBox.withLock { $0 = server }
        defer { server.stop() }
        let clientBox = Lock<IPCService?>(nil)
        let clientLog = EventLog()
        let client = try startClient(group: group, secure: true) { configuration in
            configuration.secureFromStart = false
            configuration.connectionStartState = .raw
            configuration.onConnectionStop = { _, error in clientLog.add("client stop \(error)") }
            configuration.onConnectionRaw = { info in
                guard let client = clientBox.withLock({ $0 }) else { return }
                try? client.rawSend(Array("AUTH".utf8), on: info.handle)
                try? client.secureConnection(info.handle) { result in
                    clientLog.add((try? result.get()).map { "secured \($0.protocolVersion)" } ?? "failed \(result)")
                }
            }
            // The application's authentication would go here; then the pool's queue flows.
            configuration.onConnectionSecure = { info in try? clientBox.withLock { $0 }?.activateConnection(info.handle) }
        }
        clientBox.withLock { $0 = client }
        defer { client.stop() }
        let answers = EventLog()
        for id in 1...20 {
            try client.request(Note(id: UInt64(id), text: "n\(id)"), to: destination, expecting: Note.self) { result in
                answers.add((try? result.get()).map { "\($0.id)" } ?? "\(result)")
            }
        }
        #expect(answers.wait { $0.count == 20 }, "\(serverLog.all.prefix(4)) \(clientLog.all)")
        #expect(Set(answers.all) == Set((1...20).map { "\($0)" }))
        #expect(clientLog.all == ["secured TLSv1.3"])
        let entries = serverLog.all
        #expect(Array(entries.prefix(2)) == ["server raw AUTH", "server secured TLSv1.3"], "\(entries)")
        let requests = entries.filter { $0.hasPrefix("request") }
        #expect(requests.count == 20 && requests.allSatisfy { $0.hasSuffix("secure true") })
        #expect(!entries.contains { $0.contains("stop") })
        #expect(!answers.wait(seconds: 0.1) { $0.count > 20 }, "no duplicate")
    }

    @Test("Raw → Passive (startMessaging): the application handshake addressed to the connection goes first, the queued requests after activation")
    func rawThenPassive() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let serverLog = EventLog()
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { note, context in
                serverLog.add(note.text)
                try? context.respond(note)
            }
        }
        defer { server.stop() }
        let box = Lock<IPCService?>(nil)
        let clientLog = EventLog()
        let client = try startClient(group: group) { configuration in
            configuration.connectionStartState = .raw
            configuration.onConnectionRaw = { info in
                clientLog.add("raw")
                // The server's hello is already waiting in the raw buffer: it is read on the way out.
                try? box.withLock { $0 }?.startMessaging(on: info.handle)
            }
            configuration.onConnectionStart = { info in
                clientLog.add("start")
                guard let client = box.withLock({ $0 }) else { return }
                try? client.request(Note(id: 0, text: "login"), on: info.handle, expecting: Note.self) { result in
                    clientLog.add((try? result.get()).map { "logged in \($0.text)" } ?? "\(result)")
                    try? client.activateConnection(info.handle)
                }
            }
        }
        box.withLock { $0 = client }
        defer { client.stop() }
        let answers = EventLog()
        for id in 1...10 {
            try client.request(Note(id: UInt64(id), text: "q\(id)"), to: destination, expecting: Note.self) { result in
                answers.add((try? result.get()).map { "\($0.id)" } ?? "\(result)")
            }
        }
        #expect(answers.wait { $0.count == 10 })
        #expect(Set(answers.all) == Set((1...10).map { "\($0)" }))
        #expect(clientLog.all == ["raw", "start", "logged in login"])
        #expect(serverLog.all.first == "login" && serverLog.all.count == 11, "\(serverLog.all)")
    }

    @Test("activateConnection without a completion leaves Raw on both sides (an accepted connection too)")
    func activateWithoutCompletion() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let serverBox = Lock<IPCService?>(nil)
        let (server, destination) = try startMirrorServer(group: group, configure: { configuration in
            configuration.acceptedConnectionsStartRaw = true
            configuration.onConnectionRaw = { info in try? serverBox.withLock { $0 }?.activateConnection(info.handle) }
        })
        serverBox.withLock { $0 = server }
        defer { server.stop() }
        let clientBox = Lock<IPCService?>(nil)
        let client = try startClient(group: group) { configuration in
            configuration.connectionStartState = .raw
            configuration.onConnectionRaw = { info in try? clientBox.withLock { $0 }?.activateConnection(info.handle) }
        }
        clientBox.withLock { $0 = client }
        defer { client.stop() }
        #expect(echoOnce(client, destination) == ["hi"])
    }

    @Test("rawFail: the owner's reason reaches a one-shot sender as connectFailed(rawExchangeFailed); the pool backs off")
    func rawFailReason() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startMirrorServer(group: group)
        defer { server.stop() }
        let box = Lock<IPCService?>(nil)
        let outcomes = EventLog()
        let client = try startClient(group: group) { configuration in
            configuration.connectionStartState = .raw
            configuration.reconnectDelay = .seconds(60)
            configuration.maxReconnectDelay = .seconds(60)
            configuration.onConnectionRaw = { info in
                try? box.withLock { $0 }?.rawFail(on: info.handle, reason: "custom authentication refused") {
                    outcomes.add("fail \($0)")
                }
            }
        }
        box.withLock { $0 = client }
        defer { client.stop() }
        let waiting = EventLog()
        try client.request(Note(id: 2, text: "waits"), to: destination, expecting: Note.self) { result in
            waiting.add("\(result)")
        }
        let answer = EventLog()
        try client.request(Note(id: 1, text: "x"), to: destination, options: [.oneShot], expecting: Note.self) { result in
            answer.add("\(result)")
        }
        #expect(answer.wait { !$0.isEmpty })
        let reason = ConnectionError.rawExchangeFailed("custom authentication refused")
        #expect(answer.all == ["\(Result<Note, SendError>.failure(.connectFailed(destination, reason)))"])
        #expect(outcomes.all == ["fail success()"])
        // A failed attempt: the next waits for the back-off (60 s), no reconnect loop meanwhile.
        #expect(!waitUntil(seconds: 0.3) { server.statistics.connectionsAccepted > 1 })
        #expect(client.statistics.connectionsOpened == 0 && waiting.all.isEmpty)
        client.stop()
        #expect(waiting.wait { !$0.isEmpty })
        #expect(waiting.all == ["\(Result<Note, SendError>.failure(.serviceStopped))"])
    }

    @Test("secureConnection from Raw on a service without TLS closes with notConfigured; with TLS from the start it closes with invalidState")
    func invalidSecureFromRaw() throws {
        for secure in [false, true] {
            let group = try ReactorGroup(threads: 2)
            defer { group.shutdown() }
            let (server, destination) = try startMirrorServer(group: group, secure: secure)
            defer { server.stop() }
            let box = Lock<IPCService?>(nil)
            let stops = EventLog()
            let secured = EventLog()
            let client = try startClient(group: group, secure: secure) { configuration in
                configuration.connectionStartState = .raw
                configuration.onConnectionStop = { _, error in stops.add("\(error)") }
                configuration.onConnectionRaw = { info in
                    try? box.withLock { $0 }?.secureConnection(info.handle) { secured.add("\($0)") }
                }
            }
            box.withLock { $0 = client }
            defer { client.stop() }
            try client.send(Note(id: 1, text: "x"), to: destination, options: [.oneShot])
            #expect(stops.wait { !$0.isEmpty })
            let expected: ConnectionError = secure
                ? .stream(.tls(.invalidState("the Raw phase runs inside TLS already (TLS from the start)")))
                : .stream(.tls(.notConfigured))
            #expect(stops.all.first == "\(expected)")
            #expect(secured.wait { !$0.isEmpty })
            #expect(secured.all == ["\(Result<SecurityInfo, SendError>.failure(.connectionClosed(expected, progress: .notSent)))"])
        }
    }

    @Test("connections that stay Raw are closed at rawPhaseTimeout (10 s by default, manual clock), not before")
    func rawPhaseTimeout() throws {
        let clock = ManualClock()
        let group = try ReactorGroup(threads: 2, clock: clock)
        defer { group.shutdown() }
        let stops = EventLog()
        let (server, destination) = try startMirrorServer(group: group, configure: { configuration in
            configuration.acceptedConnectionsStartRaw = true  // and nobody reads them
            configuration.onConnectionStop = { _, error in stops.add("\(error)") }
        })
        defer { server.stop() }
        let silent = HostilePeers(5, connectingTo: destination.port, group: group, reading: true)
        defer { silent.close() }
        #expect(waitUntil { server.statistics.connectionsAccepted == 5 })
        clock.advance(by: .seconds(9))
        _ = pendingTimers(group)
        #expect(stops.all.isEmpty)
        clock.advance(by: .seconds(2))
        _ = pendingTimers(group)
        #expect(stops.wait { $0.count == 5 })
        #expect(Set(stops.all) == ["\(ConnectionError.rawPhaseTimedOut)"])
    }
}
