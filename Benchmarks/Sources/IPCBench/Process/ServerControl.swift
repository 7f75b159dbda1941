import Glibc

/// The client's handle on a running server: its ports, where it runs, and per-phase counters.
protocol ServerControl: AnyObject {
    var endpoints: ServerEndpoints { get }
    /// Where the server runs, for the placement line.
    var placement: String { get }
    /// Resets the server's peak RSS and starts counting its allocations.
    func beginPhase() throws
    /// Stops counting; `nil` when the server shares the client's process.
    func endPhase() throws -> ServerPhaseReport?
    /// `false` once a child server has exited (crashed).
    var isAlive: Bool { get }
    func stop()
}

/// A server in a child process of this same binary (`ipc-bench serve`), spoken to over its stdin and
/// stdout: it prints `READY port=… cpus=…` (and `unix=PATH` for a Unix-domain socket server), answers `BEGIN` with `OK` and `END` with
/// `END allocations=… peak=… start=…`, and exits when its stdin closes.
final class ChildServer: ServerControl {
    let endpoints: ServerEndpoints
    let placement: String
    private let process: Subprocess
    private let reader: LineReader
    private let system: SystemKind
    private var exited = false

    init(system: SystemKind, cpu: Int?, threadStackMebibytes: Int, tls: TLSMaterial?) throws {
        self.system = system
        var arguments = [Subprocess.currentExecutable, "serve", "--system", system.rawValue,
                         "--thread-stack-mib", "\(threadStackMebibytes)"]
        if let cpu { arguments += ["--cpu", "\(cpu)"] }
        if let tls { arguments += ["--tls-dir", tls.directory] }
        process = try Subprocess.spawn(arguments, pipeStdin: true, pipeStdout: true)
        reader = LineReader(fd: process.stdoutFD!)
        guard let line = reader.readLine(), line.hasPrefix("READY ") else {
            let code = process.wait()
            throw BenchError("\(system.rawValue) server child exited (code \(code)) before it was ready")
        }
        let fields = keyValueFields(line)
        guard let port = fields["port"].flatMap({ UInt16($0) }) else { throw BenchError("bad READY line: \(line)") }
        endpoints = ServerEndpoints(port: port, unixPath: fields["unix"], tls: tls)
        let cpus = fields["cpus"] ?? "?"
        placement = "server pid \(process.pid) may run on CPU \(cpus)"
    }

    func beginPhase() throws {
        try process.send("BEGIN")
        guard reader.readLine() == "OK" else { throw BenchError("\(system.rawValue) server child did not answer BEGIN") }
    }

    func endPhase() throws -> ServerPhaseReport? {
        try process.send("END")
        guard let line = reader.readLine(), line.hasPrefix("END ") else {
            throw BenchError("\(system.rawValue) server child did not answer END")
        }
        let fields = keyValueFields(line)
        return ServerPhaseReport(
            allocations: fields["allocations"].flatMap { Int($0) } ?? -1, peakRSS: fields["peak"].flatMap { Int($0) } ?? -1,
            startRSS: fields["start"].flatMap { Int($0) } ?? -1)
    }

    var isAlive: Bool { kill(process.pid, 0) == 0 && !hasExited() }

    private func hasExited() -> Bool {
        var status: Int32 = 0
        guard waitpid(process.pid, &status, WNOHANG) == process.pid else { return false }
        printError("ipc-bench: \(system.rawValue) server child \(process.pid) exited with status \(status)")
        process.closeStdout()
        exited = true
        return true
    }

    /// Closes the child's stdin and waits up to 10 s for it to exit, then kills it.
    func stop() {
        process.closeStdin()
        if exited { return }
        for _ in 0..<1000 {
            var status: Int32 = 0
            if waitpid(process.pid, &status, WNOHANG) != 0 {
                process.closeStdout()
                return
            }
            usleep(10_000)
        }
        printError("ipc-bench: \(system.rawValue) server child \(process.pid) did not exit within 10 s; killing it")
        kill(process.pid, SIGKILL)
        process.wait()
    }

}

/// A server running inside the client's process (`--processes 1`): no separate counters.
final class InProcessServer: ServerControl {
    let endpoints: ServerEndpoints
    let placement = "server in the client's process, not pinned"
    private let server: any SystemServer

    init(system: SystemKind, tls: TLSMaterial?) throws {
        server = try system.makeServer(tls: tls)
        var endpoints = try server.start()
        endpoints.tls = tls
        self.endpoints = endpoints
    }

    func beginPhase() throws {}
    func endPhase() throws -> ServerPhaseReport? { nil }
    var isAlive: Bool { true }
    func stop() { server.stop() }
}
