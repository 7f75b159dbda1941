public import SolidEngine
import SolidIPCSnappy

/// A small message.
public struct FuzzPing: WireMessage {
    public var id: UInt64 = 0
    public var text = ""
    public init() {}
    public init(id: UInt64, text: String) {
        self.id = id
        self.text = text
    }
    public mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&id)
        try coder.field(&text)
    }
}

/// A nested structure.
public struct FuzzPoint: WireStruct {
    public var x: Int32 = 0
    public var label: String? = nil
    public init() {}
    public mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&x)
        try coder.field(&label)
    }
}

/// Collections, optionals, floats and nesting.
public struct FuzzMixed: WireMessage {
    public static let version: UInt8 = 2
    public var flag = false
    public var ratio = 0.0
    public var bytes: [UInt8] = []
    public var numbers: [Int16] = []
    public var table: [String: FuzzPoint] = [:]
    public var points: [FuzzPoint] = []
    public var extra: UInt32? = nil
    public init() {}
    public mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&flag)
        try coder.field(&ratio)
        try coder.field(&bytes)
        try coder.field(&numbers)
        try coder.field(&table)
        try coder.field(&points)
        if coder.version >= 2 { try coder.field(&extra) }
    }
}

/// A message with a stream field.
public struct FuzzFile: WireMessage {
    public var name = ""
    public var data = StreamField()
    public init() {}
    public mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&name)
        try coder.stream(&data)
    }
}

/// Protocol 1: ping, mixed, file; protocol 2: the connection fuzzer's body and streams samples
/// (``FuzzBody``, ``FuzzStreams``); protocol 7: ping again under another id.
public func fuzzRegistry() -> MessageRegistry {
    let registry = MessageRegistry()
    try! registry.register(protocol: 1, [FuzzPing.self, FuzzMixed.self, FuzzFile.self])
    try! registry.register(protocol: 2, [FuzzBody.self, FuzzStreams.self])
    try! registry.register(FuzzPingAlias.self, protocol: 7, index: 3)
    return registry
}

/// The same layout as ``FuzzPing`` registered in a second protocol.
public struct FuzzPingAlias: WireMessage {
    var ping = FuzzPing()
    public init() {}
    public mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) { try ping.describe(&coder) }
}

/// A sink that checks nothing and keeps nothing.
public final class DiscardingSink: ByteSink {
    public init() {}
    public func write(_ bytes: UnsafeRawBufferPointer) throws {}
    public func finish() throws {}
    public func abort(_ error: WireError) {}
}

/// How the first input byte configures the reader: bit 0 expects a hello, bit 1 enables Snappy.
public func makeFuzzReader(mode: UInt8, registry: MessageRegistry) -> PacketReader {
    let snappy = mode & 2 != 0
    let reader: PacketReader
    if mode & 1 != 0 {
        var configuration = ReaderConfiguration()
        configuration.local = HelloParameters(packetSize: 8192, slots: 8, codecMask: snappy ? 1 : 0)
        configuration.codecs = snappy ? [SnappyCodec()] : []
        configuration.maxBodyBytes = 1 << 20
        reader = PacketReader(configuration: configuration, registry: registry)
    } else {
        var limits = DecodingLimits()
        limits.maxByteCount = 1 << 16
        limits.maxCollectionCount = 1 << 12
        reader = PacketReader(
            agreedPacketSize: 8192, slots: 8, codec: snappy ? SnappyCodec() : nil, registry: registry, limits: limits,
            maxBodyBytes: 1 << 20)
    }
    reader.makeSinks = { header, _ in (0..<header.streamCount).map { _ in DiscardingSink() } }
    return reader
}
