import ArgumentParser
import CBenchSupport
import Foundation

/// `ipc-bench [run]`: runs the workloads and prints the table (or JSON).
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the workloads against every system and print the results.")

    @Flag(help: "Smaller counts and sizes (W1 50k round trips, W2 64 MiB, streams 64 and 512 MiB, W3 64 MiB), 1 repetition.")
    var quick = false
    @Option(help: "2: the server runs in a child process (RSS per side); 1: client and server in this process.")
    var processes = 2
    @Option(help: "Pin the server to CPU 0 and the client to CPU 1 (on, off); two processes only.")
    var pin: Switch = .on
    @Option(help: "Measured repetitions after the warm-up (default 3, 1 with --quick).")
    var repetitions: Int?
    @Option(help: "Comma-separated workloads: w1, w1b, w2 (= w2m message + w2s stream), w2m, w2s, w3, w3s (pings during a stream), w4 (1,000 connections), hs (TLS handshakes).")
    var workloads = "w1,w1b,w2,w3,w3s,w4,hs"
    @Option(help: "Comma-separated systems: solidipc, raw, nio, grpc, solidtls, solidunix, niossl, solidsocks, solidrelay, solidasync, solidpool (W4 only).")
    var systems = "solidipc,solidasync,solidpool,raw,nio,grpc,solidtls,solidunix,niossl,solidsocks,solidrelay"
    @Option(help: "The SOCKS5 proxy program of the solidsocks rows (Debian's microsocks).")
    var microsocks = "microsocks"
    @Option(help: "The relay of the solidrelay rows (`swift build -c release --product relay-proxy` in the repository root).")
    var relayProxy = ".build/release/relay-proxy"
    @Option(help: "The sfbench binary of SolidFrame MPRPC (built with ../shared/bench/solidframe/build.sh SOURCE OUT): adds SolidFrame rows to W1, W1b, W2, W2 stream, W3, W3 stream and W4.")
    var solidframe: String?
    @Flag(help: "Leave out the SolidIPC + Snappy rows.")
    var noSnappy = false
    @Flag(help: "Skip the physical limits (tcp_pingpong, iperf3, openssl speed).")
    var skipLimits = false
    @Option(help: "Path of tcp_pingpong.c (default: ../shared/bench/tcp_pingpong.c next to the repository).")
    var pingpongSource: String?
    @Option(help: "Stack reserved per thread, MiB (default 0: the system default).")
    var threadStackMib = ThreadStacks.defaultMebibytes
    @Flag(help: "Print the results as JSON on stdout instead of the table.")
    var json = false
    @Option(help: "Also write the results as JSON to this file.")
    var jsonOutput: String?

    func validate() throws {
        guard processes == 1 || processes == 2 else { throw ValidationError("--processes is 1 or 2") }
        if let repetitions, repetitions < 1 { throw ValidationError("--repetitions must be at least 1") }
        _ = try selectedWorkloads()
        _ = try selectedSystems()
    }

    private func selectedWorkloads() throws -> [WorkloadID] {
        var result: [WorkloadID] = []
        for name in workloads.lowercased().split(separator: ",") {
            switch name {
            case "w1": result.append(.w1)
            case "w1b": result.append(.w1b)
            case "w2": result += [.w2, .w2s]
            case "w2m": result.append(.w2)
            case "w2s": result.append(.w2s)
            case "w3": result.append(.w3)
            case "w3s": result.append(.w3s)
            case "w4": result.append(.w4)
            case "hs": result.append(.hs)
            default: throw ValidationError("unknown workload \(name) (w1, w1b, w2, w2m, w2s, w3, w3s, w4, hs)")
            }
        }
        return result
    }

    private func selectedSystems() throws -> [SystemKind] {
        var kinds = try systems.lowercased().split(separator: ",").map { name in
            guard let kind = SystemKind(rawValue: String(name)) else { throw ValidationError("unknown system \(name)") }
            return kind
        }
        if let solidframe {
            guard access(solidframe, X_OK) == 0 else { throw ValidationError("--solidframe \(solidframe) is not an executable") }
            if !kinds.contains(.solidframe) { kinds.append(.solidframe) }
        } else if kinds.contains(.solidframe) {
            throw ValidationError("the solidframe rows need --solidframe PATH (../shared/bench/solidframe/build.sh SOURCE OUT builds it)")
        }
        return kinds
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let cpuCount = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let pinning = processes == 2 && pin == .on && cpuCount >= 2
        var placement: [String] = []
        let stacks = ThreadStacks.apply(mebibytes: threadStackMib)
        if pinning {
            // Before any thread exists, so every thread of this process inherits it.
            let error = bench_pin_to_cpu(1)
            placement.append(error == 0
                ? "client process pinned to CPU 1 (sched_setaffinity; now allowed: \(ProcessMemory.allowedCPUs() ?? "?"))"
                : "client process NOT pinned (sched_setaffinity errno \(error))")
        } else {
            placement.append(processes == 1
                ? "one process: server and client threads not pinned; RSS and allocations cover both sides"
                : "not pinned (--pin off or fewer than 2 CPUs)")
        }
        placement.append(
            "SolidIPC connections: receiveBufferSize \(solidReceiveBufferSize.map { "\($0 / 1024) KiB" } ?? "the kernel's (library default)"), unsentBytesLimit 32 KiB (library default)")
        let plan = Plan(quick: quick, repetitions: repetitions)
        let groups = plan.groups(workloads: try selectedWorkloads(), systems: try selectedSystems(), snappy: !noSnappy)
        // One CA and server certificate for every TLS system of the run (files for the server children).
        let tls = try selectedSystems().contains(where: \.usesTLS) ? try TLSMaterial.create() : nil
        defer { tls?.remove() }
        let start = nowNanos()
        let startDate = MachineFacts.now()
        let loadAtStart = MachineFacts.loadAverage()
        var limits: [LimitResult] = []
        if !skipLimits {
            limits += PingPongLimit.run(source: pingpongSource, pin: pinning, quick: quick)
            limits.append(IPerfLimit.run(pin: pinning))
            limits.append(FreshMemoryLimit.run(pin: pinning))
            if tls != nil { limits += CipherLimit.run(pin: pinning) }
        }
        let runner = Runner(
            plan: plan, processes: processes, serverCPU: pinning ? 0 : nil, threadStackMebibytes: threadStackMib, tls: tls,
            proxies: ProxyPaths(microsocks: microsocks, relay: relayProxy), solidFrame: solidframe)
        let results = runner.run(groups)
        runner.stopServers()
        for system in SystemKind.allCases {
            if let line = runner.placements[system] { placement.append("\(system.label): \(line)") }
            if let note = runner.connectionNotes[system] { placement.append("\(system.label): negotiated \(note)") }
        }
        let report = BenchReport(
            date: startDate, machine: MachineFacts.describe(),
            load: "\(loadAtStart) at the start, \(MachineFacts.loadAverage()) at the end",
            mode: "\(processes) process\(processes == 1 ? "" : "es")\(quick ? ", --quick" : ""); each side on a one-thread reactor / event loop",
            processes: processes, placement: placement + (stacks.map { [$0] } ?? []), repetitions: plan.repetitions, plan: PlanSummary(plan), groups: results, limits: limits,
            targets: Dictionary(uniqueKeysWithValues: WorkloadID.allCases.map { ($0.rawValue, Targets.notes($0)) }))
        printProgress("")
        printError("ipc-bench: finished in \(fixed(seconds(nowNanos() - start), 1)) s")
        // The table first: a failure to write the JSON must not lose the run.
        print(json ? try report.json() : TableReport(report: report).render())
        if let jsonOutput {
            try report.json().write(toFile: jsonOutput, atomically: true, encoding: .utf8)
        }
    }
}
