/*
 * term.h — private to libshmets (not installed): the External Term Format as the term layer
 * sees it.  Tags, the growable output buffer, the canonicaliser's entry point, and helpers that
 * walk encodings already known to be canonical (so they need no bounds checks: the
 * canonicaliser made them and nothing else writes them; bytes from shared memory, which a
 * stray write may have changed, pass term_span() first).
 */
#ifndef SHMETS_TERM_H
#define SHMETS_TERM_H

#include "base/util.h"
#include "shmets.h"
#include <locale.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <endian.h>

/* ETF tags (erts/emulator/beam/external.h; "External Term Format" in the ERTS manual). */
enum etf_tag {
    ETF_VERSION          = 131,
    ETF_COMPRESSED       = 80,
    ETF_NEW_FLOAT        = 70,
    ETF_BIT_BINARY       = 77,
    ETF_ATOM_CACHE_REF   = 82,
    ETF_NEW_PID          = 88,
    ETF_NEW_PORT         = 89,
    ETF_NEWER_REFERENCE  = 90,
    ETF_SMALL_INTEGER    = 97,
    ETF_INTEGER          = 98,
    ETF_FLOAT            = 99,
    ETF_ATOM             = 100,
    ETF_REFERENCE        = 101,
    ETF_PORT             = 102,
    ETF_PID              = 103,
    ETF_SMALL_TUPLE      = 104,
    ETF_LARGE_TUPLE      = 105,
    ETF_NIL              = 106,
    ETF_STRING           = 107,
    ETF_LIST             = 108,
    ETF_BINARY           = 109,
    ETF_SMALL_BIG        = 110,
    ETF_LARGE_BIG        = 111,
    ETF_NEW_FUN          = 112,
    ETF_EXPORT           = 113,
    ETF_NEW_REFERENCE    = 114,
    ETF_SMALL_ATOM       = 115,
    ETF_MAP              = 116,
    ETF_FUN              = 117,
    ETF_ATOM_UTF8        = 118,
    ETF_SMALL_ATOM_UTF8  = 119,
    ETF_V4_PORT          = 120,
    ETF_LOCAL            = 121,
};

/* A growable byte buffer with a sticky error (0 or a negative SHMETS_E code). */
struct tbuf {
    unsigned char *p;
    size_t len, cap;
    size_t limit;       /* refuse to grow past this many bytes (SHMETS_ETOOBIG) */
    int err;
};

void tbuf_init(struct tbuf *b, size_t limit);
void tbuf_free(struct tbuf *b);
/* Make room for n more bytes; returns a pointer to them or NULL (b->err set). */
unsigned char *tbuf_room(struct tbuf *b, size_t n);
void tbuf_put_slow(struct tbuf *b, const void *src, size_t n);
/* Append n bytes: inline when they fit in the room already allocated and under the limit (a
 * walk's objects and a select's results, each a call of ~25 instructions of checks before),
 * else tbuf_put_slow (term_codec.c) grows the buffer or sets b->err. */
static inline void tbuf_put(struct tbuf *b, const void *src, size_t n)
{
    /* n 0 (src may be NULL, which memcpy may not be given) goes the slow way, which copies
     * nothing then. */
    if (__builtin_expect(n && !b->err && b->p && n <= b->cap - b->len && n <= b->limit - b->len && b->len <= b->limit,
                         1)) {
        memcpy(b->p + b->len, src, n);
        b->len += n;
        return;
    }
    tbuf_put_slow(b, src, n);
}
void tbuf_byte(struct tbuf *b, unsigned char c);
void tbuf_be16(struct tbuf *b, uint16_t v);
void tbuf_be32(struct tbuf *b, uint32_t v);
/* Hand the bytes over (b is empty afterwards). */
unsigned char *tbuf_take(struct tbuf *b, size_t *len);
/* End a call that built its result in b: with rc (or b's own error) b is freed and the error
 * returned; else *out owns b's bytes.  Returns the error or 0. */
int tbuf_to_term(struct tbuf *b, int rc, shmets_term *out);

/* Canonicaliser flags (besides SHMETS_ETF_NO_VERSION). */
#define CANON_MAP_LAST_WINS 0x100u  /* duplicate map keys: the later one wins (term text) */

/* Validate and canonicalise; *out owns malloc'd bytes.  See shmets_term_from_etf(). */
int term_canon(const unsigned char *in, size_t len, unsigned flags, shmets_term *out);

/* Canonical integer encoding of v into b. */
void etf_put_int(struct tbuf *b, int64_t v);
/* Canonical integer from sign and little-endian magnitude (leading zeros allowed). */
void etf_put_big(struct tbuf *b, int negative, const unsigned char *mag, size_t n);
/* Canonical atom from valid UTF-8. */
void etf_put_atom(struct tbuf *b, const char *utf8, size_t len);

/* ---- walking canonical encodings (term_walk.c) ---- */

/* Do the len bytes at p have the shape of exactly one term, so the walkers below may read them
 * (term_span.c D.1…D.4)?  1 or 0.  For bytes read from shared memory; not a canonical check.
 * Inline for the shapes a lookup hands out most: {Int, <<Value>>} in ~12 instructions, any
 * small tuple of integers, binaries and small tuples of them (up to 8 tuples) in ~8 a term, no call; every other shape, and any
 * doubt, goes to term_span_walk (term_span.c), which decides.  D.5: they agree on every input
 * (tests/test_damage.c compares them on 200,000 mutated objects). */
int term_span_walk(const unsigned char *p, size_t len);
/* {Int, <<Bytes>>} (a 32-bit integer key and a binary value: the key-value object) in one
 * 8-byte compare and one length: 104 2 98 i i i i 109 | n n n n | bytes. */
static inline __attribute__((always_inline)) int term_span_kv(const unsigned char *p, size_t len)
{
    if (len >= 12) {
        uint64_t w;
        memcpy(&w, p, 8);
        if ((le64toh(w) & 0xFF000000FFFFFFFFull) == (0x6D00000000000000ull | 0x620268ull) &&
            (size_t)get_be32(p + 8) == len - 12)
            return 1;
    }
    return 0;
}
static inline __attribute__((always_inline)) int term_span(const unsigned char *p, size_t len)
{
    if (term_span_kv(p, len))
        return 1;
    if (len >= 2 && p[0] == ETF_SMALL_TUPLE) {
        size_t i = 2;                   /* offsets, not pointers: i may pass len, never wrap */
        unsigned n = p[1], tuples = 1;  /* n: terms still to come; a small tuple adds its
                                           elements (so {{B, K}, <<V>>} too), at most 8 deep
                                           (D.3 holds: nesting <= tuples) */
        for (; n; n--) {
            if (i >= len)
                break;
            if (p[i] == ETF_INTEGER)
                i += 5;
            else if (p[i] == ETF_SMALL_INTEGER)
                i += 2;
            else if (p[i] == ETF_BINARY && len - i >= 5)
                i += 5 + (size_t)get_be32(p + i + 1);
            else if (p[i] == ETF_SMALL_TUPLE && len - i >= 2 && tuples < 8) {
                n += p[i + 1];
                i += 2;
                tuples++;
            } else
                break;
        }
        if (n == 0 && i == len)
            return 1;
    }
    return term_span_walk(p, len);
}

/* SHAPES (term_span.c D.6): a walk that checks many objects of one shape — a range, a
 * traversal's section — learns the shape from an object that passed term_span and then checks
 * each later object by its structural bytes alone (tags, arities, lengths: up to the first 24
 * bytes), a masked compare of one to three words instead of a walk; the last element, when it
 * is a binary, may have any length (its length field is checked against len).  A shape is
 * process memory (the caller's stack).  Bytes that fit a learnt shape pass term_span; bytes
 * that do not fit go to term_span, which decides. */
#define TERM_SHAPE_WORDS 3
struct term_shape {
    size_t len;                         /* the length (tail == 0); SIZE_MAX: none learnt */
    uint32_t tail, minlen;              /* tail: offset of the last binary's length field, 0: none */
    uint32_t words;                     /* words compared (1..3): the ones with structure */
    uint64_t mask[TERM_SHAPE_WORDS], val[TERM_SHAPE_WORDS];
    unsigned learnt;                    /* learnings so far: a walk learns a few, then stops */
    unsigned misses;                    /* objects that did not fit */
};
#define TERM_SHAPE_LEARN 4
static inline void term_shape_init(struct term_shape *sh)
{
    sh->len = SIZE_MAX;
    sh->tail = 0;
    sh->learnt = 0;
    sh->misses = 0;
}
/* Learn the shape of the len bytes at p, which passed term_span; 0 if it has structural bytes
 * past the words a shape compares (the shape is then none). */
int term_shape_learn(struct term_shape *sh, const unsigned char *p, size_t len);
static inline __attribute__((always_inline)) int term_shape_fits(const struct term_shape *sh, const unsigned char *p, size_t len)
{
    if (sh->tail) {
        if (len < sh->minlen || get_be32(p + sh->tail) != len - sh->tail - 4)
            return 0;
    } else if (len != sh->len) {
        return 0;
    }
    uint64_t w, d;                      /* the words that hold structure: len covers them */
    memcpy(&w, p, 8);
    d = (w & sh->mask[0]) ^ sh->val[0];
    if (sh->words > 1) {
        memcpy(&w, p + 8, 8);
        d |= (w & sh->mask[1]) ^ sh->val[1];
        if (sh->words > 2) {
            memcpy(&w, p + 16, 8);
            d |= (w & sh->mask[2]) ^ sh->val[2];
        }
    }
    return d == 0;
}
/* term_span, first by the shape, else by term_span — learning the shape from the second
 * object that does not fit (a walk of one object learns nothing), a few times a walk. */
static inline __attribute__((always_inline)) int term_span_shaped(struct term_shape *sh, const unsigned char *p, size_t len)
{
    if (__builtin_expect(term_shape_fits(sh, p, len), 1))
        return 1;
    if (!term_span(p, len))
        return 0;
    if (sh->misses++ && sh->learnt < TERM_SHAPE_LEARN)
        term_shape_learn(sh, p, len);
    return 1;
}

/* End of the canonical term starting at p. */
const unsigned char *term_end(const unsigned char *p);
extern const unsigned char term_scalar_len[256];
const unsigned char *term_end_from(const unsigned char *p, uint64_t pending);
/* term_end's loop over the tags most elements have (integers, short atoms, binaries, [],
 * small tuples of them), inline: where it stopped, and *left the terms still to step over
 * there (0: the term ends at the pointer returned; else its tag is none of those). */
static inline __attribute__((always_inline)) const unsigned char *term_leaf_steps(const unsigned char *p, uint64_t *left)
{
    uint64_t pending = 1;
    do {
        unsigned tag = p[0], n = term_scalar_len[tag];
        if (n)
            p += n;
        else if (tag == ETF_SMALL_TUPLE) {
            pending += p[1];
            p += 2;
        } else if (tag == ETF_BINARY)
            p += 5 + get_be32(p + 1);
        else if (tag == ETF_SMALL_ATOM_UTF8)
            p += 2 + p[1];
        else {
            *left = pending;
            return p;
        }
    } while (--pending);
    *left = 0;
    return p;
}
/* term_end's body, for the accessors that would otherwise make it their only call (so that
 * they save no registers): the common tags in a loop, the rest by a tail call to
 * term_end_from (term_walk.c). */
static inline __attribute__((always_inline)) const unsigned char *term_end_leaf(const unsigned char *p)
{
    uint64_t left;
    const unsigned char *q = term_leaf_steps(p, &left);
    return left ? term_end_from(q, left) : q;
}
/* term_end with the scalar tags most elements have inline (integers, binaries, short atoms,
 * []), for the accessors that step over a tuple's elements. */
static inline const unsigned char *term_end_inline(const unsigned char *p)
{
    switch (p[0]) {
    case ETF_SMALL_INTEGER: return p + 2;
    case ETF_INTEGER: return p + 5;
    case ETF_BINARY: return p + 5 + get_be32(p + 1);
    case ETF_SMALL_ATOM_UTF8: return p + 2 + p[1];
    case ETF_NIL: return p + 1;
    default: return term_end(p);
    }
}

/* The place of a term's type in Erlang's term order: number < atom < reference < fun < port
 * < pid < tuple < map < [] < list < bitstring.  tag: a canonical term's first byte. */
enum term_rank { TR_NUMBER, TR_ATOM, TR_REF, TR_FUN, TR_PORT, TR_PID, TR_TUPLE, TR_MAP, TR_NIL,
                 TR_LIST, TR_BITS };
static inline enum term_rank term_rank(unsigned tag)
{
    switch (tag) {
    case ETF_SMALL_INTEGER: case ETF_INTEGER: case ETF_SMALL_BIG: case ETF_LARGE_BIG:
    case ETF_NEW_FLOAT:
        return TR_NUMBER;
    case ETF_SMALL_ATOM_UTF8: case ETF_ATOM_UTF8: return TR_ATOM;
    case ETF_NEWER_REFERENCE: return TR_REF;
    case ETF_NEW_FUN: case ETF_EXPORT: return TR_FUN;
    case ETF_NEW_PORT: case ETF_V4_PORT: return TR_PORT;
    case ETF_NEW_PID: return TR_PID;
    case ETF_SMALL_TUPLE: case ETF_LARGE_TUPLE: return TR_TUPLE;
    case ETF_MAP: return TR_MAP;
    case ETF_NIL: return TR_NIL;
    case ETF_STRING: case ETF_LIST: return TR_LIST;
    case ETF_BINARY: case ETF_BIT_BINARY: return TR_BITS;
    default: die(__FILE__, __LINE__, "term_rank: not a canonical term");
    }
}

/* A cursor over the elements of a canonical list (STRING_EXT elements are made in tmp; [] is
 * a list of no elements, its own tail). */
struct term_lcur {
    const unsigned char *p;     /* next element (LIST) or byte (STRING) */
    uint32_t left;
    int str;
    unsigned char tmp[2];
};
static inline void term_lcur_init(struct term_lcur *c, const unsigned char *l)
{
    c->str = l[0] == ETF_STRING;
    c->left = l[0] == ETF_NIL ? 0 : c->str ? get_be16(l + 1) : get_be32(l + 1);
    c->p = l + (l[0] == ETF_NIL ? 0 : c->str ? 3 : 5);
}
/* The next element, or NULL at the end (then term_lcur_tail gives the tail). */
static inline const unsigned char *term_lcur_next(struct term_lcur *c)
{
    if (!c->left)
        return NULL;
    c->left--;
    if (c->str) {
        c->tmp[0] = ETF_SMALL_INTEGER;
        c->tmp[1] = *c->p++;
        return c->tmp;
    }
    const unsigned char *e = c->p;
    c->p = term_end(e);
    return e;
}
extern const unsigned char term_nil[1];     /* [] */
static inline const unsigned char *term_lcur_tail(const struct term_lcur *c)
{
    return c->str ? term_nil : c->p;
}

/* Integer fields of a canonical integer term. */
struct term_int {
    int negative;
    const unsigned char *mag;   /* little-endian magnitude (bigs) */
    size_t n;                   /* bytes of mag; 0 for a small value */
    int64_t small;              /* the value when n == 0 */
    unsigned char buf[8];
};
void term_get_int(const unsigned char *p, struct term_int *v);

/* Atom text of a canonical atom term. */
static inline const char *term_atom_text(const unsigned char *p, size_t *len)
{
    if (p[0] == ETF_SMALL_ATOM_UTF8) { *len = p[1]; return (const char *)p + 2; }
    *len = (size_t)p[1] << 8 | p[2];
    return (const char *)p + 3;
}

/* Map-key order is Erlang's term order except that all integers sort before all floats. */
int term_cmp(const unsigned char *a, const unsigned char *b, int exact);

/* The "C" locale, made once per process (thread-safe): floats are read and written with a
 * '.' whatever LC_NUMERIC the calling program set.  NULL only if newlocale() failed. */
locale_t term_c_locale(void);

/* Text helpers shared by the printer and the parser (term_print.c). */
void term_format_float(double d, char out[40]);
/* An unsigned integer, and a canonical integer term (bignums through GMP), in decimal. */
void term_print_u64(struct tbuf *b, uint64_t v);
void term_print_int(struct tbuf *b, const unsigned char *p);
int term_atom_needs_quotes(const char *utf8, size_t n);

/* Strict UTF-8 check; returns the number of code points or -1. */
long utf8_count(const unsigned char *s, size_t n);
/* Decode one code point of valid UTF-8 at s; advances *s. */
uint32_t utf8_next(const unsigned char **s);
/* Encode a code point (<= 0x10FFFF); returns bytes written to out (1..4). */
int utf8_put(uint32_t c, unsigned char *out);

#endif
