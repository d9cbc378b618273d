/*
 * test_term_codec.c — the term codec of shmets.h parts 2-4.
 *
 * Covers: ETF validation and every canonicalisation rule (integers of every size, both float
 * encodings, Latin-1 and UTF-8 atoms, both tuple encodings, the list forms, bitstrings, pids,
 * ports, references, exports, funs, map key order, compressed input, SHMETS_ETF_NO_VERSION),
 * round trips through shmets_term_to_etf(), dup and free, the builder (every build call,
 * nesting, misuse, sticky errors, reuse), the accessors, key extraction and the hash.
 *
 * Every expected byte string is what Erlang/OTP 25 gives for
 * term_to_binary(binary_to_term(Input), [{minor_version,2}]) (checked by hand with erl; the
 * expected values are hard-coded here so that the test needs no Erlang).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <zlib.h>
#include <cmocka.h>

#include "shmets.h"
#include "testutil.h"

/* E(1,2,3) is two function arguments: a pointer to the bytes and their number. */
#define E(...) ((const unsigned char[]){__VA_ARGS__}), sizeof((const unsigned char[]){__VA_ARGS__})

/* The node atom nonode@nohost as SMALL_ATOM_UTF8_EXT and as ATOM_EXT. */
#define NONODE_UTF8 119, 13, 'n', 'o', 'n', 'o', 'd', 'e', '@', 'n', 'o', 'h', 'o', 's', 't'
#define NONODE_LATIN1 100, 0, 13, 'n', 'o', 'n', 'o', 'd', 'e', '@', 'n', 'o', 'h', 'o', 's', 't'
/* The node atom x@y. */
#define XY_UTF8 119, 3, 'x', '@', 'y'
#define XY_LATIN1 100, 0, 3, 'x', '@', 'y'

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                   */
/* ---------------------------------------------------------------------------------------- */

static void dump(const char *what, const unsigned char *p, size_t n)
{
    print_message("%s (%zu bytes):", what, n);
    for (size_t i = 0; i < n && i < 64; i++)
        print_message(" %u", p[i]);
    print_message("%s\n", n > 64 ? " ..." : "");
}

/* True if term t is exactly the encoding exp (which starts with 131). */
static int term_is(shmets_term t, const unsigned char *exp, size_t explen)
{
    return t.ptr != NULL && t.len + 1 == explen && memcmp(t.ptr, exp + 1, t.len) == 0;
}

static void check_term_is(int line, shmets_term t, const unsigned char *exp, size_t explen)
{
    if (!term_is(t, exp, explen)) {
        print_message("line %d: term differs\n", line);
        dump("expected", exp + 1, explen - 1);
        dump("got     ", t.ptr ? t.ptr : (const unsigned char *)"", t.ptr ? t.len : 0);
        fail();
    }
}

static shmets_term etf(int line, const unsigned char *in, size_t len)
{
    shmets_term t = { NULL, 0 };
    int rc = shmets_term_from_etf(in, len, 0, &t);
    if (rc != 0) {
        print_message("line %d: shmets_term_from_etf = %d (%s: %s)\n", line, rc,
                      shmets_strerror(rc), shmets_errdetail());
        dump("input", in, len);
        fail();
    }
    return t;
}
#define ETF(...) etf(__LINE__, __VA_ARGS__)

/*
 * Input `in` must be accepted and canonicalised to `exp` (an encoding with 131); exp must
 * itself be a fixed point, and shmets_term_to_etf() must give exp back.
 */
static void canon(int line, const unsigned char *in, size_t inlen,
                  const unsigned char *exp, size_t explen)
{
    shmets_term t = etf(line, in, inlen), t2;
    unsigned char *out = NULL;
    size_t outlen = 0;

    check_term_is(line, t, exp, explen);
    assert_int_equal(shmets_term_to_etf(t, &out, &outlen), 0);
    assert_int_equal(outlen, explen);
    assert_memory_equal(out, exp, explen);
    free(out);
    t2 = etf(line, exp, explen);
    check_term_is(line, t2, exp, explen);
    shmets_term_free(&t2);
    shmets_term_free(&t);
}
#define CANON(in, exp) canon(__LINE__, in, exp)
/* An encoding that is already canonical. */
#define SAME(...) canon(__LINE__, E(__VA_ARGS__), E(__VA_ARGS__))

static void expect_err(int line, const unsigned char *in, size_t len, int err)
{
    shmets_term t = { (const unsigned char *)"x", 1 };
    int rc = shmets_term_from_etf(in, len, 0, &t);
    if (rc != err) {
        print_message("line %d: shmets_term_from_etf = %d, expected %d\n", line, rc, err);
        dump("input", in, len);
        if (rc == 0)
            shmets_term_free(&t);
        fail();
    }
    assert_null(t.ptr);
    assert_int_equal(t.len, 0);
}
#define EXPECT_ERR(in, err) expect_err(__LINE__, in, -(err))

/* An old FLOAT_EXT: 131, 99 and the text in a 31-byte NUL-padded field. */
static void old_float(unsigned char out[33], const char *text)
{
    memset(out, 0, 33);
    out[0] = 131;
    out[1] = 99;
    memcpy(out + 2, text, strlen(text));
}

/* ---------------------------------------------------------------------------------------- */
/* Canonicalisation                                                                          */
/* ---------------------------------------------------------------------------------------- */

static void test_canon_integers(void **state)
{
    (void)state;
    /* Canonical forms at the boundaries. */
    SAME(131, 97, 0);
    SAME(131, 97, 255);
    SAME(131, 98, 0, 0, 1, 0);                                   /* 256 */
    SAME(131, 98, 255, 255, 255, 255);                           /* -1 */
    SAME(131, 98, 127, 255, 255, 255);                           /* 2^31-1 */
    SAME(131, 98, 128, 0, 0, 0);                                 /* -2^31 */
    SAME(131, 110, 4, 0, 0, 0, 0, 128);                          /* 2^31 */
    SAME(131, 110, 4, 1, 1, 0, 0, 128);                          /* -2^31-1 */
    SAME(131, 110, 8, 0, 255, 255, 255, 255, 255, 255, 255, 255); /* 2^64-1 */
    SAME(131, 110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);             /* 2^64 */
    SAME(131, 110, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1);             /* -2^64 */

    /* INTEGER_EXT of a byte value becomes SMALL_INTEGER_EXT. */
    CANON(E(131, 98, 0, 0, 0, 5), E(131, 97, 5));
    CANON(E(131, 98, 0, 0, 0, 0), E(131, 97, 0));
    CANON(E(131, 98, 0, 0, 0, 255), E(131, 97, 255));
    /* Bigs that fit are demoted. */
    CANON(E(131, 110, 2, 0, 0, 1), E(131, 98, 0, 0, 1, 0));
    CANON(E(131, 110, 1, 1, 1), E(131, 98, 255, 255, 255, 255));
    CANON(E(131, 110, 4, 0, 255, 255, 255, 127), E(131, 98, 127, 255, 255, 255));
    CANON(E(131, 110, 4, 1, 0, 0, 0, 128), E(131, 98, 128, 0, 0, 0));
    CANON(E(131, 110, 4, 0, 1, 0, 0, 0), E(131, 97, 1));
    CANON(E(131, 110, 4, 1, 1, 0, 0, 0), E(131, 98, 255, 255, 255, 255));
    /* Zero in every big form, with either sign. */
    CANON(E(131, 110, 0, 0), E(131, 97, 0));
    CANON(E(131, 110, 0, 1), E(131, 97, 0));
    CANON(E(131, 110, 4, 1, 0, 0, 0, 0), E(131, 97, 0));
    CANON(E(131, 111, 0, 0, 0, 0, 0), E(131, 97, 0));
    /* Leading (most significant) zero bytes are dropped. */
    CANON(E(131, 110, 8, 0, 0, 0, 0, 128, 0, 0, 0, 0), E(131, 110, 4, 0, 0, 0, 0, 128));
    CANON(E(131, 111, 0, 0, 0, 2, 0, 5, 0), E(131, 97, 5));
    CANON(E(131, 111, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
          E(131, 110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1));
}

/* SMALL_BIG_EXT holds up to 255 bytes of magnitude, LARGE_BIG_EXT the rest. */
static void test_canon_big_boundary(void **state)
{
    struct buf in = { 0 }, exp = { 0 };
    (void)state;

    /* 2^2039 (255 bytes) written as LARGE_BIG_EXT with 45 bytes of zero padding. */
    buf_u8(&in, 131); buf_u8(&in, 111); buf_u32(&in, 300); buf_u8(&in, 0);
    buf_fill(&in, 0, 254); buf_u8(&in, 0x80); buf_fill(&in, 0, 45);
    buf_u8(&exp, 131); buf_u8(&exp, 110); buf_u8(&exp, 255); buf_u8(&exp, 0);
    buf_fill(&exp, 0, 254); buf_u8(&exp, 0x80);
    canon(__LINE__, in.p, in.n, exp.p, exp.n);
    buf_free(&in);
    buf_free(&exp);

    /* -2^2040 (256 bytes) stays LARGE_BIG_EXT. */
    buf_u8(&exp, 131); buf_u8(&exp, 111); buf_u32(&exp, 256); buf_u8(&exp, 1);
    buf_fill(&exp, 0, 255); buf_u8(&exp, 1);
    canon(__LINE__, exp.p, exp.n, exp.p, exp.n);
    buf_free(&exp);

    /* The largest allowed integer: SHMETS_BIG_MAX_BYTES bytes of 0xff. */
    buf_u8(&exp, 131); buf_u8(&exp, 111); buf_u32(&exp, SHMETS_BIG_MAX_BYTES); buf_u8(&exp, 0);
    buf_fill(&exp, 0xff, SHMETS_BIG_MAX_BYTES);
    canon(__LINE__, exp.p, exp.n, exp.p, exp.n);
    buf_free(&exp);
}

static void test_canon_floats(void **state)
{
    unsigned char f[33];
    (void)state;

    SAME(131, 70, 63, 248, 0, 0, 0, 0, 0, 0);        /* 1.5 */
    SAME(131, 70, 128, 0, 0, 0, 0, 0, 0, 0);         /* -0.0 stays -0.0 */
    SAME(131, 70, 0, 0, 0, 0, 0, 0, 0, 0);           /* 0.0 */
    SAME(131, 70, 0, 0, 0, 0, 0, 0, 0, 1);           /* 5.0e-324 */
    SAME(131, 70, 127, 239, 255, 255, 255, 255, 255, 255); /* DBL_MAX */

    old_float(f, "1.50000000000000000000e+00");
    canon(__LINE__, f, sizeof f, E(131, 70, 63, 248, 0, 0, 0, 0, 0, 0));
    old_float(f, "-2.5e3");
    canon(__LINE__, f, sizeof f, E(131, 70, 192, 163, 136, 0, 0, 0, 0, 0));
    old_float(f, "-0.00000000000000000000e+00");
    canon(__LINE__, f, sizeof f, E(131, 70, 128, 0, 0, 0, 0, 0, 0, 0));
    old_float(f, "1.00000000000000005551e-01");
    canon(__LINE__, f, sizeof f, E(131, 70, 63, 185, 153, 153, 153, 153, 153, 154)); /* 0.1 */
}

static void test_canon_atoms(void **state)
{
    struct buf in = { 0 }, exp = { 0 };
    (void)state;

    SAME(131, 119, 1, 'a');
    SAME(131, 119, 0);
    SAME(131, 119, 3, 226, 130, 172);                          /* U+20AC */
    CANON(E(131, 100, 0, 3, 'a', 'b', 'c'), E(131, 119, 3, 'a', 'b', 'c'));
    CANON(E(131, 100, 0, 0), E(131, 119, 0));
    CANON(E(131, 115, 0), E(131, 119, 0));
    /* Latin-1 'é' (233) becomes UTF-8. */
    CANON(E(131, 100, 0, 1, 233), E(131, 119, 2, 195, 169));
    CANON(E(131, 115, 1, 233), E(131, 119, 2, 195, 169));
    CANON(E(131, 118, 0, 2, 195, 169), E(131, 119, 2, 195, 169));
    /* Latin-1 bytes 195,169 are the two characters 'Ã©', not 'é'. */
    CANON(E(131, 100, 0, 2, 195, 169), E(131, 119, 4, 195, 131, 194, 169));
    /* Atoms inside containers are canonicalised too. */
    CANON(E(131, 104, 2, 100, 0, 1, 'a', 115, 1, 'b'), E(131, 104, 2, 119, 1, 'a', 119, 1, 'b'));

    /* 127 'é' fit SMALL_ATOM_UTF8_EXT (254 bytes); 128 need ATOM_UTF8_EXT. */
    buf_u8(&in, 131); buf_u8(&in, 100); buf_u16(&in, 127); buf_fill(&in, 233, 127);
    buf_u8(&exp, 131); buf_u8(&exp, 119); buf_u8(&exp, 254);
    for (int i = 0; i < 127; i++) { buf_u8(&exp, 195); buf_u8(&exp, 169); }
    canon(__LINE__, in.p, in.n, exp.p, exp.n);
    buf_free(&in); buf_free(&exp);

    buf_u8(&in, 131); buf_u8(&in, 115); buf_u8(&in, 128); buf_fill(&in, 233, 128);
    buf_u8(&exp, 131); buf_u8(&exp, 118); buf_u16(&exp, 256);
    for (int i = 0; i < 128; i++) { buf_u8(&exp, 195); buf_u8(&exp, 169); }
    canon(__LINE__, in.p, in.n, exp.p, exp.n);
    buf_free(&in); buf_free(&exp);

    /* 255 characters, the limit. */
    buf_u8(&in, 131); buf_u8(&in, 100); buf_u16(&in, 255); buf_fill(&in, 233, 255);
    buf_u8(&exp, 131); buf_u8(&exp, 118); buf_u16(&exp, 510);
    for (int i = 0; i < 255; i++) { buf_u8(&exp, 195); buf_u8(&exp, 169); }
    canon(__LINE__, in.p, in.n, exp.p, exp.n);
    buf_free(&in); buf_free(&exp);
}

static void test_canon_tuples(void **state)
{
    struct buf in = { 0 }, exp = { 0 };
    (void)state;

    SAME(131, 104, 0);
    SAME(131, 104, 2, 119, 1, 'a', 97, 1);
    /* LARGE_TUPLE_EXT of up to 255 elements becomes SMALL_TUPLE_EXT. */
    CANON(E(131, 105, 0, 0, 0, 0), E(131, 104, 0));
    CANON(E(131, 105, 0, 0, 0, 1, 97, 1), E(131, 104, 1, 97, 1));
    buf_u8(&in, 131); buf_u8(&in, 105); buf_u32(&in, 255);
    buf_u8(&exp, 131); buf_u8(&exp, 104); buf_u8(&exp, 255);
    for (int i = 0; i < 255; i++) {
        buf_u8(&in, 98); buf_u32(&in, 7);
        buf_u8(&exp, 97); buf_u8(&exp, 7);
    }
    canon(__LINE__, in.p, in.n, exp.p, exp.n);
    buf_free(&in); buf_free(&exp);
    /* 256 elements need LARGE_TUPLE_EXT. */
    buf_u8(&exp, 131); buf_u8(&exp, 105); buf_u32(&exp, 256);
    for (int i = 0; i < 256; i++)
        buf_u8(&exp, 106);
    canon(__LINE__, exp.p, exp.n, exp.p, exp.n);
    buf_free(&exp);
}

static void test_canon_lists(void **state)
{
    (void)state;
    SAME(131, 106);
    SAME(131, 107, 0, 3, 1, 2, 3);
    SAME(131, 108, 0, 0, 0, 1, 119, 1, 'a', 106);                 /* [a] */
    SAME(131, 108, 0, 0, 0, 4, 97, 1, 97, 2, 97, 3, 98, 0, 0, 1, 0, 106); /* [1,2,3,256] */
    SAME(131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 97, 3);              /* [1,2|3] */
    SAME(131, 108, 0, 0, 0, 1, 107, 0, 2, 1, 2, 106);             /* ["\1\2"] */
    /* LIST_EXT of byte-sized integers becomes STRING_EXT. */
    CANON(E(131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 106), E(131, 107, 0, 2, 1, 2));
    CANON(E(131, 108, 0, 0, 0, 2, 98, 0, 0, 0, 0, 97, 255, 106), E(131, 107, 0, 2, 0, 255));
    CANON(E(131, 108, 0, 0, 0, 1, 110, 1, 0, 5, 106), E(131, 107, 0, 1, 5));
    CANON(E(131, 108, 0, 0, 0, 2, 110, 1, 1, 5, 97, 1, 106),
          E(131, 108, 0, 0, 0, 2, 98, 255, 255, 255, 251, 97, 1, 106));       /* [-5,1] */
    /* [] forms. */
    CANON(E(131, 107, 0, 0), E(131, 106));
    CANON(E(131, 108, 0, 0, 0, 0, 106), E(131, 106));
    /* A LIST_EXT of no elements is its tail. */
    CANON(E(131, 108, 0, 0, 0, 0, 97, 5), E(131, 97, 5));
    CANON(E(131, 108, 0, 0, 0, 0, 108, 0, 0, 0, 1, 97, 1, 106), E(131, 107, 0, 1, 1));
    CANON(E(131, 108, 0, 0, 0, 1, 119, 1, 'a', 108, 0, 0, 0, 0, 97, 5),
          E(131, 108, 0, 0, 0, 1, 119, 1, 'a', 97, 5));                 /* [a|5] */
    /* A STRING_EXT tail is merged. */
    CANON(E(131, 108, 0, 0, 0, 1, 119, 1, 'a', 107, 0, 2, 'b', 'c'),
          E(131, 108, 0, 0, 0, 3, 119, 1, 'a', 97, 'b', 97, 'c', 106)); /* [a|"bc"] */
    CANON(E(131, 108, 0, 0, 0, 1, 97, 1, 107, 0, 2, 'b', 'c'), E(131, 107, 0, 3, 1, 'b', 'c'));
    CANON(E(131, 108, 0, 0, 0, 1, 97, 1, 107, 0, 0), E(131, 107, 0, 1, 1));
    /* A LIST_EXT tail is merged. */
    CANON(E(131, 108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 106), E(131, 107, 0, 2, 1, 2));
    CANON(E(131, 108, 0, 0, 0, 1, 119, 1, 'a', 108, 0, 0, 0, 1, 119, 1, 'b', 119, 1, 'c'),
          E(131, 108, 0, 0, 0, 2, 119, 1, 'a', 119, 1, 'b', 119, 1, 'c')); /* [a,b|c] */
    /* Improper lists of bytes stay LIST_EXT. */
    CANON(E(131, 108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 97, 3),
          E(131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 97, 3));
}

/* STRING_EXT holds at most 65535 elements. */
static void test_canon_string_limit(void **state)
{
    struct buf in = { 0 }, exp = { 0 };
    (void)state;

    /* 65535 ones as LIST_EXT -> STRING_EXT. */
    buf_u8(&in, 131); buf_u8(&in, 108); buf_u32(&in, 65535);
    for (int i = 0; i < 65535; i++) { buf_u8(&in, 97); buf_u8(&in, 1); }
    buf_u8(&in, 106);
    buf_u8(&exp, 131); buf_u8(&exp, 107); buf_u16(&exp, 65535); buf_fill(&exp, 1, 65535);
    canon(__LINE__, in.p, in.n, exp.p, exp.n);
    buf_free(&in); buf_free(&exp);

    /* 65536 ones stay LIST_EXT. */
    buf_u8(&exp, 131); buf_u8(&exp, 108); buf_u32(&exp, 65536);
    for (int i = 0; i < 65536; i++) { buf_u8(&exp, 97); buf_u8(&exp, 1); }
    buf_u8(&exp, 106);
    canon(__LINE__, exp.p, exp.n, exp.p, exp.n);
    /* ... also when given as [1 | STRING_EXT of 65535 ones]. */
    buf_u8(&in, 131); buf_u8(&in, 108); buf_u32(&in, 1); buf_u8(&in, 97); buf_u8(&in, 1);
    buf_u8(&in, 107); buf_u16(&in, 65535); buf_fill(&in, 1, 65535);
    canon(__LINE__, in.p, in.n, exp.p, exp.n);
    buf_free(&in); buf_free(&exp);
}

static void test_canon_binaries(void **state)
{
    (void)state;
    SAME(131, 109, 0, 0, 0, 0);
    SAME(131, 109, 0, 0, 0, 3, 1, 2, 3);
    SAME(131, 77, 0, 0, 0, 2, 3, 1, 64);                       /* <<1,2:3>> */
    /* A whole last byte makes a binary. */
    CANON(E(131, 77, 0, 0, 0, 1, 8, 255), E(131, 109, 0, 0, 0, 1, 255));
    CANON(E(131, 77, 0, 0, 0, 3, 8, 1, 2, 3), E(131, 109, 0, 0, 0, 3, 1, 2, 3));
    /* Unused low bits are zeroed. */
    CANON(E(131, 77, 0, 0, 0, 2, 3, 1, 255), E(131, 77, 0, 0, 0, 2, 3, 1, 224));
    CANON(E(131, 77, 0, 0, 0, 1, 1, 0x7f), E(131, 77, 0, 0, 0, 1, 1, 0));
    CANON(E(131, 77, 0, 0, 0, 1, 7, 0xff), E(131, 77, 0, 0, 0, 1, 7, 0xfe));
}

static void test_canon_pids_ports_refs(void **state)
{
    (void)state;
    SAME(131, 88, NONODE_UTF8, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0);     /* <0.5.0> */
    SAME(131, 89, NONODE_UTF8, 0, 0, 0, 9, 0, 0, 0, 0);                 /* #Port<0.9> */
    SAME(131, 90, 0, 3, NONODE_UTF8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3);
    SAME(131, 90, 0, 2, XY_UTF8, 0, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0, 8);
    SAME(131, 90, 0, 5, XY_UTF8, 0, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0, 8, 0, 0, 0, 7, 0, 0, 0, 8,
         0, 0, 0, 9);

    /* PID_EXT -> NEW_PID_EXT (32-bit creation), node atom -> UTF-8. */
    CANON(E(131, 103, NONODE_LATIN1, 0, 0, 0, 5, 0, 0, 0, 0, 0),
          E(131, 88, NONODE_UTF8, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0));
    CANON(E(131, 103, XY_LATIN1, 0, 0, 0, 5, 0, 0, 0, 1, 3),
          E(131, 88, XY_UTF8, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 3));
    CANON(E(131, 88, XY_LATIN1, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 3),
          E(131, 88, XY_UTF8, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 3));
    /* PORT_EXT and V4_PORT_EXT (of a 32-bit id) -> NEW_PORT_EXT. */
    CANON(E(131, 102, XY_LATIN1, 0, 0, 0, 9, 3), E(131, 89, XY_UTF8, 0, 0, 0, 9, 0, 0, 0, 3));
    CANON(E(131, 102, NONODE_LATIN1, 0, 0, 0, 9, 0),
          E(131, 89, NONODE_UTF8, 0, 0, 0, 9, 0, 0, 0, 0));
    CANON(E(131, 120, XY_UTF8, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 3),
          E(131, 89, XY_UTF8, 0, 0, 0, 9, 0, 0, 0, 3));
    /* REFERENCE_EXT and NEW_REFERENCE_EXT -> NEWER_REFERENCE_EXT. */
    CANON(E(131, 101, XY_LATIN1, 0, 0, 0, 7, 2), E(131, 90, 0, 1, XY_UTF8, 0, 0, 0, 2, 0, 0, 0, 7));
    CANON(E(131, 114, 0, 1, XY_LATIN1, 2, 0, 0, 0, 7),
          E(131, 90, 0, 1, XY_UTF8, 0, 0, 0, 2, 0, 0, 0, 7));
    CANON(E(131, 114, 0, 3, XY_LATIN1, 2, 0, 0, 0, 7, 0, 0, 0, 8, 0, 0, 0, 9),
          E(131, 90, 0, 3, XY_UTF8, 0, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0, 8, 0, 0, 0, 9));
    CANON(E(131, 114, 0, 3, NONODE_LATIN1, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3),
          E(131, 90, 0, 3, NONODE_UTF8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3));
}

/* fun() -> X end with X = 42, compiled in module f, from OTP 25. */
#define FUN_CANONICAL 131, 112, 0, 0, 0, 69, 0, 29, 124, 55, 34, 166, 145, 44, 23, 185, 123, \
    217, 7, 253, 118, 202, 71, 0, 0, 0, 0, 0, 0, 0, 1, 119, 1, 102, 97, 0, 98, 0, 235, 225, 185, \
    88, NONODE_UTF8, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 97, 42

static void test_canon_export_fun(void **state)
{
    (void)state;
    SAME(131, 113, 119, 6, 'e', 'r', 'l', 'a', 'n', 'g', 119, 6, 'l', 'e', 'n', 'g', 't', 'h',
         97, 1);
    CANON(E(131, 113, 100, 0, 6, 'e', 'r', 'l', 'a', 'n', 'g', 100, 0, 6, 'l', 'e', 'n', 'g', 't',
            'h', 97, 1),
          E(131, 113, 119, 6, 'e', 'r', 'l', 'a', 'n', 'g', 119, 6, 'l', 'e', 'n', 'g', 't', 'h',
            97, 1));
    SAME(FUN_CANONICAL);
    /* term_to_binary(F) with the default minor version: ATOM_EXT atoms, Size 71. */
    CANON(E(131, 112, 0, 0, 0, 71, 0, 29, 124, 55, 34, 166, 145, 44, 23, 185, 123, 217, 7, 253,
            118, 202, 71, 0, 0, 0, 0, 0, 0, 0, 1, 100, 0, 1, 102, 97, 0, 98, 0, 235, 225, 185, 88,
            NONODE_LATIN1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 97, 42),
          E(FUN_CANONICAL));
    /* The creator pid as PID_EXT (Size 68). */
    CANON(E(131, 112, 0, 0, 0, 68, 0, 29, 124, 55, 34, 166, 145, 44, 23, 185, 123, 217, 7, 253,
            118, 202, 71, 0, 0, 0, 0, 0, 0, 0, 1, 100, 0, 1, 102, 97, 0, 98, 0, 235, 225, 185, 103,
            NONODE_LATIN1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 97, 42),
          E(FUN_CANONICAL));
    /* The free variable as INTEGER_EXT (Size 72). */
    CANON(E(131, 112, 0, 0, 0, 72, 0, 29, 124, 55, 34, 166, 145, 44, 23, 185, 123, 217, 7, 253,
            118, 202, 71, 0, 0, 0, 0, 0, 0, 0, 1, 119, 1, 102, 97, 0, 98, 0, 235, 225, 185, 88,
            NONODE_UTF8, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 98, 0, 0, 0, 42),
          E(FUN_CANONICAL));
}

static void test_canon_maps(void **state)
{
    (void)state;
    SAME(131, 116, 0, 0, 0, 0);
    SAME(131, 116, 0, 0, 0, 2, 97, 1, 97, 2, 119, 1, 'a', 97, 1);   /* #{1 => 2,a => 1} */
    /* #{1.5 => a, 2 => b}: integers sort before floats. */
    CANON(E(131, 116, 0, 0, 0, 2, 70, 63, 248, 0, 0, 0, 0, 0, 0, 119, 1, 'a', 97, 2, 119, 1, 'b'),
          E(131, 116, 0, 0, 0, 2, 97, 2, 119, 1, 'b', 70, 63, 248, 0, 0, 0, 0, 0, 0, 119, 1, 'a'));
    /* #{a => 1, 1 => 2} given atom first. */
    CANON(E(131, 116, 0, 0, 0, 2, 119, 1, 'a', 97, 1, 97, 1, 97, 2),
          E(131, 116, 0, 0, 0, 2, 97, 1, 97, 2, 119, 1, 'a', 97, 1));
    /* 1 and 1.0 are different keys; 1 first. */
    CANON(E(131, 116, 0, 0, 0, 2, 70, 63, 240, 0, 0, 0, 0, 0, 0, 119, 1, 'a', 97, 1, 119, 1, 'b'),
          E(131, 116, 0, 0, 0, 2, 97, 1, 119, 1, 'b', 70, 63, 240, 0, 0, 0, 0, 0, 0, 119, 1, 'a'));
    /* Keys sort by value, not by bytes: #{-1=>a, 1=>b, 300=>x, 5=>y} in non-canonical forms. */
    CANON(E(131, 116, 0, 0, 0, 4, 98, 0, 0, 1, 44, 100, 0, 1, 'x', 98, 0, 0, 0, 5, 119, 1, 'y',
            97, 1, 119, 1, 'b', 110, 1, 1, 1, 119, 1, 'a'),
          E(131, 116, 0, 0, 0, 4, 98, 255, 255, 255, 255, 119, 1, 'a', 97, 1, 119, 1, 'b', 97, 5,
            119, 1, 'y', 98, 0, 0, 1, 44, 119, 1, 'x'));
    /* Maps nested in values and keys are sorted too. */
    CANON(E(131, 104, 1, 116, 0, 0, 0, 1, 116, 0, 0, 0, 2, 119, 1, 'b', 97, 1, 119, 1, 'a', 97, 2,
            106),
          E(131, 104, 1, 116, 0, 0, 0, 1, 116, 0, 0, 0, 2, 119, 1, 'a', 97, 2, 119, 1, 'b', 97, 1,
            106));
}

/* Maps of more than 32 keys: the same map given in any order has one encoding. */
static void test_canon_big_map(void **state)
{
    struct buf fwd = { 0 }, rev = { 0 };
    shmets_term a, b, k, v;
    shmets_map_iter it;
    size_t size;
    int64_t i64;
    (void)state;

    buf_u8(&fwd, 131); buf_u8(&fwd, 116); buf_u32(&fwd, 40);
    buf_u8(&rev, 131); buf_u8(&rev, 116); buf_u32(&rev, 40);
    for (int i = 1; i <= 40; i++) {
        buf_u8(&fwd, 97); buf_u8(&fwd, i); buf_u8(&fwd, 97); buf_u8(&fwd, 100 + i);
        buf_u8(&rev, 97); buf_u8(&rev, 41 - i); buf_u8(&rev, 97); buf_u8(&rev, 141 - i);
    }
    a = ETF(fwd.p, fwd.n);
    b = ETF(rev.p, rev.n);
    assert_true(shmets_term_exact_equal(a, b));
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.ptr, b.ptr, a.len);
    assert_int_equal(shmets_map_begin(b, &it, &size), 0);
    assert_int_equal(size, 40);
    for (int i = 1; i <= 40; i++) {
        assert_int_equal(shmets_map_next(&it, &k, &v), 1);
        assert_int_equal(shmets_term_get_int64(k, &i64), 0);
        assert_int_equal(i64, i);
        assert_int_equal(shmets_term_get_int64(v, &i64), 0);
        assert_int_equal(i64, 100 + i);
    }
    assert_int_equal(shmets_map_next(&it, &k, &v), 0);
    shmets_term_free(&a);
    shmets_term_free(&b);
    buf_free(&fwd);
    buf_free(&rev);
}

static void test_compressed(void **state)
{
    /* term_to_binary({lists:duplicate(20,a), <<0:800>>}, [compressed]) from OTP 25. */
    static const unsigned char z[] = {
        131, 80, 0, 0, 0, 193, 120, 156, 203, 96, 202, 97, 96, 96, 16, 73, 97, 96, 76, 164, 38,
        206, 202, 5, 154, 154, 194, 64, 7, 0, 0, 10, 248, 17, 158
    };
    static const unsigned char inner[] = { 100, 0, 3, 'a', 'b', 'c' }; /* ATOM_EXT abc */
    struct buf exp = { 0 };
    unsigned char zbuf[128];
    uLongf zlen = sizeof zbuf - 6;
    (void)state;

    buf_u8(&exp, 131); buf_u8(&exp, 104); buf_u8(&exp, 2);
    buf_u8(&exp, 108); buf_u32(&exp, 20);
    for (int i = 0; i < 20; i++) { buf_u8(&exp, 119); buf_u8(&exp, 1); buf_u8(&exp, 'a'); }
    buf_u8(&exp, 106);
    buf_u8(&exp, 109); buf_u32(&exp, 100); buf_fill(&exp, 0, 100);
    canon(__LINE__, z, sizeof z, exp.p, exp.n);
    buf_free(&exp);

    /* A compressed non-canonical term is canonicalised after inflating. */
    zbuf[0] = 131; zbuf[1] = 80; zbuf[2] = 0; zbuf[3] = 0; zbuf[4] = 0; zbuf[5] = sizeof inner;
    assert_int_equal(compress2(zbuf + 6, &zlen, inner, sizeof inner, 9), Z_OK);
    canon(__LINE__, zbuf, 6 + zlen, E(131, 119, 3, 'a', 'b', 'c'));
}

static void test_no_version_flag(void **state)
{
    shmets_term t = { NULL, 0 };
    (void)state;

    assert_int_equal(shmets_term_from_etf((const unsigned char[]){ 97, 5 }, 2,
                                          SHMETS_ETF_NO_VERSION, &t), 0);
    check_term_is(__LINE__, t, E(131, 97, 5));
    shmets_term_free(&t);
    assert_int_equal(shmets_term_from_etf((const unsigned char[]){ 100, 0, 1, 'a' }, 4,
                                          SHMETS_ETF_NO_VERSION, &t), 0);
    check_term_is(__LINE__, t, E(131, 119, 1, 'a'));
    shmets_term_free(&t);
    /* With the flag, a leading 131 is not a term. */
    assert_int_equal(shmets_term_from_etf((const unsigned char[]){ 131, 97, 5 }, 3,
                                          SHMETS_ETF_NO_VERSION, &t), -SHMETS_EBADTERM);
    assert_null(t.ptr);
    /* Without it, the version byte is required. */
    EXPECT_ERR(E(97, 5), SHMETS_EBADTERM);
    /* The canonical bytes of a term are accepted with the flag as they are. */
    t = ETF(E(131, 104, 2, 100, 0, 1, 'a', 98, 0, 0, 0, 1));
    {
        shmets_term u;
        assert_int_equal(shmets_term_from_etf(t.ptr, t.len, SHMETS_ETF_NO_VERSION, &u), 0);
        assert_int_equal(u.len, t.len);
        assert_memory_equal(u.ptr, t.ptr, t.len);
        assert_true(u.ptr != t.ptr);
        shmets_term_free(&u);
    }
    shmets_term_free(&t);
    /* An unknown flag is an invalid argument. */
    assert_int_equal(shmets_term_from_etf((const unsigned char[]){ 131, 97, 5 }, 3, 0x100u, &t),
                     -SHMETS_EINVAL);
    assert_null(t.ptr);
}

static void test_bad_args(void **state)
{
    shmets_term t = { (const unsigned char *)"junk", 4 };
    unsigned char *out = (unsigned char *)"junk";
    size_t len = 99;
    (void)state;

    assert_int_equal(shmets_term_from_etf(NULL, 3, 0, &t), -SHMETS_EINVAL);
    assert_null(t.ptr);
    assert_int_equal(t.len, 0);
    assert_int_equal(shmets_term_from_etf((const unsigned char[]){ 131, 97, 1 }, 3, 0, NULL),
                     -SHMETS_EINVAL);
    t = ETF(E(131, 97, 1));
    assert_int_equal(shmets_term_to_etf(t, NULL, &len), -SHMETS_EINVAL);
    assert_int_equal(shmets_term_to_etf(t, &out, NULL), -SHMETS_EINVAL);
    assert_int_equal(shmets_term_dup(t, NULL), -SHMETS_EINVAL);
    shmets_term_free(&t);
    /* Free of {NULL, 0} and double free are harmless. */
    shmets_term_free(&t);
    assert_null(t.ptr);
    assert_int_equal(t.len, 0);
}

static void test_strerror(void **state)
{
    shmets_term t;
    (void)state;

    for (int e = 0; e < SHMETS_ECOUNT; e++) {
        const char *s = shmets_strerror(-e);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_equal(s, shmets_strerror(e));
        assert_string_not_equal(s, "unknown error");
        for (int f = 0; f < e; f++)
            assert_string_not_equal(s, shmets_strerror(-f));
    }
    assert_string_equal(shmets_strerror(-SHMETS_ECOUNT), "unknown error");
    assert_string_equal(shmets_strerror(-12345), "unknown error");
    assert_string_equal(shmets_strerror(12345), "unknown error");
    /* A failed decode leaves a detail. */
    assert_int_equal(shmets_term_from_etf((const unsigned char[]){ 131, 104, 1, 200 }, 4, 0, &t),
                     -SHMETS_EBADTERM);
    assert_non_null(shmets_errdetail());
    assert_true(strlen(shmets_errdetail()) > 0);
}

/* ---------------------------------------------------------------------------------------- */
/* Round trips                                                                               */
/* ---------------------------------------------------------------------------------------- */

static void test_round_trip_dup(void **state)
{
    const struct { const unsigned char *p; size_t n; } cases[] = {
        { E(131, 97, 0) },
        { E(131, 110, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1) },
        { E(131, 70, 128, 0, 0, 0, 0, 0, 0, 0) },
        { E(131, 119, 2, 195, 169) },
        { E(131, 106) },
        { E(131, 107, 0, 2, 104, 105) },
        { E(131, 108, 0, 0, 0, 2, 119, 1, 'a', 119, 1, 'b', 119, 1, 'c') },
        { E(131, 109, 0, 0, 0, 2, 104, 105) },
        { E(131, 77, 0, 0, 0, 2, 3, 1, 64) },
        { E(131, 104, 0) },
        { E(131, 104, 3, 119, 6, 'r', 'u', 'f', 's', 'e', 'n', 119, 3, 'd', 'o', 'g', 97, 7) },
        { E(131, 116, 0, 0, 0, 2, 97, 2, 119, 1, 'b', 70, 63, 248, 0, 0, 0, 0, 0, 0, 119, 1, 'a') },
        { E(131, 88, NONODE_UTF8, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0) },
        { E(FUN_CANONICAL) },
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shmets_term t = ETF(cases[i].p, cases[i].n), d;
        unsigned char *out;
        size_t outlen;

        check_term_is(__LINE__, t, cases[i].p, cases[i].n);
        assert_int_equal(shmets_term_to_etf(t, &out, &outlen), 0);
        assert_int_equal(outlen, cases[i].n);
        assert_memory_equal(out, cases[i].p, outlen);
        free(out);

        assert_int_equal(shmets_term_dup(t, &d), 0);
        assert_true(d.ptr != t.ptr);
        assert_true(shmets_term_exact_equal(t, d));
        shmets_term_free(&t);
        assert_null(t.ptr);
        /* The copy outlives its original. */
        check_term_is(__LINE__, d, cases[i].p, cases[i].n);

        /* A view into a parent can be duplicated too. */
        {
            shmets_builder *b;
            shmets_term tup, el, el2;
            assert_int_equal(shmets_builder_create(&b), 0);
            assert_int_equal(shmets_build_tuple(b, 2), 0);
            assert_int_equal(shmets_build_atom(b, "k", 1), 0);
            assert_int_equal(shmets_build_term(b, d), 0);
            assert_int_equal(shmets_builder_finish(b, &tup), 0);
            shmets_builder_destroy(b);
            assert_int_equal(shmets_term_tuple_element(tup, 2, &el), 0);
            assert_int_equal(shmets_term_dup(el, &el2), 0);
            shmets_term_free(&tup);
            check_term_is(__LINE__, el2, cases[i].p, cases[i].n);
            shmets_term_free(&el2);
        }
        shmets_term_free(&d);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Builder                                                                                   */
/* ---------------------------------------------------------------------------------------- */

static shmets_builder *new_builder(void)
{
    shmets_builder *b = NULL;
    assert_int_equal(shmets_builder_create(&b), 0);
    assert_non_null(b);
    return b;
}

static void finish_is(int line, shmets_builder *b, const unsigned char *exp, size_t explen)
{
    shmets_term t = { NULL, 0 };
    int rc = shmets_builder_finish(b, &t);
    if (rc != 0) {
        print_message("line %d: shmets_builder_finish = %d (%s)\n", line, rc, shmets_errdetail());
        fail();
    }
    check_term_is(line, t, exp, explen);
    shmets_term_free(&t);
}
#define FINISH_IS(b, exp) finish_is(__LINE__, b, exp)

static void finish_fails(int line, shmets_builder *b, int err)
{
    shmets_term t = { (const unsigned char *)"x", 1 };
    int rc = shmets_builder_finish(b, &t);
    if (rc != err) {
        print_message("line %d: shmets_builder_finish = %d, expected %d\n", line, rc, err);
        if (rc == 0)
            shmets_term_free(&t);
        fail();
    }
    assert_null(t.ptr);
    assert_int_equal(t.len, 0);
}
#define FINISH_FAILS(b, err) finish_fails(__LINE__, b, -(err))

static void test_build_scalars(void **state)
{
    shmets_builder *b = new_builder();
    (void)state;

    assert_int_equal(shmets_build_int(b, 7), 0);
    FINISH_IS(b, E(131, 97, 7));
    assert_int_equal(shmets_build_int(b, -1), 0);
    FINISH_IS(b, E(131, 98, 255, 255, 255, 255));
    assert_int_equal(shmets_build_int(b, 300), 0);
    FINISH_IS(b, E(131, 98, 0, 0, 1, 44));
    assert_int_equal(shmets_build_int(b, INT64_MIN), 0);
    FINISH_IS(b, E(131, 110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 128));
    assert_int_equal(shmets_build_int(b, INT64_MAX), 0);
    FINISH_IS(b, E(131, 110, 8, 0, 255, 255, 255, 255, 255, 255, 255, 127));
    assert_int_equal(shmets_build_int(b, 2147483648LL), 0);
    FINISH_IS(b, E(131, 110, 4, 0, 0, 0, 0, 128));
    assert_int_equal(shmets_build_uint(b, 5), 0);
    FINISH_IS(b, E(131, 97, 5));
    assert_int_equal(shmets_build_uint(b, UINT64_MAX), 0);
    FINISH_IS(b, E(131, 110, 8, 0, 255, 255, 255, 255, 255, 255, 255, 255));

    /* bigint: little-endian magnitude, leading zeros dropped, demoted when small. */
    assert_int_equal(shmets_build_bigint(b, 0, (const unsigned char[]){ 0, 0, 0, 0, 0, 0, 0, 0, 1 },
                                         9), 0);
    FINISH_IS(b, E(131, 110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1));
    assert_int_equal(shmets_build_bigint(b, 1, (const unsigned char[]){ 0, 0, 0, 0, 0, 0, 0, 0, 1,
                                                                        0, 0 }, 11), 0);
    FINISH_IS(b, E(131, 110, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1));
    assert_int_equal(shmets_build_bigint(b, 0, (const unsigned char[]){ 5, 0, 0, 0 }, 4), 0);
    FINISH_IS(b, E(131, 97, 5));
    assert_int_equal(shmets_build_bigint(b, 1, (const unsigned char[]){ 1 }, 1), 0);
    FINISH_IS(b, E(131, 98, 255, 255, 255, 255));
    assert_int_equal(shmets_build_bigint(b, 1, (const unsigned char[]){ 0, 0 }, 2), 0);
    FINISH_IS(b, E(131, 97, 0));
    assert_int_equal(shmets_build_bigint(b, 0, NULL, 0), 0);
    FINISH_IS(b, E(131, 97, 0));

    assert_int_equal(shmets_build_float(b, 1.5), 0);
    FINISH_IS(b, E(131, 70, 63, 248, 0, 0, 0, 0, 0, 0));
    assert_int_equal(shmets_build_float(b, -0.0), 0);
    FINISH_IS(b, E(131, 70, 128, 0, 0, 0, 0, 0, 0, 0));

    assert_int_equal(shmets_build_atom(b, "\xc3\xa9", 2), 0);
    FINISH_IS(b, E(131, 119, 2, 195, 169));
    assert_int_equal(shmets_build_atom(b, "", 0), 0);
    FINISH_IS(b, E(131, 119, 0));
    assert_int_equal(shmets_build_atom(b, "rufsenXX", 6), 0);   /* only len bytes count */
    FINISH_IS(b, E(131, 119, 6, 'r', 'u', 'f', 's', 'e', 'n'));

    assert_int_equal(shmets_build_binary(b, "hi", 2), 0);
    FINISH_IS(b, E(131, 109, 0, 0, 0, 2, 'h', 'i'));
    assert_int_equal(shmets_build_binary(b, NULL, 0), 0);
    FINISH_IS(b, E(131, 109, 0, 0, 0, 0));
    assert_int_equal(shmets_build_bitstring(b, (const unsigned char[]){ 1, 0xff }, 2, 3), 0);
    FINISH_IS(b, E(131, 77, 0, 0, 0, 2, 3, 1, 224));
    assert_int_equal(shmets_build_bitstring(b, (const unsigned char[]){ 0xa0 }, 1, 3), 0);
    FINISH_IS(b, E(131, 77, 0, 0, 0, 1, 3, 160));

    assert_int_equal(shmets_build_nil(b), 0);
    FINISH_IS(b, E(131, 106));
    assert_int_equal(shmets_build_tuple(b, 0), 0);
    FINISH_IS(b, E(131, 104, 0));
    assert_int_equal(shmets_build_map(b, 0), 0);
    FINISH_IS(b, E(131, 116, 0, 0, 0, 0));

    assert_int_equal(shmets_build_string(b, "hi", 2), 0);
    FINISH_IS(b, E(131, 107, 0, 2, 'h', 'i'));
    assert_int_equal(shmets_build_string(b, "h\xc3\xa9llo", 6), 0);   /* héllo */
    FINISH_IS(b, E(131, 107, 0, 5, 'h', 233, 'l', 'l', 'o'));
    assert_int_equal(shmets_build_string(b, "", 0), 0);
    FINISH_IS(b, E(131, 106));
    assert_int_equal(shmets_build_string(b, "\xe6\x97\xa5", 3), 0);   /* U+65E5 */
    FINISH_IS(b, E(131, 108, 0, 0, 0, 1, 98, 0, 0, 101, 229, 106));

    assert_int_equal(shmets_build_pid(b, 12345), 0);
    FINISH_IS(b, E(131, 88, NONODE_UTF8, 0, 0, 48, 57, 0, 0, 0, 0, 0, 0, 0, 0));
    shmets_builder_destroy(b);
}

static void test_build_containers(void **state)
{
    shmets_builder *b = new_builder();
    shmets_term t;
    (void)state;

    /* The header's example, {rufsen, dog, 7}. */
    assert_int_equal(shmets_build_tuple(b, 3), 0);
    assert_int_equal(shmets_build_atom(b, "rufsen", 6), 0);
    assert_int_equal(shmets_build_atom(b, "dog", 3), 0);
    assert_int_equal(shmets_build_int(b, 7), 0);
    FINISH_IS(b, E(131, 104, 3, 119, 6, 'r', 'u', 'f', 's', 'e', 'n', 119, 3, 'd', 'o', 'g',
                   97, 7));

    /* {[1,{a}], #{k => [x|y]}, <<>>} */
    assert_int_equal(shmets_build_tuple(b, 3), 0);
    assert_int_equal(shmets_build_list(b, 2), 0);
    assert_int_equal(shmets_build_int(b, 1), 0);
    assert_int_equal(shmets_build_tuple(b, 1), 0);
    assert_int_equal(shmets_build_atom(b, "a", 1), 0);
    assert_int_equal(shmets_build_nil(b), 0);
    assert_int_equal(shmets_build_map(b, 1), 0);
    assert_int_equal(shmets_build_atom(b, "k", 1), 0);
    assert_int_equal(shmets_build_list(b, 1), 0);
    assert_int_equal(shmets_build_atom(b, "x", 1), 0);
    assert_int_equal(shmets_build_atom(b, "y", 1), 0);
    assert_int_equal(shmets_build_binary(b, "", 0), 0);
    FINISH_IS(b, E(131, 104, 3, 108, 0, 0, 0, 2, 97, 1, 104, 1, 119, 1, 97, 106, 116, 0, 0, 0, 1,
                   119, 1, 107, 108, 0, 0, 0, 1, 119, 1, 120, 119, 1, 121, 109, 0, 0, 0, 0));

    /* A proper list of bytes becomes a string; a list tail is merged. */
    assert_int_equal(shmets_build_list(b, 2), 0);
    assert_int_equal(shmets_build_int(b, 1), 0);
    assert_int_equal(shmets_build_int(b, 2), 0);
    assert_int_equal(shmets_build_nil(b), 0);
    FINISH_IS(b, E(131, 107, 0, 2, 1, 2));
    assert_int_equal(shmets_build_list(b, 1), 0);
    assert_int_equal(shmets_build_int(b, 1), 0);
    assert_int_equal(shmets_build_string(b, "ab", 2), 0);
    FINISH_IS(b, E(131, 107, 0, 3, 1, 'a', 'b'));
    assert_int_equal(shmets_build_list(b, 1), 0);
    assert_int_equal(shmets_build_atom(b, "a", 1), 0);
    assert_int_equal(shmets_build_atom(b, "b", 1), 0);
    FINISH_IS(b, E(131, 108, 0, 0, 0, 1, 119, 1, 'a', 119, 1, 'b'));

    /* Map pairs given out of order come out in key order. */
    assert_int_equal(shmets_build_map(b, 3), 0);
    assert_int_equal(shmets_build_atom(b, "b", 1), 0);
    assert_int_equal(shmets_build_int(b, 1), 0);
    assert_int_equal(shmets_build_float(b, 1.5), 0);
    assert_int_equal(shmets_build_atom(b, "a", 1), 0);
    assert_int_equal(shmets_build_int(b, 2), 0);
    assert_int_equal(shmets_build_atom(b, "b", 1), 0);
    FINISH_IS(b, E(131, 116, 0, 0, 0, 3, 97, 2, 119, 1, 'b', 70, 63, 248, 0, 0, 0, 0, 0, 0, 119, 1,
                   'a', 119, 1, 'b', 97, 1));

    /* build_term copies a term in (it may then be freed). */
    t = ETF(E(131, 104, 2, 100, 0, 1, 'a', 98, 0, 0, 0, 1));
    assert_int_equal(shmets_build_list(b, 2), 0);
    assert_int_equal(shmets_build_term(b, t), 0);
    assert_int_equal(shmets_build_term(b, t), 0);
    shmets_term_free(&t);
    assert_int_equal(shmets_build_nil(b), 0);
    FINISH_IS(b, E(131, 108, 0, 0, 0, 2, 104, 2, 119, 1, 'a', 97, 1, 104, 2, 119, 1, 'a', 97, 1,
                   106));

    /* Deep but legal nesting. */
    for (int i = 0; i < 100; i++)
        assert_int_equal(shmets_build_tuple(b, 1), 0);
    assert_int_equal(shmets_build_nil(b), 0);
    assert_int_equal(shmets_builder_finish(b, &t), 0);
    assert_int_equal(t.len, 201);
    shmets_term_free(&t);
    shmets_builder_destroy(b);
}

static void test_build_misuse(void **state)
{
    shmets_builder *b = new_builder();
    struct buf text = { 0 };
    (void)state;

    assert_int_equal(shmets_builder_create(NULL), -SHMETS_EINVAL);

    /* Nothing given. */
    FINISH_FAILS(b, SHMETS_EBUILD);
    /* Incomplete terms; the builder is empty again afterwards. */
    assert_int_equal(shmets_build_tuple(b, 2), 0);
    assert_int_equal(shmets_build_int(b, 1), 0);
    FINISH_FAILS(b, SHMETS_EBUILD);
    assert_int_equal(shmets_build_int(b, 1), 0);
    FINISH_IS(b, E(131, 97, 1));
    assert_int_equal(shmets_build_list(b, 1), 0);
    assert_int_equal(shmets_build_int(b, 1), 0);
    FINISH_FAILS(b, SHMETS_EBUILD);                   /* the tail is missing */
    assert_int_equal(shmets_build_map(b, 1), 0);
    assert_int_equal(shmets_build_int(b, 1), 0);
    FINISH_FAILS(b, SHMETS_EBUILD);                   /* the value is missing */

    /* A part after the term was complete. */
    assert_int_equal(shmets_build_int(b, 1), 0);
    assert_int_equal(shmets_build_int(b, 2), -SHMETS_EBUILD);
    assert_int_equal(shmets_build_atom(b, "a", 1), -SHMETS_EBUILD);   /* sticky */
    FINISH_FAILS(b, SHMETS_EBUILD);
    assert_int_equal(shmets_build_int(b, 3), 0);      /* usable again */
    FINISH_IS(b, E(131, 97, 3));

    /* Sticky errors: NaN and infinities. */
    assert_int_equal(shmets_build_tuple(b, 2), 0);
    assert_int_equal(shmets_build_float(b, NAN), -SHMETS_EINVAL);
    assert_int_equal(shmets_build_int(b, 1), -SHMETS_EINVAL);
    assert_int_equal(shmets_build_int(b, 2), -SHMETS_EINVAL);
    FINISH_FAILS(b, SHMETS_EINVAL);
    assert_int_equal(shmets_build_float(b, INFINITY), -SHMETS_EINVAL);
    FINISH_FAILS(b, SHMETS_EINVAL);
    assert_int_equal(shmets_build_float(b, -INFINITY), -SHMETS_EINVAL);
    FINISH_FAILS(b, SHMETS_EINVAL);

    /* Bad arguments. */
    assert_int_equal(shmets_build_atom(b, NULL, 3), -SHMETS_EINVAL);
    FINISH_FAILS(b, SHMETS_EINVAL);
    assert_int_equal(shmets_build_binary(b, NULL, 3), -SHMETS_EINVAL);
    FINISH_FAILS(b, SHMETS_EINVAL);
    assert_int_equal(shmets_build_string(b, NULL, 3), -SHMETS_EINVAL);
    FINISH_FAILS(b, SHMETS_EINVAL);
    assert_int_equal(shmets_build_bitstring(b, (const unsigned char[]){ 1 }, 1, 0), -SHMETS_EINVAL);
    FINISH_FAILS(b, SHMETS_EINVAL);
    assert_int_equal(shmets_build_bitstring(b, (const unsigned char[]){ 1 }, 1, 8), -SHMETS_EINVAL);
    FINISH_FAILS(b, SHMETS_EINVAL);
    assert_int_equal(shmets_build_list(b, 0), -SHMETS_EINVAL);
    FINISH_FAILS(b, SHMETS_EINVAL);
    assert_int_equal(shmets_build_bigint(b, 0, NULL, 4), -SHMETS_EINVAL);
    FINISH_FAILS(b, SHMETS_EINVAL);

    /* Atoms: 255 characters are fine, 256 too many; invalid UTF-8 is refused. */
    for (int i = 0; i < 255; i++)
        buf_put(&text, "\xc3\xa9", 2);
    assert_int_equal(shmets_build_atom(b, (const char *)text.p, text.n), 0);
    {
        shmets_term t;
        assert_int_equal(shmets_builder_finish(b, &t), 0);
        assert_int_equal(t.len, 3 + 510);
        shmets_term_free(&t);
    }
    buf_put(&text, "a", 1);
    assert_int_equal(shmets_build_atom(b, (const char *)text.p, text.n), -SHMETS_ETOOBIG);
    FINISH_FAILS(b, SHMETS_ETOOBIG);
    buf_free(&text);
    assert_true(shmets_build_atom(b, "\xff", 1) < 0);
    assert_true(shmets_builder_finish(b, &(shmets_term){ NULL, 0 }) < 0);
    assert_true(shmets_build_atom(b, "\xc0\x80", 2) < 0);
    assert_true(shmets_builder_finish(b, &(shmets_term){ NULL, 0 }) < 0);
    assert_true(shmets_build_string(b, "a\xe6\x97", 3) < 0);
    assert_true(shmets_builder_finish(b, &(shmets_term){ NULL, 0 }) < 0);

    /* Duplicate map keys make finish fail. */
    assert_int_equal(shmets_build_map(b, 2), 0);
    assert_int_equal(shmets_build_atom(b, "a", 1), 0);
    assert_int_equal(shmets_build_int(b, 1), 0);
    assert_int_equal(shmets_build_atom(b, "a", 1), 0);
    assert_int_equal(shmets_build_int(b, 2), 0);
    assert_true(shmets_builder_finish(b, &(shmets_term){ NULL, 0 }) < 0);
    /* ... also when they are equal only after canonicalisation: "ab" and [97,98]. */
    assert_int_equal(shmets_build_map(b, 2), 0);
    assert_int_equal(shmets_build_string(b, "ab", 2), 0);
    assert_int_equal(shmets_build_int(b, 1), 0);
    assert_int_equal(shmets_build_list(b, 2), 0);
    assert_int_equal(shmets_build_int(b, 'a'), 0);
    assert_int_equal(shmets_build_int(b, 'b'), 0);
    assert_int_equal(shmets_build_nil(b), 0);
    assert_int_equal(shmets_build_int(b, 2), 0);
    assert_true(shmets_builder_finish(b, &(shmets_term){ NULL, 0 }) < 0);
    /* 1 and 1.0 are different keys. */
    assert_int_equal(shmets_build_map(b, 2), 0);
    assert_int_equal(shmets_build_float(b, 1.0), 0);
    assert_int_equal(shmets_build_atom(b, "a", 1), 0);
    assert_int_equal(shmets_build_int(b, 1), 0);
    assert_int_equal(shmets_build_atom(b, "b", 1), 0);
    FINISH_IS(b, E(131, 116, 0, 0, 0, 2, 97, 1, 119, 1, 'b', 70, 63, 240, 0, 0, 0, 0, 0, 0, 119, 1,
                   'a'));

    /* Destroying a builder in the middle of a term frees everything. */
    assert_int_equal(shmets_build_tuple(b, 3), 0);
    assert_int_equal(shmets_build_binary(b, "some bytes", 10), 0);
    shmets_builder_destroy(b);
}

/* ---------------------------------------------------------------------------------------- */
/* Accessors                                                                                 */
/* ---------------------------------------------------------------------------------------- */

static void test_get_integers(void **state)
{
    const struct {
        const unsigned char *p;
        size_t n;
        int rc64;
        int64_t v64;
        int rcu;
        uint64_t vu;
    } cases[] = {
        { E(131, 97, 0), 0, 0, 0, 0 },
        { E(131, 97, 255), 0, 255, 0, 255 },
        { E(131, 98, 255, 255, 255, 255), 0, -1, -SHMETS_ERANGE, 0 },
        { E(131, 98, 128, 0, 0, 0), 0, INT32_MIN, -SHMETS_ERANGE, 0 },
        { E(131, 110, 4, 0, 0, 0, 0, 128), 0, 2147483648LL, 0, 2147483648ULL },
        { E(131, 110, 8, 0, 255, 255, 255, 255, 255, 255, 255, 127), 0, INT64_MAX, 0,
          (uint64_t)INT64_MAX },
        { E(131, 110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 128), 0, INT64_MIN, -SHMETS_ERANGE, 0 },
        { E(131, 110, 8, 0, 0, 0, 0, 0, 0, 0, 0, 128), -SHMETS_ERANGE, 0, 0,
          9223372036854775808ULL },
        { E(131, 110, 8, 1, 1, 0, 0, 0, 0, 0, 0, 128), -SHMETS_ERANGE, 0, -SHMETS_ERANGE, 0 },
        { E(131, 110, 8, 0, 255, 255, 255, 255, 255, 255, 255, 255), -SHMETS_ERANGE, 0, 0,
          UINT64_MAX },
        { E(131, 110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), -SHMETS_ERANGE, 0, -SHMETS_ERANGE, 0 },
        { E(131, 110, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1), -SHMETS_ERANGE, 0, -SHMETS_ERANGE, 0 },
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shmets_term t = ETF(cases[i].p, cases[i].n);
        int64_t v64 = 0;
        uint64_t vu = 0;
        int rc64 = shmets_term_get_int64(t, &v64), rcu = shmets_term_get_uint64(t, &vu);
        if (shmets_term_type(t) != SHMETS_T_INTEGER || rc64 != cases[i].rc64 ||
            (rc64 == 0 && v64 != cases[i].v64) || rcu != cases[i].rcu ||
            (rcu == 0 && vu != cases[i].vu)) {
            print_message("case %zu: int64 %d %lld, uint64 %d %llu\n", i, rc64, (long long)v64,
                          rcu, (unsigned long long)vu);
            fail();
        }
        shmets_term_free(&t);
    }
}

static void test_get_others(void **state)
{
    shmets_term f = ETF(E(131, 70, 63, 248, 0, 0, 0, 0, 0, 0));
    shmets_term nz = ETF(E(131, 70, 128, 0, 0, 0, 0, 0, 0, 0));
    shmets_term i = ETF(E(131, 97, 1));
    shmets_term a = ETF(E(131, 100, 0, 1, 233));
    shmets_term bin = ETF(E(131, 109, 0, 0, 0, 2, 'h', 'i'));
    shmets_term ebin = ETF(E(131, 109, 0, 0, 0, 0));
    shmets_term bits = ETF(E(131, 77, 0, 0, 0, 2, 3, 1, 64));
    shmets_term pid = ETF(E(131, 88, NONODE_UTF8, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0, 0));
    shmets_term xpid = ETF(E(131, 103, XY_LATIN1, 0, 0, 0, 7, 0, 0, 0, 1, 3));
    double d;
    int64_t v;
    uint64_t u;
    const char *s;
    const void *p;
    size_t n;
    unsigned nbits;
    uint32_t num, ser;
    shmets_term node;
    (void)state;

    assert_int_equal(shmets_term_get_double(f, &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(shmets_term_get_double(nz, &d), 0);
    assert_true(d == 0.0 && signbit(d));
    assert_int_equal(shmets_term_get_double(i, &d), -SHMETS_ETYPE);
    assert_int_equal(shmets_term_get_int64(f, &v), -SHMETS_ETYPE);
    assert_int_equal(shmets_term_get_uint64(a, &u), -SHMETS_ETYPE);
    assert_int_equal(shmets_term_get_int64(bin, &v), -SHMETS_ETYPE);

    assert_int_equal(shmets_term_get_atom(a, &s, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(s, "\xc3\xa9", 2);
    assert_int_equal(shmets_term_get_atom(i, &s, &n), -SHMETS_ETYPE);
    assert_int_equal(shmets_term_get_atom(bin, &s, &n), -SHMETS_ETYPE);

    assert_int_equal(shmets_term_get_binary(bin, &p, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(p, "hi", 2);
    assert_int_equal(shmets_term_get_binary(ebin, &p, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(shmets_term_get_binary(bits, &p, &n), -SHMETS_ETYPE);
    assert_int_equal(shmets_term_get_binary(a, &p, &n), -SHMETS_ETYPE);
    assert_int_equal(shmets_term_get_bitstring(bits, &p, &n, &nbits), 0);
    assert_int_equal(n, 2);
    assert_int_equal(nbits, 3);
    assert_memory_equal(p, "\x01\x40", 2);
    assert_int_equal(shmets_term_get_bitstring(bin, &p, &n, &nbits), 0);
    assert_int_equal(n, 2);
    assert_int_equal(nbits, 8);
    assert_memory_equal(p, "hi", 2);
    assert_int_equal(shmets_term_get_bitstring(i, &p, &n, &nbits), -SHMETS_ETYPE);

    assert_int_equal(shmets_term_get_pid(pid, &num, &ser, &node), 0);
    assert_int_equal(num, 5);
    assert_int_equal(ser, 3);
    assert_int_equal(shmets_term_type(node), SHMETS_T_ATOM);
    assert_int_equal(shmets_term_get_atom(node, &s, &n), 0);
    assert_int_equal(n, 13);
    assert_memory_equal(s, "nonode@nohost", 13);
    assert_int_equal(shmets_term_get_pid(xpid, &num, &ser, &node), 0);
    assert_int_equal(num, 7);
    assert_int_equal(ser, 1);
    assert_int_equal(shmets_term_get_atom(node, &s, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(s, "x@y", 3);
    assert_int_equal(shmets_term_get_pid(a, &num, &ser, &node), -SHMETS_ETYPE);

    shmets_term_free(&f);
    shmets_term_free(&nz);
    shmets_term_free(&i);
    shmets_term_free(&a);
    shmets_term_free(&bin);
    shmets_term_free(&ebin);
    shmets_term_free(&bits);
    shmets_term_free(&pid);
    shmets_term_free(&xpid);
}

static void test_tuple_access(void **state)
{
    shmets_term t = ETF(E(131, 104, 3, 100, 0, 1, 'a', 98, 0, 0, 1, 0, 104, 1, 106));
    shmets_term e = ETF(E(131, 104, 0));
    shmets_term l = ETF(E(131, 107, 0, 1, 1));
    shmets_term el = { NULL, 0 };
    size_t arity;
    (void)state;

    assert_int_equal(shmets_term_tuple_arity(t, &arity), 0);
    assert_int_equal(arity, 3);
    assert_int_equal(shmets_term_tuple_element(t, 1, &el), 0);
    check_term_is(__LINE__, el, E(131, 119, 1, 'a'));
    assert_true(el.ptr >= t.ptr && el.ptr + el.len <= t.ptr + t.len);   /* a view */
    assert_int_equal(shmets_term_tuple_element(t, 2, &el), 0);
    check_term_is(__LINE__, el, E(131, 98, 0, 0, 1, 0));
    assert_int_equal(shmets_term_tuple_element(t, 3, &el), 0);
    check_term_is(__LINE__, el, E(131, 104, 1, 106));
    assert_int_equal(shmets_term_tuple_element(t, 0, &el), -SHMETS_EBADPOS);
    assert_int_equal(shmets_term_tuple_element(t, 4, &el), -SHMETS_EBADPOS);
    assert_int_equal(shmets_term_tuple_element(t, SIZE_MAX, &el), -SHMETS_EBADPOS);
    assert_int_equal(shmets_term_tuple_arity(e, &arity), 0);
    assert_int_equal(arity, 0);
    assert_int_equal(shmets_term_tuple_element(e, 1, &el), -SHMETS_EBADPOS);
    assert_int_equal(shmets_term_tuple_arity(l, &arity), -SHMETS_ETYPE);
    assert_int_equal(shmets_term_tuple_element(l, 1, &el), -SHMETS_ETYPE);
    shmets_term_free(&t);
    shmets_term_free(&e);
    shmets_term_free(&l);
}

static void test_list_walk(void **state)
{
    shmets_term str = ETF(E(131, 107, 0, 2, 'h', 'i'));
    shmets_term lst = ETF(E(131, 108, 0, 0, 0, 3, 119, 1, 'a', 98, 0, 0, 1, 0, 104, 1, 119, 1,
                            'x', 106));
    shmets_term imp = ETF(E(131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 97, 3));
    shmets_term nil = ETF(E(131, 106));
    shmets_term atom = ETF(E(131, 119, 1, 'a'));
    shmets_list_iter it;
    shmets_term el;
    int64_t v;
    size_t n;
    (void)state;

    /* The string form yields integers. */
    assert_int_equal(shmets_list_begin(str, &it), 0);
    assert_int_equal(shmets_list_next(&it, &el), 1);
    check_term_is(__LINE__, el, E(131, 97, 'h'));
    assert_int_equal(shmets_term_type(el), SHMETS_T_INTEGER);
    assert_int_equal(shmets_term_get_int64(el, &v), 0);
    assert_int_equal(v, 'h');
    assert_int_equal(shmets_list_next(&it, &el), 1);
    check_term_is(__LINE__, el, E(131, 97, 'i'));
    assert_int_equal(shmets_list_next(&it, &el), 0);
    check_term_is(__LINE__, it.tail, E(131, 106));
    assert_int_equal(shmets_term_list_length(str, &n), 0);
    assert_int_equal(n, 2);

    assert_int_equal(shmets_list_begin(lst, &it), 0);
    assert_int_equal(shmets_list_next(&it, &el), 1);
    check_term_is(__LINE__, el, E(131, 119, 1, 'a'));
    assert_int_equal(shmets_list_next(&it, &el), 1);
    check_term_is(__LINE__, el, E(131, 98, 0, 0, 1, 0));
    assert_int_equal(shmets_list_next(&it, &el), 1);
    check_term_is(__LINE__, el, E(131, 104, 1, 119, 1, 'x'));
    assert_int_equal(shmets_list_next(&it, &el), 0);
    assert_int_equal(shmets_term_type(it.tail), SHMETS_T_NIL);
    assert_int_equal(shmets_term_list_length(lst, &n), 0);
    assert_int_equal(n, 3);

    assert_int_equal(shmets_list_begin(imp, &it), 0);
    assert_int_equal(shmets_list_next(&it, &el), 1);
    check_term_is(__LINE__, el, E(131, 97, 1));
    assert_int_equal(shmets_list_next(&it, &el), 1);
    check_term_is(__LINE__, el, E(131, 97, 2));
    assert_int_equal(shmets_list_next(&it, &el), 0);
    check_term_is(__LINE__, it.tail, E(131, 97, 3));
    assert_int_equal(shmets_term_list_length(imp, &n), -SHMETS_ETYPE);

    assert_int_equal(shmets_list_begin(nil, &it), 0);
    assert_int_equal(shmets_list_next(&it, &el), 0);
    check_term_is(__LINE__, it.tail, E(131, 106));
    assert_int_equal(shmets_term_list_length(nil, &n), 0);
    assert_int_equal(n, 0);

    assert_int_equal(shmets_list_begin(atom, &it), -SHMETS_ETYPE);
    assert_int_equal(shmets_term_list_length(atom, &n), -SHMETS_ETYPE);

    shmets_term_free(&str);
    shmets_term_free(&lst);
    shmets_term_free(&imp);
    shmets_term_free(&nil);
    shmets_term_free(&atom);
}

static void test_map_walk(void **state)
{
    /* #{x => c, 2.5 => b, 1 => a} given out of order. */
    shmets_term m = ETF(E(131, 116, 0, 0, 0, 3, 119, 1, 'x', 119, 1, 'c', 70, 64, 4, 0, 0, 0, 0, 0,
                          0, 119, 1, 'b', 97, 1, 119, 1, 'a'));
    shmets_term e = ETF(E(131, 116, 0, 0, 0, 0));
    shmets_term t = ETF(E(131, 104, 0));
    shmets_map_iter it;
    shmets_term k, v;
    size_t size = 99;
    (void)state;

    assert_int_equal(shmets_map_begin(m, &it, &size), 0);
    assert_int_equal(size, 3);
    assert_int_equal(shmets_map_next(&it, &k, &v), 1);
    check_term_is(__LINE__, k, E(131, 97, 1));
    check_term_is(__LINE__, v, E(131, 119, 1, 'a'));
    assert_int_equal(shmets_map_next(&it, &k, &v), 1);
    check_term_is(__LINE__, k, E(131, 70, 64, 4, 0, 0, 0, 0, 0, 0));
    check_term_is(__LINE__, v, E(131, 119, 1, 'b'));
    assert_int_equal(shmets_map_next(&it, &k, &v), 1);
    check_term_is(__LINE__, k, E(131, 119, 1, 'x'));
    check_term_is(__LINE__, v, E(131, 119, 1, 'c'));
    assert_int_equal(shmets_map_next(&it, &k, &v), 0);

    assert_int_equal(shmets_map_begin(e, &it, &size), 0);
    assert_int_equal(size, 0);
    assert_int_equal(shmets_map_next(&it, &k, &v), 0);
    assert_int_equal(shmets_map_begin(t, &it, &size), -SHMETS_ETYPE);
    shmets_term_free(&m);
    shmets_term_free(&e);
    shmets_term_free(&t);
}

static void test_types(void **state)
{
    const struct { const unsigned char *p; size_t n; enum shmets_type type; } cases[] = {
        { E(131, 97, 1), SHMETS_T_INTEGER },
        { E(131, 98, 255, 255, 255, 255), SHMETS_T_INTEGER },
        { E(131, 110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), SHMETS_T_INTEGER },
        { E(131, 70, 63, 248, 0, 0, 0, 0, 0, 0), SHMETS_T_FLOAT },
        { E(131, 119, 1, 'a'), SHMETS_T_ATOM },
        { E(131, 90, 0, 3, NONODE_UTF8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3),
          SHMETS_T_REF },
        { E(FUN_CANONICAL), SHMETS_T_FUN },
        { E(131, 113, 119, 1, 'm', 119, 1, 'f', 97, 1), SHMETS_T_FUN },
        { E(131, 89, NONODE_UTF8, 0, 0, 0, 9, 0, 0, 0, 0), SHMETS_T_PORT },
        { E(131, 88, NONODE_UTF8, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0), SHMETS_T_PID },
        { E(131, 104, 0), SHMETS_T_TUPLE },
        { E(131, 116, 0, 0, 0, 0), SHMETS_T_MAP },
        { E(131, 106), SHMETS_T_NIL },
        { E(131, 107, 0, 1, 1), SHMETS_T_LIST },
        { E(131, 108, 0, 0, 0, 1, 119, 1, 'a', 106), SHMETS_T_LIST },
        { E(131, 108, 0, 0, 0, 1, 97, 1, 97, 2), SHMETS_T_LIST },
        { E(131, 109, 0, 0, 0, 0), SHMETS_T_BINARY },
        { E(131, 77, 0, 0, 0, 1, 3, 160), SHMETS_T_BINARY },
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shmets_term t = ETF(cases[i].p, cases[i].n);
        if (shmets_term_type(t) != cases[i].type) {
            print_message("case %zu: type %d, expected %d\n", i, (int)shmets_term_type(t),
                          (int)cases[i].type);
            fail();
        }
        shmets_term_free(&t);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Keys and hashes                                                                           */
/* ---------------------------------------------------------------------------------------- */

static void test_key(void **state)
{
    shmets_term obj = ETF(E(131, 104, 3, 100, 0, 1, 'k', 97, 1, 107, 0, 1, 'v'));
    shmets_term one = ETF(E(131, 104, 1, 97, 7));
    shmets_term empty = ETF(E(131, 104, 0));
    shmets_term notup = ETF(E(131, 107, 0, 1, 'v'));
    shmets_term key = { NULL, 0 };
    (void)state;

    assert_int_equal(shmets_term_key(obj, 1, &key), 0);
    check_term_is(__LINE__, key, E(131, 119, 1, 'k'));
    assert_true(key.ptr > obj.ptr && key.ptr + key.len <= obj.ptr + obj.len);
    assert_int_equal(shmets_term_key(obj, 2, &key), 0);
    check_term_is(__LINE__, key, E(131, 97, 1));
    assert_int_equal(shmets_term_key(obj, 3, &key), 0);
    check_term_is(__LINE__, key, E(131, 107, 0, 1, 'v'));
    assert_int_equal(shmets_term_key(obj, 4, &key), -SHMETS_EBADPOS);
    assert_int_equal(shmets_term_key(obj, 0, &key), -SHMETS_EBADPOS);
    assert_int_equal(shmets_term_key(one, 1, &key), 0);
    check_term_is(__LINE__, key, E(131, 97, 7));
    assert_int_equal(shmets_term_key(one, 2, &key), -SHMETS_EBADPOS);
    assert_int_equal(shmets_term_key(empty, 1, &key), -SHMETS_EBADPOS);
    assert_int_equal(shmets_term_key(notup, 1, &key), -SHMETS_ETYPE);
    shmets_term_free(&obj);
    shmets_term_free(&one);
    shmets_term_free(&empty);
    shmets_term_free(&notup);
}

/* shmets_term_key reads a small tuple whose elements up to the wanted one are integers,
 * short atoms, binaries, [] or small tuples of them on a path of its own, and any other the
 * general way: every element of tuples that mix both kinds, in every order, and of a large
 * tuple, is the element itself (compared with the element parsed alone). */
static void test_key_every_element_kind(void **state)
{
    (void)state;
    static const char *const els[] = {
        "a", "7", "-70000", "<<1,2,3>>", "[]", "{}", "{1,{2,{3,<<>>}}}", "[1,2]", "\"str\"",
        "12345678901234567890", "#{k => v}", "3.5", "{x, [y]}", "'an atom of some length'",
    };
    enum { N = sizeof els / sizeof els[0] };
    char text[1024];
    for (int rot = 0; rot < N; rot++) {
        size_t at = 0;
        at += (size_t)snprintf(text + at, sizeof text - at, "{");
        for (int i = 0; i < N; i++)
            at += (size_t)snprintf(text + at, sizeof text - at, "%s%s", i ? ", " : "", els[(i + rot) % N]);
        snprintf(text + at, sizeof text - at, "}");
        shmets_term obj, want, key;
        assert_int_equal(shmets_term_parse(text, strlen(text), &obj), 0);
        for (int i = 0; i < N; i++) {
            const char *e = els[(i + rot) % N];
            assert_int_equal(shmets_term_parse(e, strlen(e), &want), 0);
            assert_int_equal(shmets_term_key(obj, (unsigned)i + 1, &key), 0);
            assert_true(shmets_term_exact_equal(key, want));
            shmets_term_free(&want);
        }
        assert_int_equal(shmets_term_key(obj, N + 1, &key), -SHMETS_EBADPOS);
        shmets_term_free(&obj);
    }
    /* A large tuple (arity 300: LARGE_TUPLE_EXT) of small integers. */
    size_t at = 0;
    static char big[4096];
    for (int i = 0; i < 300; i++)
        at += (size_t)snprintf(big + at, sizeof big - at, "%s%d", i ? "," : "{", i % 200);
    snprintf(big + at, sizeof big - at, "}");
    shmets_term obj, key;
    assert_int_equal(shmets_term_parse(big, strlen(big), &obj), 0);
    assert_int_equal(obj.ptr[0], 105);
    for (unsigned i = 1; i <= 300; i++) {
        assert_int_equal(shmets_term_key(obj, i, &key), 0);
        assert_int_equal(key.ptr[0], 97);
        assert_int_equal(key.ptr[1], (i - 1) % 200);
        assert_int_equal(key.len, 2);
    }
    assert_int_equal(shmets_term_key(obj, 301, &key), -SHMETS_EBADPOS);
    shmets_term_free(&obj);
}

static void test_hash(void **state)
{
    /* The same value from different encodings. */
    shmets_term a = ETF(E(131, 104, 2, 100, 0, 1, 'a', 108, 0, 0, 0, 2, 97, 1, 98, 0, 0, 0, 2,
                          106));
    shmets_term b = ETF(E(131, 104, 2, 119, 1, 'a', 107, 0, 2, 1, 2));
    shmets_term one = ETF(E(131, 97, 1));
    shmets_term onef = ETF(E(131, 70, 63, 240, 0, 0, 0, 0, 0, 0));
    shmets_term two = ETF(E(131, 97, 2));
    shmets_term z = ETF(E(131, 70, 0, 0, 0, 0, 0, 0, 0, 0));
    shmets_term nz = ETF(E(131, 70, 128, 0, 0, 0, 0, 0, 0, 0));
    (void)state;

    for (uint64_t seed = 0; seed < 4; seed++) {
        assert_true(shmets_term_hash(a, seed) == shmets_term_hash(b, seed));
        assert_true(shmets_term_hash(one, seed) != shmets_term_hash(onef, seed));
        assert_true(shmets_term_hash(one, seed) != shmets_term_hash(two, seed));
        assert_true(shmets_term_hash(z, seed) != shmets_term_hash(nz, seed));
    }
    assert_true(shmets_term_hash(a, 1) != shmets_term_hash(a, 2));
    /* A view into a parent hashes as the same term on its own. */
    {
        shmets_term obj = ETF(E(131, 104, 2, 104, 2, 100, 0, 1, 'a', 107, 0, 2, 1, 2, 97, 0)), key;
        assert_int_equal(shmets_term_key(obj, 1, &key), 0);
        assert_true(shmets_term_exact_equal(key, b));
        assert_true(shmets_term_hash(key, 7) == shmets_term_hash(b, 7));
        shmets_term_free(&obj);
    }
    assert_true(shmets_term_hash(one, 0) != shmets_term_hash(one, 0x9e3779b97f4a7c15ULL));
    /* Stable: the same call gives the same value. */
    assert_true(shmets_term_hash(a, 42) == shmets_term_hash(a, 42));
    shmets_term_free(&a);
    shmets_term_free(&b);
    shmets_term_free(&one);
    shmets_term_free(&onef);
    shmets_term_free(&two);
    shmets_term_free(&z);
    shmets_term_free(&nz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canon_integers),
        cmocka_unit_test(test_canon_big_boundary),
        cmocka_unit_test(test_canon_floats),
        cmocka_unit_test(test_canon_atoms),
        cmocka_unit_test(test_canon_tuples),
        cmocka_unit_test(test_canon_lists),
        cmocka_unit_test(test_canon_string_limit),
        cmocka_unit_test(test_canon_binaries),
        cmocka_unit_test(test_canon_pids_ports_refs),
        cmocka_unit_test(test_canon_export_fun),
        cmocka_unit_test(test_canon_maps),
        cmocka_unit_test(test_canon_big_map),
        cmocka_unit_test(test_compressed),
        cmocka_unit_test(test_no_version_flag),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_round_trip_dup),
        cmocka_unit_test(test_build_scalars),
        cmocka_unit_test(test_build_containers),
        cmocka_unit_test(test_build_misuse),
        cmocka_unit_test(test_get_integers),
        cmocka_unit_test(test_get_others),
        cmocka_unit_test(test_tuple_access),
        cmocka_unit_test(test_list_walk),
        cmocka_unit_test(test_map_walk),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_key_every_element_kind),
        cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
