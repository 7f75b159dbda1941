import ArgumentParser
import SolidIPC
import SolidReactor

/// Proxy options of the client.
struct ClientProxyOptions: ParsableArguments {
    @Option(help: "Connect through this SOCKS5 proxy (HOST:PORT).") var socks5: String?
    @Option(help: "Connect through this HTTP proxy's CONNECT method (HOST:PORT).") var httpProxy: String?
    @Option(help: "User name for the proxy (with --proxy-password).") var proxyUser: String?
    @Option(help: "Password for the proxy.") var proxyPassword: String?

    func validate() throws {
        guard socks5 == nil || httpProxy == nil else { throw ValidationError("give at most one of --socks5 and --http-proxy") }
        guard (proxyUser == nil) == (proxyPassword == nil) else {
            throw ValidationError("give --proxy-user and --proxy-password together")
        }
    }

    /// The proxy, if one was given.
    func settings() throws -> ProxySettings? {
        guard let text = socks5 ?? httpProxy else { return nil }
        // HOST:PORT parses like a destination.
        let address = try Destination(parsing: text)
        guard address.unixAddress == nil else { throw ValidationError("a proxy is HOST:PORT, not a Unix-domain path") }
        let credentials = proxyUser.map { ProxyCredentials(user: $0, password: proxyPassword ?? "") }
        return ProxySettings(
            kind: socks5 != nil ? .socks5 : .httpConnect, host: address.host, port: address.port, credentials: credentials)
    }
}
