import NIOSSL

/// The SwiftNIO + NIOSSL baseline's contexts, from the same files SolidIPC + TLS uses, TLS 1.3 only.
/// (BoringSSL picks the TLS 1.3 cipher itself; swift-nio-ssl 2.37.6 has no client session cache, so this
/// baseline has no resumed-handshake row.)
extension TLSMaterial {
    func nioServerContext() throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv13
        return try NIOSSLContext(configuration: configuration)
    }

    /// Full verification: the chain against the run's CA, and the server's IP address (no host name is
    /// given, so NIOSSL checks the certificate's IP entries against the socket's remote address).
    func nioClientContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .file(caPath)
        configuration.certificateVerification = .fullVerification
        configuration.minimumTLSVersion = .tlsv13
        return try NIOSSLContext(configuration: configuration)
    }
}
