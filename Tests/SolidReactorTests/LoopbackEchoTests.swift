import Glibc
import Synchronization
import Testing
@testable import SolidReactor

/// Network tests over loopback only, ephemeral ports, one at a time.
@Suite("Loopback TCP", .serialized)
struct LoopbackTests {
    @Test("echo of 1 MiB on one reactor, written in 1000-byte pieces", arguments: ["127.0.0.1", "::1"])
    func echoOneReactor(ip: String) throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let reactor = group.reactors[0]
        let address = try startEchoServer(group: group, on: reactor, address: SocketAddress(ip: ip, port: 0))
        #expect(address.port != 0)
        let payload = patternBytes(1 << 20)
        let results = Recorder<Result<[UInt8], StreamError>>()
        let done = TestSignal()
        reactor.execute {
            echoExchange(to: address, on: reactor, payload: payload, chunk: 1000) { result in
                results.append(result)
                done.signal()
            }
        }
        #expect(done.wait())
        #expect(results.count == 1)
        #expect(try results.all.first?.get() == payload)
    }

    @Test("echo on two reactors: 8 clients × 256 KiB each, all intact")
    func echoTwoReactors() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let address = try startEchoServer(group: group, on: group.reactors[0])
        let results = Recorder<Bool>()
        let done = TestSignal()
        for client in 0..<8 {
            let payload = patternBytes(256 * 1024, seed: UInt64(client + 1))
            let reactor = group.reactors[client % 2]
            reactor.execute {
                echoExchange(to: address, on: reactor, payload: payload, chunk: 4096) { result in
                    results.append((try? result.get()) == payload)
                    done.signal()
                }
            }
        }
        #expect(done.wait(for: 8))
        #expect(results.all == [Bool](repeating: true, count: 8))
    }

    @Test("1,000 concurrent connections each get their echo")
    func thousandConnections() throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let address = try startEchoServer(group: group, on: group.reactors[0])
        let succeeded = Atomic<Int>(0)
        let failures = Recorder<StreamError>()
        let done = TestSignal()
        let count = 1000
        for client in 0..<count {
            let reactor = group.reactors[client % 2]
            let payload = patternBytes(32, seed: UInt64(client))
            reactor.execute {
                echoExchange(to: address, on: reactor, payload: payload, chunk: 32) { result in
                    switch result {
                    case .success(let echoed) where echoed == payload: succeeded.add(1, ordering: .relaxed)
                    case .success: failures.append(.closed)
                    case .failure(let error): failures.append(error)
                    }
                    done.signal()
                }
            }
        }
        #expect(done.wait(for: count, seconds: 60))
        #expect(failures.all == [])
        #expect(succeeded.load(ordering: .relaxed) == count)
    }

    @Test("connecting to a closed port fails with connectionRefused, exactly once")
    func connectionRefused() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let reactor = group.reactors[0]
        // Find a free port: bind, read the port, close.
        let port = try onReactor(reactor) { () -> UInt16 in
            let listener = try SocketListener(address: .loopbackV4(), on: reactor) { _ in }
            defer { listener.close() }
            return listener.localAddress.port
        }
        let errors = Recorder<StreamError>()
        let done = TestSignal()
        reactor.execute {
            SocketStream.connect(to: .loopbackV4(port: port), on: reactor) { result in
                if case .failure(let error) = result { errors.append(error) }
                done.signal()
            }
        }
        #expect(done.wait())
        try onReactor(reactor) {}
        #expect(errors.all == [.connectionRefused])
        #expect(done.count == 1)
    }
}
