public import SolidEngine
public import SolidReactor

/// Settings of one message connection.
public struct ConnectionConfiguration {
    /// Message types this side knows.
    public var registry: MessageRegistry
    /// What this side offers in the handshake (packet size, slots, codecs).
    public var hello = HelloParameters()
    /// Codecs this side can use; their bits go into the hello's codec mask.
    public var codecs: [any PacketCodec] = []
    /// Field limits for incoming messages.
    public var limits = DecodingLimits()
    /// Largest message body (fields, streams not counted) this side accepts from the peer, and sends: a
    /// bigger message fails at once with `WireError/messageTooLarge(length:limit:)` (not sent) instead of
    /// being dropped by a peer with the same limit.
    public var maxBodyBytes = 512 * 1024 * 1024
    /// Most bytes of messages still being received that one connection holds at once (default 1 GiB):
    /// a body arriving in pieces and out-of-line byte arrays, charged at their declared sizes (memory
    /// itself grows only as bytes arrive). A message that would go over it is rejected on its own with
    /// `WireError/receiveBudgetExceeded(requested:inUse:limit:scope:)`; streams are not held and not
    /// counted. Keep it at least ``maxBodyBytes``. The service adds a budget shared by all its
    /// connections (``ServiceConfiguration/maxReceivingBytes``).
    public var maxReceivingBytes = 1024 * 1024 * 1024
    /// The service-wide budget, set by the service.
    var sharedReceiveBudget: ReceiveBudget?
    /// The keep-alive tick (default 10 s): at each tick a keep-alive goes out if nothing was sent since
    /// the previous one, so an idle connection carries one per interval, the first 10–20 s after the last
    /// packet, and the peer's ``inactivityTimeout`` sees it as live. `nil`: none.
    public var keepAliveInterval: Duration? = .seconds(10)
    /// The connection closes with ``ConnectionError/inactivityTimeout`` after this long without receiving
    /// anything, keep-alives included (default 60 s): a peer that vanished without a FIN or a reset (a
    /// pulled cable, a NAT that forgot the connection, a stopped process) is detected within 1.5× of it
    /// (checked every half). Must be well above the peer's ``keepAliveInterval``. `nil`: never.
    public var inactivityTimeout: Duration? = .seconds(60)
    /// The connection closes with ``ConnectionError/tooManyKeepAlives`` when the peer sends more
    /// keep-alive packets than this within one ``keepAliveLimitWindow`` (default 20 per 60 s, SolidFrame's
    /// server default; a SolidIPC peer sends at most one per ``keepAliveInterval``, 6 per minute by
    /// default). The count restarts every window. `nil`: no limit.
    public var maxKeepAlivesPerWindow: Int? = 20
    /// The connection closes with ``ConnectionError/helloTimeout`` when the peer's hello has not arrived
    /// this long after the connection started (a TLS handshake before it included), so a peer that
    /// connects and says nothing cannot hold the connection. `nil`: no limit.
    public var helloTimeout: Duration? = .seconds(10)
    /// The connection closes with ``ConnectionError/rawPhaseTimedOut`` when it is still in the Raw state
    /// (``Connection/State/raw``) this long after it started (default 10 s): a peer that connects to a
    /// listener whose connections start Raw and says nothing cannot hold the connection either. The
    /// hello's own ``helloTimeout`` starts when the owner leaves Raw. `nil`: no limit (the owner's
    /// exchange must then bound itself).
    public var rawPhaseTimeout: Duration? = .seconds(10)
    /// Most messages waiting in the connection's outgoing queue (default 1024): when a peer sends
    /// requests and does not read the responses, reading from it stops at this many (so its requests wait
    /// in its own socket, not in our memory) and goes on once half of them are out. A pool's own traffic
    /// never reaches it (a pool gives a connection at most its slot count). `nil`: no limit.
    public var maxQueuedMessages: Int? = 1024
    /// Most bytes waiting in the outgoing queue (default 64 MiB): headers, bodies and out-of-line byte
    /// arrays not yet written (streams are pulled as they go out and not counted). Works like
    /// ``maxQueuedMessages``: at it reading from the peer stops, and goes on once the queue is down to
    /// half of both. `nil`: no limit.
    public var maxQueuedBytes: Int? = 64 * 1024 * 1024
    /// How long the outgoing queue may stay over its limit with no packet going out before the
    /// connection closes with ``ConnectionError/outgoingQueueStalled`` (default 30 s): a peer that reads
    /// slowly but steadily is not stalled. `nil`: never closed for it.
    public var queueStallTimeout: Duration? = .seconds(30)
    /// How long a graceful close (``Connection/goAway()``, the peer's going-away record) may take before
    /// the connection closes with ``ConnectionError/gracefulCloseTimedOut`` (default 30 s): a peer that
    /// never answers its going-away, or a request nobody answers, cannot hold the connection. `nil`: no
    /// limit.
    public var gracefulCloseTimeout: Duration? = .seconds(30)
    /// The window for ``maxKeepAlivesPerWindow``.
    public var keepAliveLimitWindow: Duration = .seconds(60)
    /// Packets handed to the socket ahead of what it has accepted; more waits in the writer.
    public var packetsInFlight = 2
    /// At most about this many written bytes wait unsent in the kernel's socket buffer
    /// (`TCP_NOTSENT_LOWAT`); the rest stays in the connection's own queue, where a small message can
    /// overtake a large one packet by packet. `nil` leaves the kernel's default (megabytes: a ping may
    /// then wait behind a whole socket buffer of bulk data).
    public var unsentBytesLimit: Int? = 32 * 1024
    /// The socket's receive buffer (`SO_RCVBUF`), which bounds the data the peer has in flight to us;
    /// `nil` (the default) lets the kernel tune it. Small values (a few hundred KiB) keep a small message
    /// from waiting behind megabytes of the peer's bulk data in our receive buffer, at some cost in bulk
    /// throughput on long, fast links.
    public var receiveBufferSize: Int?

    /// Settings with `registry` and the defaults for everything else.
    public init(registry: MessageRegistry) { self.registry = registry }

    /// The hello actually sent: the configured one with the codecs' bits.
    var effectiveHello: HelloParameters {
        var hello = self.hello
        hello.codecMask = codecs.reduce(0) { $0 | $1.maskBit }
        return hello
    }
}

/// Why a connection closed.
public enum ConnectionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The stream failed: a socket error, a refused or timed-out connect, or a TLS failure
    /// (`StreamError/tls(_:)`, with OpenSSL's reason).
    case stream(StreamError)
    /// The peer broke the wire protocol.
    case protocolViolation(WireError)
    /// The peer closed the connection in an orderly way.
    case closedByPeer
    /// ``Connection/close()`` was called.
    case closedLocally
    /// Nothing arrived for longer than ``ConnectionConfiguration/inactivityTimeout``.
    case inactivityTimeout
    /// The peer sent more keep-alives per window than ``ConnectionConfiguration/maxKeepAlivesPerWindow``.
    case tooManyKeepAlives
    /// The connection is closing gracefully and takes no new work.
    case closingGracefully
    /// The peer's hello did not arrive within ``ConnectionConfiguration/helloTimeout``.
    case helloTimeout
    /// A graceful close did not end within ``ConnectionConfiguration/gracefulCloseTimeout``.
    case gracefulCloseTimedOut
    /// The outgoing queue stayed over ``ConnectionConfiguration/maxQueuedMessages`` or
    /// ``ConnectionConfiguration/maxQueuedBytes`` with nothing going out for
    /// ``ConnectionConfiguration/queueStallTimeout``: the peer does not read what it is sent.
    case outgoingQueueStalled
    /// The connection was still Raw ``ConnectionConfiguration/rawPhaseTimeout`` after it started.
    case rawPhaseTimedOut
    /// The owner ended the Raw phase as failed (``Connection/failRaw(_:)``): a relay or a custom
    /// authentication refused; the text is the owner's.
    case rawExchangeFailed(String)

    /// A readable text.
    public var description: String {
        switch self {
        case .stream(let error): "stream: \(error)"
        case .protocolViolation(let error): "protocol violation: \(error)"
        case .closedByPeer: "closed by peer"
        case .closedLocally: "closed locally"
        case .inactivityTimeout: "inactivity timeout"
        case .tooManyKeepAlives: "too many keep-alive packets"
        case .closingGracefully: "the connection is closing"
        case .helloTimeout: "no hello from the peer in time"
        case .gracefulCloseTimedOut: "the graceful close took too long"
        case .outgoingQueueStalled: "the peer does not read: outgoing queue full for too long"
        case .rawPhaseTimedOut: "the connection stayed in the Raw state too long"
        case .rawExchangeFailed(let reason): "the raw exchange failed: \(reason)"
        }
    }
}
