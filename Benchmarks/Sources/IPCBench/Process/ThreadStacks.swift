import CBenchSupport

/// The stack size given to every thread created after startup (reactor, event-loop and pool threads).
///
/// Why: SolidIPC's `Connection.pump()` → `TCPStream.write` → (write completes at once) → completion →
/// `pump()` recurses once per packet while the kernel keeps accepting writes, about 550 bytes of stack
/// per 16 KiB packet; a 256 MiB message or stream can overflow a default 8 MiB thread stack (seen: a
/// segfault 138,000 frames deep sending a 512 MiB stream). A large reservation lets the run finish; the
/// pages the recursion touches count in the sender's RSS, as they would for a user.
enum ThreadStacks {
    /// Enough for a 4 GiB stream sent without the kernel ever pushing back (about 150 MiB), with margin.
    static let defaultMebibytes = 512

    /// Applies `mebibytes` (0 keeps the system default); returns a line for the report.
    static func apply(mebibytes: Int) -> String {
        guard mebibytes > 0 else { return "thread stacks: system default (--thread-stack-mib 0)" }
        let error = bench_set_default_thread_stack(UInt(mebibytes) << 20)
        return error == 0
            ? "thread stacks: \(mebibytes) MiB reserved per thread (works around SolidIPC's per-packet send recursion; see README)"
            : "thread stacks: could not set \(mebibytes) MiB (error \(error)); system default"
    }
}
