/*
 * ms_bif.c — the guard functions of match specifications, with Erlang's semantics.
 *
 * Each function takes canonical terms and returns a canonical term, or "raises" (returns 1):
 * what is badarg, badarith, badkey, badmap or system_limit in Erlang.  The caller turns a raise
 * into a failed guard or, in a body, the atom 'EXIT'.  The semantics are those of the BIFs of
 * the same names (the Erlang Reference Manual, "Expressions"; the erlang module's manual), and,
 * where the manual is silent, OTP 25's behaviour, checked by tests/test_ms.c and the
 * differential test:
 *   A.1 Integers have any size and are computed with GMP, as update_counter does; an int64 fast
 *       path avoids GMP for small operands.  A result of more than SHMETS_BIG_MAX_BYTES of
 *       magnitude raises (Erlang's system_limit comes later, at its own larger limit).
 *   A.2 Mixed arithmetic converts the integer to a double as ERTS does (big_to_double: 64-bit
 *       digits from the most significant, d = d * 2^64 + digit), which raises when the
 *       integer is out of range; a result that is not finite raises.  X / 0.0 raises.
 *   A.3 Where ERTS needs a "small" integer (is_record/3's size, element/2's index,
 *       is_function/2's arity) a bignum is not one: 60-bit signed on a 64-bit VM.
 *   A.4 bsl/bsr shift by any integer; a huge left shift of a non-zero integer raises, a huge
 *       right shift gives 0 or -1.
 *   A.5 abs(-0.0) is -0.0 and round/trunc/floor/ceil give the exact integer of the double, as
 *       OTP 25 computes them.
 */
#include "ms/ms.h"
#include "base/util.h"

#include <gmp.h>
#include <math.h>
#include <stdlib.h>

#define RAISE 1
#define SMALL_MIN (-((int64_t)1 << 59))
#define SMALL_MAX (((int64_t)1 << 59) - 1)

static const unsigned char a_true[] = { ETF_SMALL_ATOM_UTF8, 4, 't', 'r', 'u', 'e' };
static const unsigned char a_false[] = { ETF_SMALL_ATOM_UTF8, 5, 'f', 'a', 'l', 's', 'e' };
static const unsigned char a_node[] = { ETF_SMALL_ATOM_UTF8, 13, 'n', 'o', 'n', 'o', 'd', 'e', '@',
                                        'n', 'o', 'h', 'o', 's', 't' };

static int ret_bool(int b, struct ms_val *out)
{
    *out = b ? (struct ms_val){ a_true, sizeof a_true, 0, 0 } : (struct ms_val){ a_false, sizeof a_false, 0, 0 };
    return 0;
}

static int ret_view(const unsigned char *p, struct ms_val *out)
{
    *out = (struct ms_val){ p, 0, 0, 0 };
    return 0;
}

static int is_bool(const unsigned char *p, size_t n, int *v)
{
    if (n == sizeof a_true && memcmp(p, a_true, n) == 0) { *v = 1; return 1; }
    if (n == sizeof a_false && memcmp(p, a_false, n) == 0) { *v = 0; return 1; }
    return 0;
}

/* ---- numbers ---- */

enum nk { N_NONE, N_INT, N_BIG, N_FLOAT };

struct num {
    enum nk k;
    int64_t i;
    double d;
    const unsigned char *p;
};

static enum nk num_of(const unsigned char *p, struct num *n)
{
    n->p = p;
    switch (p[0]) {
    case ETF_SMALL_INTEGER: case ETF_INTEGER: case ETF_SMALL_BIG: case ETF_LARGE_BIG: {
        struct term_int v;
        term_get_int(p, &v);
        if (!v.n) {
            n->i = v.small;
            return n->k = N_INT;
        }
        if (v.n <= 8) {
            uint64_t m = 0;
            for (size_t j = v.n; j-- > 0;)
                m = m << 8 | v.mag[j];
            if (!v.negative && m <= INT64_MAX) { n->i = (int64_t)m; return n->k = N_INT; }
            if (v.negative && m <= (uint64_t)INT64_MAX + 1) {
                n->i = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
                return n->k = N_INT;
            }
        }
        return n->k = N_BIG;
    }
    case ETF_NEW_FLOAT: {
        uint64_t b = get_be64(p + 1);
        memcpy(&n->d, &b, 8);
        return n->k = N_FLOAT;
    }
    default:
        return n->k = N_NONE;
    }
}

static void to_mpz(mpz_t z, const struct num *n)
{
    if (n->k == N_INT) {
        mpz_set_si(z, (long)n->i);
        return;
    }
    struct term_int v;
    term_get_int(n->p, &v);
    mpz_import(z, v.n, -1, 1, 0, 0, v.mag);
    if (v.negative)
        mpz_neg(z, z);
}

/* An integer as a double, as ERTS's big_to_double; 0 if out of range. */
static int to_double(const struct num *n, double *d)
{
    if (n->k == N_FLOAT) {
        *d = n->d;
        return 1;
    }
    if (n->k == N_INT) {
        *d = (double)n->i;
        return 1;
    }
    struct term_int v;
    term_get_int(n->p, &v);
    size_t limbs = (v.n + 7) / 8;
    double x = 0.0;
    for (size_t j = limbs; j-- > 0;) {
        uint64_t limb = 0;
        for (size_t b = 8; b-- > 0;) {
            size_t at = 8 * j + b;
            limb = limb << 8 | (at < v.n ? v.mag[at] : 0);
        }
        x = x * 18446744073709551616.0 + (double)limb;
        if (!isfinite(x))
            return 0;
    }
    *d = v.negative ? -x : x;
    return 1;
}

static int out_i64(struct ms_run *r, int64_t v, struct ms_val *out)
{
    int err = 0;
    unsigned char *d;
    if (v >= 0 && v <= 255) {
        if (!(d = ms_alloc(r, 2, &err)))
            return err;
        d[0] = ETF_SMALL_INTEGER;
        d[1] = (unsigned char)v;
        *out = (struct ms_val){ d, 2, 0, 0 };
        return 0;
    }
    if (v >= INT32_MIN && v <= INT32_MAX) {
        if (!(d = ms_alloc(r, 5, &err)))
            return err;
        d[0] = ETF_INTEGER;
        put_be32(d + 1, (uint32_t)(int32_t)v);
        *out = (struct ms_val){ d, 5, 0, 0 };
        return 0;
    }
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    unsigned char mag[8];
    size_t n = 0;
    while (m) {
        mag[n++] = (unsigned char)m;
        m >>= 8;
    }
    if (!(d = ms_alloc(r, 3 + n, &err)))
        return err;
    d[0] = ETF_SMALL_BIG;
    d[1] = (unsigned char)n;
    d[2] = v < 0;
    memcpy(d + 3, mag, n);
    *out = (struct ms_val){ d, 3 + n, 0, 0 };
    return 0;
}

/* An integer result; raises past SHMETS_BIG_MAX_BYTES (A.1). */
static int out_mpz(struct ms_run *r, const mpz_t z, struct ms_val *out)
{
    if (mpz_fits_slong_p(z))
        return out_i64(r, mpz_get_si(z), out);
    size_t n = (mpz_sizeinbase(z, 2) + 7) / 8;
    if (n > SHMETS_BIG_MAX_BYTES)
        return RAISE;
    int err = 0;
    size_t hdr = n <= 255 ? 3 : 6;
    unsigned char *d = ms_alloc(r, hdr + n, &err);
    if (!d)
        return err;
    if (n <= 255) {
        d[0] = ETF_SMALL_BIG;
        d[1] = (unsigned char)n;
        d[2] = mpz_sgn(z) < 0;
    } else {
        d[0] = ETF_LARGE_BIG;
        put_be32(d + 1, (uint32_t)n);
        d[5] = mpz_sgn(z) < 0;
    }
    size_t w = 0;
    mpz_export(d + hdr, &w, -1, 1, 0, 0, z);
    *out = (struct ms_val){ d, hdr + n, 0, 0 };
    return 0;
}

static int out_float(struct ms_run *r, double v, struct ms_val *out)
{
    if (!isfinite(v))
        return RAISE;
    int err = 0;
    unsigned char *d = ms_alloc(r, 9, &err);
    if (!d)
        return err;
    uint64_t b;
    memcpy(&b, &v, 8);
    d[0] = ETF_NEW_FLOAT;
    put_be64(d + 1, b);
    *out = (struct ms_val){ d, 9, 0, 0 };
    return 0;
}

/* An integral double as an integer. */
static int out_integral(struct ms_run *r, double v, struct ms_val *out)
{
    if (v >= -9223372036854775808.0 && v < 9223372036854775808.0)
        return out_i64(r, (int64_t)v, out);
    mpz_t z;
    mpz_init(z);
    mpz_set_d(z, v);
    int rc = out_mpz(r, z, out);
    mpz_clear(z);
    return rc;
}

enum arith { AR_PLUS, AR_MINUS, AR_TIMES };

static int arith(struct ms_run *r, enum arith op, const struct num *a, const struct num *b, struct ms_val *out)
{
    if (a->k == N_NONE || b->k == N_NONE)
        return RAISE;
    if (a->k == N_FLOAT || b->k == N_FLOAT) {
        double x, y;
        if (!to_double(a, &x) || !to_double(b, &y))
            return RAISE;
        return out_float(r, op == AR_PLUS ? x + y : op == AR_MINUS ? x - y : x * y, out);
    }
    if (a->k == N_INT && b->k == N_INT) {
        int64_t v;
        int ovf = op == AR_PLUS ? __builtin_add_overflow(a->i, b->i, &v)
                  : op == AR_MINUS ? __builtin_sub_overflow(a->i, b->i, &v)
                  : __builtin_mul_overflow(a->i, b->i, &v);
        if (!ovf)
            return out_i64(r, v, out);
    }
    mpz_t x, y;
    mpz_inits(x, y, NULL);
    to_mpz(x, a);
    to_mpz(y, b);
    if (op == AR_PLUS) mpz_add(x, x, y);
    else if (op == AR_MINUS) mpz_sub(x, x, y);
    else mpz_mul(x, x, y);
    int rc = out_mpz(r, x, out);
    mpz_clears(x, y, NULL);
    return rc;
}

static int is_int(const struct num *n) { return n->k == N_INT || n->k == N_BIG; }

enum ibop { IB_DIV, IB_REM, IB_AND, IB_OR, IB_XOR };

static int intop(struct ms_run *r, enum ibop op, const struct num *a, const struct num *b, struct ms_val *out)
{
    if (!is_int(a) || !is_int(b))
        return RAISE;
    if ((op == IB_DIV || op == IB_REM) && b->k == N_INT && b->i == 0)
        return RAISE;
    if (a->k == N_INT && b->k == N_INT && !(a->i == INT64_MIN && b->i == -1)) {
        switch (op) {
        case IB_DIV: return out_i64(r, a->i / b->i, out);
        case IB_REM: return out_i64(r, a->i % b->i, out);
        case IB_AND: return out_i64(r, a->i & b->i, out);
        case IB_OR:  return out_i64(r, a->i | b->i, out);
        case IB_XOR: return out_i64(r, a->i ^ b->i, out);
        }
    }
    mpz_t x, y;
    mpz_inits(x, y, NULL);
    to_mpz(x, a);
    to_mpz(y, b);
    switch (op) {
    case IB_DIV: mpz_tdiv_q(x, x, y); break;
    case IB_REM: mpz_tdiv_r(x, x, y); break;
    case IB_AND: mpz_and(x, x, y); break;
    case IB_OR:  mpz_ior(x, x, y); break;
    case IB_XOR: mpz_xor(x, x, y); break;
    }
    int rc = out_mpz(r, x, out);
    mpz_clears(x, y, NULL);
    return rc;
}

/* a bsl s (left > 0) or a bsr s (left == 0) (A.4). */
static int shift(struct ms_run *r, int left, const struct num *a, const struct num *s, struct ms_val *out)
{
    if (!is_int(a) || !is_int(s))
        return RAISE;
    mpz_t x;
    mpz_init(x);
    to_mpz(x, a);
    int sign = mpz_sgn(x), rc;
    /* The shift to the left (negative: to the right), if it is within int64. */
    int huge = s->k == N_BIG || s->i == INT64_MIN;
    int64_t by = huge ? 0 : left ? s->i : -s->i;
    int huge_left = huge && (s->k == N_BIG ? (s->p[0] == ETF_SMALL_BIG ? s->p[2] : s->p[5]) == !left
                                           : !left);
    if (sign == 0) {
        rc = out_i64(r, 0, out);
    } else if (huge_left || (!huge && by > (int64_t)SHMETS_BIG_MAX_BYTES * 8)) {
        rc = RAISE;
    } else if (huge || by <= -(int64_t)mpz_sizeinbase(x, 2) - 1) {
        rc = out_i64(r, sign < 0 ? -1 : 0, out);
    } else if (by >= 0) {
        mpz_mul_2exp(x, x, (mp_bitcnt_t)by);
        rc = out_mpz(r, x, out);
    } else {
        mpz_fdiv_q_2exp(x, x, (mp_bitcnt_t)-by);
        rc = out_mpz(r, x, out);
    }
    mpz_clear(x);
    return rc;
}

static int in_small(const struct num *n) { return n->k == N_INT && n->i >= SMALL_MIN && n->i <= SMALL_MAX; }

/* ---- structures ---- */

static const unsigned char *map_find(const unsigned char *m, const unsigned char *k, size_t kn)
{
    uint32_t n = get_be32(m + 1);
    const unsigned char *q = m + 5;
    for (uint32_t i = 0; i < n; i++) {
        const unsigned char *v = term_end(q);
        if ((size_t)(v - q) == kn && memcmp(q, k, kn) == 0)
            return v;
        q = term_end(v);
    }
    return NULL;
}

static int bits_of(const unsigned char *p, const unsigned char **data, uint64_t *bytes, unsigned *bits)
{
    if (p[0] == ETF_BINARY) {
        *bytes = get_be32(p + 1);
        *bits = 0;
        *data = p + 5;
        return 1;
    }
    if (p[0] == ETF_BIT_BINARY) {
        *bytes = get_be32(p + 1) - 1;       /* whole bytes */
        *bits = p[5];
        *data = p + 6;
        return 1;
    }
    return 0;
}

static int binary_part(struct ms_run *r, const unsigned char *b, const struct num *pos, const struct num *len,
                       struct ms_val *out)
{
    const unsigned char *data;
    uint64_t size;
    unsigned bits;
    if (!bits_of(b, &data, &size, &bits) || pos->k != N_INT || len->k != N_INT)
        return RAISE;
    __int128 p = pos->i, l = len->i;
    if (l < 0) {
        p += l;
        l = -l;
    }
    if (p < 0 || p + l > (__int128)size)
        return RAISE;
    int err = 0;
    unsigned char *d = ms_alloc(r, 5 + (size_t)l, &err);
    if (!d)
        return err;
    d[0] = ETF_BINARY;
    put_be32(d + 1, (uint32_t)l);
    memcpy(d + 5, data + (size_t)p, (size_t)l);
    *out = (struct ms_val){ d, 5 + (size_t)l, 0, 0 };
    return 0;
}

static int is_fun(const unsigned char *p) { return p[0] == ETF_NEW_FUN || p[0] == ETF_EXPORT; }

static unsigned fun_arity(const unsigned char *p)
{
    if (p[0] == ETF_NEW_FUN)
        return p[5];
    const unsigned char *a = term_end(term_end(p + 1));
    return a[1];
}

/* ---- the table ---- */

int ms_call(struct ms_run *r, enum ms_fn f, struct ms_val *args, struct ms_val *out)
{
    const unsigned char *x[3] = { NULL, NULL, NULL };
    size_t xn[3] = { 0, 0, 0 };
    int err = 0;
    unsigned arity = ms_fn_table[f].arity;
    for (unsigned i = 0; i < arity; i++)
        if (!(x[i] = ms_val_bytes(r, &args[i], &xn[i], &err)))
            return err;
    const unsigned char *a = x[0], *b = x[1];
    struct num na, nb;
    switch (f) {
    case F_IS_ATOM: return ret_bool(ms_is_atom(a), out);
    case F_IS_FLOAT: return ret_bool(a[0] == ETF_NEW_FLOAT, out);
    case F_IS_INTEGER: return ret_bool(num_of(a, &na) == N_INT || na.k == N_BIG, out);
    case F_IS_LIST: return ret_bool(a[0] == ETF_NIL || ms_is_cons(a), out);
    case F_IS_NUMBER: return ret_bool(num_of(a, &na) != N_NONE, out);
    case F_IS_PID: return ret_bool(a[0] == ETF_NEW_PID, out);
    case F_IS_PORT: return ret_bool(a[0] == ETF_NEW_PORT || a[0] == ETF_V4_PORT, out);
    case F_IS_REFERENCE: return ret_bool(a[0] == ETF_NEWER_REFERENCE, out);
    case F_IS_TUPLE: return ret_bool(ms_is_tuple(a), out);
    case F_IS_MAP: return ret_bool(a[0] == ETF_MAP, out);
    case F_IS_BINARY: return ret_bool(a[0] == ETF_BINARY, out);
    case F_IS_BITSTRING: return ret_bool(a[0] == ETF_BINARY || a[0] == ETF_BIT_BINARY, out);
    case F_IS_BOOLEAN: { int v; return ret_bool(is_bool(a, xn[0], &v), out); }
    case F_IS_FUNCTION: return ret_bool(is_fun(a), out);
    case F_IS_FUNCTION2:
        num_of(b, &nb);
        if (nb.k == N_BIG && !(b[0] == ETF_SMALL_BIG ? b[2] : b[5]))
            return ret_bool(0, out);
        if (!in_small(&nb) || nb.i < 0)
            return RAISE;
        return ret_bool(is_fun(a) && fun_arity(a) == nb.i, out);
    case F_IS_RECORD: {
        const unsigned char *c = x[2];
        struct num nc;
        num_of(c, &nc);
        if (!ms_is_atom(b) || !in_small(&nc))
            return RAISE;
        if (!ms_is_tuple(a) || ms_tuple_arity(a) == 0 || (int64_t)ms_tuple_arity(a) != nc.i)
            return ret_bool(0, out);
        const unsigned char *e = ms_tuple_first(a);
        return ret_bool((size_t)(term_end(e) - e) == xn[1] && memcmp(e, b, xn[1]) == 0, out);
    }
    case F_IS_MAP_KEY:
        if (b[0] != ETF_MAP)
            return RAISE;
        return ret_bool(map_find(b, a, xn[0]) != NULL, out);
    case F_MAP_GET: {
        if (b[0] != ETF_MAP)
            return RAISE;
        const unsigned char *v = map_find(b, a, xn[0]);
        return v ? ret_view(v, out) : RAISE;
    }
    case F_MAP_SIZE:
        return a[0] == ETF_MAP ? out_i64(r, get_be32(a + 1), out) : RAISE;
    case F_ABS:
        switch (num_of(a, &na)) {
        case N_FLOAT: return out_float(r, na.d < 0 ? -na.d : na.d, out);
        case N_INT: if (na.i != INT64_MIN) return out_i64(r, na.i < 0 ? -na.i : na.i, out); /* fall through */
        case N_BIG: {
            mpz_t z;
            mpz_init(z);
            to_mpz(z, &na);
            mpz_abs(z, z);
            int rc = out_mpz(r, z, out);
            mpz_clear(z);
            return rc;
        }
        default: return RAISE;
        }
    case F_ELEMENT:
        num_of(a, &na);
        if (!ms_is_tuple(b) || !in_small(&na) || na.i < 1 || na.i > (int64_t)ms_tuple_arity(b))
            return RAISE;
        {
            const unsigned char *e = ms_tuple_first(b);
            for (int64_t i = 1; i < na.i; i++)
                e = term_end(e);
            return ret_view(e, out);
        }
    case F_HD:
        if (a[0] == ETF_STRING) {
            unsigned char *d = ms_alloc(r, 2, &err);
            if (!d)
                return err;
            d[0] = ETF_SMALL_INTEGER;
            d[1] = a[3];
            *out = (struct ms_val){ d, 2, 0, 0 };
            return 0;
        }
        return a[0] == ETF_LIST ? ret_view(a + 5, out) : RAISE;
    case F_TL:
        if (!ms_is_cons(a))
            return RAISE;
        *out = (struct ms_val){ a, 0, 1, 1 };
        return 0;
    case F_LENGTH:
        if (a[0] == ETF_NIL) return out_i64(r, 0, out);
        if (a[0] == ETF_STRING) return out_i64(r, get_be16(a + 1), out);
        if (a[0] == ETF_LIST) {
            uint32_t n = get_be32(a + 1);
            const unsigned char *e = a + 5;
            for (uint32_t i = 0; i < n; i++)
                e = term_end(e);
            return e[0] == ETF_NIL ? out_i64(r, n, out) : RAISE;
        }
        return RAISE;
    case F_NODE0:
        return ret_view(a_node, out);
    case F_NODE1:
        switch (a[0]) {
        case ETF_NEW_PID: case ETF_NEW_PORT: case ETF_V4_PORT: return ret_view(a + 1, out);
        case ETF_NEWER_REFERENCE: return ret_view(a + 3, out);
        default: return RAISE;
        }
    case F_ROUND: case F_TRUNC: case F_FLOOR: case F_CEIL:
        switch (num_of(a, &na)) {
        case N_INT: case N_BIG: return ret_view(a, out);
        case N_FLOAT: {
            double d = f == F_ROUND ? round(na.d) : f == F_TRUNC ? trunc(na.d) : f == F_FLOOR ? floor(na.d) : ceil(na.d);
            return out_integral(r, d, out);
        }
        default: return RAISE;
        }
    case F_FLOAT: {
        double d;
        if (num_of(a, &na) == N_NONE || !to_double(&na, &d))
            return RAISE;
        return na.k == N_FLOAT ? ret_view(a, out) : out_float(r, d, out);
    }
    case F_SIZE: {
        const unsigned char *data;
        uint64_t bytes;
        unsigned bits;
        if (ms_is_tuple(a)) return out_i64(r, ms_tuple_arity(a), out);
        if (bits_of(a, &data, &bytes, &bits)) return out_i64(r, (int64_t)bytes, out);
        return RAISE;
    }
    case F_TUPLE_SIZE:
        return ms_is_tuple(a) ? out_i64(r, ms_tuple_arity(a), out) : RAISE;
    case F_BYTE_SIZE: case F_BIT_SIZE: {
        const unsigned char *data;
        uint64_t bytes;
        unsigned bits;
        if (!bits_of(a, &data, &bytes, &bits))
            return RAISE;
        if (f == F_BYTE_SIZE)
            return out_i64(r, (int64_t)bytes + (bits != 0), out);
        return out_i64(r, (int64_t)(8 * bytes + bits), out);
    }
    case F_BINARY_PART3: {
        struct num nc;
        num_of(b, &nb);
        num_of(x[2], &nc);
        return binary_part(r, a, &nb, &nc, out);
    }
    case F_BINARY_PART2: {
        if (!ms_is_tuple(b) || ms_tuple_arity(b) != 2)
            return RAISE;
        const unsigned char *p = ms_tuple_first(b);
        num_of(p, &na);
        num_of(term_end(p), &nb);
        return binary_part(r, a, &na, &nb, out);
    }
    case F_PLUS1:
        return num_of(a, &na) == N_NONE ? RAISE : ret_view(a, out);
    case F_MINUS1:
        switch (num_of(a, &na)) {
        case N_FLOAT: return out_float(r, -na.d, out);
        case N_INT: case N_BIG: {
            struct num zero = { N_INT, 0, 0, NULL };
            return arith(r, AR_MINUS, &zero, &na, out);
        }
        default: return RAISE;
        }
    case F_PLUS: case F_MINUS: case F_TIMES:
        num_of(a, &na);
        num_of(b, &nb);
        return arith(r, f == F_PLUS ? AR_PLUS : f == F_MINUS ? AR_MINUS : AR_TIMES, &na, &nb, out);
    case F_DIVIDE: {
        double p, q;
        if (num_of(a, &na) == N_NONE || num_of(b, &nb) == N_NONE || !to_double(&na, &p) || !to_double(&nb, &q)
            || q == 0.0)
            return RAISE;
        return out_float(r, p / q, out);
    }
    case F_DIV: case F_REM: case F_BAND: case F_BOR: case F_BXOR:
        num_of(a, &na);
        num_of(b, &nb);
        return intop(r, f == F_DIV ? IB_DIV : f == F_REM ? IB_REM : f == F_BAND ? IB_AND : f == F_BOR ? IB_OR : IB_XOR,
                     &na, &nb, out);
    case F_BNOT:
        switch (num_of(a, &na)) {
        case N_INT: return out_i64(r, ~na.i, out);
        case N_BIG: {
            mpz_t z;
            mpz_init(z);
            to_mpz(z, &na);
            mpz_com(z, z);
            int rc = out_mpz(r, z, out);
            mpz_clear(z);
            return rc;
        }
        default: return RAISE;
        }
    case F_BSL: case F_BSR:
        num_of(a, &na);
        num_of(b, &nb);
        return shift(r, f == F_BSL, &na, &nb, out);
    case F_GT: return ret_bool(term_cmp(a, b, 0) > 0, out);
    case F_GE: return ret_bool(term_cmp(a, b, 0) >= 0, out);
    case F_LT: return ret_bool(term_cmp(a, b, 0) < 0, out);
    case F_LE: return ret_bool(term_cmp(a, b, 0) <= 0, out);
    case F_EQ: return ret_bool(term_cmp(a, b, 0) == 0, out);
    case F_NE: return ret_bool(term_cmp(a, b, 0) != 0, out);
    case F_EXEQ: return ret_bool(xn[0] == xn[1] && memcmp(a, b, xn[0]) == 0, out);
    case F_EXNE: return ret_bool(!(xn[0] == xn[1] && memcmp(a, b, xn[0]) == 0), out);
    case F_MIN: *out = term_cmp(a, b, 0) > 0 ? args[1] : args[0]; return 0;
    case F_MAX: *out = term_cmp(a, b, 0) < 0 ? args[1] : args[0]; return 0;
    case F_NOT: {
        int v;
        return is_bool(a, xn[0], &v) ? ret_bool(!v, out) : RAISE;
    }
    case F_XOR: {
        int v, w;
        return is_bool(a, xn[0], &v) && is_bool(b, xn[1], &w) ? ret_bool(v != w, out) : RAISE;
    }
    case F_COUNT:
        break;
    }
    die(__FILE__, __LINE__, "ms_call: unknown function");
}
