/// Makes secure streams over plain ones: the seam between the messaging layer and a TLS implementation.
///
/// The `SolidIPCTLS` product provides one over the system OpenSSL (`TLSTransport`); the core links no TLS
/// library. Both calls run on the stream's reactor thread and return a stream that takes over `stream`
/// (its callbacks belong to the secure stream from then on). The handshake starts at once; bytes written
/// to the returned stream before it completes wait for it, and a failed handshake closes the stream with
/// ``StreamError/tls(_:)``.
public protocol SecureTransport: Sendable {
    /// Starts the client side of a handshake over `stream`.
    /// - Parameters:
    ///   - stream: The connected plain stream the handshake runs over (its callbacks move to the result).
    ///   - serverName: The name the peer's certificate must carry (and the SNI sent); a numeric IP is
    ///     checked against the certificate's IP-address entries and sends no SNI. `nil`: no name check.
    ///   - initialInput: Bytes already read from `stream` that belong to the handshake (after a raw or
    ///     plain phase).
    ///   - onHandshake: Called once on the reactor thread when the handshake completed.
    /// - Throws: ``StreamError/tls(_:)`` when the transport has no client settings or OpenSSL fails.
    func makeClientStream(
        over stream: any ByteStream, serverName: String?, initialInput: [UInt8],
        onHandshake: ((SecurityInfo) -> Void)?
    ) throws(StreamError) -> any ByteStream

    /// Starts the server side of a handshake over `stream`; `initialInput` and `onHandshake` as for the
    /// client.
    /// - Throws: ``StreamError/tls(_:)`` when the transport has no server settings or OpenSSL fails.
    func makeServerStream(over stream: any ByteStream, initialInput: [UInt8], onHandshake: ((SecurityInfo) -> Void)?)
        throws(StreamError) -> any ByteStream

    /// `true` when ``makeClientStream(over:serverName:initialInput:onHandshake:)`` can work.
    var canConnect: Bool { get }
    /// `true` when ``makeServerStream(over:initialInput:onHandshake:)`` can work.
    var canAccept: Bool { get }
}

/// What a secure stream established: protocol, cipher and what it verified about the peer. Immutable.
public final class SecurityInfo: Sendable, CustomStringConvertible {
    /// The negotiated protocol, e.g. `"TLSv1.3"`.
    public let protocolVersion: String
    /// The negotiated cipher suite, e.g. `"TLS_AES_128_GCM_SHA256"`.
    public let cipher: String
    /// The ALPN protocol both sides chose, if any.
    public let alpn: String?
    /// `true` when the peer presented a certificate and it was verified against the trust roots (and the
    /// expected host name, on the client side).
    public let peerVerified: Bool
    /// The peer certificate's subject as one line (`CN=…,O=…`), when it sent one.
    public let peerSubject: String?
    /// The peer certificate's common name, when it has one.
    public let peerCommonName: String?
    /// DNS names of the peer certificate's subject alternative names.
    public let peerDNSNames: [String]
    /// IP addresses (as text) of the peer certificate's subject alternative names.
    public let peerIPAddresses: [String]
    /// The peer's leaf certificate, DER encoded, when it sent one.
    public let peerCertificateDER: [UInt8]?
    /// `true` when the handshake resumed an earlier session (no full key exchange).
    public let sessionResumed: Bool

    /// Creates the record (secure stream implementations do this once their handshake completes).
    public init(
        protocolVersion: String, cipher: String, alpn: String?, peerVerified: Bool, peerSubject: String?,
        peerCommonName: String?, peerDNSNames: [String], peerIPAddresses: [String], peerCertificateDER: [UInt8]?,
        sessionResumed: Bool
    ) {
        self.protocolVersion = protocolVersion
        self.cipher = cipher
        self.alpn = alpn
        self.peerVerified = peerVerified
        self.peerSubject = peerSubject
        self.peerCommonName = peerCommonName
        self.peerDNSNames = peerDNSNames
        self.peerIPAddresses = peerIPAddresses
        self.peerCertificateDER = peerCertificateDER
        self.sessionResumed = sessionResumed
    }

    /// `TLSv1.3 TLS_AES_128_GCM_SHA256, peer CN=… (verified)`.
    public var description: String {
        let peer = peerSubject.map { "peer \($0)" + (peerVerified ? " (verified)" : " (not verified)") } ?? "no peer certificate"
        return "\(protocolVersion) \(cipher), \(peer)" + (sessionResumed ? ", resumed" : "")
    }
}
