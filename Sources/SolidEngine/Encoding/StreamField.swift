/// Produces the bytes of a stream field on the sending side, a piece at a time (a file, a generator…).
///
/// The writer calls ``read(into:)`` when the message's turn comes, with the space left in the current
/// packet, so a stream is never held in memory whole.
public protocol ByteSource: AnyObject {
    /// Fills up to `buffer.count` bytes and returns how many; 0 means the stream ended.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// Consumes the bytes of a stream field on the receiving side, a piece at a time.
public protocol ByteSink: AnyObject {
    /// Takes the next bytes; they are only valid during the call.
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// The stream ended normally.
    func finish() throws
    /// The stream will not complete: the message was cancelled or the connection failed.
    func abort(_ error: WireError)
}

/// A field whose bytes travel after the message body, chunk by chunk: a source when sending, a sink
/// when receiving.
public struct StreamField {
    /// The sending side's data; must be set before the message is sent.
    public var source: (any ByteSource)?
    /// Position of this field among the message's stream fields (set while coding).
    public var index: Int { position }
    @usableFromInline var position: Int = -1

    /// An empty field (for decoding).
    public init() {}

    /// A field that sends what `source` produces.
    public init(source: any ByteSource) { self.source = source }
}

/// A source that calls a closure for each piece.
public final class ClosureByteSource: ByteSource {
    private let body: (UnsafeMutableRawBufferPointer) throws -> Int

    /// Creates a source from `body`, which fills the buffer and returns the count (0 at the end).
    public init(_ body: @escaping (UnsafeMutableRawBufferPointer) throws -> Int) { self.body = body }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int { try body(buffer) }
}

/// A source over bytes already in memory.
public final class BytesSource: ByteSource {
    private let bytes: [UInt8]
    private var offset = 0

    /// Streams `bytes`.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = min(buffer.count, bytes.count - offset)
        bytes.withUnsafeBytes { source in
            buffer.baseAddress!.copyMemory(from: source.baseAddress! + offset, byteCount: count)
        }
        offset += count
        return count
    }
}

/// A sink that collects everything in memory (for small streams and tests).
public final class CollectingSink: ByteSink {
    /// The bytes received so far.
    public private(set) var bytes: [UInt8] = []
    /// `true` once the stream ended normally.
    public private(set) var finished = false
    /// The error that aborted the stream, if any.
    public private(set) var abortError: WireError?

    /// Creates an empty sink.
    public init() {}

    public func write(_ chunk: UnsafeRawBufferPointer) throws { bytes.append(contentsOf: chunk) }
    public func finish() throws { finished = true }
    public func abort(_ error: WireError) { abortError = error }
}
