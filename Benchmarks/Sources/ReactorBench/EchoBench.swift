import Glibc
import Synchronization
import SolidReactor

/// Request/response counters shared by the echo client connections.
final class EchoCounters: Sendable {
    let completed = Atomic<Int>(0)
    let connected = Atomic<Int>(0)
}

/// Keeps `depth` 64-byte requests in flight on one connection.
final class PipelinedClient {
    let stream: SocketStream
    let request: [UInt8]
    let counters: EchoCounters
    var pendingBytes = 0

    init(stream: SocketStream, size: Int, depth: Int, counters: EchoCounters) {
        self.stream = stream
        self.request = [UInt8](repeating: 0x5A, count: size)
        self.counters = counters
        stream.onRead = { bytes in self.consume(bytes.count) }  // cycle broken when the stream closes
        for _ in 0..<depth { stream.enqueue(request) }
        stream.flush()
    }

    func consume(_ count: Int) {
        pendingBytes += count
        let done = pendingBytes / request.count
        guard done > 0 else { return }
        pendingBytes -= done * request.count
        counters.completed.add(done, ordering: .relaxed)
        for _ in 0..<done { stream.enqueue(request) }
        stream.flush()
    }
}

/// 64-byte echo round trips per second: `connections` × `depth` in flight for `duration` seconds.
/// A fresh two-reactor group per run: server on reactor 0, clients on reactor 1 (different threads).
func echoRate(connections: Int, depth: Int, duration: Double) throws -> Double {
    let group = try ReactorGroup(threads: 2)
    defer { group.shutdown() }
    let server = group.reactors[0]
    let clientReactor = group.reactors[group.reactors.count - 1]
    let port = Atomic<Int>(0)
    server.execute {
        do {
            let listener = try SocketListener(address: .loopbackV4(), on: server) { accepted in
                guard let stream = try? SocketStream(adopting: accepted, on: server) else { return }
                stream.onRead = { [unowned stream] bytes in stream.write(Array(bytes)) }
            }
            port.store(Int(listener.localAddress.port), ordering: .releasing)
        } catch {
            port.store(-1, ordering: .releasing)
        }
    }
    while port.load(ordering: .acquiring) == 0 { sched_yield() }
    guard port.load(ordering: .acquiring) > 0 else { throw SystemError("listen", errno: EADDRNOTAVAIL) }
    let address = SocketAddress.loopbackV4(port: UInt16(port.load(ordering: .acquiring)))
    let counters = EchoCounters()
    for _ in 0..<connections {
        clientReactor.execute {
            SocketStream.connect(to: address, on: clientReactor) { result in
                guard case .success(let stream) = result else { return }
                counters.connected.add(1, ordering: .relaxed)
                _ = PipelinedClient(stream: stream, size: 64, depth: depth, counters: counters)
            }
        }
    }
    while counters.connected.load(ordering: .acquiring) < connections { sched_yield() }
    let startCount = counters.completed.load(ordering: .relaxed)
    let start = seconds()
    usleep(UInt32(duration * 1e6))
    let elapsed = seconds() - start
    let count = counters.completed.load(ordering: .relaxed) - startCount
    return Double(count) / elapsed
}
