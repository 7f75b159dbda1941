import Glibc

/// Monotonic time in nanoseconds (CLOCK_MONOTONIC).
@inline(__always)
func nowNanos() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
}

/// Nanoseconds as seconds.
func seconds(_ nanos: UInt64) -> Double { Double(nanos) / 1e9 }
