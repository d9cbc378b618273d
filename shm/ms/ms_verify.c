/*
 * ms_verify.c — checking that bytes from elsewhere are a program the runner can trust.
 *
 * A compiled match specification is plain data (ms.h), so it travels: through shared memory,
 * a socket, a file.  Before such bytes are run, this verifier proves what the runner assumes,
 * as a bytecode verifier does (the JVM's, eBPF's):
 *   V.1 the header is ours (magic, version, flags 0), its length is the buffer's, and the
 *       sections lie where the compiler puts them: header, clause table, code, pool, end;
 *   V.2 the pool starts with the source specification, one canonical list of spec_len bytes;
 *       the spec the code refers to is the source or a canonical list right after it; the
 *       rest of the pool is a sequence of canonical terms (built constants);
 *   V.3 every constant an op or a clause names is a whole canonical term: a subterm of the
 *       compiled spec (its start and its exact length), or one of the built constants;
 *   V.4 each clause's code is: one head pattern in the runner's grammar, nested at most
 *       hdr.depth <= MS_MAX_DEPTH deep; H_END; guard ops; one B_BEGIN; body ops; and B_RETURN
 *       as its last op.  Every op is known, its operands lie inside the clause, a function
 *       number is a guard function (with its arity), a variable slot is < nvars and was bound
 *       earlier in the same clause (H_BIND or a tail bind, in the order the runner binds), so a
 *       run never reads a slot left over from another clause or object;
 *   V.5 the value stack never goes below zero or above hdr.stack, and a jump (andalso, orelse)
 *       goes forward to an op boundary of the same clause where the stack has the depth the
 *       jump leaves.
 * The cost is linear in the program's size (constants are checked in one ordered walk of the
 * pool, plus a sort of the references).
 */
#include "ms/ms.h"
#include "base/util.h"

#include <stdlib.h>

struct ref {
    uint32_t off, len;
};

struct vctx {
    const unsigned char *prog, *pool;
    uint32_t pool_len, spec_len, exec_off, exec_len, nvars, stack, depth;
    unsigned char *bound;
    struct ref *refs;
    size_t nrefs, cap;
    int bad;
    const char *why;
};

static int fail(struct vctx *v, const char *why)
{
    if (!v->bad) {
        v->bad = 1;
        v->why = why;
    }
    return 0;
}

static int add_ref(struct vctx *v, uint32_t off, uint32_t len)
{
    if (len == 0 || off > v->pool_len || len > v->pool_len - off)
        return fail(v, "a constant lies outside the pool");
    if (v->nrefs == v->cap) {
        size_t nc = v->cap ? 2 * v->cap : 64;
        struct ref *r = realloc(v->refs, nc * sizeof *r);
        if (!r)
            return fail(v, "out of memory");
        v->refs = r;
        v->cap = nc;
    }
    v->refs[v->nrefs++] = (struct ref){ off, len };
    return 1;
}

/* An operand: 8 bytes at *pc (end: the clause's end).  *stack counts stack operands. */
static int operand(struct vctx *v, const unsigned char **pc, const unsigned char *end, uint32_t *stack)
{
    if (end - *pc < 8)
        return fail(v, "an operand runs past its clause");
    uint32_t off = ms_le32(*pc), len = ms_le32(*pc + 4);
    *pc += 8;
    if (off == 0) {
        ++*stack;
        return 1;
    }
    return add_ref(v, off - 1, len);
}

static int u32_at(struct vctx *v, const unsigned char **pc, const unsigned char *end, uint32_t *out)
{
    if (end - *pc < 4)
        return fail(v, "an operand runs past its clause");
    *out = ms_le32(*pc);
    *pc += 4;
    return 1;
}

static int slot(struct vctx *v, uint32_t s, int bind)
{
    if (s >= v->nvars)
        return fail(v, "a variable slot past nvars");
    if (bind) {
        v->bound[s] = 1;
        return 1;
    }
    return v->bound[s] ? 1 : fail(v, "a variable used before the head binds it");
}

/* One head pattern (V.4). */
static int pat(struct vctx *v, const unsigned char **pc, const unsigned char *end, uint32_t depth)
{
    if (depth > v->depth)
        return fail(v, "a head nested deeper than the header says");
    if (*pc >= end)
        return fail(v, "a head runs past its clause");
    unsigned op = *(*pc)++;
    uint32_t n, s, dummy = 0;
    switch (op) {
    case H_ANY:
        return 1;
    case H_BIND: case H_CMP:
        return u32_at(v, pc, end, &s) && slot(v, s, op == H_BIND);
    case H_CONST:
        return operand(v, pc, end, &dummy) && (dummy == 0 || fail(v, "a head constant on the stack"));
    case H_TUPLE:
        if (!u32_at(v, pc, end, &n))
            return 0;
        for (uint32_t i = 0; i < n; i++)
            if (!pat(v, pc, end, depth + 1))
                return 0;
        return 1;
    case H_LIST: {
        if (!u32_at(v, pc, end, &n) || *pc >= end)
            return 0 || fail(v, "a head runs past its clause");
        unsigned mode = *(*pc)++;
        if (!u32_at(v, pc, end, &s))
            return 0;
        if (n == 0 || mode > MS_TAIL_CMP)
            return fail(v, "a bad list pattern");
        for (uint32_t i = 0; i < n; i++)
            if (!pat(v, pc, end, depth + 1))
                return 0;
        if (mode == MS_TAIL_PAT)
            return pat(v, pc, end, depth + 1);
        if (mode == MS_TAIL_BIND || mode == MS_TAIL_CMP)
            return slot(v, s, mode == MS_TAIL_BIND);
        return 1;
    }
    case H_MAP:
        if (!u32_at(v, pc, end, &n))
            return 0;
        for (uint32_t i = 0; i < n; i++) {
            if (!operand(v, pc, end, &dummy) || dummy)
                return fail(v, "a bad map key");
            if (!pat(v, pc, end, depth + 1))
                return 0;
        }
        return 1;
    default:
        return fail(v, "an unknown head op");
    }
}

struct jump {
    size_t target;      /* offset in the clause */
    uint32_t sp;
};

/* Guards and body (V.4, V.5). */
static int exprs(struct vctx *v, const unsigned char *start, const unsigned char *pc, const unsigned char *end)
{
    uint32_t sp = 0;
    int body = 0;
    struct jump *js = NULL;
    size_t nj = 0, cj = 0;
    int ok = 1;
    while (ok) {
        size_t at = (size_t)(pc - start);
        for (size_t i = 0; i < nj; i++)
            if (js[i].target == at) {
                if (js[i].sp != sp) {
                    ok = fail(v, "a jump arrives with another stack depth");
                    break;
                }
                js[i] = js[--nj];
                i--;
            }
        if (!ok)
            break;
        if (pc >= end) {
            ok = fail(v, "a clause without B_RETURN");
            break;
        }
        unsigned op = *pc++;
        uint32_t n = 0, s = 0, pops = 0, pushes = 1;
        switch (op) {
        case E_PUSH:
            ok = operand(v, &pc, end, &pops);
            break;
        case E_VAR:
            ok = u32_at(v, &pc, end, &s) && slot(v, s, 0);
            break;
        case E_OBJ: case E_SELF:
            break;
        case E_BINDINGS:
            ok = u32_at(v, &pc, end, &n);
            for (uint32_t i = 0; ok && i < n; i++)
                ok = u32_at(v, &pc, end, &s) && slot(v, s, 0);
            break;
        case E_TUPLE: case E_LIST: case E_MAP: case E_AND: case E_OR: {
            ok = u32_at(v, &pc, end, &n);
            uint64_t k = op == E_LIST ? (uint64_t)n + 1 : op == E_MAP ? 2 * (uint64_t)n : n;
            if (ok && (op == E_AND || op == E_OR) && n == 0)
                ok = fail(v, "and/or without operands");
            if (ok && k > (uint64_t)(end - pc) / 8)
                ok = fail(v, "operands run past their clause");
            for (uint64_t i = 0; ok && i < k; i++)
                ok = operand(v, &pc, end, &pops);
            break;
        }
        case E_CALL: {
            uint32_t f;
            ok = u32_at(v, &pc, end, &f);
            if (ok && f >= F_COUNT)
                ok = fail(v, "an unknown guard function");
            for (unsigned i = 0; ok && i < ms_fn_table[f].arity; i++)
                ok = operand(v, &pc, end, &pops);
            break;
        }
        case E_ANDALSO: case E_ORELSE: {
            uint32_t j;
            ok = u32_at(v, &pc, end, &j);
            if (ok && (sp < 1 || j > (size_t)(end - pc)))
                ok = fail(v, "a bad andalso/orelse");
            if (ok) {
                if (nj == cj) {
                    size_t nc = cj ? 2 * cj : 8;
                    struct jump *x = realloc(js, nc * sizeof *x);
                    if (!x) {
                        ok = fail(v, "out of memory");
                        break;
                    }
                    js = x;
                    cj = nc;
                }
                js[nj++] = (struct jump){ (size_t)(pc - start) + j, sp };
            }
            pops = 1;
            pushes = 0;
            break;
        }
        case G_TEST:
            if (body)
                ok = fail(v, "a guard in the body");
            else
                ok = operand(v, &pc, end, &pops);
            pushes = 0;
            break;
        case B_BEGIN:
            if (body || sp != 0 || nj)
                ok = fail(v, "a misplaced B_BEGIN");
            body = 1;
            pushes = 0;
            break;
        case B_RETURN:
            if (!body)
                ok = fail(v, "B_RETURN before B_BEGIN");
            else
                ok = operand(v, &pc, end, &pops);
            if (ok && (pops != sp || nj || pc != end))
                ok = fail(v, "B_RETURN is not the clause's last op, or the stack is not empty");
            free(js);
            return ok;
        default:
            ok = fail(v, "an unknown op");
            break;
        }
        if (!ok)
            break;
        if (pops > sp)
            ok = fail(v, "the stack would underflow");
        else if ((sp = sp - pops + pushes) > v->stack)
            ok = fail(v, "the stack would pass the header's size");
    }
    free(js);
    return 0;
}

static int canonical_at(const unsigned char *p, size_t n)
{
    shmets_term t;
    if (n == 0 || term_canon(p, n, SHMETS_ETF_NO_VERSION, &t))
        return 0;
    int ok = t.len == n && memcmp(t.ptr, p, n) == 0;
    shmets_term_free(&t);
    return ok;
}

static int cmp_ref(const void *a, const void *b)
{
    const struct ref *x = a, *y = b;
    return (x->off > y->off) - (x->off < y->off);
}

/* Walk the source's subterms in order, checking the references to each (V.3). */
static const unsigned char *walk(struct vctx *v, const unsigned char *p, size_t *ri)
{
    uint32_t off = (uint32_t)(p - v->pool);
    while (*ri < v->nrefs && v->refs[*ri].off < off) {
        fail(v, "a constant that is not a whole term");
        return NULL;
    }
    size_t first = *ri;
    while (*ri < v->nrefs && v->refs[*ri].off == off)
        ++*ri;
    size_t last = *ri;
    const unsigned char *e;
    switch (p[0]) {
    case ETF_SMALL_TUPLE: case ETF_LARGE_TUPLE: {
        uint32_t n = ms_tuple_arity(p);
        e = ms_tuple_first(p);
        for (uint32_t i = 0; i < n && e; i++)
            e = walk(v, e, ri);
        break;
    }
    case ETF_LIST: {
        uint32_t n = get_be32(p + 1);
        e = p + 5;
        for (uint32_t i = 0; i <= n && e; i++)
            e = walk(v, e, ri);
        break;
    }
    case ETF_MAP: {
        uint64_t n = 2 * (uint64_t)get_be32(p + 1);
        e = p + 5;
        for (uint64_t i = 0; i < n && e; i++)
            e = walk(v, e, ri);
        break;
    }
    default:
        e = term_end(p);
        break;
    }
    if (!e)
        return NULL;
    for (size_t i = first; i < last; i++)
        if (v->refs[i].len != (uint32_t)(e - p)) {
            fail(v, "a constant whose length is not its term's");
            return NULL;
        }
    return e;
}

static int check_refs(struct vctx *v)
{
    if (v->nrefs)
        qsort(v->refs, v->nrefs, sizeof *v->refs, cmp_ref);
    size_t ri = 0;
    if (!walk(v, v->pool + v->exec_off, &ri))
        return 0;
    /* The built constants fill the rest of the pool one after another, each referenced: the
     * references, in order, give each one's extent, which must hold one canonical term. */
    uint32_t p = v->exec_off + v->exec_len;
    while (ri < v->nrefs) {
        const struct ref *r = &v->refs[ri];
        if (r->off != p || !canonical_at(v->pool + p, r->len))
            return fail(v, "a built constant that is not a whole canonical term");
        while (ri < v->nrefs && v->refs[ri].off == p)
            if (v->refs[ri++].len != r->len)
                return fail(v, "two lengths for one built constant");
        p += r->len;
    }
    if (p != v->pool_len)
        return fail(v, "bytes in the pool that no op refers to");
    return 1;
}

int ms_verify(const unsigned char *b, size_t len)
{
    struct vctx v;
    memset(&v, 0, sizeof v);
    v.prog = b;
    if (!b || len < MS_HDR_SIZE || memcmp(b, MS_MAGIC, 4) != 0)
        return err_set(SHMETS_EINVAL, "not a compiled match specification (no SHMS header)");
    if (b[MS_H_VERSION] != MS_VERSION || b[MS_H_VERSION + 1] != 0 || b[MS_H_FLAGS] || b[MS_H_FLAGS + 1])
        return err_set(SHMETS_EINVAL, "a compiled match specification of another version");
    uint32_t total = ms_le32(b + MS_H_LEN), ncl = ms_le32(b + MS_H_NCLAUSES);
    uint32_t off_cl = ms_le32(b + MS_H_CLAUSES), off_code = ms_le32(b + MS_H_CODE), code_len = ms_le32(b + MS_H_CODE_LEN);
    uint32_t off_pool = ms_le32(b + MS_H_POOL);
    v.pool_len = ms_le32(b + MS_H_POOL_LEN);
    v.spec_len = ms_le32(b + MS_H_SPEC_LEN);
    v.exec_off = ms_le32(b + MS_H_EXEC);
    v.exec_len = ms_le32(b + MS_H_EXEC_LEN);
    v.nvars = ms_le32(b + MS_H_NVARS);
    v.stack = ms_le32(b + MS_H_STACK);
    v.depth = ms_le32(b + MS_H_DEPTH);
    if (total != len || off_cl != MS_HDR_SIZE || (uint64_t)ncl * MS_CLAUSE_SIZE != (uint64_t)off_code - off_cl
        || off_code > len || (uint64_t)off_code + code_len != off_pool || off_pool > len
        || (uint64_t)off_pool + v.pool_len != len || v.spec_len == 0 || v.spec_len > v.pool_len
        || v.depth > MS_MAX_DEPTH || v.nvars > len || v.stack > len
        || !((v.exec_off == 0 && v.exec_len == v.spec_len)
             || (v.exec_off == v.spec_len && v.exec_len > 0 && v.exec_len <= v.pool_len - v.spec_len)))
        return err_set(SHMETS_EINVAL, "compiled match specification: its layout does not hold");
    v.pool = b + off_pool;
    if (!canonical_at(v.pool, v.spec_len) || !ms_is_cons(v.pool)
        || (v.exec_off && (!canonical_at(v.pool + v.exec_off, v.exec_len) || !ms_is_cons(v.pool + v.exec_off))))
        return err_set(SHMETS_EINVAL, "compiled match specification: its source is not a canonical list");
    v.bound = calloc(v.nvars ? v.nvars : 1, 1);
    if (!v.bound)
        return err_set(SHMETS_ENOMEM, "out of memory checking a match specification");
    const unsigned char *code = b + off_code;
    for (uint32_t i = 0; i < ncl && !v.bad; i++) {
        const unsigned char *ent = b + off_cl + (size_t)i * MS_CLAUSE_SIZE;
        uint32_t hoff = ms_le32(ent), hlen = ms_le32(ent + 4), coff = ms_le32(ent + 8), clen = ms_le32(ent + 12);
        if (hoff < v.exec_off || hoff - v.exec_off >= v.exec_len || hlen > v.exec_len - (hoff - v.exec_off)
            || coff > code_len || clen > code_len - coff) {
            fail(&v, "a clause entry outside its sections");
            break;
        }
        add_ref(&v, hoff, hlen);
        memset(v.bound, 0, v.nvars);
        const unsigned char *pc = code + coff, *end = pc + clen;
        if (!pat(&v, &pc, end, 1))
            break;
        if (pc >= end || *pc++ != H_END) {
            fail(&v, "a head without H_END");
            break;
        }
        exprs(&v, code + coff, pc, end);
    }
    if (!v.bad)
        check_refs(&v);
    free(v.bound);
    free(v.refs);
    if (v.bad)
        return err_set(SHMETS_EINVAL, "compiled match specification: %s", v.why);
    return 0;
}
