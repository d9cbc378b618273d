/*
 * test_build_fast.c — the builder's terms are canonical whichever way shmets_builder_finish
 * takes (term_build.c: a term of integers, floats, atoms, binaries and tuples is copied out as
 * written; anything else goes through the canonicaliser).  What a C program relies on: the
 * bytes it gets are the canonical encoding (the same bytes Erlang's term_to_binary gives, less
 * the 131), so equal terms are equal bytes in a table; nesting past the limit is refused; and
 * a builder used for many terms gives each its own bytes; shmets_builder_view gives the same
 * bytes without a copy, valid until the builder's next call.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "shmets.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x5eed1234;

static uint64_t rnd(void)
{
    uint64_t x = rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* One random part; containers (tuples, and lists and maps when `all`) up to depth 4. */
static void gen(shmets_builder *b, int depth, int all)
{
    static const int64_t edges[] = { 0, 1, 255, 256, -1, INT32_MAX, (int64_t)INT32_MAX + 1, INT32_MIN,
                                     (int64_t)INT32_MIN - 1, INT64_MAX, INT64_MIN };
    switch (rnd() % (depth < 4 ? (all ? 11 : 9) : 7)) {
    case 0: assert_int_equal(shmets_build_int(b, edges[rnd() % (sizeof edges / sizeof edges[0])]), 0); break;
    case 1: assert_int_equal(shmets_build_int(b, (int64_t)rnd() >> (rnd() % 64)), 0); break;
    case 2: assert_int_equal(shmets_build_uint(b, rnd()), 0); break;
    case 3: {
        unsigned char mag[24] = { 0 };
        size_t n = rnd() % sizeof mag;
        for (size_t i = 0; i < n; i++)
            mag[i] = (unsigned char)(rnd() % 3 ? rnd() : 0);   /* trailing zeros too */
        assert_int_equal(shmets_build_bigint(b, (int)(rnd() % 2), mag, n), 0);
        break;
    }
    case 4: {
        static const double fl[] = { 0.0, -0.0, 1.5, -1e300, 5e-324, 123456789.125 };
        double d = rnd() % 2 ? fl[rnd() % 6] : (double)(int64_t)rnd() / 1e9;
        assert_int_equal(shmets_build_float(b, d), 0);
        break;
    }
    case 5: {
        char a[400];
        size_t n = rnd() % 3 == 0 ? 250 + rnd() % 10 : rnd() % 12;    /* around the 255-byte edge */
        size_t i = 0;
        while (i < n) {
            if (rnd() % 4 == 0 && i + 2 <= n) {                     /* a 2-byte character */
                a[i++] = (char)0xC3;
                a[i++] = (char)(0xA0 + rnd() % 16);
            } else {
                a[i++] = (char)('a' + rnd() % 26);
            }
        }
        assert_int_equal(shmets_build_atom(b, a, i), 0);
        break;
    }
    case 6: {
        unsigned char v[40];
        size_t n = rnd() % sizeof v;
        for (size_t i = 0; i < n; i++)
            v[i] = (unsigned char)rnd();
        assert_int_equal(shmets_build_binary(b, v, n), 0);
        break;
    }
    case 7: case 8: {
        size_t n = rnd() % 20 == 0 ? 256 + rnd() % 3 : rnd() % 5;  /* LARGE_TUPLE sometimes */
        assert_int_equal(shmets_build_tuple(b, n), 0);
        for (size_t i = 0; i < n; i++)
            gen(b, depth + 1, all);
        break;
    }
    case 9: {                                                       /* a list: the canonicaliser's */
        size_t n = 1 + rnd() % 4;
        assert_int_equal(shmets_build_list(b, n), 0);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(shmets_build_int(b, (int64_t)(rnd() % 300)), 0);
        assert_int_equal(shmets_build_nil(b), 0);
        break;
    }
    default: {                                                      /* a map in the caller's order */
        assert_int_equal(shmets_build_map(b, 2), 0);
        assert_int_equal(shmets_build_atom(b, "z", 1), 0);
        gen(b, depth + 1, all);
        assert_int_equal(shmets_build_int(b, 1), 0);
        gen(b, depth + 1, all);
    }
    }
}

/* Every term the builder gives is what the canonicaliser makes of it: the same bytes. */
static void test_canonical(void **state)
{
    (void)state;
    shmets_builder *b;
    assert_int_equal(shmets_builder_create(&b), 0);
    for (int all = 0; all <= 1; all++) {
        for (int i = 0; i < 20000; i++) {
            shmets_term t, c;
            gen(b, 0, all);
            assert_int_equal(shmets_builder_finish(b, &t), 0);
            assert_int_equal(shmets_term_from_etf(t.ptr, t.len, SHMETS_ETF_NO_VERSION, &c), 0);
            if (c.len != t.len || memcmp(c.ptr, t.ptr, t.len) != 0) {
                char *s;
                assert_int_equal(shmets_term_format(c, &s, NULL), 0);
                fail_msg("term %d (%s): %zu bytes built, %zu canonical", i, s, t.len, c.len);
            }
            shmets_term_free(&c);
            shmets_term_free(&t);
        }
    }
    shmets_builder_destroy(b);
}

/* Tuples nested past SHMETS_TERM_MAX_DEPTH are refused, at the limit taken. */
static void test_depth(void **state)
{
    (void)state;
    shmets_builder *b;
    assert_int_equal(shmets_builder_create(&b), 0);
    for (int extra = 0; extra <= 1; extra++) {
        int n = SHMETS_TERM_MAX_DEPTH + extra;
        for (int i = 0; i < n; i++)
            assert_int_equal(shmets_build_tuple(b, i + 1 < n ? 2 : 1), 0);
        assert_int_equal(shmets_build_int(b, 7), 0);            /* the innermost tuple's element */
        for (int i = 0; i + 1 < n; i++)
            assert_int_equal(shmets_build_nil(b), 0);           /* each outer tuple's second */
        shmets_term t = { NULL, 0 };
        assert_int_equal(shmets_builder_finish(b, &t), extra ? -SHMETS_ETOODEEP : 0);
        shmets_term_free(&t);
    }
    shmets_builder_destroy(b);
}

/* One builder, many terms: each owns its bytes (a term is not overwritten by the next), and a
 * large term does not keep the builder large. */
static void test_reuse(void **state)
{
    (void)state;
    shmets_builder *b;
    assert_int_equal(shmets_builder_create(&b), 0);
    shmets_term t[3];
    static unsigned char big[1 << 20];
    memset(big, 7, sizeof big);
    assert_int_equal(shmets_build_tuple(b, 2), 0);
    assert_int_equal(shmets_build_int(b, 1), 0);
    assert_int_equal(shmets_build_binary(b, "one", 3), 0);
    assert_int_equal(shmets_builder_finish(b, &t[0]), 0);
    assert_int_equal(shmets_build_binary(b, big, sizeof big), 0);
    assert_int_equal(shmets_builder_finish(b, &t[1]), 0);
    assert_int_equal(shmets_build_tuple(b, 2), 0);
    assert_int_equal(shmets_build_int(b, 2), 0);
    assert_int_equal(shmets_build_binary(b, "two", 3), 0);
    assert_int_equal(shmets_builder_finish(b, &t[2]), 0);
    static const unsigned char one[] = { 104, 2, 97, 1, 109, 0, 0, 0, 3, 'o', 'n', 'e' };
    static const unsigned char two[] = { 104, 2, 97, 2, 109, 0, 0, 0, 3, 't', 'w', 'o' };
    assert_int_equal(t[0].len, sizeof one);
    assert_memory_equal(t[0].ptr, one, sizeof one);
    assert_int_equal(t[2].len, sizeof two);
    assert_memory_equal(t[2].ptr, two, sizeof two);
    assert_int_equal(t[1].len, 5 + sizeof big);
    /* A failed term leaves the builder fresh for the next. */
    assert_int_equal(shmets_build_tuple(b, 2), 0);
    shmets_term x;
    assert_int_equal(shmets_builder_finish(b, &x), -SHMETS_EBUILD);
    assert_null(x.ptr);
    assert_int_equal(shmets_build_int(b, 300), 0);
    assert_int_equal(shmets_builder_finish(b, &x), 0);
    static const unsigned char i300[] = { 98, 0, 0, 1, 44 };
    assert_int_equal(x.len, sizeof i300);
    assert_memory_equal(x.ptr, i300, sizeof i300);
    shmets_term_free(&x);
    for (int i = 0; i < 3; i++)
        shmets_term_free(&t[i]);
    shmets_builder_destroy(b);
}

/* shmets_builder_view: the same canonical bytes as finish gives, with no copy for the terms
 * the builder writes canonical (its own buffer) and the canonicaliser's copy, owned by the
 * builder, for the rest (lists, maps); a view stays whole until the next call on the builder,
 * a large one too (its buffer is not given back under it: ASan would see the read); errors
 * and reuse as finish.  Under ASan/LSan a canonical copy that is never freed is a leak. */
static void test_view(void **state)
{
    (void)state;
    shmets_builder *b;
    assert_int_equal(shmets_builder_create(&b), 0);
    for (int all = 0; all <= 1; all++) {
        for (int i = 0; i < 20000; i++) {
            shmets_term v, c;
            gen(b, 0, all);
            assert_int_equal(shmets_builder_view(b, &v), 0);
            assert_int_equal(shmets_term_from_etf(v.ptr, v.len, SHMETS_ETF_NO_VERSION, &c), 0);
            if (c.len != v.len || memcmp(c.ptr, v.ptr, v.len) != 0)
                fail_msg("term %d: %zu bytes viewed, %zu canonical", i, v.len, c.len);
            shmets_term_free(&c);
        }
    }
    static unsigned char big[1 << 20];
    memset(big, 9, sizeof big);
    shmets_term v;
    assert_int_equal(shmets_build_tuple(b, 2), 0);
    assert_int_equal(shmets_build_int(b, 1), 0);
    assert_int_equal(shmets_build_binary(b, big, sizeof big), 0);
    assert_int_equal(shmets_builder_view(b, &v), 0);
    assert_int_equal(v.len, 2 + 2 + 5 + sizeof big);
    assert_memory_equal((const unsigned char *)v.ptr + 9, big, sizeof big);   /* whole after the view */
    assert_int_equal(shmets_build_list(b, 1), 0);                             /* the next term: raw */
    assert_int_equal(shmets_build_int(b, 5), 0);
    assert_int_equal(shmets_build_nil(b), 0);
    assert_int_equal(shmets_builder_view(b, &v), 0);
    static const unsigned char l5[] = { 107, 0, 1, 5 };                     /* [5] is the string "\5" */
    assert_int_equal(v.len, sizeof l5);
    assert_memory_equal(v.ptr, l5, sizeof l5);
    assert_int_equal(shmets_build_tuple(b, 2), 0);                           /* an incomplete term */
    assert_int_equal(shmets_builder_view(b, &v), -SHMETS_EBUILD);
    assert_null(v.ptr);
    assert_int_equal(shmets_builder_view(b, NULL), -SHMETS_EINVAL);
    assert_int_equal(shmets_build_int(b, 300), 0);                           /* fresh again */
    assert_int_equal(shmets_builder_view(b, &v), 0);
    static const unsigned char i300[] = { 98, 0, 0, 1, 44 };
    assert_int_equal(v.len, sizeof i300);
    assert_memory_equal(v.ptr, i300, sizeof i300);
    assert_int_equal(shmets_build_list(b, 1), 0);                            /* a copy left to destroy */
    assert_int_equal(shmets_build_atom(b, "a", 1), 0);
    assert_int_equal(shmets_build_nil(b), 0);
    assert_int_equal(shmets_builder_view(b, &v), 0);
    shmets_builder_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_reuse),
        cmocka_unit_test(test_view),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
