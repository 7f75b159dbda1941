import ArgumentParser
import Glibc
import SolidIPC
import SolidIPCTLS

/// `ipc-echo`: a SolidIPC echo server, a load client, or both in one process.
@main
struct IPCEchoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ipc-echo",
        abstract: "SolidIPC echo: request/response round trips over TCP, TLS or a Unix-domain socket.",
        subcommands: [Demo.self, Server.self, Client.self],
        defaultSubcommand: Demo.self)
}

struct LoadOptions: ParsableArguments {
    @Option(help: "Round trips to make.") var count = 100_000
    @Option(help: "Payload bytes per request (and response).") var size = 64
    @Option(help: "Connections to open.") var connections = 1
    @Option(help: "Requests in flight per connection.") var depth = 64
    @Flag(help: "Compress packets with Snappy.") var snappy = false

    func validate() throws {
        guard count > 0, size >= 0, connections > 0, depth > 0 else {
            throw ValidationError("count, connections and depth must be positive; size must not be negative")
        }
    }
}

extension IPCEchoCommand {
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Server and client in one process; prints a summary.")
        @OptionGroup var load: LoadOptions
        @Option(help: "Reactor threads.") var threads = 2
        @Flag(help: "Over TLS, with a CA and server certificate made in memory for the run.") var tls = false

        func run() throws {
            let group = try ReactorGroup(threads: threads)
            defer { group.shutdown() }
            var serverTLS: TLSTransport?
            var clientTLS: TLSTransport?
            if tls {
                let authority = try CertificateAuthority(commonName: "ipc-echo demo CA")
                let issued = try authority.issue(commonName: "ipc-echo", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
                var client = TLSConfiguration()
                client.trustRoots = .certificates(.pem(authority.certificatePEM))
                serverTLS = try TLSTransport(server: issued.tlsConfiguration)
                clientTLS = try TLSTransport(client: client)
            }
            let (server, address) = try startEchoServer(
                group: group, address: .loopbackV4(), snappy: load.snappy, tls: serverTLS)
            defer { server.stop() }
            print("ipc-echo demo: server on \(address)\(tls ? " (TLS)" : ""), \(threads) reactor threads")
            print("client: \(load.count) round trips of \(load.size) B, \(load.connections) connection(s) × \(load.depth) in flight")
            let destination = try Destination(host: "127.0.0.1", port: address.port)
            let (tally, elapsed) = try runEchoClient(
                group: group, destination: destination, count: load.count, size: load.size,
                connections: load.connections, depth: load.depth, snappy: load.snappy, tls: clientTLS)
            if !printSummary(tally, elapsed: elapsed) { throw ExitCode.failure }
        }
    }

    struct Server: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve echo requests until interrupted.")
        @Option(help: "Port to listen on (0 picks one).") var port: UInt16 = 0
        @Option(help: "Address to listen on.") var host = "127.0.0.1"
        @Option(help: "Reactor threads.") var threads = ReactorGroup.activeProcessorCount
        @Flag(help: "Offer Snappy compression.") var snappy = false
        @Option(help: "Listen on this Unix-domain socket path (or @abstract-name) instead of TCP.") var unix: String?
        @Option(help: "On SIGINT/SIGTERM, seconds to let requests under way finish before closing.") var grace = 5
        @OptionGroup var security: ServerTLSOptions

        func run() throws {
            var signals = sigset_t()
            sigemptyset(&signals)
            sigaddset(&signals, SIGINT)
            sigaddset(&signals, SIGTERM)
            sigaddset(&signals, SIGUSR1)
            pthread_sigmask(SIG_BLOCK, &signals, nil)  // before the reactor threads start, so they inherit it
            let group = try ReactorGroup(threads: threads)
            defer { group.shutdown() }
            let address = try unix.map { try SocketAddress.unix(path: $0) } ?? SocketAddress(ip: host, port: port)
            let (server, bound) = try startEchoServer(
                group: group, address: address, snappy: snappy, tls: try security.transport(host: host))
            print("ipc-echo server listening on \(bound)\(security.tls ? " (TLS)" : "") (Ctrl-C stops, SIGUSR1 prints its state)")
            fflush(nil)  // flush stdout: a supervising script waits for this line
            var received: Int32 = 0
            repeat {
                sigwait(&signals, &received)
                if received == SIGUSR1 {
                    print(server.snapshot())  // pools, connections, queues, bytes: what to look at when stuck
                    fflush(nil)
                }
            } while received == SIGUSR1
            server.stop(gracePeriod: .seconds(max(grace, 0)))  // answers what it holds, peers are told
            let statistics = server.statistics
            print("stopped: \(statistics.connectionsOpened) connections, \(statistics.messagesReceived) requests")
        }
    }

    struct Client: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send echo requests to a server and print a summary.")
        @Option(help: "The server: HOST:PORT, [IPv6]:PORT or unix:PATH.") var connect: String?
        @Option(help: "The server's Unix-domain socket path (instead of --connect).") var unix: String?
        @OptionGroup var load: LoadOptions
        @Option(help: "Reactor threads.") var threads = ReactorGroup.activeProcessorCount
        @OptionGroup var security: ClientTLSOptions
        @OptionGroup var proxy: ClientProxyOptions

        func validate() throws {
            guard (connect == nil) != (unix == nil) else { throw ValidationError("give exactly one of --connect and --unix") }
            guard unix == nil || (proxy.socks5 == nil && proxy.httpProxy == nil) else {
                throw ValidationError("a Unix-domain destination cannot go through a proxy")
            }
        }

        func run() throws {
            let destination = try unix.map { try Destination(unixPath: $0) } ?? Destination(parsing: connect!)
            let group = try ReactorGroup(threads: threads)
            defer { group.shutdown() }
            let (tally, elapsed) = try runEchoClient(
                group: group, destination: destination, count: load.count, size: load.size,
                connections: load.connections, depth: load.depth, snappy: load.snappy, tls: try security.transport(),
                proxy: try proxy.settings())
            if !printSummary(tally, elapsed: elapsed) { throw ExitCode.failure }
        }
    }
}
