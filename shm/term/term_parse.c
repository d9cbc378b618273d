/*
 * term_parse.c — reading one term written in Erlang syntax.
 *
 * WHAT IT READS: the literal terms of Erlang's grammar (erl_scan + erl_parse:parse_term/1),
 * plus the printed forms of pids, references and ports that ~w writes for the local node:
 *   atoms (bare, 'quoted' with escapes), integers (1_000, 16#ff, $a, $\n, any size),
 *   floats (1.5, -1.5e3; "1e5" and "1." are not Erlang floats), strings ("..." with
 *   escapes; adjacent strings join), binaries (<<"str">>, <<"é"/utf8>>, <<1,2,3>>, <<5:3>>,
 *   <<16#263A/utf8>>, integers wrap modulo 2^Size as in Erlang), tuples, lists (proper or
 *   [H|T]), maps (#{K => V}, a later key wins as in Erlang), pids <0.N.S>, #Ref<0.A.B.C>,
 *   #Port<0.N>; white space and % comments anywhere between tokens; one optional full stop.
 * Everything else (variables, operators, expressions, := in maps, pids of other nodes) is a
 * syntax error, reported with line and column.
 *
 * HOW: recursive descent straight into plain ETF (containers get a 4-byte count patched when
 * they close; the canonicaliser turns it all into the canonical encoding, with map keys
 * deduplicated later-wins), so the parser never decides an encoding.  Recursion is bounded by
 * SHMETS_TERM_MAX_DEPTH; integers by SHMETS_BIG_MAX_BYTES (checked on the digit count before
 * GMP converts them, so a million-digit literal costs nothing).
 */
#include "term/term.h"
#include "base/util.h"

#include <errno.h>
#include <gmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    const unsigned char *s, *p, *end;
    struct tbuf out;
    int err;
};

static int perr(struct parser *ps, const unsigned char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int perr(struct parser *ps, const unsigned char *at, const char *fmt, ...)
{
    if (ps->err)
        return ps->err;
    int line = 1, col = 1;
    for (const unsigned char *q = ps->s; q < at && q < ps->end; q++) {
        if (*q == '\n') { line++; col = 1; }
        else if ((*q & 0xC0) != 0x80) col++;
    }
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return ps->err = err_set(SHMETS_ESYNTAX, "line %d, column %d: %s", line, col, what);
}

static int at_end(struct parser *ps) { return ps->p >= ps->end; }
static int peek(struct parser *ps) { return at_end(ps) ? -1 : *ps->p; }
static int peek2(struct parser *ps) { return ps->end - ps->p < 2 ? -1 : ps->p[1]; }

static void skip_ws(struct parser *ps)
{
    while (!at_end(ps)) {
        int c = *ps->p;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            ps->p++;
        } else if (c == '%') {
            while (!at_end(ps) && *ps->p != '\n')
                ps->p++;
        } else {
            break;
        }
    }
}

static int expect(struct parser *ps, const char *tok)
{
    skip_ws(ps);
    size_t n = strlen(tok);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, tok, n) != 0)
        return perr(ps, ps->p, "'%s' expected", tok);
    ps->p += n;
    return 0;
}

/* One code point of the source text (which must be UTF-8). */
static int next_cp(struct parser *ps, uint32_t *c)
{
    if (at_end(ps))
        return perr(ps, ps->p, "unexpected end of text");
    const unsigned char *q = ps->p;
    unsigned k = *q < 0x80 ? 1 : (*q & 0xE0) == 0xC0 ? 2 : (*q & 0xF0) == 0xE0 ? 3 : (*q & 0xF8) == 0xF0 ? 4 : 0;
    if (!k || (size_t)(ps->end - q) < k || utf8_count(q, k) != 1)
        return perr(ps, q, "text is not valid UTF-8");
    if (*q == 0)
        return perr(ps, q, "NUL byte in text");
    *c = utf8_next(&q);
    ps->p = q;
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* After a backslash: one escape sequence (erl_scan's). */
static int escape(struct parser *ps, uint32_t *c)
{
    const unsigned char *at = ps->p - 1;
    int rc = next_cp(ps, c);
    if (rc)
        return rc;
    switch (*c) {
    case 'b': *c = 8; return 0;
    case 'd': *c = 127; return 0;
    case 'e': *c = 27; return 0;
    case 'f': *c = 12; return 0;
    case 'n': *c = 10; return 0;
    case 'r': *c = 13; return 0;
    case 's': *c = 32; return 0;
    case 't': *c = 9; return 0;
    case 'v': *c = 11; return 0;
    case '^':
        if ((rc = next_cp(ps, c)))
            return rc;
        *c &= 31;
        return 0;
    case 'x':
        if (peek(ps) == '{') {
            uint32_t v = 0;
            int digits = 0;
            ps->p++;
            while (hexval(peek(ps)) >= 0) {
                v = v * 16 + (uint32_t)hexval(*ps->p++);
                if (++digits > 8)
                    return perr(ps, at, "\\x{...} escape too long");
            }
            if (peek(ps) != '}' || digits == 0)
                return perr(ps, at, "bad \\x{...} escape");
            ps->p++;
            if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
                return perr(ps, at, "\\x{%X} is not a Unicode code point", v);
            *c = v;
            return 0;
        }
        if (hexval(peek(ps)) < 0 || hexval(peek2(ps)) < 0)
            return perr(ps, at, "bad \\x escape (two hex digits expected)");
        *c = (uint32_t)(hexval(ps->p[0]) * 16 + hexval(ps->p[1]));
        ps->p += 2;
        return 0;
    default:
        if (*c >= '0' && *c <= '7') {
            uint32_t v = *c - '0';
            for (int i = 0; i < 2 && peek(ps) >= '0' && peek(ps) <= '7'; i++)
                v = v * 8 + (uint32_t)(*ps->p++ - '0');
            *c = v;
        }
        return 0;   /* \' \" \\ and any other character stand for themselves */
    }
}

/* Code points of a quoted text up to the closing quote q (the opening one is consumed). */
static int quoted(struct parser *ps, int q, uint32_t **cps, size_t *n, size_t *cap)
{
    const unsigned char *start = ps->p - 1;
    for (;;) {
        if (at_end(ps))
            return perr(ps, start, "unterminated %s", q == '"' ? "string" : "quoted atom");
        uint32_t c;
        int rc;
        if (*ps->p == q) {
            ps->p++;
            return 0;
        }
        if (*ps->p == '\\') {
            ps->p++;
            rc = escape(ps, &c);
        } else {
            rc = next_cp(ps, &c);
        }
        if (rc)
            return rc;
        if (*n == *cap) {
            size_t nc = *cap ? 2 * *cap : 32;
            if (nc > SHMETS_TERM_MAX_SIZE)
                return ps->err = err_set(SHMETS_ETOOBIG, "string longer than %u characters", SHMETS_TERM_MAX_SIZE);
            uint32_t *m = realloc(*cps, nc * sizeof *m);
            if (!m)
                return ps->err = err_set(SHMETS_ENOMEM, "allocating a string");
            *cps = m;
            *cap = nc;
        }
        (*cps)[(*n)++] = c;
    }
}

static int put_atom_cps(struct parser *ps, const unsigned char *at, const uint32_t *cps, size_t n)
{
    if (n > SHMETS_ATOM_MAX_CHARS)
        return ps->err = err_set(SHMETS_ETOOBIG, "atom of %zu characters (at most %d) at line start %td",
                                 n, SHMETS_ATOM_MAX_CHARS, at - ps->s);
    unsigned char u[4 * SHMETS_ATOM_MAX_CHARS];
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)utf8_put(cps[i], u + k);
    etf_put_atom(&ps->out, (const char *)u, k);
    return ps->out.err;
}

static int is_name_char(uint32_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '@' || (c >= 0xC0 && c <= 0xFF && c != 0xD7 && c != 0xF7);
}

static int bare_atom(struct parser *ps)
{
    const unsigned char *start = ps->p;
    uint32_t cps[SHMETS_ATOM_MAX_CHARS + 1];
    size_t n = 0;
    while (!at_end(ps)) {
        const unsigned char *save = ps->p;
        uint32_t c;
        if (next_cp(ps, &c)) {
            ps->err = 0;
            ps->p = save;
            break;
        }
        if (!is_name_char(c)) {
            ps->p = save;
            break;
        }
        if (n > SHMETS_ATOM_MAX_CHARS)
            return ps->err = err_set(SHMETS_ETOOBIG, "atom longer than %d characters", SHMETS_ATOM_MAX_CHARS);
        cps[n++] = c;
    }
    size_t len = (size_t)(ps->p - start);
    if (term_atom_needs_quotes((const char *)start, len))    /* a reserved word */
        return perr(ps, start, "'%.*s' is a reserved word, not an atom (quote it)", (int)len, start);
    return put_atom_cps(ps, start, cps, n);
}

static int digit_value(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c |= 32;
    if (c >= 'a' && c <= 'z') return c - 'a' + 10;
    return 99;
}

/* The characters of a number literal, grown as needed up to a limit. */
struct numbuf { char *p; size_t n, cap, max; int heap; };

static int numbuf_put(struct parser *ps, struct numbuf *b, char c)
{
    if (b->n + 1 >= b->cap) {
        if (b->n >= b->max)
            return ps->err = err_set(SHMETS_ETOOBIG, "number literal longer than %zu digits", b->max);
        size_t cap = 2 * b->cap;
        char *q = b->heap ? realloc(b->p, cap) : malloc(cap);
        if (!q)
            return ps->err = err_set(SHMETS_ENOMEM, "allocating a number");
        if (!b->heap)
            memcpy(q, b->p, b->n);
        b->heap = 1;
        b->p = q;
        b->cap = cap;
    }
    b->p[b->n++] = c;
    b->p[b->n] = '\0';
    return 0;
}

/* Append the digits of `base` at ps->p to b (a '_' may stand between two digits). */
static int digits(struct parser *ps, struct numbuf *b, int base)
{
    size_t start = b->n;
    int rc;
    while (!at_end(ps)) {
        int c = *ps->p;
        if (c == '_' && b->n > start && ps->p + 1 < ps->end && digit_value(ps->p[1]) < base) {
            ps->p++;
            continue;
        }
        if (digit_value(c) >= base)
            break;
        if ((rc = numbuf_put(ps, b, (char)c)))
            return rc;
        ps->p++;
    }
    return 0;
}

/* An integer or float literal (its sign already read). */
static int number(struct parser *ps, int negative)
{
    const unsigned char *start = ps->p;
    char small[72];
    struct numbuf nb = { small, 0, sizeof small, 8 * (size_t)SHMETS_BIG_MAX_BYTES + 64, 0 };
    char *buf;
    int base = 10, is_float = 0, rc = 0;
    if (negative && (rc = numbuf_put(ps, &nb, '-')))
        goto out;
    if ((rc = digits(ps, &nb, 10)))
        goto out;
    if (peek(ps) == '#') {
        long b = nb.n - (size_t)negative > 2 ? 99 : strtol(nb.p + negative, NULL, 10);
        if (b < 2 || b > 36) {
            rc = perr(ps, start, "base %.*s is not in 2..36", (int)(nb.n - (size_t)negative), nb.p + negative);
            goto out;
        }
        base = (int)b;
        ps->p++;
        nb.n = (size_t)negative;
        nb.p[nb.n] = '\0';
        if ((rc = digits(ps, &nb, base)))
            goto out;
        if (nb.n == (size_t)negative) {
            rc = perr(ps, ps->p, "digits expected after %d#", base);
            goto out;
        }
    } else if (peek(ps) == '.' && peek2(ps) >= '0' && peek2(ps) <= '9') {
        is_float = 1;
        if ((rc = numbuf_put(ps, &nb, (char)*ps->p++)) || (rc = digits(ps, &nb, 10)))
            goto out;
        if (peek(ps) == 'e' || peek(ps) == 'E') {
            const unsigned char *save = ps->p;
            size_t ksave = nb.n;
            if ((rc = numbuf_put(ps, &nb, (char)*ps->p++)))
                goto out;
            if ((peek(ps) == '+' || peek(ps) == '-') && (rc = numbuf_put(ps, &nb, (char)*ps->p++)))
                goto out;
            size_t before = nb.n;
            if ((rc = digits(ps, &nb, 10)))
                goto out;
            if (nb.n == before) {       /* "1.5e" then something else: not an exponent */
                ps->p = save;
                nb.n = ksave;
                nb.p[nb.n] = '\0';
            }
        }
    }
    buf = nb.p;
    if (is_float) {
        locale_t cl = term_c_locale();
        if (!cl) {
            rc = ps->err = err_set(SHMETS_ENOMEM, "cannot make the C locale");
            goto out;
        }
        errno = 0;
        double d = strtod_l(buf, NULL, cl);
        if (errno == ERANGE && (d > 1 || d < -1)) {
            rc = perr(ps, start, "float %s is out of range", buf);
            goto out;
        }
        uint64_t bits;
        memcpy(&bits, &d, 8);
        unsigned char q[9] = { ETF_NEW_FLOAT };
        put_be64(q + 1, bits);
        tbuf_put(&ps->out, q, 9);
        rc = ps->out.err;
        goto out;
    }
    if (!at_end(ps) && is_name_char(*ps->p)) {
        rc = perr(ps, ps->p, "unexpected '%c' after a number", peek(ps));
        goto out;
    }
    errno = 0;
    char *e;
    long long v = strtoll(buf, &e, base);
    if (errno == 0 && *e == '\0') {
        etf_put_int(&ps->out, v);
        rc = ps->out.err;
        goto out;
    }
    mpz_t z;
    mpz_init(z);
    if (mpz_set_str(z, buf, base) != 0) {
        mpz_clear(z);
        rc = perr(ps, start, "bad number");
        goto out;
    }
    size_t bytes = (mpz_sizeinbase(z, 2) + 7) / 8;
    if (bytes > SHMETS_BIG_MAX_BYTES) {
        mpz_clear(z);
        rc = ps->err = err_set(SHMETS_ETOOBIG, "integer of %zu bytes (at most %u)", bytes, SHMETS_BIG_MAX_BYTES);
        goto out;
    }
    unsigned char *mag = malloc(bytes ? bytes : 1);
    if (!mag) {
        mpz_clear(z);
        rc = ps->err = err_set(SHMETS_ENOMEM, "allocating an integer");
        goto out;
    }
    size_t cnt = 0;
    mpz_export(mag, &cnt, -1, 1, 0, 0, z);
    etf_put_big(&ps->out, mpz_sgn(z) < 0, mag, cnt);
    free(mag);
    mpz_clear(z);
    rc = ps->out.err;
out:
    if (nb.heap)
        free(nb.p);
    return rc;
}

static int term(struct parser *ps, int depth);

/* Patch a 4-byte count written as a placeholder at offset at+1. */
static void patch_count(struct parser *ps, size_t at, uint32_t n)
{
    if (!ps->out.err)
        put_be32(ps->out.p + at + 1, n);
}

static size_t open_hdr(struct parser *ps, unsigned char tag)
{
    size_t at = ps->out.len;
    unsigned char q[5] = { tag, 0, 0, 0, 0 };
    tbuf_put(&ps->out, q, 5);
    return at;
}

static int check_depth(struct parser *ps, int depth)
{
    if (depth + 1 > SHMETS_TERM_MAX_DEPTH)
        return ps->err = err_set(SHMETS_ETOODEEP, "terms nest more than %d containers deep", SHMETS_TERM_MAX_DEPTH);
    return 0;
}

/* Elements separated by commas up to `close`; returns the count in *n. */
static int elements(struct parser *ps, int depth, const char *close, uint32_t *n)
{
    int rc;
    *n = 0;
    skip_ws(ps);
    if ((size_t)(ps->end - ps->p) >= strlen(close) && memcmp(ps->p, close, strlen(close)) == 0)
        return 0;
    for (;;) {
        if ((rc = term(ps, depth + 1)))
            return rc;
        if (++*n == 0)
            return ps->err = err_set(SHMETS_ETOOBIG, "more than 2^32-1 elements");
        skip_ws(ps);
        if (peek(ps) != ',')
            return 0;
        ps->p++;
    }
}

/* Small unsigned decimal for pids, refs and ports. */
static int small_uint(struct parser *ps, uint64_t max, uint64_t *v)
{
    skip_ws(ps);
    const unsigned char *at = ps->p;
    uint64_t x = 0;
    if (!(peek(ps) >= '0' && peek(ps) <= '9'))
        return perr(ps, at, "number expected");
    while (peek(ps) >= '0' && peek(ps) <= '9') {
        x = x * 10 + (uint64_t)(*ps->p++ - '0');
        if (x > max)
            return perr(ps, at, "number too large (at most %llu)", (unsigned long long)max);
    }
    *v = x;
    return 0;
}

/* Bits of a binary under construction. */
struct bits { unsigned char *p; size_t nbits, cap; };

static int bits_put(struct parser *ps, struct bits *b, uint64_t v, unsigned size)
{
    for (unsigned i = size; i-- > 0;) {
        if (b->nbits / 8 >= b->cap) {
            size_t nc = b->cap ? 2 * b->cap : 64;
            if (nc > SHMETS_TERM_MAX_SIZE)
                return ps->err = err_set(SHMETS_ETOOBIG, "binary larger than %u bytes", SHMETS_TERM_MAX_SIZE);
            unsigned char *q = realloc(b->p, nc);
            if (!q)
                return ps->err = err_set(SHMETS_ENOMEM, "allocating a binary");
            memset(q + b->cap, 0, nc - b->cap);
            b->p = q;
            b->cap = nc;
        }
        if (i < 64 && (v >> i & 1))
            b->p[b->nbits / 8] |= (unsigned char)(0x80 >> (b->nbits % 8));
        b->nbits++;
    }
    return 0;
}

static int binary(struct parser *ps)
{
    struct bits b = { 0 };
    uint32_t *cps = NULL;
    size_t ncp = 0, cap = 0;
    int rc = 0;
    skip_ws(ps);
    if (peek(ps) == '>' && peek2(ps) == '>') {
        ps->p += 2;
        goto done;
    }
    for (;;) {
        skip_ws(ps);
        const unsigned char *seg = ps->p;
        int is_str = 0, neg = 0;
        uint64_t v = 0;
        if (peek(ps) == '"') {
            is_str = 1;
            ncp = 0;
            while (peek(ps) == '"') {
                ps->p++;
                if ((rc = quoted(ps, '"', &cps, &ncp, &cap)))
                    goto done;
                skip_ws(ps);
            }
        } else {
            if (peek(ps) == '-') { neg = 1; ps->p++; skip_ws(ps); }
            size_t mark = ps->out.len;
            if (peek(ps) == '$') {
                ps->p++;
                uint32_t c;
                if ((rc = next_cp(ps, &c)) || (c == '\\' && (rc = escape(ps, &c))))
                    goto done;
                v = c;
            } else if (peek(ps) >= '0' && peek(ps) <= '9') {
                if ((rc = number(ps, 0)))
                    goto done;
                const unsigned char *t = ps->out.p + mark;
                if (t[0] == ETF_NEW_FLOAT) {
                    rc = perr(ps, seg, "float segments are not supported in binaries");
                    goto done;
                }
                struct term_int x;
                term_get_int(t, &x);
                if (x.n) {
                    for (size_t i = 0; i < x.n && i < 8; i++)
                        v |= (uint64_t)x.mag[i] << 8 * i;
                } else {
                    v = (uint64_t)x.small;
                }
                ps->out.len = mark;
            } else {
                rc = perr(ps, seg, "binary segment must be an integer or a string");
                goto done;
            }
            if (neg)
                v = (uint64_t)0 - v;
        }
        skip_ws(ps);
        long size = -1;
        int utf8 = 0;
        if (peek(ps) == ':') {
            ps->p++;
            skip_ws(ps);
            uint64_t sz;
            if ((rc = small_uint(ps, 64, &sz))) {
                ps->err = 0;
                rc = perr(ps, ps->p, "segment size must be an integer from 0 to 64");
                goto done;
            }
            size = (long)sz;
            skip_ws(ps);
        }
        if (peek(ps) == '/') {
            ps->p++;
            if ((size_t)(ps->end - ps->p) >= 4 && memcmp(ps->p, "utf8", 4) == 0) {
                ps->p += 4;
                utf8 = 1;
            } else if ((size_t)(ps->end - ps->p) >= 7 && memcmp(ps->p, "integer", 7) == 0) {
                ps->p += 7;
            } else {
                rc = perr(ps, ps->p, "only /utf8 and /integer segment types are supported");
                goto done;
            }
            if (utf8 && size >= 0) {
                rc = perr(ps, seg, "a utf8 segment has no size");
                goto done;
            }
        }
        if (is_str && size >= 0 && size != 8) {
            rc = perr(ps, seg, "string segments take no size but 8");
            goto done;
        }
        if (is_str) {
            for (size_t i = 0; i < ncp; i++) {
                if (utf8) {
                    unsigned char u[4];
                    int k = utf8_put(cps[i], u);
                    for (int j = 0; j < k && !rc; j++)
                        rc = bits_put(ps, &b, u[j], 8);
                } else {
                    rc = bits_put(ps, &b, cps[i] & 0xFF, 8);
                }
                if (rc)
                    goto done;
            }
        } else if (utf8) {
            if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
                rc = perr(ps, seg, "%llu is not a Unicode code point", (unsigned long long)v);
                goto done;
            }
            unsigned char u[4];
            int k = utf8_put((uint32_t)v, u);
            for (int j = 0; j < k && !rc; j++)
                rc = bits_put(ps, &b, u[j], 8);
            if (rc)
                goto done;
        } else if ((rc = bits_put(ps, &b, v, size < 0 ? 8 : (unsigned)size))) {
            goto done;
        }
        skip_ws(ps);
        if (peek(ps) == ',') {
            ps->p++;
            continue;
        }
        if (peek(ps) == '>' && peek2(ps) == '>') {
            ps->p += 2;
            break;
        }
        rc = perr(ps, ps->p, "',' or '>>' expected in a binary");
        goto done;
    }
done:
    if (!rc) {
        size_t nbytes = (b.nbits + 7) / 8;
        unsigned rem = (unsigned)(b.nbits % 8);
        if (rem) {
            tbuf_byte(&ps->out, ETF_BIT_BINARY);
            tbuf_be32(&ps->out, (uint32_t)nbytes);
            tbuf_byte(&ps->out, (unsigned char)rem);
        } else {
            tbuf_byte(&ps->out, ETF_BINARY);
            tbuf_be32(&ps->out, (uint32_t)nbytes);
        }
        tbuf_put(&ps->out, b.p, nbytes);
        rc = ps->out.err;
    }
    free(b.p);
    free(cps);
    return rc;
}

static int local_node(struct parser *ps, const unsigned char *at)
{
    uint64_t node;
    int rc = small_uint(ps, UINT32_MAX, &node);
    if (rc)
        return rc;
    if (node != 0)
        return perr(ps, at, "only the local node (0) can be written; node %llu is unknown",
                    (unsigned long long)node);
    return 0;
}

static int pid_ref_port(struct parser *ps, int kind /* 'p'id, 'r'ef, 'P'ort */)
{
    const unsigned char *at = ps->p;
    uint64_t w[5];
    int n = 0, rc;
    if ((rc = local_node(ps, at)))
        return rc;
    int max = kind == 'p' ? 2 : kind == 'P' ? 1 : 5;
    while (n < max) {
        skip_ws(ps);
        if (peek(ps) != '.')
            break;
        ps->p++;
        if ((rc = small_uint(ps, kind == 'P' ? UINT64_MAX : UINT32_MAX, &w[n++])))
            return rc;
    }
    if ((kind == 'p' && n != 2) || n == 0)
        return perr(ps, at, kind == 'p' ? "pid <0.N.S> expected" : "number expected");
    if ((rc = expect(ps, ">")))
        return rc;
    struct tbuf *o = &ps->out;
    if (kind == 'p') {
        tbuf_byte(o, ETF_NEW_PID);
        etf_put_atom(o, "nonode@nohost", 13);
        tbuf_be32(o, (uint32_t)w[0]);
        tbuf_be32(o, (uint32_t)w[1]);
        tbuf_be32(o, 0);
    } else if (kind == 'P') {
        tbuf_byte(o, w[0] > UINT32_MAX ? ETF_V4_PORT : ETF_NEW_PORT);
        etf_put_atom(o, "nonode@nohost", 13);
        if (w[0] > UINT32_MAX) {
            unsigned char q[8];
            put_be64(q, w[0]);
            tbuf_put(o, q, 8);
        } else {
            tbuf_be32(o, (uint32_t)w[0]);
        }
        tbuf_be32(o, 0);
    } else {
        tbuf_byte(o, ETF_NEWER_REFERENCE);
        tbuf_be16(o, (uint16_t)n);
        etf_put_atom(o, "nonode@nohost", 13);
        tbuf_be32(o, 0);
        for (int i = n; i-- > 0;)       /* printed most significant first */
            tbuf_be32(o, (uint32_t)w[i]);
    }
    return o->err;
}

static int term(struct parser *ps, int depth)
{
    int rc;
    uint32_t n;
    skip_ws(ps);
    const unsigned char *at = ps->p;
    int c = peek(ps);
    if (c < 0)
        return perr(ps, at, "a term expected, found the end of the text");
    if (ps->err)
        return ps->err;

    if (c == '{') {
        if ((rc = check_depth(ps, depth)))
            return rc;
        ps->p++;
        size_t h = open_hdr(ps, ETF_LARGE_TUPLE);
        if ((rc = elements(ps, depth, "}", &n)) || (rc = expect(ps, "}")))
            return rc;
        patch_count(ps, h, n);
        return ps->out.err;
    }
    if (c == '[') {
        /* [A,B|[C|[D]]] is one list: a tail written as a list continues it (a loop, not
         * recursion, so a long chain of tails costs no depth; the closing brackets are
         * counted and expected at the end). */
        if ((rc = check_depth(ps, depth)))
            return rc;
        ps->p++;
        size_t h = open_hdr(ps, ETF_LIST), closes = 1;
        uint64_t total = 0;
        int tail_written = 0;
        for (;;) {
            if ((rc = elements(ps, depth, "]", &n)))
                return rc;
            total += n;
            if (total > UINT32_MAX)
                return ps->err = err_set(SHMETS_ETOOBIG, "list of more than 2^32-1 elements");
            skip_ws(ps);
            if (n == 0 || peek(ps) != '|')
                break;
            ps->p++;
            skip_ws(ps);
            if (peek(ps) == '[') {
                ps->p++;
                closes++;
                continue;
            }
            if ((rc = term(ps, depth)))
                return rc;
            tail_written = 1;
            break;
        }
        while (closes--)
            if ((rc = expect(ps, "]")))
                return rc;
        if (total == 0) {
            ps->out.len = h;
            tbuf_byte(&ps->out, ETF_NIL);
            return ps->out.err;
        }
        if (!tail_written)
            tbuf_byte(&ps->out, ETF_NIL);
        patch_count(ps, h, (uint32_t)total);
        return ps->out.err;
    }
    if (c == '#' && peek2(ps) == '{') {
        if ((rc = check_depth(ps, depth)))
            return rc;
        ps->p += 2;
        size_t h = open_hdr(ps, ETF_MAP);
        n = 0;
        skip_ws(ps);
        if (peek(ps) != '}') {
            for (;;) {
                if ((rc = term(ps, depth + 1)) || (rc = expect(ps, "=>")) || (rc = term(ps, depth + 1)))
                    return rc;
                n++;
                skip_ws(ps);
                if (peek(ps) != ',')
                    break;
                ps->p++;
            }
        }
        if ((rc = expect(ps, "}")))
            return rc;
        patch_count(ps, h, n);
        return ps->out.err;
    }
    if (c == '#') {
        static const struct { const char *lit; int kind; } forms[] = {
            { "#Ref<", 'r' }, { "#Port<", 'P' },
        };
        for (size_t i = 0; i < 2; i++) {
            size_t k = strlen(forms[i].lit);
            if ((size_t)(ps->end - ps->p) >= k && memcmp(ps->p, forms[i].lit, k) == 0) {
                ps->p += k;
                return pid_ref_port(ps, forms[i].kind);
            }
        }
        return perr(ps, at, "'#' must begin a map #{...}, #Ref<...> or #Port<...>");
    }
    if (c == '<' && peek2(ps) == '<') {
        ps->p += 2;
        return binary(ps);
    }
    if (c == '<') {
        ps->p++;
        return pid_ref_port(ps, 'p');
    }
    if (c == '"') {
        uint32_t *cps = NULL;
        size_t ncp = 0, cap = 0;
        while (peek(ps) == '"') {
            ps->p++;
            if ((rc = quoted(ps, '"', &cps, &ncp, &cap))) {
                free(cps);
                return rc;
            }
            skip_ws(ps);
        }
        if (ncp == 0) {
            tbuf_byte(&ps->out, ETF_NIL);
        } else {
            tbuf_byte(&ps->out, ETF_LIST);
            tbuf_be32(&ps->out, (uint32_t)ncp);
            for (size_t i = 0; i < ncp; i++)
                etf_put_int(&ps->out, cps[i]);
            tbuf_byte(&ps->out, ETF_NIL);
        }
        free(cps);
        return ps->out.err;
    }
    if (c == '\'') {
        uint32_t *cps = NULL;
        size_t ncp = 0, cap = 0;
        ps->p++;
        rc = quoted(ps, '\'', &cps, &ncp, &cap);
        if (!rc)
            rc = put_atom_cps(ps, at, cps, ncp);
        free(cps);
        return rc;
    }
    if (c == '$') {
        ps->p++;
        uint32_t cp;
        if ((rc = next_cp(ps, &cp)) || (cp == '\\' && (rc = escape(ps, &cp))))
            return rc;
        etf_put_int(&ps->out, cp);
        return ps->out.err;
    }
    if (c == '-' || c == '+') {
        ps->p++;
        skip_ws(ps);
        if (peek(ps) == '$') {
            size_t mark = ps->out.len;
            if ((rc = term(ps, depth)))
                return rc;
            int64_t v = ps->out.p[mark] == ETF_SMALL_INTEGER ? ps->out.p[mark + 1]
                                                              : (int32_t)get_be32(ps->out.p + mark + 1);
            ps->out.len = mark;
            etf_put_int(&ps->out, c == '-' ? -v : v);
            return ps->out.err;
        }
        if (!(peek(ps) >= '0' && peek(ps) <= '9'))
            return perr(ps, at, "'%c' must be followed by a number (expressions are not terms)", c);
        return number(ps, c == '-');
    }
    if (c >= '0' && c <= '9')
        return number(ps, 0);
    if (c >= 'a' && c <= 'z')
        return bare_atom(ps);
    if (c == 0xC3) {    /* Latin-1 lowercase letters start atoms too (ß..ÿ but ÷) */
        const unsigned char *save = ps->p;
        uint32_t cp;
        if ((rc = next_cp(ps, &cp)))
            return rc;
        ps->p = save;
        if (cp >= 0xDF && cp != 0xF7)
            return bare_atom(ps);
    }
    if ((c >= 'A' && c <= 'Z') || c == '_') {
        const unsigned char *e = ps->p;
        while (e < ps->end && (is_name_char(*e) && *e < 128))
            e++;
        return perr(ps, at, "%.*s is a variable, not a term", (int)(e - at), at);
    }
    if (c == 0)
        return perr(ps, at, "NUL byte in text");
    return perr(ps, at, "unexpected character '%c'", c >= 32 && c < 127 ? c : '?');
}

int shmets_term_parse(const char *text, size_t len, shmets_term *out)
{
    if (!out)
        return err_set(SHMETS_EINVAL, "out is NULL");
    out->ptr = NULL;
    out->len = 0;
    if (!text && len)
        return err_set(SHMETS_EINVAL, "text is NULL");
    err_clear();
    struct parser ps = { .s = (const unsigned char *)(text ? text : ""), .err = 0 };
    ps.p = ps.s;
    ps.end = ps.s + len;
    tbuf_init(&ps.out, SHMETS_TERM_MAX_SIZE);
    int rc = term(&ps, 0);
    if (!rc) {
        skip_ws(&ps);
        if (peek(&ps) == '.') {
            ps.p++;
            skip_ws(&ps);
        }
        if (!at_end(&ps))
            rc = perr(&ps, ps.p, "unexpected text after the term");
    }
    if (!rc && ps.out.err)
        rc = ps.out.err;
    if (!rc)
        rc = term_canon(ps.out.p, ps.out.len, SHMETS_ETF_NO_VERSION | CANON_MAP_LAST_WINS, out);
    tbuf_free(&ps.out);
    return rc;
}
