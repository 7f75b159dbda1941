public import SolidReactor
import Synchronization

/// TLS over the system OpenSSL for a service or a single stream: a `SecureTransport` made from the
/// client settings, the server settings, or both (a peer-to-peer node).
///
/// ```swift
/// let tls = try TLSTransport(
///     server: TLSConfiguration(certificateChain: .pemFile("server.pem"), privateKey: .pemFile("server.key")),
///     client: { var c = TLSConfiguration(); c.trustRoots = .certificates(.pemFile("ca.pem")); return c }())
/// configuration.tls = tls
/// ```
///
/// The OpenSSL contexts are built here, once (files are read and checked now, so a wrong path or a key
/// that does not match its certificate fails at start-up, not at the first connection). The transport is
/// shared by every connection of the service; clients keep TLS 1.3 session tickets per server name and
/// resume on reconnect.
public final class TLSTransport: SecureTransport {
    private let client: TLSContext?
    private let server: TLSContext?

    /// Builds the contexts.
    /// - Throws: `TLSError/invalidConfiguration(_:_:)` naming what could not be loaded.
    public init(server: TLSConfiguration? = nil, client: TLSConfiguration? = nil) throws(TLSError) {
        self.server = try server.map { (configuration) throws(TLSError) in try TLSContext(role: .server, configuration: configuration) }
        self.client = try client.map { (configuration) throws(TLSError) in try TLSContext(role: .client, configuration: configuration) }
    }

    /// TLS streams made by this transport that are alive now (client and server side): what an operator
    /// compares with the open connections when looking for a leak.
    public var liveStreams: Int {
        (client?.liveStreams.load(ordering: .relaxed) ?? 0) + (server?.liveStreams.load(ordering: .relaxed) ?? 0)
    }

    /// `true` when client settings were given.
    public var canConnect: Bool { client != nil }
    /// `true` when server settings were given.
    public var canAccept: Bool { server != nil }

    /// Starts a client handshake over `stream` (see `SecureTransport`).
    public func makeClientStream(
        over stream: any ByteStream, serverName: String?, initialInput: [UInt8], onHandshake: ((SecurityInfo) -> Void)?
    ) throws(StreamError) -> any ByteStream {
        let secure = try makeClient(over: stream, serverName: serverName, initialInput: initialInput)
        secure.onHandshake = onHandshake
        return secure
    }

    /// Starts a server handshake over `stream` (see `SecureTransport`).
    public func makeServerStream(
        over stream: any ByteStream, initialInput: [UInt8], onHandshake: ((SecurityInfo) -> Void)?
    ) throws(StreamError) -> any ByteStream {
        let secure = try makeServer(over: stream, initialInput: initialInput)
        secure.onHandshake = onHandshake
        return secure
    }

    /// ``makeClientStream(over:serverName:initialInput:onHandshake:)`` with the concrete type.
    public func makeClient(over stream: any ByteStream, serverName: String?, initialInput: [UInt8] = [])
        throws(StreamError) -> TLSStream
    {
        guard let client else { throw .tls(.notConfigured) }
        do {
            return try TLSStream(over: stream, context: client, serverName: serverName, initialInput: initialInput)
        } catch {
            throw .tls(error)
        }
    }

    /// ``makeServerStream(over:initialInput:onHandshake:)`` with the concrete type.
    public func makeServer(over stream: any ByteStream, initialInput: [UInt8] = []) throws(StreamError) -> TLSStream {
        guard let server else { throw .tls(.notConfigured) }
        do {
            return try TLSStream(over: stream, context: server, serverName: nil, initialInput: initialInput)
        } catch {
            throw .tls(error)
        }
    }
}
