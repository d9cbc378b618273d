/*
 * test_term_order.c — Erlang's term order in shmets: shmets_term_compare(),
 * shmets_term_equal(), shmets_term_exact_equal() and shmets_term_compare_exact().
 *
 * Covers: a table of terms in strictly ascending Erlang order across every type, checked
 * pairwise (antisymmetry, transitivity, reflexivity); exact number comparisons (integers of any
 * size against floats); tuples by size first; maps by size, then keys (map-key order), then
 * values; lists elementwise with improper tails, the string and list forms; binaries and
 * bitstrings; pids; the exact order (every integer before every float, -0.0 before 0.0) and
 * the 0.0 / -0.0 distinction; long and deep terms.
 *
 * Every expected order was checked with Erlang/OTP 25 (`A < B`, `A == B`, `A =:= B`, and
 * maps:keys/1 of small maps for the exact order) except -0.0 =:= 0.0, which shmets documents as
 * false (OTP 27 semantics).  Most terms are written as text; the parser is tested on its own in
 * test_term_text.c.  Opaque terms are given as ETF from OTP.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "shmets.h"

#define E(...) ((const unsigned char[]){__VA_ARGS__}), sizeof((const unsigned char[]){__VA_ARGS__})

#define NONODE_UTF8 119, 13, 'n', 'o', 'n', 'o', 'd', 'e', '@', 'n', 'o', 'h', 'o', 's', 't'
#define REF(w0, w1, w2) \
    E(131, 90, 0, 3, NONODE_UTF8, 0, 0, 0, 0, 0, 0, 0, w0, 0, 0, 0, w1, 0, 0, 0, w2)
#define PORT(hi, lo) E(131, 89, NONODE_UTF8, 0, 0, hi, lo, 0, 0, 0, 0)
#define PID(n, s) E(131, 88, NONODE_UTF8, 0, 0, 0, n, 0, 0, 0, s, 0, 0, 0, 0)
/* fun() -> X end with X = 42, compiled in module f, from OTP 25. */
#define LOCAL_FUN E(131, 112, 0, 0, 0, 69, 0, 29, 124, 55, 34, 166, 145, 44, 23, 185, 123, 217, 7, \
    253, 118, 202, 71, 0, 0, 0, 0, 0, 0, 0, 1, 119, 1, 102, 97, 0, 98, 0, 235, 225, 185, 88,      \
    NONODE_UTF8, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 97, 42)
#define EXPORT(...) E(131, 113, __VA_ARGS__)

/* A term given as text, or as ETF bytes. */
struct entry {
    const char *text;
    const unsigned char *etf;
    size_t n;
};
#define T(s) { s, NULL, 0 }
#define B(...) { NULL, __VA_ARGS__ }

#define TWO_1024 "179769313486231590772930519078902473361797697894230657273430081157732675805" \
    "500963132708477322407536021120113879871393357658789768814416622492847430639474124377767893" \
    "424865485276302219601246094119453082952085005768838150682342462881473913110540827237163350" \
    "510684586298239947245938479716304835356329624224137216"

static shmets_term make(int line, struct entry e)
{
    shmets_term t = { NULL, 0 };
    int rc = e.text ? shmets_term_parse(e.text, strlen(e.text), &t)
                    : shmets_term_from_etf(e.etf, e.n, 0, &t);
    if (rc != 0) {
        print_message("line %d: cannot make %s: %d (%s)\n", line, e.text ? e.text : "(etf)", rc,
                      shmets_errdetail());
        fail();
    }
    return t;
}

static const char *name(struct entry e)
{
    return e.text ? e.text : "(etf)";
}

static int sign(int x)
{
    return (x > 0) - (x < 0);
}

/* Every pair of entries i < j must compare as a[i] < a[j] under cmp. */
static void check_ascending(const struct entry *tab, size_t n,
                            int (*cmp)(shmets_term, shmets_term), const char *what)
{
    shmets_term *t = calloc(n, sizeof *t);
    assert_non_null(t);
    for (size_t i = 0; i < n; i++)
        t[i] = make(__LINE__, tab[i]);
    for (size_t i = 0; i < n; i++) {
        if (cmp(t[i], t[i]) != 0 || !shmets_term_equal(t[i], t[i]) ||
            !shmets_term_exact_equal(t[i], t[i])) {
            print_message("%s: %s is not equal to itself\n", what, name(tab[i]));
            fail();
        }
        for (size_t j = i + 1; j < n; j++) {
            int lt = cmp(t[i], t[j]), gt = cmp(t[j], t[i]);
            if (lt >= 0 || gt <= 0 || shmets_term_exact_equal(t[i], t[j]) ||
                (cmp == shmets_term_compare && shmets_term_equal(t[i], t[j]))) {
                print_message("%s: expected %s < %s, got %d / %d\n", what, name(tab[i]),
                              name(tab[j]), lt, gt);
                fail();
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        shmets_term_free(&t[i]);
    free(t);
}

/* Ascending in Erlang's term order across all types:
 * number < atom < reference < fun < port < pid < tuple < map < [] < list < bitstring. */
static const struct entry ascending[] = {
    T("-18446744073709551616"), T("-2147483649"), T("-1.5"), T("-1"), T("0"), T("0.5"), T("1"),
    T("1.5"), T("2147483648"), T("9007199254740992.0"), T("9007199254740993"),
    T("18446744073709551616"), T("1.0e300"), T(TWO_1024),
    T("''"), T("a"), T("aa"), T("b"), T("'\xc3\xa9'"), T("'\xe6\x97\xa5'"),
    B(REF(1, 0, 0)), B(REF(2, 0, 0)), B(REF(0, 1, 0)), B(REF(0, 0, 1)), B(REF(5, 5, 5)),
    B(LOCAL_FUN),
    B(EXPORT(119, 6, 'e', 'r', 'l', 'a', 'n', 'g', 119, 3, 'a', 'b', 's', 97, 1)),
    B(EXPORT(119, 6, 'e', 'r', 'l', 'a', 'n', 'g', 119, 6, 'l', 'e', 'n', 'g', 't', 'h', 97, 1)),
    B(EXPORT(119, 6, 'e', 'r', 'l', 'a', 'n', 'g', 119, 6, 'l', 'e', 'n', 'g', 't', 'h', 97, 2)),
    B(EXPORT(119, 5, 'l', 'i', 's', 't', 's', 119, 3, 'm', 'a', 'p', 97, 2)),
    B(PORT(0, 1)), B(PORT(0, 2)), B(PORT(1, 44)),
    B(PID(5, 0)), B(PID(6, 0)), B(PID(5, 1)),
    T("{}"), T("{z}"), T("{a,a}"), T("{a,b}"), T("{b,a}"), T("{a,a,a}"),
    T("#{}"), T("#{1=>b}"), T("#{2=>a}"), T("#{1.0=>a}"), T("#{a=>1}"), T("#{a=>2}"), T("#{b=>0}"),
    T("#{1=>a,2=>b}"), T("#{1=>a,a=>1}"),
    T("[]"),
    T("[0]"), T("[1|2]"), T("[1]"), T("[1,2]"), T("[1,2,3]"), T("[1,256]"), T("[1,a]"), T("\"a\""),
    T("[a|b]"), T("[a]"), T("[{}]"), T("[\"a\"]"), T("[<<>>]"),
    T("<<>>"), T("<<0:1>>"), T("<<0>>"), T("<<0,0>>"), T("<<1>>"), T("<<1:2>>"), T("<<1:1>>"),
    T("<<128>>"), T("<<128,0>>"), T("<<255>>"), T("<<255,0:1>>"), T("<<255,0>>"),
};

/* Ascending in the exact (map-key) order: integers, then floats, then the rest as above. */
static const struct entry ascending_exact[] = {
    T("-18446744073709551616"), T("-2147483649"), T("-1"), T("0"), T("1"), T("2147483648"),
    T("9007199254740993"), T("18446744073709551616"), T(TWO_1024),
    T("-1.0e300"), T("-1.5"), T("-0.0"), T("0.0"), T("0.5"), T("1.0"), T("1.5"),
    T("9007199254740992.0"), T("1.0e300"),
    T("a"), B(REF(1, 0, 0)), B(LOCAL_FUN), B(PORT(0, 1)), B(PID(5, 0)),
    T("{a,2}"), T("{a,1.0}"), T("#{1=>a}"), T("#{1.0=>a}"), T("#{a=>2}"), T("#{a=>1.0}"),
    T("[]"), T("[2]"), T("[1.0]"), T("<<>>"),
};

static int cmp_exact(shmets_term a, shmets_term b)
{
    return shmets_term_compare_exact(a, b);
}

static void test_ascending_table(void **state)
{
    (void)state;
    check_ascending(ascending, sizeof ascending / sizeof ascending[0], shmets_term_compare,
                    "compare");
}

static void test_ascending_exact_table(void **state)
{
    (void)state;
    check_ascending(ascending_exact, sizeof ascending_exact / sizeof ascending_exact[0],
                    cmp_exact, "compare_exact");
}

/*
 * Pairs of terms: the sign of compare(a, b), whether a == b, and the sign of compare_exact.
 * exact_equal is true only for identical terms and is checked separately.
 */
struct pair {
    struct entry a, b;
    int cmp;
    int cmp_exact;
};

static const struct pair pairs[] = {
    /* Numbers. */
    { T("1"), T("1.0"), 0, -1 },
    { T("1"), T("1.5"), -1, -1 },
    { T("3"), T("2.5"), 1, -1 },
    { T("-3"), T("-2.5"), -1, -1 },
    { T("0"), T("-0.0"), 0, -1 },
    { T("0"), T("0.0"), 0, -1 },
    { T("0.0"), T("-0.0"), 0, 1 },
    { T("5.0e-324"), T("0"), 1, 1 },
    { T("-5.0e-324"), T("0"), -1, 1 },
    { T("2147483648"), T("2147483648.5"), -1, -1 },
    { T("-2147483649"), T("-2147483648.5"), -1, -1 },
    { T("-2147483649"), T("-2147483649.0"), 0, -1 },
    { T("9007199254740993"), T("9007199254740992.0"), 1, -1 },
    { T("9007199254740992"), T("9007199254740992.0"), 0, -1 },
    { T("9007199254740993"), T("9007199254740994.0"), -1, -1 },
    { T("-9007199254740993"), T("-9007199254740992.0"), -1, -1 },
    { T("9223372036854775807"), T("9.223372036854775808e18"), -1, -1 },
    { T("9223372036854775808"), T("9.223372036854775808e18"), 0, -1 },
    { T("9223372036854775809"), T("9.223372036854775808e18"), 1, -1 },
    { T("18446744073709551616"), T("18446744073709551616.0"), 0, -1 },
    { T("18446744073709551617"), T("18446744073709551616.0"), 1, -1 },
    { T("123456789012345678901234567890"), T("1.2345678901234568e29"), 1, -1 },
    { T(TWO_1024), T("1.7976931348623157e308"), 1, -1 },
    { T("-" TWO_1024), T("-1.7976931348623157e308"), -1, -1 },
    { T("-1.7976931348623157e308"), T("-" TWO_1024), 1, 1 },
    /* Tuples: size first, then elements. */
    { T("{b}"), T("{a,a}"), -1, -1 },
    { T("{z,z}"), T("{a,a,a}"), -1, -1 },
    { T("{a,b}"), T("{a,c}"), -1, -1 },
    { T("{1,2}"), T("{1,2.0}"), 0, -1 },
    { T("{a,2}"), T("{a,1.0}"), 1, -1 },
    /* Maps: size, then keys in map-key order (exactly), then values (==). */
    { T("#{1=>a}"), T("#{1.0=>a}"), -1, -1 },
    { T("#{1=>b}"), T("#{2=>a}"), -1, -1 },
    { T("#{a=>1}"), T("#{a=>1.0}"), 0, -1 },
    { T("#{a=>2}"), T("#{a=>1.0}"), 1, -1 },
    { T("#{a=>2}"), T("#{b=>1}"), -1, -1 },
    { T("#{a=>1,b=>1}"), T("#{c=>0}"), 1, 1 },
    { T("#{1=>a,2.0=>b}"), T("#{1.0=>a,2=>b}"), -1, -1 },
    { T("#{1.5=>a}"), T("#{2=>a}"), 1, 1 },
    { T("#{z=>1}"), T("#{[]=>0}"), -1, -1 },
    /* Lists: elementwise, then tails; the string form against the list form. */
    { T("[1|2]"), T("[1,2]"), -1, -1 },
    { T("[1|2]"), T("[1|3]"), -1, -1 },
    { T("[1|a]"), T("[1,a]"), -1, -1 },
    { T("[1|b]"), T("[1|{}]"), -1, -1 },
    { T("[1.0]"), T("[1]"), 0, 1 },
    { T("[2]"), T("[1.0]"), 1, -1 },
    { T("\"abc\""), T("[97,98,99.0]"), 0, -1 },
    { T("\"ab\""), T("[97,256]"), -1, -1 },
    { T("\"ab\""), T("[97,98,256]"), -1, -1 },
    { T("\"ab\""), T("[97,a]"), -1, -1 },
    { T("\"ab\""), T("[97|b]"), 1, 1 },
    { T("\"ab\""), T("[97,98|c]"), 1, 1 },
    { T("[256]"), T("\"a\""), 1, 1 },
    { T("\"b\""), T("[97,256]"), 1, 1 },
    { T("\"abc\""), T("\"abd\""), -1, -1 },
    { T("\"abc\""), T("\"ab\""), 1, 1 },
    { T("[]"), T("[0]"), -1, -1 },
    { T("{}"), T("[]"), -1, -1 },
    { T("#{}"), T("{}"), 1, 1 },
    { T("#{}"), T("[]"), -1, -1 },
    { T("<<>>"), T("[a]"), 1, 1 },
    /* Binaries bytewise, then by length; bitstrings bitwise. */
    { T("<<1,2>>"), T("<<1,2,0>>"), -1, -1 },
    { T("<<2>>"), T("<<1,2>>"), 1, 1 },
    { T("<<1,2>>"), T("<<1,3>>"), -1, -1 },
    { T("<<>>"), T("<<0>>"), -1, -1 },
    { T("<<1:1>>"), T("<<1>>"), 1, 1 },
    { T("<<1,1:1>>"), T("<<1,1>>"), 1, 1 },
    { T("<<128>>"), T("<<1:1>>"), 1, 1 },
    { T("<<0:1>>"), T("<<>>"), 1, 1 },
    { T("<<1:2>>"), T("<<1:3>>"), 1, 1 },
    /* Atoms by their text. */
    { T("b"), T("ab"), 1, 1 },
    { T("a"), T("aa"), -1, -1 },
    { T("'\xc3\xa9'"), T("z"), 1, 1 },
    { T("'\xe6\x97\xa5'"), T("'\xc3\xa9'"), 1, 1 },
    /* Pids: the serial weighs more than the number. */
    { B(PID(5, 0)), B(PID(6, 0)), -1, -1 },
    { B(PID(5, 1)), B(PID(6, 0)), 1, 1 },
};

static void test_pairs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        shmets_term a = make(__LINE__, pairs[i].a), b = make(__LINE__, pairs[i].b);
        int c = shmets_term_compare(a, b), rc = shmets_term_compare(b, a);
        int x = shmets_term_compare_exact(a, b), rx = shmets_term_compare_exact(b, a);
        bool eq = shmets_term_equal(a, b), xeq = shmets_term_exact_equal(a, b);
        if (sign(c) != pairs[i].cmp || sign(rc) != -pairs[i].cmp || eq != (pairs[i].cmp == 0) ||
            shmets_term_equal(b, a) != eq || sign(x) != pairs[i].cmp_exact ||
            sign(rx) != -pairs[i].cmp_exact || xeq || shmets_term_exact_equal(b, a)) {
            print_message("%s vs %s: compare %d/%d (want %d), equal %d, compare_exact %d/%d "
                          "(want %d), exact_equal %d\n", name(pairs[i].a), name(pairs[i].b), c,
                          rc, pairs[i].cmp, eq, x, rx, pairs[i].cmp_exact, xeq);
            fail();
        }
        shmets_term_free(&a);
        shmets_term_free(&b);
    }
}

/* 0.0 == -0.0 but they are different terms (documented: OTP 27 semantics). */
static void test_zeroes(void **state)
{
    shmets_term z = make(__LINE__, (struct entry)B(E(131, 70, 0, 0, 0, 0, 0, 0, 0, 0)));
    shmets_term nz = make(__LINE__, (struct entry)B(E(131, 70, 128, 0, 0, 0, 0, 0, 0, 0)));
    (void)state;

    assert_int_equal(shmets_term_compare(z, nz), 0);
    assert_true(shmets_term_equal(z, nz));
    assert_false(shmets_term_exact_equal(z, nz));
    assert_true(shmets_term_compare_exact(nz, z) < 0);
    assert_true(shmets_term_compare_exact(z, nz) > 0);
    shmets_term_free(&z);
    shmets_term_free(&nz);
}

/* The same list in the string form and in the list form is one term. */
static void test_string_and_list_forms(void **state)
{
    shmets_term s = make(__LINE__, (struct entry)B(E(131, 107, 0, 2, 'a', 'b')));
    shmets_term l = make(__LINE__, (struct entry)B(E(131, 108, 0, 0, 0, 2, 97, 'a', 97, 'b', 106)));
    shmets_term l2 = make(__LINE__,
                          (struct entry)B(E(131, 108, 0, 0, 0, 1, 97, 'a', 107, 0, 1, 'b')));
    (void)state;

    assert_int_equal(shmets_term_compare(s, l), 0);
    assert_int_equal(shmets_term_compare_exact(s, l), 0);
    assert_true(shmets_term_exact_equal(s, l));
    assert_true(shmets_term_exact_equal(l2, l));
    shmets_term_free(&s);
    shmets_term_free(&l);
    shmets_term_free(&l2);
}

/* Long lists (200,000 elements) and deep nesting compare without trouble. */
static void test_long_and_deep(void **state)
{
    enum { N = 200000, DEPTH = SHMETS_TERM_MAX_DEPTH - 1 };
    shmets_builder *b;
    shmets_term t[4];
    (void)state;

    assert_int_equal(shmets_builder_create(&b), 0);
    for (int k = 0; k < 2; k++) {
        /* [a,a,...,a,X] with X = 1 or 2 */
        assert_int_equal(shmets_build_list(b, N), 0);
        for (int i = 0; i < N - 1; i++)
            assert_int_equal(shmets_build_atom(b, "a", 1), 0);
        assert_int_equal(shmets_build_int(b, 1 + k), 0);
        assert_int_equal(shmets_build_nil(b), 0);
        assert_int_equal(shmets_builder_finish(b, &t[k]), 0);
    }
    for (int k = 0; k < 2; k++) {
        /* {{...{X}...}} with X = 1 or 1.0 */
        for (int i = 0; i < DEPTH; i++)
            assert_int_equal(shmets_build_tuple(b, 1), 0);
        if (k == 0)
            assert_int_equal(shmets_build_int(b, 1), 0);
        else
            assert_int_equal(shmets_build_float(b, 1.0), 0);
        assert_int_equal(shmets_builder_finish(b, &t[2 + k]), 0);
    }
    shmets_builder_destroy(b);

    assert_true(shmets_term_compare(t[0], t[1]) < 0);
    assert_true(shmets_term_compare(t[1], t[0]) > 0);
    assert_int_equal(shmets_term_compare(t[0], t[0]), 0);
    assert_true(shmets_term_compare_exact(t[0], t[1]) < 0);
    assert_int_equal(shmets_term_compare(t[2], t[3]), 0);
    assert_true(shmets_term_equal(t[2], t[3]));
    assert_false(shmets_term_exact_equal(t[2], t[3]));
    assert_true(shmets_term_compare_exact(t[2], t[3]) < 0);
    for (int k = 0; k < 4; k++)
        shmets_term_free(&t[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascending_table),
        cmocka_unit_test(test_ascending_exact_table),
        cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_zeroes),
        cmocka_unit_test(test_string_and_list_forms),
        cmocka_unit_test(test_long_and_deep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
