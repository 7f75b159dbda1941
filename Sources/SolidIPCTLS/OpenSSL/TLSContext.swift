import COpenSSL
import CSolidTLS
import SolidReactor
import Synchronization

/// One `SSL_CTX` built from a ``TLSConfiguration`` for one role, plus the client's session cache.
///
/// `@unchecked Sendable`: the context is only read after it is configured (OpenSSL allows `SSL_new` from
/// any thread), and the session cache is behind a lock.
final class TLSContext: @unchecked Sendable {
    enum Role { case client, server }

    let role: Role
    let configuration: TLSConfiguration
    let context: OpaquePointer
    /// The server's ALPN list in wire format, zero-terminated (read by `solid_alpn_select`).
    private let alpnWire: UnsafeMutablePointer<UInt8>?
    /// TLS streams made with this context that are still alive (their `SSL` not yet freed).
    let liveStreams = Atomic<Int>(0)
    /// Client side: the newest session ticket per server (name or address), for resumption.
    private let sessions = Lock<[String: OpaquePointer]>([:])

    init(role: Role, configuration: TLSConfiguration) throws(TLSError) {
        _ = OpenSSL.initialized
        self.role = role
        self.configuration = configuration
        let method = role == .client ? TLS_client_method() : TLS_server_method()
        context = try OpenSSL.make("context", "SSL_CTX_new") { SSL_CTX_new(method) }
        var wire: [UInt8] = []
        for name in configuration.applicationProtocols {
            let bytes = Array(name.utf8)
            guard !bytes.isEmpty, bytes.count < 256 else {
                SSL_CTX_free(context)
                throw .invalidConfiguration("ALPN name '\(name)'", TLSLibraryErrors(operation: "ALPN", entries: []))
            }
            wire.append(UInt8(bytes.count))
            wire.append(contentsOf: bytes)
        }
        if role == .server && !wire.isEmpty {
            let storage = UnsafeMutablePointer<UInt8>.allocate(capacity: wire.count + 1)
            storage.initialize(from: wire, count: wire.count)
            storage[wire.count] = 0
            alpnWire = storage
        } else {
            alpnWire = nil
        }
        // Every property is set: a throw from here runs deinit, which frees the context.
        try configure(alpn: wire)
    }

    deinit {
        for (_, session) in sessions.withLock({ $0 }) { SSL_SESSION_free(session) }
        SSL_CTX_free(context)
        alpnWire?.deallocate()
    }

    private func configure(alpn wire: [UInt8]) throws(TLSError) {
        solid_ssl_ctx_set_safe_options(context)
        let minimum = configuration.minimumVersion == .tls13 ? TLS1_3_VERSION : TLS1_2_VERSION
        try OpenSSL.check("minimum version", "SSL_CTX_set_min_proto_version") {
            solid_ssl_ctx_set_min_proto_version(context, minimum)
        }
        // Forward-secret AEAD suites only; AES-128-GCM first (measured here: 3.57 GB/s per core against
        // 3.44 for AES-256-GCM, which OpenSSL prefers by default), ChaCha20 for peers without AES hardware.
        try OpenSSL.check("TLS 1.3 cipher suites", "SSL_CTX_set_ciphersuites") {
            SSL_CTX_set_ciphersuites(context, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256")
        }
        try OpenSSL.check("TLS 1.2 ciphers", "SSL_CTX_set_cipher_list") {
            SSL_CTX_set_cipher_list(
                context,
                "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                    + "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")
        }
        try loadIdentity()
        // A server that asks for no client certificate verifies nothing: loading the system store would
        // only make OpenSSL read its directory during handshakes.
        if role == .client || configuration.clientCertificates != .notRequested { try loadTrustRoots() }
        switch role {
        case .client:
            let verify = configuration.serverVerification != .insecureNoVerification
            SSL_CTX_set_verify(context, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
            if !wire.isEmpty {
                // SSL_CTX_set_alpn_protos returns 0 on success.
                OpenSSL.clearErrors()
                guard SSL_CTX_set_alpn_protos(context, wire, UInt32(wire.count)) == 0 else {
                    throw .invalidConfiguration("ALPN", OpenSSL.takeErrors("SSL_CTX_set_alpn_protos"))
                }
            }
            if configuration.sessionResumption {
                solid_ssl_ctx_set_client_session_cache(context)
                SSL_CTX_sess_set_new_cb(context, tlsNewSessionCallback)
            }
        case .server:
            guard configuration.certificateChain != nil else {
                throw .invalidConfiguration("a server needs certificateChain and privateKey",
                    TLSLibraryErrors(operation: "configuration", entries: []))
            }
            switch configuration.clientCertificates {
            case .notRequested: SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
            case .optional: SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
            case .required: SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
            }
            if let alpnWire { SSL_CTX_set_alpn_select_cb(context, solid_alpn_select, alpnWire) }
            solid_ssl_ctx_set_server_defaults(context)
            if configuration.sessionResumption {
                // A session id context is required for resumption when client certificates are verified.
                let id: [UInt8] = Array("solid-ipc".utf8)
                _ = SSL_CTX_set_session_id_context(context, id, UInt32(id.count))
            } else {
                _ = SSL_CTX_set_num_tickets(context, 0)
            }
        }
    }

    private func loadIdentity() throws(TLSError) {
        guard let chainSource = configuration.certificateChain else { return }
        guard let keySource = configuration.privateKey else {
            throw .invalidConfiguration("certificateChain without privateKey", TLSLibraryErrors(operation: "configuration", entries: []))
        }
        let certificates = try OpenSSL.certificates(fromPEM: try OpenSSL.pemBytes(chainSource, "certificate chain"), "certificate chain")
        defer { certificates.forEach { X509_free($0) } }
        try OpenSSL.check("certificate", "SSL_CTX_use_certificate") { SSL_CTX_use_certificate(context, certificates[0]) }
        for intermediate in certificates.dropFirst() {
            // The context takes ownership of what it is given: hand it its own reference.
            X509_up_ref(intermediate)
            try OpenSSL.check("intermediate certificate", "SSL_CTX_add_extra_chain_cert") {
                solid_ssl_ctx_add_extra_chain_cert(context, intermediate)
            }
        }
        let keyPEM = try OpenSSL.pemBytes(keySource, "private key")
        let key = try OpenSSL.withMemoryBIO(keyPEM) { (bio) throws(TLSError) in
            try OpenSSL.make("private key", "PEM_read_bio_PrivateKey") { PEM_read_bio_PrivateKey(bio, nil, nil, nil) }
        }
        defer { EVP_PKEY_free(key) }
        try OpenSSL.check("private key", "SSL_CTX_use_PrivateKey") { SSL_CTX_use_PrivateKey(context, key) }
        try OpenSSL.check("private key does not match the certificate", "SSL_CTX_check_private_key") {
            SSL_CTX_check_private_key(context)
        }
    }

    private func loadTrustRoots() throws(TLSError) {
        switch configuration.trustRoots {
        case .system:
            try OpenSSL.check("system trust roots", "SSL_CTX_set_default_verify_paths") {
                SSL_CTX_set_default_verify_paths(context)
            }
        case .directory(let path):
            try OpenSSL.check("trust directory \(path)", "SSL_CTX_load_verify_dir") { SSL_CTX_load_verify_dir(context, path) }
        case .certificates(let source):
            let certificates = try OpenSSL.certificates(fromPEM: try OpenSSL.pemBytes(source, "trust roots"), "trust roots")
            defer { certificates.forEach { X509_free($0) } }
            let store = SSL_CTX_get_cert_store(context)
            for certificate in certificates {
                try OpenSSL.check("trust root", "X509_STORE_add_cert") { X509_STORE_add_cert(store, certificate) }
            }
        }
    }

    // MARK: client sessions

    /// The cached session for `key`, with a reference for the caller (`SSL_set_session` takes its own).
    func session(for key: String) -> OpaquePointer? {
        sessions.withLock { sessions in
            guard let session = sessions[key] else { return nil }
            SSL_SESSION_up_ref(session)
            return session
        }
    }

    /// Keeps `session` (whose reference this takes) as the newest for `key`.
    func store(_ session: OpaquePointer, for key: String) {
        let old = sessions.withLock { sessions in
            let old = sessions[key]
            sessions[key] = session
            return old
        }
        if let old { SSL_SESSION_free(old) }
    }
}

/// OpenSSL calls this on the thread running the `SSL_*` call that received a ticket, which is the
/// stream's reactor thread inside one of the stream's own calls: the stream is alive.
private let tlsNewSessionCallback: @convention(c) (OpaquePointer?, OpaquePointer?) -> Int32 = { ssl, session in
    guard let ssl, let session, let raw = SSL_get_ex_data(ssl, 0) else { return 0 }
    let stream = Unmanaged<TLSStream>.fromOpaque(raw).takeUnretainedValue()
    return stream.sessionTicketArrived(session) ? 1 : 0
}
