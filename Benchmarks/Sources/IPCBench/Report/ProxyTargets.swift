/// The proxied rows against direct SolidIPC in the same run (printed under W1 and W2 stream). Target
/// (issue 13): through the relay, W2 stream at no more than 15 % below direct.
struct ProxyTargets {
    let group: [CaseResult]

    private func rate(_ system: SystemKind) -> Double? {
        group.first { $0.benchCase.system == system && !$0.benchCase.snappy && !$0.samples.isEmpty }?.rate?.median
    }

    func lines() -> [String] {
        guard let workload = group.first?.benchCase.workload, workload == .w1 || workload == .w2s,
            let direct = rate(.solidipc)
        else { return [] }
        var out: [String] = []
        for system in [SystemKind.solidsocks, .solidrelay] {
            guard let through = rate(system) else { continue }
            var line = "\(system.label) at \(formatRatio(through / direct)) of direct SolidIPC"
            if workload == .w2s && system == .solidrelay {
                line = "target relay W2 stream ≥ 0.85× direct: " + line + " — \(through >= 0.85 * direct ? "met" : "MISSED")"
            }
            out.append(line)
        }
        return out
    }
}
