/// Copies bytes both ways between two streams on one reactor until both directions ended, with
/// backpressure: when one side has more than ``maxPendingBytes`` waiting to be written, reading from the
/// other side pauses until it is down to half. An end of input on one side is passed on as a half-close
/// of the other (after the bytes before it); an error on either side closes both together.
public final class StreamSplice {
    /// Bytes written to one side and not yet taken by its socket before reading the other side pauses.
    public static let maxPendingBytes = 1 << 20

    private let first: SocketStream
    private let second: SocketStream
    private var cleanlyClosed = 0
    private var closed = false
    private var onEnd: ((StreamError?) -> Void)?
    /// Bytes copied from `first` to `second` and from `second` to `first`.
    public private(set) var bytesForward = 0
    public private(set) var bytesBackward = 0

    /// Splices `first` and `second` (both open, on the same reactor; call from its thread). `initialForward`
    /// are bytes already read from `first` that go to `second` before anything else. `onEnd` runs once when
    /// both are closed: `nil` after both directions ended cleanly, else the first error.
    @discardableResult
    public init(
        _ first: SocketStream, _ second: SocketStream, initialForward: [UInt8] = [],
        onEnd: @escaping (StreamError?) -> Void
    ) {
        precondition(first.reactor === second.reactor, "a splice lives on one reactor")
        first.reactor.preconditionInReactor()
        self.first = first
        self.second = second
        self.onEnd = onEnd
        connect(from: first, to: second, forward: true)
        connect(from: second, to: first, forward: false)
        if !initialForward.isEmpty { copy(initialForward, to: second, pausing: first, forward: true) }
    }

    private func connect(from source: SocketStream, to target: SocketStream, forward: Bool) {
        // The streams hold the splice through these closures until they close.
        source.onRead = { bytes in self.copy(Array(bytes), to: target, pausing: source, forward: forward) }
        // A FIN goes on as a FIN once what was copied is written; a stream whose input ended and whose
        // FIN went out closes by itself (onClose(nil)), and the splice ends when both have.
        source.onEndOfInput = { target.shutdownWrite() }
        source.onClose = { error in
            if let error { return self.closeBoth(error) }
            self.cleanlyClosed += 1
            if self.cleanlyClosed == 2 { self.closeBoth(nil) }
        }
    }

    private func copy(_ bytes: [UInt8], to target: SocketStream, pausing source: SocketStream, forward: Bool) {
        guard !closed else { return }
        if forward { bytesForward += bytes.count } else { bytesBackward += bytes.count }
        target.write(bytes) { [weak self] error in
            guard let self, !self.closed else { return }
            if let error { return self.closeBoth(error) }
            if target.pendingWriteBytes <= Self.maxPendingBytes / 2 { source.resumeReading() }
        }
        if target.pendingWriteBytes > Self.maxPendingBytes { source.pauseReading() }
    }

    private func closeBoth(_ error: StreamError?) {
        guard !closed else { return }
        closed = true
        for stream in [first, second] {
            stream.onRead = nil
            stream.onEndOfInput = nil
            stream.onClose = nil
            stream.close()
        }
        let onEnd = self.onEnd
        self.onEnd = nil
        onEnd?(error)
    }
}
