/*
 * test_ms_erl.c — the differential test of match specifications against real Erlang/OTP.
 *
 * tests/erl/ms_oracle.escript generates, in one Erlang VM, a few thousand random match
 * specifications (most valid, about one in five broken on purpose) with objects shaped like
 * their heads, and records what ETS says: ets:test_ms/2 for each object, and
 * ets:match_spec_run/2 over all of them (or badarg from ets:match_spec_compile/1).  This test
 * runs the oracle once, then asks shmets the same questions and compares the answers as
 * canonical terms, byte for byte:
 *   D.1 shmets_ms_test(Object, Spec) == ets:test_ms(Object, Spec), error messages included;
 *   D.2 shmets_ms_compile(Spec) fails exactly when match_spec_compile raises badarg, and
 *       shmets_ms_run_list == match_spec_run;
 *   D.3 the compiled program survives a trip through its bytes (shmets_ms_load verifies it;
 *       the loaded program gives the same answers), and through a binary term;
 *   D.4 key analysis holds what it promises (keypos 1, objects that matched): the key lies in
 *       shmets_ms_key_span's span, and in a LOOKUP plan's keys (specs whose key patterns hold
 *       maps are left out: there ETS itself looks up a map key as it is, see shmets.h).
 * The harness tests itself first: a changed expectation must be reported as a difference.
 *
 * Seeds: SHMETS_TEST_SEED=N (default below); SHMETS_MS_DIFF_N=N specs (default 10000).  The
 * first SHMETS_TEST_SHOW (default 8) differences are printed in full.  `make ms-diff-check`
 * runs only this test.  Erlang is a test dependency: without escript this test fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmets.h"
#include "testutil.h"
#include "erlutil.h"

extern char **environ;

#define DEFAULT_SEED    20250611u
#define DEFAULT_N       10000
#define ORACLE_TIMEOUT  300

static uint64_t seed;
static long nspecs;
static int show_max = 8;
static unsigned char *resp;
static size_t resp_len;
static char dir[PATH_MAX];

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    return s && *s ? strtoull(s, NULL, 10) : dflt;
}

/* ---- the oracle ---- */

static void read_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail_msg("the oracle wrote no %s: %s", path, strerror(errno));
    struct buf b = { 0 };
    unsigned char tmp[65536];
    for (;;) {
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            fail_msg("cannot read %s: %s", path, strerror(errno));
        if (r == 0)
            break;
        buf_put(&b, tmp, (size_t)r);
    }
    close(fd);
    resp = b.p;
    resp_len = b.n;
}

static int setup(void **state)
{
    (void)state;
    seed = env_u64("SHMETS_TEST_SEED", DEFAULT_SEED);
    nspecs = (long)env_u64("SHMETS_MS_DIFF_N", DEFAULT_N);
    show_max = (int)env_u64("SHMETS_TEST_SHOW", 8);
    snprintf(dir, sizeof dir, "/tmp/shmets-ms-erl.XXXXXX");
    if (!mkdtemp(dir))
        fail_msg("mkdtemp: %s", strerror(errno));
    char out[PATH_MAX + 16], seeds[32], ns[32];
    snprintf(out, sizeof out, "%s/ms.bin", dir);
    snprintf(seeds, sizeof seeds, "%" PRIu64, seed);
    snprintf(ns, sizeof ns, "%ld", nspecs);
    const char *script = getenv("SHMETS_MS_ORACLE");
    if (!script || !*script)
        script = "tests/erl/ms_oracle.escript";
    if (access(script, R_OK) != 0)
        fail_msg("%s is not readable (%s): run from the repository root", script, strerror(errno));
    char *argv[] = { (char *)"escript", (char *)script, seeds, ns, out, NULL };
    erl_run(argv, ORACLE_TIMEOUT, "the oracle");
    read_file(out);
    unlink(out);
    rmdir(dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(resp);
    return 0;
}

/* ---- comparing ---- */

struct stats {
    long specs, tests, runs, loads, keychecks, diffs, shown;
    long errors, nomatch, exits, results;   /* what Erlang answered to test_ms */
};

static char *fmt(shmets_term t);

static void tally(struct stats *st, shmets_term want)
{
    char *s = fmt(want);
    if (!strncmp(s, "{error,", 7)) st->errors++;
    else if (!strcmp(s, "{ok,false}")) st->nomatch++;
    else if (!strcmp(s, "{ok,'EXIT'}")) st->exits++;
    else st->results++;
    free(s);
}

static char *fmt(shmets_term t)
{
    char *s = NULL;
    if (!t.ptr)
        return strdup("(none)");
    if (shmets_term_format(t, &s, NULL))
        return strdup("(unprintable)");
    return s;
}

static void diff(struct stats *st, const char *what, shmets_term spec, shmets_term obj, shmets_term want,
                 shmets_term got, const char *extra)
{
    st->diffs++;
    if (st->shown++ >= show_max)
        return;
    char *a = fmt(spec), *b = fmt(obj), *c = fmt(want), *d = fmt(got);
    fprintf(stderr, "DIFFERENCE (%s)%s%s\n  spec:   %s\n  object: %s\n  erlang: %s\n  shmets: %s\n", what,
                  extra ? ": " : "", extra ? extra : "", a, b, c, d);
    free(a);
    free(b);
    free(c);
    free(d);
}

static shmets_term el(shmets_term t, size_t i)
{
    shmets_term e = { NULL, 0 };
    assert_int_equal(shmets_term_tuple_element(t, i, &e), 0);
    return e;
}

/* The elements of a proper list (views; the caller frees the array). */
static shmets_term *elements(shmets_term list, size_t *n, shmets_term *owned)
{
    size_t len = 0;
    assert_int_equal(shmets_term_list_length(list, &len), 0);
    assert_true(len <= 64);
    shmets_term *v = calloc(len ? len : 1, sizeof *v);
    shmets_list_iter it;
    assert_int_equal(shmets_list_begin(list, &it), 0);
    shmets_term e;
    size_t i = 0;
    while (shmets_list_next(&it, &e) == 1) {
        /* String elements live in the iterator: copy them. */
        assert_int_equal(shmets_term_dup(e, &owned[i]), 0);
        v[i] = owned[i];
        i++;
    }
    *n = i;
    return v;
}

static bool same(shmets_term a, shmets_term b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* Does a key pattern hold a map anywhere?  (Walk by text: cheap and enough for a test.) */
static bool pattern_has_map(shmets_term t)
{
    char *s = fmt(t);
    bool r = strstr(s, "#{") != NULL;
    free(s);
    return r;
}

/* D.4 for one object that matched. */
static void check_keys(struct stats *st, const shmets_ms *ms, shmets_term spec, shmets_term obj)
{
    size_t arity;
    shmets_term key;
    if (shmets_term_tuple_arity(obj, &arity) || arity < 1 || shmets_term_tuple_element(obj, 1, &key))
        return;
    for (size_t i = 0; i < shmets_ms_clauses(ms); i++) {
        enum shmets_ms_keykind k;
        shmets_term kp;
        assert_int_equal(shmets_ms_clause_key(ms, i, 1, &k, &kp), 0);
        if ((k == SHMETS_MS_KEY_BOUND || k == SHMETS_MS_KEY_PARTIAL) && pattern_has_map(kp))
            return;
    }
    st->keychecks++;
    int where = 9;
    assert_int_equal(shmets_ms_key_span(ms, 1, key, &where), 0);
    if (where != 0)
        diff(st, "key span", spec, obj, key, key, where < 0 ? "the matched key is below the span" : "above the span");
    for (int ordered = 0; ordered < 2; ordered++) {
        shmets_ms_plan plan;
        assert_int_equal(shmets_ms_key_plan(ms, 1, ordered, &plan), 0);
        bool ok = plan.kind == SHMETS_MS_PLAN_SCAN || (plan.kind == SHMETS_MS_PLAN_RANGE && ordered);
        if (plan.kind == SHMETS_MS_PLAN_LOOKUP)
            for (size_t j = 0; j < plan.nkeys && !ok; j++)
                ok = ordered ? shmets_term_equal(plan.keys[j], key) : shmets_term_exact_equal(plan.keys[j], key);
        if (!ok)
            diff(st, "key plan", spec, obj, key, key, ordered ? "ordered: a matched key outside the plan" : "a matched key outside the plan");
        shmets_ms_plan_free(&plan);
    }
}

/* One record: {Spec, Objects, TestMs, Run}.  mutate: change the first expectation first. */
static void compare_record(struct stats *st, shmets_term rec, int mutate)
{
    shmets_term spec = el(rec, 1), objs_l = el(rec, 2), tms_l = el(rec, 3), run = el(rec, 4);
    size_t no, nt;
    shmets_term own_o[64], own_t[64];
    shmets_term *objs = elements(objs_l, &no, own_o), *tms = elements(tms_l, &nt, own_t);
    assert_int_equal(no, nt);
    shmets_term fake = { NULL, 0 };
    if (mutate) {
        assert_int_equal(shmets_term_parse("{ok,{mutated}}", 14, &fake), 0);
        tms[0] = fake;
    }
    st->specs++;
    for (size_t i = 0; i < no; i++) {
        shmets_term got;
        int rc = shmets_ms_test(objs[i], spec, &got);
        st->tests++;
        tally(st, tms[i]);
        if (rc) {
            diff(st, "test_ms", spec, objs[i], tms[i], (shmets_term){ NULL, 0 }, shmets_errdetail());
            continue;
        }
        if (!same(got, tms[i]))
            diff(st, "test_ms", spec, objs[i], tms[i], got, NULL);
        shmets_term_free(&got);
    }
    shmets_ms *ms = NULL;
    int rc = shmets_ms_compile(spec, &ms);
    if (shmets_term_type(run) == SHMETS_T_ATOM) {     /* badarg */
        if (rc != -SHMETS_EINVAL)
            diff(st, "match_spec_compile", spec, objs_l, run, (shmets_term){ NULL, 0 },
                 rc ? shmets_strerror(rc) : "compiled");
    } else if (rc) {
        diff(st, "match_spec_compile", spec, objs_l, run, (shmets_term){ NULL, 0 }, shmets_errdetail());
    } else {
        shmets_term want = el(run, 2), got = { NULL, 0 };
        st->runs++;
        rc = shmets_ms_run_list(ms, objs_l, &got);
        if (rc || !same(got, want))
            diff(st, "match_spec_run", spec, objs_l, want, got, rc ? shmets_errdetail() : NULL);
        /* D.3: through bytes and a term. */
        const void *bytes;
        size_t len;
        shmets_ms *m2 = NULL, *m3 = NULL;
        assert_int_equal(shmets_ms_program(ms, &bytes, &len), 0);
        if (shmets_ms_load(bytes, len, &m2)) {
            diff(st, "program load", spec, objs_l, want, (shmets_term){ NULL, 0 }, shmets_errdetail());
        } else {
            shmets_term got2, bin;
            st->loads++;
            assert_int_equal(shmets_ms_run_list(m2, objs_l, &got2), 0);
            if (!same(got, got2))
                diff(st, "loaded program", spec, objs_l, got, got2, NULL);
            assert_int_equal(shmets_ms_to_term(m2, &bin), 0);
            assert_true(shmets_is_compiled_ms(bin));
            assert_int_equal(shmets_ms_from_term(bin, &m3), 0);
            shmets_term src;
            assert_int_equal(shmets_ms_source(m3, &src), 0);
            assert_true(same(src, spec));
            shmets_term_free(&got2);
            shmets_term_free(&bin);
        }
        for (size_t i = 0; i < no; i++) {
            bool matched;
            shmets_term r;
            assert_int_equal(shmets_ms_run(ms, objs[i], &matched, &r), 0);
            if (matched)
                check_keys(st, ms, spec, objs[i]);
            shmets_term_free(&r);
        }
        shmets_ms_free(m2);
        shmets_ms_free(m3);
        shmets_term_free(&got);
    }
    shmets_ms_free(ms);
    for (size_t i = 0; i < no; i++)
        shmets_term_free(&own_o[i]);
    for (size_t i = 0; i < nt; i++)
        shmets_term_free(&own_t[i]);
    shmets_term_free(&fake);
    free(objs);
    free(tms);
}

/* The records after the header, decoded one at a time. */
struct cursor {
    const unsigned char *p, *end;
};

static int next_record(struct cursor *c, shmets_term *t)
{
    if (c->p == c->end)
        return 0;
    if (c->end - c->p < 4)
        fail_msg("oracle output truncated");
    uint32_t n = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 | (uint32_t)c->p[2] << 8 | c->p[3];
    if ((size_t)(c->end - c->p - 4) < n)
        fail_msg("oracle record truncated");
    int rc = shmets_term_from_etf(c->p + 4, n, 0, t);
    if (rc)
        fail_msg("oracle record is not ETF: %s", shmets_errdetail());
    c->p += 4 + n;
    return 1;
}

static struct cursor records(void)
{
    struct cursor c = { resp, resp + resp_len };
    if (c.end - c.p < 4)
        fail_msg("no oracle output");
    uint32_t n = (uint32_t)c.p[0] << 24 | (uint32_t)c.p[1] << 16 | (uint32_t)c.p[2] << 8 | c.p[3];
    if (n > 200 || memcmp(c.p + 4, "shmets-ms-oracle v1", 19) != 0)
        fail_msg("not an ms oracle header");
    c.p += 4 + n;
    return c;
}

/* The harness must be able to fail: a changed expectation is one difference. */
static void test_harness_catches_a_change(void **state)
{
    (void)state;
    struct cursor c = records();
    shmets_term t;
    assert_true(next_record(&c, &t));
    struct stats st = { 0 };
    int keep = show_max;
    show_max = 0;
    compare_record(&st, t, 0);
    long before = st.diffs;
    compare_record(&st, t, 1);
    show_max = keep;
    shmets_term_free(&t);
    assert_int_equal(before, 0);
    assert_int_equal(st.diffs, 1);
}

static void test_against_erlang(void **state)
{
    (void)state;
    struct cursor c = records();
    struct stats st = { 0 };
    shmets_term t;
    while (next_record(&c, &t)) {
        compare_record(&st, t, 0);
        shmets_term_free(&t);
    }
    print_message("ms-diff: seed %" PRIu64 ": %ld specs, %ld test_ms calls (Erlang: %ld errors, %ld no match, "
                  "%ld 'EXIT', %ld other results), %ld match_spec_run, %ld loaded programs, %ld key checks, "
                  "%ld differences\n",
                  seed, st.specs, st.tests, st.errors, st.nomatch, st.exits, st.results, st.runs, st.loads,
                  st.keychecks, st.diffs);
    assert_int_equal(st.specs, nspecs);
    if (st.diffs)
        fail_msg("%ld differences from Erlang (seed %" PRIu64 ")", st.diffs, seed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_harness_catches_a_change),
        cmocka_unit_test(test_against_erlang),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
