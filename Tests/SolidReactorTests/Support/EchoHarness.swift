import Synchronization
@testable import SolidReactor

/// Starts an echo listener on `reactor`; accepted connections are spread over `group` and echo what they
/// read. Returns the bound address.
func startEchoServer(group: ReactorGroup, on reactor: Reactor, address: SocketAddress = .loopbackV4()) throws
    -> SocketAddress
{
    try onReactor(reactor) {
        let listener = try SocketListener(address: address, on: reactor) { accepted in
            let target = group.next()
            target.execute {
                guard let stream = try? SocketStream(adopting: accepted, on: target) else { return }
                stream.onRead = { [unowned stream] bytes in stream.write(Array(bytes)) }
            }
        }
        return listener.localAddress
    }
}

/// Connects from `reactor`, sends `payload` in `chunk`-sized writes and collects the echo. Calls `done`
/// once on the reactor thread with the echoed bytes or the error.
func echoExchange(
    to address: SocketAddress,
    on reactor: Reactor,
    payload: [UInt8],
    chunk: Int,
    done: @escaping @Sendable (Result<[UInt8], StreamError>) -> Void
) {
    SocketStream.connect(to: address, on: reactor) { result in
        switch result {
        case .failure(let error):
            done(.failure(error))
        case .success(let stream):
            var received: [UInt8] = []
            received.reserveCapacity(payload.count)
            var finished = false
            stream.onRead = { bytes in
                received.append(contentsOf: bytes)
                if received.count >= payload.count && !finished {
                    finished = true
                    stream.close()
                    done(.success(received))
                }
            }
            stream.onClose = { error in
                if !finished {
                    finished = true
                    done(.failure(error ?? .closed))
                }
            }
            var offset = 0
            while offset < payload.count {
                stream.enqueue(Array(payload[offset..<min(offset + chunk, payload.count)]))
                offset += chunk
            }
            stream.flush()
        }
    }
}

/// Deterministic pseudo-random bytes.
func patternBytes(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 56)
    }
}
