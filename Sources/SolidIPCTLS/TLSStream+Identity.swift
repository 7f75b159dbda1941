import COpenSSL
import CSolidTLS
import Glibc
import SolidReactor

/// How a TLS stream names a failure (from OpenSSL's verify result and error queue) and what it learnt
/// about its peer.
extension TLSStream {
    func classifyHandshakeFailure(_ code: Int32) -> TLSError {
        let errors = OpenSSL.takeErrors("SSL_do_handshake")
        let verify = SSL_get_verify_result(ssl)
        if verify != Int(X509_V_OK) && SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER != 0 {
            let failure = CertificateVerifyError(code: Int32(verify), reason: OpenSSL.verifyReason(verify), depth: failedDepth)
            switch Int32(verify) {
            case X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_CERT_NOT_YET_VALID:
                return .certificateExpired(failure)
            case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH:
                return .hostNameMismatch(expected: expectedName ?? "?", failure)
            case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
                X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
                X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_CERT_UNTRUSTED:
                return .certificateUntrusted(failure)
            default:
                return .certificateRejected(failure)
            }
        }
        return classify(errors, duringHandshake: true, code: code)
    }

    func classifyStreamFailure(_ code: Int32) -> TLSError {
        classify(OpenSSL.takeErrors("SSL_read"), duringHandshake: false, code: code)
    }

    private func classify(_ errors: TLSLibraryErrors, duringHandshake: Bool, code: Int32) -> TLSError {
        let reasons = errors.entries.filter { solid_err_is_ssl_reason($0.code) != 0 }.map(\.reasonCode)
        if reasons.contains(SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) { return .peerCertificateMissing }
        if reasons.contains(SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED) { return .certificateRequired }
        if reasons.contains(where: { $0 >= SSL_AD_REASON_OFFSET && $0 < SSL_AD_REASON_OFFSET + 256 }) {
            return .alertReceived(errors)
        }
        let garbage: [Int32] = [
            SSL_R_WRONG_VERSION_NUMBER, SSL_R_HTTP_REQUEST, SSL_R_HTTPS_PROXY_REQUEST, SSL_R_PACKET_LENGTH_TOO_LONG,
            SSL_R_RECORD_LENGTH_MISMATCH, SSL_R_UNKNOWN_PROTOCOL, SSL_R_WRONG_SSL_VERSION, SSL_R_BAD_PACKET_LENGTH,
            SSL_R_BAD_RECORD_TYPE, SSL_R_UNEXPECTED_RECORD, SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC,
            SSL_R_UNEXPECTED_MESSAGE,
        ]
        if reasons.contains(where: garbage.contains) { return .peerSentGarbage(errors) }
        return duringHandshake ? .handshakeFailed(errors) : .protocolFailed(errors)
    }

    func makeSecurityInfo() -> SecurityInfo {
        let version = String(cString: solid_ssl_version_text(ssl))
        let cipher = SSL_get_current_cipher(ssl).flatMap { SSL_CIPHER_get_name($0) }.map { String(cString: $0) } ?? "?"
        var alpnPointer: UnsafePointer<UInt8>?
        var alpnLength: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &alpnPointer, &alpnLength)
        let alpn = alpnPointer.map { String(decoding: UnsafeBufferPointer(start: $0, count: Int(alpnLength)), as: UTF8.self) }
        var subject: String?
        var commonName: String?
        var names = SubjectNames()
        var der: [UInt8]?
        var verified = false
        if let certificate = SSL_get1_peer_certificate(ssl) {
            defer { X509_free(certificate) }
            if let line = X509_NAME_oneline(X509_get_subject_name(certificate), nil, 0) {
                subject = String(cString: line)
                CRYPTO_free(line, #fileID, #line)
            }
            var buffer = [CChar](repeating: 0, count: 256)
            if solid_x509_common_name(certificate, &buffer, Int32(buffer.count)) >= 0 {
                commonName = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            withUnsafeMutablePointer(to: &names) { solid_x509_visit_sans(certificate, $0, visitSubjectName) }
            let length = i2d_X509(certificate, nil)
            if length > 0 {
                der = [UInt8](unsafeUninitializedCapacity: Int(length)) { storage, count in
                    var cursor: UnsafeMutablePointer<UInt8>? = storage.baseAddress
                    count = Int(max(0, i2d_X509(certificate, &cursor)))
                }
            }
            verified = SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER != 0 && SSL_get_verify_result(ssl) == Int(X509_V_OK)
        }
        return SecurityInfo(
            protocolVersion: version, cipher: cipher, alpn: alpn, peerVerified: verified, peerSubject: subject,
            peerCommonName: commonName, peerDNSNames: names.dns, peerIPAddresses: names.ips, peerCertificateDER: der,
            sessionResumed: SSL_session_reused(ssl) == 1)
    }
}

/// What `solid_x509_visit_sans` found.
private struct SubjectNames {
    var dns: [String] = []
    var ips: [String] = []
}

private let visitSubjectName: @convention(c) (UnsafeMutableRawPointer?, Int32, UnsafePointer<UInt8>?, Int32) -> Void = {
    context, kind, bytes, length in
    guard let context, let bytes, length > 0 else { return }
    let names = context.assumingMemoryBound(to: SubjectNames.self)
    let buffer = UnsafeBufferPointer(start: bytes, count: Int(length))
    if kind == 1 {
        names.pointee.dns.append(String(decoding: buffer, as: UTF8.self))
    } else if kind == 2 {
        var text = [CChar](repeating: 0, count: 64)
        let family = length == 4 ? AF_INET : AF_INET6
        if inet_ntop(family, bytes, &text, socklen_t(text.count)) != nil {
            names.pointee.ips.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }
}

/// Records the depth of the first certificate that failed verification; keeps OpenSSL's verdict.
let tlsVerifyCallback: @convention(c) (Int32, OpaquePointer?) -> Int32 = { ok, store in
    if ok == 0, let store,
        let ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()),
        let raw = SSL_get_ex_data(OpaquePointer(ssl), 0)
    {
        let stream = Unmanaged<TLSStream>.fromOpaque(raw).takeUnretainedValue()
        stream.failedDepth = X509_STORE_CTX_get_error_depth(store)
    }
    return ok
}
