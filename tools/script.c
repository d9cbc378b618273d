/*
 * script.c — `shmets script [--instance NAME] [FILE]`: run ets:Function(Arg, ...) calls
 * written in Erlang syntax against an instance, one result line per call.
 *
 * WHAT IT IS FOR
 * --------------
 * A way to drive shmets tables without writing C: a test can pipe the same calls into
 * `shmets script` and into erl and compare the lines; a person can try ETS semantics at a
 * shell.  Each call prints exactly one line, its result as io_lib:format("~w", [Result])
 * writes it, or `error:badarg` where ETS raises badarg, or `error:undef` for a function ETS
 * does not have (any module but ets, any function or arity not listed in `calls[]` below).
 *
 * INPUT
 * -----
 * A sequence of calls `ets:F(A1, ..., An).`, each ended by a full stop: a `.` followed by
 * white space, a `%` or the end of the input (Erlang's own rule; `1.5` has no full stop).
 * `%` starts a comment to the end of the line.  Arguments are literal terms, read by
 * shmets_term_parse(): no variables, no expressions.  Tables are named by atoms (named
 * tables) or by the reference new/2 printed for them (shmets_id_term).
 *
 * HOW A CALL IS READ (the scanner)
 * --------------------------------
 * S.1  The input is read as it arrives (read(2) of what the pipe holds, never "all of
 *      stdin first"), and a call runs as soon as its full stop has been seen, so a program
 *      can write one call, read its line, and decide on the next.  To know that a `.` is a
 *      full stop the scanner needs the one character after it, and no more.
 * S.2  The scanner is a small state machine over bytes: code, "string", 'quoted atom', the
 *      character after `$` (so `$.`, `$%`, `$"` and `$'` are characters, and `$\` takes one
 *      more), backslash escapes inside strings and quoted atoms, and `%` comments.  Only a
 *      `.` met in code can end a call.  It remembers the last significant character before
 *      the full stop (outside comments and white space), which must be the call's `)`.
 * S.3  The call's text is then taken apart by hand: module atom, `:`, function atom, `(`,
 *      bare or quoted atoms with white space and comments between.  The text between `(`
 *      and the final `)` is handed to shmets_term_parse() wrapped as `{...}`: a tuple rather
 *      than a list, so that `ets:f(a | b)` is refused and the arguments are views into one
 *      term, valid for the whole call.  A syntax error reported by the parser (line and
 *      column in its detail) is moved by the position of the `(` to the line and column of
 *      the input.
 * S.4  A syntax error stops the script: the rest of the input cannot be trusted to split
 *      into the calls its author meant.  The message names the input's line on standard
 *      error and the exit status is 1.
 *
 * HOW A CALL RUNS
 * ---------------
 * R.1  `calls[]` maps name and arity to a handler; each handler checks its arguments as
 *      ETS does (an argument ETS refuses is badarg before any table is touched), resolves
 *      the table, calls the library and fills a `struct result`.  Handlers follow the
 *      library's convention: 0 or a negative SHMETS_E... code.
 * R.2  Error translation is in one place, report_error(): the codes with which the library
 *      answers where ETS raises badarg (SHMETS_EINVAL, ETYPE, ERANGE, EBADPOS, ENOKEY,
 *      EEXIST, ENOENT, EOWNER, EACCES) print `error:badarg`.  Every other code (ENOMEM,
 *      EBADSEG, ESYS, EAGAIN, ETOOBIG, EVERSION, ...) is not something ETS would say: its
 *      words and detail go to standard error with the line of the call, and the script
 *      stops with status 1 — it does not print a line ETS would not print.  A handler whose
 *      library call cannot fail for a bad argument (new/2 after the options were checked:
 *      EINVAL then means "this version cannot", such as an ordered_set the library does
 *      not offer yet) marks its error fatal, so that it is not passed off as badarg.
 * R.3  Table handles: one shmets_tab per table id, kept in a small array (`struct cache`),
 *      attached on first use and detached when the table is deleted.  An atom is resolved
 *      with shmets_whereis() (a catalog lookup, so a name that another process moved to a
 *      new table finds the new one); a reference by comparing its bytes with the
 *      references of the cached tables, else by shmets_attach_term().  A call that finds its
 *      table gone (SHMETS_ENOENT: deleted by another process of a shared instance) drops the
 *      handle.
 * R.4  The instance: with --instance NAME, that instance (created if it does not exist),
 *      left as it is at exit.  Without it a fresh private one, `script.<pid>.<random>`,
 *      made for this run and removed with every table in it at exit: on end of input, on a
 *      syntax or fatal error, and on SIGINT, SIGTERM and SIGHUP (see R.5).  Tables made by
 *      the script are owned by this process, as ETS tables are owned by the shell.
 * R.5  Signals.  SIGINT, SIGTERM and SIGHUP are blocked while a call runs and let through
 *      only while the script waits — for input (ppoll() with the wait mask, which unblocks
 *      atomically, so a signal that arrives just before the wait is not lost; one that
 *      comes with the input is found pending by sigpending()) and while output is flushed.  The handler only records the signal; the main loop then closes
 *      the instance, removes the temporary one, and dies of the same signal.  A call is never
 *      cut in the middle, and removal runs with ordinary (non-async-signal-safe) code.
 *      SIGPIPE is ignored: a reader that went away makes the flush fail, which stops the
 *      script through the same cleanup.  A signal ignored by the parent stays ignored.
 * R.6  script_run_buffer() runs the calls of a buffer, as from a file, against a fresh
 *      instance of a given name that it removes at the end with every table in it, whatever
 *      the calls did.  It leaves signal handling alone (the caller's stays, and a signal does
 *      not stop the calls), and it drops the etsmgr connection (R.9) at the end; whether a
 *      daemon may be started is the caller's (SHMETS_NO_AUTOSTART).  It is for programs that
 *      run many scripts in one process: the fuzz target tests/fuzz/script.c.
 *
 * The select family (select/2, select_reverse/2, select_count/2, select_delete/2,
 * select_replace/2, match/2, match_object/2, match_delete/2), match_spec_compile/1 (whose
 * result is a binary holding the program, where ETS gives an opaque reference),
 * match_spec_run/2, is_compiled_ms/1 and test_ms/2 are offered, and the /3 forms with a
 * limit (select, select_reverse, match, match_object) whose continuations, printed as terms,
 * the /1 forms take back.  R.8: the atom `last_cont` as the only argument of a /1 form
 * stands for the continuation the last /3 or /1 form gave (its '$end_of_table' included; an
 * error forgets it), so that a script can follow chunks without quoting a continuation —
 * the differential harness writes it on both sides (tests/diff/ets_script.hrl).
 * Not offered: foldl/foldr — functions cannot be written as literal terms; they are
 * error:undef like any unknown function.  setopts/2 takes {heir, Pid, Data} and
 * {heir, none} only; a well-formed {protection, P} is reported as not supported (fatal).
 * info/1,2 and all/0 see a private table of another process only as far as the library lets
 * a process attach it: info on it is badarg where ETS would answer, all/0 lists it by its
 * reference even if it is named.  {write_concurrency, auto} is taken as true (the library's
 * option is a boolean), so info(T, write_concurrency) then says true where ETS says auto.
 */
#include "shmets.h"
#include "etsmgr.h"
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* The longest call text accepted: a term's largest encoding, written out as text. */
#define CALL_TEXT_MAX ((size_t)SHMETS_TERM_MAX_SIZE * 4 + (64u << 10))
#define ATOM_BUF (SHMETS_ATOM_MAX_CHARS * 4 + 1)        /* UTF-8 text of an atom, NUL */

/* ---- process state ----------------------------------------------------------------- */

struct tabent {
    uint64_t id;
    shmets_tab *t;
    shmets_term ref;            /* its reference (ref_of_id), owned */
};

struct cache {
    struct tabent *v;
    size_t n, cap;
};

struct text {
    char *p;
    size_t n, cap;
};

enum scan_state { SC_CODE, SC_STRING, SC_QATOM, SC_STRING_ESC, SC_QATOM_ESC, SC_CHAR, SC_CHAR_ESC,
                  SC_COMMENT };

struct script {
    /* input */
    int fd;
    const char *src;            /* "standard input" or the file's name, for messages */
    unsigned char buf[1 << 16];
    size_t pos, len;
    bool eof;                   /* read(2) said so: never ask again (a terminal would wait) */
    int line;                   /* line of the next byte to read */
    /* the call being read */
    struct text call;
    int call_line;              /* line of the first byte of `call` */
    int first_line;             /* line of its first significant character (0: none yet) */
    size_t last_sig;            /* offset of its last significant character */
    /* the call being run */
    char fn[ATOM_BUF];
    size_t arity;
    bool fatal;                 /* the handler's error is not a badarg (R.2) */
    char msg[256];              /* the handler's own words for a fatal error, "" if none */
    struct tabent *cur;         /* the table the call resolved, if any */
    /* instance */
    shmets *db;
    char inst[80];
    bool temporary;
    struct cache tabs;
    /* `last_cont` (R.8): the continuation of the last /3 or /1 select-family call */
    enum { CONT_NONE, CONT_EOT, CONT_TERM } cont_state;
    shmets_term last_cont;      /* owned, for CONT_TERM */
    sigset_t waitmask;          /* the mask while waiting: INT, TERM, HUP let through */
    sigset_t handled;           /* those of INT, TERM, HUP that we catch */
    int status;                 /* exit status so far */
    /* the shell's line source (script_run_source, tools/shell.c), instead of fd */
    long (*source)(void *arg, char *buf, size_t cap, bool continuing);
    void *source_arg;
};

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

/* ---- messages ---------------------------------------------------------------------- */

static void say(struct script *s, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A message on standard error, naming the input and line (0: none); sets status 1. */
static void say(struct script *s, int line, const char *fmt, ...)
{
    va_list ap;
    fputs("shmets script: ", stderr);
    if (line > 0)
        fprintf(stderr, "%s, line %d: ", s->src, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    s->status = 1;
}

/* The words of a library error and its detail. */
static void say_err(struct script *s, int line, const char *what, int rc)
{
    const char *d = shmets_errdetail();
    say(s, line, "%s: %s%s%s", what, shmets_strerror(rc), *d ? ": " : "", d);
}

/* ---- input (S.1) ------------------------------------------------------------------- */

#define IN_EOF  (-1)
#define IN_STOP (-2)            /* a signal or a read error: stop */

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
static int read_call(struct script *s)
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

static int parse_call(struct script *s, char *mod, size_t modsz, shmets_term *args)
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

/* ---- the table cache (R.3) --------------------------------------------------------- */

/* The reference of table `id` (named tables have one too: whereis/1 gives it). */
static int ref_of_id(uint64_t id, shmets_term *out)
{
    return shmets_id_term(id, out);
}

static struct tabent *cache_find(struct cache *c, uint64_t id)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].id == id)
            return &c->v[i];
    return NULL;
}

/* Take handle t into the cache (or, if its id is there already, keep the cached one and
 * detach t).  Returns 0 with *out set, or -SHMETS_ENOMEM (t detached). */
static int cache_add(struct cache *c, shmets_tab *t, struct tabent **out)
{
    uint64_t id = shmets_id(t);
    struct tabent *e = cache_find(c, id);
    if (e) {
        if (e->t != t)
            shmets_detach(t);
        *out = e;
        return 0;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct tabent *v = realloc(c->v, cap * sizeof *v);
        if (!v) {
            shmets_detach(t);
            return -SHMETS_ENOMEM;
        }
        c->v = v;
        c->cap = cap;
    }
    e = &c->v[c->n];
    int rc = ref_of_id(id, &e->ref);
    if (rc) {
        shmets_detach(t);
        return rc;
    }
    e->id = id;
    e->t = t;
    c->n++;
    *out = e;
    return 0;
}

/* Forget an entry; detach its handle unless the library released it already (delete/1). */
static void cache_drop(struct cache *c, struct tabent *e, bool detach)
{
    if (detach)
        shmets_detach(e->t);
    shmets_term_free(&e->ref);
    *e = c->v[--c->n];
}

static void cache_free(struct cache *c)
{
    while (c->n)
        cache_drop(c, &c->v[c->n - 1], true);
    free(c->v);
    c->v = NULL;
    c->cap = 0;
}

/* The cached entry of table `id`, attaching it first if need be. */
static int tab_by_id(struct script *s, uint64_t id, struct tabent **e)
{
    if ((*e = cache_find(&s->tabs, id)))
        return 0;
    shmets_tab *t;
    int rc = shmets_attach(s->db, id, &t);
    return rc ? rc : cache_add(&s->tabs, t, e);
}

/* Copy an atom's text, NUL-terminated, into out[ATOM_BUF]: -SHMETS_ETYPE if not an atom.
 * An atom with a NUL character cannot be a C string: -SHMETS_EINVAL, marked fatal. */
static int atom_arg(struct script *s, shmets_term t, char *out)
{
    const char *txt;
    size_t len;
    int rc = shmets_term_get_atom(t, &txt, &len);
    if (rc)
        return rc;
    if (len >= ATOM_BUF || memchr(txt, 0, len)) {
        s->fatal = true;
        snprintf(s->msg, sizeof s->msg, "an atom with a NUL character cannot name a table in shmets");
        return -SHMETS_EINVAL;
    }
    memcpy(out, txt, len);
    out[len] = 0;
    return 0;
}

/*
 * The table an argument names (an atom of a named table, or a reference): *e, which also
 * becomes s->cur.  Returns 0, -SHMETS_ENOENT (no such table), -SHMETS_ETYPE (neither an atom
 * nor a reference), or an attach error.
 */
static int tab_arg(struct script *s, shmets_term name, struct tabent **e)
{
    int rc;
    enum shmets_type ty = shmets_term_type(name);
    if (ty == SHMETS_T_ATOM) {
        char txt[ATOM_BUF];
        uint64_t id;
        if ((rc = atom_arg(s, name, txt)) || (rc = shmets_whereis(s->db, txt, &id)) ||
            (rc = tab_by_id(s, id, e)))
            return rc;
    } else if (ty == SHMETS_T_REF) {
        *e = NULL;
        for (size_t i = 0; i < s->tabs.n && !*e; i++)
            if (shmets_term_exact_equal(s->tabs.v[i].ref, name))
                *e = &s->tabs.v[i];
        if (!*e) {
            shmets_tab *t;
            if ((rc = shmets_attach_term(s->db, name, &t)) || (rc = cache_add(&s->tabs, t, e)))
                return rc;
        }
    } else {
        return -SHMETS_ETYPE;
    }
    s->cur = *e;
    return 0;
}

/* ---- results ----------------------------------------------------------------------- */

struct result {
    const char *text;           /* a constant line, or NULL: */
    shmets_term term;           /* a term the result owns */
};

static int res_bool(struct result *r, bool b)
{
    r->text = b ? "true" : "false";
    return 0;
}

/* A key or '$end_of_table' ({NULL, 0}); the result takes the term. */
static int res_key(struct result *r, shmets_term key)
{
    if (!key.ptr)
        r->text = "'$end_of_table'";
    else
        r->term = key;
    return 0;
}

/* ---- argument checks --------------------------------------------------------------- */

static bool atom_is(shmets_term t, const char *want)
{
    const char *txt;
    size_t len;
    return shmets_term_get_atom(t, &txt, &len) == 0 && len == strlen(want) && !memcmp(txt, want, len);
}

static int bool_arg(shmets_term t, bool *b)
{
    if (atom_is(t, "true"))
        *b = true;
    else if (atom_is(t, "false"))
        *b = false;
    else
        return -SHMETS_ETYPE;
    return 0;
}

/* {heir, Pid, Data} or {heir, none}: *pid 0 for none; *data a view (or {NULL, 0}). */
static int heir_arg(shmets_term opt, uint32_t *pid, shmets_term *data)
{
    size_t n;
    shmets_term tag, p;
    if (shmets_term_tuple_arity(opt, &n) || (n != 2 && n != 3) ||
        shmets_term_tuple_element(opt, 1, &tag) || !atom_is(tag, "heir") ||
        shmets_term_tuple_element(opt, 2, &p))
        return -SHMETS_ETYPE;
    data->ptr = NULL;
    data->len = 0;
    if (n == 2) {
        *pid = 0;
        return atom_is(p, "none") ? 0 : -SHMETS_ETYPE;
    }
    uint32_t serial;
    shmets_term node;
    if (shmets_term_get_pid(p, pid, &serial, &node) || *pid == 0)
        return -SHMETS_ETYPE;
    return shmets_term_tuple_element(opt, 3, data);
}

/* ---- the calls (R.1) --------------------------------------------------------------- */

typedef int (*call_fn)(struct script *s, const shmets_term *a, struct result *r);

/* ets:new/2 */
static int op_new(struct script *s, const shmets_term *a, struct result *r)
{
    char name[ATOM_BUF];
    shmets_opts o;
    int rc;
    if ((rc = atom_arg(s, a[0], name)) || (rc = shmets_opts_from_term(a[1], &o)))
        return rc;
    shmets_tab *t;
    struct tabent *e;
    rc = shmets_new(s->db, name, &o, &t);
    if (rc == -SHMETS_EINVAL)
        s->fatal = true;        /* the options were checked: this version cannot (R.2) */
    if (rc || (rc = cache_add(&s->tabs, t, &e)))
        return rc;
    if (o.named)
        return shmets_term_dup(a[0], &r->term);
    return shmets_tab_term(e->t, &r->term);
}

/* ets:delete/1: the library releases the handle. */
static int op_delete(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    int rc = tab_arg(s, a[0], &e);
    if (rc || (rc = shmets_delete(e->t)))
        return rc;
    cache_drop(&s->tabs, e, false);
    s->cur = NULL;
    return res_bool(r, true);
}

/* Calls of the form f(Tab, Term) -> true. */
static int op_tab_term(struct script *s, const shmets_term *a, struct result *r,
                       int (*fn)(shmets_tab *, shmets_term))
{
    struct tabent *e;
    int rc = tab_arg(s, a[0], &e);
    return rc ? rc : (rc = fn(e->t, a[1])) ? rc : res_bool(r, true);
}

static int op_delete_key(struct script *s, const shmets_term *a, struct result *r)
{
    return op_tab_term(s, a, r, shmets_delete_key);
}

static int op_insert(struct script *s, const shmets_term *a, struct result *r)
{
    return op_tab_term(s, a, r, shmets_insert);
}

static int op_delete_object(struct script *s, const shmets_term *a, struct result *r)
{
    return op_tab_term(s, a, r, shmets_delete_object);
}

static int op_delete_all_objects(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    int rc = tab_arg(s, a[0], &e);
    return rc ? rc : (rc = shmets_delete_all_objects(e->t)) ? rc : res_bool(r, true);
}

static int op_insert_new(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    int inserted, rc = tab_arg(s, a[0], &e);
    return rc ? rc : (rc = shmets_insert_new(e->t, a[1], &inserted)) ? rc : res_bool(r, inserted);
}

static int op_member(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    int found, rc = tab_arg(s, a[0], &e);
    return rc ? rc : (rc = shmets_member(e->t, a[1], &found)) ? rc : res_bool(r, found);
}

/* Calls of the form f(Tab, Key) -> Term. */
static int op_key_term(struct script *s, const shmets_term *a, struct result *r,
                       int (*fn)(shmets_tab *, shmets_term, shmets_term *))
{
    struct tabent *e;
    int rc = tab_arg(s, a[0], &e);
    return rc ? rc : fn(e->t, a[1], &r->term);
}

static int op_lookup(struct script *s, const shmets_term *a, struct result *r)
{
    return op_key_term(s, a, r, shmets_lookup);
}

static int op_take(struct script *s, const shmets_term *a, struct result *r)
{
    return op_key_term(s, a, r, shmets_take);
}

/* ets:next/2 and prev/2: a key or '$end_of_table'. */
static int op_step(struct script *s, const shmets_term *a, struct result *r,
                   int (*fn)(shmets_tab *, shmets_term, shmets_term *))
{
    struct tabent *e;
    shmets_term k;
    int rc = tab_arg(s, a[0], &e);
    return rc ? rc : (rc = fn(e->t, a[1], &k)) ? rc : res_key(r, k);
}

static int op_next(struct script *s, const shmets_term *a, struct result *r)
{
    return op_step(s, a, r, shmets_next);
}

static int op_prev(struct script *s, const shmets_term *a, struct result *r)
{
    return op_step(s, a, r, shmets_prev);
}

/* ets:first/1 and last/1. */
static int op_end(struct script *s, const shmets_term *a, struct result *r,
                  int (*fn)(shmets_tab *, shmets_term *))
{
    struct tabent *e;
    shmets_term k;
    int rc = tab_arg(s, a[0], &e);
    return rc ? rc : (rc = fn(e->t, &k)) ? rc : res_key(r, k);
}

static int op_first(struct script *s, const shmets_term *a, struct result *r)
{
    return op_end(s, a, r, shmets_first);
}

static int op_last(struct script *s, const shmets_term *a, struct result *r)
{
    return op_end(s, a, r, shmets_last);
}

static int op_tab2list(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    int rc = tab_arg(s, a[0], &e);
    return rc ? rc : shmets_tab2list(e->t, &r->term);
}

/* ets:lookup_element/3,4 */
static int op_lookup_element(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    uint64_t pos;
    /* A position is a small integer of the VM (1 .. 2^59 - 1; larger ones are badarg whatever
     * the key); lookup_element/4 of an absent key gives the default for any of them (OTP 26),
     * even past every object's arity. */
    int rc = shmets_term_get_uint64(a[2], &pos);
    if (!rc && (pos == 0 || pos >= 1ull << 59))
        rc = -SHMETS_EBADPOS;
    if (rc || (rc = tab_arg(s, a[0], &e)))
        return rc;
    return shmets_lookup_element(e->t, a[1], pos, s->arity == 4 ? &a[3] : NULL, &r->term);
}

static int op_slot(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    uint64_t i;
    shmets_term objs;
    int rc = shmets_term_get_uint64(a[1], &i);
    if (rc || (rc = tab_arg(s, a[0], &e)) || (rc = shmets_slot(e->t, i, &objs)))
        return rc;
    return res_key(r, objs);
}

static int op_safe_fixtable(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    bool fix;
    int rc = bool_arg(a[1], &fix);
    if (rc || (rc = tab_arg(s, a[0], &e)) || (rc = shmets_safe_fixtable(e->t, fix)))
        return rc;
    return res_bool(r, true);
}

/* ets:update_counter/3,4 */
static int op_update_counter(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    int rc = tab_arg(s, a[0], &e);
    return rc ? rc : shmets_update_counter(e->t, a[1], a[2], s->arity == 4 ? &a[3] : NULL, &r->term);
}

static int op_update_element(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    int updated, rc = tab_arg(s, a[0], &e);
    return rc ? rc : (rc = shmets_update_element(e->t, a[1], a[2], &updated)) ? rc : res_bool(r, updated);
}

/* ets:rename/2: ETS answers with the table's term afterwards (the new name if named). */
static int op_rename(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    char name[ATOM_BUF];
    int rc = atom_arg(s, a[1], name);
    if (rc || (rc = tab_arg(s, a[0], &e)) || (rc = shmets_rename(e->t, name)))
        return rc;
    return shmets_tab_term(e->t, &r->term);
}

/* ets:setopts/2: one option or a list; all are checked before any is applied, and, as in
 * ETS, an option given twice is badarg. */
static int setopt_check(struct script *s, shmets_term opt)
{
    uint32_t pid;
    shmets_term data;
    size_t n;
    shmets_term tag, v;
    if (heir_arg(opt, &pid, &data) == 0)
        return 0;
    if (shmets_term_tuple_arity(opt, &n) == 0 && n == 2 && shmets_term_tuple_element(opt, 1, &tag) == 0 &&
        atom_is(tag, "protection") && shmets_term_tuple_element(opt, 2, &v) == 0 &&
        (atom_is(v, "public") || atom_is(v, "protected") || atom_is(v, "private"))) {
        s->fatal = true;
        snprintf(s->msg, sizeof s->msg, "{protection, _} is not supported by shmets");
        return -SHMETS_EINVAL;
    }
    return -SHMETS_ETYPE;
}

static int setopt_apply(shmets_tab *t, shmets_term opt)
{
    uint32_t pid;
    shmets_term data;
    int rc = heir_arg(opt, &pid, &data);
    return rc ? rc : shmets_set_heir(t, pid, data.ptr ? &data : NULL);
}

static int op_setopts(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    shmets_list_iter it;
    shmets_term opt;
    int rc, more;
    bool list = shmets_list_begin(a[1], &it) == 0;
    if (list) {
        size_t n = 0;
        while ((more = shmets_list_next(&it, &opt)) == 1)
            if ((rc = setopt_check(s, opt)) || ++n > 1)
                return rc ? rc : -SHMETS_ETYPE;
        if (more < 0 || shmets_term_type(it.tail) != SHMETS_T_NIL)
            return -SHMETS_ETYPE;
    } else if ((rc = setopt_check(s, a[1]))) {
        return rc;
    }
    if ((rc = tab_arg(s, a[0], &e)))
        return rc;
    if (!list)
        rc = setopt_apply(e->t, a[1]);
    else
        for (shmets_list_begin(a[1], &it); !rc && shmets_list_next(&it, &opt) == 1;)
            rc = setopt_apply(e->t, opt);
    return rc ? rc : res_bool(r, true);
}

/* ets:info/1,2: `undefined` for a table that does not exist. */
static int op_info(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    int rc = tab_arg(s, a[0], &e);
    if (rc == -SHMETS_ENOENT) {
        r->text = "undefined";
        return 0;
    }
    if (rc)
        return rc;
    if (s->arity == 1)
        rc = shmets_info_term(e->t, &r->term);
    else {
        char item[ATOM_BUF];
        rc = atom_arg(s, a[1], item);
        if (!rc)
            rc = shmets_info_item(e->t, item, &r->term);
    }
    if (rc == -SHMETS_ENOENT) {         /* deleted by another process meanwhile */
        cache_drop(&s->tabs, e, true);
        s->cur = NULL;
        r->text = "undefined";
        return 0;
    }
    return rc;
}

/* ets:all/0: named tables by name, others by reference; tables this process cannot attach
 * (private tables of others) by reference too. */
static int op_all(struct script *s, const shmets_term *a, struct result *r)
{
    (void)a;
    uint64_t *ids;
    size_t n, k = 0;
    int rc = shmets_all(s->db, &ids, &n);
    if (rc)
        return rc;
    shmets_term *terms = calloc(n ? n : 1, sizeof *terms);
    if (!terms) {
        free(ids);
        return -SHMETS_ENOMEM;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        struct tabent *e;
        rc = tab_by_id(s, ids[i], &e);
        if (rc == -SHMETS_ENOENT) {
            rc = 0;                     /* deleted meanwhile */
            continue;
        }
        if (rc == -SHMETS_EOWNER || rc == -SHMETS_EACCES)
            rc = ref_of_id(ids[i], &terms[k]);
        else if (!rc)
            rc = shmets_tab_term(e->t, &terms[k]);
        k += !rc;
    }
    shmets_builder *b = NULL;
    if (!rc)
        rc = shmets_builder_create(&b);
    if (!rc) {
        if (k)
            shmets_build_list(b, k);
        for (size_t i = 0; i < k; i++)
            shmets_build_term(b, terms[i]);
        shmets_build_nil(b);
        rc = shmets_builder_finish(b, &r->term);
        shmets_builder_destroy(b);
    }
    for (size_t i = 0; i < k; i++)
        shmets_term_free(&terms[i]);
    free(terms);
    free(ids);
    return rc;
}

/* ---- match specifications (the select family) ---------------------------------------- */

/* An unsigned integer result. */
static int res_uint(struct result *r, uint64_t n)
{
    shmets_builder *b;
    int rc = shmets_builder_create(&b);
    if (rc)
        return rc;
    shmets_build_uint(b, n);
    rc = shmets_builder_finish(b, &r->term);
    shmets_builder_destroy(b);
    return rc;
}

/* A specification argument, compiled: *ms NULL for [] (the table calls take it, N.3). */
static int spec_arg(shmets_term spec, shmets_ms **ms)
{
    *ms = NULL;
    if (shmets_term_type(spec) == SHMETS_T_NIL)
        return 0;
    return shmets_ms_compile(spec, ms);
}

enum sel_call { SC_SELECT, SC_REVERSE, SC_COUNT, SC_DELETE, SC_REPLACE };

static int run_select(struct script *s, shmets_term tab, shmets_ms *ms, enum sel_call c, struct result *r)
{
    struct tabent *e;
    uint64_t n = 0;
    int rc = tab_arg(s, tab, &e);
    if (!rc) {
        switch (c) {
        case SC_SELECT:  rc = shmets_select(e->t, ms, false, &r->term); break;
        case SC_REVERSE: rc = shmets_select(e->t, ms, true, &r->term); break;
        case SC_COUNT:   rc = shmets_select_count(e->t, ms, &n); break;
        case SC_DELETE:  rc = shmets_select_delete(e->t, ms, &n); break;
        case SC_REPLACE: rc = shmets_select_replace(e->t, ms, &n); break;
        }
        if (!rc && c != SC_SELECT && c != SC_REVERSE)
            rc = res_uint(r, n);
    }
    shmets_ms_free(ms);
    return rc;
}

static int op_select_call(struct script *s, const shmets_term *a, struct result *r, enum sel_call c)
{
    shmets_ms *ms;
    int rc = spec_arg(a[1], &ms);
    return rc ? rc : run_select(s, a[0], ms, c, r);
}

static int op_select(struct script *s, const shmets_term *a, struct result *r) { return op_select_call(s, a, r, SC_SELECT); }
static int op_select_reverse(struct script *s, const shmets_term *a, struct result *r) { return op_select_call(s, a, r, SC_REVERSE); }
static int op_select_count(struct script *s, const shmets_term *a, struct result *r) { return op_select_call(s, a, r, SC_COUNT); }
static int op_select_delete(struct script *s, const shmets_term *a, struct result *r) { return op_select_call(s, a, r, SC_DELETE); }
static int op_select_replace(struct script *s, const shmets_term *a, struct result *r) { return op_select_call(s, a, r, SC_REPLACE); }

/* ets:match/2, match_object/2, match_delete/2: the pattern as a specification. */
static int op_match_call(struct script *s, const shmets_term *a, struct result *r, enum shmets_ms_match_kind k)
{
    shmets_term spec;
    shmets_ms *ms;
    int rc = shmets_ms_from_pattern(a[1], k, &spec);
    if (rc)
        return rc;
    rc = shmets_ms_compile(spec, &ms);
    shmets_term_free(&spec);
    if (rc)
        return rc;
    rc = run_select(s, a[0], ms, k == SHMETS_MS_MATCH_DELETE ? SC_DELETE : SC_SELECT, r);
    if (!rc && k == SHMETS_MS_MATCH_DELETE) {
        shmets_term_free(&r->term);
        return res_bool(r, true);
    }
    return rc;
}

static int op_match(struct script *s, const shmets_term *a, struct result *r) { return op_match_call(s, a, r, SHMETS_MS_MATCH); }
static int op_match_object(struct script *s, const shmets_term *a, struct result *r) { return op_match_call(s, a, r, SHMETS_MS_MATCH_OBJECT); }
static int op_match_delete(struct script *s, const shmets_term *a, struct result *r) { return op_match_call(s, a, r, SHMETS_MS_MATCH_DELETE); }

/* Remember the continuation a /3 or /1 form gave, for `last_cont` (R.8): cont {NULL, 0} is
 * '$end_of_table'; an error forgets it. */
static void remember_cont(struct script *s, int rc, shmets_term cont)
{
    shmets_term_free(&s->last_cont);
    s->cont_state = CONT_NONE;
    if (rc)
        return;
    if (!cont.ptr)
        s->cont_state = CONT_EOT;
    else if (shmets_term_dup(cont, &s->last_cont) == 0)
        s->cont_state = CONT_TERM;
}

/* {Results, Cont} of a /3 or /1 form, or '$end_of_table' (results {NULL, 0}); Cont is
 * '$end_of_table' when the walk is over. */
static int res_chunk(struct script *s, struct result *r, shmets_term results, shmets_term cont)
{
    remember_cont(s, 0, cont);
    if (!results.ptr) {
        shmets_term_free(&cont);
        r->text = "'$end_of_table'";
        return 0;
    }
    shmets_builder *b;
    int rc = shmets_builder_create(&b);
    if (!rc) {
        shmets_build_tuple(b, 2);
        shmets_build_term(b, results);
        if (cont.ptr)
            shmets_build_term(b, cont);
        else
            shmets_build_atom(b, "$end_of_table", 13);
        rc = shmets_builder_finish(b, &r->term);
        shmets_builder_destroy(b);
    }
    shmets_term_free(&results);
    shmets_term_free(&cont);
    return rc;
}

/* A limit: a positive integer (ETS: badarg otherwise). */
static int limit_arg(shmets_term t, size_t *limit)
{
    uint64_t v;
    int rc = shmets_term_get_uint64(t, &v);
    if (rc || v == 0)
        return rc ? rc : -SHMETS_ERANGE;
    *limit = v > SIZE_MAX ? SIZE_MAX : (size_t)v;
    return 0;
}

static int op_select_limit_call(struct script *s, shmets_term tab, shmets_term spec, shmets_term lim, bool reverse,
                                struct result *r)
{
    struct tabent *e;
    size_t limit;
    shmets_ms *ms;
    int rc = limit_arg(lim, &limit);
    if (rc || (rc = spec_arg(spec, &ms)))
        return rc;
    if (!ms)                            /* select(T, [], N): nothing */
        return r->text = "'$end_of_table'", 0;
    shmets_term res, cont;
    if (!(rc = tab_arg(s, tab, &e)) && !(rc = shmets_select_limit(e->t, ms, limit, reverse, &res, &cont)))
        rc = res_chunk(s, r, res, cont);
    else
        remember_cont(s, rc, (shmets_term){ NULL, 0 });
    shmets_ms_free(ms);
    return rc;
}

static int op_select3(struct script *s, const shmets_term *a, struct result *r)
{
    return op_select_limit_call(s, a[0], a[1], a[2], false, r);
}

static int op_select_reverse3(struct script *s, const shmets_term *a, struct result *r)
{
    return op_select_limit_call(s, a[0], a[1], a[2], true, r);
}

/* match/3 and match_object/3: the pattern's specification, then as select/3. */
static int op_match3_call(struct script *s, const shmets_term *a, struct result *r, enum shmets_ms_match_kind k)
{
    shmets_term spec;
    int rc = shmets_ms_from_pattern(a[1], k, &spec);
    if (rc)
        return rc;
    rc = op_select_limit_call(s, a[0], spec, a[2], false, r);
    shmets_term_free(&spec);
    return rc;
}

static int op_match3(struct script *s, const shmets_term *a, struct result *r) { return op_match3_call(s, a, r, SHMETS_MS_MATCH); }
static int op_match_object3(struct script *s, const shmets_term *a, struct result *r) { return op_match3_call(s, a, r, SHMETS_MS_MATCH_OBJECT); }

/* select/1, select_reverse/1, match/1, match_object/1: the next chunk of a continuation. */
static int op_continue(struct script *s, const shmets_term *a, struct result *r)
{
    const char *txt;
    size_t n;
    shmets_term c = a[0];
    if (shmets_term_get_atom(c, &txt, &n) == 0 && n == 9 && memcmp(txt, "last_cont", 9) == 0) {
        if (s->cont_state == CONT_EOT)
            return r->text = "'$end_of_table'", 0;
        if (s->cont_state == CONT_TERM)
            c = s->last_cont;
    }
    if (shmets_term_get_atom(c, &txt, &n) == 0 && n == 13 && memcmp(txt, "$end_of_table", 13) == 0) {
        remember_cont(s, 0, (shmets_term){ NULL, 0 });
        return r->text = "'$end_of_table'", 0;
    }
    shmets_term res, cont, keep = { NULL, 0 };
    if (c.ptr == s->last_cont.ptr && shmets_term_dup(c, &keep) == 0)
        c = keep;                       /* remember_cont frees the remembered one */
    int rc = shmets_select_continue(s->db, c, &res, &cont);
    rc = rc ? (remember_cont(s, rc, cont), rc) : res_chunk(s, r, res, cont);
    shmets_term_free(&keep);
    return rc;
}

/* ets:match_spec_compile/1: the program, as a binary term (ETS gives an opaque reference). */
static int op_match_spec_compile(struct script *s, const shmets_term *a, struct result *r)
{
    (void)s;
    shmets_ms *ms;
    int rc = shmets_ms_compile(a[0], &ms);
    if (!rc)
        rc = shmets_ms_to_term(ms, &r->term);
    shmets_ms_free(ms);
    return rc;
}

/* ets:match_spec_run/2: List, then a compiled specification. */
static int op_match_spec_run(struct script *s, const shmets_term *a, struct result *r)
{
    (void)s;
    shmets_ms *ms;
    int rc = shmets_ms_from_term(a[1], &ms);
    if (!rc)
        rc = shmets_ms_run_list(ms, a[0], &r->term);
    shmets_ms_free(ms);
    return rc;
}

static int op_is_compiled_ms(struct script *s, const shmets_term *a, struct result *r)
{
    (void)s;
    return res_bool(r, shmets_is_compiled_ms(a[0]));
}

static int op_test_ms(struct script *s, const shmets_term *a, struct result *r)
{
    (void)s;
    return shmets_ms_test(a[0], a[1], &r->term);
}

/* ets:whereis/1: the table's reference, or undefined. */
static int op_whereis(struct script *s, const shmets_term *a, struct result *r)
{
    char name[ATOM_BUF];
    uint64_t id;
    int rc = atom_arg(s, a[0], name);
    if (!rc)
        rc = shmets_whereis(s->db, name, &id);
    if (rc == -SHMETS_ENOENT) {
        r->text = "undefined";
        return 0;
    }
    return rc ? rc : ref_of_id(id, &r->term);
}


/* ---- table files: tab2file/2,3, file2tab/1,2, tabfile_info/1 ------------------------- */

/* Append the UTF-8 of a file name's part t (an atom, a character, or a list of those and of
 * lists: Erlang's file:name_all() but binaries) to out[*n]. */
static int filename_part(shmets_term t, char *out, size_t cap, size_t *n, int depth)
{
    const char *txt;
    size_t len;
    uint64_t c;
    if (shmets_term_get_atom(t, &txt, &len) == 0) {
        if (*n + len >= cap)
            return -SHMETS_ETYPE;
        memcpy(out + *n, txt, len);
        *n += len;
        return 0;
    }
    if (shmets_term_get_uint64(t, &c) == 0) {
        if (c == 0 || c > 0x10ffff || *n + 5 >= cap)
            return -SHMETS_ETYPE;
        if (c < 0x80) {
            out[(*n)++] = (char)c;
        } else if (c < 0x800) {
            out[(*n)++] = (char)(0xc0 | c >> 6);
            out[(*n)++] = (char)(0x80 | (c & 0x3f));
        } else if (c < 0x10000) {
            out[(*n)++] = (char)(0xe0 | c >> 12);
            out[(*n)++] = (char)(0x80 | (c >> 6 & 0x3f));
            out[(*n)++] = (char)(0x80 | (c & 0x3f));
        } else {
            out[(*n)++] = (char)(0xf0 | c >> 18);
            out[(*n)++] = (char)(0x80 | (c >> 12 & 0x3f));
            out[(*n)++] = (char)(0x80 | (c >> 6 & 0x3f));
            out[(*n)++] = (char)(0x80 | (c & 0x3f));
        }
        return 0;
    }
    if (shmets_term_type(t) == SHMETS_T_NIL)
        return 0;
    shmets_list_iter it;
    shmets_term el;
    int more, rc;
    if (depth > 100 || shmets_term_type(t) != SHMETS_T_LIST || shmets_list_begin(t, &it))
        return -SHMETS_ETYPE;
    while ((more = shmets_list_next(&it, &el)) == 1)
        if ((rc = filename_part(el, out, cap, n, depth + 1)))
            return rc;
    if (more < 0 || shmets_term_type(it.tail) != SHMETS_T_NIL)
        return -SHMETS_ETYPE;
    return 0;
}

/* A file name as ETS takes it (a string, an atom, or a deep list of characters, atoms and
 * lists; not a binary) into out. */
static int filename_arg(shmets_term t, char *out, size_t cap)
{
    size_t n = 0;
    if (shmets_term_get_uint64(t, &(uint64_t){ 0 }) == 0)
        return -SHMETS_ETYPE;               /* a character alone is not a name */
    int rc = filename_part(t, out, cap, &n, 0);
    out[n] = 0;
    return rc;
}

/* The result: the term written as `fmt` says, %s standing for the file name's ~w text. */
static int res_text(struct result *r, const char *fmt, shmets_term fname)
{
    char *name = NULL, *txt = NULL;
    int rc = shmets_term_format(fname, &name, NULL);
    if (rc)
        return rc;
    if (asprintf(&txt, fmt, name) < 0)
        txt = NULL;
    free(name);
    if (!txt)
        return -SHMETS_ENOMEM;
    rc = shmets_term_parse(txt, strlen(txt), &r->term);
    free(txt);
    return rc;
}

/* A file error of the library as ETS words it (inner: "{file_error,%s,E}"), wrapped by
 * outer ("{error,%s}" or "{error,{read_error,%s}}"); other errors are the script's own. */
static int res_file_error(struct script *s, struct result *r, int rc, shmets_term fname, bool reading)
{
    const char *e = rc == -SHMETS_ENOENT ? "enoent" : rc == -SHMETS_EACCES ? "eacces" : NULL;
    if (e) {
        char fmt[80];
        snprintf(fmt, sizeof fmt, reading ? "{error,{read_error,{file_error,%%s,%s}}}" : "{error,{file_error,%%s,%s}}", e);
        return res_text(r, fmt, fname);
    }
    if (rc == -SHMETS_EBADFILE || rc == -SHMETS_EVERSION)
        return res_text(r, "{error,badfile}", fname);
    if (rc == -SHMETS_EEXIST && reading)
        return res_text(r, "{error,cannot_create_table}", fname);
    s->fatal = true;
    return rc;
}

/* The options of tab2file/3 and file2tab/2: a proper list.  *bad: the first unknown one. */
static int tabfile_opts_arg(shmets_term list, bool dumping, shmets_tabfile_opts *o, shmets_term *bad)
{
    shmets_list_iter it;
    shmets_term opt;
    int more;
    bad->ptr = NULL;
    if (shmets_list_begin(list, &it))
        return -SHMETS_ETYPE;
    while ((more = shmets_list_next(&it, &opt)) == 1) {
        size_t n;
        shmets_term tag, v;
        bool b, ok = false;
        if (!shmets_term_tuple_arity(opt, &n) && n == 2 && !shmets_term_tuple_element(opt, 1, &tag) &&
            !shmets_term_tuple_element(opt, 2, &v)) {
            if (atom_is(tag, dumping ? "sync" : "verify") && !bool_arg(v, &b)) {
                ok = true;
                if (dumping)
                    o->sync = b;
                else
                    o->verify = b;
            } else if (dumping && atom_is(tag, "extended_info")) {
                shmets_list_iter ei;
                shmets_term x;
                int m;
                ok = shmets_list_begin(v, &ei) == 0;
                while (ok && (m = shmets_list_next(&ei, &x)) == 1) {
                    if (atom_is(x, "object_count"))
                        o->object_count = true;
                    else if (atom_is(x, "md5sum"))
                        o->md5sum = true;
                    else
                        ok = false;
                }
                ok = ok && shmets_term_type(ei.tail) == SHMETS_T_NIL;
            }
        }
        if (!ok && !bad->ptr)
            *bad = opt;
    }
    if (more < 0 || shmets_term_type(it.tail) != SHMETS_T_NIL)
        return -SHMETS_ETYPE;
    return 0;
}

/* The options argument of tab2file/3 (dumping) or file2tab/2 into o: 0, or 1 with r set to
 * ETS's {error,{unknown_option,Opt}} for the first option it does not know, or an error. */
static int tabfile_opts_result(shmets_term list, bool dumping, shmets_tabfile_opts *o, struct result *r)
{
    shmets_term bad;
    shmets_builder *b;
    int rc = tabfile_opts_arg(list, dumping, o, &bad);
    if (rc || !bad.ptr)
        return rc;
    if ((rc = shmets_builder_create(&b)))
        return rc;
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "error", 5);
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "unknown_option", 14);
    shmets_build_term(b, bad);
    rc = shmets_builder_finish(b, &r->term);
    shmets_builder_destroy(b);
    return rc ? rc : 1;
}

/* {ok, T} as the result. */
static int res_ok(struct result *r, shmets_term t)
{
    shmets_builder *b;
    int rc = shmets_builder_create(&b);
    if (rc)
        return rc;
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "ok", 2);
    shmets_build_term(b, t);
    rc = shmets_builder_finish(b, &r->term);
    shmets_builder_destroy(b);
    return rc;
}

static int op_tab2file(struct script *s, const shmets_term *a, struct result *r)
{
    char path[4096];
    shmets_tabfile_opts o;
    struct tabent *e;
    shmets_tabfile_opts_init(&o);
    int rc = filename_arg(a[1], path, sizeof path);
    if (rc)
        return rc;
    if (s->arity == 3 && (rc = tabfile_opts_result(a[2], true, &o, r)))
        return rc > 0 ? 0 : rc;
    if (tab_arg(s, a[0], &e))
        return res_text(r, "{error,badtab}", a[1]);
    rc = shmets_tab2file(e->t, path, &o);
    if (rc == -SHMETS_EOWNER)
        return res_text(r, "{error,badtab}", a[1]);
    if (rc)
        return res_file_error(s, r, rc, a[1], false);
    r->text = "ok";
    return 0;
}

static int op_file2tab(struct script *s, const shmets_term *a, struct result *r)
{
    char path[4096];
    shmets_tabfile_opts o;
    shmets_tabfile_opts_init(&o);
    int rc = filename_arg(a[0], path, sizeof path);
    if (rc)
        return rc;
    if (s->arity == 2 && (rc = tabfile_opts_result(a[1], false, &o, r)))
        return rc > 0 ? 0 : rc;
    shmets_tab *t;
    struct tabent *e;
    if ((rc = shmets_file2tab(s->db, path, &o, &t)))
        return res_file_error(s, r, rc, a[0], true);
    if ((rc = cache_add(&s->tabs, t, &e)))
        return rc;
    shmets_term tab;
    if ((rc = shmets_tab_term(e->t, &tab)))
        return rc;
    rc = res_ok(r, tab);
    shmets_term_free(&tab);
    return rc;
}

static int op_tabfile_info(struct script *s, const shmets_term *a, struct result *r)
{
    char path[4096];
    shmets_tabfile_desc d;
    shmets_term list;
    int rc = filename_arg(a[0], path, sizeof path);
    if (rc)
        return rc;
    if ((rc = shmets_tabfile_info(path, &d)))
        return res_file_error(s, r, rc, a[0], true);
    if ((rc = tool_tabfile_info_term(&d, &list)))
        return rc;
    rc = res_ok(r, list);
    shmets_term_free(&list);
    return rc;
}

static const struct call_def {
    const char *name;
    size_t arity;
    call_fn fn;
} calls[] = {
    { "new", 2, op_new },
    { "delete", 1, op_delete },
    { "delete", 2, op_delete_key },
    { "delete_all_objects", 1, op_delete_all_objects },
    { "delete_object", 2, op_delete_object },
    { "insert", 2, op_insert },
    { "insert_new", 2, op_insert_new },
    { "lookup", 2, op_lookup },
    { "lookup_element", 3, op_lookup_element },
    { "lookup_element", 4, op_lookup_element },
    { "member", 2, op_member },
    { "take", 2, op_take },
    { "first", 1, op_first },
    { "next", 2, op_next },
    { "last", 1, op_last },
    { "prev", 2, op_prev },
    { "tab2list", 1, op_tab2list },
    { "slot", 2, op_slot },
    { "safe_fixtable", 2, op_safe_fixtable },
    { "update_counter", 3, op_update_counter },
    { "update_counter", 4, op_update_counter },
    { "update_element", 3, op_update_element },
    { "rename", 2, op_rename },
    { "setopts", 2, op_setopts },
    { "info", 1, op_info },
    { "info", 2, op_info },
    { "all", 0, op_all },
    { "whereis", 1, op_whereis },
    { "select", 2, op_select },
    { "select_reverse", 2, op_select_reverse },
    { "select_count", 2, op_select_count },
    { "select_delete", 2, op_select_delete },
    { "select_replace", 2, op_select_replace },
    { "match", 2, op_match },
    { "match_object", 2, op_match_object },
    { "match_delete", 2, op_match_delete },
    { "match_spec_compile", 1, op_match_spec_compile },
    { "match_spec_run", 2, op_match_spec_run },
    { "is_compiled_ms", 1, op_is_compiled_ms },
    { "test_ms", 2, op_test_ms },
    { "select", 3, op_select3 },
    { "select_reverse", 3, op_select_reverse3 },
    { "match", 3, op_match3 },
    { "match_object", 3, op_match_object3 },
    { "select", 1, op_continue },
    { "select_reverse", 1, op_continue },
    { "match", 1, op_continue },
    { "match_object", 1, op_continue },
    { "tab2file", 2, op_tab2file },
    { "tab2file", 3, op_tab2file },
    { "file2tab", 1, op_file2tab },
    { "file2tab", 2, op_file2tab },
    { "tabfile_info", 1, op_tabfile_info },
};

/* ---- etsmgr, messages and time (R.9) -------------------------------------------------
 * R.9  With etsmgr (issue 6): etsmgr:new_table/4, add_table/3, del_table/2 and info/1 (whose
 *      first argument, Inst_name, is the script's instance as an atom) print the daemon's reply as the original etsmgr returns it ({ok, Pid, Tab}, {error,
 *      Reason}, a map); ets:give_away/3 prints true or error:badarg as ETS; self() (also
 *      inside arguments) is this process, <0.PID.0>; shmets:receive(TimeoutMs) prints the
 *      next message for this process ({'ETS-TRANSFER', Tab, From, Data}) or `timeout`;
 *      shmets:sleep(Ms) waits and prints ok.  The connection to the instance's etsmgr is made
 *      at the first of these calls (include/etsmgr.h: started on demand unless
 *      SHMETS_NO_AUTOSTART=1); a table handle is re-attached after its owner changed
 *      (give_away, ETS-TRANSFER), so that it carries the new owner's rights.
 */

static etsmgr *script_mgr;

static int mgr_conn(struct script *s)
{
    if (script_mgr)
        return 0;
    int rc = etsmgr_connect(s->db, NULL, &script_mgr);
    if (rc) {
        s->fatal = true;
        snprintf(s->msg, sizeof s->msg, "no etsmgr for instance %s: %s", s->inst, shmets_errdetail());
    }
    return rc;
}

/* Forget the cached handle of the table a term names (its rights changed). */
static void mgr_forget(struct script *s, shmets_term tab)
{
    shmets_tab *t;
    if (shmets_attach_term(s->db, tab, &t) != 0)
        return;
    struct tabent *e = cache_find(&s->tabs, shmets_id(t));
    shmets_detach(t);
    if (e)
        cache_drop(&s->tabs, e, true);
}

/* The Inst_name argument of the etsmgr calls: this script's instance, as an atom. */
static int inst_arg(struct script *s, shmets_term t)
{
    const char *txt;
    size_t len;
    if (shmets_term_get_atom(t, &txt, &len) || len != strlen(s->inst) || memcmp(txt, s->inst, len))
        return -SHMETS_EINVAL;
    return 0;
}

/* {Tag, Args...} to the daemon; the reply into r.  With inst, a[0] is the Inst_name. */
static int mgr_request(struct script *s, const char *tag, const shmets_term *a, size_t n, shmets_term *reply)
{
    int rc = mgr_conn(s);
    if (rc)
        return rc;
    shmets_builder *b;
    shmets_term q;
    if ((rc = shmets_builder_create(&b)))
        return rc;
    shmets_build_tuple(b, n + 1);
    shmets_build_atom(b, tag, strlen(tag));
    for (size_t i = 0; i < n; i++)
        shmets_build_term(b, a[i]);
    rc = shmets_builder_finish(b, &q);
    shmets_builder_destroy(b);
    if (!rc)
        rc = etsmgr_call(script_mgr, q, reply);
    shmets_term_free(&q);
    if (rc) {
        s->fatal = true;
        snprintf(s->msg, sizeof s->msg, "etsmgr: %s", shmets_errdetail());
    }
    return rc;
}

static int op_mgr_new_table(struct script *s, const shmets_term *a, struct result *r)
{
    int rc = inst_arg(s, a[0]);
    rc = rc ? rc : mgr_request(s, "new_table", a + 1, 3, &r->term);
    size_t n;
    shmets_term tag, tab, opt;
    shmets_list_iter it;
    if (rc || shmets_term_tuple_arity(r->term, &n) || n != 3 || shmets_term_tuple_element(r->term, 1, &tag) ||
        !atom_is(tag, "ok") || shmets_term_tuple_element(r->term, 3, &tab))
        return rc;
    mgr_forget(s, tab);
    /* The heir's data, when the table came back to its client (include/etsmgr.h). */
    for (shmets_list_begin(a[3], &it); shmets_list_next(&it, &opt) == 1;) {
        uint32_t pid;
        shmets_term data;
        shmets_tab *t;
        if (heir_arg(opt, &pid, &data) == 0 && pid && pid != (uint32_t)getpid() &&
            shmets_attach_term(s->db, tab, &t) == 0) {
            etsmgr_setopts_heir(s->db, shmets_id(t), (pid_t)pid, &data);
            shmets_detach(t);
        }
    }
    return 0;
}

static int op_mgr_add_table(struct script *s, const shmets_term *a, struct result *r)
{
    int rc = inst_arg(s, a[0]);
    return rc ? rc : mgr_request(s, "add_table", a + 1, 2, &r->term);
}

static int op_mgr_del_table(struct script *s, const shmets_term *a, struct result *r)
{
    int rc = inst_arg(s, a[0]);
    return rc ? rc : mgr_request(s, "del_table", a + 1, 1, &r->term);
}

static int op_mgr_info(struct script *s, const shmets_term *a, struct result *r)
{
    int rc = inst_arg(s, a[0]);
    rc = rc ? rc : mgr_conn(s);
    return rc ? rc : etsmgr_info(script_mgr, &r->term);
}

static int op_give_away(struct script *s, const shmets_term *a, struct result *r)
{
    shmets_term reply;
    int rc = mgr_request(s, "give_away", a, 3, &reply);
    if (rc)
        return rc;
    bool ok = atom_is(reply, "true");
    shmets_term_free(&reply);
    if (!ok)
        return -SHMETS_EINVAL;          /* ETS: badarg */
    mgr_forget(s, a[0]);
    return res_bool(r, true);
}

static int op_self(struct script *s, const shmets_term *a, struct result *r)
{
    (void)s;
    (void)a;
    shmets_builder *b;
    int rc = shmets_builder_create(&b);
    if (rc)
        return rc;
    shmets_build_pid(b, (uint32_t)getpid());
    rc = shmets_builder_finish(b, &r->term);
    shmets_builder_destroy(b);
    return rc;
}

static int ms_arg(shmets_term t, int *ms)
{
    int64_t v;
    if (shmets_term_get_int64(t, &v) || v < 0 || v > 24 * 3600 * 1000)
        return -SHMETS_ETYPE;
    *ms = (int)v;
    return 0;
}

static int op_receive(struct script *s, const shmets_term *a, struct result *r)
{
    int ms, rc = ms_arg(a[0], &ms);
    if (rc || (rc = mgr_conn(s)))
        return rc;
    rc = etsmgr_next_event(script_mgr, ms, &r->term);
    if (rc == -SHMETS_EAGAIN) {
        r->text = "timeout";
        return 0;
    }
    size_t n;
    shmets_term tag, tab;
    if (!rc && shmets_term_tuple_arity(r->term, &n) == 0 && n == 4 && shmets_term_tuple_element(r->term, 1, &tag) == 0 &&
        atom_is(tag, "ETS-TRANSFER") && shmets_term_tuple_element(r->term, 2, &tab) == 0)
        mgr_forget(s, tab);
    if (rc) {
        s->fatal = true;
        snprintf(s->msg, sizeof s->msg, "receive: %s", shmets_errdetail());
    }
    return rc;
}

static int op_sleep(struct script *s, const shmets_term *a, struct result *r)
{
    (void)s;
    int ms, rc = ms_arg(a[0], &ms);
    if (rc)
        return rc;
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) && errno == EINTR && !got_signal)
        ;
    r->text = "ok";
    return 0;
}

static const struct {
    const char *mod;
    struct call_def def;
} mgr_calls[] = {
    { "etsmgr", { "new_table", 4, op_mgr_new_table } },
    { "etsmgr", { "add_table", 3, op_mgr_add_table } },
    { "etsmgr", { "del_table", 2, op_mgr_del_table } },
    { "etsmgr", { "info", 1, op_mgr_info } },
    { "ets", { "give_away", 3, op_give_away } },
    { "erlang", { "self", 0, op_self } },
    { "shmets", { "receive", 1, op_receive } },
    { "shmets", { "sleep", 1, op_sleep } },
};

/* ---- running a call (R.2) ---------------------------------------------------------- */

/* Write one result line and flush it, letting signals through meanwhile (R.5). */
static int emit(struct script *s, const char *line)
{
    sigset_t old;
    fputs(line, stdout);
    fputc('\n', stdout);
    sigprocmask(SIG_SETMASK, &s->waitmask, &old);
    int rc = fflush(stdout);
    int err = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (got_signal)
        return IN_STOP;
    if (rc == EOF || ferror(stdout)) {
        say(s, 0, "writing the standard output: %s", strerror(err));
        return IN_STOP;
    }
    return 0;
}

static bool is_badarg(int rc)
{
    switch (-rc) {
    case SHMETS_EINVAL: case SHMETS_ETYPE: case SHMETS_ERANGE: case SHMETS_EBADPOS:
    case SHMETS_ENOKEY: case SHMETS_EEXIST: case SHMETS_ENOENT: case SHMETS_EOWNER:
    case SHMETS_EACCES:
        return true;
    default:
        return false;
    }
}

/* A handler's error: a badarg line, or a message and a stop (R.2). */
static int report_error(struct script *s, int rc)
{
    if (rc == -SHMETS_ENOENT && s->cur)         /* the table went away: drop its handle */
        cache_drop(&s->tabs, s->cur, true);
    s->cur = NULL;
    if (!s->fatal && is_badarg(rc))
        return emit(s, "error:badarg");
    char what[ATOM_BUF + 32];
    snprintf(what, sizeof what, "ets:%s/%zu", s->fn, s->arity);
    if (s->msg[0])
        say(s, s->first_line, "%s: %s", what, s->msg);
    else
        say_err(s, s->first_line, what, rc);
    return IN_STOP;
}

static int run_call(struct script *s)
{
    char mod[ATOM_BUF];
    shmets_term args;
    int rc = parse_call(s, mod, sizeof mod, &args);
    if (rc)
        return IN_STOP;
    const struct call_def *def = NULL;
    for (size_t i = 0; i < sizeof calls / sizeof calls[0] && !strcmp(mod, "ets"); i++)
        if (!strcmp(calls[i].name, s->fn) && calls[i].arity == s->arity)
            def = &calls[i];
    for (size_t i = 0; i < sizeof mgr_calls / sizeof mgr_calls[0] && !def; i++)
        if (!strcmp(mgr_calls[i].mod, mod) && !strcmp(mgr_calls[i].def.name, s->fn) &&
            mgr_calls[i].def.arity == s->arity)
            def = &mgr_calls[i].def;
    if (!def) {
        shmets_term_free(&args);
        return emit(s, "error:undef");
    }
    shmets_term a[4];
    for (size_t i = 0; i < s->arity; i++)
        shmets_term_tuple_element(args, i + 1, &a[i]);
    struct result r = { 0 };
    s->fatal = false;
    s->msg[0] = 0;
    s->cur = NULL;
    rc = def->fn(s, a, &r);
    s->cur = rc ? s->cur : NULL;
    if (rc) {
        shmets_term_free(&r.term);
        shmets_term_free(&args);
        return report_error(s, rc);
    }
    char *txt = NULL;
    if (!r.text && (rc = shmets_term_format(r.term, &txt, NULL)) != 0) {
        say_err(s, s->first_line, "formatting the result", rc);
        rc = IN_STOP;
    } else {
        rc = emit(s, r.text ? r.text : txt);
    }
    free(txt);
    shmets_term_free(&r.term);
    shmets_term_free(&args);
    return rc;
}

/* ---- the program (R.4, R.5) -------------------------------------------------------- */

static void signals_init(struct script *s)
{
    static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
    sigset_t block;
    sigemptyset(&block);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old, sa = { .sa_handler = on_signal };
        sigemptyset(&sa.sa_mask);
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;                   /* ignored by whoever started us: stays ignored */
        sigaddset(&block, sigs[i]);
        sigaction(sigs[i], &sa, NULL);
    }
    s->handled = block;
    sigprocmask(SIG_BLOCK, &block, &s->waitmask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigismember(&block, sigs[i]))
            sigdelset(&s->waitmask, sigs[i]);
    signal(SIGPIPE, SIG_IGN);
}

static int open_instance(struct script *s, const char *name)
{
    if (!name) {
        uint32_t r = 0;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            r = (uint32_t)getppid() * 2654435761u;
        snprintf(s->inst, sizeof s->inst, "script.%d.%08" PRIx32, (int)getpid(), r);
        s->temporary = true;
    } else {
        snprintf(s->inst, sizeof s->inst, "%s", name);
    }
    int rc = shmets_open(s->inst, &s->db);
    if (rc) {
        char what[128];
        snprintf(what, sizeof what, "instance %s", s->inst);
        say_err(s, 0, what, rc);
        s->temporary = false;
    }
    return rc;
}

static void close_instance(struct script *s)
{
    shmets_term_free(&s->last_cont);
    cache_free(&s->tabs);
    if (s->db)
        shmets_close(s->db);
    s->db = NULL;
    if (s->temporary) {
        int rc = shmets_destroy_instance(s->inst);
        if (rc && rc != -SHMETS_ENOENT)
            say_err(s, 0, "removing the temporary instance", rc);
    }
}

static int usage(void)
{
    fputs("usage: shmets script [--instance NAME] [FILE]\n", stderr);
    return 2;
}

int script_main(int argc, char **argv)
{
    static struct script s;     /* large (its input buffer): not on the stack */
    const char *inst = NULL, *file = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--instance") && i + 1 < argc)
            inst = argv[++i];
        else if (!strncmp(argv[i], "--instance=", 11))
            inst = argv[i] + 11;
        else if (argv[i][0] == '-' && argv[i][1])
            return usage();
        else if (!file)
            file = argv[i];
        else
            return usage();
    }
    s.line = 1;
    s.fd = 0;
    s.src = "standard input";
    if (file && strcmp(file, "-")) {
        s.src = file;
        s.fd = open(file, O_RDONLY | O_CLOEXEC);
        if (s.fd < 0) {
            say(&s, 0, "%s: %s", file, strerror(errno));
            return 1;
        }
    }
    signals_init(&s);
    if (open_instance(&s, inst) == 0) {
        int rc;
        while ((rc = read_call(&s)) == 1 && run_call(&s) == 0)
            ;
    }
    etsmgr_disconnect(script_mgr);
    script_mgr = NULL;
    close_instance(&s);
    free(s.call.p);
    if (s.fd > 0)
        close(s.fd);
    if (got_signal) {
        int sig = got_signal;
        sigset_t set;
        signal(sig, SIG_DFL);
        sigemptyset(&set);
        sigaddset(&set, sig);
        raise(sig);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        return 128 + sig;
    }
    return s.status;
}

/* The shell (tools/shell.c): calls read from source(), errors reported and the rest of the
 * line dropped, never the end of the session (see tool.h). */
int script_run_source(const char *instance, script_source source, void *arg)
{
    static struct script s;
    s.line = 1;
    s.src = "the shell";
    s.source = source;
    s.source_arg = arg;
    if (open_instance(&s, instance) == 0) {
        for (;;) {
            int rc = read_call(&s);
            if (rc == 1 && run_call(&s) == 0)
                continue;
            if (rc == 0 || s.eof || got_signal)
                break;
            s.pos = s.len;              /* drop the rest of the line */
            s.call.n = 0;
        }
    }
    etsmgr_disconnect(script_mgr);
    script_mgr = NULL;
    close_instance(&s);
    free(s.call.p);
    return s.status;
}

/* R.6: the calls of buf[0..len) against a fresh instance `inst`, removed at the end.  Returns
 * the exit status script_main() would (0, or 1 after a syntax or fatal error), or 2 when the
 * buffer cannot be made into input. */
int script_run_buffer(const void *buf, size_t len, const char *inst)
{
    static struct script s;     /* large (its input buffer): not on the stack */
    memset(&s, 0, sizeof s);
    s.line = 1;
    s.src = "the buffer";
    s.fd = memfd_create("shmets-script", MFD_CLOEXEC);
    if (s.fd < 0 || write(s.fd, buf, len) != (ssize_t)len || lseek(s.fd, 0, SEEK_SET) != 0) {
        say(&s, 0, "making input of %zu bytes: %s", len, strerror(errno));
        if (s.fd >= 0)
            close(s.fd);
        return 2;
    }
    sigprocmask(SIG_BLOCK, NULL, &s.waitmask);          /* waits change no mask (R.6) */
    snprintf(s.inst, sizeof s.inst, "%s", inst);
    int rc = shmets_open(s.inst, &s.db);
    if (rc) {
        say_err(&s, 0, "opening the instance", rc);
    } else {
        s.temporary = true;
        while (read_call(&s) == 1 && run_call(&s) == 0)
            ;
    }
    etsmgr_disconnect(script_mgr);
    script_mgr = NULL;
    close_instance(&s);
    free(s.call.p);
    close(s.fd);
    return s.status;
}
