import Testing
@testable import SolidEngine

/// Reject and going-away records (PROTOCOL.md §4, §4.1).
@Suite("Reject and going-away records")
struct PeerRecordTests {
    static func describe(_ event: ReaderEvent) -> String {
        switch event {
        case .rejectedByPeer(let id, let rejection): "rejected \(id) \(rejection.code.rawValue) \(rejection.reason)"
        case .goingAway: "going away"
        case .message(let header, let message): "message \(header.requestID)/\(header.responseTo) \((message as? Ping)?.id ?? 0)"
        case .cancelRequest(let id): "cancel request \(id)"
        default: "\(event)"
        }
    }

    @Test("a reject record carries the request id, the code and the reason; codes this version does not know arrive as they are")
    func rejectRoundTrip() throws {
        let loop = WireLoop(registry: try sampleRegistry())
        loop.writer.reject(7, PeerRejection(code: .noHandler, reason: "no handler for Ping"))
        loop.writer.reject(1 << 40, PeerRejection(code: RejectCode(rawValue: 200), reason: ""))
        loop.writer.reject(9, PeerRejection(.receiveBudgetExceeded(requested: 10, inUse: 5, limit: 12, scope: .service)))
        try loop.drain()
        #expect(loop.events.map(Self.describe) == [
            "rejected 7 6 no handler for Ping",
            "rejected 1099511627776 200 ",
            "rejected 9 3 receiving 10 more bytes would exceed the service budget (5 of 12 in use)",
        ])
        #expect(RejectCode(rawValue: 200).description == "code 200")
    }

    @Test("a reason is cut to 255 bytes of UTF-8 at a character boundary")
    func reasonCut() throws {
        let long = String(repeating: "é", count: 200)  // 400 bytes
        let rejection = PeerRejection(code: .other, reason: long)
        #expect(rejection.reason.utf8.count == 254)
        let loop = WireLoop(registry: try sampleRegistry())
        loop.writer.reject(3, rejection)
        try loop.drain()
        #expect(loop.events.map(Self.describe) == ["rejected 3 0 \(String(repeating: "é", count: 127))"])
    }

    @Test("which message errors become which reject code")
    func codesFromErrors() {
        #expect(PeerRejection(.unknownMessageType(protocol: 1, type: 2)).code == .unknownMessageType)
        #expect(PeerRejection(.messageTooLarge(length: 5, limit: 4)).code == .messageTooLarge)
        #expect(PeerRejection(.receiveBudgetExceeded(requested: 5, inUse: 0, limit: 4, scope: .connection)).code == .overloaded)
        #expect(PeerRejection(.streamSinkFailed("full")).code == .streamFailed)
        #expect(PeerRejection(.truncatedField("text")).code == .malformedMessage)
        #expect(PeerRejection(.streamCountMismatch(declared: 1, described: 0)).code == .malformedMessage)
    }

    @Test("hostile reject records: truncated anywhere, request id 0, a flag bit — each a precise connection error")
    func hostileRejects() throws {
        let registry = try sampleRegistry()
        let reject = PacketFormat.Command.reject.rawValue
        #expect(readerError(Bytes.data([reject]), registry: registry) == .truncatedRecord)
        #expect(readerError(Bytes.data([reject, 5]), registry: registry) == .truncatedRecord)
        #expect(readerError(Bytes.data([reject, 5, 1]), registry: registry) == .truncatedRecord)
        #expect(readerError(Bytes.data([reject, 5, 1, 3, 65, 66]), registry: registry) == .truncatedRecord)
        #expect(readerError(Bytes.data([reject, 0, 1, 0]), registry: registry) == .rejectWithoutRequest)
        #expect(readerError(Bytes.data([reject | 0x10, 5, 1, 0]), registry: registry) == .unknownRecord(reject | 0x10))
        #expect(readerError(Bytes.data([PacketFormat.Command.goingAway.rawValue | 0x20]), registry: registry)
            == .unknownRecord(0x25))
        // Invalid UTF-8 in a reason is not an error: it arrives with replacement characters.
        var events: [String] = []
        #expect(readerError(Bytes.data([reject, 5, 4, 2, 0xFF, 0x41]), registry: registry) { events.append(Self.describe($0)) } == nil)
        #expect(events == ["rejected 5 4 \u{FFFD}A"])
    }

    @Test("after going away only responses start; other messages, waiting or enqueued later, are withdrawn at once, never sent")
    func goingAwayWithdraws() throws {
        let registry = try sampleRegistry()
        let loop = WireLoop(slots: 4, registry: registry)
        // A message already started before going away is finished.
        let big = try loop.writer.enqueue(Ping(id: 1, text: String(repeating: "x", count: 40_000)), registry: registry)
        try loop.step()
        let queued = try loop.writer.enqueue(Ping(id: 2, text: "queued"), registry: registry, flags: [.request], requestID: 2)
        loop.writer.goAway()
        #expect(loop.outcomes.map(\.0) == [queued] && loop.outcomes.last?.1 == .withdrawn)
        let response = try loop.writer.enqueue(Ping(id: 3, text: "answer"), registry: registry, responseTo: 77)
        let later = try loop.writer.enqueue(Ping(id: 4, text: "later"), registry: registry)
        #expect(loop.outcomes.map(\.0) == [queued, later] && loop.outcomes.last?.1 == .withdrawn)
        try loop.drain()
        #expect(loop.events.map(Self.describe) == ["going away", "message 0/77 3", "message 0/0 1"])
        #expect(!loop.writer.hasWork && loop.writer.pendingCount == 0 && loop.writer.queuedBytes == 0)
        #expect(loop.outcomes.map(\.0) == [queued, later, response, big])
        // The record goes out once.
        loop.writer.goAway()
        #expect(!loop.writer.hasWork)
    }

    @Test("a flood of cancel-requests for ids with no response queued finds nothing without scanning; a real one still cancels")
    func cancelRequestIndex() throws {
        let registry = try sampleRegistry()
        let writer = MessageWriter(packetSize: 16384, slots: 4)
        for id in 1...1000 {
            try writer.enqueue(Ping(id: UInt64(id), text: "r"), registry: registry, responseTo: UInt64(id))
        }
        for id in 5000..<105_000 { #expect(writer.cancelResponses(to: UInt64(id)) == 0) }
        #expect(writer.cancelResponses(to: 500) == 1)
        #expect(writer.cancelResponses(to: 500) == 0)
        #expect(writer.pendingCount == 999)
    }
}

/// Found by FuzzConnection: a failing stream must not stall the writer.
@Suite("Writer after a stream source fails")
struct FailingSourceTests {
    struct Broken: Error {}

    @Test("one slot: a message whose stream fails at its first piece frees the slot, and the next message goes out in the same packet")
    func nextMessageStarts() throws {
        let registry = try sampleRegistry()
        let loop = WireLoop(slots: 1, registry: registry)
        let failing = try loop.writer.enqueue(
            FileTransfer(name: "f", data: StreamField(source: ClosureByteSource { _ in throw Broken() })), registry: registry)
        let note = try loop.writer.enqueue(Ping(id: 9, text: "after"), registry: registry)
        #expect(try loop.step(), "hasWork promised a packet")
        #expect(loop.outcomes.map(\.0) == [failing, note])
        #expect(loop.messages.map { ($0.1 as? Ping)?.id } == [9])
        #expect(!loop.writer.hasWork)
    }

    @Test("synchronous: the next synchronous message starts once the failed one is out of the way")
    func nextSynchronousStarts() throws {
        let registry = try sampleRegistry()
        let loop = WireLoop(slots: 16, registry: registry)
        _ = try loop.writer.enqueue(
            FileTransfer(name: "f", data: StreamField(source: ClosureByteSource { _ in throw Broken() })), registry: registry,
            flags: [.synchronous])
        _ = try loop.writer.enqueue(Ping(id: 3, text: "next"), registry: registry, flags: [.synchronous])
        #expect(try loop.step())
        #expect(loop.messages.map { ($0.1 as? Ping)?.id } == [3])
        #expect(!loop.writer.hasWork)
    }
}
