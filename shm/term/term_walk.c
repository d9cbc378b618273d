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

const unsigned char *term_end(const unsigned char *p)
{
    for (;;) {
        switch (p[0]) {
        case ETF_SMALL_INTEGER: return p + 2;
        case ETF_INTEGER: return p + 5;
        case ETF_SMALL_BIG: return p + 3 + p[1];
        case ETF_LARGE_BIG: return p + 6 + get_be32(p + 1);
        case ETF_NEW_FLOAT: return p + 9;
        case ETF_SMALL_ATOM_UTF8: return p + 2 + p[1];
        case ETF_ATOM_UTF8: return p + 3 + get_be16(p + 1);
        case ETF_NIL: return p + 1;
        case ETF_STRING: return p + 3 + get_be16(p + 1);
        case ETF_BINARY: return p + 5 + get_be32(p + 1);
        case ETF_BIT_BINARY: return p + 6 + get_be32(p + 1);
        case ETF_NEW_PID: return term_end(p + 1) + 12;
        case ETF_NEW_PORT: return term_end(p + 1) + 8;
        case ETF_V4_PORT: return term_end(p + 1) + 12;
        case ETF_NEWER_REFERENCE: return term_end(p + 3) + 4 + 4 * (size_t)get_be16(p + 1);
        case ETF_NEW_FUN: return p + 1 + get_be32(p + 1);
        case ETF_EXPORT: return term_end(term_end(p + 1)) + 2;
        case ETF_SMALL_TUPLE: case ETF_LARGE_TUPLE: {
            uint32_t n = p[0] == ETF_SMALL_TUPLE ? p[1] : get_be32(p + 1);
            p += p[0] == ETF_SMALL_TUPLE ? 2 : 5;
            while (n--)
                p = term_end(p);
            return p;
        }
        case ETF_MAP: {
            uint64_t n = 2 * (uint64_t)get_be32(p + 1);
            p += 5;
            while (n--)
                p = term_end(p);
            return p;
        }
        case ETF_LIST: {
            uint32_t n = get_be32(p + 1);
            p += 5;
            while (n--)
                p = term_end(p);
            continue;           /* the tail */
        }
        default:
            die(__FILE__, __LINE__, "term_end: not a canonical term");
        }
    }
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
