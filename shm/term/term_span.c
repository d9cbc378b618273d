/*
 * term_span.c — the shape of a term read from shared memory, checked against its length.
 *
 * WHY.  The walkers of this folder (term_end, term_cmp, the printer, the accessors) and of ms/
 * read encodings that term_canon() made canonical, so they check no bounds and die() on a tag
 * they do not know: for the process's own terms that is an invariant broken.  A table's
 * segment, though, can be scribbled on by any process of the uid that maps it read-write (a
 * public table), so the bytes a stored object or key holds are input, not an invariant.  Every
 * place that hands stored bytes to a walker first asks term_span() whether they have the shape
 * the walkers rely on; if not, the caller answers -SHMETS_EBADSEG (DESIGN.md §3: a damaged
 * segment is an error, not a wild read).
 *
 * WHAT IT CHECKS, in one pass with no allocation (cost: a few instructions a byte of tags and
 * lengths; binaries and strings are skipped by their length, not read):
 *   D.1 every tag is one the canonical form uses (term_codec.c C.1…), and every length and
 *       count stays inside [p, p + len): a walker given bytes that pass never reads outside;
 *   D.2 the bytes are exactly one term: it ends at p + len;
 *   D.3 nesting is at most SHMETS_TERM_MAX_DEPTH (the walkers recurse on it); list tails are
 *       followed by a loop, as everywhere else;
 *   D.4 what a walker would otherwise trust inside a term: atoms are valid UTF-8 (the printer
 *       decodes them), a bignum has a sign of 0 or 1 and at least one byte, a bitstring's last
 *       byte holds 1..7 bits, a float is finite, a list cell holds at least one element, the
 *       node of a pid, port or reference is an atom, a fun's module, indexes and creator pid
 *       are an atom, integers and a pid, and its size field is its size.
 *   D.5 term_span() (term.h) answers the commonest shapes inline ({Int, <<Bytes>>} by one
 *       masked compare, any small tuple of integers, binaries and small tuples of
 *       them — up to 8 tuples — by a short loop) and hands
 *       everything else to term_span_walk() here; on every input the two answer alike
 *       (tests/test_damage.c compares them on mutated bytes).  The cost that a lookup pays
 *       for the check of its object is ~12 instructions for {Int, <<32 bytes>>} (callgrind).
 *   D.6 SHAPES (term.h, struct term_shape): bytes that equal, at every structural byte, an
 *       object that passed (the same tags, arities and lengths at the same places, so the same
 *       walk), and have its length — or end in a binary whose length field says where the
 *       bytes end —, pass too: the bytes a shape leaves free are the values of integers and
 *       the contents of binaries, which D.1…D.4 never look at.  term_shape_learn marks every
 *       other byte structural (an atom's, a float's, a pid's whole encoding), so a shape is
 *       never looser than term_span; learnt from {{B, K}, <<V>>}, the check of a range's
 *       object is ~14 instructions instead of ~60.  A shape compares the words that hold
 *       structure (one for {K, <<V>>}, two for {{B, K}, <<V>>}), all inside the length.
 * It does NOT check canonical form (C.2's smallest integer encoding, map key order, that a
 * string is not written as a list…): bytes that pass may still compare or hash unlike the
 * term they were meant to be, which is a wrong answer, never a crash.  shmets_check (I.3)
 * checks everything.
 */
#include "term/term.h"
#include "base/util.h"

#include <string.h>

static int atom_ok(const unsigned char *p, const unsigned char *end, const unsigned char **next)
{
    size_t n, h;
    if (end - p < 2)
        return 0;
    if (p[0] == ETF_SMALL_ATOM_UTF8) {
        n = p[1];
        h = 2;
    } else if (p[0] == ETF_ATOM_UTF8) {
        if (end - p < 3)
            return 0;
        n = get_be16(p + 1);
        h = 3;
    } else {
        return 0;
    }
    if ((size_t)(end - p) - h < n || utf8_count(p + h, n) < 0)
        return 0;
    *next = p + h + n;
    return 1;
}

static int is_int(unsigned tag)
{
    return tag == ETF_SMALL_INTEGER || tag == ETF_INTEGER || tag == ETF_SMALL_BIG || tag == ETF_LARGE_BIG;
}

/* The end of the term at p, or NULL if it does not fit D.1, D.3, D.4 before end (depth: the
 * containers around p). */
static const unsigned char *span(const unsigned char *p, const unsigned char *end, int depth)
{
#define NEED(k) do { if ((size_t)(end - p) < (size_t)(k)) return NULL; } while (0)
    for (;;) {
        NEED(1);
        switch (p[0]) {
        case ETF_SMALL_INTEGER: NEED(2); return p + 2;
        case ETF_INTEGER: NEED(5); return p + 5;
        case ETF_SMALL_BIG:
            NEED(3);
            if (p[1] == 0 || p[2] > 1)
                return NULL;
            NEED(3 + (size_t)p[1]);
            return p + 3 + p[1];
        case ETF_LARGE_BIG: {
            NEED(6);
            uint32_t n = get_be32(p + 1);
            if (n == 0 || p[5] > 1)
                return NULL;
            NEED(6 + (size_t)n);
            return p + 6 + n;
        }
        case ETF_NEW_FLOAT: {
            NEED(9);
            if (((get_be16(p + 1) >> 4) & 0x7ff) == 0x7ff)
                return NULL;            /* inf or NaN: no Erlang float */
            return p + 9;
        }
        case ETF_SMALL_ATOM_UTF8: case ETF_ATOM_UTF8: {
            const unsigned char *q;
            return atom_ok(p, end, &q) ? q : NULL;
        }
        case ETF_NIL: return p + 1;
        case ETF_STRING:
            NEED(3);
            NEED(3 + (size_t)get_be16(p + 1));
            return p + 3 + get_be16(p + 1);
        case ETF_BINARY:
            NEED(5);
            NEED(5 + (size_t)get_be32(p + 1));
            return p + 5 + get_be32(p + 1);
        case ETF_BIT_BINARY: {
            NEED(6);
            uint32_t n = get_be32(p + 1);
            if (n == 0 || p[5] < 1 || p[5] > 7)
                return NULL;
            NEED(6 + (size_t)n);
            return p + 6 + n;
        }
        case ETF_NEW_PID: case ETF_NEW_PORT: case ETF_V4_PORT: {
            const unsigned char *q;
            if (!atom_ok(p + 1, end, &q))
                return NULL;
            size_t tail = p[0] == ETF_NEW_PORT ? 8 : 12;
            if ((size_t)(end - q) < tail)
                return NULL;
            return q + tail;
        }
        case ETF_NEWER_REFERENCE: {
            NEED(3);
            size_t n = get_be16(p + 1);
            const unsigned char *q;
            if (n == 0 || n > 5 || !atom_ok(p + 3, end, &q) || (size_t)(end - q) < 4 + 4 * n)
                return NULL;
            return q + 4 + 4 * n;
        }
        case ETF_NEW_FUN: {
            /* tag Size(4) Arity Uniq[16] Index(4) NumFree(4) Module OldIndex OldUniq Pid Free */
            NEED(30);
            uint32_t size = get_be32(p + 1), nfree = get_be32(p + 26);
            if (size < 29 || (size_t)(end - p) - 1 < size)
                return NULL;
            const unsigned char *fend = p + 1 + size, *q = p + 30;
            if (!atom_ok(q, fend, &q) || q >= fend || !is_int(q[0]) || !(q = span(q, fend, depth + 1)) ||
                q >= fend || !is_int(q[0]) || !(q = span(q, fend, depth + 1)) ||
                q >= fend || q[0] != ETF_NEW_PID || !(q = span(q, fend, depth + 1)))
                return NULL;
            if (nfree && depth + 1 > SHMETS_TERM_MAX_DEPTH)
                return NULL;
            for (uint32_t i = 0; i < nfree; i++)
                if (!(q = span(q, fend, depth + 1)))
                    return NULL;
            return q == fend ? q : NULL;
        }
        case ETF_EXPORT: {
            const unsigned char *q;
            if (!atom_ok(p + 1, end, &q) || !atom_ok(q, end, &q) || end - q < 2 || q[0] != ETF_SMALL_INTEGER)
                return NULL;
            return q + 2;
        }
        case ETF_SMALL_TUPLE: case ETF_LARGE_TUPLE: case ETF_MAP: {
            uint64_t n;
            if (p[0] == ETF_SMALL_TUPLE) {
                NEED(2);
                n = p[1];
                p += 2;
            } else {
                NEED(5);
                n = (uint64_t)get_be32(p + 1) * (p[0] == ETF_MAP ? 2 : 1);
                p += 5;
            }
            if (n > (uint64_t)(end - p))
                return NULL;            /* every element takes a byte at least */
            if (n && depth + 1 > SHMETS_TERM_MAX_DEPTH)
                return NULL;
            while (n--)
                if (!(p = span(p, end, depth + 1)))
                    return NULL;
            return p;
        }
        case ETF_LIST: {
            NEED(5);
            uint32_t n = get_be32(p + 1);
            p += 5;
            if (n == 0 || n > (uint64_t)(end - p))
                return NULL;
            if (depth + 1 > SHMETS_TERM_MAX_DEPTH)
                return NULL;
            while (n--)
                if (!(p = span(p, end, depth + 1)))
                    return NULL;
            continue;                   /* the tail, at this depth */
        }
        default:
            return NULL;
        }
    }
#undef NEED
}

/* The common shapes (integers, [], binaries, strings, tuples, lists, maps) in a loop that
 * counts the terms still to come, with no recursion: ~10 instructions a term, for what the
 * inline case of term.h leaves (a 3-term object cost 130 instructions through span() alone).  Everything else
 * (atoms, floats, bignums, pids, ports, references, funs) goes to span(), with `nest`, the
 * containers seen so far, as its depth: an upper bound of the true one.  A term with more
 * containers than SHMETS_TERM_MAX_DEPTH is walked again by span() for its true depth (D.3). */
int term_span_walk(const unsigned char *p, size_t len)
{
    const unsigned char *start = p, *end = p + len;
    uint64_t pending = 1, nest = 0;
    while (pending) {
        pending--;
        size_t left = (size_t)(end - p), n;
        if (left == 0)
            return 0;
        switch (p[0]) {
        case ETF_SMALL_INTEGER: n = 2; break;
        case ETF_INTEGER: n = 5; break;
        case ETF_NIL: n = 1; break;
        case ETF_BINARY:
            if (left < 5)
                return 0;
            n = 5 + (size_t)get_be32(p + 1);
            break;
        case ETF_STRING:
            if (left < 3)
                return 0;
            n = 3 + (size_t)get_be16(p + 1);
            break;
        case ETF_SMALL_TUPLE:
            if (left < 2)
                return 0;
            pending += p[1];
            nest++;
            n = 2;
            break;
        case ETF_LARGE_TUPLE: case ETF_MAP: case ETF_LIST:
            if (left < 5)
                return 0;
            n = get_be32(p + 1);
            if (p[0] == ETF_LIST && n == 0)
                return 0;
            pending += p[0] == ETF_MAP ? 2 * (uint64_t)n : p[0] == ETF_LIST ? (uint64_t)n + 1 : n;
            nest++;
            n = 5;
            break;
        default: {
            const unsigned char *q = span(p, end, nest > SHMETS_TERM_MAX_DEPTH ? SHMETS_TERM_MAX_DEPTH : (int)nest);
            if (!q)
                return 0;
            n = (size_t)(q - p);
            nest++;
            break;
        }
        }
        if (left < n)
            return 0;
        p += n;
    }
    if (p != end)
        return 0;
    return nest <= SHMETS_TERM_MAX_DEPTH || span(start, end, 0) == end;
}

/* ---- D.6 shapes ------------------------------------------------------------------------- */

#define SHAPE_BYTES (8 * TERM_SHAPE_WORDS)

struct learn {
    const unsigned char *p;
    uint64_t mask[TERM_SHAPE_WORDS];
    size_t last_bin;                    /* offset of the last binary's length field, 0: none */
};

/* Bytes [a, b) are structural: 0 if one lies past the words a shape compares. */
static int fixed(struct learn *l, size_t a, size_t b)
{
    if (b > SHAPE_BYTES)
        return 0;
    for (size_t i = a; i < b; i++)
        l->mask[i / 8] |= 0xffull << (8 * (i % 8));      /* the loads are little-endian (x86-64) */
    return 1;
}

/* Mark the structure of the term at offset o (which passed term_span); its end, or 0 (no
 * shape).  A binary's length field is marked when the next term begins: the last one, which
 * may end the whole term, is left to term_shape_learn. */
static size_t learn_term(struct learn *l, size_t o, int depth)
{
    const unsigned char *p = l->p + o;
    if (l->last_bin) {
        if (!fixed(l, l->last_bin, l->last_bin + 4))
            return 0;
        l->last_bin = 0;
    }
    switch (p[0]) {
    case ETF_SMALL_INTEGER: return fixed(l, o, o + 1) ? o + 2 : 0;
    case ETF_INTEGER: return fixed(l, o, o + 1) ? o + 5 : 0;
    case ETF_BINARY:
        l->last_bin = o + 1;
        return fixed(l, o, o + 1) ? o + 5 + get_be32(p + 1) : 0;
    case ETF_SMALL_TUPLE: case ETF_LARGE_TUPLE: {
        size_t n = p[0] == ETF_SMALL_TUPLE ? p[1] : get_be32(p + 1);
        size_t q = o + (p[0] == ETF_SMALL_TUPLE ? 2 : 5);
        if (depth >= 8 || !fixed(l, o, q))
            return 0;
        for (size_t i = 0; i < n && q; i++)
            q = learn_term(l, q, depth + 1);
        return q;
    }
    default: {                          /* anything else whole: every byte of it is structure */
        size_t e = (size_t)(term_end(p) - l->p);
        return fixed(l, o, e) ? e : 0;
    }
    }
}

int term_shape_learn(struct term_shape *sh, const unsigned char *p, size_t len)
{
    struct learn l = { .p = p };
    sh->learnt++;
    sh->len = SIZE_MAX;                 /* none, unless all goes well */
    sh->tail = 0;
    /* {Int, <<V>>} term_span checks in fewer instructions than a shape: none for it. */
    if (len < 8 || len > UINT32_MAX || term_span_kv(p, len) || learn_term(&l, 0, 0) != len)
        return 0;
    /* The words compared: up to the last that holds structure, all inside len. */
    uint32_t words = 1;
    for (uint32_t i = 1; i < TERM_SHAPE_WORDS; i++)
        if (l.mask[i])
            words = i + 1;
    if (len < 8 * (size_t)words)
        return 0;
    for (uint32_t i = 0; i < TERM_SHAPE_WORDS; i++) {
        uint64_t w = 0;
        if (i < words)
            memcpy(&w, p + 8 * i, 8);
        sh->mask[i] = i < words ? l.mask[i] : 0;
        sh->val[i] = w & sh->mask[i];
    }
    sh->words = words;
    /* The last binary ends the term (nothing followed it): its length field is checked against
     * the length instead, so that the shape fits values of any size. */
    if (l.last_bin) {
        sh->tail = (uint32_t)l.last_bin;
        sh->minlen = (uint32_t)l.last_bin + 4 > 8 * words ? (uint32_t)l.last_bin + 4 : 8 * words;
    } else {
        sh->len = len;
    }
    return 1;
}
