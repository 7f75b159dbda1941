import Synchronization
import SolidReactor

/// Totals shared by all client connections (atomics: connections run on several reactor threads).
final class EchoStats: Sendable {
    let roundTrips = Atomic<Int>(0)
    let bytes = Atomic<Int>(0)
    let errors = Atomic<Int>(0)
    let connected = Atomic<Int>(0)
}

/// One client connection that keeps `depth` requests of `size` bytes in flight and sends a new one for
/// every echoed request.
final class EchoLoadConnection {
    private let stream: SocketStream
    private let request: [UInt8]
    private let stats: EchoStats
    private var received = 0

    private init(stream: SocketStream, size: Int, depth: Int, stats: EchoStats) {
        self.stream = stream
        self.request = (0..<size).map { UInt8(truncatingIfNeeded: $0) }
        self.stats = stats
        // The stream keeps this object alive through its callbacks until it closes.
        stream.onRead = { bytes in self.received(bytes.count) }
        stream.onClose = { error in
            if let error, error != .reactorStopped { stats.errors.add(1, ordering: .relaxed) }
        }
        for _ in 0..<depth { stream.enqueue(request) }
        stream.flush()
    }

    private func received(_ count: Int) {
        received += count
        let completed = received / request.count
        received -= completed * request.count
        guard completed > 0 else { return }
        stats.roundTrips.add(completed, ordering: .relaxed)
        stats.bytes.add(completed * request.count * 2, ordering: .relaxed)
        for _ in 0..<completed { stream.enqueue(request) }
        stream.flush()
    }

    /// Connects from `reactor` (call on its thread) and starts the request loop.
    static func start(to address: SocketAddress, on reactor: Reactor, size: Int, depth: Int, stats: EchoStats) {
        SocketStream.connect(to: address, on: reactor) { result in
            switch result {
            case .success(let stream):
                stats.connected.add(1, ordering: .relaxed)
                _ = EchoLoadConnection(stream: stream, size: size, depth: depth, stats: stats)
            case .failure:
                stats.errors.add(1, ordering: .relaxed)
            }
        }
    }
}
