import SolidEngine
@testable import SolidIPC
import SolidReactor
import Testing

/// A stream that only records what is done to it (the dialer's steps are fakes: no socket).
final class FakeStream: ByteStream {
    let reactor: Reactor
    let name: String
    var onRead: ((UnsafeRawBufferPointer) -> Void)?
    var onEndOfInput: (() -> Void)?
    var onClose: ((StreamError?) -> Void)?
    var localAddress: SocketAddress? { nil }
    var remoteAddress: SocketAddress? { nil }
    private(set) var isOpen = true
    var pendingWriteBytes: Int { 0 }
    var security: SecurityInfo? { nil }

    init(_ name: String, on reactor: Reactor) {
        self.name = name
        self.reactor = reactor
    }

    func write(_ bytes: [UInt8], completion: ((StreamError?) -> Void)?) { completion?(nil) }
    func pauseReading() {}
    func resumeReading() {}
    func shutdownWrite() {}
    func close() { isOpen = false }
    func abort() { isOpen = false }
    func applyOptions(_ options: StreamOptions) {}
}

/// A dialer on a reactor with a manual clock, whose steps log their calls and wait for the test to
/// finish them. Everything in it is touched on the reactor thread only (through ``run(_:)``).
final class DialHarness: @unchecked Sendable {
    // @unchecked: every field is used on `reactor`'s thread only, inside run(_:).
    let group: ReactorGroup
    let clock = ManualClock()
    var reactor: Reactor { group.reactors[0] }
    var dialer: Dialer!
    var log: [String] = []
    var resolved: [String: Result<[SocketAddress], ResolveError>] = [:]
    var pendingConnects: [(SocketAddress, (Result<any ByteStream, StreamError>) -> Void)] = []
    var pendingTunnels: [(any ByteStream, (DialSteps.Tunnelled) -> Void)] = []
    var secureFails: StreamError?
    var outcomes: [Dialer.Outcome] = []

    init(to destination: Destination, plan: DialPlan) throws {
        group = try ReactorGroup(threads: 1, clock: clock)
        run { h in
            let steps = DialSteps(
                resolve: { host, port, done in
                    h.log.append("resolve \(host):\(port)")
                    done(h.resolved["\(host):\(port)"] ?? .failure(.noAddresses(host: host)))
                },
                connect: { address, timeout, done in
                    h.log.append("connect \(address) within \(timeout)")
                    h.pendingConnects.append((address, done))
                },
                tunnel: { proxy, target, stream, timeout, done in
                    h.log.append("tunnel via \(proxy) to \(target.host):\(target.port) within \(timeout)")
                    h.pendingTunnels.append((stream, done))
                },
                secure: { _, stream, serverName, initialInput throws(StreamError) in
                    h.log.append("tls for \(serverName ?? "-") with \(initialInput.count) bytes first")
                    if let error = h.secureFails { throw error }
                    return FakeStream("tls over \((stream as! FakeStream).name)", on: h.reactor)
                })
            h.dialer = Dialer(to: destination, plan: plan, on: h.reactor, steps: steps)
        }
    }

    /// Runs `body` on the reactor thread and waits for it.
    @discardableResult
    func run<T>(_ body: @escaping (DialHarness) -> T) -> T {
        let result = Lock<[T]>([])
        nonisolated(unsafe) let body = body
        reactor.execute { [self] in
            let value = body(self)
            nonisolated(unsafe) let sent = value
            result.withLock { $0 = [sent] }
        }
        _ = waitUntil { !result.withLock { $0.isEmpty } }
        return result.withLock { $0[0] }
    }

    /// Dials, recording the outcome.
    func dial() { run { h in h.dialer.dial { h.outcomes.append($0) } } }

    /// The outcomes so far, described.
    var described: [String] {
        run { h in
            h.outcomes.map { outcome in
                switch outcome {
                case .connected(let stream, let input): "connected \((stream as! FakeStream).name) +\(input.count)"
                case .failed(let error): "failed \(error)"
                case .resolved: "resolved"
                case .unresolvable(let error): "unresolvable \(error)"
                }
            }
        }
    }

    deinit { group.shutdown() }
}

@Suite("Dialer (resolve → connect → proxy → TLS), each step faked")
struct DialerTests {
    let plan = DialPlan(connectTimeout: .seconds(10), reconnectDelay: .milliseconds(100), maxReconnectDelay: .seconds(1))
    let a = try! SocketAddress(ip: "10.0.0.1", port: 9000)
    let b = try! SocketAddress(ip: "10.0.0.2", port: 9000)

    @Test("addresses are tried in turn; the round fails only when every address failed, with the last reason; the next round resolves again")
    func addressRotation() throws {
        let h = try DialHarness(to: try Destination(host: "dest.test", port: 9000), plan: plan)
        h.run { [a, b] h in h.resolved["dest.test:9000"] = .success([a, b]) }
        h.dial()
        h.dial()
        let verdicts = Lock<[Dialer.Verdict]>([])
        h.run { h in h.pendingConnects.removeFirst().1(.failure(.connectionRefused)) }
        h.run { h in verdicts.withLock { $0.append(h.dialer.attemptFailed(.stream(.connectionRefused), linksUp: false)) } }
        h.dial()
        h.run { h in h.pendingConnects.removeFirst().1(.failure(.connectTimeout)) }
        h.run { h in verdicts.withLock { $0.append(h.dialer.attemptFailed(.stream(.connectTimeout), linksUp: false)) } }
        h.dial()
        #expect(verdicts.withLock { $0 } == [.tryNext, .roundFailed(.stream(.connectTimeout))])
        #expect(h.run { h in h.log } == [
            "resolve dest.test:9000", "connect 10.0.0.1:9000 within 10.0 seconds", "connect 10.0.0.2:9000 within 10.0 seconds",
            "resolve dest.test:9000",
        ])
        #expect(h.described == [
            "resolved", "failed \(ConnectionError.stream(.connectionRefused))", "failed \(ConnectionError.stream(.connectTimeout))",
            "resolved",
        ])
        #expect(h.run { h in h.dialer.connecting } == 0)
    }

    @Test("with a connection up, a failed attempt is never a failed round; a handshake completed resets the count")
    func linksUpAndReset() throws {
        let h = try DialHarness(to: try Destination(host: "dest.test", port: 9000), plan: plan)
        h.run { [a] h in h.resolved["dest.test:9000"] = .success([a]) }
        let verdicts = h.run { h in
            [h.dialer.attemptFailed(.helloTimeout, linksUp: true), h.dialer.attemptFailed(.helloTimeout, linksUp: false)]
        }
        #expect(verdicts == [.tryNext, .roundFailed(.helloTimeout)])
        // The failed round is what a one-shot message sent during the back-off gets.
        h.run { h in h.dialer.scheduleRetry { h.log.append("retry") } }
        #expect(h.run { h in h.dialer.failureWhileWaiting } == .helloTimeout)
        // Two failures in a row: 100 ms doubled once.
        h.clock.advance(by: .milliseconds(199))
        #expect(h.run { h in h.log } == [])
        h.clock.advance(by: .milliseconds(2))
        #expect(waitUntil { h.run { h in h.log } == ["retry"] })
        #expect(h.run { h in h.dialer.failureWhileWaiting } == nil)
        // A connection came up: the next failure waits the base delay again, not 400 ms.
        h.run { h in
            h.dialer.connectionUp()
            _ = h.dialer.attemptFailed(.helloTimeout, linksUp: false)
            h.dialer.scheduleRetry { h.log.append("retry after reset") }
        }
        h.clock.advance(by: .milliseconds(99))
        #expect(h.run { h in h.log } == ["retry"])
        h.clock.advance(by: .milliseconds(2))
        #expect(waitUntil { h.run { h in h.log } == ["retry", "retry after reset"] })
    }

    @Test("through a proxy: the proxy's name is resolved, the tunnel asks for the destination within what is left of connectTimeout; a refusing proxy fails the attempt and nothing connects directly")
    func throughAProxy() throws {
        var plan = self.plan
        plan.proxy = .socks5(host: "proxy.test", port: 1080)
        let h = try DialHarness(to: try Destination(host: "dest.test", port: 9000), plan: plan)
        h.run { [a] h in h.resolved["proxy.test:1080"] = .success([a]) }
        h.dial()
        h.dial()
        h.clock.advance(by: .seconds(3))
        h.run { h in h.pendingConnects.removeFirst().1(.success(FakeStream("to proxy", on: h.reactor))) }
        h.run { h in h.pendingTunnels.removeFirst().1(.failure(.proxy(.socks5Refused(.connectionRefused)))) }
        #expect(h.run { h in h.log } == [
            "resolve proxy.test:1080", "connect 10.0.0.1:9000 within 10.0 seconds",
            "tunnel via socks5://proxy.test:1080 to dest.test:9000 within 7.0 seconds",
        ])
        #expect(h.described == ["resolved", "failed \(ConnectionError.stream(.proxy(.socks5Refused(.connectionRefused))))"])
        #expect(h.run { h in h.dialer.connecting } == 0)
    }

    @Test("TLS from the start gets the destination's name and the proxy's leftover bytes; a TLS step that throws closes the stream and fails the attempt")
    func tlsFromTheStart() throws {
        var plan = self.plan
        plan.proxy = .httpConnect(host: "proxy.test", port: 3128)
        plan.tlsFromStart = try TLSFixture.shared.clientTransport()
        let h = try DialHarness(to: try Destination(host: "dest.test", port: 9000), plan: plan)
        h.run { [a] h in h.resolved["proxy.test:3128"] = .success([a]) }
        h.dial()
        h.dial()
        h.run { h in h.pendingConnects.removeFirst().1(.success(FakeStream("s1", on: h.reactor))) }
        h.run { h in h.pendingTunnels.removeFirst().1(.success((FakeStream("tunnel1", on: h.reactor), leftover: [1, 2, 3]))) }
        #expect(h.described == ["resolved", "connected tls over tunnel1 +0"])
        h.run { h in h.secureFails = .tls(.notConfigured) }
        h.dial()
        let tunnel = h.run { h in FakeStream("tunnel2", on: h.reactor) }
        h.run { h in h.pendingConnects.removeFirst().1(.success(FakeStream("s2", on: h.reactor))) }
        h.run { h in h.pendingTunnels.removeFirst().1(.success((tunnel, leftover: []))) }
        #expect(h.described.last == "failed \(ConnectionError.stream(.tls(.notConfigured)))")
        #expect(h.run { _ in tunnel.isOpen } == false)
        #expect(h.run { h in h.log.filter { $0.hasPrefix("tls") } } == [
            "tls for dest.test with 3 bytes first", "tls for dest.test with 0 bytes first",
        ])
    }

    @Test("stopped while connecting: the stream that arrives later is closed, no outcome is reported, the retry is cancelled")
    func stoppedMidway() throws {
        let h = try DialHarness(to: try Destination(host: "dest.test", port: 9000), plan: plan)
        h.run { [a] h in h.resolved["dest.test:9000"] = .success([a]) }
        h.dial()
        h.dial()
        h.run { h in
            _ = h.dialer.attemptFailed(.closedByPeer, linksUp: false)
            h.dialer.scheduleRetry { h.log.append("retry") }
            h.dialer.stop()
        }
        let late = h.run { h in FakeStream("late", on: h.reactor) }
        h.run { h in h.pendingConnects.removeFirst().1(.success(late)) }
        h.clock.advance(by: .seconds(5))
        #expect(h.run { _ in late.isOpen } == false)
        #expect(h.described == ["resolved"])
        #expect(h.run { h in (h.dialer.connecting, h.dialer.isIdle, h.log.contains("retry")) } == (0, true, false))
        h.dial()
        #expect(h.run { h in h.pendingConnects.count } == 0, "a stopped dialer starts nothing")
    }

    @Test("a Unix-domain destination: nothing to resolve, and direct even with a proxy configured")
    func unixIsDirect() throws {
        var plan = self.plan
        plan.proxy = .socks5(host: "proxy.test", port: 1080)
        let h = try DialHarness(to: try Destination(unixPath: "/tmp/solid-dialer-test.sock"), plan: plan)
        h.dial()
        h.dial()
        h.run { h in h.pendingConnects.removeFirst().1(.success(FakeStream("unix", on: h.reactor))) }
        #expect(h.run { h in h.log } == ["connect unix:/tmp/solid-dialer-test.sock within 10.0 seconds"])
        #expect(h.described == ["resolved", "connected unix +0"])
    }
}
