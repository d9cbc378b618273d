/*
 * ms_fmt.c — terms in match-specification error messages, printed as ERTS prints them.
 *
 * ERTS writes the offending term into some of its lint messages ("{const,1,2}" in "Special
 * form 'const' called with more than one argument in {const,1,2}.") with its C printer
 * (erts_printf's %T, erts/emulator/beam/erl_printf_term.c), which differs from io_lib's ~w:
 *   F.1 floats are printed with C's "%e" (1.500000e+00);
 *   F.2 a list of bytes is a string if every byte is a tab, newline, carriage return, 32..126
 *       or 160..255: written in double quotes with \n and \" escaped and the rest (a backslash
 *       too) as the raw byte;
 *   F.3 a binary is <<"...">> if every byte is 32..126 (only " escaped), else its bytes as
 *       integers; a bitstring's last byte is written Value:Bits;
 *   F.4 an atom is quoted unless it starts with a lowercase letter (a-z, Latin-1 223..255 but
 *       247) and holds only letters (Latin-1 192..255 but 215 and 247 count), digits and _ (an
 *       @ is quoted: 'nonode@nohost'); reserved words are not quoted.  Inside quotes \b \t \n \v \f \r \' \\ are named, other
 *       control characters (below 32, 128..159) are octal escapes, the rest is its UTF-8;
 *   F.5 maps are #{K=>V,...} without spaces.
 * These rules were read off OTP 25's output (tests/test_ms.c keeps the cases).  Messages are
 * cut at MS_ERR_LEN bytes by ERTS, so printing stops once `max` bytes are out: the cost is
 * bounded whatever the term's size, and the recursion is at most `max` levels deep (every level
 * writes a byte first).  Pids, ports, references and funs, which the differential tests never
 * generate, are printed in ERTS's shape as far as a term without a running node can say.
 */
#include "ms/ms.h"
#include "base/util.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

struct out {
    struct tbuf *b;
    size_t start, max;
};

static int full(const struct out *o)
{
    return o->b->err || o->b->len - o->start >= o->max;
}

static void put(struct out *o, const void *s, size_t n)
{
    if (!full(o))
        tbuf_put(o->b, s, n);
}

static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }
static void putc_(struct out *o, char c) { put(o, &c, 1); }

/* Numbers as term_print.c writes them, whole, unless the output is full already (as put). */
static void put_u64(struct out *o, uint64_t v)
{
    if (!full(o))
        term_print_u64(o->b, v);
}

static void fmt_int(struct out *o, const unsigned char *p)
{
    if (!full(o))
        term_print_int(o->b, p);
}

static void fmt_float(struct out *o, const unsigned char *p)
{
    uint64_t bits = get_be64(p + 1);
    double d;
    memcpy(&d, &bits, 8);
    char s[64];
    locale_t c = term_c_locale(), old = c ? uselocale(c) : (locale_t)0;
    snprintf(s, sizeof s, "%e", d);
    if (c)
        uselocale(old);
    puts_(o, s);
}

static int latin1_letter(uint32_t c) { return c >= 192 && c <= 255 && c != 215 && c != 247; }
static int atom_lower_start(uint32_t c) { return (c >= 'a' && c <= 'z') || (c >= 223 && c <= 255 && c != 247); }
static int atom_char(uint32_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
           || latin1_letter(c);
}

static void fmt_atom(struct out *o, const unsigned char *p)
{
    size_t n;
    const unsigned char *s = (const unsigned char *)term_atom_text(p, &n), *e = s + n, *q = s;
    int quote = n == 0;
    for (int first = 1; q < e; first = 0) {
        uint32_t c = utf8_next(&q);
        if (first ? !atom_lower_start(c) : !atom_char(c))
            quote = 1;
    }
    if (!quote) {
        put(o, s, n);
        return;
    }
    putc_(o, '\'');
    for (q = s; q < e && !full(o);) {
        const unsigned char *from = q;
        uint32_t c = utf8_next(&q);
        static const char named[] = { 'b', 't', 'n', 'v', 'f', 'r' };
        char esc[8];
        if (c >= 8 && c <= 13) {
            esc[0] = '\\'; esc[1] = named[c - 8];
            put(o, esc, 2);
        } else if (c == '\'' || c == '\\') {
            esc[0] = '\\'; esc[1] = (char)c;
            put(o, esc, 2);
        } else if (c < 32 || (c >= 128 && c < 160)) {
            snprintf(esc, sizeof esc, "\\%03o", (unsigned)c);
            puts_(o, esc);
        } else {
            put(o, from, (size_t)(q - from));
        }
    }
    putc_(o, '\'');
}

static int str_printable(unsigned c) { return c == 9 || c == 10 || c == 13 || (c >= 32 && c <= 126) || c >= 160; }

static void fmt_string_bytes(struct out *o, const unsigned char *s, size_t n)
{
    putc_(o, '"');
    for (size_t i = 0; i < n && !full(o); i++) {
        if (s[i] == '\n')
            puts_(o, "\\n");
        else if (s[i] == '"')
            puts_(o, "\\\"");
        else
            put(o, s + i, 1);
    }
    putc_(o, '"');
}

static void fmt(struct out *o, const unsigned char *p);

static void fmt_list(struct out *o, const unsigned char *p)
{
    if (p[0] == ETF_STRING) {
        size_t n = get_be16(p + 1);
        const unsigned char *s = p + 3;
        size_t i = 0;
        while (i < n && str_printable(s[i]))
            i++;
        if (i == n) {
            fmt_string_bytes(o, s, n);
            return;
        }
        putc_(o, '[');
        for (i = 0; i < n && !full(o); i++) {
            if (i)
                putc_(o, ',');
            put_u64(o, s[i]);
        }
        putc_(o, ']');
        return;
    }
    /* LIST_EXT: a proper list of printable bytes is still a string (more than 65535 of them). */
    uint32_t n = get_be32(p + 1);
    const unsigned char *e = p + 5, *q = e;
    int printable = 1;
    for (uint32_t i = 0; i < n && printable; i++, q = term_end(q))
        printable = q[0] == ETF_SMALL_INTEGER && str_printable(q[1]);
    if (printable && q[0] == ETF_NIL) {
        putc_(o, '"');
        for (uint32_t i = 0; i < n && !full(o); i++, e += 2) {
            unsigned char c = e[1];
            if (c == '\n') puts_(o, "\\n");
            else if (c == '"') puts_(o, "\\\"");
            else put(o, &c, 1);
        }
        putc_(o, '"');
        return;
    }
    putc_(o, '[');
    for (uint32_t i = 0; i < n && !full(o); i++) {
        if (i)
            putc_(o, ',');
        fmt(o, e);
        e = term_end(e);
    }
    if (!full(o) && e[0] != ETF_NIL) {
        putc_(o, '|');
        fmt(o, e);
    }
    putc_(o, ']');
}

static void fmt_bits(struct out *o, const unsigned char *p)
{
    uint32_t n = get_be32(p + 1);
    unsigned bits = p[0] == ETF_BIT_BINARY ? p[5] : 8;
    const unsigned char *s = p + (p[0] == ETF_BIT_BINARY ? 6 : 5);
    puts_(o, "<<");
    int printable = bits == 8 && n > 0;
    for (uint32_t i = 0; i < n && printable; i++)
        printable = s[i] >= 32 && s[i] <= 126;
    if (printable) {
        putc_(o, '"');
        for (uint32_t i = 0; i < n && !full(o); i++) {
            if (s[i] == '"')
                puts_(o, "\\\"");
            else
                put(o, s + i, 1);
        }
        putc_(o, '"');
    } else {
        for (uint32_t i = 0; i < n && !full(o); i++) {
            if (i)
                putc_(o, ',');
            if (i + 1 == n && bits != 8) {
                put_u64(o, (unsigned)s[i] >> (8 - bits));
                putc_(o, ':');
                put_u64(o, bits);
            } else {
                put_u64(o, s[i]);
            }
        }
    }
    puts_(o, ">>");
}

/* The node atom's place: "0" for the local node (nonode@nohost), else "1" (as ~w does here). */
static void node_num(struct out *o, const unsigned char *node)
{
    putc_(o, ms_atom_is(node, "nonode@nohost") ? '0' : '1');
}

static void fmt(struct out *o, const unsigned char *p)
{
    if (full(o))
        return;
    switch (p[0]) {
    case ETF_SMALL_INTEGER: case ETF_INTEGER: case ETF_SMALL_BIG: case ETF_LARGE_BIG:
        fmt_int(o, p);
        return;
    case ETF_NEW_FLOAT:
        fmt_float(o, p);
        return;
    case ETF_SMALL_ATOM_UTF8: case ETF_ATOM_UTF8:
        fmt_atom(o, p);
        return;
    case ETF_NIL:
        puts_(o, "[]");
        return;
    case ETF_STRING: case ETF_LIST:
        fmt_list(o, p);
        return;
    case ETF_BINARY: case ETF_BIT_BINARY:
        fmt_bits(o, p);
        return;
    case ETF_SMALL_TUPLE: case ETF_LARGE_TUPLE: {
        uint32_t n = ms_tuple_arity(p);
        const unsigned char *e = ms_tuple_first(p);
        putc_(o, '{');
        for (uint32_t i = 0; i < n && !full(o); i++) {
            if (i)
                putc_(o, ',');
            fmt(o, e);
            e = term_end(e);
        }
        putc_(o, '}');
        return;
    }
    case ETF_MAP: {
        uint32_t n = get_be32(p + 1);
        const unsigned char *e = p + 5;
        puts_(o, "#{");
        for (uint32_t i = 0; i < n && !full(o); i++) {
            if (i)
                putc_(o, ',');
            fmt(o, e);
            e = term_end(e);
            puts_(o, "=>");
            fmt(o, e);
            e = term_end(e);
        }
        putc_(o, '}');
        return;
    }
    case ETF_NEW_PID: {
        const unsigned char *x = term_end(p + 1);
        putc_(o, '<');
        node_num(o, p + 1);
        putc_(o, '.');
        put_u64(o, get_be32(x));
        putc_(o, '.');
        put_u64(o, get_be32(x + 4));
        putc_(o, '>');
        return;
    }
    case ETF_NEW_PORT: case ETF_V4_PORT: {
        const unsigned char *x = term_end(p + 1);
        puts_(o, "#Port<");
        node_num(o, p + 1);
        putc_(o, '.');
        put_u64(o, p[0] == ETF_V4_PORT ? get_be64(x) : get_be32(x));
        putc_(o, '>');
        return;
    }
    case ETF_NEWER_REFERENCE: {
        size_t n = get_be16(p + 1);
        const unsigned char *x = term_end(p + 3) + 4;
        puts_(o, "#Ref<");
        node_num(o, p + 3);
        for (size_t i = n; i-- > 0;) {
            putc_(o, '.');
            put_u64(o, get_be32(x + 4 * i));
        }
        putc_(o, '>');
        return;
    }
    case ETF_EXPORT: {
        const unsigned char *m = p + 1, *f = term_end(m), *a = term_end(f);
        puts_(o, "fun ");
        fmt(o, m);
        putc_(o, ':');
        fmt(o, f);
        putc_(o, '/');
        fmt(o, a);
        return;
    }
    case ETF_NEW_FUN: {
        puts_(o, "#Fun<");
        fmt(o, p + 30);
        putc_(o, '.');
        const unsigned char *oi = term_end(p + 30);
        fmt(o, oi);
        putc_(o, '.');
        fmt(o, term_end(oi));
        putc_(o, '>');
        return;
    }
    default:
        puts_(o, "<term>");
        return;
    }
}

void ms_fmt_term(struct tbuf *b, const unsigned char *t, size_t max)
{
    struct out o = { b, b->len, max };
    fmt(&o, t);
    if (!b->err && b->len - o.start > max)
        b->len = o.start + max;
}
