public import SolidReactor
import Synchronization

// The Raw state (the seed's "Support for SOCKS5 and alike"): before its hello a connection may carry
// bytes its owner sends and reads itself — a proxy handshake, a relay header, a custom authentication —
// then moves on to messages. Nothing the peer sent is lost on the way: bytes read and not consumed in
// Raw are the first bytes the messaging phase reads.
extension Connection {
    /// Writes `bytes` as they are (Raw state only); `completion` gets `nil` once the stream took them
    /// all, or the stream's error. Reactor thread.
    /// - Returns: `false` (nothing written, no completion) when the connection is not Raw.
    @discardableResult
    public func rawWrite(_ bytes: [UInt8], completion: ((StreamError?) -> Void)? = nil) -> Bool {
        reactor.preconditionInReactor()
        guard case .raw = state else { return false }
        counters?.bytesSent.add(bytes.count, ordering: .relaxed)
        inFlight += 1  // so closeWhenWritten waits for it
        stream.write(bytes) { [weak self] error in
            self?.inFlight -= 1
            completion?(error)
            if let self, self.isClosing { self.closeIfDone() }
        }
        return true
    }

    /// Hands what the peer sent (at once when bytes are waiting, else when some arrive) to `reader`,
    /// once: it returns how many of them it consumed (0…count); the rest stays for the next read or for
    /// the messaging phase. Reactor thread.
    /// - Returns: `false` when the connection is not Raw (or a read is already waiting).
    @discardableResult
    public func rawRead(_ reader: @escaping ([UInt8]) -> Int) -> Bool {
        reactor.preconditionInReactor()
        guard case .raw = state, rawReader == nil else { return false }
        rawReader = reader
        if !rawBuffer.isEmpty { deliverRaw() }
        return true
    }

    /// Leaves the Raw state: sends the hello, and the bytes read in Raw but not consumed are read as the
    /// start of the peer's messaging phase (its hello, typically). A waiting ``rawRead(_:)`` is dropped.
    /// - Returns: `false` when the connection was not Raw.
    @discardableResult
    public func startMessaging() -> Bool {
        reactor.preconditionInReactor()
        guard case .raw = state else { return false }
        state = .handshaking
        rawReader = nil
        sendHello()
        let leftover = rawBuffer
        rawBuffer = []
        if !leftover.isEmpty { leftover.withUnsafeBytes { parse($0) } }
        resumeAfterRaw()
        return true
    }

    /// Most bytes kept unread in the Raw state: beyond it reading from the peer pauses until a raw read
    /// consumes some (a peer cannot fill our memory while the owner is not reading).
    static let rawBufferLimit = 4 * 1024 * 1024

    func rawReceived(_ bytes: UnsafeRawBufferPointer) {
        rawBuffer.append(contentsOf: bytes)
        if rawReader != nil { deliverRaw() }
        if rawBuffer.count >= Self.rawBufferLimit && !pausedForRaw {
            pausedForRaw = true
            stream.pauseReading()
        }
    }

    private func resumeAfterRaw() {
        guard pausedForRaw, rawBuffer.count < Self.rawBufferLimit || state != .raw else { return }
        pausedForRaw = false
        if !pausedByOwner && !pausedForQueue { stream.resumeReading() }
    }

    func deliverRaw() {
        guard let reader = rawReader else { return }
        rawReader = nil
        let bytes = rawBuffer
        rawBuffer = []
        let consumed = min(max(reader(bytes), 0), bytes.count)
        defer { resumeAfterRaw() }
        guard consumed < bytes.count else { return }
        let rest = bytes[consumed...]
        switch state {
        case .raw:
            rawBuffer.insert(contentsOf: rest, at: 0)  // before anything that arrived meanwhile
            // A reader that asked for more from its own callback gets what is left now.
            if rawReader != nil { deliverRaw() }
        case .closed:
            break
        default:
            // The reader left Raw from its callback: the rest is the messaging phase's first input.
            rest.withUnsafeBytes { parse($0) }
        }
    }
}
