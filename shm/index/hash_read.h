/*
 * hash_read.h — private to libshmets (not installed): the hash index's layout and its reader,
 * inline, for hash.c and for the short read path (table/tabfast.c), which calls the lookup
 * without the method table's indirect call.  The design is in hash.c; everything here is
 * what a reader does (no writer state), so including it gives the table layer no way to
 * write the index.
 */
#ifndef SHMETS_HASH_READ_H
#define SHMETS_HASH_READ_H

#include "store/sobj.h"
#include "store/tab.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define HB_SLOTS     7
#define LG_MAX       40
#define FP_SHIFT     40
#define OFF_MASK     ((1ull << FP_SHIFT) - 1)
#define HOPS_MAX     (1u << 20) /* overflow buckets a walk follows before it calls the chain damaged */

struct hbucket {
    _Atomic uint64_t e[HB_SLOTS];
    _Atomic uint64_t next;      /* payload offset of an overflow bucket, 0: none */
};

_Static_assert(sizeof(struct hbucket) == 64, "a bucket is one cache line");

static inline uint64_t entry_off(uint64_t e) { return (e & OFF_MASK) << 3; }

static inline uint64_t root_base(uint64_t w) { return w & ~(uint64_t)63; }
static inline unsigned root_lg(uint64_t w) { return (unsigned)(w & 63); }

/* A bucket at `off`, or NULL when [off, off+64) is outside the mapping. */
static inline struct hbucket *bucket_at(const struct seg *s, uint64_t off)
{
    if (off < SEG_PAGE || off > s->size - sizeof(struct hbucket) || (off & 7))
        return NULL;
    return (struct hbucket *)(s->base + off);
}

/* The slots of bucket b whose fingerprint is want's, as a bit mask (bit i: slot i).  With SSE2
 * (every x86-64) the high halves of the eight words of the line are compared four at a time:
 * ~12 instructions instead of ~48 for the unrolled scalar scan.  The line is read with plain
 * vector loads, not atomic ones: only each entry's high 32 bits are used, an aligned 4-byte
 * value is never torn, and a slot that matches is read again atomically by the caller (an
 * entry a writer changed meanwhile is as if the scan had read the new one).  ThreadSanitizer
 * cannot see that reasoning, so its builds keep the scalar scan. */
#if defined(__SSE2__) && !defined(__SANITIZE_THREAD__)
#include <emmintrin.h>
static inline unsigned fp_matches(const struct hbucket *b, uint64_t want)
{
    const __m128 *v = (const __m128 *)(const void *)b;
    __m128i fp = _mm_set1_epi32((int)(uint32_t)(want >> 32));
    __m128i keep = _mm_set1_epi32((int)0xFFFFFF00u);       /* the fingerprint's 24 bits */
    __m128i lo = _mm_castps_si128(_mm_shuffle_ps(_mm_loadu_ps((const float *)&v[0]), _mm_loadu_ps((const float *)&v[1]),
                                                 _MM_SHUFFLE(3, 1, 3, 1)));
    __m128i hi = _mm_castps_si128(_mm_shuffle_ps(_mm_loadu_ps((const float *)&v[2]), _mm_loadu_ps((const float *)&v[3]),
                                                 _MM_SHUFFLE(3, 1, 3, 1)));
    unsigned m0 = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_and_si128(lo, keep), fp)));
    unsigned m1 = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_and_si128(hi, keep), fp)));
    return (m0 | m1 << 4) & ((1u << HB_SLOTS) - 1);         /* the eighth word is `next` */
}
#else
static inline unsigned fp_matches(const struct hbucket *b, uint64_t want)
{
    unsigned m = 0;
#pragma GCC unroll 8
    for (int i = 0; i < HB_SLOTS; i++)
        m |= (unsigned)((atomic_load_explicit(&b->e[i], memory_order_acquire) ^ want) <= OFF_MASK) << i;
    return m;
}
#endif

/* Is o's key these bytes?  (Its entry's fingerprint matched already; objects keep no hash.) */
static inline int key_is(const struct sobj *o, const unsigned char *key, uint32_t klen)
{
    return sobj_klen(o) == klen && bytes_equal(sobj_key(o), key, klen);
}

/* An offset c (a multiple of 8) with c - SEG_PAGE < HB_LIM(size) holds a short object (under
 * 64 KiB) wholly inside a mapping of size bytes, and the 8 bytes after its key (below, and
 * hash_bulk_obj). */
#define HB_LIM(size) ((size) > SEG_PAGE + SOBJ_SHORT_HDR + 65535 ? (size) - (SEG_PAGE + SOBJ_SHORT_HDR + 65535) + 1 : 0)

/* Is the key at p k's?  (The stored key's length is k's, checked by the caller, and the 8 bytes
 * at p lie inside the mapping.)  A key of up to 8 bytes is compared with k->head, the caller's
 * bytes not read: one load, one xor, one shift that drops the bytes after the key (the high
 * ones of a little-endian load). */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "key_head_is and shmets_key.head assume little-endian loads");
static inline int key_head_is(const unsigned char *p, const shmets_key *k)
{
    uint64_t x;
    uint32_t n = k->len;
    memcpy(&x, p, 8);
    if (__builtin_expect(n <= 8, 1))
        return ((x ^ k->head) << (-(n * 8) & 63)) == 0;
    return x == k->head && bytes_equal(p + 8, k->etf + 8, n - 8);
}

/* ---- readers -------------------------------------------------------------------------- */

/* The object of a key (checked by sobj_at), or NULL: of key's klen bytes, or (pk not NULL, a
 * constant in each caller) of a prepared key, whose short objects are checked and compared as
 * a batch's are (hash_bulk_obj: one bound for the block, the key's head). */
static inline __attribute__((always_inline)) const struct sobj *hash_find(const struct tab *t, const unsigned char *key, uint32_t klen,
                                                                         uint64_t hash, const shmets_key *pk)
{
    const struct seg *s = &t->s;
    uint64_t w = atomic_load_explicit(&t->h->root.word, memory_order_acquire);
    unsigned lg = root_lg(w);
    if (lg > LG_MAX)
        return NULL;
    uint64_t boff = root_base(w) + (hash & ((1ull << lg) - 1)) * sizeof(struct hbucket);
    uint64_t want = hash & ~OFF_MASK;
    for (unsigned hops = 0; boff && hops < HOPS_MAX; hops++) {
        const struct hbucket *b = bucket_at(s, boff);
        if (!b)
            return NULL;
        /* Branch-free scan: a mask of the slots whose fingerprint matches (the entry XOR the
         * wanted fingerprint leaves only offset bits), then only those slots.  An empty slot
         * may "match" a fingerprint of 0: its offset 0 then fails sobj_at.  A slot is read
         * again when it matched; a writer may have changed it meanwhile, which is as if the
         * scan had read the new entry (it is checked like any other). */
        unsigned m = fp_matches(b, want);
        for (; m; m &= m - 1) {
            uint64_t off = entry_off(atomic_load_explicit(&b->e[__builtin_ctz(m)], memory_order_acquire));
            const struct sobj *o;
            if (pk && off - SEG_PAGE < HB_LIM(s->size) &&
                (o = (const struct sobj *)(s->base + off))->koff8 < SOBJ_SHORT_LZ4) {
                if (o->x8 == pk->len && (uint32_t)o->koff8 + o->x8 <= o->len16 &&
                    key_head_is((const unsigned char *)o + SOBJ_SHORT_HDR + o->koff8, pk))
                    return o;
                continue;
            }
            o = sobj_at(s, off);
            if (o && key_is(o, key, klen))
                return o;
        }
        boff = atomic_load_explicit(&b->next, memory_order_acquire);
    }
    return NULL;
}

static inline __attribute__((always_inline)) const struct sobj *hash_read_obj(const struct tab *t, const unsigned char *key, uint32_t klen, uint64_t hash)
{
    return hash_find(t, key, klen, hash, NULL);
}

/* The object of a prepared key (its seed and bytes checked by the caller), or NULL. */
static inline __attribute__((always_inline)) const struct sobj *hash_read_key(const struct tab *t, const shmets_key *k)
{
    return hash_find(t, k->etf, k->len, k->hash, k);
}

/* The same as an offset, 0: none (the method table's lookup). */
static inline __attribute__((always_inline)) uint64_t hash_read(const struct tab *t, const unsigned char *key, uint32_t klen, uint64_t hash)
{
    const struct sobj *o = hash_read_obj(t, key, klen, hash);
    return o ? (uint64_t)((const unsigned char *)o - t->s.base) : 0;
}

/* BATCHES: the objects of n <= HASH_BULK prepared keys in three passes, so that the misses
 * of one pass overlap: every bucket line is prefetched, then each line is scanned and its one
 * candidate object prefetched (hash_bulk_probe), then each candidate's key is compared
 * (hash_bulk_obj, one key at a time, so that a caller can do its own work on each object in
 * the same loop).  A line with several matching fingerprints, or with none and an overflow
 * chain, goes to hash_read_obj (a few keys in a hundred at 4-5 keys a bucket).  The bucket
 * array is bounds-checked once, whole (every bucket of a table that passes lies inside the
 * mapping); a damaged root that fails goes the checked way of hash_read_obj for every key.
 * The candidate's offset may be anything a damaged line holds: a prefetch never faults, and
 * it is checked before it is read.  cand HB_ABSENT (2) marks "absent", HB_ASK (1) or 0 "ask
 * hash_read_obj" (no object is at offset 0, 1 or 2); b[i] NULL: no bucket (an empty or
 * damaged table).  The probe also tells
 * whether every key was prepared with this seed and has bytes (0: all did), which the
 * caller checks before pass 3 reads any key's bytes.
 *
 * Pass 3's check of a candidate is sobj_at's, made cheaper by what a candidate is: an entry's
 * offset is a multiple of 8 (entry_off), and `lim` (HB_LIM) places it in one compare.  Every
 * other candidate (a long object, one near the mapping's end, 0, 1 or 2) takes sobj_at's
 * whole check, or none. */
/* 32 keys a group, not 16: each pass then has twice the work in front of the first line it
 * waits for, and a batch of 32 keys at 1,000,000 objects read 13.1 against 11.3 M keys/s at
 * P = 1 and 25.3 against 21.5 at P = 2 (shmets-bench R1, shmets-batch, three and two
 * alternating runs, 2026-12-08), in fewer instructions a key (117 against 120). */
#define HASH_BULK 32
#define HB_ASK    1u
#define HB_ABSENT 2u
struct hash_bulk {
    const unsigned char *base;          /* the mapping */
    uint64_t lim;                       /* HB_LIM of the mapping */
    const struct hbucket *b[HASH_BULK];
    uint64_t cand[HASH_BULK];
};

static inline __attribute__((always_inline)) uint64_t hash_bulk_probe(const struct tab *t, const shmets_key *k, size_t n,
                                                                      struct hash_bulk *q)
{
    const struct seg *s = &t->s;
    const unsigned char *sb = s->base;
    uint64_t size = s->size, seed = t->h->seed, bad = 0;
    uint64_t w = atomic_load_explicit(&t->h->root.word, memory_order_acquire);
    unsigned lg = root_lg(w);
    uint64_t base = root_base(w);
    q->base = sb;
    q->lim = HB_LIM(size);
    if (lg > LG_MAX || base < SEG_PAGE || base > size || (size - base) >> 6 < (1ull << lg)) {
        for (size_t i = 0; i < n; i++) {
            q->b[i] = NULL;
            q->cand[i] = base ? HB_ASK : HB_ABSENT;     /* a damaged root: each key the checked way */
            bad |= (k[i].seed ^ seed) | !k[i].etf;
        }
        return bad;
    }
    const unsigned char *a = sb + base;
    uint64_t mask = (1ull << lg) - 1;
    for (size_t i = 0; i < n; i++) {
        q->b[i] = (const struct hbucket *)(a + ((k[i].hash & mask) << 6));
        __builtin_prefetch(q->b[i]);
        bad |= (k[i].seed ^ seed) | !k[i].etf;
    }
    for (size_t i = 0; i < n; i++) {
        const struct hbucket *b = q->b[i];
        unsigned m = fp_matches(b, k[i].hash & ~OFF_MASK);
        uint64_t c = HB_ASK;
        if (!(m & (m - 1)) && (m || !atomic_load_explicit(&b->next, memory_order_relaxed))) {
            /* An empty slot matches fingerprint 0 (an entry of offset 0): the key may be in the
             * overflow chain, and pass 3 takes 0 as "ask", not "absent". */
            c = m ? entry_off(atomic_load_explicit(&b->e[__builtin_ctz(m)], memory_order_acquire)) : HB_ABSENT;
            __builtin_prefetch(sb + c);
        }
        q->cand[i] = c;
    }
    return bad;
}

/* Pass 3 for key i of a probe: its object, or NULL, and *etf its bytes (sobj_etf, sobj_len).
 * A short plain object (every set's small objects) is compared from its header fields,
 * without the accessors' test of its form. */
static inline __attribute__((always_inline)) const struct sobj *hash_bulk_obj(const struct tab *t, const shmets_key *k,
                                                                             const struct hash_bulk *q, size_t i,
                                                                             shmets_term *etf)
{
    uint64_t c = q->cand[i];
    const struct sobj *o;
    if (__builtin_expect(c - SEG_PAGE < q->lim, 1)) {
        o = (const struct sobj *)(q->base + c);
        if (__builtin_expect(o->koff8 < SOBJ_SHORT_LZ4, 1)) {
            const unsigned char *e = (const unsigned char *)o + SOBJ_SHORT_HDR;
            if (o->x8 == k[i].len && (uint32_t)o->koff8 + o->x8 <= o->len16 && key_head_is(e + o->koff8, &k[i])) {
                *etf = (shmets_term){ e, o->len16 };
                return o;
            }
            if (!atomic_load_explicit(&q->b[i]->next, memory_order_relaxed))
                return NULL;
            goto slow;
        }
    }
    if (c == HB_ABSENT)
        return NULL;
    if (c > HB_ABSENT) {
        o = sobj_at(&t->s, c);
        if (o && key_is(o, k[i].etf, k[i].len)) {
            *etf = (shmets_term){ sobj_etf(o), sobj_len(o) };
            return o;
        }
        if (!atomic_load_explicit(&q->b[i]->next, memory_order_relaxed))
            return NULL;
    }
slow:
    o = hash_read_obj(t, k[i].etf, k[i].len, k[i].hash);
    if (o)
        *etf = (shmets_term){ sobj_etf(o), sobj_len(o) };
    return o;
}

/* The objects of n <= HASH_BULK keys the table layer prepared itself (tab_key_of: the seed
 * it read, bytes always), so the probe's seed answer is not asked (out[i]: the object or
 * NULL). */
static inline void hash_read_bulk(const struct tab *t, const shmets_key *k, size_t n, const struct sobj **out)
{
    struct hash_bulk q;
    shmets_term etf;
    (void)hash_bulk_probe(t, k, n, &q);
    for (size_t i = 0; i < n; i++)
        out[i] = hash_bulk_obj(t, k, &q, i, &etf);
}

#endif
