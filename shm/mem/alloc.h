/*
 * alloc.h — private to libshmets (not installed): the heap allocator of a table segment.
 * See alloc.c for the design.  Every call that changes the heap needs the table's writer lock;
 * alloc_stats() may be read without it (the numbers are then a moment's snapshot).
 */
#ifndef SHMETS_ALLOC_H
#define SHMETS_ALLOC_H

#include "mem/seg.h"
#include <stdatomic.h>
#include <stdint.h>

#define ALLOC_NCLASS      51            /* small size classes, 16 B .. ALLOC_SMALL_MAX */
#define ALLOC_SMALL_MAX   65536u        /* larger blocks are page runs */
#define ALLOC_HDR         8u            /* bytes of a block header */
#define ALLOC_OBJ_MAX_DEFAULT (64u << 20)

/* Block states, in the header's tag word. */
#define BLK_USED   0xA110C8EDu
#define BLK_FREE   0xF4EEB10Cu
#define BLK_LIMBO  0x11B0B10Cu          /* retired, waiting for readers (rcu) */

struct blk {
    uint32_t size8;     /* block size (header included) / 8 */
    uint32_t tag;       /* BLK_USED, BLK_FREE, BLK_LIMBO */
};

/* Lives in the table segment's header; offsets are from the segment base. */
struct alloc_heap {
    uint64_t start;                 /* first block */
    uint64_t top;                   /* end of the blocks ever carved */
    uint64_t obj_max;               /* largest payload allowed */
    uint64_t free_small[ALLOC_NCLASS];
    uint64_t free_large;            /* first-fit list of free page runs */
    _Atomic uint64_t used_bytes;    /* blocks in use or in limbo, headers included */
    _Atomic uint64_t free_bytes;    /* blocks on free lists */
    uint64_t blocks;                /* number of blocks between start and top (stored with
                                       __atomic_store_n: readers load it to bound a walk) */
};

int  alloc_init(struct alloc_heap *h, struct seg *s, uint64_t start, uint64_t obj_max);
/* A block with at least `size` payload bytes: *off is the payload's offset.
 * Returns 0, -SHMETS_ETOOBIG (size > obj_max) or -SHMETS_ENOMEM (segment full, /dev/shm full). */
int  alloc_alloc(struct alloc_heap *h, struct seg *s, uint64_t size, uint64_t *off);
/* Free a payload offset from alloc_alloc (state USED or LIMBO). */
void alloc_free(struct alloc_heap *h, struct seg *s, uint64_t off);
/* Mark a block retired (LIMBO): still counted as used, not yet reusable. */
void alloc_retire(struct alloc_heap *h, struct seg *s, uint64_t off);
/* Payload capacity of a block. */
uint64_t alloc_capacity(const struct seg *s, uint64_t off);
/* Is off the payload of a block in state `tag`?  (bounds- and header-checked, for recovery) */
int  alloc_is_block(const struct alloc_heap *h, const struct seg *s, uint64_t off, uint32_t tag);

/* Recovery (mark and sweep): every block not marked live by `live` becomes free; the free lists
 * and counters are rebuilt from a walk of the heap.  `live` is called for each USED or LIMBO
 * block with its payload offset; it returns 1 to keep the block.  Returns blocks freed, or a
 * negative -SHMETS_EBADSEG if the walk finds a damaged header. */
long alloc_rebuild(struct alloc_heap *h, struct seg *s, int (*live)(void *arg, uint64_t off, uint32_t tag), void *arg);

/* Every invariant of the heap (S = start, T = top):
 *   H.1 the blocks tile [S, T) exactly: each header in bounds, size >= 16, tag known;
 *   H.2 used_bytes + free_bytes == T - S;
 *   H.3 every free-list entry is a FREE block of the list's class, each listed once, and every
 *       FREE block is on a list.
 * On failure writes the reason (err detail) and returns -SHMETS_EBADSEG.  Counts of USED and
 * LIMBO bytes come back through the pointers (may be NULL) for the caller's cross-check. */
int  alloc_check(const struct alloc_heap *h, const struct seg *s, uint64_t *used, uint64_t *limbo);

/* Poison freed payloads (test builds set this; readers assert they never see poison). */
#define ALLOC_POISON 0xDEu
extern int alloc_poison;

#endif
