/// Issue 15's targets, judged on figures of the same run: SolidIPC against raw TCP, SolidFrame (when
/// `--solidframe` was given), iperf3 and its own other rows. One line per target: the figures, the ratio
/// and met / MISSED, or why it cannot be judged.
struct PerformanceTargets {
    let report: BenchReport
    let group: [CaseResult]

    private var workload: WorkloadID? { group.first?.benchCase.workload }

    private func row(_ system: SystemKind, snappy: Bool = false, in rows: [CaseResult]? = nil) -> CaseResult? {
        (rows ?? group).first { $0.benchCase.system == system && $0.benchCase.snappy == snappy && !$0.samples.isEmpty }
    }

    private func status(_ met: Bool) -> String { met ? "met" : "MISSED" }

    /// "value (ratio× of what) — met/MISSED", or a reason.
    private func ratioLine(_ name: String, _ mine: Double?, _ other: Double?, _ otherName: String, atLeast: Double) -> String {
        guard let mine else { return "\(name): no SolidIPC figure" }
        guard let other else { return "\(name): \(otherName) not in this run" + solidFrameHint(otherName) }
        return "\(name): \(formatRatio(mine / other)) (\(formatRate(mine)) vs \(formatRate(other))) — \(status(mine >= atLeast * other))"
    }

    private func solidFrameHint(_ name: String) -> String {
        name.hasPrefix("SolidFrame")
            ? " (ipc-bench run --solidframe PATH; build sfbench with ../shared/bench/solidframe/build.sh SOURCE OUT)" : ""
    }

    private func formatRate(_ value: Double) -> String {
        switch workload {
        case .w2, .w2s, .w3, .w3s: "\(fixed(value, 0)) MB/s"
        default: formatCount(value)
        }
    }

    /// A latency in µs with its unit (the table's ``formatMicros`` leaves µs bare).
    private func withUnit(_ micros: Double) -> String {
        let text = formatMicros(micros)
        return text.hasSuffix("s") ? text : text + " µs"
    }

    private var iperf: Double? { report.limits.first { $0.name == "iperf3" }?.values["megabytes_per_second"] }

    func lines() -> [String] {
        guard let workload, let mine = row(.solidipc) else { return [] }
        let frame = row(.solidframe)
        var out: [String] = []
        switch workload {
        case .w1, .w1b:
            out.append(ratioLine("target ≥ 0.8× raw TCP", mine.rate?.median, row(.raw)?.rate?.median, "raw TCP", atLeast: 0.8))
            out.append(ratioLine("target ≥ 1.5× SolidFrame", mine.rate?.median, frame?.rate?.median, "SolidFrame", atLeast: 1.5))
            if let async = row(.solidasync)?.rate?.median {
                out.append(ratioLine("target async request ≥ 0.8× the callback row (issue 14)", async, mine.rate?.median, "SolidIPC", atLeast: 0.8))
            }
            if workload == .w1, let client = mine.clientAllocationsPerMessage, let server = mine.serverAllocationsPerMessage {
                out.append("target ≤ 1 allocation per round trip each side: client \(fixed(client, 2)), server \(fixed(server, 2)) — "
                           + status(client <= 1 && server <= 1))
            }
        case .w4:
            out.append(ratioLine("target ≥ 1.5× SolidFrame", mine.rate?.median, frame?.rate?.median, "SolidFrame", atLeast: 1.5))
            if let pooled = row(.solidpool)?.rate?.median {
                out.append(ratioLine("target ≥ 1.5× SolidFrame, one pool (SolidFrame's configuration)", pooled, frame?.rate?.median, "SolidFrame", atLeast: 1.5))
            }
            for system in [SystemKind.solidipc, .solidpool, .raw, .nio, .solidframe] {
                guard let result = row(system) else { continue }
                let opened = Spread(result.samples.compactMap { $0.connectionsOpened.map(Double.init) }).map { fixed($0.median, 0) } ?? "?"
                var line = "\(system.label): \(opened) connections opened"
                if let peak = result.serverPeakRSS, let start = result.serverStartRSS, peak >= 0, start >= 0,
                    let connections = result.samples.first?.connectionsOpened, connections > 0
                {
                    let perConnection = Double(peak - start) / Double(connections)
                    line += ", server RSS growth \(formatBytes(Int(perConnection))) per connection"
                    if system == .solidipc { line += " (target ≤ 16 KiB — \(status(perConnection <= 16 * 1024)))" }
                } else if let peak = result.serverPeakRSS {
                    line += ", server peak RSS \(formatBytes(peak))"
                }
                out.append(line)
            }
        case .w2, .w2s:
            let bytes = mine.benchCase.bytes ?? 0
            out.append(ratioLine("target ≥ 0.9× iperf3 (\(formatBytes(bytes)))", mine.rate?.median, iperf, "iperf3", atLeast: 0.9))
            if workload == .w2 {
                out.append(ratioLine("target ≥ 2× SolidFrame", mine.rate?.median, frame?.rate?.median, "SolidFrame", atLeast: 2))
                let rates = mine.samples.map(\.rate)
                if let median = mine.rate?.median, median > 0 {
                    let worst = rates.map { abs($0 - median) / median }.max() ?? 0
                    out.append("target every repetition within 20 % of the median: farthest \(Int((worst * 100).rounded())) % — \(status(worst <= 0.2))")
                }
                if let plain = mine.rate?.median, let snappy = row(.solidipc, snappy: true)?.rate?.median {
                    out.append("target plain ≥ Snappy row: \(fixed(plain, 0)) vs \(fixed(snappy, 0)) MB/s — \(status(plain >= snappy))")
                }
                for (side, peak, start) in [("client", mine.clientPeakRSS, mine.clientStartRSS), ("server", mine.serverPeakRSS, mine.serverStartRSS)] {
                    guard let peak, bytes > 0 else { continue }
                    // The process's own RSS (the benchmark program with every system linked in) counts in
                    // the peak; the growth over the phase's start shows what the transfer itself took.
                    let growth = start.map { ", growth over the phase's start \(formatBytes(max(0, peak - $0))) = \(fixed(Double(max(0, peak - $0)) / Double(bytes), 2))×" } ?? ""
                    out.append("target \(side) peak RSS ≤ 1.1× the payload: \(formatBytes(peak)) = \(fixed(Double(peak) / Double(bytes), 2))×\(growth) — "
                               + status(Double(peak) <= 1.1 * Double(bytes)))
                }
            } else {
                for (side, peak, start) in [("client", mine.clientPeakRSS, mine.clientStartRSS), ("server", mine.serverPeakRSS, mine.serverStartRSS)] {
                    guard let peak, let start else { continue }
                    out.append("target \(side) RSS growth ≤ 1 MiB: \(formatBytes(max(0, peak - start))) — \(status(peak - start <= 1 << 20))")
                }
            }
        case .w3, .w3s:
            if let busy = mine.busyLatency {
                out.append("target no ping above 1 ms during the transfer: max \(withUnit(busy.max)) over \(busy.count) pings — "
                           + status(busy.max <= 1000))
                if let theirs = frame?.busyLatency?.p99 {
                    out.append("target ping p99 ≤ SolidFrame's: \(withUnit(busy.p99)) vs \(withUnit(theirs)) — \(status(busy.p99 <= theirs))")
                } else {
                    out.append("target ping p99 ≤ SolidFrame's: SolidFrame not in this run" + solidFrameHint("SolidFrame"))
                }
            }
            // The bulk alone: the W2 message (W3) or the W2 stream of the same size (W3 stream).
            let alone = report.groups.first { rows in
                rows.first?.benchCase.workload == (workload == .w3 ? .w2 : .w2s) && rows.first?.benchCase.bytes == mine.benchCase.bytes
            }.flatMap { row(.solidipc, in: $0) }?.rate?.median
            out.append(ratioLine("target bulk ≥ 0.9× its rate alone", mine.rate?.median, alone, "the same transfer alone", atLeast: 0.9))
        case .hs:
            break
        }
        return out.map { "  " + $0 }
    }
}
