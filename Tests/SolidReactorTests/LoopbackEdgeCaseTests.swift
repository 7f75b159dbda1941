import CSolidLinux
import Glibc
import Synchronization
import Testing
@testable import SolidReactor

extension LoopbackTests {
    @Suite("edge cases on a manual clock")
    struct EdgeCases {
        @Test("EMFILE on accept pauses the listener (no spinning) and it resumes after the back-off")
        func descriptorExhaustion() throws {
            let clock = ManualClock()
            let group = try ReactorGroup(threads: 1, clock: clock)
            defer { group.shutdown() }
            let reactor = group.reactors[0]
            let accepted = TestSignal()
            let holder = ReactorLocal<SocketListener>()
            let attempts = Atomic<Int>(0)
            let address = try onReactor(reactor) {
                let listener = try SocketListener(address: .loopbackV4(), on: reactor) { socket in
                    _ = socket
                    accepted.signal()
                }
                listener.acceptCall = { fd throws(SystemError) in
                    if attempts.add(1, ordering: .relaxed).newValue == 1 {
                        throw SystemError("accept4", errno: EMFILE)
                    }
                    return try Socket.accept(fd)
                }
                holder.value = listener
                return listener.localAddress
            }
            let connected = TestSignal()
            reactor.execute {
                SocketStream.connect(to: address, on: reactor) { result in
                    if case .success = result { connected.signal() }
                }
            }
            #expect(connected.wait(), "the kernel completes the handshake from the backlog")
            // Let the reactor see the listener's readiness a few times: it must stay paused.
            for _ in 0..<5 { try onReactor(reactor) {} }
            #expect(try onReactor(reactor) { holder.value!.exhaustionPauses } == 1)
            #expect(accepted.count == 0)
            #expect(attempts.load(ordering: .relaxed) == 1, "no retry before the back-off elapsed")
            clock.advance(by: .milliseconds(100))
            #expect(accepted.wait())
            #expect(try onReactor(reactor) { holder.value!.acceptedCount } == 1)
        }

        @Test("a connect that cannot complete fails with connectTimeout once its timeout passes")
        func connectTimeout() throws {
            let clock = ManualClock()
            let group = try ReactorGroup(threads: 1, clock: clock)
            defer { group.shutdown() }
            let reactor = group.reactors[0]
            // A listener that never accepts with a full backlog: further SYNs are dropped, so connects hang.
            let listenFD = try Socket.makeStream(family: AF_INET)
            defer { closeDescriptor(listenFD) }
            try Socket.bind(listenFD, to: .loopbackV4())
            try Socket.listen(listenFD, backlog: 0)
            let address = Socket.localAddress(listenFD)!
            var fillers: [Int32] = []
            defer { fillers.forEach(closeDescriptor) }
            for _ in 0..<4 {
                let fd = try Socket.makeStream(family: AF_INET)
                fillers.append(fd)
                _ = try? Socket.connect(fd, to: address)
            }
            let results = Recorder<String>()
            let done = TestSignal()
            reactor.execute {
                SocketStream.connect(to: address, on: reactor, timeout: .seconds(3)) { result in
                    switch result {
                    case .success: results.append("connected")
                    case .failure(let error): results.append("\(error)")
                    }
                    done.signal()
                }
            }
            for _ in 0..<3 { try onReactor(reactor) {} }
            #expect(done.count == 0, "still connecting before the timeout")
            clock.advance(by: .seconds(3))
            #expect(done.wait())
            try onReactor(reactor) {}
            #expect(results.all == ["\(StreamError.connectTimeout)"])
        }

        @Test("resolving localhost gives loopback addresses on the asking reactor; numeric IPs skip the pool")
        func resolve() throws {
            let group = try ReactorGroup(threads: 1)
            defer { group.shutdown() }
            let reactor = group.reactors[0]
            let answers = Recorder<[String]>()
            let onThread = Recorder<Bool>()
            let done = TestSignal()
            reactor.execute {
                for host in ["localhost", "127.0.0.1", "::1"] {
                    reactor.resolve(host: host, port: 80) { result in
                        onThread.append(reactor.isCurrent)
                        answers.append((try? result.get())?.map(\.description) ?? ["error: \(result)"])
                        done.signal()
                    }
                }
            }
            #expect(done.wait(for: 3))
            let all = answers.all
            #expect(all.count == 3)
            #expect(onThread.all == [true, true, true])
            #expect(all.contains(["127.0.0.1:80"]))
            #expect(all.contains(["[::1]:80"]))
            let localhost = all.first { $0 != ["127.0.0.1:80"] && $0 != ["[::1]:80"] } ?? all[0]
            #expect(!localhost.isEmpty && localhost.allSatisfy { $0 == "127.0.0.1:80" || $0 == "[::1]:80" })
        }

        @Test("a pending resolve completes with reactorStopped when the reactor stops")
        func resolveAtStop() throws {
            let group = try ReactorGroup(threads: 1)
            let reactor = group.reactors[0]
            let results = Recorder<String>()
            let gate = TestSignal()
            reactor.execute {
                // Ask, then block the loop so the answer cannot be delivered before the stop.
                reactor.resolve(host: "localhost", port: 1) { result in
                    if case .failure(let error) = result { results.append("\(error)") } else { results.append("ok") }
                }
                gate.wait()
            }
            reactor.requestStop()
            gate.signal()
            group.shutdown()
            #expect(results.count == 1)
            #expect(results.all == ["ok"] || results.all == ["\(ResolveError.reactorStopped)"])
        }
    }
}

@Suite("System call wrapper")
struct SyscallTests {
    @Test("EINTR is retried, EAGAIN maps to wouldBlock, other errors throw with operation and errno")
    func wrapper() throws {
        var calls = 0
        let retried = try syscall("test", nonBlocking: true) { () -> Int32 in
            calls += 1
            if calls < 3 {
                solid_set_errno(EINTR)
                return -1
            }
            return 42
        }
        guard case .done(42) = retried else {
            Issue.record("expected .done(42), got \(retried)")
            return
        }
        #expect(calls == 3)
        let blocked = try syscall("test", nonBlocking: true) { () -> Int32 in
            solid_set_errno(EAGAIN)
            return -1
        }
        guard case .wouldBlock = blocked else {
            Issue.record("expected .wouldBlock")
            return
        }
        #expect(throws: SystemError("test", errno: EAGAIN)) {
            _ = try syscallValue("test") { () -> Int32 in
                solid_set_errno(EAGAIN)
                return -1
            }
        }
        #expect(throws: SystemError("bind", errno: EADDRINUSE)) {
            _ = try syscallValue("bind") { () -> Int32 in
                solid_set_errno(EADDRINUSE)
                return -1
            }
        }
        #expect(SystemError("connect", errno: ECONNREFUSED).description.hasPrefix("connect: Connection refused"))
    }

    @Test("addresses parse, print and reject garbage")
    func addresses() throws {
        #expect(try SocketAddress(ip: "127.0.0.1", port: 8080).description == "127.0.0.1:8080")
        #expect(try SocketAddress(ip: "::1", port: 9).description == "[::1]:9")
        #expect(try SocketAddress(ip: "10.1.2.3", port: 1).withPort(2).port == 2)
        #expect(throws: AddressError.invalidIP("localhost")) { try SocketAddress(ip: "localhost", port: 1) }
        #expect(throws: AddressError.invalidIP("1.2.3.999")) { try SocketAddress(ip: "1.2.3.999", port: 1) }
        #expect(SocketAddress.loopbackV4(port: 5) == (try SocketAddress(ip: "127.0.0.1", port: 5)))
        #expect(SocketAddress.loopbackV4(port: 5) != SocketAddress.loopbackV6(port: 5))
    }
}
