import Foundation
import Glibc

/// The bulk ceiling: `iperf3` on loopback (server bound to 127.0.0.1, one-off), when it is installed.
enum IPerfLimit {
    static func run(pin: Bool) -> LimitResult {
        guard Subprocess.which("iperf3") != nil else {
            return LimitResult(name: "iperf3", summary: "skipped (not installed; install with `apt-get install -y iperf3`)")
        }
        guard let port = freeLoopbackPort() else { return LimitResult(name: "iperf3", summary: "skipped (no free port)") }
        printError("limit: iperf3, 3 s on 127.0.0.1:\(port)")
        let serverArguments = ["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", "\(port)"] + (pin ? ["-A", "0"] : [])
        guard let server = try? Subprocess.spawn(serverArguments, pipeStdout: true, mergeStderr: true) else {
            return LimitResult(name: "iperf3", summary: "failed to start the server")
        }
        defer {
            kill(server.pid, SIGTERM)
            let reader = LineReader(fd: server.stdoutFD!)
            while reader.readLine() != nil {}
            server.wait()
        }
        let clientArguments = ["iperf3", "-c", "127.0.0.1", "-p", "\(port)", "-t", "3", "-J"] + (pin ? ["-A", "1"] : [])
        for _ in 0..<20 {
            usleep(100_000)
            guard let run = try? Subprocess.run(clientArguments), run.status == 0 else { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any],
                  let end = object["end"] as? [String: Any], let received = end["sum_received"] as? [String: Any],
                  let bits = received["bits_per_second"] as? Double
            else { return LimitResult(name: "iperf3", summary: "failed (unreadable JSON)") }
            let megabytes = bits / 8 / 1e6
            let placement = pin ? "server CPU 0, client CPU 1" : "not pinned"
            return LimitResult(
                name: "iperf3", summary: "\(fixed(megabytes, 0)) MB/s received (3 s, 1 TCP stream, \(placement))",
                values: ["megabytes_per_second": megabytes])
        }
        return LimitResult(name: "iperf3", summary: "failed (client could not connect)")
    }

    /// A port the kernel considers free on 127.0.0.1 (bound and released at once).
    static func freeLoopbackPort() -> UInt16? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { return nil }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return named == 0 ? UInt16(bigEndian: address.sin_port) : nil
    }
}
