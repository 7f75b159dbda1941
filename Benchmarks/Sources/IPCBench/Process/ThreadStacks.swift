import CBenchSupport

/// An optional stack size for every thread created after startup (reactor, event-loop and pool threads),
/// set with `--thread-stack-mib N`. By default (0) threads get the system's default stack.
///
/// History: SolidIPC's connection pump used to recurse once per packet while the kernel kept accepting
/// writes, which overflowed an 8 MiB stack on a 512 MiB stream; the library fixed that (the pump is not
/// re-entered and yields after 64 packets per reactor turn), so the option is only for experiments now.
enum ThreadStacks {
    /// 0: keep the system default.
    static let defaultMebibytes = 0

    /// Applies `mebibytes` (0 keeps the system default); returns a line for the report when the option
    /// changed anything (nil for the system default).
    static func apply(mebibytes: Int) -> String? {
        guard mebibytes > 0 else { return nil }
        let error = bench_set_default_thread_stack(UInt(mebibytes) << 20)
        return error == 0
            ? "thread stacks: \(mebibytes) MiB reserved per thread (--thread-stack-mib)"
            : "thread stacks: could not set \(mebibytes) MiB (error \(error)); system default"
    }
}
