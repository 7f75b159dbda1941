import SolidEngine
import SolidIPC
import SolidReactor
import Testing

/// The seed's Raw state (test_raw_basic).
@Suite("Raw state", .serialized)
struct RawStateTests {
    /// Reads raw bytes on `connection` until `count` arrived, then calls `done` with them (re-arming the
    /// one-shot raw read as needed).
    static func readRaw(
        _ service: IPCService, on connection: ObjectHandle, count: Int, into collected: Lock<[UInt8]>,
        done: @escaping @Sendable ([UInt8]) -> Void
    ) {
        try? service.rawReceive(on: connection) { bytes in
            let take = min(bytes.count, count - collected.withLock { $0.count })
            let total = collected.withLock { buffer -> Int in
                buffer += bytes[0..<take]
                return buffer.count
            }
            if total == count {
                done(collected.withLock { $0 })
            } else {
                readRaw(service, on: connection, count: count, into: collected, done: done)
            }
            return take
        }
    }

    @Test("rawBasic: both sides start Raw, 1 MiB goes there and back raw, both activate; the requests queued meanwhile are all answered, and the server's hello that came with the last raw bytes is not lost")
    func rawBasic() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let size = 1 << 20
        let text = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        let serverBox = Lock<IPCService?>(nil)
        let serverSide = EventLog()
        let serverReceived = Lock<[UInt8]>([])
        let (server, destination) = try startMirrorServer(group: group, configure: { configuration in
            configuration.acceptedConnectionsStartRaw = true
            configuration.onConnectionStop = { _, error in serverSide.add("stop \(error)") }
            configuration.onConnectionRaw = { info in
                serverSide.add("raw")
                guard let server = serverBox.withLock({ $0 }) else { return }
                Self.readRaw(server, on: info.handle, count: size, into: serverReceived) { bytes in
                    // Back as it came, then the hello right behind it.
                    try? server.rawSend(bytes, on: info.handle) { serverSide.add("sent \($0)") }
                    try? server.activateConnection(info.handle) { serverSide.add("activated \($0)") }
                }
            }
        })
        serverBox.withLock { $0 = server }
        defer { server.stop() }
        let clientBox = Lock<IPCService?>(nil)
        let clientHandle = Lock<ObjectHandle?>(nil)
        let clientSide = EventLog()
        let client = try startClient(group: group) { configuration in
            configuration.connectionStartState = .raw
            configuration.onConnectionStop = { _, error in clientSide.add("stop \(error)") }
            configuration.onConnectionRaw = { info in
                clientHandle.withLock { $0 = info.handle }
                clientSide.add("raw")
                try? clientBox.withLock { $0 }?.rawSend(text, on: info.handle) { clientSide.add("sent \($0)") }
            }
        }
        clientBox.withLock { $0 = client }
        defer { client.stop() }
        // Requests queued while the connection is Raw wait for its activation.
        let answers = EventLog()
        for id in 1...20 {
            try client.request(Note(id: UInt64(id), text: "q\(id)"), to: destination, expecting: Note.self) { result in
                answers.add((try? result.get()).map { "\($0.id)" } ?? "\(result)")
            }
        }
        #expect(serverSide.wait { $0.contains("activated success()") }, "\(serverSide.all.prefix(6))")
        // Only now the client reads: the echo and the server's hello are both waiting in one buffer.
        let handle = try #require(clientHandle.withLock { $0 })
        let echoed = Lock<[UInt8]>([])
        let checked = EventLog()
        Self.readRaw(client, on: handle, count: size, into: echoed) { bytes in
            checked.add(bytes == text ? "intact" : "damaged")
            try? client.activateConnection(handle) { clientSide.add("activated \($0)") }
        }
        #expect(checked.wait { !$0.isEmpty })
        #expect(checked.all == ["intact"])
        #expect(answers.wait { $0.count == 20 })
        #expect(answers.all.sorted() == (1...20).map { "\($0)" }.sorted())
        #expect(serverReceived.withLock { $0 } == text)
        #expect(clientSide.all == ["raw", "sent success()", "activated success()"])
        #expect(serverSide.all.filter { $0 == "raw" }.count == 1)
        #expect(client.statistics.connectionsOpened == 1)
    }

    @Test("raw calls on a connection that is not Raw fail with notRaw; activating twice is alreadyActive")
    func invalidTransitions() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let started = Lock<ObjectHandle?>(nil)
        let (server, destination) = try startMirrorServer(group: group)
        defer { server.stop() }
        let client = try startClient(group: group) { configuration in
            configuration.onConnectionStart = { info in started.withLock { $0 = info.handle } }
        }
        defer { client.stop() }
        let answer = EventLog()
        try client.request(Note(id: 1, text: "x"), to: destination, expecting: Note.self) { _ in answer.add("x") }
        #expect(answer.wait { !$0.isEmpty })
        let handle = try #require(started.withLock { $0 })
        let outcomes = EventLog()
        try client.rawSend([1, 2, 3], on: handle) { outcomes.add("send \($0)") }
        try client.rawReceive(on: handle, { _ in 0 }) { outcomes.add("receive \($0)") }
        try client.activateConnection(handle) { outcomes.add("activate \($0)") }
        #expect(outcomes.wait { $0.count == 3 })
        #expect(outcomes.all == [
            "send \(Result<Void, SendError>.failure(.notRaw))", "receive \(Result<Void, SendError>.failure(.notRaw))",
            "activate \(Result<Void, SendError>.failure(.alreadyActive))",
        ])
    }
}
