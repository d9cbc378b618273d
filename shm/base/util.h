/*
 * util.h — private to libshmets (not installed): error helpers, byte order, invariants.
 */
#ifndef SHMETS_UTIL_H
#define SHMETS_UTIL_H

#include <stdint.h>
#include <string.h>
#include <time.h>

/* The way out a damaged table's error names (issue 20; include/shmets.h shmets_salvage). */
#define SALVAGE_HINT "; shmets check --salvage TAB NEWTAB copies what is intact"

/* Record what went wrong in the thread's detail buffer and return -code. */
int err_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void err_clear(void);

/* A broken internal invariant: print file, line and the invariant, then abort. */
void die(const char *file, int line, const char *what) __attribute__((noreturn));
#define INVARIANT(c) ((c) ? (void)0 : die(__FILE__, __LINE__, #c))
/* SQLite's ALWAYS/NEVER: conditions believed impossible, checked in every build. */
#define ALWAYS(c) ((c) ? 1 : (die(__FILE__, __LINE__, "ALWAYS(" #c ")"), 0))
#define NEVER(c)  ((c) ? (die(__FILE__, __LINE__, "NEVER(" #c ")"), 1) : 0)

/* A spin-wait hint to the CPU. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* CLOCK_MONOTONIC in nanoseconds: one clock for every process of the host (boot-relative), so
 * a time stored in shared memory by one process means the same to another. */
static inline uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint16_t get_be16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t get_be64(const unsigned char *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}
static inline void put_be16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)(v >> 8); p[1] = (unsigned char)v; }
static inline void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);  p[3] = (unsigned char)v;
}
static inline void put_be64(unsigned char *p, uint64_t v) { put_be32(p, (uint32_t)(v >> 32)); put_be32(p + 4, (uint32_t)v); }

/* Equal bytes, for the short keys and constants most tables and match specifications have,
 * without a call into libc: two loads that may overlap cover 4-16 bytes (every load stays
 * inside both buffers). */
static inline int bytes_equal(const unsigned char *a, const unsigned char *b, uint32_t n)
{
    uint64_t x, y, u, v;
    if (n >= 8 && n <= 16) {
        memcpy(&x, a, 8); memcpy(&y, b, 8);
        memcpy(&u, a + n - 8, 8); memcpy(&v, b + n - 8, 8);
        return ((x ^ y) | (u ^ v)) == 0;
    }
    if (n >= 4 && n < 8) {
        uint32_t x4, y4, u4, v4;
        memcpy(&x4, a, 4); memcpy(&y4, b, 4);
        memcpy(&u4, a + n - 4, 4); memcpy(&v4, b + n - 4, 4);
        return ((x4 ^ y4) | (u4 ^ v4)) == 0;
    }
    return memcmp(a, b, n) == 0;
}

#endif
