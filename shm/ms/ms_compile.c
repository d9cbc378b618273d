/*
 * ms_compile.c — validating a match specification and compiling it into a program (ms.h).
 *
 * THE SPEC is the ERTS User's Guide, "Match Specifications in Erlang", for the table dialect
 * (what ets:select/2, ets:match_spec_compile/1 and ets:test_ms/2 accept), and OTP's own
 * compiler, db_match_compile() in erts/emulator/beam/erl_db_util.c, where the guide is silent.
 * We follow its behaviour, not its code:
 *
 * LINT (the errors ets:test_ms/2 reports, word for word):
 *   L.1 The spec must be a list ("Match programs are not in a list.", [] included), a proper
 *       one ("... not in a proper list."), of 3-tuples ("Match program part is not a tuple of
 *       arity 3.").  These stop everything.
 *   L.2 Clauses are compiled in order; the first clause with errors stops the compilation, and
 *       only its errors are reported.  Within a clause: the head (a map key that is a variable
 *       or '_' is an error, found in ERTS's order — structures nested in the head are looked
 *       into last-seen first — and stops at once), then every guard, then the body ("Body
 *       clause does not return anything." if it is not a non-empty list, which stops), each
 *       expression contributing all its errors, in ERTS's order: a list's elements in order, a
 *       constructed tuple's and a function's arguments last first, a map's values last first
 *       then its keys last first, andalso/orelse in order.
 *   L.3 '$N' (ERTS's reading: see ms_var_number) in a guard or body must occur in the head.
 *   L.4 A tuple in an expression is {{...}} (a constructed tuple), {const, X}, or a call whose
 *       first element is an atom that is not a variable: a guard function of that arity
 *       (ms_fn_table), a special form (and, or, andalso, orelse, self, const), or an error.
 *       The trace dialect's special forms and functions are refused with ERTS's words.
 *   L.5 Messages are cut at MS_ERR_LEN bytes, as ERTS's are, and the list at MS_MAX_ERRORS
 *       messages (ERTS has no limit; a spec with more errors than that is wrong enough).
 *   L.6 ERTS renumbers variables when a head holds one numbered 25 or more (its first guess
 *       at the number of variable slots; db_match_compile restarts after match_compact()):
 *       every atom '$N' of the whole spec, constants included, becomes '$I' with I its rank
 *       among the spec's distinct variable numbers.  So {const, '$1'} gives '$0' in
 *       [{{'$100'}, [], [{const, '$1'}]}], and the terms in messages show the new names,
 *       while "Variable $N is unbound." keeps the old number.  We do the same: when a head
 *       of the clauses compiled so far has such a variable, the renumbered copy is what is
 *       linted and compiled (the program keeps both; the source is what shmets_ms_source
 *       gives).
 * Only the table dialect of OTP 26 and later is accepted: OTP 25 refuses is_boolean/1,
 * is_bitstring/1, is_function/2, tuple_size/1, ceil/1, floor/1, min/2 and max/2 in match specs
 * (OTP 26 added them, and its manual is the spec).
 *
 * CODE GENERATION runs only on a spec that passed the lint, so it has no error paths but
 * resources.  Variables are numbered densely in the order of their numbers (as ERTS compacts
 * them), so '$$' is the clause's bound slots in order.  Heads are emitted in prefix order; a
 * ground subterm without maps becomes one H_CONST (byte comparison: canonical terms are equal
 * exactly when their bytes are), found bottom-up: a node's code is emitted optimistically and
 * taken back when all its children turned out constant, so each node costs O(1 + children).
 * Expressions are emitted in postfix order; a constant operand costs nothing at run time: it is
 * a reference into the pool, where the source spec itself lies, or, when its value is not a
 * subterm of the source ({{a, {const, b}}} is {a, b}), a value built once here by writing it
 * in plain ETF and canonicalising it (term_canon: one linear pass).  Recursion follows the
 * spec's nesting, bounded by SHMETS_TERM_MAX_DEPTH; long lists are walked by loops.
 */
#include "ms/ms.h"
#include "base/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

const unsigned char ms_nil[1] = { ETF_NIL };

const struct ms_fninfo ms_fn_table[] = {
    [F_IS_ATOM] = { "is_atom", 1, 0 },         [F_IS_FLOAT] = { "is_float", 1, 0 },
    [F_IS_INTEGER] = { "is_integer", 1, 0 },   [F_IS_LIST] = { "is_list", 1, 0 },
    [F_IS_NUMBER] = { "is_number", 1, 0 },     [F_IS_PID] = { "is_pid", 1, 0 },
    [F_IS_PORT] = { "is_port", 1, 0 },         [F_IS_REFERENCE] = { "is_reference", 1, 0 },
    [F_IS_TUPLE] = { "is_tuple", 1, 0 },       [F_IS_MAP] = { "is_map", 1, 0 },
    [F_IS_BINARY] = { "is_binary", 1, 0 },     [F_IS_FUNCTION] = { "is_function", 1, 0 },
    [F_IS_RECORD] = { "is_record", 3, 0 },     [F_IS_MAP_KEY] = { "is_map_key", 2, 0 },
    [F_ABS] = { "abs", 1, 0 },                 [F_ELEMENT] = { "element", 2, 0 },
    [F_HD] = { "hd", 1, 0 },                   [F_TL] = { "tl", 1, 0 },
    [F_LENGTH] = { "length", 1, 0 },           [F_NODE0] = { "node", 0, 0 },
    [F_NODE1] = { "node", 1, 0 },              [F_ROUND] = { "round", 1, 0 },
    [F_TRUNC] = { "trunc", 1, 0 },             [F_FLOAT] = { "float", 1, 0 },
    [F_SIZE] = { "size", 1, 0 },               [F_BIT_SIZE] = { "bit_size", 1, 0 },
    [F_BYTE_SIZE] = { "byte_size", 1, 0 },     [F_MAP_SIZE] = { "map_size", 1, 0 },
    [F_MAP_GET] = { "map_get", 2, 0 },         [F_BINARY_PART2] = { "binary_part", 2, 0 },
    [F_BINARY_PART3] = { "binary_part", 3, 0 },[F_PLUS1] = { "+", 1, 0 },
    [F_MINUS1] = { "-", 1, 0 },                [F_PLUS] = { "+", 2, 0 },
    [F_MINUS] = { "-", 2, 0 },                 [F_TIMES] = { "*", 2, 0 },
    [F_DIVIDE] = { "/", 2, 0 },                [F_DIV] = { "div", 2, 0 },
    [F_REM] = { "rem", 2, 0 },                 [F_BAND] = { "band", 2, 0 },
    [F_BOR] = { "bor", 2, 0 },                 [F_BXOR] = { "bxor", 2, 0 },
    [F_BNOT] = { "bnot", 1, 0 },               [F_BSL] = { "bsl", 2, 0 },
    [F_BSR] = { "bsr", 2, 0 },                 [F_GT] = { ">", 2, 0 },
    [F_GE] = { ">=", 2, 0 },                   [F_LT] = { "<", 2, 0 },
    [F_LE] = { "=<", 2, 0 },                   [F_EXEQ] = { "=:=", 2, 0 },
    [F_EQ] = { "==", 2, 0 },                   [F_EXNE] = { "=/=", 2, 0 },
    [F_NE] = { "/=", 2, 0 },                   [F_NOT] = { "not", 1, 0 },
    [F_XOR] = { "xor", 2, 0 },
    [F_IS_BOOLEAN] = { "is_boolean", 1, 0 },   [F_IS_BITSTRING] = { "is_bitstring", 1, 0 },
    [F_IS_FUNCTION2] = { "is_function", 2, 0 },[F_TUPLE_SIZE] = { "tuple_size", 1, 0 },
    [F_CEIL] = { "ceil", 1, 0 },               [F_FLOOR] = { "floor", 1, 0 },
    [F_MIN] = { "min", 2, 0 },                 [F_MAX] = { "max", 2, 0 },
    /* the trace dialect's functions: known, refused here */
    [F_COUNT] = { "get_tcw", 0, 1 },           [F_COUNT + 1] = { "set_tcw", 1, 1 },
    [F_COUNT + 2] = { "set_tcw_fake", 1, 1 },
};
const size_t ms_fn_table_len = F_COUNT + 3;

/* The trace dialect's special forms, with the name ERTS's message gives each. */
static const char *const trace_forms[][2] = {
    { "message", "message" }, { "is_seq_trace", "is_seq_trace" },
    { "set_seq_token", "set_seq_trace" }, { "get_seq_token", "get_seq_token" },
    { "return_trace", "return_trace" }, { "exception_trace", "exception_trace" },
    { "display", "display" }, { "process_dump", "process_dump" },
    { "enable_trace", "enable_trace" }, { "disable_trace", "disable_trace" },
    { "trace", "trace" }, { "caller", "caller" }, { "silent", "silent" },
    { "caller_line", "caller_line" },
};

int ms_var_number(const unsigned char *p)
{
    size_t n;
    if (!ms_is_atom(p))
        return -1;
    const char *s = term_atom_text(p, &n);
    if (n < 2 || s[0] != '$')
        return -1;
    if (s[1] == '0')
        return n == 2 ? 0 : -1;
    uint32_t v = 0;
    for (size_t i = 1; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10u + (uint32_t)(s[i] - '0');
    }
    return (int32_t)v < 0 ? -1 : (int)(int32_t)v;
}

static int is_var_or_any(const unsigned char *p)
{
    return ms_var_number(p) >= 0 || ms_atom_is(p, "_");
}

int ms_is_ground(const unsigned char *p)
{
    switch (p[0]) {
    case ETF_SMALL_ATOM_UTF8: case ETF_ATOM_UTF8:
        return !is_var_or_any(p);
    case ETF_SMALL_TUPLE: case ETF_LARGE_TUPLE: {
        uint32_t n = ms_tuple_arity(p);
        const unsigned char *e = ms_tuple_first(p);
        for (uint32_t i = 0; i < n; i++, e = term_end(e))
            if (!ms_is_ground(e))
                return 0;
        return 1;
    }
    case ETF_LIST: {
        uint32_t n = get_be32(p + 1);
        const unsigned char *e = p + 5;
        for (uint32_t i = 0; i < n; i++, e = term_end(e))
            if (!ms_is_ground(e))
                return 0;
        return ms_is_ground(e);
    }
    case ETF_MAP: {
        uint64_t n = 2 * (uint64_t)get_be32(p + 1);
        const unsigned char *e = p + 5;
        for (uint64_t i = 0; i < n; i++, e = term_end(e))
            if (!ms_is_ground(e))
                return 0;
        return 1;
    }
    default:
        return 1;
    }
}

void ms_errors_init(struct ms_errors *e)
{
    tbuf_init(&e->text, (size_t)1 << 30);
    e->n = 0;
}

void ms_errors_free(struct ms_errors *e)
{
    tbuf_free(&e->text);
    e->n = 0;
}

/* ---- the compiler's state ---- */

struct cc {
    const unsigned char *spec;  /* the spec being compiled: the source, or its renumbered copy */
    size_t spec_len;
    const unsigned char *src;   /* the source */
    size_t src_len;
    uint32_t spec_base;         /* pool offset of spec */
    uint32_t built_base;        /* pool offset of the built constants */
    int32_t *orig;              /* renumbered: slot number -> the source's variable number */
    size_t norig;
    struct ms_errors *errs;     /* NULL: stop at the first error */
    size_t nerr;                /* errors so far */
    int rc;                     /* a resource error (negative), sticky */
    int32_t *vars;              /* distinct head variables, ascending: slot = index */
    size_t nvars;
    unsigned char *bound;       /* this clause: slot bound in its head */
    struct tbuf code, built, clauses;
    uint32_t stack_used, stack_need, depth_need;
};

static void oom(struct cc *c, int rc)
{
    if (!c->rc)
        c->rc = rc ? rc : err_set(SHMETS_ENOMEM, "out of memory compiling a match specification");
}

/* Record an error message (already formatted in t[0..n)). */
static void add_error(struct cc *c, const char *t, size_t n)
{
    if (n > MS_ERR_LEN)
        n = MS_ERR_LEN;
    if (c->nerr == 0)
        err_set(SHMETS_EINVAL, "match specification: %.*s", (int)n, t);
    c->nerr++;
    if (c->errs && c->errs->n < MS_MAX_ERRORS) {
        tbuf_put(&c->errs->text, t, n);
        tbuf_byte(&c->errs->text, 0);
        if (c->errs->text.err)
            oom(c, c->errs->text.err);
        c->errs->n++;
    }
}

static void err_text(struct cc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void err_text(struct cc *c, const char *fmt, ...)
{
    char s[MS_ERR_LEN + 64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s, sizeof s, fmt, ap);
    va_end(ap);
    add_error(c, s, n < 0 ? 0 : (size_t)n >= sizeof s ? sizeof s - 1 : (size_t)n);
}

/* pre + %T(t) + post */
static void err_term(struct cc *c, const char *pre, const unsigned char *t, const char *post)
{
    struct tbuf b;
    tbuf_init(&b, (size_t)1 << 20);
    tbuf_put(&b, pre, strlen(pre));
    ms_fmt_term(&b, t, MS_ERR_LEN + 1);
    tbuf_put(&b, post, strlen(post));
    if (b.err)
        oom(c, b.err);
    else
        add_error(c, (const char *)b.p, b.len);
    tbuf_free(&b);
}

/* The index of n in the sorted array a[0..len), or -1. */
static int sorted_index(const int32_t *a, size_t len, int32_t n)
{
    size_t lo = 0, hi = len;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (a[m] < n)
            lo = m + 1;
        else if (a[m] > n)
            hi = m;
        else
            return (int)m;
    }
    return -1;
}

static int var_slot(const struct cc *c, int32_t n)
{
    return sorted_index(c->vars, c->nvars, n);
}

/* ---- head variables (all clauses, for the dense numbering) ---- */

/* Every variable number in p, appended to *arr (*n of them, room for *cap).  map_keys: look
 * into map keys too (the renumbering sees every '$N' atom; a head's keys are constants). */
static void gather_vars(struct cc *c, const unsigned char *p, int32_t **arr, size_t *n, size_t *cap, int map_keys)
{
    switch (p[0]) {
    case ETF_SMALL_ATOM_UTF8: case ETF_ATOM_UTF8: {
        int v = ms_var_number(p);
        if (v < 0)
            return;
        if (*n == *cap) {
            size_t nc = *cap ? 2 * *cap : 16;
            int32_t *a = realloc(*arr, nc * sizeof *a);
            if (!a) {
                oom(c, 0);
                return;
            }
            *arr = a;
            *cap = nc;
        }
        (*arr)[(*n)++] = v;
        return;
    }
    case ETF_SMALL_TUPLE: case ETF_LARGE_TUPLE: {
        uint32_t k = ms_tuple_arity(p);
        const unsigned char *e = ms_tuple_first(p);
        for (uint32_t i = 0; i < k; i++, e = term_end(e))
            gather_vars(c, e, arr, n, cap, map_keys);
        return;
    }
    case ETF_LIST: {                    /* the elements and the tail */
        uint32_t k = get_be32(p + 1);
        const unsigned char *e = p + 5;
        for (uint32_t i = 0; i <= k; i++, e = term_end(e))
            gather_vars(c, e, arr, n, cap, map_keys);
        return;
    }
    case ETF_MAP: {
        uint32_t k = get_be32(p + 1);
        const unsigned char *e = p + 5;
        for (uint32_t i = 0; i < k; i++) {
            if (map_keys)
                gather_vars(c, e, arr, n, cap, map_keys);
            e = term_end(e);
            gather_vars(c, e, arr, n, cap, map_keys);
            e = term_end(e);
        }
        return;
    }
    default:
        return;
    }
}

/* A head's variables (values of maps only: keys are constants). */
static void collect_vars(struct cc *c, const unsigned char *p, size_t *cap)
{
    gather_vars(c, p, &c->vars, &c->nvars, cap, 0);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Mark the slots a head binds (this clause). */
static void mark_bound(struct cc *c, const unsigned char *p)
{
    switch (p[0]) {
    case ETF_SMALL_ATOM_UTF8: case ETF_ATOM_UTF8: {
        int n = ms_var_number(p);
        if (n >= 0)
            c->bound[var_slot(c, n)] = 1;
        return;
    }
    case ETF_SMALL_TUPLE: case ETF_LARGE_TUPLE: {
        uint32_t n = ms_tuple_arity(p);
        const unsigned char *e = ms_tuple_first(p);
        for (uint32_t i = 0; i < n; i++, e = term_end(e))
            mark_bound(c, e);
        return;
    }
    case ETF_LIST: {
        uint32_t n = get_be32(p + 1);
        const unsigned char *e = p + 5;
        for (uint32_t i = 0; i < n; i++, e = term_end(e))
            mark_bound(c, e);
        mark_bound(c, e);
        return;
    }
    case ETF_MAP: {
        uint32_t n = get_be32(p + 1);
        const unsigned char *e = p + 5;
        for (uint32_t i = 0; i < n; i++) {
            e = term_end(e);
            mark_bound(c, e);
            e = term_end(e);
        }
        return;
    }
    default:
        return;
    }
}

/* ---- lint: the head (L.2) ---- */

static int is_compound(const unsigned char *p)
{
    return ms_is_tuple(p) || p[0] == ETF_MAP || p[0] == ETF_LIST;
}

/* ERTS looks into the head's structures with a stack: a structure's compound elements are
 * pushed as they are met and looked into after it, last pushed first.  Map keys that are a
 * variable or '_' are errors; the first stops the compilation.  Returns 1 if one was found. */
static int lint_head(struct cc *c, const unsigned char *head)
{
    size_t n = 0, cap = 16;
    const unsigned char **st = malloc(cap * sizeof *st);
    if (!st) {
        oom(c, 0);
        return 1;
    }
    st[n++] = head;
    int bad = 0;
    while (n && !bad) {
        const unsigned char *p = st[--n];
        uint64_t nk = 0;
        const unsigned char *e = NULL;
        int map = 0;
        if (ms_is_tuple(p)) {
            nk = ms_tuple_arity(p);
            e = ms_tuple_first(p);
        } else if (p[0] == ETF_LIST) {
            nk = (uint64_t)get_be32(p + 1) + 1;     /* the elements and the tail */
            e = p + 5;
        } else if (p[0] == ETF_MAP) {
            nk = get_be32(p + 1);
            e = p + 5;
            map = 1;
        }
        for (uint64_t i = 0; i < nk && !bad; i++) {
            const unsigned char *x = e;
            if (map) {
                if (ms_var_number(x) >= 0) {
                    err_text(c, "Variable found in map key.");
                    bad = 1;
                } else if (ms_atom_is(x, "_")) {
                    err_text(c, "Underscore found in map key.");
                    bad = 1;
                }
                x = term_end(x);
            }
            e = term_end(x);
            if (!bad && is_compound(x)) {
                if (n == cap) {
                    const unsigned char **s2 = realloc(st, 2 * cap * sizeof *st);
                    if (!s2) {
                        oom(c, 0);
                        bad = 1;
                        break;
                    }
                    st = s2;
                    cap *= 2;
                }
                st[n++] = x;
            }
        }
    }
    free(st);
    return bad;
}

/* ---- lint: guards and bodies (L.2 - L.4) ---- */

/* Each lint function returns 1 if the expression is a constant without errors (ERTS's
 * "constant" flag, which an error clears), else 0: a map's keys are looked at a second time
 * when its values are constant and its keys are not, and their errors are reported again. */
static int lint_expr(struct cc *c, const unsigned char *t);

/* n expressions at ptrs, last first. */
static int lint_reversed(struct cc *c, const unsigned char *const *ptrs, uint32_t n)
{
    int all = 1;
    for (uint32_t i = n; i-- > 0 && !c->rc;)
        all &= lint_expr(c, ptrs[i]);
    return all;
}

/* The elements of a tuple, last first. */
static int lint_elements_reversed(struct cc *c, const unsigned char *first, uint32_t n)
{
    const unsigned char *stack_[16] = { NULL }, **ptrs = stack_;
    if (n > 16 && !(ptrs = malloc(n * sizeof *ptrs))) {
        oom(c, 0);
        return 0;
    }
    const unsigned char *e = first;
    for (uint32_t i = 0; i < n; i++, e = term_end(e))
        ptrs[i] = e;
    int all = lint_reversed(c, ptrs, n);
    if (ptrs != stack_)
        free(ptrs);
    return all;
}

static int lookup_fn(const unsigned char *name, unsigned arity)
{
    size_t n;
    const char *s = term_atom_text(name, &n);
    for (size_t i = 0; i < ms_fn_table_len; i++)
        if (ms_fn_table[i].arity == arity && strlen(ms_fn_table[i].name) == n
            && memcmp(ms_fn_table[i].name, s, n) == 0)
            return (int)i;
    return -1;
}

static int lint_call(struct cc *c, const unsigned char *t)
{
    uint32_t a = ms_tuple_arity(t);
    const unsigned char *name = ms_tuple_first(t), *args = term_end(name);
    if (ms_atom_is(name, "const")) {
        if (a != 2) {
            err_term(c, "Special form 'const' called with more than one argument in ", t, ".");
            return 0;
        }
        return 1;
    }
    if (ms_atom_is(name, "and") || ms_atom_is(name, "or")) {
        if (a < 2)
            err_term(c, ms_atom_is(name, "and") ? "Special form 'and' called without arguments in "
                                                : "Special form 'or' called without arguments in ", t, ".");
        else
            lint_elements_reversed(c, args, a - 1);
        return 0;
    }
    if (ms_atom_is(name, "andalso") || ms_atom_is(name, "andthen") || ms_atom_is(name, "orelse")) {
        if (a < 2) {
            err_term(c, ms_atom_is(name, "orelse") ? "Special form 'orelse' called without arguments in "
                                                   : "Special form 'andalso' called without arguments in ", t, ".");
            return 0;
        }
        for (uint32_t i = 1; i < a && !c->rc; i++, args = term_end(args))
            lint_expr(c, args);
        return 0;
    }
    if (ms_atom_is(name, "self")) {
        if (a != 1)
            err_term(c, "Special form 'self' called with arguments in ", t, ".");
        return 0;
    }
    for (size_t i = 0; i < sizeof trace_forms / sizeof trace_forms[0]; i++)
        if (ms_atom_is(name, trace_forms[i][0])) {
            err_text(c, "Special form '%s' used in wrong dialect.", trace_forms[i][1]);
            return 0;
        }
    int f = lookup_fn(name, a - 1);
    if (f < 0 || ms_fn_table[f].trace_only) {
        char post[64];
        snprintf(post, sizeof post, "/%u %s", a - 1,
                 f < 0 ? "does_not_exist." : "cannot be called in this context.");
        err_term(c, "Function ", name, post);
        return 0;
    }
    lint_elements_reversed(c, args, a - 1);
    return 0;
}

static int lint_expr(struct cc *c, const unsigned char *t)
{
    switch (t[0]) {
    case ETF_LIST: {
        uint32_t n = get_be32(t + 1);
        const unsigned char *e = t + 5;
        int all = 1;
        for (uint32_t i = 0; i < n && !c->rc; i++, e = term_end(e))
            all &= lint_expr(c, e);
        return lint_expr(c, e) & all;
    }
    case ETF_SMALL_TUPLE: case ETF_LARGE_TUPLE: {
        uint32_t a = ms_tuple_arity(t);
        const unsigned char *first = ms_tuple_first(t);
        if (a == 1 && ms_is_tuple(first))
            return lint_elements_reversed(c, ms_tuple_first(first), ms_tuple_arity(first));
        if (a >= 1 && ms_is_atom(first) && ms_var_number(first) < 0)
            return lint_call(c, t);
        err_term(c, "", t, " is neither a function call, nor a tuple (tuples are written {{ ... }}).");
        return 0;
    }
    case ETF_MAP: {
        uint32_t n = get_be32(t + 1);
        const unsigned char *stack_[32] = { NULL }, **kv = stack_;
        if (n > 16 && !(kv = malloc(2 * (size_t)n * sizeof *kv))) {
            oom(c, 0);
            return 0;
        }
        const unsigned char **keys = kv, **vals = kv + n;
        const unsigned char *e = t + 5;
        for (uint32_t i = 0; i < n; i++) {
            keys[i] = e;
            vals[i] = e = term_end(e);
            e = term_end(e);
        }
        int vconst = lint_reversed(c, vals, n);
        size_t at_text = c->errs ? c->errs->text.len : 0, at_n = c->errs ? c->errs->n : 0, at_nerr = c->nerr;
        int kconst = lint_reversed(c, keys, n);
        if (vconst && !kconst && c->nerr > at_nerr) {
            /* ERTS lints the keys again: the same messages again.  Copied, not recomputed: a
             * recomputation would double at every level of maps nested in keys. */

            if (c->errs) {
                size_t cnt = c->errs->n - at_n, off = at_text;
                for (size_t i = 0; i < cnt && c->errs->n < MS_MAX_ERRORS; i++) {
                    size_t ml = strlen((const char *)c->errs->text.p + off) + 1;
                    unsigned char *d = tbuf_room(&c->errs->text, ml);
                    if (!d) {
                        oom(c, c->errs->text.err);
                        break;
                    }
                    memcpy(d, c->errs->text.p + off, ml);
                    c->errs->text.len += ml;
                    c->errs->n++;
                    off += ml;
                }
            }
        }
        if (kv != stack_)
            free(kv);
        return vconst && kconst;
    }
    case ETF_SMALL_ATOM_UTF8: case ETF_ATOM_UTF8: {
        int n = ms_var_number(t);
        if (n >= 0) {
            int s = var_slot(c, n);
            if (s < 0 || !c->bound[s])
                err_text(c, "Variable $%d is unbound.", c->orig && (size_t)n < c->norig ? (int)c->orig[n] : n);
            return 0;
        }
        return !ms_atom_is(t, "$_") && !ms_atom_is(t, "$$");
    }
    default:
        return 1;
    }
}

/* A guard list or a body list (ERTS's compile_guard_expr). */
static void lint_list(struct cc *c, const unsigned char *l)
{
    if (l[0] == ETF_NIL)
        return;
    if (!ms_is_cons(l)) {
        err_text(c, "Match expression is not a list.");
        return;
    }
    if (l[0] == ETF_STRING)
        return;
    uint32_t n = get_be32(l + 1);
    const unsigned char *e = l + 5;
    for (uint32_t i = 0; i < n && !c->rc; i++, e = term_end(e))
        lint_expr(c, e);
    if (e[0] != ETF_NIL)
        err_text(c, "Match expression is not a proper list.");
}

/* ---- code generation: heads ---- */

static void emit8(struct cc *c, unsigned v) { tbuf_byte(&c->code, (unsigned char)v); }
static void emit32(struct cc *c, uint32_t v)
{
    unsigned char b[4];
    ms_put_le32(b, v);
    tbuf_put(&c->code, b, 4);
}
/* A constant operand: the value's pool offset + 1, then its length. */
static void emit_const(struct cc *c, uint32_t pool_off, uint32_t len)
{
    emit32(c, pool_off + 1);
    emit32(c, len);
}
static void emit_spec_const(struct cc *c, const unsigned char *t, const unsigned char *end)
{
    emit_const(c, c->spec_base + (uint32_t)(t - c->spec), (uint32_t)(end - t));
}

/* Emit the pattern t.  Returns 1 if t is a ground, map-free subterm (then nothing is emitted:
 * the caller emits it as a constant), 0 if code was emitted.  *end gets the end of t. */
static int gen_pat(struct cc *c, const unsigned char *t, uint32_t depth, const unsigned char **end)
{
    if (depth > c->depth_need)
        c->depth_need = depth;
    switch (t[0]) {
    case ETF_SMALL_ATOM_UTF8: case ETF_ATOM_UTF8: {
        *end = term_end(t);
        if (ms_atom_is(t, "_")) {
            emit8(c, H_ANY);
            return 0;
        }
        int n = ms_var_number(t);
        if (n < 0)
            return 1;
        int s = var_slot(c, n);
        emit8(c, c->bound[s] ? H_CMP : H_BIND);
        emit32(c, (uint32_t)s);
        c->bound[s] = 1;
        return 0;
    }
    case ETF_SMALL_TUPLE: case ETF_LARGE_TUPLE: {
        size_t pos = c->code.len;
        uint32_t n = ms_tuple_arity(t);
        const unsigned char *e = ms_tuple_first(t);
        emit8(c, H_TUPLE);
        emit32(c, n);
        int all = 1;
        for (uint32_t i = 0; i < n; i++) {
            const unsigned char *ee;
            if (gen_pat(c, e, depth + 1, &ee)) {
                emit8(c, H_CONST);
                emit_spec_const(c, e, ee);
            } else {
                all = 0;
            }
            e = ee;
        }
        *end = e;
        if (all && !c->code.err)
            c->code.len = pos;
        return all;
    }
    case ETF_LIST: {
        size_t pos = c->code.len;
        uint32_t n = get_be32(t + 1);
        const unsigned char *e = t + 5;
        emit8(c, H_LIST);
        emit32(c, n);
        size_t mode_at = c->code.len;
        emit8(c, MS_TAIL_PAT);
        emit32(c, 0);
        int all = 1;
        for (uint32_t i = 0; i < n; i++) {
            const unsigned char *ee;
            if (gen_pat(c, e, depth + 1, &ee)) {
                emit8(c, H_CONST);
                emit_spec_const(c, e, ee);
            } else {
                all = 0;
            }
            e = ee;
        }
        /* The tail: '_', a variable, or a pattern for the list's own tail (not a list). */
        int v = ms_var_number(e);
        *end = term_end(e);
        if (ms_atom_is(e, "_") || v >= 0) {
            all = 0;
            if (!c->code.err) {
                unsigned mode = MS_TAIL_ANY;
                uint32_t s = 0;
                if (v >= 0) {
                    s = (uint32_t)var_slot(c, v);
                    mode = c->bound[s] ? MS_TAIL_CMP : MS_TAIL_BIND;
                    c->bound[s] = 1;
                }
                c->code.p[mode_at] = (unsigned char)mode;
                ms_put_le32(c->code.p + mode_at + 1, s);
            }
        } else {
            const unsigned char *ee;
            if (gen_pat(c, e, depth + 1, &ee)) {
                emit8(c, H_CONST);
                emit_spec_const(c, e, ee);
            } else {
                all = 0;
            }
        }
        if (all && !c->code.err)
            c->code.len = pos;
        return all;
    }
    case ETF_MAP: {                     /* never a constant: a map pattern matches supersets */
        uint32_t n = get_be32(t + 1);
        const unsigned char *e = t + 5;
        emit8(c, H_MAP);
        emit32(c, n);
        for (uint32_t i = 0; i < n; i++) {
            const unsigned char *k = e, *ee;
            e = term_end(k);
            emit_spec_const(c, k, e);
            if (gen_pat(c, e, depth + 1, &ee)) {
                emit8(c, H_CONST);
                emit_spec_const(c, e, ee);
            }
            e = ee;
        }
        *end = e;
        return 0;
    }
    default:
        *end = term_end(t);
        return 1;
    }
}

/* ---- code generation: expressions ---- */

/* What an expression compiled to: a value on the stack, or a constant (val: where its value
 * stands in the spec, or NULL if it must be built). */
struct res {
    int stack;
    const unsigned char *t, *val;
};

static void push1(struct cc *c)
{
    if (++c->stack_used > c->stack_need)
        c->stack_need = c->stack_used;
}

/* The value of a constant expression in plain ETF (term_canon makes it canonical). */
static void plain_value(struct tbuf *b, const unsigned char *t)
{
    switch (t[0]) {
    case ETF_SMALL_TUPLE: case ETF_LARGE_TUPLE: {
        const unsigned char *first = ms_tuple_first(t);
        if (ms_tuple_arity(t) == 2 && ms_atom_is(first, "const")) {
            const unsigned char *x = term_end(first);
            tbuf_put(b, x, (size_t)(term_end(x) - x));
            return;
        }
        /* {{...}} */
        uint32_t n = ms_tuple_arity(first);
        const unsigned char *e = ms_tuple_first(first);
        tbuf_byte(b, ETF_LARGE_TUPLE);
        tbuf_be32(b, n);
        for (uint32_t i = 0; i < n; i++, e = term_end(e))
            plain_value(b, e);
        return;
    }
    case ETF_LIST: {
        uint32_t n = get_be32(t + 1);
        const unsigned char *e = t + 5;
        tbuf_byte(b, ETF_LIST);
        tbuf_be32(b, n);
        for (uint32_t i = 0; i < n; i++, e = term_end(e))
            plain_value(b, e);
        plain_value(b, e);
        return;
    }
    case ETF_MAP: {
        uint32_t n = get_be32(t + 1);
        const unsigned char *e = t + 5;
        tbuf_byte(b, ETF_MAP);
        tbuf_be32(b, n);
        for (uint32_t i = 0; i < 2 * n; i++, e = term_end(e))
            plain_value(b, e);
        return;
    }
    default:
        tbuf_put(b, t, (size_t)(term_end(t) - t));
        return;
    }
}

/* Emit the operand for r (0 if on the stack). */
static void emit_operand(struct cc *c, const struct res *r)
{
    if (r->stack) {
        emit32(c, 0);
        emit32(c, 0);
        return;
    }
    if (r->val) {
        emit_spec_const(c, r->val, term_end(r->val));
        return;
    }
    struct tbuf b;
    shmets_term v = { NULL, 0 };
    tbuf_init(&b, SHMETS_TERM_MAX_SIZE);
    plain_value(&b, r->t);
    int rc = b.err ? b.err : term_canon(b.p, b.len, SHMETS_ETF_NO_VERSION | CANON_MAP_LAST_WINS, &v);
    tbuf_free(&b);
    if (rc) {
        oom(c, rc);
        return;
    }
    emit_const(c, c->built_base + (uint32_t)c->built.len, (uint32_t)v.len);
    tbuf_put(&c->built, v.ptr, v.len);
    shmets_term_free(&v);
}

/* An integer 0..255 of a string (a byte, not a term in the spec) as a built constant. */
static void emit_small_int(struct cc *c, unsigned char v)
{
    unsigned char t[2] = { ETF_SMALL_INTEGER, v };
    emit_const(c, c->built_base + (uint32_t)c->built.len, 2);
    tbuf_put(&c->built, t, 2);
}

/* Put r on the stack if it is a constant. */
static void materialize(struct cc *c, const struct res *r)
{
    if (!r->stack) {
        emit8(c, E_PUSH);
        emit_operand(c, r);
        push1(c);
    }
}

static struct res gen_expr(struct cc *c, const unsigned char *t);

/* Compile n sub-expressions (given by pointer) and emit op with their operands. */
static struct res gen_op(struct cc *c, const unsigned char *t, unsigned op, uint32_t count,
                         const unsigned char *const *xs, size_t n, int fold)
{
    struct res r0[8] = { { 0, NULL, NULL } }, *rs = r0;
    if (n > 8 && !(rs = malloc(n * sizeof *rs))) {
        oom(c, 0);
        return (struct res){ 1, t, NULL };
    }
    int all = 1, plain = 1;
    for (size_t i = 0; i < n; i++) {
        rs[i] = gen_expr(c, xs[i]);
        all &= !rs[i].stack;
        plain &= !rs[i].stack && rs[i].val == xs[i];
    }
    struct res r = { 1, t, NULL };
    if (fold && all) {
        r.stack = 0;
        r.val = plain && op != E_TUPLE ? t : NULL;
    } else {
        emit8(c, op);
        if (op != E_LIST)
            emit32(c, count);
        else
            emit32(c, (uint32_t)n - 1);
        uint32_t popped = 0;
        for (size_t i = 0; i < n; i++) {
            emit_operand(c, &rs[i]);
            popped += rs[i].stack;
        }
        c->stack_used -= popped;
        push1(c);
    }
    if (rs != r0)
        free(rs);
    return r;
}

/* Pointers to n consecutive subterms from e (caller frees if not the given array). */
static const unsigned char **subterms(struct cc *c, const unsigned char *e, size_t n,
                                      const unsigned char **small, size_t nsmall)
{
    const unsigned char **xs = small;
    if (n > nsmall && !(xs = malloc(n * sizeof *xs))) {
        oom(c, 0);
        return NULL;
    }
    for (size_t i = 0; i < n; i++, e = term_end(e))
        xs[i] = e;
    return xs;
}

static struct res gen_logic(struct cc *c, const unsigned char *t, int orelse)
{
    uint32_t a = ms_tuple_arity(t);
    const unsigned char *e = term_end(ms_tuple_first(t));
    size_t *fix = malloc(a * sizeof *fix), nfix = 0;
    if (!fix) {
        oom(c, 0);
        return (struct res){ 1, t, NULL };
    }
    for (uint32_t i = 1; i < a; i++, e = term_end(e)) {
        struct res r = gen_expr(c, e);
        materialize(c, &r);
        if (i + 1 < a) {
            emit8(c, orelse ? E_ORELSE : E_ANDALSO);
            fix[nfix++] = c->code.len;
            emit32(c, 0);
            c->stack_used--;
        }
    }
    /* Every jump goes to the end: past the last argument's code. */
    for (size_t i = 0; i < nfix && !c->code.err; i++)
        ms_put_le32(c->code.p + fix[i], (uint32_t)(c->code.len - (fix[i] + 4)));
    free(fix);
    return (struct res){ 1, t, NULL };
}

static struct res gen_call(struct cc *c, const unsigned char *t)
{
    uint32_t a = ms_tuple_arity(t);
    const unsigned char *name = ms_tuple_first(t), *args = term_end(name);
    if (ms_atom_is(name, "const"))
        return (struct res){ 0, t, args };
    if (ms_atom_is(name, "self")) {
        emit8(c, E_SELF);
        push1(c);
        return (struct res){ 1, t, NULL };
    }
    if (ms_atom_is(name, "andalso") || ms_atom_is(name, "andthen"))
        return gen_logic(c, t, 0);
    if (ms_atom_is(name, "orelse"))
        return gen_logic(c, t, 1);
    const unsigned char *small[8] = { NULL }, **xs = subterms(c, args, a - 1, small, 8);
    if (!xs)
        return (struct res){ 1, t, NULL };
    struct res r;
    if (ms_atom_is(name, "and") || ms_atom_is(name, "or"))
        r = gen_op(c, t, ms_atom_is(name, "and") ? E_AND : E_OR, a - 1, xs, a - 1, 0);
    else
        r = gen_op(c, t, E_CALL, (uint32_t)lookup_fn(name, a - 1), xs, a - 1, 0);
    if (xs != small)
        free(xs);
    return r;
}

static struct res gen_expr(struct cc *c, const unsigned char *t)
{
    switch (t[0]) {
    case ETF_LIST: {
        uint32_t n = get_be32(t + 1);
        const unsigned char *small[8] = { NULL }, **xs = subterms(c, t + 5, (size_t)n + 1, small, 8);
        if (!xs)
            return (struct res){ 1, t, NULL };
        struct res r = gen_op(c, t, E_LIST, n, xs, (size_t)n + 1, 1);
        if (xs != small)
            free(xs);
        return r;
    }
    case ETF_SMALL_TUPLE: case ETF_LARGE_TUPLE: {
        const unsigned char *first = ms_tuple_first(t);
        if (ms_tuple_arity(t) == 1 && ms_is_tuple(first)) {
            uint32_t n = ms_tuple_arity(first);
            const unsigned char *small[8] = { NULL }, **xs = subterms(c, ms_tuple_first(first), n, small, 8);
            if (!xs)
                return (struct res){ 1, t, NULL };
            struct res r = gen_op(c, t, E_TUPLE, n, xs, n, 1);
            if (xs != small)
                free(xs);
            return r;
        }
        return gen_call(c, t);
    }
    case ETF_MAP: {
        uint32_t n = get_be32(t + 1);
        const unsigned char *small[8] = { NULL }, **xs = subterms(c, t + 5, 2 * (size_t)n, small, 8);
        if (!xs)
            return (struct res){ 1, t, NULL };
        struct res r = gen_op(c, t, E_MAP, n, xs, 2 * (size_t)n, 1);
        if (xs != small)
            free(xs);
        return r;
    }
    case ETF_SMALL_ATOM_UTF8: case ETF_ATOM_UTF8: {
        int n = ms_var_number(t);
        if (n >= 0) {
            emit8(c, E_VAR);
            emit32(c, (uint32_t)var_slot(c, n));
        } else if (ms_atom_is(t, "$_")) {
            emit8(c, E_OBJ);
        } else if (ms_atom_is(t, "$$")) {
            uint32_t k = 0;
            for (size_t i = 0; i < c->nvars; i++)
                k += c->bound[i];
            emit8(c, E_BINDINGS);
            emit32(c, k);
            for (size_t i = 0; i < c->nvars; i++)
                if (c->bound[i])
                    emit32(c, (uint32_t)i);
        } else {
            return (struct res){ 0, t, t };
        }
        push1(c);
        return (struct res){ 1, t, NULL };
    }
    default:
        return (struct res){ 0, t, t };
    }
}

/* ---- the clauses ---- */

static const unsigned char *tuple_el(const unsigned char *t, uint32_t i)
{
    const unsigned char *e = ms_tuple_first(t);
    while (i-- > 0)
        e = term_end(e);
    return e;
}

/* Lint one clause; returns 1 if it has errors. */
static int lint_clause(struct cc *c, const unsigned char *cl)
{
    size_t before = c->nerr;
    const unsigned char *head = tuple_el(cl, 0), *guard = term_end(head), *body = term_end(guard);
    if (lint_head(c, head))
        return 1;
    memset(c->bound, 0, c->nvars);
    mark_bound(c, head);
    lint_list(c, guard);
    if (!ms_is_cons(body)) {
        err_text(c, "Body clause does not return anything.");
        return 1;
    }
    lint_list(c, body);
    return c->nerr > before || c->rc;
}

static void gen_clause(struct cc *c, const unsigned char *cl)
{
    const unsigned char *head = tuple_el(cl, 0), *guard = term_end(head), *body = term_end(guard);
    memset(c->bound, 0, c->nvars);
    const unsigned char *end;
    if (gen_pat(c, head, 1, &end)) {
        emit8(c, H_CONST);
        emit_spec_const(c, head, end);
    }
    emit8(c, H_END);
    c->stack_used = 0;
    if (ms_is_cons(guard)) {
        struct term_lcur lc;
        term_lcur_init(&lc, guard);
        const unsigned char *g;
        while ((g = term_lcur_next(&lc)) != NULL) {
            if (lc.str) {                   /* a string as a guard list: integers */
                emit8(c, G_TEST);
                emit_small_int(c, g[1]);
            } else {
                struct res r = gen_expr(c, g);
                emit8(c, G_TEST);
                emit_operand(c, &r);
                c->stack_used -= (uint32_t)r.stack;
            }
        }
    }
    emit8(c, B_BEGIN);
    /* Only the last body expression counts (no side effects in the table dialect). */
    struct term_lcur lc;
    term_lcur_init(&lc, body);
    const unsigned char *x, *last = NULL;
    int last_str = 0;
    while ((x = term_lcur_next(&lc)) != NULL) {
        last = x;
        last_str = lc.str;
    }
    if (last_str) {
        emit8(c, B_RETURN);
        emit_small_int(c, last[1]);
    } else {
        struct res r = gen_expr(c, last);
        emit8(c, B_RETURN);
        emit_operand(c, &r);
    }
}

/* ---- L.6: ERTS's renumbering ---- */

/* Does the head hold a variable numbered 25 or more (ERTS's DMC_DEFAULT_SIZE)? */
static int head_big_var(const unsigned char *p)
{
    switch (p[0]) {
    case ETF_SMALL_ATOM_UTF8: case ETF_ATOM_UTF8:
        return ms_var_number(p) >= 25;
    case ETF_SMALL_TUPLE: case ETF_LARGE_TUPLE: {
        uint32_t n = ms_tuple_arity(p);
        const unsigned char *e = ms_tuple_first(p);
        for (uint32_t i = 0; i < n; i++, e = term_end(e))
            if (head_big_var(e))
                return 1;
        return 0;
    }
    case ETF_LIST: {
        uint32_t n = get_be32(p + 1);
        const unsigned char *e = p + 5;
        for (uint32_t i = 0; i <= n; i++, e = term_end(e))
            if (head_big_var(e))
                return 1;
        return 0;
    }
    case ETF_MAP: {
        uint32_t n = get_be32(p + 1);
        const unsigned char *e = p + 5;
        for (uint32_t i = 0; i < n; i++) {
            e = term_end(e);
            if (head_big_var(e))
                return 1;
            e = term_end(e);
        }
        return 0;
    }
    default:
        return 0;
    }
}

/* Every variable number anywhere in t (keys, constants and all). */
static void all_vars(struct cc *c, const unsigned char *p, size_t *cap)
{
    gather_vars(c, p, &c->orig, &c->norig, cap, 1);
}

static int orig_rank(const struct cc *c, int32_t n)
{
    return sorted_index(c->orig, c->norig, n);
}

/* The source in plain ETF with each '$N' written '$rank'. */
static void renumber(const struct cc *c, struct tbuf *b, const unsigned char *p)
{
    switch (p[0]) {
    case ETF_SMALL_ATOM_UTF8: case ETF_ATOM_UTF8: {
        int n = ms_var_number(p);
        if (n >= 0) {
            char s[16];
            int k = snprintf(s, sizeof s, "$%d", orig_rank(c, n));
            etf_put_atom(b, s, (size_t)k);
        } else {
            tbuf_put(b, p, (size_t)(term_end(p) - p));
        }
        return;
    }
    case ETF_SMALL_TUPLE: case ETF_LARGE_TUPLE: {
        uint32_t n = ms_tuple_arity(p);
        const unsigned char *e = ms_tuple_first(p);
        tbuf_byte(b, ETF_LARGE_TUPLE);
        tbuf_be32(b, n);
        for (uint32_t i = 0; i < n; i++, e = term_end(e))
            renumber(c, b, e);
        return;
    }
    case ETF_LIST: {
        uint32_t n = get_be32(p + 1);
        const unsigned char *e = p + 5;
        tbuf_byte(b, ETF_LIST);
        tbuf_be32(b, n);
        for (uint32_t i = 0; i <= n; i++, e = term_end(e))
            renumber(c, b, e);
        return;
    }
    case ETF_MAP: {
        uint32_t n = get_be32(p + 1);
        const unsigned char *e = p + 5;
        tbuf_byte(b, ETF_MAP);
        tbuf_be32(b, n);
        for (uint64_t i = 0; i < 2 * (uint64_t)n; i++, e = term_end(e))
            renumber(c, b, e);
        return;
    }
    default:
        tbuf_put(b, p, (size_t)(term_end(p) - p));
        return;
    }
}

/* Compile the renumbered copy of the source from now on (L.6). */
static int use_renumbered(struct cc *c, shmets_term *copy)
{
    size_t cap = 0;
    all_vars(c, c->src, &cap);
    if (c->rc)
        return c->rc;
    if (c->norig)
        qsort(c->orig, c->norig, sizeof *c->orig, cmp_i32);
    size_t nv = 0;
    for (size_t i = 0; i < c->norig; i++)
        if (nv == 0 || c->orig[nv - 1] != c->orig[i])
            c->orig[nv++] = c->orig[i];
    c->norig = nv;
    struct tbuf b;
    tbuf_init(&b, SHMETS_TERM_MAX_SIZE);
    renumber(c, &b, c->src);
    int rc = b.err ? b.err : term_canon(b.p, b.len, SHMETS_ETF_NO_VERSION | CANON_MAP_LAST_WINS, copy);
    tbuf_free(&b);
    if (rc)
        return rc;
    c->spec = copy->ptr;
    c->spec_len = copy->len;
    c->spec_base = (uint32_t)c->src_len;
    c->built_base = (uint32_t)(c->src_len + copy->len);
    return 0;
}

/* The head variables of c->spec, numbered densely; the bound flags. */
static int setup_vars(struct cc *c, uint32_t ncl)
{
    c->nvars = 0;
    size_t vcap = 0;
    const unsigned char *e = c->spec + 5;
    for (uint32_t i = 0; i < ncl; i++, e = term_end(e))
        collect_vars(c, ms_tuple_first(e), &vcap);
    if (c->rc)
        return c->rc;
    if (c->nvars)
        qsort(c->vars, c->nvars, sizeof *c->vars, cmp_i32);
    size_t nv = 0;
    for (size_t i = 0; i < c->nvars; i++)
        if (nv == 0 || c->vars[nv - 1] != c->vars[i])
            c->vars[nv++] = c->vars[i];
    c->nvars = nv;
    free(c->bound);
    c->bound = calloc(nv ? nv : 1, 1);
    return c->bound ? 0 : err_set(SHMETS_ENOMEM, "out of memory compiling a match specification");
}

static int compile(struct cc *c, unsigned char **prog, size_t *plen, shmets_term *copy)
{
    const unsigned char *spec = c->spec;
    if (!ms_is_cons(spec)) {
        err_text(c, "Match programs are not in a list.");
        return -SHMETS_EINVAL;
    }
    if (spec[0] == ETF_STRING) {            /* integers, not clauses */
        err_text(c, "Match program part is not a tuple of arity 3.");
        return -SHMETS_EINVAL;
    }
    uint32_t ncl = get_be32(spec + 1);
    const unsigned char *e = spec + 5;
    for (uint32_t i = 0; i < ncl; i++)
        e = term_end(e);
    if (e[0] != ETF_NIL) {
        err_text(c, "Match programs are not in a proper list.");
        return -SHMETS_EINVAL;
    }
    e = spec + 5;
    uint32_t first_big = ncl;
    for (uint32_t i = 0; i < ncl; i++, e = term_end(e)) {
        if (!ms_is_tuple(e) || ms_tuple_arity(e) != 3) {
            err_text(c, "Match program part is not a tuple of arity 3.");
            return -SHMETS_EINVAL;
        }
        if (first_big == ncl && head_big_var(ms_tuple_first(e)))
            first_big = i;
    }
    int rc = setup_vars(c, ncl);
    if (rc)
        return rc;

    /* Lint every clause before generating anything (L.2); the clauses before the first head
     * that makes ERTS renumber are linted as they are, then all of them renumbered (L.6). */
    e = spec + 5;
    for (uint32_t i = 0; i < first_big; i++, e = term_end(e))
        if (lint_clause(c, e))
            return c->rc ? c->rc : -SHMETS_EINVAL;
    if (first_big < ncl) {
        if ((rc = use_renumbered(c, copy)) || (rc = setup_vars(c, ncl)))
            return rc;
        spec = c->spec;
        e = spec + 5;
        for (uint32_t i = 0; i < ncl; i++, e = term_end(e))
            if (lint_clause(c, e))
                return c->rc ? c->rc : -SHMETS_EINVAL;
    }

    e = spec + 5;
    for (uint32_t i = 0; i < ncl && !c->rc; i++, e = term_end(e)) {
        const unsigned char *head = ms_tuple_first(e);
        unsigned char ent[MS_CLAUSE_SIZE];
        size_t at = c->code.len;
        gen_clause(c, e);
        ms_put_le32(ent, c->spec_base + (uint32_t)(head - spec));
        ms_put_le32(ent + 4, (uint32_t)(term_end(head) - head));
        ms_put_le32(ent + 8, (uint32_t)at);
        ms_put_le32(ent + 12, (uint32_t)(c->code.len - at));
        tbuf_put(&c->clauses, ent, sizeof ent);
    }
    rc = c->rc ? c->rc : c->code.err ? c->code.err : c->built.err ? c->built.err : c->clauses.err;
    if (rc)
        return rc;

    int renumbered = c->spec != c->src;
    size_t pool_len = c->src_len + (renumbered ? c->spec_len : 0) + c->built.len;
    size_t off_cl = MS_HDR_SIZE, off_code = off_cl + c->clauses.len, off_pool = off_code + c->code.len;
    size_t total = off_pool + pool_len;
    if (total > UINT32_MAX)
        return err_set(SHMETS_ETOOBIG, "match specification: the compiled program would pass 4 GiB");
    unsigned char *p = malloc(total);
    if (!p)
        return err_set(SHMETS_ENOMEM, "out of memory compiling a match specification");
    memset(p, 0, MS_HDR_SIZE);
    memcpy(p + MS_H_MAGIC, MS_MAGIC, 4);
    p[MS_H_VERSION] = MS_VERSION;
    ms_put_le32(p + MS_H_LEN, (uint32_t)total);
    ms_put_le32(p + MS_H_NCLAUSES, ncl);
    ms_put_le32(p + MS_H_NVARS, (uint32_t)c->nvars);
    ms_put_le32(p + MS_H_STACK, c->stack_need);
    ms_put_le32(p + MS_H_DEPTH, c->depth_need);
    ms_put_le32(p + MS_H_CLAUSES, (uint32_t)off_cl);
    ms_put_le32(p + MS_H_CODE, (uint32_t)off_code);
    ms_put_le32(p + MS_H_CODE_LEN, (uint32_t)c->code.len);
    ms_put_le32(p + MS_H_POOL, (uint32_t)off_pool);
    ms_put_le32(p + MS_H_POOL_LEN, (uint32_t)pool_len);
    ms_put_le32(p + MS_H_SPEC_LEN, (uint32_t)c->src_len);
    ms_put_le32(p + MS_H_EXEC, c->spec_base);
    ms_put_le32(p + MS_H_EXEC_LEN, (uint32_t)c->spec_len);
    if (c->clauses.len)
        memcpy(p + off_cl, c->clauses.p, c->clauses.len);
    if (c->code.len)
        memcpy(p + off_code, c->code.p, c->code.len);
    memcpy(p + off_pool, c->src, c->src_len);
    if (renumbered)
        memcpy(p + off_pool + c->spec_base, c->spec, c->spec_len);
    if (c->built.len)
        memcpy(p + off_pool + c->built_base, c->built.p, c->built.len);
    *prog = p;
    *plen = total;
    return 0;
}

int ms_compile(const unsigned char *spec, size_t spec_len, unsigned char **prog, size_t *len,
               struct ms_errors *errs)
{
    struct cc c;
    memset(&c, 0, sizeof c);
    c.spec = c.src = spec;
    c.spec_len = c.src_len = spec_len;
    c.built_base = (uint32_t)spec_len;
    c.errs = errs;
    shmets_term copy = { NULL, 0 };
    tbuf_init(&c.code, UINT32_MAX);
    tbuf_init(&c.built, UINT32_MAX);
    tbuf_init(&c.clauses, UINT32_MAX);
    *prog = NULL;
    *len = 0;
    int rc = compile(&c, prog, len, &copy);
    if (c.rc && rc != c.rc)
        rc = c.rc;
    if (!rc && c.nerr)
        rc = -SHMETS_EINVAL;
    if (rc) {
        free(*prog);
        *prog = NULL;
        *len = 0;
    }
    free(c.vars);
    free(c.bound);
    free(c.orig);
    shmets_term_free(&copy);
    tbuf_free(&c.code);
    tbuf_free(&c.built);
    tbuf_free(&c.clauses);
    return rc;
}
