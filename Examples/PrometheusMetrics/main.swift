// swift-metrics → swift-prometheus for an IPCService: traffic between a server and a client in one
// process, then the metrics on http://127.0.0.1:PORT/metrics (scraped once and printed; `--serve` keeps
// serving until interrupted). `swift run prometheus-metrics [--port N] [--serve]`.
import Glibc
import Metrics
import Prometheus
import SolidIPC
import SolidIPCMetrics

struct Echo: IPCRequest {
    typealias Response = Echo
    var text = ""
    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) { try coder.field(&text) }
}

let arguments = CommandLine.arguments.dropFirst()
let serve = arguments.contains("--serve")
let port = arguments.firstIndex(of: "--port").flatMap { UInt16(arguments[arguments.index(after: $0)]) } ?? 0

let prometheus = PrometheusCollectorRegistry()
MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: prometheus))  // the application's choice

let registry = MessageRegistry()
try registry.register(protocol: 1, [Echo.self])
let reactors = try ReactorGroup(threads: 2)
var settings = ServiceConfiguration(registry: registry)
settings.listenAddress = .loopbackV4(port: 0)
settings.instrumentation = IPCMetrics()  // reports through the bootstrapped factory
let server = try IPCService(configuration: settings, group: reactors)
try server.handleRequests(Echo.self) { echo, _ in echo }
var clientSettings = ServiceConfiguration(registry: registry)
clientSettings.instrumentation = IPCMetrics()
let client = try IPCService(configuration: clientSettings, group: reactors)

let endpointAddress = try await withCheckedThrowingContinuation { continuation in
    let reactor = reactors.reactors[0]
    reactor.execute {
        do {
            let endpoint = try MetricsEndpoint(address: .loopbackV4(port: port), on: reactor, registry: prometheus)
            continuation.resume(returning: (endpoint, endpoint.listener!.localAddress))
        } catch {
            continuation.resume(throwing: error)
        }
    }
}.1

try await server.withRunning { address in
    try await client.withRunning { _ in
        let destination = try Destination(host: "127.0.0.1", port: address!.port)
        for index in 0..<100 { _ = try await client.request(Echo(text: "hello \(index)"), to: destination, timeout: .seconds(5)) }
        print("metrics at http://\(endpointAddress)/metrics")
        let text = try await scrape(endpointAddress, on: reactors.reactors[1])
        for line in text.split(separator: "\n") where line.hasPrefix("solidipc") { print(line) }
        guard text.contains("solidipc_messages_sent{") else {
            print("error: the scrape has no solidipc_messages_sent")
            exit(1)
        }
        if serve {
            print("serving; interrupt to stop")
            while true { try await Task.sleep(for: .seconds(3600)) }
        }
    }
}
reactors.shutdown()
