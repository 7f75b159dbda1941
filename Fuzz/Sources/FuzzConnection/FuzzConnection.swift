import FuzzSamples
import SolidEngine
import SolidIPCSnappy

/// libFuzzer entry: one side (A) of a connection, its ``MessageWriter`` and its ``PacketReader`` driven
/// together by a script of operations (``ConnectionScript``). Everything the writer produces goes to a
/// second reader, the peer B, configured with the same agreed parameters; fuzzed bytes go to A's reader,
/// whose events make the writer act (a request is answered, a cancel-request cancels the responses).
///
/// Traps (`precondition`) when B fails on the writer's output, B gets anything but exactly the messages
/// the writer reported ``MessageWriter/Outcome/written``, in the order it reported them and with every
/// byte intact, B sees a cancel other than for a message that was partly sent, or the writer's own
/// bookkeeping (ids, outcomes, return values) contradicts what was done.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConnection(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 6 else { return 0 }
    var input = FuzzInput(UnsafeRawBufferPointer(start: data, count: size))
    let run = ConnectionRun(&input)
    run.play(&input)
    run.finish()
    return 0
}

/// What the fuzzer knows of one message it queued.
struct Queued {
    let sample: FuzzSample
    let flags: MessageFlags
    let requestID: UInt64
    let responseTo: UInt64
    var outcome: MessageWriter.Outcome?
}

/// One input's connection: A's writer and reader, B's reader, and the record of what should arrive.
final class ConnectionRun {
    /// Limits per input, so one execution stays in the milliseconds.
    static let maxOperations = 400
    static let byteBudget = 1 << 20
    static let maxMessages = 2000

    /// One registry per input: the writer keeps a weak reference to it, and the runtime's side table for
    /// a weak reference to an object that lives forever (a global) is reported as a leak by
    /// LeakSanitizer (its pointer is stored shifted in the object's reference count, invisible to LSan).
    let registry = fuzzRegistry()
    let helloA: HelloParameters
    let agreed: AgreedParameters
    let bodyLimit: Int
    let peerHello: Bool
    let localHello: Bool
    let writer: MessageWriter
    let peer: PacketReader
    let local: PacketReader
    let buffer: UnsafeMutableRawBufferPointer
    /// A's hello, fed to B in front of the first packet (when B expects a hello).
    var pendingHello: [UInt8] = []
    var peerHandshake = false
    var localHandshake = false

    var queued: [UInt64: Queued] = [:]  // by tag
    var tagOfID: [UInt64: UInt64] = [:]
    var ids: [UInt64] = []
    var written: [UInt64] = []
    var delivered: [UInt64] = []
    var partlySent = 0
    var peerCancels = 0
    var cancelRequestsSent: [UInt64] = []
    var cancelRequestsSeen: [UInt64] = []
    var keepAlivesSent = 0
    var keepAlivesSeen = 0
    var sinks: [UInt64: [CheckingSink]] = [:]
    var requestsReceived: [UInt64] = []
    var nextTag: UInt64 = 1
    var nextRequestID: UInt64 = 1
    var bytesQueued = 0
    var lastSynchronous: UInt64 = 0
    var localFailure: WireError?

    init(_ input: inout FuzzInput) {
        let (sizeA, sizeB, slotsA, slotsB) = (input.byteOrZero(), input.byteOrZero(), input.byteOrZero(), input.byteOrZero())
        let flags = input.byteOrZero()
        bodyLimit = ConnectionScript.bodyLimit(input.byteOrZero())
        helloA = HelloParameters(packetSize: fuzzPacketSize(sizeA), slots: fuzzSlots(slotsA),
                                 codecMask: flags & ConnectionScript.Flags.snappyA != 0 ? 1 : 0)
        let helloB = HelloParameters(packetSize: fuzzPacketSize(sizeB), slots: fuzzSlots(slotsB),
                                     codecMask: flags & ConnectionScript.Flags.snappyB != 0 ? 1 : 0)
        agreed = Hello.agree(local: helloA, remote: helloB)
        precondition(agreed == Hello.agree(local: helloB, remote: helloA), "the two sides agree differently")
        let codec: (any PacketCodec)? = agreed.codecBit == 1 ? SnappyCodec() : nil
        peerHello = flags & ConnectionScript.Flags.peerHello != 0
        localHello = flags & ConnectionScript.Flags.localHello != 0
        writer = MessageWriter(packetSize: agreed.packetSize, slots: agreed.slots, codec: codec, maxBodyBytes: bodyLimit)
        if peerHello {
            var configuration = ReaderConfiguration()
            configuration.local = helloB
            configuration.codecs = helloB.codecMask & 1 != 0 ? [SnappyCodec()] : []
            configuration.maxBodyBytes = bodyLimit
            peer = PacketReader(configuration: configuration, registry: registry)
        } else {
            peer = PacketReader(agreedPacketSize: agreed.packetSize, slots: agreed.slots, codec: codec,
                                registry: registry, maxBodyBytes: bodyLimit)
        }
        // A's reader takes arbitrary bytes: small limits, so a fuzzed declaration cannot reserve much.
        var limits = DecodingLimits()
        limits.maxByteCount = 1 << 16
        limits.maxCollectionCount = 1 << 12
        if localHello {
            var configuration = ReaderConfiguration()
            configuration.local = helloA
            configuration.codecs = helloA.codecMask & 1 != 0 ? [SnappyCodec()] : []
            configuration.limits = limits
            configuration.maxBodyBytes = min(bodyLimit, 1 << 20)
            local = PacketReader(configuration: configuration, registry: registry)
        } else {
            local = PacketReader(agreedPacketSize: agreed.packetSize, slots: agreed.slots, codec: codec, registry: registry,
                                 limits: limits, maxBodyBytes: min(bodyLimit, 1 << 20))
        }
        buffer = .allocate(byteCount: agreed.packetSize, alignment: 16)
        if peerHello { pendingHello = Array(buffer[0..<Hello.write(helloA, into: buffer)]) }
        // Unowned: the run owns all three, and a cycle would be reported as a leak.
        writer.onOutcome = { [unowned self] in self.ended($0, $1) }
        peer.onEvent = { [unowned self] in self.peerEvent($0) }
        peer.makeSinks = { [unowned self] in self.makeSinks($0, $1) }
        local.onEvent = { [unowned self] in self.localEvent($0) }
        local.makeSinks = { header, _ in (0..<header.streamCount).map { _ in DiscardingSink() } }
    }

    deinit { buffer.deallocate() }

    /// Runs the operations of the input.
    func play(_ input: inout FuzzInput) {
        var count = 0
        while count < Self.maxOperations, let code = input.byte() {
            count += 1
            let argument = code >> 4
            let operations = ConnectionScript.Op.allCases
            switch operations[Int(code & 15) % operations.count] {
            case .enqueue:
                let (flags, size) = (input.byteOrZero(), input.byteOrZero())
                let responseTo: UInt64 = switch argument >> 2 {
                case 1: requestsReceived.last ?? 0
                case 2: requestsReceived.first ?? 0
                case 3: UInt64(size)
                default: 0
                }
                enqueue(FuzzSample.Kind(rawValue: argument & 3)!, flags: flags, size: size, responseTo: responseTo)
            case .burst:
                for index in 0..<(Int(argument) + 1) * 16 { enqueue(.note, flags: 0, size: UInt8(index % 40), responseTo: 0) }
            case .cancel:
                cancel(input.byteOrZero())
            case .cancelRequest:
                let id = UInt64(input.byteOrZero())
                writer.cancelRequest(id)
                cancelRequestsSent.append(id)
            case .cancelResponses:
                let byte = input.byteOrZero()
                cancelResponses(to: byte == 255 || requestsReceived.isEmpty ? UInt64(byte) : requestsReceived[Int(byte) % requestsReceived.count])
            case .pull:
                _ = pull(piece: pieceSize(argument))
            case .feed:
                feedLocal(input.take(input.u16()), piece: pieceSize(argument))
            case .cancelAll:
                let pending = queued.filter { $0.value.outcome == nil }.map(\.key)
                writer.cancelAll()
                precondition(writer.pendingCount == 0, "cancelAll left messages queued")
                for tag in pending {
                    guard case .canceled = queued[tag]!.outcome else { preconditionFailure("cancelAll: sample \(tag) not cancelled") }
                }
            case .keepAlive:
                let bytes = pendingHello + [PacketFormat.Kind.keepAlive.rawValue, 0, 0, 0]  // PROTOCOL.md §2
                pendingHello = []
                keepAlivesSent += 1
                bytes.withUnsafeBytes { feedPeer($0, piece: pieceSize(argument)) }
            case .pullMany:
                for _ in 0..<(Int(argument) + 1) * 2 {
                    guard pull(piece: .max) else { break }
                }
            }
        }
    }

    /// Queues a sample; checks that the writer refuses it exactly when its flags break the header rules
    /// (PROTOCOL.md §5.1) or its bounded fields exceed the body limit.
    func enqueue(_ kind: FuzzSample.Kind, flags raw: UInt8, size: UInt8, responseTo: UInt64) {
        let sample = FuzzSample(kind: kind, tag: nextTag, size: size)
        guard bytesQueued + sample.byteCount <= Self.byteBudget, queued.count < Self.maxMessages else { return }
        nextTag += 1
        bytesQueued += sample.byteCount
        let flags = MessageFlags(rawValue: raw & 0x1F)
        var requestID: UInt64 = 0
        if flags.contains(.request) != (raw & 0x20 != 0) {  // bit 5 asks for a request without id or an id without request
            requestID = nextRequestID
            nextRequestID += 1
        }
        let consistent = flags.contains(.request) == (requestID != 0) && (!flags.contains(.responsePart) || responseTo != 0)
        do {
            let id = try writer.enqueue(sample.message(), registry: registry, flags: flags, requestID: requestID, responseTo: responseTo)
            precondition(consistent, "the writer queued a message whose header breaks the rules: \(flags) \(requestID) \(responseTo)")
            precondition(sample.boundedByteCount <= bodyLimit, "the writer queued a body over its limit")
            precondition(tagOfID[id] == nil, "the writer handed out id \(id) twice")
            tagOfID[id] = sample.tag
            ids.append(id)
            queued[sample.tag] = Queued(sample: sample, flags: flags, requestID: requestID, responseTo: responseTo)
        } catch .messageTooLarge {
            precondition(sample.boundedByteCount + 256 > bodyLimit, "the writer refused \(sample) as too large for \(bodyLimit)")
        } catch {
            precondition(!consistent, "the writer refused a valid message: \(error)")
        }
    }

    /// Cancels an id handed out earlier (or one never handed out); `cancel` must say whether it was pending.
    func cancel(_ byte: UInt8) {
        let id = byte == 255 || ids.isEmpty ? UInt64.max : ids[Int(byte) % ids.count]
        let tag = tagOfID[id]
        let pending = tag.map { queued[$0]!.outcome == nil } ?? false
        let cancelled = writer.cancel(id)
        precondition(cancelled == pending, "cancel(\(id)) returned \(cancelled) for a message \(pending ? "pending" : "finished or unknown")")
        if cancelled {
            guard case .canceled = queued[tag!]!.outcome else { preconditionFailure("cancel(\(id)) did not report a cancel") }
        }
    }

    /// Cancels the responses to `requestID`: exactly those still pending must end as cancelled by the peer.
    func cancelResponses(to requestID: UInt64) {
        let pending = requestID == 0 ? [] : queued.filter { $0.value.outcome == nil && $0.value.responseTo == requestID }.map(\.key)
        let count = writer.cancelResponses(to: requestID)
        precondition(count == pending.count, "cancelResponses(to: \(requestID)) cancelled \(count) of \(pending.count)")
        for tag in pending {
            guard case .canceledByPeer = queued[tag]!.outcome else { preconditionFailure("response \(tag) not cancelled by the peer") }
        }
    }

    /// The writer's outcome report: once per queued message, and only failing sources fail.
    func ended(_ id: UInt64, _ outcome: MessageWriter.Outcome) {
        guard let tag = tagOfID[id] else { preconditionFailure("outcome for id \(id), never handed out") }
        precondition(queued[tag]!.outcome == nil, "second outcome for sample \(tag): \(outcome)")
        queued[tag]!.outcome = outcome
        let kind = queued[tag]!.sample.kind
        switch outcome {
        case .written:
            precondition(kind != .failingStream, "a message whose source fails was reported written")
            written.append(tag)
        case .canceled(let partly), .canceledByPeer(let partly):
            if partly { partlySent += 1 }
        case .failed(let error, let partly):
            precondition(kind == .failingStream, "sample \(tag) failed: \(error)")
            guard case .streamSourceFailed = error else { preconditionFailure("a failing source reported \(error)") }
            if partly { partlySent += 1 }
        default:  // outcomes the writer may gain (for operations added later) must not be reported here
            preconditionFailure("outcome \(outcome) from an operation this fuzzer does not do")
        }
    }

    /// Takes one packet from the writer and feeds it to B; `false` when the writer had nothing.
    func pull(piece: Int) -> Bool {
        let size = writer.nextPacket(into: buffer)
        guard size > 0 else { return false }
        precondition(size > PacketFormat.headerSize && size <= agreed.packetSize, "packet of \(size) bytes for \(agreed.packetSize)")
        precondition(buffer[0] == PacketFormat.Kind.data.rawValue, "the writer wrote a packet of kind \(buffer[0])")
        precondition(buffer[1] == 0 || (buffer[1] == PacketFormat.compressedFlag && agreed.codecBit != 0), "packet flags \(buffer[1])")
        precondition(Int(buffer[2]) | Int(buffer[3]) << 8 == size - PacketFormat.headerSize, "payload length differs from the size")
        if pendingHello.isEmpty {
            feedPeer(UnsafeRawBufferPointer(rebasing: buffer[0..<size]), piece: piece)
        } else {
            let bytes = pendingHello + buffer[0..<size]
            pendingHello = []
            bytes.withUnsafeBytes { feedPeer($0, piece: piece) }
        }
        precondition(delivered.count == written.count, "B got \(delivered.count) messages, the writer wrote \(written.count)")
        return true
    }

    func feedPeer(_ bytes: UnsafeRawBufferPointer, piece: Int) {
        do {
            try feed(peer, bytes, piece: piece)
        } catch {
            preconditionFailure("B's reader failed on the writer's output: \(error)")
        }
    }

    /// Fuzzed bytes for A's reader. After a start-secure packet the reader keeps the rest; it is fed
    /// again in plain (as if TLS had delivered it). Once it failed it must fail again with the same error.
    func feedLocal(_ bytes: UnsafeRawBufferPointer, piece: Int) {
        if let failure = localFailure {
            do {
                try feed(local, bytes, piece: piece)
                preconditionFailure("A's reader accepted input after failing with \(failure)")
            } catch {
                precondition(error == failure, "A's reader failed with \(failure), then with \(error)")
            }
            return
        }
        do {
            try feed(local, bytes, piece: piece)
            while local.isSuspended {
                let rest = local.takeLeftover()
                local.resume()
                try feed(local, rest, piece: piece)
            }
        } catch {
            localFailure = error
        }
    }

    func peerEvent(_ event: ReaderEvent) {
        if case .handshake = event {} else {
            precondition(!peerHello || peerHandshake, "B reported \(event) before the handshake")
        }
        switch event {
        case .handshake(let remote, let agreed):
            precondition(peerHello && !peerHandshake, "B reported a handshake it should not have")
            precondition(remote == helloA && agreed == self.agreed, "B agreed \(agreed), the writer uses \(self.agreed)")
            peerHandshake = true
        case .message(let header, let message):
            arrived(header, message)
        case .canceledByPeer:
            peerCancels += 1
            precondition(peerCancels <= partlySent, "B got a cancel for a message that was not partly sent")
        case .cancelRequest(let id):
            cancelRequestsSeen.append(id)
            let index = cancelRequestsSeen.count - 1
            precondition(index < cancelRequestsSent.count && cancelRequestsSent[index] == id, "B got cancel-request \(id) out of order")
        case .keepAlive:
            keepAlivesSeen += 1
        case .rejected(let header, let error):
            preconditionFailure("B rejected a message the writer sent (\(header)): \(error)")
        default:
            preconditionFailure("B reported \(event), which the writer never sends")
        }
    }

    /// A message at B: one the writer reported written, next in the order it reported them, intact.
    func arrived(_ header: MessageHeader, _ message: any WireMessage) {
        guard let tag = fuzzTag(of: message), let sent = queued[tag] else { preconditionFailure("B got a message nobody sent") }
        precondition(delivered.count < written.count && written[delivered.count] == tag,
                     "B got sample \(tag) as message \(delivered.count); the writer's order: \(written)")
        precondition(sent.sample.matches(message), "sample \(tag) arrived with other contents")
        precondition(header.flags == sent.flags && header.requestID == sent.requestID && header.responseTo == sent.responseTo,
                     "sample \(tag) arrived with header \(header)")
        precondition((sinks[tag] ?? []).allSatisfy(\.finished), "sample \(tag) delivered before its streams ended")
        precondition(sinks[tag]?.count ?? 0 == sent.sample.streamLengths.count, "sample \(tag) delivered without its sinks")
        if sent.flags.contains(.synchronous) {
            precondition(tag > lastSynchronous, "synchronous sample \(tag) arrived after \(lastSynchronous)")
            lastSynchronous = tag
        }
        delivered.append(tag)
    }

    func makeSinks(_ header: MessageHeader, _ message: any WireMessage) -> [any ByteSink] {
        guard let tag = fuzzTag(of: message), let sent = queued[tag] else { return [] }
        precondition(sinks[tag] == nil, "B asked for the sinks of sample \(tag) twice")
        let made = sent.sample.streamLengths.enumerated().map { CheckingSink(tag: tag, field: $0.offset + 1, expectedCount: $0.element) }
        sinks[tag] = made
        return made
    }

    /// A's reader: a request gets a response (in two parts for even ids), a cancel-request cancels them.
    func localEvent(_ event: ReaderEvent) {
        switch event {
        case .handshake(let remote, let agreed):
            precondition(localHello && !localHandshake, "A's reader reported a second or unexpected handshake")
            precondition(agreed == Hello.agree(local: helloA, remote: remote), "A's reader agreed \(agreed) with \(remote)")
            precondition((4096...65536).contains(agreed.packetSize) && (1...4096).contains(agreed.slots), "agreed \(agreed)")
            localHandshake = true
        case .message(let header, _) where header.flags.contains(.request):
            requestsReceived.append(header.requestID)
            if header.requestID % 2 == 0 {
                enqueue(.note, flags: MessageFlags.responsePart.rawValue, size: UInt8(truncatingIfNeeded: header.requestID), responseTo: header.requestID)
            }
            enqueue(.note, flags: 0, size: 3, responseTo: header.requestID)
        case .cancelRequest(let id):
            cancelResponses(to: id)
        default:
            break
        }
        precondition(!localHello || localHandshake, "A's reader reported \(event) before the handshake")
    }

    /// Drains the writer, then checks the totals.
    func finish() {
        while pull(piece: .max) {}
        // nextPacket returning 0 means "nothing to send" (the connection stops pumping on it), so work
        // left now would stall there: hasWork promises that the next call produces a packet.
        precondition(!writer.hasWork && writer.pendingCount == 0, "the writer returned no packet with work left")
        if !pendingHello.isEmpty { pendingHello.withUnsafeBytes { feedPeer($0, piece: .max) } }
        precondition(!peerHello || peerHandshake, "B never got A's hello")
        for (tag, sent) in queued { precondition(sent.outcome != nil, "sample \(tag) never got an outcome") }
        precondition(delivered == written, "B got \(delivered), the writer wrote \(written)")
        precondition(peerCancels == partlySent, "B got \(peerCancels) cancels for \(partlySent) partly sent messages")
        precondition(cancelRequestsSeen == cancelRequestsSent, "cancel-requests sent \(cancelRequestsSent), seen \(cancelRequestsSeen)")
        precondition(keepAlivesSeen == keepAlivesSent, "keep-alives sent \(keepAlivesSent), seen \(keepAlivesSeen)")
        for (tag, made) in sinks {
            let done = queued[tag]!.outcome == .written
            for sink in made {
                precondition(done ? sink.finished : sink.finished || sink.aborted, "sample \(tag): stream \(sink.field) left open")
            }
        }
    }
}
