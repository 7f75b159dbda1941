import SolidEngine
import SolidIPC
import SolidReactor

/// A hand-driven peer for wire-level tests: it connects, sends its hello, reads everything the service
/// sends with a ``PacketReader`` and logs what it finds ("hello", "message <responseTo> <text>",
/// "going away", "rejected <id> <code>", "end of input", "closed"). Each call runs on its reactor.
final class RawPeer: @unchecked Sendable {
    // @unchecked: `stream`, `reader` and `writer` are touched only on `reactor`'s thread.
    let reactor: Reactor
    let log = EventLog()
    private var stream: SocketStream?
    private var reader: PacketReader?
    private let writer = MessageWriter(packetSize: 65536, slots: 64)
    private let registry: MessageRegistry

    init(connectingTo port: UInt16, on reactor: Reactor, registry: MessageRegistry) {
        self.reactor = reactor
        self.registry = registry
        _ = reactor.execute { [self] in
            let reader = PacketReader(configuration: ReaderConfiguration(), registry: registry)
            reader.onEvent = { [log] event in
                switch event {
                case .handshake: log.add("hello")
                case .message(let header, let message):
                    log.add("message \(header.responseTo) \((message as? Note)?.text ?? "?")")
                case .goingAway: log.add("going away")
                case .rejectedByPeer(let id, let rejection): log.add("rejected \(id) \(rejection.code)")
                default: break
                }
            }
            self.reader = reader
            SocketStream.connect(to: .loopbackV4(port: port), on: reactor) { [self] result in
                guard case .success(let stream) = result else { return log.add("connect failed") }
                self.stream = stream
                stream.onRead = { [self] bytes in
                    do { try self.reader?.consume(bytes) } catch { log.add("protocol error \(error)") }
                }
                stream.onEndOfInput = { [log] in log.add("end of input") }
                stream.onClose = { [log] _ in log.add("closed") }
                stream.write(helloBytes())
                log.add("connected")
            }
        }
    }

    /// Sends requests (Notes with ids `ids`, request id = note id) in as few packets as fit.
    func sendRequests(_ ids: [UInt64]) {
        _ = reactor.execute { [self] in
            for id in ids {
                _ = try? writer.enqueue(Note(id: id, text: "q\(id)"), registry: registry, flags: [.request], requestID: id)
            }
            flush()
        }
    }

    /// Sends the going-away record.
    func goAway() {
        _ = reactor.execute { [self] in
            writer.goAway()
            flush()
        }
    }

    private func flush() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
        defer { buffer.deallocate() }
        while writer.hasWork {
            let size = writer.nextPacket(into: buffer)
            guard size > 0 else { break }
            stream?.write(Array(UnsafeRawBufferPointer(rebasing: buffer[0..<size])))
        }
    }

    /// Sends bytes as they are.
    func sendRaw(_ bytes: [UInt8]) { _ = reactor.execute { [self] in stream?.write(bytes) } }

    /// Half-closes: sends FIN, keeps reading.
    func shutdownWrite() { _ = reactor.execute { [self] in stream?.shutdownWrite() } }

    func close() { _ = reactor.execute { [self] in stream?.close() } }
}
