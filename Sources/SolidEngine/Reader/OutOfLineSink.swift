/// Receives one out-of-line byte array (PROTOCOL.md §5.3) straight into the array the message will hold.
///
/// The array is created at its declared size without being zero-filled: pages are touched only as bytes
/// arrive, so a declaration the peer never fills costs address space, not memory.
final class OutOfLineSink: ByteSink {
    /// Why an out-of-line array was refused.
    struct Mismatch: Error {
        let declared: Int
        let received: Int

        var wireError: WireError {
            .streamSinkFailed("out-of-line byte array: \(received) bytes for \(declared) declared")
        }
    }

    private var storage: [UInt8]
    private var filled = 0

    /// Creates the array for `count` bytes.
    init(count: Int) {
        // UInt8 is trivial: leaving the bytes unset until they arrive is sound, and avoids touching pages.
        storage = [UInt8](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }

    /// Lets `body` see the (still unfilled) storage, e.g. to advise the kernel on it.
    func prepare(with body: (UnsafeMutableRawBufferPointer) -> Void) {
        storage.withUnsafeMutableBytes { body($0) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count <= storage.count - filled else {
            throw Mismatch(declared: storage.count, received: filled + bytes.count)
        }
        guard let source = bytes.baseAddress else { return }
        let offset = filled
        storage.withUnsafeMutableBytes { target in
            (target.baseAddress! + offset).copyMemory(from: source, byteCount: bytes.count)
        }
        filled += bytes.count
    }

    func finish() throws {
        guard filled == storage.count else { throw Mismatch(declared: storage.count, received: filled) }
    }

    func abort(_ error: WireError) { storage = [] }

    /// Hands over the completed array (the sink keeps no reference).
    func take() -> [UInt8] {
        var taken: [UInt8] = []
        swap(&taken, &storage)
        return taken
    }
}
