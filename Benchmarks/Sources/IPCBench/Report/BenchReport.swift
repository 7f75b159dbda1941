import Foundation

/// Everything one `ipc-bench` run measured; the table is rendered from it and `--json` prints it.
struct BenchReport: Codable {
    /// When the run started.
    var date: String
    var machine: String
    /// 1-minute load average when the run started and when it ended.
    var load: String
    var mode: String
    /// 2: server in a child process; 1: both sides in one process (client figures cover both).
    var processes: Int
    var placement: [String]
    var repetitions: Int
    var plan: PlanSummary
    var groups: [[CaseResult]]
    var limits: [LimitResult]
    /// The reference figures of issue 6, per workload.
    var targets: [String: [String]]

    /// JSON with sorted keys.
    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // A figure a system does not report (SolidFrame prints no p99.9 for W3) is NaN: "nan" in JSON.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

/// The counts and sizes a run used.
struct PlanSummary: Codable {
    var quick: Bool
    var roundTrips: Int
    var grpcRoundTrips: Int
    var bulkBytes: Int
    var streamSizes: [Int]
    var headOfLineBytes: Int
    var idlePings: Int
    var handshakeConnections: Int

    init(_ plan: Plan) {
        quick = plan.quick
        roundTrips = plan.roundTrips
        grpcRoundTrips = plan.grpcRoundTrips
        bulkBytes = plan.bulkBytes
        streamSizes = plan.streamSizes
        headOfLineBytes = plan.headOfLineBytes
        idlePings = plan.idlePings
        handshakeConnections = plan.handshakeConnections
    }
}

/// A physical-limit measurement (tcp_pingpong, iperf3), or why it was skipped.
struct LimitResult: Codable {
    var name: String
    var summary: String
    var values: [String: Double] = [:]
}

/// Facts about the machine for the report header.
enum MachineFacts {
    static func describe() -> String {
        var uts = utsname()
        uname(&uts)
        let kernel = withUnsafeBytes(of: &uts.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let model = readSmallFile("/proc/cpuinfo")?.split(separator: "\n")
            .first { $0.hasPrefix("model name") }?.split(separator: ":").last?.trimmingCharacters() ?? "unknown CPU"
        let memory = (readSmallFile("/proc/meminfo")?.split(separator: "\n").first { $0.hasPrefix("MemTotal") })
            .flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") }.map { formatBytes($0 * 1024) } ?? "?"
        return "\(ProcessInfo.processInfo.activeProcessorCount) CPUs (\(model)), \(memory), Linux \(kernel), release build"
    }

    /// The 1-minute load average (other work on the machine shows here).
    static func loadAverage() -> String {
        readSmallFile("/proc/loadavg")?.split(separator: " ").first.map(String.init) ?? "?"
    }

    /// Local date and time, `2026-11-25 20:31 UTC`-style.
    static func now() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm zzz"
        return formatter.string(from: Date())
    }
}
