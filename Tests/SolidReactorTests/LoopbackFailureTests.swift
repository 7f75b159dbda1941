import Glibc
import Synchronization
import Testing
@testable import SolidReactor

extension LoopbackTests {
    @Suite("failures and lifecycle")
    struct Failures {
        @Test("a peer reset mid-stream closes the stream with connectionReset, exactly once")
        func peerReset() throws {
            let group = try ReactorGroup(threads: 2)
            defer { group.shutdown() }
            let server = group.reactors[0]
            let address = try onReactor(server) {
                try SocketListener(address: .loopbackV4(), on: server) { accepted in
                    guard let stream = try? SocketStream(adopting: accepted, on: server) else { return }
                    stream.onRead = { [unowned stream] _ in stream.abort() }  // RST on the first bytes
                }.localAddress
            }
            let client = group.reactors[1]
            let closes = Recorder<StreamError?>()
            let writeErrors = Recorder<StreamError?>()
            let done = TestSignal()
            client.execute {
                SocketStream.connect(to: address, on: client) { result in
                    guard case .success(let stream) = result else { return }
                    stream.onClose = { error in
                        closes.append(error)
                        done.signal()
                    }
                    stream.write(patternBytes(100))
                    // Keep a write pending that can only fail.
                    stream.onRead = { _ in }
                    client.schedule(after: .milliseconds(1), repeating: .milliseconds(1)) { [weak stream] in
                        guard let stream, stream.isOpen else { return }
                        stream.write(patternBytes(1000)) { error in if let error { writeErrors.append(error) } }
                    }
                }
            }
            #expect(done.wait())
            try onReactor(client) {}
            #expect(closes.count == 1)
            let error = closes.all.first ?? nil
            #expect(error == .connectionReset || error == .brokenPipe, "got \(String(describing: error))")
            #expect(writeErrors.all.allSatisfy { $0 == error })
        }

        @Test("writing to a socket whose peer is gone gives EPIPE as a typed error, never SIGPIPE")
        func brokenPipe() throws {
            let group = try ReactorGroup(threads: 1)
            defer { group.shutdown() }
            let reactor = group.reactors[0]
            let address = try startEchoServer(group: group, on: reactor)
            let fd = try Socket.makeStream(family: AF_INET)
            defer { closeDescriptor(fd) }
            let connected = connectWaiting(fd, to: address)
            #expect(connected)
            try Socket.shutdownWrite(fd)
            #expect(writeOneByte(fd) == SystemError("sendmsg", errno: EPIPE))
            #expect(StreamError(SystemError("sendmsg", errno: EPIPE)) == .brokenPipe)
            #expect(StreamError(SystemError("read", errno: ECONNRESET)) == .connectionReset)
        }

        @Test("shutdown with live connections: pending writes and streams complete with reactorStopped")
        func stopWithLiveConnections() throws {
            // One reactor, so both ends stop in the same turn (with two, one end's close could reach the
            // other as a reset first).
            let group = try ReactorGroup(threads: 1)
            let server = group.reactors[0]
            let client = group.reactors[0]
            let serverCloses = Recorder<StreamError?>()
            let accepted = TestSignal()
            let address = try onReactor(server) {
                try SocketListener(address: .loopbackV4(), on: server) { socket in
                    guard let stream = try? SocketStream(adopting: socket, on: server) else { return }
                    stream.pauseReading()  // let the client's data pile up
                    stream.onClose = { serverCloses.append($0) }
                    accepted.signal()
                }.localAddress
            }
            let clientCloses = Recorder<StreamError?>()
            let writeResults = Recorder<StreamError?>()
            let connected = TestSignal()
            client.execute {
                SocketStream.connect(to: address, on: client) { result in
                    guard case .success(let stream) = result else { return }
                    stream.onClose = { clientCloses.append($0) }
                    // 64 MiB cannot fit in the socket buffers, so most of it stays queued.
                    for _ in 0..<64 { stream.enqueue([UInt8](repeating: 7, count: 1 << 20)) { writeResults.append($0) } }
                    stream.flush()
                    connected.signal()
                }
            }
            #expect(connected.wait())
            #expect(accepted.wait())
            group.shutdown()
            #expect(serverCloses.all == [.reactorStopped])
            #expect(clientCloses.all == [.reactorStopped])
            #expect(writeResults.count == 64, "every write completes exactly once")
            #expect(writeResults.all.contains { $0 == .reactorStopped })
            #expect(writeResults.all.allSatisfy { $0 == nil || $0 == .reactorStopped })
        }

        @Test("half-close: the client shuts down writing, the server answers, then both close cleanly")
        func halfClose() throws {
            let group = try ReactorGroup(threads: 1)
            defer { group.shutdown() }
            let reactor = group.reactors[0]
            let serverCloses = Recorder<StreamError?>()
            let address = try onReactor(reactor) {
                try SocketListener(address: .loopbackV4(), on: reactor) { socket in
                    guard let stream = try? SocketStream(adopting: socket, on: reactor) else { return }
                    var total = 0
                    stream.onRead = { total += $0.count }
                    stream.onEndOfInput = { [unowned stream] in
                        stream.write(Array("got \(total)".utf8))
                        stream.shutdownWrite()
                    }
                    stream.onClose = { serverCloses.append($0) }
                }.localAddress
            }
            let reply = Recorder<String>()
            let clientCloses = Recorder<StreamError?>()
            let done = TestSignal()
            reactor.execute {
                SocketStream.connect(to: address, on: reactor) { result in
                    guard case .success(let stream) = result else { return }
                    var answer: [UInt8] = []
                    stream.onRead = { answer.append(contentsOf: $0) }
                    stream.onClose = { error in
                        reply.append(String(decoding: answer, as: UTF8.self))
                        clientCloses.append(error)
                        done.signal()
                    }
                    stream.write(patternBytes(5000))
                    stream.shutdownWrite()
                    stream.write([1]) { error in #expect(error == .closed, "writes after shutdownWrite fail") }
                }
            }
            #expect(done.wait())
            try onReactor(reactor) {}
            #expect(reply.all == ["got 5000"])
            #expect(clientCloses.all == [nil])
            #expect(serverCloses.all == [nil])
        }

        @Test("pause and resume reading: nothing is delivered while paused, everything after")
        func pauseResume() throws {
            let group = try ReactorGroup(threads: 1)
            defer { group.shutdown() }
            let reactor = group.reactors[0]
            let holder = ReactorLocal<SocketStream>()
            let received = Atomic<Int>(0)
            let arrived = TestSignal()
            let address = try onReactor(reactor) {
                try SocketListener(address: .loopbackV4(), on: reactor) { socket in
                    guard let stream = try? SocketStream(adopting: socket, on: reactor) else { return }
                    stream.pauseReading()
                    stream.onRead = { bytes in
                        received.add(bytes.count, ordering: .relaxed)
                        arrived.signal(bytes.count)
                    }
                    holder.value = stream
                }.localAddress
            }
            let sent = TestSignal()
            reactor.execute {
                SocketStream.connect(to: address, on: reactor) { result in
                    guard case .success(let stream) = result else { return }
                    stream.write(patternBytes(10_000)) { _ in sent.signal() }
                }
            }
            #expect(sent.wait())
            // Several loop turns with the data waiting in the kernel: still nothing delivered.
            for _ in 0..<5 { try onReactor(reactor) {} }
            #expect(received.load(ordering: .relaxed) == 0)
            #expect(try onReactor(reactor) { holder.value != nil })
            try onReactor(reactor) { holder.value?.resumeReading() }
            // `arrived` counts bytes, so waiting for the total cannot miss a signal sent between two reads.
            #expect(arrived.wait(for: 10_000))
            #expect(received.load(ordering: .relaxed) == 10_000)
        }
    }
}

/// Writes one byte with the stream's `sendmsg` wrapper and returns the error it threw, if any.
private func writeOneByte(_ fd: Int32) -> SystemError? {
    let vector = UnsafeMutablePointer<iovec>.allocate(capacity: 1)
    let byte = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
    defer {
        vector.deallocate()
        byte.deallocate()
    }
    vector.initialize(to: iovec(iov_base: byte, iov_len: 1))
    do {
        _ = try Socket.writeVector(fd, vector, count: 1)
        return nil
    } catch {
        return error
    }
}

/// Connects a raw non-blocking socket, waiting with poll(2) for at most ~10 s.
private func connectWaiting(_ fd: Int32, to address: SocketAddress) -> Bool {
    for _ in 0..<10 {
        let state: IOResult<Void>
        do {
            state = try Socket.connect(fd, to: address)
        } catch {
            return error.errno == EISCONN
        }
        if case .done = state { return true }
        var pollFD = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        _ = poll(&pollFD, 1, 1000)
        if Socket.pendingError(fd) == 0 && Socket.remoteAddress(fd) != nil { return true }
    }
    return false
}
