/*
 * limbo.c — retired memory waiting for readers to pass (DESIGN.md §4).
 *
 * A writer that replaces or deletes an object unlinks it with one atomic store, but readers
 * inside a section may still be reading it.  The object's block goes to the table's limbo
 * list, stamped with the RCU epoch read after the unlink (rcu_retire_stamp); it is freed once
 * rcu_safe_epoch() has moved past the stamp.  Stamps only grow, so the list is a FIFO and
 * reclamation pops from its head.
 *
 * The list lives in the table segment (so a writer that dies leaves it for the next writer to
 * finish) as a chain of 4 KiB chunks allocated from the table's heap, each holding up to
 * LIMBO_CHUNK (offset, stamp) entries.
 *
 * Guarantees:
 *   L.4 Retiring never fails: a writer reserves room (limbo_reserve) while preparing its
 *       write, before it publishes; after the publish only limbo_retire() runs, which uses
 *       the reserved room.  (DESIGN.md §6: prepare everything first, publish with one store.)
 *   L.5 Reclamation is bounded: limbo_reclaim() frees at most `max` entries per call, so no
 *       writer pays for the whole backlog at once.
 *   L.6 A crash at any point leaves chunks and entries that the recovery's mark phase treats
 *       as live (limbo_reaches): nothing retired is freed early, nothing leaks.
 *   L.7 A limbo list that reclamation drains down to its one emptied chunk gives its spare
 *       chunks back to the heap: retired memory all comes back once readers are done.
 */
#include "mem/limbo.h"
#include "mem/wlock.h"
#include "shmets.h"
#include "base/util.h"

static struct limbo_chunk *chunk_at(const struct seg *s, uint64_t off)
{
    return (struct limbo_chunk *)(s->base + off);
}

static uint64_t room(const struct limbo *l, const struct seg *s)
{
    uint64_t r = l->spares * LIMBO_CHUNK;
    if (l->tail)
        r += LIMBO_CHUNK - chunk_at(s, l->tail)->n;
    return r;
}

int limbo_reserve(struct limbo *l, struct alloc_heap *h, struct seg *s, uint32_t n)
{
    while (room(l, s) < n) {
        uint64_t off;
        int rc = alloc_alloc(h, s, sizeof(struct limbo_chunk), &off);
        if (rc)
            return rc;
        struct limbo_chunk *c = chunk_at(s, off);
        c->first = c->n = 0;
        c->next = l->spare;
        l->spare = off;                     /* linked: from here on it is reachable */
        l->spares++;
    }
    return 0;
}

void limbo_retire(struct limbo *l, struct alloc_heap *h, struct seg *s, uint64_t off, uint64_t stamp)
{
    if (!l->tail || chunk_at(s, l->tail)->n == LIMBO_CHUNK) {
        INVARIANT(l->spare != 0);           /* L.4: the caller reserved */
        uint64_t c = l->spare;
        l->spare = chunk_at(s, c)->next;
        l->spares--;
        chunk_at(s, c)->next = 0;
        if (l->tail)
            chunk_at(s, l->tail)->next = c;
        else
            l->head = c;
        l->tail = c;
    }
    struct limbo_chunk *t = chunk_at(s, l->tail);
    t->e[t->n].off = off;
    t->e[t->n].stamp = stamp;
    alloc_retire(h, s, off);
    CRASH_POINT("limbo.retire");            /* tagged, not yet counted */
    t->n++;                                 /* the entry counts once it is whole */
    l->entries++;
}

uint64_t limbo_reclaim(struct limbo *l, struct alloc_heap *h, struct seg *s, uint64_t safe, uint64_t max)
{
    uint64_t freed = 0;
    while (l->head && freed < max) {
        struct limbo_chunk *c = chunk_at(s, l->head);
        while (c->first < c->n && freed < max && c->e[c->first].stamp < safe) {
            alloc_free(h, s, c->e[c->first].off);
            CRASH_POINT("limbo.reclaim");   /* freed, entry not yet dropped */
            c->first++;
            l->entries--;
            freed++;
        }
        if (c->first < c->n || l->head == l->tail)
            break;                          /* entries still too young, or the last chunk */
        uint64_t done = l->head;
        l->head = c->next;
        if (l->spares)
            alloc_free(h, s, done);
        else
            c->first = c->n = 0, c->next = 0, l->spare = done, l->spares = 1;
    }
    if (l->head && l->head == l->tail) {    /* an emptied last chunk starts over */
        struct limbo_chunk *c = chunk_at(s, l->head);
        if (c->first == c->n) {
            c->first = c->n = 0;
            /* L.7: drained, limbo gives its spare chunks back, so an emptied table returns
             * to the memory it had new.  Safe for L.4: reclamation never runs between a
             * reservation and the retirements it covers (commit.c reclaims before it
             * reserves or after it has retired), and the emptied chunk has a whole chunk's
             * room. */
            while (l->spare) {
                uint64_t sp = l->spare;
                l->spare = chunk_at(s, sp)->next;
                l->spares--;
                CRASH_POINT("limbo.unspare");   /* unlinked, not yet freed: recovery sweeps it */
                alloc_free(h, s, sp);
            }
        }
    }
    return freed;
}

void limbo_mark(const struct limbo *l, const struct seg *s, void (*mark)(void *arg, uint64_t off), void *arg)
{
    for (uint64_t c = l->spare; c; c = chunk_at(s, c)->next)
        mark(arg, c);
    for (uint64_t c = l->head; c; c = chunk_at(s, c)->next) {
        mark(arg, c);
        const struct limbo_chunk *k = chunk_at(s, c);
        for (uint32_t i = k->first; i < k->n; i++)
            mark(arg, k->e[i].off);
    }
}

/* Follow a chain from *link, cutting it at the first link that is not a whole chunk or that
 * would loop; returns the last chunk kept and counts chunks and entries. */
static uint64_t repair_chain(uint64_t *link, const struct alloc_heap *h, const struct seg *s,
                             uint64_t *chunks, uint64_t *entries)
{
    uint64_t last = 0;
    *chunks = *entries = 0;
    while (*link) {
        uint64_t c = *link;
        if (!alloc_is_block(h, s, c, BLK_USED) || alloc_capacity(s, c) < sizeof(struct limbo_chunk) ||
            *chunks >= h->blocks) {
            *link = 0;
            break;
        }
        struct limbo_chunk *k = chunk_at(s, c);
        if (k->n > LIMBO_CHUNK)
            k->n = LIMBO_CHUNK;
        if (k->first > k->n)
            k->first = k->n;
        /* Keep only entries that name a block in limbo: a reclaimer that died between
         * freeing a block and dropping its entry leaves one naming a free block. */
        uint32_t keep = k->first;
        for (uint32_t i = k->first; i < k->n; i++)
            if (alloc_is_block(h, s, k->e[i].off, BLK_LIMBO))
                k->e[keep++] = k->e[i];
        k->n = keep;
        (*chunks)++;
        *entries += k->n - k->first;
        last = c;
        link = &k->next;
    }
    return last;
}

void limbo_repair(struct limbo *l, const struct alloc_heap *h, const struct seg *s)
{
    uint64_t chunks, entries, spare_entries;
    repair_chain(&l->spare, h, s, &l->spares, &spare_entries);
    for (uint64_t c = l->spare; c; c = chunk_at(s, c)->next)
        chunk_at(s, c)->first = chunk_at(s, c)->n = 0;
    l->tail = repair_chain(&l->head, h, s, &chunks, &entries);
    l->entries = entries;
}

int limbo_check(const struct limbo *l, const struct alloc_heap *h, const struct seg *s, uint64_t *bytes)
{
    uint64_t n = 0, b = 0, chunks = 0;
    uint64_t spares = 0;
    for (uint64_t c = l->spare; c; c = chunk_at(s, c)->next) {
        if (!alloc_is_block(h, s, c, BLK_USED) || ++spares > h->blocks)
            return err_set(SHMETS_EBADSEG, "L.1 limbo spare chunk at %llu is not a used block", (unsigned long long)c);
        if (chunk_at(s, c)->n != 0)
            return err_set(SHMETS_EBADSEG, "L.1 limbo spare chunk at %llu holds entries", (unsigned long long)c);
    }
    if (spares != l->spares)
        return err_set(SHMETS_EBADSEG, "L.1 limbo counts %llu spare chunks, holds %llu",
                       (unsigned long long)l->spares, (unsigned long long)spares);
    for (uint64_t c = l->head; c; c = chunk_at(s, c)->next) {
        if (!alloc_is_block(h, s, c, BLK_USED))
            return err_set(SHMETS_EBADSEG, "L.1 limbo chunk at %llu is not a used block", (unsigned long long)c);
        if (++chunks > h->blocks)
            return err_set(SHMETS_EBADSEG, "L.1 limbo chain longer than the heap (a cycle?)");
        const struct limbo_chunk *k = chunk_at(s, c);
        if (k->first > k->n || k->n > LIMBO_CHUNK || (k->next == 0) != (c == l->tail))
            return err_set(SHMETS_EBADSEG, "L.1 limbo chunk at %llu is malformed", (unsigned long long)c);
        for (uint32_t i = k->first; i < k->n; i++) {
            if (!alloc_is_block(h, s, k->e[i].off, BLK_LIMBO))
                return err_set(SHMETS_EBADSEG, "L.2 limbo entry names %llu, not a block in limbo",
                               (unsigned long long)k->e[i].off);
            b += alloc_capacity(s, k->e[i].off) + ALLOC_HDR;
            n++;
        }
    }
    if (!l->head != !l->tail)
        return err_set(SHMETS_EBADSEG, "L.1 limbo head and tail disagree");
    if (n != l->entries)
        return err_set(SHMETS_EBADSEG, "L.3 limbo counts %llu entries, holds %llu",
                       (unsigned long long)l->entries, (unsigned long long)n);
    if (bytes)
        *bytes = b;
    return 0;
}
