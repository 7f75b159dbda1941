import Glibc
import Synchronization
import SolidReactor

/// `reactor-echo`: runs an echo server and a pipelined load client in one process on one reactor group,
/// then prints round trips per second.
@main
struct ReactorEchoCommand {
    struct Options {
        var seconds = 3.0
        var connections = 4
        var depth = 16
        var size = 64
        var threads = 2
    }

    static func main() throws {
        let options = try parse(Array(CommandLine.arguments.dropFirst()))
        let group = try ReactorGroup(threads: options.threads)
        let stats = EchoStats()
        let port = Atomic<Int>(-1)
        let serverReactor = group.reactors[0]
        let server = ServerBox()
        serverReactor.execute {
            do {
                server.set(try EchoServer(address: .loopbackV4(), on: serverReactor, group: group))
                port.store(Int(server.port ?? 0), ordering: .releasing)
            } catch {
                print("server failed to start: \(error)")
                port.store(0, ordering: .releasing)
            }
        }
        while port.load(ordering: .acquiring) < 0 { usleep(1000) }
        guard port.load(ordering: .acquiring) > 0 else { exit(1) }
        let address = SocketAddress.loopbackV4(port: UInt16(port.load(ordering: .acquiring)))
        print("reactor-echo: server on \(address), \(options.threads) reactor threads")
        print("client: \(options.connections) connections × \(options.depth) in flight × \(options.size) B, \(options.seconds) s")
        for _ in 0..<options.connections {
            let reactor = group.next()
            reactor.execute {
                EchoLoadConnection.start(
                    to: address, on: reactor, size: options.size, depth: options.depth, stats: stats)
            }
        }
        let start = MonotonicClock().now()
        var lastPrint = start
        var lastTrips = 0
        while true {
            usleep(200_000)
            let now = MonotonicClock().now()
            let elapsed = Double(now.nanoseconds - start.nanoseconds) / 1e9
            if Double(now.nanoseconds - lastPrint.nanoseconds) >= 1e9 {
                let trips = stats.roundTrips.load(ordering: .relaxed)
                let window = Double(now.nanoseconds - lastPrint.nanoseconds) / 1e9
                let rate = Double(trips - lastTrips) / window
                print("  t=\(fixed(elapsed, 1)) s  \(fixed(rate, 0)) round trips/s")
                lastPrint = now
                lastTrips = trips
            }
            if elapsed >= options.seconds { break }
        }
        let elapsed = Double(MonotonicClock().now().nanoseconds - start.nanoseconds) / 1e9
        let trips = stats.roundTrips.load(ordering: .relaxed)
        let bytes = stats.bytes.load(ordering: .relaxed)
        group.shutdown()
        let connected = stats.connected.load(ordering: .relaxed)
        let errors = stats.errors.load(ordering: .relaxed)
        let rate = fixed(Double(trips) / elapsed, 0)
        let megabytes = fixed(Double(bytes) / elapsed / 1e6, 1)
        print(
            "summary: \(trips) round trips in \(fixed(elapsed, 2)) s = \(rate) round trips/s, \(megabytes) MB/s, "
                + "\(connected) connected, \(errors) errors")
        if trips == 0 || stats.errors.load(ordering: .relaxed) > 0 { exit(1) }
    }

    static func parse(_ arguments: [String]) throws -> Options {
        var options = Options()
        var iterator = arguments.makeIterator()
        while let flag = iterator.next() {
            if flag == "--help" || flag == "-h" {
                print("usage: reactor-echo [--seconds S] [--connections N] [--depth D] [--size BYTES] [--threads T]")
                exit(0)
            }
            guard let value = iterator.next() else { throw UsageError("missing value after \(flag)") }
            switch flag {
            case "--seconds": options.seconds = try number(value, flag)
            case "--connections": options.connections = Int(try number(value, flag))
            case "--depth": options.depth = Int(try number(value, flag))
            case "--size": options.size = Int(try number(value, flag))
            case "--threads": options.threads = Int(try number(value, flag))
            default: throw UsageError("unknown option \(flag) (try --help)")
            }
        }
        guard options.connections > 0, options.depth > 0, options.size > 0, options.threads > 0,
            options.seconds > 0
        else { throw UsageError("every option must be positive") }
        return options
    }

    private static func number(_ text: String, _ flag: String) throws -> Double {
        guard let value = Double(text) else { throw UsageError("\(flag) needs a number, got '\(text)'") }
        return value
    }
}

/// `value` with `digits` decimals (no Foundation).
func fixed(_ value: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (value * scale).rounded()
    let whole = Int(scaled / scale)
    guard digits > 0 else { return "\(whole)" }
    let fraction = Int(abs(scaled) - abs(Double(whole)) * scale)
    let text = String(fraction)
    return "\(whole)." + String(repeating: "0", count: max(0, digits - text.count)) + text
}

struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Keeps the server alive while its reactor runs (only touched on that reactor's thread).
final class ServerBox: @unchecked Sendable {
    // @unchecked: `server` is written and read on the server reactor's thread only; `port` is read after
    // the atomic handshake in main.
    private var server: EchoServer?
    func set(_ server: EchoServer) { self.server = server }
    var port: UInt16? { server?.listener?.localAddress.port }
}
