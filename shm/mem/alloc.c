/*
 * alloc.c — the heap of a table segment: size classes, reuse, page runs given back.
 *
 * WHY OUR OWN: the heap lives in shared memory, is addressed by offsets, must survive the death
 * of the process that was using it (recovery re-derives it from the index) and must let
 * shmets_check() prove its accounting.  No general-purpose allocator does that across
 * processes, so we write a small one, on the model of a segregated-fit slab allocator.
 *
 * LAYOUT
 * The heap is a run of blocks from `start` to `top`, each an 8-byte header (size/8, state tag)
 * and a payload; the blocks tile [start, top) exactly, so the heap can be walked from start
 * without any index (recovery and check do).  Payloads are 8-byte aligned.  Blocks up to
 * ALLOC_SMALL_MAX bytes come in ALLOC_NCLASS size classes (8-byte steps to 128 B, then four
 * classes per power of two: 160, 192, 224, 256, 320, ...; the small objects most tables hold
 * round up by at most 7 bytes), each with a LIFO free list linked
 * through the first payload word.  Larger blocks are whole pages, kept on one first-fit list
 * when free; a freed page run gives its pages (all but the first) back to the system with
 * fallocate(PUNCH_HOLE) and has them backed again (posix_fallocate) when it is reused, so a
 * full /dev/shm is an error at allocation, never a SIGBUS.  New blocks are carved at `top`;
 * the segment's committed part grows ahead of `top` in steps of a 64th of the heap (at
 * least 1 MiB, at most 16 MiB), capped by the segment's maximum size: backed memory that holds
 * no block yet stays within ~1.6% of the heap (an eighth cost a 1M-object table 8% of its memory).
 *
 * The size classes are a constant table (H.0 in alloc.c below), never process-local state
 * filled in by some calls: the free lists in shared memory are indexed by class, so every
 * process, whichever call it makes first, must file a block under the same class.
 *
 * What it does not do (yet): coalesce neighbouring free blocks, or move `top` back down.  A
 * table whose objects change size class keeps the memory of the old class for reuse by
 * objects of that class; info(memory) counts it as free heap.
 *
 * CONCURRENCY: writers only (the table's writer lock).  Readers never look at headers or
 * free lists; they read payloads, which stay untouched until RCU says no reader can hold them.
 *
 * CRASH SAFETY: a writer can die between any two stores here.  The free lists and counters are
 * then untrustworthy, but headers are written before a block is linked anywhere, so the heap
 * still tiles.  alloc_rebuild() walks it and rebuilds lists and counters from the headers and
 * from what the index reaches (mark and sweep); nothing leaks and nothing is freed twice.
 *
 * BOUNDS: every call does O(1) work except a large allocation (first fit over the free page
 * runs) and rebuild/check (a walk of the heap).
 */
#include "mem/alloc.h"
#include "mem/wlock.h"
#include "shmets.h"
#include "base/util.h"

#include <string.h>

int alloc_poison;

/* The size classes, a constant of the program (never state to initialise): 8-byte steps to
 * 128 B, then four classes per power of two.  H.0: every process, whatever calls it has made,
 * sees the same table — the free lists in shared memory are indexed by it.  (It was built
 * lazily by the allocating calls; a process whose first heap call was a free, such as a
 * reclaimer that had never allocated, found it all zeros and filed every block under the last
 * class: issue 21.) */
static const uint32_t class_size[ALLOC_NCLASS] = {
    16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128,
    160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024,
    1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192,
    10240, 12288, 14336, 16384, 20480, 24576, 28672, 32768, 40960, 49152, 57344, 65536,
};
_Static_assert(sizeof class_size / sizeof class_size[0] == ALLOC_NCLASS, "one size per class");

/* The smallest class that holds a block of b bytes (the last class past ALLOC_SMALL_MAX), by
 * the table's rule, not a search of it (a binary search cost every write ~110 instructions):
 * up to 128 B, class (b+7)/8 - 2; above, with 2^e < b <= 2^(e+1), the quarter of the octave
 * that holds b.  tests/test_seg_alloc.c checks it against the table for every small size. */
static unsigned class_of(uint64_t b)
{
    if (b <= 128)
        return b <= 16 ? 0 : (unsigned)((b + 7) / 8 - 2);
    if (b > ALLOC_SMALL_MAX)
        return ALLOC_NCLASS - 1;
    unsigned e = 63u - (unsigned)__builtin_clzll(b - 1);          /* 7 .. 15 */
    unsigned q = (unsigned)((b - (1ull << e) + (1ull << (e - 2)) - 1) >> (e - 2));   /* 1 .. 4 */
    return 15 + (e - 7) * 4 + q - 1;
}

static struct blk *blk_at(const struct seg *s, uint64_t blk_off)
{
    return (struct blk *)(s->base + blk_off);
}

static uint64_t *next_of(const struct seg *s, uint64_t blk_off)
{
    return (uint64_t *)(s->base + blk_off + ALLOC_HDR);
}

int alloc_init(struct alloc_heap *h, struct seg *s, uint64_t start, uint64_t obj_max)
{
    (void)s;
    memset(h, 0, sizeof *h);
    h->start = h->top = (start + 7) & ~(uint64_t)7;
    h->obj_max = obj_max ? obj_max : ALLOC_OBJ_MAX_DEFAULT;
    return 0;
}

static int carve(struct alloc_heap *h, struct seg *s, uint64_t b, uint64_t *blk_off)
{
    uint64_t need = h->top + b;
    uint64_t committed = atomic_load_explicit(&seg_hdr(s)->committed, memory_order_relaxed);
    if (need > committed) {
        uint64_t step = (h->top - h->start) / 64;
        if (step < (1u << 20))
            step = 1u << 20;
        if (step > (16u << 20))
            step = 16u << 20;
        uint64_t want = need + step > s->size ? need : need + step;
        int rc = seg_grow(s, want);
        if (rc == -SHMETS_ENOMEM && want > need)
            rc = seg_grow(s, need);         /* the step did not fit: just what is needed */
        if (rc)
            return rc;
    }
    struct blk *k = blk_at(s, h->top);
    k->size8 = (uint32_t)(b / 8);
    k->tag = BLK_USED;
    CRASH_POINT("alloc.carve");         /* header written, top not yet moved */
    *blk_off = h->top;
    h->top = need;
    __atomic_store_n(&h->blocks, h->blocks + 1, __ATOMIC_RELAXED);     /* readers bound walks by it */
    return 0;
}

int alloc_alloc(struct alloc_heap *h, struct seg *s, uint64_t size, uint64_t *off)
{
    if (size > h->obj_max)
        return err_set(SHMETS_ETOOBIG, "object of %llu bytes; this table's largest is %llu",
                       (unsigned long long)size, (unsigned long long)h->obj_max);
    uint64_t b = (size + ALLOC_HDR + 7) & ~(uint64_t)7;
    if (b < 16)
        b = 16;
    uint64_t blk_off;
    int rc;
    if (b <= ALLOC_SMALL_MAX) {
        unsigned c = class_of(b);
        b = class_size[c];
        if (h->free_small[c]) {
            blk_off = h->free_small[c];
            h->free_small[c] = *next_of(s, blk_off);
            atomic_fetch_sub_explicit(&h->free_bytes, b, memory_order_relaxed);
            blk_at(s, blk_off)->tag = BLK_USED;
        } else if ((rc = carve(h, s, b, &blk_off))) {
            return rc;
        }
    } else {
        b = (b + SEG_PAGE - 1) & ~(uint64_t)(SEG_PAGE - 1);
        uint64_t *link = &h->free_large;
        blk_off = 0;
        while (*link) {
            uint64_t cand = *link;
            if ((uint64_t)blk_at(s, cand)->size8 * 8 >= b) {
                uint64_t cb = (uint64_t)blk_at(s, cand)->size8 * 8;
                if ((rc = seg_back(s, cand, cb)))      /* its pages were punched */
                    return rc;
                *link = *next_of(s, cand);
                blk_off = cand;
                b = cb;
                atomic_fetch_sub_explicit(&h->free_bytes, b, memory_order_relaxed);
                blk_at(s, blk_off)->tag = BLK_USED;
                break;
            }
            link = next_of(s, cand);
        }
        if (!blk_off && (rc = carve(h, s, b, &blk_off)))
            return rc;
    }
    atomic_fetch_add_explicit(&h->used_bytes, b, memory_order_relaxed);
    *off = blk_off + ALLOC_HDR;
    return 0;
}

uint64_t alloc_capacity(const struct seg *s, uint64_t off)
{
    return (uint64_t)blk_at(s, off - ALLOC_HDR)->size8 * 8 - ALLOC_HDR;
}

static void push_free(struct alloc_heap *h, struct seg *s, uint64_t blk_off)
{
    struct blk *k = blk_at(s, blk_off);
    uint64_t b = (uint64_t)k->size8 * 8;
    if (alloc_poison)
        memset(s->base + blk_off + ALLOC_HDR, ALLOC_POISON, b - ALLOC_HDR);
    k->tag = BLK_FREE;
    CRASH_POINT("alloc.free");          /* tagged free, not yet on a list */
    if (b <= ALLOC_SMALL_MAX) {
        unsigned c = class_of(b);
        *next_of(s, blk_off) = h->free_small[c];
        h->free_small[c] = blk_off;
    } else {
        seg_punch(s, blk_off + SEG_PAGE, b - SEG_PAGE);    /* best effort */
        *next_of(s, blk_off) = h->free_large;
        h->free_large = blk_off;
    }
    atomic_fetch_add_explicit(&h->free_bytes, b, memory_order_relaxed);
}

void alloc_free(struct alloc_heap *h, struct seg *s, uint64_t off)
{
    uint64_t blk_off = off - ALLOC_HDR;
    struct blk *k = blk_at(s, blk_off);
    INVARIANT(k->tag == BLK_USED || k->tag == BLK_LIMBO);
    atomic_fetch_sub_explicit(&h->used_bytes, (uint64_t)k->size8 * 8, memory_order_relaxed);
    push_free(h, s, blk_off);
}

void alloc_retire(struct alloc_heap *h, struct seg *s, uint64_t off)
{
    (void)h;
    struct blk *k = blk_at(s, off - ALLOC_HDR);
    INVARIANT(k->tag == BLK_USED);
    k->tag = BLK_LIMBO;
}

int alloc_is_block(const struct alloc_heap *h, const struct seg *s, uint64_t off, uint32_t tag)
{
    if (off < h->start + ALLOC_HDR || off > h->top || (off & 7))
        return 0;
    const struct blk *k = blk_at(s, off - ALLOC_HDR);
    return k->tag == tag && off - ALLOC_HDR + (uint64_t)k->size8 * 8 <= h->top && k->size8 >= 2;
}

static int walk_bad(uint64_t at, const char *what)
{
    return err_set(SHMETS_EBADSEG, "heap damaged at offset %llu: %s" SALVAGE_HINT, (unsigned long long)at, what);
}

long alloc_rebuild(struct alloc_heap *h, struct seg *s, int (*live)(void *, uint64_t, uint32_t), void *arg)
{
    uint64_t committed = atomic_load_explicit(&seg_hdr(s)->committed, memory_order_relaxed);
    if (h->top > committed || h->start > h->top)
        return walk_bad(h->top, "top is beyond the committed memory");
    memset(h->free_small, 0, sizeof h->free_small);
    h->free_large = 0;
    atomic_store(&h->used_bytes, 0);
    atomic_store(&h->free_bytes, 0);
    long freed = 0;
    uint64_t blocks = 0;
    for (uint64_t at = h->start; at < h->top;) {
        struct blk *k = blk_at(s, at);
        uint64_t b = (uint64_t)k->size8 * 8;
        if (b < 16 || b > h->top - at)
            return walk_bad(at, "block size out of bounds");
        if (k->tag != BLK_USED && k->tag != BLK_LIMBO && k->tag != BLK_FREE) {
            /* A block carved at top by a writer that died before its header was complete is
             * the only way to get here without damage: top is advanced after the header. */
            return walk_bad(at, "unknown block tag");
        }
        if (k->tag != BLK_FREE && live(arg, at + ALLOC_HDR, k->tag)) {
            atomic_fetch_add_explicit(&h->used_bytes, b, memory_order_relaxed);
        } else {
            if (k->tag != BLK_FREE)
                freed++;
            push_free(h, s, at);
        }
        blocks++;
        at += b;
    }
    __atomic_store_n(&h->blocks, blocks, __ATOMIC_RELAXED);
    return freed;
}

int alloc_check(const struct alloc_heap *h, const struct seg *s, uint64_t *used, uint64_t *limbo)
{
    uint64_t committed = atomic_load_explicit(&seg_hdr(s)->committed, memory_order_relaxed);
    if (h->start > h->top || h->top > committed)
        return walk_bad(h->top, "H.1 top is outside the committed memory");
    uint64_t u = 0, l = 0, f = 0, nfree = 0, blocks = 0;
    for (uint64_t at = h->start; at < h->top;) {       /* H.1 */
        const struct blk *k = blk_at(s, at);
        uint64_t b = (uint64_t)k->size8 * 8;
        if (b < 16 || b > h->top - at)
            return walk_bad(at, "H.1 block size out of bounds");
        if (k->tag == BLK_USED) u += b;
        else if (k->tag == BLK_LIMBO) l += b;
        else if (k->tag == BLK_FREE) { f += b; nfree++; }
        else return walk_bad(at, "H.1 unknown block tag");
        blocks++;
        at += b;
    }
    if (blocks != h->blocks)
        return walk_bad(h->start, "H.1 block count disagrees with the heap walk");
    if (u + l != atomic_load(&h->used_bytes) || f != atomic_load(&h->free_bytes))   /* H.2 */
        return err_set(SHMETS_EBADSEG, "H.2 heap counters (used %llu, free %llu) disagree with the walk (used %llu, free %llu)",
                       (unsigned long long)atomic_load(&h->used_bytes), (unsigned long long)atomic_load(&h->free_bytes),
                       (unsigned long long)(u + l), (unsigned long long)f);
    uint64_t listed = 0;                                /* H.3 */
    for (unsigned c = 0; c <= ALLOC_NCLASS; c++) {
        uint64_t at = c < ALLOC_NCLASS ? h->free_small[c] : h->free_large;
        while (at) {
            if (!alloc_is_block(h, s, at + ALLOC_HDR, BLK_FREE))
                return walk_bad(at, "H.3 free list names a block that is not free");
            uint64_t b = (uint64_t)blk_at(s, at)->size8 * 8;
            if (c < ALLOC_NCLASS ? class_size[c] != b : b <= ALLOC_SMALL_MAX)
                return walk_bad(at, "H.3 free block on the list of another class");
            if (++listed > nfree)
                return walk_bad(at, "H.3 free lists are longer than the free blocks (a cycle?)");
            at = *next_of(s, at);
        }
    }
    if (listed != nfree)
        return walk_bad(h->start, "H.3 a free block is on no free list");
    if (used) *used = u;
    if (limbo) *limbo = l;
    return 0;
}
