/// W1/W1b: pipelined echo.
struct EchoSpec: Sendable {
    /// Round trips in all (split evenly over the connections).
    var roundTrips: Int
    /// Request and response payload bytes.
    var size: Int
    var connections: Int
    /// Requests in flight per connection.
    var depth: Int
    /// W4: the measured phase (RSS, allocations) begins before the connections open, so the server's RSS
    /// growth covers them; the rate is still timed from the first request.
    var phaseIncludesConnecting = false
}

/// What an echo run measured.
struct EchoOutcome: Sendable {
    var roundTrips: Int
    var elapsedNanos: UInt64
    var latency: LatencyHistogram
    var errors: Int
    var firstError: String?
    /// Connections the system really opened (W4), when it can tell.
    var connectionsOpened: Int?
}

/// W2: one message (or one stream) of `bytes` from client to server, answered by a small reply.
struct TransferSpec: Sendable {
    var bytes: Int
}

/// What a transfer measured.
struct TransferOutcome: Sendable {
    var bytes: Int
    var elapsedNanos: UInt64
    /// For streams: whether the server's checksum matched the generator's.
    var checksumOK: Bool?
}

/// W3: pings one at a time, first alone, then while one bulk message is in flight on the same connection.
struct HeadOfLineSpec: Sendable {
    var bulkBytes: Int
    /// W3 stream: the bulk is a stream (a stream field) instead of one in-memory message.
    var stream = false
    var idlePings: Int
    var pingSize: Int
}

/// What a head-of-line run measured.
struct HeadOfLineOutcome: Sendable {
    /// Pings with nothing else in flight.
    var idle: LatencyHistogram
    /// Pings sent while the bulk message awaited its reply.
    var busy: LatencyHistogram
    var bulkElapsedNanos: UInt64
}

/// The handshake workload: `connections` times in a row, open a fresh connection (TCP connect, the TLS
/// handshake, the system's own hello), make one 64 B round trip on it and close it.
struct HandshakeSpec: Sendable {
    var connections: Int
    /// TLS systems: keep the session tickets and resume (`false`: a full handshake every time).
    var resumption: Bool
}

/// What a handshake run measured.
struct HandshakeOutcome: Sendable {
    var connections: Int
    var elapsedNanos: UInt64
    /// Per connection: from the start of the connect to the answer of its round trip.
    var latency: LatencyHistogram
    /// Connections whose TLS session was resumed (nil where the system cannot tell).
    var resumed: Int?
}

/// The client half of a system. Each call runs one repetition: it opens fresh connections, warms them
/// with a round trip, brackets the measured part with `phase`, and closes them again.
protocol SystemClient: AnyObject {
    func echo(_ spec: EchoSpec, phase: MeasuredPhase) throws -> EchoOutcome
    func bulk(_ spec: TransferSpec, phase: MeasuredPhase) throws -> TransferOutcome
    func stream(_ spec: TransferSpec, phase: MeasuredPhase) throws -> TransferOutcome
    func headOfLine(_ spec: HeadOfLineSpec, phase: MeasuredPhase) throws -> HeadOfLineOutcome
    func handshakes(_ spec: HandshakeSpec, phase: MeasuredPhase) throws -> HandshakeOutcome
    /// What the connections negotiated (TLS protocol and cipher), for the report; nil when nothing to say.
    var connectionNote: String? { get }
    /// Releases threads and connections.
    func shutdown()
}

extension SystemClient {
    func stream(_ spec: TransferSpec, phase: MeasuredPhase) throws -> TransferOutcome {
        throw BenchError("streams are not part of this system's baseline")
    }
    func headOfLine(_ spec: HeadOfLineSpec, phase: MeasuredPhase) throws -> HeadOfLineOutcome {
        throw BenchError("W3 is not part of this system's baseline")
    }
    func handshakes(_ spec: HandshakeSpec, phase: MeasuredPhase) throws -> HandshakeOutcome {
        throw BenchError("the handshake workload is not part of this system's baseline")
    }
    var connectionNote: String? { nil }
}

/// Generous deadlines: a run that exceeds them is reported as hung, not waited for forever.
enum Deadline {
    static func echo(_ spec: EchoSpec) -> Double { 60 + Double(spec.roundTrips) / 1000 }
    static func transfer(_ bytes: Int) -> Double { 60 + Double(bytes) / 20e6 }
    static func handshakes(_ spec: HandshakeSpec) -> Double { 60 + Double(spec.connections) / 100 }
}
