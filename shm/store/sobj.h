/*
 * sobj.h — private to libshmets (not installed): the stored object, the one record format of a
 * table (DESIGN.md §2).  Its accessors are here; sobj.c reads and writes it whole (plain or
 * LZ4-packed).
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
 * (resizing, a hash table's traversal order, check) hash the key again (sobj_hash, below).
 * Accessors below; no code outside them reads the header's bytes.
 */
#ifndef SHMETS_SOBJ_H
#define SHMETS_SOBJ_H

#include "mem/alloc.h"
#include "mem/seg.h"
#include "store/plan.h"
#include "store/tab.h"
#include "shmets.h"
#include "base/util.h"
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

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
#define SOBJ_LZ4        0x1u    /* flags: etf[] is key | length | LZ4 block (sobj.c) */
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

/* sobj.c: an object's canonical encoding, in place (plain) or unpacked into tmp; appended
 * to b; compared with a term.  Each first checks that the bytes have a term's shape
 * (term_span, term_span.c D.1…): a damaged object is -SHMETS_EBADSEG (b->err set), never a
 * walk outside it.  sobj_append checks by sh, a walk's shape (term_span.c D.6), when it is
 * not NULL. */
struct tbuf;
struct term_shape;
int sobj_term(const struct tab *t, const struct sobj *o, struct tbuf *tmp, struct shmets_term *out);
int sobj_append(const struct tab *t, const struct sobj *o, struct tbuf *b, struct term_shape *sh);
int sobj_equal(const struct tab *t, const struct sobj *o, struct shmets_term obj, struct tbuf *tmp);
/* -SHMETS_EBADSEG with the detail "table ID is damaged: WHAT (at offset N)" and the way out,
 * `at` being any address inside t's mapping. */
int sobj_bad(const struct tab *t, const void *at, const char *what);
/* Do a stored object's key bytes have a term's shape (term_span), so term_cmp and the hash
 * may walk them?  Inline for the most common keys, integers (tags 97, 98: ETF_SMALL_INTEGER,
 * ETF_INTEGER, term.h), which the skip list compares on every prefix tie. */
int sobj_key_span(const struct sobj *o);
static inline int sobj_key_ok(const struct sobj *o)
{
    const unsigned char *k = sobj_key(o);
    uint32_t n = sobj_klen(o);
    if ((n == 2 && k[0] == 97) || (n == 5 && k[0] == 98))
        return 1;
    return sobj_key_span(o);
}

/* A stored object at `off`, bounds-checked against the mapping (readers may see any offset a
 * damaged segment holds; a read of a hole of the sparse mapping reads zeros, never faults).
 * A long-form object must also fit its heap block (alloc.h): its 32-bit length, scribbled
 * on, could otherwise make a reader copy gigabytes of a sparse mapping; a short one is under
 * 64 KiB whatever its bytes say. */
static inline const struct sobj *sobj_at(const struct seg *s, uint64_t off)
{
    if (off < SEG_PAGE || off > s->size - SOBJ_SHORT_HDR || (off & 7))
        return NULL;
    const struct sobj *o = (const struct sobj *)(s->base + off);
    if (__builtin_expect(o->koff8 < SOBJ_SHORT_LZ4, 1))    /* short and plain: most objects */
        return o->len16 > s->size - off - SOBJ_SHORT_HDR || (uint32_t)o->koff8 + o->x8 > o->len16 ? NULL : o;
    if (sobj_is_long(o) && (off > s->size - SOBJ_LONG_HDR ||
                            (uint64_t)o->l_len + SOBJ_LONG_HDR + ALLOC_HDR >
                                (uint64_t)((const struct blk *)(s->base + off - ALLOC_HDR))->size8 * 8))
        return NULL;
    if (sobj_len(o) > s->size - off - sobj_hdr(o) || (uint64_t)sobj_koff(o) + sobj_klen(o) > sobj_len(o))
        return NULL;
    return o;
}

/* The packed form of obj for a compressed table (*packed NULL: store it plain). */
int  sobj_pack(const struct tab *t, shmets_term obj, shmets_term key, unsigned char **packed, size_t *len);
/* I.3, one stored object is a valid canonical term whose key (at keypos) and hash are the
 * header's; *obj its canonical encoding (in place or in tmp). */
int  sobj_check(const struct tab *t, uint64_t off, const struct sobj *x, struct tbuf *tmp, shmets_term *obj);
/* Allocate (plan_alloc) and fill the stored form of obj, whose key (at keypos) is key: the
 * one writer of the header's bytes.  Returns 0 or an allocator error. */
int  sobj_store(struct tab *t, struct plan *p, shmets_term obj, shmets_term key, uint64_t *off);
/* Append the fresh long-form object at off to the chain head..tail being built (0, 0 for an
 * empty one): the objects of one key of a bag, in order. */
static inline void sobj_chain_append(const struct seg *s, uint64_t *head, uint64_t *tail, uint64_t off)
{
    if (*tail)
        sobj_set_next((struct sobj *)(s->base + *tail), off);
    else
        *head = off;
    *tail = off;
}
/* A stored object's key's hash (objects do not keep it: above). */
static inline uint64_t sobj_hash(const struct tab *t, const struct sobj *o)
{
    return tab_hash(t, (shmets_term){ sobj_key(o), sobj_klen(o) });
}

#endif
