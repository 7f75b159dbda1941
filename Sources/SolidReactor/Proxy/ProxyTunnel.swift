/// Runs a proxy handshake on a freshly connected stream, on its reactor: writes what the handshake asks,
/// feeds it what the proxy answers, and hands the stream back once the tunnel is open (with the bytes of
/// the destination that came with the reply), or closes it with the typed failure.
public enum ProxyTunnel {
    /// Opens the tunnel over `stream` (connected to the proxy; reactor thread). `completion` runs once,
    /// on the reactor thread: with the stream and its leftover input, or with
    /// ``StreamError/proxy(_:)`` (the stream closed) — also when the proxy closes mid-way
    /// (``ProxyError/closedDuringHandshake``) or does not finish within `timeout` — or with the stream's
    /// own error when the socket fails.
    public static func open<Handshake: ProxyHandshake>(
        over stream: any ByteStream, handshake: Handshake, timeout: Duration,
        completion: @escaping (Result<(any ByteStream, leftover: [UInt8]), StreamError>) -> Void
    ) {
        stream.reactor.preconditionInReactor()
        let run = Run(stream: stream, handshake: handshake, completion: completion)
        run.timer = stream.reactor.schedule(after: timeout) { [weak run] in run?.end(.failure(.proxy(.timeout))) }
        stream.onRead = { [run] bytes in run.received(bytes) }
        stream.onEndOfInput = { [run] in run.end(.failure(.proxy(.closedDuringHandshake))) }
        stream.onClose = { [run] error in run.end(.failure(error ?? .proxy(.closedDuringHandshake))) }
        run.step(run.handshake.start())
    }

    /// One handshake in progress; the stream's callbacks hold it until it ends.
    private final class Run<Handshake: ProxyHandshake> {
        let stream: any ByteStream
        var handshake: Handshake
        var timer: TimerID?
        private var completion: ((Result<(any ByteStream, leftover: [UInt8]), StreamError>) -> Void)?

        init(stream: any ByteStream, handshake: Handshake, completion: @escaping (Result<(any ByteStream, leftover: [UInt8]), StreamError>) -> Void) {
            self.stream = stream
            self.handshake = handshake
            self.completion = completion
        }

        func received(_ bytes: UnsafeRawBufferPointer) {
            guard completion != nil else { return }
            step(handshake.receive(bytes))
        }

        func step(_ step: ProxyStep) {
            switch step {
            case .send(let bytes): stream.write(bytes)
            case .needMore: break
            case .connected(let leftover): end(.success((stream, leftover)))
            case .failed(let error): end(.failure(.proxy(error)))
            }
        }

        func end(_ result: Result<(any ByteStream, leftover: [UInt8]), StreamError>) {
            guard let completion else { return }
            self.completion = nil
            if let timer { stream.reactor.cancelTimer(timer) }
            timer = nil
            // The stream goes on without this run: its next owner installs its own callbacks.
            stream.onRead = nil
            stream.onEndOfInput = nil
            stream.onClose = nil
            if case .failure = result { stream.close() }
            completion(result)
        }
    }
}
