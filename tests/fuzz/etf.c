/*
 * etf.c — fuzz target: ETF validation and canonicalisation (shmets_term_from_etf).
 *
 * The input is taken as ETF twice: as it is (131 first, or refused) and without a version
 * byte (SHMETS_ETF_NO_VERSION).  Whatever the bytes, the call returns 0 or an error code and
 * leaves *out {NULL, 0} on error; what it accepts must have every property of fuzz_term()
 * (a canonical fixed point, text that reads back, accessors that agree), the order's laws
 * over a tuple's elements (fuzz_order), and a key for every keypos the tuple has.
 * Seeds (tests/fuzz/etf/): term_to_binary of the terms of the codec tests and of the
 * differential scripts, compressed ones, and every old encoding Erlang still reads.
 */
#include "fuzz.h"

static void one(const uint8_t *data, size_t size, unsigned flags)
{
    shmets_term t = { (const unsigned char *)1, 1 };
    int rc = shmets_term_from_etf(data, size, flags, &t);
    if (rc) {
        FUZZ_CHECK(rc < 0 && -rc < SHMETS_ECOUNT && t.ptr == NULL && t.len == 0);
        return;
    }
    fuzz_term(t);
    fuzz_order(t);
    size_t arity;
    if (shmets_term_tuple_arity(t, &arity) == 0) {
        shmets_term key;
        for (unsigned pos = 1; pos <= arity && pos <= 4; pos++)
            FUZZ_CHECK(shmets_term_key(t, pos, &key) == 0);
        FUZZ_CHECK(shmets_term_key(t, (unsigned)arity + 1, &key) == -SHMETS_EBADPOS);
    }
    shmets_term_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size, 0);
    one(data, size, SHMETS_ETF_NO_VERSION);
    return 0;
}
