// Linux system interfaces that Swift's Glibc module does not import: epoll, eventfd, timerfd and
// the GNU extensions (accept4, pipe2, thread naming and CPU affinity). Thin pass-throughs only.
#ifndef C_SOLID_LINUX_H
#define C_SOLID_LINUX_H

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>

int solid_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int solid_pipe2(int fds[2], int flags);
int solid_set_thread_name(const char *name);
int solid_pin_current_thread(int cpu);
int solid_current_tid(void);
/// The errno of the calling thread (read in C so no Swift runtime call runs in between).
int solid_errno(void);
/// Sets errno (tests of the syscall wrapper use it to simulate failures).
void solid_set_errno(int value);

#endif
