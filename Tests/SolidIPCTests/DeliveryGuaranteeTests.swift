import SolidEngine
import SolidIPC
import SolidReactor
import Testing

/// The seed's delivery rules under connection failures: synchronous order, idempotent resends across a
/// server restart, one-shot failures, and every message completing exactly once.
@Suite("Delivery guarantees", .serialized)
struct DeliveryGuaranteeTests {
    @Test("synchronous messages keep their order across a reconnect, in a two-connection pool")
    func synchronousAcrossReconnect() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let received = EventLog()
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Blob.self) { blob, context in
                received.add(blob.isIntact ? "\(blob.id)" : "damaged \(blob.id)")
                // The server drops the connection that carries message 30, once.
                if blob.id == 30 { try? server.closeConnection(context.connection) }
            }
            try server.handle(Note.self) { note, context in
                try? context.respond(note)
            }
        }
        defer { server.stop() }
        let client = try startClient(group: group) { configuration in
            configuration.maxConnectionsPerPool = 2
            configuration.reconnectDelay = .milliseconds(1)
        }
        defer { client.stop() }
        let outcomes = Lock<[UInt64: [Result<Void, SendError>]]>([:])
        let done = EventLog()
        var generator = SplitMix(seed: 7)
        for id in 0..<UInt64(100) {
            // 20 MB in all: more than the socket buffers hold, so the last ones cannot have been written to
            // the first connection before the server drops it.
            try client.send(Blob(id: id, size: 100_000 + Int(generator.next() % 200_000)), to: destination, options: .synchronous) {
                result in
                outcomes.withLock { $0[id, default: []].append(result) }
                done.add("blob")
            }
            // Asynchronous traffic beside them makes the pool open its second connection.
            try client.request(Note(id: id, text: "async"), to: destination, expecting: Note.self) { _ in
                done.add("note")
            }
        }
        #expect(done.wait { $0.count == 200 })
        // "Written" means handed to the socket: wait until the server has handled the last one too.
        #expect(received.wait { $0.contains("99") }, "the last message reaches the server")
        let ids = received.all.compactMap { UInt64($0) }
        #expect(ids.count == received.all.count, "no damaged payload: \(received.all.filter { UInt64($0) == nil })")
        #expect(ids == ids.sorted() && Set(ids).count == ids.count, "received in send order, once each: \(ids)")
        #expect(ids.contains(30) && ids.last == 99, "the last ones went out on the new connection")
        let all = outcomes.withLock { $0 }
        #expect(all.count == 100 && all.values.allSatisfy { $0.count == 1 }, "each completed exactly once")
        for id in ids { #expect(all[id]?.first?.isSuccess == true, "message \(id) arrived, so it succeeded") }
        let failed = all.filter { !($0.value.first?.isSuccess ?? false) }
        #expect(failed.count <= 1, "at most the one being written when the connection died fails: \(failed)")
        #expect(client.statistics.connectionsClosed >= 1)
    }

    @Test("clientServerIdempotent: server stopped mid-transfer and restarted; idempotent and waiting ones are answered (plain, TLS)",
          arguments: [false, true])
    func idempotentAcrossRestart(secure: Bool) throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let serverBox = Lock<IPCService?>(nil)
        let echo: (IPCService) throws -> Void = { server in
            try server.handle(Blob.self) { blob, context in
                try? context.respond(Blob(id: blob.id, size: blob.isIntact ? 16 : 0))
            }
        }
        // The first server stops reading at once, so every message is stuck part-way when it stops.
        // 16 KiB packets, as in SolidFrame's test: 100 KB written then means a few chunks of every message.
        let (first, destination) = try startServer(group: group, secure: secure, configure: { configuration in
            configuration.connection.hello.packetSize = 16384
            configuration.onConnectionStart = { info in try? serverBox.withLock { $0 }?.pauseReading(info.handle) }
        }, handlers: echo)
        serverBox.withLock { $0 = first }
        // The client's connections start passive: the first is activated only once all five messages are
        // queued, so they start together (round robin) instead of the first filling the socket alone.
        let activateAtOnce = Lock(false)
        let firstConnection = Lock<ObjectHandle?>(nil)
        let clientBox = Lock<IPCService?>(nil)
        let client = try startClient(group: group, secure: secure) { configuration in
            configuration.reconnectDelay = .milliseconds(5)
            configuration.connection.hello.packetSize = 16384
            configuration.connectionStartState = .passive
            configuration.onConnectionStart = { info in
                if activateAtOnce.withLock({ $0 }) {
                    try? clientBox.withLock { $0 }?.activateConnection(info.handle)
                } else {
                    firstConnection.withLock { $0 = info.handle }
                }
            }
        }
        clientBox.withLock { $0 = client }
        defer { client.stop() }
        let megabyte = 1 << 20
        // SolidFrame's table, sizes halved: (flags, size).
        let table: [(SendOptions, Int)] = [
            ([.oneShot], 9 * megabyte), ([.idempotent], 8 * megabyte), ([.oneShot], 24 * megabyte),
            ([.idempotent, .synchronous], 8 * megabyte), ([.synchronous], 4 * megabyte),
        ]
        let blobs = table.enumerated().map { Blob(id: UInt64($0.offset), size: $0.element.1) }
        let results = Lock<[Int: [String]]>([:])
        let done = EventLog()
        for (index, (flags, _)) in table.enumerated() {
            try client.request(blobs[index], to: destination, options: flags, expecting: Blob.self) {
                result in
                let text: String
                switch result {
                case .success(let blob): text = blob.id == UInt64(index) && blob.data.count == 16 ? "answered" : "bad"
                case .failure(let error): text = "failed \(error.progress)"
                }
                results.withLock { $0[index, default: []].append(text) }
                done.add(text)
            }
        }
        #expect(waitUntil { firstConnection.withLock { $0 } != nil })
        activateAtOnce.withLock { $0 = true }
        try client.activateConnection(firstConnection.withLock { $0 }!)
        // Wait until the messages are under way (100 KB handed to the socket: a few packets of each, round
        // robin), then stop the server.
        #expect(waitUntil { client.statistics.bytesSent > 100_000 })
        first.stop()
        #expect(done.wait(seconds: 10) { $0.count == 2 }, "the two partly sent one-shot messages fail at once: \(results.withLock { $0 })")
        let port = destination.port
        let (second, _) = try startServer(
            group: group, secure: secure, configure: { $0.listenAddress = .loopbackV4(port: port) }, handlers: echo)
        defer { second.stop() }
        #expect(done.wait { $0.count == 5 })
        let final = results.withLock { $0 }
        #expect(final.values.allSatisfy { $0.count == 1 }, "exactly once each: \(final)")
        #expect(final[0] == ["failed partlySent"] && final[2] == ["failed partlySent"], "\(final)")
        #expect(final[1] == ["answered"] && final[3] == ["answered"] && final[4] == ["answered"])
    }

    @Test("a message above maxBodyBytes fails at once with messageTooLarge (not sent); the connection goes on")
    func messageTooLarge() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Blob.self) { blob, context in try? context.respond(blob) }
        }
        defer { server.stop() }
        let client = try startClient(group: group) { $0.connection.maxBodyBytes = 1 << 20 }
        defer { client.stop() }
        let log = EventLog()
        try client.request(Blob(id: 1, size: 2 << 20), to: destination, expecting: Blob.self) { result in
            if case .failure(.encodingFailed(.messageTooLarge(_, let limit), let progress)) = result {
                log.add("too large \(limit) \(progress)")
            } else {
                log.add("\(result)")
            }
        }
        try client.request(Blob(id: 2, size: 1000), to: destination, expecting: Blob.self) { result in
            log.add((try? result.get().isIntact) == true ? "small ok" : "\(result)")
        }
        #expect(log.wait { $0.count == 2 })
        #expect(Set(log.all) == ["too large 1048576 notSent", "small ok"])
    }

    @Test("clientServerStop: the server drops the connection every 30th message; 150 idempotent requests all answered")
    func idempotentThroughDrops() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let count = Lock(0)
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Blob.self) { blob, context in
                let nth = count.withLock { value -> Int in
                    value += 1
                    return value
                }
                if nth % 30 == 0 {
                    try? server.closeConnection(context.connection)  // unanswered: the client must ask again
                } else {
                    try? context.respond(blob)
                }
            }
        }
        defer { server.stop() }
        let stops = EventLog()
        let client = try startClient(group: group) { configuration in
            configuration.reconnectDelay = .milliseconds(1)
            configuration.onConnectionStop = { _, error in stops.add("\(error)") }
        }
        defer { client.stop() }
        let answers = Lock<[UInt64: Int]>([:])
        let done = EventLog()
        for id in 0..<UInt64(150) {
            let sent = Blob(id: id, size: 1000 + Int(id) * 97)
            try client.request(sent, to: destination, options: .idempotent, expecting: Blob.self) { result in
                if case .success(let blob) = result, blob == sent {
                    answers.withLock { $0[id, default: 0] += 1 }
                    done.add("ok")
                } else {
                    done.add("\(result)")
                }
            }
        }
        #expect(done.wait { $0.count == 150 })
        #expect(Set(done.all) == ["ok"])
        #expect(answers.withLock { $0.count == 150 && $0.values.allSatisfy { $0 == 1 } })
        // The server closes with requests unread, so the client sees a reset (or a broken pipe) as often as
        // an orderly close: all three say the peer ended it.
        let peerEnded: Set<String> = [
            "\(ConnectionError.closedByPeer)", "\(ConnectionError.stream(.connectionReset))",
            "\(ConnectionError.stream(.brokenPipe))",
        ]
        #expect(stops.all.count >= 5 && Set(stops.all).isSubset(of: peerEnded), "\(stops.all)")
    }
}

/// A small seeded generator so randomized tests replay exactly.
struct SplitMix: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}
