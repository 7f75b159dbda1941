import SolidReactor

/// libFuzzer entry for the proxy reply parsers (issue 13: "hostile proxy replies fail cleanly").
///
/// Byte 0 picks the handshake (bit 0: SOCKS5 or HTTP CONNECT; bit 1: with credentials; bits 2–3: the
/// target's kind — IPv4, IPv6 or a name) and bits 4–7 the piece size (1…16); the rest is what the proxy
/// answers, fed in pieces. Checked with preconditions:
/// - the handshake ends at most once: after `connected` or `failed`, any further bytes fail with
///   "bytes outside the handshake";
/// - `connected`'s leftover is exactly the input after the reply (a suffix of what was fed, in order);
/// - what it asks to send is well formed (SOCKS5: version 5 or the RFC 1929 version 1; HTTP: starts with
///   "CONNECT ").
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProxy(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 1 else { return 0 }
    let mode = data[0]
    let hosts = ["10.1.2.3", "::1", "db.internal", "db.internal"]
    let target = ProxyTarget(host: hosts[Int(mode >> 2) & 3], port: 8080)
    let credentials = mode & 2 != 0 ? ProxyCredentials(user: "alice", password: "s3cret") : nil
    let input = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    let piece = Int(mode >> 4) + 1
    if mode & 1 == 0 {
        var handshake = SOCKS5Handshake(target: target, credentials: credentials)
        drive(&handshake, input, piece: piece) { sent in precondition(sent.first == 5 || sent.first == 1, "SOCKS5 request") }
    } else {
        var handshake = HTTPConnectHandshake(target: target, credentials: credentials)
        drive(&handshake, input, piece: piece) { sent in precondition(sent.starts(with: Array("CONNECT ".utf8)), "CONNECT") }
    }
    return 0
}

private func drive<H: ProxyHandshake>(
    _ handshake: inout H, _ input: UnsafeRawBufferPointer, piece: Int, checkSent: ([UInt8]) -> Void
) {
    if case .send(let first) = handshake.start() { checkSent(first) } else { return }
    var offset = 0
    var ended = false
    while offset < input.count {
        let end = min(input.count, offset + piece)
        let step = handshake.receive(UnsafeRawBufferPointer(rebasing: input[offset..<end]))
        if ended {
            precondition(step == .failed(.malformedReply("bytes outside the handshake")), "ended twice")
            return
        }
        switch step {
        case .send(let bytes): checkSent(bytes)
        case .needMore: break
        case .connected(let leftover):
            // The leftover is the tail of what was fed so far (the reply ends before it).
            precondition(leftover.count <= end, "leftover longer than the input")
            precondition(leftover.elementsEqual(input[(end - leftover.count)..<end]), "leftover is not the input's tail")
            ended = true
        case .failed:
            ended = true
        }
        offset = end
    }
}
