import Glibc
import SolidEngine
import SolidIPC
import SolidIPCSnappy
import Synchronization

/// Starts a service that answers every echo request with the same payload.
func startEchoServer(
    group: ReactorGroup, address: SocketAddress, snappy: Bool, tls: (any SecureTransport)? = nil
) throws -> (IPCService, SocketAddress) {
    var configuration = ServiceConfiguration(registry: echoRegistry())
    configuration.listenAddress = address
    configuration.tls = tls
    if snappy { configuration.connection.codecs = [SnappyCodec()] }
    let server = try IPCService(configuration: configuration, group: group)
    try server.handleRequests(EchoMessage.self) { request, _ in request }  // the response is the request
    let address = try server.start()!
    return (server, address)
}

/// Results of a client run.
final class EchoTally: Sendable {
    let completed = Atomic<Int>(0)
    let errors = Atomic<Int>(0)
    let bytes = Atomic<Int>(0)
    let firstError = Mutex<String?>(nil)

    func fail(_ error: SendError) {
        errors.add(1, ordering: .relaxed)
        firstError.withLock { if $0 == nil { $0 = "\(error)" } }
    }
}

/// Sends `count` requests of `size` bytes over `connections` connections (one client service each),
/// keeping `depth` in flight per connection; returns when all completed or failed.
func runEchoClient(
    group: ReactorGroup, destination: Destination, count: Int, size: Int, connections: Int, depth: Int, snappy: Bool,
    tls: (any SecureTransport)? = nil, proxy: ProxySettings? = nil
) throws -> (EchoTally, Double) {
    let tally = EchoTally()
    let done = Atomic<Int>(0)
    let started = Atomic<Int>(0)
    var clients: [IPCService] = []
    let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    let perConnection = (count + connections - 1) / connections
    let start = monotonicSeconds()
    for connection in 0..<connections {
        var configuration = ServiceConfiguration(registry: echoRegistry())
        configuration.tls = tls
        configuration.proxy = proxy
        if snappy { configuration.connection.codecs = [SnappyCodec()] }
        let client = try IPCService(configuration: configuration, group: group)
        try client.start()
        clients.append(client)
        let total = min(perConnection, count - connection * perConnection)
        guard total > 0 else { continue }
        let next = Atomic<Int>(0)
        @Sendable func sendOne() {
            // After the first error nothing new starts: the run fails, and ends once what is in flight did.
            guard tally.errors.load(ordering: .relaxed) == 0 else { return }
            let id = next.add(1, ordering: .relaxed).oldValue
            guard id < total else { return }
            started.add(1, ordering: .relaxed)
            do {
                // One-shot: a server that cannot be reached (refused, TLS verification failed) fails the
                // request and so the run, instead of the library's default of waiting for it.
                try client.request(
                    EchoMessage(id: UInt64(id), payload: payload), to: destination, options: .oneShot, expecting: EchoMessage.self
                ) {
                    result in
                    switch result {
                    case .success(let response) where response.payload == payload:
                        tally.completed.add(1, ordering: .relaxed)
                        tally.bytes.add(2 * (size + 16), ordering: .relaxed)
                    case .success:
                        tally.fail(.unexpectedResponse("payload differs"))
                    case .failure(let error):
                        tally.fail(error)
                    }
                    done.add(1, ordering: .relaxed)
                    sendOne()
                }
            } catch {
                tally.fail(error)
                done.add(1, ordering: .relaxed)
            }
        }
        for _ in 0..<min(depth, total) { sendOne() }
    }
    var lastReport = start
    func finished() -> Bool {
        let done = done.load(ordering: .relaxed)
        if done >= count { return true }
        // Stopped by an error: over once every request that started has completed.
        return tally.errors.load(ordering: .relaxed) > 0 && done >= started.load(ordering: .relaxed)
    }
    while !finished() {
        usleep(20_000)
        let now = monotonicSeconds()
        if now - lastReport >= 1 {
            lastReport = now
            print("  \(done.load(ordering: .relaxed)) of \(count) round trips")
        }
    }
    let elapsed = monotonicSeconds() - start
    for client in clients { client.stop() }
    return (tally, elapsed)
}

func monotonicSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// `value` with `digits` decimals (no Foundation).
func fixed(_ value: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (value * scale).rounded()
    let whole = Int(scaled / scale)
    guard digits > 0 else { return "\(whole)" }
    let fraction = String(Int(abs(scaled) - abs(Double(whole)) * scale))
    return "\(whole)." + String(repeating: "0", count: max(0, digits - fraction.count)) + fraction
}

/// Prints the summary line; returns whether the run was clean.
func printSummary(_ tally: EchoTally, elapsed: Double) -> Bool {
    let completed = tally.completed.load(ordering: .relaxed)
    let errors = tally.errors.load(ordering: .relaxed)
    let rate = Double(completed) / elapsed
    let megabytes = Double(tally.bytes.load(ordering: .relaxed)) / elapsed / 1e6
    print("summary: \(completed) round trips in \(fixed(elapsed, 2)) s = \(fixed(rate, 0)) round trips/s, \(fixed(megabytes, 1)) MB/s, \(errors) errors")
    if let first = tally.firstError.withLock({ $0 }) { print("first error: \(first)") }
    return errors == 0 && completed > 0
}
