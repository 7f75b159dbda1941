/// The ratio of every SolidIPC figure of a table to the same figure of each baseline of the same run
/// (SolidFrame's rows among them when `--solidframe` was given).
struct RatioLines {
    let group: [CaseResult]

    /// A named figure of a result.
    private struct Figure {
        let name: String
        let value: (CaseResult) -> Double?
    }

    private var figures: [Figure] {
        let rss: [Figure] = [
            Figure(name: "RSS client") { $0.clientPeakRSS.map(Double.init) },
            Figure(name: "RSS server") { $0.serverPeakRSS.map(Double.init) },
        ]
        let allocations: [Figure] = [
            Figure(name: "allocs client") { $0.clientAllocationsPerMessage },
            Figure(name: "allocs server") { $0.serverAllocationsPerMessage },
        ]
        switch group.first?.benchCase.workload {
        case .w1, .w1b, .w4:
            return [Figure(name: "round trips/s") { $0.rate?.median }, Figure(name: "p50") { $0.latency?.p50 },
                    Figure(name: "p99") { $0.latency?.p99 }, Figure(name: "p99.9") { $0.latency?.p999 },
                    Figure(name: "max") { $0.latency?.max }] + allocations + rss
        case .w2, .w2s:
            return [Figure(name: "MB/s") { $0.rate?.median }] + allocations + rss
        case .w3, .w3s:
            return [Figure(name: "ping p50 during") { $0.busyLatency?.p50 }, Figure(name: "p99 during") { $0.busyLatency?.p99 },
                    Figure(name: "max during") { $0.busyLatency?.max }, Figure(name: "idle p99") { $0.idleLatency?.p99 },
                    Figure(name: "bulk MB/s") { $0.rate?.median }] + rss
        case .hs:
            return [Figure(name: "connections/s") { $0.rate?.median }, Figure(name: "p50") { $0.latency?.p50 },
                    Figure(name: "p99") { $0.latency?.p99 }] + allocations + rss
        case nil:
            return []
        }
    }

    func lines() -> [String] {
        let solid = group.filter { $0.benchCase.system.isSolidIPC && !$0.samples.isEmpty }
        let measured = group.filter { !$0.samples.isEmpty }
        guard !solid.isEmpty else { return [] }
        var out: [String] = []
        if measured.count > 1 {
            out.append("  SolidIPC ÷ baseline (rates: above 1× is faster; latencies, allocations, RSS: below 1× is less):")
        }
        for mine in solid {
            // Plain SolidIPC against the other systems; the TLS and Unix rows against their counterparts
            // (NIOSSL and plain SolidIPC; plain SolidIPC over TCP), never a Snappy row.
            let baselines = measured.filter { other in
                mine.benchCase.system.comparedWith.contains(other.benchCase.system) && !other.benchCase.snappy
            }
            for baseline in baselines {
                let parts = figures.compactMap { figure -> String? in
                    guard let a = figure.value(mine), let b = figure.value(baseline), !a.isNaN, !b.isNaN else { return nil }
                    // Allocation counts near zero (a baseline that allocates once per thousands of round
                    // trips) make a ratio meaningless: show both figures instead.
                    if b < 0.05 { return "\(figure.name) \(fixed(a, 2)) vs \(fixed(b, 2))" }
                    return "\(figure.name) \(formatRatio(a / b))"
                }
                out.append("    \(mine.benchCase.label) ÷ \(baseline.benchCase.label): " + parts.joined(separator: ", "))
            }
        }
        return out
    }
}
