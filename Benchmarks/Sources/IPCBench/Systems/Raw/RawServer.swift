import SolidReactor

/// The raw-TCP baseline server: ``SocketListener`` and ``SocketStream`` of SolidReactor speaking
/// ``FrameProtocol``, with no message engine; one reactor thread.
final class RawServerHost: SystemServer {
    private var group: ReactorGroup?

    func start() throws -> ServerEndpoints {
        let group = try ReactorGroup(threads: 1, name: "raw-server")
        self.group = group
        let reactor = group.reactors[0]
        let result = Completion<Result<UInt16, BenchError>>()
        reactor.execute {
            do {
                let listener = try SocketListener(address: .loopbackV4(), on: reactor) { accepted in
                    guard let stream = try? SocketStream(adopting: accepted, on: reactor) else { return }
                    RawServerConnection(stream: stream).attach()
                }
                result.complete(.success(listener.localAddress.port))
            } catch {
                result.complete(.failure(BenchError("raw listener: \(error)")))
            }
        }
        return ServerEndpoints(port: try result.wait("raw listener", timeout: 10).get())
    }

    func stop() {
        group?.shutdown()
        group = nil
    }
}

/// One accepted raw connection: parses frames and answers them as ``FrameProtocol`` says.
final class RawServerConnection {
    private enum Mode { case unknown, echo, stream }

    private let stream: SocketStream
    private var parser = FrameParser()
    private var mode = Mode.unknown
    private var frameLength = 0
    private var output: [UInt8] = []
    private var bulk: [UInt8] = []
    private var checksum = Checksum()

    init(stream: SocketStream) { self.stream = stream }

    /// Installs the read callback (the stream holds this object until it closes).
    func attach() {
        stream.onRead = { bytes in self.received(bytes) }
        stream.onClose = { _ in self.stream.onRead = nil }
    }

    private func received(_ bytes: UnsafeRawBufferPointer) {
        parser.consume(bytes) { event in self.handle(event) }
        if !output.isEmpty {
            stream.write(output)
            output = []
        }
    }

    private func handle(_ event: FrameEvent) {
        switch event {
        case .start(let length):
            frameLength = length
            if mode == .echo {
                if length < FrameProtocol.bulkThreshold {
                    output.append(contentsOf: FrameProtocol.header(length))
                } else {
                    bulk.reserveCapacity(length)  // the whole message in memory, as a receiver of it would hold it
                }
            }
        case .payload(let chunk):
            switch mode {
            case .unknown:
                mode = chunk.first == FrameProtocol.streamMode ? .stream : .echo
            case .echo:
                if frameLength < FrameProtocol.bulkThreshold { output.append(contentsOf: chunk) } else { bulk.append(contentsOf: chunk) }
            case .stream:
                checksum.add(chunk)
            }
        case .end:
            if mode == .echo && frameLength >= FrameProtocol.bulkThreshold {
                output.append(contentsOf: FrameProtocol.frame(FrameProtocol.words([UInt64(bulk.count)])))
                bulk = []
            } else if mode == .stream && frameLength == 0 {
                output.append(contentsOf: FrameProtocol.frame(FrameProtocol.words([UInt64(checksum.bytes), checksum.value])))
                checksum = Checksum()
            }
        }
    }
}
