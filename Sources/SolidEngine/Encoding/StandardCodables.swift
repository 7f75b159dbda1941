// WireCodable conformances for the standard types: integers (varint; signed ones zigzag), Bool,
// Float/Double (fixed little-endian bits), String, arrays ([UInt8] as raw bytes), optionals, dictionaries.

extension UInt64: WireCodable {
    @inlinable
    public static func code<C: FieldCoder>(_ value: inout UInt64, with coder: inout C) throws(WireError) {
        try coder.varint(&value)
    }
}

extension Int64: WireCodable {
    @inlinable
    public static func code<C: FieldCoder>(_ value: inout Int64, with coder: inout C) throws(WireError) {
        var raw = Varint.zigzag(value)
        try coder.varint(&raw)
        if coder.isDecoding { value = Varint.unzigzag(raw) }
    }
}

/// Shared implementation for the narrower unsigned integers: varint, range-checked on decode.
@inlinable
func codeUnsigned<T: FixedWidthInteger & UnsignedInteger, C: FieldCoder>(_ value: inout T, _ coder: inout C)
    throws(WireError)
{
    var raw = UInt64(value)
    try coder.varint(&raw)
    if coder.isDecoding {
        guard let narrowed = T(exactly: raw) else { throw .valueOutOfRange("\(T.self)") }
        value = narrowed
    }
}

/// Shared implementation for the narrower signed integers: zigzag varint, range-checked on decode.
@inlinable
func codeSigned<T: FixedWidthInteger & SignedInteger, C: FieldCoder>(_ value: inout T, _ coder: inout C)
    throws(WireError)
{
    var raw = Varint.zigzag(Int64(value))
    try coder.varint(&raw)
    if coder.isDecoding {
        guard let narrowed = T(exactly: Varint.unzigzag(raw)) else { throw .valueOutOfRange("\(T.self)") }
        value = narrowed
    }
}

extension UInt32: WireCodable {
    @inlinable
    public static func code<C: FieldCoder>(_ value: inout UInt32, with coder: inout C) throws(WireError) {
        try codeUnsigned(&value, &coder)
    }
}

extension UInt16: WireCodable {
    @inlinable
    public static func code<C: FieldCoder>(_ value: inout UInt16, with coder: inout C) throws(WireError) {
        try codeUnsigned(&value, &coder)
    }
}

extension UInt8: WireCodable {
    @inlinable
    public static func code<C: FieldCoder>(_ value: inout UInt8, with coder: inout C) throws(WireError) {
        try codeUnsigned(&value, &coder)
    }
}

extension UInt: WireCodable {
    @inlinable
    public static func code<C: FieldCoder>(_ value: inout UInt, with coder: inout C) throws(WireError) {
        try codeUnsigned(&value, &coder)
    }
}

extension Int32: WireCodable {
    @inlinable
    public static func code<C: FieldCoder>(_ value: inout Int32, with coder: inout C) throws(WireError) {
        try codeSigned(&value, &coder)
    }
}

extension Int16: WireCodable {
    @inlinable
    public static func code<C: FieldCoder>(_ value: inout Int16, with coder: inout C) throws(WireError) {
        try codeSigned(&value, &coder)
    }
}

extension Int8: WireCodable {
    @inlinable
    public static func code<C: FieldCoder>(_ value: inout Int8, with coder: inout C) throws(WireError) {
        try codeSigned(&value, &coder)
    }
}

extension Int: WireCodable {
    @inlinable
    public static func code<C: FieldCoder>(_ value: inout Int, with coder: inout C) throws(WireError) {
        try codeSigned(&value, &coder)
    }
}

extension Bool: WireCodable {
    @inlinable
    public static func code<C: FieldCoder>(_ value: inout Bool, with coder: inout C) throws(WireError) {
        var raw: UInt64 = value ? 1 : 0
        try coder.fixed(&raw, size: 1)
        if coder.isDecoding {
            guard raw <= 1 else { throw .invalidTag(UInt8(raw)) }
            value = raw == 1
        }
    }
}

extension Double: WireCodable {
    @inlinable
    public static func code<C: FieldCoder>(_ value: inout Double, with coder: inout C) throws(WireError) {
        var raw = value.bitPattern
        try coder.fixed(&raw, size: 8)
        if coder.isDecoding { value = Double(bitPattern: raw) }
    }
}

extension Float: WireCodable {
    @inlinable
    public static func code<C: FieldCoder>(_ value: inout Float, with coder: inout C) throws(WireError) {
        var raw = UInt64(value.bitPattern)
        try coder.fixed(&raw, size: 4)
        if coder.isDecoding { value = Float(bitPattern: UInt32(truncatingIfNeeded: raw)) }
    }
}

extension String: WireCodable {
    @inlinable
    public static func code<C: FieldCoder>(_ value: inout String, with coder: inout C) throws(WireError) {
        try coder.string(&value)
    }
}

extension Array: WireCodable where Element: WireCodable {
    @inlinable
    public static func code<C: FieldCoder>(_ value: inout [Element], with coder: inout C) throws(WireError) {
        if Element.self == UInt8.self {
            // Raw bytes: one length prefix and a copy, not a varint per byte.
            var bytes = unsafeBitCast(value, to: [UInt8].self)
            try coder.bytes(&bytes)
            if coder.isDecoding { value = unsafeBitCast(bytes, to: [Element].self) }
            return
        }
        var count = value.count
        try coder.count(&count)
        if coder.isDecoding {
            var decoded: [Element] = []
            decoded.reserveCapacity(count)
            for _ in 0..<count {
                var element = Element()
                try coder.field(&element)
                decoded.append(element)
            }
            value = decoded
        } else {
            for index in value.indices { try coder.field(&value[index]) }
        }
    }
}

extension Optional: WireCodable where Wrapped: WireCodable {
    @inlinable
    public init() { self = .none }

    @inlinable
    public static func code<C: FieldCoder>(_ value: inout Wrapped?, with coder: inout C) throws(WireError) {
        var present: UInt64 = value == nil ? 0 : 1
        try coder.fixed(&present, size: 1)
        if coder.isDecoding {
            switch present {
            case 0:
                value = nil
            case 1:
                var wrapped = Wrapped()
                try coder.field(&wrapped)
                value = wrapped
            default:
                throw .invalidTag(UInt8(present))
            }
        } else if var wrapped = value {
            try coder.field(&wrapped)
        }
    }
}

extension Dictionary: WireCodable where Key: WireCodable, Value: WireCodable {
    @inlinable
    public static func code<C: FieldCoder>(_ value: inout [Key: Value], with coder: inout C) throws(WireError) {
        var count = value.count
        try coder.count(&count)
        if coder.isDecoding {
            var decoded: [Key: Value] = [:]
            decoded.reserveCapacity(count)
            for _ in 0..<count {
                var key = Key()
                var element = Value()
                try coder.field(&key)
                try coder.field(&element)
                decoded[key] = element
            }
            value = decoded
        } else {
            for (key, element) in value {
                var key = key
                var element = element
                try coder.field(&key)
                try coder.field(&element)
            }
        }
    }
}
