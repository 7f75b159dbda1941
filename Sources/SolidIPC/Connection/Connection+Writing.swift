import SolidEngine
import SolidReactor
import Synchronization

// Writing: packets from the writer to the stream, a bounded amount per reactor turn, and keep-alives.
extension Connection {

    /// A response's flags made to keep a response in parts in order: the parts and the final response
    /// after them go synchronous (PROTOCOL.md §7), so a small final response never overtakes a large part
    /// the writer is still interleaving (the requester would drop a part that comes after the end).
    func orderingParts(_ flags: MessageFlags, responseTo: UInt64) -> MessageFlags {
        if flags.contains(.responsePart) {
            answeringInParts.insert(responseTo)
            return flags.union(.synchronous)
        }
        guard !answeringInParts.isEmpty, answeringInParts.remove(responseTo) != nil else { return flags }
        return flags.union(.synchronous)
    }

    /// Pumps once after the reactor's current batch of events, so messages sent in one turn share packets
    /// (and system calls) instead of going out one packet each.
    func schedulePump() {
        guard !pumpScheduled else { return }
        pumpScheduled = true
        reactor.runSoon(deferredPump)
    }

    func runDeferredPump() {
        pumpScheduled = false
        pump()
    }

    /// Bytes of packets one pump hands to the stream before it lets the reactor's other work run (reading
    /// answers, a cancel, other connections). Measured (W3): at 64 packets per turn a fast receiver let
    /// one pump write 4 MiB (about 2.5 ms) while a ping's answer waited unread; 256 KiB is ~150 µs. At
    /// 128 KiB (once writing a packet allocated nothing), two runs of 7: ping p99 during a stream 307–558
    /// → 169–188 µs, during a whole message 817–1038 → 578–631 µs, the bulk rates within their noise.
    static let bytesPerTurn = 128 * 1024

    /// Answers waiting in the writer that make a connection pump in the middle of a read (see
    /// `readerEvent`). Measured (W1, 64 in flight, one connection): 101–142 k → 250 k round trips/s at
    /// 32; at 8 or 16 more writes ate the gain.
    static let earlyPumpMessages = 32

    /// A packet within an eighth of the packet size: bulk data is flowing (the next packet is built in its
    /// own storage, not the scratch buffer).
    @inline(__always)
    static func isNearlyFull(_ length: Int, packetSize: Int) -> Bool { length >= packetSize - packetSize / 8 }

    /// Hands packets to the stream while fewer than `packetsInFlight` wait in it, at most
    /// ``bytesPerTurn`` per reactor turn. Never re-entered: a write that completes at once (the socket
    /// took it) only makes room for the loop that is already running.
    func pump() {
        guard let writer, case .active = state, !pumping, !securing else { return }
        pumping = true
        defer {
            pumping = false
            if isClosing { closeIfDone() }
        }
        var budget = Self.bytesPerTurn  // bytes; the packet that crosses it is the turn's last
        while inFlight < configuration.packetsInFlight && writer.hasWork {
            guard case .active = state else { return }  // a completion closed the connection
            guard budget > 0 else {
                schedulePump()  // the rest next turn
                return
            }
            if lastPacketWasFull {
                // Bulk: the writer fills the packet's own storage (no copy through the scratch buffer).
                let size = writer.packetSize
                let packet = [UInt8](unsafeUninitializedCapacity: size) { storage, count in
                    count = writer.nextPacket(into: UnsafeMutableRawBufferPointer(storage))
                }
                guard !packet.isEmpty else { return }
                lastPacketWasFull = Self.isNearlyFull(packet.count, packetSize: writer.packetSize)
                guard case .active = state else { return }  // an outcome callback closed the connection
                budget -= packet.count
                send(packet)
            } else {
                // Small messages: built in the reactor's scratch buffer (one per reactor, not 64 KiB per
                // connection) and written from there; only what the socket does not take is copied.
                let length = reactor.withScratch(minimumBytes: writer.packetSize) { scratch -> Int in
                    let length = writer.nextPacket(into: scratch)
                    guard length > 0 else { return 0 }
                    lastPacketWasFull = Self.isNearlyFull(length, packetSize: writer.packetSize)
                    guard case .active = state else { return 0 }  // an outcome callback closed the connection
                    send(copying: UnsafeRawBufferPointer(rebasing: scratch[0..<length]))
                    return length
                }
                guard length > 0 else { return }
                budget -= length
            }
        }
    }

    /// Adds `count` written bytes to this connection's and the service's totals.
    @inline(__always)
    func countSent(_ count: Int) {
        bytesSent &+= count
        counters?.bytesSent.add(count, ordering: .relaxed)
    }

    func send(_ packet: [UInt8]) {
        countPacket(packet.count)
        stream.write(packet, completion: packetWritten)
    }

    func send(copying packet: UnsafeRawBufferPointer) {
        countPacket(packet.count)
        stream.write(copying: packet, completion: packetWritten)
    }

    private func countPacket(_ bytes: Int) {
        inFlight += 1
        packetsSent += 1
        countSent(bytes)
        sentSinceTick = true
    }

    func packetWasWritten(_ error: StreamError?) {
        inFlight -= 1
        guard error == nil else { return }  // the stream reports its own failure through onClose
        if !pumping { pump() }
        if pausedForQueue { queueMayHaveRoom() }
        if isClosing { closeIfDone() }
    }

    func keepAliveTick() {
        guard case .active = state, !securing else { return }
        // Traffic sent since the last tick, or about to go out, makes a keep-alive pointless.
        let busy = sentSinceTick || pumpScheduled || (writer?.hasWork ?? false)
        if !busy {
            keepAlivesSent += 1
            packetsSent += 1
            counters?.keepAlivesSent.add(1, ordering: .relaxed)
            countSent(PacketFormat.headerSize)
            stream.write([PacketFormat.Kind.keepAlive.rawValue, 0, 0, 0])
        }
        sentSinceTick = false
    }
}
