import SolidReactor

/// TLS settings of one side: what it presents, what it trusts, how strictly it checks the peer.
///
/// The defaults are the safe ones: the peer's certificate is verified against the system's trust roots
/// and, on the client side, against the destination's host name (or IP address); TLS 1.2 is the
/// minimum; renegotiation is off; a handshake must finish within 10 s.
///
/// ```swift
/// let server = TLSConfiguration(certificateChain: .pemFile("server.pem"), privateKey: .pemFile("server.key"))
/// var client = TLSConfiguration(); client.trustRoots = .certificates(.pemFile("ca.pem"))
/// ```
public struct TLSConfiguration: Sendable {
    /// PEM data from a file or from memory.
    public enum PEMSource: Sendable, Equatable {
        /// A PEM file on disk (read when the transport is made).
        case pemFile(String)
        /// PEM text in memory.
        case pem([UInt8])
    }

    /// The certificates a side trusts when it verifies its peer.
    public enum TrustRoots: Sendable, Equatable {
        /// The system's trust store (Debian: `/etc/ssl/certs`).
        case system
        /// The certificates in a PEM file, or in memory (a private CA).
        case certificates(PEMSource)
        /// A directory hashed with `openssl rehash` (`c_rehash`).
        case directory(String)
    }

    /// How a client checks the server it connects to.
    public enum ServerVerification: Sendable, Equatable {
        /// Chain to a trusted root and the expected host name or IP address (the default).
        case full
        /// Chain to a trusted root, any name (for servers reached by an address their certificate lacks).
        case chainOnly
        /// No verification at all: anyone in the middle can read and change the traffic. For demos only.
        case insecureNoVerification
    }

    /// Whether a server asks its clients for certificates (mutual TLS).
    public enum ClientCertificates: Sendable, Equatable {
        /// Not asked for (the default).
        case notRequested
        /// Asked for and verified when sent; a client without one is still accepted.
        case optional
        /// Required and verified: a client without a valid certificate fails the handshake.
        case required
    }

    /// The lowest protocol version accepted.
    public enum Version: Sendable, Equatable, Comparable {
        /// TLS 1.2.
        case tls12
        /// TLS 1.3.
        case tls13
    }

    /// This side's certificate, followed by its intermediates (required for a server).
    public var certificateChain: PEMSource?
    /// The private key of ``certificateChain``'s first certificate.
    public var privateKey: PEMSource?
    /// Whom this side trusts.
    public var trustRoots = TrustRoots.system
    /// Client side: how the server is checked.
    public var serverVerification = ServerVerification.full
    /// Client side: the name the server's certificate must carry, instead of the destination's host (for
    /// a destination given as a Unix-domain path or through a relay). Also sent as SNI.
    public var serverNameOverride: String?
    /// Server side: whether clients must present certificates.
    public var clientCertificates = ClientCertificates.notRequested
    /// The lowest version accepted.
    public var minimumVersion = Version.tls12
    /// Application protocols offered (client) or accepted, in preference order (server); empty: no ALPN.
    /// A server with a list fails the handshake of a client that offers none of them.
    public var applicationProtocols: [String] = []
    /// Clients keep the server's session tickets and resume on reconnect (no full key exchange); servers
    /// issue tickets. On by default.
    public var sessionResumption = true
    /// How long a handshake may take before the stream closes with `TLSError/handshakeTimeout(_:)`
    /// (SolidFrame's `connection_timeout_secure`); `nil`: no limit.
    public var handshakeTimeout: Duration? = .seconds(10)
    /// Plaintext bytes a TLS stream accepts from its owner ahead of the handshake's completion; more
    /// writes fail with `StreamError/tls(_:)`. Bounds memory when a peer stalls the handshake.
    public var maxBufferedBeforeHandshake = 4 * 1024 * 1024

    /// Settings with no certificate of its own (a client) and the defaults.
    public init() {}

    /// Settings that present `certificateChain` (a server, or a client in mutual TLS).
    public init(certificateChain: PEMSource, privateKey: PEMSource) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
    }
}
