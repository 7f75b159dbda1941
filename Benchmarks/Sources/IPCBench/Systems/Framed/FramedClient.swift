import Synchronization

/// The client side of the raw-TCP and SwiftNIO baselines, one implementation over ``FramedTransport``:
/// fresh connections per repetition, everything driven on the transport's single I/O thread.
final class FramedSystemClient<Transport: FramedTransport>: SystemClient {
    typealias Connection = Transport.Connection
    private let transport: Transport
    private var name: String { transport.name }

    init(transport: Transport) { self.transport = transport }

    func shutdown() { transport.shutdown() }

    func handshakes(_ spec: HandshakeSpec, phase: MeasuredPhase) throws -> HandshakeOutcome {
        try transport.handshakes(spec, phase: phase)
    }

    private func close(_ connections: [Connection]) {
        let done = Completion<Bool>()
        transport.execute {
            for connection in connections { connection.close() }
            done.complete(true)
        }
        _ = try? done.wait("\(name) close", timeout: 10)
    }

    /// Sends one request frame and waits for its response (also warms a connection).
    private func roundTrip(_ connection: Connection, _ parts: [Connection.Chunk], tag: FrameTag, label: String,
                           timeout: Double = 30) throws -> (FrameReply, UInt64) {
        let done = Completion<(FrameReply, UInt64)>()
        transport.execute {
            connection.onResponse = { _, _, reply in done.complete((reply, nowNanos())) }
            connection.send(parts, tag: tag, flush: true)
        }
        return try done.wait(label, timeout: timeout)
    }

    func echo(_ spec: EchoSpec, phase: MeasuredPhase) throws -> EchoOutcome {
        if spec.phaseIncludesConnecting { try phase.begin() }
        let connections = try (0..<spec.connections).map { _ in try transport.open(mode: FrameProtocol.echoMode) }
        defer { close(connections) }
        let request = transport.frame(Payload.randomBytes(spec.size, seed: 7))
        for connection in connections { _ = try roundTrip(connection, [request], tag: .echo, label: "\(name) warm-up") }
        let run = EchoRun(total: spec.roundTrips, size: spec.size)
        if !spec.phaseIncludesConnecting { try phase.begin() }
        let start = nowNanos()
        transport.execute {
            for (index, connection) in connections.enumerated() {
                let total = spec.roundTrips / spec.connections + (index < spec.roundTrips % spec.connections ? 1 : 0)
                var sent = min(spec.depth, total)
                connection.onResponse = { _, sentAt, reply in
                    run.finish(sentAt: sentAt, error: reply.length == spec.size ? nil : "wrong echo size")
                    if sent < total {
                        sent += 1
                        connection.send([request], tag: .echo, flush: false)  // flushed after the read batch
                    }
                }
                for _ in 0..<sent { connection.send([request], tag: .echo, flush: false) }
                connection.flush()
            }
        }
        let end = try run.completion.wait("\(name) echo", timeout: Deadline.echo(spec)) {
            "\(run.finished.load(ordering: .relaxed)) of \(spec.roundTrips) round trips"
        }
        try phase.end()
        var outcome = run.outcome(elapsed: end - start)
        outcome.connectionsOpened = connections.count  // each opened (open throws otherwise)
        return outcome
    }

    func bulk(_ spec: TransferSpec, phase: MeasuredPhase) throws -> TransferOutcome {
        let connection = try transport.open(mode: FrameProtocol.echoMode)
        defer { close([connection]) }
        _ = try roundTrip(connection, [transport.frame([1])], tag: .echo, label: "\(name) warm-up")
        let parts = transport.bulkFrame(spec.bytes)
        try phase.begin()
        let start = nowNanos()
        let (reply, end) = try roundTrip(
            connection, parts, tag: .bulk, label: "\(name) bulk \(spec.bytes >> 20) MiB", timeout: Deadline.transfer(spec.bytes))
        try phase.end()
        guard reply.word0 == UInt64(spec.bytes) else {
            throw BenchError("\(name) bulk: server received \(reply.word0) of \(spec.bytes) bytes")
        }
        return TransferOutcome(bytes: spec.bytes, elapsedNanos: end - start, checksumOK: nil)
    }

    func stream(_ spec: TransferSpec, phase: MeasuredPhase) throws -> TransferOutcome {
        let connection = try transport.open(mode: FrameProtocol.streamMode)
        defer { close([connection]) }
        _ = try roundTrip(connection, [transport.streamFrame(offset: 0, count: 1024), transport.frame([])],
                          tag: .streamEnd, label: "\(name) stream warm-up")
        let done = Completion<(FrameReply, UInt64)>()
        let writer = StreamFrameWriter(transport: transport, connection: connection, total: spec.bytes)
        try phase.begin()
        let start = nowNanos()
        transport.execute {
            connection.onResponse = { _, _, reply in done.complete((reply, nowNanos())) }
            writer.pump()
        }
        let (reply, end) = try done.wait("\(name) stream \(spec.bytes >> 20) MiB", timeout: Deadline.transfer(spec.bytes)) {
            "\(writer.progress.load(ordering: .relaxed) >> 20) MiB written"
        }
        try phase.end()
        guard reply.word0 == UInt64(spec.bytes) else {
            throw BenchError("\(name) stream: server received \(reply.word0) of \(spec.bytes) bytes")
        }
        return TransferOutcome(
            bytes: spec.bytes, elapsedNanos: end - start,
            checksumOK: reply.word1 == Payload.expectedStreamChecksum(length: spec.bytes))
    }

    func headOfLine(_ spec: HeadOfLineSpec, phase: MeasuredPhase) throws -> HeadOfLineOutcome {
        let connection = try transport.open(mode: FrameProtocol.echoMode)
        defer { close([connection]) }
        let ping = transport.frame(Payload.randomBytes(spec.pingSize, seed: 11))
        _ = try roundTrip(connection, [ping], tag: .echo, label: "\(name) warm-up")
        let driver = FramedHeadOfLine(connection: connection, ping: ping, idlePings: spec.idlePings)
        transport.execute { driver.startIdle() }
        _ = try driver.idleDone.wait("\(name) idle pings", timeout: 60)
        let parts = transport.bulkFrame(spec.bulkBytes)
        try phase.begin()
        let start = nowNanos()
        transport.execute { driver.startBulk(parts) }
        let end = try driver.busyDone.wait("\(name) W3 bulk + pings", timeout: Deadline.transfer(spec.bulkBytes))
        try phase.end()
        return HeadOfLineOutcome(idle: driver.state.idle, busy: driver.state.busy, bulkElapsedNanos: end - start)
    }
}

/// Writes a generated stream as 64 KiB frames, at most four queued at a time, then the empty end frame.
final class StreamFrameWriter<Transport: FramedTransport>: @unchecked Sendable {
    // @unchecked: used only on the transport's single I/O thread (`progress` is atomic for the main thread).
    private let transport: Transport
    private let connection: Transport.Connection
    private let total: Int
    private var offset = 0
    private var queued = 0
    private var pumping = false
    private var ended = false
    let progress = Atomic<Int>(0)

    init(transport: Transport, connection: Transport.Connection, total: Int) {
        self.transport = transport
        self.connection = connection
        self.total = total
    }

    func pump() {
        guard !pumping else { return }
        pumping = true
        defer { pumping = false }
        while queued < 4 && offset < total {
            let count = min(FrameProtocol.streamFrameSize, total - offset)
            let frame = transport.streamFrame(offset: offset, count: count)
            offset += count
            queued += 1
            connection.write(frame) { [self] in
                queued -= 1
                progress.add(count, ordering: .relaxed)
                pump()
            }
        }
        if offset == total && !ended {
            ended = true
            connection.send([transport.frame([])], tag: .streamEnd, flush: true)
        }
    }
}

/// Drives W3 over one framed connection with ``HeadOfLineState``.
final class FramedHeadOfLine<Connection: FramedConnection>: @unchecked Sendable {
    // @unchecked: `state` is touched only on the transport's single I/O thread; the main thread reads it
    // after the completions.
    private let connection: Connection
    private let ping: Connection.Chunk
    var state: HeadOfLineState
    private var ticket: HeadOfLineState.Ticket?
    let idleDone = Completion<Bool>()
    let busyDone = Completion<UInt64>()

    init(connection: Connection, ping: Connection.Chunk, idlePings: Int) {
        self.connection = connection
        self.ping = ping
        state = HeadOfLineState(idlePings: idlePings)
    }

    func startIdle() {
        connection.onResponse = { [unowned self] tag, _, _ in
            act(tag == .bulk ? state.bulkAnswered() : state.pingAnswered(ticket!))
        }
        sendPing()
    }

    func startBulk(_ parts: [Connection.Chunk]) {
        state.bulkSent()
        connection.send(parts, tag: .bulk, flush: true)
        sendPing()
    }

    private func sendPing() {
        ticket = state.pingSent()
        connection.send([ping], tag: .echo, flush: true)
    }

    private func act(_ next: HeadOfLineState.Next) {
        switch next {
        case .sendPing: sendPing()
        case .idleFinished: idleDone.complete(true)
        case .busyFinished(let end): busyDone.complete(end)
        case .wait: break
        }
    }
}
