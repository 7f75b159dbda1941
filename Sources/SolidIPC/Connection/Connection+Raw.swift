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
        countSent(bytes.count)
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
    /// the messaging phase. A reader that consumed nothing needs more: the next read waits for new bytes
    /// (so a reader re-armed from its callback is not called again with the same ones). After the peer's
    /// end of input a reader gets what is left, then an empty array (the end); the connection stays Raw
    /// until its owner moves on, fails or closes it. Reactor thread.
    /// - Returns: `false` when the connection is not Raw (or a read is already waiting).
    @discardableResult
    public func rawRead(_ reader: @escaping ([UInt8]) -> Int) -> Bool {
        reactor.preconditionInReactor()
        guard case .raw = state, rawReader == nil else { return false }
        rawReader = reader
        // (From a read's own callback the read decides, once it returns.)
        if !deliveringRaw, (!rawBuffer.isEmpty && !rawNeedsMore) || rawInputEnded { deliverRaw() }
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
        let leftover = takeRawBuffer()
        if !leftover.isEmpty { leftover.withUnsafeBytes { parse($0) } }
        resumeAfterRaw()
        if rawInputEnded, !deliveringRaw { endOfRawInput() }
        return true
    }

    /// Ends the Raw phase as failed: the connection closes with
    /// ``ConnectionError/rawExchangeFailed(_:)`` carrying `reason` (a relay's or a custom
    /// authentication's refusal), which a pool reports to the messages waiting for a connection.
    /// - Returns: `false` (nothing done) when the connection is not Raw.
    @discardableResult
    public func failRaw(_ reason: String) -> Bool {
        reactor.preconditionInReactor()
        guard case .raw = state else { return false }
        finish(.rawExchangeFailed(reason))
        return true
    }

    /// The Raw phase's bound (``ConnectionConfiguration/rawPhaseTimeout``), in the hello timer's slot:
    /// leaving Raw sends the hello, which replaces it with the hello's own.
    func startRawPhaseTimer() {
        guard let limit = configuration.rawPhaseTimeout else { return }
        helloTimer = reactor.schedule(after: limit) { [weak self] in
            guard let self, case .raw = self.state else { return }
            self.helloTimer = nil
            self.finish(.rawPhaseTimedOut)
        }
    }

    /// Left Raw after the peer's input had ended: the usual end-of-input rules apply now (what its
    /// leftover asked is answered; a hello or a TLS handshake cannot complete any more).
    func endOfRawInput() {
        rawInputEnded = false
        if case .closed = state { return }
        endOfInput()
    }

    /// Takes the bytes read in Raw and not consumed.
    func takeRawBuffer() -> [UInt8] {
        defer { rawBuffer = [] }
        return rawBuffer
    }

    /// The peer's input ended while Raw: raw reads get the bytes that came before the end, then an
    /// empty array (the end itself). The connection stays Raw for its owner to decide — leave Raw, fail
    /// it (``failRaw(_:)``, a relay's refusal read just before the end), or close it — within
    /// ``ConnectionConfiguration/rawPhaseTimeout``; an owner's call already on its way is not raced by a
    /// close of our own.
    func rawEndOfInput() {
        rawInputEnded = true
        if rawReader != nil { deliverRaw() }
    }

    /// Most bytes kept unread in the Raw state: beyond it reading from the peer pauses until a raw read
    /// consumes some (a peer cannot fill our memory while the owner is not reading).
    static let rawBufferLimit = 4 * 1024 * 1024

    func rawReceived(_ bytes: UnsafeRawBufferPointer) {
        rawBuffer.append(contentsOf: bytes)
        rawNeedsMore = false
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
        // After the end of input, a reader that saw what is left and needs more gets the end itself (an
        // empty array); the bytes stay for the next phase.
        let endOnly = rawInputEnded && rawNeedsMore
        let bytes = endOnly ? [] : takeRawBuffer()
        deliveringRaw = true
        let consumed = min(max(reader(bytes), 0), bytes.count)
        deliveringRaw = false
        defer { resumeAfterRaw() }
        let rest = bytes[consumed...]
        if !endOnly { rawNeedsMore = consumed == 0 && !bytes.isEmpty }
        switch state {
        case .raw:
            if !rest.isEmpty { rawBuffer.insert(contentsOf: rest, at: 0) }  // before anything that arrived meanwhile
            // A reader that asked for more from its own callback gets what is left now, if it consumed
            // something (one that consumed nothing waits for new bytes) — or, after the end of input, the
            // end (once: a reader re-armed after the end is not called again from here).
            let more = consumed > 0 && !rawBuffer.isEmpty
            let end = rawInputEnded && !endOnly && (consumed > 0 || rawNeedsMore)
            if rawReader != nil, more || end { deliverRaw() }
        case .closed:
            break
        default:
            // The reader left Raw from its callback: the rest is the next phase's first input.
            let leftover = endOnly ? takeRawBuffer() : Array(rest) + takeRawBuffer()
            if secureAfterRawRead {
                secureAfterRawRead = false
                wrapRawInTLS(leftover: leftover)
            } else if !leftover.isEmpty {
                leftover.withUnsafeBytes { parse($0) }
            }
            if rawInputEnded { endOfRawInput() }
        }
    }
}
