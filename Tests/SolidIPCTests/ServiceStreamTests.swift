import SolidEngine
import SolidIPC
import SolidReactor
import Testing

/// Messages with stream fields through services (the sinks come from the handler registration).
@Suite("IPCService streams", .serialized)
struct ServiceStreamTests {
    /// Counts bytes and folds them into a checksum.
    final class ChecksumSink: ByteSink, @unchecked Sendable {
        // @unchecked: used only on the receiving connection's reactor thread.
        var count = 0
        var checksum: UInt64 = 0
        var finished = false
        func write(_ bytes: UnsafeRawBufferPointer) throws {
            for byte in bytes { checksum = Self.fold(checksum, byte) }
            count += bytes.count
        }
        func finish() throws { finished = true }
        func abort(_ error: WireError) {}

        static func fold(_ checksum: UInt64, _ byte: UInt8) -> UInt64 { (checksum &* 31) &+ UInt64(byte) }
    }

    /// Byte `index` of a test stream: `index × factor`, truncated.
    static func patternByte(_ index: Int, factor: Int) -> UInt8 { UInt8(truncatingIfNeeded: index &* factor) }

    /// A source of `total` pattern bytes (see ``patternByte(_:factor:)``).
    static func patternSource(total: Int, factor: Int) -> ClosureByteSource {
        var made = 0
        return ClosureByteSource { buffer in
            let count = min(buffer.count, total - made)
            for offset in 0..<count { buffer[offset] = patternByte(made + offset, factor: factor) }
            made += count
            return count
        }
    }

    /// The checksum a ``ChecksumSink`` makes of ``patternSource(total:factor:)``'s bytes.
    static func patternChecksum(total: Int, factor: Int) -> UInt64 {
        (0..<total).reduce(0) { ChecksumSink.fold($0, patternByte($1, factor: factor)) }
    }

    @Test("an upload's stream reaches the sink the server's handler registration made; the request is answered")
    func uploadThroughServices() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let total = 3 * 1024 * 1024 + 17
        let expected = Self.patternChecksum(total: total, factor: 7)
        let sinks = Lock<[ChecksumSink]>([])
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(SendableUpload.self, makeSinks: { _, _ in
                let sink = ChecksumSink()
                sinks.withLock { $0.append(sink) }
                return [sink]
            }) { upload, context in
                let sink = sinks.withLock { $0.last! }
                let text = "\(upload.name) \(sink.count) \(sink.finished) \(sink.checksum)"
                try? context.respond(Note(id: 1, text: text))
            }
        }
        defer { server.stop() }
        let client = try startClient(group: group)
        defer { client.stop() }
        let source = Self.patternSource(total: total, factor: 7)
        let answers = EventLog()
        try client.request(SendableUpload(name: "file", source: source), to: destination, expecting: Note.self) {
            answers.add((try? $0.get().text) ?? "\($0)")
        }
        #expect(answers.wait { !$0.isEmpty })
        #expect(answers.all == ["file \(total) true \(expected)"])
        #expect(sinks.withLock { $0.count } == 1)
    }

    @Test("a download: the response carries a stream into the sink the client's registration made")
    func downloadThroughServices() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let total = 2 * 1024 * 1024 + 5
        let expected = Self.patternChecksum(total: total, factor: 3)
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(Note.self) { note, context in
                let source = Self.patternSource(total: total, factor: 3)
                try? context.respond(SendableUpload(name: note.text, source: source))
            }
        }
        defer { server.stop() }
        let sinks = Lock<[ChecksumSink]>([])
        var configuration = ServiceConfiguration(registry: try noteRegistry())
        configuration.connectionStartState = .active
        let client = try IPCService(configuration: configuration, group: group)
        try client.handle(SendableUpload.self, makeSinks: { _, _ in
            let sink = ChecksumSink()
            sinks.withLock { $0.append(sink) }
            return [sink]
        }) { _, _ in }
        try client.start()
        defer { client.stop() }
        let answers = EventLog()
        try client.request(Note(id: 1, text: "report.bin"), to: destination, expecting: SendableUpload.self) {
            result in
            let sink = sinks.withLock { $0.last }
            answers.add((try? result.get().name).map { "\($0) \(sink?.count ?? -1) \(sink?.finished ?? false) \(sink?.checksum ?? 0)" } ?? "\(result)")
        }
        #expect(answers.wait { !$0.isEmpty })
        #expect(answers.all == ["report.bin \(total) true \(expected)"])
    }
}

@Suite("Streams cut off by a closing connection", .serialized)
struct StreamCutOffTests {
    /// Counts bytes and logs how it ended.
    final class EndLoggingSink: ByteSink, @unchecked Sendable {
        // @unchecked: `count` is used on the receiving reactor thread only; `ends` is locked.
        var count = 0
        let ends: EventLog
        init(ends: EventLog) { self.ends = ends }
        func write(_ bytes: UnsafeRawBufferPointer) throws { count += bytes.count }
        func finish() throws { ends.add("finished") }
        func abort(_ error: WireError) { ends.add("aborted: \(error)") }
    }

    @Test("the sender's side closes in the middle of an endless upload: the server's sink is aborted with connectionEnded at once, once, and the handler never runs")
    func sinkAbortedWhenConnectionCloses() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let ends = EventLog()
        let handled = EventLog()
        let sinks = Lock<[EndLoggingSink]>([])
        let (server, destination) = try startServer(group: group) { server in
            try server.handle(SendableUpload.self, makeSinks: { _, _ in
                let sink = EndLoggingSink(ends: ends)
                sinks.withLock { $0.append(sink) }
                return [sink]
            }) { _, _ in handled.add("handler") }
        }
        defer { server.stop() }
        let client = try startClient(group: group)
        let endless = ClosureByteSource { buffer in
            for offset in 0..<buffer.count { buffer[offset] = UInt8(truncatingIfNeeded: offset) }
            return buffer.count
        }
        let outcome = EventLog()
        try client.request(SendableUpload(name: "endless", source: endless), to: destination, expecting: Note.self) {
            outcome.add("\($0)")
        }
        #expect(waitUntil { server.statistics.bytesReceived > 4 << 20 })
        client.stop()
        #expect(ends.wait { !$0.isEmpty })
        #expect(ends.all == ["aborted: \(WireError.connectionEnded)"])
        #expect(outcome.all == ["\(Result<Note, SendError>.failure(.connectionClosed(.closedLocally, progress: .partlySent)))"])
        _ = ends.wait(seconds: 0.2) { $0.count > 1 }
        #expect(ends.all.count == 1 && handled.all.isEmpty && sinks.withLock { $0.count } == 1)
    }
}
