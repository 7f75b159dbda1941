import Glibc
import Synchronization
import Testing
@testable import SolidReactor

/// What a splice test records, on one reactor thread.
private final class SpliceRig: @unchecked Sendable {
    // @unchecked: every field is touched on the rig's reactor thread only.
    var splice: StreamSplice?
    var received: [UInt8] = []
    var ended: String?
}

@Suite("Stream splice", .serialized)
struct StreamSpliceTests {
    @Test("16 MiB through a splice to a side that does not read: reading the other side pauses (bounded), then every byte arrives in order; FIN passes, both close together")
    func backpressure() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let reactor = group.reactors[0]
        let rig = SpliceRig()
        let arrived = TestSignal()
        let finished = TestSignal()
        // front: a → (accepted f) | splice | (c) → back → (accepted b)
        let front = try ConnectedPair.make(on: reactor)
        let back = try ConnectedPair.make(on: reactor)
        try onReactor(reactor) {
            rig.splice = StreamSplice(front.accepted, back.client) { error in
                rig.ended = "\(error.map { "\($0)" } ?? "clean")"
                finished.signal()
            }
            front.accepted.resumeReading()  // the pair starts it paused; the splice reads it from now on
        }
        let total = 16 << 20
        let payload = (0..<total).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ $0 >> 11) }
        try onReactor(reactor) {
            let b = back.accepted
            b.onRead = { bytes in
                rig.received.append(contentsOf: bytes)
                arrived.signal(bytes.count)
            }
            b.onEndOfInput = { b.shutdownWrite() }
            // b stays paused: the slow side.
            front.client.onRead = { _ in }
            front.client.onEndOfInput = {}
            front.client.write(payload)
        }
        // Watch until the splice stops copying (an observation window, not synchronisation: nothing is
        // expected to happen): it stops at about 1 MiB pending plus what the sockets hold (a few MiB on
        // loopback), far from the 16 MiB sent.
        var forwarded = 0
        for _ in 0..<50 {
            let now = try onReactor(reactor) { rig.splice!.bytesForward }
            if now == forwarded && now > 0 { break }
            forwarded = now
            usleep(20_000)
        }
        #expect(forwarded < 12 << 20, "the splice copied \(forwarded >> 10) KiB to a side that does not read")
        try onReactor(reactor) {
            back.accepted.resumeReading()
            front.client.shutdownWrite()  // FIN after the payload
        }
        #expect(arrived.wait(for: total))
        #expect(finished.wait())
        let (received, ended) = try onReactor(reactor) { (rig.received, rig.ended) }
        #expect(received.count == total)
        #expect(received == payload, "every byte, in order")
        #expect(ended == "clean", "FIN went through both ways and both sides closed together")
        try front.close(on: reactor)
        try back.close(on: reactor)
    }
}
