/// The reference figures of issue 6, measured on this machine type (2 vCPUs, cross-CPU placement):
/// printed next to the results for comparison, never asserted.
enum Targets {
    /// Lines printed under a workload's table.
    static func notes(_ workload: WorkloadID) -> [String] {
        switch workload {
        case .w1:
            return ["reference: SolidFrame MPRPC (C++, 16 KiB buffers) 447 k round trips/s (p50 145 µs, p99 190 µs);",
                    "raw C limit 1.09 M; plain SwiftNIO echo 513 k; grpc-swift 2 unary 13.7 k.",
                    "goal: ≥ 1.25× SolidFrame (≥ 559 k) and ≥ 1.1× NIO."]
        case .w1b:
            return ["reference: SolidFrame MPRPC 1.28 M round trips/s. goal: ≥ 1.25× SolidFrame (≥ 1.6 M) and ≥ 1.1× NIO."]
        case .w2:
            return ["reference: SolidFrame MPRPC 1133 MB/s with 264 MiB RSS per side (256 MiB message); plain SwiftNIO 1378 MB/s.",
                    "goal: ≥ 2× SolidFrame (≥ 2266 MB/s) with peak RSS ≤ 1.1× the payload per side."]
        case .w2s:
            return ["reference: SolidFrame MPRPC stream 2523 MB/s with 8.7 MiB RSS; iperf3 2459 MB/s;",
                    "plain SwiftNIO 256 MiB in 64 KiB frames 4427 MB/s with 12 MiB RSS.",
                    "goal: at least NIO's figure with ≤ 16 MiB RSS per side, for 256 MiB and for 4 GiB."]
        case .w3:
            return ["reference: SolidFrame MPRPC ping p99 82 µs during the transfer, but one 107 ms stall when the receiver",
                    "zero-fills the 256 MiB string; SwiftNIO: a ping waits 217 ms behind the bulk; grpc-swift 2: ping max 209 ms.",
                    "goal: ping p99 ≤ 100 µs during the transfer and no ping ever above 1 ms."]
        case .hs:
            return ["new connections one after the other: connect, TLS 1.3 handshake (EC P-256 certificate), the system's own",
                    "hello, one 64 B round trip, close; latency is per connection, from the connect to the answer.",
                    "goal: a figure against NIOSSL, with and without resumption (swift-nio-ssl keeps no client sessions)."]
        }
    }

    /// The SolidFrame figure SolidIPC's primary figure is compared with, and its unit.
    static func solidFrame(_ workload: WorkloadID) -> (value: Double, what: String)? {
        switch workload {
        case .w1: (447_000, "round trips/s")
        case .w1b: (1_280_000, "round trips/s")
        case .w2: (1133, "MB/s")
        case .w2s: (2523, "MB/s")
        case .w3: (82, "µs ping p99 during the transfer")
        case .hs: nil
        }
    }
}
