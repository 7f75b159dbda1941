import ArgumentParser
import Glibc
import SolidIPC

/// `ipc-echo`: a SolidIPC echo server, a load client, or both in one process.
@main
struct IPCEchoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ipc-echo",
        abstract: "SolidIPC echo: request/response round trips over TCP.",
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

        func run() throws {
            let group = try ReactorGroup(threads: threads)
            defer { group.shutdown() }
            let (server, address) = try startEchoServer(group: group, host: "127.0.0.1", port: 0, snappy: load.snappy)
            defer { server.stop() }
            print("ipc-echo demo: server on \(address), \(threads) reactor threads")
            print("client: \(load.count) round trips of \(load.size) B, \(load.connections) connection(s) × \(load.depth) in flight")
            let destination = try Destination(host: "127.0.0.1", port: address.port)
            let (tally, elapsed) = try runEchoClient(
                group: group, destination: destination, count: load.count, size: load.size,
                connections: load.connections, depth: load.depth, snappy: load.snappy)
            if !printSummary(tally, elapsed: elapsed) { throw ExitCode.failure }
        }
    }

    struct Server: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve echo requests until interrupted.")
        @Option(help: "Port to listen on (0 picks one).") var port: UInt16 = 0
        @Option(help: "Address to listen on.") var host = "127.0.0.1"
        @Option(help: "Reactor threads.") var threads = ReactorGroup.activeProcessorCount
        @Flag(help: "Offer Snappy compression.") var snappy = false

        func run() throws {
            var signals = sigset_t()
            sigemptyset(&signals)
            sigaddset(&signals, SIGINT)
            sigaddset(&signals, SIGTERM)
            pthread_sigmask(SIG_BLOCK, &signals, nil)  // before the reactor threads start, so they inherit it
            let group = try ReactorGroup(threads: threads)
            defer { group.shutdown() }
            let (server, address) = try startEchoServer(group: group, host: host, port: port, snappy: snappy)
            print("ipc-echo server listening on \(address) (Ctrl-C stops)")
            var received: Int32 = 0
            sigwait(&signals, &received)
            server.stop()
            let statistics = server.statistics
            print("stopped: \(statistics.connectionsOpened) connections, \(statistics.messagesReceived) requests")
        }
    }

    struct Client: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send echo requests to a server and print a summary.")
        @Option(help: "The server, HOST:PORT.") var connect: String
        @OptionGroup var load: LoadOptions
        @Option(help: "Reactor threads.") var threads = ReactorGroup.activeProcessorCount

        func run() throws {
            let destination = try Destination(parsing: connect)
            let group = try ReactorGroup(threads: threads)
            defer { group.shutdown() }
            let (tally, elapsed) = try runEchoClient(
                group: group, destination: destination, count: load.count, size: load.size,
                connections: load.connections, depth: load.depth, snappy: load.snappy)
            if !printSummary(tally, elapsed: elapsed) { throw ExitCode.failure }
        }
    }
}
