import Glibc
import Synchronization
import Testing
@testable import SolidReactor

/// Streams of a splice test, all on one reactor thread.
private final class SpliceRig: @unchecked Sendable {
    // @unchecked: every field is touched on the rig's reactor thread only.
    var listener: SocketListener?
    var accepted: [SocketStream] = []
    var a: SocketStream?          // client of the front pair
    var b: SocketStream?          // server of the back pair
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
        let ready = TestSignal()
        let arrived = TestSignal()
        let finished = TestSignal()
        // front: a → (accepted f) | splice | (connected c) → back listener → b
        try onReactor(reactor) {
            rig.listener = try SocketListener(address: .loopbackV4(), on: reactor) { socket in
                guard let stream = try? SocketStream(adopting: socket, on: reactor) else { return }
                rig.accepted.append(stream)
                ready.signal()
            }
        }
        let port = try onReactor(reactor) { rig.listener!.localAddress.port }
        // Two connections to the same listener: the first accepted is the front's server side (f), the
        // second the back's server side (b).
        try onReactor(reactor) {
            SocketStream.connect(to: .loopbackV4(port: port), on: reactor) { result in
                rig.a = try? result.get()
                ready.signal()
            }
        }
        #expect(ready.wait(for: 2))
        try onReactor(reactor) {
            SocketStream.connect(to: .loopbackV4(port: port), on: reactor) { result in
                guard let c = try? result.get() else { return }
                let f = rig.accepted[0]
                rig.splice = StreamSplice(f, c) { error in
                    rig.ended = "\(error.map { "\($0)" } ?? "clean")"
                    finished.signal()
                }
                ready.signal()
            }
        }
        #expect(ready.wait(for: 4))
        let total = 16 << 20
        let payload = (0..<total).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ $0 >> 11) }
        try onReactor(reactor) {
            let b = rig.accepted[1]
            rig.b = b
            b.onRead = { bytes in
                rig.received.append(contentsOf: bytes)
                arrived.signal(bytes.count)
            }
            b.onEndOfInput = { b.shutdownWrite() }
            b.pauseReading()  // the slow side
            rig.a!.onRead = { _ in }
            rig.a!.onEndOfInput = {}
            rig.a!.write(payload)
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
            rig.b!.resumeReading()
            rig.a!.shutdownWrite()  // FIN after the payload
        }
        #expect(arrived.wait(for: total))
        #expect(finished.wait())
        let (received, ended) = try onReactor(reactor) { (rig.received, rig.ended) }
        #expect(received.count == total)
        #expect(received == payload, "every byte, in order")
        #expect(ended == "clean", "FIN went through both ways and both sides closed together")
        try onReactor(reactor) {
            rig.a?.close()
            rig.b?.close()
            rig.listener?.close()
        }
    }
}
