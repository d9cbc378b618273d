/*
 * parse.c — fuzz target: the term-syntax parser (shmets_term_parse).
 *
 * The input is term text.  The parser must return 0 or an error code, never read past len
 * (the input is not NUL-terminated: libFuzzer's buffer ends where the input does, and ASan
 * sees a read past it), and what it accepts must have every property of fuzz_term() and, for
 * a tuple, the order's laws over its elements (fuzz_order).  Seeds (tests/fuzz/parse/): the
 * texts of the text tests and the arguments of the differential scripts.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    shmets_term t = { (const unsigned char *)1, 1 };
    int rc = shmets_term_parse((const char *)data, size, &t);
    if (rc) {
        FUZZ_CHECK(rc < 0 && -rc < SHMETS_ECOUNT && t.ptr == NULL && t.len == 0);
        return 0;
    }
    fuzz_term(t);
    fuzz_order(t);
    shmets_term_free(&t);
    return 0;
}
