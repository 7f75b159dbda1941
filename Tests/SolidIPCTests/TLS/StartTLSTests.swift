import Glibc
import SolidEngine
import SolidIPC
import SolidIPCTLS
import Testing

@Suite("STARTTLS (secure a plain connection later)", .serialized)
struct StartTLSTests {
    let fixture = TLSFixture.shared

    @Test("plain hello → secureConnection → authenticate → activate: queued messages go out over TLS only")
    func helloSecureActivate() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let serverLog = EventLog()
        let (server, destination) = try startServer(group: group, secure: true, configure: { configuration in
            configuration.secureFromStart = false
            configuration.onConnectionSecure = { info in serverLog.add("server secured \(info.security?.protocolVersion ?? "-")") }
        }) { server in
            try server.handle(Note.self) { note, context in
                serverLog.add("request \(note.id) secure \(context.security != nil)")
                try? context.respond(Note(id: note.id, text: String(note.text.reversed())))
            }
        }
        defer { server.stop() }
        let clientLog = EventLog()
        let box = Lock<IPCService?>(nil)
        let client = try startClient(group: group, secure: true) { configuration in
            configuration.secureFromStart = false
            configuration.connectionStartState = .passive
            configuration.onConnectionStart = { info in
                clientLog.add("start secure \(info.security != nil)")
                try? box.withLock { $0 }?.secureConnection(info.handle) { result in
                    clientLog.add((try? result.get()).map { "secured \($0.protocolVersion) peer \($0.peerCommonName ?? "-")" } ?? "failed \(result)")
                }
            }
            configuration.onConnectionSecure = { info in
                // The application's authentication step would go here; then the pool's queue flows.
                try? box.withLock { $0 }?.activateConnection(info.handle)
            }
        }
        box.withLock { $0 = client }
        defer { client.stop() }
        let answers = EventLog()
        for id in 0..<UInt64(20) {
            try client.request(Note(id: id, text: "note \(id)"), to: destination, expecting: Note.self) { result in
                answers.add((try? result.get()).map { $0.text == String("note \(id)".reversed()) ? "ok" : "bad" } ?? "error \(result)")
            }
        }
        #expect(answers.wait { $0.count == 20 })
        #expect(answers.all == Array(repeating: "ok", count: 20))
        #expect(clientLog.all == ["start secure false", "secured TLSv1.3 peer echo-server"])
        let requests = serverLog.all.filter { $0.hasPrefix("request") }
        #expect(requests.count == 20 && requests.allSatisfy { $0.hasSuffix("secure true") }, "\(requests)")
        #expect(serverLog.all.first == "server secured TLSv1.3")
        usleep(100_000)
        #expect(answers.all.count == 20, "no duplicate")
    }

    @Test("the server secures an active connection in the middle of 200 requests: every one answered once, intact")
    func secureMidStream() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let box = Lock<IPCService?>(nil)
        let secured = EventLog()
        let (server, destination) = try startServer(group: group, secure: true, configure: { configuration in
            configuration.secureFromStart = false
        }) { server in
            try server.handle(Note.self) { note, context in
                if note.id == 50 {
                    try? box.withLock { $0 }?.secureConnection(context.connection) { result in
                        secured.add((try? result.get()).map { "server secured \($0.protocolVersion)" } ?? "failed \(result)")
                    }
                }
                try? context.respond(Note(id: note.id, text: String(note.text.reversed())))
            }
        }
        box.withLock { $0 = server }
        defer { server.stop() }
        let client = try startClient(group: group, secure: true) { configuration in
            configuration.secureFromStart = false
            configuration.onConnectionSecure = { info in secured.add("client secured \(info.security?.peerCommonName ?? "-")") }
        }
        defer { client.stop() }
        let answers = Lock<[UInt64: Int]>([:])
        let failures = EventLog()
        for id in 0..<UInt64(200) {
            let text = String(repeating: "s\(id)", count: Int(id % 37) * 200)
            try client.request(Note(id: id, text: text), to: destination, expecting: Note.self) { result in
                if let note = try? result.get(), note.text == String(text.reversed()) {
                    answers.withLock { $0[id, default: 0] += 1 }
                } else {
                    failures.add("\(id): \(result)")
                }
            }
        }
        #expect(waitUntil { answers.withLock { $0.count } + failures.all.count == 200 })
        #expect(failures.all.isEmpty, "\(failures.all)")
        #expect(answers.withLock { $0.values.allSatisfy { $0 == 1 } && $0.count == 200 })
        #expect(secured.wait { $0.count == 2 })
        #expect(Set(secured.all) == ["server secured TLSv1.3", "client secured echo-server"])
        #expect(client.statistics.connectionsOpened == 1, "the same connection throughout")
    }

    @Test("secureConnection on a service without TLS closes the connection with notConfigured (the seed's rule)")
    func notConfigured() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startEchoService(group: group)
        defer { server.stop() }
        let stops = EventLog()
        let started = Lock<ObjectHandle?>(nil)
        let client = try startClient(group: group) { configuration in
            configuration.onConnectionStart = { info in started.withLock { $0 = info.handle } }
            configuration.onConnectionStop = { _, error in stops.add("\(error)") }
        }
        defer { client.stop() }
        #expect(echoOnce(client, destination) == ["ih"])
        let outcome = EventLog()
        try client.secureConnection(started.withLock { $0 }!) { result in outcome.add("\(result)") }
        #expect(outcome.wait { !$0.isEmpty })
        #expect(outcome.all == ["\(Result<SecurityInfo, SendError>.failure(.connectionClosed(.stream(.tls(.notConfigured)), progress: .notSent)))"])
        #expect(stops.wait { !$0.isEmpty })
        #expect(stops.all == ["stream: TLS is not configured"])
    }

    @Test("a peer without TLS settings answers start-secure by closing with notConfigured; the requester fails")
    func peerNotConfigured() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let serverStops = EventLog()
        let (server, destination) = try startMirrorServer(group: group, configure: { configuration in
            configuration.onConnectionStop = { _, error in serverStops.add("\(error)") }
        })
        defer { server.stop() }
        let started = Lock<ObjectHandle?>(nil)
        let client = try startClient(group: group, secure: true) { configuration in
            configuration.secureFromStart = false
            configuration.onConnectionStart = { info in started.withLock { $0 = info.handle } }
        }
        defer { client.stop() }
        #expect(echoOnce(client, destination) == ["hi"])
        let outcome = EventLog()
        try client.secureConnection(started.withLock { $0 }!) { result in
            if case .failure(.connectionClosed(let cause, _)) = result { outcome.add("\(cause)") } else { outcome.add("other \(result)") }
        }
        #expect(serverStops.wait { !$0.isEmpty })
        #expect(serverStops.all == ["stream: TLS is not configured"])
        #expect(outcome.wait { !$0.isEmpty })
        #expect(outcome.all.first?.hasPrefix("closed by peer") == true || outcome.all.first?.hasPrefix("stream:") == true, "\(outcome.all)")
    }
}

/// One request "hi" and what came back.
func echoOnce(_ client: IPCService, _ destination: Destination) -> [String] {
    let answered = EventLog()
    do {
        try client.request(Note(id: 1, text: "hi"), to: destination, expecting: Note.self) { result in
            answered.add((try? result.get().text) ?? "error")
        }
    } catch {
        return ["send failed \(error)"]
    }
    _ = answered.wait { !$0.isEmpty }
    return answered.all
}
