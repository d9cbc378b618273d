/*
 * index.h — private to libshmets (not installed): the one method table every index kind
 * implements (CONVENTIONS.md item 1, on the model of OTP's DbTableMethod), the stored object,
 * and the write plan through which every index change is published.
 *
 * THE SPLIT OF WORK
 * table.c is the front end: it checks arguments and access, enters RCU for readers, takes the
 * writer lock, turns terms into stored objects, and commits write plans (prepare, record the
 * intent, publish, retire).  An index kind (hash.c; skiplist.c later) keeps everything static
 * and exports one `const struct index_ops`.  Its writer ops never publish anything: they
 * allocate and fill unpublished memory, and list the single-word stores that would publish it
 * in a `struct plan`, together with the blocks those stores unlink.  Only table.c executes a
 * plan, so crash safety (the intent record, DESIGN.md §6) is written once, for every kind.
 *
 * A STORED OBJECT is one heap block: a small header, then the object's canonical ETF bytes.
 * The header keeps the key's place and length, so a lookup compares keys without walking the
 * term.  It comes in two forms (the third byte tells which), so that the objects most tables
 * hold pay 4 bytes of header, not 32 (a 1,000,000-object set of {Int, <<32 bytes>>} took 96
 * bytes an object, now 56):
 *   short (4 bytes; set and ordered_set objects under 64 KiB whose key starts in the first 254
 *          bytes and is under 256 bytes):
 *          len (16 bits) | koff (8 bits, below 0xFE; 0xFE: LZ4-packed, key at 0) | klen | etf[]
 *   long  (24 bytes; bag and duplicate_bag objects, big ones, LZ4-packed ones):
 *          0 (16 bits) | 0xFF | flags (8 bits) | len | koff | klen (32 bits each) | next (64) | etf[]
 * `next` chains the objects of one key in a bag or duplicate_bag in insertion order (readers
 * follow it under RCU; a writer publishes a new object by storing its offset into the last
 * object's `next`); a short object has none (its chain ends with it).  The key's hash is not
 * stored (DESIGN.md §2 keeps it in the header; dropped for the 8 bytes an object it cost):
 * lookups compare the fingerprint in the index entry and the key's bytes, and the rarer users
 * (resizing, a hash table's traversal order, check) hash the key again (sobj_hash, table.h).
 * Accessors below; no code outside them reads the header's bytes.
 */
#ifndef SHMETS_INDEX_H
#define SHMETS_INDEX_H

#include "mem/alloc.h"
#include "mem/seg.h"
#include "shmets.h"
#include "base/util.h"
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct tab;             /* table.h */

struct sobj {
    uint16_t len16;             /* short: bytes of etf; long: 0 */
    uint8_t koff8;              /* short: the key is etf[koff8 .. koff8+klen8) (SOBJ_SHORT_LZ4: at 0,
                                   and packed); SOBJ_LONG: the long form */
    uint8_t x8;                 /* short: klen8; long: flags */
    /* The long form only (in a short object these bytes are etf[]): */
    uint32_t l_len, l_koff, l_klen;
    _Atomic uint64_t l_next;    /* next object of the same key (bags), 0 at the end */
};

#define SOBJ_LONG       0xFFu
#define SOBJ_SHORT_LZ4  0xFEu
#define SOBJ_SHORT_HDR  4u
#define SOBJ_LONG_HDR   ((uint32_t)sizeof(struct sobj))
#define SOBJ_NEXT_OFF   ((uint64_t)offsetof(struct sobj, l_next))
#define SOBJ_LZ4        0x1u    /* flags: etf[] is key | length | LZ4 block (compress.c) */
_Static_assert(sizeof(struct sobj) == 24 && offsetof(struct sobj, l_next) == 16, "the long header");

/* Can an object of len bytes with its key at etf[koff .. koff+klen) take the short form? */
static inline int sobj_fits_short(uint64_t len, uint64_t koff, uint64_t klen)
{
    return len < 65536 && koff < SOBJ_SHORT_LZ4 && klen < 256;
}

static inline int sobj_is_long(const struct sobj *o) { return o->koff8 == SOBJ_LONG; }
static inline uint32_t sobj_hdr(const struct sobj *o) { return sobj_is_long(o) ? SOBJ_LONG_HDR : SOBJ_SHORT_HDR; }
static inline uint32_t sobj_len(const struct sobj *o) { return sobj_is_long(o) ? o->l_len : o->len16; }
static inline uint32_t sobj_koff(const struct sobj *o)
{
    return sobj_is_long(o) ? o->l_koff : o->koff8 == SOBJ_SHORT_LZ4 ? 0 : o->koff8;
}
static inline uint32_t sobj_klen(const struct sobj *o) { return sobj_is_long(o) ? o->l_klen : o->x8; }
static inline uint32_t sobj_flags(const struct sobj *o)
{
    return sobj_is_long(o) ? o->x8 : o->koff8 == SOBJ_SHORT_LZ4 ? SOBJ_LZ4 : 0;
}
static inline const unsigned char *sobj_etf(const struct sobj *o) { return (const unsigned char *)o + sobj_hdr(o); }
static inline const unsigned char *sobj_key(const struct sobj *o) { return sobj_etf(o) + sobj_koff(o); }
/* The next object of o's key (acquire), 0 at the end. */
static inline uint64_t sobj_next(const struct sobj *o)
{
    return sobj_is_long(o) ? atomic_load_explicit(&o->l_next, memory_order_acquire) : 0;
}
/* Writers: link a fresh long-form object after o (bags' chains; a short object has no link). */
static inline void sobj_set_next(struct sobj *o, uint64_t next)
{
    if (!sobj_is_long(o))
        die(__FILE__, __LINE__, "sobj_set_next: a short-form object has no next link");
    atomic_store_explicit(&o->l_next, next, memory_order_relaxed);
}
/* Bytes of the object with its header. */
static inline uint64_t sobj_size(const struct sobj *o) { return (uint64_t)sobj_hdr(o) + sobj_len(o); }

/* compress.c: an object's canonical encoding, in place (plain) or unpacked into tmp; appended
 * to b; compared with a term.  Return 0 or -SHMETS_EBADSEG (b->err set) for a damaged one. */
struct tbuf;
int sobj_term(const struct sobj *o, struct tbuf *tmp, struct shmets_term *out);
int sobj_append(const struct sobj *o, struct tbuf *b);
int sobj_equal(const struct sobj *o, struct shmets_term obj, struct tbuf *tmp);

/* A stored object at `off`, bounds-checked against the mapping (readers may see any offset a
 * damaged segment holds; a read of a hole of the sparse mapping reads zeros, never faults). */
static inline const struct sobj *sobj_at(const struct seg *s, uint64_t off)
{
    if (off < SEG_PAGE || off > s->size - SOBJ_SHORT_HDR || (off & 7))
        return NULL;
    const struct sobj *o = (const struct sobj *)(s->base + off);
    if (sobj_is_long(o) && off > s->size - SOBJ_LONG_HDR)
        return NULL;
    if (sobj_len(o) > s->size - off - sobj_hdr(o) || (uint64_t)sobj_koff(o) + sobj_klen(o) > sobj_len(o))
        return NULL;
    return o;
}

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

struct plan {
    struct plan_store *st;
    size_t nst, cst;
    uint64_t *retire;
    size_t nretire, cretire;
    uint64_t *fresh;
    size_t nfresh, cfresh;
    uint64_t *map;              /* open-addressed set of indexes into st[] by offset, +1 */
    size_t cmap;
    int64_t dobjs, dkeys;       /* change of the object and key counts */
    int err;                    /* sticky: 0 or -SHMETS_ENOMEM (process memory) */
    int stripe;                 /* the writer lock held: a stripe, or TAB_ALL (table.h) */
    int heap_held;              /* this writer holds the heap (TAB_ALL, or one stripe of one) */
    int multi;                  /* the publish changes several keys: readers must see it whole */
};

void plan_init(struct plan *p);
void plan_free(struct plan *p);
/* Record a store (a later store to the same offset replaces the earlier one's value). */
void plan_store(struct plan *p, uint64_t off, uint64_t val);
/* The value the word at `off` will have once the plan is published. */
uint64_t plan_word(const struct plan *p, const struct seg *s, uint64_t off);
void plan_retire(struct plan *p, uint64_t off);
/* Allocate a block for the plan (listed in fresh[]).  Returns 0 or an allocator error. */
int plan_alloc(struct plan *p, struct tab *t, uint64_t size, uint64_t *off);

/* One object being written: where its prepared block is, and its key. */
struct wobj {
    uint64_t off;               /* payload offset of the prepared struct sobj (fresh) */
    uint64_t hash;
    const unsigned char *key;   /* the key's bytes (in the caller's term) */
    uint32_t klen;
    const unsigned char *etf;   /* the whole object */
    uint32_t len;
};

enum put_mode { PUT_REPLACE, PUT_APPEND, PUT_NEW };

/* One key of a batched lookup. */
struct bulk_key { const unsigned char *key; uint32_t klen; uint64_t hash; };

/* What a call that visits marks: every block the index reaches. */
typedef void (*index_mark_fn)(void *arg, uint64_t off);
/* What slot() visits: the first object of each key (its chain head). */
typedef void (*index_visit_fn)(void *arg, uint64_t head);

struct index_ops {
    const char *name;
    /* Writer: make an empty index (at table creation and by delete_all_objects). */
    int (*init)(struct tab *t, struct plan *p);
    /* Reader (inside a read section): offset of the first object with this key, or 0. */
    uint64_t (*lookup)(const struct tab *t, const unsigned char *key, uint32_t klen, uint64_t hash);
    /* Reader: n lookups at once, pipelined (NULL: the front end loops over lookup). */
    void (*lookup_bulk)(const struct tab *t, const struct bulk_key *k, size_t n, uint64_t *out);
    /* Readers: traversal.  The index's order is fixed by its keys (term order; for the hash
     * index an order of hashes that resizing keeps), so `next` takes any key, present or not,
     * and gives the first object of the first key after it, or 0.  last and prev are NULL for
     * kinds whose traversal has no reverse (the front end uses first and next, as ETS). */
    uint64_t (*first)(const struct tab *t);
    uint64_t (*next)(const struct tab *t, const unsigned char *key, uint32_t klen, uint64_t hash);
    uint64_t (*last)(const struct tab *t);
    uint64_t (*prev)(const struct tab *t, const unsigned char *key, uint32_t klen, uint64_t hash);
    /* Reader (ordered kinds; NULL otherwise): the last key for which below(arg, key, klen)
     * holds, given that it holds for a prefix of the keys in order — as a search, O(log n).
     * Returns its first object, or 0 if it holds for no key. */
    uint64_t (*seek_below)(const struct tab *t, int (*below)(void *arg, const unsigned char *key, uint32_t klen),
                           void *arg);
    /* Reader: visit the keys of slot i (ets:slot/2).  Returns 1, 0 when i is the number of
     * slots ('$end_of_table'), or -SHMETS_EBADPOS past it. */
    int (*slot)(const struct tab *t, uint64_t i, index_visit_fn fn, void *arg);
    /* Writer: plan the insertion of n prepared objects whose keys are all different (the
     * front end groups an insert by key).  For PUT_APPEND, objs[i] is the head of a chain of
     * fresh objects of one key, linked through `next`, that goes after the key's existing
     * objects; for PUT_REPLACE it replaces them (set); PUT_NEW fails with -SHMETS_EEXIST,
     * planning nothing, when a key exists (insert_new). */
    int (*put)(struct tab *t, struct plan *p, const struct wobj *objs, size_t n, enum put_mode mode);
    /* Writer: plan the deletion of every object with this key.  Returns 1 if there was one. */
    int (*del)(struct tab *t, struct plan *p, const unsigned char *key, uint32_t klen, uint64_t hash);
    /* Does the index want a resize for this many keys?  (A resize needs TAB_ALL.) */
    int (*needs_resize)(const struct tab *t, uint64_t nkeys);
    /* Writer (TAB_ALL): plan a resize when the key count has left the index's comfortable
     * range (returns 1 when it planned one, 0 when none is needed). */
    int (*resize)(struct tab *t, struct plan *p, uint64_t nkeys_after);
    /* Writer (recovery, check): call mark for every block the index reaches; count objects
     * and keys.  Returns 0 or -SHMETS_EBADSEG for a structure it cannot follow. */
    int (*mark)(const struct tab *t, index_mark_fn mark, void *arg, uint64_t *objs, uint64_t *keys);
    /* Writer: every invariant of the index (I.1 ...), on failure -SHMETS_EBADSEG with detail. */
    int (*check)(const struct tab *t);
};

extern const struct index_ops hash_index_ops;
extern const struct index_ops skiplist_index_ops;

#endif
