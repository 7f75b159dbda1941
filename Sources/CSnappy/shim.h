// Snappy's C API (system libsnappy-dev).
#include <snappy-c.h>
