import Glibc
import Testing
@testable import SolidEngine

@Suite("Cancel and streams")
struct CancelAndStreamTests {
    @Test("cancel while queued: removed, never on the wire, outcome canceled(partlySent: false)")
    func cancelQueued() throws {
        let registry = try sampleRegistry()
        let loop = WireLoop(packetSize: 4096, slots: 1, registry: registry)
        let first = try loop.writer.enqueue(Ping(id: 1, text: String(repeating: "a", count: 10_000)), registry: registry)
        let second = try loop.writer.enqueue(Ping(id: 2, text: "b"), registry: registry)
        #expect(loop.writer.cancel(second))
        #expect(!loop.writer.cancel(second), "a second cancel of the same id fails")
        try loop.drain()
        #expect(loop.messages.map { ($0.1 as! Ping).id } == [1])
        #expect(loop.outcomes.map(\.0) == [second, first])
        #expect(loop.outcomes.map(\.1) == [.canceled(partlySent: false), .written])
        #expect(!loop.writer.cancel(first), "finished messages cannot be cancelled")
        #expect(!loop.writer.cancel(999), "unknown ids cannot be cancelled")
    }

    @Test("a body above the writer's limit is refused at enqueue with messageTooLarge")
    func bodyTooLarge() throws {
        let registry = try sampleRegistry()
        let writer = MessageWriter(packetSize: 4096, slots: 4, maxBodyBytes: 1000)
        #expect(throws: WireError.messageTooLarge(length: 2003, limit: 1000)) {
            try writer.enqueue(Ping(id: 1, text: String(repeating: "x", count: 2000)), registry: registry)
        }
        #expect(writer.pendingCount == 0)
        _ = try writer.enqueue(Ping(id: 2, text: "small"), registry: registry)
        #expect(writer.pendingCount == 1)
    }

    @Test("cancelResponses(to:): responses to that request end canceledByPeer (queued and partly written); others go on")
    func cancelResponsesToRequest() throws {
        let registry = try sampleRegistry()
        let loop = WireLoop(packetSize: 4096, slots: 2, registry: registry)
        let big = try loop.writer.enqueue(
            Ping(id: 1, text: String(repeating: "a", count: 50_000)), registry: registry, responseTo: 7)
        // Large enough to stay in its slot through the first packet (the packet is shared between them).
        let other = try loop.writer.enqueue(
            Ping(id: 2, text: String(repeating: "b", count: 10_000)), registry: registry, responseTo: 8)
        let queued = try loop.writer.enqueue(Ping(id: 3, text: "part 2"), registry: registry, responseTo: 7)
        try loop.step()  // the big one and the other start; the third waits for a slot
        #expect(loop.writer.cancelResponses(to: 7) == 2)
        #expect(loop.writer.cancelResponses(to: 7) == 0, "nothing left for that request")
        #expect(loop.writer.cancelResponses(to: 0) == 0, "0 is no request")
        try loop.drain()
        let outcomes = Dictionary(uniqueKeysWithValues: loop.outcomes)
        #expect(outcomes[big] == .canceledByPeer(partlySent: true))
        #expect(outcomes[queued] == .canceledByPeer(partlySent: false))
        #expect(outcomes[other] == .written)
        #expect(loop.messages.map { ($0.1 as! Ping).id } == [2])
    }

    @Test("cancel mid-message: the peer drops the partial message and the slot is reused cleanly")
    func cancelPartlyWritten() throws {
        let registry = try sampleRegistry()
        let loop = WireLoop(packetSize: 4096, slots: 1, registry: registry)
        let big = try loop.writer.enqueue(Ping(id: 1, text: String(repeating: "a", count: 100_000)), registry: registry)
        try loop.step()
        try loop.step()
        #expect(loop.writer.cancel(big))
        try loop.writer.enqueue(Ping(id: 2, text: "next"), registry: registry)
        try loop.drain()
        #expect(loop.outcomes.map(\.1) == [.canceled(partlySent: true), .written])
        guard loop.events.count == 2, case .canceledByPeer(let header) = loop.events[0] else {
            Issue.record("expected a peer cancel first, got \(loop.events.count) events")
            return
        }
        #expect(header?.typeID == registry.typeID(of: Ping.self))
        #expect(loop.messages.map { ($0.1 as! Ping).id } == [2])
    }

    @Test("random cancels: every message ends exactly once, survivors arrive intact, cancelled ones never do")
    func randomCancels() throws {
        let registry = try sampleRegistry()
        var generator = SeededGenerator(seed: 11)
        let loop = WireLoop(packetSize: 4096, slots: 6, registry: registry)
        var texts: [UInt64: String] = [:]
        var ids: [UInt64: UInt64] = [:]  // writer id → ping id
        for round in 0..<300 {
            let text = String(repeating: "z", count: Int.random(in: 0...30_000, using: &generator))
            let id = try loop.writer.enqueue(Ping(id: UInt64(round), text: text), registry: registry,
                                             flags: round % 5 == 0 ? [.synchronous] : [])
            texts[UInt64(round)] = text
            ids[id] = UInt64(round)
            if Int.random(in: 0..<3, using: &generator) == 0 {
                let victim = UInt64.random(in: 1...id, using: &generator)
                loop.writer.cancel(victim)
            }
            if Bool.random(using: &generator) { try loop.step { _ in Int.random(in: 1...700, using: &generator) } }
        }
        try loop.drain { _ in Int.random(in: 1...700, using: &generator) }
        #expect(loop.outcomes.count == 300)
        #expect(Set(loop.outcomes.map(\.0)).count == 300, "each message ended exactly once")
        let canceled = Set(loop.outcomes.filter { $0.1 != .written }.map { ids[$0.0]! })
        let delivered = loop.messages.map { $0.1 as! Ping }
        #expect(delivered.count == 300 - canceled.count)
        for ping in delivered {
            #expect(!canceled.contains(ping.id))
            #expect(ping.text == texts[ping.id])
        }
        let peerCancels = loop.events.filter { if case .canceledByPeer = $0 { true } else { false } }.count
        #expect(peerCancels == loop.outcomes.filter { $0.1 == .canceled(partlySent: true) }.count)
    }

    @Test("a stream field crosses in segments into its sink; bounded fields arrive too")
    func streamRoundTrip() throws {
        let registry = try sampleRegistry()
        let loop = WireLoop(packetSize: 4096, slots: 2, registry: registry)
        let payload = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 * 31) }
        let sink = CollectingSink()
        loop.reader.makeSinks = { header, message in
            #expect((message as? FileTransfer)?.name == "data.bin")
            #expect(header.streamCount == 1)
            return [sink]
        }
        try loop.writer.enqueue(FileTransfer(name: "data.bin", data: StreamField(source: BytesSource(payload))), registry: registry)
        try loop.writer.enqueue(Ping(id: 9, text: "alongside"), registry: registry)
        try loop.drain { _ in 333 }
        #expect(sink.finished)
        #expect(sink.bytes == payload)
        #expect(loop.messages.count == 2)
        #expect(loop.outcomes.map(\.1) == [.written, .written])
    }

    @Test("a failing source ends its message with failed(partlySent:) and the peer drops it")
    func failingSource() throws {
        struct Broken: Error {}
        let registry = try sampleRegistry()
        let loop = WireLoop(packetSize: 4096, slots: 2, registry: registry)
        var calls = 0
        let source = ClosureByteSource { buffer in
            calls += 1
            if calls == 3 { throw Broken() }
            buffer.initializeMemory(as: UInt8.self, repeating: 1)
            return buffer.count
        }
        let sink = CollectingSink()
        loop.reader.makeSinks = { _, _ in [sink] }
        try loop.writer.enqueue(FileTransfer(name: "x", data: StreamField(source: source)), registry: registry)
        try loop.drain()
        #expect(loop.outcomes.count == 1)
        #expect(loop.outcomes.first?.1 == .failed(.streamSourceFailed("Broken()"), partlySent: true))
        #expect(sink.abortError != nil, "events: \(loop.events.map { "\($0)".prefix(60) }), bytes \(sink.bytes.count)")
        #expect(!sink.finished)
        #expect(loop.messages.isEmpty)
    }

    @Test("a message whose streams get no sink is rejected alone")
    func missingSink() throws {
        let registry = try sampleRegistry()
        let loop = WireLoop(packetSize: 4096, slots: 2, registry: registry)
        try loop.writer.enqueue(FileTransfer(name: "x", data: StreamField(source: BytesSource([1, 2, 3]))), registry: registry)
        try loop.writer.enqueue(Ping(id: 1, text: "ok"), registry: registry)
        try loop.drain()
        let rejected = loop.events.compactMap { if case .rejected(_, let error) = $0 { error } else { nil } }
        #expect(rejected == [.streamSinkFailed("0 sinks for 1 streams")])
        #expect(loop.messages.map { ($0.1 as! Ping).id } == [1])
    }

    @Test("sending an unregistered type or a stream without a source fails before anything is queued")
    func sendErrors() throws {
        let registry = MessageRegistry()
        let writer = MessageWriter(packetSize: 4096, slots: 1)
        #expect(throws: WireError.unregisteredType("Ping")) { try writer.enqueue(Ping(), registry: registry) }
        try registry.register(FileTransfer.self, protocol: 1, index: 0)
        #expect(throws: WireError.missingStreamSource) { try writer.enqueue(FileTransfer(), registry: registry) }
        #expect(throws: WireError.duplicateRegistration("type id 1.0 is taken")) {
            try registry.register(Ping.self, protocol: 1, index: 0)
        }
        #expect(throws: WireError.duplicateRegistration("FileTransfer is registered")) {
            try registry.register(FileTransfer.self, protocol: 3, index: 0)
        }
        #expect(writer.pendingCount == 0)
    }
}

@Suite("File streams")
struct FileStreamTests {
    @Test("a file is sent as a stream field and written to a file on the other side")
    func fileToFile() throws {
        let registry = try sampleRegistry()
        let directory = "/tmp/solidipc-test-\(UInt64.random(in: 0 ... .max))"
        #expect(mkdirAt(directory))
        defer { removeTree(directory) }
        let payload = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let inputPath = directory + "/in.bin"
        let outputPath = directory + "/out.bin"
        let input = try FileSink(path: inputPath)
        try payload.withUnsafeBytes { try input.write($0) }
        try input.finish()
        let loop = WireLoop(packetSize: 8192, slots: 2, registry: registry)
        let output = try FileSink(path: outputPath)
        loop.reader.makeSinks = { _, _ in [output] }
        try loop.writer.enqueue(FileTransfer(name: "in.bin", data: StreamField(source: FileSource(path: inputPath))), registry: registry)
        try loop.drain()
        #expect(loop.messages.count == 1)
        #expect(output.bytesWritten == UInt64(payload.count))
        let source = try FileSource(path: outputPath)
        var readBack: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while case let count = try chunk.withUnsafeMutableBytes({ try source.read(into: $0) }), count > 0 {
            readBack += chunk[0..<count]
        }
        #expect(readBack == payload)
        #expect(throws: FileStreamError(operation: "open", path: directory + "/missing", errno: ENOENT)) {
            try FileSource(path: directory + "/missing")
        }
    }
}

private func mkdirAt(_ path: String) -> Bool { mkdir(path, 0o700) == 0 }

private func removeTree(_ path: String) {
    unlink(path + "/in.bin")
    unlink(path + "/out.bin")
    rmdir(path)
}
