import SolidReactor

/// What a pool's ``Dialer`` takes from the service's settings for one destination.
struct DialPlan {
    /// Bounds the connect and the proxy's handshake together.
    var connectTimeout: Duration
    var reconnectDelay: Duration
    var maxReconnectDelay: Duration
    /// The proxy for the destination (`nil`: direct).
    var proxy: ProxySettings?
    /// TLS before the hello (the service is secure from the start), if at all.
    var tlsFromStart: (any SecureTransport)?

    init(
        connectTimeout: Duration, reconnectDelay: Duration, maxReconnectDelay: Duration,
        proxy: ProxySettings? = nil, tlsFromStart: (any SecureTransport)? = nil
    ) {
        self.connectTimeout = connectTimeout
        self.reconnectDelay = reconnectDelay
        self.maxReconnectDelay = maxReconnectDelay
        self.proxy = proxy
        self.tlsFromStart = tlsFromStart
    }

    /// The plan the service's settings give `destination`.
    init(_ settings: ServiceConfigurationSnapshot, for destination: Destination) {
        self.init(
            connectTimeout: settings.connectTimeout, reconnectDelay: settings.reconnectDelay,
            maxReconnectDelay: settings.maxReconnectDelay,
            proxy: settings.proxyForDestination.map { $0(destination) } ?? settings.proxy,
            tlsFromStart: settings.secureFromStart ? settings.tls : nil)
    }
}

/// The steps a ``Dialer`` runs, each replaceable on its own (tests give fakes; ``live(on:)`` is the
/// real thing). Every step runs and calls back on the dialer's reactor thread.
struct DialSteps {
    typealias Tunnelled = Result<(any ByteStream, leftover: [UInt8]), StreamError>

    /// Resolves a host name (or numeric address) and port to socket addresses.
    var resolve: (_ host: String, _ port: UInt16, _ done: @escaping (Result<[SocketAddress], ResolveError>) -> Void) -> Void
    /// Connects to one address within a timeout.
    var connect: (_ address: SocketAddress, _ timeout: Duration, _ done: @escaping (Result<any ByteStream, StreamError>) -> Void) -> Void
    /// Runs the proxy's handshake for `target` over a stream connected to the proxy, within a timeout.
    var tunnel: (
        _ proxy: ProxySettings, _ target: ProxyTarget, _ stream: any ByteStream, _ timeout: Duration,
        _ done: @escaping (Tunnelled) -> Void
    ) -> Void
    /// Wraps a stream in TLS as its client (the server's name to verify, the first input).
    var secure: (
        _ transport: any SecureTransport, _ stream: any ByteStream, _ serverName: String?, _ initialInput: [UInt8]
    ) throws(StreamError) -> any ByteStream

    /// The real steps: the reactor's resolver, ``SocketStream/connect(to:on:timeout:completion:)``,
    /// ``ProxyTunnel``, the transport's client stream (`onHandshake` told of each TLS handshake done).
    static func live(on reactor: Reactor, onHandshake: ((SecurityInfo) -> Void)? = nil) -> DialSteps {
        DialSteps(
            resolve: { host, port, done in reactor.resolve(host: host, port: port, done) },
            connect: { address, timeout, done in
                SocketStream.connect(to: address, on: reactor, timeout: timeout) { done($0.map { $0 }) }
            },
            tunnel: { proxy, target, stream, timeout, done in
                proxy.openTunnel(to: target, over: stream, timeout: timeout, completion: done)
            },
            secure: { transport, stream, serverName, initialInput throws(StreamError) in
                try transport.makeClientStream(
                    over: stream, serverName: serverName, initialInput: initialInput, onHandshake: onHandshake)
            })
    }
}
