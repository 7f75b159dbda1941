import Glibc

/// Resident memory of a process, read from `/proc/PID/status` (Linux only).
enum ProcessMemory {
    /// Resets this process's peak RSS (VmHWM) to its current RSS (`echo 5 > /proc/self/clear_refs`).
    /// Returns `false` where the kernel refuses it; the peak then covers the whole process life.
    /// Free heap memory is handed back to the system first (`malloc_trim(0)`): memory another system's
    /// run freed but malloc kept (gRPC's W2 left about 256 MiB in the client process) would otherwise
    /// count in the next phase's peak, whichever system it measures.
    @discardableResult
    static func resetPeak() -> Bool {
        _ = mallocTrim(0)
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "5", 1) == 1
    }

    /// Peak resident set size in bytes (VmHWM).
    static func peakBytes(pid: String = "self") -> Int? { field("VmHWM", pid: pid).map { $0 * 1024 } }

    /// Current resident set size in bytes (VmRSS).
    static func currentBytes(pid: String = "self") -> Int? { field("VmRSS", pid: pid).map { $0 * 1024 } }

    /// The CPUs a process may run on, as the kernel prints them (`Cpus_allowed_list`).
    static func allowedCPUs(pid: String = "self") -> String? { text("Cpus_allowed_list", pid: pid) }

    private static func field(_ name: String, pid: String) -> Int? {
        guard let value = text(name, pid: pid) else { return nil }
        return Int(value.split(separator: " ").first ?? "")
    }

    private static func text(_ name: String, pid: String) -> String? {
        guard let status = readSmallFile("/proc/\(pid)/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            return line.dropFirst(name.count + 1).trimmingCharacters()
        }
        return nil
    }
}

/// Reads a small text file (up to 64 KiB) without Foundation.
func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while bytes.count < 65536 {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count <= 0 { break }
        bytes.append(contentsOf: buffer[0..<count])
    }
    return String(decoding: bytes, as: UTF8.self)
}

extension Substring {
    /// The text without leading and trailing spaces and tabs.
    func trimmingCharacters() -> String {
        var slice = self[...]
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}

/// glibc's `malloc_trim` (declared in `malloc.h`, which the Glibc module does not export).
@_silgen_name("malloc_trim")
private func mallocTrim(_ pad: Int) -> Int32
