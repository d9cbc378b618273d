/*
 * plan.h — private to libshmets (not installed): the write plan, in process memory, through
 * which every index change is published (plan.c; commit.c publishes it).
 */
#ifndef SHMETS_PLAN_H
#define SHMETS_PLAN_H

#include "mem/seg.h"
#include <stddef.h>
#include <stdint.h>

/*
 * A write plan: the stores that publish a write, in order, and what they unlink.
 *   st[]      (offset, value) pairs: each value is stored with release order into the 64-bit
 *             word at that offset.  Replaying them is idempotent (recovery relies on it).
 *   retire[]  payload offsets of blocks the stores unlink (to limbo after the publish).
 *   fresh[]   payload offsets of blocks the plan allocated (freed if the plan is abandoned).
 * The index reads a word through plan_word(), which sees the plan's own pending stores, so
 * one plan can make several changes to the same bucket or chain.
 */
struct plan_store { uint64_t off, val; };

/* Room inside the plan for a small write (a one-key insert plans a few stores, a fresh block
 * or two, a retired one), so that it allocates nothing: malloc and free were ~1,700 of the
 * ~3,700 instructions of a replacing insert.  Larger plans move to the heap. */
#define PLAN_IN_ST   16
#define PLAN_LINEAR  16         /* stores found by a scan; beyond, by a hash (plan.c) */
#define PLAN_IN_BLK  8

struct plan {
    struct plan_store *st;
    size_t nst, cst;
    uint64_t *retire;
    size_t nretire, cretire;
    uint64_t *fresh;
    size_t nfresh, cfresh;
    uint64_t *map;              /* open-addressed set of indexes into st[] by offset, +1;
                                   NULL up to PLAN_LINEAR stores (a scan finds them) */
    size_t cmap;
    int64_t dobjs, dkeys;       /* change of the object and key counts */
    int err;                    /* sticky: 0 or -SHMETS_ENOMEM (process memory) */
    int stripe;                 /* the writer lock held: a stripe, or TAB_ALL (tab.h) */
    int heap_held;              /* this writer holds the heap (TAB_ALL, or one stripe of one) */
    int multi;                  /* the publish changes several keys: readers must see it whole */
    /* The inline room (PLAN_IN_*); st, retire and fresh point here until they grow.  A
     * plan is therefore never copied, only passed by pointer. */
    struct plan_store st_in[PLAN_IN_ST];
    uint64_t retire_in[PLAN_IN_BLK], fresh_in[PLAN_IN_BLK];
};

void plan_init(struct plan *p);
/* Frees what the plan allocated; plan_init it again before any reuse. */
void plan_free(struct plan *p);
/* Record a store (a later store to the same offset replaces the earlier one's value). */
void plan_store(struct plan *p, uint64_t off, uint64_t val);
/* The value the word at `off` will have once the plan is published. */
uint64_t plan_word(const struct plan *p, const struct seg *s, uint64_t off);
void plan_retire(struct plan *p, uint64_t off);
/* Room in fresh[] for one more block (plan_alloc, commit.h, fills it).  0 or -SHMETS_ENOMEM. */
int plan_fresh_room(struct plan *p);

#endif
