import SolidEngine
import SolidIPC
import Synchronization

extension SolidSystemClient {
    /// W2: one ``BulkMessage`` of `spec.bytes` as a request; the server replies with the count.
    func bulk(_ spec: TransferSpec, phase: MeasuredPhase) throws -> TransferOutcome {
        let service = try makeService()
        defer { service.stop() }
        _ = try roundTrip(service, EchoMessage(payload: [1]), to: destination, expecting: EchoMessage.self, label: "SolidIPC warm-up")
        let payload = MessagePayloads.bytes(spec.bytes)
        try phase.begin()
        let start = nowNanos()
        let (reply, end) = try roundTrip(
            service, BulkMessage(payload: payload), to: destination, expecting: TransferReply.self,
            label: "SolidIPC bulk \(spec.bytes >> 20) MiB", timeout: Deadline.transfer(spec.bytes)
        ) { "\(service.statistics.bytesSent >> 20) MiB sent" }
        try phase.end()
        guard reply.bytes == UInt64(spec.bytes) else {
            throw BenchError("SolidIPC bulk: server received \(reply.bytes) of \(spec.bytes) bytes")
        }
        return TransferOutcome(bytes: spec.bytes, elapsedNanos: end - start, checksumOK: nil)
    }

    /// W2 stream: one ``StreamMessage`` whose stream field comes from a generator; the server's sink
    /// checksums it and replies with the count and checksum.
    func stream(_ spec: TransferSpec, phase: MeasuredPhase) throws -> TransferOutcome {
        let service = try makeService()
        defer { service.stop() }
        _ = try roundTrip(
            service, StreamMessage(data: StreamField(source: GeneratorSource(total: 1024))), to: destination,
            expecting: TransferReply.self, label: "SolidIPC stream warm-up")
        try phase.begin()
        let start = nowNanos()
        let (reply, end) = try roundTrip(
            service, StreamMessage(data: StreamField(source: GeneratorSource(total: spec.bytes))), to: destination,
            expecting: TransferReply.self, label: "SolidIPC stream \(spec.bytes >> 20) MiB",
            timeout: Deadline.transfer(spec.bytes)
        ) { "\(service.statistics.bytesSent >> 20) MiB sent" }
        try phase.end()
        guard reply.bytes == UInt64(spec.bytes) else {
            throw BenchError("SolidIPC stream: sink received \(reply.bytes) of \(spec.bytes) bytes")
        }
        return TransferOutcome(
            bytes: spec.bytes, elapsedNanos: end - start,
            checksumOK: reply.checksum == Payload.expectedStreamChecksum(length: spec.bytes))
    }

    /// W3: pings one at a time, alone and then while one bulk request awaits its reply, all on the same
    /// pool (one connection).
    func headOfLine(_ spec: HeadOfLineSpec, phase: MeasuredPhase) throws -> HeadOfLineOutcome {
        let service = try makeService()
        defer { service.stop() }
        let ping = Payload.randomBytes(spec.pingSize, seed: 11)
        _ = try roundTrip(service, EchoMessage(payload: ping), to: destination, expecting: EchoMessage.self, label: "SolidIPC warm-up")
        let run = PingRun(service: service, destination: destination, ping: ping, idlePings: spec.idlePings)
        reactor.execute { run.sendPing() }
        _ = try run.idleDone.wait("SolidIPC idle pings", timeout: 60).get()
        // W3: one in-memory message; W3 stream: a stream field from a generator.
        let payload = spec.stream ? [] : MessagePayloads.bytes(spec.bulkBytes)
        let bulkBytes = spec.bulkBytes
        try phase.begin()
        let start = nowNanos()
        let destination = self.destination
        reactor.execute {
            run.startBulk()
            let finished: @Sendable (Result<TransferReply, SendError>) -> Void = { result in
                if case .failure(let error) = result { run.bulkFinished("\(error)") } else { run.bulkFinished(nil) }
            }
            do {
                if spec.stream {
                    let message = StreamMessage(data: StreamField(source: GeneratorSource(total: bulkBytes)))
                    try service.request(message, to: destination, expecting: TransferReply.self, onResponse: finished)
                } else {
                    try service.request(BulkMessage(payload: payload), to: destination, expecting: TransferReply.self, onResponse: finished)
                }
            } catch {
                run.bulkFinished("\(error)")
            }
            run.sendPing()
        }
        let end = try run.busyDone.wait("SolidIPC W3 bulk + pings", timeout: Deadline.transfer(spec.bulkBytes)).get()
        try phase.end()
        return HeadOfLineOutcome(idle: run.state.idle, busy: run.state.busy, bulkElapsedNanos: end - start)
    }
}

/// Drives W3 over a client service: pings and the bulk request on the same pool (one connection).
final class PingRun: @unchecked Sendable {
    // @unchecked: `state` is touched only on the client group's single reactor thread; the main thread
    // reads it after the completions.
    let service: IPCService
    let destination: Destination
    let ping: [UInt8]
    var state: HeadOfLineState
    let idleDone = Completion<Result<UInt64, BenchError>>()
    let busyDone = Completion<Result<UInt64, BenchError>>()

    init(service: IPCService, destination: Destination, ping: [UInt8], idlePings: Int) {
        self.service = service
        self.destination = destination
        self.ping = ping
        state = HeadOfLineState(idlePings: idlePings)
    }

    func startBulk() { state.bulkSent() }

    func bulkFinished(_ error: String?) {
        if let error { return fail("bulk request: \(error)") }
        act(state.bulkAnswered())
    }

    func sendPing() {
        let ticket = state.pingSent()
        do {
            try service.request(EchoMessage(payload: ping), to: destination, expecting: EchoMessage.self) { result in
                if case .failure(let error) = result { return self.fail("ping: \(error)") }
                self.act(self.state.pingAnswered(ticket))
            }
        } catch {
            fail("ping: \(error)")
        }
    }

    private func act(_ next: HeadOfLineState.Next) {
        switch next {
        case .sendPing: sendPing()
        case .idleFinished: idleDone.complete(.success(0))
        case .busyFinished(let end): busyDone.complete(.success(end))
        case .wait: break
        }
    }

    private func fail(_ text: String) {
        idleDone.complete(.failure(BenchError("SolidIPC W3 \(text)")))
        busyDone.complete(.failure(BenchError("SolidIPC W3 \(text)")))
    }
}
