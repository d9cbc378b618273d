/*
 * term_cmp.c — Erlang's term order over canonical encodings; equality; hashing; keys.
 *
 * THE ORDER (the Erlang Reference Manual, "Term Comparisons", and erts_cmp_compound() in
 * OTP's erts/emulator/beam/utils.c, which decides where the manual is silent):
 *   O.1 number < atom < reference < fun < port < pid < tuple < map < [] < list < bitstring.
 *   O.2 Numbers compare by value, exactly: an integer and a float are compared as the
 *       mathematical numbers they denote (OTP does the same, with a lossless path for each
 *       size class), so 1 == 1.0 and 2^53+1 > 9007199254740992.0.
 *   O.3 Atoms compare by their text (UTF-8 byte order is code-point order).
 *   O.4 Tuples by arity, then element by element; lists element by element, then their tails;
 *       bitstrings bit by bit, then by length.
 *   O.5 Maps by size, then by their keys in map-key order compared exactly, then by their
 *       values in key order (the values in the mode of the whole comparison).  The manual
 *       states this rule; OTP follows it for maps of up to 32 keys (larger maps compare in
 *       hash order there, a known OTP quirk shmets does not copy).
 *   O.6 References, ports and pids compare by node name, creation and numbers; funs by
 *       module, index, uniq, free variables; local funs before exports.  OTP's order for
 *       these is an implementation detail; we follow erts_cmp_compound().
 * Two modes: "==" (arithmetic, the order of ordered_set) and "exact" (map-key order: every
 * integer sorts before every float, and -0.0 before 0.0, so that it is a total order whose
 * equality is =:=).  In exact mode equality is byte equality of canonical encodings.
 *
 * HOW
 * Both encodings are canonical (term_codec.c made them), so no bounds checks are needed and
 * one value has one encoding.  The walk recurses on tuple, map and list elements (bounded by
 * SHMETS_TERM_MAX_DEPTH) and loops along lists.  Integers that fit int64 compare natively,
 * against floats through long double (exact for int64 on x86-64 and arm64 with 64-bit
 * mantissas; elsewhere through GMP); larger integers compare by sign and magnitude bytes, and
 * against floats through GMP's exact mpz_cmp_d.
 */
#include "term/term.h"
#include "base/util.h"

#include <float.h>
#include <gmp.h>
#include <math.h>
#include <string.h>
#include <xxhash.h>

enum shmets_type shmets_term_type(shmets_term t)
{
    if (!t.ptr || !t.len)
        return 0;
    switch (t.ptr[0]) {
    case ETF_NEW_FLOAT: return SHMETS_T_FLOAT;
    case ETF_NEW_FUN: case ETF_EXPORT: return SHMETS_T_FUN;
    default: break;
    }
    static const enum shmets_type by_rank[] = {
        [TR_NUMBER] = SHMETS_T_INTEGER, [TR_ATOM] = SHMETS_T_ATOM, [TR_REF] = SHMETS_T_REF,
        [TR_FUN] = SHMETS_T_FUN, [TR_PORT] = SHMETS_T_PORT, [TR_PID] = SHMETS_T_PID,
        [TR_TUPLE] = SHMETS_T_TUPLE, [TR_MAP] = SHMETS_T_MAP, [TR_NIL] = SHMETS_T_NIL,
        [TR_LIST] = SHMETS_T_LIST, [TR_BITS] = SHMETS_T_BINARY,
    };
    return by_rank[term_rank(t.ptr[0])];
}

static int sgn64(int64_t a, int64_t b) { return (a > b) - (a < b); }
static int sgnu(uint64_t a, uint64_t b) { return (a > b) - (a < b); }

/* An integer, with values that fit int64 folded into `small` (n == 0). */
static void get_int(const unsigned char *p, struct term_int *v)
{
    term_get_int(p, v);
    if (v->n && v->n <= 8) {
        uint64_t m = 0;
        for (size_t i = v->n; i-- > 0;)
            m = m << 8 | v->mag[i];
        if (!v->negative && m <= INT64_MAX) { v->small = (int64_t)m; v->n = 0; }
        else if (v->negative && m <= (uint64_t)INT64_MAX + 1) {
            v->small = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
            v->n = 0;
        }
    }
}

static int int_cmp(const unsigned char *a, const unsigned char *b)
{
    struct term_int x, y;
    get_int(a, &x);
    get_int(b, &y);
    if (!x.n && !y.n)
        return sgn64(x.small, y.small);
    if (!x.n)       /* y is beyond int64: its sign decides */
        return y.negative ? 1 : -1;
    if (!y.n)
        return x.negative ? -1 : 1;
    if (x.negative != y.negative)
        return x.negative ? -1 : 1;
    int mag = x.n != y.n ? sgnu(x.n, y.n) : 0;
    for (size_t i = x.n; mag == 0 && i-- > 0;)
        mag = sgnu(x.mag[i], y.mag[i]);
    return x.negative ? -mag : mag;
}

static double get_float(const unsigned char *p)
{
    uint64_t bits = get_be64(p + 1);
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

/* Integer term vs double, exactly. */
static int int_float_cmp(const unsigned char *a, double d)
{
    struct term_int x;
    get_int(a, &x);
    if (!x.n) {
#if LDBL_MANT_DIG >= 64
        long double l = (long double)x.small, r = d;
        return (l > r) - (l < r);
#endif
    }
    mpz_t z;
    mpz_init(z);
    if (!x.n) {
        mpz_set_si(z, x.small);
    } else {
        mpz_import(z, x.n, -1, 1, 0, 0, x.mag);
        if (x.negative)
            mpz_neg(z, z);
    }
    int r = mpz_cmp_d(z, d);
    mpz_clear(z);
    return (r > 0) - (r < 0);
}

static int num_cmp(const unsigned char *a, const unsigned char *b, int exact)
{
    int af = a[0] == ETF_NEW_FLOAT, bf = b[0] == ETF_NEW_FLOAT;
    if (af && bf) {
        double x = get_float(a), y = get_float(b);
        if (x != y)
            return x < y ? -1 : 1;
        return exact ? (signbit(y) != 0) - (signbit(x) != 0) : 0;
    }
    if (!af && !bf)
        return int_cmp(a, b);
    if (exact)
        return af ? 1 : -1;
    return af ? -int_float_cmp(b, get_float(a)) : int_float_cmp(a, get_float(b));
}

static int bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
    int r = memcmp(a, b, an < bn ? an : bn);
    if (r)
        return r < 0 ? -1 : 1;
    return sgnu(an, bn);
}

static int atom_cmp(const unsigned char *a, const unsigned char *b)
{
    size_t an, bn;
    const char *x = term_atom_text(a, &an), *y = term_atom_text(b, &bn);
    return bytes_cmp(x, an, y, bn);
}

/* Bitstrings: bytes, bits in the last byte (8 when whole). */
static void get_bits(const unsigned char *p, const unsigned char **s, uint64_t *nbits)
{
    uint32_t n = get_be32(p + 1);
    if (p[0] == ETF_BINARY) { *s = p + 5; *nbits = 8 * (uint64_t)n; }
    else { *s = p + 6; *nbits = 8 * (uint64_t)(n - 1) + p[5]; }
}

static int bits_cmp(const unsigned char *a, const unsigned char *b)
{
    const unsigned char *x, *y;
    uint64_t xn, yn;
    get_bits(a, &x, &xn);
    get_bits(b, &y, &yn);
    uint64_t m = xn < yn ? xn : yn;
    int r = memcmp(x, y, (size_t)(m / 8));
    if (r)
        return r < 0 ? -1 : 1;
    if (m % 8) {
        unsigned mask = 0xFFu << (8 - m % 8) & 0xFF;
        unsigned cx = x[m / 8] & mask, cy = y[m / 8] & mask;
        if (cx != cy)
            return cx < cy ? -1 : 1;
    }
    return sgnu(xn, yn);
}

/* Node atom, creation, then the kind's fields.  *rest points after the node atom. */
static int node_cmp(const unsigned char *an, const unsigned char *bn,
                    const unsigned char **ra, const unsigned char **rb)
{
    *ra = term_end(an);
    *rb = term_end(bn);
    return atom_cmp(an, bn);
}

static int pid_cmp(const unsigned char *a, const unsigned char *b)
{
    const unsigned char *x, *y;
    int nodes = node_cmp(a + 1, b + 1, &x, &y);
    /* x: ID(4) Serial(4) Creation(4).  Pid data (serial, number) decides first. */
    int r = sgnu(get_be32(x + 4), get_be32(y + 4));
    if (!r) r = sgnu(get_be32(x), get_be32(y));
    if (!r) r = nodes;
    if (!r) r = sgnu(get_be32(x + 8), get_be32(y + 8));
    return r;
}

static int port_cmp(const unsigned char *a, const unsigned char *b)
{
    const unsigned char *x, *y;
    int r = node_cmp(a + 1, b + 1, &x, &y);
    if (r)
        return r;
    uint64_t xi = a[0] == ETF_V4_PORT ? get_be64(x) : get_be32(x);
    uint64_t yi = b[0] == ETF_V4_PORT ? get_be64(y) : get_be32(y);
    uint32_t xc = get_be32(x + (a[0] == ETF_V4_PORT ? 8 : 4));
    uint32_t yc = get_be32(y + (b[0] == ETF_V4_PORT ? 8 : 4));
    if (xc != yc)
        return sgnu(xc, yc);
    return sgnu(xi, yi);
}

static int ref_cmp(const unsigned char *a, const unsigned char *b)
{
    const unsigned char *x, *y;
    size_t an = get_be16(a + 1), bn = get_be16(b + 1);
    int r = node_cmp(a + 3, b + 3, &x, &y);
    if (r)
        return r;
    if ((r = sgnu(get_be32(x), get_be32(y))) != 0)     /* creation */
        return r;
    x += 4;
    y += 4;
    /* Words beyond the shorter one's length must be zero to be equal; then from the top. */
    for (; an > bn; an--)
        if (get_be32(x + 4 * (an - 1)))
            return 1;
    for (; bn > an; bn--)
        if (get_be32(y + 4 * (bn - 1)))
            return -1;
    for (size_t i = an; i-- > 0;)
        if ((r = sgnu(get_be32(x + 4 * i), get_be32(y + 4 * i))) != 0)
            return r;
    return 0;
}

static int cmp_seq(const unsigned char **a, const unsigned char **b, uint64_t n, int exact)
{
    for (uint64_t i = 0; i < n; i++) {
        int r = term_cmp(*a, *b, exact);
        if (r)
            return r;
        *a = term_end(*a);
        *b = term_end(*b);
    }
    return 0;
}

static int fun_cmp(const unsigned char *a, const unsigned char *b, int exact)
{
    if (a[0] != b[0])
        return a[0] == ETF_NEW_FUN ? -1 : 1;        /* local funs before exports */
    if (a[0] == ETF_EXPORT) {
        const unsigned char *x = a + 1, *y = b + 1;
        int r = cmp_seq(&x, &y, 2, 1);              /* module, function */
        return r ? r : sgnu(x[1], y[1]);             /* arity */
    }
    /* NEW_FUN: tag Size(4) Arity Uniq[16] Index(4) NumFree(4) Module OldIndex OldUniq Pid Free */
    const unsigned char *x = a + 30, *y = b + 30;
    int r = atom_cmp(x, y);                         /* module */
    if (r)
        return r;
    x = term_end(x);
    y = term_end(y);
    if ((r = cmp_seq(&x, &y, 2, 1)) != 0)           /* OldIndex, OldUniq */
        return r;
    uint32_t xf = get_be32(a + 26), yf = get_be32(b + 26);
    if (xf != yf)
        return sgnu(xf, yf);
    x = term_end(x);                                /* skip the creator pid */
    y = term_end(y);
    return cmp_seq(&x, &y, xf, exact);
}

static int tuple_cmp(const unsigned char *a, const unsigned char *b, int exact)
{
    uint32_t an = a[0] == ETF_SMALL_TUPLE ? a[1] : get_be32(a + 1);
    uint32_t bn = b[0] == ETF_SMALL_TUPLE ? b[1] : get_be32(b + 1);
    if (an != bn)
        return sgnu(an, bn);
    a += a[0] == ETF_SMALL_TUPLE ? 2 : 5;
    b += b[0] == ETF_SMALL_TUPLE ? 2 : 5;
    return cmp_seq(&a, &b, an, exact);
}

static int map_cmp(const unsigned char *a, const unsigned char *b, int exact)
{
    uint32_t n = get_be32(a + 1), m = get_be32(b + 1);
    if (n != m)
        return sgnu(n, m);
    const unsigned char *x = a + 5, *y = b + 5;
    for (uint32_t i = 0; i < n; i++) {              /* keys, exactly, in key order */
        int r = term_cmp(x, y, 1);
        if (r)
            return r;
        x = term_end(term_end(x));
        y = term_end(term_end(y));
    }
    x = a + 5;
    y = b + 5;
    for (uint32_t i = 0; i < n; i++) {              /* then values */
        x = term_end(x);
        y = term_end(y);
        int r = term_cmp(x, y, exact);
        if (r)
            return r;
        x = term_end(x);
        y = term_end(y);
    }
    return 0;
}

static int list_cmp(const unsigned char *a, const unsigned char *b, int exact)
{
    if (a[0] == ETF_STRING && b[0] == ETF_STRING)
        return bytes_cmp(a + 3, get_be16(a + 1), b + 3, get_be16(b + 1));
    struct term_lcur x, y;
    term_lcur_init(&x, a);
    term_lcur_init(&y, b);
    for (;;) {
        const unsigned char *ex = term_lcur_next(&x), *ey = term_lcur_next(&y);
        if (ex && ey) {
            int r = term_cmp(ex, ey, exact);
            if (r)
                return r;
            continue;
        }
        if (!ex && !ey)
            return term_cmp(term_lcur_tail(&x), term_lcur_tail(&y), exact);
        /* One list goes on (a cons); the other ended in a tail that is not a list. */
        if (ex)
            return TR_LIST > term_rank(term_lcur_tail(&y)[0]) ? 1 : -1;
        return TR_LIST > term_rank(term_lcur_tail(&x)[0]) ? -1 : 1;
    }
}

int term_cmp(const unsigned char *a, const unsigned char *b, int exact)
{
    /* Two integers of 32 bits or less (the commonest keys: the skip list's prefix ties, key
     * spans, select's bounds) without decoding them into struct term_int.  `exact` changes
     * nothing between integers. */
    if ((a[0] == ETF_SMALL_INTEGER || a[0] == ETF_INTEGER) && (b[0] == ETF_SMALL_INTEGER || b[0] == ETF_INTEGER)) {
        int64_t x = a[0] == ETF_SMALL_INTEGER ? a[1] : (int32_t)get_be32(a + 1);
        int64_t y = b[0] == ETF_SMALL_INTEGER ? b[1] : (int32_t)get_be32(b + 1);
        return (x > y) - (x < y);
    }
    enum term_rank ra = term_rank(a[0]), rb = term_rank(b[0]);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    switch (ra) {
    case TR_NUMBER: return num_cmp(a, b, exact);
    case TR_ATOM:   return atom_cmp(a, b);
    case TR_REF:    return ref_cmp(a, b);
    case TR_FUN:    return fun_cmp(a, b, exact);
    case TR_PORT:   return port_cmp(a, b);
    case TR_PID:    return pid_cmp(a, b);
    case TR_TUPLE:  return tuple_cmp(a, b, exact);
    case TR_MAP:    return map_cmp(a, b, exact);
    case TR_NIL:    return 0;
    case TR_LIST:   return list_cmp(a, b, exact);
    case TR_BITS:   return bits_cmp(a, b);
    }
    die(__FILE__, __LINE__, "term_cmp: unreachable");
}

int shmets_term_compare(shmets_term a, shmets_term b)
{
    return term_cmp(a.ptr, b.ptr, 0);
}

int shmets_term_compare_exact(shmets_term a, shmets_term b)
{
    return term_cmp(a.ptr, b.ptr, 1);
}

bool shmets_term_equal(shmets_term a, shmets_term b)
{
    if (a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0)
        return true;
    return term_cmp(a.ptr, b.ptr, 0) == 0;
}

bool shmets_term_exact_equal(shmets_term a, shmets_term b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

uint64_t shmets_term_hash(shmets_term t, uint64_t seed)
{
    return XXH3_64bits_withSeed(t.ptr, t.len, seed);
}

/* shmets_term_key's refusals, out of its path (a call to err_set there made it save registers
 * for every key it found). */
static __attribute__((noinline, cold)) int term_key_refused(shmets_term obj, unsigned pos, const shmets_term *key)
{
    const unsigned char *p = obj.ptr;
    if (!p || !key)
        return err_set(SHMETS_EINVAL, "NULL argument");
    if (p[0] != ETF_SMALL_TUPLE && p[0] != ETF_LARGE_TUPLE)
        return err_set(SHMETS_ETYPE, "object is not a tuple");
    uint32_t n = p[0] == ETF_SMALL_TUPLE ? p[1] : get_be32(p + 1);
    return err_set(SHMETS_EBADPOS, "keypos %u outside the object's arity %u", pos, n);
}

/* shmets_term_key for any tuple and any element: term_end_leaf, which calls term_end_from on
 * a tag it does not step over itself. */
static __attribute__((noinline)) int term_key_general(shmets_term obj, unsigned pos, shmets_term *key)
{
    const unsigned char *p = obj.ptr;
    if (__builtin_expect(!p || !key || (p[0] != ETF_SMALL_TUPLE && p[0] != ETF_LARGE_TUPLE), 0))
        return term_key_refused(obj, pos, key);
    uint32_t n = p[0] == ETF_SMALL_TUPLE ? p[1] : get_be32(p + 1);
    if (__builtin_expect(pos < 1 || pos > n, 0))
        return term_key_refused(obj, pos, key);
    p += p[0] == ETF_SMALL_TUPLE ? 2 : 5;
    for (unsigned i = 1; i < pos; i++)
        p = term_end_leaf(p);
    key->ptr = p;
    key->len = (size_t)(term_end_leaf(p) - p);
    return 0;
}

/* Where the term at p ends, for the tags term_end_leaf steps over itself (term_leaf_steps),
 * or NULL at any other tag. */
static inline __attribute__((always_inline)) const unsigned char *leaf_end(const unsigned char *p)
{
    uint64_t left;
    const unsigned char *q = term_leaf_steps(p, &left);
    return left ? NULL : q;
}

/* A small tuple whose elements up to pos are of leaf_end's tags (the objects most tables hold,
 * {K, V}, {{B, K}, <<V>>}) is read here with no call, so with no register saved; anything else
 * the general way.  The accessors reach a value through it (shmets_term_tuple_element): ~45
 * instructions for {{B, K}, <<V>>}'s second element, ~80 the general way. */
int shmets_term_key(shmets_term obj, unsigned pos, shmets_term *key)
{
    const unsigned char *p = obj.ptr, *e;
    if (__builtin_expect(!p || !key || p[0] != ETF_SMALL_TUPLE || pos - 1u >= p[1], 0))
        return term_key_general(obj, pos, key);
    p += 2;
    for (unsigned i = pos;; p = e) {
        if (__builtin_expect(!(e = leaf_end(p)), 0))
            return term_key_general(obj, pos, key);
        if (--i == 0)
            break;
    }
    key->ptr = p;
    key->len = (size_t)(e - p);
    return 0;
}
