import Glibc
import SolidEngine
import SolidIPC
import SolidIPCSnappy
import SolidIPCTLS
import SolidReactor

/// Lets a handler reach its service, set once before traffic starts.
final class ServiceReference: @unchecked Sendable {
    // @unchecked: written once before start, read-only afterwards.
    var service: IPCService?
}

/// The SolidIPC server: one ``IPCService`` answering echo and bulk requests and receiving streams (Snappy
/// offered, the client decides). A stream message gets a ``ChecksumSink`` from the handler registration
/// (`handle(_:makeSinks:_:)`); once the stream has ended the handler answers with the sink's count and
/// checksum. The TLS variant presents the run's certificate; the Unix variant listens on a socket file in
/// `/tmp` (removed at stop).
final class SolidServerHost: SystemServer {
    private let variant: SolidVariant
    private var group: ReactorGroup?
    private var service: IPCService?

    init(variant: SolidVariant) { self.variant = variant }

    func start() throws -> ServerEndpoints {
        let group = try ReactorGroup(threads: 1, name: "solid-server")
        self.group = group
        var configuration = ServiceConfiguration(registry: benchRegistry())
        var unixPath: String?
        switch variant {
        case .tcp, .socks5, .relay:
            configuration.listenAddress = .loopbackV4()
        case .tls(let material):
            configuration.listenAddress = .loopbackV4()
            configuration.tls = try material.solidServer()
        case .unix:
            let path = "/tmp/ipc-bench-\(getpid()).sock"
            configuration.listenAddress = try .unix(path: path)
            unixPath = path
        }
        configuration.connection = solidConnectionConfiguration(registry: configuration.registry, snappy: true)
        let service = try IPCService(configuration: configuration, group: group)
        let reference = ServiceReference()
        try service.handle(EchoMessage.self) { request, context in
            try? context.respond(request)
        }
        try service.handle(BulkMessage.self) { request, context in
            try? context.respond(TransferReply(bytes: UInt64(request.payload.count)))
        }
        let sinks = StreamSinks()
        try service.handle(StreamMessage.self, makeSinks: { _, context in
            [sinks.make(for: context)]
        }) { _, context in
            guard let sink = sinks.take(for: context) else { return }
            let reply = TransferReply(bytes: UInt64(sink.checksum.bytes), checksum: sink.checksum.value)
            try? context.respond(reply)
        }
        reference.service = service
        self.service = service
        guard let address = try service.start() else { throw BenchError("SolidIPC service did not listen") }
        return ServerEndpoints(port: unixPath == nil ? address.port : 0, unixPath: unixPath)
    }

    func stop() {
        service?.stop()
        group?.shutdown()
        service = nil
        group = nil
    }
}

/// The sinks of the stream messages in progress, by connection and request id: `makeSinks` creates one,
/// the handler takes it back when the stream has ended.
final class StreamSinks: @unchecked Sendable {
    // @unchecked: used only on the server group's single reactor thread (makeSinks and the handler both
    // run on the receiving connection's reactor).
    private struct Key: Hashable {
        let connection: ObjectHandle
        let requestID: UInt64
    }

    private var sinks: [Key: ChecksumSink] = [:]

    func make(for context: MessageContext) -> ChecksumSink {
        let sink = ChecksumSink()
        sinks[Key(connection: context.connection, requestID: context.header.requestID)] = sink
        return sink
    }

    func take(for context: MessageContext) -> ChecksumSink? {
        sinks.removeValue(forKey: Key(connection: context.connection, requestID: context.header.requestID))
    }
}

/// Connection settings both sides use: the library's default limits, Snappy when asked for.
func solidConnectionConfiguration(registry: MessageRegistry, snappy: Bool) -> ConnectionConfiguration {
    var connection = ConnectionConfiguration(registry: registry)
    if snappy { connection.codecs = [SnappyCodec()] }
    // The library's default receive buffer (the kernel tunes it; printed in the report header). A fixed
    // 64 KiB, used here before 2026-12-06, made W2's 256 MiB message 305-1057 MB/s against 1858-1972 with
    // the kernel's tuning and did not shorten W3's pings.
    connection.receiveBufferSize = solidReceiveBufferSize
    // Experiment knobs (inherited by the server process): sizes in KiB, 0 = the kernel's default.
    if let value = benchKnob("SOLID_BENCH_RCVBUF_KIB") { connection.receiveBufferSize = value == 0 ? nil : value * 1024 }
    if let value = benchKnob("SOLID_BENCH_LOWAT_KIB") { connection.unsentBytesLimit = value == 0 ? nil : value * 1024 }
    if let value = benchKnob("SOLID_BENCH_PACKET_KIB") { connection.hello.packetSize = value * 1024 }
    if let value = benchKnob("SOLID_BENCH_INFLIGHT") { connection.packetsInFlight = value }
    return connection
}

private func benchKnob(_ name: String) -> Int? {
    guard let raw = getenv(name) else { return nil }
    return Int(String(cString: raw))
}

/// The receive buffer SolidIPC connections use in the benchmark (`ConnectionConfiguration.receiveBufferSize`):
/// `nil`, the library's default (the kernel tunes it).
let solidReceiveBufferSize: Int? = nil
