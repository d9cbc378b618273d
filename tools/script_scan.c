/*
 * script_scan.c — `shmets script`: reading the input as it arrives (S.1 of script.c), the
 * scanner that finds a call's full stop (S.2), and taking a call apart into module, function
 * and arguments (S.3).
 */
#include "script_common.h"

/* ---- input (S.1) ------------------------------------------------------------------- */


/* A signal arrived, or is pending: ppoll() that finds input ready returns without running
 * the handler of a signal that came meanwhile, so the blocked ones are asked for too. */
static bool signalled(const struct script *s)
{
    sigset_t pend;
    if (!got_signal && sigpending(&pend) == 0)
        for (int sig = 1; sig < NSIG; sig++)
            if (sigismember(&s->handled, sig) == 1 && sigismember(&pend, sig) == 1) {
                got_signal = sig;
                break;
            }
    return got_signal != 0;
}

static int in_fill(struct script *s)
{
    for (;;) {
        if (signalled(s))
            return IN_STOP;
        if (s->eof)
            return IN_EOF;
        if (s->source) {                /* the shell: a line from libedit */
            long n = s->source(s->source_arg, (char *)s->buf, sizeof s->buf, s->first_line != 0);
            if (n < 0)
                return IN_STOP;
            s->pos = 0;
            s->len = (size_t)n;
            s->eof = n == 0;
            return n ? 0 : IN_EOF;
        }
        struct pollfd p = { .fd = s->fd, .events = POLLIN };
        if (ppoll(&p, 1, NULL, &s->waitmask) < 0) {
            if (errno == EINTR)
                continue;
            say(s, 0, "waiting for %s: %s", s->src, strerror(errno));
            return IN_STOP;
        }
        if (signalled(s))
            return IN_STOP;
        ssize_t n = read(s->fd, s->buf, sizeof s->buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0) {
            say(s, 0, "reading %s: %s", s->src, strerror(errno));
            return IN_STOP;
        }
        s->pos = 0;
        s->len = (size_t)n;
        s->eof = n == 0;
        return n ? 0 : IN_EOF;
    }
}

static int in_getc(struct script *s)
{
    if (s->pos == s->len) {
        int rc = in_fill(s);
        if (rc)
            return rc;
    }
    int c = s->buf[s->pos++];
    if (c == '\n')
        s->line++;
    return c;
}

/* Give back the byte in_getc() just returned (it is still in the buffer). */
static void in_ungetc(struct script *s, int c)
{
    if (c < 0)
        return;
    s->pos--;
    if (c == '\n')
        s->line--;
}

static int text_put(struct text *t, const char *p, size_t n)
{
    if (t->n + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->n + n + 1)
            cap *= 2;
        char *q = realloc(t->p, cap);
        if (!q)
            return -SHMETS_ENOMEM;
        t->p = q;
        t->cap = cap;
    }
    memcpy(t->p + t->n, p, n);
    t->n += n;
    t->p[t->n] = 0;
    return 0;
}

/* ---- the scanner (S.2) ------------------------------------------------------------- */

static bool is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* One byte of the call in state *st; moves the state on.  Returns true for a byte that is
 * significant (not white space, not a comment). */
static bool scan_byte(enum scan_state *st, int c)
{
    switch (*st) {
    case SC_CODE:
        if (c == '%') {
            *st = SC_COMMENT;
            return false;
        }
        if (is_blank(c))
            return false;
        if (c == '"')
            *st = SC_STRING;
        else if (c == '\'')
            *st = SC_QATOM;
        else if (c == '$')
            *st = SC_CHAR;
        return true;
    case SC_STRING:
    case SC_QATOM:
        if (c == '\\')
            *st = *st == SC_STRING ? SC_STRING_ESC : SC_QATOM_ESC;
        else if (c == (*st == SC_STRING ? '"' : '\''))
            *st = SC_CODE;
        return true;
    case SC_STRING_ESC:
        *st = SC_STRING;
        return true;
    case SC_QATOM_ESC:
        *st = SC_QATOM;
        return true;
    case SC_CHAR:
        *st = c == '\\' ? SC_CHAR_ESC : SC_CODE;
        return true;
    case SC_CHAR_ESC:
        *st = SC_CODE;
        return true;
    case SC_COMMENT:
        if (c == '\n')
            *st = SC_CODE;
        return false;
    }
    return true;
}

static const char *state_words(enum scan_state st)
{
    switch (st) {
    case SC_STRING: case SC_STRING_ESC: return "inside a string";
    case SC_QATOM: case SC_QATOM_ESC: return "inside a quoted atom";
    case SC_CHAR: case SC_CHAR_ESC: return "after $";
    default: return "before the full stop";
    }
}

/*
 * Read the next call into s->call, up to and without its full stop.  Returns 1 (a call),
 * 0 (the input ended with nothing but white space and comments), or IN_STOP (a signal, a
 * read error, or a call the input ended in the middle of: message given).
 */
int read_call(struct script *s)
{
    enum scan_state st = SC_CODE;
    s->call.n = 0;
    s->call_line = s->line;
    s->first_line = 0;
    for (;;) {
        int c = in_getc(s);
        if (c == IN_STOP)
            return IN_STOP;
        if (c == IN_EOF) {
            if (!s->first_line)
                return 0;
            say(s, s->first_line, "syntax error: the input ends %s of the call that starts here",
                state_words(st));
            return IN_STOP;
        }
        if (st == SC_CODE && c == '.') {
            int next = in_getc(s);
            if (next == IN_STOP)
                return IN_STOP;
            in_ungetc(s, next);
            if (next == IN_EOF || next == '%' || is_blank(next)) {
                if (s->first_line)
                    return 1;
                say(s, s->line, "syntax error: a full stop without a call");
                return IN_STOP;
            }
        }
        char ch = (char)c;
        bool sig = scan_byte(&st, c);
        if (sig) {
            if (!s->first_line)
                s->first_line = s->line;        /* c is not a newline: those are blank */
            s->last_sig = s->call.n;
        }
        if (s->call.n >= CALL_TEXT_MAX) {
            say(s, s->first_line, "the call that starts here is longer than %zu bytes", CALL_TEXT_MAX);
            return IN_STOP;
        }
        if (text_put(&s->call, &ch, 1)) {
            say(s, s->first_line, "out of memory reading the call that starts here");
            return IN_STOP;
        }
    }
}

/* ---- taking a call apart (S.3) ----------------------------------------------------- */

/* Line and column (1-based) of offset `off` of the call's text. */
static void position(const struct script *s, size_t off, int *line, int *col)
{
    *line = s->call_line;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (s->call.p[i] == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

static int syntax_at(struct script *s, size_t off, const char *what)
{
    int line, col;
    position(s, off, &line, &col);
    say(s, line, "syntax error at column %d: %s", col, what);
    return -SHMETS_ESYNTAX;
}

static size_t skip_blank(const struct script *s, size_t i)
{
    const char *p = s->call.p;
    while (i < s->call.n) {
        if (p[i] == '%') {
            while (i < s->call.n && p[i] != '\n')
                i++;
        } else if (is_blank((unsigned char)p[i])) {
            i++;
        } else {
            break;
        }
    }
    return i;
}

/* An atom token at *i (bare or quoted): its text into out (NUL-terminated). */
static int atom_token(struct script *s, size_t *i, char *out, size_t outsz)
{
    const char *p = s->call.p;
    size_t b = *i, e = b;
    if (e < s->call.n && p[e] >= 'a' && p[e] <= 'z') {
        while (e < s->call.n && (p[e] == '_' || p[e] == '@' || (p[e] >= 'a' && p[e] <= 'z') ||
                                 (p[e] >= 'A' && p[e] <= 'Z') || (p[e] >= '0' && p[e] <= '9')))
            e++;
    } else if (e < s->call.n && p[e] == '\'') {
        for (e++; e < s->call.n && p[e] != '\''; e++)
            if (p[e] == '\\')
                e++;
        if (e >= s->call.n)
            return syntax_at(s, b, "unterminated quoted atom");
        e++;
    } else {
        return syntax_at(s, b, "ets:Function(Arg, ...) expected");
    }
    shmets_term t;
    const char *txt;
    size_t len;
    if (p[b] != '\'') {
        /* A bare word is its own text; reserved words too (shmets:receive/1, R.9). */
        if (e - b >= outsz)
            return syntax_at(s, b, "this atom cannot name a module or function");
        memcpy(out, p + b, e - b);
        out[e - b] = 0;
        *i = e;
        return 0;
    }
    if (shmets_term_parse(p + b, e - b, &t) || shmets_term_get_atom(t, &txt, &len)) {
        shmets_term_free(&t);
        return syntax_at(s, b, "an atom expected");
    }
    if (len >= outsz || memchr(txt, 0, len)) {
        shmets_term_free(&t);
        return syntax_at(s, b, "this atom cannot name a module or function");
    }
    memcpy(out, txt, len);
    out[len] = 0;
    shmets_term_free(&t);
    *i = e;
    return 0;
}

static int expect_char(struct script *s, size_t *i, char c, const char *what)
{
    *i = skip_blank(s, *i);
    if (*i >= s->call.n || s->call.p[*i] != c)
        return syntax_at(s, *i < s->call.n ? *i : s->last_sig, what);
    ++*i;
    return 0;
}

/*
 * The parser's detail is "line L, column C: what", relative to the text "{...}" made of the
 * arguments: move it to the input's line and column.  The text's '{' and '}' are ours, in the
 * places of the call's '(' and ')': an error about them (the parser finds "'}' expected" with
 * only our '{' open, as in `ets:f(a b)`) is told in terms of the call's parentheses.
 */
static void args_syntax_error(struct script *s, size_t open, const char *txt, size_t len)
{
    const char *d = shmets_errdetail(), *what;
    int l, c, n = 0, line, col;
    if (sscanf(d, "line %d, column %d: %n", &l, &c, &n) != 2 || n == 0 || l < 1 || c < 1) {
        say(s, s->first_line, "syntax error in the arguments: %s", d);
        return;
    }
    what = d + n;
    /* The offset of (l, c) in txt, and how many brackets are open there. */
    size_t off = 0;
    int depth = 0;
    enum scan_state st = SC_CODE;
    for (int ln = 1, cl = 1; off < len && (ln < l || cl < c); off++) {
        enum scan_state was = st;
        scan_byte(&st, (unsigned char)txt[off]);
        if (was == SC_CODE && (txt[off] == '{' || txt[off] == '['))
            depth++;
        else if (was == SC_CODE && (txt[off] == '}' || txt[off] == ']'))
            depth--;
        if (txt[off] == '\n')
            ln++, cl = 1;
        else
            cl++;
    }
    if (off >= len)
        what = "the arguments end with a '{' or '[' not closed";
    else if (depth == 1 && !strcmp(what, "'}' expected"))
        what = "',' or ')' expected";
    else if (depth == 1 && off == len - 1 && !strncmp(what, "unexpected character '}'", 24))
        what = "an argument expected before ')'";
    position(s, open, &line, &col);
    say(s, line + l - 1, "syntax error at column %d: %s", l == 1 ? col + c - 1 : c, what);
}

/*
 * Take the call apart: module and function into mod / s->fn, the arguments into *args (a
 * tuple, owned).  Returns 0, -SHMETS_ESYNTAX (message given) or another parse error (message
 * given: ETOOBIG, ETOODEEP, ENOMEM).
 */
/* The arguments' text, with each `self()` in code (not in a string, quoted atom or $char)
 * written as this process's pid <0.PID.0> (R.9). */
static int put_args(struct text *a, const char *p, size_t n)
{
    char pid[32];
    int plen = snprintf(pid, sizeof pid, "<0.%d.0>", (int)getpid());
    size_t from = 0;
    for (size_t k = 0; k < n; k++) {
        if (p[k] == '"' || p[k] == '\'') {
            char q = p[k];
            for (k++; k < n && p[k] != q; k++)
                if (p[k] == '\\')
                    k++;
        } else if (p[k] == '$') {
            k += k + 1 < n && p[k + 1] == '\\' ? 2 : 1;
        } else if (n - k >= 6 && !memcmp(p + k, "self()", 6) &&
                   (k == 0 || !(p[k - 1] == '_' || p[k - 1] == '@' || (p[k - 1] >= 'a' && p[k - 1] <= 'z') ||
                                (p[k - 1] >= 'A' && p[k - 1] <= 'Z') || (p[k - 1] >= '0' && p[k - 1] <= '9')))) {
            if (text_put(a, p + from, k - from) || text_put(a, pid, (size_t)plen))
                return -1;
            from = k + 6;
            k += 5;
        }
    }
    return text_put(a, p + from, n - from);
}

int parse_call(struct script *s, char *mod, size_t modsz, shmets_term *args)
{
    size_t i = skip_blank(s, 0);
    int rc;
    if ((rc = atom_token(s, &i, mod, modsz)))
        return rc;
    if (skip_blank(s, i) < s->call.n && s->call.p[skip_blank(s, i)] == '(') {
        /* A bare function: self() (R.9) is erlang:self(). */
        snprintf(s->fn, sizeof s->fn, "%s", mod);
        snprintf(mod, modsz, "erlang");
        i = skip_blank(s, i) + 1;
    } else if ((rc = expect_char(s, &i, ':', "':' expected")) || (i = skip_blank(s, i), 0) ||
               (rc = atom_token(s, &i, s->fn, sizeof s->fn)) || (rc = expect_char(s, &i, '(', "'(' expected"))) {
        return rc;
    }
    size_t open = i - 1;
    if (s->call.p[s->last_sig] != ')' || s->last_sig < i)
        return syntax_at(s, s->last_sig, "a call must end with ')' before its full stop");
    struct text a = { 0 };
    if (text_put(&a, "{", 1) || put_args(&a, s->call.p + i, s->last_sig - i) || text_put(&a, "}", 1)) {
        free(a.p);
        say(s, s->first_line, "out of memory reading the call");
        return -SHMETS_ENOMEM;
    }
    rc = shmets_term_parse(a.p, a.n, args);
    if (rc == -SHMETS_ESYNTAX)
        args_syntax_error(s, open, a.p, a.n);
    free(a.p);
    if (rc == -SHMETS_ESYNTAX)
        return rc;
    if (rc) {
        say_err(s, s->first_line, "the arguments", rc);
        return rc;
    }
    return shmets_term_tuple_arity(*args, &s->arity);
}
