import Glibc
import SolidIPC
import Synchronization

/// A file offered as one message: its name and size, then its bytes as a stream field.
struct FileOffer: IPCRequest, @unchecked Sendable {
    // @unchecked: a StreamField holds its source, which only the sending connection's reactor reads.
    typealias Response = FileReceived
    var name = ""
    var size: UInt64 = 0
    var data = StreamField()

    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&name)
        try coder.field(&size)
        try coder.stream(&data)
    }
}

/// The receiver's answer once the whole file is on disk: what it got.
struct FileReceived: WireMessage, Sendable {
    var size: UInt64 = 0
    var checksum: UInt64 = 0

    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&size)
        try coder.field(&checksum)
    }
}

func fileRegistry() throws -> MessageRegistry {
    let registry = MessageRegistry()
    try registry.register(protocol: 7, [FileOffer.self, FileReceived.self])
    return registry
}

/// FNV-1a over the bytes, as they pass: both sides compute it, the sender compares.
struct Checksum {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var hash = value
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        value = hash
    }
}

/// Bytes moved so far, read by the progress bar's thread.
final class TransferCounter: Sendable {
    let bytes = Atomic<UInt64>(0)
}

/// Reads the file, counting and checksumming what it hands to the connection.
final class CountingFileSource: ByteSource {
    private let file: FileSource
    private let counter: TransferCounter
    private(set) var checksum = Checksum()

    init(path: String, counter: TransferCounter) throws {
        file = try FileSource(path: path)
        self.counter = counter
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = try file.read(into: buffer)
        checksum.add(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        counter.bytes.add(UInt64(count), ordering: .relaxed)
        return count
    }
}

/// Writes the file, counting and checksumming; a stream that does not complete deletes the partial file.
final class CountingFileSink: ByteSink {
    private let file: FileSink
    private let path: String
    private let counter: TransferCounter
    private(set) var checksum = Checksum()
    var onEnd: ((Result<FileReceived, WireError>) -> Void)?

    init(path: String, counter: TransferCounter) throws {
        file = try FileSink(path: path)
        self.path = path
        self.counter = counter
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try file.write(bytes)
        checksum.add(bytes)
        counter.bytes.add(UInt64(bytes.count), ordering: .relaxed)
    }

    func finish() throws {
        try file.finish()
        onEnd?(.success(FileReceived(size: file.bytesWritten, checksum: checksum.value)))
    }

    func abort(_ error: WireError) {
        file.abort(error)
        _ = path.withCString { unlink($0) }  // nothing half-written is left to be taken for the file
        onEnd?(.failure(error))
    }
}
