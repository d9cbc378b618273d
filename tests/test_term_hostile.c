/*
 * test_term_hostile.c — hostile input to shmets_term_from_etf() and shmets_term_parse().
 *
 * Covers: empty and version-less buffers; every truncation of a set of valid encodings; every
 * single-byte corruption of a few encodings (each must give an error or a valid, canonical
 * term); lengths and counts that point past the end; nesting a million deep (refused) and a
 * million-long tail chain (accepted: tails are not depth); invalid UTF-8 and over-long atoms;
 * NaN and infinite floats; trailing bytes; duplicate map keys (also ones equal only after
 * canonicalisation); unknown and distribution-only tags; integers past SHMETS_BIG_MAX_BYTES; bad
 * sign bytes; bad bit counts; bad reference lengths; broken and bomb-like compressed input;
 * hostile text (deep brackets, huge literals, invalid UTF-8, NUL bytes); and a deterministic
 * random walk through both entry points.  Meant to be run under ASan/UBSan: a crash, a leak
 * or an out-of-bounds read is the failure this file looks for.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "shmets.h"
#include "testutil.h"

#define E(...) ((const unsigned char[]){__VA_ARGS__}), sizeof((const unsigned char[]){__VA_ARGS__})
#define NONODE_UTF8 119, 13, 'n', 'o', 'n', 'o', 'd', 'e', '@', 'n', 'o', 'h', 'o', 's', 't'

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                   */
/* ---------------------------------------------------------------------------------------- */

static void dump(const char *what, const unsigned char *p, size_t n)
{
    print_message("%s (%zu bytes):", what, n);
    for (size_t i = 0; i < n && i < 48; i++)
        print_message(" %u", p[i]);
    print_message("%s\n", n > 48 ? " ..." : "");
}

/* Decoding `in` must fail with one of the (negated) codes e1, e2, leaving *out empty. */
static void expect_err2(int line, const void *in, size_t len, unsigned flags, int e1, int e2)
{
    shmets_term t = { (const unsigned char *)"x", 1 };
    int rc = shmets_term_from_etf(in, len, flags, &t);
    if ((rc != -e1 && rc != -e2) || t.ptr != NULL || t.len != 0) {
        print_message("line %d: shmets_term_from_etf = %d, expected -%d or -%d\n", line, rc, e1,
                      e2);
        dump("input", in, len);
        if (rc == 0) {
            dump("got", t.ptr, t.len);
            shmets_term_free(&t);
        }
        fail();
    }
}
#define BAD(in) expect_err2(__LINE__, in, 0, SHMETS_EBADTERM, SHMETS_EBADTERM)
#define BAD2(in, e1, e2) expect_err2(__LINE__, in, 0, e1, e2)
#define BADBUF(b, e1, e2) expect_err2(__LINE__, (b)->p, (b)->n, 0, e1, e2)

/*
 * t was accepted: it must be a usable, canonical term.  It formats, compares equal to itself,
 * and its bytes (with or without 131) decode to the very same bytes.
 */
static void check_valid(shmets_term t)
{
    unsigned char *etf = NULL;
    size_t len = 0;
    char *text = NULL;
    size_t tlen = 0;
    shmets_term u = { NULL, 0 };
    enum shmets_type type = shmets_term_type(t);
    int rc;

    assert_true(type >= SHMETS_T_INTEGER && type <= SHMETS_T_BINARY);
    assert_int_equal(shmets_term_to_etf(t, &etf, &len), 0);
    assert_int_equal(len, t.len + 1);
    rc = shmets_term_from_etf(etf, len, 0, &u);
    if (rc != 0 || u.len != t.len || memcmp(u.ptr, t.ptr, t.len) != 0) {
        print_message("accepted term does not re-canonicalise to itself (rc %d, %s)\n", rc,
                      shmets_errdetail());
        dump("term", t.ptr, t.len);
        if (rc == 0)
            dump("again", u.ptr, u.len);
        fail();
    }
    shmets_term_free(&u);
    assert_int_equal(shmets_term_from_etf(t.ptr, t.len, SHMETS_ETF_NO_VERSION, &u), 0);
    assert_true(shmets_term_exact_equal(t, u));
    shmets_term_free(&u);
    free(etf);
    assert_int_equal(shmets_term_compare(t, t), 0);
    assert_int_equal(shmets_term_compare_exact(t, t), 0);
    assert_true(shmets_term_equal(t, t));
    (void)shmets_term_hash(t, 1);
    assert_int_equal(shmets_term_format(t, &text, &tlen), 0);
    assert_non_null(text);
    assert_int_equal(strlen(text), tlen);
    free(text);
}

/* Decode arbitrary bytes: either an error (with *out empty) or a valid term. */
static void decode_any(const unsigned char *in, size_t len, unsigned flags)
{
    shmets_term t = { (const unsigned char *)"x", 1 };
    int rc = shmets_term_from_etf(in, len, flags, &t);
    if (rc == 0) {
        check_valid(t);
        shmets_term_free(&t);
        return;
    }
    if (rc >= 0 || rc <= -SHMETS_ECOUNT || t.ptr != NULL || t.len != 0) {
        print_message("shmets_term_from_etf = %d\n", rc);
        dump("input", in, len);
        fail();
    }
}

/* Parse arbitrary text: either an error or a term that also prints and reads back. */
static void parse_any(const char *text, size_t len)
{
    shmets_term t = { (const unsigned char *)"x", 1 }, u = { NULL, 0 };
    char *out = NULL;
    int rc = shmets_term_parse(text, len, &t);
    if (rc != 0) {
        if (rc >= 0 || rc <= -SHMETS_ECOUNT || t.ptr != NULL || t.len != 0) {
            print_message("shmets_term_parse = %d on \"%.*s\"\n", rc, (int)len, text);
            fail();
        }
        return;
    }
    check_valid(t);
    assert_int_equal(shmets_term_format(t, &out, NULL), 0);
    rc = shmets_term_parse(out, strlen(out), &u);
    if (rc != 0 || !shmets_term_exact_equal(t, u)) {
        print_message("\"%.*s\" printed as \"%s\" does not read back (rc %d)\n", (int)len, text,
                      out, rc);
        fail();
    }
    shmets_term_free(&u);
    free(out);
    shmets_term_free(&t);
}

/* Valid encodings to truncate and corrupt. */
#define FUN_BYTES 131, 112, 0, 0, 0, 69, 0, 29, 124, 55, 34, 166, 145, 44, 23, 185, 123, 217, 7, \
    253, 118, 202, 71, 0, 0, 0, 0, 0, 0, 0, 1, 119, 1, 102, 97, 0, 98, 0, 235, 225, 185, 88,      \
    NONODE_UTF8, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 97, 42
static const struct {
    const unsigned char *p;
    size_t n;
} seeds[] = {
    { E(131, 97, 7) },
    { E(131, 98, 0, 0, 1, 0) },
    { E(131, 110, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1) },
    { E(131, 111, 0, 0, 0, 2, 0, 5, 1) },
    { E(131, 70, 63, 248, 0, 0, 0, 0, 0, 0) },
    { E(131, 99, '1', '.', '5', 'e', '0', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0) },
    { E(131, 119, 2, 195, 169) },
    { E(131, 100, 0, 3, 'a', 'b', 'c') },
    { E(131, 118, 0, 3, 226, 130, 172) },
    { E(131, 107, 0, 3, 1, 2, 3) },
    { E(131, 108, 0, 0, 0, 2, 119, 1, 'a', 107, 0, 1, 'b', 97, 3) },
    { E(131, 109, 0, 0, 0, 3, 1, 2, 3) },
    { E(131, 77, 0, 0, 0, 2, 3, 1, 64) },
    { E(131, 104, 3, 119, 1, 'a', 106, 104, 0) },
    { E(131, 105, 0, 0, 0, 2, 97, 1, 97, 2) },
    { E(131, 116, 0, 0, 0, 2, 97, 1, 119, 1, 'a', 119, 1, 'b', 107, 0, 1, 2) },
    { E(131, 88, NONODE_UTF8, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0) },
    { E(131, 103, 100, 0, 3, 'x', '@', 'y', 0, 0, 0, 5, 0, 0, 0, 1, 3) },
    { E(131, 89, NONODE_UTF8, 0, 0, 0, 9, 0, 0, 0, 0) },
    { E(131, 90, 0, 3, NONODE_UTF8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3) },
    { E(131, 114, 0, 1, 100, 0, 3, 'x', '@', 'y', 2, 0, 0, 0, 7) },
    { E(131, 113, 119, 1, 'm', 119, 1, 'f', 97, 1) },
    { E(FUN_BYTES) },
    /* term_to_binary({lists:duplicate(20,a), <<0:800>>}, [compressed]) */
    { E(131, 80, 0, 0, 0, 193, 120, 156, 203, 96, 202, 97, 96, 96, 16, 73, 97, 96, 76, 164, 38,
        206, 202, 5, 154, 154, 194, 64, 7, 0, 0, 10, 248, 17, 158) },
};
#define NSEEDS (sizeof seeds / sizeof seeds[0])

/* ---------------------------------------------------------------------------------------- */
/* ETF                                                                                       */
/* ---------------------------------------------------------------------------------------- */

static void test_empty_and_version(void **state)
{
    shmets_term t;
    (void)state;

    BAD2(E(0), SHMETS_EBADTERM, SHMETS_EBADTERM);
    expect_err2(__LINE__, "", 0, 0, SHMETS_EBADTERM, SHMETS_EBADTERM);
    expect_err2(__LINE__, "", 0, SHMETS_ETF_NO_VERSION, SHMETS_EBADTERM, SHMETS_EBADTERM);
    BAD(E(131));
    BAD(E(130, 97, 1));
    BAD(E(132, 97, 1));
    BAD(E(0, 97, 1));
    BAD(E(131, 131, 97, 1));
    {
        int rc = shmets_term_from_etf(NULL, 0, 0, &t);
        assert_true(rc == -SHMETS_EINVAL || rc == -SHMETS_EBADTERM);
    }
    /* The seeds themselves are valid. */
    for (size_t i = 0; i < NSEEDS; i++) {
        assert_int_equal(shmets_term_from_etf(seeds[i].p, seeds[i].n, 0, &t), 0);
        check_valid(t);
        shmets_term_free(&t);
    }
}

/* Every proper prefix of a valid encoding is malformed (ETF is prefix-free). */
static void test_truncations(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSEEDS; i++) {
        for (size_t n = 0; n < seeds[i].n; n++) {
            /* Copy, so that ASan sees any read past the prefix. */
            unsigned char *p = malloc(n ? n : 1);
            assert_non_null(p);
            memcpy(p, seeds[i].p, n);
            expect_err2(__LINE__, p, n, 0, SHMETS_EBADTERM, SHMETS_EBADTERM);
            if (n > 0)
                expect_err2(__LINE__, p + 1, n - 1, SHMETS_ETF_NO_VERSION, SHMETS_EBADTERM,
                            SHMETS_EBADTERM);
            free(p);
        }
    }
}

/* Every single-byte change gives an error or a valid canonical term, never a crash. */
static void test_corruptions(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSEEDS; i++) {
        size_t n = seeds[i].n;
        unsigned char *p = malloc(n);
        assert_non_null(p);
        for (size_t pos = 0; pos < n; pos++) {
            for (unsigned v = 0; v < 256; v++) {
                memcpy(p, seeds[i].p, n);
                p[pos] = (unsigned char)v;
                decode_any(p, n, 0);
            }
        }
        free(p);
    }
}

static void test_lengths_past_end(void **state)
{
    (void)state;
    /* Binaries and bitstrings. */
    BAD2(E(131, 109, 255, 255, 255, 255, 1, 2, 3), SHMETS_EBADTERM, SHMETS_ETOOBIG);
    BAD2(E(131, 109, 0, 0, 0, 4, 1, 2, 3), SHMETS_EBADTERM, SHMETS_EBADTERM);
    BAD2(E(131, 77, 255, 255, 255, 255, 3, 1, 2, 3), SHMETS_EBADTERM, SHMETS_ETOOBIG);
    BAD2(E(131, 77, 0, 0, 0, 2, 3, 1), SHMETS_EBADTERM, SHMETS_EBADTERM);
    /* Tuples: a 10-byte buffer claiming 2^32-1 elements. */
    BAD2(E(131, 105, 255, 255, 255, 255, 97, 1, 97, 2), SHMETS_EBADTERM, SHMETS_ETOOBIG);
    BAD2(E(131, 104, 255, 97, 1, 97, 2), SHMETS_EBADTERM, SHMETS_EBADTERM);
    /* Lists and strings. */
    BAD2(E(131, 108, 255, 255, 255, 255, 97, 1, 106), SHMETS_EBADTERM, SHMETS_ETOOBIG);
    BAD2(E(131, 108, 0, 0, 0, 2, 97, 1, 106), SHMETS_EBADTERM, SHMETS_EBADTERM);
    BAD2(E(131, 107, 255, 255, 1, 2, 3), SHMETS_EBADTERM, SHMETS_EBADTERM);
    /* Atoms. */
    BAD2(E(131, 100, 0, 10, 'a'), SHMETS_EBADTERM, SHMETS_EBADTERM);
    BAD2(E(131, 100, 255, 255, 'a'), SHMETS_EBADTERM, SHMETS_ETOOBIG);
    BAD2(E(131, 118, 255, 255, 'a'), SHMETS_EBADTERM, SHMETS_ETOOBIG);
    BAD2(E(131, 119, 200, 'a'), SHMETS_EBADTERM, SHMETS_EBADTERM);
    BAD2(E(131, 115, 2, 'a'), SHMETS_EBADTERM, SHMETS_EBADTERM);
    /* Maps. */
    BAD2(E(131, 116, 255, 255, 255, 255, 97, 1, 97, 2), SHMETS_EBADTERM, SHMETS_ETOOBIG);
    BAD2(E(131, 116, 0, 0, 0, 2, 97, 1, 97, 2), SHMETS_EBADTERM, SHMETS_EBADTERM);
    BAD2(E(131, 116, 0, 0, 0, 1, 97, 1), SHMETS_EBADTERM, SHMETS_EBADTERM);
    /* Integers. */
    BAD2(E(131, 111, 255, 255, 255, 255, 0, 1), SHMETS_EBADTERM, SHMETS_ETOOBIG);
    BAD2(E(131, 110, 255, 0, 1, 2), SHMETS_EBADTERM, SHMETS_EBADTERM);
    BAD2(E(131, 98, 0, 0), SHMETS_EBADTERM, SHMETS_EBADTERM);
    /* Funs, references, pids: counts and sizes that lie. */
    BAD2(E(131, 112, 255, 255, 255, 255, 0), SHMETS_EBADTERM, SHMETS_ETOOBIG);
    BAD2(E(131, 90, 255, 255, NONODE_UTF8, 0, 0, 0, 0, 0, 0, 0, 1), SHMETS_EBADTERM,
         SHMETS_EBADTERM);
    BAD2(E(131, 88, 119, 13, 'n', 'o'), SHMETS_EBADTERM, SHMETS_EBADTERM);
}

/* A NEW_FUN_EXT whose Size field disagrees with its contents. */
static void test_fun_size_lies(void **state)
{
    unsigned char f[] = { FUN_BYTES };
    (void)state;

    for (int d = -3; d <= 3; d++) {
        if (d == 0)
            continue;
        f[5] = (unsigned char)(69 + d);
        expect_err2(__LINE__, f, sizeof f, 0, SHMETS_EBADTERM, SHMETS_EBADTERM);
    }
}

/* Nesting: depth is refused past SHMETS_TERM_MAX_DEPTH; a tail chain is no depth. */
static void test_deep_nesting(void **state)
{
    static const unsigned char tup1[] = { 104, 1 };
    static const unsigned char list1[] = { 108, 0, 0, 0, 1 };
    static const unsigned char map1[] = { 116, 0, 0, 0, 1, 106 };  /* #{[] => ...} */
    static const unsigned char tail1[] = { 108, 0, 0, 0, 1, 97, 1 };
    struct buf b = { 0 };
    shmets_term t;
    size_t n;
    (void)state;

    /* Exactly the limit is fine; one more is not. */
    buf_u8(&b, 131); buf_rep(&b, tup1, 2, SHMETS_TERM_MAX_DEPTH); buf_u8(&b, 106);
    assert_int_equal(shmets_term_from_etf(b.p, b.n, 0, &t), 0);
    shmets_term_free(&t);
    buf_free(&b);
    buf_u8(&b, 131); buf_rep(&b, tup1, 2, SHMETS_TERM_MAX_DEPTH + 1); buf_u8(&b, 106);
    BADBUF(&b, SHMETS_ETOODEEP, SHMETS_ETOODEEP);
    buf_free(&b);

    /* A million tuples of arity 1. */
    buf_u8(&b, 131); buf_rep(&b, tup1, 2, 1000000); buf_u8(&b, 106);
    BADBUF(&b, SHMETS_ETOODEEP, SHMETS_ETOODEEP);
    buf_free(&b);
    /* A million lists nested through their heads: [[[...]]]. */
    buf_u8(&b, 131); buf_rep(&b, list1, 5, 1000000); buf_fill(&b, 106, 1000001);
    BADBUF(&b, SHMETS_ETOODEEP, SHMETS_ETOODEEP);
    buf_free(&b);
    /* A million maps nested through their values. */
    buf_u8(&b, 131); buf_rep(&b, map1, 6, 1000000); buf_u8(&b, 106);
    BADBUF(&b, SHMETS_ETOODEEP, SHMETS_ETOODEEP);
    buf_free(&b);
    /* Truncated deep nesting: the same without the end. */
    buf_u8(&b, 131); buf_rep(&b, tup1, 2, 1000000);
    BADBUF(&b, SHMETS_ETOODEEP, SHMETS_EBADTERM);
    buf_free(&b);

    /* A million LIST_EXTs of one element, each the tail of the one before: accepted. */
    buf_u8(&b, 131); buf_rep(&b, tail1, 7, 1000000); buf_u8(&b, 106);
    assert_int_equal(shmets_term_from_etf(b.p, b.n, 0, &t), 0);
    buf_free(&b);
    assert_int_equal(shmets_term_type(t), SHMETS_T_LIST);
    assert_int_equal(shmets_term_list_length(t, &n), 0);
    assert_int_equal(n, 1000000);
    assert_int_equal(t.len, 1 + 4 + 2 * 1000000 + 1);   /* one canonical LIST_EXT */
    assert_int_equal(t.ptr[0], 108);
    assert_int_equal(shmets_term_compare(t, t), 0);
    shmets_term_free(&t);

    /* The builder refuses too deep a term as well. */
    {
        shmets_builder *bl;
        int rc;
        assert_int_equal(shmets_builder_create(&bl), 0);
        for (int i = 0; i < 1000000; i++) {
            rc = shmets_build_tuple(bl, 1);
            assert_true(rc == 0 || rc == -SHMETS_ETOODEEP);
        }
        rc = shmets_build_nil(bl);
        assert_true(rc == 0 || rc == -SHMETS_ETOODEEP);
        assert_int_equal(shmets_builder_finish(bl, &t), -SHMETS_ETOODEEP);
        assert_null(t.ptr);
        shmets_builder_destroy(bl);
    }
}

static void test_bad_atoms(void **state)
{
    struct buf b = { 0 };
    (void)state;

    BAD(E(131, 119, 2, 192, 128));                  /* overlong NUL */
    BAD(E(131, 118, 0, 2, 0xc1, 0xbf));             /* overlong '\x7f' */
    BAD(E(131, 119, 3, 0xe0, 0x80, 0x80));          /* overlong 3-byte */
    BAD(E(131, 119, 4, 0xf0, 0x80, 0x80, 0x80));    /* overlong 4-byte */
    BAD(E(131, 119, 3, 237, 160, 128));             /* surrogate U+D800 */
    BAD(E(131, 118, 0, 3, 237, 191, 191));          /* surrogate U+DFFF */
    BAD(E(131, 119, 1, 195));                       /* truncated sequence */
    BAD(E(131, 119, 2, 226, 130));
    BAD(E(131, 119, 2, 195, 'a'));                  /* bad continuation */
    BAD(E(131, 119, 1, 128));                       /* lone continuation */
    BAD(E(131, 119, 1, 255));
    BAD(E(131, 119, 1, 254));
    BAD(E(131, 119, 4, 244, 144, 128, 128));        /* U+110000 */
    BAD(E(131, 119, 5, 248, 136, 128, 128, 128));   /* 5-byte form */
    BAD(E(131, 104, 1, 119, 1, 255));               /* inside a tuple */
    BAD(E(131, 88, 119, 1, 255, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0));   /* as a node name */

    /* More than 255 characters. */
    buf_u8(&b, 131); buf_u8(&b, 118); buf_u8(&b, 1); buf_u8(&b, 0); buf_fill(&b, 'a', 256);
    BADBUF(&b, SHMETS_ETOOBIG, SHMETS_EBADTERM);
    buf_free(&b);
    buf_u8(&b, 131); buf_u8(&b, 100); buf_u8(&b, 1); buf_u8(&b, 0); buf_fill(&b, 233, 256);
    BADBUF(&b, SHMETS_ETOOBIG, SHMETS_EBADTERM);
    buf_free(&b);
    buf_u8(&b, 131); buf_u8(&b, 118); buf_u8(&b, 2); buf_u8(&b, 0);
    for (int i = 0; i < 256; i++) { buf_u8(&b, 195); buf_u8(&b, 169); }
    BADBUF(&b, SHMETS_ETOOBIG, SHMETS_EBADTERM);
    buf_free(&b);
    buf_u8(&b, 131); buf_u8(&b, 118); buf_u8(&b, 0xff); buf_u8(&b, 0xff); buf_fill(&b, 'a', 65535);
    BADBUF(&b, SHMETS_ETOOBIG, SHMETS_EBADTERM);
    buf_free(&b);
}

static void test_bad_floats(void **state)
{
    static const char *const bad_text[] = { "nan", "inf", "-inf", "1e400", "-1e400", "1.5x", "",
                                            "x1.5", "1.5e", "--1" };
    unsigned char f[33];
    (void)state;

    BAD(E(131, 70, 127, 248, 0, 0, 0, 0, 0, 0));    /* NaN */
    BAD(E(131, 70, 255, 248, 0, 0, 0, 0, 0, 0));    /* -NaN */
    BAD(E(131, 70, 127, 240, 0, 0, 0, 0, 0, 1));    /* signalling NaN */
    BAD(E(131, 70, 127, 240, 0, 0, 0, 0, 0, 0));    /* +Inf */
    BAD(E(131, 70, 255, 240, 0, 0, 0, 0, 0, 0));    /* -Inf */
    BAD(E(131, 104, 1, 70, 127, 240, 0, 0, 0, 0, 0, 0));
    for (size_t i = 0; i < sizeof bad_text / sizeof bad_text[0]; i++) {
        memset(f, 0, sizeof f);
        f[0] = 131;
        f[1] = 99;
        memcpy(f + 2, bad_text[i], strlen(bad_text[i]));
        expect_err2(__LINE__, f, sizeof f, 0, SHMETS_EBADTERM, SHMETS_EBADTERM);
    }
}

static void test_trailing_bytes(void **state)
{
    static const unsigned char inner[] = { 97, 1 };
    unsigned char z[64];
    uLongf zlen = sizeof z - 6;
    (void)state;

    BAD(E(131, 97, 1, 0));
    BAD(E(131, 106, 106));
    BAD(E(131, 104, 0, 0));
    BAD(E(131, 109, 0, 0, 0, 1, 5, 5));
    expect_err2(__LINE__, (const unsigned char[]){ 97, 1, 97 }, 3, SHMETS_ETF_NO_VERSION,
                SHMETS_EBADTERM, SHMETS_EBADTERM);
    /* Trailing bytes after a compressed stream. */
    z[0] = 131; z[1] = 80; z[2] = 0; z[3] = 0; z[4] = 0; z[5] = sizeof inner;
    assert_int_equal(compress2(z + 6, &zlen, inner, sizeof inner, 9), Z_OK);
    z[6 + zlen] = 0;
    expect_err2(__LINE__, z, 6 + zlen + 1, 0, SHMETS_EBADTERM, SHMETS_EBADTERM);
}

static void test_duplicate_keys(void **state)
{
    shmets_term t;
    (void)state;

    BAD(E(131, 116, 0, 0, 0, 2, 97, 1, 119, 1, 'a', 97, 1, 119, 1, 'b'));
    /* Equal once canonical: 1 as SMALL_INTEGER_EXT and INTEGER_EXT. */
    BAD(E(131, 116, 0, 0, 0, 2, 97, 1, 106, 98, 0, 0, 0, 1, 106));
    /* ... 'a' as SMALL_ATOM_UTF8_EXT and ATOM_EXT. */
    BAD(E(131, 116, 0, 0, 0, 2, 119, 1, 'a', 106, 100, 0, 1, 'a', 106));
    /* ... "ab" as STRING_EXT and LIST_EXT. */
    BAD(E(131, 116, 0, 0, 0, 2, 107, 0, 2, 'a', 'b', 106, 108, 0, 0, 0, 2, 97, 'a', 97, 'b', 106,
          106));
    /* ... 2^40 as SMALL_BIG_EXT and LARGE_BIG_EXT. */
    BAD(E(131, 116, 0, 0, 0, 2, 110, 6, 0, 0, 0, 0, 0, 0, 1, 106, 111, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0,
          1, 0, 0, 106));
    /* Duplicates deep inside. */
    BAD(E(131, 104, 1, 116, 0, 0, 0, 3, 97, 1, 106, 97, 2, 106, 97, 1, 106));
    /* 1 and 1.0 are different keys, and so (in shmets) are 0.0 and -0.0. */
    assert_int_equal(shmets_term_from_etf(E(131, 116, 0, 0, 0, 2, 97, 1, 106, 70, 63, 240, 0, 0, 0,
                                            0, 0, 0, 106), 0, &t), 0);
    shmets_term_free(&t);
    assert_int_equal(shmets_term_from_etf(E(131, 116, 0, 0, 0, 2, 70, 0, 0, 0, 0, 0, 0, 0, 0, 97,
                                            1, 70, 128, 0, 0, 0, 0, 0, 0, 0, 97, 2), 0, &t), 0);
    assert_int_equal(t.len, 5 + 2 * 11);
    assert_int_equal(t.ptr[6], 128);                /* -0.0 sorts first */
    shmets_term_free(&t);
}

static void test_unknown_tags(void **state)
{
    (void)state;
    BAD(E(131, 0));
    BAD(E(131, 200));
    BAD(E(131, 255));
    BAD(E(131, 82, 0));                             /* ATOM_CACHE_REF */
    BAD(E(131, 104, 2, 82, 0, 82, 1));
    BAD(E(131, 121, 119, 1, 'a'));                  /* LOCAL_EXT */
    BAD(E(131, 121, 97, 1));
    BAD(E(131, 68, 0));                             /* DIST_HEADER */
    /* FUN_EXT (tag 117), removed in OTP 23. */
    BAD(E(131, 117, 0, 0, 0, 0, 88, NONODE_UTF8, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 119, 1, 'm',
          97, 0, 97, 0));
    /* A compressed term is only allowed at the top. */
    BAD(E(131, 104, 1, 80, 0, 0, 0, 2, 120, 156, 75, 100, 0, 0, 0, 200, 0, 98));
    /* Only NIL is a whole term in one byte. */
    for (unsigned tag = 0; tag < 256; tag++) {
        shmets_term t;
        unsigned char in[2] = { 131, (unsigned char)tag };
        int rc = shmets_term_from_etf(in, 2, 0, &t);
        if (tag == 106) {
            assert_int_equal(rc, 0);
            shmets_term_free(&t);
        } else if (rc != -SHMETS_EBADTERM) {
            print_message("tag %u alone: %d\n", tag, rc);
            fail();
        }
    }
}

static void test_bad_numbers(void **state)
{
    struct buf b = { 0 };
    (void)state;

    /* Sign bytes other than 0 and 1. */
    BAD(E(131, 110, 1, 2, 5));
    BAD(E(131, 110, 1, 255, 5));
    BAD(E(131, 111, 0, 0, 0, 1, 2, 5));
    /* More than SHMETS_BIG_MAX_BYTES bytes of magnitude. */
    buf_u8(&b, 131); buf_u8(&b, 111); buf_u32(&b, SHMETS_BIG_MAX_BYTES + 1); buf_u8(&b, 0);
    buf_fill(&b, 0xff, SHMETS_BIG_MAX_BYTES + 1);
    BADBUF(&b, SHMETS_ETOOBIG, SHMETS_ETOOBIG);
    buf_free(&b);
    buf_u8(&b, 131); buf_u8(&b, 111); buf_u32(&b, 1000000); buf_u8(&b, 1);
    buf_fill(&b, 0x01, 1000000);
    BADBUF(&b, SHMETS_ETOOBIG, SHMETS_ETOOBIG);
    buf_free(&b);
    /* ... also inside a container. */
    buf_u8(&b, 131); buf_u8(&b, 104); buf_u8(&b, 2); buf_u8(&b, 106);
    buf_u8(&b, 111); buf_u32(&b, SHMETS_BIG_MAX_BYTES + 1); buf_u8(&b, 0);
    buf_fill(&b, 0xff, SHMETS_BIG_MAX_BYTES + 1);
    BADBUF(&b, SHMETS_ETOOBIG, SHMETS_ETOOBIG);
    buf_free(&b);
}

static void test_bad_bitstrings_and_refs(void **state)
{
    (void)state;
    BAD(E(131, 77, 0, 0, 0, 1, 0, 5));              /* bits 0 */
    BAD(E(131, 77, 0, 0, 0, 1, 9, 5));              /* bits 9 */
    BAD(E(131, 77, 0, 0, 0, 1, 255, 5));
    BAD(E(131, 77, 0, 0, 0, 0, 3));                 /* bits of a byte that is not there */
    /* NEWER_REFERENCE_EXT with 0 or 6 words, NEW_REFERENCE_EXT likewise. */
    BAD(E(131, 90, 0, 0, NONODE_UTF8, 0, 0, 0, 0));
    BAD(E(131, 90, 0, 6, NONODE_UTF8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
          0, 0, 0, 5, 0, 0, 0, 6));
    BAD(E(131, 114, 0, 0, 100, 0, 3, 'x', '@', 'y', 0));
    BAD(E(131, 114, 0, 6, 100, 0, 3, 'x', '@', 'y', 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0,
          4, 0, 0, 0, 5, 0, 0, 0, 6));
    /* A node that is not an atom. */
    BAD(E(131, 88, 97, 1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0));
    BAD(E(131, 89, 106, 0, 0, 0, 9, 0, 0, 0, 0));
    /* An export whose parts are not atoms and a small integer. */
    BAD(E(131, 113, 97, 1, 119, 1, 'f', 97, 1));
    BAD(E(131, 113, 119, 1, 'm', 119, 1, 'f', 119, 1, 'a'));
}

/* Compress `in` into 131, 80, claimed size, zlib stream. */
static void make_compressed(struct buf *out, const void *in, size_t n, uint32_t claim)
{
    uLongf zlen = compressBound(n);
    unsigned char *z = malloc(zlen);
    assert_non_null(z);
    assert_int_equal(compress2(z, &zlen, in, n, 9), Z_OK);
    buf_u8(out, 131); buf_u8(out, 80); buf_u32(out, claim);
    buf_put(out, z, zlen);
    free(z);
}

/* Deflate the encoding of a binary of `size` zero bytes, without holding it in memory. */
static void make_zero_bomb(struct buf *out, uint32_t size, uint32_t claim)
{
    static unsigned char zeros[65536];
    unsigned char hdr[5] = { 109, (unsigned char)(size >> 24), (unsigned char)(size >> 16),
                             (unsigned char)(size >> 8), (unsigned char)size };
    unsigned char obuf[65536];
    z_stream zs;
    uint64_t left = size;

    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit(&zs, Z_BEST_SPEED), Z_OK);
    buf_u8(out, 131); buf_u8(out, 80); buf_u32(out, claim);
    zs.next_in = hdr;
    zs.avail_in = sizeof hdr;
    for (;;) {
        int flush = Z_NO_FLUSH, rc;
        if (zs.avail_in == 0) {
            if (left == 0) {
                flush = Z_FINISH;
            } else {
                size_t k = left < sizeof zeros ? left : sizeof zeros;
                zs.next_in = zeros;
                zs.avail_in = (uInt)k;
                left -= k;
            }
        }
        do {
            zs.next_out = obuf;
            zs.avail_out = sizeof obuf;
            rc = deflate(&zs, flush);
            assert_true(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR);
            buf_put(out, obuf, sizeof obuf - zs.avail_out);
        } while (zs.avail_out == 0);
        if (flush == Z_FINISH && rc == Z_STREAM_END)
            break;
    }
    deflateEnd(&zs);
}

static void test_bad_compressed(void **state)
{
    static const unsigned char inner[] = { 104, 2, 119, 1, 'a', 109, 0, 0, 0, 3, 1, 2, 3 };
    struct buf b = { 0 };
    (void)state;

    /* The honest one works. */
    make_compressed(&b, inner, sizeof inner, sizeof inner);
    {
        shmets_term t;
        assert_int_equal(shmets_term_from_etf(b.p, b.n, 0, &t), 0);
        assert_int_equal(t.len, sizeof inner);
        assert_memory_equal(t.ptr, inner, sizeof inner);
        shmets_term_free(&t);
    }
    buf_free(&b);
    /* A size that lies either way. */
    make_compressed(&b, inner, sizeof inner, sizeof inner + 1);
    BADBUF(&b, SHMETS_EBADTERM, SHMETS_EBADTERM);
    buf_free(&b);
    make_compressed(&b, inner, sizeof inner, 100);
    BADBUF(&b, SHMETS_EBADTERM, SHMETS_EBADTERM);
    buf_free(&b);
    make_compressed(&b, inner, sizeof inner, sizeof inner - 1);
    BADBUF(&b, SHMETS_EBADTERM, SHMETS_EBADTERM);
    buf_free(&b);
    make_compressed(&b, inner, sizeof inner, 0);
    BADBUF(&b, SHMETS_EBADTERM, SHMETS_EBADTERM);
    buf_free(&b);
    /* The inflated bytes hold a term and more. */
    {
        unsigned char more[sizeof inner + 1];
        memcpy(more, inner, sizeof inner);
        more[sizeof inner] = 106;
        make_compressed(&b, more, sizeof more, sizeof more);
        BADBUF(&b, SHMETS_EBADTERM, SHMETS_EBADTERM);
        buf_free(&b);
    }
    /* ... or a truncated term. */
    make_compressed(&b, inner, sizeof inner - 1, sizeof inner - 1);
    BADBUF(&b, SHMETS_EBADTERM, SHMETS_EBADTERM);
    buf_free(&b);
    /* Corrupt streams: every single-byte change and every truncation must not crash. */
    make_compressed(&b, inner, sizeof inner, sizeof inner);
    for (size_t pos = 6; pos < b.n; pos++) {
        for (unsigned v = 0; v < 256; v += 5) {
            unsigned char save = b.p[pos];
            b.p[pos] = (unsigned char)v;
            decode_any(b.p, b.n, 0);
            b.p[pos] = save;
        }
    }
    for (size_t n = 0; n < b.n; n++)
        expect_err2(__LINE__, b.p, n, 0, SHMETS_EBADTERM, SHMETS_EBADTERM);
    buf_free(&b);
    BAD(E(131, 80, 0, 0, 0, 2, 1, 2, 3, 4, 5));     /* not zlib at all */
    BAD(E(131, 80, 0, 0, 0, 2));                    /* no stream */
    /* A bomb: more than SHMETS_TERM_MAX_SIZE bytes, honestly declared ... */
    make_zero_bomb(&b, SHMETS_TERM_MAX_SIZE, SHMETS_TERM_MAX_SIZE + 5);
    BADBUF(&b, SHMETS_ETOOBIG, SHMETS_ETOOBIG);
    buf_free(&b);
    /* ... declared as small ... */
    make_zero_bomb(&b, SHMETS_TERM_MAX_SIZE, 1000);
    BADBUF(&b, SHMETS_EBADTERM, SHMETS_ETOOBIG);
    buf_free(&b);
    /* ... and a tiny stream declaring 4 GiB. */
    make_compressed(&b, inner, sizeof inner, 0xffffffffu);
    BADBUF(&b, SHMETS_ETOOBIG, SHMETS_EBADTERM);
    buf_free(&b);
}

/* ---------------------------------------------------------------------------------------- */
/* Text                                                                                      */
/* ---------------------------------------------------------------------------------------- */

/* Parsing `text` must fail with one of the (negated) codes e1, e2.  The text is copied into a
 * buffer of exactly len bytes (no NUL after it), so that ASan sees any read past the end. */
static void expect_parse_err(int line, const char *text, size_t len, int e1, int e2)
{
    shmets_term t = { (const unsigned char *)"x", 1 };
    char *copy = malloc(len ? len : 1);
    int rc;

    assert_non_null(copy);
    memcpy(copy, text, len);
    rc = shmets_term_parse(copy, len, &t);
    free(copy);
    if ((rc != -e1 && rc != -e2) || t.ptr != NULL || t.len != 0) {
        print_message("line %d: shmets_term_parse = %d, expected -%d or -%d (text of %zu bytes:"
                      " %.40s)\n", line, rc, e1, e2, len, text);
        if (rc == 0)
            shmets_term_free(&t);
        fail();
    }
    if (strlen(shmets_errdetail()) == 0) {
        print_message("line %d: no error detail\n", line);
        fail();
    }
}
#define PBAD(s, e1, e2) expect_parse_err(__LINE__, s, sizeof(s) - 1, e1, e2)

static char *repeat(const char *a, size_t na, const char *mid, const char *b, size_t nb,
                    size_t *len)
{
    size_t la = strlen(a), lm = strlen(mid), lb = strlen(b);
    char *s = malloc(la * na + lm + lb * nb + 1), *p = s;
    assert_non_null(s);
    for (size_t i = 0; i < na; i++, p += la)
        memcpy(p, a, la);
    memcpy(p, mid, lm);
    p += lm;
    for (size_t i = 0; i < nb; i++, p += lb)
        memcpy(p, b, lb);
    *p = 0;
    *len = (size_t)(p - s);
    return s;
}

static void test_parse_deep(void **state)
{
    shmets_term t;
    size_t len;
    char *s;
    (void)state;

    s = repeat("[", 1000000, "", "]", 1000000, &len);
    expect_parse_err(__LINE__, s, len, SHMETS_ETOODEEP, SHMETS_ETOODEEP);
    free(s);
    s = repeat("{", 1000000, "", "", 0, &len);
    expect_parse_err(__LINE__, s, len, SHMETS_ETOODEEP, SHMETS_ESYNTAX);
    free(s);
    s = repeat("#{a=>", 1000000, "1", "}", 1000000, &len);
    expect_parse_err(__LINE__, s, len, SHMETS_ETOODEEP, SHMETS_ETOODEEP);
    free(s);
    /* The limit itself: 1000 tuples are fine, 1001 are not. */
    s = repeat("{", SHMETS_TERM_MAX_DEPTH, "", "}", SHMETS_TERM_MAX_DEPTH, &len);
    assert_int_equal(shmets_term_parse(s, len, &t), 0);
    shmets_term_free(&t);
    free(s);
    s = repeat("{", SHMETS_TERM_MAX_DEPTH + 1, "", "}", SHMETS_TERM_MAX_DEPTH + 1, &len);
    expect_parse_err(__LINE__, s, len, SHMETS_ETOODEEP, SHMETS_ETOODEEP);
    free(s);
    /* A long flat list is fine. */
    s = repeat("[", 1, "", "a,", 300000, &len);
    s[len - 1] = ']';
    assert_int_equal(shmets_term_parse(s, len, &t), 0);
    shmets_term_free(&t);
    free(s);
}

static void test_parse_huge(void **state)
{
    shmets_term t;
    size_t len;
    char *s;
    (void)state;

    /* 200,000 decimal digits are more than SHMETS_BIG_MAX_BYTES bytes. */
    s = repeat("9", 200000, "", "", 0, &len);
    expect_parse_err(__LINE__, s, len, SHMETS_ETOOBIG, SHMETS_ETOOBIG);
    free(s);
    s = repeat("-", 1, "", "9", 200000, &len);
    expect_parse_err(__LINE__, s, len, SHMETS_ETOOBIG, SHMETS_ETOOBIG);
    free(s);
    s = repeat("{a,", 1, "", "7", 2000000, &len);
    expect_parse_err(__LINE__, s, len, SHMETS_ETOOBIG, SHMETS_ESYNTAX);
    free(s);
    /* 16#FFF...F with exactly SHMETS_BIG_MAX_BYTES bytes is fine, a bit more is not. */
    s = repeat("16#", 1, "", "F", 2 * SHMETS_BIG_MAX_BYTES, &len);
    assert_int_equal(shmets_term_parse(s, len, &t), 0);
    assert_int_equal(shmets_term_type(t), SHMETS_T_INTEGER);
    assert_int_equal(t.len, 1 + 4 + 1 + SHMETS_BIG_MAX_BYTES);
    shmets_term_free(&t);
    free(s);
    s = repeat("16#1", 1, "", "0", 2 * SHMETS_BIG_MAX_BYTES, &len);
    expect_parse_err(__LINE__, s, len, SHMETS_ETOOBIG, SHMETS_ETOOBIG);
    free(s);
    /* Floats out of range, atoms too long. */
    PBAD("1.0e400", SHMETS_ESYNTAX, SHMETS_ETOOBIG);
    PBAD("-1.0e400", SHMETS_ESYNTAX, SHMETS_ETOOBIG);
    s = repeat("a", 256, "", "", 0, &len);
    expect_parse_err(__LINE__, s, len, SHMETS_ETOOBIG, SHMETS_ESYNTAX);
    free(s);
    s = repeat("'", 1, "", "\xc3\xa9", 256, &len);
    s[len - 1] = '\'';
    s[len - 2] = 'a';                              /* 255 'é' then 'a' */
    expect_parse_err(__LINE__, s, len, SHMETS_ETOOBIG, SHMETS_ESYNTAX);
    free(s);
    s = repeat("a", 255, "", "", 0, &len);
    assert_int_equal(shmets_term_parse(s, len, &t), 0);
    shmets_term_free(&t);
    free(s);
    /* A bitstring size that would need gigabytes. */
    PBAD("<<0:99999999999999999999>>", SHMETS_ESYNTAX, SHMETS_ETOOBIG);
    PBAD("<<0:4294967296>>", SHMETS_ESYNTAX, SHMETS_ETOOBIG);
    /* A long string and a long binary are fine. */
    s = repeat("\"", 1, "", "x", 100000, &len);
    s[len - 1] = '"';
    assert_int_equal(shmets_term_parse(s, len, &t), 0);
    shmets_term_free(&t);
    free(s);
}

static void test_parse_bad_bytes(void **state)
{
    (void)state;
    PBAD("'\xff'", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("\xff", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("\"\xc0\x80\"", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("\"\xed\xa0\x80\"", SHMETS_ESYNTAX, SHMETS_ESYNTAX);       /* surrogate */
    PBAD("'\xe6\x97'", SHMETS_ESYNTAX, SHMETS_ESYNTAX);             /* truncated */
    PBAD("'\xe6\x97", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("<<\"\xff\">>", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("% \xff comment\n{}\xff", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("$\xff", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("\"\\x{110000}\"", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("\"\\x{D800}\"", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("'\\x{D800}'", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("$\\x{D800}", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("\"\\x{FFFFFFFFFFFFFFFFFFFF}\"", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    /* NUL bytes. */
    PBAD("\0", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("a\0", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("\0a", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("[1,\0 2]", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("<<1,\0>>", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    /* Unfinished things at the very end of the buffer. */
    PBAD("'", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("\"", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("'\\", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("\"\\x{41", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("\"\\x4", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("$\\", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("$\\^", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("16#", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("1.0e", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("1.0e-", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("<0.1", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("<0.1.", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("#Ref<0.1.2", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("#Port<0.", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("#{a =>", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("<<5:", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("<<1:5", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("<<1:", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("<<1,2", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("<<\"a\"/", SHMETS_ESYNTAX, SHMETS_ESYNTAX);
    PBAD("<0.99999999999.0>", SHMETS_ESYNTAX, SHMETS_ETOOBIG);
}

/*
 * [a|[a|[a|...|b]]] written with '|' is the flat list [a,a,...|b] (depth 1): the parser may
 * accept it or refuse the syntactic nesting with -SHMETS_ETOODEEP, but must not recurse without
 * bound.  (Last in the list of tests: a stack overflow here ends the program.)
 */
static void test_parse_tail_chain(void **state)
{
    shmets_term t;
    size_t len;
    char *s;
    int rc;
    (void)state;

    s = repeat("[a|", 100000, "b", "]", 100000, &len);
    rc = shmets_term_parse(s, len, &t);
    free(s);
    if (rc == 0) {
        shmets_list_iter it;
        shmets_term el;
        size_t n = 0;
        assert_int_equal(shmets_list_begin(t, &it), 0);
        while (shmets_list_next(&it, &el) == 1)
            n++;
        assert_int_equal(n, 100000);
        assert_int_equal(shmets_term_type(it.tail), SHMETS_T_ATOM);
        shmets_term_free(&t);
    } else {
        assert_int_equal(rc, -SHMETS_ETOODEEP);
    }
    s = repeat("[a|", 1000000, "", "", 0, &len);
    expect_parse_err(__LINE__, s, len, SHMETS_ETOODEEP, SHMETS_ESYNTAX);
    free(s);
}

/* Valid text in a buffer of exactly its length (no NUL after it) parses. */
static void test_parse_exact_buffers(void **state)
{
    static const char *const texts[] = {
        "123", "-7", "1.5", "1.0e-10", "16#ff", "2#101", "1_000", "$a", "$\\n", "abc", "'a b'",
        "\"s\"", "<<1,2>>", "<<5:3>>", "<0.5.0>", "#Ref<0.1.2.3>", "#Port<0.9>", "a.", "1.",
        "123456789012345678901234567890", "[1,2|3]", "#{a => 1}", "{a,b} % comment",
    };
    (void)state;

    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        size_t len = strlen(texts[i]);
        char *copy = malloc(len);
        shmets_term t;
        int rc;
        assert_non_null(copy);
        memcpy(copy, texts[i], len);
        rc = shmets_term_parse(copy, len, &t);
        free(copy);
        if (rc != 0) {
            print_message("\"%s\": %d (%s)\n", texts[i], rc, shmets_errdetail());
            fail();
        }
        shmets_term_free(&t);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Random walk                                                                               */
/* ---------------------------------------------------------------------------------------- */

static uint64_t rng_state;

static uint32_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static void test_random_etf(void **state)
{
    /* Bytes that ETF uses: tags, small counts, lengths' zero bytes, UTF-8 pieces. */
    static const unsigned char alphabet[] = {
        0, 0, 0, 0, 1, 1, 2, 3, 5, 8, 255, 131, 97, 98, 99, 70, 100, 104, 105, 106, 107, 108, 109,
        110, 111, 77, 88, 89, 90, 112, 113, 114, 115, 116, 118, 119, 101, 102, 103, 120, 80, 'a',
        195, 169, 128, 63, 240, 127
    };
    unsigned char buf[64];
    (void)state;

    rng_state = 0x5eed5eed12345678ULL;
    for (int i = 0; i < 10000; i++) {
        size_t n = 1 + rnd() % sizeof buf;
        buf[0] = 131;
        for (size_t k = 1; k < n; k++)
            buf[k] = (rnd() % 4 == 0) ? (unsigned char)rnd()
                                      : alphabet[rnd() % sizeof alphabet];
        {
            unsigned char *p = malloc(n);
            assert_non_null(p);
            memcpy(p, buf, n);
            decode_any(p, n, 0);
            decode_any(p + 1, n - 1, SHMETS_ETF_NO_VERSION);
            free(p);
        }
    }
    /* Seeds with a few random changes, insertions and deletions. */
    for (int i = 0; i < 10000; i++) {
        size_t s = rnd() % NSEEDS, n = seeds[s].n;
        unsigned char *p = malloc(n + 8);
        int edits = 1 + rnd() % 4;
        assert_non_null(p);
        memcpy(p, seeds[s].p, n);
        for (int e = 0; e < edits; e++) {
            size_t pos = 1 + rnd() % (n - 1 ? n - 1 : 1);
            switch (rnd() % 3) {
            case 0:
                p[pos] = (unsigned char)rnd();
                break;
            case 1:
                if (n < seeds[s].n + 8) {
                    memmove(p + pos + 1, p + pos, n - pos);
                    p[pos] = alphabet[rnd() % sizeof alphabet];
                    n++;
                }
                break;
            default:
                if (n > 2) {
                    memmove(p + pos, p + pos + 1, n - pos - 1);
                    n--;
                }
                break;
            }
        }
        decode_any(p, n, 0);
        free(p);
    }
}

static void test_random_text(void **state)
{
    static const char *const tokens[] = {
        "{", "}", "[", "]", "<<", ">>", "#{", "=>", ",", "|", ".", ":", "/utf8", "'", "\"", "$",
        "\\", "0", "1", "7", "255", "256", "16#", "ff", "2#", "1_0", "e", "e-", "1.5", "-", "a",
        "abc", "X", "_", "\xc3\xa9", "\xe6\x97\xa5", " ", "\n", "%", "<0.", "5", ".0>", "#Ref<0.",
        "#Port<0.", ">", "<", "\\x{", "\\n", "true", "case", "\0", "\xff"
    };
    static const char *const good[] = {
        "{rufsen, dog, 7}", "[1,2|3]", "#{a => [1.5, <<\"x\">>], b => {}}", "<<1,2,5:3>>",
        "\"h\\x{e9}llo\"", "'quoted \\'atom\\''", "[$a, 16#ff, -2#101, 1_000]", "<0.5.0>",
        "#Ref<0.1.2.3>", "#Port<0.9>", "{-1.5e3, 1.0e-10, 123456789012345678901234567890}",
    };
    char buf[128];
    (void)state;

    rng_state = 0xfeedfacecafebeefULL;
    for (int i = 0; i < 10000; i++) {
        size_t n = 0, ntok = 1 + rnd() % 16;
        for (size_t k = 0; k < ntok; k++) {
            const char *tok = tokens[rnd() % (sizeof tokens / sizeof tokens[0])];
            size_t l = tok[0] ? strlen(tok) : 1;      /* "\0" is one NUL byte */
            if (n + l > sizeof buf)
                break;
            memcpy(buf + n, tok, l);
            n += l;
        }
        {
            char *p = malloc(n ? n : 1);
            assert_non_null(p);
            memcpy(p, buf, n);
            parse_any(p, n);
            free(p);
        }
    }
    /* Good terms with random changes and every truncation. */
    for (int i = 0; i < 10000; i++) {
        const char *g = good[rnd() % (sizeof good / sizeof good[0])];
        size_t n = strlen(g);
        char *p = malloc(n + 1);
        assert_non_null(p);
        memcpy(p, g, n + 1);
        if (i % 2 == 0) {
            n = rnd() % (n + 1);
        } else {
            int edits = 1 + rnd() % 3;
            for (int e = 0; e < edits; e++)
                p[rnd() % n] = (rnd() % 2) ? (char)rnd() : tokens[rnd() % 20][0];
        }
        parse_any(p, n);
        free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_version),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_corruptions),
        cmocka_unit_test(test_lengths_past_end),
        cmocka_unit_test(test_fun_size_lies),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_bad_atoms),
        cmocka_unit_test(test_bad_floats),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_unknown_tags),
        cmocka_unit_test(test_bad_numbers),
        cmocka_unit_test(test_bad_bitstrings_and_refs),
        cmocka_unit_test(test_bad_compressed),
        cmocka_unit_test(test_parse_deep),
        cmocka_unit_test(test_parse_huge),
        cmocka_unit_test(test_parse_bad_bytes),
        cmocka_unit_test(test_random_etf),
        cmocka_unit_test(test_random_text),
        cmocka_unit_test(test_parse_exact_buffers),
        cmocka_unit_test(test_parse_tail_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
