/// Control records: cancels, cancel-requests, rejects and going-away (PROTOCOL.md §4).
extension MessageWriter {
    /// Queues a record telling the peer that the request it sent with `requestID` is no longer wanted.
    public func cancelRequest(_ requestID: UInt64) { cancelRequestRecords.append(requestID) }

    /// Queues a reject record: the peer's request `requestID` was refused and gets no response.
    public func reject(_ requestID: UInt64, _ rejection: PeerRejection) {
        precondition(requestID != 0, "a reject names a request")
        rejectRecords.append((requestID, rejection))
    }

    /// Queues the going-away record (once): from now on only responses start (the peer waits for them);
    /// messages already in a slot are finished. Other messages still waiting end at once as
    /// ``Outcome/withdrawn`` (in the order they were queued), so their owner can send them elsewhere, and
    /// so do ones enqueued later (from within ``enqueue(_:registry:flags:requestID:responseTo:completion:observer:limited:)``).
    public func goAway() {
        guard !goingAway else { return }
        goingAway = true
        goingAwayPending = true
        var withdrawn: [OutgoingMessage] = []
        var keep = FIFO<OutgoingMessage>()
        while let message = waiting.popFirst() {
            if message.responseTo == 0 { withdrawn.append(message) } else { keep.append(message) }
        }
        waiting = keep
        var keepSynchronous = FIFO<OutgoingMessage>()
        while let message = waitingSynchronous.popFirst() {
            if message.responseTo == 0 { withdrawn.append(message) } else { keepSynchronous.append(message) }
        }
        waitingSynchronous = keepSynchronous
        for message in withdrawn.sorted(by: { $0.id < $1.id }) { reportWithdrawn(message) }
    }

    /// Writes pending cancel and cancel-request records while they fit; releases cancelled slots.
    func writeControlRecords(_ payload: UnsafeMutableRawPointer, used start: Int, capacity: Int) -> Int {
        var used = start
        while let slot = cancelRecords.first, capacity - used >= 6 {
            cancelRecords.removeFirst()
            payload.storeBytes(of: PacketFormat.Command.cancelMessage.rawValue, toByteOffset: used, as: UInt8.self)
            used += 1 + Varint.write(UInt64(slot), to: payload + used + 1)
            freeSlots.append(slot)  // reusable only once the peer has been told to drop its message
        }
        while let request = cancelRequestRecords.first, capacity - used >= 11 {
            cancelRequestRecords.removeFirst()
            payload.storeBytes(of: PacketFormat.Command.cancelRequest.rawValue, toByteOffset: used, as: UInt8.self)
            used += 1 + Varint.write(request, to: payload + used + 1)
        }
        while let (request, rejection) = rejectRecords.first, capacity - used >= 13 + rejection.reason.utf8.count {
            rejectRecords.removeFirst()
            payload.storeBytes(of: PacketFormat.Command.reject.rawValue, toByteOffset: used, as: UInt8.self)
            used += 1 + Varint.write(request, to: payload + used + 1)
            payload.storeBytes(of: rejection.code.rawValue, toByteOffset: used, as: UInt8.self)
            let reason = rejection.reason.utf8
            payload.storeBytes(of: UInt8(reason.count), toByteOffset: used + 1, as: UInt8.self)
            used += 2
            for byte in reason {
                payload.storeBytes(of: byte, toByteOffset: used, as: UInt8.self)
                used += 1
            }
        }
        if goingAwayPending, capacity - used >= 1 {
            goingAwayPending = false
            payload.storeBytes(of: PacketFormat.Command.goingAway.rawValue, toByteOffset: used, as: UInt8.self)
            used += 1
        }
        return used
    }
}
