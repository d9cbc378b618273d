/*
 * term_print.c — writing a term as io_lib:format("~w", [T]) does.
 *
 * WHAT ~w WRITES (OTP's io_lib:write/1 and io_lib_format; checked against OTP 25 by
 * tests/test_term_erlang.c):
 *   P.1 integers in decimal; bignums through GMP.
 *   P.2 floats as float_to_list(F, [short]): the shortest digit string that reads back to the
 *       same double, written in plain notation (123.0, 0.001) unless scientific notation
 *       (1.0e20, 1.0e-5) is shorter, and always scientifically at or above 2^53, where plain
 *       notation would show digits the double does not have.
 *   P.3 atoms bare when they start with a lowercase letter (a-z or Latin-1 ß-ÿ but ÷), go on
 *       with letters, digits, _ and @, and are not reserved words; otherwise quoted, with
 *       \n \r \t \v \b \f \e \d \' \\ escapes, other controls (and 128..159) in octal, Latin-1
 *       printable characters as they are, and anything above 255 as \x{HEX}.
 *   P.4 lists as integers ([104,105], never "hi"), binaries as bytes (<<104,105>>), a partial
 *       last byte as Value:Bits (<<1,2:3>>), maps as #{K => V,...} in key order, pids as
 *       <0.N.S>, ports as #Port<0.N>, references as #Ref<0.W3.W2.W1>, funs as
 *       #Fun<Module.Index.Uniq> and exports as fun M:F/A.
 * Pids, ports and references of other nodes have no ~w form that says which node; like Erlang
 * we print a node number, 1, that reads back as nothing useful.
 *
 * The printer recurses on containers (bounded by SHMETS_TERM_MAX_DEPTH, which canonical terms
 * respect) and loops along lists.  Output is UTF-8.
 */
#include "term/term.h"
#include "base/util.h"

#include <gmp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void puts_(struct tbuf *o, const char *s) { tbuf_put(o, s, strlen(s)); }

void term_print_u64(struct tbuf *o, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    puts_(o, buf);
}

void term_print_int(struct tbuf *o, const unsigned char *p)
{
    struct term_int x;
    term_get_int(p, &x);
    if (!x.n) {
        char buf[24];
        snprintf(buf, sizeof buf, "%lld", (long long)x.small);
        puts_(o, buf);
        return;
    }
    mpz_t z;
    mpz_init(z);
    mpz_import(z, x.n, -1, 1, 0, 0, x.mag);
    if (x.negative)
        mpz_neg(z, z);
    size_t n = mpz_sizeinbase(z, 10) + 2;
    unsigned char *q = tbuf_room(o, n);
    if (q) {
        mpz_get_str((char *)q, 10, z);
        o->len += strlen((char *)q);
    }
    mpz_clear(z);
}

/* Does the decimal [-]D.DDDe<exp10> (n digits) read back as d? */
static int reads_back(int neg, const char *digits, int n, int exp10, double d)
{
    char t[48];
    snprintf(t, sizeof t, "%s%c.%.*se%d", neg ? "-" : "", digits[0], n - 1, digits + 1, exp10);
    return strtod(t, NULL) == d;
}

/* Add delta (+1 or -1) to the last of n digits; 0 if the result leaves n digits. */
static int step_digits(char *digits, int n, int *exp10, int delta)
{
    int i = n - 1;
    if (delta > 0) {
        while (i >= 0 && digits[i] == '9')
            digits[i--] = '0';
        if (i < 0) {                        /* 99..9 + 1 = 100..0: one more power of ten */
            digits[0] = '1';
            ++*exp10;
            return 1;
        }
        digits[i]++;
    } else {
        while (i >= 0 && digits[i] == '0')
            digits[i--] = '9';
        if (i < 0 || (i == 0 && digits[0] == '1'))
            return 0;                       /* would lose its leading digit */
        digits[i]--;
    }
    return 1;
}

/* P.2: the shortest digit string in d's rounding interval (what Ryu and OTP's
 * float_to_list(F, [short]) find): for each length, the correctly rounded string, and failing
 * that its neighbours one unit in the last place away, which can lie inside an interval that
 * the correctly rounded one misses (at powers of two the interval is lopsided). */
static void format_float_c(double d, char out[40]);

/* snprintf("%e") and strtod() follow the thread's LC_NUMERIC: run under the C locale. */
void term_format_float(double d, char out[40])
{
    locale_t cl = term_c_locale();
    locale_t old = cl ? uselocale(cl) : (locale_t)0;
    format_float_c(d, out);
    if (cl)
        uselocale(old);
}

static void format_float_c(double d, char out[40])
{
    if (d == 0) {
        strcpy(out, signbit(d) ? "-0.0" : "0.0");
        return;
    }
    char e[40];
    int prec, neg = d < 0, found = 0;
    char digits[24];
    int n = 0, exp10 = 0;
    for (prec = 1; prec <= 17 && !found; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, d);
        n = 0;
        const char *s = e + neg;
        for (; *s && *s != 'e'; s++)
            if (*s != '.')
                digits[n++] = *s;
        digits[n] = '\0';
        exp10 = atoi(s + 1);
        if (reads_back(neg, digits, n, exp10, d)) {
            found = 1;
            break;
        }
        /* Neighbours; if both read back, the one nearer d (Ryu's choice). */
        char best[24];
        int best_exp = 0;
        long double best_dist = 0;
        for (int delta = -1; delta <= 1; delta += 2) {
            char cand[24], t[48];
            int cexp = exp10;
            memcpy(cand, digits, (size_t)n + 1);
            if (!step_digits(cand, n, &cexp, delta) || !reads_back(neg, cand, n, cexp, d))
                continue;
            snprintf(t, sizeof t, "%s%c.%.*se%d", neg ? "-" : "", cand[0], n - 1, cand + 1, cexp);
            long double dist = fabsl(strtold(t, NULL) - (long double)d);
            if (!found || dist < best_dist) {
                memcpy(best, cand, (size_t)n + 1);
                best_exp = cexp;
                best_dist = dist;
                found = 1;
            }
        }
        if (found) {
            memcpy(digits, best, (size_t)n + 1);
            exp10 = best_exp;
        }
    }
    while (n > 1 && digits[n - 1] == '0')   /* a carry can leave trailing zeros */
        digits[--n] = '\0';
    char sci[40], fix[400];
    snprintf(sci, sizeof sci, "%s%c.%se%d", neg ? "-" : "", digits[0], n > 1 ? digits + 1 : "0", exp10);
    size_t k = 0;
    if (neg)
        fix[k++] = '-';
    if (exp10 >= 0) {
        for (int i = 0; i <= exp10; i++)
            fix[k++] = i < n ? digits[i] : '0';
        fix[k++] = '.';
        if (n > exp10 + 1)
            for (int i = exp10 + 1; i < n; i++)
                fix[k++] = digits[i];
        else
            fix[k++] = '0';
    } else {
        fix[k++] = '0';
        fix[k++] = '.';
        for (int i = 0; i < -exp10 - 1; i++)
            fix[k++] = '0';
        for (int i = 0; i < n; i++)
            fix[k++] = digits[i];
    }
    fix[k] = '\0';
    if (fabs(d) < 9007199254740992.0 && k <= strlen(sci))
        strcpy(out, fix);
    else
        strcpy(out, sci);
}

static int is_latin1_letter(uint32_t c) { return c >= 0xC0 && c <= 0xFF && c != 0xD7 && c != 0xF7; }

static int is_reserved(const char *s, size_t n)
{
    static const char *const words[] = {
        "after", "and", "andalso", "band", "begin", "bnot", "bor", "bsl", "bsr", "bxor", "case",
        "catch", "cond", "div", "end", "fun", "if", "let", "not", "of", "or", "orelse", "receive",
        "rem", "try", "when", "xor",
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strlen(words[i]) == n && memcmp(words[i], s, n) == 0)
            return 1;
    return 0;
}

int term_atom_needs_quotes(const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text, *end = s + n;
    if (n == 0)
        return 1;
    uint32_t c = utf8_next(&s);
    if (!((c >= 'a' && c <= 'z') || (c >= 0xDF && c <= 0xFF && c != 0xF7)))
        return 1;
    while (s < end) {
        c = utf8_next(&s);
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '@' || is_latin1_letter(c)))
            return 1;
    }
    return is_reserved(text, n);
}

/* P.3 */
static void print_atom_text(struct tbuf *o, const char *text, size_t n)
{
    if (!term_atom_needs_quotes(text, n)) {
        tbuf_put(o, text, n);
        return;
    }
    tbuf_byte(o, '\'');
    const unsigned char *s = (const unsigned char *)text, *end = s + n;
    while (s < end) {
        uint32_t c = utf8_next(&s);
        char buf[16];
        switch (c) {
        case '\'': puts_(o, "\\'"); continue;
        case '\\': puts_(o, "\\\\"); continue;
        case '\n': puts_(o, "\\n"); continue;
        case '\r': puts_(o, "\\r"); continue;
        case '\t': puts_(o, "\\t"); continue;
        case '\v': puts_(o, "\\v"); continue;
        case '\b': puts_(o, "\\b"); continue;
        case '\f': puts_(o, "\\f"); continue;
        case 27: puts_(o, "\\e"); continue;
        case 127: puts_(o, "\\d"); continue;
        default: break;
        }
        if (c < 32 || (c >= 128 && c < 160)) {
            snprintf(buf, sizeof buf, "\\%03o", (unsigned)c);
            puts_(o, buf);
        } else if (c > 255) {
            snprintf(buf, sizeof buf, "\\x{%X}", (unsigned)c);
            puts_(o, buf);
        } else {
            unsigned char u[4];
            tbuf_put(o, u, (size_t)utf8_put(c, u));
        }
    }
    tbuf_byte(o, '\'');
}

static void print_atom(struct tbuf *o, const unsigned char *p)
{
    size_t n;
    const char *t = term_atom_text(p, &n);
    print_atom_text(o, t, n);
}

static int node_is_local(const unsigned char *node)
{
    size_t n;
    const char *t = term_atom_text(node, &n);
    return n == 13 && memcmp(t, "nonode@nohost", 13) == 0;
}

static void print_term(struct tbuf *o, const unsigned char *p);

static void print_seq(struct tbuf *o, const unsigned char *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            tbuf_byte(o, ',');
        print_term(o, p);
        p = term_end(p);
    }
}

static void print_term(struct tbuf *o, const unsigned char *p)
{
    char buf[64];
    if (o->err)
        return;
    switch (p[0]) {
    case ETF_SMALL_INTEGER: case ETF_INTEGER: case ETF_SMALL_BIG: case ETF_LARGE_BIG:
        term_print_int(o, p);
        return;
    case ETF_NEW_FLOAT: {
        uint64_t bits = get_be64(p + 1);
        double d;
        memcpy(&d, &bits, 8);
        term_format_float(d, buf);
        puts_(o, buf);
        return;
    }
    case ETF_SMALL_ATOM_UTF8: case ETF_ATOM_UTF8:
        print_atom(o, p);
        return;
    case ETF_SMALL_TUPLE: case ETF_LARGE_TUPLE: {
        uint32_t n = p[0] == ETF_SMALL_TUPLE ? p[1] : get_be32(p + 1);
        tbuf_byte(o, '{');
        print_seq(o, p + (p[0] == ETF_SMALL_TUPLE ? 2 : 5), n);
        tbuf_byte(o, '}');
        return;
    }
    case ETF_NIL:
        puts_(o, "[]");
        return;
    case ETF_STRING: {
        uint16_t n = get_be16(p + 1);
        tbuf_byte(o, '[');
        for (uint16_t i = 0; i < n; i++) {
            snprintf(buf, sizeof buf, i ? ",%u" : "%u", p[3 + i]);
            puts_(o, buf);
        }
        tbuf_byte(o, ']');
        return;
    }
    case ETF_LIST: {
        uint32_t n = get_be32(p + 1);
        const unsigned char *e = p + 5;
        tbuf_byte(o, '[');
        for (uint32_t i = 0; i < n; i++) {
            if (i)
                tbuf_byte(o, ',');
            print_term(o, e);
            e = term_end(e);
        }
        if (e[0] != ETF_NIL) {
            tbuf_byte(o, '|');
            print_term(o, e);
        }
        tbuf_byte(o, ']');
        return;
    }
    case ETF_BINARY: case ETF_BIT_BINARY: {
        uint32_t n = get_be32(p + 1);
        unsigned bits = p[0] == ETF_BINARY ? 8 : p[5];
        const unsigned char *s = p + (p[0] == ETF_BINARY ? 5 : 6);
        puts_(o, "<<");
        for (uint32_t i = 0; i < n; i++) {
            const char *sep = i ? "," : "";
            if (i + 1 == n && bits != 8)
                snprintf(buf, sizeof buf, "%s%u:%u", sep, (unsigned)s[i] >> (8 - bits), bits);
            else
                snprintf(buf, sizeof buf, "%s%u", sep, s[i]);
            puts_(o, buf);
        }
        puts_(o, ">>");
        return;
    }
    case ETF_MAP: {
        uint32_t n = get_be32(p + 1);
        const unsigned char *e = p + 5;
        puts_(o, "#{");
        for (uint32_t i = 0; i < n; i++) {
            if (i)
                tbuf_byte(o, ',');
            print_term(o, e);
            e = term_end(e);
            puts_(o, " => ");
            print_term(o, e);
            e = term_end(e);
        }
        tbuf_byte(o, '}');
        return;
    }
    case ETF_NEW_PID: {
        const unsigned char *f = term_end(p + 1);
        snprintf(buf, sizeof buf, "<%d.%u.%u>", node_is_local(p + 1) ? 0 : 1,
                 get_be32(f), get_be32(f + 4));
        puts_(o, buf);
        return;
    }
    case ETF_NEW_PORT: case ETF_V4_PORT: {
        const unsigned char *f = term_end(p + 1);
        snprintf(buf, sizeof buf, "#Port<%d.", node_is_local(p + 1) ? 0 : 1);
        puts_(o, buf);
        term_print_u64(o, p[0] == ETF_V4_PORT ? get_be64(f) : get_be32(f));
        tbuf_byte(o, '>');
        return;
    }
    case ETF_NEWER_REFERENCE: {
        size_t n = get_be16(p + 1);
        const unsigned char *f = term_end(p + 3) + 4;
        snprintf(buf, sizeof buf, "#Ref<%d", node_is_local(p + 3) ? 0 : 1);
        puts_(o, buf);
        for (size_t i = n; i-- > 0;) {
            snprintf(buf, sizeof buf, ".%u", get_be32(f + 4 * i));
            puts_(o, buf);
        }
        tbuf_byte(o, '>');
        return;
    }
    case ETF_NEW_FUN: {
        const unsigned char *m = p + 30, *idx = term_end(m), *uniq = term_end(idx);
        puts_(o, "#Fun<");
        print_atom(o, m);
        tbuf_byte(o, '.');
        term_print_int(o, idx);
        tbuf_byte(o, '.');
        term_print_int(o, uniq);
        tbuf_byte(o, '>');
        return;
    }
    case ETF_EXPORT: {
        const unsigned char *m = p + 1, *f = term_end(m), *a = term_end(f);
        puts_(o, "fun ");
        print_atom(o, m);
        tbuf_byte(o, ':');
        print_atom(o, f);
        snprintf(buf, sizeof buf, "/%u", a[1]);
        puts_(o, buf);
        return;
    }
    default:
        die(__FILE__, __LINE__, "print_term: not a canonical term");
    }
}

int shmets_term_format(shmets_term t, char **text, size_t *len)
{
    if (!t.ptr || !t.len || !text)
        return err_set(SHMETS_EINVAL, "NULL argument or empty term");
    if (!term_span(t.ptr, t.len))       /* bytes from a damaged table, say: never a wild read */
        return err_set(SHMETS_EINVAL, "not a term: its bytes do not have a term's shape");
    struct tbuf o;
    tbuf_init(&o, SIZE_MAX / 2);
    print_term(&o, t.ptr);
    tbuf_byte(&o, '\0');
    if (o.err) {
        tbuf_free(&o);
        return o.err;
    }
    size_t n;
    *text = (char *)tbuf_take(&o, &n);
    if (len)
        *len = n - 1;
    return 0;
}
