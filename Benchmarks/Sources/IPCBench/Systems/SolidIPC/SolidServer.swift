import Dispatch
import SolidEngine
import SolidIPC
import SolidIPCSnappy
import Synchronization

/// Lets a handler reach its service, set once before traffic starts.
final class ServiceReference: @unchecked Sendable {
    // @unchecked: written once before start, read-only afterwards.
    var service: Service?
}

/// The SolidIPC server: a ``Service`` answering echo and bulk requests (Snappy offered, the client
/// decides), plus a second listener of plain ``Connection``s for stream fields, because a `Service` has
/// no way to give an incoming stream field a sink (its reader rejects messages with streams).
final class SolidServerHost: SystemServer {
    private var group: ReactorGroup?
    private var service: Service?

    func start() throws -> ServerEndpoints {
        let group = try ReactorGroup(threads: 1, name: "solid-server")
        self.group = group
        var configuration = ServiceConfiguration(registry: benchRegistry())
        configuration.listenAddress = .loopbackV4()
        configuration.connection = solidConnectionConfiguration(registry: configuration.registry, snappy: true)
        let service = try Service(configuration: configuration, group: group)
        let reference = ServiceReference()
        try service.handle(EchoMessage.self) { request, context in
            try? reference.service?.sendResponse(request, for: context)
        }
        try service.handle(BulkMessage.self) { request, context in
            try? reference.service?.sendResponse(TransferReply(bytes: UInt64(request.payload.count)), for: context)
        }
        reference.service = service
        self.service = service
        guard let address = try service.start() else { throw BenchError("SolidIPC service did not listen") }
        let streamPort = try startStreamListener(
            on: group.reactors[0], configuration: solidConnectionConfiguration(registry: benchRegistry(), snappy: true))
        return ServerEndpoints(port: address.port, streamPort: streamPort)
    }

    func stop() {
        service?.stop()
        group?.shutdown()
        service = nil
        group = nil
    }

    /// Listens for stream connections on `reactor`; returns the port.
    private func startStreamListener(on reactor: Reactor, configuration: ConnectionConfiguration) throws -> UInt16 {
        let box = ConfigurationBox(configuration)
        let result = Completion<Result<UInt16, BenchError>>()
        reactor.execute {
            do {
                let listener = try TCPListener(address: .loopbackV4(), on: reactor) { accepted in
                    guard let stream = try? TCPStream(adopting: accepted, on: reactor) else { return }
                    StreamReceiver.attach(Connection(stream: stream, configuration: box.configuration))
                }
                result.complete(.success(listener.localAddress.port))
            } catch {
                result.complete(.failure(BenchError("stream listener: \(error)")))
            }
        }
        return try result.wait("SolidIPC stream listener", timeout: 10).get()
    }
}

/// Hands a connection configuration to a reactor thread.
final class ConfigurationBox: @unchecked Sendable {
    // @unchecked: immutable after creation; the registry inside is read-only once connections use it.
    let configuration: ConnectionConfiguration
    init(_ configuration: ConnectionConfiguration) { self.configuration = configuration }
}

/// Gives each incoming stream message a ``ChecksumSink`` and answers it with the byte count and checksum.
enum StreamReceiver {
    static func attach(_ connection: Connection) {
        var sinks: [UInt64: ChecksumSink] = [:]  // by request id; touched on the connection's reactor only
        connection.makeSinks = { header, _ in
            let sink = ChecksumSink()
            sinks[header.requestID] = sink
            return [sink]
        }
        connection.onMessage = { [unowned connection] header, message in
            guard message is StreamMessage, let sink = sinks.removeValue(forKey: header.requestID) else { return }
            let reply = TransferReply(bytes: UInt64(sink.checksum.bytes), checksum: sink.checksum.value)
            _ = try? connection.send(reply, responseTo: header.requestID)
        }
    }
}

/// Connection settings both sides use: bodies up to 1 GiB, Snappy when asked for.
func solidConnectionConfiguration(registry: MessageRegistry, snappy: Bool) -> ConnectionConfiguration {
    var connection = ConnectionConfiguration(registry: registry)
    if snappy { connection.codecs = [SnappyCodec()] }
    connection.maxBodyBytes = SolidLimits.maxBody
    connection.limits.maxByteCount = SolidLimits.maxBody
    return connection
}
