#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <pthread.h>
#include "CSolidLinux.h"

int solid_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    return accept4(fd, addr, len, flags);
}

int solid_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }

int solid_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }

int solid_pin_current_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set);
}

int solid_current_tid(void) { return (int)syscall(SYS_gettid); }

int solid_errno(void) { return errno; }

void solid_set_errno(int value) { errno = value; }
