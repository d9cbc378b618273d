/*
 * commit.h — private to libshmets (not installed): the write side's crash safety (commit.c):
 * the writer locks of a table, publishing a write plan through its intent record, recovery,
 * reclamation, and the readers' side of a multi-word publish (T.3).
 */
#ifndef SHMETS_COMMIT_H
#define SHMETS_COMMIT_H

#include "store/plan.h"
#include "store/tab.h"

/*
 * A write takes one stripe (the one that owns its key's buckets: hash % nstripes) or all of
 * them (TAB_ALL: multi-key writes, resizes, check, delete).  The plan records which. */
/* The stripe of a key's hash. */
static inline int tab_stripe(const struct tab *t, uint64_t hash)
{
    return (int)(hash & (t->h->nstripes - 1));
}
/* Take stripe `stripe` (or TAB_ALL), repairing first what a dead holder left.
 * Returns 0, -SHMETS_EOWNER (no write access), -SHMETS_ENOENT (deleted), -SHMETS_EBADSEG. */
int  tab_lock(struct tab *t, struct plan *p, int stripe);
void tab_unlock(struct tab *t, struct plan *p);
/* The heap and limbo, for a writer holding one stripe (no-op when it holds all, or the table
 * has one stripe).  plan_alloc and tab_commit call them. */
int  tab_heap_enter(struct tab *t, struct plan *p);
void tab_heap_leave(struct tab *t, struct plan *p);
/* Publish a plan (DESIGN.md §6): reserve limbo room, write the intent record, make the
 * stores, retire what they unlinked, update counts.  On failure nothing is published and the
 * plan's fresh blocks are freed.  Returns 0 or an allocator error.  Caller holds the lock. */
int  tab_commit(struct tab *t, struct plan *p);
/* Drop a plan that will not be published: free its fresh blocks. */
void tab_abandon(struct tab *t, struct plan *p);
/* Wait until no reader can hold memory unlinked before now (caller holds TAB_ALL). */
int  tab_synchronize(struct tab *t);
/* Reclaim up to max retired blocks after a grace period (caller holds the heap). */
int  tab_reclaim(struct tab *t, uint64_t max, uint64_t *freed);
/* Every invariant of the table (caller holds TAB_ALL). */
int  tab_check(struct tab *t);

/* Allocate a block for the plan (listed in fresh[]), taking the heap if the writer holds one
 * stripe.  Returns 0 or an allocator error. */
int plan_alloc(struct plan *p, struct tab *t, uint64_t size, uint64_t *off);

/* Readers: wait out a multi-word publish, and tell whether one happened meanwhile (T.3).
 * tab_seq_begin is one load inline when no publish is in progress (every read of the short
 * path starts with it); tab_seq_wait spins the rest out of line. */
uint64_t tab_seq_wait(const struct tab *t);
static inline uint64_t tab_seq_begin(const struct tab *t)
{
    uint64_t s = atomic_load_explicit(&t->h->root.seq, memory_order_acquire);
    return __builtin_expect(s & 1, 0) ? tab_seq_wait(t) : s;
}
static inline int tab_seq_retry(const struct tab *t, uint64_t s)
{
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&t->h->root.seq, memory_order_relaxed) != s;
}

#endif
