/// The readable report: one table per workload (and size), the ratios of every SolidIPC figure to each
/// baseline, the physical limits, and the reference figures of the issue.
struct TableReport {
    let report: BenchReport

    func render() -> String {
        var out: [String] = []
        out.append("ipc-bench — SolidIPC against raw TCP, SwiftNIO and grpc-swift 2 (\(report.date))")
        out.append("machine: \(report.machine)")
        out.append("load average (1 min): \(report.load)")
        out.append("mode: \(report.mode)")
        for line in report.placement { out.append("placement: \(line)") }
        out.append("figures: median [min–max] over \(report.repetitions) repetition(s) after one shortened warm-up;")
        out.append("latency percentiles pool every repetition; RSS is the highest peak (VmHWM) of a repetition, with the")
        out.append("growth over the RSS at its start in brackets; allocations are malloc calls per round trip (echo) or per")
        out.append("message (transfers) during the measured phase; MB = 10⁶ bytes. Payloads are pseudo-random (incompressible).")
        for group in report.groups {
            out.append("")
            out.append(contentsOf: render(group))
        }
        if !report.limits.isEmpty {
            out.append("")
            out.append("Physical limits, same run:")
            for limit in report.limits { out.append("  \(limit.name): \(limit.summary)") }
        }
        return out.joined(separator: "\n")
    }

    private func render(_ group: [CaseResult]) -> [String] {
        guard let first = group.first else { return [] }
        let workload = first.benchCase.workload
        var out = [title(first)]
        var table: TextTable
        switch workload {
        case .w1, .w1b, .w4:
            let opened = workload == .w4 ? ["opened"] : []
            table = TextTable(["system", "round trips/s", "p50 µs", "p99 µs", "p99.9 µs", "max µs"] + opened
                              + ["allocs/rt \(side)", "server", "peak RSS \(side)", "server", "note"])
            for result in group {
                let connections = workload == .w4
                    ? [Spread(result.samples.compactMap { $0.connectionsOpened.map(Double.init) }).map { fixed($0.median, 0) } ?? "—"]
                    : []
                table.add([result.benchCase.label, formatSpread(result.rate, formatCount),
                           micros(result.latency?.p50), micros(result.latency?.p99), micros(result.latency?.p999),
                           micros(result.latency?.max)] + connections + costs(result) + [note(result)])
            }
        case .w2, .w2s:
            table = TextTable(["system", "MB/s", "seconds", "allocs \(side)", "server", "peak RSS \(side)", "server", "note"])
            for result in group {
                let secondsSpread = Spread(result.samples.map(\.seconds))
                table.add([result.benchCase.label, formatSpread(result.rate) { fixed($0, 0) },
                           secondsSpread.map { fixed($0.median, 2) } ?? "—"] + costs(result) + [note(result)])
            }
        case .w3, .w3s:
            table = TextTable(["system", "idle p50 µs", "p99", "max", "during bulk p50 µs", "p99", "p99.9", "max",
                               "pings during", "bulk MB/s", "peak RSS \(side)", "server", "note"])
            for result in group {
                let pings = Spread(result.samples.compactMap { $0.busyPings.map(Double.init) })
                table.add([result.benchCase.label, micros(result.idleLatency?.p50), micros(result.idleLatency?.p99),
                           micros(result.idleLatency?.max), micros(result.busyLatency?.p50), micros(result.busyLatency?.p99),
                           micros(result.busyLatency?.p999), micros(result.busyLatency?.max),
                           pings.map { fixed($0.median, 0) } ?? "—", formatSpread(result.rate) { fixed($0, 0) },
                           rss(result.clientPeakRSS, result.clientStartRSS), rss(result.serverPeakRSS, result.serverStartRSS),
                           note(result)])
            }
        case .hs:
            table = TextTable(["system", "connections/s", "p50 µs", "p99 µs", "max µs",
                               "allocs/conn \(side)", "server", "peak RSS \(side)", "server", "note"])
            for result in group {
                table.add([result.benchCase.label, formatSpread(result.rate, formatCount),
                           micros(result.latency?.p50), micros(result.latency?.p99), micros(result.latency?.max)]
                          + costs(result) + [note(result)])
            }
        }
        out.append(table.render())
        for result in group where result.failure != nil {
            out.append("  ! \(result.benchCase.label): \(result.failure!)")
        }
        out.append(contentsOf: RatioLines(group: group).lines())
        out.append(contentsOf: Targets.notes(workload).map { "  " + $0 })
        out.append(contentsOf: PerformanceTargets(report: report, group: group).lines())
        out.append(contentsOf: TLSTargets(report: report, group: group).lines().map { "  " + $0 })
        out.append(contentsOf: ProxyTargets(group: group).lines().map { "  " + $0 })
        out.append(contentsOf: limitNotes(workload))
        return out
    }

    private func title(_ result: CaseResult) -> String {
        let plan = report.plan
        switch result.benchCase.workload {
        case .w1:
            return "W1 — pipelined echo: 64 B request → 64 B response, 1 connection × 64 in flight, "
                + "\(grouped(plan.roundTrips)) round trips per repetition (gRPC, SOCKS5: \(grouped(plan.grpcRoundTrips)))"
        case .w1b:
            return "W1b — pipelined echo: 64 B, 4 connections × 64 in flight (256 in all), "
                + "\(grouped(plan.roundTrips)) round trips per repetition (gRPC, SOCKS5: \(grouped(plan.grpcRoundTrips)))"
        case .w2:
            return "W2 — one \(formatBytes(result.benchCase.bytes ?? 0)) message client → server, received whole, small reply"
        case .w2s:
            return "W2 stream — \(formatBytes(result.benchCase.bytes ?? 0)) from a generator into a checksumming sink "
                + "(SolidIPC: one StreamField; raw/NIO: 64 KiB frames)"
        case .hs:
            return "Handshakes — \(grouped(result.benchCase.roundTrips ?? plan.handshakeConnections)) new connections one after "
                + "the other per repetition, each with one 64 B round trip"
        case .w3:
            return "W3 — 64 B pings one at a time on the connection carrying one \(formatBytes(result.benchCase.bytes ?? 0)) "
                + "message: alone (\(grouped(plan.idlePings)) pings), then while the message awaits its reply"
        case .w3s:
            return "W3 stream — 64 B pings one at a time on the connection carrying one \(formatBytes(result.benchCase.bytes ?? 0)) "
                + "stream (a stream field from a generator): alone (\(grouped(plan.idlePings)) pings), then during the stream"
        case .w4:
            return "W4 — many connections: 1,000 connections × 1 request of 64 B in flight, "
                + "\(grouped(plan.roundTrips)) round trips per repetition"
        }
    }

    /// The client columns cover the whole process in one-process mode.
    private var side: String { report.processes == 1 ? "process" : "client" }

    private func costs(_ result: CaseResult) -> [String] {
        [result.clientAllocationsPerMessage.map(allocations) ?? "—", result.serverAllocationsPerMessage.map(allocations) ?? "—",
         rss(result.clientPeakRSS, result.clientStartRSS), rss(result.serverPeakRSS, result.serverStartRSS)]
    }

    private func allocations(_ value: Double) -> String { value >= 100 ? formatCount(value) : fixed(value, 2) }

    private func micros(_ value: Double?) -> String { value.flatMap { $0.isNaN ? nil : formatMicros($0) } ?? "—" }

    private func rss(_ peak: Int?, _ start: Int?) -> String {
        guard let peak, peak >= 0 else { return "—" }
        guard let start, start >= 0 else { return formatBytes(peak) }
        return "\(formatBytes(peak)) (+\(formatBytes(max(0, peak - start))))"
    }

    private func note(_ result: CaseResult) -> String {
        if result.failure != nil { return result.samples.isEmpty ? "FAILED" : "errors" }
        if result.samples.contains(where: { $0.checksumOK == false }) { return "checksum MISMATCH" }
        if result.samples.contains(where: { $0.checksumOK == true }) { return "checksum ok" }
        if let resumed = Spread(result.samples.compactMap { $0.resumed.map(Double.init) }), result.benchCase.workload == .hs {
            return "resumed \(fixed(resumed.min, 0))–\(fixed(resumed.max, 0)) of \(grouped(result.samples.first?.messages ?? 0))"
        }
        return ""
    }

    private func limitNotes(_ workload: WorkloadID) -> [String] {
        let wanted: [String] = switch workload {
        case .w1: ["tcp_pingpong depth 64", "tcp_pingpong depth 1"]
        case .w2: ["iperf3", "fresh memory", "cipher"]
        case .w2s: ["iperf3", "cipher"]
        case .w3: ["fresh memory", "cipher"]
        case .w3s: ["cipher"]
        default: []
        }
        return report.limits.filter { limit in wanted.contains { limit.name.hasPrefix($0) } }
            .map { "  physical limit, \($0.name): \($0.summary)" }
    }
}
