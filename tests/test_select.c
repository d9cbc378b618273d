/*
 * test_select.c — the select family over tables (shm/table/tabselect.c): results as ETS gives them
 * (expected values from erl 25), the key plans (a bound key is looked up, a bound prefix of an
 * ordered_set walks its range, anything else scans) giving the same results as a scan, and
 * select_delete / select_replace acting per object.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shmets.h"

#include <sys/wait.h>
#include <unistd.h>

#define TESTINST_PREFIX "test_select"
#include "testinst.h"
#include "tabutil.h"

static shmets_ms *C(const char *spec)
{
    shmets_term s = T(spec);
    shmets_ms *ms;
    int rc = shmets_ms_compile(s, &ms);
    shmets_term_free(&s);
    if (rc)
        fail_msg("compile %s: %s (%s)", spec, shmets_strerror(rc), shmets_errdetail());
    return ms;
}

static const char *sel(shmets_tab *t, const char *spec, bool reverse)
{
    shmets_ms *ms = C(spec);
    shmets_term r;
    int rc = shmets_select(t, ms, reverse, &r);
    shmets_ms_free(ms);
    if (rc)
        fail_msg("select %s: %s (%s)", spec, shmets_strerror(rc), shmets_errdetail());
    const char *s = S(r);
    shmets_term_free(&r);
    return s;
}

static uint64_t count(shmets_tab *t, const char *spec, int (*fn)(shmets_tab *, const shmets_ms *, uint64_t *))
{
    shmets_ms *ms = C(spec);
    uint64_t n = 0;
    int rc = fn(t, ms, &n);
    shmets_ms_free(ms);
    if (rc)
        fail_msg("%s: %s (%s)", spec, shmets_strerror(rc), shmets_errdetail());
    return n;
}

/* The answers erl 25 gives for the same calls (tests/test_select.c's history has the script). */
static void test_ordered_set_as_ets(void **s)
{
    (void)s;
    shmets_tab *t = mk("o", SHMETS_ORDERED_SET, SHMETS_PUBLIC, 1);
    ins(t, "[{1,a},{2,b},{3,c},{{k,1},x},{{k,2},y},{{j,1},z}]");
    assert_string_equal(sel(t, "[{{'$1','$2'},[{'>','$1',1}],['$2']}]", false), "[b,c,z,x,y]");
    assert_string_equal(sel(t, "[{{'$1','$2'},[{is_integer,'$1'}],[{{'$2','$1'}}]}]", true), "[{c,3},{b,2},{a,1}]");
    assert_string_equal(sel(t, "[{{{k,'$1'},'$2'},[],['$$']}]", false), "[[1,x],[2,y]]");     /* a range */
    assert_string_equal(sel(t, "[{{2,'$2'},[],['$_']}]", false), "[{2,b}]");                /* a lookup */
    assert_string_equal(sel(t, "[{{3,'_'},[],[c3]},{{1,'_'},[],[c1]}]", false), "[c1,c3]"); /* in key order */
    assert_string_equal(sel(t, "[{{9,'_'},[],[x]}]", false), "[]");
    assert_string_equal(sel(t, "[{[],[],[x]}]", false), "[]");                              /* no object matches */
    assert_int_equal(count(t, "[{{'$1','_'},[{is_tuple,'$1'}],[true]}]", shmets_select_count), 3);
    assert_int_equal(count(t, "[{{'$1','$2'},[],[{{'$1',aa}}]}]", shmets_select_count), 0);  /* not 'true' */
    assert_int_equal(count(t, "[{{'$1',a},[],[{{'$1',aa}}]}]", shmets_select_replace), 1);
    assert_string_equal(look(t, "1"), "[{1,aa}]");
    shmets_ms *bad = C("[{{'$1',aa},[],[{{x,'$1'}}]}]");                                  /* changes the key */
    uint64_t n;
    assert_int_equal(shmets_select_replace(t, bad, &n), -SHMETS_EINVAL);
    shmets_ms_free(bad);
    assert_int_equal(count(t, "[{{'$1','_'},[{is_integer,'$1'}],[true]}]", shmets_select_delete), 3);
    assert_string_equal(sel(t, "[{'_',[],['$_']}]", false), "[{{j,1},z},{{k,1},x},{{k,2},y}]");
    assert_string_equal(sel(t, "[{'$1',[],[{hd,'$1'}]}]", false), "['EXIT','EXIT','EXIT']");
    shmets_term r;
    assert_int_equal(shmets_select(t, NULL, false, &r), 0);                                  /* select(T, []) */
    assert_string_equal(S(r), "[]");
    shmets_term_free(&r);
    check(t);
}

/* Every plan gives what a scan with the same clauses gives (the scan made by adding a clause
 * that matches nothing but forces SCAN: a variable head with a false guard). */
static void plans_agree(enum shmets_kind kind)
{
    shmets_tab *t = mk(kind == SHMETS_ORDERED_SET ? "po" : "ph", kind, SHMETS_PUBLIC, 1);
    char buf[128];
    for (int i = 0; i < 600; i++) {
        snprintf(buf, sizeof buf, "[{%d,%d},{{p,%d},%d},{{q,%d,%d},x},{%d.5,f}]", i, i % 7, i % 50, i, i % 9, i, i);
        ins(t, buf);
    }
    static const char *const specs[] = {
        "[{{17,'$1'},[],['$_']},{{{p,3},'$1'},[],['$1']},{{400,'_'},[],[y]}]",
        "[{{{p,'$1'},'$2'},[{'<','$1',5}],[{{'$1','$2'}}]}]",
        "[{{{q,'$1','_'},'_'},[{'==','$1',4}],['$$']}]",
        "[{{{q,3,'$1'},'$2'},[],['$1']},{{{p,'_'},'$2'},[{'>','$2',590}],['$_']}]",
        "[{{'$1','$2'},[{is_float,'$1'},{'<','$1',20}],['$1']}]",
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        char scan[512];
        snprintf(scan, sizeof scan, "[{'$9',[false],[never]},%s", specs[i] + 1);
        for (int rev = 0; rev < 2; rev++) {
            char a[TABUTIL_TEXT];
            snprintf(a, sizeof a, "%s", sel(t, specs[i], rev));
            const char *b = sel(t, scan, rev);
            if (kind == SHMETS_ORDERED_SET) {
                if (strcmp(a, b) != 0)
                    fail_msg("%s (reverse %d): planned %s, scanned %s", specs[i], rev, a, b);
            } else {
                shmets_term x = T(a), y = T(b);
                size_t nx, ny;
                assert_int_equal(shmets_term_list_length(x, &nx), 0);
                assert_int_equal(shmets_term_list_length(y, &ny), 0);
                if (nx != ny)
                    fail_msg("%s: planned %zu results, scanned %zu", specs[i], nx, ny);
                shmets_term_free(&x);
                shmets_term_free(&y);
            }
        }
    }
    check(t);
}

static void test_plans_agree_ordered(void **s)
{
    (void)s;
    plans_agree(SHMETS_ORDERED_SET);
}

static void test_plans_agree_hash(void **s)
{
    (void)s;
    plans_agree(SHMETS_SET);
}

/* Traversals hand each section's objects to select, foldl and tab2list with their lengths,
 * up to 256 objects a section; a key with more objects (a long duplicate_bag chain) makes a
 * section past that, whose objects are found by term_end instead.  Both ways give every
 * object once, in order, the same to all three. */
static int fold_count(shmets_term obj, void *arg)
{
    (void)obj;
    ++*(uint64_t *)arg;
    return 0;
}

static void test_walk_sections_long_and_short(void **s)
{
    (void)s;
    shmets_tab *t = mk("long", SHMETS_DUPLICATE_BAG, SHMETS_PUBLIC, 1);
    char buf[128];
    for (int i = 0; i < 700; i++) {             /* key k: 700 objects, two sizes of value */
        snprintf(buf, sizeof buf, "{k,%d,<<\"%s\">>}", i, i % 2 ? "ab" : "abcdefgh");
        ins(t, buf);
    }
    for (int i = 0; i < 300; i++) {             /* 300 keys of one object each */
        snprintf(buf, sizeof buf, "{%d,x}", i);
        ins(t, buf);
    }
    uint64_t folded = 0;
    assert_int_equal(shmets_foldl(t, fold_count, &folded), 0);
    assert_int_equal(folded, 1000);
    shmets_term all;
    assert_int_equal(shmets_tab2list(t, &all), 0);
    size_t n;
    assert_int_equal(shmets_term_list_length(all, &n), 0);
    assert_int_equal(n, 1000);
    shmets_term_free(&all);
    assert_int_equal(count(t, "[{{k,'$1','_'},[{'>=','$1',0}],[true]}]", shmets_select_count), 700);
    assert_int_equal(count(t, "[{{'$1',x},[{is_integer,'$1'}],[true]}]", shmets_select_count), 300);
    shmets_ms *ms = C("[{{k,'$1','$2'},[{'==','$1',699}],['$2']}]");
    shmets_term r;
    assert_int_equal(shmets_select(t, ms, false, &r), 0);
    assert_string_equal(S(r), "[<<97,98>>]");
    shmets_term_free(&r);
    shmets_ms_free(ms);
    check(t);
}

/* Bags: select_delete removes exactly the objects whose result is true; select_replace is
 * refused; match/match_object through their specifications. */
static void test_bags_and_patterns(void **s)
{
    (void)s;
    shmets_tab *t = mk("b", SHMETS_DUPLICATE_BAG, SHMETS_PUBLIC, 1);
    ins(t, "[{k,1},{k,2},{k,1},{j,3}]");
    assert_int_equal(count(t, "[{{k,'$1'},[{'==','$1',1}],[true]}]", shmets_select_delete), 2);
    assert_string_equal(look(t, "k"), "[{k,2}]");
    shmets_ms *ms = C("[{{k,2},[],[{const,{k,9}}]}]");     /* a duplicate_bag replaces in place */
    uint64_t n;
    assert_int_equal(shmets_select_replace(t, ms, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(look(t, "k"), "[{k,9}]");
    shmets_tab *bag = mk("realbag", SHMETS_BAG, SHMETS_PUBLIC, 1);
    assert_int_equal(shmets_select_replace(bag, ms, &n), -SHMETS_ETYPE);     /* not on a bag */
    shmets_ms_free(ms);
    shmets_term pat = T("{'$1','$2'}"), spec;
    assert_int_equal(shmets_ms_from_pattern(pat, SHMETS_MS_MATCH, &spec), 0);
    ms = NULL;
    assert_int_equal(shmets_ms_compile(spec, &ms), 0);
    shmets_term r;
    assert_int_equal(shmets_select(t, ms, false, &r), 0);
    size_t len;
    assert_int_equal(shmets_term_list_length(r, &len), 0);
    assert_int_equal(len, 2);
    shmets_term_free(&r);
    shmets_ms_free(ms);
    shmets_term_free(&spec);
    shmets_term_free(&pat);
    check(t);
}

/* A compressed table and a protected one read by another handle: selects read through the
 * same paths as lookups. */
static void test_compressed_select(void **s)
{
    (void)s;
    shmets_opts o;
    shmets_opts_init(&o);
    o.compressed = true;
    o.kind = SHMETS_ORDERED_SET;
    shmets_tab *t;
    assert_int_equal(shmets_new(db, "c", &o, &t), 0);
    char buf[256];
    for (int i = 0; i < 100; i++) {
        snprintf(buf, sizeof buf, "{%d,<<\"a value long enough to be packed, packed, packed, packed\">>,%d}", i, i);
        ins(t, buf);
    }
    assert_string_equal(sel(t, "[{{'$1','_','$2'},[{'>=','$1',97}],['$2']}]", false), "[97,98,99]");
    assert_int_equal(count(t, "[{{'$1','_','_'},[{'<','$1',10}],[true]}]", shmets_select_delete), 10);
    uint64_t n;
    assert_int_equal(shmets_size(t, &n), 0);
    assert_int_equal(n, 90);
    check(t);
}

/* The /3 forms: chunks of whole keys that together give what select/2 gives, in order on an
 * ordered_set, for a scan, a range and a lookup plan; a continuation resumed by another
 * process (it is a plain term). */
static void chunks_agree(shmets_tab *t, const char *spec, size_t limit, bool reverse)
{
    shmets_ms *ms = C(spec);
    shmets_term all, res, cont;
    assert_int_equal(shmets_select(t, ms, reverse, &all), 0);
    char want[TABUTIL_TEXT], got[TABUTIL_TEXT] = "[";
    snprintf(want, sizeof want, "%s", S(all));
    shmets_term_free(&all);
    assert_int_equal(shmets_select_limit(t, ms, limit, reverse, &res, &cont), 0);
    shmets_ms_free(ms);
    int chunks = 0;
    while (res.ptr) {
        const char *r = S(res);
        size_t n;
        assert_int_equal(shmets_term_list_length(res, &n), 0);
        assert_true(n >= 1);
        if (strlen(r) > 2)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%.*s", strlen(got) > 1 ? "," : "",
                     (int)(strlen(r) - 2), r + 1);
        shmets_term_free(&res);
        chunks++;
        if (!cont.ptr)
            break;
        shmets_term next;
        assert_int_equal(shmets_select_continue(db, cont, &res, &next), 0);
        shmets_term_free(&cont);
        cont = next;
    }
    snprintf(got + strlen(got), sizeof got - strlen(got), "]");
    if (strcmp(want, got) != 0)
        fail_msg("%s, limit %zu: select/2 gives %s, the chunks %s", spec, limit, want, got);
    assert_true(chunks >= 1);
}

static void test_limit_and_continuation(void **s)
{
    (void)s;
    shmets_tab *t = mk("l", SHMETS_ORDERED_SET, SHMETS_PUBLIC, 1);
    char buf[64];
    for (int i = 0; i < 300; i++) {
        snprintf(buf, sizeof buf, "[{%d,%d},{{p,%d},%d}]", i, i, i % 40, i);
        ins(t, buf);
    }
    for (size_t limit = 1; limit <= 64; limit *= 4) {
        chunks_agree(t, "[{{'$1','$2'},[{is_integer,'$1'},{'<','$2',100}],['$2']}]", limit, false);
        chunks_agree(t, "[{{'$1','$2'},[{is_integer,'$1'}],['$2']}]", limit, true);
        chunks_agree(t, "[{{{p,'$1'},'_'},[{'<','$1',30}],['$1']}]", limit, false);          /* range */
        chunks_agree(t, "[{{7,'$1'},[],['$1']},{{3,'$1'},[],['$1']},{{250,'_'},[],['$_']}]", limit, false);
    }
    /* Nothing found: '$end_of_table' alone. */
    shmets_ms *ms = C("[{{'$1','$2'},[{'>','$2',1000}],['$2']}]");
    shmets_term res, cont;
    assert_int_equal(shmets_select_limit(t, ms, 5, false, &res, &cont), 0);
    assert_null(res.ptr);
    assert_null(cont.ptr);
    /* Another process resumes a continuation. */
    assert_int_equal(shmets_select_limit(t, ms = (shmets_ms_free(ms), C("[{{'$1','$2'},[{is_integer,'$1'}],['$2']}]")),
                                         10, false, &res, &cont), 0);
    shmets_ms_free(ms);
    assert_string_equal(S(res), "[0,1,2,3,4,5,6,7,8,9]");
    shmets_term_free(&res);
    pid_t pid = fork();
    if (pid == 0) {
        shmets *d2;
        shmets_term r2, c2;
        int ok = shmets_open(inst, &d2) == 0 && shmets_select_continue(d2, cont, &r2, &c2) == 0 &&
                 strcmp(S(r2), "[10,11,12,13,14,15,16,17,18,19]") == 0;
        _exit(ok ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    shmets_term_free(&cont);
    /* Not a continuation. */
    shmets_term bad = T("{'$shmets_select', x}"), r3, c3;
    assert_int_equal(shmets_select_continue(db, bad, &r3, &c3), -SHMETS_ETYPE);
    shmets_term_free(&bad);
    check(t);
}

/* Where the chunks end, as ETS (erl 25) ends them: for limits 1..12, each chunk's length in
 * turn, "N+eot" for {Results, '$end_of_table'} and "eot" for '$end_of_table' — a full chunk
 * that reaches the last object still comes with a continuation (E.1 of tabselect.c), except a
 * a lookup plan on a hash table (a continuation only if a result follows) and an ordered_set's
 * lookup of one key (E.2).  The table: {1..7, v}, {{q,1}, a}, {{p,1..3}, a}. */
static const struct { enum shmets_kind kind; const char *spec; bool reverse; const char *shapes; } CHUNK_ENDS[] = {
    { SHMETS_SET, "[{'_',[],['$_']}]", false, "1,1,1,1,1,1,1,1,1,1,1,eot 2,2,2,2,2,1+eot 3,3,3,2+eot 4,4,3+eot 5,5,1+eot 6,5+eot 7,4+eot 8,3+eot 9,2+eot 10,1+eot 11,eot 11+eot" },
    { SHMETS_SET, "[{'_',[],['$_']}]", true, "1,1,1,1,1,1,1,1,1,1,1,eot 2,2,2,2,2,1+eot 3,3,3,2+eot 4,4,3+eot 5,5,1+eot 6,5+eot 7,4+eot 8,3+eot 9,2+eot 10,1+eot 11,eot 11+eot" },
    { SHMETS_SET, "[{{'$1','_'},[{'>','$1',3}],['$_']}]", false, "1,1,1,1,1,1,1,1,eot 2,2,2,2,eot 3,3,2+eot 4,4,eot 5,3+eot 6,2+eot 7,1+eot 8,eot 8+eot 8+eot 8+eot 8+eot" },
    { SHMETS_SET, "[{{'$1','_'},[{'>','$1',3}],['$_']}]", true, "1,1,1,1,1,1,1,1,eot 2,2,2,2,eot 3,3,2+eot 4,4,eot 5,3+eot 6,2+eot 7,1+eot 8,eot 8+eot 8+eot 8+eot 8+eot" },
    { SHMETS_SET, "[{{'$1','_'},[{'<','$1',5}],['$_']}]", false, "1,1,1,1,eot 2,2,eot 3,1+eot 4,eot 4+eot 4+eot 4+eot 4+eot 4+eot 4+eot 4+eot 4+eot" },
    { SHMETS_SET, "[{{'$1','_'},[{'<','$1',5}],['$_']}]", true, "1,1,1,1,eot 2,2,eot 3,1+eot 4,eot 4+eot 4+eot 4+eot 4+eot 4+eot 4+eot 4+eot 4+eot" },
    { SHMETS_SET, "[{{1,'_'},[],['$_']},{{2,'_'},[],['$_']},{{3,'_'},[],['$_']}]", false, "1,1,1+eot 2,1+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot" },
    { SHMETS_SET, "[{{1,'_'},[],['$_']},{{2,'_'},[],['$_']},{{3,'_'},[],['$_']}]", true, "1,1,1+eot 2,1+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot" },
    { SHMETS_SET, "[{{{p,'_'},'_'},[],['$_']}]", false, "1,1,1,eot 2,1+eot 3,eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot" },
    { SHMETS_SET, "[{{{p,'_'},'_'},[],['$_']}]", true, "1,1,1,eot 2,1+eot 3,eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot" },
    { SHMETS_SET, "[{{2,'_'},[],['$_']}]", false, "1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot" },
    { SHMETS_SET, "[{{2,'_'},[],['$_']}]", true, "1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot" },
    { SHMETS_SET, "[{{2,'_'},[],[a]},{{2.0,'_'},[],[b]}]", false, "1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot" },
    { SHMETS_SET, "[{{2,'_'},[],[a]},{{2.0,'_'},[],[b]}]", true, "1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot" },
    { SHMETS_SET, "[{{2,'_'},[],[a]},{{9,'_'},[],[b]}]", false, "1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot" },
    { SHMETS_SET, "[{{2,'_'},[],[a]},{{9,'_'},[],[b]}]", true, "1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot" },
    { SHMETS_SET, "[{{1,'_'},[],['$_']},{{99,'_'},[],['$_']},{{2,'_'},[],['$_']}]", false, "1,1+eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot" },
    { SHMETS_SET, "[{{1,'_'},[],['$_']},{{99,'_'},[],['$_']},{{2,'_'},[],['$_']}]", true, "1,1+eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot" },
    { SHMETS_SET, "[{{1,'_'},[],['$_']},{{2,'$1'},[{'==','$1',w}],['$_']}]", false, "1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot" },
    { SHMETS_SET, "[{{1,'_'},[],['$_']},{{2,'$1'},[{'==','$1',w}],['$_']}]", true, "1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot" },
    { SHMETS_ORDERED_SET, "[{'_',[],['$_']}]", false, "1,1,1,1,1,1,1,1,1,1,1,eot 2,2,2,2,2,1+eot 3,3,3,2+eot 4,4,3+eot 5,5,1+eot 6,5+eot 7,4+eot 8,3+eot 9,2+eot 10,1+eot 11,eot 11+eot" },
    { SHMETS_ORDERED_SET, "[{'_',[],['$_']}]", true, "1,1,1,1,1,1,1,1,1,1,1,eot 2,2,2,2,2,1+eot 3,3,3,2+eot 4,4,3+eot 5,5,1+eot 6,5+eot 7,4+eot 8,3+eot 9,2+eot 10,1+eot 11,eot 11+eot" },
    { SHMETS_ORDERED_SET, "[{{'$1','_'},[{'>','$1',3}],['$_']}]", false, "1,1,1,1,1,1,1,1,eot 2,2,2,2,eot 3,3,2+eot 4,4,eot 5,3+eot 6,2+eot 7,1+eot 8,eot 8+eot 8+eot 8+eot 8+eot" },
    { SHMETS_ORDERED_SET, "[{{'$1','_'},[{'>','$1',3}],['$_']}]", true, "1,1,1,1,1,1,1,1,eot 2,2,2,2,eot 3,3,2+eot 4,4,eot 5,3+eot 6,2+eot 7,1+eot 8,eot 8+eot 8+eot 8+eot 8+eot" },
    { SHMETS_ORDERED_SET, "[{{'$1','_'},[{'<','$1',5}],['$_']}]", false, "1,1,1,1,eot 2,2,eot 3,1+eot 4,eot 4+eot 4+eot 4+eot 4+eot 4+eot 4+eot 4+eot 4+eot" },
    { SHMETS_ORDERED_SET, "[{{'$1','_'},[{'<','$1',5}],['$_']}]", true, "1,1,1,1,eot 2,2,eot 3,1+eot 4,eot 4+eot 4+eot 4+eot 4+eot 4+eot 4+eot 4+eot 4+eot" },
    { SHMETS_ORDERED_SET, "[{{1,'_'},[],['$_']},{{2,'_'},[],['$_']},{{3,'_'},[],['$_']}]", false, "1,1,1,eot 2,1+eot 3,eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot" },
    { SHMETS_ORDERED_SET, "[{{1,'_'},[],['$_']},{{2,'_'},[],['$_']},{{3,'_'},[],['$_']}]", true, "1,1,1,eot 2,1+eot 3,eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot" },
    { SHMETS_ORDERED_SET, "[{{{p,'_'},'_'},[],['$_']}]", false, "1,1,1,eot 2,1+eot 3,eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot" },
    { SHMETS_ORDERED_SET, "[{{{p,'_'},'_'},[],['$_']}]", true, "1,1,1,eot 2,1+eot 3,eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot 3+eot" },
    { SHMETS_ORDERED_SET, "[{{2,'_'},[],['$_']}]", false, "1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot" },
    { SHMETS_ORDERED_SET, "[{{2,'_'},[],['$_']}]", true, "1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot" },
    { SHMETS_ORDERED_SET, "[{{2,'_'},[],[a]},{{2.0,'_'},[],[b]}]", false, "1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot" },
    { SHMETS_ORDERED_SET, "[{{2,'_'},[],[a]},{{2.0,'_'},[],[b]}]", true, "1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot" },
    { SHMETS_ORDERED_SET, "[{{2,'_'},[],[a]},{{9,'_'},[],[b]}]", false, "1,eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot" },
    { SHMETS_ORDERED_SET, "[{{2,'_'},[],[a]},{{9,'_'},[],[b]}]", true, "1,eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot" },
    { SHMETS_ORDERED_SET, "[{{1,'_'},[],['$_']},{{99,'_'},[],['$_']},{{2,'_'},[],['$_']}]", false, "1,1,eot 2,eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot" },
    { SHMETS_ORDERED_SET, "[{{1,'_'},[],['$_']},{{99,'_'},[],['$_']},{{2,'_'},[],['$_']}]", true, "1,1,eot 2,eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot 2+eot" },
    { SHMETS_ORDERED_SET, "[{{1,'_'},[],['$_']},{{2,'$1'},[{'==','$1',w}],['$_']}]", false, "1,eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot" },
    { SHMETS_ORDERED_SET, "[{{1,'_'},[],['$_']},{{2,'$1'},[{'==','$1',w}],['$_']}]", true, "1,eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot 1+eot" },
};

static void chunk_shape(shmets_tab *t, const char *spec, size_t limit, bool reverse, char *out, size_t cap)
{
    shmets_ms *ms = C(spec);
    shmets_term res, cont;
    assert_int_equal(shmets_select_limit(t, ms, limit, reverse, &res, &cont), 0);
    shmets_ms_free(ms);
    out[0] = 0;
    for (int i = 0; i < 40; i++) {
        size_t n = 0;
        if (res.ptr)
            assert_int_equal(shmets_term_list_length(res, &n), 0);
        size_t l = strlen(out);
        if (!res.ptr)
            snprintf(out + l, cap - l, "%seot", l ? "," : "");
        else if (!cont.ptr)
            snprintf(out + l, cap - l, "%s%zu+eot", l ? "," : "", n);
        else
            snprintf(out + l, cap - l, "%s%zu", l ? "," : "", n);
        shmets_term_free(&res);
        if (!cont.ptr)
            return;
        shmets_term next;
        assert_int_equal(shmets_select_continue(db, cont, &res, &next), 0);
        shmets_term_free(&cont);
        cont = next;
    }
    fail_msg("%s: no end after 40 chunks", spec);
}

static void test_chunk_ends_as_ets(void **s)
{
    (void)s;
    shmets_tab *tabs[2] = { mk("ce_set", SHMETS_SET, SHMETS_PUBLIC, 1),
                            mk("ce_ord", SHMETS_ORDERED_SET, SHMETS_PUBLIC, 1) };
    for (int i = 0; i < 2; i++)
        ins(tabs[i], "[{1,v},{2,v},{3,v},{4,v},{5,v},{6,v},{7,v},{{q,1},a},{{p,1},a},{{p,2},a},{{p,3},a}]");
    for (size_t i = 0; i < sizeof CHUNK_ENDS / sizeof *CHUNK_ENDS; i++) {
        shmets_tab *t = tabs[CHUNK_ENDS[i].kind == SHMETS_ORDERED_SET];
        char got[1024] = "", one[128];
        for (size_t limit = 1; limit <= 12; limit++) {
            chunk_shape(t, CHUNK_ENDS[i].spec, limit, CHUNK_ENDS[i].reverse, one, sizeof one);
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", limit > 1 ? " " : "", one);
        }
        if (strcmp(got, CHUNK_ENDS[i].shapes) != 0)
            fail_msg("%s %s%s: ETS ends chunks as\n  %s\nshmets as\n  %s", CHUNK_ENDS[i].spec,
                     CHUNK_ENDS[i].kind == SHMETS_ORDERED_SET ? "ordered_set" : "set",
                     CHUNK_ENDS[i].reverse ? " reverse" : "", CHUNK_ENDS[i].shapes, got);
    }
    check(tabs[0]);
    check(tabs[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ordered_set_as_ets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plans_agree_ordered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plans_agree_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bags_and_patterns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk_sections_long_and_short, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compressed_select, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_and_continuation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunk_ends_as_ets, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
