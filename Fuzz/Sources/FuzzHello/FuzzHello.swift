import FuzzSamples
import SolidEngine
import SolidIPCSnappy

let registry = fuzzRegistry()

/// libFuzzer entry: the handshake. Input: two piece-size bytes, this side's hello parameters (packet
/// size u32, slots u16, codec mask u8, little-endian), then the peer's byte stream from its very first
/// byte.
///
/// Checks, trapping (`precondition`) on a violation:
/// - ``Hello/parse(_:)`` of the 14 bytes after the first header: a hello it accepts is written back
///   byte for byte by ``Hello/write(_:into:)``, and ``Hello/agree(local:remote:)`` gives the smaller
///   packet size and slot count, the lowest common codec bit, the same from both sides, and values in
///   the ranges of PROTOCOL.md §3 when both sides' parameters are valid.
/// - A ``PacketReader`` expecting a hello, fed the stream in fuzzed pieces, does what PROTOCOL.md §2–3
///   say for the first packet: the same first error as a model of the checks, or one handshake event
///   with the agreed parameters (within range, the minimum of both sides) and no packet buffer but
///   decompression's (one agreed packet, with a codec) until a packet arrives split.
/// - It reports no event but the handshake before the handshake, no second handshake, nothing after a
///   start-secure packet, and once ``PacketReader/consume(_:)`` threw, every later call throws the same error.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHello(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(UnsafeRawBufferPointer(start: data, count: size))
    let pieces = (input.byteOrZero(), input.byteOrZero())
    let raw = HelloParameters(
        packetSize: input.u16() | input.u16() << 16, slots: input.u16(), codecMask: input.byteOrZero())
    let stream = input.rest()

    // Hello.parse and Hello.agree on whatever follows the first header, with the raw local parameters.
    if stream.count >= PacketFormat.headerSize + Hello.payloadSize {
        let payload = UnsafeRawBufferPointer(rebasing: stream[PacketFormat.headerSize..<(PacketFormat.headerSize + Hello.payloadSize)])
        if let remote = try? Hello.parse(payload) {
            checkRoundTrip(remote, payload)
            checkAgreement(Hello.agree(local: raw, remote: remote), local: raw, remote: remote)
        }
    }

    // The reader's own parameters are configuration, validated before use: bring them into range.
    let local = (try? Hello.validate(raw)) != nil ? raw : HelloParameters(
        packetSize: 4096 + raw.packetSize % 61441, slots: 1 + raw.slots % 4096, codecMask: raw.codecMask)
    try! Hello.validate(local)
    var configuration = ReaderConfiguration()
    configuration.local = local
    configuration.codecs = local.codecMask & 1 != 0 ? [SnappyCodec()] : []
    configuration.limits.maxByteCount = 1 << 16
    configuration.limits.maxCollectionCount = 1 << 12
    configuration.maxBodyBytes = 1 << 20
    let reader = PacketReader(configuration: configuration, registry: registry)
    reader.makeSinks = { header, _ in (0..<header.streamCount).map { _ in DiscardingSink() } }
    precondition(reader.agreed == nil && reader.bufferBytes == 0, "buffers before the hello")

    var handshake: (remote: HelloParameters, agreed: AgreedParameters)?
    var events = 0
    var suspended = false
    reader.onEvent = { [unowned reader] event in
        events += 1
        precondition(!suspended, "an event after start-secure: \(event)")
        switch event {
        case .handshake(let remote, let agreed):
            precondition(handshake == nil, "a second handshake event")
            precondition(events == 1, "the handshake after another event")
            checkAgreement(agreed, local: local, remote: remote)
            precondition(reader.agreed == agreed, "the reader uses \(String(describing: reader.agreed)), reported \(agreed)")
            let codec = agreed.codecBit != 0 && configuration.codecs.contains { $0.maskBit == agreed.codecBit }
            // The payload buffer comes with the first packet that arrives split; decompression's at once.
            precondition(reader.bufferBytes == (codec ? agreed.packetSize : 0), "buffers of \(reader.bufferBytes) bytes after \(agreed)")
            handshake = (remote, agreed)
        case .startSecure:
            precondition(handshake != nil, "start-secure before the handshake")
            suspended = true
        default:
            precondition(handshake != nil, "\(event) before the handshake")
        }
    }

    // Feed in pieces alternating between the two fuzzed sizes (≥ 0xC0: the whole rest at once).
    var failure: WireError?
    var offset = 0
    var turn = 0
    repeat {
        let selector = turn % 2 == 0 ? pieces.0 : pieces.1
        turn += 1
        let count = min(selector >= 0xC0 ? Int.max : 1 + Int(selector & 0x3F), stream.count - offset)
        let piece = UnsafeRawBufferPointer(rebasing: stream[offset..<(offset + count)])
        offset += count
        do {
            try reader.consume(piece)
            precondition(failure == nil, "consume succeeded after failing with \(failure!)")
        } catch {
            precondition(failure == nil || failure == error, "consume failed with \(failure!), then with \(error)")
            failure = error
        }
    } while offset < stream.count
    if let failure {
        for extra in [UnsafeRawBufferPointer(start: nil, count: 0), UnsafeRawBufferPointer(rebasing: stream[0..<min(1, stream.count)])] {
            do {
                try reader.consume(extra)
                preconditionFailure("consume succeeded after failing with \(failure)")
            } catch {
                precondition(error == failure, "consume failed with \(failure), then with \(error)")
            }
        }
    }

    // The first packet, as PROTOCOL.md §2–3 describe it.
    switch expectedFirstPacket(stream) {
    case .incomplete:
        precondition(events == 0 && failure == nil, "the reader acted on an incomplete hello")
    case .error(let expected):
        precondition(events == 0 && failure == expected, "expected \(expected), got \(String(describing: failure)) after \(events) events")
    case .hello(let remote):
        precondition(handshake?.remote == remote, "no handshake with \(remote) (got \(String(describing: handshake)))")
        precondition(handshake?.agreed == Hello.agree(local: local, remote: remote), "the reader agreed otherwise")
    }
    if handshake == nil { precondition(reader.agreed == nil, "agreed parameters without a handshake") }
    reader.onEvent = { _ in }
    return 0
}

/// What the first packet of a stream must lead to.
enum FirstPacket {
    case incomplete
    case error(WireError)
    case hello(HelloParameters)
}

/// A model of the reader's checks before the handshake (PROTOCOL.md §2, in the table's order, and §3).
func expectedFirstPacket(_ stream: UnsafeRawBufferPointer) -> FirstPacket {
    guard stream.count >= PacketFormat.headerSize else { return .incomplete }
    let (kind, flags, length) = (stream[0], stream[1], Int(stream[2]) | Int(stream[3]) << 8)
    guard PacketFormat.Kind(rawValue: kind) != nil else { return .error(.unknownPacketKind(kind)) }
    guard kind == 3 else { return .error(.unexpectedPacketBeforeHandshake(kind)) }
    guard flags == 0 else { return .error(.invalidPacketFlags(kind: kind, flags: flags)) }
    guard length <= 64 else { return .error(.packetTooLarge(length: length, limit: 64)) }
    guard stream.count >= PacketFormat.headerSize + length else { return .incomplete }
    do {
        return .hello(try Hello.parse(UnsafeRawBufferPointer(rebasing: stream[4..<(4 + length)])))
    } catch {
        return .error(error)
    }
}

/// The agreement rule of PROTOCOL.md §3.
func checkAgreement(_ agreed: AgreedParameters, local: HelloParameters, remote: HelloParameters) {
    precondition(agreed.packetSize == min(local.packetSize, remote.packetSize), "packet size \(agreed.packetSize) for \(local), \(remote)")
    precondition(agreed.slots == min(local.slots, remote.slots), "slots \(agreed.slots) for \(local), \(remote)")
    let common = local.codecMask & remote.codecMask
    let lowest = common == 0 ? 0 : UInt8(1) << common.trailingZeroBitCount
    precondition(agreed.codecBit == lowest, "codec bit \(agreed.codecBit) for masks \(local.codecMask), \(remote.codecMask)")
    precondition(agreed == Hello.agree(local: remote, remote: local), "the two sides agree differently")
    if (try? Hello.validate(local)) != nil && (try? Hello.validate(remote)) != nil {
        precondition((4096...65536).contains(agreed.packetSize), "agreed packet size \(agreed.packetSize) out of range")
        precondition((1...4096).contains(agreed.slots), "agreed slot count \(agreed.slots) out of range")
    }
}

/// A hello the parser accepts is written back identically.
func checkRoundTrip(_ parameters: HelloParameters, _ payload: UnsafeRawBufferPointer) {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: PacketFormat.headerSize + Hello.payloadSize, alignment: 8)
    defer { buffer.deallocate() }
    precondition(Hello.write(parameters, into: buffer) == PacketFormat.headerSize + Hello.payloadSize, "hello size")
    precondition(Array(buffer[..<PacketFormat.headerSize]) == [3, 0, UInt8(Hello.payloadSize), 0], "hello header")
    precondition(Array(buffer[PacketFormat.headerSize...]) == Array(payload), "hello \(parameters) written otherwise")
}
