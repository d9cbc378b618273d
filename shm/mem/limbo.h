/*
 * limbo.h — private to libshmets (not installed): memory a writer has unlinked and readers may
 * still hold, waiting for RCU (see limbo.c).  Caller holds the table's writer lock for all calls.
 */
#ifndef SHMETS_LIMBO_H
#define SHMETS_LIMBO_H

#include "mem/alloc.h"
#include "mem/seg.h"
#include <stdint.h>

#define LIMBO_CHUNK 254                 /* entries per chunk: a 4 KiB block */

struct limbo_entry { uint64_t off, stamp; };

struct limbo_chunk {
    uint64_t next;                      /* next (newer) chunk, 0 at the tail */
    uint32_t first, n;                  /* live entries are [first, n) */
    struct limbo_entry e[LIMBO_CHUNK];
};

/* In the table segment's header. */
struct limbo {
    uint64_t head, tail;                /* oldest and newest chunk */
    uint64_t entries;                   /* entries in all chunks */
    uint64_t spare;                     /* first of a chain of empty chunks kept in reserve */
    uint64_t spares;                    /* chunks on that chain */
};

/* Make room for `n` more retirements (any n), so that limbo_retire() cannot fail after a
 * write has been published.  Returns 0 or -SHMETS_ENOMEM / -SHMETS_ETOOBIG from the allocator;
 * chunks reserved before a failure stay reserved. */
int  limbo_reserve(struct limbo *l, struct alloc_heap *h, struct seg *s, uint32_t n);
/* Put block `off` (a payload offset, state USED) in limbo with RCU stamp `stamp`.
 * Needs a limbo_reserve() that covered it. */
void limbo_retire(struct limbo *l, struct alloc_heap *h, struct seg *s, uint64_t off, uint64_t stamp);
/* Free, oldest first, at most `max` entries whose stamp is below `safe` (rcu_safe_epoch).
 * Returns the number freed.  Bounded: O(max) work. */
uint64_t limbo_reclaim(struct limbo *l, struct alloc_heap *h, struct seg *s, uint64_t safe, uint64_t max);
/* Recovery's mark phase: call mark() for every chunk (spares included) and every entry. */
void limbo_mark(const struct limbo *l, const struct seg *s, void (*mark)(void *arg, uint64_t off), void *arg);
/* Recovery after a writer died inside a limbo call: cut chains at the first block that is not
 * a chunk, put the tail back at the end of the chain, recount entries and spares.  Blocks cut
 * off are left unmarked, for the sweep.  Call before limbo_mark(). */
void limbo_repair(struct limbo *l, const struct alloc_heap *h, const struct seg *s);
/* L.1 chunks form a chain from head to tail inside the heap; L.2 every entry names a LIMBO
 * block, once; L.3 `entries` counts them; returns the bytes of limbo blocks through *bytes. */
int  limbo_check(const struct limbo *l, const struct alloc_heap *h, const struct seg *s, uint64_t *bytes);

#endif
