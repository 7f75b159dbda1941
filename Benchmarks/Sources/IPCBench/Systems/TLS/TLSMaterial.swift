import Glibc
import SolidIPCTLS

/// The certificates every TLS system of a run uses (SolidIPC + TLS and SwiftNIO + NIOSSL alike): one CA
/// and one server certificate for `localhost` and 127.0.0.1 (EC P-256, made by the library's
/// ``CertificateAuthority``), written as PEM files into a temporary directory that the server child gets
/// on its command line (`serve --tls-dir`).
struct TLSMaterial: Sendable {
    /// Holds `ca.pem`, `cert.pem` and `key.pem`.
    let directory: String

    var caPath: String { directory + "/ca.pem" }
    var certificatePath: String { directory + "/cert.pem" }
    var keyPath: String { directory + "/key.pem" }

    /// Files made earlier (the server child's side).
    init(directory: String) { self.directory = directory }

    /// Makes a fresh CA and server certificate and writes them into a new temporary directory.
    static func create() throws -> TLSMaterial {
        var template = Array("/tmp/ipc-bench-tls-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchError("mkdtemp failed: errno \(errno)") }
        let material = TLSMaterial(directory: String(cString: made))
        let authority = try CertificateAuthority(commonName: "ipc-bench CA")
        let leaf = try authority.issue(commonName: "ipc-bench", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
        try write(authority.certificatePEM, to: material.caPath)
        try write(leaf.certificatePEM, to: material.certificatePath)
        try write(leaf.privateKeyPEM, to: material.keyPath)
        return material
    }

    /// Removes the files and the directory.
    func remove() {
        for path in [caPath, certificatePath, keyPath] { unlink(path) }
        rmdir(directory)
    }

    /// SolidIPC's server settings: the certificate and its key.
    func solidServer() throws -> TLSTransport {
        try TLSTransport(server: TLSConfiguration(certificateChain: .pemFile(certificatePath), privateKey: .pemFile(keyPath)))
    }

    /// SolidIPC's client settings: trust the run's CA, full verification (the destination is 127.0.0.1,
    /// which the certificate names), session tickets kept unless `resumption` is false.
    func solidClient(resumption: Bool = true) throws -> TLSTransport {
        var configuration = TLSConfiguration()
        configuration.trustRoots = .certificates(.pemFile(caPath))
        configuration.sessionResumption = resumption
        return try TLSTransport(client: configuration)
    }

    private static func write(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw BenchError("cannot create \(path): errno \(errno)") }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            guard written > 0 else { throw BenchError("cannot write \(path): errno \(errno)") }
            offset += written
        }
    }
}
