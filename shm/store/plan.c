/*
 * plan.c — write plans: the stores that will publish a write, gathered before any is made.
 *
 * An index kind plans a change by allocating and filling fresh (unpublished) blocks and by
 * listing single-word stores into published memory (plan_store).  commit.c then writes the
 * list into the table's intent record and makes the stores (DESIGN.md §6).  A plan lives in
 * process memory; nothing here touches shared memory but plan_word's read (plan_alloc, which
 * takes the heap, is commit.c's).
 *
 * A plan may store to the same word more than once (the last value wins; its place in the
 * order is the first store's), and later planning steps read the planned value through
 * plan_word() — e.g. two new keys landing in one bucket, or a chain extended twice.  Up to
 * PLAN_LINEAR stores (a one-key write plans one to four) the stores are scanned in order;
 * beyond, an open-addressed hash from offset to store index, built then, keeps the lookup
 * O(1).  (The hash was always kept: zeroing its inline room and hashing every offset cost a
 * one-key insert ~100 of its ~2,150 instructions, more than the scans of a few stores.)  A
 * small plan lives in the struct itself (plan.h, PLAN_IN_*): a one-key write allocates no
 * process memory.
 *
 * Process memory exhaustion (malloc failing) is sticky in p->err; the commit refuses a plan
 * with an error and frees what it allocated, so a failed plan leaves the table as it was.
 */
#include "store/plan.h"
#include "shmets.h"
#include "base/util.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void plan_init(struct plan *p)
{
    memset(p, 0, offsetof(struct plan, st_in));  /* the inline room needs no zeros; no map yet */
    p->st = p->st_in;
    p->cst = PLAN_IN_ST;
    p->retire = p->retire_in;
    p->cretire = PLAN_IN_BLK;
    p->fresh = p->fresh_in;
    p->cfresh = PLAN_IN_BLK;
}

void plan_free(struct plan *p)
{
    if (p->st != p->st_in)
        free(p->st);
    if (p->retire != p->retire_in)
        free(p->retire);
    if (p->fresh != p->fresh_in)
        free(p->fresh);
    free(p->map);
    /* Not made empty again: a freed plan is plan_init'ed before any reuse, as every caller's
     * ends with its plan_free. */
    p->st = NULL;
    p->map = NULL;
    p->retire = p->fresh = NULL;
}

/* Room for `need` elements in *arr, which starts in the plan's inline room `in`. */
static int grow(void **arr, size_t *cap, size_t need, size_t elem, const void *in)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap * 2;
    while (c < need)
        c *= 2;
    void *n = *arr == in ? malloc(c * elem) : realloc(*arr, c * elem);
    if (!n)
        return -1;
    if (*arr == in)
        memcpy(n, in, *cap * elem);
    *arr = n;
    *cap = c;
    return 0;
}

static size_t slot_of(uint64_t off, size_t cap)
{
    return (size_t)((off >> 3) * 0x9E3779B97F4A7C15ull >> 20) & (cap - 1);
}

/* Index into st[] of the planned store to `off`, or -1. */
static long find(const struct plan *p, uint64_t off)
{
    if (!p->map) {
        for (size_t k = 0; k < p->nst; k++)
            if (p->st[k].off == off)
                return (long)k;
        return -1;
    }
    for (size_t i = slot_of(off, p->cmap);; i = (i + 1) & (p->cmap - 1)) {
        uint64_t v = p->map[i];
        if (!v)
            return -1;
        if (p->st[v - 1].off == off)
            return (long)(v - 1);
    }
}

static int rehash(struct plan *p, size_t cap)
{
    uint64_t *m = calloc(cap, sizeof *m);
    if (!m)
        return -1;
    for (size_t k = 0; k < p->nst; k++) {
        size_t i = slot_of(p->st[k].off, cap);
        while (m[i])
            i = (i + 1) & (cap - 1);
        m[i] = k + 1;
    }
    free(p->map);
    p->map = m;
    p->cmap = cap;
    return 0;
}

void plan_store(struct plan *p, uint64_t off, uint64_t val)
{
    if (p->err)
        return;
    long k = find(p, off);
    if (k >= 0) {
        p->st[k].val = val;
        return;
    }
    if (grow((void **)&p->st, &p->cst, p->nst + 1, sizeof *p->st, p->st_in) ||
        (p->map ? (p->nst + 1) * 2 > p->cmap && rehash(p, p->cmap * 2)
                : p->nst + 1 > PLAN_LINEAR && rehash(p, 4 * PLAN_LINEAR))) {
        p->err = err_set(SHMETS_ENOMEM, "out of process memory planning a write");
        return;
    }
    p->st[p->nst].off = off;
    p->st[p->nst].val = val;
    p->nst++;
    if (!p->map)
        return;
    size_t i = slot_of(off, p->cmap);
    while (p->map[i])
        i = (i + 1) & (p->cmap - 1);
    p->map[i] = p->nst;
}

uint64_t plan_word(const struct plan *p, const struct seg *s, uint64_t off)
{
    long k = find(p, off);
    if (k >= 0)
        return p->st[k].val;
    return atomic_load_explicit((_Atomic uint64_t *)(s->base + off), memory_order_relaxed);
}

void plan_retire(struct plan *p, uint64_t off)
{
    if (p->err)
        return;
    if (grow((void **)&p->retire, &p->cretire, p->nretire + 1, sizeof *p->retire, p->retire_in)) {
        p->err = err_set(SHMETS_ENOMEM, "out of process memory planning a write");
        return;
    }
    p->retire[p->nretire++] = off;
}

int plan_fresh_room(struct plan *p)
{
    if (grow((void **)&p->fresh, &p->cfresh, p->nfresh + 1, sizeof *p->fresh, p->fresh_in))
        return p->err = err_set(SHMETS_ENOMEM, "out of process memory planning a write");
    return 0;
}
