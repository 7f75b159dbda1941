public import SolidEngine
import Glibc

/// A body with byte arrays on both sides of the out-of-line threshold (PROTOCOL.md §5.3): `small` stays
/// in the body, `large` (``WireEncoder/outOfLineThreshold`` bytes or more) travels in the tail.
public struct FuzzBody: WireMessage {
    public var tag: UInt64 = 0
    public var small: [UInt8] = []
    public var large: [UInt8] = []
    public var points: [FuzzPoint] = []
    public var note: String? = nil
    public init() {}
    public mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&tag)
        try coder.field(&small)
        try coder.field(&large)
        try coder.field(&points)
        try coder.field(&note)
    }
}

/// Two stream fields around a byte array, so the tail mixes streams and an out-of-line array in field
/// order.
public struct FuzzStreams: WireMessage {
    public var tag: UInt64 = 0
    public var head = StreamField()
    public var blob: [UInt8] = []
    public var tail = StreamField()
    public init() {}
    public mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&tag)
        try coder.stream(&head)
        try coder.field(&blob)
        try coder.stream(&tail)
    }
}

/// Distinct bytes repeated with a prime period, twice over so any run of up to one period is one slice.
private let patternPeriod = 251
private let patternTable: [UInt8] = (0..<(2 * patternPeriod)).map { UInt8(truncatingIfNeeded: ($0 % patternPeriod) &* 167 &+ 43) }

/// Where the pattern of sample `tag`'s field `field` starts in the table: every field of every sample
/// starts elsewhere (modulo the period), so bytes delivered to the wrong stream or at the wrong offset
/// are detected.
@inline(__always)
private func patternStart(tag: UInt64, field: Int) -> Int {
    Int((tag &* 29 &+ UInt64(field) &* 71) % UInt64(patternPeriod))
}

/// Byte `index` of sample `tag`'s field `field`.
public func fuzzPattern(tag: UInt64, field: Int, index: Int) -> UInt8 {
    patternTable[(patternStart(tag: tag, field: field) + index) % patternPeriod]
}

/// `count` bytes of ``fuzzPattern(tag:field:index:)``. Copied a period at a time: a per-byte loop here,
/// instrumented for coverage, took most of the fuzzer's time.
public func fuzzBytes(tag: UInt64, field: Int, count: Int) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count)
    var position = patternStart(tag: tag, field: field)
    while bytes.count < count {
        let take = min(count - bytes.count, patternPeriod)
        bytes.append(contentsOf: patternTable[position..<(position + take)])
        position = (position + take) % patternPeriod
    }
    return bytes
}

/// `true` when `bytes` are bytes `start...` of ``fuzzPattern(tag:field:index:)``.
public func fuzzBytesMatch(_ bytes: UnsafeRawBufferPointer, tag: UInt64, field: Int, start: Int) -> Bool {
    var position = (patternStart(tag: tag, field: field) + start) % patternPeriod
    var offset = 0
    return patternTable.withUnsafeBytes { table in
        while offset < bytes.count {
            let take = min(bytes.count - offset, patternPeriod)
            guard memcmp(bytes.baseAddress! + offset, table.baseAddress! + position, take) == 0 else { return false }
            offset += take
            position = (position + take) % patternPeriod
        }
        return true
    }
}

/// `true` when `array` holds the first `array.count` bytes of field `field` of sample `tag`.
public func fuzzBytesMatch(_ array: [UInt8], tag: UInt64, field: Int) -> Bool {
    array.withUnsafeBytes { fuzzBytesMatch($0, tag: tag, field: field, start: 0) }
}

/// What a sample message of the connection fuzzer holds, derived from a few numbers so the receiving
/// side can check every byte it gets.
public struct FuzzSample: Sendable, Equatable {
    /// The message types the connection fuzzer sends.
    public enum Kind: UInt8, Sendable, CaseIterable {
        /// ``FuzzPing``: a small note.
        case note
        /// ``FuzzBody``: in-line and out-of-line byte arrays.
        case body
        /// ``FuzzStreams``: two streams and a byte array.
        case streams
        /// ``FuzzStreams`` whose `head` source throws after ``FuzzSample/failAfter`` bytes.
        case failingStream
    }

    public var kind: Kind
    public var tag: UInt64
    /// ``FuzzPing/text`` length, ``FuzzBody/small`` count or ``FuzzStreams/blob`` count.
    public var smallCount: Int
    /// ``FuzzBody/large`` count, or the length of ``FuzzStreams/head``.
    public var largeCount: Int
    /// Length of ``FuzzStreams/tail``.
    public var tailCount: Int
    /// For ``Kind/failingStream``: bytes `head` produces before its source throws.
    public var failAfter: Int

    public init(kind: Kind, tag: UInt64, smallCount: Int = 0, largeCount: Int = 0, tailCount: Int = 0, failAfter: Int = 0) {
        self.kind = kind
        self.tag = tag
        self.smallCount = smallCount
        self.largeCount = largeCount
        self.tailCount = tailCount
        self.failAfter = failAfter
    }

    /// Sizes from one fuzzed byte: notes up to 255 bytes; bodies with an in-line array up to 8 KiB and an
    /// out-of-line one of 0, threshold − 1 (in line), threshold, threshold + 1 or up to 64 KiB; streams
    /// up to about 76 KiB.
    public init(kind: Kind, tag: UInt64, size: UInt8) {
        let s = Int(size)
        let threshold = WireEncoder.outOfLineThreshold
        switch kind {
        case .note:
            self.init(kind: kind, tag: tag, smallCount: s)
        case .body:
            let large = [0, threshold - 1, threshold, threshold + 1, threshold + s * 190][s % 5]
            self.init(kind: kind, tag: tag, smallCount: (s * 37) % 8192, largeCount: large)
        case .streams, .failingStream:
            let blob = s % 3 == 0 ? threshold + s : s * 5
            self.init(kind: kind, tag: tag, smallCount: blob, largeCount: s * 300, tailCount: (s % 7) * 1111,
                      failAfter: s * 150)
        }
    }

    /// Total payload bytes (a budget for the fuzzer's work per input).
    public var byteCount: Int { smallCount + largeCount + tailCount }

    /// Bytes of the bounded fields' data (what a body limit counts: in-line and out-of-line arrays, not
    /// streams), without the few bytes of lengths and small fields around them.
    public var boundedByteCount: Int { kind == .body ? smallCount + largeCount : smallCount }

    /// The message to enqueue.
    public func message() -> any WireMessage {
        switch kind {
        case .note:
            return FuzzPing(id: tag, text: noteText)
        case .body:
            var body = FuzzBody()
            body.tag = tag
            body.small = fuzzBytes(tag: tag, field: 0, count: smallCount)
            body.large = fuzzBytes(tag: tag, field: 1, count: largeCount)
            body.points = (0..<Int(tag % 4)).map { var point = FuzzPoint(); point.x = Int32($0); return point }
            body.note = tag % 2 == 0 ? "even" : nil
            return body
        case .streams, .failingStream:
            var streams = FuzzStreams()
            streams.tag = tag
            streams.blob = fuzzBytes(tag: tag, field: 0, count: smallCount)
            let head = fuzzBytes(tag: tag, field: 1, count: largeCount)
            if kind == .failingStream {
                var offset = 0
                let limit = min(failAfter, head.count)
                streams.head = StreamField(source: ClosureByteSource { buffer in
                    guard offset < limit else { throw FuzzSourceError() }
                    let count = min(buffer.count, limit - offset)
                    head.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: count) }
                    offset += count
                    return count
                })
            } else {
                streams.head = StreamField(source: BytesSource(head))
            }
            streams.tail = StreamField(source: BytesSource(fuzzBytes(tag: tag, field: 2, count: tailCount)))
            return streams
        }
    }

    /// A note's text: `smallCount` UTF-8 bytes, multi-byte characters included.
    var noteText: String { String(repeating: "né", count: smallCount / 3) + String(repeating: "x", count: smallCount % 3) }

    /// Lengths of the stream fields, in field order.
    public var streamLengths: [Int] { kind == .streams || kind == .failingStream ? [largeCount, tailCount] : [] }

    /// `true` when `message` (decoded by the peer) holds exactly this sample's bounded fields.
    public func matches(_ message: any WireMessage) -> Bool {
        switch kind {
        case .note:
            guard let ping = message as? FuzzPing else { return false }
            return ping.id == tag && ping.text == noteText
        case .body:
            guard let body = message as? FuzzBody else { return false }
            return body.tag == tag && body.small.count == smallCount && fuzzBytesMatch(body.small, tag: tag, field: 0)
                && body.large.count == largeCount && fuzzBytesMatch(body.large, tag: tag, field: 1)
                && body.points.count == Int(tag % 4) && body.note == (tag % 2 == 0 ? "even" : nil)
        case .streams, .failingStream:
            guard let streams = message as? FuzzStreams else { return false }
            return streams.tag == tag && streams.blob.count == smallCount && fuzzBytesMatch(streams.blob, tag: tag, field: 0)
        }
    }
}

/// What a failing sample's stream source throws.
public struct FuzzSourceError: Error {}

/// The tag of a message decoded from a connection sample, if it is one.
public func fuzzTag(of message: any WireMessage) -> UInt64? {
    if let ping = message as? FuzzPing { return ping.id }
    if let body = message as? FuzzBody { return body.tag }
    if let streams = message as? FuzzStreams { return streams.tag }
    return nil
}

/// A sink that checks every byte of stream `field` of sample `tag` as it arrives, and its length at the end.
public final class CheckingSink: ByteSink {
    /// The sample the stream belongs to.
    public let tag: UInt64
    /// The stream's field number in ``fuzzPattern(tag:field:index:)`` (1 = head, 2 = tail).
    public let field: Int
    /// The stream's length as sent.
    public let expectedCount: Int
    /// Bytes received so far.
    public private(set) var received = 0
    /// `true` once the stream ended with all its bytes.
    public private(set) var finished = false
    /// `true` once the reader dropped the stream (cancel or connection failure).
    public private(set) var aborted = false

    public init(tag: UInt64, field: Int, expectedCount: Int) {
        self.tag = tag
        self.field = field
        self.expectedCount = expectedCount
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(!finished && !aborted, "stream bytes after the stream ended")
        precondition(received + bytes.count <= expectedCount, "sample \(tag): stream \(field) longer than sent")
        precondition(fuzzBytesMatch(bytes, tag: tag, field: field, start: received), "sample \(tag): stream \(field) bytes differ")
        received += bytes.count
    }

    public func finish() throws {
        precondition(!finished && !aborted, "stream finished twice")
        precondition(received == expectedCount, "sample \(tag): stream \(field) ended at \(received) of \(expectedCount)")
        finished = true
    }

    public func abort(_ error: WireError) {
        precondition(!finished, "stream aborted after it finished")
        aborted = true
    }
}
