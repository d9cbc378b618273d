/*
 * term_codec.c — validating and canonicalising External Term Format input.
 *
 * THE PROBLEM
 * ETF gives one value many encodings: an integer may be SMALL_INTEGER, INTEGER or a big with
 * leading zero bytes; an atom may be Latin-1 or UTF-8; a list may be LIST_EXT, STRING_EXT, or a
 * chain of LIST_EXTs whose tails are lists; a float may be the old 31-byte text; a pid, port or
 * reference has two or three generations of encodings; a map's pairs come in any order.  Table
 * keys must compare by bytes (a set's =:= is byte equality, its hash is a hash of bytes), so
 * every term that enters shmets is rewritten into exactly one encoding of its value, and input
 * that is not a term at all is refused with a precise error before anything is stored.
 *
 * THE CANONICAL ENCODING
 * It is what erlang:term_to_binary(T, [{minor_version,2}]) produces on OTP 25+ for map-free
 * terms, so Erlang peers can compare bytes too:
 *   C.1 integers: SMALL_INTEGER for 0..255, INTEGER for other int32, else SMALL_BIG (up to 255
 *       magnitude bytes) or LARGE_BIG, the magnitude without leading zero bytes; 0 is never
 *       negative.
 *   C.2 floats: NEW_FLOAT, the 8 IEEE bytes as given (so -0.0 stays -0.0); NaN and infinities
 *       are not Erlang terms and are refused.
 *   C.3 atoms: SMALL_ATOM_UTF8 when the UTF-8 text has at most 255 bytes, else ATOM_UTF8; at
 *       most 255 characters; Latin-1 input is converted.
 *   C.4 lists: a proper list of 1..65535 integers in 0..255 is STRING_EXT; any other non-empty
 *       list is one LIST_EXT holding all its elements and its final tail (chains of list tails
 *       are merged); the empty list is NIL.
 *   C.5 bitstrings: BINARY when whole bytes, else BIT_BINARY with bits 1..7 and the unused low
 *       bits of the last byte zero.
 *   C.6 pids NEW_PID, ports NEW_PORT (V4_PORT when the number needs 64 bits), references
 *       NEWER_REFERENCE, funs NEW_FUN / EXPORT with their inner terms canonical and NEW_FUN's
 *       size recomputed.
 *   C.7 maps: MAP_EXT with pairs sorted by key in map-key order (term order, but every integer
 *       before every float; see term_cmp.c).  Erlang itself writes maps of more than 32 keys in
 *       hash order, so for those our bytes differ from term_to_binary's (same value).
 *
 * HOW
 * One recursive pass reads the input with a bounds check before every read and writes the
 * canonical form to a growable buffer.  Nothing is allocated in proportion to a length field
 * before the bytes that length promises are known to be there (a tuple of arity 2^32-1 in a
 * 10-byte buffer is refused at once).  Recursion is bounded by SHMETS_TERM_MAX_DEPTH; list tails
 * are followed by a loop, not recursion, so a long (or long-chained) list costs no depth.  Lists
 * are written as LIST_EXT while the elements are seen and turned into STRING_EXT afterwards, in
 * place, when they all were bytes (the output of an element 0..255 is exactly 2 bytes, so the
 * rewrite only shrinks).  Map pairs are canonicalised one by one, then sorted by key and
 * rewritten.  Output is limited to SHMETS_TERM_MAX_SIZE bytes.  The work is linear in the input
 * size except map sorting (n log n comparisons).
 */
#include "term/term.h"
#include "base/util.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ------------------------------------------------------------------------------------ */
/* growable buffer                                                                      */

void tbuf_init(struct tbuf *b, size_t limit)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->limit = limit;
    b->err = 0;
}

void tbuf_free(struct tbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

unsigned char *tbuf_room(struct tbuf *b, size_t n)
{
    if (b->err)
        return NULL;
    if (n > b->limit || b->len > b->limit - n) {
        b->err = err_set(SHMETS_ETOOBIG, "term larger than %zu bytes", b->limit);
        return NULL;
    }
    if (b->len + n > b->cap || !b->p) {        /* !p: even for n 0, never NULL + 0 (UB) */
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->err = err_set(SHMETS_ENOMEM, "allocating %zu bytes for a term", cap);
            return NULL;
        }
        b->p = q;
        b->cap = cap;
    }
    return b->p + b->len;
}

void tbuf_put_slow(struct tbuf *b, const void *src, size_t n)
{
    unsigned char *q = tbuf_room(b, n);
    if (q) {
        if (n)
            memcpy(q, src, n);
        b->len += n;
    }
}

void tbuf_byte(struct tbuf *b, unsigned char c) { tbuf_put(b, &c, 1); }
void tbuf_be16(struct tbuf *b, uint16_t v) { unsigned char q[2]; put_be16(q, v); tbuf_put(b, q, 2); }
void tbuf_be32(struct tbuf *b, uint32_t v) { unsigned char q[4]; put_be32(q, v); tbuf_put(b, q, 4); }

unsigned char *tbuf_take(struct tbuf *b, size_t *len)
{
    unsigned char *p = b->p;
    *len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

int tbuf_to_term(struct tbuf *b, int rc, shmets_term *out)
{
    if (!rc)
        rc = b->err;
    if (rc) {
        tbuf_free(b);
        return rc;
    }
    size_t len;
    out->ptr = tbuf_take(b, &len);
    out->len = len;
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* UTF-8                                                                                */

long utf8_count(const unsigned char *s, size_t n)
{
    long count = 0;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        uint32_t cp, min;
        if (c < 0x80) { i++; count++; continue; }
        else if ((c & 0xE0) == 0xC0) { k = 1; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { k = 2; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { k = 3; cp = c & 0x07; min = 0x10000; }
        else return -1;
        if (n - i - 1 < k)
            return -1;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return -1;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return -1;
        i += k + 1;
        count++;
    }
    return count;
}

uint32_t utf8_next(const unsigned char **s)
{
    const unsigned char *p = *s;
    uint32_t c = p[0];
    if (c < 0x80) { *s = p + 1; return c; }
    if ((c & 0xE0) == 0xC0) { *s = p + 2; return (c & 0x1F) << 6 | (p[1] & 0x3F); }
    if ((c & 0xF0) == 0xE0) { *s = p + 3; return (c & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F); }
    *s = p + 4;
    return (c & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 | (uint32_t)(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
}

int utf8_put(uint32_t c, unsigned char *o)
{
    if (c < 0x80) { o[0] = (unsigned char)c; return 1; }
    if (c < 0x800) { o[0] = (unsigned char)(0xC0 | c >> 6); o[1] = (unsigned char)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        o[0] = (unsigned char)(0xE0 | c >> 12); o[1] = (unsigned char)(0x80 | (c >> 6 & 0x3F));
        o[2] = (unsigned char)(0x80 | (c & 0x3F)); return 3;
    }
    o[0] = (unsigned char)(0xF0 | c >> 18); o[1] = (unsigned char)(0x80 | (c >> 12 & 0x3F));
    o[2] = (unsigned char)(0x80 | (c >> 6 & 0x3F)); o[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}

/* ------------------------------------------------------------------------------------ */
/* canonical writers (C.1, C.3)                                                          */

void etf_put_int(struct tbuf *b, int64_t v)
{
    if (v >= 0 && v <= 255) {
        unsigned char q[2] = { ETF_SMALL_INTEGER, (unsigned char)v };
        tbuf_put(b, q, 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        unsigned char q[5] = { ETF_INTEGER };
        put_be32(q + 1, (uint32_t)(int32_t)v);
        tbuf_put(b, q, 5);
    } else {
        uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        unsigned char q[11];
        size_t n = 0;
        while (m) { q[3 + n++] = (unsigned char)m; m >>= 8; }
        q[0] = ETF_SMALL_BIG;
        q[1] = (unsigned char)n;
        q[2] = v < 0;
        tbuf_put(b, q, 3 + n);
    }
}

void etf_put_big(struct tbuf *b, int negative, const unsigned char *mag, size_t n)
{
    while (n && mag[n - 1] == 0)
        n--;
    if (n <= 8) {
        uint64_t m = 0;
        for (size_t i = n; i-- > 0;)
            m = m << 8 | mag[i];
        if (!negative && m <= INT64_MAX) { etf_put_int(b, (int64_t)m); return; }
        if (negative && m <= (uint64_t)INT64_MAX + 1) {
            etf_put_int(b, m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m);
            return;
        }
    }
    if (n <= 255) {
        unsigned char q[3] = { ETF_SMALL_BIG, (unsigned char)n, (unsigned char)(negative != 0) };
        tbuf_put(b, q, 3);
    } else {
        tbuf_byte(b, ETF_LARGE_BIG);
        tbuf_be32(b, (uint32_t)n);
        tbuf_byte(b, (unsigned char)(negative != 0));
    }
    tbuf_put(b, mag, n);
}

void etf_put_atom(struct tbuf *b, const char *utf8, size_t len)
{
    if (len <= 255) {
        unsigned char q[2] = { ETF_SMALL_ATOM_UTF8, (unsigned char)len };
        tbuf_put(b, q, 2);
    } else {
        tbuf_byte(b, ETF_ATOM_UTF8);
        tbuf_be16(b, (uint16_t)len);
    }
    tbuf_put(b, utf8, len);
}

/* ------------------------------------------------------------------------------------ */
/* the canonicaliser                                                                     */

struct cctx {
    const unsigned char *base, *end;
    struct tbuf out;
    unsigned flags;
};

#define BAD(c, at, ...) bad_at((c), (at), __VA_ARGS__)

static int bad_at(struct cctx *c, const unsigned char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad_at(struct cctx *c, const unsigned char *at, const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return err_set(SHMETS_EBADTERM, "%s at byte %td", what, at - c->base);
}

/* Are n more bytes there at p? */
#define NEED(c, p, n, what) \
    do { if ((size_t)((c)->end - (p)) < (size_t)(n)) return BAD(c, p, "truncated %s", what); } while (0)

static int canon(struct cctx *c, const unsigned char **pp, int depth);

static int too_deep(void)
{
    return err_set(SHMETS_ETOODEEP, "terms nest more than %d containers deep", SHMETS_TERM_MAX_DEPTH);
}

static int canon_atom_text(struct cctx *c, const unsigned char *at, const unsigned char *s,
                           size_t n, int latin1)
{
    if (latin1) {
        if (n > SHMETS_ATOM_MAX_CHARS)
            return err_set(SHMETS_ETOOBIG, "atom of %zu characters (at most %d) at byte %td",
                           n, SHMETS_ATOM_MAX_CHARS, at - c->base);
        unsigned char u[2 * SHMETS_ATOM_MAX_CHARS];
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            k += (size_t)utf8_put(s[i], u + k);
        etf_put_atom(&c->out, (const char *)u, k);
        return c->out.err;
    }
    long chars = utf8_count(s, n);
    if (chars < 0)
        return BAD(c, at, "atom is not valid UTF-8");
    if (chars > SHMETS_ATOM_MAX_CHARS)
        return err_set(SHMETS_ETOOBIG, "atom of %ld characters (at most %d) at byte %td",
                       chars, SHMETS_ATOM_MAX_CHARS, at - c->base);
    etf_put_atom(&c->out, (const char *)s, n);
    return c->out.err;
}

/* An atom, in any of its four encodings. */
static int canon_atom(struct cctx *c, const unsigned char **pp)
{
    const unsigned char *p = *pp;
    NEED(c, p, 1, "atom");
    unsigned tag = p[0];
    size_t n, hdr;
    if (tag == ETF_SMALL_ATOM || tag == ETF_SMALL_ATOM_UTF8) {
        NEED(c, p, 2, "atom");
        n = p[1]; hdr = 2;
    } else if (tag == ETF_ATOM || tag == ETF_ATOM_UTF8) {
        NEED(c, p, 3, "atom");
        n = get_be16(p + 1); hdr = 3;
    } else {
        return BAD(c, p, "atom expected, found tag %u", tag);
    }
    NEED(c, p, hdr + n, "atom text");
    int rc = canon_atom_text(c, p, p + hdr, n, tag == ETF_SMALL_ATOM || tag == ETF_ATOM);
    *pp = p + hdr + n;
    return rc;
}

/* C.1: sign byte and little-endian magnitude. */
static int canon_big(struct cctx *c, const unsigned char *at, unsigned sign,
                     const unsigned char *mag, size_t n)
{
    if (sign > 1)
        return BAD(c, at, "integer sign byte %u (0 or 1 expected)", sign);
    size_t m = n;
    while (m && mag[m - 1] == 0)
        m--;
    if (m > SHMETS_BIG_MAX_BYTES)
        return err_set(SHMETS_ETOOBIG, "integer of %zu bytes (at most %u) at byte %td",
                       m, SHMETS_BIG_MAX_BYTES, at - c->base);
    etf_put_big(&c->out, sign && m, mag, m);
    return c->out.err;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

locale_t term_c_locale(void)
{
    pthread_once(&c_locale_once, c_locale_init);
    return c_locale;
}

static int put_float(struct cctx *c, const unsigned char *at, double d)
{
    if (!isfinite(d))
        return BAD(c, at, "float is NaN or infinite");
    uint64_t bits;
    memcpy(&bits, &d, 8);
    unsigned char q[9];
    q[0] = ETF_NEW_FLOAT;
    put_be64(q + 1, bits);
    tbuf_put(&c->out, q, 9);
    return c->out.err;
}

/* FLOAT_EXT: 31 bytes of "%.20e" text, NUL padded. */
static int canon_old_float(struct cctx *c, const unsigned char *at, const unsigned char *s)
{
    char txt[32];
    memcpy(txt, s, 31);
    txt[31] = '\0';
    size_t n = strlen(txt);
    for (size_t i = n; i < 31; i++)
        if (s[i] != 0)
            return BAD(c, at, "float text has bytes after its end");
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789+-.eE", txt[i]))
            return BAD(c, at, "float text has a character '%c' that is not a digit", txt[i]);
    locale_t cl = term_c_locale();
    if (!cl)
        return err_set(SHMETS_ENOMEM, "cannot make the C locale for reading floats");
    char *e;
    errno = 0;
    double d = strtod_l(txt, &e, cl);
    if (n == 0 || *e != '\0')
        return BAD(c, at, "float text \"%s\" is not a float", txt);
    if (errno == ERANGE && isinf(d))    /* underflow to a subnormal or zero is a float */
        return BAD(c, at, "float text \"%s\" is out of range", txt);
    return put_float(c, at, d);
}

/* C.4: a list starting at *pp (LIST_EXT or STRING_EXT), its tail chain followed by a loop. */
static int canon_list(struct cctx *c, const unsigned char **pp, int depth)
{
    struct tbuf *o = &c->out;
    size_t start = o->len;
    unsigned char hdr[5] = { ETF_LIST, 0, 0, 0, 0 };
    tbuf_put(o, hdr, 5);
    uint64_t count = 0;
    int all_bytes = 1, proper = 0, rc;
    const unsigned char *p = *pp;

    for (;;) {
        NEED(c, p, 1, "list tail");
        if (p[0] == ETF_LIST) {
            NEED(c, p, 5, "list header");
            uint32_t n = get_be32(p + 1);
            p += 5;
            if (n > (size_t)(c->end - p))
                return BAD(c, p - 5, "list of %u elements is longer than the input", n);
            if (n && depth + 1 > SHMETS_TERM_MAX_DEPTH)
                return too_deep();
            for (uint32_t i = 0; i < n; i++) {
                size_t es = o->len;
                if ((rc = canon(c, &p, depth + 1)) < 0)
                    return rc;
                if (!(o->len - es == 2 && o->p[es] == ETF_SMALL_INTEGER))
                    all_bytes = 0;
            }
            count += n;
            continue;
        }
        if (p[0] == ETF_STRING) {
            NEED(c, p, 3, "string header");
            size_t n = get_be16(p + 1);
            NEED(c, p, 3 + n, "string");
            unsigned char *q = tbuf_room(o, 2 * n);
            if (!q)
                return o->err;
            for (size_t i = 0; i < n; i++) {
                q[2 * i] = ETF_SMALL_INTEGER;
                q[2 * i + 1] = p[3 + i];
            }
            o->len += 2 * n;
            count += n;
            p += 3 + n;
            proper = 1;
            break;
        }
        if (p[0] == ETF_NIL) {
            p++;
            proper = 1;
            break;
        }
        if ((rc = canon(c, &p, depth)) < 0)     /* an improper tail */
            return rc;
        break;
    }
    *pp = p;
    if (count > UINT32_MAX)
        return err_set(SHMETS_ETOOBIG, "list of more than 2^32-1 elements");

    if (count == 0) {
        if (proper) {
            o->len = start;
            tbuf_byte(o, ETF_NIL);
        } else {                                /* [] ++ Tail is Tail */
            memmove(o->p + start, o->p + start + 5, o->len - start - 5);
            o->len -= 5;
        }
    } else if (proper && all_bytes && count <= 65535) {
        unsigned char *s = o->p + start;
        s[0] = ETF_STRING;
        put_be16(s + 1, (uint16_t)count);
        for (size_t i = 0; i < count; i++)
            s[3 + i] = s[5 + 2 * i + 1];
        o->len = start + 3 + count;
    } else {
        put_be32(o->p + start + 1, (uint32_t)count);
        if (proper)
            tbuf_byte(o, ETF_NIL);
    }
    return o->err;
}

struct map_pair { size_t key, val, end, index; };

static int pair_cmp(const void *x, const void *y, void *arg)
{
    const struct map_pair *a = x, *b = y;
    const unsigned char *base = arg;
    int r = term_cmp(base + a->key, base + b->key, 1);
    if (r)
        return r;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* C.7 */
static int canon_map(struct cctx *c, const unsigned char **pp, int depth)
{
    const unsigned char *p = *pp, *at = p;
    struct tbuf *o = &c->out;
    NEED(c, p, 5, "map header");
    uint32_t n = get_be32(p + 1);
    p += 5;
    if (n > (size_t)(c->end - p) / 2)
        return BAD(c, at, "map of %u pairs is longer than the input", n);
    if (n && depth + 1 > SHMETS_TERM_MAX_DEPTH)
        return too_deep();
    size_t start = o->len;
    tbuf_byte(o, ETF_MAP);
    tbuf_be32(o, n);
    if (n == 0) {
        *pp = p;
        return o->err;
    }
    struct map_pair *pairs = malloc(n * sizeof *pairs);
    if (!pairs)
        return err_set(SHMETS_ENOMEM, "allocating a map of %u pairs", n);
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        pairs[i].index = i;
        pairs[i].key = o->len;
        if ((rc = canon(c, &p, depth + 1)) < 0)
            break;
        pairs[i].val = o->len;
        if ((rc = canon(c, &p, depth + 1)) < 0)
            break;
        pairs[i].end = o->len;
    }
    if (rc == 0) {
        qsort_r(pairs, n, sizeof *pairs, pair_cmp, o->p);
        /* Drop duplicates: refused, or (term text) the later pair wins. */
        uint32_t kept = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (i + 1 < n && term_cmp(o->p + pairs[i].key, o->p + pairs[i + 1].key, 1) == 0) {
                if (!(c->flags & CANON_MAP_LAST_WINS)) {
                    rc = BAD(c, at, "map has a duplicate key");
                    break;
                }
                continue;   /* sorted by index within equal keys: the last one is kept */
            }
            pairs[kept++] = pairs[i];
        }
        if (rc == 0) {
            size_t body = o->len - (start + 5);
            unsigned char *tmp = malloc(body ? body : 1);
            if (!tmp) {
                rc = err_set(SHMETS_ENOMEM, "allocating %zu bytes to sort a map", body);
            } else {
                size_t k = 0;
                for (uint32_t i = 0; i < kept; i++) {
                    size_t sz = pairs[i].end - pairs[i].key;
                    memcpy(tmp + k, o->p + pairs[i].key, sz);
                    k += sz;
                }
                memcpy(o->p + start + 5, tmp, k);
                o->len = start + 5 + k;
                put_be32(o->p + start + 1, kept);
                free(tmp);
            }
        }
    }
    free(pairs);
    *pp = p;
    return rc;
}

/* Node atom, then the fields of a pid, port or reference. */
static int canon_pid(struct cctx *c, const unsigned char **pp)
{
    const unsigned char *p = *pp;
    unsigned tag = *p++;
    int rc;
    tbuf_byte(&c->out, ETF_NEW_PID);
    if ((rc = canon_atom(c, &p)) < 0)
        return rc;
    size_t cr = tag == ETF_NEW_PID ? 4 : 1;
    NEED(c, p, 8 + cr, "pid");
    tbuf_put(&c->out, p, 8);
    tbuf_be32(&c->out, cr == 4 ? get_be32(p + 8) : p[8]);
    *pp = p + 8 + cr;
    return c->out.err;
}

static int canon_port(struct cctx *c, const unsigned char **pp)
{
    const unsigned char *p = *pp;
    unsigned tag = *p++;
    int rc;
    size_t at = c->out.len;
    tbuf_byte(&c->out, ETF_NEW_PORT);
    if ((rc = canon_atom(c, &p)) < 0)
        return rc;
    uint64_t id;
    uint32_t creation;
    if (tag == ETF_V4_PORT) {
        NEED(c, p, 12, "port");
        id = get_be64(p); creation = get_be32(p + 8); p += 12;
    } else if (tag == ETF_NEW_PORT) {
        NEED(c, p, 8, "port");
        id = get_be32(p); creation = get_be32(p + 4); p += 8;
    } else {
        NEED(c, p, 5, "port");
        id = get_be32(p); creation = p[4]; p += 5;
    }
    if (id > UINT32_MAX) {
        if (c->out.err)
            return c->out.err;
        c->out.p[at] = ETF_V4_PORT;
        unsigned char q[8];
        put_be64(q, id);
        tbuf_put(&c->out, q, 8);
    } else {
        tbuf_be32(&c->out, (uint32_t)id);
    }
    tbuf_be32(&c->out, creation);
    *pp = p;
    return c->out.err;
}

static int canon_ref(struct cctx *c, const unsigned char **pp)
{
    const unsigned char *p = *pp, *at = p;
    unsigned tag = *p++;
    int rc;
    size_t n = 1;
    if (tag != ETF_REFERENCE) {
        NEED(c, p, 2, "reference");
        n = get_be16(p);
        p += 2;
        if (n < 1 || n > 5)
            return BAD(c, at, "reference of %zu words (1 to 5 expected)", n);
    }
    tbuf_byte(&c->out, ETF_NEWER_REFERENCE);
    tbuf_be16(&c->out, (uint16_t)n);
    if ((rc = canon_atom(c, &p)) < 0)
        return rc;
    if (tag == ETF_REFERENCE) {
        NEED(c, p, 5, "reference");
        tbuf_be32(&c->out, p[4]);
        tbuf_put(&c->out, p, 4);
        p += 5;
    } else {
        size_t cr = tag == ETF_NEWER_REFERENCE ? 4 : 1;
        NEED(c, p, cr + 4 * n, "reference");
        tbuf_be32(&c->out, cr == 4 ? get_be32(p) : p[0]);
        tbuf_put(&c->out, p + cr, 4 * n);
        p += cr + 4 * n;
    }
    *pp = p;
    return c->out.err;
}

static int canon_small_int_field(struct cctx *c, const unsigned char **pp, const char *what)
{
    const unsigned char *p = *pp;
    NEED(c, p, 1, what);
    if (p[0] != ETF_SMALL_INTEGER && p[0] != ETF_INTEGER)
        return BAD(c, p, "%s must be an integer", what);
    return canon(c, pp, SHMETS_TERM_MAX_DEPTH);
}

/* NEW_FUN_EXT: Size Arity Uniq[16] Index NumFree Module OldIndex OldUniq Pid FreeVars... */
static int canon_fun(struct cctx *c, const unsigned char **pp, int depth)
{
    const unsigned char *p = *pp, *at = p;
    struct tbuf *o = &c->out;
    int rc;
    NEED(c, p, 1 + 4 + 1 + 16 + 4 + 4, "fun");
    uint32_t size = get_be32(p + 1);
    uint32_t nfree = get_be32(p + 26);
    size_t start = o->len;
    tbuf_put(o, p, 30);             /* tag, size (patched below), arity, uniq, index, numfree */
    p += 30;
    if (nfree > (size_t)(c->end - p))
        return BAD(c, at, "fun with %u free variables is longer than the input", nfree);
    if (nfree && depth + 1 > SHMETS_TERM_MAX_DEPTH)
        return too_deep();
    if ((rc = canon_atom(c, &p)) < 0)
        return rc;
    if ((rc = canon_small_int_field(c, &p, "fun OldIndex")) < 0 ||
        (rc = canon_small_int_field(c, &p, "fun OldUniq")) < 0)
        return rc;
    NEED(c, p, 1, "fun pid");
    if (p[0] != ETF_PID && p[0] != ETF_NEW_PID)
        return BAD(c, p, "fun creator must be a pid");
    if ((rc = canon_pid(c, &p)) < 0)
        return rc;
    for (uint32_t i = 0; i < nfree; i++)
        if ((rc = canon(c, &p, depth + 1)) < 0)
            return rc;
    if ((size_t)(p - at) - 1 != size)
        return BAD(c, at, "fun size field says %u bytes, the fun has %td", size, p - at - 1);
    if (o->err)
        return o->err;
    put_be32(o->p + start + 1, (uint32_t)(o->len - start - 1));
    *pp = p;
    return 0;
}

static int canon(struct cctx *c, const unsigned char **pp, int depth)
{
    const unsigned char *p = *pp;
    struct tbuf *o = &c->out;
    int rc;
    NEED(c, p, 1, "term");
    unsigned tag = p[0];
    switch (tag) {
    case ETF_SMALL_INTEGER:
        NEED(c, p, 2, "integer");
        etf_put_int(o, p[1]);
        *pp = p + 2;
        return o->err;
    case ETF_INTEGER:
        NEED(c, p, 5, "integer");
        etf_put_int(o, (int32_t)get_be32(p + 1));
        *pp = p + 5;
        return o->err;
    case ETF_SMALL_BIG:
        NEED(c, p, 3, "integer");
        NEED(c, p, 3 + (size_t)p[1], "integer");
        *pp = p + 3 + p[1];
        return canon_big(c, p, p[2], p + 3, p[1]);
    case ETF_LARGE_BIG: {
        NEED(c, p, 6, "integer");
        uint32_t n = get_be32(p + 1);
        NEED(c, p, 6 + (size_t)n, "integer");
        *pp = p + 6 + n;
        return canon_big(c, p, p[5], p + 6, n);
    }
    case ETF_NEW_FLOAT: {
        NEED(c, p, 9, "float");
        uint64_t bits = get_be64(p + 1);
        double d;
        memcpy(&d, &bits, 8);
        *pp = p + 9;
        return put_float(c, p, d);
    }
    case ETF_FLOAT:
        NEED(c, p, 32, "float");
        *pp = p + 32;
        return canon_old_float(c, p, p + 1);
    case ETF_ATOM: case ETF_SMALL_ATOM: case ETF_ATOM_UTF8: case ETF_SMALL_ATOM_UTF8:
        return canon_atom(c, pp);
    case ETF_SMALL_TUPLE: case ETF_LARGE_TUPLE: {
        size_t hdr = tag == ETF_SMALL_TUPLE ? 2 : 5;
        NEED(c, p, hdr, "tuple header");
        uint32_t n = tag == ETF_SMALL_TUPLE ? p[1] : get_be32(p + 1);
        p += hdr;
        if (n > (size_t)(c->end - p))
            return BAD(c, p - hdr, "tuple of arity %u is longer than the input", n);
        if (n && depth + 1 > SHMETS_TERM_MAX_DEPTH)
            return too_deep();
        if (n <= 255) {
            unsigned char q[2] = { ETF_SMALL_TUPLE, (unsigned char)n };
            tbuf_put(o, q, 2);
        } else {
            tbuf_byte(o, ETF_LARGE_TUPLE);
            tbuf_be32(o, n);
        }
        for (uint32_t i = 0; i < n; i++)
            if ((rc = canon(c, &p, depth + 1)) < 0)
                return rc;
        *pp = p;
        return o->err;
    }
    case ETF_NIL:
        tbuf_byte(o, ETF_NIL);
        *pp = p + 1;
        return o->err;
    case ETF_STRING: case ETF_LIST:
        return canon_list(c, pp, depth);
    case ETF_BINARY: {
        NEED(c, p, 5, "binary header");
        uint32_t n = get_be32(p + 1);
        NEED(c, p, 5 + (size_t)n, "binary");
        tbuf_put(o, p, 5 + (size_t)n);
        *pp = p + 5 + n;
        return o->err;
    }
    case ETF_BIT_BINARY: {
        NEED(c, p, 6, "bitstring header");
        uint32_t n = get_be32(p + 1);
        unsigned bits = p[5];
        NEED(c, p, 6 + (size_t)n, "bitstring");
        if (n == 0 ? bits != 0 : (bits < 1 || bits > 8))
            return BAD(c, p, "bitstring of %u bytes with %u bits in its last byte", n, bits);
        *pp = p + 6 + n;
        if (n == 0 || bits == 8) {
            tbuf_byte(o, ETF_BINARY);
            tbuf_be32(o, n);
            tbuf_put(o, p + 6, n);
            return o->err;
        }
        tbuf_put(o, p, 6 + (size_t)n);
        if (o->err)
            return o->err;
        o->p[o->len - 1] &= (unsigned char)(0xFF << (8 - bits));
        return 0;
    }
    case ETF_PID: case ETF_NEW_PID:
        return canon_pid(c, pp);
    case ETF_PORT: case ETF_NEW_PORT: case ETF_V4_PORT:
        return canon_port(c, pp);
    case ETF_REFERENCE: case ETF_NEW_REFERENCE: case ETF_NEWER_REFERENCE:
        return canon_ref(c, pp);
    case ETF_NEW_FUN:
        return canon_fun(c, pp, depth);
    case ETF_EXPORT:
        tbuf_byte(o, ETF_EXPORT);
        p++;
        if ((rc = canon_atom(c, &p)) < 0 || (rc = canon_atom(c, &p)) < 0)
            return rc;
        NEED(c, p, 2, "export arity");
        if (p[0] != ETF_SMALL_INTEGER)
            return BAD(c, p, "export arity must be a small integer");
        tbuf_put(o, p, 2);
        *pp = p + 2;
        return o->err;
    case ETF_MAP:
        return canon_map(c, pp, depth);
    case ETF_FUN:
        return BAD(c, p, "FUN_EXT (removed in OTP 23) is not supported");
    case ETF_ATOM_CACHE_REF: case ETF_LOCAL: case 68 /* DIST_HEADER */:
        return BAD(c, p, "tag %u belongs to the distribution protocol, not to stored terms", tag);
    case ETF_COMPRESSED:
        return BAD(c, p, "a compressed term may only stand at the top level");
    case ETF_VERSION:
        return BAD(c, p, "version byte 131 inside a term");
    default:
        return BAD(c, p, "unknown tag %u", tag);
    }
}

static int canon_whole(const unsigned char *in, size_t len, unsigned flags, shmets_term *out,
                       const unsigned char *report_base)
{
    struct cctx c = { .base = report_base, .end = in + len, .flags = flags };
    tbuf_init(&c.out, SHMETS_TERM_MAX_SIZE);
    const unsigned char *p = in;
    int rc = canon(&c, &p, 0);
    if (rc == 0 && p != c.end)
        rc = bad_at(&c, p, "%td bytes after the end of the term", c.end - p);
    if (rc == 0 && c.out.err)
        rc = c.out.err;
    if (rc < 0) {
        tbuf_free(&c.out);
        return rc;
    }
    out->ptr = tbuf_take(&c.out, &out->len);
    return 0;
}

int term_canon(const unsigned char *in, size_t len, unsigned flags, shmets_term *out)
{
    out->ptr = NULL;
    out->len = 0;
    err_clear();
    if (!(flags & SHMETS_ETF_NO_VERSION)) {
        if (len == 0)
            return err_set(SHMETS_EBADTERM, "empty input: version byte 131 expected");
        if (in[0] != ETF_VERSION)
            return err_set(SHMETS_EBADTERM, "version byte is %u, 131 expected", in[0]);
        in++;
        len--;
    }
    if (len >= 1 && in[0] == ETF_COMPRESSED) {
        if (len < 5)
            return err_set(SHMETS_EBADTERM, "truncated compressed term header");
        uint32_t size = get_be32(in + 1);
        if (size > SHMETS_TERM_MAX_SIZE)
            return err_set(SHMETS_ETOOBIG, "compressed term inflates to %u bytes (at most %u)",
                           size, SHMETS_TERM_MAX_SIZE);
        unsigned char *raw = malloc(size ? size : 1);
        if (!raw)
            return err_set(SHMETS_ENOMEM, "allocating %u bytes to inflate a term", size);
        uLongf got = size;
        uLong used = (uLong)(len - 5);
        int z = uncompress2(raw, &got, in + 5, &used);
        int rc;
        if (z != Z_OK || got != size)
            rc = err_set(SHMETS_EBADTERM, "compressed term is corrupt (zlib: %s, %lu of %u bytes)",
                         z == Z_OK ? "size mismatch" : zError(z), (unsigned long)got, size);
        else if (used != (uLong)(len - 5))
            rc = err_set(SHMETS_EBADTERM, "%lu bytes after the end of the compressed term",
                         (unsigned long)(len - 5 - used));
        else
            rc = canon_whole(raw, size, flags, out, raw);
        free(raw);
        return rc;
    }
    return canon_whole(in, len, flags, out, in - !(flags & SHMETS_ETF_NO_VERSION));
}

/* ------------------------------------------------------------------------------------ */
/* public: from/to ETF, dup, free                                                        */

int shmets_term_from_etf(const void *buf, size_t len, unsigned flags, shmets_term *out)
{
    if (!out)
        return err_set(SHMETS_EINVAL, "out is NULL");
    out->ptr = NULL;
    out->len = 0;
    if (!buf)
        return err_set(SHMETS_EINVAL, "buf is NULL");
    if (flags & ~SHMETS_ETF_NO_VERSION)
        return err_set(SHMETS_EINVAL, "unknown flags 0x%x", flags);
    return term_canon(buf, len, flags, out);
}

int shmets_term_to_etf(shmets_term t, unsigned char **buf, size_t *len)
{
    if (!buf || !len || !t.ptr || !t.len)
        return err_set(SHMETS_EINVAL, "NULL argument or empty term");
    unsigned char *p = malloc(t.len + 1);
    if (!p)
        return err_set(SHMETS_ENOMEM, "allocating %zu bytes", t.len + 1);
    p[0] = ETF_VERSION;
    memcpy(p + 1, t.ptr, t.len);
    *buf = p;
    *len = t.len + 1;
    return 0;
}

int shmets_term_dup(shmets_term t, shmets_term *out)
{
    if (!out || !t.ptr || !t.len)
        return err_set(SHMETS_EINVAL, "NULL argument or empty term");
    unsigned char *p = malloc(t.len);
    if (!p)
        return err_set(SHMETS_ENOMEM, "allocating %zu bytes", t.len);
    memcpy(p, t.ptr, t.len);
    out->ptr = p;
    out->len = t.len;
    return 0;
}

void shmets_term_free(shmets_term *t)
{
    if (!t)
        return;
    free((void *)t->ptr);
    t->ptr = NULL;
    t->len = 0;
}
