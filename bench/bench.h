/* bench/bench.h - what every bench program (bench/NAME.c) shares: the tensorlite implementation and a monotonic
   clock. Include it first (it sets _POSIX_C_SOURCE for clock_gettime). */
#ifndef TL_BENCH_H
#define TL_BENCH_H
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 199309L
#endif
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include <stdio.h>
#include <time.h>

static double now_s(void) { /* seconds on the monotonic clock */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
#endif
