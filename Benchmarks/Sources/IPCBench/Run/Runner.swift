/// Runs the plan: starts each system's server once (a child process pinned to its CPU, or inside this
/// process), makes one client per case, runs one shortened warm-up, then the repetitions, interleaved
/// across the systems of a group so that slow drifts of the machine hit every system alike.
final class Runner {
    private let plan: Plan
    private let processes: Int
    private let serverCPU: Int?
    private let threadStackMebibytes: Int
    private let tls: TLSMaterial?
    private let proxies: ProxyPaths
    /// Runs the SolidFrame rows (`--solidframe`).
    private let solidFrame: SolidFrameRun?
    private var servers: [SystemKind: any ServerControl] = [:]
    /// Where each system's server ran (for the placement lines).
    private(set) var placements: [SystemKind: String] = [:]
    /// What each system's client connections negotiated (TLS protocol and cipher).
    private(set) var connectionNotes: [SystemKind: String] = [:]
    private var runNumber = 0
    private var runCount = 0

    init(
        plan: Plan, processes: Int, serverCPU: Int?, threadStackMebibytes: Int, tls: TLSMaterial?, proxies: ProxyPaths,
        solidFrame: String?
    ) {
        self.proxies = proxies
        self.solidFrame = solidFrame.map { SolidFrameRun(path: $0, serverCPU: serverCPU) }
        self.threadStackMebibytes = threadStackMebibytes
        self.tls = tls
        self.plan = plan
        self.processes = processes
        self.serverCPU = serverCPU
    }

    /// One case while its group runs.
    private struct CaseState {
        var result: CaseResult
        var client: (any SystemClient)?
        var latency = LatencyHistogram()
        var idle = LatencyHistogram()
        var busy = LatencyHistogram()
        /// SolidFrame rows: the percentiles sfbench printed, per repetition.
        var reported: [SolidFrameRun.Sample] = []
        var hung = false
    }

    /// Runs every group; returns their results in order.
    func run(_ groups: [[BenchCase]]) -> [[CaseResult]] {
        runCount = groups.reduce(0) { $0 + $1.count * (1 + plan.repetitions) }
        var results: [[CaseResult]] = []
        for group in groups {
            MessagePayloads.clear()  // a payload kept from the last group would count in this one's RSS
            var states = group.map { CaseState(result: CaseResult(benchCase: $0)) }
            func warmUp(_ index: Int) {
                let benchCase = states[index].result.benchCase
                if benchCase.system == .solidframe {
                    announce(benchCase, "warm-up")
                    do { _ = try runSolidFrame(benchCase, warmUp: true) } catch { fail(&states[index], error) }
                    return
                }
                do {
                    let server = try server(benchCase.system)
                    states[index].client = try benchCase.system.makeClient(endpoints: server.endpoints, snappy: benchCase.snappy)
                    announce(benchCase, "warm-up")
                    _ = try runOnce(benchCase, client: states[index].client!, server: server, warmUp: true)
                } catch {
                    fail(&states[index], error)
                }
            }
            func measure(_ index: Int, _ repetition: Int) {
                guard states[index].result.failure == nil else { return }
                let benchCase = states[index].result.benchCase
                announce(benchCase, "repetition \(repetition)/\(plan.repetitions)")
                if benchCase.system == .solidframe {
                    do {
                        let sample = try runSolidFrame(benchCase, warmUp: false)
                        states[index].result.samples.append(sample.run)
                        states[index].reported.append(sample)
                    } catch {
                        fail(&states[index], error)
                    }
                    return
                }
                do {
                    let (sample, histograms) = try runOnce(
                        benchCase, client: states[index].client!, server: try server(benchCase.system), warmUp: false)
                    states[index].result.samples.append(sample)
                    states[index].latency.merge(histograms.0)
                    states[index].idle.merge(histograms.1)
                    states[index].busy.merge(histograms.2)
                    if sample.errors > 0 {
                        states[index].result.failure = "\(sample.errors) failed round trips; first: \(sample.firstError ?? "?")"
                    }
                } catch {
                    fail(&states[index], error)
                }
            }
            if let first = group.first, Plan.runsBackToBack(first.workload) {
                // Whole-message transfers: each system's warm-up and repetitions one after the other
                // (see `Plan.runsBackToBack`).
                for index in states.indices {
                    warmUp(index)
                    for repetition in 1...plan.repetitions { measure(index, repetition) }
                }
            } else {
                // Everything else: repetitions interleaved across systems, so slow phases of the machine
                // spread over every row instead of hitting one.
                for index in states.indices { warmUp(index) }
                for repetition in 1...plan.repetitions {
                    for index in states.indices { measure(index, repetition) }
                }
            }
            for index in states.indices {
                if let note = states[index].client?.connectionNote { connectionNotes[states[index].result.benchCase.system] = note }
                if !states[index].hung { states[index].client?.shutdown() }
                states[index].result.summarise(latency: states[index].latency, idle: states[index].idle, busy: states[index].busy)
                if !states[index].reported.isEmpty {
                    let reported = states[index].reported
                    states[index].result.latency = LatencySummary.median(reported.compactMap(\.latency))
                    states[index].result.idleLatency = LatencySummary.median(reported.compactMap(\.idle))
                    states[index].result.busyLatency = LatencySummary.median(reported.compactMap(\.busy))
                }
            }
            results.append(states.map(\.result))
        }
        return results
    }

    /// Stops every server.
    func stopServers() {
        for server in servers.values { server.stop() }
        servers.removeAll()
    }

    private func runSolidFrame(_ benchCase: BenchCase, warmUp: Bool) throws -> SolidFrameRun.Sample {
        guard let solidFrame else { throw BenchError("no sfbench: run with --solidframe PATH") }
        placements[.solidframe] = "\(solidFrame.path): a fresh server per repetition"
            + (solidFrame.serverCPU.map { " pinned to CPU \($0) (taskset)" } ?? "") + ", the client in this process's placement"
        return try solidFrame.run(benchCase, plan: plan, warmUp: warmUp)
    }

    private func server(_ system: SystemKind) throws -> any ServerControl {
        if let existing = servers[system] { return existing }
        let material = system.usesTLS ? tls : nil
        var server: any ServerControl = processes == 1
            ? try InProcessServer(system: system, tls: material)
            : try ChildServer(system: system, cpu: serverCPU, threadStackMebibytes: threadStackMebibytes, tls: material)
        if let proxy = system.proxy { server = try ProxiedServer(server, proxy: proxy, paths: proxies) }
        servers[system] = server
        placements[system] = server.placement
        return server
    }

    private func announce(_ benchCase: BenchCase, _ what: String) {
        runNumber += 1
        let size = benchCase.bytes.map { " \(formatBytes($0))" } ?? ""
        printProgress("")
        printError("[\(runNumber)/\(runCount)] \(benchCase.workload.title)\(size) \(benchCase.label): \(what)")
    }

    /// Records a failed case. After a hang its client is abandoned (its threads may be stuck) and its
    /// server replaced, so later cases start clean.
    private func fail(_ state: inout CaseState, _ error: any Error) {
        let text = "\(error)"
        printError("  failed: \(text)")
        state.result.failure = text
        let system = state.result.benchCase.system
        if let server = servers[system], !server.isAlive {
            state.result.failure = text + " (the server process died)"
            server.stop()
            servers[system] = nil
        }
        guard text.contains("hung") else { return }
        state.hung = true
        if processes == 2 { servers[system]?.stop() }  // an in-process server may be stuck: leave it
        servers[system] = nil
    }

    /// One repetition (or the warm-up) of one case; returns the sample and the latency histograms
    /// (echo, W3 idle, W3 busy).
    private func runOnce(_ benchCase: BenchCase, client: any SystemClient, server: any ServerControl, warmUp: Bool)
        throws -> (RunSample, (LatencyHistogram, LatencyHistogram, LatencyHistogram))
    {
        let phase = MeasuredPhase(server: server)
        defer { phase.abandon() }
        var sample: RunSample
        var histograms = (LatencyHistogram(), LatencyHistogram(), LatencyHistogram())
        switch benchCase.workload {
        case .w1, .w1b, .w4:
            let spec = plan.echoSpec(benchCase, warmUp: warmUp)
            let outcome = try client.echo(spec, phase: phase)
            let elapsed = seconds(outcome.elapsedNanos)
            sample = RunSample(
                seconds: elapsed, rate: Double(outcome.roundTrips) / elapsed, messages: spec.roundTrips,
                errors: outcome.errors, firstError: outcome.firstError)
            sample.connectionsOpened = outcome.connectionsOpened
            histograms.0 = outcome.latency
        case .w2, .w2s:
            let spec = TransferSpec(bytes: plan.transferBytes(benchCase, warmUp: warmUp))
            let outcome = benchCase.workload == .w2 ? try client.bulk(spec, phase: phase) : try client.stream(spec, phase: phase)
            let elapsed = seconds(outcome.elapsedNanos)
            sample = RunSample(
                seconds: elapsed, rate: Double(outcome.bytes) / 1e6 / elapsed, messages: 1,
                errors: outcome.checksumOK == false ? 1 : 0,
                firstError: outcome.checksumOK == false ? "checksum mismatch" : nil, checksumOK: outcome.checksumOK)
        case .w3, .w3s:
            let spec = HeadOfLineSpec(
                bulkBytes: plan.transferBytes(benchCase, warmUp: warmUp), stream: benchCase.workload == .w3s,
                idlePings: warmUp ? 100 : plan.idlePings, pingSize: plan.pingSize)
            let outcome = try client.headOfLine(spec, phase: phase)
            let elapsed = seconds(outcome.bulkElapsedNanos)
            sample = RunSample(
                seconds: elapsed, rate: Double(spec.bulkBytes) / 1e6 / elapsed, messages: 1 + outcome.busy.count,
                errors: 0, busyPings: outcome.busy.count)
            histograms.1 = outcome.idle
            histograms.2 = outcome.busy
        case .hs:
            let spec = plan.handshakeSpec(benchCase, warmUp: warmUp)
            let outcome = try client.handshakes(spec, phase: phase)
            let elapsed = seconds(outcome.elapsedNanos)
            // A resumed row whose sessions were not all resumed is reported as failed (it measured the wrong thing).
            let missed = spec.resumption ? outcome.connections - (outcome.resumed ?? outcome.connections) : 0
            sample = RunSample(
                seconds: elapsed, rate: Double(outcome.connections) / elapsed, messages: outcome.connections,
                errors: missed, firstError: missed > 0 ? "\(missed) of \(outcome.connections) sessions not resumed" : nil,
                resumed: outcome.resumed)
            histograms.0 = outcome.latency
        }
        sample.clientAllocations = phase.clientAllocations
        sample.clientPeakRSS = phase.clientPeakRSS
        sample.clientStartRSS = phase.clientStartRSS
        sample.serverStartRSS = phase.serverReport?.startRSS
        sample.serverAllocations = phase.serverReport?.allocations
        sample.serverPeakRSS = phase.serverReport?.peakRSS
        return (sample, histograms)
    }
}
