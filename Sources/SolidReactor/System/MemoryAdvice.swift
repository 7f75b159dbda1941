import CSolidLinux
import Glibc

/// Hints to the kernel about how memory will be used.
public enum MemoryAdvice {
    /// Size of a transparent huge page on x86-64 and most arm64 kernels.
    public static let hugePageBytes = 2 * 1024 * 1024

    /// Asks for transparent huge pages on the 2 MiB-aligned part of `region` (`madvise(MADV_HUGEPAGE)`),
    /// so filling a large fresh buffer costs one page fault per 2 MiB instead of per 4 KiB. Advice only:
    /// returns `false` when the region has no aligned 2 MiB or the kernel refused (huge pages disabled).
    @discardableResult
    public static func preferHugePages(_ region: UnsafeMutableRawBufferPointer) -> Bool {
        guard let base = region.baseAddress else { return false }
        let mask = UInt(hugePageBytes - 1)
        let start = (UInt(bitPattern: base) + mask) & ~mask
        let end = (UInt(bitPattern: base) + UInt(region.count)) & ~mask
        guard end > start else { return false }
        let pointer = UnsafeMutableRawPointer(bitPattern: start)
        do {
            _ = try syscallValue("madvise") { madvise(pointer, Int(end - start), MADV_HUGEPAGE) }
            return true
        } catch {
            return false
        }
    }
}
