/// The client side of an HTTP CONNECT tunnel (RFC 9110 §9.3.6), with optional Basic authentication
/// (RFC 7617). The proxy's response headers are read up to the blank line (at most
/// ``maxResponseBytes``); any status other than 2xx fails with its code and reason.
public struct HTTPConnectHandshake: ProxyHandshake {
    /// Longest response head accepted (status line and headers).
    public static let maxResponseBytes = 16 * 1024

    private let target: ProxyTarget
    private let credentials: ProxyCredentials?
    private var started = false
    private var finished = false
    private var head: [UInt8] = []

    /// A handshake asking for `target`, with Basic credentials when given.
    public init(target: ProxyTarget, credentials: ProxyCredentials? = nil) {
        self.target = target
        self.credentials = credentials
    }

    public mutating func start() -> ProxyStep {
        precondition(!started, "start() once")
        started = true
        let authority = target.description
        guard !authority.utf8.contains(where: { $0 < 0x21 || $0 == 0x7F }) else {
            finished = true
            return .failed(.invalidRequest("the destination contains spaces or control characters: \(authority)"))
        }
        var request = "CONNECT \(authority) HTTP/1.1\r\nHost: \(authority)\r\n"
        if let credentials {
            guard !credentials.user.contains(":") else {
                finished = true
                return .failed(.invalidRequest("a Basic user name cannot contain ':'"))
            }
            request += "Proxy-Authorization: Basic \(Base64.encode(Array("\(credentials.user):\(credentials.password)".utf8)))\r\n"
        }
        request += "\r\n"
        return .send(Array(request.utf8))
    }

    public mutating func receive(_ bytes: UnsafeRawBufferPointer) -> ProxyStep {
        guard started, !finished else {
            finished = true
            return .failed(.malformedReply("bytes outside the handshake"))
        }
        let before = head.count
        head.append(contentsOf: bytes)
        // The end of the head: the first CR LF CR LF (searching from just before the new bytes).
        var end: Int?
        var index = max(0, before - 3)
        while index + 3 < head.count {
            if head[index] == 13, head[index + 1] == 10, head[index + 2] == 13, head[index + 3] == 10 {
                end = index + 4
                break
            }
            index += 1
        }
        guard let end else {
            if head.count > Self.maxResponseBytes { return fail(.replyTooLarge(limit: Self.maxResponseBytes)) }
            return .needMore
        }
        guard end <= Self.maxResponseBytes else { return fail(.replyTooLarge(limit: Self.maxResponseBytes)) }
        let leftover = Array(head[end...])
        let statusLine = head.prefix { $0 != 13 }
        finished = true
        head = []
        // HTTP-version SP status-code SP [reason-phrase]
        let parts = statusLine.split(separator: 32, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].starts(with: Array("HTTP/1.".utf8)), parts[0].count == 8,
            parts[1].count == 3, parts[1].allSatisfy({ (48...57).contains($0) })
        else {
            return .failed(.malformedReply("not an HTTP/1.x status line"))
        }
        let status = parts[1].reduce(0) { $0 * 10 + Int($1 - 48) }
        guard (200...299).contains(status) else {
            let reason = parts.count > 2 ? String(decoding: parts[2].prefix(128), as: UTF8.self) : ""
            return .failed(.httpRefused(status: status, reason: reason))
        }
        return .connected(leftover: leftover)
    }

    private mutating func fail(_ error: ProxyError) -> ProxyStep {
        finished = true
        head = []
        return .failed(error)
    }
}

/// Base64 (RFC 4648, with padding), for Basic credentials.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let count = min(3, bytes.count - index)
            var chunk: UInt32 = 0
            for offset in 0..<3 { chunk = chunk << 8 | UInt32(offset < count ? bytes[index + offset] : 0) }
            for position in 0..<4 {
                if position <= count {
                    output.append(alphabet[Int(chunk >> UInt32(18 - 6 * position) & 63)])
                } else {
                    output.append(61)  // "="
                }
            }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }
}
