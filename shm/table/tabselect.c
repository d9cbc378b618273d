/*
 * tabselect.c — the select family over a table: select/2 and select_reverse/2, select_count,
 * select_delete, select_replace, and through them match/2, match_object/2 and match_delete/2
 * (their patterns become specifications, shmets_ms_from_pattern).
 *
 * WHICH OBJECTS ARE VISITED: the compiled specification's key plan (ms_key.c), as ETS's
 * analysis does it: NOTHING visits nothing; LOOKUP looks up each key its clauses bind (a
 * lookup each, whatever the table's size); RANGE, on an ordered_set whose clauses bind a prefix
 * of the key in term order, walks in order, skipping keys below the span and stopping at the
 * first above it (a key that starts with a clause's bytes before its first hole is inside at
 * once, ms_pattern_prefix; others are placed by ms_pattern_cmp); SCAN visits every object.
 * The walks are tab_traverse()'s: a few keys per
 * read section, the objects copied out, the program run outside the section — so a long select
 * never holds back reclamation, and a select sees each key as it is when visited (no snapshot,
 * as in ETS).
 *
 * WHAT COUNTS (ms.h N.2): select gives every result, 'EXIT' included; select_count and
 * select_delete take the objects whose result is exactly the atom true.  select_delete and
 * select_replace act per object, atomically (ETS's promise): the objects are collected first
 * and each is then deleted with delete_object, or replaced only if it is still the object
 * that matched (tab_replace_object), so a concurrent writer's newer object is never lost.
 *
 * The /3 forms stop after whole keys once they have `limit` results and hand out a
 * continuation (a plain term, below) that select/1 resumes, in this process or another.
 * Where the chunks end is ETS's (OTP 25, measured on every kind, forwards and backwards):
 *   E.1 A chunk that holds `limit` results or more comes with a continuation even when no
 *       object follows; the continuation then gives '$end_of_table'.  A chunk with fewer
 *       comes with '$end_of_table' itself, and a walk that finds nothing is '$end_of_table'.
 *   E.2 Except a lookup plan (the clauses bind whole keys) on a hash table: there a full
 *       chunk comes with a continuation only if a later key gives a result, else with
 *       '$end_of_table' (ETS looks ahead); and a lookup of a single key on an ordered_set,
 *       which always comes with '$end_of_table'.  (An ordered_set's lookup of several keys
 *       walks their range in ETS, and follows E.1.)
 */
#include "ms/ms.h"
#include "table/table.h"
#include "term/term.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

enum sel_mode { SEL_RESULTS, SEL_COUNT, SEL_DELETE, SEL_REPLACE };

struct sel {
    struct tab *t;
    const unsigned char *prog;
    struct ms_run run;
    enum sel_mode mode;
    struct tbuf out;            /* results (a list's elements), or objects (and replacements) */
    uint64_t n;
    int range;                  /* RANGE plan: check each key against the span (1 forward,
                                   -1 backward) */
    const shmets_ms *ms;
    /* The /3 forms: stop at the first key after `limit` results (a key's objects are never
     * split); `last` is the last key whose objects were all run, `pos` the next LOOKUP key. */
    uint64_t limit;
    struct tbuf last;
    size_t pos;
    int stopped;
    int lookup;                 /* the plan was LOOKUP: resume by pos, not by key */
    size_t nkeys;               /* ... of how many keys */
    /* RANGE plans: each clause's key pattern, analysed once (ms_clause_key), not per key. */
    uint32_t nspan;
    struct span_clause { int kind; const unsigned char *key; size_t pre; } *span;
};

#define SEL_LIMIT 2                     /* each(): enough results */

static const unsigned char atom_true[] = { ETF_SMALL_ATOM_UTF8, 4, 't', 'r', 'u', 'e' };

static int sel_object(struct sel *s, shmets_term obj)
{
    shmets_term r;
    int m = ms_exec(s->prog, &s->run, obj.ptr, obj.len, &r);
    if (m <= 0)
        return m;
    int is_true = r.len == sizeof atom_true && memcmp(r.ptr, atom_true, sizeof atom_true) == 0;
    switch (s->mode) {
    case SEL_RESULTS:
        tbuf_put(&s->out, r.ptr, r.len);
        s->n++;
        break;
    case SEL_COUNT:
        s->n += (uint64_t)is_true;
        break;
    case SEL_DELETE:
        if (is_true) {
            tbuf_put(&s->out, obj.ptr, obj.len);
            s->n++;
        }
        break;
    case SEL_REPLACE:
        tbuf_put(&s->out, obj.ptr, obj.len);
        tbuf_put(&s->out, r.ptr, r.len);
        s->n++;
        break;
    }
    return s->out.err;
}

/* RANGE plans: analyse the clauses' keys once (the program outlives the select).  0 or
 * -SHMETS_ENOMEM. */
static int span_prepare(struct sel *s)
{
    uint32_t n = ms_nclauses(s->prog);
    s->span = calloc(n ? n : 1, sizeof *s->span);
    if (!s->span)
        return err_set(SHMETS_ENOMEM, "out of process memory for a select");
    for (uint32_t i = 0; i < n; i++) {
        shmets_term k;
        s->span[i].kind = ms_clause_key(s->prog, i, s->t->h->keypos, &k);
        s->span[i].key = k.ptr;
        s->span[i].pre = s->span[i].kind == SHMETS_MS_KEY_PARTIAL ? ms_pattern_prefix(k.ptr) : 0;
    }
    s->nspan = n;
    return 0;
}

/* Where key lies against the span: 1 above it, -1 below, 0 inside (shmets_ms_key_span's
 * answer, from the clauses analysed once). */
static int span_where(const struct sel *s, const unsigned char *key, size_t klen)
{
    int below = 1, above = 1, some = 0;
    for (uint32_t i = 0; i < s->nspan && (below || above); i++) {
        int w;
        switch (s->span[i].kind) {
        case SHMETS_MS_KEY_ANY: w = 0; break;
        case SHMETS_MS_KEY_BOUND: { int c = term_cmp(s->span[i].key, key, 0); w = c > 0 ? -1 : c < 0 ? 1 : 0; break; }
        case SHMETS_MS_KEY_PARTIAL: {
            /* A key that starts with the pattern's bytes before its hole is inside (ms.h,
             * ms_pattern_prefix): a range's keys mostly are, and need no structural compare. */
            size_t pre = s->span[i].pre;
            w = pre && pre <= klen && memcmp(key, s->span[i].key, pre) == 0 ? 0 : -ms_pattern_cmp(s->span[i].key, key);
            break;
        }
        default: continue;
        }
        some = 1;
        below &= w == -1;
        above &= w == 1;
    }
    return !some ? 1 : below ? -1 : above ? 1 : 0;
}

/* RANGE plans: 1 to stop the walk (past the span), -1 to skip this key, 0 to run it. */
static int span_of(struct sel *s, shmets_term obj)
{
    shmets_term key;
    if (!s->span) {
        int where = 0;
        if (shmets_term_key(obj, s->t->h->keypos, &key) == 0 &&
            shmets_ms_key_span(s->ms, s->t->h->keypos, key, &where) == 0)
            return where;
        return 0;
    }
    return shmets_term_key(obj, s->t->h->keypos, &key) == 0 ? span_where(s, key.ptr, key.len) : 0;
}

#define SEL_STOP 1                      /* each(): the walk is past the span */

/* RANGE plans start after the last key below the span, found by a search (O(log n)), so the
 * walk reads only the range (and one key past it). */
struct seek_arg { struct sel *s; struct tbuf *key; };

static int below_span(void *arg, const unsigned char *key, uint32_t klen)
{
    struct sel *s = arg;
    return span_where(s, key, klen) < 0;
}

static int seek_fn(struct tab *t, void *arg)
{
    struct seek_arg *a = arg;
    a->key->len = 0;
    a->key->err = 0;
    const struct sobj *o = sobj_at(&t->s, t->ops->seek_below(t, below_span, a->s));
    if (o)
        tbuf_put(a->key, sobj_key(o), sobj_klen(o));
    if (o && !a->key->err && !term_span(a->key->p, a->key->len))
        a->key->err = sobj_bad(t, o, "D.1 a stored key is not a term");
    return a->key->err;
}

static int sel_each(const unsigned char *objs, const size_t *lens, size_t n, void *arg)
{
    struct sel *s = arg;
    const unsigned char *p = objs;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *e = lens ? p + lens[i] : term_end(p);
        shmets_term obj = { p, (size_t)(e - p) };
        p = e;
        shmets_term key;
        if (s->limit && shmets_term_key(obj, s->t->h->keypos, &key) == 0 &&
            !(key.len == s->last.len && memcmp(key.ptr, s->last.p, key.len) == 0)) {
            if (s->n >= s->limit) {
                s->stopped = 1;
                return SEL_LIMIT;
            }
            s->last.len = 0;
            tbuf_put(&s->last, key.ptr, key.len);
        }
        /* s->range 1: a forward walk of the span; -1: a backward one. */
        int where = s->range ? span_of(s, obj) * s->range : 0;
        if (where > 0)
            return SEL_STOP;
        if (where < 0)
            continue;
        int rc = sel_object(s, obj);
        if (rc)
            return rc;
    }
    return 0;
}

/* Sorted key order of a LOOKUP plan on an ordered_set: ms_key gives the keys deduplicated but
 * in clause order.  (Only used for ordered_set; hash tables have no order to keep.) */
static int key_cmp(const void *a, const void *b)
{
    return shmets_term_compare(*(const shmets_term *)a, *(const shmets_term *)b);
}

/* Run the specification over the table as its key plan says (after: resume a walk after
 * this key; s->pos: resume a lookup plan at this key). */
static int sel_run_from(struct sel *s, int reverse, const shmets_term *after)
{
    struct tab *t = s->t;
    shmets_ms_plan plan;
    int rc = shmets_ms_key_plan(s->ms, t->h->keypos, t->h->kind == SHMETS_ORDERED_SET, &plan);
    if (rc)
        return rc;
    const void *prog;
    size_t plen;
    shmets_ms_program(s->ms, &prog, &plen);
    s->prog = prog;
    switch (plan.kind) {
    case SHMETS_MS_PLAN_NOTHING:
        break;
    case SHMETS_MS_PLAN_LOOKUP: {
        s->lookup = 1;
        s->nkeys = plan.nkeys;
        /* Keys in the table's order on an ordered_set (select's results come in key order). */
        if (t->h->kind == SHMETS_ORDERED_SET)
            qsort(plan.keys, plan.nkeys, sizeof *plan.keys, key_cmp);
        for (size_t k = s->pos; !rc && k < plan.nkeys; k++) {
            int full = s->limit && s->n >= s->limit;
            if (full && t->h->kind == SHMETS_ORDERED_SET) {
                s->stopped = 1;
                s->pos = k;
                break;
            }
            size_t i = reverse ? plan.nkeys - 1 - k : k;
            shmets_term objs;
            if ((rc = shmets_lookup(t, plan.keys[i], &objs)))
                break;
            size_t mark = s->out.len;
            uint64_t n0 = s->n;
            shmets_list_iter it;
            shmets_term o;
            shmets_list_begin(objs, &it);
            while (!rc && shmets_list_next(&it, &o) == 1)
                rc = sel_object(s, o);
            shmets_term_free(&objs);
            if (!rc && full && s->n > n0) {
                /* A hash table's full chunk goes on only if a result follows (E.2): this
                 * key's results open the next chunk. */
                s->out.len = mark;
                s->n = n0;
                s->stopped = 1;
                s->pos = k;
                break;
            }
        }
        if (!s->stopped)
            s->pos = plan.nkeys;        /* a continuation from here finds nothing more */
        break;
    }
    case SHMETS_MS_PLAN_RANGE:
        if (!s->span && (rc = span_prepare(s)))
            break;
        if (!reverse && !after && t->ops->seek_below) {
            struct tbuf key;
            tbuf_init(&key, SHMETS_TERM_MAX_SIZE);
            struct seek_arg a = { s, &key };
            s->range = 1;
            rc = tab_read(t, seek_fn, &a);
            shmets_term start = { key.p, key.len };
            if (!rc)
                rc = tab_traverse(t, 0, key.len ? &start : NULL, sel_each, s);
            tbuf_free(&key);
        } else {
            /* Backwards: from the end, skipping keys above the span, stopping below it. */
            s->range = reverse ? -1 : 1;
            rc = tab_traverse(t, reverse, after, sel_each, s);
        }
        if (rc == SEL_STOP || rc == SEL_LIMIT)
            rc = 0;
        break;
    case SHMETS_MS_PLAN_SCAN:
        rc = tab_traverse(t, reverse, after, sel_each, s);
        if (rc == SEL_LIMIT)
            rc = 0;
        break;
    }
    shmets_ms_plan_free(&plan);
    return rc;
}

static int sel_run(struct sel *s, int reverse)
{
    return sel_run_from(s, reverse, NULL);
}

static void sel_init(struct sel *s, struct tab *t, const shmets_ms *ms, enum sel_mode mode)
{
    memset(s, 0, sizeof *s);
    s->t = t;
    s->ms = ms;
    s->mode = mode;
    ms_run_init(&s->run);
    tbuf_init(&s->last, SHMETS_TERM_MAX_SIZE);
    tbuf_init(&s->out, (size_t)1 << 62);
    if (mode == SEL_RESULTS) {
        tbuf_byte(&s->out, ETF_LIST);
        tbuf_be32(&s->out, 0);
    }
}

static void sel_free(struct sel *s)
{
    free(s->span);
    s->span = NULL;
    ms_run_free(&s->run);
    tbuf_free(&s->out);
    tbuf_free(&s->last);
}

/* The results gathered in s->out as a list term. */
static int sel_results(struct sel *s, int rc, shmets_term *results)
{
    if (!rc && s->n > UINT32_MAX)
        rc = err_set(SHMETS_ETOOBIG, "select: more than 2^32 results");
    if (!rc) {
        if (s->n == 0)
            s->out.len = 0;
        tbuf_byte(&s->out, ETF_NIL);
        if (s->n && !s->out.err)
            put_be32(s->out.p + 1, (uint32_t)s->n);
    }
    return tbuf_to_term(&s->out, rc, results);
}

int shmets_select(shmets_tab *t, const shmets_ms *ms, bool reverse, shmets_term *results)
{
    if (!t || !results)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_select");
    results->ptr = NULL;
    results->len = 0;
    if (!ms)
        return shmets_term_parse("[]", 2, results);     /* select(T, []) is [] (ms.h N.3) */
    struct sel s;
    sel_init(&s, t, ms, SEL_RESULTS);
    int rc = sel_results(&s, sel_run(&s, reverse), results);
    free(s.span);
    ms_run_free(&s.run);
    tbuf_free(&s.last);
    return rc;
}

int shmets_select_count(shmets_tab *t, const shmets_ms *ms, uint64_t *n)
{
    if (!t || !n)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_select_count");
    *n = 0;
    if (!ms)
        return tab_read_access(t);
    struct sel s;
    sel_init(&s, t, ms, SEL_COUNT);
    int rc = sel_run(&s, false);
    *n = rc ? 0 : s.n;
    sel_free(&s);
    return rc;
}

int shmets_select_delete(shmets_tab *t, const shmets_ms *ms, uint64_t *n)
{
    if (!t || !n)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_select_delete");
    *n = 0;
    int rc = tab_write_access(t, "select_delete");
    if (rc || !ms)
        return rc;
    struct sel s;
    sel_init(&s, t, ms, SEL_DELETE);
    rc = sel_run(&s, false);
    const unsigned char *p = s.out.p;
    for (uint64_t i = 0; !rc && i < s.n; i++) {
        const unsigned char *e = term_end(p);
        rc = shmets_delete_object(t, (shmets_term){ p, (size_t)(e - p) });
        p = e;
        *n += !rc;
    }
    sel_free(&s);
    return rc;
}

int shmets_select_replace(shmets_tab *t, const shmets_ms *ms, uint64_t *n)
{
    if (!t || !n)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_select_replace");
    *n = 0;
    int rc = tab_write_access(t, "select_replace");
    if (rc || !ms)
        return rc;
    if (t->h->kind == SHMETS_BAG)
        return err_set(SHMETS_ETYPE, "select_replace: bags are not supported (as in ETS)");
    bool keeps = false;
    if ((rc = shmets_ms_keeps_key(ms, t->h->keypos, &keeps)))
        return rc;
    if (!keeps)
        return err_set(SHMETS_EINVAL, "select_replace: a clause may change the key (ETS: badarg)");
    struct sel s;
    sel_init(&s, t, ms, SEL_REPLACE);
    rc = sel_run(&s, false);
    const unsigned char *p = s.out.p;
    for (uint64_t i = 0; !rc && i < s.n; i++) {
        const unsigned char *e = term_end(p), *e2 = term_end(e);
        shmets_term old = { p, (size_t)(e - p) }, repl = { e, (size_t)(e2 - e) };
        p = e2;
        /* A result that is not a tuple with the key (ETS checks it per object, badarg) is
         * refused before anything is written for it. */
        shmets_term k1, k2;
        if (shmets_term_key(repl, t->h->keypos, &k2) != 0 || shmets_term_key(old, t->h->keypos, &k1) != 0 ||
            !shmets_term_exact_equal(k1, k2)) {
            rc = err_set(SHMETS_EINVAL, "select_replace: a result is not an object with the same key");
            break;
        }
        int r = tab_replace_object(t, old, repl);
        if (r < 0)
            rc = r;
        else
            *n += (uint64_t)r;
    }
    sel_free(&s);
    return rc;
}

/* ---- the /3 forms and their continuations ---------------------------------------------------
 *
 * A continuation is a plain term, so that any process of the instance can resume it:
 *     {'$shmets_select', TableRef, Program, Limit, Reverse, Where}
 * with Program the compiled specification as a binary (shmets_ms_to_term), Where {key, K}
 * (resume the walk after key K) or {pos, N} (resume a lookup plan at its N-th key).  A
 * continuation of a table deleted meanwhile is -SHMETS_ENOENT; a forged one is refused by
 * the program's checks or the shape's. */

static int chunk(struct tab *t, const shmets_ms *ms, uint64_t limit, bool reverse, const shmets_term *after,
                 size_t pos, shmets_term *results, shmets_term *cont)
{
    *results = *cont = (shmets_term){ NULL, 0 };
    struct sel s;
    sel_init(&s, t, ms, SEL_RESULTS);
    s.limit = limit;
    s.pos = pos;
    if (after)
        tbuf_put(&s.last, after->ptr, after->len);
    int rc = sel_run_from(&s, reverse, after);
    /* A chunk that is full when the walk ends still comes with a continuation, which then
     * gives '$end_of_table' (ETS's answer, E.1 above) — but not a lookup plan of a hash table
     * or of one key (E.2). */
    if (!rc && !s.stopped && s.n >= limit &&
        (!s.lookup || (t->h->kind == SHMETS_ORDERED_SET && s.nkeys > 1)))
        s.stopped = 1;
    int stopped = s.stopped, lookup = s.lookup;
    shmets_builder *b = NULL;
    shmets_term prog = { NULL, 0 }, ref = { NULL, 0 };
    if (!rc && stopped) {
        rc = shmets_ms_to_term(ms, &prog);
        if (!rc)
            rc = shmets_id_term(shmets_id(t), &ref);
        if (!rc)
            rc = shmets_builder_create(&b);
        if (!rc) {
            shmets_build_tuple(b, 6);
            shmets_build_atom(b, "$shmets_select", 14);
            shmets_build_term(b, ref);
            shmets_build_term(b, prog);
            shmets_build_uint(b, limit);
            shmets_build_atom(b, reverse ? "true" : "false", reverse ? 4 : 5);
            shmets_build_tuple(b, 2);
            if (lookup) {
                shmets_build_atom(b, "pos", 3);
                shmets_build_uint(b, s.pos);
            } else {
                shmets_build_atom(b, "key", 3);
                shmets_build_term(b, (shmets_term){ s.last.p, s.last.len });
            }
            rc = shmets_builder_finish(b, cont);
        }
    }
    shmets_builder_destroy(b);
    shmets_term_free(&prog);
    shmets_term_free(&ref);
    if (!rc && s.n == 0 && !stopped) {          /* nothing at all: '$end_of_table' */
        sel_free(&s);
        return 0;
    }
    rc = sel_results(&s, rc, results);
    if (rc)
        shmets_term_free(cont);
    free(s.span);
    ms_run_free(&s.run);
    tbuf_free(&s.last);
    return rc;
}

int shmets_select_limit(shmets_tab *t, const shmets_ms *ms, size_t limit, bool reverse,
                        shmets_term *results, shmets_term *cont)
{
    if (!t || !ms || !results || !cont)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_select_limit");
    if (limit == 0)
        return err_set(SHMETS_EINVAL, "select/3: the limit must be 1 or more");
    return chunk(t, ms, limit, reverse, NULL, 0, results, cont);
}

int shmets_select_continue(shmets *db, shmets_term cont, shmets_term *results, shmets_term *next)
{
    if (!db || !cont.ptr || !results || !next)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_select_continue");
    *results = *next = (shmets_term){ NULL, 0 };
    shmets_term el[7], w[3];
    size_t ar, war;
    const char *tag;
    size_t tl;
    uint64_t limit = 0, pos = 0;
    int reverse;
    if (shmets_term_tuple_arity(cont, &ar) || ar != 6)
        return err_set(SHMETS_ETYPE, "not a select continuation");
    for (size_t i = 1; i <= 6; i++)
        shmets_term_tuple_element(cont, i, &el[i]);
    if (shmets_term_get_atom(el[1], &tag, &tl) || tl != 14 || memcmp(tag, "$shmets_select", 14) ||
        shmets_term_get_uint64(el[4], &limit) || limit == 0 || shmets_term_get_atom(el[5], &tag, &tl) ||
        shmets_term_tuple_arity(el[6], &war) || war != 2)
        return err_set(SHMETS_ETYPE, "not a select continuation");
    reverse = tl == 4 && !memcmp(tag, "true", 4);
    shmets_term_tuple_element(el[6], 1, &w[1]);
    shmets_term_tuple_element(el[6], 2, &w[2]);
    int is_pos = shmets_term_get_atom(w[1], &tag, &tl) == 0 && tl == 3 && !memcmp(tag, "pos", 3);
    if (is_pos && shmets_term_get_uint64(w[2], &pos))
        return err_set(SHMETS_ETYPE, "not a select continuation");
    shmets_ms *ms;
    int rc = shmets_ms_from_term(el[3], &ms);
    if (rc)
        return rc;
    shmets_tab *t;
    if ((rc = shmets_attach_term(db, el[2], &t))) {
        shmets_ms_free(ms);
        return rc;
    }
    rc = chunk(t, ms, limit, reverse, is_pos ? NULL : &w[2], (size_t)pos, results, next);
    shmets_detach(t);
    shmets_ms_free(ms);
    return rc;
}
