import CBenchSupport
import Glibc

/// A failure of the benchmark harness itself (not of a system under test).
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The `KEY=value` fields of a line a child prints (`PORT=…`, sfbench's `RESULT … rt_per_s=…`), by key.
func keyValueFields(_ line: String) -> [String: String] {
    var result: [String: String] = [:]
    for part in line.split(separator: " ") {
        let pair = part.split(separator: "=", maxSplits: 1)
        if pair.count == 2 { result[String(pair[0])] = String(pair[1]) }
    }
    return result
}

/// A child process started with `posix_spawn`, with optional pipes to its stdin and from its stdout.
/// Only the main thread spawns, so the parent's pipe ends can be marked close-on-exec without a race.
final class Subprocess {
    let pid: pid_t
    /// Write end of the child's stdin, when piped.
    private(set) var stdinFD: Int32?
    /// Read end of the child's stdout, when piped.
    let stdoutFD: Int32?
    private var exitStatus: Int32?

    private init(pid: pid_t, stdinFD: Int32?, stdoutFD: Int32?) {
        self.pid = pid
        self.stdinFD = stdinFD
        self.stdoutFD = stdoutFD
    }

    /// Starts `arguments[0]` (searched in PATH when it has no slash). Stderr is shared with this process
    /// unless `mergeStderr` sends it into the stdout pipe.
    static func spawn(_ arguments: [String], pipeStdin: Bool = false, pipeStdout: Bool = false, mergeStderr: Bool = false)
        throws -> Subprocess
    {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var inPipe: [Int32] = [-1, -1]
        var outPipe: [Int32] = [-1, -1]
        if pipeStdin {
            guard pipe(&inPipe) == 0 else { throw BenchError("pipe: errno \(errno)") }
            _ = fcntl(inPipe[1], F_SETFD, FD_CLOEXEC)
            posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
            posix_spawn_file_actions_addclose(&actions, inPipe[0])
        }
        if pipeStdout {
            guard pipe(&outPipe) == 0 else { throw BenchError("pipe: errno \(errno)") }
            _ = fcntl(outPipe[0], F_SETFD, FD_CLOEXEC)
            posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
            if mergeStderr { posix_spawn_file_actions_adddup2(&actions, outPipe[1], 2) }
            posix_spawn_file_actions_addclose(&actions, outPipe[1])
        }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = arguments[0].contains("/")
            ? posix_spawn(&pid, arguments[0], &actions, nil, argv, bench_environment())
            : posix_spawnp(&pid, arguments[0], &actions, nil, argv, bench_environment())
        if pipeStdin { close(inPipe[0]) }
        if pipeStdout { close(outPipe[1]) }
        guard result == 0 else {
            if pipeStdin { close(inPipe[1]) }
            if pipeStdout { close(outPipe[0]) }
            throw BenchError("cannot start \(arguments[0]): \(String(cString: strerror(result)))")
        }
        return Subprocess(pid: pid, stdinFD: pipeStdin ? inPipe[1] : nil, stdoutFD: pipeStdout ? outPipe[0] : nil)
    }

    /// Writes one line to the child's stdin.
    func send(_ line: String) throws {
        guard let fd = stdinFD else { throw BenchError("child \(pid) has no stdin pipe") }
        let bytes = Array((line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw BenchError("writing to child \(pid): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    /// Closes the read end of the child's stdout (after the child was reaped elsewhere).
    func closeStdout() {
        if let fd = stdoutFD, exitStatus == nil { close(fd) }
        exitStatus = exitStatus ?? 0
    }

    /// Closes the child's stdin (its end-of-input).
    func closeStdin() {
        if let fd = stdinFD { close(fd) }
        stdinFD = nil
    }

    /// Waits for the child to exit; returns its exit code (128 + signal when killed).
    @discardableResult
    func wait() -> Int32 {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        exitStatus = code
        if let fd = stdoutFD { close(fd) }
        return code
    }

    /// Runs a command to completion and returns its exit code and its stdout (stderr merged).
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let child = try spawn(arguments, pipeStdout: true, mergeStderr: true)
        let reader = LineReader(fd: child.stdoutFD!)
        var output = ""
        while let line = reader.readLine() { output += line + "\n" }
        return (child.wait(), output)
    }

    /// The absolute path of this executable.
    static var currentExecutable: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return CommandLine.arguments[0] }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The first directory in PATH holding an executable `name`, if any.
    static func which(_ name: String) -> String? {
        guard let path = getenv("PATH") else { return nil }
        for directory in String(cString: path).split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}

/// Reads lines from a file descriptor (blocking), without Foundation.
final class LineReader {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 4096)
    private var ended = false

    init(fd: Int32) { self.fd = fd }

    /// The next line without its newline, or `nil` at end of input.
    func readLine() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[0..<newline], as: UTF8.self)
                buffer.removeSubrange(0...newline)
                return line
            }
            if ended {
                guard !buffer.isEmpty else { return nil }
                defer { buffer.removeAll() }
                return String(decoding: buffer, as: UTF8.self)
            }
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 {
                ended = true
            } else {
                buffer.append(contentsOf: chunk[0..<count])
            }
        }
    }
}
