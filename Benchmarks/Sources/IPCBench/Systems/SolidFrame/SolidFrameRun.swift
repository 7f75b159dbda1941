import Foundation
import Glibc

/// SolidFrame MPRPC (C++) in the same run: each repetition starts a fresh `sfbench server` (it exits once
/// its last client connection closes) pinned like the other servers, then an `sfbench client` in this
/// process's placement, and reads their `RESULT`, `CLIENT_RSS_KB` and `SERVER_RSS_KB` lines
/// (`../shared/bench/solidframe/README.md`). Never SolidFrame's code in this repository: only the path of
/// a binary built outside it.
struct SolidFrameRun {
    /// The `sfbench` binary (`--solidframe`).
    let path: String
    /// The CPU the server is pinned to (`taskset`), when pinning.
    let serverCPU: Int?

    /// What one repetition measured, with the percentiles sfbench printed (it keeps no histogram).
    struct Sample {
        var run: RunSample
        var latency: LatencySummary?
        var idle: LatencySummary?
        var busy: LatencySummary?
    }

    /// Runs one repetition (or the warm-up, with smaller counts) of `benchCase`.
    func run(_ benchCase: BenchCase, plan: Plan, warmUp: Bool) throws -> Sample {
        let portFile = "/tmp/ipc-bench-sfbench-\(getpid()).port"
        unlink(portFile)
        defer { unlink(portFile) }
        let server = try CollectedProcess(
            (serverCPU.map { ["taskset", "-c", "\($0)"] } ?? []) + [path, "server", "--port-file", portFile])
        defer { server.finish(graceSeconds: 10) }
        let port = try waitForPort(portFile, server: server)
        let (arguments, timeout) = clientArguments(benchCase, plan: plan, warmUp: warmUp)
        let client = try CollectedProcess([path, "client", "--port", port] + arguments)
        let status = client.finish(graceSeconds: timeout)
        let output = client.lines
        server.finish(graceSeconds: 10)
        guard let result = output.last(where: { $0.hasPrefix("RESULT ") }).map(keyValueFields) else {
            throw BenchError("sfbench client printed no RESULT (exit \(status)): \(output.suffix(5).joined(separator: " | "))")
        }
        guard result["FAILED"] == nil, status == 0 else {
            throw BenchError("sfbench client failed (exit \(status)): \(output.suffix(5).joined(separator: " | "))")
        }
        let clientRSS = output.compactMap { Self.kilobytes($0, "CLIENT_RSS_KB=") }.last
        let serverRSS = server.lines.compactMap { Self.kilobytes($0, "SERVER_RSS_KB=") }.last
        return try sample(benchCase, result, clientRSS: clientRSS, serverRSS: serverRSS)
    }

    /// The client's arguments and how long it may take.
    private func clientArguments(_ benchCase: BenchCase, plan: Plan, warmUp: Bool) -> ([String], Double) {
        switch benchCase.workload {
        case .w1, .w1b, .w4:
            let spec = plan.echoSpec(benchCase, warmUp: warmUp)
            let inflight = spec.connections * spec.depth
            return (["--workload", "w1", "--count", "\(spec.roundTrips)", "--inflight", "\(inflight)",
                     "--conns", "\(spec.connections)", "--payload", "\(spec.size)"], Deadline.echo(spec))
        case .w2, .w2s:
            let bytes = plan.transferBytes(benchCase, warmUp: warmUp)
            return (["--workload", benchCase.workload == .w2 ? "w2" : "w2s", "--size", "\(bytes)"], Deadline.transfer(bytes))
        case .w3, .w3s:
            let bytes = plan.transferBytes(benchCase, warmUp: warmUp)
            return (["--workload", benchCase.workload == .w3 ? "w3" : "w3s", "--size", "\(bytes)",
                     "--count", "\(warmUp ? 100 : plan.idlePings)", "--payload", "\(plan.pingSize)"], Deadline.transfer(bytes))
        case .hs:
            return ([], 0)
        }
    }

    private func sample(_ benchCase: BenchCase, _ result: [String: String], clientRSS: Int?, serverRSS: Int?) throws -> Sample {
        func number(_ key: String) throws -> Double {
            guard let value = result[key].flatMap(Double.init) else { throw BenchError("sfbench RESULT has no \(key)") }
            return value
        }
        var run = RunSample(seconds: 0, rate: 0, messages: 1, errors: 0)
        run.clientPeakRSS = clientRSS
        run.serverPeakRSS = serverRSS
        var outcome = Sample(run: run)
        switch benchCase.workload {
        case .w1, .w1b, .w4:
            outcome.run.seconds = try number("elapsed_s")
            outcome.run.rate = try number("rt_per_s")
            outcome.run.messages = Int(try number("count"))
            outcome.run.connectionsOpened = result["conns_opened"].flatMap { Int($0) }
            outcome.latency = LatencySummary(
                count: outcome.run.messages, p50: try number("p50_us"), p99: try number("p99_us"),
                p999: try number("p999_us"), max: try number("max_us"))
        case .w2, .w2s:
            outcome.run.seconds = try number("elapsed_s")
            outcome.run.rate = try number("MBps")
        case .w3, .w3s:
            outcome.run.seconds = try number("bulk_elapsed_s")
            outcome.run.rate = try number("bulk_MBps")
            let busy = Int(try number("busy_n"))
            outcome.run.busyPings = busy
            outcome.idle = LatencySummary(
                count: Int(try number("idle_n")), p50: try number("idle_p50_us"), p99: try number("idle_p99_us"),
                p999: .nan, max: .nan)
            outcome.busy = LatencySummary(
                count: busy, p50: try number("busy_p50_us"), p99: try number("busy_p99_us"), p999: .nan,
                max: try number("busy_max_us"))
        case .hs:
            throw BenchError("SolidFrame has no handshake workload here")
        }
        return outcome
    }

    /// Waits up to 15 s for the server's port file.
    private func waitForPort(_ file: String, server: CollectedProcess) throws -> String {
        for _ in 0..<1500 {
            if let text = try? String(contentsOfFile: file, encoding: .utf8),
                let port = text.split(whereSeparator: \.isNewline).first, UInt16(port) != nil
            {
                return String(port)
            }
            if server.hasExited { break }
            usleep(10_000)
        }
        throw BenchError("sfbench server did not start: \(server.lines.suffix(5).joined(separator: " | "))")
    }

    /// `KEY=<kB>` (first field of the line) in bytes.
    private static func kilobytes(_ line: String, _ key: String) -> Int? {
        guard line.hasPrefix(key) else { return nil }
        return line.dropFirst(key.count).split(separator: " ").first.flatMap { Int($0) }.map { $0 * 1024 }
    }
}

/// A child process whose stdout and stderr (merged) a thread collects line by line until it ends.
final class CollectedProcess: @unchecked Sendable {
    // @unchecked: `collected` is behind its lock; `process` is used by the creating thread only.
    private let process: Subprocess
    private let collected = NSLock()
    private var output: [String] = []
    private var ended = false
    private let done = DispatchSemaphore(value: 0)

    init(_ arguments: [String]) throws {
        process = try Subprocess.spawn(arguments, pipeStdout: true, mergeStderr: true)
        let fd = process.stdoutFD!
        Thread { [self] in
            let reader = LineReader(fd: fd)
            while let line = reader.readLine() {
                collected.lock()
                output.append(line)
                collected.unlock()
            }
            collected.lock()
            ended = true
            collected.unlock()
            done.signal()
        }.start()
    }

    /// What it printed so far.
    var lines: [String] {
        collected.lock()
        defer { collected.unlock() }
        return output
    }

    var hasExited: Bool {
        collected.lock()
        defer { collected.unlock() }
        return ended
    }

    /// Waits up to `graceSeconds` for its output to end, kills it if it has not, and returns its exit
    /// code. Idempotent.
    @discardableResult
    func finish(graceSeconds: Double) -> Int32 {
        if !hasExited, done.wait(timeout: .now() + graceSeconds) == .timedOut {
            kill(process.pid, SIGKILL)
            _ = done.wait(timeout: .now() + 5)
        } else if hasExited {
            done.signal()  // keep the semaphore signalled for a later call
        }
        return process.wait()
    }
}
