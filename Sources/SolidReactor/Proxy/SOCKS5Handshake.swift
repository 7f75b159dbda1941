import CSolidLinux
import Glibc

/// The client side of a SOCKS5 CONNECT (RFC 1928), with no authentication or with a user name and
/// password (RFC 1929). The destination goes to the proxy as an IPv4 or IPv6 address when it is one, else
/// as a domain name the proxy resolves.
public struct SOCKS5Handshake: ProxyHandshake {
    private enum Phase { case idle, method, authentication, reply, done }

    private let target: ProxyTarget
    private let credentials: ProxyCredentials?
    private var phase = Phase.idle
    private var buffer: [UInt8] = []

    /// A handshake asking for `target`, offering user/password authentication when `credentials` are
    /// given (and no authentication otherwise).
    public init(target: ProxyTarget, credentials: ProxyCredentials? = nil) {
        self.target = target
        self.credentials = credentials
    }

    public mutating func start() -> ProxyStep {
        precondition(phase == .idle, "start() once")
        if let credentials {
            guard credentials.user.utf8.count <= 255, credentials.password.utf8.count <= 255 else {
                return fail(.invalidRequest("a SOCKS5 user name or password is at most 255 bytes"))
            }
        }
        guard (try? Self.address(of: target)) != nil else {
            return fail(.invalidRequest("a SOCKS5 domain name is 1 to 255 bytes: \(target.host)"))
        }
        phase = .method
        // VER 5, NMETHODS, METHODS: 0x02 (user/password) when configured, else only 0x00 (none).
        return .send(credentials == nil ? [5, 1, 0x00] : [5, 1, 0x02])
    }

    public mutating func receive(_ bytes: UnsafeRawBufferPointer) -> ProxyStep {
        buffer.append(contentsOf: bytes)
        while true {
            switch phase {
            case .idle, .done:
                return fail(.malformedReply("bytes outside the handshake"))
            case .method:
                guard buffer.count >= 2 else { return .needMore }
                let (version, method) = (buffer[0], buffer[1])
                buffer.removeFirst(2)
                guard version == 5 else { return fail(.malformedReply("version \(version) in the method reply")) }
                if method == 0xFF { return fail(.noAcceptableMethod) }
                if let credentials, method == 0x02 {
                    phase = .authentication
                    let user = Array(credentials.user.utf8)
                    let password = Array(credentials.password.utf8)
                    return .send([1, UInt8(user.count)] + user + [UInt8(password.count)] + password)
                }
                guard method == 0x00, credentials == nil else { return fail(.unexpectedMethod(method)) }
                phase = .reply
                return .send(connectRequest())
            case .authentication:
                guard buffer.count >= 2 else { return .needMore }
                let (version, status) = (buffer[0], buffer[1])
                buffer.removeFirst(2)
                guard version == 1 else { return fail(.malformedReply("version \(version) in the authentication reply")) }
                guard status == 0 else { return fail(.authenticationFailed(status: status)) }
                phase = .reply
                return .send(connectRequest())
            case .reply:
                // VER REP RSV ATYP BND.ADDR BND.PORT
                guard buffer.count >= 5 else { return .needMore }
                guard buffer[0] == 5 else { return fail(.malformedReply("version \(buffer[0]) in the reply")) }
                guard buffer[2] == 0 else { return fail(.malformedReply("reserved byte \(buffer[2]) in the reply")) }
                let reply = SOCKS5Reply(rawValue: buffer[1])
                let addressLength: Int
                switch buffer[3] {
                case 1: addressLength = 4
                case 4: addressLength = 16
                case 3: addressLength = 1 + Int(buffer[4])
                default: return fail(.malformedReply("address type \(buffer[3]) in the reply"))
                }
                // A failure reply may come with its address and port, or the proxy may close at once.
                if reply != .succeeded { return fail(.socks5Refused(reply)) }
                let total = 4 + addressLength + 2
                guard buffer.count >= total else { return .needMore }
                let leftover = Array(buffer[total...])
                buffer = []
                phase = .done
                return .connected(leftover: leftover)
            }
        }
    }

    private mutating func fail(_ error: ProxyError) -> ProxyStep {
        phase = .done
        buffer = []
        return .failed(error)
    }

    private func connectRequest() -> [UInt8] {
        var request: [UInt8] = [5, 1, 0]  // VER, CMD CONNECT, RSV
        request += (try? Self.address(of: target)) ?? []
        request += [UInt8(target.port >> 8), UInt8(target.port & 0xFF)]
        return request
    }

    private struct NameTooLong: Error {}

    /// ATYP and DST.ADDR for `target`.
    static func address(of target: ProxyTarget) throws -> [UInt8] {
        let unbracketed = target.host.hasPrefix("[") && target.host.hasSuffix("]")
            ? String(target.host.dropFirst().dropLast()) : target.host
        switch try? SocketAddress(ip: unbracketed, port: target.port) {
        case .v4(let address)?:
            return withUnsafeBytes(of: address.sin_addr) { [1] + Array($0) }
        case .v6(let address)?:
            return withUnsafeBytes(of: address.sin6_addr) { [4] + Array($0) }
        default:
            break
        }
        let name = Array(target.host.utf8)
        guard (1...255).contains(name.count) else { throw NameTooLong() }
        return [3, UInt8(name.count)] + name
    }
}
