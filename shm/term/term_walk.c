/*
 * term_walk.c — walking canonical encodings (term.h): where a term ends, and the fields of an
 * integer (term.h also has the walkers small enough to inline: a type's rank in the term order
 * and the list cursor).  The order (term_cmp.c), the codec (term_codec.c) and the layers above walk terms
 * through these; they read only encodings that term_canon() has made canonical, so a term that
 * is not is an invariant broken (die), not bad input.  Bytes read from a table's segment, which
 * another process may have scribbled on, are not that: they reach these walkers only after
 * term_span() (term_span.c) found them a term inside their recorded length (issue 20).
 */
#include "term/term.h"
#include "base/util.h"

const unsigned char term_nil[1] = { ETF_NIL };

/* No recursion for containers: `pending` counts the terms still to step over (a tuple adds its
 * arity, a map twice its size, a list its length and its tail), so {{B, K}, <<V>>} is one loop
 * of five turns, not four calls.  Pids, ports, references and exports recurse once, on their
 * node atom or module.  term_end itself takes only the common tags (scalars of fixed size by a
 * table, small tuples, binaries, small atoms) and hands the walk, at the first other tag, to
 * term_end_from by a tail call: so it saves no registers and is a leaf, which matters as the
 * accessors and the match programs call it for every tuple they step over (a call cost ~19
 * instructions of pushes and pops before; {{B, K}, <<32 bytes>>} went from 87 to ~45). */
__attribute__((noinline)) const unsigned char *term_end_from(const unsigned char *p, uint64_t pending)
{
    do {
        switch (p[0]) {
        case ETF_SMALL_INTEGER: p += 2; break;
        case ETF_INTEGER: p += 5; break;
        case ETF_SMALL_BIG: p += 3 + p[1]; break;
        case ETF_LARGE_BIG: p += 6 + get_be32(p + 1); break;
        case ETF_NEW_FLOAT: p += 9; break;
        case ETF_SMALL_ATOM_UTF8: p += 2 + p[1]; break;
        case ETF_ATOM_UTF8: p += 3 + get_be16(p + 1); break;
        case ETF_NIL: p += 1; break;
        case ETF_STRING: p += 3 + get_be16(p + 1); break;
        case ETF_BINARY: p += 5 + get_be32(p + 1); break;
        case ETF_BIT_BINARY: p += 6 + get_be32(p + 1); break;
        case ETF_NEW_PID: p = term_end(p + 1) + 12; break;
        case ETF_NEW_PORT: p = term_end(p + 1) + 8; break;
        case ETF_V4_PORT: p = term_end(p + 1) + 12; break;
        case ETF_NEWER_REFERENCE: p = term_end(p + 3) + 4 + 4 * (size_t)get_be16(p + 1); break;
        case ETF_NEW_FUN: p += 1 + get_be32(p + 1); break;
        case ETF_EXPORT: p = term_end(term_end(p + 1)) + 2; break;
        case ETF_SMALL_TUPLE: pending += p[1]; p += 2; break;
        case ETF_LARGE_TUPLE: pending += get_be32(p + 1); p += 5; break;
        case ETF_MAP: pending += 2 * (uint64_t)get_be32(p + 1); p += 5; break;
        case ETF_LIST: pending += (uint64_t)get_be32(p + 1) + 1; p += 5; break;   /* and the tail */
        default:
            die(__FILE__, __LINE__, "term_end: not a canonical term");
        }
    } while (--pending);
    return p;
}

const unsigned char term_scalar_len[256] = {
    [ETF_SMALL_INTEGER] = 2, [ETF_INTEGER] = 5, [ETF_NEW_FLOAT] = 9, [ETF_NIL] = 1,
};

const unsigned char *term_end(const unsigned char *p)
{
    return term_end_leaf(p);
}

void term_get_int(const unsigned char *p, struct term_int *v)
{
    v->n = 0;
    v->negative = 0;
    v->mag = v->buf;
    switch (p[0]) {
    case ETF_SMALL_INTEGER: v->small = p[1]; break;
    case ETF_INTEGER: v->small = (int32_t)get_be32(p + 1); v->negative = v->small < 0; break;
    case ETF_SMALL_BIG: v->n = p[1]; v->negative = p[2]; v->mag = p + 3; break;
    case ETF_LARGE_BIG: v->n = get_be32(p + 1); v->negative = p[5]; v->mag = p + 6; break;
    default: die(__FILE__, __LINE__, "term_get_int: not an integer");
    }
}
