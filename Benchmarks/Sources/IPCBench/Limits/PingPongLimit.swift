import Glibc

/// The plain-C round-trip ceiling: compiles `shared/bench/tcp_pingpong.c` (never copied into the repo)
/// with `cc -O2` into a temporary directory and runs it at depth 1 and depth 64.
enum PingPongLimit {
    /// Where the source is: `--pingpong-source`, else `../shared/bench/tcp_pingpong.c` next to the
    /// repository (found from this executable's path or the working directory).
    static func locate(explicit: String?) -> String? {
        if let explicit { return access(explicit, R_OK) == 0 ? explicit : nil }
        var roots: [String] = []
        let executable = Subprocess.currentExecutable
        if let range = executable.range(of: "/Benchmarks/.build") { roots.append(String(executable[..<range.lowerBound])) }
        var buffer = [CChar](repeating: 0, count: 4096)
        if getcwd(&buffer, buffer.count) != nil {
            let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            roots += [cwd, cwd + "/.."]
        }
        for root in roots {
            let candidate = root + "/../shared/bench/tcp_pingpong.c"
            if access(candidate, R_OK) == 0 { return candidate }
        }
        return nil
    }

    static func run(source explicit: String?, pin: Bool, quick: Bool) -> [LimitResult] {
        guard let source = locate(explicit: explicit) else {
            return [LimitResult(name: "tcp_pingpong", summary: "skipped (source not found)")]
        }
        var template = Array("/tmp/ipc-bench-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { return [LimitResult(name: "tcp_pingpong", summary: "skipped (mkdtemp failed)")] }
        let directory = String(cString: made)
        let binary = directory + "/tcp_pingpong"
        defer {
            unlink(binary)
            rmdir(directory)
        }
        guard let compiled = try? Subprocess.run(["cc", "-O2", "-o", binary, source]), compiled.status == 0 else {
            return [LimitResult(name: "tcp_pingpong", summary: "skipped (cc -O2 failed on \(source))")]
        }
        let cpus = pin ? ["0", "1"] : ["-1", "-1"]
        let placement = pin ? "server CPU 0, client CPU 1" : "not pinned"
        var results: [LimitResult] = []
        for (depth, count) in [(64, quick ? 200_000 : 1_000_000), (1, quick ? 20_000 : 100_000)] {
            printError("limit: tcp_pingpong depth \(depth), \(count) round trips")
            let name = "tcp_pingpong depth \(depth)"
            guard let run = try? Subprocess.run([binary, "\(count)", "\(depth)", "64"] + cpus), run.status == 0,
                  let line = run.output.split(separator: "\n").first(where: { $0.hasPrefix("RESULT") })
            else {
                results.append(LimitResult(name: name, summary: "failed"))
                continue
            }
            var values: [String: Double] = [:]
            for part in line.split(separator: " ") {
                let pair = part.split(separator: "=")
                if pair.count == 2, let value = Double(pair[1]) { values[String(pair[0])] = value }
            }
            let rate = values["rt_per_s"].map { formatCount($0) } ?? "?"
            let p50 = values["p50_us"].map { formatMicros($0) } ?? "?"
            let p99 = values["p99_us"].map { formatMicros($0) } ?? "?"
            results.append(LimitResult(
                name: name, summary: "\(rate) round trips/s (p50 \(p50) µs, p99 \(p99) µs; plain C, 64 B, \(placement))",
                values: values))
        }
        return results
    }
}
