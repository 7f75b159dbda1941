import Glibc
import Dispatch
import SolidEngine
import SolidIPC
import SolidReactor
import Testing

/// Passive and active connections, handles per connection, requests addressed to one connection, and
/// idle pools being freed.
@Suite("Connection states and handles", .serialized)
struct ConnectionStateTests {
    @Test("passive: an application handshake on the connection goes first; queued messages wait for activation")
    func passiveThenActive() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let serverLog = EventLog()
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { note, context in
                serverLog.add(note.text)
                if context.isRequest { try? context.respond(Note(id: note.id, text: "ok:" + note.text)) }
            }
        }
        defer { server.stop() }
        let log = EventLog()
        let clientBox = Lock<IPCService?>(nil)
        let client = try startClient(group: group) { configuration in
            configuration.connectionStartState = .passive
            configuration.onConnectionStart = { info in
                guard let client = clientBox.withLock({ $0 }) else { return }
                // The "login": addressed to this connection, so it goes although the connection is passive.
                try? client.request(Note(id: 0, text: "login"), on: info.handle, expecting: Note.self) { result in
                    log.add("login: \((try? result.get().text) ?? "\(result)")")
                    try? client.activateConnection(info.handle) { log.add("activate: \($0)") }
                    try? client.activateConnection(info.handle) { log.add("again: \($0)") }
                }
            }
        }
        clientBox.withLock { $0 = client }
        defer { client.stop() }
        for id in 1...3 as ClosedRange<UInt64> {
            try client.request(Note(id: id, text: "m\(id)"), to: destination, expecting: Note.self) { result in
                log.add("m\(id): \((try? result.get().text) ?? "\(result)")")
            }
        }
        #expect(log.wait { $0.count == 6 })
        #expect(Array(log.all.prefix(3)) == ["login: ok:login", "activate: success()", "again: failure(the connection is already active)"])
        #expect(Set(log.all.dropFirst(3)) == ["m1: ok:m1", "m2: ok:m2", "m3: ok:m3"])
        #expect(serverLog.all == ["login", "m1", "m2", "m3"], "the queued messages went out only after the login")
    }

    @Test("an accepted connection is always active: activating it reports alreadyActive")
    func acceptedIsActive() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let log = EventLog()
        let serverBox = Lock<IPCService?>(nil)
        let (server, destination) = try startServer(group: group, configure: { configuration in
            configuration.onConnectionStart = { info in
                try? serverBox.withLock { $0 }?.activateConnection(info.handle) { log.add("\($0)") }
            }
        }) { _ in }
        serverBox.withLock { $0 = server }
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        try client.send(Note(id: 1, text: "hi"), to: destination)
        #expect(log.wait { !$0.isEmpty })
        #expect(log.all == ["failure(the connection is already active)"])
    }

    @Test("each connection of a pool has its own handle: closing one leaves the other serving")
    func handlePerConnection() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startEchoService(group: group)
        defer { server.stop() }
        let handles = Lock<[ObjectHandle]>([])
        let stops = EventLog()
        let client = try startClient(group: group) { configuration in
            configuration.maxConnectionsPerPool = 2
            configuration.onConnectionStart = { info in handles.withLock { $0.append(info.handle) } }
            configuration.onConnectionStop = { info, error in stops.add("\(info.handle) \(error)") }
        }
        defer { client.stop() }
        // Enough requests at once that the pool scales to its two connections.
        let answered = EventLog()
        for id in 0..<UInt64(200) {
            try client.request(Note(id: id, text: "x"), to: destination, expecting: Note.self) { result in
                answered.add(result.isSuccess ? "ok" : "\(result)")
            }
        }
        #expect(answered.wait { $0.count == 200 })
        #expect(Set(answered.all) == ["ok"])
        // The second connection's start is not ordered before the answers: wait for it.
        #expect(waitUntil { handles.withLock { $0.count } == 2 })
        let opened = handles.withLock { $0 }
        #expect(opened.count == 2 && opened[0] != opened[1])
        try client.closeConnection(opened[0])
        #expect(stops.wait { !$0.isEmpty })
        #expect(stops.all == ["\(opened[0]) \(ConnectionError.closedLocally)"])
        // The other connection still serves, and the closed one's handle now names nothing.
        let after = EventLog()
        try client.request(Note(id: 999, text: "after"), to: destination, expecting: Note.self) { result in
            after.add((try? result.get().text) ?? "\(result)")
        }
        #expect(after.wait { !$0.isEmpty })
        #expect(after.all == ["retfa"])
        #expect(throws: SendError.peerGone) { try client.closeConnection(opened[0]) }
        #expect(stops.all.count == 1)
    }

    @Test("the server sends a request on an accepted connection; the client's handler answers it")
    func serverToClientRequest() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let log = EventLog()
        let serverBox = Lock<IPCService?>(nil)
        let (server, destination) = try startServer(group: group, configure: { configuration in
            configuration.onConnectionStart = { info in
                let server = serverBox.withLock { $0 }
                try? server?.request(Note(id: 7, text: "who are you"), on: info.handle, expecting: Note.self) {
                    log.add("server got: \((try? $0.get().text) ?? "\($0)")")
                }
            }
        }) { _ in }
        serverBox.withLock { $0 = server }
        defer { server.stop() }
        var configuration = ServiceConfiguration(registry: try noteRegistry())
        configuration.connectionStartState = .active
        let client = try IPCService(configuration: configuration, group: group)
        try client.handle(Note.self) { note, context in
            #expect(context.isRequest)
            try? context.respond(Note(id: note.id, text: "client \(note.id)"))
        }
        try client.start()
        defer { client.stop() }
        try client.send(Note(id: 1, text: "hello"), to: destination)
        #expect(log.wait { !$0.isEmpty })
        #expect(log.all == ["server got: client 7"])
    }

    @Test("a pool with no connection and nothing to do is freed; the next send opens a fresh one")
    func idlePoolFreed() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startEchoService(group: group)
        defer { server.stop() }
        let handles = Lock<[ObjectHandle]>([])
        let client = try startClient(group: group) { configuration in
            configuration.onConnectionStart = { info in handles.withLock { $0.append(info.handle) } }
        }
        defer { client.stop() }
        for round in 1...3 {
            let log = EventLog()
            try client.request(Note(id: 1, text: "r\(round)"), to: destination, expecting: Note.self) { result in
                log.add((try? result.get().text) ?? "\(result)")
            }
            #expect(log.wait { !$0.isEmpty })
            #expect(log.all == ["\(round)r"])
            #expect(client.statistics.pools == 1)
            try client.closeConnection(handles.withLock { $0.last! })
            #expect(waitUntil { client.statistics.pools == 0 }, "round \(round): the idle pool is freed")
        }
        #expect(client.statistics.connectionsOpened == 3)
    }
}

/// Pools freed while other threads send to the same destination.
@Suite("Idle pools under concurrent sends", .serialized)
struct IdlePoolRaceTests {
    @Test("four threads send while the pool keeps being freed: every request is answered exactly once")
    func retireRacesWithSenders() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startEchoService(group: group)
        defer { server.stop() }
        let clientBox = Lock<IPCService?>(nil)
        let client = try startClient(group: group) { configuration in
            // Every connection closes right after its handshake's first answer, so the pool goes idle and is
            // freed over and over while the other threads keep sending.
            configuration.onConnectionStart = { info in
                clientBox.withLock { $0 }.map { client in
                    try? client.closeConnection(info.handle, mode: .graceful)
                }
            }
        }
        clientBox.withLock { $0 = client }
        defer { client.stop() }
        let answered = Lock<[UInt64: Int]>([:])
        let failures = EventLog()
        let perThread = 150
        let finished = EventLog()
        for thread in 0..<4 {
            DispatchQueue.global().async {
                for index in 0..<perThread {
                    let id = UInt64(thread * perThread + index)
                    let done = EventLog()
                    do {
                        try client.request(Note(id: id, text: "r"), to: destination, expecting: Note.self) { result in
                            if case .success(let note) = result, note.id == id {
                                answered.withLock { $0[id, default: 0] += 1 }
                            } else {
                                failures.add("\(id): \(result)")
                            }
                            done.add("x")
                        }
                    } catch {
                        failures.add("\(id): threw \(error)")
                        done.add("x")
                    }
                    _ = done.wait { !$0.isEmpty }
                }
                finished.add("thread \(thread)")
            }
        }
        #expect(finished.wait(seconds: 120) { $0.count == 4 })
        #expect(failures.all.isEmpty, "\(failures.all.prefix(5))")
        let counts = answered.withLock { $0 }
        #expect(counts.count == 4 * perThread && counts.values.allSatisfy { $0 == 1 })
        #expect(client.statistics.connectionsOpened > 10, "connections really came and went")
    }
}
