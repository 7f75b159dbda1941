import Glibc

/// A point in time on a ``ReactorClock``, in nanoseconds since an arbitrary start.
public struct ReactorInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Nanoseconds since the clock's origin.
    public var nanoseconds: UInt64

    /// Creates an instant from nanoseconds since the clock's origin.
    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    /// The instant `duration` later (negative durations are clamped to this instant; a sum past the end
    /// of time saturates, so `.seconds(.max)` means never, not a wrapped instant in the past).
    public func advanced(by duration: Duration) -> ReactorInstant {
        let (sum, overflow) = nanoseconds.addingReportingOverflow(duration.clampedNanoseconds)
        return ReactorInstant(nanoseconds: overflow ? .max : sum)
    }

    /// The time from `earlier` to this instant (zero when `earlier` is not earlier).
    public func duration(since earlier: ReactorInstant) -> Duration {
        guard nanoseconds > earlier.nanoseconds else { return .zero }
        return .nanoseconds(Int64(clamping: nanoseconds - earlier.nanoseconds))
    }

    public static func < (lhs: ReactorInstant, rhs: ReactorInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// The nanosecond count.
    public var description: String { "\(nanoseconds)ns" }
}

extension Duration {
    /// This duration in whole nanoseconds, clamped to `0...UInt64.max`.
    var clampedNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 || (seconds == 0 && attoseconds < 0) { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        let (total, carry) = whole.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000))
        return overflow || carry ? .max : total
    }
}

/// The time source of a reactor's timers.
///
/// Production code uses ``MonotonicClock``. Tests use ``ManualClock`` and move time by hand, so timer
/// behaviour (keep-alives, timeouts) is tested without sleeping.
public protocol ReactorClock: Sendable {
    /// The current time.
    func now() -> ReactorInstant
    /// `true` when time moves on its own. A reactor on a clock that does not (a ``ManualClock``) sleeps
    /// until woken instead of until the next deadline.
    var advancesByItself: Bool { get }
    /// Called once per reactor using this clock, so a manual clock can wake it when time moves.
    func attach(_ reactor: Reactor)
}

/// The system's monotonic clock (`CLOCK_MONOTONIC`).
public struct MonotonicClock: ReactorClock {
    /// Creates the clock.
    public init() {}

    /// The current monotonic time.
    @inline(__always)
    public func now() -> ReactorInstant {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return ReactorInstant(nanoseconds: UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec))
    }

    /// Always `true`.
    public var advancesByItself: Bool { true }

    /// Nothing to do: real time wakes reactors through the poll timeout.
    public func attach(_ reactor: Reactor) {}
}

/// A clock that moves only when told to, for deterministic tests of timers and timeouts.
///
/// Advancing it posts "run due timers" to every reactor that uses it, so anything posted to a reactor
/// after ``advance(by:)`` returns runs after the timers that became due (events are delivered in order).
public final class ManualClock: ReactorClock {
    private let state: Lock<(now: UInt64, reactors: [Reactor])>

    /// Creates a clock reading `start`.
    public init(start: ReactorInstant = ReactorInstant(nanoseconds: 1_000_000_000)) {
        state = Lock((start.nanoseconds, []))
    }

    /// The time set so far.
    public func now() -> ReactorInstant { ReactorInstant(nanoseconds: state.withLock { $0.now }) }

    /// Always `false`.
    public var advancesByItself: Bool { false }

    /// Remembers `reactor` so that ``advance(by:)`` can wake it.
    public func attach(_ reactor: Reactor) { state.withLock { $0.reactors.append(reactor) } }

    /// Moves time forward by `duration`; each attached reactor runs the timers now due before any event
    /// posted after this call.
    public func advance(by duration: Duration) {
        let reactors = state.withLock { state -> [Reactor] in
            state.now &+= duration.clampedNanoseconds
            return state.reactors
        }
        for reactor in reactors { reactor.execute { reactor.runDueTimers() } }
    }
}
