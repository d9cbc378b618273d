/*
 * ms_arena.c — the memory of one run of a match specification (struct ms_run, ms.h): the
 * arena that holds what a run builds for one object, and a value's canonical bytes.
 *
 * A run's arena is a list of chunks, limited to MS_ARENA_LIMIT bytes: a body that would build
 * more is -SHMETS_ETOOBIG, not a crash.  ms_exec resets it at the start of every object and
 * keeps one small chunk for the next, so a scan allocates nothing per object in the common
 * case.  A list tail bound by a head like [H | T] is kept as "the list at p after k elements"
 * and made canonical here, in the arena, only if it is used (ms_val_bytes).
 *
 * THREADS.  One struct ms_run per thread; nothing here is shared.
 */
#include "ms/ms.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

#define MS_ARENA_LIMIT  ((size_t)2 * SHMETS_TERM_MAX_SIZE)
#define MS_CHUNK        ((size_t)64 << 10)

struct ms_chunk {
    struct ms_chunk *next;
    size_t cap, used;
    unsigned char data[];
};

void ms_run_init(struct ms_run *r)
{
    memset(r, 0, sizeof *r);
}

void ms_arena_reset(struct ms_run *r, int all)
{
    struct ms_chunk *c = r->chunks, *keep = NULL;
    if (c && !all && c->cap <= 4 * MS_CHUNK) {  /* keep the newest chunk if it is small */
        keep = c;
        c = c->next;
        keep->next = NULL;
        keep->used = 0;
    }
    while (c) {
        struct ms_chunk *n = c->next;
        free(c);
        c = n;
    }
    r->chunks = keep;
    r->arena_used = 0;
}

void ms_run_free(struct ms_run *r)
{
    ms_arena_reset(r, 1);
    free(r->vars);
    free(r->stack);
    memset(r, 0, sizeof *r);
}

unsigned char *ms_alloc(struct ms_run *r, size_t n, int *err)
{
    struct ms_chunk *c = r->chunks;
    n = (n + 7) & ~(size_t)7;                   /* every block 8-aligned (some hold arrays) */
    if (c && c->cap - c->used >= n) {
        unsigned char *p = c->data + c->used;
        c->used += n;
        return p;
    }
    if (n > MS_ARENA_LIMIT || r->arena_used > MS_ARENA_LIMIT - n) {
        *err = err_set(SHMETS_ETOOBIG, "match specification: the results for one object pass %zu bytes",
                       MS_ARENA_LIMIT);
        return NULL;
    }
    size_t cap = n > MS_CHUNK ? n : MS_CHUNK;
    struct ms_chunk *nc = malloc(sizeof *nc + cap);
    if (!nc) {
        *err = err_set(SHMETS_ENOMEM, "match specification: out of memory for results");
        return NULL;
    }
    nc->cap = cap;
    nc->used = n;
    nc->next = c;
    r->chunks = nc;
    r->arena_used += n;
    return nc->data;
}

/* ---- values ---- */

/* The canonical tail of the list at l after skip elements. */
static int make_tail(struct ms_run *r, struct ms_val *v)
{
    const unsigned char *l = v->p;
    int err = 0;
    if (l[0] == ETF_STRING) {
        size_t n = get_be16(l + 1), rem = n - v->skip;
        if (rem == 0) {
            v->p = ms_nil;
            v->len = 1;
        } else {
            unsigned char *d = ms_alloc(r, 3 + rem, &err);
            if (!d)
                return err;
            d[0] = ETF_STRING;
            put_be16(d + 1, (uint16_t)rem);
            memcpy(d + 3, l + 3 + v->skip, rem);
            v->p = d;
            v->len = 3 + rem;
        }
        v->tail = 0;
        return 0;
    }
    uint32_t n = get_be32(l + 1), rem = n - v->skip;
    const unsigned char *q = l + 5;
    for (uint32_t i = 0; i < v->skip; i++)
        q = term_end(q);
    if (rem == 0) {
        v->p = q;
        v->len = (size_t)(term_end(q) - q);
        v->tail = 0;
        return 0;
    }
    const unsigned char *e = q;
    int bytes = rem <= 65535;
    for (uint32_t i = 0; i < rem; i++) {
        bytes &= e[0] == ETF_SMALL_INTEGER;
        e = term_end(e);
    }
    bytes &= e[0] == ETF_NIL;
    const unsigned char *end = term_end(e);
    unsigned char *d;
    if (bytes) {
        if (!(d = ms_alloc(r, 3 + rem, &err)))
            return err;
        d[0] = ETF_STRING;
        put_be16(d + 1, (uint16_t)rem);
        for (uint32_t i = 0; i < rem; i++)
            d[3 + i] = q[2 * i + 1];
        v->len = 3 + rem;
    } else {
        size_t body = (size_t)(end - q);
        if (!(d = ms_alloc(r, 5 + body, &err)))
            return err;
        d[0] = ETF_LIST;
        put_be32(d + 1, rem);
        memcpy(d + 5, q, body);
        v->len = 5 + body;
    }
    v->p = d;
    v->tail = 0;
    return 0;
}

const unsigned char *ms_val_bytes(struct ms_run *r, struct ms_val *v, size_t *len, int *err)
{
    if (v->tail) {
        int rc = make_tail(r, v);
        if (rc) {
            *err = rc;
            return NULL;
        }
    }
    if (!v->len)
        v->len = (size_t)(term_end(v->p) - v->p);
    if (len)
        *len = v->len;
    return v->p;
}

