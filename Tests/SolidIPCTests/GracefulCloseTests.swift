import SolidEngine
import SolidIPC
import SolidReactor
import Testing

/// Closing one connection gracefully: what it carries completes first.
@Suite("Graceful connection close", .serialized)
struct GracefulCloseTests {
    @Test("a pool connection closed gracefully waits for its awaited response; new messages wait for the next one")
    func poolConnectionDrains() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let held = Lock<MessageContext?>(nil)
        let arrivals = EventLog()
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { note, context in
                if note.id == 1 {
                    held.withLock { $0 = context }  // answered later, by the test
                    arrivals.add("\(note.id) on \(context.connection)")  // after `held` is set: the test reads it then
                } else {
                    arrivals.add("\(note.id) on \(context.connection)")  // before the answer the test waits for
                    try? context.respond(note)
                }
            }
        }
        defer { server.stop() }
        let handles = Lock<[ObjectHandle]>([])
        let stops = EventLog()
        let client = try startClient(group: group) { configuration in
            configuration.onConnectionStart = { info in handles.withLock { $0.append(info.handle) } }
            configuration.onConnectionStop = { _, error in stops.add("\(error)") }
        }
        defer { client.stop() }
        let answers = EventLog()
        try client.request(Note(id: 1, text: "slow"), to: destination, expecting: Note.self) { result in
            answers.add("1: \((try? result.get().text) ?? "\(result)")")
        }
        #expect(arrivals.wait { $0.count == 1 })
        try client.closeConnection(handles.withLock { $0[0] }, mode: .graceful)
        try client.request(Note(id: 2, text: "later"), to: destination, expecting: Note.self) { result in
            answers.add("2: \((try? result.get().text) ?? "\(result)")")
        }
        // The new request does not use the closing connection: a new one answers it at once, while the
        // closing one stays open for the response it awaits.
        #expect(answers.wait { !$0.isEmpty })
        #expect(answers.all == ["2: later"])
        #expect(stops.all.isEmpty)
        try held.withLock { $0 }!.respond(Note(id: 1, text: "done"))
        #expect(answers.wait { $0.count == 2 })
        #expect(answers.all == ["2: later", "1: done"])
        #expect(stops.wait { !$0.isEmpty })  // closes once the response is in and the peer went away too
        #expect(stops.all == ["\(ConnectionError.closedLocally)"])
        let seen = arrivals.all
        #expect(seen.count == 2 && seen[0].dropFirst(2) != seen[1].dropFirst(2), "the second went on a new connection: \(seen)")
        #expect(client.statistics.connectionsOpened == 2)
    }

    @Test("an accepted connection closed gracefully right after a large response still delivers it whole")
    func acceptedConnectionDrains() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let serverResults = EventLog()
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Blob.self) { blob, context in
                try? context.respond(Blob(id: blob.id, size: 8 << 20)) { serverResults.add("\($0)") }
                try? server.closeConnection(context.connection, mode: .graceful)
            }
        }
        defer { server.stop() }
        let stops = EventLog()
        let client = try startClient(group: group) { configuration in
            configuration.onConnectionStop = { _, error in stops.add("\(error)") }
        }
        defer { client.stop() }
        let answers = EventLog()
        try client.request(Blob(id: 5, size: 100), to: destination, expecting: Blob.self) { result in
            answers.add((try? result.get()).map { "\($0.id) \($0.data.count) \($0.isIntact)" } ?? "\(result)")
        }
        #expect(answers.wait { !$0.isEmpty })
        #expect(answers.all == ["5 8388608 true"])
        #expect(serverResults.wait { !$0.isEmpty })
        #expect(serverResults.all == ["success()"])
        #expect(stops.wait { !$0.isEmpty })
        #expect(stops.all == ["\(ConnectionError.closedByPeer)"])
    }
}
