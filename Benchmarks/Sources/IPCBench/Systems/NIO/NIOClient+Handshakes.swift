import NIOCore
import NIOPosix
import Synchronization

extension NIOTransport {
    /// The handshake workload on the event loop: connect (with the NIOSSL handler when this is the TLS
    /// baseline), send the echo-mode frame and one 64 B frame, close the channel when the answer arrives
    /// (without waiting for the close to finish, as SolidIPC's forced pool close does not) and connect
    /// again. Every connection makes a full handshake: swift-nio-ssl keeps no client sessions.
    func handshakes(_ spec: HandshakeSpec, phase: MeasuredPhase) throws -> HandshakeOutcome {
        guard !spec.resumption || tls == nil else {
            throw BenchError("swift-nio-ssl 2.37.6 has no client-side session resumption")
        }
        let loop = NIOHandshakeLoop(transport: self, total: spec.connections)
        group.next().execute { loop.next() }  // warm-up: one connection
        _ = try loop.done.wait("\(name) warm-up connection", timeout: 30).get()
        loop.reset()
        try phase.begin()
        let start = nowNanos()
        group.next().execute { loop.next() }
        let end = try loop.done.wait("\(name) handshakes", timeout: Deadline.handshakes(spec)) {
            "\(loop.finished.load(ordering: .relaxed)) of \(spec.connections) connections"
        }.get()
        try phase.end()
        return HandshakeOutcome(connections: spec.connections, elapsedNanos: end - start, latency: loop.latency, resumed: nil)
    }
}

/// One connection at a time on the transport's event loop.
final class NIOHandshakeLoop: @unchecked Sendable {
    // @unchecked: everything but `finished` and `done` is touched only on the transport's one event loop
    // thread; the main thread reads `latency` after `done`.
    private let transport: NIOTransport
    private let measuredTotal: Int
    private var total = 1
    private(set) var done = Completion<Result<UInt64, BenchError>>()
    let finished = Atomic<Int>(0)
    var latency = LatencyHistogram()
    private let mode = ByteBuffer.frame([FrameProtocol.echoMode])
    private let ping = ByteBuffer.frame(Payload.randomBytes(64, seed: 13))

    /// Starts with a single (warm-up) connection; ``reset()`` sets the real count.
    init(transport: NIOTransport, total: Int) {
        self.transport = transport
        measuredTotal = total
    }

    /// After the warm-up (main thread, while nothing runs): the measured count, fresh figures.
    func reset() {
        total = measuredTotal
        finished.store(0, ordering: .relaxed)
        latency = LatencyHistogram()
        done = Completion()
    }

    func next() {
        guard finished.load(ordering: .relaxed) < total else { return done.complete(.success(nowNanos())) }
        let started = nowNanos()
        let connection = NIOClientConnection()
        let mode = self.mode
        let ping = self.ping
        transport.bootstrap(for: connection).connect(host: "127.0.0.1", port: transport.port).whenComplete { result in
            switch result {
            case .failure(let error):
                self.done.complete(.failure(BenchError("\(self.transport.name) connect: \(error)")))
            case .success(let channel):
                connection.onResponse = { _, _, _ in
                    self.latency.record(nanos: nowNanos() &- started)
                    self.finished.add(1, ordering: .relaxed)
                    connection.onResponse = nil
                    channel.close(promise: nil)
                    self.next()
                }
                channel.write(mode, promise: nil)
                connection.send([ping], tag: .echo, flush: true)
            }
        }
    }
}
