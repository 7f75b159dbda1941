import Foundation
import Glibc

/// How fast this machine lets a program fill memory it has just been given: a receiver that takes a whole
/// 256 MiB message into a new array writes every byte of it into fresh pages. Measured in this process
/// (the client's CPU when pinned), 256 MiB with huge pages advised, as SolidIPC's receiver does: filled
/// right after the same amount was freed, filled after 3 s without using it, and written again once
/// present. On a virtual machine that hands free memory back to its host (free page reporting), memory
/// unused for a few seconds costs a fault on the host again: that rate, not the network, then bounds a
/// whole-message receive (measured here: about 0.5–0.9 GB/s against 5–6 GB/s for memory just freed).
enum FreshMemoryLimit {
    static let bytes = 256 * 1024 * 1024

    static func run(pin: Bool) -> LimitResult {
        printError("limit: filling fresh memory, 256 MiB three times (3 s idle before one)")
        guard let source = malloc(bytes) else { return LimitResult(name: "fresh memory", summary: "skipped (no memory)") }
        defer { free(source) }
        memset(source, 1, bytes)
        _ = fill(source)  // frees 256 MiB: the next fill reuses it
        guard let reused = fill(source) else { return LimitResult(name: "fresh memory", summary: "failed (mmap)") }
        sleep(3)
        guard let idle = fill(source) else { return LimitResult(name: "fresh memory", summary: "failed (mmap)") }
        let reporting = sysfs("/sys/module/page_reporting/parameters/page_reporting_order").map {
            "free page reporting on (order \($0))"
        } ?? "no free page reporting"
        let defrag = sysfs("/sys/kernel/mm/transparent_hugepage/defrag") ?? "?"
        let placement = pin ? "CPU 1" : "not pinned"
        let summary = "first fill of 256 MiB \(mbps(reused.first)) MB/s just after freeing as much, "
            + "\(mbps(idle.first)) MB/s after 3 s idle; rewrite \(mbps(reused.again)) MB/s "
            + "(huge pages advised, THP defrag \(defrag), \(reporting), \(placement))"
        return LimitResult(
            name: "fresh memory", summary: summary,
            values: ["first_fill_reused": reused.first, "first_fill_after_idle": idle.first, "rewrite": reused.again])
    }

    /// Bytes per second of filling a fresh mapping from `source`, then of filling it again.
    private static func fill(_ source: UnsafeMutableRawPointer) -> (first: Double, again: Double)? {
        let huge = 2 * 1024 * 1024
        guard let mapping = mmap(nil, bytes + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              mapping != MAP_FAILED
        else { return nil }
        defer { munmap(mapping, bytes + huge) }
        let aligned = UnsafeMutableRawPointer(bitPattern: (UInt(bitPattern: mapping) + UInt(huge - 1)) & ~UInt(huge - 1))!
        _ = madvise(aligned, bytes, MADV_HUGEPAGE)
        let start = nowNanos()
        memcpy(aligned, source, bytes)
        let middle = nowNanos()
        memcpy(aligned, source, bytes)
        let end = nowNanos()
        return (Double(bytes) / (Double(middle - start) / 1e9), Double(bytes) / (Double(end - middle) / 1e9))
    }

    private static func mbps(_ bytesPerSecond: Double) -> String { fixed(bytesPerSecond / 1e6, 0) }

    /// The first line of a sysfs file; for a `[selected]` list, the selected word.
    private static func sysfs(_ path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let line = text.split(separator: "\n").first.map(String.init) ?? ""
        if let open = line.firstIndex(of: "["), let close = line.firstIndex(of: "]"), open < close {
            return String(line[line.index(after: open)..<close])
        }
        return line.trimmingCharacters(in: .whitespaces)
    }
}
