import COpenSSL
import Glibc
import CSolidTLS
import SolidReactor

/// The one place OpenSSL's error queue is read: every call that can fail goes through these helpers,
/// which clear the (per-thread) queue before the call and turn what it left into ``TLSLibraryErrors``.
enum OpenSSL {
    /// Loads the library's strings and algorithms once (OpenSSL 3 does this itself on first use too).
    static let initialized: Bool = {
        OPENSSL_init_ssl(UInt64(OPENSSL_INIT_LOAD_SSL_STRINGS) | UInt64(OPENSSL_INIT_LOAD_CRYPTO_STRINGS), nil) == 1
    }()

    /// Empties the error queue (before an operation, so what is read after it belongs to it).
    @inline(__always)
    static func clearErrors() { ERR_clear_error() }

    /// Takes every queued error, oldest first.
    static func takeErrors(_ operation: String) -> TLSLibraryErrors {
        var entries: [TLSLibraryErrors.Entry] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            let library = ERR_lib_error_string(code).map { String(cString: $0) } ?? "lib \(solid_err_get_lib(code))"
            let reason = ERR_reason_error_string(code).map { String(cString: $0) } ?? "reason \(solid_err_get_reason(code))"
            entries.append(.init(code: code, library: library, reasonCode: solid_err_get_reason(code), reason: reason))
        }
        return TLSLibraryErrors(operation: operation, entries: entries)
    }

    /// Runs a call that returns 1 on success; any other value throws the queued errors as an invalid
    /// configuration naming `what`.
    static func check(_ what: String, _ operation: String, _ body: () -> Int32) throws(TLSError) {
        clearErrors()
        guard body() == 1 else { throw .invalidConfiguration(what, takeErrors(operation)) }
    }

    /// Runs a call that returns a pointer; `nil` throws as ``check(_:_:_:)`` does.
    static func make<T>(_ what: String, _ operation: String, _ body: () -> T?) throws(TLSError) -> T {
        clearErrors()
        guard let value = body() else { throw .invalidConfiguration(what, takeErrors(operation)) }
        return value
    }

    /// A read-only memory BIO over `bytes` for the duration of `body`.
    static func withMemoryBIO<R>(_ bytes: [UInt8], _ body: (OpaquePointer) throws(TLSError) -> R) throws(TLSError) -> R {
        let result: Result<R, TLSError> = bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else {
                return .failure(.invalidConfiguration("memory", takeErrors("BIO_new_mem_buf")))
            }
            defer { BIO_free(bio) }
            return Result { () throws(TLSError) in try body(bio) }
        }
        return try result.get()
    }

    /// The PEM bytes of a source (a file is read here).
    static func pemBytes(_ source: TLSConfiguration.PEMSource, _ what: String) throws(TLSError) -> [UInt8] {
        switch source {
        case .pem(let bytes):
            return bytes
        case .pemFile(let path):
            guard let bytes = readFile(path) else {
                throw .invalidConfiguration("\(what) \(path)", TLSLibraryErrors(operation: "open", entries: []))
            }
            return bytes
        }
    }

    /// Every certificate in PEM bytes, in order (the caller frees them).
    static func certificates(fromPEM pem: [UInt8], _ what: String) throws(TLSError) -> [OpaquePointer] {
        try withMemoryBIO(pem) { (bio) throws(TLSError) -> [OpaquePointer] in
            var certificates: [OpaquePointer] = []
            clearErrors()
            while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) { certificates.append(certificate) }
            // The loop ends with a "no start line" error at the end of the data: that one is expected.
            ERR_clear_error()
            guard !certificates.isEmpty else {
                throw .invalidConfiguration(what, TLSLibraryErrors(operation: "PEM_read_bio_X509", entries: []))
            }
            return certificates
        }
    }

    /// The text OpenSSL gives a verification result code.
    static func verifyReason(_ code: Int) -> String {
        X509_verify_cert_error_string(code).map { String(cString: $0) } ?? "verify error \(code)"
    }
}

/// Reads a whole file (configuration only, never on the data path).
private func readFile(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16384)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count > 0 { bytes.append(contentsOf: chunk[0..<count]) }
        if count < chunk.count { break }
    }
    return ferror(file) == 0 ? bytes : nil
}
