import SolidEngine

/// A small message: an id and a text.
struct Ping: WireMessage, Equatable {
    var id: UInt64 = 0
    var text = ""

    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&id)
        try coder.field(&text)
    }
}

/// A nested structure.
struct Point: WireStruct, Equatable, Hashable {
    var x: Int32 = 0
    var y: Int32 = 0
    var label: String? = nil

    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&x)
        try coder.field(&y)
        try coder.field(&label)
    }
}

/// Every field kind but streams.
struct Everything: WireMessage, Equatable {
    var u8: UInt8 = 0
    var u16: UInt16 = 0
    var u32: UInt32 = 0
    var u64: UInt64 = 0
    var i8: Int8 = 0
    var i16: Int16 = 0
    var i32: Int32 = 0
    var i64: Int64 = 0
    var int: Int = 0
    var fixed32: UInt32 = 0
    var fixed64: Int64 = 0
    var flag = false
    var float: Float = 0
    var double: Double = 0
    var text = ""
    var bytes: [UInt8] = []
    var numbers: [Int64] = []
    var names: [String] = []
    var maybe: UInt16? = nil
    var points: [Point] = []
    var table: [String: Point] = [:]
    var origin = Point()

    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&u8)
        try coder.field(&u16)
        try coder.field(&u32)
        try coder.field(&u64)
        try coder.field(&i8)
        try coder.field(&i16)
        try coder.field(&i32)
        try coder.field(&i64)
        try coder.field(&int)
        try coder.fixed(&fixed32)
        try coder.fixed(&fixed64)
        try coder.field(&flag)
        try coder.field(&float)
        try coder.field(&double)
        try coder.field(&text)
        try coder.field(&bytes)
        try coder.field(&numbers)
        try coder.field(&names)
        try coder.field(&maybe)
        try coder.field(&points)
        try coder.field(&table)
        try coder.field(&origin)
    }

    static func random(using generator: inout some RandomNumberGenerator, size: Int) -> Everything {
        var value = Everything()
        value.u8 = .random(in: .min ... .max, using: &generator)
        value.u16 = .random(in: .min ... .max, using: &generator)
        value.u32 = .random(in: .min ... .max, using: &generator)
        value.u64 = .random(in: .min ... .max, using: &generator)
        value.i8 = .random(in: .min ... .max, using: &generator)
        value.i16 = .random(in: .min ... .max, using: &generator)
        value.i32 = .random(in: .min ... .max, using: &generator)
        value.i64 = .random(in: .min ... .max, using: &generator)
        value.int = .random(in: .min ... .max, using: &generator)
        value.fixed32 = .random(in: .min ... .max, using: &generator)
        value.fixed64 = .random(in: .min ... .max, using: &generator)
        value.flag = .random(using: &generator)
        value.float = .random(in: -1e6...1e6, using: &generator)
        value.double = .random(in: -1e300...1e300, using: &generator)
        value.text = String(repeating: "héllo ✓ ", count: Int.random(in: 0...4, using: &generator))
        value.bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
        value.numbers = (0..<Int.random(in: 0...20, using: &generator)).map { _ in .random(in: .min ... .max, using: &generator) }
        value.names = (0..<Int.random(in: 0...5, using: &generator)).map { "name\($0)" }
        value.maybe = Bool.random(using: &generator) ? .random(in: 0...9, using: &generator) : nil
        value.points = (0..<Int.random(in: 0...5, using: &generator)).map { Point(x: Int32($0), y: -Int32($0), label: $0 % 2 == 0 ? "p\($0)" : nil) }
        value.table = Dictionary(uniqueKeysWithValues: value.names.enumerated().map { ($1, Point(x: Int32($0), y: 1)) })
        value.origin = Point(x: .random(in: .min ... .max, using: &generator), y: 7, label: "origin")
        return value
    }
}

/// A message with a bounded field and one stream field.
struct FileTransfer: WireMessage {
    var name = ""
    var data = StreamField()

    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&name)
        try coder.stream(&data)
    }
}

/// Version 1 of a message that grew a field in version 2.
struct ProfileV1: WireMessage, Equatable {
    static let version: UInt8 = 1
    var name = ""

    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&name)
    }
}

/// Version 2: appends `age` and a nested point, read only when the sender's version has them.
struct ProfileV2: WireMessage, Equatable {
    static let version: UInt8 = 2
    var name = ""
    var age: UInt32 = 99  // the default an older sender leaves in place
    var home = Point()

    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&name)
        if coder.version >= 2 {
            try coder.field(&age)
            try coder.field(&home)
        }
    }
}

/// Registers the sample messages: protocol 1 = Ping, Everything, FileTransfer; protocol 2 = Profile.
func sampleRegistry(profile: any WireMessage.Type = ProfileV2.self) throws -> MessageRegistry {
    let registry = MessageRegistry()
    try registry.register(protocol: 1, [Ping.self, Everything.self, FileTransfer.self])
    try registry.register(protocol: 2, [profile])
    return registry
}
