/*
 * etf.h — private to build/shmets-bench: the canonical external term format of the few terms
 * the benchmarks write by hand into stack buffers (an integer key, a YCSB record), because
 * the public API makes terms only in malloc'd memory (the builder).  Each user checks at load
 * time that what it writes is byte for byte what the builder makes.
 */
#ifndef SHMETS_BENCH_ETF_H
#define SHMETS_BENCH_ETF_H

#include <stddef.h>
#include <stdint.h>

/* The canonical encoding of non-negative integer k (erlang:term_to_binary(K) without the 131)
 * into b (at most 11 bytes); returns its length. */
static inline size_t etf_uint(uint64_t k, unsigned char *b)
{
    if (k < 256) {
        b[0] = 97;                      /* SMALL_INTEGER_EXT */
        b[1] = (unsigned char)k;
        return 2;
    }
    if (k < (1ull << 31)) {
        b[0] = 98;                      /* INTEGER_EXT, big-endian */
        b[1] = (unsigned char)(k >> 24);
        b[2] = (unsigned char)(k >> 16);
        b[3] = (unsigned char)(k >> 8);
        b[4] = (unsigned char)k;
        return 5;
    }
    unsigned n = 0;                     /* SMALL_BIG_EXT: n, sign, n bytes little-endian */
    for (uint64_t x = k; x; x >>= 8)
        b[3 + n++] = (unsigned char)x;
    b[0] = 110;
    b[1] = (unsigned char)n;
    b[2] = 0;
    return 3 + n;
}

#endif
