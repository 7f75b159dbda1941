import SolidIPC
import SolidIPCTLS
import Synchronization

extension SolidSystemClient {
    /// The handshake workload: one request to the destination opens a fresh pool and connection (TCP
    /// connect, TLS handshake for the TLS variant, SolidIPC hello); its response force-closes the pool,
    /// and the pool's close completion sends the next request. With `resumption` the client's shared
    /// ``TLSTransport`` keeps the server's tickets and resumes; without it a transport with
    /// `sessionResumption = false` makes every handshake a full one.
    func handshakes(_ spec: HandshakeSpec, phase: MeasuredPhase) throws -> HandshakeOutcome {
        var transport: TLSTransport?
        if case .tls(let material) = variant, !spec.resumption { transport = try material.solidClient(resumption: false) }
        let resumed = SharedCounter()
        let service = try makeService(tls: transport) { info in
            if info.security?.sessionResumed == true { resumed.value.add(1, ordering: .relaxed) }
        }
        defer { service.stop() }
        let ping = Payload.randomBytes(64, seed: 13)
        // Warm-up: one connection (and the first ticket, with resumption), then closed like the others.
        _ = try roundTrip(service, EchoMessage(payload: ping), to: destination, expecting: EchoMessage.self, label: "SolidIPC warm-up")
        let closed = Completion<Bool>()
        try service.closePool(destination, mode: .force) { closed.complete(true) }
        _ = try closed.wait("SolidIPC close", timeout: 10)
        let opened = service.statistics.connectionsOpened
        resumed.value.store(0, ordering: .relaxed)
        let loop = SolidHandshakeLoop(service: service, destination: destination, ping: ping, total: spec.connections)
        try phase.begin()
        let start = nowNanos()
        reactor.execute { loop.next() }
        let end = try loop.done.wait("SolidIPC handshakes", timeout: Deadline.handshakes(spec)) {
            "\(loop.finished.load(ordering: .relaxed)) of \(spec.connections) connections"
        }.get()
        try phase.end()
        let made = service.statistics.connectionsOpened - opened
        guard made >= spec.connections else {
            throw BenchError("SolidIPC handshakes: \(made) connections opened for \(spec.connections) round trips")
        }
        return HandshakeOutcome(
            connections: spec.connections, elapsedNanos: end - start, latency: loop.latency,
            resumed: tls == nil ? nil : resumed.value.load(ordering: .relaxed))
    }
}

/// Opens, uses and closes one connection at a time on the client's reactor thread.
final class SolidHandshakeLoop: @unchecked Sendable {
    // @unchecked: `latency` and `started` are touched only on the client group's single reactor thread;
    // the main thread reads `latency` after `done`.
    let service: IPCService
    let destination: Destination
    let ping: [UInt8]
    let total: Int
    let finished = Atomic<Int>(0)
    let done = Completion<Result<UInt64, BenchError>>()
    var latency = LatencyHistogram()

    init(service: IPCService, destination: Destination, ping: [UInt8], total: Int) {
        self.service = service
        self.destination = destination
        self.ping = ping
        self.total = total
    }

    func next() {
        guard finished.load(ordering: .relaxed) < total else { return done.complete(.success(nowNanos())) }
        let started = nowNanos()
        do {
            try service.request(EchoMessage(payload: ping), to: destination, expecting: EchoMessage.self) { result in
                if case .failure(let error) = result { return self.fail("request: \(error)") }
                self.latency.record(nanos: nowNanos() &- started)
                self.finished.add(1, ordering: .relaxed)
                do {
                    try self.service.closePool(self.destination, mode: .force) { self.next() }
                } catch {
                    self.fail("closePool: \(error)")
                }
            }
        } catch {
            fail("send: \(error)")
        }
    }

    private func fail(_ text: String) { done.complete(.failure(BenchError("SolidIPC handshakes: \(text)"))) }
}
