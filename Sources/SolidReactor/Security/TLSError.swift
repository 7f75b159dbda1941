/// Why a TLS stream failed. Carries OpenSSL's own codes and reason texts (typed, not one formatted
/// string), so a caller can tell an untrusted certificate from an expired one or from a peer that does
/// not speak TLS at all.
public enum TLSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A secure handshake was asked for on a service or connection without TLS settings.
    case notConfigured
    /// The handshake did not complete within the configured time.
    case handshakeTimeout(Duration)
    /// The peer's certificate does not chain to a trusted root (also self-signed ones).
    case certificateUntrusted(CertificateVerifyError)
    /// The peer's certificate (or one in its chain) has expired or is not valid yet.
    case certificateExpired(CertificateVerifyError)
    /// The peer's certificate does not name the expected host (DNS name or IP address).
    case hostNameMismatch(expected: String, CertificateVerifyError)
    /// The peer's certificate failed verification for another reason (revoked, bad purpose, …).
    case certificateRejected(CertificateVerifyError)
    /// Mutual TLS, server side: the client sent no certificate although one is required.
    case peerCertificateMissing
    /// Mutual TLS, client side: the server requires a certificate and this side presented none.
    case certificateRequired
    /// The peer ended the handshake or the stream with a TLS alert (it rejected this side's certificate,
    /// version, cipher, …); the entries name the alert.
    case alertReceived(TLSLibraryErrors)
    /// The peer sent bytes that are not TLS records (for example a plain-text client).
    case peerSentGarbage(TLSLibraryErrors)
    /// The handshake failed (no common protocol version or cipher, an alert from the peer, …).
    case handshakeFailed(TLSLibraryErrors)
    /// A TLS failure after the handshake (a bad record, an alert).
    case protocolFailed(TLSLibraryErrors)
    /// The transport ended without the peer's `close_notify` (possible truncation).
    case closedWithoutCloseNotify
    /// The TLS settings could not be loaded (certificate, key, trust roots, ALPN).
    case invalidConfiguration(String, TLSLibraryErrors)
    /// A secure handshake was asked for in a state that does not allow it (see the connection states).
    case invalidState(String)

    /// A readable text (OpenSSL's reasons included).
    public var description: String {
        switch self {
        case .notConfigured: "TLS is not configured"
        case .handshakeTimeout(let limit): "TLS handshake not complete within \(limit)"
        case .certificateUntrusted(let error): "peer certificate untrusted: \(error)"
        case .certificateExpired(let error): "peer certificate expired or not yet valid: \(error)"
        case .hostNameMismatch(let expected, let error): "peer certificate does not match \(expected): \(error)"
        case .certificateRejected(let error): "peer certificate rejected: \(error)"
        case .peerCertificateMissing: "the peer sent no certificate (required)"
        case .certificateRequired: "the peer requires a certificate from this side"
        case .alertReceived(let errors): "the peer sent a TLS alert: \(errors)"
        case .peerSentGarbage(let errors): "the peer does not speak TLS: \(errors)"
        case .handshakeFailed(let errors): "TLS handshake failed: \(errors)"
        case .protocolFailed(let errors): "TLS failed: \(errors)"
        case .closedWithoutCloseNotify: "the peer ended the TLS stream without close_notify"
        case .invalidConfiguration(let what, let errors): "invalid TLS configuration (\(what)): \(errors)"
        case .invalidState(let why): "secure handshake not allowed: \(why)"
        }
    }
}

/// A certificate verification failure as OpenSSL reports it (`X509_V_ERR_*`).
public struct CertificateVerifyError: Sendable, Equatable, CustomStringConvertible {
    /// The `X509_V_ERR_*` code (e.g. 10 = expired, 20 = unable to get local issuer, 62 = host mismatch).
    public let code: Int32
    /// OpenSSL's text for the code.
    public let reason: String
    /// Depth in the chain of the failing certificate (0 = the peer's own).
    public let depth: Int32

    /// Creates the record.
    public init(code: Int32, reason: String, depth: Int32) {
        self.code = code
        self.reason = reason
        self.depth = depth
    }

    /// `reason (X509_V_ERR 20 at depth 0)`.
    public var description: String { "\(reason) (X509_V_ERR \(code) at depth \(depth))" }
}

/// The entries of OpenSSL's error queue that one failed operation left, oldest first.
public struct TLSLibraryErrors: Sendable, Equatable, CustomStringConvertible {
    /// One queued error.
    public struct Entry: Sendable, Equatable {
        /// The packed `ERR_get_error` code.
        public let code: UInt
        /// The library that raised it (`"SSL routines"`).
        public let library: String
        /// The reason code within the library (`ERR_GET_REASON`).
        public let reasonCode: Int32
        /// The reason text (`"wrong version number"`).
        public let reason: String

        /// Creates an entry.
        public init(code: UInt, library: String, reasonCode: Int32, reason: String) {
            self.code = code
            self.library = library
            self.reasonCode = reasonCode
            self.reason = reason
        }
    }

    /// The entries; empty when OpenSSL queued none.
    public let entries: [Entry]
    /// The operation that failed (`"SSL_do_handshake"`).
    public let operation: String

    /// Creates the record.
    public init(operation: String, entries: [Entry]) {
        self.operation = operation
        self.entries = entries
    }

    /// `SSL_do_handshake: wrong version number (SSL routines)`.
    public var description: String {
        let reasons = entries.map { "\($0.reason) (\($0.library))" }
        return "\(operation): " + (reasons.isEmpty ? "no OpenSSL error queued" : reasons.joined(separator: "; "))
    }
}
