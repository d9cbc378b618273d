/*
 * testutil.h — helpers shared by the cmocka tests (never part of the library).  Include after
 * <cmocka.h>.
 *   struct buf    a growable byte buffer for hand-made encodings (big-endian writers)
 *   child_init()  for forked children: restore default crash signals, so a child that crashes
 *                 dies instead of falling back into cmocka's handlers in the parent's test loop
 *   stress_factor()  1 in `make check`; N under `make stress` (SHMETS_STRESS=N): multi-process
 *                 tests run N times longer or N times more rounds
 *   limit_data_memory(bytes)  cap the process's private memory (RLIMIT_DATA; shared mappings
 *                 do not count), so a traversal that never ends fails with ENOMEM instead of
 *                 taking the machine's memory; a no-op under AddressSanitizer, whose shadow
 *                 memory the limit would refuse
 */
#ifndef SHMETS_TESTUTIL_H
#define SHMETS_TESTUTIL_H

#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

struct buf {
    unsigned char *p;
    size_t n, cap;
};

static inline void buf_put(struct buf *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, src, n);
    b->n += n;
}

static inline void buf_u8(struct buf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    buf_put(b, &c, 1);
}

static inline void buf_u16(struct buf *b, unsigned v)
{
    buf_u8(b, v >> 8);
    buf_u8(b, v & 0xff);
}

static inline void buf_u32(struct buf *b, uint32_t v)
{
    buf_u8(b, v >> 24);
    buf_u8(b, (v >> 16) & 0xff);
    buf_u8(b, (v >> 8) & 0xff);
    buf_u8(b, v & 0xff);
}

static inline void buf_fill(struct buf *b, unsigned v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_u8(b, v);
}

static inline void buf_rep(struct buf *b, const void *pat, size_t n, size_t times)
{
    for (size_t i = 0; i < times; i++)
        buf_put(b, pat, n);
}

static inline void buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

static inline void child_init(void)
{
    int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], SIG_DFL);
}

static inline unsigned stress_factor(void)
{
    const char *s = getenv("SHMETS_STRESS");
    long v = s ? strtol(s, NULL, 10) : 1;
    return v > 1 && v < 100000 ? (unsigned)v : 1;
}

#if defined(__SANITIZE_ADDRESS__)
#define TESTUTIL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TESTUTIL_ASAN 1
#endif
#endif

static inline void limit_data_memory(uint64_t bytes)
{
#ifndef TESTUTIL_ASAN
    struct rlimit rl = { (rlim_t)bytes, (rlim_t)bytes };
    setrlimit(RLIMIT_DATA, &rl);
#else
    (void)bytes;
#endif
}

#endif
