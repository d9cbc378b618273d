/*
 * test_ordered.c — ordered_set semantics through the public API, against what OTP 25's ets
 * does (every expected order below was made by lists:sort/1 in erl, and every special case
 * asked of ets itself):
 *   - term order across and within types: number < atom < reference < fun < port < pid <
 *     tuple < map < [] < list < bitstring, with the cases the skip list's 64-bit key prefixes
 *     make interesting (big integers and floats near each other, 7-byte common prefixes of
 *     atoms, binaries and bitstrings, tuples of every arity, strings against other lists);
 *   - keys match by ==: 1 and 1.0 are one key, the stored object keeps the key it was
 *     inserted with, and a later insert replaces it with its own; lists of objects with equal
 *     keys (the last wins); insert_new all or nothing;
 *   - first/next/last/prev on present and absent keys, slot, tab2list, foldl and foldr;
 *   - walks by cursor (foldl, foldr, tab2list, select over a range) while another process
 *     deletes and re-inserts the keys between those the walk must see, freed memory poisoned:
 *     every key present throughout comes exactly once, in order (skiplist.c S.5);
 *   - a randomized model: thousands of inserts, list inserts, insert_news and deletes of
 *     mixed-type keys checked against a sorted array kept with shmets_term_compare, growing,
 *     shrinking to a few keys and growing again, with shmets_check() at every phase.
 * Traversals here are bounded by the number of keys the test expects, so a next() that
 * returns the key it was given fails the test instead of looping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shmets.h"
#include "testutil.h"

#include "mem/alloc.h"           /* alloc_poison: freed blocks filled with 0xDE */

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TESTINST_PREFIX "test_ordered"
#include "testinst.h"
#include "tabutil.h"

/* ---- helpers ----------------------------------------------------------------------------- */

static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;                    /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* A key given as text, or "FUN m f a" for the export fun m:f/a. */
static shmets_term key_of(const char *s)
{
    if (strncmp(s, "FUN ", 4) == 0) {
        char m[64], f[64];
        unsigned a;
        assert_int_equal(sscanf(s + 4, "%63s %63s %u", m, f, &a), 3);
        return fun_term(m, f, a);
    }
    return T(s);
}

static shmets_tab *mk_os(const char *name)
{
    return mk(name, SHMETS_ORDERED_SET, SHMETS_PUBLIC, 1);
}

/* {Key, I} */
static shmets_term obj_of(shmets_term key, int64_t i)
{
    shmets_builder *b;
    shmets_term o;
    assert_int_equal(shmets_builder_create(&b), 0);
    shmets_build_tuple(b, 2);
    shmets_build_term(b, key);
    shmets_build_int(b, i);
    assert_int_equal(shmets_builder_finish(b, &o), 0);
    shmets_builder_destroy(b);
    return o;
}

static void ins_obj(shmets_tab *t, shmets_term o)
{
    int rc = shmets_insert(t, o);
    if (rc)
        fail_msg("insert %s: %s (%s)", S(o), shmets_strerror(rc), shmets_errdetail());
}

/* Keys by first/next (reverse: last/prev), into out[] (owning); at most cap: one more fails
 * the test (a traversal that does not end). */
static size_t walk_keys(shmets_tab *t, int reverse, shmets_term *out, size_t cap)
{
    shmets_term k;
    size_t n = 0;
    assert_int_equal(reverse ? shmets_last(t, &k) : shmets_first(t, &k), 0);
    while (k.ptr) {
        if (n == cap) {
            const char *s = S(k);
            shmets_term_free(&k);
            fail_msg("a %s traversal goes on past %zu keys (at %s)", reverse ? "last/prev" : "first/next", cap, s);
        }
        out[n++] = k;
        int rc = reverse ? shmets_prev(t, out[n - 1], &k) : shmets_next(t, out[n - 1], &k);
        if (rc)
            fail_msg("next/prev after %s: %s (%s)", S(out[n - 1]), shmets_strerror(rc), shmets_errdetail());
    }
    return n;
}

static void free_terms(shmets_term *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        shmets_term_free(&v[i]);
}

/* The elements of a proper list term, as views into it (at most cap). */
static size_t list_elems(shmets_term list, shmets_term *out, size_t cap)
{
    shmets_list_iter it;
    shmets_term e;
    size_t n = 0;
    assert_int_equal(shmets_list_begin(list, &it), 0);
    while (shmets_list_next(&it, &e) == 1) {
        assert_true(n < cap);
        out[n++] = e;
    }
    assert_int_equal(shmets_term_type(it.tail), SHMETS_T_NIL);
    return n;
}

static void assert_term_eq(shmets_term got, shmets_term want, const char *what, size_t i)
{
    if (!shmets_term_exact_equal(got, want))
        fail_msg("%s %zu: got %s, want %s", what, i, S(got), S(want));
}

/* Element `pos` of tuple obj. */
static shmets_term elem(shmets_term obj, size_t pos)
{
    shmets_term e;
    assert_int_equal(shmets_term_tuple_element(obj, pos, &e), 0);
    return e;
}

/* ---- a fold that records what it sees ---------------------------------------------------- */

struct rec {
    shmets_term *objs;
    size_t n, cap;
    int stop_after;             /* > 0: return 77 once this many were seen */
};

static int rec_fn(shmets_term obj, void *arg)
{
    struct rec *r = arg;
    if (r->n == r->cap)
        return 99;                      /* more objects than the table holds: a loop */
    assert_int_equal(shmets_term_dup(obj, &r->objs[r->n]), 0);
    r->n++;
    return r->stop_after > 0 && (int)r->n == r->stop_after ? 77 : 0;
}

/* ---- term order, group by group ---------------------------------------------------------- */

/* Each group is in Erlang's order (lists:sort/1 of OTP 25). */
static const char *const g_numbers[] = {
    "-13582985290493858492773514283592667786034938469317445497485196697278130927542418487205392083207560592298578262953847383475038725543234929971155548342800628721885763499406390331782864144164680730766837160526223176512798435772129956553355286032203080380775759732320198985094884004069116123084147875437183658467465148948790552744165376",
    "-1.0e300",
    "-1180591620717411303424",
    "-1.0e21",
    "-18446744073709551616",
    "-4611686018427387905",
    "-4611686018427387904",
    "-9007199254740993",
    "-9007199254740992.0",
    "-1",
    "-0.5",
    "-2.5e-300",
    "0",
    "2.5e-300",
    "0.5",
    "1",
    "1.5",
    "2",
    "9007199254740992.0",
    "9007199254740993",
    "9007199254740994.0",
    "9007199254740995",
    "4611686018427387903",
    "4611686018427387904",
    "18446744073709551615",
    "18446744073709551616",
    "1.0e20",
    "1180591620717411303423",
    "1180591620717411303425",
    "1.2345678901234568e22",
    "12345678901234567890123",
    "12345678901234567890124",
    "1.0e30",
    "1267650600228229401496703205376",
    "1.0e300",
    "1.7976931348623157e308",
    "179769313486231570814527423731704356798070567525844996598917476803157260780028538760589558632766878171540458953514382464234321326889464182768467546703537516986049910576551282076245490090389328944075868508455133942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184124858369",
    "13582985290493858492773514283592667786034938469317445497485196697278130927542418487205392083207560592298578262953847383475038725543234929971155548342800628721885763499406390331782864144164680730766837160526223176512798435772129956553355286032203080380775759732320198985094884004069116123084147875437183658467465148948790552744165376",
};

static const char *const g_atoms[] = {
    "''", "'A'", "a", "abcdef", "abcdefg", "'abcdefg '", "abcdefga", "abcdefgh", "abcdefgz",
    "abcdefgzz", "'abcdefgé'", "abcdefh", "'abcdef~'", "'abcdeféa'", "'abcdefÿ'", "'abcdefĀ'",
    "z", "'é'", "'ÿ'", "'ÿa'", "'Ā'", "'€uro'",
};

static const char *const g_refs[] = {
    "#Ref<0.0.0.9>", "#Ref<0.0.1.2>", "#Ref<0.1.2.3>", "#Ref<0.1.2.4>", "#Ref<0.3.2.1>",
    "#Ref<0.9.0.0>",
};

static const char *const g_funs[] = { "FUN lists map 2", "FUN lists sort 1", "FUN lists sort 2" };

static const char *const g_ports[] = { "#Port<0.1>", "#Port<0.5>", "#Port<0.300>", "#Port<0.70000>" };

static const char *const g_pids[] = { "<0.1.0>", "<0.2.0>", "<0.300.0>", "<0.1.1>", "<0.0.5>" };

static const char *const g_tuples[] = {
    "{}", "{1}", "{1.5}", "{2}", "{a}", "{b}", "{{}}", "{{a}}", "{{{{{{a}}}}}}", "{{{{{{b}}}}}}",
    "{{{{{{a,b}}}}}}", "{#{}}", "{[]}", "{[97,98|c]}", "{\"abc\"}", "{<<>>}", "{1,a}", "{a,a}",
    "{a,b}", "{z,z}", "{{},{}}", "{{1,1},b}", "{{1,2},a}", "{1,2,3}", "{1,b,c}",
};

static const char *const g_maps[] = {
    "#{}", "#{1=>a}", "#{2=>a}", "#{1.0=>a}", "#{a=>1}", "#{a=>2}", "#{b=>1}", "#{a=>1,b=>2}",
    "#{a=>1,c=>0}",
};

static const char *const g_lists[] = {
    "[]", "[-1]", "[0.5]", "[1|2]", "[1]", "[1,2,3,4,5,6,7,8,9]", "[1,a]", "[2.5]", "[97,98|99]",
    "\"ab\"", "\"abc\"", "\"abcdefghij\"", "\"abcdefghik\"", "[97,b]", "[255,1]", "[256,1]",
    "[300]", "[a|b]", "[a]", "[{}]", "[{a},b]", "[[]]", "[[1]|2]", "[[1],2]", "[\"a\"]",
    "[[[[[1]]]]]", "[<<>>]",
};

static const char *const g_bits[] = {
    "<<>>", "<<0:1>>", "<<0>>", "<<0,0>>", "<<\"abcdef\">>", "<<\"abcdef\",1:2>>", "<<\"abcdeff\">>",
    "<<\"abcdefg\">>", "<<\"abcdefg\",0:1>>", "<<\"abcdefg\",0>>", "<<\"abcdefg\",0,0>>",
    "<<\"abcdefg\",1>>", "<<\"abcdefgh\">>", "<<\"abcdefgh\",5:3>>", "<<\"abcdefgh\",6:3>>",
    "<<\"abcdefg\",1:1>>", "<<\"abcdefg\",127:7>>", "<<\"abcdefg\",254>>", "<<\"abcdef\",2:2>>",
    "<<\"abcdef\",255>>", "<<1:1>>", "<<128>>", "<<128:8,0:1>>", "<<255>>",
    "<<255,255,255,255,255,255,255>>", "<<255,255,255,255,255,255,255,255>>",
};

#define G(a) { a, sizeof a / sizeof a[0], #a }
struct group { const char *const *keys; size_t n; const char *name; };
/* In the order of the types: the concatenation is in term order too. */
static const struct group groups[] = {
    G(g_numbers), G(g_atoms), G(g_refs), G(g_funs), G(g_ports), G(g_pids), G(g_tuples), G(g_maps),
    G(g_lists), G(g_bits),
};
#define NGROUPS (sizeof groups / sizeof groups[0])

/*
 * Insert {K[i], i} for the keys of an ordered group in a shuffled order, then check every
 * traversal against the group's order: tab2list, first/next, last/prev, foldl, foldr, slot,
 * lookup, next/prev of each key; then delete every other key and check again.
 */
static void run_ordered(const shmets_term *K, size_t n, const char *name)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (shmets_term_compare(K[i], K[i + 1]) >= 0)
            fail_msg("%s: the term layer does not order %s < %s as Erlang does", name, S(K[i]), S(K[i + 1]));
    shmets_tab *t = mk_os(name);
    size_t *perm = malloc(n * sizeof *perm);
    assert_non_null(perm);
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    uint64_t rs = 0x1234567 + n;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(rnd(&rs) % i), x = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = x;
    }
    for (size_t i = 0; i < n; i++) {
        shmets_term o = obj_of(K[perm[i]], (int64_t)perm[i]);
        ins_obj(t, o);
        shmets_term_free(&o);
    }
    free(perm);
    check(t);
    assert_int_equal(tab_size(t), n);

    shmets_term *got = calloc(n + 1, sizeof *got);
    assert_non_null(got);
    /* first/next and last/prev */
    size_t m = walk_keys(t, 0, got, n);
    assert_int_equal(m, n);
    for (size_t i = 0; i < n; i++)
        assert_term_eq(got[i], K[i], "first/next key", i);
    free_terms(got, m);
    m = walk_keys(t, 1, got, n);
    assert_int_equal(m, n);
    for (size_t i = 0; i < n; i++)
        assert_term_eq(got[i], K[n - 1 - i], "last/prev key", i);
    free_terms(got, m);

    /* tab2list */
    shmets_term list;
    assert_int_equal(shmets_tab2list(t, &list), 0);
    m = list_elems(list, got, n + 1);
    assert_int_equal(m, n);
    for (size_t i = 0; i < n; i++) {
        assert_term_eq(elem(got[i], 1), K[i], "tab2list key", i);
        int64_t v;
        assert_int_equal(shmets_term_get_int64(elem(got[i], 2), &v), 0);
        assert_int_equal(v, (int64_t)i);
    }
    shmets_term_free(&list);

    /* foldl and foldr */
    struct rec r = { got, 0, n + 1, 0 };
    assert_int_equal(shmets_foldl(t, rec_fn, &r), 0);
    assert_int_equal(r.n, n);
    for (size_t i = 0; i < n; i++)
        assert_term_eq(elem(got[i], 1), K[i], "foldl key", i);
    free_terms(got, r.n);
    r.n = 0;
    assert_int_equal(shmets_foldr(t, rec_fn, &r), 0);
    assert_int_equal(r.n, n);
    for (size_t i = 0; i < n; i++)
        assert_term_eq(elem(got[i], 1), K[n - 1 - i], "foldr key", i);
    free_terms(got, r.n);

    /* slot i is the i-th object; slot n is '$end_of_table'; past it badarg */
    for (size_t i = 0; i < n; i++) {
        shmets_term s1, e1[2];
        assert_int_equal(shmets_slot(t, i, &s1), 0);
        assert_int_equal(list_elems(s1, e1, 2), 1);
        assert_term_eq(elem(e1[0], 1), K[i], "slot", i);
        shmets_term_free(&s1);
    }
    shmets_term s1;
    assert_int_equal(shmets_slot(t, n, &s1), 0);
    assert_null(s1.ptr);
    assert_int_equal(shmets_slot(t, n + 1, &s1), -SHMETS_EBADPOS);
    assert_int_equal(shmets_slot(t, UINT64_MAX, &s1), -SHMETS_EBADPOS);

    /* lookup, member, next and prev of every key */
    for (size_t i = 0; i < n; i++) {
        shmets_term res, e1[2], nx, pv;
        assert_int_equal(shmets_lookup(t, K[i], &res), 0);
        assert_int_equal(list_elems(res, e1, 2), 1);
        assert_term_eq(elem(e1[0], 1), K[i], "lookup", i);
        shmets_term_free(&res);
        assert_int_equal(shmets_next(t, K[i], &nx), 0);
        assert_int_equal(shmets_prev(t, K[i], &pv), 0);
        if (i + 1 < n)
            assert_term_eq(nx, K[i + 1], "next", i);
        else
            assert_null(nx.ptr);
        if (i > 0)
            assert_term_eq(pv, K[i - 1], "prev", i);
        else
            assert_null(pv.ptr);
        shmets_term_free(&nx);
        shmets_term_free(&pv);
    }

    /* Delete every other key: the rest keep their order. */
    for (size_t i = 0; i < n; i += 2)
        assert_int_equal(shmets_delete_key(t, K[i]), 0);
    check(t);
    m = walk_keys(t, 0, got, n);
    assert_int_equal(m, n / 2);
    for (size_t i = 0; i < m; i++)
        assert_term_eq(got[i], K[2 * i + 1], "key after deletes", i);
    free_terms(got, m);
    /* next/prev of a deleted key: the neighbours that are left */
    for (size_t i = 0; i < n; i += 2) {
        shmets_term nx, pv;
        assert_int_equal(shmets_next(t, K[i], &nx), 0);
        assert_int_equal(shmets_prev(t, K[i], &pv), 0);
        if (i + 1 < n)
            assert_term_eq(nx, K[i + 1], "next of a deleted key", i);
        else
            assert_null(nx.ptr);
        if (i > 0)
            assert_term_eq(pv, K[i - 1], "prev of a deleted key", i);
        else
            assert_null(pv.ptr);
        shmets_term_free(&nx);
        shmets_term_free(&pv);
    }
    free(got);
    assert_int_equal(shmets_delete(t), 0);
}

static void test_order_within_types(void **s)
{
    (void)s;
    for (size_t g = 0; g < NGROUPS; g++) {
        shmets_term *K = calloc(groups[g].n, sizeof *K);
        assert_non_null(K);
        for (size_t i = 0; i < groups[g].n; i++)
            K[i] = key_of(groups[g].keys[i]);
        run_ordered(K, groups[g].n, groups[g].name);
        free_terms(K, groups[g].n);
        free(K);
    }
}

/* Every group in one table: number < atom < reference < fun < port < pid < tuple < map < []
 * < list < bitstring. */
static void test_order_across_types(void **s)
{
    (void)s;
    size_t n = 0;
    for (size_t g = 0; g < NGROUPS; g++)
        n += groups[g].n;
    shmets_term *K = calloc(n, sizeof *K);
    assert_non_null(K);
    n = 0;
    for (size_t g = 0; g < NGROUPS; g++)
        for (size_t i = 0; i < groups[g].n; i++)
            K[n++] = key_of(groups[g].keys[i]);
    run_ordered(K, n, "all");
    free_terms(K, n);
    free(K);
}

/* ---- keys match by == ---------------------------------------------------------------------- */

/* The ~w text of next(key). */
static const char *step_key(shmets_tab *t, const char *key)
{
    shmets_term k = T(key), r;
    assert_int_equal(shmets_next(t, k, &r), 0);
    const char *out = S(r);
    shmets_term_free(&r);
    shmets_term_free(&k);
    return out;
}

static void test_equal_numbers_are_one_key(void **s)
{
    (void)s;
    shmets_tab *t = mk_os("eq");
    ins(t, "{1,a}");
    ins(t, "{1.0,b}");                       /* the same key: replaces, with its own key */
    assert_int_equal(tab_size(t), 1);
    assert_string_equal(look(t, "1"), "[{1.0,b}]");
    assert_string_equal(look(t, "1.0"), "[{1.0,b}]");
    ins(t, "{1,c}");
    assert_string_equal(look(t, "1.0"), "[{1,c}]");
    /* A list with equal keys: the last wins, with its key (ets: [{2,z}]). */
    ins(t, "[{2,x},{2.0,y},{2,z}]");
    assert_string_equal(look(t, "2.0"), "[{2,z}]");
    ins(t, "[{3,x},{3.0,y}]");
    assert_string_equal(look(t, "3"), "[{3.0,y}]");
    /* 2^70 and its float are one key; 2^70 +- 1 are others. */
    ins(t, "{1180591620717411303424,int}");
    ins(t, "{1180591620717411303425,above}");
    ins(t, "{1180591620717411303423,below}");
    ins(t, "{1.1805916207174113e21,float}");
    assert_string_equal(look(t, "1180591620717411303424"), "[{1.1805916207174113e21,float}]");
    assert_string_equal(look(t, "1180591620717411303425"), "[{1180591620717411303425,above}]");
    assert_string_equal(look(t, "-1180591620717411303424"), "[]");
    /* The largest float and the integer equal to it are one key; the next integer is not. */
    ins(t, "{1.7976931348623157e308,fmax}");
    ins(t, "{179769313486231570814527423731704356798070567525844996598917476803157260780028538760589558632766878171540458953514382464234321326889464182768467546703537516986049910576551282076245490090389328944075868508455133942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184124858369,above}");
    ins(t, "{179769313486231570814527423731704356798070567525844996598917476803157260780028538760589558632766878171540458953514382464234321326889464182768467546703537516986049910576551282076245490090389328944075868508455133942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184124858368,imax}");
    assert_string_equal(look(t, "1.7976931348623157e308"), W("[{179769313486231570814527423731704356798070567525844996598917476803157260780028538760589558632766878171540458953514382464234321326889464182768467546703537516986049910576551282076245490090389328944075868508455133942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184124858368,imax}]"));
    assert_string_equal(step_key(t, "1.7976931348623157e308"), "179769313486231570814527423731704356798070567525844996598917476803157260780028538760589558632766878171540458953514382464234321326889464182768467546703537516986049910576551282076245490090389328944075868508455133942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184124858369");
    shmets_term big = T("1.7976931348623157e308");
    assert_int_equal(shmets_delete_key(t, big), 0);
    shmets_term_free(&big);
    big = T("179769313486231570814527423731704356798070567525844996598917476803157260780028538760589558632766878171540458953514382464234321326889464182768467546703537516986049910576551282076245490090389328944075868508455133942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184124858369");
    assert_int_equal(shmets_delete_key(t, big), 0);
    shmets_term_free(&big);
    /* 0, 0.0 and -0.0 are == (whatever =:= says in each OTP version): one key. */
    ins(t, "{0,zero}");
    ins(t, "{0.0,fzero}");
    ins(t, "{-0.0,nzero}");
    assert_string_equal(look(t, "0"), "[{-0.0,nzero}]");
    assert_string_equal(look(t, "0.0"), "[{-0.0,nzero}]");
    /* Containers of == elements are == too: lists, tuples, map values (not map keys). */
    ins(t, "{[1.0,2],l1}");
    ins(t, "{[1,2.0],l2}");
    assert_string_equal(look(t, "[1,2]"), "[{[1,2.0],l2}]");
    ins(t, "{{1,2.0},t1}");
    assert_string_equal(look(t, "{1.0,2}"), "[{{1,2.0},t1}]");
    ins(t, "{#{a=>1},m1}");
    ins(t, "{#{a=>1.0},m2}");
    assert_string_equal(look(t, "#{a=>1}"), W("[{#{a=>1.0},m2}]"));
    ins(t, "{#{1=>a},k1}");
    ins(t, "{#{1.0=>a},k2}");                /* map keys compare exactly: two keys */
    assert_string_equal(look(t, "#{1=>a}"), W("[{#{1=>a},k1}]"));
    assert_string_equal(look(t, "#{1.0=>a}"), W("[{#{1.0=>a},k2}]"));
    assert_int_equal(tab_size(t), 12);
    int found;
    shmets_term k = T("3.0");
    assert_int_equal(shmets_member(t, k, &found), 0);
    assert_int_equal(found, 1);
    assert_int_equal(shmets_delete_key(t, k), 0);    /* deletes {3.0,y} by ==... */
    shmets_term_free(&k);
    k = T("3");
    assert_int_equal(shmets_member(t, k, &found), 0);
    assert_int_equal(found, 0);
    shmets_term_free(&k);
    k = T("1.1805916207174113e21");                  /* ...and by the other spelling */
    shmets_term k2 = T("1180591620717411303424");
    assert_int_equal(shmets_delete_key(t, k2), 0);
    assert_int_equal(shmets_member(t, k, &found), 0);
    assert_int_equal(found, 0);
    shmets_term_free(&k);
    shmets_term_free(&k2);
    assert_int_equal(tab_size(t), 10);
    shmets_term list;
    assert_int_equal(shmets_tab2list(t, &list), 0);
    assert_string_equal(S(list), W("[{-0.0,nzero},{1,c},{2,z},{1180591620717411303423,below},"
                                   "{1180591620717411303425,above},{{1,2.0},t1},{#{1=>a},k1},"
                                   "{#{1.0=>a},k2},{#{a=>1.0},m2},{[1,2.0],l2}]"));
    shmets_term_free(&list);
    check(t);
    assert_int_equal(shmets_delete(t), 0);
}

static void test_insert_new(void **s)
{
    (void)s;
    shmets_tab *t = mk_os("new");
    int ok;
    shmets_term x = T("[{e,1},{e,2}]");      /* ets: true, [{e,2}] */
    assert_int_equal(shmets_insert_new(t, x, &ok), 0);
    assert_int_equal(ok, 1);
    shmets_term_free(&x);
    assert_string_equal(look(t, "e"), "[{e,2}]");
    x = T("[{f,1},{e,2}]");                  /* e is there: nothing goes in */
    assert_int_equal(shmets_insert_new(t, x, &ok), 0);
    assert_int_equal(ok, 0);
    shmets_term_free(&x);
    assert_string_equal(look(t, "f"), "[]");
    x = T("[{1,1},{1.0,2}]");                /* ets: true, [{1.0,2}] */
    assert_int_equal(shmets_insert_new(t, x, &ok), 0);
    assert_int_equal(ok, 1);
    shmets_term_free(&x);
    assert_string_equal(look(t, "1"), "[{1.0,2}]");
    x = T("{1,3}");                          /* == an existing key */
    assert_int_equal(shmets_insert_new(t, x, &ok), 0);
    assert_int_equal(ok, 0);
    shmets_term_free(&x);
    x = T("[{g,1},{h,1},{1,9},{i,1}]");      /* the last one's key exists (as 1.0) */
    assert_int_equal(shmets_insert_new(t, x, &ok), 0);
    assert_int_equal(ok, 0);
    shmets_term_free(&x);
    assert_string_equal(look(t, "g"), "[]");
    assert_string_equal(look(t, "1"), "[{1.0,2}]");
    x = T("[{2.0,x}]");
    assert_int_equal(shmets_insert_new(t, x, &ok), 0);
    assert_int_equal(ok, 1);
    shmets_term_free(&x);
    x = T("[]");                             /* nothing to insert: true */
    assert_int_equal(shmets_insert_new(t, x, &ok), 0);
    assert_int_equal(ok, 1);
    shmets_term_free(&x);
    x = T("[{j,1}|k]");
    assert_int_equal(shmets_insert_new(t, x, &ok), -SHMETS_ETYPE);
    shmets_term_free(&x);
    assert_int_equal(tab_size(t), 3);
    shmets_term list;
    assert_int_equal(shmets_tab2list(t, &list), 0);
    assert_string_equal(S(list), "[{1.0,2},{2.0,x},{e,2}]");
    shmets_term_free(&list);
    check(t);
    assert_int_equal(shmets_delete(t), 0);
}

/* ---- first/next/last/prev, slot, folds ---------------------------------------------------- */

static const char *step(shmets_tab *t, const char *op, const char *key)
{
    shmets_term k = key ? T(key) : (shmets_term){ NULL, 0 }, r;
    int rc;
    if (!strcmp(op, "first"))
        rc = shmets_first(t, &r);
    else if (!strcmp(op, "last"))
        rc = shmets_last(t, &r);
    else if (!strcmp(op, "next"))
        rc = shmets_next(t, k, &r);
    else
        rc = shmets_prev(t, k, &r);
    if (rc)
        fail_msg("%s(%s): %s", op, key ? key : "", shmets_strerror(rc));
    const char *out = S(r);
    shmets_term_free(&r);
    shmets_term_free(&k);
    return out;
}

static void test_first_next_last_prev(void **s)
{
    (void)s;
    shmets_tab *t = mk_os("steps");
    /* Empty (ets: '$end_of_table' for each). */
    assert_string_equal(step(t, "first", NULL), "'$end_of_table'");
    assert_string_equal(step(t, "last", NULL), "'$end_of_table'");
    assert_string_equal(step(t, "next", "a"), "'$end_of_table'");
    assert_string_equal(step(t, "prev", "a"), "'$end_of_table'");
    shmets_term sl;
    assert_int_equal(shmets_slot(t, 0, &sl), 0);
    assert_null(sl.ptr);
    assert_int_equal(shmets_slot(t, 1, &sl), -SHMETS_EBADPOS);
    ins(t, "[{1},{2},{3}]");
    assert_string_equal(step(t, "first", NULL), "1");
    assert_string_equal(step(t, "last", NULL), "3");
    assert_string_equal(step(t, "next", "3"), "'$end_of_table'");
    assert_string_equal(step(t, "prev", "1"), "'$end_of_table'");
    assert_string_equal(step(t, "next", "0"), "1");           /* absent keys are fine */
    assert_string_equal(step(t, "prev", "100"), "3");
    assert_string_equal(step(t, "next", "1.5"), "2");
    assert_string_equal(step(t, "prev", "1.5"), "1");
    assert_string_equal(step(t, "next", "2.0"), "3");          /* == the key 2 */
    assert_string_equal(step(t, "prev", "2.0"), "1");
    assert_string_equal(step(t, "next", "-1.0e300"), "1");
    assert_string_equal(step(t, "prev", "a"), "3");            /* atoms after numbers */
    assert_string_equal(step(t, "next", "a"), "'$end_of_table'");
    assert_string_equal(step(t, "prev", "-5"), "'$end_of_table'");
    ins(t, "[{a},{<<>>},{[]},{{}}]");
    assert_string_equal(step(t, "next", "3"), "a");
    assert_string_equal(step(t, "next", "a"), "{}");
    assert_string_equal(step(t, "next", "{}"), "[]");
    assert_string_equal(step(t, "next", "[]"), "<<>>");
    assert_string_equal(step(t, "next", "[a]"), "<<>>");       /* a list after [] */
    assert_string_equal(step(t, "prev", "[a]"), "[]");
    assert_string_equal(step(t, "prev", "#{}"), "{}");
    assert_string_equal(step(t, "next", "#{}"), "[]");
    assert_string_equal(step(t, "last", NULL), "<<>>");
    assert_string_equal(step(t, "next", "<<>>"), "'$end_of_table'");
    assert_string_equal(step(t, "next", "<<0>>"), "'$end_of_table'");
    /* A key handed out is the stored one: its own bytes. */
    ins(t, "{4.0}");
    assert_string_equal(step(t, "next", "3"), "4.0");
    assert_string_equal(step(t, "prev", "4"), "3");
    assert_string_equal(step(t, "prev", "a"), "4.0");
    check(t);
    assert_int_equal(shmets_delete(t), 0);
}

static int stop_fn(shmets_term obj, void *arg)
{
    (void)obj;
    return ++*(int *)arg == 3 ? 42 : 0;
}

/* A fold's callback may write the table: delete each object it is given, insert others
 * behind the fold. */
static int deleting_fn(shmets_term obj, void *arg)
{
    shmets_tab *t = ((void **)arg)[0];
    int *n = ((void **)arg)[1];
    (*n)++;
    return shmets_delete_key(t, elem(obj, 1));
}

static void test_slot_and_folds(void **s)
{
    (void)s;
    shmets_tab *t = mk_os("folds");
    char buf[64];
    for (int i = 999; i >= 0; i--) {           /* more than one read section of keys */
        snprintf(buf, sizeof buf, "{%d,%d}", i * 3, i);
        ins(t, buf);
    }
    for (uint64_t i = 0; i < 1000; i += 37) {
        shmets_term sl;
        assert_int_equal(shmets_slot(t, i, &sl), 0);
        snprintf(buf, sizeof buf, "[{%d,%d}]", (int)i * 3, (int)i);
        assert_string_equal(S(sl), buf);
        shmets_term_free(&sl);
    }
    shmets_term sl;
    assert_int_equal(shmets_slot(t, 999, &sl), 0);
    assert_string_equal(S(sl), "[{2997,999}]");
    shmets_term_free(&sl);
    assert_int_equal(shmets_slot(t, 1000, &sl), 0);
    assert_null(sl.ptr);
    assert_int_equal(shmets_slot(t, 1001, &sl), -SHMETS_EBADPOS);

    int n = 0;
    assert_int_equal(shmets_foldl(t, stop_fn, &n), 42);          /* the callback's value */
    assert_int_equal(n, 3);
    struct rec r = { calloc(1001, sizeof(shmets_term)), 0, 1001, 0 };
    assert_non_null(r.objs);
    assert_int_equal(shmets_foldr(t, rec_fn, &r), 0);
    assert_int_equal(r.n, 1000);
    for (size_t i = 0; i < 1000; i++) {
        snprintf(buf, sizeof buf, "{%d,%d}", (int)(999 - i) * 3, (int)(999 - i));
        assert_string_equal(S(r.objs[i]), buf);
    }
    free_terms(r.objs, r.n);
    r.n = 0;
    r.stop_after = 100;
    assert_int_equal(shmets_foldl(t, rec_fn, &r), 77);
    assert_int_equal(r.n, 100);
    assert_string_equal(S(r.objs[99]), "{297,99}");
    free_terms(r.objs, r.n);
    free(r.objs);

    int seen = 0;
    void *arg[2] = { t, &seen };
    assert_int_equal(shmets_foldl(t, deleting_fn, arg), 0);
    assert_int_equal(seen, 1000);
    assert_int_equal(tab_size(t), 0);
    check(t);
    shmets_term list;
    assert_int_equal(shmets_tab2list(t, &list), 0);
    assert_string_equal(S(list), "[]");
    shmets_term_free(&list);
    assert_int_equal(shmets_delete(t), 0);
}

/* Traversals in read sections of STEP_KEYS keys or STEP_BYTES bytes (tabread.c): big objects,
 * so sections end on bytes too; every traversal agrees with the others. */
static void test_large_traversals(void **s)
{
    (void)s;
    shmets_tab *t = mk_os("large");
    enum { N = 3000 };
    shmets_builder *b;
    assert_int_equal(shmets_builder_create(&b), 0);
    static unsigned char pay[2000];
    for (int i = 0; i < N; i++) {
        shmets_term o;
        memset(pay, i & 0x7f, sizeof pay);
        shmets_build_tuple(b, 2);
        if (i % 3 == 0)
            shmets_build_int(b, i);
        else if (i % 3 == 1)
            shmets_build_float(b, i + 0.5);
        else {
            char k[32];
            int kl = snprintf(k, sizeof k, "k%06d", i);
            shmets_build_atom(b, k, (size_t)kl);
        }
        shmets_build_binary(b, pay, 100 + (size_t)(i % 7) * 300);
        assert_int_equal(shmets_builder_finish(b, &o), 0);
        ins_obj(t, o);
        shmets_term_free(&o);
    }
    shmets_builder_destroy(b);
    check(t);
    shmets_term *keys = calloc(N + 1, sizeof *keys), list, *el = calloc(N + 1, sizeof *el);
    assert_non_null(keys);
    assert_non_null(el);
    assert_int_equal(walk_keys(t, 0, keys, N), N);
    for (int i = 0; i + 1 < N; i++)
        assert_true(shmets_term_compare(keys[i], keys[i + 1]) < 0);
    assert_int_equal(shmets_tab2list(t, &list), 0);
    assert_int_equal(list_elems(list, el, N + 1), N);
    for (int i = 0; i < N; i++)
        assert_term_eq(elem(el[i], 1), keys[i], "tab2list key", (size_t)i);
    struct rec r = { calloc(N + 1, sizeof(shmets_term)), 0, N + 1, 0 };
    assert_int_equal(shmets_foldr(t, rec_fn, &r), 0);
    assert_int_equal(r.n, N);
    for (int i = 0; i < N; i++)
        assert_true(shmets_term_exact_equal(r.objs[i], el[N - 1 - i]));
    free_terms(r.objs, r.n);
    free(r.objs);
    shmets_term_free(&list);
    free_terms(keys, N);
    free(keys);
    free(el);
    assert_int_equal(shmets_delete(t), 0);
}

/*
 * Lists and strings nested four deep.  A list of small integers is encoded as a string
 * (STRING_EXT); the skip list's key prefix (skiplist.c, key_prefix) follows a list's first
 * element only while depth < 4, but a string's first element at any depth, so at depth 4 a
 * string and an equal (==) or greater list get prefixes in the wrong order.  ets:
 * [[[[[1]]]]] == [[[[[1.0]]]]] is one key, and [[[[[2]]]]] < [[[[[300]]]]].  Three tests, one a
 * symptom; the walks are bounded (the second symptom is a next() that returns its own key).
 */
static void test_nested_string_found_by_equal_list(void **s)
{
    (void)s;
    shmets_tab *t = mk_os("nested");
    ins(t, "{[[[[[1]]]]],a}");
    assert_string_equal(look(t, "[[[[[1]]]]]"), "[{[[[[[1]]]]],a}]");
    assert_string_equal(look(t, "[[[[[1.0]]]]]"), "[{[[[[[1]]]]],a}]");     /* ets finds it */
    ins(t, "{[{[[[1]]]}],b}");
    assert_string_equal(look(t, "[{[[[1.0]]]}]"), "[{[{[[[1]]]}],b}]");
    check(t);
    assert_int_equal(shmets_delete(t), 0);
}

static void test_nested_string_replaced_by_equal_list(void **s)
{
    (void)s;
    shmets_tab *t = mk_os("nested");
    ins(t, "{[[[[[1]]]]],a}");
    ins(t, "{[[[[[1.0]]]]],b}");                     /* the same key: replaces (ets) */
    assert_int_equal(tab_size(t), 1);
    shmets_term k[2];
    size_t n = walk_keys(t, 0, k, 1);               /* fails if next() gives the key back */
    assert_int_equal(n, 1);
    assert_string_equal(S(k[0]), "[[[[[1.0]]]]]");
    free_terms(k, n);
    check(t);
    assert_int_equal(shmets_delete(t), 0);
}

static void test_nested_string_order(void **s)
{
    (void)s;
    shmets_tab *t = mk_os("nested");
    ins(t, "{[[[[[300]]]]],a}");
    ins(t, "{[[[[[2]]]]],b}");
    ins(t, "{[{[[[2]]]}],c}");
    ins(t, "{[{[[[300]]]}],d}");
    /* lists:sort/1 of the four */
    const char *want[] = { "[{[[[2]]]}]", "[{[[[300]]]}]", "[[[[[2]]]]]", "[[[[[300]]]]]" };
    shmets_term k[4];
    size_t n = walk_keys(t, 0, k, 4);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(S(k[i]), want[i]);
    free_terms(k, n);
    check(t);
    assert_int_equal(shmets_delete(t), 0);
}

/*
 * Cursors under churn (skiplist.c S.5, tabread.c).  Even keys stay in the table; a writer
 * process deletes and re-inserts odd keys as fast as it can and reclaims, with freed blocks
 * poisoned, so a walk's cursor often stands on a node that was unlinked after it got there.
 * Every walk must give every even key exactly once, all keys strictly in order, and objects
 * whole.  The writer child exits 0, or 40 open, 41 attach, 42 builder, 43 delete, 44 insert.
 */
enum { CH_N = 4000 };

static shmets_term int_obj(shmets_builder *b, int64_t k, int64_t v)
{
    shmets_term o;
    shmets_build_tuple(b, 2);
    shmets_build_int(b, k);
    shmets_build_int(b, v);
    if (shmets_builder_finish(b, &o))
        o.ptr = NULL;
    return o;
}

static int churn_main(uint64_t id, _Atomic int *stop)
{
    /* Never outlive the test: the parent's death, or 20 s, ends the writer too. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(20);
    alloc_poison = 1;
    shmets *d;
    shmets_tab *t;
    shmets_builder *b;
    if (shmets_open(inst, &d))
        return 40;
    if (shmets_attach(d, id, &t))
        return 41;
    if (shmets_builder_create(&b))
        return 42;
    uint64_t rs = 0x51ab1e ^ (uint64_t)getpid();
    for (uint64_t n = 0; !atomic_load(stop); n++) {
        int64_t k = (int64_t)(rnd(&rs) % (CH_N / 2)) * 2 + 1;
        shmets_term key;
        shmets_build_int(b, k);
        if (shmets_builder_finish(b, &key))
            return 42;
        int rc = shmets_delete_key(t, key);
        shmets_term_free(&key);
        if (rc)
            return 43;
        shmets_term o = int_obj(b, (int64_t)(rnd(&rs) % (CH_N / 2)) * 2 + 1, k);
        if (!o.ptr)
            return 42;
        rc = shmets_insert(t, o);
        shmets_term_free(&o);
        if (rc)
            return 44;
        if (n % 256 == 0)
            shmets_reclaim(t, 0, NULL);
        atomic_fetch_add(stop + 1, 1);
    }
    shmets_builder_destroy(b);
    shmets_detach(t);
    shmets_close(d);
    return 0;
}

/* The objects of one walk, in walk order: check them (reverse: descending). */
static void check_churned(shmets_term *objs, size_t n, int reverse, const char *what)
{
    static unsigned char seen[CH_N];
    memset(seen, 0, sizeof seen);
    int64_t prev = reverse ? CH_N : -1;
    for (size_t i = 0; i < n; i++) {
        int64_t k, v;
        if (shmets_term_get_int64(elem(objs[i], 1), &k) || shmets_term_get_int64(elem(objs[i], 2), &v))
            fail_msg("%s: object %zu is not {K, V}: %s", what, i, S(objs[i]));
        if (reverse ? k >= prev : k <= prev)
            fail_msg("%s: key %lld after %lld", what, (long long)k, (long long)prev);
        if (k < 0 || k >= CH_N || (k % 2 == 0 && v != k))
            fail_msg("%s: object %s", what, S(objs[i]));
        seen[k] = 1;
        prev = k;
    }
    for (int k = 0; k < CH_N; k += 2)
        if (!seen[k])
            fail_msg("%s: key %d, present throughout, was not visited", what, k);
}

static void test_walks_under_churn(void **s)
{
    (void)s;
    shmets_tab *t = mk_os("churn");
    shmets_builder *b;
    assert_int_equal(shmets_builder_create(&b), 0);
    for (int64_t k = 0; k < CH_N; k++) {
        shmets_term o = int_obj(b, k, k);
        assert_non_null(o.ptr);
        ins_obj(t, o);
        shmets_term_free(&o);
    }
    shmets_builder_destroy(b);
    _Atomic int *stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(stop != MAP_FAILED);
    atomic_store(stop, 0);
    atomic_store(stop + 1, 0);
    shmets_term spec, *el = calloc(CH_N + 1, sizeof *el);
    shmets_ms *ms;
    assert_non_null(el);
    const char *text = "[{{'$1', '_'}, [{'>=', '$1', 0}], ['$_']}]";
    assert_int_equal(shmets_term_parse(text, strlen(text), &spec), 0);
    assert_int_equal(shmets_ms_compile(spec, &ms), 0);
    shmets_term_free(&spec);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(churn_main(shmets_id(t), stop));
    /* At least 30 rounds, and on until the writer has made 20,000 changes (or 5 s). */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int round = 0;
    for (;; round++) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (round >= 30 && (atomic_load(stop + 1) >= 20000 || t1.tv_sec - t0.tv_sec >= 5))
            break;
        struct rec r = { calloc(CH_N + 1, sizeof(shmets_term)), 0, CH_N + 1, 0 };
        assert_non_null(r.objs);
        int reverse = round % 2;
        assert_int_equal(reverse ? shmets_foldr(t, rec_fn, &r) : shmets_foldl(t, rec_fn, &r), 0);
        check_churned(r.objs, r.n, reverse, reverse ? "foldr" : "foldl");
        free_terms(r.objs, r.n);
        free(r.objs);
        shmets_term list;
        assert_int_equal(round % 3 ? shmets_tab2list(t, &list) : shmets_select(t, ms, reverse, &list), 0);
        size_t n = list_elems(list, el, CH_N + 1);
        check_churned(el, n, round % 3 ? 0 : reverse, round % 3 ? "tab2list" : "select");
        shmets_term_free(&list);
    }
    atomic_store(stop, 1);
    print_message("churn: %d walks, %d writes meanwhile\n", round * 2, atomic_load(stop + 1));
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("the writer failed: status %d", st);
    munmap((void *)stop, 4096);
    shmets_ms_free(ms);
    free(el);
    check(t);
    assert_int_equal(shmets_delete(t), 0);
}

/* ---- a randomized model ------------------------------------------------------------------- */

/*
 * Random keys of every type, from small domains so that keys repeat and collide: integers and
 * the floats equal to them (one key), big integers and floats with common high bits, atoms,
 * binaries and bitstrings with a 7-byte common prefix, tuples of arity 0..3, lists and
 * strings, maps, references, ports, pids and funs.  Containers nest at most three deep (the
 * key and two levels inside it), which keeps clear of the depth-4 prefix bug that
 * the test_nested_string_* tests show.
 */
struct pool { shmets_term refs[3], ports[3], funs[3]; };

static void gen_key(shmets_builder *b, uint64_t *rs, int depth, const struct pool *pl)
{
    static const char *const atoms[] = { "a", "b", "abcdefg", "abcdefga", "abcdefgb", "abcdefgé", "z" };
    unsigned kind = (unsigned)(rnd(rs) % (depth < 3 ? 14 : 10));
    uint64_t r = rnd(rs);
    switch (kind) {
    case 0: case 1:
        shmets_build_int(b, (int64_t)(r % 41) - 20);
        break;
    case 2:                                  /* a float, often equal to an integer above */
        shmets_build_float(b, r & 1 ? (double)((int64_t)(r % 41) - 20) : ((double)(r % 161) - 80) / 4);
        break;
    case 3: {                                /* big integers around 2^64 and 2^70, and floats */
        unsigned char mag[9] = { 0 };
        mag[8] = (unsigned char)(r % 3 == 0 ? 1 : 0x40);
        mag[0] = (unsigned char)(r >> 8);
        if (r % 5 == 0)
            shmets_build_float(b, ((r >> 3) & 1 ? -1.0 : 1.0) * (r % 3 == 0 ? 18446744073709551616.0 : 1180591620717411303424.0));
        else
            shmets_build_bigint(b, (int)((r >> 3) & 1), mag, (r >> 4) & 1 ? 9 : 8);
        break;
    }
    case 4:
        shmets_build_atom(b, atoms[r % 7], strlen(atoms[r % 7]));
        break;
    case 5: {                                /* binaries and bitstrings with a common prefix */
        unsigned char by[10] = { 'a', 'b', 'c', 'd', 'e', 'f', 'g', 0, 0, 0 };
        size_t len = 5 + (size_t)(r % 6);
        uint64_t r2 = rnd(rs);
        for (size_t i = 7; i < len; i++)
            by[i] = (unsigned char)((r2 >> (8 * (i - 7))) & 0x81);
        if ((r >> 40) % 3 == 0)
            shmets_build_bitstring(b, by, len, 1 + (unsigned)((r >> 44) % 7));
        else
            shmets_build_binary(b, by, len);
        break;
    }
    case 6:
        shmets_build_term(b, pl->refs[r % 3]);
        break;
    case 7:
        shmets_build_term(b, pl->ports[r % 3]);
        break;
    case 8:
        shmets_build_pid(b, (uint32_t)(1 + r % 3));
        break;
    case 9:
        if (r % 2)
            shmets_build_term(b, pl->funs[r % 3]);
        else
            shmets_build_nil(b);
        break;
    case 10: case 11: {                      /* a tuple of arity 0..3 */
        size_t ar = (size_t)(r % 4);
        shmets_build_tuple(b, ar);
        for (size_t i = 0; i < ar; i++)
            gen_key(b, rs, depth + 1, pl);
        break;
    }
    case 12: {                               /* a list: a string, or of any elements */
        size_t n = 1 + (size_t)(r % 3);
        if ((r >> 8) % 2) {
            char str[4] = { (char)('a' + (r >> 16) % 3), (char)('a' + (r >> 20) % 3), (char)('a' + (r >> 24) % 3), 0 };
            shmets_build_string(b, str, n);
        } else {
            shmets_build_list(b, n);
            for (size_t i = 0; i < n; i++)
                gen_key(b, rs, depth + 1, pl);
            if ((r >> 12) % 4 == 0)
                shmets_build_atom(b, "t", 1);  /* improper */
            else
                shmets_build_nil(b);
        }
        break;
    }
    default: {                               /* a map of 0..2 pairs, keys a and b */
        size_t n = (size_t)(r % 3);
        shmets_build_map(b, n);
        for (size_t i = 0; i < n; i++) {
            shmets_build_atom(b, i ? "b" : "a", 1);
            gen_key(b, rs, depth + 1, pl);
        }
        break;
    }
    }
}

struct mentry { shmets_term key, obj; };

struct model {
    struct mentry *e;
    size_t n, cap;
};

/* Index of the entry whose key == k, or where it would go (*found 0). */
static size_t m_find(const struct model *m, shmets_term k, int *found)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = shmets_term_compare(m->e[mid].key, k);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

/* The ordered_set insert of one object (the model keeps views into owned copies). */
static void m_put(struct model *m, shmets_term obj)
{
    shmets_term o;
    assert_int_equal(shmets_term_dup(obj, &o), 0);
    shmets_term key = elem(o, 1);
    int found;
    size_t i = m_find(m, key, &found);
    if (found) {
        shmets_term_free(&m->e[i].obj);
    } else {
        if (m->n == m->cap) {
            m->cap = m->cap ? 2 * m->cap : 256;
            m->e = realloc(m->e, m->cap * sizeof *m->e);
            assert_non_null(m->e);
        }
        memmove(&m->e[i + 1], &m->e[i], (m->n - i) * sizeof *m->e);
        m->n++;
    }
    m->e[i].obj = o;
    m->e[i].key = key;
}

static int m_del(struct model *m, shmets_term key)
{
    int found;
    size_t i = m_find(m, key, &found);
    if (!found)
        return 0;
    shmets_term_free(&m->e[i].obj);
    memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof *m->e);
    m->n--;
    return 1;
}

static void m_free(struct model *m)
{
    for (size_t i = 0; i < m->n; i++)
        shmets_term_free(&m->e[i].obj);
    free(m->e);
    memset(m, 0, sizeof *m);
}

/* The whole table against the model: size, first/next, last/prev, tab2list, a few slots. */
static void m_compare(shmets_tab *t, const struct model *m, uint64_t *rs)
{
    assert_int_equal(tab_size(t), m->n);
    shmets_term *k = calloc(m->n + 1, sizeof *k);
    assert_non_null(k);
    size_t n = walk_keys(t, 0, k, m->n);
    assert_int_equal(n, m->n);
    for (size_t i = 0; i < n; i++)
        assert_term_eq(k[i], m->e[i].key, "model: first/next key", i);
    free_terms(k, n);
    n = walk_keys(t, 1, k, m->n);
    assert_int_equal(n, m->n);
    for (size_t i = 0; i < n; i++)
        assert_term_eq(k[i], m->e[m->n - 1 - i].key, "model: last/prev key", i);
    free_terms(k, n);
    free(k);
    shmets_builder *b;
    shmets_term want, got;
    assert_int_equal(shmets_builder_create(&b), 0);
    if (m->n) {
        shmets_build_list(b, m->n);
        for (size_t i = 0; i < m->n; i++)
            shmets_build_term(b, m->e[i].obj);
    }
    shmets_build_nil(b);
    assert_int_equal(shmets_builder_finish(b, &want), 0);
    shmets_builder_destroy(b);
    assert_int_equal(shmets_tab2list(t, &got), 0);
    if (!shmets_term_exact_equal(got, want))
        fail_msg("model: tab2list differs (%zu objects expected)", m->n);
    shmets_term_free(&got);
    shmets_term_free(&want);
    for (int j = 0; j < 5 && m->n; j++) {
        size_t i = (size_t)(rnd(rs) % m->n);
        shmets_term sl, e1[2];
        assert_int_equal(shmets_slot(t, i, &sl), 0);
        assert_int_equal(list_elems(sl, e1, 2), 1);
        assert_term_eq(e1[0], m->e[i].obj, "model: slot", i);
        shmets_term_free(&sl);
    }
    shmets_term sl;
    assert_int_equal(shmets_slot(t, m->n, &sl), 0);
    assert_null(sl.ptr);
    assert_int_equal(shmets_slot(t, m->n + 1, &sl), -SHMETS_EBADPOS);
}

static shmets_term rand_key(shmets_builder *b, uint64_t *rs, const struct pool *pl)
{
    shmets_term k;
    gen_key(b, rs, 0, pl);
    int rc = shmets_builder_finish(b, &k);
    if (rc)
        fail_msg("a random key: %s (%s)", shmets_strerror(rc), shmets_errdetail());
    return k;
}

static void test_random_model(void **s)
{
    (void)s;
    shmets_tab *t = mk_os("model");
    shmets_builder *b;
    assert_int_equal(shmets_builder_create(&b), 0);
    struct pool pl;
    const char *refs[] = { "#Ref<0.0.0.9>", "#Ref<0.1.2.3>", "#Ref<0.9.0.0>" };
    const char *ports[] = { "#Port<0.1>", "#Port<0.5>", "#Port<0.300>" };
    for (int i = 0; i < 3; i++) {
        pl.refs[i] = T(refs[i]);
        pl.ports[i] = T(ports[i]);
    }
    pl.funs[0] = fun_term("lists", "map", 2);
    pl.funs[1] = fun_term("lists", "sort", 1);
    pl.funs[2] = fun_term("lists", "sort", 2);
    struct model m = { NULL, 0, 0 };
    uint64_t rs = 0xC0FFEE123456789ull, serial = 0;
    uint64_t used0, fr;
    assert_int_equal(shmets_memory(t, &used0, &fr), 0);
    /* Phases: grow to ~1500 keys, shrink to a few, grow again, shrink to none. */
    const struct { int ops; int insert_pct; } phase[] = { { 3000, 85 }, { 3000, 10 }, { 2500, 80 }, { 3000, 3 } };
    uint64_t ops = 0;
    for (size_t ph = 0; ph < sizeof phase / sizeof phase[0]; ph++) {
        for (int i = 0; i < phase[ph].ops; i++, ops++) {
            unsigned op = (unsigned)(rnd(&rs) % 100);
            if (op < (unsigned)phase[ph].insert_pct) {
                unsigned how = (unsigned)(rnd(&rs) % 10);
                size_t n = how < 7 ? 1 : 2 + (size_t)(rnd(&rs) % 4);
                shmets_term *objs = calloc(n, sizeof *objs), list;
                for (size_t j = 0; j < n; j++) {
                    shmets_term k;
                    if (j && rnd(&rs) % 3 == 0)         /* equal keys in one list */
                        assert_int_equal(shmets_term_dup(elem(objs[j - 1], 1), &k), 0);
                    else
                        k = rand_key(b, &rs, &pl);
                    objs[j] = obj_of(k, (int64_t)serial++);
                    shmets_term_free(&k);
                }
                shmets_build_list(b, n);
                for (size_t j = 0; j < n; j++)
                    shmets_build_term(b, objs[j]);
                shmets_build_nil(b);
                assert_int_equal(shmets_builder_finish(b, &list), 0);
                if (how == 9) {                 /* insert_new: all or nothing */
                    int any = 0, ok;
                    for (size_t j = 0; j < n; j++) {
                        int found;
                        m_find(&m, elem(objs[j], 1), &found);
                        any |= found;
                    }
                    assert_int_equal(shmets_insert_new(t, list, &ok), 0);
                    assert_int_equal(ok, !any);
                    for (size_t j = 0; j < n && !any; j++)
                        m_put(&m, objs[j]);
                } else {
                    if (how == 0)
                        ins_obj(t, objs[0]);    /* a tuple, not a list */
                    else
                        ins_obj(t, list);
                    for (size_t j = 0; j < n; j++)
                        m_put(&m, objs[j]);
                }
                shmets_term_free(&list);
                free_terms(objs, n);
                free(objs);
            } else if (op < 90 || m.n == 0) {
                /* Delete: a stored key (as stored, or as a fresh term that may be == to it),
                 * or a random one. */
                shmets_term k;
                if (m.n && rnd(&rs) % 4) {
                    assert_int_equal(shmets_term_dup(m.e[rnd(&rs) % m.n].key, &k), 0);
                } else {
                    k = rand_key(b, &rs, &pl);
                }
                int found;
                m_find(&m, k, &found);
                int exp = m_del(&m, k);
                assert_int_equal(exp, found);
                assert_int_equal(shmets_delete_key(t, k), 0);
                shmets_term_free(&k);
            } else {
                /* Queries of a random key: lookup, member, next, prev. */
                shmets_term k = rand_key(b, &rs, &pl), res, nx, pv, e1[2];
                int found, mem;
                size_t i = m_find(&m, k, &found);
                assert_int_equal(shmets_lookup(t, k, &res), 0);
                assert_int_equal(list_elems(res, e1, 2), (size_t)found);
                if (found)
                    assert_term_eq(e1[0], m.e[i].obj, "model: lookup", i);
                shmets_term_free(&res);
                assert_int_equal(shmets_member(t, k, &mem), 0);
                assert_int_equal(mem, found);
                assert_int_equal(shmets_next(t, k, &nx), 0);
                assert_int_equal(shmets_prev(t, k, &pv), 0);
                size_t ni = found ? i + 1 : i;          /* first key > k */
                if (ni < m.n)
                    assert_term_eq(nx, m.e[ni].key, "model: next", ni);
                else
                    assert_null(nx.ptr);
                if (i > 0)                              /* last key < k */
                    assert_term_eq(pv, m.e[i - 1].key, "model: prev", i - 1);
                else
                    assert_null(pv.ptr);
                shmets_term_free(&nx);
                shmets_term_free(&pv);
                shmets_term_free(&k);
            }
            if (ops % 500 == 499)
                m_compare(t, &m, &rs);
        }
        m_compare(t, &m, &rs);
        check(t);
        print_message("model: phase %zu: %zu keys\n", ph, m.n);
    }
    assert_int_equal(m.n, tab_size(t));
    /* Down to (nearly) nothing: the memory comes back. */
    while (m.n) {
        shmets_term k;
        assert_int_equal(shmets_term_dup(m.e[0].key, &k), 0);
        m_del(&m, k);
        assert_int_equal(shmets_delete_key(t, k), 0);
        shmets_term_free(&k);
    }
    assert_int_equal(tab_size(t), 0);
    assert_int_equal(shmets_reclaim(t, 0, NULL), 0);
    uint64_t used1;
    assert_int_equal(shmets_memory(t, &used1, &fr), 0);
    print_message("model: memory used: %llu B empty at the start, %llu B emptied at the end\n",
                  (unsigned long long)used0, (unsigned long long)used1);
    assert_true(used1 <= used0 + 64 * 1024);     /* what limbo keeps for its own lists */
    check(t);
    m_free(&m);
    for (int i = 0; i < 3; i++) {
        shmets_term_free(&pl.refs[i]);
        shmets_term_free(&pl.ports[i]);
        shmets_term_free(&pl.funs[i]);
    }
    shmets_builder_destroy(b);
    assert_int_equal(shmets_delete(t), 0);
}

int main(void)
{
    limit_data_memory(4ull << 30);      /* a traversal that never ends: ENOMEM, not the OOM killer */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order_within_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_across_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_equal_numbers_are_one_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_insert_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_next_last_prev, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slot_and_folds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_traversals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_string_found_by_equal_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_string_replaced_by_equal_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_string_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walks_under_churn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_model, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
