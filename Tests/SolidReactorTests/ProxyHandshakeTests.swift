import Testing
@testable import SolidReactor

/// Runs a handshake against scripted proxy replies, each fed in pieces of `split` bytes. Bytes of a
/// reply not fed once it connected count as leftover, as the next phase of a real connection gets them.
private func run<H: ProxyHandshake>(_ handshake: inout H, replies: [[UInt8]], split: Int = .max) -> (sent: [[UInt8]], last: ProxyStep) {
    var sent: [[UInt8]] = []
    var step = handshake.start()
    var replies = replies[...]
    while true {
        switch step {
        case .send(let bytes):
            sent.append(bytes)
            guard let reply = replies.popFirst() else { return (sent, step) }
            step = feed(&handshake, reply, split: split)
        case .needMore:
            guard let reply = replies.popFirst() else { return (sent, step) }
            step = feed(&handshake, reply, split: split)
        case .connected, .failed:
            return (sent, step)
        }
    }
}

private func feed<H: ProxyHandshake>(_ handshake: inout H, _ bytes: [UInt8], split: Int) -> ProxyStep {
    var offset = 0
    while true {
        let end = min(bytes.count, offset + split)
        let step = bytes[offset..<end].withUnsafeBytes { handshake.receive($0) }
        offset = end
        switch step {
        case .needMore where offset < bytes.count: continue
        case .connected(let leftover): return .connected(leftover: leftover + bytes[offset...])
        default: return step
        }
    }
}

@Suite("SOCKS5 client handshake (RFC 1928/1929)")
struct SOCKS5HandshakeTests {
    static let ok: [UInt8] = [5, 0, 0, 1, 127, 0, 0, 1, 0x1F, 0x90]

    @Test("no authentication, IPv4, IPv6 and domain targets: the exact request bytes; bytes after the reply are kept", arguments: [1, 3, .max])
    func connect(split: Int) {
        var v4 = SOCKS5Handshake(target: ProxyTarget(host: "10.1.2.3", port: 8080))
        let (sent, last) = run(&v4, replies: [[5, 0], Self.ok + [0xAB, 0xCD]], split: split)
        #expect(sent == [[5, 1, 0], [5, 1, 0, 1, 10, 1, 2, 3, 0x1F, 0x90]])
        #expect(last == .connected(leftover: [0xAB, 0xCD]))

        var v6 = SOCKS5Handshake(target: ProxyTarget(host: "::1", port: 443))
        let reply6: [UInt8] = [5, 0, 0, 4] + [UInt8](repeating: 0, count: 16) + [1, 0xBB]
        let (sent6, last6) = run(&v6, replies: [[5, 0], reply6], split: split)
        #expect(sent6.last == [5, 1, 0, 4] + [UInt8](repeating: 0, count: 15) + [1] + [1, 0xBB])
        #expect(last6 == .connected(leftover: []))

        var name = SOCKS5Handshake(target: ProxyTarget(host: "db.internal", port: 5432))
        let replyName: [UInt8] = [5, 0, 0, 3, 4] + Array("host".utf8) + [0x15, 0x38]
        let (sentName, lastName) = run(&name, replies: [[5, 0], replyName], split: split)
        #expect(sentName.last == [5, 1, 0, 3, 11] + Array("db.internal".utf8) + [0x15, 0x38])
        #expect(lastName == .connected(leftover: []))
    }

    @Test("user and password: method 2, the RFC 1929 exchange, then CONNECT; a refused password is its own error")
    func authentication() {
        let credentials = ProxyCredentials(user: "alice", password: "s3cret")
        var accepted = SOCKS5Handshake(target: ProxyTarget(host: "10.0.0.1", port: 1), credentials: credentials)
        let (sent, last) = run(&accepted, replies: [[5, 2], [1, 0], Self.ok])
        #expect(sent == [[5, 1, 2], [1, 5] + Array("alice".utf8) + [6] + Array("s3cret".utf8), [5, 1, 0, 1, 10, 0, 0, 1, 0, 1]])
        #expect(last == .connected(leftover: []))

        var refused = SOCKS5Handshake(target: ProxyTarget(host: "10.0.0.1", port: 1), credentials: credentials)
        #expect(run(&refused, replies: [[5, 2], [1, 1]]).last == .failed(.authenticationFailed(status: 1)))
    }

    @Test("every reply code is a typed refusal; hostile replies fail cleanly with a precise reason")
    func failures() {
        for code: UInt8 in 1...9 {
            var handshake = SOCKS5Handshake(target: ProxyTarget(host: "10.0.0.1", port: 1))
            let reply: [UInt8] = [5, code, 0, 1, 0, 0, 0, 0, 0, 0]
            #expect(run(&handshake, replies: [[5, 0], reply]).last == .failed(.socks5Refused(SOCKS5Reply(rawValue: code))))
        }
        #expect(SOCKS5Reply.connectionRefused.description == "connection refused")
        let cases: [([[UInt8]], ProxyError)] = [
            ([[5, 0xFF]], .noAcceptableMethod),
            ([[5, 2]], .unexpectedMethod(2)),  // user/password chosen but not offered
            ([[4, 0]], .malformedReply("version 4 in the method reply")),
            ([[5, 0], [4, 0, 0, 1, 0, 0, 0, 0, 0, 0]], .malformedReply("version 4 in the reply")),
            ([[5, 0], [5, 0, 7, 1, 0, 0, 0, 0, 0, 0]], .malformedReply("reserved byte 7 in the reply")),
            ([[5, 0], [5, 0, 0, 9, 0, 0, 0, 0, 0, 0]], .malformedReply("address type 9 in the reply")),
        ]
        for (replies, error) in cases {
            var handshake = SOCKS5Handshake(target: ProxyTarget(host: "10.0.0.1", port: 1))
            #expect(run(&handshake, replies: replies).last == .failed(error))
        }
        // Truncated anywhere: it waits for more (the connection layer turns a close into closedDuringHandshake).
        var truncated = SOCKS5Handshake(target: ProxyTarget(host: "10.0.0.1", port: 1))
        #expect(run(&truncated, replies: [[5, 0], [5, 0, 0, 3, 200, 1, 2]]).last == .needMore)
        // A domain name the protocol cannot carry, and an overlong user name: refused before sending.
        var longName = SOCKS5Handshake(target: ProxyTarget(host: String(repeating: "a", count: 256), port: 1))
        #expect(longName.start() == .failed(.invalidRequest("a SOCKS5 domain name is 1 to 255 bytes: \(String(repeating: "a", count: 256))")))
        var longUser = SOCKS5Handshake(
            target: ProxyTarget(host: "x", port: 1), credentials: ProxyCredentials(user: String(repeating: "u", count: 256), password: ""))
        #expect(longUser.start() == .failed(.invalidRequest("a SOCKS5 user name or password is at most 255 bytes")))
    }
}

@Suite("HTTP CONNECT client handshake")
struct HTTPConnectHandshakeTests {
    @Test("the request, Basic credentials, a 200 with headers split anywhere, and bytes after the head kept", arguments: [1, 7, .max])
    func connect(split: Int) {
        var handshake = HTTPConnectHandshake(
            target: ProxyTarget(host: "db.internal", port: 5432), credentials: ProxyCredentials(user: "Aladdin", password: "open sesame"))
        let response = Array("HTTP/1.1 200 Connection established\r\nVia: tinyproxy\r\n\r\nSIPC".utf8)
        let (sent, last) = run(&handshake, replies: [response], split: split)
        #expect(sent == [Array("CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n".utf8)])
        #expect(last == .connected(leftover: Array("SIPC".utf8)))
        var v6 = HTTPConnectHandshake(target: ProxyTarget(host: "::1", port: 80))
        #expect(v6.start() == .send(Array("CONNECT [::1]:80 HTTP/1.1\r\nHost: [::1]:80\r\n\r\n".utf8)))
    }

    @Test("a refusal is its status and reason; not HTTP, too long or a bad destination fail precisely")
    func failures() {
        var forbidden = HTTPConnectHandshake(target: ProxyTarget(host: "x", port: 1))
        #expect(run(&forbidden, replies: [Array("HTTP/1.0 403 Access violation\r\n\r\n".utf8)]).last
            == .failed(.httpRefused(status: 403, reason: "Access violation")))
        var garbage = HTTPConnectHandshake(target: ProxyTarget(host: "x", port: 1))
        #expect(run(&garbage, replies: [Array("SSH-2.0-OpenSSH\r\n\r\n".utf8)]).last == .failed(.malformedReply("not an HTTP/1.x status line")))
        var endless = HTTPConnectHandshake(target: ProxyTarget(host: "x", port: 1))
        #expect(run(&endless, replies: [Array("HTTP/1.1 200 OK\r\n".utf8) + [UInt8](repeating: 65, count: 20_000)]).last
            == .failed(.replyTooLarge(limit: HTTPConnectHandshake.maxResponseBytes)))
        var spaced = HTTPConnectHandshake(target: ProxyTarget(host: "a b", port: 1))
        #expect(spaced.start() == .failed(.invalidRequest("the destination contains spaces or control characters: a b:1")))
        #expect(Base64.encode([]) == "" && Base64.encode([0x66]) == "Zg==" && Base64.encode(Array("fo".utf8)) == "Zm8=")
    }
}
