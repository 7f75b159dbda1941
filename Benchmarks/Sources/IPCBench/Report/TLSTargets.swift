/// The status of the TLS and Unix-socket targets, computed from a table's rows (printed under it):
/// - W1: SolidIPC + TLS ≥ 0.8× plain SolidIPC; SolidIPC over a Unix socket ≥ 1.3× over TCP loopback.
/// - W2 stream: SolidIPC + TLS ≥ 1.2 GB/s and ≥ 1.5× SwiftNIO + NIOSSL (each size).
/// - W3: no ping above 1 ms during the TLS bulk message.
/// - Handshakes: no target; SolidIPC + TLS against NIOSSL, and resumed against full.
struct TLSTargets {
    let report: BenchReport
    let group: [CaseResult]

    private func row(_ system: SystemKind, resumption: Bool = false) -> CaseResult? {
        group.first { $0.benchCase.system == system && !$0.benchCase.snappy && $0.benchCase.resumption == resumption
            && !$0.samples.isEmpty }
    }

    private func status(_ met: Bool) -> String { met ? "met" : "MISSED" }

    /// Microseconds with their unit: `412 µs`, `2.10 ms`.
    private func micros(_ value: Double) -> String {
        let text = formatMicros(value)
        return text.hasSuffix("s") ? text : text + " µs"
    }

    func lines() -> [String] {
        guard let workload = group.first?.benchCase.workload else { return [] }
        var out: [String] = []
        let tls = row(.solidtls)
        switch workload {
        case .w1:
            if let tls, let plain = row(.solidipc), let a = tls.rate?.median, let b = plain.rate?.median {
                out.append("target TLS W1 ≥ 0.8× plain SolidIPC: \(formatCount(a)) vs \(formatCount(b)) = "
                           + "\(formatRatio(a / b)) — \(status(a >= 0.8 * b))")
            }
            if let unix = row(.solidunix), let plain = row(.solidipc), let a = unix.rate?.median, let b = plain.rate?.median {
                out.append("target Unix-socket W1 ≥ 1.3× TCP loopback: \(formatCount(a)) vs \(formatCount(b)) = "
                           + "\(formatRatio(a / b)) — \(status(a >= 1.3 * b))")
            }
        case .w2s:
            guard let tls, let rate = tls.rate?.median else { break }
            var line = "target TLS W2 stream ≥ 1.2 GB/s: \(fixed(rate / 1000, 2)) GB/s — \(status(rate >= 1200))"
            if let nio = row(.niossl)?.rate?.median {
                line += "; ≥ 1.5× NIO+NIOSSL: \(fixed(nio / 1000, 2)) GB/s, \(formatRatio(rate / nio)) — \(status(rate >= 1.5 * nio))"
            }
            out.append(line)
            for limit in report.limits where limit.name.hasPrefix("cipher ") {
                guard let speed = limit.values["bytes_per_second"] else { continue }
                out.append("  SolidIPC + TLS at \(Int((rate * 1e6 / speed * 100).rounded())) % of one core's "
                           + "\(limit.name.dropFirst(7)) (\(fixed(speed / 1e9, 2)) GB/s)")
            }
        case .w3:
            guard let tls, let busy = tls.busyLatency else { break }
            out.append("target W3 during a TLS bulk, no ping above 1 ms: max \(micros(busy.max)), p99.9 \(micros(busy.p999)), "
                       + "p99 \(micros(busy.p99)) over \(busy.count) pings — \(status(busy.max <= 1000))")
        case .hs:
            let resumed = row(.solidtls, resumption: true)
            if let full = tls?.rate?.median {
                var line = "handshakes: SolidIPC + TLS \(formatCount(full)) full/s"
                if let nio = row(.niossl)?.rate?.median { line += " (\(formatRatio(full / nio)) NIO+NIOSSL's \(formatCount(nio)))" }
                if let again = resumed?.rate?.median { line += ", \(formatCount(again)) resumed/s (\(formatRatio(again / full)) full)" }
                if let plain = row(.solidipc)?.rate?.median { line += "; without TLS \(formatCount(plain))/s" }
                out.append(line)
            }
        case .w1b, .w2, .w3s, .w4:
            break
        }
        return out
    }
}
