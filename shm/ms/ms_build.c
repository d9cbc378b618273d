/*
 * ms_build.c — canonical tuples, lists and maps from canonical parts, for the match-spec runner
 * (constructed terms {{...}}, [...] and #{...}, '$$', list tails) and compiler.
 *
 * Every term in shmets is canonical (term_codec.c, C.1-C.7), and a match specification's
 * results must be too, so that they can be stored, hashed and compared by bytes.  Tuples are
 * the parts behind a header.  The rules that need care:
 *   B.1 lists (C.4): a tail that is itself a list is spliced in ([a | [b]] is [a, b], one
 *       LIST_EXT); a proper list of 1..65535 integers 0..255 is STRING_EXT.  A LIST_EXT tail
 *       never qualifies for STRING_EXT when spliced (it would be STRING_EXT already, being
 *       canonical), so the choice depends only on the new elements and on whether the tail is
 *       [] or a string.
 *   B.2 maps (C.7): pairs sorted by key in map-key order (term_cmp exact); of equal keys the
 *       later pair wins, as ERTS builds #{K1 => V1, K2 => V2} with K1 =:= K2.
 * The size of the result is computed first and the caller provides exactly that much room,
 * so a result is written once, in place, with no intermediate copy.
 */
#include "ms/ms.h"
#include "base/util.h"

#include <stdlib.h>

size_t ms_tuple_size(const struct ms_part *el, size_t n)
{
    size_t s = n <= 255 ? 2 : 5;
    for (size_t i = 0; i < n; i++)
        s += el[i].len;
    return s;
}

void ms_tuple_write(unsigned char *dst, const struct ms_part *el, size_t n)
{
    if (n <= 255) {
        *dst++ = ETF_SMALL_TUPLE;
        *dst++ = (unsigned char)n;
    } else {
        *dst++ = ETF_LARGE_TUPLE;
        put_be32(dst, (uint32_t)n);
        dst += 4;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(dst, el[i].p, el[i].len);
        dst += el[i].len;
    }
}

/* How the list of el[0..n) and tail is written: as a string, or as LIST_EXT of count elements. */
static int list_is_string(const struct ms_part *el, size_t n, struct ms_part tail, uint64_t *count)
{
    uint64_t extra = tail.p[0] == ETF_STRING ? get_be16(tail.p + 1)
                     : tail.p[0] == ETF_LIST ? get_be32(tail.p + 1) : 0;
    *count = n + extra;
    if (tail.p[0] != ETF_NIL && tail.p[0] != ETF_STRING)
        return 0;
    if (*count > 65535)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (el[i].p[0] != ETF_SMALL_INTEGER)
            return 0;
    return 1;
}

size_t ms_list_size(const struct ms_part *el, size_t n, struct ms_part tail)
{
    if (n == 0)
        return tail.len;
    uint64_t count;
    if (list_is_string(el, n, tail, &count))
        return 3 + (size_t)count;
    size_t s = 5;
    for (size_t i = 0; i < n; i++)
        s += el[i].len;
    switch (tail.p[0]) {
    case ETF_NIL: return s + 1;
    case ETF_STRING: return s + 2 * (size_t)get_be16(tail.p + 1) + 1;
    case ETF_LIST: return s + tail.len - 5;
    default: return s + tail.len;
    }
}

void ms_list_write(unsigned char *dst, const struct ms_part *el, size_t n, struct ms_part tail)
{
    if (n == 0) {
        memcpy(dst, tail.p, tail.len);
        return;
    }
    uint64_t count;
    if (list_is_string(el, n, tail, &count)) {
        *dst++ = ETF_STRING;
        put_be16(dst, (uint16_t)count);
        dst += 2;
        for (size_t i = 0; i < n; i++)
            *dst++ = el[i].p[1];
        if (tail.p[0] == ETF_STRING)
            memcpy(dst, tail.p + 3, get_be16(tail.p + 1));
        return;
    }
    *dst++ = ETF_LIST;
    put_be32(dst, (uint32_t)count);
    dst += 4;
    for (size_t i = 0; i < n; i++) {
        memcpy(dst, el[i].p, el[i].len);
        dst += el[i].len;
    }
    switch (tail.p[0]) {
    case ETF_NIL:
        *dst = ETF_NIL;
        return;
    case ETF_STRING: {
        size_t m = get_be16(tail.p + 1);
        for (size_t i = 0; i < m; i++) {
            *dst++ = ETF_SMALL_INTEGER;
            *dst++ = tail.p[3 + i];
        }
        *dst = ETF_NIL;
        return;
    }
    case ETF_LIST:
        memcpy(dst, tail.p + 5, tail.len - 5);
        return;
    default:
        memcpy(dst, tail.p, tail.len);
        return;
    }
}

/* Sort by key (map-key order), equal keys by position, so the last of equal keys is last. */
static int pair_cmp(const void *a, const void *b, void *arg)
{
    const struct ms_part *k = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int r = 0;
    if (!(k[i].len == k[j].len && memcmp(k[i].p, k[j].p, k[i].len) == 0))
        r = term_cmp(k[i].p, k[j].p, 1);
    if (r)
        return r;
    return (i > j) - (i < j);
}

size_t ms_map_size(const struct ms_part *k, const struct ms_part *v, size_t n, size_t *order, size_t *npairs)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof *order, pair_cmp, (void *)k);
    /* Keep the last of each run of equal keys. */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        size_t a = order[i];
        if (i + 1 < n) {
            size_t b = order[i + 1];
            if (k[a].len == k[b].len && memcmp(k[a].p, k[b].p, k[a].len) == 0)
                continue;
        }
        order[m++] = a;
    }
    *npairs = m;
    size_t s = 5;
    for (size_t i = 0; i < m; i++)
        s += k[order[i]].len + v[order[i]].len;
    return s;
}

void ms_map_write(unsigned char *dst, const struct ms_part *k, const struct ms_part *v, const size_t *order, size_t npairs)
{
    *dst++ = ETF_MAP;
    put_be32(dst, (uint32_t)npairs);
    dst += 4;
    for (size_t i = 0; i < npairs; i++) {
        size_t j = order[i];
        memcpy(dst, k[j].p, k[j].len);
        dst += k[j].len;
        memcpy(dst, v[j].p, v[j].len);
        dst += v[j].len;
    }
}
