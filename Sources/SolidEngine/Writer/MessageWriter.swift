/// Turns queued messages into packets of the agreed size, one packet per call.
///
/// - Multiplexing: up to `slots` messages are in flight at once; each packet gives them chunks in
///   round-robin order, one chunk per turn, so a small message waits about one packet per active message
///   even behind a 100 GB one.
/// - Synchronous messages go strictly one after another: the next one is admitted only when the
///   previous one has been written completely. Asynchronous ones interleave freely.
/// - Memory: the caller's packet buffer, one scratch packet for compression, and per message its
///   encoded header and body. Streams are pulled from their sources straight into the packet.
///
/// Not thread-safe: one writer per connection, used on that connection's thread. (For that reason the
/// hot fields skip dynamic exclusivity checks: they cost about a fifth of the small-message path.)
public final class MessageWriter {
    /// How a queued message ended.
    public enum Outcome: Sendable, Equatable {
        /// Every byte was written into packets.
        case written
        /// Cancelled with ``cancel(_:)``; `partlySent` says whether the peer saw part of it (a cancel
        /// record then told it to drop what it got).
        case canceled(partlySent: Bool)
        /// A stream source failed; the peer was told to drop the message if it had started.
        case failed(WireError, partlySent: Bool)
        /// A response the peer no longer wants (``cancelResponses(to:byPeer:)``, after its cancel-request record);
        /// `partlySent` as for ``canceled(partlySent:)``.
        case canceledByPeer(partlySent: Bool)
        /// Never started: the writer went away (``goAway()``) while it waited. Its owner may send it on
        /// another connection.
        case withdrawn
    }

    /// Called once per message when it was written, cancelled or failed.
    @exclusivity(unchecked) public var onOutcome: ((UInt64, Outcome) -> Void)?
    /// Called once per message written completely, with its type and in-line body size (metrics).
    @exclusivity(unchecked) public var onWritten: ((MessageTypeID, Int) -> Void)?

    /// The agreed packet size, header included.
    public let packetSize: Int
    /// The agreed number of slots.
    public let slots: Int
    /// Largest body ``enqueue(_:registry:flags:requestID:responseTo:completion:observer:limited:)`` accepts.
    public let maxBodyBytes: Int
    private let codec: (any PacketCodec)?
    private var scratch: UnsafeMutableRawBufferPointer

    @exclusivity(unchecked) var waiting = FIFO<OutgoingMessage>()
    @exclusivity(unchecked) var waitingSynchronous = FIFO<OutgoingMessage>()
    @exclusivity(unchecked) private var active: [OutgoingMessage] = []
    @exclusivity(unchecked) private var cursor = 0
    @exclusivity(unchecked) var freeSlots: [Int]
    @exclusivity(unchecked) private var synchronousActive = false
    @exclusivity(unchecked) var cancelRecords: [Int] = []
    @exclusivity(unchecked) var cancelRequestRecords: [UInt64] = []
    @exclusivity(unchecked) var rejectRecords: [(UInt64, PeerRejection)] = []
    @exclusivity(unchecked) var goingAwayPending = false
    /// ``goAway()`` was called: only responses are admitted to slots from now on.
    public var isGoingAway: Bool { goingAway }
    @exclusivity(unchecked) var goingAway = false
    /// Bytes of the messages queued or in flight that are not written yet: headers, bodies and out-of-line
    /// byte arrays (streams are pulled from their sources as they go out, so they are not counted).
    public var queuedBytes: Int { queuedByteCount }
    /// The part of ``queuedBytes`` of messages enqueued with `limited: true` (the default), and how many
    /// such messages are queued or being written: what an owner holds against its queue limits. A
    /// message its owner bounds some other way (a pool's own sends, which a peer cannot make grow) is
    /// enqueued with `limited: false` and counts only in the totals.
    public var limitedQueuedBytes: Int { limitedByteCount }
    public var limitedPendingCount: Int { limitedCount }
    // Stored privately: other modules read a stored class property with a dynamic exclusivity check even
    // when it is marked unchecked (~76 instructions per read); the getter has none.
    @exclusivity(unchecked) private var queuedByteCount = 0
    @exclusivity(unchecked) private var limitedByteCount = 0
    @exclusivity(unchecked) private var limitedCount = 0
    /// Responses queued or in flight, by the request they answer (for ``cancelResponses(to:byPeer:)``).
    private let pendingResponses = IDTable()
    @exclusivity(unchecked) private var nextID: UInt64 = 1
    // The last type sent and its id: consecutive messages of one type skip the registry lookup. The
    // registry is held strongly (it holds nothing back): a weak reference cost a weak load, about 140
    // instructions, per message.
    @exclusivity(unchecked) private var lastType: ObjectIdentifier?
    @exclusivity(unchecked) private var lastRegistry: MessageRegistry?
    @exclusivity(unchecked) private var lastTypeID: MessageTypeID?
    /// Body size (plus an eighth) of the last message encoded, a capacity guess for the next of its type.
    @exclusivity(unchecked) private var lastBodySize = 256
    /// Finished messages and emptied buffers kept for the next ones: a small message then costs no
    /// allocation in the writer (measured: two allocations per message before).
    @exclusivity(unchecked) private var spareMessages: [OutgoingMessage] = []
    @exclusivity(unchecked) private(set) var spareBuffers: [[UInt8]] = []
    private static let maxSpares = 64
    /// Larger buffers are freed, not kept.
    private static let maxSpareBufferBytes = 4096

    /// Creates a writer for agreed parameters; `codec` compresses packets when given.
    ///
    /// `maxBodyBytes` refuses, at enqueue, a message whose body and out-of-line byte arrays (its fields,
    /// streams not counted) are larger than a reader with the same limit accepts, so the message fails here
    /// instead of being dropped by the peer.
    public init(packetSize: Int, slots: Int, codec: (any PacketCodec)? = nil, maxBodyBytes: Int = .max) {
        precondition((PacketFormat.minPacketSize...PacketFormat.maxPacketSize).contains(packetSize))
        precondition((1...Hello.maxSlots).contains(slots))
        self.maxBodyBytes = maxBodyBytes
        self.packetSize = packetSize
        self.slots = slots
        self.codec = codec
        // Codecs may need more than the input size as working room (Snappy: 32 + n + n/6).
        scratch = .allocate(byteCount: codec == nil ? 0 : packetSize * 2, alignment: 16)
        freeSlots = Array((0..<slots).reversed())
    }

    deinit { scratch.deallocate() }

    /// Messages queued or in flight.
    public var pendingCount: Int { waiting.count + waitingSynchronous.count + active.count }
    /// `true` when a call to ``nextPacket(into:)`` would produce a packet.
    public var hasWork: Bool {
        pendingCount > 0 || !cancelRecords.isEmpty || !cancelRequestRecords.isEmpty || !rejectRecords.isEmpty
            || goingAwayPending
    }

    /// Queues a message already encoded (see ``WireEncoder``); returns its local id.
    @discardableResult
    public func enqueue(header: MessageHeader, body: [UInt8], streams: [any ByteSource]) throws(WireError) -> UInt64 {
        guard body.count <= maxBodyBytes else { throw .messageTooLarge(length: UInt64(body.count), limit: maxBodyBytes) }
        var header = header
        header.bodyLength = UInt64(body.count)
        header.streamCount = streams.count
        let id = nextID
        nextID += 1
        let message = OutgoingMessage(id: id, header: header, buffer: body, headerRoom: 0, streams: streams)
        message.accounted = body.count + MessageHeader.maxEncodedSize
        queue(message)
        return id
    }

    /// Encodes and queues `message` with its registered type id.
    @discardableResult
    ///
    /// `completion` and `observer`, when given, are told once of the message's outcome (after
    /// ``onOutcome``); an observer costs no allocation.
    public func enqueue<M: WireMessage>(
        _ message: M, registry: MessageRegistry, flags: MessageFlags = [], requestID: UInt64 = 0,
        responseTo: UInt64 = 0, completion: ((Outcome) -> Void)? = nil,
        observer: (any MessageOutcomeObserver)? = nil, limited: Bool = true
    ) throws(WireError) -> UInt64 {
        let typeID: MessageTypeID
        if lastType == ObjectIdentifier(M.self), lastRegistry === registry, let cached = lastTypeID {
            typeID = cached
        } else {
            guard let found = registry.typeID(of: M.self) else { throw .unregisteredType("\(M.self)") }
            typeID = found
            lastType = ObjectIdentifier(M.self)
            lastRegistry = registry
            lastTypeID = found
        }
        let room = MessageHeader.maxEncodedSize
        // Sized like the previous message of this type (messages of one type tend to be alike), so the
        // body is usually encoded without growing its buffer.
        let guess = lastType == ObjectIdentifier(M.self) ? lastBodySize : 256
        var encoded = try M.encodeBody(
            message, headerRoom: room, capacity: max(guess, 64), storage: spareBuffers.popLast() ?? [])
        var buffer: [UInt8] = []
        swap(&buffer, &encoded.bytes)  // the only reference, so the header goes in front without a copy
        let bodyLength = buffer.count - room
        lastBodySize = bodyLength + buffer.count / 8
        guard bodyLength + encoded.outOfLineBytes <= maxBodyBytes else {
            throw .messageTooLarge(length: UInt64(bodyLength + encoded.outOfLineBytes), limit: maxBodyBytes)
        }
        let header = MessageHeader(
            typeID: typeID, version: M.version, flags: flags, requestID: requestID, responseTo: responseTo,
            bodyLength: UInt64(bodyLength), streamCount: encoded.streamCount)
        try header.validate()
        let id = nextID
        nextID += 1
        let outgoing: OutgoingMessage
        if let spare = spareMessages.popLast() {
            spare.reuse(id: id, header: header, buffer: consume buffer, headerRoom: room, streams: encoded.tail)
            outgoing = spare
        } else {
            outgoing = OutgoingMessage(
                id: id, header: header, buffer: consume buffer, headerRoom: room, streams: encoded.tail)
        }
        outgoing.completion = completion
        outgoing.observer = observer
        outgoing.accounted = bodyLength + encoded.outOfLineBytes + MessageHeader.maxEncodedSize
        outgoing.limited = limited
        queue(outgoing)
        return id
    }

    @inline(__always)
    private func queue(_ message: OutgoingMessage) {
        queuedByteCount += message.accounted
        if message.limited {
            limitedByteCount += message.accounted
            limitedCount += 1
        }
        if message.responseTo != 0 { pendingResponses.increment(message.responseTo) }
        if goingAway && message.responseTo == 0 {
            // Going away: only responses start. Anything else ends now, never sent, for its owner to
            // send elsewhere.
            report(message, .withdrawn)
        } else if message.synchronous {
            waitingSynchronous.append(message)
        } else {
            waiting.append(message)
        }
    }

    /// Cancels a queued or partly written message. Returns `false` when it is unknown or finished.
    @discardableResult
    public func cancel(_ id: UInt64) -> Bool {
        cancel(id, byPeer: false)
    }

    /// Cancels everything queued or partly written, in the order it was queued (the connection is closing).
    public func cancelAll() {
        cancelEach(byPeer: false) { _ in true }
    }

    /// Tells the owner and the message's own completion how it ended, once.
    @inline(__always)
    private func report(_ message: OutgoingMessage, _ outcome: Outcome) {
        queuedByteCount -= message.accounted
        if message.limited {
            limitedByteCount -= message.accounted
            limitedCount -= 1
        }
        message.accounted = 0
        if message.responseTo != 0 { responseEnded(message.responseTo) }
        onOutcome?(message.id, outcome)
        if let onWritten, case .written = outcome { onWritten(message.typeID, message.bodyLength) }
        if let observer = message.observer {
            message.observer = nil
            observer.messageEnded(outcome)
        }
        if let completion = message.completion {
            message.completion = nil
            completion(outcome)
        }
    }

    /// Cancels every queued or partly written response to the peer's request `requestID`; each completes
    /// with ``Outcome/canceledByPeer(partlySent:)`` when `byPeer` (the peer sent a cancel-request record
    /// for it), else with ``Outcome/canceled(partlySent:)`` (this side refuses the request after all).
    /// Returns how many there were.
    @discardableResult
    public func cancelResponses(to requestID: UInt64, byPeer: Bool = true) -> Int {
        // The index answers "none" at once: a peer's flood of cancel-requests for ids with no response
        // queued costs one lookup each, not a scan of every message queued.
        guard requestID != 0, pendingResponses.contains(requestID) else { return 0 }
        return cancelEach(byPeer: byPeer) { $0.responseTo == requestID }
    }

    func reportWithdrawn(_ message: OutgoingMessage) { report(message, .withdrawn) }

    private func responseEnded(_ requestID: UInt64) { pendingResponses.decrement(requestID) }

    /// Cancels every queued or active message that `matches`, in the order they were queued; returns how
    /// many. (Ids are collected first: cancelling changes the queues.)
    @discardableResult
    private func cancelEach(byPeer: Bool, where matches: (OutgoingMessage) -> Bool) -> Int {
        var ids: [UInt64] = []
        for message in active where matches(message) { ids.append(message.id) }
        waiting.forEach { if matches($0) { ids.append($0.id) } }
        waitingSynchronous.forEach { if matches($0) { ids.append($0.id) } }
        for id in ids.sorted() { _ = cancel(id, byPeer: byPeer) }
        return ids.count
    }

    private func cancel(_ id: UInt64, byPeer: Bool) -> Bool {
        if let message = waiting.remove(where: { $0.id == id })
            ?? waitingSynchronous.remove(where: { $0.id == id })
        {
            report(message, byPeer ? .canceledByPeer(partlySent: false) : .canceled(partlySent: false))
            return true
        }
        guard let index = active.firstIndex(where: { $0.id == id }) else { return false }
        let message = active[index]
        let partly = message.started
        retire(at: index, releaseSlot: !partly)
        if partly { cancelRecords.append(message.slot) }
        report(message, byPeer ? .canceledByPeer(partlySent: partly) : .canceled(partlySent: partly))
        return true
    }

    /// Writes the next data packet into `buffer` (at least ``packetSize`` bytes); returns its size, or 0
    /// when there is nothing to send.
    public func nextPacket(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        precondition(buffer.count >= packetSize, "buffer smaller than the packet size")
        let payloadStart = buffer.baseAddress! + PacketFormat.headerSize
        let capacity = packetSize - PacketFormat.headerSize
        var used = writeControlRecords(payloadStart, used: 0, capacity: capacity)
        admit()
        used = fillChunks(payloadStart, used: used, capacity: capacity)
        // A source that failed during this packet left a cancel record: send it now (its slot is released
        // only once written, so no new message reused the slot earlier in this packet).
        used = writeControlRecords(payloadStart, used: used, capacity: capacity)
        guard used > 0 else { return 0 }
        var flags: UInt8 = 0
        if let codec,
            let compressed = codec.compress(UnsafeRawBufferPointer(start: payloadStart, count: used), into: scratch)
        {
            payloadStart.copyMemory(from: scratch.baseAddress!, byteCount: compressed)
            used = compressed
            flags = PacketFormat.compressedFlag
        }
        PacketFormat.writeHeader(kind: .data, flags: flags, payloadLength: used, to: buffer.baseAddress!)
        return PacketFormat.headerSize + used
    }

    /// Round-robin: one chunk per active message per turn until the packet is full.
    private func fillChunks(_ payload: UnsafeMutableRawPointer, used start: Int, capacity: Int) -> Int {
        var used = start
        var idleTurns = 0
        // The first round gives each active message at most an equal share of the packet, so a small
        // message queued behind a large one goes out in this packet, not the next (W3: one packet less
        // for a ping to wait behind). Later rounds fill what is left.
        var sharedTurns = active.count > 1 ? active.count : 0
        let share = max((capacity - start) / max(active.count, 1), 1024)
        while !active.isEmpty && idleTurns < active.count {
            if cursor >= active.count { cursor = 0 }
            let message = active[cursor]
            let slotSize = Varint.size(UInt64(message.slot))
            let recordHeader = 1 + slotSize + 2
            guard capacity - used > recordHeader + 2 else { break }
            let dataStart = payload + used + recordHeader
            var room = min(capacity - used - recordHeader, Int(UInt16.max))
            if sharedTurns > 0 {
                sharedTurns -= 1
                room = min(room, share)
            }
            let first = !message.started
            let count: Int
            do {
                count = try message.produce(into: UnsafeMutableRawBufferPointer(start: dataStart, count: room))
            } catch {
                let partly = message.started || !first
                retire(at: cursor, releaseSlot: !partly)
                if partly { cancelRecords.append(message.slot) }
                report(message, .failed(error, partlySent: partly))
                admit()  // its slot (or the synchronous turn) is free: the next message starts in this packet
                continue
            }
            if message.accounted > 0 {
                let done = min(count, message.accounted)
                message.accounted -= done
                queuedByteCount -= done
                if message.limited { limitedByteCount -= done }
            }
            if count == 0 {
                idleTurns += 1  // the room left is too small for this message's next piece
                cursor += 1
                continue
            }
            idleTurns = 0
            let finished = message.isFinished
            var command = PacketFormat.Command.chunk.rawValue
            if first { command |= PacketFormat.firstChunkFlag }
            if finished { command |= PacketFormat.lastChunkFlag }
            (payload + used).storeBytes(of: command, as: UInt8.self)
            _ = Varint.write(UInt64(message.slot), to: payload + used + 1)
            (payload + used + 1 + slotSize).storeBytes(of: UInt8(truncatingIfNeeded: count), as: UInt8.self)
            (payload + used + 2 + slotSize).storeBytes(of: UInt8(truncatingIfNeeded: count >> 8), as: UInt8.self)
            used += recordHeader + count
            if finished {
                retire(at: cursor)
                report(message, .written)
                recycle(message)
                admit()
            } else {
                cursor += 1
            }
        }
        return used
    }

    /// Keeps a written message and its buffer for reuse. Only the writer ever holds an
    /// ``OutgoingMessage`` (outcomes report ids), so once retired and reported nothing else refers to it.
    /// The buffer is kept as it is: the encoder empties it when it takes it.
    private func recycle(_ message: OutgoingMessage) {
        let buffer = message.recycle()
        if spareMessages.count < Self.maxSpares { spareMessages.append(message) }
        if spareBuffers.count < Self.maxSpares && buffer.capacity <= Self.maxSpareBufferBytes && buffer.capacity > 0 {
            spareBuffers.append(buffer)
        }
    }

    /// Moves waiting messages into free slots: asynchronous ones in order, synchronous ones one at a time.
    private func admit() {
        while !freeSlots.isEmpty {
            if !synchronousActive, let message = waitingSynchronous.popFirst() {
                synchronousActive = true
                activate(message)
            } else if let message = waiting.popFirst() {
                activate(message)
            } else {
                return
            }
        }
    }

    private func activate(_ message: OutgoingMessage) {
        message.slot = freeSlots.removeLast()
        active.append(message)
    }

    /// Removes an active message; its slot becomes free now, or (after a partial send) once the cancel
    /// record for it is written, so the peer never sees a new message in a slot it still holds.
    private func retire(at index: Int, releaseSlot: Bool = true) {
        let message = active.remove(at: index)
        if index < cursor { cursor -= 1 }
        if releaseSlot { freeSlots.append(message.slot) }
        if message.synchronous { synchronousActive = false }
    }
}

/// Told once how a message queued with ``MessageWriter/enqueue(_:registry:flags:requestID:responseTo:completion:observer:limited:)``
/// ended. An object the caller already has (its own record of the message) saves allocating a closure.
public protocol MessageOutcomeObserver: AnyObject {
    /// The message was written, cancelled or failed.
    func messageEnded(_ outcome: MessageWriter.Outcome)
}
