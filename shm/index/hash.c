/*
 * hash.c — the hash index of set, bag and duplicate_bag tables, read under RCU.
 *
 * WHY OUR OWN: the index lives in shared memory, is addressed by offsets, is read by processes
 * that take no lock, and must be rebuilt by whoever finds its writer dead.  liburcu's rculfhash
 * and DPDK's rte_hash are the models (split buckets; cache-line buckets with signatures), but
 * neither works over offsets across processes with our crash recovery, so we write it.
 *
 * LAYOUT
 * The root word (index_root.word, one atomic 64-bit load for a reader) holds the offset of the
 * bucket array, 64-byte aligned, with log2 of its bucket count in the low 6 bits.  A bucket is
 * one cache line: seven entries and the offset of an overflow bucket (0: none).  An entry is
 * one 64-bit word, 0 when empty, else
 *         fingerprint (the hash's top 24 bits) << 40  |  object offset / 8   (40 bits)
 * so a lookup reads one bucket line and touches an object only when a fingerprint matches: a
 * miss costs one cache miss in the common case, a hit two (DESIGN.md §5).  The word before the
 * array holds the payload offset of the block it lives in (for retiring and marking).
 * Objects of one key in a bag or duplicate_bag hang off the entry as a chain through
 * sobj.next, in insertion order.
 *
 * READERS (no lock, inside a read section)
 *   load the root word (acquire); bucket = hash & mask; compare fingerprints of the seven
 *   entries; on a match compare the object's key bytes (objects keep no hash: sobj.h); follow
 *   the overflow link.
 *   Every offset is bounds-checked against the mapping and every walk is bounded, so a
 *   damaged segment gives wrong answers at worst, never a wild read or an endless loop.
 *
 * WRITERS plan (index.h): an insert stores the new entry into a free slot (or links a fresh
 * overflow bucket holding it), a replacement stores the new entry over the old one, an append
 * stores the new chain into the last object's `next`, a delete stores 0 into the entry.  Each
 * of these is one aligned 64-bit store, so a reader sees the old state or the new, whole.
 *
 * GUARANTEES
 *   H.1 Every published entry names a whole object: objects are written before the store
 *       that publishes them (release), and read after the load that found them (acquire).
 *   H.2 Resizing never blocks readers: the new array is built from the live entries, then
 *       published by one store of the root word; the old array and its overflow buckets are
 *       retired through RCU, so a reader still walking them finishes undisturbed.  Objects do
 *       not move.
 *   H.3 A bag's objects of one key are in insertion order: appends go to the tail.
 *
 * COSTS AND BOUNDS: a lookup reads 1 bucket + (rarely) overflow buckets + matching objects.
 * The array doubles when keys exceed 5 per bucket and halves below 1 per 2 buckets, aiming at
 * 2-4 keys per bucket after a resize (so the load stays within 2.5-5 of the 7 slots while a
 * table grows: a bucket line costs 13-26 bytes a key, not 32-64, and at 5 keys a bucket fewer
 * than 1 key in 25 sits in an overflow bucket); a resize is O(keys) for the writer that triggers it
 * (amortised O(1) per insert).  This departs from CONVENTIONS.md item 8 (bounded steps):
 * an incremental migration (readers check the old array and then the new, writers move a few
 * buckets per write) keeps readers lock-free too and is the planned refinement; until then a
 * writer that doubles a 100-million-key table pays that rehash once.  Readers never wait.
 *
 * CRASH SAFETY: nothing here is published except through the plan (table.c's intent record);
 * a writer that dies while planning leaves only fresh, unreachable blocks, which recovery's
 * sweep frees.  mark() and check() walk only what the root word reaches.
 */
#include "index/hash_read.h"
#include "store/commit.h"
#include "store/index.h"
#include "store/sobj.h"
#include "store/tab.h"
#include "term/term.h"
#include "shmets.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

#define LG_MIN       3          /* 8 buckets: at least one per stripe (TAB_STRIPES) */
#define GROW_LOAD    5          /* keys per bucket that make the array double */
#define AIM_LOAD     4          /* at most this many keys per bucket after a resize */

/* A stripe owns the buckets whose index is the stripe number modulo TAB_STRIPES, with their
 * overflow chains and their keys' objects; so every array must have TAB_STRIPES buckets or
 * more. */
_Static_assert((1u << LG_MIN) >= TAB_STRIPES, "every stripe owns whole buckets");

static inline uint64_t entry_make(uint64_t hash, uint64_t off)
{
    return (hash >> FP_SHIFT) << FP_SHIFT | off >> 3;
}

static inline int entry_fp_is(uint64_t e, uint64_t hash) { return (e >> FP_SHIFT) == (hash >> FP_SHIFT); }

/* ---- readers (hash_read.h) ------------------------------------------------------------ */

static uint64_t hash_lookup(const struct tab *t, const unsigned char *key, uint32_t klen, uint64_t hash)
{
    return hash_read(t, key, klen, hash);
}

/*
 * TRAVERSAL ORDER (first/next, foldl, tab2list): keys in order of their bit-reversed hash
 * (ties: length, then bytes).  Bucket b of an array of 2^lg holds the keys whose hash ends
 * in b, whose reversed hashes all begin with b reversed; so the order is "buckets in order of
 * their reversed index, each bucket's keys sorted" for every lg.  Doubling splits bucket b into
 * b and b + 2^lg, which are neighbours in that order, and halving merges them back: a resize
 * between two next() calls changes nothing (split-ordered lists, Shalev and Shavit; liburcu's
 * rculfhash orders its buckets the same way).  next(K) needs only K's hash and bytes, so K
 * need not be in the table any more.
 */
static inline uint64_t rev64(uint64_t x)
{
    x = (x >> 1 & 0x5555555555555555ull) | (x & 0x5555555555555555ull) << 1;
    x = (x >> 2 & 0x3333333333333333ull) | (x & 0x3333333333333333ull) << 2;
    x = (x >> 4 & 0x0F0F0F0F0F0F0F0Full) | (x & 0x0F0F0F0F0F0F0F0Full) << 4;
    return __builtin_bswap64(x);
}

struct hpos {
    uint64_t rh;                /* the reversed hash */
    const unsigned char *key;
    uint32_t klen;
};

static int hpos_cmp(const struct hpos *a, const struct hpos *b)
{
    if (a->rh != b->rh)
        return a->rh < b->rh ? -1 : 1;
    if (a->klen != b->klen)
        return a->klen < b->klen ? -1 : 1;
    return memcmp(a->key, b->key, a->klen);
}

/* The smallest key of bucket chain boff after `after` (NULL: any), as an object offset.
 * Objects keep no hash: each key of the chain is hashed again (a few ns for a short key). */
static uint64_t bucket_min(const struct tab *t, uint64_t boff, const struct hpos *after)
{
    const struct seg *s = &t->s;
    uint64_t best = 0;
    struct hpos bp = { 0, NULL, 0 };
    for (unsigned hops = 0; boff && hops < HOPS_MAX; hops++) {
        const struct hbucket *b = bucket_at(s, boff);
        if (!b)
            break;
        for (int i = 0; i < HB_SLOTS; i++) {
            uint64_t e = atomic_load_explicit(&b->e[i], memory_order_acquire);
            const struct sobj *o = e ? sobj_at(s, entry_off(e)) : NULL;
            if (!o || !sobj_key_ok(o))      /* term_span: the hash walks the key */
                continue;
            struct hpos op = { rev64(sobj_hash(t, o)), sobj_key(o), sobj_klen(o) };
            if ((after && hpos_cmp(after, &op) >= 0) || (best && hpos_cmp(&bp, &op) <= 0))
                continue;
            best = entry_off(e);
            bp = op;
        }
        boff = atomic_load_explicit(&b->next, memory_order_acquire);
    }
    return best;
}

/* The first key after `after` (NULL: the first key), from bucket b on. */
static uint64_t scan_from(const struct tab *t, uint64_t b, const struct hpos *after)
{
    uint64_t w = atomic_load_explicit(&t->h->root.word, memory_order_acquire);
    unsigned lg = root_lg(w);
    if (lg > LG_MAX || lg < 1)
        return 0;
    uint64_t nb = 1ull << lg;
    b &= nb - 1;
    for (uint64_t r = rev64(b) >> (64 - lg); r < nb; r++) {
        uint64_t o = bucket_min(t, root_base(w) + (rev64(r) >> (64 - lg)) * sizeof(struct hbucket), after);
        if (o)
            return o;
        after = NULL;                   /* later buckets hold only later keys */
    }
    return 0;
}

static uint64_t hash_first(const struct tab *t)
{
    return scan_from(t, 0, NULL);
}

static uint64_t hash_next(const struct tab *t, const unsigned char *key, uint32_t klen, uint64_t hash)
{
    struct hpos a = { rev64(hash), key, klen };
    return scan_from(t, hash, &a);
}

static int hash_slot(const struct tab *t, uint64_t i, index_visit_fn fn, void *arg)
{
    const struct seg *s = &t->s;
    uint64_t w = atomic_load_explicit(&t->h->root.word, memory_order_acquire);
    unsigned lg = root_lg(w);
    if (lg > LG_MAX)
        return 0;
    if (i >= 1ull << lg)
        return i == 1ull << lg ? 0 : -SHMETS_EBADPOS;
    uint64_t boff = root_base(w) + i * sizeof(struct hbucket);
    for (unsigned hops = 0; boff && hops < HOPS_MAX; hops++) {
        const struct hbucket *b = bucket_at(s, boff);
        if (!b)
            break;
        for (int k = 0; k < HB_SLOTS; k++) {
            uint64_t e = atomic_load_explicit(&b->e[k], memory_order_acquire);
            if (e && sobj_at(s, entry_off(e)))
                fn(arg, entry_off(e));
        }
        boff = atomic_load_explicit(&b->next, memory_order_acquire);
    }
    return 1;
}

/*
 * BATCHED LOOKUPS (DESIGN.md §5): a single lookup waits for its bucket line, then for its
 * object.  In a batch, every key's bucket is prefetched first, then every bucket is scanned and
 * its candidate object prefetched, then the keys are compared: the misses of HASH_BULK keys
 * overlap.  A key whose bucket has several candidates, or none but an overflow chain, falls
 * back to the plain lookup (rare at 2-5 keys a bucket).  The reader is hash_read.h's
 * (BATCHES: hash_bulk_probe for the first two passes, hash_bulk_obj for the third), which
 * the short path (tabfast.c) calls inline on prepared keys, its view loop fused with the
 * third pass.
 */

static void hash_lookup_bulk(const struct tab *t, const shmets_key *k, size_t n, uint64_t *out)
{
    for (size_t g = 0; g < n; g += HASH_BULK) {
        size_t m = n - g < HASH_BULK ? n - g : HASH_BULK;
        const struct sobj *o[HASH_BULK];
        hash_read_bulk(t, k + g, m, o);
        for (size_t i = 0; i < m; i++)
            out[g + i] = o[i] ? (uint64_t)((const unsigned char *)o[i] - t->s.base) : 0;
    }
}

/* ---- writers -------------------------------------------------------------------------- */

/* Where a key's entry is (*slot: offset of the entry word, *val its planned value), or where
 * a new one could go (*slot of the first free entry, *val 0; or *slot 0 and *last the last
 * bucket of the chain).  Returns 1 if the key is there. */
static int find_slot(const struct tab *t, const struct plan *p, const unsigned char *key, uint32_t klen,
                     uint64_t hash, uint64_t *slot, uint64_t *val, uint64_t *last)
{
    const struct seg *s = &t->s;
    uint64_t w = plan_word(p, s, offsetof(struct tab_hdr, root.word));
    uint64_t boff = root_base(w) + (hash & ((1ull << root_lg(w)) - 1)) * sizeof(struct hbucket);
    uint64_t free_slot = 0;
    for (unsigned hops = 0; boff && hops < HOPS_MAX; hops++) {
        if (!bucket_at(s, boff))
            break;                      /* damaged: the callers' chain checks report it */
        for (int i = 0; i < HB_SLOTS; i++) {
            uint64_t at = boff + (uint64_t)i * 8;
            uint64_t e = plan_word(p, s, at);
            if (!e) {
                if (!free_slot)
                    free_slot = at;
            } else if (entry_fp_is(e, hash)) {
                const struct sobj *o = sobj_at(s, entry_off(e));
                if (o && key_is(o, key, klen)) {
                    *slot = at;
                    *val = e;
                    return 1;
                }
            }
        }
        *last = boff;
        boff = plan_word(p, s, boff + offsetof(struct hbucket, next));
    }
    *slot = free_slot;
    *val = 0;
    return 0;
}

/* Objects in the chain from off; a chain that leaves the segment or loops (a damaged
 * segment) counts as UINT64_MAX, which the callers turn into -SHMETS_EBADSEG. */
static uint64_t chain_len(const struct seg *s, uint64_t off)
{
    uint64_t n = 0, cap = s->size / 16;     /* blocks are 16 bytes or more */
    for (; off; n++) {
        const struct sobj *o = sobj_at(s, off);
        if (!o || n >= cap)
            return UINT64_MAX;
        off = sobj_next(o);
    }
    return n;
}

static int damaged(const char *what)
{
    return err_set(SHMETS_EBADSEG, "hash index: %s (a damaged segment)" SALVAGE_HINT, what);
}

/* Place entry value `e` into a free slot found by find_slot(), or into a fresh overflow
 * bucket linked after `last`. */
static int place(struct tab *t, struct plan *p, uint64_t slot, uint64_t last, uint64_t e)
{
    if (!slot && !last)
        return damaged("the key's bucket is outside the segment");
    if (slot) {
        plan_store(p, slot, e);
        return p->err;
    }
    uint64_t ob;
    int rc = plan_alloc(p, t, sizeof(struct hbucket), &ob);
    if (rc)
        return rc;
    memset(t->s.base + ob, 0, sizeof(struct hbucket));
    plan_store(p, ob, e);                                           /* fresh: a plain write */
    plan_store(p, last + offsetof(struct hbucket, next), ob);       /* the publish */
    return p->err;
}

static int retire_chain(struct tab *t, struct plan *p, uint64_t off)
{
    const struct seg *s = &t->s;
    if (chain_len(s, off) == UINT64_MAX)
        return damaged("an object chain leaves the segment or loops");
    while (off) {
        plan_retire(p, off);
        p->dobjs--;
        off = sobj_is_long(sobj_at(s, off)) ? plan_word(p, s, off + SOBJ_NEXT_OFF) : 0;
    }
    return p->err;
}

static int hash_put(struct tab *t, struct plan *p, const struct wobj *objs, size_t n, enum put_mode mode)
{
    const struct seg *s = &t->s;
    for (size_t k = 0; k < n; k++) {
        const struct wobj *o = &objs[k];
        uint64_t slot, val, last = 0;
        int found = find_slot(t, p, o->key, o->klen, o->hash, &slot, &val, &last);
        uint64_t e = entry_make(o->hash, o->off);
        int rc;
        if (!found) {
            if ((rc = place(t, p, slot, last, e)))
                return rc;
            p->dkeys++;
            p->dobjs += (int64_t)chain_len(s, o->off);
        } else if (mode == PUT_NEW) {
            return -SHMETS_EEXIST;
        } else if (mode == PUT_REPLACE) {
            if ((rc = retire_chain(t, p, entry_off(val))))
                return rc;
            plan_store(p, slot, e);
            p->dobjs += (int64_t)chain_len(s, o->off);
        } else {
            uint64_t tail = entry_off(val), nx;
            if (chain_len(s, tail) == UINT64_MAX)
                return damaged("an object chain leaves the segment or loops");
            while ((nx = plan_word(p, s, tail + SOBJ_NEXT_OFF)))
                tail = nx;
            if (!sobj_is_long(sobj_at(s, tail)))
                return damaged("a bag's object has no chain link (the short header)");
            plan_store(p, tail + SOBJ_NEXT_OFF, o->off);
            p->dobjs += (int64_t)chain_len(s, o->off);
        }
        if (p->err)
            return p->err;
    }
    return 0;
}

static int hash_del(struct tab *t, struct plan *p, const unsigned char *key, uint32_t klen, uint64_t hash)
{
    uint64_t slot, val, last;
    if (!find_slot(t, p, key, klen, hash, &slot, &val, &last))
        return 0;
    int rc = retire_chain(t, p, entry_off(val));
    if (rc)
        return rc;
    plan_store(p, slot, 0);
    p->dkeys--;
    return p->err ? p->err : 1;
}

/* A fresh, empty array of 2^lg buckets: returns the root word. */
static int new_array(struct tab *t, struct plan *p, unsigned lg, uint64_t *word)
{
    uint64_t nb = 1ull << lg, blk;
    int rc = plan_alloc(p, t, nb * sizeof(struct hbucket) + 64, &blk);
    if (rc)
        return rc;
    uint64_t base = (blk + 8 + 63) & ~(uint64_t)63;
    *(uint64_t *)(t->s.base + base - 8) = blk;
    memset(t->s.base + base, 0, nb * sizeof(struct hbucket));
    *word = base | lg;
    return 0;
}

static int hash_init(struct tab *t, struct plan *p)
{
    uint64_t w;
    int rc = new_array(t, p, LG_MIN, &w);
    if (rc)
        return rc;
    plan_store(p, offsetof(struct tab_hdr, root.word), w);
    return p->err;
}

/* Fresh-memory insert of an entry into a fresh array (no plan stores: nothing is published). */
static int rehash_entry(struct tab *t, struct plan *p, uint64_t w, uint64_t e, uint64_t hash)
{
    struct seg *s = &t->s;
    uint64_t boff = root_base(w) + (hash & ((1ull << root_lg(w)) - 1)) * sizeof(struct hbucket);
    for (;;) {
        struct hbucket *b = (struct hbucket *)(s->base + boff);
        for (int i = 0; i < HB_SLOTS; i++)
            if (!atomic_load_explicit(&b->e[i], memory_order_relaxed)) {
                atomic_store_explicit(&b->e[i], e, memory_order_relaxed);
                return 0;
            }
        uint64_t nx = atomic_load_explicit(&b->next, memory_order_relaxed);
        if (!nx) {
            int rc = plan_alloc(p, t, sizeof(struct hbucket), &nx);
            if (rc)
                return rc;
            memset(s->base + nx, 0, sizeof(struct hbucket));
            b = (struct hbucket *)(s->base + boff);
            atomic_store_explicit(&b->next, nx, memory_order_relaxed);
        }
        boff = nx;
    }
}

static int lg_wants_resize(unsigned lg, uint64_t nkeys)
{
    uint64_t nb = 1ull << lg;
    return !(nkeys <= nb * GROW_LOAD && (nkeys >= nb / 2 || lg <= LG_MIN));
}

static int hash_needs_resize(const struct tab *t, uint64_t nkeys)
{
    return lg_wants_resize(root_lg(atomic_load_explicit(&t->h->root.word, memory_order_relaxed)), nkeys);
}

static int hash_resize(struct tab *t, struct plan *p, uint64_t nkeys)
{
    struct seg *s = &t->s;
    uint64_t w = plan_word(p, s, offsetof(struct tab_hdr, root.word));
    unsigned lg = root_lg(w);
    uint64_t nb = 1ull << lg;
    INVARIANT(p->stripe == TAB_ALL);
    if (!lg_wants_resize(lg, nkeys))
        return 0;
    unsigned nlg = LG_MIN;
    while (nlg < LG_MAX && (1ull << nlg) * AIM_LOAD < nkeys)
        nlg++;
    if (nlg == lg)
        return 0;
    uint64_t nw;
    int rc = new_array(t, p, nlg, &nw);
    if (rc)
        return rc;
    uint64_t base = root_base(w);
    plan_retire(p, *(uint64_t *)(s->base + base - 8));
    for (uint64_t i = 0; i < nb; i++) {
        uint64_t boff = base + i * sizeof(struct hbucket);
        /* Through plan_word: the array as this plan will leave it (a delete planned before
         * the resize must not be copied into the new array). */
        for (int first = 1; boff; first = 0) {
            if (!first)
                plan_retire(p, boff);
            for (int k = 0; k < HB_SLOTS; k++) {
                uint64_t e = plan_word(p, s, boff + (uint64_t)k * 8);
                if (!e)
                    continue;
                const struct sobj *o = sobj_at(s, entry_off(e));
                if (!o || !sobj_key_ok(o))
                    return sobj_bad(t, s->base + entry_off(e), "I.3 a stored key is out of bounds or not a term");
                if ((rc = rehash_entry(t, p, nw, e, sobj_hash(t, o))))
                    return rc;
            }
            boff = plan_word(p, s, boff + offsetof(struct hbucket, next));
        }
    }
    plan_store(p, offsetof(struct tab_hdr, root.word), nw);
    return p->err ? p->err : 1;
}

/* ---- recovery and check ------------------------------------------------------------- */

static int bad(const char *what, uint64_t at)
{
    return err_set(SHMETS_EBADSEG, "hash index: %s (at offset %llu)" SALVAGE_HINT, what, (unsigned long long)at);
}

/* Walk everything the root reaches.  visit_obj (may be NULL) sees each key's chain head. */
struct walk {
    const struct tab *t;
    index_mark_fn mark;
    void *arg;
    uint64_t objs, keys;
    int (*visit)(struct walk *w, uint64_t bucket_idx, uint64_t head);
};

static int walk(struct walk *wk)
{
    const struct tab *t = wk->t;
    const struct seg *s = &t->s;
    const struct alloc_heap *h = &t->h->heap;
    uint64_t w = atomic_load(&t->h->root.word);
    uint64_t base = root_base(w);
    unsigned lg = root_lg(w);
    if (lg > LG_MAX || base < SEG_PAGE + 8 || base >= s->size)
        return bad("root word out of bounds", base);
    uint64_t nb = 1ull << lg;
    uint64_t blk = *(const uint64_t *)(s->base + base - 8);
    if (!alloc_is_block(h, s, blk, BLK_USED) || blk > base - 8 ||
        alloc_capacity(s, blk) < (base - blk) + nb * sizeof(struct hbucket))
        return bad("bucket array is not inside a used block", blk);
    if (wk->mark)
        wk->mark(wk->arg, blk);
    uint64_t budget = h->blocks;
    for (uint64_t i = 0; i < nb; i++) {
        uint64_t boff = base + i * sizeof(struct hbucket);
        for (int first = 1; boff; first = 0) {
            if (!first) {
                if (!alloc_is_block(h, s, boff, BLK_USED) || alloc_capacity(s, boff) < sizeof(struct hbucket))
                    return bad("overflow bucket is not a used block", boff);
                if (budget-- == 0)
                    return bad("overflow chains longer than the heap (a cycle?)", boff);
                if (wk->mark)
                    wk->mark(wk->arg, boff);
            }
            const struct hbucket *b = (const struct hbucket *)(s->base + boff);
            for (int k = 0; k < HB_SLOTS; k++) {
                uint64_t e = atomic_load(&b->e[k]);
                if (!e)
                    continue;
                uint64_t head = entry_off(e);
                wk->keys++;
                for (uint64_t o = head; o; o = sobj_next((const struct sobj *)(s->base + o))) {
                    if (!alloc_is_block(h, s, o, BLK_USED) || alloc_capacity(s, o) < SOBJ_SHORT_HDR ||
                        sobj_size((const struct sobj *)(s->base + o)) > alloc_capacity(s, o))
                        return bad("an entry or chain names something that is not a stored object", o);
                    if (budget-- == 0)
                        return bad("object chains longer than the heap (a cycle?)", o);
                    if (wk->mark)
                        wk->mark(wk->arg, o);
                    wk->objs++;
                }
                if (!sobj_key_ok((const struct sobj *)(s->base + head)))
                    return bad("I.3 a stored key is not a term", head);
                if (!entry_fp_is(e, sobj_hash(t, (const struct sobj *)(s->base + head))))
                    return bad("an entry's fingerprint does not match its object's key's hash", boff + (uint64_t)k * 8);
                if (wk->visit) {
                    int rc = wk->visit(wk, i, head);
                    if (rc)
                        return rc;
                }
            }
            boff = atomic_load(&b->next);
        }
    }
    return 0;
}

static int hash_mark(const struct tab *t, index_mark_fn mark, void *arg, uint64_t *objs, uint64_t *keys)
{
    struct walk wk = { .t = t, .mark = mark, .arg = arg };
    int rc = walk(&wk);
    if (rc)
        return rc;
    *objs = wk.objs;
    *keys = wk.keys;
    return 0;
}

/* Check one key's chain: its objects are valid canonical terms whose key (at keypos) is where
 * the header says, all with the same key, hashed with the table's seed into this bucket; a
 * set has one object a key, a bag no two equal objects. */
static int check_chain(struct walk *wk, uint64_t bucket_idx, uint64_t head)
{
    const struct tab *t = wk->t;
    const struct seg *s = &t->s;
    uint64_t w = atomic_load(&t->h->root.word);
    const struct sobj *h0 = (const struct sobj *)(s->base + head);
    if ((sobj_hash(t, h0) & ((1ull << root_lg(w)) - 1)) != bucket_idx)
        return bad("I.2 a key is in the wrong bucket for its hash", head);
    uint64_t n = 0;
    struct tbuf tmp, tmp2;
    tbuf_init(&tmp, SHMETS_TERM_MAX_SIZE);
    tbuf_init(&tmp2, SHMETS_TERM_MAX_SIZE);
    int rc = 0;
    for (uint64_t o = head; o && !rc; o = sobj_next((const struct sobj *)(s->base + o)), n++) {
        const struct sobj *x = (const struct sobj *)(s->base + o);
        shmets_term obj;
        if ((rc = sobj_check(t, o, x, &tmp, &obj)))
            break;
        if (!key_is(h0, sobj_key(x), sobj_klen(x))) {
            rc = bad("I.4 a chain holds objects of different keys", o);
            break;
        }
        if (t->h->kind == SHMETS_BAG)
            for (uint64_t q = head; q != o && !rc; q = sobj_next((const struct sobj *)(s->base + q)))
                if (sobj_equal(wk->t, (const struct sobj *)(s->base + q), obj, &tmp2))
                    rc = bad("I.5 a bag holds the same object twice", o);
    }
    tbuf_free(&tmp);
    tbuf_free(&tmp2);
    if (rc)
        return rc;
    if (t->h->kind == SHMETS_SET && n != 1)
        return bad("I.5 a set holds more than one object for a key", head);
    /* I.4: no other entry of this bucket chain has the same key. */
    uint64_t boff = root_base(w) + bucket_idx * sizeof(struct hbucket);
    int seen = 0;
    for (; boff; boff = atomic_load(&((const struct hbucket *)(s->base + boff))->next)) {
        const struct hbucket *b = (const struct hbucket *)(s->base + boff);
        for (int k = 0; k < HB_SLOTS; k++) {
            uint64_t e = atomic_load(&b->e[k]);
            if (e && key_is((const struct sobj *)(s->base + entry_off(e)), sobj_key(h0), sobj_klen(h0)))
                seen++;
        }
    }
    if (seen != 1)
        return bad("I.4 a key has more than one entry", head);
    return 0;
}

static int hash_check(const struct tab *t)
{
    struct walk wk = { .t = t };
    int rc = walk(&wk);
    if (rc)
        return rc;
    wk.objs = wk.keys = 0;
    wk.visit = check_chain;
    if ((rc = walk(&wk)))
        return rc;
    if (wk.objs != atomic_load(&t->h->objs) || wk.keys != atomic_load(&t->h->keys))
        return err_set(SHMETS_EBADSEG, "I.6 the table counts %llu objects and %llu keys; its index holds %llu and %llu",
                       (unsigned long long)atomic_load(&t->h->objs), (unsigned long long)atomic_load(&t->h->keys),
                       (unsigned long long)wk.objs, (unsigned long long)wk.keys);
    return 0;
}

const struct index_ops hash_index_ops = {
    .name = "hash",
    .init = hash_init,
    .lookup = hash_lookup,
    .lookup_bulk = hash_lookup_bulk,
    .first = hash_first,
    .next = hash_next,
    .slot = hash_slot,
    .put = hash_put,
    .del = hash_del,
    .needs_resize = hash_needs_resize,
    .resize = hash_resize,
    .mark = hash_mark,
    .check = hash_check,
};
