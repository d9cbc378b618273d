/*
 * term_build.c — making terms from C values (the builder) and reading C values out of terms
 * (the accessors).
 *
 * THE BUILDER writes plain ETF as the calls come, keeping a stack of how many parts each open
 * container still expects; a container that is the last part of its parent replaces the
 * parent's frame (the parent completes when it does), so a list built as a chain of tails does
 * not grow the stack.  Errors are sticky.  shmets_builder_finish() runs the finished bytes
 * through the canonicaliser (term_codec.c), which validates depth and sizes once for all and
 * produces the canonical encoding; the builder therefore never has to be canonical itself
 * (it writes every list as LIST_EXT, every map in the caller's order).
 *
 * EXCEPT WHERE IT IS: integers, floats, atoms, binaries and tuples are written in their
 * canonical encodings already (etf_put_int, etf_put_atom: C.1-C.3, C.5; tuples by arity), and
 * the builder checked each part as it came (UTF-8 and length of atoms, finite floats).  A term
 * made of those only (`raw` stays 0), with no more tuples than SHMETS_TERM_MAX_DEPTH (so its
 * nesting is within bounds), is copied out as it is: canonicalising it again gave the same
 * bytes for 680 of a write's ~4,200 instructions (R2's writer, issue 23).  Lists, maps,
 * strings, bitstrings, pids and embedded terms set `raw` and take the canonicaliser.  The
 * buffer is kept between terms (up to BUILD_KEEP bytes), not grown again from nothing.
 *
 * THE ACCESSORS read canonical encodings (see term.h) and hand out views into them.
 */
#include "term/term.h"
#include "base/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BUILD_KEEP (64u << 10)

struct shmets_builder {
    struct tbuf buf;
    int err;
    int done;
    int raw;            /* a part that may not be canonical was written: finish canonicalises */
    size_t tuples;      /* tuple headers written (a bound on the nesting) */
    size_t *stack;      /* parts still expected by each open container */
    size_t depth, cap;
    unsigned char *canon;   /* the canonical copy the last view handed out (owned), or NULL */
};

int shmets_builder_create(shmets_builder **bp)
{
    if (!bp)
        return err_set(SHMETS_EINVAL, "builder pointer is NULL");
    shmets_builder *b = calloc(1, sizeof *b);
    if (!b)
        return err_set(SHMETS_ENOMEM, "allocating a builder");
    tbuf_init(&b->buf, SHMETS_TERM_MAX_SIZE);
    *bp = b;
    return 0;
}

void shmets_builder_destroy(shmets_builder *b)
{
    if (!b)
        return;
    tbuf_free(&b->buf);
    free(b->stack);
    free(b->canon);
    free(b);
}

/* Empty again for the next term.  keep: a view of the buffer is out (shmets_builder_view), so
 * its memory stays as it is (a big buffer is given back at the next reset that may). */
static void reset(shmets_builder *b, int keep)
{
    if (b->buf.cap > BUILD_KEEP && !keep) {
        tbuf_free(&b->buf);
        tbuf_init(&b->buf, SHMETS_TERM_MAX_SIZE);
    }
    b->buf.len = 0;
    b->buf.err = 0;
    b->err = 0;
    b->done = 0;
    b->depth = 0;
    b->raw = 0;
    b->tuples = 0;
}

/* The last view's canonical copy, if any, is no longer needed (a call on the builder ends the
 * view's life). */
static inline void unview(shmets_builder *b)
{
    if (__builtin_expect(b->canon != NULL, 0)) {
        free(b->canon);
        b->canon = NULL;
    }
}

static int fail(shmets_builder *b, int rc)
{
    if (!b->err)
        b->err = rc;
    return b->err;
}

/* May a part be added now? */
static int part_check(shmets_builder *b)
{
    if (!b)
        return err_set(SHMETS_EINVAL, "builder is NULL");
    unview(b);
    if (b->err)
        return b->err;
    if (b->done)
        return fail(b, err_set(SHMETS_EBUILD, "a part was given after the term was complete"));
    return 0;
}

/* A part was written. */
static int part_done(shmets_builder *b)
{
    if (b->buf.err)
        return fail(b, b->buf.err);
    while (b->depth > 0) {
        if (--b->stack[b->depth - 1] > 0)
            return 0;
        b->depth--;
    }
    b->done = 1;
    return 0;
}

/* A container header was written; it expects n parts. */
static int open_container(shmets_builder *b, size_t n)
{
    if (b->buf.err)
        return fail(b, b->buf.err);
    if (n == 0)
        return part_done(b);
    if (b->depth > 0 && b->stack[b->depth - 1] == 1) {
        b->stack[b->depth - 1] = n;     /* the last part of its parent: take the parent's frame */
        return 0;
    }
    if (b->depth == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 16;
        size_t *s = realloc(b->stack, cap * sizeof *s);
        if (!s)
            return fail(b, err_set(SHMETS_ENOMEM, "allocating the builder's stack"));
        b->stack = s;
        b->cap = cap;
    }
    b->stack[b->depth++] = n;
    return 0;
}

/* Is the term complete and error-free?  0, or the error to report. */
static int finish_check(shmets_builder *b)
{
    int rc = b->err;
    if (!rc && !b->done)
        rc = err_set(SHMETS_EBUILD, b->depth ? "term incomplete: %zu part(s) of an open container missing"
                                             : "no term was built%.0zu", b->depth ? b->stack[b->depth - 1] : 0);
    return rc;
}

/* finish and view: the term as a copy the caller owns, or as a view of the builder's memory
 * (its buffer, or the canonicaliser's copy kept in b->canon) until its next call. */
static int finish_as(shmets_builder *b, shmets_term *out, int view)
{
    if (!b || !out)
        return err_set(SHMETS_EINVAL, "NULL argument");
    unview(b);
    out->ptr = NULL;
    out->len = 0;
    int rc = finish_check(b);
    if (!rc && (b->raw || b->tuples > SHMETS_TERM_MAX_DEPTH)) {
        rc = term_canon(b->buf.p, b->buf.len, SHMETS_ETF_NO_VERSION, out);
        if (!rc && view)
            b->canon = (unsigned char *)out->ptr;
    } else if (!rc && view) {
        *out = (shmets_term){ b->buf.p, b->buf.len };   /* as written: canonical already */
    } else if (!rc) {
        unsigned char *p = malloc(b->buf.len);
        if (!p)
            rc = err_set(SHMETS_ENOMEM, "out of memory for a term of %zu bytes", b->buf.len);
        else {
            memcpy(p, b->buf.p, b->buf.len);
            out->ptr = p;
            out->len = b->buf.len;
        }
    }
    reset(b, view);
    return rc;
}

int shmets_builder_view(shmets_builder *b, shmets_term *out)
{
    return finish_as(b, out, 1);
}

int shmets_builder_finish(shmets_builder *b, shmets_term *out)
{
    return finish_as(b, out, 0);
}

int shmets_build_int(shmets_builder *b, int64_t v)
{
    int rc = part_check(b);
    if (rc)
        return rc;
    etf_put_int(&b->buf, v);
    return part_done(b);
}

int shmets_build_uint(shmets_builder *b, uint64_t v)
{
    if (v <= INT64_MAX)
        return shmets_build_int(b, (int64_t)v);
    unsigned char mag[8];
    for (int i = 0; i < 8; i++)
        mag[i] = (unsigned char)(v >> 8 * i);
    return shmets_build_bigint(b, 0, mag, 8);
}

int shmets_build_bigint(shmets_builder *b, int negative, const void *mag, size_t n)
{
    int rc = part_check(b);
    if (rc)
        return rc;
    if (!mag && n)
        return fail(b, err_set(SHMETS_EINVAL, "bigint magnitude is NULL"));
    const unsigned char *m = mag;
    while (n && m[n - 1] == 0)
        n--;
    if (n > SHMETS_BIG_MAX_BYTES)
        return fail(b, err_set(SHMETS_ETOOBIG, "integer of %zu bytes (at most %u)", n, SHMETS_BIG_MAX_BYTES));
    etf_put_big(&b->buf, negative && n, m, n);
    return part_done(b);
}

int shmets_build_float(shmets_builder *b, double v)
{
    int rc = part_check(b);
    if (rc)
        return rc;
    if (!isfinite(v))
        return fail(b, err_set(SHMETS_EINVAL, "float is NaN or infinite: not an Erlang term"));
    uint64_t bits;
    memcpy(&bits, &v, 8);
    unsigned char q[9] = { ETF_NEW_FLOAT };
    put_be64(q + 1, bits);
    tbuf_put(&b->buf, q, 9);
    return part_done(b);
}

int shmets_build_atom(shmets_builder *b, const char *utf8, size_t len)
{
    int rc = part_check(b);
    if (rc)
        return rc;
    if (!utf8 && len)
        return fail(b, err_set(SHMETS_EINVAL, "atom text is NULL"));
    long chars = utf8_count((const unsigned char *)utf8, len);
    if (chars < 0)
        return fail(b, err_set(SHMETS_EINVAL, "atom text is not valid UTF-8"));
    if (chars > SHMETS_ATOM_MAX_CHARS)
        return fail(b, err_set(SHMETS_ETOOBIG, "atom of %ld characters (at most %d)", chars, SHMETS_ATOM_MAX_CHARS));
    etf_put_atom(&b->buf, utf8 ? utf8 : "", len);
    return part_done(b);
}

static int put_bits(shmets_builder *b, const void *bytes, size_t n, unsigned bits)
{
    int rc = part_check(b);
    if (rc)
        return rc;
    if (!bytes && n)
        return fail(b, err_set(SHMETS_EINVAL, "binary bytes are NULL"));
    if (n > UINT32_MAX)
        return fail(b, err_set(SHMETS_ETOOBIG, "binary of %zu bytes", n));
    unsigned char q[6];
    q[0] = ETF_BINARY;
    put_be32(q + 1, (uint32_t)n);
    if (bits != 8 && n != 0) {
        q[0] = ETF_BIT_BINARY;
        q[5] = (unsigned char)bits;
        b->raw = 1;                     /* the unused low bits are the caller's (C.5) */
    }
    unsigned char *d = tbuf_room(&b->buf, 5 + (q[0] == ETF_BIT_BINARY) + n);   /* one growth check */
    if (d) {
        memcpy(d, q, 5 + (q[0] == ETF_BIT_BINARY));
        if (n)
            memcpy(d + 5 + (q[0] == ETF_BIT_BINARY), bytes, n);
        b->buf.len += 5 + (q[0] == ETF_BIT_BINARY) + n;
    }
    return part_done(b);
}

int shmets_build_binary(shmets_builder *b, const void *bytes, size_t len)
{
    return put_bits(b, bytes, len, 8);
}

int shmets_build_bitstring(shmets_builder *b, const void *bytes, size_t nbytes, unsigned bits)
{
    if (b && !b->err && (bits < 1 || bits > 7 || nbytes == 0))
        return fail(b, err_set(SHMETS_EINVAL, "bitstring needs at least one byte and 1..7 bits in its last"));
    return put_bits(b, bytes, nbytes, bits);
}

int shmets_build_tuple(shmets_builder *b, size_t arity)
{
    int rc = part_check(b);
    if (rc)
        return rc;
    if (arity > UINT32_MAX)
        return fail(b, err_set(SHMETS_ETOOBIG, "tuple of arity %zu", arity));
    if (arity <= 255) {
        unsigned char q[2] = { ETF_SMALL_TUPLE, (unsigned char)arity };
        tbuf_put(&b->buf, q, 2);
    } else {
        tbuf_byte(&b->buf, ETF_LARGE_TUPLE);
        tbuf_be32(&b->buf, (uint32_t)arity);
    }
    b->tuples++;
    return open_container(b, arity);
}

int shmets_build_list(shmets_builder *b, size_t n)
{
    int rc = part_check(b);
    if (rc)
        return rc;
    b->raw = 1;
    if (n == 0)
        return fail(b, err_set(SHMETS_EINVAL, "a list needs at least one element (use shmets_build_nil)"));
    if (n > UINT32_MAX)
        return fail(b, err_set(SHMETS_ETOOBIG, "list of %zu elements", n));
    tbuf_byte(&b->buf, ETF_LIST);
    tbuf_be32(&b->buf, (uint32_t)n);
    return open_container(b, n + 1);
}

int shmets_build_nil(shmets_builder *b)
{
    int rc = part_check(b);
    if (rc)
        return rc;
    tbuf_byte(&b->buf, ETF_NIL);
    return part_done(b);
}

int shmets_build_string(shmets_builder *b, const char *utf8, size_t len)
{
    int rc = part_check(b);
    if (rc)
        return rc;
    b->raw = 1;
    if (!utf8 && len)
        return fail(b, err_set(SHMETS_EINVAL, "string text is NULL"));
    long chars = utf8_count((const unsigned char *)utf8, len);
    if (chars < 0)
        return fail(b, err_set(SHMETS_EINVAL, "string text is not valid UTF-8"));
    if (chars == 0) {
        tbuf_byte(&b->buf, ETF_NIL);
        return part_done(b);
    }
    tbuf_byte(&b->buf, ETF_LIST);
    tbuf_be32(&b->buf, (uint32_t)chars);
    const unsigned char *s = (const unsigned char *)utf8, *end = s + len;
    while (s < end)
        etf_put_int(&b->buf, utf8_next(&s));
    tbuf_byte(&b->buf, ETF_NIL);
    return part_done(b);
}

int shmets_build_map(shmets_builder *b, size_t npairs)
{
    int rc = part_check(b);
    if (rc)
        return rc;
    b->raw = 1;
    if (npairs > UINT32_MAX)
        return fail(b, err_set(SHMETS_ETOOBIG, "map of %zu pairs", npairs));
    tbuf_byte(&b->buf, ETF_MAP);
    tbuf_be32(&b->buf, (uint32_t)npairs);
    return open_container(b, 2 * npairs);
}

int shmets_build_pid(shmets_builder *b, uint32_t ospid)
{
    int rc = part_check(b);
    if (rc)
        return rc;
    b->raw = 1;
    tbuf_byte(&b->buf, ETF_NEW_PID);
    etf_put_atom(&b->buf, "nonode@nohost", 13);
    tbuf_be32(&b->buf, ospid);
    tbuf_be32(&b->buf, 0);
    tbuf_be32(&b->buf, 0);
    return part_done(b);
}

int shmets_build_term(shmets_builder *b, shmets_term t)
{
    int rc = part_check(b);
    if (rc)
        return rc;
    b->raw = 1;
    if (!t.ptr || !t.len)
        return fail(b, err_set(SHMETS_EINVAL, "empty term"));
    tbuf_put(&b->buf, t.ptr, t.len);
    return part_done(b);
}

/* ------------------------------------------------------------------------------------ */
/* accessors                                                                             */

static int wrong_type(const char *want)
{
    return err_set(SHMETS_ETYPE, "term is not %s", want);
}

static int valid(shmets_term t)
{
    return t.ptr && t.len;
}

int shmets_term_get_int64(shmets_term t, int64_t *v)
{
    if (!valid(t) || !v)
        return err_set(SHMETS_EINVAL, "NULL argument");
    if (shmets_term_type(t) != SHMETS_T_INTEGER)
        return wrong_type("an integer");
    struct term_int x;
    term_get_int(t.ptr, &x);
    if (!x.n) { *v = x.small; return 0; }
    if (x.n > 8)
        return err_set(SHMETS_ERANGE, "integer does not fit 64 bits");
    uint64_t m = 0;
    for (size_t i = x.n; i-- > 0;)
        m = m << 8 | x.mag[i];
    if (!x.negative && m <= INT64_MAX) { *v = (int64_t)m; return 0; }
    if (x.negative && m <= (uint64_t)INT64_MAX + 1) {
        *v = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
        return 0;
    }
    return err_set(SHMETS_ERANGE, "integer does not fit int64_t");
}

int shmets_term_get_uint64(shmets_term t, uint64_t *v)
{
    if (!valid(t) || !v)
        return err_set(SHMETS_EINVAL, "NULL argument");
    if (shmets_term_type(t) != SHMETS_T_INTEGER)
        return wrong_type("an integer");
    struct term_int x;
    term_get_int(t.ptr, &x);
    if (x.negative)
        return err_set(SHMETS_ERANGE, "integer is negative");
    if (!x.n) { *v = (uint64_t)x.small; return 0; }
    if (x.n > 8)
        return err_set(SHMETS_ERANGE, "integer does not fit uint64_t");
    uint64_t m = 0;
    for (size_t i = x.n; i-- > 0;)
        m = m << 8 | x.mag[i];
    *v = m;
    return 0;
}

int shmets_term_get_double(shmets_term t, double *v)
{
    if (!valid(t) || !v)
        return err_set(SHMETS_EINVAL, "NULL argument");
    if (t.ptr[0] != ETF_NEW_FLOAT)
        return wrong_type("a float");
    uint64_t bits = get_be64(t.ptr + 1);
    memcpy(v, &bits, 8);
    return 0;
}

int shmets_term_get_atom(shmets_term t, const char **utf8, size_t *len)
{
    if (!valid(t) || !utf8 || !len)
        return err_set(SHMETS_EINVAL, "NULL argument");
    if (t.ptr[0] != ETF_SMALL_ATOM_UTF8 && t.ptr[0] != ETF_ATOM_UTF8)
        return wrong_type("an atom");
    *utf8 = term_atom_text(t.ptr, len);
    return 0;
}

int shmets_term_get_bitstring(shmets_term t, const void **bytes, size_t *nbytes, unsigned *bits)
{
    if (!valid(t) || !bytes || !nbytes || !bits)
        return err_set(SHMETS_EINVAL, "NULL argument");
    if (t.ptr[0] == ETF_BINARY) {
        *bytes = t.ptr + 5; *nbytes = get_be32(t.ptr + 1); *bits = 8;
        return 0;
    }
    if (t.ptr[0] == ETF_BIT_BINARY) {
        *bytes = t.ptr + 6; *nbytes = get_be32(t.ptr + 1); *bits = t.ptr[5];
        return 0;
    }
    return wrong_type("a bitstring");
}

int shmets_term_get_binary(shmets_term t, const void **bytes, size_t *len)
{
    if (!valid(t) || !bytes || !len)
        return err_set(SHMETS_EINVAL, "NULL argument");
    if (t.ptr[0] != ETF_BINARY)
        return wrong_type(t.ptr[0] == ETF_BIT_BINARY ? "a binary (it is a bitstring of partial bytes)" : "a binary");
    *bytes = t.ptr + 5;
    *len = get_be32(t.ptr + 1);
    return 0;
}

int shmets_term_get_pid(shmets_term t, uint32_t *number, uint32_t *serial, shmets_term *node)
{
    if (!valid(t))
        return err_set(SHMETS_EINVAL, "NULL argument");
    if (t.ptr[0] != ETF_NEW_PID)
        return wrong_type("a pid");
    const unsigned char *n = t.ptr + 1, *f = term_end(n);
    if (number) *number = get_be32(f);
    if (serial) *serial = get_be32(f + 4);
    if (node) { node->ptr = n; node->len = (size_t)(f - n); }
    return 0;
}

int shmets_term_tuple_arity(shmets_term t, size_t *arity)
{
    if (!valid(t) || !arity)
        return err_set(SHMETS_EINVAL, "NULL argument");
    if (t.ptr[0] == ETF_SMALL_TUPLE) { *arity = t.ptr[1]; return 0; }
    if (t.ptr[0] == ETF_LARGE_TUPLE) { *arity = get_be32(t.ptr + 1); return 0; }
    return wrong_type("a tuple");
}

int shmets_term_tuple_element(shmets_term t, size_t i, shmets_term *el)
{
    if (!el)
        return err_set(SHMETS_EINVAL, "NULL argument");
    unsigned pos = i > UINT32_MAX ? 0 : (unsigned)i;
    if (i > UINT32_MAX && valid(t) && (t.ptr[0] == ETF_SMALL_TUPLE || t.ptr[0] == ETF_LARGE_TUPLE))
        return err_set(SHMETS_EBADPOS, "element %zu is past the tuple's arity", i);
    return shmets_term_key(t, pos, el);
}

static const unsigned char nil_bytes[1] = { ETF_NIL };

int shmets_list_begin(shmets_term list, shmets_list_iter *it)
{
    if (!valid(list) || !it)
        return err_set(SHMETS_EINVAL, "NULL argument");
    memset(it, 0, sizeof *it);
    switch (list.ptr[0]) {
    case ETF_NIL:
        it->left = 0;
        it->tail = list;
        return 0;
    case ETF_STRING:
        it->is_string = 1;
        it->left = get_be16(list.ptr + 1);
        it->p = list.ptr + 3;
        return 0;
    case ETF_LIST:
        it->left = get_be32(list.ptr + 1);
        it->p = list.ptr + 5;
        it->end = list.ptr + list.len;
        return 0;
    default:
        return wrong_type("a list");
    }
}

int shmets_list_next(shmets_list_iter *it, shmets_term *el)
{
    if (!it || !el)
        return err_set(SHMETS_EINVAL, "NULL argument");
    if (it->left == 0) {
        if (!it->tail.ptr) {
            if (it->is_string) {
                it->tail.ptr = nil_bytes;
                it->tail.len = 1;
            } else {
                it->tail.ptr = it->p;
                it->tail.len = (size_t)(it->end - it->p);
            }
        }
        return 0;
    }
    it->left--;
    if (it->is_string) {
        it->tmp[0] = ETF_SMALL_INTEGER;
        it->tmp[1] = *it->p++;
        el->ptr = it->tmp;
        el->len = 2;
        return 1;
    }
    const unsigned char *e = term_end(it->p);
    el->ptr = it->p;
    el->len = (size_t)(e - it->p);
    it->p = e;
    return 1;
}

int shmets_term_list_length(shmets_term t, size_t *len)
{
    if (!valid(t) || !len)
        return err_set(SHMETS_EINVAL, "NULL argument");
    switch (t.ptr[0]) {
    case ETF_NIL: *len = 0; return 0;
    case ETF_STRING: *len = get_be16(t.ptr + 1); return 0;
    case ETF_LIST: {
        uint32_t n = get_be32(t.ptr + 1);
        const unsigned char *p = t.ptr + 5;
        for (uint32_t i = 0; i < n; i++)
            p = term_end(p);
        if (p[0] != ETF_NIL)
            return err_set(SHMETS_ETYPE, "list is improper");
        *len = n;
        return 0;
    }
    default:
        return wrong_type("a list");
    }
}

int shmets_map_begin(shmets_term map, shmets_map_iter *it, size_t *size)
{
    if (!valid(map) || !it)
        return err_set(SHMETS_EINVAL, "NULL argument");
    if (map.ptr[0] != ETF_MAP)
        return wrong_type("a map");
    it->left = get_be32(map.ptr + 1);
    it->p = map.ptr + 5;
    if (size)
        *size = it->left;
    return 0;
}

int shmets_map_next(shmets_map_iter *it, shmets_term *key, shmets_term *value)
{
    if (!it || !key || !value)
        return err_set(SHMETS_EINVAL, "NULL argument");
    if (it->left == 0)
        return 0;
    it->left--;
    const unsigned char *v = term_end(it->p), *e = term_end(v);
    key->ptr = it->p;
    key->len = (size_t)(v - it->p);
    value->ptr = v;
    value->len = (size_t)(e - v);
    it->p = e;
    return 1;
}
