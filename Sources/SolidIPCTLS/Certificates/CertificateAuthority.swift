import COpenSSL
import CSolidTLS
public import SolidReactor

/// A certificate and its private key, PEM encoded.
public struct IssuedCertificate: Sendable {
    /// The certificate (PEM).
    public let certificatePEM: [UInt8]
    /// Its private key (PEM, unencrypted PKCS#8).
    public let privateKeyPEM: [UInt8]
    /// SHA-256 of the DER certificate as colon-separated hex (what `openssl x509 -fingerprint -sha256` prints).
    public let sha256Fingerprint: String

    /// The pair as TLS settings that present this certificate.
    public var tlsConfiguration: TLSConfiguration {
        TLSConfiguration(certificateChain: .pem(certificatePEM), privateKey: .pem(privateKeyPEM))
    }
}

/// A small certificate authority in memory (EC P-256 keys, SHA-256 signatures), for tests, demos and
/// `ipc-echo server --tls` without certificate files. Not a PKI: no revocation, no persistence.
///
/// ```swift
/// let ca = try CertificateAuthority(commonName: "test CA")
/// let server = try ca.issue(commonName: "echo-server", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
/// var client = TLSConfiguration(); client.trustRoots = .certificates(.pem(ca.certificatePEM))
/// ```
///
/// `@unchecked Sendable`: the key and certificate are never changed after `init`; OpenSSL reads them
/// from any thread.
public final class CertificateAuthority: @unchecked Sendable {
    /// The authority's own certificate (PEM): what a peer puts in its trust roots.
    public let certificatePEM: [UInt8]
    private let key: OpaquePointer
    private let certificate: OpaquePointer

    /// A self-signed authority valid from an hour ago for `validFor`.
    /// - Throws: `TLSError/invalidConfiguration(_:_:)` when OpenSSL fails.
    public init(commonName: String, validFor: Duration = .seconds(100 * 365 * 86400)) throws(TLSError) {
        _ = OpenSSL.initialized
        let key = try OpenSSL.make("CA key", "EVP_EC_gen") { solid_ec_p256_key() }
        let certificate: OpaquePointer
        do {
            certificate = try Self.build(
                commonName: commonName, key: key, issuer: nil, issuerKey: key, isAuthority: true, dnsNames: [],
                ipAddresses: [], validFrom: -3600, validTo: validFor.components.seconds)
        } catch {
            EVP_PKEY_free(key)
            throw error
        }
        do {
            certificatePEM = try Self.pem { PEM_write_bio_X509($0, certificate) }
        } catch {
            X509_free(certificate)
            EVP_PKEY_free(key)
            throw error
        }
        self.key = key
        self.certificate = certificate
    }

    deinit {
        X509_free(certificate)
        EVP_PKEY_free(key)
    }

    /// Issues a leaf certificate (server and client use) with these subject alternative names.
    /// - Parameters:
    ///   - commonName: The subject's common name.
    ///   - dnsNames: DNS subject alternative names (what a client verifies a host name against).
    ///   - ipAddresses: IP subject alternative names, as text (`"127.0.0.1"`, `"::1"`).
    ///   - validFrom: Seconds from now when it becomes valid (negative: in the past).
    ///   - validTo: Seconds from now when it expires (negative: an expired certificate, for tests).
    public func issue(
        commonName: String, dnsNames: [String] = [], ipAddresses: [String] = [], validFrom: Int64 = -3600,
        validTo: Int64 = 100 * 365 * 86400
    ) throws(TLSError) -> IssuedCertificate {
        try Self.makeLeaf(
            commonName: commonName, issuer: certificate, issuerKey: key, dnsNames: dnsNames, ipAddresses: ipAddresses,
            validFrom: validFrom, validTo: validTo)
    }

    /// A self-signed leaf certificate (what `ipc-echo server --tls` makes for a run).
    public static func selfSigned(commonName: String, dnsNames: [String] = [], ipAddresses: [String] = [])
        throws(TLSError) -> IssuedCertificate
    {
        _ = OpenSSL.initialized
        return try makeLeaf(
            commonName: commonName, issuer: nil, issuerKey: nil, dnsNames: dnsNames, ipAddresses: ipAddresses,
            validFrom: -3600, validTo: 100 * 365 * 86400)
    }

    private static func makeLeaf(
        commonName: String, issuer: OpaquePointer?, issuerKey: OpaquePointer?, dnsNames: [String], ipAddresses: [String],
        validFrom: Int64, validTo: Int64
    ) throws(TLSError) -> IssuedCertificate {
        let key = try OpenSSL.make("key", "EVP_EC_gen") { solid_ec_p256_key() }
        defer { EVP_PKEY_free(key) }
        let leaf = try build(
            commonName: commonName, key: key, issuer: issuer, issuerKey: issuerKey ?? key, isAuthority: false,
            dnsNames: dnsNames, ipAddresses: ipAddresses, validFrom: validFrom, validTo: validTo)
        defer { X509_free(leaf) }
        return IssuedCertificate(
            certificatePEM: try pem { PEM_write_bio_X509($0, leaf) },
            privateKeyPEM: try pem { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) },
            sha256Fingerprint: fingerprint(leaf))
    }

    private static func build(
        commonName: String, key: OpaquePointer, issuer: OpaquePointer?, issuerKey: OpaquePointer, isAuthority: Bool,
        dnsNames: [String], ipAddresses: [String], validFrom: Int64, validTo: Int64
    ) throws(TLSError) -> OpaquePointer {
        let certificate = try OpenSSL.make("certificate", "X509_new") { X509_new() }
        do throws(TLSError) {
            try OpenSSL.check("certificate", "X509_set_version") { X509_set_version(certificate, 2) }
            var serial: UInt64 = 0
            _ = withUnsafeMutableBytes(of: &serial) { RAND_bytes($0.baseAddress, Int32($0.count)) }
            try OpenSSL.check("certificate", "ASN1_INTEGER_set") {
                ASN1_INTEGER_set(X509_get_serialNumber(certificate), Int(serial >> 2))
            }
            try OpenSSL.check("validity", "X509_gmtime_adj") {
                solid_x509_set_validity(certificate, Int(validFrom), Int(validTo))
            }
            let name = X509_get_subject_name(certificate)
            try OpenSSL.check("common name", "X509_NAME_add_entry_by_txt") {
                X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, commonName, -1, -1, 0)
            }
            try OpenSSL.check("issuer", "X509_set_issuer_name") {
                X509_set_issuer_name(certificate, issuer.map { X509_get_subject_name($0) } ?? name)
            }
            try OpenSSL.check("public key", "X509_set_pubkey") { X509_set_pubkey(certificate, key) }
            let signer = issuer ?? certificate
            var extensions: [(Int32, String)] = [(NID_subject_key_identifier, "hash")]
            if issuer != nil { extensions.append((NID_authority_key_identifier, "keyid:always")) }
            if isAuthority {
                extensions += [(NID_basic_constraints, "critical,CA:TRUE"), (NID_key_usage, "critical,keyCertSign,cRLSign")]
            } else {
                extensions += [
                    (NID_basic_constraints, "critical,CA:FALSE"), (NID_key_usage, "critical,digitalSignature"),
                    (NID_ext_key_usage, "serverAuth,clientAuth"),
                ]
                let names = dnsNames.map { "DNS:\($0)" } + ipAddresses.map { "IP:\($0)" }
                if !names.isEmpty { extensions.append((NID_subject_alt_name, names.joined(separator: ","))) }
            }
            for (nid, value) in extensions {
                try OpenSSL.check("extension \(value)", "X509V3_EXT_conf_nid") {
                    solid_x509_add_ext(certificate, signer, nid, value)
                }
            }
            OpenSSL.clearErrors()
            guard X509_sign(certificate, issuerKey, EVP_sha256()) > 0 else {
                throw TLSError.invalidConfiguration("signature", OpenSSL.takeErrors("X509_sign"))
            }
            return certificate
        } catch {
            X509_free(certificate)
            throw error
        }
    }

    /// Writes with `body` into a memory BIO and returns its bytes.
    private static func pem(_ body: (OpaquePointer) -> Int32) throws(TLSError) -> [UInt8] {
        let bio = try OpenSSL.make("PEM", "BIO_new") { BIO_new(BIO_s_mem()) }
        defer { BIO_free(bio) }
        try OpenSSL.check("PEM", "PEM_write_bio") { body(bio) }
        let length = Int(BIO_ctrl_pending(bio))
        return [UInt8](unsafeUninitializedCapacity: length) { storage, count in
            count = Int(max(0, BIO_read(bio, storage.baseAddress, Int32(length))))
        }
    }

    private static func fingerprint(_ certificate: OpaquePointer) -> String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(certificate, EVP_sha256(), &digest, &length) == 1 else { return "?" }
        let hex = Array("0123456789ABCDEF")
        return digest.prefix(Int(length)).map { "\(hex[Int($0 >> 4)])\(hex[Int($0 & 15)])" }.joined(separator: ":")
    }
}
