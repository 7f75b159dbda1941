import Glibc

/// Why a file stream failed.
public struct FileStreamError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The operation (`open`, `read`, `write`).
    public let operation: String
    /// The file.
    public let path: String
    /// The `errno` it reported.
    public let errno: Int32

    /// `open(/path): No such file or directory (errno 2)`.
    public var description: String {
        "\(operation)(\(path)): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// Streams a file's contents, a piece at a time (for a ``StreamField`` on the sending side).
///
/// Reads block the calling thread: fine for local files; put slow storage behind a source of your own.
public final class FileSource: ByteSource {
    private var fd: Int32
    private let path: String

    /// Opens `path` for reading.
    public init(path: String) throws(FileStreamError) {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileStreamError(operation: "open", path: path, errno: Glibc.errno) }
    }

    deinit { if fd >= 0 { close(fd) } }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard fd >= 0 else { return 0 }
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 {
                if count == 0 {
                    close(fd)
                    fd = -1
                }
                return count
            }
            if Glibc.errno == EINTR { continue }
            throw FileStreamError(operation: "read", path: path, errno: Glibc.errno)
        }
    }
}

/// Writes a received stream into a file (for a ``StreamField`` on the receiving side).
///
/// The file is created (or truncated) at once; an aborted stream leaves what arrived and closes it.
public final class FileSink: ByteSink {
    private var fd: Int32
    private let path: String
    /// Bytes written so far.
    public private(set) var bytesWritten: UInt64 = 0

    /// Creates or truncates `path` with permissions `mode`.
    public init(path: String, mode: mode_t = 0o644) throws(FileStreamError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileStreamError(operation: "open", path: path, errno: Glibc.errno) }
    }

    deinit { if fd >= 0 { close(fd) } }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard fd >= 0 else { throw FileStreamError(operation: "write", path: path, errno: EBADF) }
        var offset = 0
        while offset < bytes.count {
            let count = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if count < 0 {
                if Glibc.errno == EINTR { continue }
                throw FileStreamError(operation: "write", path: path, errno: Glibc.errno)
            }
            offset += count
        }
        bytesWritten += UInt64(bytes.count)
    }

    public func finish() throws {
        guard fd >= 0 else { return }
        let result = close(fd)
        fd = -1
        if result < 0 { throw FileStreamError(operation: "close", path: path, errno: Glibc.errno) }
    }

    public func abort(_ error: WireError) {
        if fd >= 0 { close(fd) }
        fd = -1
    }
}
