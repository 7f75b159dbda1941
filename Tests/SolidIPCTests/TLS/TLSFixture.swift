import Glibc
import SolidIPC
import SolidIPCTLS

/// Certificates made for the test run (valid for 100 years from an hour ago, so no test breaks on a date):
/// a CA, a server certificate for `localhost` / 127.0.0.1 / ::1, a client certificate, and the same names
/// from a second, untrusted CA.
final class TLSFixture: Sendable {
    static let shared = try! TLSFixture()

    let authority: CertificateAuthority
    let server: IssuedCertificate
    let client: IssuedCertificate
    let expiredServer: IssuedCertificate
    let strangerServer: IssuedCertificate
    let directory: String

    init() throws {
        authority = try CertificateAuthority(commonName: "SolidIPC test CA")
        server = try authority.issue(commonName: "echo-server", dnsNames: ["localhost", "echo-server"], ipAddresses: ["127.0.0.1", "::1"])
        client = try authority.issue(commonName: "echo-client", dnsNames: ["echo-client"])
        expiredServer = try authority.issue(
            commonName: "expired", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validFrom: -7200, validTo: -3600)
        let stranger = try CertificateAuthority(commonName: "Somebody else's CA")
        strangerServer = try stranger.issue(commonName: "echo-server", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
        var template = Array("/tmp/solid-tls-XXXXXX".utf8CString)
        directory = String(cString: mkdtemp(&template)!)
        try write(authority.certificatePEM, to: "ca.pem")
        try write(server.certificatePEM, to: "server.pem")
        try write(server.privateKeyPEM, to: "server.key")
        try write(client.certificatePEM, to: "client.pem")
        try write(client.privateKeyPEM, to: "client.key")
    }

    /// The path of one of the fixture's files (`ca.pem`, `server.pem`, `server.key`, `client.pem`, `client.key`).
    func path(_ name: String) -> String { "\(directory)/\(name)" }

    private func write(_ bytes: [UInt8], to name: String) throws {
        guard let file = fopen(path(name), "wb") else { throw TLSError.notConfigured }
        defer { fclose(file) }
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    }

    /// Client settings trusting the test CA.
    var clientConfiguration: TLSConfiguration {
        var configuration = TLSConfiguration()
        configuration.trustRoots = .certificates(.pem(authority.certificatePEM))
        return configuration
    }

    /// Server settings with `certificate` (the good one by default).
    func serverConfiguration(_ certificate: IssuedCertificate? = nil) -> TLSConfiguration {
        var configuration = (certificate ?? server).tlsConfiguration
        configuration.trustRoots = .certificates(.pem(authority.certificatePEM))
        return configuration
    }

    /// A transport for a server (and its client side trusting the CA).
    func serverTransport(_ adjust: (inout TLSConfiguration) -> Void = { _ in }) throws -> TLSTransport {
        var configuration = serverConfiguration()
        adjust(&configuration)
        return try TLSTransport(server: configuration)
    }

    /// A transport for a client trusting the CA.
    func clientTransport(_ adjust: (inout TLSConfiguration) -> Void = { _ in }) throws -> TLSTransport {
        var configuration = clientConfiguration
        adjust(&configuration)
        return try TLSTransport(client: configuration)
    }
}

/// Secures a service configuration with the fixture's certificates: a server presents the server
/// certificate, a client trusts the test CA and checks the destination's name or IP.
func useTestTLS(_ configuration: inout ServiceConfiguration, server: Bool) {
    let fixture = TLSFixture.shared
    configuration.tls = server
        ? try! TLSTransport(server: fixture.serverConfiguration(), client: fixture.clientConfiguration)
        : try! TLSTransport(client: fixture.clientConfiguration)
}
