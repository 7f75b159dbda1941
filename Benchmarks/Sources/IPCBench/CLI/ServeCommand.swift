import ArgumentParser
import CAllocationCounter
import CBenchSupport
import Glibc

/// `ipc-bench serve`: the server child the client process starts (hidden). Prints its ports on stdout,
/// answers phase commands on stdin, and exits when stdin closes or says `QUIT`.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run one system's benchmark server (started by ipc-bench itself).",
        shouldDisplay: false)

    @Option(help: "solidipc, raw, nio, grpc, solidtls, solidunix or niossl.") var system: String
    @Option(help: "Pin this process to this CPU.") var cpu: Int?
    @Option(help: "Stack reserved per thread, MiB (default 0: the system default).") var threadStackMib = ThreadStacks.defaultMebibytes
    @Option(help: "Directory with ca.pem, cert.pem and key.pem (the TLS systems).") var tlsDir: String?

    func run() throws {
        guard let kind = SystemKind(rawValue: system) else { throw ValidationError("unknown system \(system)") }
        signal(SIGPIPE, SIG_IGN)
        _ = ThreadStacks.apply(mebibytes: threadStackMib)
        if let cpu {
            let error = bench_pin_to_cpu(Int32(cpu))
            if error != 0 { printError("ipc-bench serve: cannot pin to CPU \(cpu): errno \(error)") }
        }
        let server = try kind.makeServer(tls: tlsDir.map { TLSMaterial(directory: $0) })
        let endpoints = try server.start()
        let unix = endpoints.unixPath.map { " unix=\($0)" } ?? ""
        reply("READY port=\(endpoints.port) cpus=\(ProcessMemory.allowedCPUs() ?? "?")\(unix)")
        var startRSS = -1
        while let line = readLine() {
            switch line {
            case "BEGIN":
                bench_release_free_memory()
                ProcessMemory.resetPeak()
                startRSS = ProcessMemory.currentBytes() ?? -1
                allocation_counter_start()
                reply("OK")
            case "END":
                let allocations = allocation_counter_stop()
                reply("END allocations=\(allocations) peak=\(ProcessMemory.peakBytes() ?? -1) start=\(startRSS)")
            case "QUIT":
                server.stop()
                return
            default:
                reply("ERROR unknown command \(line)")
            }
        }
        server.stop()
    }

    private func reply(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    }
}
