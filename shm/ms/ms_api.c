/*
 * ms_api.c — the public face of match specifications (shmets.h, section 7): compile, run,
 * test_ms, programs as bytes and terms, key analysis, match patterns.
 *
 * Everything here is a thin layer over ms_compile.c, ms_run.c, ms_verify.c and ms_key.c (see
 * ms.h for the program and the machine).  A shmets_ms is the program's bytes behind a length;
 * it is never changed after it is made, so threads share it freely.  Programs made by
 * shmets_ms_compile() are trusted (this library wrote them); bytes from anywhere else go
 * through ms_verify() first.  Each run here uses a run context of its own (struct ms_run),
 * made and freed in the call; the select family keeps one per scan (ms.h).
 */
#include "ms/ms.h"
#include "base/util.h"

#include <stdlib.h>

struct shmets_ms {
    size_t len;
    unsigned char prog[];
};

static int make_ms(const unsigned char *prog, size_t len, shmets_ms **out)
{
    shmets_ms *m = malloc(sizeof *m + len);
    if (!m)
        return err_set(SHMETS_ENOMEM, "out of memory for a compiled match specification");
    m->len = len;
    memcpy(m->prog, prog, len);
    *out = m;
    return 0;
}

int shmets_ms_compile(shmets_term spec, shmets_ms **ms)
{
    if (!ms)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_ms_compile");
    *ms = NULL;
    if (!spec.ptr || !spec.len)
        return err_set(SHMETS_EINVAL, "NULL specification");
    unsigned char *prog;
    size_t len;
    int rc = ms_compile(spec.ptr, spec.len, &prog, &len, NULL);
    if (rc)
        return rc;
    shmets_ms *m = malloc(sizeof *m + len);
    if (!m) {
        free(prog);
        return err_set(SHMETS_ENOMEM, "out of memory for a compiled match specification");
    }
    m->len = len;
    memcpy(m->prog, prog, len);
    free(prog);
    *ms = m;
    return 0;
}

void shmets_ms_free(shmets_ms *ms)
{
    free(ms);
}

/* [{error, "..."}, ...] from the messages. */
static int errors_term(const struct ms_errors *e, struct tbuf *b)
{
    if (e->n == 0) {
        tbuf_byte(b, ETF_NIL);
        return b->err;
    }
    tbuf_byte(b, ETF_LIST);
    tbuf_be32(b, (uint32_t)e->n);
    const unsigned char *s = e->text.p;
    for (size_t i = 0; i < e->n; i++) {
        size_t n = strlen((const char *)s);
        tbuf_byte(b, ETF_SMALL_TUPLE);
        tbuf_byte(b, 2);
        etf_put_atom(b, "error", 5);
        if (n == 0) {
            tbuf_byte(b, ETF_NIL);
        } else {
            tbuf_byte(b, ETF_STRING);
            tbuf_be16(b, (uint16_t)n);
            tbuf_put(b, s, n);
        }
        s += n + 1;
    }
    tbuf_byte(b, ETF_NIL);
    return b->err;
}

int shmets_ms_errors(shmets_term spec, shmets_term *errors)
{
    if (!spec.ptr || !errors)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_ms_errors");
    struct ms_errors e;
    ms_errors_init(&e);
    unsigned char *prog = NULL;
    size_t len;
    int rc = ms_compile(spec.ptr, spec.len, &prog, &len, &e);
    free(prog);
    struct tbuf b;
    tbuf_init(&b, SHMETS_TERM_MAX_SIZE);
    if (rc == 0 || rc == -SHMETS_EINVAL)
        rc = errors_term(&e, &b);
    ms_errors_free(&e);
    return tbuf_to_term(&b, rc, errors);
}

/* Run prog on obj with a run context of this call; the result is copied into out. */
static int run_copy(const unsigned char *prog, shmets_term obj, int *matched, struct tbuf *out)
{
    struct ms_run r;
    ms_run_init(&r);
    shmets_term res;
    int rc = ms_exec(prog, &r, obj.ptr, obj.len, &res);
    if (rc == 1)
        tbuf_put(out, res.ptr, res.len);
    ms_run_free(&r);
    if (rc < 0)
        return rc;
    *matched = rc;
    return out->err;
}

int shmets_ms_test(shmets_term object, shmets_term spec, shmets_term *result)
{
    if (!object.ptr || !spec.ptr || !result)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_ms_test");
    struct ms_errors e;
    ms_errors_init(&e);
    unsigned char *prog = NULL;
    size_t len;
    int rc = ms_compile(spec.ptr, spec.len, &prog, &len, &e);
    struct tbuf b;
    tbuf_init(&b, SHMETS_TERM_MAX_SIZE);
    tbuf_byte(&b, ETF_SMALL_TUPLE);
    tbuf_byte(&b, 2);
    if (rc == -SHMETS_EINVAL) {
        etf_put_atom(&b, "error", 5);
        rc = errors_term(&e, &b);
    } else if (rc == 0) {
        etf_put_atom(&b, "ok", 2);
        int matched = 0;
        rc = run_copy(prog, object, &matched, &b);
        if (!rc && !matched)
            etf_put_atom(&b, "false", 5);
        rc = rc ? rc : b.err;
    }
    free(prog);
    ms_errors_free(&e);
    return tbuf_to_term(&b, rc, result);
}

int shmets_ms_run(const shmets_ms *ms, shmets_term object, bool *matched, shmets_term *result)
{
    if (!ms || !object.ptr || !matched || !result)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_ms_run");
    *matched = false;
    struct tbuf b;
    tbuf_init(&b, SHMETS_TERM_MAX_SIZE);
    int m = 0;
    int rc = run_copy(ms->prog, object, &m, &b);
    if (!rc && !m) {
        tbuf_free(&b);
        result->ptr = NULL;
        result->len = 0;
        return 0;
    }
    rc = tbuf_to_term(&b, rc, result);
    if (!rc)
        *matched = true;
    return rc;
}

int shmets_ms_run_list(const shmets_ms *ms, shmets_term objects, shmets_term *results)
{
    if (!ms || !objects.ptr || !results)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_ms_run_list");
    if (objects.ptr[0] != ETF_NIL && !ms_is_cons(objects.ptr))
        return err_set(SHMETS_ETYPE, "match_spec_run: the objects are not a list");
    struct term_lcur c;
    term_lcur_init(&c, objects.ptr);
    /* Results one after another in acc; their offsets in offs. */
    struct tbuf acc, offs;
    tbuf_init(&acc, SHMETS_TERM_MAX_SIZE);
    tbuf_init(&offs, SIZE_MAX / 2);
    struct ms_run r;
    ms_run_init(&r);
    int rc = 0;
    size_t n = 0;
    const unsigned char *el;
    while (!rc && (el = term_lcur_next(&c)) != NULL) {
        size_t el_len = c.str ? 2 : (size_t)(c.p - el);
        shmets_term res;
        int m = ms_exec(ms->prog, &r, el, el_len, &res);
        if (m < 0) {
            rc = m;
        } else if (m) {
            size_t at = acc.len;
            tbuf_put(&acc, res.ptr, res.len);
            tbuf_put(&offs, &at, sizeof at);
            n++;
            rc = acc.err ? acc.err : offs.err;
        }
    }
    if (!rc && term_lcur_tail(&c)[0] != ETF_NIL)
        rc = err_set(SHMETS_ETYPE, "match_spec_run: the objects are not a proper list");
    ms_run_free(&r);
    struct tbuf b;
    tbuf_init(&b, SHMETS_TERM_MAX_SIZE);
    if (!rc) {
        struct ms_part *parts = malloc((n ? n : 1) * sizeof *parts);
        if (!parts) {
            rc = err_set(SHMETS_ENOMEM, "out of memory");
        } else {
            for (size_t i = 0; i < n; i++) {
                size_t at, next;
                memcpy(&at, offs.p + i * sizeof at, sizeof at);
                if (i + 1 < n)
                    memcpy(&next, offs.p + (i + 1) * sizeof next, sizeof next);
                else
                    next = acc.len;
                parts[i] = (struct ms_part){ acc.p + at, next - at };
            }
            struct ms_part nil = { ms_nil, 1 };
            size_t size = ms_list_size(parts, n, nil);
            unsigned char *d = tbuf_room(&b, size);
            if (d) {
                ms_list_write(d, parts, n, nil);
                b.len += size;
            }
            free(parts);
        }
    }
    tbuf_free(&acc);
    tbuf_free(&offs);
    return tbuf_to_term(&b, rc, results);
}

int shmets_ms_program(const shmets_ms *ms, const void **bytes, size_t *len)
{
    if (!ms || !bytes || !len)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_ms_program");
    *bytes = ms->prog;
    *len = ms->len;
    return 0;
}

int shmets_ms_load(const void *bytes, size_t len, shmets_ms **ms)
{
    if (!bytes || !ms)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_ms_load");
    *ms = NULL;
    /* Check a private copy: the source may be memory another process can change. */
    shmets_ms *m = NULL;
    int rc = make_ms(bytes, len, &m);
    if (rc)
        return rc;
    if ((rc = ms_verify(m->prog, m->len))) {
        free(m);
        return rc;
    }
    *ms = m;
    return 0;
}

int shmets_ms_to_term(const shmets_ms *ms, shmets_term *bin)
{
    if (!ms || !bin)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_ms_to_term");
    struct tbuf b;
    tbuf_init(&b, (size_t)UINT32_MAX + 5);
    tbuf_byte(&b, ETF_BINARY);
    tbuf_be32(&b, (uint32_t)ms->len);
    tbuf_put(&b, ms->prog, ms->len);
    return tbuf_to_term(&b, 0, bin);
}

int shmets_ms_from_term(shmets_term bin, shmets_ms **ms)
{
    if (!bin.ptr || !ms)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_ms_from_term");
    *ms = NULL;
    if (bin.ptr[0] != ETF_BINARY)
        return err_set(SHMETS_EINVAL, "not a compiled match specification (not a binary)");
    return shmets_ms_load(bin.ptr + 5, get_be32(bin.ptr + 1), ms);
}

bool shmets_is_compiled_ms(shmets_term t)
{
    if (!t.ptr || t.ptr[0] != ETF_BINARY)
        return false;
    return ms_verify(t.ptr + 5, get_be32(t.ptr + 1)) == 0;
}

int shmets_ms_source(const shmets_ms *ms, shmets_term *spec)
{
    if (!ms || !spec)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_ms_source");
    spec->ptr = ms_pool(ms->prog);
    spec->len = ms_le32(ms->prog + MS_H_SPEC_LEN);
    return 0;
}

size_t shmets_ms_clauses(const shmets_ms *ms)
{
    return ms ? ms_nclauses(ms->prog) : 0;
}

int shmets_ms_clause_key(const shmets_ms *ms, size_t clause, unsigned keypos,
                         enum shmets_ms_keykind *kind, shmets_term *key)
{
    if (!ms || !kind || !key)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_ms_clause_key");
    if (clause >= ms_nclauses(ms->prog) || keypos == 0)
        return err_set(SHMETS_EBADPOS, "no clause %zu, or keypos %u", clause, keypos);
    *kind = (enum shmets_ms_keykind)ms_clause_key(ms->prog, (uint32_t)clause, keypos, key);
    return 0;
}

int shmets_ms_key_plan(const shmets_ms *ms, unsigned keypos, bool ordered, shmets_ms_plan *plan)
{
    if (!ms || !plan)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_ms_key_plan");
    plan->kind = SHMETS_MS_PLAN_NOTHING;
    plan->nkeys = 0;
    plan->keys = NULL;
    if (keypos == 0)
        return err_set(SHMETS_EBADPOS, "keypos 0");
    uint32_t n = ms_nclauses(ms->prog);
    int any = 0, partial = 0, bound = 0;
    for (uint32_t i = 0; i < n; i++) {
        shmets_term k;
        switch (ms_clause_key(ms->prog, i, keypos, &k)) {
        case SHMETS_MS_KEY_ANY: any = 1; break;
        case SHMETS_MS_KEY_PARTIAL: partial = 1; break;
        case SHMETS_MS_KEY_BOUND: bound = 1; break;
        default: break;
        }
    }
    if (any || (partial && !ordered)) {
        plan->kind = SHMETS_MS_PLAN_SCAN;
        return 0;
    }
    if (partial) {
        plan->kind = SHMETS_MS_PLAN_RANGE;
        return 0;
    }
    if (!bound)
        return 0;
    plan->keys = malloc(n * sizeof *plan->keys);
    if (!plan->keys)
        return err_set(SHMETS_ENOMEM, "out of memory");
    plan->kind = SHMETS_MS_PLAN_LOOKUP;
    for (uint32_t i = 0; i < n; i++) {
        shmets_term k;
        if (ms_clause_key(ms->prog, i, keypos, &k) != SHMETS_MS_KEY_BOUND)
            continue;
        size_t j = 0;
        for (; j < plan->nkeys; j++)
            if (ordered ? term_cmp(plan->keys[j].ptr, k.ptr, 0) == 0 : shmets_term_exact_equal(plan->keys[j], k))
                break;
        if (j == plan->nkeys)
            plan->keys[plan->nkeys++] = k;
    }
    return 0;
}

void shmets_ms_plan_free(shmets_ms_plan *plan)
{
    if (!plan)
        return;
    free(plan->keys);
    plan->keys = NULL;
    plan->nkeys = 0;
}

int shmets_ms_key_span(const shmets_ms *ms, unsigned keypos, shmets_term key, int *where)
{
    if (!ms || !key.ptr || !where)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_ms_key_span");
    if (keypos == 0)
        return err_set(SHMETS_EBADPOS, "keypos 0");
    uint32_t n = ms_nclauses(ms->prog);
    int below = 1, above = 1, some = 0;
    for (uint32_t i = 0; i < n && (below || above); i++) {
        shmets_term k;
        int w;
        switch (ms_clause_key(ms->prog, i, keypos, &k)) {
        case SHMETS_MS_KEY_ANY: w = 0; break;
        case SHMETS_MS_KEY_BOUND: { int c = term_cmp(k.ptr, key.ptr, 0); w = c > 0 ? -1 : c < 0 ? 1 : 0; break; }
        case SHMETS_MS_KEY_PARTIAL: w = -ms_pattern_cmp(k.ptr, key.ptr); break;
        default: continue;
        }
        some = 1;
        below &= w == -1;
        above &= w == 1;
    }
    *where = !some ? 1 : below ? -1 : above ? 1 : 0;
    return 0;
}

int shmets_ms_from_pattern(shmets_term pattern, enum shmets_ms_match_kind kind, shmets_term *spec)
{
    if (!pattern.ptr || !spec || kind < SHMETS_MS_MATCH || kind > SHMETS_MS_MATCH_DELETE)
        return err_set(SHMETS_EINVAL, "bad argument to shmets_ms_from_pattern");
    struct tbuf b;
    tbuf_init(&b, SHMETS_TERM_MAX_SIZE);
    tbuf_byte(&b, ETF_LIST);
    tbuf_be32(&b, 1);
    tbuf_byte(&b, ETF_SMALL_TUPLE);
    tbuf_byte(&b, 3);
    tbuf_put(&b, pattern.ptr, pattern.len);
    tbuf_byte(&b, ETF_NIL);
    tbuf_byte(&b, ETF_LIST);
    tbuf_be32(&b, 1);
    if (kind == SHMETS_MS_MATCH)
        etf_put_atom(&b, "$$", 2);
    else if (kind == SHMETS_MS_MATCH_OBJECT)
        etf_put_atom(&b, "$_", 2);
    else
        etf_put_atom(&b, "true", 4);
    tbuf_byte(&b, ETF_NIL);
    tbuf_byte(&b, ETF_NIL);
    return tbuf_to_term(&b, 0, spec);
}

int shmets_ms_keeps_key(const shmets_ms *ms, unsigned keypos, bool *keeps)
{
    if (!ms || !keeps)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_ms_keeps_key");
    if (keypos == 0)
        return err_set(SHMETS_EBADPOS, "keypos 0");
    *keeps = ms_keeps_key(ms->prog, keypos) != 0;
    return 0;
}
