import FuzzSamples
import SolidEngine
import SolidIPCSnappy

/// Seeds for `FuzzConnection` (``ConnectionScript``): scripts that use every operation and sample kind,
/// and feed A's reader real writer output (requests, cancel-requests, keep-alives, a start-secure).
enum ConnectionSeeds {
    typealias Script = ConnectionScript.Builder
    static let request: UInt8 = MessageFlags.request.rawValue

    static func all(registry: MessageRegistry) throws -> [[UInt8]] {
        var seeds: [[UInt8]] = []

        // Every kind, fed to B in one-byte, mid-size and whole pieces.
        var basic = Script(packetSizeA: 0, packetSizeB: 10, slotsA: 3, slotsB: 7, flags: 0)
        for (index, kind) in FuzzSample.Kind.allCases.enumerated() {
            basic.enqueue(kind, size: UInt8(index * 61 + 2))
            basic.op(.pull, argument: [0, 6, 15, 9][index])
        }
        seeds.append(basic.bytes)

        // Snappy agreed, B expects A's hello; bodies around the out-of-line threshold.
        var snappy = Script(packetSizeA: 255, packetSizeB: 60, slotsA: 15, slotsB: 15,
                            flags: ConnectionScript.Flags.snappyA | ConnectionScript.Flags.snappyB | ConnectionScript.Flags.peerHello)
        for size: UInt8 in [0, 1, 2, 3, 4, 9, 249] { snappy.enqueue(.body, size: size) }
        snappy.op(.keepAlive, argument: 2)
        snappy.op(.pull, argument: 3)
        snappy.enqueue(.streams, size: 30)
        snappy.op(.pullMany, argument: 3)
        seeds.append(snappy.bytes)

        // Flags: synchronous, requests, a response part, an invalid request, idempotent and one-shot.
        var flags = Script(packetSizeA: 1, packetSizeB: 1, slotsA: 2, slotsB: 5, flags: 0)
        let sync = MessageFlags.synchronous.rawValue
        for raw in [sync, sync | request, request, MessageFlags.idempotent.rawValue | MessageFlags.oneShot.rawValue, 0x20, request | 0x20] {
            flags.enqueue(.note, flags: raw, size: raw)
            flags.enqueue(.body, flags: raw & sync, size: 4)
        }
        flags.enqueue(.note, flags: MessageFlags.responsePart.rawValue, size: 42, respondTo: 3)
        flags.enqueue(.note, flags: MessageFlags.responsePart.rawValue, size: 42)
        flags.op(.pullMany, argument: 1)
        seeds.append(flags.bytes)

        // Cancels: one partly sent, one queued, one finished, one never handed out; cancelAll at the end.
        var cancels = Script(packetSizeA: 0, packetSizeB: 0, slotsA: 1, slotsB: 1, flags: 0)
        cancels.enqueue(.body, size: 249)
        cancels.enqueue(.note, size: 9)
        cancels.enqueue(.streams, size: 200)
        cancels.op(.pull)
        cancels.op(.cancel, [0])
        cancels.op(.cancel, [1])
        cancels.op(.pullMany, argument: 2)
        cancels.op(.cancel, [2])
        cancels.op(.cancel, [255])
        cancels.enqueue(.streams, size: 250)
        cancels.op(.pull)
        cancels.op(.cancelAll)
        cancels.op(.cancelRequest, [5])
        cancels.op(.cancelRequest, [0])
        cancels.op(.keepAlive)
        seeds.append(cancels.bytes)

        // Stream sources that fail: at once, after part of the first packet, after several packets.
        var failing = Script(packetSizeA: 3, packetSizeB: 3, slotsA: 4, slotsB: 4, flags: 0)
        for size: UInt8 in [0, 5, 60, 200] {
            failing.enqueue(.failingStream, size: size)
            failing.enqueue(.note, size: size)
            failing.op(.pull, argument: 12)
        }
        seeds.append(failing.bytes)

        // Many slots (two-byte slot varints) filled by bursts.
        var burst = Script(packetSizeA: 20, packetSizeB: 255, slotsA: 201, slotsB: 202, flags: 0)
        burst.op(.burst, argument: 15)
        burst.enqueue(.body, size: 4)
        burst.op(.pull)
        burst.op(.cancel, [130])
        burst.op(.pullMany, argument: 15)
        seeds.append(burst.bytes)

        // Body limits near the sample sizes.
        var limits = Script(packetSizeA: 0, packetSizeB: 0, slotsA: 3, slotsB: 3, flags: 0, bodyLimit: 3)
        for size: UInt8 in [1, 2, 3, 4, 9, 39] { limits.enqueue(.body, size: size) }
        limits.enqueue(.streams, size: 3)
        seeds.append(limits.bytes)

        // A's reader gets requests and cancel-requests: responses are queued, then cancelled.
        for (config, localHello) in [((UInt8(0), UInt8(4), UInt8(3), UInt8(3)), false), ((9, 200, 16, 210), true)] {
            let flagsByte = localHello ? ConnectionScript.Flags.localHello | ConnectionScript.Flags.snappyA | ConnectionScript.Flags.snappyB : 0
            var peer = Script(packetSizeA: config.0, packetSizeB: config.1, slotsA: config.2, slotsB: config.3, flags: flagsByte)
            let incoming = try PeerBytes(config: config, flags: flagsByte, registry: registry)
            peer.feed(try incoming.requests(ids: [2, 3, 4], hello: localHello), piece: localHello ? 3 : 15)
            peer.op(.pull)
            peer.feed(try incoming.cancelRequests([4]), piece: 0)
            peer.op(.cancelResponses, [0])
            peer.enqueue(.note, size: 5, respondTo: 1)
            peer.feed(try incoming.requests(ids: [10], hello: false, startSecure: true))
            peer.op(.pullMany)
            seeds.append(peer.bytes)
        }
        return seeds
    }

    /// What B sends to A in a seed: packets from a writer with the parameters both agree on.
    struct PeerBytes {
        let helloB: HelloParameters
        let writer: MessageWriter
        let registry: MessageRegistry

        init(config: (UInt8, UInt8, UInt8, UInt8), flags: UInt8, registry: MessageRegistry) throws {
            let helloA = HelloParameters(packetSize: fuzzPacketSize(config.0), slots: fuzzSlots(config.2),
                                         codecMask: flags & ConnectionScript.Flags.snappyA != 0 ? 1 : 0)
            helloB = HelloParameters(packetSize: fuzzPacketSize(config.1), slots: fuzzSlots(config.3),
                                     codecMask: flags & ConnectionScript.Flags.snappyB != 0 ? 1 : 0)
            let agreed = Hello.agree(local: helloA, remote: helloB)
            writer = MessageWriter(packetSize: agreed.packetSize, slots: agreed.slots, codec: agreed.codecBit == 1 ? SnappyCodec() : nil)
            self.registry = registry
        }

        /// B's hello (optionally), requests with `ids`, a keep-alive, then (optionally) a start-secure
        /// packet and one more request after it.
        func requests(ids: [UInt64], hello: Bool, startSecure: Bool = false) throws -> [UInt8] {
            var output: [UInt8] = []
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: writer.packetSize, alignment: 16)
            defer { buffer.deallocate() }
            if hello { output += buffer[0..<Hello.write(helloB, into: buffer)] }
            for id in ids { try writer.enqueue(FuzzPing(id: id, text: "request"), registry: registry, flags: [.request], requestID: id) }
            try writer.enqueue(FuzzPing(id: 0, text: "note"), registry: registry)
            output += drain(buffer)
            output += buffer[0..<PacketFormat.writeKeepAlive(into: buffer)]
            if startSecure {
                output += [PacketFormat.Kind.startSecure.rawValue, 0, 0, 0]
                try writer.enqueue(FuzzPing(id: 99, text: "after"), registry: registry, flags: [.request], requestID: 98)
                output += drain(buffer)
            }
            return output
        }

        /// Cancel-request records for `ids`.
        func cancelRequests(_ ids: [UInt64]) throws -> [UInt8] {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: writer.packetSize, alignment: 16)
            defer { buffer.deallocate() }
            for id in ids { writer.cancelRequest(id) }
            return drain(buffer)
        }

        func drain(_ buffer: UnsafeMutableRawBufferPointer) -> [UInt8] {
            var output: [UInt8] = []
            while case let size = writer.nextPacket(into: buffer), size > 0 { output += buffer[0..<size] }
            return output
        }
    }
}
