import Glibc
/// The bookkeeping of W3 shared by the systems: one ping in flight at a time, first `idlePings` alone,
/// then for as long as the bulk message has not been answered. Not thread-safe: each client drives it
/// from its one reactor or event-loop thread.
struct HeadOfLineState {
    /// What the driver must do next.
    enum Next {
        case sendPing
        case idleFinished
        /// The bulk reply arrived at this time and no ping is outstanding.
        case busyFinished(UInt64)
        case wait
    }

    /// Handed out per ping; given back with its answer.
    struct Ticket {
        let sentAt: UInt64
        let duringBulk: Bool
    }

    private(set) var idle = LatencyHistogram()
    private(set) var busy = LatencyHistogram()
    private var idleLeft: Int
    private var bulkPhase = false
    private var bulkEnd: UInt64?
    private var pingInFlight = false
    private var bulkStart: UInt64 = 0
    /// Busy pings as (offset of sending from the bulk start, latency), for `SOLID_BENCH_TRACE`.
    private(set) var trace: [(UInt64, UInt64)] = []

    init(idlePings: Int) { idleLeft = idlePings }

    /// The bulk message was sent: pings from now on are "during the transfer".
    mutating func bulkSent() {
        bulkPhase = true
        bulkStart = nowNanos()
    }

    /// A ping is about to be sent.
    mutating func pingSent() -> Ticket {
        pingInFlight = true
        return Ticket(sentAt: nowNanos(), duringBulk: bulkPhase && bulkEnd == nil)
    }

    /// A ping's answer arrived.
    mutating func pingAnswered(_ ticket: Ticket) -> Next {
        pingInFlight = false
        let latency = nowNanos() &- ticket.sentAt
        if ticket.duringBulk {
            busy.record(nanos: latency)
            trace.append((ticket.sentAt &- bulkStart, latency))
        } else if !bulkPhase {
            idle.record(nanos: latency)
        }
        if !bulkPhase {
            idleLeft -= 1
            return idleLeft > 0 ? .sendPing : .idleFinished
        }
        if let bulkEnd { return .busyFinished(bulkEnd) }
        return .sendPing
    }

    /// The bulk message's reply arrived.
    mutating func bulkAnswered() -> Next {
        let now = nowNanos()
        bulkEnd = now
        if getenv("SOLID_BENCH_TRACE") != nil {
            let slow = trace.sorted { $0.1 > $1.1 }.prefix(6).map { "\($0.1 / 1000) µs at +\($0.0 / 1000) µs" }
            print("trace: \(trace.count) pings, bulk \((now &- bulkStart) / 1000) µs; slowest: \(slow.joined(separator: ", "))")
        }
        return pingInFlight ? .wait : .busyFinished(now)
    }
}
