/*
 * ms_run.c — running a compiled match specification (ms.h) against one object.
 *
 * THE MACHINE.  For each clause in order: the head is matched against the object by a
 * recursive walk of the head's prefix code alongside the object's canonical encoding (the
 * recursion follows the pattern, at most hdr.depth levels, whatever the object), binding the
 * variable slots; then the guards and the body run on a value stack.  The first clause whose
 * head matches and whose guards are all 'true' gives the result; a clause that fails gives way
 * to the next.  As in ERTS (db_prog_match): a guard function that raises fails the clause; in
 * the body it gives the atom 'EXIT' and the body goes on.
 *
 * VALUES are canonical encodings: views into the object (a variable bound to part of it, '$_'),
 * into the program's pool (constants), or into the run's arena (what the run built).  A list
 * tail bound by a head like [H | T] is not a subterm of the object's encoding (a LIST_EXT's tail
 * has a header of its own, and [300, 1, 2]'s tail [1, 2] is a STRING_EXT), so it is kept as
 * "the list at p after k elements" and made canonical only if it is used.
 *
 * COST.  Matching a head reads the object once at most (ETF is sequential: skipping an element
 * means walking it; trailing elements nobody needs are not walked).  Each guard/body op runs at
 * most once (no backward jumps) and costs at most linear time in its operands, except integer
 * arithmetic, which is bounded by SHMETS_BIG_MAX_BYTES.  A run's arena (ms_arena.c) is
 * limited: a body that would build more is -SHMETS_ETOOBIG, not a crash.  The arena is reset
 * at the start of every ms_exec, and keeps one chunk for the next object, so a scan allocates
 * nothing per object in the common case.
 *
 * THREADS.  A program is read-only: any number of threads may run it at once, each with its
 * own struct ms_run.
 */
#include "ms/ms.h"
#include "base/util.h"

#include <stdlib.h>
#include <unistd.h>

static const unsigned char a_true[] = { ETF_SMALL_ATOM_UTF8, 4, 't', 'r', 'u', 'e' };
static const unsigned char a_false[] = { ETF_SMALL_ATOM_UTF8, 5, 'f', 'a', 'l', 's', 'e' };
static const unsigned char a_exit[] = { ETF_SMALL_ATOM_UTF8, 4, 'E', 'X', 'I', 'T' };

static struct ms_val term_val(const unsigned char *p, size_t len)
{
    return (struct ms_val){ p, len, 0, 0 };
}

/* ---- heads ---- */

struct hctx {
    struct ms_run *r;
    const unsigned char *pool;
    int err;
};

static inline uint32_t rd32(const unsigned char **pc)
{
    uint32_t v = ms_le32(*pc);
    *pc += 4;
    return v;
}

/* Are the bytes at t (a term in a buffer that ends at lim) the n bytes at c? */
static inline int bytes_eq(const unsigned char *t, const unsigned char *lim, const unsigned char *c, size_t n)
{
    return (size_t)(lim - t) >= n && n <= UINT32_MAX && bytes_equal(t, c, (uint32_t)n);
}

/* Match the pattern at *pc against t (in a buffer ending at lim).  Returns 1 (match) or 0;
 * with want_end, *end is the end of t.  h->err is set on a resource error (then 0). */
static int hm(struct hctx *h, const unsigned char **pc, const unsigned char *t, const unsigned char *lim,
              int want_end, const unsigned char **end)
{
    struct ms_run *r = h->r;
    unsigned op = *(*pc)++;
    switch (op) {
    case H_ANY:
        if (want_end)
            *end = term_end_inline(t);
        return 1;
    case H_BIND: {
        uint32_t v = rd32(pc);
        r->vars[v] = term_val(t, 0);
        if (want_end) {
            *end = term_end_inline(t);
            r->vars[v].len = (size_t)(*end - t);
        }
        return 1;
    }
    case H_CMP: {
        uint32_t v = rd32(pc);
        size_t n;
        const unsigned char *b = ms_val_bytes(r, &r->vars[v], &n, &h->err);
        if (!b || !bytes_eq(t, lim, b, n))
            return 0;
        if (want_end)
            *end = t + n;
        return 1;
    }
    case H_CONST: {
        uint32_t off = rd32(pc) - 1, n = rd32(pc);
        if (!bytes_eq(t, lim, h->pool + off, n))
            return 0;
        if (want_end)
            *end = t + n;
        return 1;
    }
    case H_TUPLE: {
        uint32_t n = rd32(pc);
        if (!ms_is_tuple(t) || ms_tuple_arity(t) != n)
            return 0;
        const unsigned char *e = ms_tuple_first(t);
        for (uint32_t i = 0; i < n; i++) {
            int need = i + 1 < n || want_end;
            const unsigned char *ee = NULL;
            /* The commonest elements of a pattern, '_' and a constant, without a call each
             * (a call is ~35 instructions of saved registers: a head {{B, '_'}, '_'} made
             * five). */
            if (**pc == H_ANY) {
                (*pc)++;
                if (need)
                    ee = term_end_inline(e);
            } else if (**pc == H_CONST) {
                (*pc)++;
                uint32_t off = rd32(pc) - 1, k = rd32(pc);
                if (!bytes_eq(e, lim, h->pool + off, k))
                    return 0;
                ee = e + k;
            } else if (!hm(h, pc, e, lim, need, &ee)) {
                return 0;
            }
            e = ee;
        }
        if (want_end)
            *end = n ? e : ms_tuple_first(t);
        return 1;
    }
    case H_LIST: {
        uint32_t k = rd32(pc);
        unsigned mode = *(*pc)++;
        uint32_t v = rd32(pc);
        if (t[0] == ETF_STRING) {
            uint32_t n = get_be16(t + 1);
            if (n < k || (mode == MS_TAIL_PAT && n != k))
                return 0;
            for (uint32_t i = 0; i < k; i++) {
                unsigned char *el = ms_alloc(r, 2, &h->err);
                if (!el)
                    return 0;
                el[0] = ETF_SMALL_INTEGER;
                el[1] = t[3 + i];
                if (!hm(h, pc, el, el + 2, 0, NULL))
                    return 0;
            }
            if (mode == MS_TAIL_PAT && !hm(h, pc, ms_nil, ms_nil + 1, 0, NULL))
                return 0;
            if (want_end)
                *end = t + 3 + n;
        } else if (t[0] == ETF_LIST) {
            uint32_t n = get_be32(t + 1);
            if (n < k || (mode == MS_TAIL_PAT && n != k))
                return 0;
            const unsigned char *e = t + 5;
            for (uint32_t i = 0; i < k; i++) {
                int need = i + 1 < k || mode == MS_TAIL_PAT || want_end;
                const unsigned char *ee = NULL;
                if (!hm(h, pc, e, lim, need, &ee))
                    return 0;
                e = ee;
            }
            if (mode == MS_TAIL_PAT)
                return hm(h, pc, e, lim, want_end, end);
            if (want_end) {
                for (uint32_t i = k; i < n; i++)
                    e = term_end(e);
                *end = term_end(e);
            }
        } else {
            return 0;
        }
        if (mode == MS_TAIL_BIND) {
            r->vars[v] = (struct ms_val){ t, 0, k, 1 };
        } else if (mode == MS_TAIL_CMP) {
            struct ms_val tv = { t, 0, k, 1 };
            size_t n1, n2;
            const unsigned char *a = ms_val_bytes(r, &tv, &n1, &h->err);
            const unsigned char *b = a ? ms_val_bytes(r, &r->vars[v], &n2, &h->err) : NULL;
            if (!b || n1 != n2 || memcmp(a, b, n1) != 0)
                return 0;
        }
        return 1;
    }
    case H_MAP: {
        uint32_t n = rd32(pc);
        if (t[0] != ETF_MAP)
            return 0;
        uint32_t m = get_be32(t + 1), at = 0;
        const unsigned char *q = t + 5;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t koff = rd32(pc) - 1, klen = rd32(pc);
            const unsigned char *key = h->pool + koff;
            for (;;) {
                if (at == m)
                    return 0;
                if (bytes_eq(q, lim, key, klen))
                    break;
                q = term_end(term_end(q));
                at++;
            }
            const unsigned char *val = q + klen, *ve = NULL;
            if (!hm(h, pc, val, lim, 1, &ve))
                return 0;
            q = ve;
            at++;
        }
        if (want_end) {
            for (; at < m; at++)
                q = term_end(term_end(q));
            *end = q;
        }
        return 1;
    }
    default:
        die(__FILE__, __LINE__, "ms_run: bad head op (an unverified program?)");
    }
}

/* ---- guards and bodies ---- */

static int is_atom_bytes(const unsigned char *p, size_t n, const unsigned char *a, size_t an)
{
    return n == an && memcmp(p, a, n) == 0;
}

/* Gather an op's n operands: constants from the pool, the rest from the top of the stack. */
static void operands(struct ms_run *r, const unsigned char **pc, const unsigned char *pool, size_t n,
                     size_t *sp, struct ms_val *out)
{
    const unsigned char *q = *pc;
    size_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += ms_le32(q + 8 * i) == 0;
    size_t base = *sp - s, k = base;
    for (size_t i = 0; i < n; i++) {
        uint32_t off = ms_le32(q + 8 * i), len = ms_le32(q + 8 * i + 4);
        out[i] = off ? term_val(pool + off - 1, len) : r->stack[k++];
    }
    *pc = q + 8 * n;
    *sp = base;
}

static int self_val(struct ms_run *r, struct ms_val *out)
{
    pid_t pid = getpid();
    if (r->self_pid != pid || !r->self_len) {
        unsigned char *d = r->self;
        *d++ = ETF_NEW_PID;
        *d++ = ETF_SMALL_ATOM_UTF8;
        *d++ = 13;
        memcpy(d, "nonode@nohost", 13);
        d += 13;
        put_be32(d, (uint32_t)pid);
        put_be32(d + 4, 0);
        put_be32(d + 8, 0);
        d += 12;
        r->self_len = (size_t)(d - r->self);
        r->self_pid = pid;
    }
    *out = term_val(r->self, r->self_len);
    return 0;
}

/* Build a tuple, list or map from parts in the arena. */
static int build(struct ms_run *r, unsigned op, struct ms_val *ops, size_t n, struct ms_val *out)
{
    int err = 0;
    struct ms_part small[16], *parts = small;
    if (n > 16 && !(parts = (struct ms_part *)ms_alloc(r, n * sizeof *parts, &err)))
        return err;
    for (size_t i = 0; i < n; i++) {
        parts[i].p = ms_val_bytes(r, &ops[i], &parts[i].len, &err);
        if (!parts[i].p)
            return err;
    }
    size_t size, np = 0, *order = NULL;
    if (op == E_TUPLE) {
        size = ms_tuple_size(parts, n);
    } else if (op == E_LIST) {
        size = ms_list_size(parts, n - 1, parts[n - 1]);
    } else {
        size_t pairs = n / 2;
        struct ms_part *k = (struct ms_part *)ms_alloc(r, (pairs ? pairs : 1) * 2 * sizeof *k, &err);
        if (!k || !(order = (size_t *)ms_alloc(r, (pairs ? pairs : 1) * sizeof *order, &err)))
            return err;
        for (size_t i = 0; i < pairs; i++) {
            k[i] = parts[2 * i];
            k[pairs + i] = parts[2 * i + 1];
        }
        parts = k;
        size = ms_map_size(k, k + pairs, pairs, order, &np);
    }
    if (size > SHMETS_TERM_MAX_SIZE)
        return err_set(SHMETS_ETOOBIG, "match specification: a constructed term passes %u bytes",
                       (unsigned)SHMETS_TERM_MAX_SIZE);
    unsigned char *d = ms_alloc(r, size, &err);
    if (!d)
        return err;
    if (op == E_TUPLE)
        ms_tuple_write(d, parts, n);
    else if (op == E_LIST)
        ms_list_write(d, parts, n - 1, parts[n - 1]);
    else
        ms_map_write(d, parts, parts + n / 2, order, np);
    *out = term_val(d, size);
    return 0;
}

/* Run one clause's guards and body from pc.  Returns 1 with *res, 0 if the clause fails, or a
 * negative error. */
static int eval(struct ms_run *r, const unsigned char *pc, const unsigned char *pool, struct ms_val *res)
{
    size_t sp = 0;
    int body = 0, err = 0;
    struct ms_val a[4], *ops = a, out;
    for (;;) {
        unsigned op = *pc++;
        switch (op) {
        case E_PUSH:
            operands(r, &pc, pool, 1, &sp, a);
            r->stack[sp++] = a[0];
            break;
        case E_VAR:
            r->stack[sp++] = r->vars[rd32(&pc)];
            break;
        case E_OBJ:
            r->stack[sp++] = term_val(r->obj, (size_t)(r->obj_end - r->obj));
            break;
        case E_SELF:
            self_val(r, &r->stack[sp++]);
            break;
        case E_BINDINGS: {
            uint32_t n = rd32(&pc);
            struct ms_val small[16], *vs = small;
            if (n + 1 > 16 && !(vs = (struct ms_val *)ms_alloc(r, (n + 1) * sizeof *vs, &err)))
                return err;
            for (uint32_t i = 0; i < n; i++)
                vs[i] = r->vars[rd32(&pc)];
            vs[n] = term_val(ms_nil, 1);
            if ((err = build(r, E_LIST, vs, n + 1, &out)))
                return err;
            r->stack[sp++] = out;
            break;
        }
        case E_TUPLE: case E_LIST: case E_MAP: {
            uint32_t n = rd32(&pc);
            size_t nops = op == E_TUPLE ? n : op == E_LIST ? (size_t)n + 1 : 2 * (size_t)n;
            if (nops > 4 && !(ops = (struct ms_val *)ms_alloc(r, nops * sizeof *ops, &err)))
                return err;
            operands(r, &pc, pool, nops, &sp, ops);
            if ((err = build(r, op, ops, nops, &out)))
                return err;
            ops = a;
            r->stack[sp++] = out;
            break;
        }
        case E_CALL: {
            uint32_t f = rd32(&pc);
            operands(r, &pc, pool, ms_fn_table[f].arity, &sp, a);
            int rc = ms_call(r, (enum ms_fn)f, a, &out);
            if (rc < 0)
                return rc;
            if (rc > 0) {
                if (!body)
                    return 0;
                out = term_val(a_exit, sizeof a_exit);
            }
            r->stack[sp++] = out;
            break;
        }
        case E_AND: case E_OR: {
            uint32_t n = rd32(&pc);
            if (n > 4 && !(ops = (struct ms_val *)ms_alloc(r, n * sizeof *ops, &err)))
                return err;
            operands(r, &pc, pool, n, &sp, ops);
            int any_true = 0, any_false = 0, bad = 0;
            for (uint32_t i = 0; i < n; i++) {
                size_t len;
                const unsigned char *b = ms_val_bytes(r, &ops[i], &len, &err);
                if (!b)
                    return err;
                if (is_atom_bytes(b, len, a_true, sizeof a_true))
                    any_true = 1;
                else if (is_atom_bytes(b, len, a_false, sizeof a_false))
                    any_false = 1;
                else
                    bad = 1;
            }
            ops = a;
            if (bad) {
                if (!body)
                    return 0;
                out = term_val(a_exit, sizeof a_exit);
            } else if (op == E_AND) {
                out = any_false ? term_val(a_false, sizeof a_false) : term_val(a_true, sizeof a_true);
            } else {
                out = any_true ? term_val(a_true, sizeof a_true) : term_val(a_false, sizeof a_false);
            }
            r->stack[sp++] = out;
            break;
        }
        case E_ANDALSO: case E_ORELSE: {
            uint32_t j = rd32(&pc);
            struct ms_val *v = &r->stack[sp - 1];
            size_t len;
            const unsigned char *b = ms_val_bytes(r, v, &len, &err);
            if (!b)
                return err;
            int t = is_atom_bytes(b, len, a_true, sizeof a_true);
            int f = !t && is_atom_bytes(b, len, a_false, sizeof a_false);
            if ((op == E_ANDALSO && t) || (op == E_ORELSE && f)) {
                sp--;                       /* go on with the next argument */
            } else if (t || f) {
                pc += j;                    /* the answer stays on the stack */
            } else {
                if (!body)
                    return 0;
                *v = term_val(a_exit, sizeof a_exit);
                pc += j;
            }
            break;
        }
        case G_TEST: {
            operands(r, &pc, pool, 1, &sp, a);
            size_t len;
            const unsigned char *b = ms_val_bytes(r, &a[0], &len, &err);
            if (!b)
                return err;
            if (!is_atom_bytes(b, len, a_true, sizeof a_true))
                return 0;
            break;
        }
        case B_BEGIN:
            body = 1;
            break;
        case B_RETURN:
            operands(r, &pc, pool, 1, &sp, a);
            if (!ms_val_bytes(r, &a[0], NULL, &err))
                return err;
            *res = a[0];
            return 1;
        default:
            die(__FILE__, __LINE__, "ms_run: bad op (an unverified program?)");
        }
    }
}

int ms_exec(const unsigned char *prog, struct ms_run *r, const unsigned char *obj, size_t obj_len,
            shmets_term *result)
{
    uint32_t nvars = ms_le32(prog + MS_H_NVARS), stack = ms_le32(prog + MS_H_STACK);
    if (nvars > r->nvars_cap) {
        struct ms_val *v = realloc(r->vars, nvars * sizeof *v);
        if (!v)
            return err_set(SHMETS_ENOMEM, "match specification: out of memory");
        r->vars = v;
        r->nvars_cap = nvars;
    }
    if (stack + 1 > r->stack_cap) {
        struct ms_val *s = realloc(r->stack, (stack + 1) * sizeof *s);
        if (!s)
            return err_set(SHMETS_ENOMEM, "match specification: out of memory");
        r->stack = s;
        r->stack_cap = stack + 1;
    }
    ms_arena_reset(r, 0);
    r->obj = obj;
    r->obj_end = obj + obj_len;
    struct hctx h = { r, ms_pool(prog), 0 };
    const unsigned char *cl = prog + ms_le32(prog + MS_H_CLAUSES), *code = prog + ms_le32(prog + MS_H_CODE);
    uint32_t n = ms_nclauses(prog);
    for (uint32_t i = 0; i < n; i++, cl += MS_CLAUSE_SIZE) {
        const unsigned char *pc = code + ms_le32(cl + 8);
        if (!hm(&h, &pc, obj, r->obj_end, 0, NULL)) {
            if (h.err)
                return h.err;
            continue;
        }
        if (*pc++ != H_END)
            die(__FILE__, __LINE__, "ms_run: head without H_END (an unverified program?)");
        if (pc[0] == B_BEGIN && pc[1] == E_OBJ && pc[2] == B_RETURN && ms_le32(pc + 3) == 0) {
            /* No guard and the body ['$_'] (match_object's, and most range selects'): the
             * result is the object, as eval would push and return it, without the machine. */
            result->ptr = obj;
            result->len = obj_len;
            return 1;
        }
        struct ms_val res = { NULL, 0, 0, 0 };
        int rc = eval(r, pc, h.pool, &res);
        if (rc < 0)
            return rc;
        if (rc > 0) {
            result->ptr = res.p;
            result->len = res.len;
            return 1;
        }
    }
    return 0;
}
