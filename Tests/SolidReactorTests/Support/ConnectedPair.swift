@testable import SolidReactor

/// A client stream and the stream its listener accepted, both on one reactor (a test's one-thread
/// group): the rig of the tests that drive both ends of one loopback connection.
final class ConnectedPair: @unchecked Sendable {
    // @unchecked: the streams are used on the reactor's thread only (through `onReactor`).
    let listener: SocketListener
    let client: SocketStream
    let accepted: SocketStream

    private init(listener: SocketListener, client: SocketStream, accepted: SocketStream) {
        self.listener = listener
        self.client = client
        self.accepted = accepted
    }

    /// Listens on an ephemeral loopback port and connects to it; the accepted side starts with reading
    /// paused (the client's writes fill its socket, or wait there until the test sets its callbacks and
    /// resumes it).
    static func make(on reactor: Reactor) throws -> ConnectedPair {
        let slots = Slots()
        let accepted = TestSignal()
        let connected = TestSignal()
        try onReactor(reactor) {
            slots.listener = try SocketListener(address: .loopbackV4(), on: reactor) { socket in
                guard let stream = try? SocketStream(adopting: socket, on: reactor) else { return }
                stream.pauseReading()
                slots.accepted = stream
                accepted.signal()
            }
        }
        let port = try onReactor(reactor) { slots.listener!.localAddress.port }
        try onReactor(reactor) {
            SocketStream.connect(to: .loopbackV4(port: port), on: reactor) { result in
                slots.client = try? result.get()
                connected.signal()
            }
        }
        // The signals' waits order the reads below after the reactor's writes.
        guard accepted.wait(), connected.wait(), let listener = slots.listener, let client = slots.client,
            let server = slots.accepted
        else { throw TestFailure("the loopback connection did not open") }
        return ConnectedPair(listener: listener, client: client, accepted: server)
    }

    /// Where the reactor puts the streams as they come.
    private final class Slots: @unchecked Sendable {
        // @unchecked: written on the reactor thread, read after the signals that follow the writes.
        var listener: SocketListener?
        var client: SocketStream?
        var accepted: SocketStream?
    }

    /// Closes both streams and the listener (on the reactor).
    func close(on reactor: Reactor) throws {
        try onReactor(reactor) {
            self.client.close()
            self.accepted.close()
            self.listener.close()
        }
    }
}
