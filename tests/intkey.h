/*
 * intkey.h — the canonical encoding of a small integer key, made without the parser, for tests
 * and harnesses that loop over many keys (never part of the library; needs only shmets.h, no
 * cmocka, so the fuzz targets' damage trials use it too).
 */
#ifndef SHMETS_INTKEY_H
#define SHMETS_INTKEY_H

#include "shmets.h"

#include <stdint.h>

/* Key k (< 2^31) written into b[5] as Erlang writes it — SMALL_INTEGER_EXT below 256,
 * INTEGER_EXT above — and returned as a term of b. */
static inline shmets_term int_key(uint32_t k, unsigned char b[5])
{
    if (k < 256) {
        b[0] = 97;                      /* SMALL_INTEGER_EXT */
        b[1] = (unsigned char)k;
        return (shmets_term){ b, 2 };
    }
    b[0] = 98;                          /* INTEGER_EXT */
    for (int i = 0; i < 4; i++)
        b[1 + i] = (unsigned char)(k >> (24 - 8 * i));
    return (shmets_term){ b, 5 };
}

#endif
