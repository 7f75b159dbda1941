// Linux calls the Swift Glibc module does not expose (they need _GNU_SOURCE).
#ifndef C_BENCH_SUPPORT_H
#define C_BENCH_SUPPORT_H
/// Restricts the calling thread (and the threads it creates later) to one CPU; 0 on success, else errno.
int bench_pin_to_cpu(int cpu);
/// The CPU the calling thread runs on now, or -1.
int bench_current_cpu(void);
/// The process environment (`environ`), for posix_spawn.
char **bench_environment(void);
/// Sets the stack size of threads created from now on without explicit attributes (glibc
/// pthread_setattr_default_np); 0 on success, else the error number.
int bench_set_default_thread_stack(unsigned long bytes);
/// Returns free heap memory to the kernel (glibc malloc_trim(0)), so RSS starts from what is in use.
void bench_release_free_memory(void);
/// 1 when stderr is a terminal.
int bench_stderr_is_terminal(void);
#endif
