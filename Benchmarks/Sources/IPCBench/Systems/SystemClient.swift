/// W1/W1b: pipelined echo.
struct EchoSpec: Sendable {
    /// Round trips in all (split evenly over the connections).
    var roundTrips: Int
    /// Request and response payload bytes.
    var size: Int
    var connections: Int
    /// Requests in flight per connection.
    var depth: Int
}

/// What an echo run measured.
struct EchoOutcome: Sendable {
    var roundTrips: Int
    var elapsedNanos: UInt64
    var latency: LatencyHistogram
    var errors: Int
    var firstError: String?
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

/// The client half of a system. Each call runs one repetition: it opens fresh connections, warms them
/// with a round trip, brackets the measured part with `phase`, and closes them again.
protocol SystemClient: AnyObject {
    func echo(_ spec: EchoSpec, phase: MeasuredPhase) throws -> EchoOutcome
    func bulk(_ spec: TransferSpec, phase: MeasuredPhase) throws -> TransferOutcome
    func stream(_ spec: TransferSpec, phase: MeasuredPhase) throws -> TransferOutcome
    func headOfLine(_ spec: HeadOfLineSpec, phase: MeasuredPhase) throws -> HeadOfLineOutcome
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
}

/// Generous deadlines: a run that exceeds them is reported as hung, not waited for forever.
enum Deadline {
    static func echo(_ spec: EchoSpec) -> Double { 60 + Double(spec.roundTrips) / 1000 }
    static func transfer(_ bytes: Int) -> Double { 60 + Double(bytes) / 20e6 }
}
