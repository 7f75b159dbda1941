import SolidReactor

/// An echo server: a listener on one reactor that spreads accepted connections over the whole group,
/// where each connection writes back whatever it reads.
final class EchoServer {
    private(set) var listener: SocketListener?

    /// Starts listening on `address` from `reactor` (call on its thread).
    init(address: SocketAddress, on reactor: Reactor, group: ReactorGroup) throws {
        listener = try SocketListener(address: address, on: reactor) { accepted in
            let target = group.next()
            target.execute {
                guard let stream = try? SocketStream(adopting: accepted, on: target) else { return }
                stream.onRead = { [unowned stream] bytes in stream.write(Array(bytes)) }
            }
        }
    }
}
