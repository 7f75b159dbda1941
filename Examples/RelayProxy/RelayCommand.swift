import ArgumentParser
import Dispatch
import Glibc
import SolidReactor

/// Holds the relay for the reactor thread; the command's thread only waits for results.
private final class RelayBox: @unchecked Sendable {
    // @unchecked: `server` is created, used and closed on the relay's reactor thread only; `outcome` is
    // written there before `done` is signalled and read after the wait.
    var server: RelayServer?
    var outcome = ""
    let done = DispatchSemaphore(value: 0)
}

/// `relay-proxy`: the relay proxy of the seed's `test_raw_proxy` as a program.
@main
struct RelayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay-proxy",
        abstract: "Relay connections to the destination their relay header names (the seed's test_raw_proxy).")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks one).") var port: UInt16 = 0

    func run() throws {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)  // before the reactor thread starts, so it inherits it
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let reactor = group.reactors[0]
        let address = try SocketAddress(ip: host, port: port)
        let box = RelayBox()
        _ = reactor.execute {
            do {
                let server = try RelayServer(address: address, on: reactor)
                box.server = server
                box.outcome = "relay-proxy listening on \(server.address.map { "\($0)" } ?? "?") (Ctrl-C stops)"
            } catch {
                box.outcome = "relay-proxy: cannot listen on \(address): \(error)"
            }
            box.done.signal()
        }
        box.done.wait()
        print(box.outcome)
        fflush(nil)
        guard box.outcome.hasPrefix("relay-proxy listening") else { throw ExitCode.failure }
        var received: Int32 = 0
        sigwait(&signals, &received)
        _ = reactor.execute {
            box.server?.close()
            box.outcome = "stopped: \(box.server?.relayed ?? 0) relayed, \(box.server?.refused ?? 0) refused"
            box.done.signal()
        }
        box.done.wait()
        print(box.outcome)
    }
}
