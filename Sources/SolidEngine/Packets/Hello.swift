/// What one side offers in the handshake (the hello packet).
public struct HelloParameters: Sendable, Equatable {
    /// Protocol version this side speaks.
    public var protocolVersion: UInt16 = Hello.currentVersion
    /// Largest packet this side will send and accept, header included (4 KiB–64 KiB).
    public var packetSize: Int = 65536
    /// Number of message slots (messages in flight at once) this side can read.
    public var slots: Int = 64
    /// Codecs this side can use (bit mask of ``PacketCodec/maskBit``).
    public var codecMask: UInt8 = 0

    /// Creates parameters; the defaults are the library defaults.
    public init(packetSize: Int = 65536, slots: Int = 64, codecMask: UInt8 = 0) {
        self.packetSize = packetSize
        self.slots = slots
        self.codecMask = codecMask
    }
}

/// The parameters both sides use after the handshake.
public struct AgreedParameters: Sendable, Equatable {
    /// The smaller of the two packet sizes.
    public let packetSize: Int
    /// The smaller of the two slot counts.
    public let slots: Int
    /// The codec both support (lowest common bit), or 0 for none.
    public let codecBit: UInt8
}

/// Encoding and agreement of the hello packet.
public enum Hello {
    /// The protocol version this library speaks.
    public static let currentVersion: UInt16 = 1
    /// Versions this library can speak.
    public static let supportedVersions: ClosedRange<UInt16> = 1...1
    /// Payload: magic (4) + version (2) + packet size (4) + slots (2) + codec mask (1) + reserved (1).
    public static let payloadSize = 14
    /// Most slots a side may offer.
    public static let maxSlots = 4096
    static let magic: [UInt8] = Array("SIPC".utf8)

    /// Writes the hello packet (header and payload); returns its size (18).
    public static func write(_ parameters: HelloParameters, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        precondition(buffer.count >= PacketFormat.headerSize + payloadSize)
        let base = buffer.baseAddress!
        PacketFormat.writeHeader(kind: .hello, flags: 0, payloadLength: payloadSize, to: base)
        var bytes = magic
        appendLittleEndian(UInt64(parameters.protocolVersion), size: 2, to: &bytes)
        appendLittleEndian(UInt64(parameters.packetSize), size: 4, to: &bytes)
        appendLittleEndian(UInt64(parameters.slots), size: 2, to: &bytes)
        bytes.append(parameters.codecMask)
        bytes.append(0)
        bytes.withUnsafeBytes { (base + PacketFormat.headerSize).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return PacketFormat.headerSize + payloadSize
    }

    /// Parses a hello payload.
    public static func parse(_ payload: UnsafeRawBufferPointer) throws(WireError) -> HelloParameters {
        guard payload.count == payloadSize else { throw .malformedHello("payload of \(payload.count) bytes") }
        guard Array(payload[0..<4]) == magic else { throw .malformedHello("bad magic") }
        let version = UInt16(readLittleEndian(payload, at: 4, size: 2))
        guard supportedVersions.contains(version) else { throw .unsupportedProtocolVersion(version) }
        var parameters = HelloParameters(
            packetSize: Int(readLittleEndian(payload, at: 6, size: 4)),
            slots: Int(readLittleEndian(payload, at: 10, size: 2)),
            codecMask: payload[12])
        parameters.protocolVersion = version
        guard payload[13] == 0 else { throw .malformedHello("reserved byte is \(payload[13])") }
        try validate(parameters)
        return parameters
    }

    /// Checks that `parameters` are in range.
    public static func validate(_ parameters: HelloParameters) throws(WireError) {
        guard (PacketFormat.minPacketSize...PacketFormat.maxPacketSize).contains(parameters.packetSize) else {
            throw .invalidHelloParameter("packet size \(parameters.packetSize) outside 4096...65536")
        }
        guard (1...maxSlots).contains(parameters.slots) else {
            throw .invalidHelloParameter("slot count \(parameters.slots) outside 1...\(maxSlots)")
        }
    }

    /// What both sides use: the smaller packet size and slot count, the lowest common codec bit.
    public static func agree(local: HelloParameters, remote: HelloParameters) -> AgreedParameters {
        let common = local.codecMask & remote.codecMask
        return AgreedParameters(
            packetSize: min(local.packetSize, remote.packetSize),
            slots: min(local.slots, remote.slots),
            codecBit: common & (~common &+ 1))
    }
}

func appendLittleEndian(_ value: UInt64, size: Int, to bytes: inout [UInt8]) {
    for index in 0..<size { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))) }
}

func readLittleEndian(_ buffer: UnsafeRawBufferPointer, at offset: Int, size: Int) -> UInt64 {
    var value: UInt64 = 0
    for index in 0..<size { value |= UInt64(buffer[offset + index]) << (8 * UInt64(index)) }
    return value
}
