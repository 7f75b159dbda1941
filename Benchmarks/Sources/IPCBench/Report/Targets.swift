/// What each workload measures and the targets it is held to (issue 15), printed under its table. The
/// figures the targets compare are all from the same run (``PerformanceTargets``); none is a constant.
enum Targets {
    /// Lines printed under a workload's table.
    static func notes(_ workload: WorkloadID) -> [String] {
        switch workload {
        case .w1:
            return ["targets: ≥ 0.8× raw TCP on SolidReactor, ≥ 1.5× SolidFrame, ≤ 1 allocation per round trip on each side."]
        case .w1b:
            return ["targets: ≥ 0.8× raw TCP on SolidReactor and ≥ 1.5× SolidFrame."]
        case .w2:
            return ["targets: ≥ 0.9× iperf3 and ≥ 2× SolidFrame, every repetition within 20 % of the median, the plain row",
                    "at least as fast as the Snappy row, peak RSS ≤ 1.1× the payload per side."]
        case .w2s:
            return ["targets: ≥ 0.9× iperf3 (256 MiB and 4 GiB), RSS growth ≤ 1 MiB per side."]
        case .w3, .w3s:
            return ["targets: ping p99 during the transfer ≤ SolidFrame's, no ping above 1 ms, the bulk at ≥ 0.9× its rate alone",
                    "(W3: the W2 message; W3 stream: the 256 MiB W2 stream)."]
        case .w4:
            return ["the measured phase starts before the connections open (RSS growth covers them; SolidFrame prints only its peak);",
                    "targets: ≥ 1.5× SolidFrame, ≤ 16 KiB of server RSS per established connection."]
        case .hs:
            return ["new connections one after the other: connect, TLS 1.3 handshake (EC P-256 certificate), the system's own",
                    "hello, one 64 B round trip, close; latency is per connection, from the connect to the answer.",
                    "goal: a figure against NIOSSL, with and without resumption (swift-nio-ssl keeps no client sessions)."]
        }
    }
}
