/// A connected, ordered byte stream on one reactor: what a message connection runs on.
///
/// ``SocketStream`` (TCP or a Unix-domain socket) is the plain one; a TLS stream (the `SolidIPCTLS`
/// product) wraps another stream and conforms too, so the engine and the messaging layer never learn
/// which one they run on. Everything is called, and every callback runs, on ``reactor``'s thread.
///
/// The contract every conforming stream keeps:
/// - ``onRead`` gets bytes in order; the buffer is valid only during the call.
/// - ``onEndOfInput`` runs at most once, when the peer finished sending (a FIN, a TLS `close_notify`).
///   When it is `nil` the stream closes itself once its queued writes are flushed.
/// - ``onClose`` runs exactly once, with `nil` for an orderly close and the error otherwise; after it the
///   stream drops every callback it holds.
/// - Every ``write(_:completion:)`` completion runs exactly once: `nil` once the bytes were handed to the
///   kernel, or the error that closed the stream.
public protocol ByteStream: AnyObject {
    /// The reactor the stream lives on.
    var reactor: Reactor { get }
    /// Receives incoming bytes. The buffer is only valid during the call.
    var onRead: ((UnsafeRawBufferPointer) -> Void)? { get set }
    /// Called when the peer finished sending.
    var onEndOfInput: (() -> Void)? { get set }
    /// Called once when the stream closes: `nil` for an orderly close, otherwise the error.
    var onClose: ((StreamError?) -> Void)? { get set }
    /// This side's address, once connected.
    var localAddress: SocketAddress? { get }
    /// The peer's address.
    var remoteAddress: SocketAddress? { get }
    /// `true` until the stream closes.
    var isOpen: Bool { get }
    /// Bytes queued and not yet accepted by the kernel.
    var pendingWriteBytes: Int { get }
    /// What a secure stream verified about its peer; `nil` for a plain stream (or before its handshake).
    var security: SecurityInfo? { get }

    /// Queues `bytes` and writes what the transport takes now; `completion` as described above.
    func write(_ bytes: [UInt8], completion: ((StreamError?) -> Void)?)
    /// Like ``write(_:completion:)`` for bytes valid only during the call: a stream copies what it must
    /// keep. ``SocketStream`` writes them straight away when nothing is queued, and copies only what the
    /// socket did not take (so a small packet built in a scratch buffer costs no allocation). The default
    /// copies them into an array.
    func write(copying bytes: UnsafeRawBufferPointer, completion: ((StreamError?) -> Void)?)
    /// Stops delivering reads until ``resumeReading()``.
    func pauseReading()
    /// Delivers reads again, starting with what arrived while paused.
    func resumeReading()
    /// Ends this side's sending after the queued bytes (a FIN; a TLS stream sends `close_notify` first).
    func shutdownWrite()
    /// Closes now; queued writes complete with ``StreamError/closed``. A TLS stream sends `close_notify`
    /// first when it can. Idempotent.
    func close()
    /// Closes with a reset, dropping unsent data. Idempotent.
    func abort()
    /// Applies socket options that make sense for this transport and ignores the others.
    func applyOptions(_ options: StreamOptions)
}

extension ByteStream {
    /// ``write(_:completion:)`` without a completion.
    public func write(_ bytes: [UInt8]) { write(bytes, completion: nil) }

    /// Copies `bytes` into an array and writes it (see the requirement).
    public func write(copying bytes: UnsafeRawBufferPointer, completion: ((StreamError?) -> Void)?) {
        write(Array(bytes), completion: completion)
    }
}

/// Socket options a message connection asks of its stream (a Unix-domain or TLS stream applies the ones
/// that mean something for it).
public struct StreamOptions: Sendable, Equatable {
    /// At most about this many written bytes wait unsent in the kernel (`TCP_NOTSENT_LOWAT`, TCP only).
    public var unsentBytesLimit: Int?
    /// The kernel's receive buffer (`SO_RCVBUF`); `nil` leaves the kernel's choice.
    public var receiveBufferSize: Int?

    /// Options with the given values.
    public init(unsentBytesLimit: Int? = nil, receiveBufferSize: Int? = nil) {
        self.unsentBytesLimit = unsentBytesLimit
        self.receiveBufferSize = receiveBufferSize
    }
}
