/// The workloads of issue 6.
enum WorkloadID: String, Codable, Sendable, CaseIterable {
    /// Pipelined echo, 1 connection × 64 in flight.
    case w1
    /// Pipelined echo, 4 connections × 64 in flight (256 in all).
    case w1b
    /// One bulk message client → server, small reply.
    case w2
    /// One stream from a generator into a checksumming sink.
    case w2s
    /// Pings during a bulk message on the same connection.
    case w3
    /// Pings during a bulk stream (a stream field) on the same connection.
    case w3s
    /// Many connections: 1,000 connections × 1 request in flight.
    case w4
    /// New connections per second: connect, TLS handshake (full or resumed), one round trip, close.
    case hs

    /// The name in tables.
    var title: String {
        switch self {
        case .w1: "W1"
        case .w1b: "W1b"
        case .w2: "W2"
        case .w2s: "W2 stream"
        case .w3: "W3"
        case .w3s: "W3 stream"
        case .w4: "W4"
        case .hs: "Handshakes"
        }
    }

    /// Which systems take part: the four of issue 6 everywhere, except gRPC in the stream workload (issue
    /// 6 asks for unary gRPC only); the TLS, Unix-socket and proxied systems in W1 and W2 stream, SolidIPC +
    /// TLS also in W3, and the handshake workload (TLS systems, with plain SolidIPC and SwiftNIO for the cost of a
    /// connection without TLS).
    func includes(_ system: SystemKind) -> Bool {
        switch self {
        case .w1: system != .solidpool
        case .w1b: [.solidipc, .raw, .nio, .grpc, .solidasync, .solidframe].contains(system)
        case .w2: [.solidipc, .raw, .nio, .grpc, .solidframe].contains(system)
        case .w2s: system != .grpc && system != .solidpool
        case .w3: [.solidipc, .raw, .nio, .grpc, .solidtls, .solidframe].contains(system)
        case .w3s: [.solidipc, .solidframe].contains(system)
        case .w4: [.solidipc, .solidpool, .raw, .nio, .solidframe].contains(system)
        case .hs: [.solidipc, .nio, .solidtls, .niossl].contains(system)
        }
    }
}

/// One row of a results table: a system (with or without Snappy) running a workload at one size.
struct BenchCase: Codable, Sendable {
    var workload: WorkloadID
    var system: SystemKind
    var snappy: Bool
    /// Handshakes, TLS rows: resumed sessions rather than full handshakes.
    var resumption = false
    /// W1/W1b: round trips per repetition; handshakes: connections.
    var roundTrips: Int?
    /// W2/W2s/W3: message or stream size.
    var bytes: Int?

    var label: String {
        let tls = workload == .hs && system.usesTLS ? (resumption ? ", resumed" : ", full handshake") : ""
        return system.label + (snappy ? " + Snappy" : "") + tls
    }
}

/// Counts and sizes of a run (`--quick` shrinks them) and the cases in the order they run.
struct Plan {
    let quick: Bool
    let repetitions: Int
    let roundTrips: Int
    /// gRPC and the SOCKS5 rows make a tenth of the round trips (gRPC is ~30× slower; microsocks relays
    /// ~700 round trips/s; rates do not depend on the count).
    let grpcRoundTrips: Int
    let bulkBytes: Int
    let streamSizes: [Int]
    let headOfLineBytes: Int
    let idlePings: Int
    /// Connections per repetition of the handshake workload.
    let handshakeConnections: Int
    let pingSize = 64
    let echoSize = 64
    /// W4's connections.
    let manyConnections = 1000

    init(quick: Bool, repetitions: Int?) {
        self.quick = quick
        self.repetitions = repetitions ?? (quick ? 1 : 3)
        roundTrips = quick ? 50_000 : 200_000
        grpcRoundTrips = roundTrips / 10
        bulkBytes = (quick ? 64 : 256) << 20
        streamSizes = quick ? [64 << 20, 512 << 20] : [256 << 20, 4 << 30]
        headOfLineBytes = (quick ? 64 : 256) << 20
        idlePings = quick ? 1000 : 5000
        handshakeConnections = quick ? 500 : 2000
    }

    /// Groups of cases that share a table; each group's repetitions are interleaved across its systems.
    func groups(workloads: [WorkloadID], systems: [SystemKind], snappy: Bool) -> [[BenchCase]] {
        var groups: [[BenchCase]] = []
        for workload in WorkloadID.allCases where workloads.contains(workload) {
            let sizes: [Int?] = switch workload {
            case .w1, .w1b, .w4: [nil]
            case .w2: [bulkBytes]
            case .w2s: streamSizes
            case .w3, .w3s: [headOfLineBytes]
            case .hs: [nil]
            }
            for (index, size) in sizes.enumerated() {
                var group: [BenchCase] = []
                for system in systems where workload.includes(system) {
                    if workload == .hs {
                        group.append(BenchCase(workload: workload, system: system, snappy: false, roundTrips: handshakeConnections))
                        // swift-nio-ssl keeps no client sessions: only SolidIPC has a resumed row.
                        if system == .solidtls {
                            group.append(BenchCase(
                                workload: workload, system: system, snappy: false, resumption: true, roundTrips: handshakeConnections))
                        }
                        continue
                    }
                    let count: Int? = size == nil ? (system == .grpc || system == .solidsocks ? grpcRoundTrips : roundTrips) : nil
                    group.append(BenchCase(workload: workload, system: system, snappy: false, roundTrips: count, bytes: size))
                    // Snappy on the SolidIPC rows; for streams only at the smaller size (the 4 GiB case is long).
                    if system == .solidipc && snappy && index == 0 {
                        group.append(BenchCase(workload: workload, system: system, snappy: true, roundTrips: count, bytes: size))
                    }
                }
                if !group.isEmpty { groups.append(group) }
            }
        }
        return groups
    }

    /// The connections and depth of an echo workload: W1 1 × 64, W1b 4 × 64, W4 1,000 × 1.
    func echoSpec(_ benchCase: BenchCase, warmUp: Bool) -> EchoSpec {
        let (connections, depth) = switch benchCase.workload {
        case .w1b: (4, 64)
        case .w4: (manyConnections, 1)
        default: (1, 64)
        }
        let count = benchCase.roundTrips ?? roundTrips
        return EchoSpec(
            roundTrips: warmUp ? max(count / 10, 1000) : count, size: echoSize, connections: connections, depth: depth,
            phaseIncludesConnecting: benchCase.workload == .w4)
    }

    /// The connections of a handshake run.
    func handshakeSpec(_ benchCase: BenchCase, warmUp: Bool) -> HandshakeSpec {
        let count = benchCase.roundTrips ?? handshakeConnections
        return HandshakeSpec(connections: warmUp ? max(count / 10, 50) : count, resumption: benchCase.resumption)
    }

    /// Workloads whose systems run one after the other (warm-up, then every repetition) instead of
    /// interleaved: a whole 256 MiB message is received into fresh memory, and on a virtual machine that
    /// hands memory unused for a few seconds back to its host (free page reporting), filling it again runs
    /// at a fraction of the usual rate. Interleaved, the system that followed gRPC's 3 s and SolidFrame's
    /// runs always met such memory (measured: the plain SolidIPC row at 404 MB/s in every repetition, the
    /// Snappy row right after it at 2008, the same transfer in W3 at 1965). Their warm-up is full size for
    /// the same reason.
    static func runsBackToBack(_ workload: WorkloadID) -> Bool { workload == .w2 || workload == .w3 }

    /// A warm-up transfer is at most 64 MiB, except for whole messages (``runsBackToBack(_:)``).
    func transferBytes(_ benchCase: BenchCase, warmUp: Bool) -> Int {
        let bytes = benchCase.bytes ?? bulkBytes
        guard warmUp, !Self.runsBackToBack(benchCase.workload) else { return bytes }
        return min(bytes, 64 << 20)
    }
}
