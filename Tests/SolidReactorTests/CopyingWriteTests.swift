import Testing
@testable import SolidReactor

/// What the copying-write test records, on one reactor thread.
private final class CopyingWriteRig: @unchecked Sendable {
    // @unchecked: every field is touched on the rig's reactor thread only.
    var received: [UInt8] = []
    var expected: [UInt8] = []
    var completions: [Int] = []
    var errors: [StreamError?] = []
}

@Suite("Writing bytes the caller keeps only during the call")
struct CopyingWriteTests {
    @Test("write(copying:) writes at once when nothing is queued, copies what the socket does not take, and completes each write exactly once, in order")
    func copyingWrite() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let reactor = group.reactors[0]
        let pair = try ConnectedPair.make(on: reactor)  // the client's socket fills up
        let rig = CopyingWriteRig()
        let allReceived = TestSignal()

        // One small write: taken by the socket, completed before write(copying:) returns, nothing queued.
        let first = try onReactor(reactor) { () -> (Bool, Int) in
            let client = pair.client
            client.onRead = { _ in }
            client.onEndOfInput = {}
            var completedInCall = false
            let bytes = [UInt8](repeating: 1, count: 1024)
            bytes.withUnsafeBytes { raw in
                client.write(copying: raw) { error in
                    rig.completions.append(0)
                    rig.errors.append(error)
                    completedInCall = true
                }
            }
            rig.expected += bytes
            return (completedInCall, client.pendingWriteBytes)
        }
        #expect(first.0, "completed before write(copying:) returned")
        #expect(first.1 == 0)

        // 256 KiB writes from one buffer the test overwrites after each call, until the socket is full
        // and part of a write waits; then two more writes that are queued behind it.
        let writes = try onReactor(reactor) { () -> Int in
            let client = pair.client
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
            defer { buffer.deallocate() }
            var index = 1
            var extra = 0
            while extra < 2 && index < 200 {
                if client.pendingWriteBytes > 0 { extra += 1 }
                let value = UInt8(truncatingIfNeeded: index + 1)
                buffer.initializeMemory(as: UInt8.self, repeating: value)
                let number = index
                client.write(copying: UnsafeRawBufferPointer(buffer)) { error in
                    rig.completions.append(number)
                    rig.errors.append(error)
                }
                rig.expected += [UInt8](repeating: value, count: buffer.count)
                buffer.initializeMemory(as: UInt8.self, repeating: 0xEE)  // the stream must not need it now
                index += 1
            }
            return index
        }
        #expect(writes < 200, "the socket filled up")
        let pendingBeforeReading = try onReactor(reactor) { pair.client.pendingWriteBytes }
        #expect(pendingBeforeReading > 0)

        try onReactor(reactor) {
            let server = pair.accepted
            server.onEndOfInput = {}
            server.onRead = { bytes in
                rig.received += bytes
                if rig.received.count == rig.expected.count { allReceived.signal() }
            }
            server.resumeReading()
        }
        #expect(allReceived.wait())
        // A few more turns: no completion comes twice.
        for _ in 0..<5 { try onReactor(reactor) {} }
        let (sameBytes, completions, errors) = try onReactor(reactor) {
            (rig.received == rig.expected, rig.completions, rig.errors.compactMap { $0 })
        }
        #expect(sameBytes)
        #expect(completions == Array(0..<writes), "each write completed once, in order")
        #expect(errors.isEmpty)

        // After a close: the completion reports it, nothing is written.
        let afterClose = try onReactor(reactor) { () -> StreamError? in
            pair.client.close()
            var result: StreamError?
            [UInt8(9)].withUnsafeBytes { raw in pair.client.write(copying: raw) { result = $0 } }
            pair.accepted.close()
            pair.listener.close()
            return result
        }
        #expect(afterClose == .closed)
    }
}
