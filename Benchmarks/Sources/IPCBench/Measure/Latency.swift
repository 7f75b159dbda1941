import Histogram

/// Round-trip latencies in nanoseconds, kept in an HdrHistogram (3 significant digits, up to 10 minutes).
///
/// A value type: each recording thread owns its own and the results are merged afterwards.
struct LatencyHistogram: Sendable {
    private static let highest: UInt64 = 600_000_000_000
    private(set) var histogram = Histogram<UInt64>(
        lowestDiscernibleValue: 1, highestTrackableValue: LatencyHistogram.highest, numberOfSignificantValueDigits: .three)

    /// Records one latency.
    @inline(__always)
    mutating func record(nanos: UInt64) { _ = histogram.record(min(max(nanos, 1), Self.highest)) }

    /// Adds every value of `other`.
    mutating func merge(_ other: LatencyHistogram) { histogram.add(other.histogram) }

    /// Number of recorded values.
    var count: Int { Int(histogram.totalCount) }

    /// Percentiles in microseconds, or `nil` when nothing was recorded.
    var summary: LatencySummary? {
        guard count > 0 else { return nil }
        return LatencySummary(
            count: count,
            p50: Double(histogram.valueAtPercentile(50)) / 1000,
            p99: Double(histogram.valueAtPercentile(99)) / 1000,
            p999: Double(histogram.valueAtPercentile(99.9)) / 1000,
            max: Double(histogram.max) / 1000)
    }
}

/// Latency percentiles of one histogram, in microseconds.
struct LatencySummary: Codable, Sendable {
    var count: Int
    var p50: Double
    var p99: Double
    var p999: Double
    var max: Double
}

extension LatencySummary {
    /// Percentiles reported per repetition (a system whose histogram is not ours): the median of each
    /// over the repetitions, the highest maximum; `nil` for none.
    static func median(_ summaries: [LatencySummary]) -> LatencySummary? {
        guard !summaries.isEmpty else { return nil }
        func median(_ values: [Double]) -> Double {
            let known = values.filter { !$0.isNaN }
            return Spread(known)?.median ?? .nan
        }
        return LatencySummary(
            count: summaries.reduce(0) { $0 + $1.count }, p50: median(summaries.map(\.p50)),
            p99: median(summaries.map(\.p99)), p999: median(summaries.map(\.p999)),
            max: summaries.map(\.max).filter { !$0.isNaN }.max() ?? .nan)
    }
}
