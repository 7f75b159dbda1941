import Logging
import SolidEngine
import SolidIPC
import SolidReactor
import Testing

/// A log handler that keeps every entry, for tests.
final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    // @unchecked: `entries` behind its lock; the rest is set before the logger is shared.
    struct Entry: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    let entries = Lock<[Entry]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        for (key, value) in event.metadata ?? [:] { all[key] = value }
        let entry = Entry(level: event.level, message: "\(event.message)", metadata: all.mapValues { "\($0)" })
        entries.withLock { $0.append(entry) }
    }
}

@Suite("Log lines", .serialized)
struct LoggingTests {
    @Test("connections log their handle, peer and pool; a pool that cannot connect says so at notice, with the back-off")
    func connectionMetadata() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let handler = CapturingLogHandler()
        let logger = Logger(label: "test") { _ in handler }
        let (server, destination) = try startEchoService(group: group)
        defer { server.stop() }
        let client = try startClient(group: group) { $0.logger = logger }
        defer { client.stop() }
        _ = try await client.request(Note(id: 1, text: "x"), to: destination, expecting: Note.self)
        let opened = try #require(handler.entries.withLock { $0 }.first { $0.message == "connection opened" })
        #expect(opened.level == .debug)
        #expect(opened.metadata["solidipc.pool"] == "\(destination)")
        #expect(opened.metadata["solidipc.peer"]?.hasSuffix(":\(destination.port)") == true)
        #expect(opened.metadata["solidipc.connection"] != nil)

        let nowhere = try Destination(host: "127.0.0.1", port: try #require(freeLoopbackPort()))
        try client.send(Note(id: 2, text: "waits"), to: nowhere) { _ in }
        #expect(await waitUntil { handler.entries.withLock { $0 }.contains { $0.message.hasPrefix("cannot connect") } })
        let failed = try #require(handler.entries.withLock { $0 }.first { $0.message.hasPrefix("cannot connect") })
        #expect(failed.level == .notice)
        #expect(failed.metadata["solidipc.pool"] == "\(nowhere)")
        #expect(failed.metadata["solidipc.reason"]?.contains("refused") == true, "\(failed.metadata)")
        #expect(failed.metadata["solidipc.retry_in"] != nil && failed.metadata["solidipc.queued"] == "1")
    }
}
