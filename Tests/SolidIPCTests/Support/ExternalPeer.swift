import CSolidLinux
import Dispatch
import Foundation
import Glibc
import SolidIPC
import Synchronization

/// How long any one step with an external program may take (a handshake, a round trip, a process
/// starting or exiting).
let stepTimeout = 15.0

/// A failure of a test that drives an external program.
struct InteropFailure: Error, CustomStringConvertible {
    let description: String
}

// MARK: - External processes

/// A program the test started. Its stdout and stderr are collected by two threads into a locked buffer;
/// its stdin is a pipe the test writes to. ``stop()`` ends it (SIGTERM, then SIGKILL) and waits for it.
final class ExternalPeer: @unchecked Sendable {
    // @unchecked: `process` and the pipes are used by the test's thread only (the readers use plain file
    // descriptors); what the program printed and its exit status are behind `collected`.
    struct Output: Sendable {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        /// The exit status, once the program ended (a signal's number when killed by one).
        var status: Int32?
        var killedBySignal = false
        /// How many of stdout and stderr reached their end (the program and any child of it closed them).
        var endedStreams = 0
        /// Exited, and everything it printed is here.
        var finished: Bool { status != nil && endedStreams == 2 }

        var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    }

    let commandLine: String
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let errors = Pipe()
    private let collected = Lock<Output>(Output())
    /// Gets an entry for every chunk of output and at exit: `EventLog.wait` is the bounded wait.
    private let events = EventLog()
    private let readers = DispatchGroup()
    private var inputOpen = true

    init(_ path: String, _ arguments: [String]) throws {
        // A write to the stdin of a program that already exited must be an EPIPE, not the end of the tests
        // (the library's own sockets use MSG_NOSIGNAL, so this changes nothing for them).
        signal(SIGPIPE, SIG_IGN)
        commandLine = ([path] + arguments).joined(separator: " ")
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        let collected = collected
        let events = events
        process.terminationHandler = { process in
            collected.withLock {
                $0.status = process.terminationStatus
                $0.killedBySignal = process.terminationReason == .uncaughtSignal
            }
            events.add("exit")
        }
        // The child inherits this thread's signal mask, and a Swift concurrency worker thread blocks nearly
        // every signal: a program started from here would ignore SIGTERM (gnutls-serv did). Spawn with
        // none blocked.
        var none = sigset_t()
        var previous = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
        collect(output.fileHandleForReading.fileDescriptor, isStderr: false)
        collect(errors.fileHandleForReading.fileDescriptor, isStderr: true)
    }

    deinit {
        // A test always calls stop(); this only guards against a forgotten one.
        if process.isRunning { stop() }
    }

    private func collect(_ descriptor: Int32, isStderr: Bool) {
        let collected = collected
        let events = events
        let readers = readers
        readers.enter()
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                collected.withLock {
                    if isStderr {
                        $0.stderr.append(contentsOf: buffer[0..<count])
                    } else {
                        $0.stdout.append(contentsOf: buffer[0..<count])
                    }
                }
                events.add("output")
            }
            collected.withLock { $0.endedStreams += 1 }
            events.add(isStderr ? "stderr ended" : "stdout ended")
            readers.leave()
        }
        thread.start()
    }

    /// What the program printed so far, and its status.
    var current: Output { collected.withLock { $0 } }

    /// Waits until `predicate` holds for what the program printed (re-checked on every chunk), at most
    /// `seconds`.
    func wait(seconds: Double = stepTimeout, until predicate: (Output) -> Bool) -> Bool {
        let collected = collected
        return events.wait(seconds: seconds) { _ in collected.withLock { predicate($0) } }
    }

    /// Waits until stdout contains `text`.
    func waitForStdout(_ text: String, seconds: Double = stepTimeout) -> Bool {
        let needle = Array(text.utf8)
        return wait(seconds: seconds) { $0.stdout.offset(of: needle) != nil }
    }

    /// Waits until stderr contains `text`.
    func waitForStderr(_ text: String, seconds: Double = stepTimeout) -> Bool {
        let needle = Array(text.utf8)
        return wait(seconds: seconds) { $0.stderr.offset(of: needle) != nil }
    }

    /// Waits for the program to exit by itself and for the last of its output; its status, or `nil` when
    /// it is still running.
    func waitForExit(seconds: Double = stepTimeout) -> Int32? {
        _ = wait(seconds: seconds) { $0.finished }
        return current.status
    }

    /// Writes `bytes` to the program's stdin; `false` when the program stopped taking them (it exited, or
    /// the pipe stayed full for `seconds`).
    func send(_ bytes: [UInt8], seconds: Double = stepTimeout) -> Bool {
        guard inputOpen else { return false }
        let descriptor = input.fileHandleForWriting.fileDescriptor
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        let deadline = ContinuousClock.now + .seconds(seconds)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written >= 0 {
                offset += written
                continue
            }
            guard errno == EAGAIN || errno == EINTR else { return false }
            // The pipe is full: wait until the program reads, within the deadline.
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return false }
            var ready = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
            _ = poll(&ready, 1, Int32(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1))
        }
        return true
    }

    /// Closes the program's stdin (end of input for it).
    func closeInput() {
        guard inputOpen else { return }
        inputOpen = false
        try? input.fileHandleForWriting.close()
    }

    /// Kills the program (SIGKILL: no clean-up of any kind) and waits for it.
    func kill() {
        if current.status == nil { Glibc.kill(process.processIdentifier, SIGKILL) }
        _ = wait { $0.status != nil }
    }

    /// Ends the program if it still runs (SIGTERM, then SIGKILL), waits for it and for its output.
    func stop() {
        if current.status == nil {
            process.terminate()
            if !wait(seconds: 5, until: { $0.status != nil }) {
                Glibc.kill(process.processIdentifier, SIGKILL)
                _ = wait(seconds: 5) { $0.status != nil }
            }
        }
        closeInput()
        _ = readers.wait(timeout: .now() + 5)
    }

    /// The command and everything it printed, for a failed expectation.
    var transcript: String {
        let output = current
        let status = output.status.map { output.killedBySignal ? "killed by signal \($0)" : "exit status \($0)" } ?? "running"
        return "$ \(commandLine)\n[\(status)]\n"
            + "[stdout]\n\(output.stdoutText)\n[stderr]\n\(output.stderrText)"
    }

    /// Starts a server program on a free loopback port, with another port when the chosen one was taken
    /// between the probe and the program's bind (at most five tries).
    static func startServer(
        _ path: String, arguments: (UInt16) -> [String],
        ready: @escaping (Output, UInt16) -> Bool, failed: @escaping (Output, UInt16) -> Bool
    ) throws -> (ExternalPeer, UInt16) {
        var last = "no free port found"
        for _ in 0..<5 {
            guard let port = freeLoopbackPort() else { continue }
            let peer = try ExternalPeer(path, arguments(port))
            var isReady = false
            _ = peer.wait { output in
                isReady = ready(output, port)
                return isReady || failed(output, port) || output.status != nil
            }
            if isReady { return (peer, port) }
            peer.stop()
            last = peer.transcript
        }
        throw InteropFailure(description: "the server did not start:\n\(last)")
    }
}

/// Runs `body` with a new TCP socket and the address 127.0.0.1:`port` (the socket is closed afterwards);
/// `nil` when no socket could be made.
func withLoopbackSocket<T>(port: UInt16, _ body: (Int32, UnsafeMutablePointer<sockaddr_in>) -> T) -> T? {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard descriptor >= 0 else { return nil }
    defer { Glibc.close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = port.bigEndian
    return body(descriptor, &address)
}

/// A port nobody listens on at 127.0.0.1 now (bound to port 0, read back, closed).
func freeLoopbackPort() -> UInt16? {
    withLoopbackSocket(port: 0) { descriptor, address -> UInt16? in
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = address.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
        }
        return bound ? UInt16(bigEndian: address.pointee.sin_port) : nil
    } ?? nil
}

extension Array where Element == UInt8 {
    /// Where `needle` first occurs as a contiguous run.
    func offset(of needle: [UInt8]) -> Int? {
        guard !needle.isEmpty, needle.count <= count else { return needle.isEmpty ? 0 : nil }
        return withUnsafeBufferPointer { haystack in
            needle.withUnsafeBufferPointer { needle in
                let first = needle[0]
                var index = 0
                while index <= haystack.count - needle.count {
                    if haystack[index] == first && memcmp(haystack.baseAddress! + index, needle.baseAddress!, needle.count) == 0 {
                        return index
                    }
                    index += 1
                }
                return nil
            }
        }
    }
}
