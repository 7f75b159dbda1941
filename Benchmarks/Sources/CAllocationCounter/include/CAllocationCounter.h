// Counts heap allocations of the whole process while enabled, by defining malloc & co. in the
// executable (which takes precedence over libc's) and forwarding to glibc's __libc_* entry points.
#ifndef C_ALLOCATION_COUNTER_H
#define C_ALLOCATION_COUNTER_H
void allocation_counter_start(void);
/// Stops counting and returns the number of allocations since start.
long allocation_counter_stop(void);
#endif
