/*
 * script_ms.c — `shmets script`: the select family and match specifications (select/2,3,
 * match/2,3, the /1 continuations and `last_cont` (R.8 of script.c), match_spec_compile/1,
 * match_spec_run/2, is_compiled_ms/1, test_ms/2).
 */
#include "script_common.h"

/* ---- match specifications (the select family) ---------------------------------------- */

/* An unsigned integer result. */
static int res_uint(struct result *r, uint64_t n)
{
    shmets_builder *b;
    int rc = shmets_builder_create(&b);
    if (rc)
        return rc;
    shmets_build_uint(b, n);
    rc = shmets_builder_finish(b, &r->term);
    shmets_builder_destroy(b);
    return rc;
}

/* A specification argument, compiled: *ms NULL for [] (the table calls take it, N.3). */
static int spec_arg(shmets_term spec, shmets_ms **ms)
{
    *ms = NULL;
    if (shmets_term_type(spec) == SHMETS_T_NIL)
        return 0;
    return shmets_ms_compile(spec, ms);
}

enum sel_call { SC_SELECT, SC_REVERSE, SC_COUNT, SC_DELETE, SC_REPLACE };

static int run_select(struct script *s, shmets_term tab, shmets_ms *ms, enum sel_call c, struct result *r)
{
    struct tabent *e;
    uint64_t n = 0;
    int rc = tab_arg(s, tab, &e);
    if (!rc) {
        switch (c) {
        case SC_SELECT:  rc = shmets_select(e->t, ms, false, &r->term); break;
        case SC_REVERSE: rc = shmets_select(e->t, ms, true, &r->term); break;
        case SC_COUNT:   rc = shmets_select_count(e->t, ms, &n); break;
        case SC_DELETE:  rc = shmets_select_delete(e->t, ms, &n); break;
        case SC_REPLACE: rc = shmets_select_replace(e->t, ms, &n); break;
        }
        if (!rc && c != SC_SELECT && c != SC_REVERSE)
            rc = res_uint(r, n);
    }
    shmets_ms_free(ms);
    return rc;
}

static int op_select_call(struct script *s, const shmets_term *a, struct result *r, enum sel_call c)
{
    shmets_ms *ms;
    int rc = spec_arg(a[1], &ms);
    return rc ? rc : run_select(s, a[0], ms, c, r);
}

static int op_select(struct script *s, const shmets_term *a, struct result *r) { return op_select_call(s, a, r, SC_SELECT); }
static int op_select_reverse(struct script *s, const shmets_term *a, struct result *r) { return op_select_call(s, a, r, SC_REVERSE); }
static int op_select_count(struct script *s, const shmets_term *a, struct result *r) { return op_select_call(s, a, r, SC_COUNT); }
static int op_select_delete(struct script *s, const shmets_term *a, struct result *r) { return op_select_call(s, a, r, SC_DELETE); }
static int op_select_replace(struct script *s, const shmets_term *a, struct result *r) { return op_select_call(s, a, r, SC_REPLACE); }

/* ets:match/2, match_object/2, match_delete/2: the pattern as a specification. */
static int op_match_call(struct script *s, const shmets_term *a, struct result *r, enum shmets_ms_match_kind k)
{
    shmets_term spec;
    shmets_ms *ms;
    int rc = shmets_ms_from_pattern(a[1], k, &spec);
    if (rc)
        return rc;
    rc = shmets_ms_compile(spec, &ms);
    shmets_term_free(&spec);
    if (rc)
        return rc;
    rc = run_select(s, a[0], ms, k == SHMETS_MS_MATCH_DELETE ? SC_DELETE : SC_SELECT, r);
    if (!rc && k == SHMETS_MS_MATCH_DELETE) {
        shmets_term_free(&r->term);
        return res_bool(r, true);
    }
    return rc;
}

static int op_match(struct script *s, const shmets_term *a, struct result *r) { return op_match_call(s, a, r, SHMETS_MS_MATCH); }
static int op_match_object(struct script *s, const shmets_term *a, struct result *r) { return op_match_call(s, a, r, SHMETS_MS_MATCH_OBJECT); }
static int op_match_delete(struct script *s, const shmets_term *a, struct result *r) { return op_match_call(s, a, r, SHMETS_MS_MATCH_DELETE); }

/* Remember the continuation a /3 or /1 form gave, for `last_cont` (R.8): cont {NULL, 0} is
 * '$end_of_table'; an error forgets it. */
static void remember_cont(struct script *s, int rc, shmets_term cont)
{
    shmets_term_free(&s->last_cont);
    s->cont_state = CONT_NONE;
    if (rc)
        return;
    if (!cont.ptr)
        s->cont_state = CONT_EOT;
    else if (shmets_term_dup(cont, &s->last_cont) == 0)
        s->cont_state = CONT_TERM;
}

/* {Results, Cont} of a /3 or /1 form, or '$end_of_table' (results {NULL, 0}); Cont is
 * '$end_of_table' when the walk is over. */
static int res_chunk(struct script *s, struct result *r, shmets_term results, shmets_term cont)
{
    remember_cont(s, 0, cont);
    if (!results.ptr) {
        shmets_term_free(&cont);
        r->text = "'$end_of_table'";
        return 0;
    }
    shmets_builder *b;
    int rc = shmets_builder_create(&b);
    if (!rc) {
        shmets_build_tuple(b, 2);
        shmets_build_term(b, results);
        if (cont.ptr)
            shmets_build_term(b, cont);
        else
            shmets_build_atom(b, "$end_of_table", 13);
        rc = shmets_builder_finish(b, &r->term);
        shmets_builder_destroy(b);
    }
    shmets_term_free(&results);
    shmets_term_free(&cont);
    return rc;
}

/* A limit: a positive integer (ETS: badarg otherwise). */
static int limit_arg(shmets_term t, size_t *limit)
{
    uint64_t v;
    int rc = shmets_term_get_uint64(t, &v);
    if (rc || v == 0)
        return rc ? rc : -SHMETS_ERANGE;
    *limit = v > SIZE_MAX ? SIZE_MAX : (size_t)v;
    return 0;
}

static int op_select_limit_call(struct script *s, shmets_term tab, shmets_term spec, shmets_term lim, bool reverse,
                                struct result *r)
{
    struct tabent *e;
    size_t limit;
    shmets_ms *ms;
    int rc = limit_arg(lim, &limit);
    if (rc || (rc = spec_arg(spec, &ms)))
        return rc;
    if (!ms)                            /* select(T, [], N): nothing */
        return r->text = "'$end_of_table'", 0;
    shmets_term res, cont;
    if (!(rc = tab_arg(s, tab, &e)) && !(rc = shmets_select_limit(e->t, ms, limit, reverse, &res, &cont)))
        rc = res_chunk(s, r, res, cont);
    else
        remember_cont(s, rc, (shmets_term){ NULL, 0 });
    shmets_ms_free(ms);
    return rc;
}

static int op_select3(struct script *s, const shmets_term *a, struct result *r)
{
    return op_select_limit_call(s, a[0], a[1], a[2], false, r);
}

static int op_select_reverse3(struct script *s, const shmets_term *a, struct result *r)
{
    return op_select_limit_call(s, a[0], a[1], a[2], true, r);
}

/* match/3 and match_object/3: the pattern's specification, then as select/3. */
static int op_match3_call(struct script *s, const shmets_term *a, struct result *r, enum shmets_ms_match_kind k)
{
    shmets_term spec;
    int rc = shmets_ms_from_pattern(a[1], k, &spec);
    if (rc)
        return rc;
    rc = op_select_limit_call(s, a[0], spec, a[2], false, r);
    shmets_term_free(&spec);
    return rc;
}

static int op_match3(struct script *s, const shmets_term *a, struct result *r) { return op_match3_call(s, a, r, SHMETS_MS_MATCH); }
static int op_match_object3(struct script *s, const shmets_term *a, struct result *r) { return op_match3_call(s, a, r, SHMETS_MS_MATCH_OBJECT); }

/* select/1, select_reverse/1, match/1, match_object/1: the next chunk of a continuation. */
static int op_continue(struct script *s, const shmets_term *a, struct result *r)
{
    const char *txt;
    size_t n;
    shmets_term c = a[0];
    if (shmets_term_get_atom(c, &txt, &n) == 0 && n == 9 && memcmp(txt, "last_cont", 9) == 0) {
        if (s->cont_state == CONT_EOT)
            return r->text = "'$end_of_table'", 0;
        if (s->cont_state == CONT_TERM)
            c = s->last_cont;
    }
    if (shmets_term_get_atom(c, &txt, &n) == 0 && n == 13 && memcmp(txt, "$end_of_table", 13) == 0) {
        remember_cont(s, 0, (shmets_term){ NULL, 0 });
        return r->text = "'$end_of_table'", 0;
    }
    shmets_term res, cont, keep = { NULL, 0 };
    if (c.ptr == s->last_cont.ptr && shmets_term_dup(c, &keep) == 0)
        c = keep;                       /* remember_cont frees the remembered one */
    int rc = shmets_select_continue(s->db, c, &res, &cont);
    rc = rc ? (remember_cont(s, rc, cont), rc) : res_chunk(s, r, res, cont);
    shmets_term_free(&keep);
    return rc;
}

/* ets:match_spec_compile/1: the program, as a binary term (ETS gives an opaque reference). */
static int op_match_spec_compile(struct script *s, const shmets_term *a, struct result *r)
{
    (void)s;
    shmets_ms *ms;
    int rc = shmets_ms_compile(a[0], &ms);
    if (!rc)
        rc = shmets_ms_to_term(ms, &r->term);
    shmets_ms_free(ms);
    return rc;
}

/* ets:match_spec_run/2: List, then a compiled specification. */
static int op_match_spec_run(struct script *s, const shmets_term *a, struct result *r)
{
    (void)s;
    shmets_ms *ms;
    int rc = shmets_ms_from_term(a[1], &ms);
    if (!rc)
        rc = shmets_ms_run_list(ms, a[0], &r->term);
    shmets_ms_free(ms);
    return rc;
}

static int op_is_compiled_ms(struct script *s, const shmets_term *a, struct result *r)
{
    (void)s;
    return res_bool(r, shmets_is_compiled_ms(a[0]));
}

static int op_test_ms(struct script *s, const shmets_term *a, struct result *r)
{
    (void)s;
    return shmets_ms_test(a[0], a[1], &r->term);
}

/* ets:whereis/1: the table's reference, or undefined. */

/* The calls of this file, for run_call (script.c); the select family and match specifications. */
const struct call_def script_ms_calls[] = {
    { "ets", "select", 2, op_select },
    { "ets", "select_reverse", 2, op_select_reverse },
    { "ets", "select_count", 2, op_select_count },
    { "ets", "select_delete", 2, op_select_delete },
    { "ets", "select_replace", 2, op_select_replace },
    { "ets", "match", 2, op_match },
    { "ets", "match_object", 2, op_match_object },
    { "ets", "match_delete", 2, op_match_delete },
    { "ets", "match_spec_compile", 1, op_match_spec_compile },
    { "ets", "match_spec_run", 2, op_match_spec_run },
    { "ets", "is_compiled_ms", 1, op_is_compiled_ms },
    { "ets", "test_ms", 2, op_test_ms },
    { "ets", "select", 3, op_select3 },
    { "ets", "select_reverse", 3, op_select_reverse3 },
    { "ets", "match", 3, op_match3 },
    { "ets", "match_object", 3, op_match_object3 },
    { "ets", "select", 1, op_continue },
    { "ets", "select_reverse", 1, op_continue },
    { "ets", "match", 1, op_continue },
    { "ets", "match_object", 1, op_continue },
    { NULL, NULL, 0, NULL },
};
