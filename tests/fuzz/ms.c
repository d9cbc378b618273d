/*
 * ms.c — fuzz target: the match-specification compiler and runner.
 *
 * INPUT.  The first byte chooses how the rest is read (its value modulo 3):
 *   0  term text (shmets_term_parse), 1  ETF with its 131 (shmets_term_from_etf),
 *   2  the bytes of a compiled program (shmets_ms_load: a forged program must be refused).
 * A term {Spec, Objects} with Objects a proper list gives the specification and the objects
 * to run it on; any other term is the specification itself, run on OBJECTS below.  Every
 * term is also tried as a match/match_object/match_delete pattern (shmets_ms_from_pattern).
 *
 * PROPERTIES, beyond "no crash, no leak, no read out of bounds":
 *   M.1 shmets_ms_errors() is [] exactly when the specification compiles; ets:test_ms's
 *       answer is {error, those errors} for a bad one, else {ok, what the run gives}.
 *   M.2 what a run gives is a canonical term (fuzz_term) and match_spec_run over the list
 *       gives the same results in order.
 *   M.3 the program travels: shmets_ms_load() of its bytes and shmets_ms_from_term() of its
 *       binary accept it and run to the same results; its source is the specification.
 *   M.4 the key analysis is sound, for keypos 1 to 3 and both table kinds: an object (a tuple
 *       long enough) that a clause matches has a key the plan would visit (NOTHING visits
 *       none, LOOKUP only its keys, RANGE and SCAN any whose span is 0), and when
 *       shmets_ms_keeps_key() says the key is kept, a tuple result has the object's key.
 *       Objects whose key holds a map are left out of LOOKUP: as in ETS, a ground map in a
 *       key is looked up as it is, though as a pattern it matches larger maps too.
 *   M.5 a program with one byte changed (position and value from the input) is refused or
 *       runs without harm.
 * Seeds (tests/fuzz/ms/): the specifications of the match-spec tests and the differential
 * scripts, with objects, as text and ETF, and compiled programs.
 */
#include "fuzz.h"

#define OBJECTS "[{a,1,2}, {b,[x|y],\"str\"}, {1.0,#{k=>v},<<1,2>>}, {{nested,t},-5,[]}, " \
                "{1,2,3,4}, {[1,2],{a,1},3.5}, x, [1,2,3], {}, {k}, {<<\"k\">>,<<\"v\">>}, " \
                "{18446744073709551616,a,b}, {{a,1},2,3}]"

static shmets_term default_objects(void)
{
    static shmets_term objs;
    if (!objs.ptr)
        FUZZ_CHECK(shmets_term_parse(OBJECTS, strlen(OBJECTS), &objs) == 0);
    return objs;
}

static bool has_map(shmets_term t)
{
    switch (shmets_term_type(t)) {
    case SHMETS_T_MAP:
        return true;
    case SHMETS_T_TUPLE: {
        size_t n;
        shmets_term el;
        shmets_term_tuple_arity(t, &n);
        for (size_t i = 1; i <= n; i++)
            if (shmets_term_tuple_element(t, i, &el) == 0 && has_map(el))
                return true;
        return false;
    }
    case SHMETS_T_LIST: {
        shmets_list_iter it;
        shmets_term el;
        shmets_list_begin(t, &it);
        while (shmets_list_next(&it, &el) == 1)
            if (has_map(el))
                return true;
        return has_map(it.tail);
    }
    default:
        return false;
    }
}

/* M.4 for one object that matched, at keypos pos. */
static void key_sound(const shmets_ms *ms, shmets_term obj, shmets_term result, unsigned pos)
{
    shmets_term key;
    if (shmets_term_key(obj, pos, &key) != 0)
        return;                         /* not an object of a table with this keypos */
    for (int ordered = 0; ordered < 2; ordered++) {
        shmets_ms_plan plan;
        FUZZ_CHECK(shmets_ms_key_plan(ms, pos, ordered, &plan) == 0);
        FUZZ_CHECK(plan.kind != SHMETS_MS_PLAN_NOTHING);
        if (plan.kind == SHMETS_MS_PLAN_LOOKUP && !has_map(key)) {
            bool found = false;
            for (size_t i = 0; i < plan.nkeys && !found; i++)
                found = ordered ? shmets_term_equal(plan.keys[i], key)
                                : shmets_term_exact_equal(plan.keys[i], key);
            FUZZ_CHECK(found);
        }
        FUZZ_CHECK(ordered || plan.kind != SHMETS_MS_PLAN_RANGE);
        shmets_ms_plan_free(&plan);
    }
    int where;
    FUZZ_CHECK(shmets_ms_key_span(ms, pos, key, &where) == 0);
    if (!has_map(key))
        FUZZ_CHECK(where == 0);
    bool keeps;
    FUZZ_CHECK(shmets_ms_keeps_key(ms, pos, &keeps) == 0);
    shmets_term rkey;
    if (keeps && shmets_term_key(result, pos, &rkey) == 0)
        FUZZ_CHECK(shmets_term_exact_equal(rkey, key));
}

/* Run ms on every object (M.2, M.4); returns how many matched. */
static size_t run_all(const shmets_ms *ms, shmets_term objs, bool check_keys)
{
    size_t nmatched = 0;
    shmets_list_iter it;
    shmets_term obj;
    FUZZ_CHECK(shmets_list_begin(objs, &it) == 0);
    while (shmets_list_next(&it, &obj) == 1) {
        shmets_term own, res;
        bool matched;
        FUZZ_CHECK(shmets_term_dup(obj, &own) == 0);   /* the iterator's view may not last */
        int rc = shmets_ms_run(ms, own, &matched, &res);
        if (rc) {
            FUZZ_CHECK(rc == -SHMETS_ETOOBIG || rc == -SHMETS_ENOMEM);
        } else if (matched) {
            fuzz_term(res);
            if (check_keys)
                for (unsigned pos = 1; pos <= 3; pos++)
                    key_sound(ms, own, res, pos);
            nmatched++;
            shmets_term_free(&res);
        } else {
            FUZZ_CHECK(res.ptr == NULL);
        }
        shmets_term_free(&own);
    }
    return nmatched;
}

/* M.2's second half: match_spec_run over the list gives as many results as matched. */
static void run_list(const shmets_ms *ms, shmets_term objs, size_t nmatched)
{
    shmets_term results;
    int rc = shmets_ms_run_list(ms, objs, &results);
    if (rc) {
        FUZZ_CHECK(rc == -SHMETS_ETOOBIG || rc == -SHMETS_ENOMEM);
        return;
    }
    size_t n;
    FUZZ_CHECK(shmets_term_list_length(results, &n) == 0 && n == nmatched);
    shmets_term_free(&results);
}

/* M.3 and M.5. */
static void travel(const shmets_ms *ms, shmets_term spec, shmets_term objs, const uint8_t *data, size_t size)
{
    const void *prog;
    size_t plen;
    FUZZ_CHECK(shmets_ms_program(ms, &prog, &plen) == 0 && plen > 0);
    shmets_ms *again;
    FUZZ_CHECK(shmets_ms_load(prog, plen, &again) == 0);
    const void *prog2;
    size_t plen2;
    FUZZ_CHECK(shmets_ms_program(again, &prog2, &plen2) == 0);
    FUZZ_CHECK(plen2 == plen && memcmp(prog, prog2, plen) == 0);
    shmets_term src;
    FUZZ_CHECK(shmets_ms_source(again, &src) == 0 && shmets_term_exact_equal(src, spec));
    shmets_ms_free(again);

    shmets_term bin;
    FUZZ_CHECK(shmets_ms_to_term(ms, &bin) == 0);
    FUZZ_CHECK(shmets_is_compiled_ms(bin));
    FUZZ_CHECK(shmets_ms_from_term(bin, &again) == 0);
    FUZZ_CHECK(shmets_ms_program(again, &prog2, &plen2) == 0);
    FUZZ_CHECK(plen2 == plen && memcmp(prog, prog2, plen) == 0);
    shmets_ms_free(again);
    shmets_term_free(&bin);

    /* M.5: one byte changed. */
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211u;
    unsigned char *bad = malloc(plen);
    FUZZ_CHECK(bad != NULL);
    memcpy(bad, prog, plen);
    bad[h % plen] ^= (unsigned char)((h >> 32) | 1);
    if (shmets_ms_load(bad, plen, &again) == 0) {
        run_all(again, objs, false);
        shmets_ms_free(again);
    }
    free(bad);
}

/* M.1: errors and test_ms agree with the compiler and the runner. */
static void test_ms(shmets_term spec, const shmets_ms *ms, shmets_term objs)
{
    shmets_term errs, res;
    FUZZ_CHECK(shmets_ms_errors(spec, &errs) == 0);
    FUZZ_CHECK((shmets_term_type(errs) == SHMETS_T_NIL) == (ms != NULL));
    shmets_list_iter it;
    shmets_term obj;
    FUZZ_CHECK(shmets_list_begin(objs, &it) == 0);
    if (shmets_list_next(&it, &obj) == 1) {
        shmets_term own;
        FUZZ_CHECK(shmets_term_dup(obj, &own) == 0);
        int rc = shmets_ms_test(own, spec, &res);
        if (rc == 0) {
            shmets_term tag, val;
            FUZZ_CHECK(shmets_term_tuple_element(res, 1, &tag) == 0);
            FUZZ_CHECK(shmets_term_tuple_element(res, 2, &val) == 0);
            const char *a;
            size_t n;
            FUZZ_CHECK(shmets_term_get_atom(tag, &a, &n) == 0);
            if (!ms) {
                FUZZ_CHECK(n == 5 && !memcmp(a, "error", 5) && shmets_term_exact_equal(val, errs));
            } else {
                FUZZ_CHECK(n == 2 && !memcmp(a, "ok", 2));
                bool matched;
                shmets_term r;
                if (shmets_ms_run(ms, own, &matched, &r) == 0) {
                    if (matched)
                        FUZZ_CHECK(shmets_term_exact_equal(val, r));
                    else
                        FUZZ_CHECK(shmets_term_get_atom(val, &a, &n) == 0 && n == 5 && !memcmp(a, "false", 5));
                    shmets_term_free(&r);
                }
            }
            shmets_term_free(&res);
        } else {
            FUZZ_CHECK(rc == -SHMETS_ETOOBIG || rc == -SHMETS_ENOMEM);
        }
        shmets_term_free(&own);
    }
    shmets_term_free(&errs);
}

static void spec_and_objects(shmets_term t, shmets_term *spec, shmets_term *objs)
{
    size_t arity, n;
    shmets_term s, o;
    *spec = t;
    *objs = default_objects();
    if (shmets_term_tuple_arity(t, &arity) == 0 && arity == 2 && shmets_term_tuple_element(t, 1, &s) == 0 &&
        shmets_term_tuple_element(t, 2, &o) == 0 && shmets_term_list_length(o, &n) == 0) {
        *spec = s;
        *objs = o;
    }
}

static void one_spec(shmets_term spec, shmets_term objs, const uint8_t *data, size_t size)
{
    shmets_ms *ms = (shmets_ms *)1;
    int rc = shmets_ms_compile(spec, &ms);
    if (rc) {
        FUZZ_CHECK(ms == NULL);
        FUZZ_CHECK(rc == -SHMETS_EINVAL || rc == -SHMETS_ENOMEM || rc == -SHMETS_ETOOBIG);
        if (rc == -SHMETS_EINVAL)
            test_ms(spec, NULL, objs);
        return;
    }
    test_ms(spec, ms, objs);
    run_list(ms, objs, run_all(ms, objs, true));
    size_t nc = shmets_ms_clauses(ms);
    for (size_t c = 0; c <= nc; c++) {
        enum shmets_ms_keykind kind;
        shmets_term key;
        int krc = shmets_ms_clause_key(ms, c, 1, &kind, &key);
        FUZZ_CHECK(c < nc ? krc == 0 : krc == -SHMETS_EBADPOS);
    }
    travel(ms, spec, objs, data, size);
    shmets_ms_free(ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0] % 3;
    const uint8_t *rest = data + 1;
    size_t n = size - 1;
    if (mode == 2) {
        shmets_ms *ms = (shmets_ms *)1;
        if (shmets_ms_load(rest, n, &ms) != 0) {
            FUZZ_CHECK(ms == NULL);
            return 0;
        }
        shmets_term src;
        FUZZ_CHECK(shmets_ms_source(ms, &src) == 0);
        run_all(ms, default_objects(), false);
        shmets_ms_plan plan;
        if (shmets_ms_key_plan(ms, 1, true, &plan) == 0)
            shmets_ms_plan_free(&plan);
        shmets_ms_free(ms);
        return 0;
    }
    shmets_term t;
    int rc = mode == 0 ? shmets_term_parse((const char *)rest, n, &t) : shmets_term_from_etf(rest, n, 0, &t);
    if (rc)
        return 0;
    shmets_term spec, objs;
    spec_and_objects(t, &spec, &objs);
    one_spec(spec, objs, data, size);
    static const enum shmets_ms_match_kind kinds[] = { SHMETS_MS_MATCH, SHMETS_MS_MATCH_OBJECT, SHMETS_MS_MATCH_DELETE };
    for (size_t k = 0; k < 3; k++) {
        shmets_term pspec;
        if (shmets_ms_from_pattern(spec, kinds[k], &pspec) == 0) {
            one_spec(pspec, objs, data, size);
            shmets_term_free(&pspec);
        }
    }
    shmets_term_free(&t);
    return 0;
}
