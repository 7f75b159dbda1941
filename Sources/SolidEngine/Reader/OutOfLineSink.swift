/// Receives one out-of-line byte array (PROTOCOL.md §5.3) straight into the array the message will hold.
///
/// The array grows as bytes arrive and is never zero-filled: a declaration the peer never fills costs
/// neither memory nor address space (the declared size is charged to the receive budget instead).
final class OutOfLineSink: ByteSink {
    /// Why an out-of-line array was refused.
    struct Mismatch: Error {
        let declared: Int
        let received: Int

        var wireError: WireError {
            .streamSinkFailed("out-of-line byte array: \(received) bytes for \(declared) declared")
        }
    }

    private var storage: [UInt8] = []
    private let declared: Int
    private let prepareLarge: (@Sendable (UnsafeMutableRawBufferPointer) -> Void)?

    /// A sink for an array of `count` bytes. Its storage grows as bytes arrive (``ReceiveGrowth``), so
    /// a declared count costs nothing until the bytes come; `prepareLarge` sees each allocation of at
    /// least ``ReaderConfiguration/largeArrayBytes`` before it is filled (to advise the kernel on it).
    init(count: Int, prepareLarge: (@Sendable (UnsafeMutableRawBufferPointer) -> Void)? = nil) {
        declared = count
        self.prepareLarge = prepareLarge
    }

    private var filled: Int { storage.count }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count <= declared - filled else {
            throw Mismatch(declared: declared, received: filled + bytes.count)
        }
        guard bytes.count > 0 else { return }
        ReceiveGrowth.append(bytes, to: &storage, declared: declared, prepareLarge: prepareLarge)
    }

    func finish() throws {
        guard filled == declared else { throw Mismatch(declared: declared, received: filled) }
    }

    func abort(_ error: WireError) { storage = [] }

    /// Hands over the completed array (the sink keeps no reference).
    func take() -> [UInt8] {
        var taken: [UInt8] = []
        swap(&taken, &storage)
        return taken
    }
}
