#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include "CBenchSupport.h"

int bench_pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) == 0 ? 0 : errno;
}

int bench_current_cpu(void) { return sched_getcpu(); }

char **bench_environment(void) { return environ; }

int bench_set_default_thread_stack(unsigned long bytes) {
    pthread_attr_t attr;
    int result = pthread_attr_init(&attr);
    if (result != 0) return result;
    result = pthread_attr_setstacksize(&attr, bytes);
    if (result == 0) result = pthread_setattr_default_np(&attr);
    pthread_attr_destroy(&attr);
    return result;
}

void bench_release_free_memory(void) { malloc_trim(0); }

int bench_stderr_is_terminal(void) { return isatty(2); }
