/*
 * bench/benchutil.h — what the small benchmark programs of bench/ share (never part of the
 * library): a monotonic clock in seconds, a xorshift64* draw, and dying with the library's
 * words for an error.
 */
#ifndef SHMETS_BENCHUTIL_H
#define SHMETS_BENCHUTIL_H

#include "shmets.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* xorshift64*: *s must start non-zero. */
static inline uint64_t bench_rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* "PROG: WHAT: words (detail)" on stderr, then exit(1). */
static inline __attribute__((noreturn)) void bench_die(const char *prog, const char *what, int rc)
{
    fprintf(stderr, "%s: %s: %s (%s)\n", prog, what, shmets_strerror(rc), shmets_errdetail());
    exit(1);
}

#endif
