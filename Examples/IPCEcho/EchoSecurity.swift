import ArgumentParser
import Glibc
import SolidIPC
import SolidIPCTLS

/// TLS options of the server.
struct ServerTLSOptions: ParsableArguments {
    @Flag(help: "Serve over TLS. Without --cert/--key a self-signed certificate is made for this run (its fingerprint and a PEM file for clients' --ca are printed).")
    var tls = false
    @Option(help: "PEM certificate chain (with --tls).") var cert: String?
    @Option(help: "PEM private key of --cert.") var key: String?
    @Option(help: "Require client certificates signed by the CA in this PEM file (mutual TLS).") var clientCa: String?

    func validate() throws {
        guard (cert == nil) == (key == nil) else { throw ValidationError("--cert and --key go together") }
        guard tls || (cert == nil && clientCa == nil) else { throw ValidationError("--cert, --key and --client-ca need --tls") }
    }

    /// The server's transport, or `nil` for plain TCP.
    func transport(host: String) throws -> TLSTransport? {
        guard tls else { return nil }
        var configuration: TLSConfiguration
        if let cert, let key {
            configuration = TLSConfiguration(certificateChain: .pemFile(cert), privateKey: .pemFile(key))
        } else {
            let names = host == "0.0.0.0" || host == "::" ? ["127.0.0.1"] : [host]
            let issued = try CertificateAuthority.selfSigned(
                commonName: "ipc-echo", dnsNames: ["localhost"], ipAddresses: names.filter { (try? SocketAddress(ip: $0, port: 1)) != nil })
            let path = "/tmp/ipc-echo-\(getpid())-cert.pem"
            try writeFile(issued.certificatePEM, to: path)
            print("TLS: self-signed certificate for localhost and \(names.joined(separator: ", ")), SHA-256 \(issued.sha256Fingerprint)")
            print("TLS: clients verify it with --ca \(path)")
            fflush(nil)
            configuration = issued.tlsConfiguration
        }
        if let clientCa {
            configuration.clientCertificates = .required
            configuration.trustRoots = .certificates(.pemFile(clientCa))
        }
        return try TLSTransport(server: configuration)
    }
}

/// TLS options of the client.
struct ClientTLSOptions: ParsableArguments {
    @Flag(help: "Connect over TLS, verifying the server against the system's roots or --ca.") var tls = false
    @Option(help: "Trust the CA (or self-signed certificate) in this PEM file.") var ca: String?
    @Flag(help: "Do not verify the server at all (demo only: anyone in the middle can read the traffic).") var insecure = false
    @Option(help: "The name the server's certificate must carry (default: the destination's host; needed for unix: destinations).") var serverName: String?
    @Option(help: "PEM client certificate (mutual TLS).") var cert: String?
    @Option(help: "PEM private key of --cert.") var key: String?

    func validate() throws {
        guard (cert == nil) == (key == nil) else { throw ValidationError("--cert and --key go together") }
        guard tls || (ca == nil && !insecure && serverName == nil && cert == nil) else {
            throw ValidationError("--ca, --insecure, --server-name and --cert need --tls")
        }
    }

    /// The client's transport, or `nil` for plain TCP.
    func transport() throws -> TLSTransport? {
        guard tls else { return nil }
        var configuration = TLSConfiguration()
        if let cert, let key { configuration = TLSConfiguration(certificateChain: .pemFile(cert), privateKey: .pemFile(key)) }
        if let ca { configuration.trustRoots = .certificates(.pemFile(ca)) }
        if insecure { configuration.serverVerification = .insecureNoVerification }
        configuration.serverNameOverride = serverName
        return try TLSTransport(client: configuration)
    }
}

func writeFile(_ bytes: [UInt8], to path: String) throws {
    guard let file = fopen(path, "wb") else { throw ValidationError("cannot write \(path)") }
    defer { fclose(file) }
    guard bytes.withUnsafeBytes({ fwrite($0.baseAddress, 1, $0.count, file) }) == bytes.count else {
        throw ValidationError("cannot write \(path)")
    }
}
