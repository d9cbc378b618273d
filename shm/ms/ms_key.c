/*
 * ms_key.c — what a compiled match specification says about the keys it can match, for the
 * select family's key analysis (as OTP's analyze_pattern in erl_db_hash.c and erl_db_tree.c).
 *
 * For a table's keypos, each clause's head gives one of (enum shmets_ms_keykind):
 *   K.1 NONE     the head is neither '_', a variable, nor a tuple of at least keypos elements:
 *                it matches no object of the table;
 *   K.2 BOUND    the key element is ground (no '$N', no '_', maps included): the clause can
 *                match only objects with that key.  As in ETS, a ground map in the key is
 *                taken as the key itself, although a map pattern matches larger maps
 *                (ets:select with key #{a => 1} does not find the key #{a => 1, b => 2},
 *                while ets:match_spec_run on the same object matches; shmets does as ETS);
 *   K.3 PARTIAL  the key element is a structure with variables in it ({a, '$1'}, [1 | '_']):
 *                on an ordered_set the keys it can match lie in one range of the term order;
 *   K.4 ANY      '_', a variable, or a head that is one: every key.
 *
 * THE RANGE OF A PARTIAL KEY.  ms_pattern_cmp compares a key pattern with a key in term order
 * (the ordered_set's ==), structure by structure as term_cmp does, and stops, answering 0
 * ("cannot tell"), at the first variable or '_' — or at a map with a variable inside, which is
 * matched as a subset and so has no place in the order of whole maps.  Up to that point the
 * comparison is lexicographic (a tuple's arity, then its elements in order; a list's elements,
 * then its tail), so the keys for which it answers 0 form one interval, which holds every key
 * the pattern matches; keys below it get +1 (the pattern is greater), keys above it -1.  This is
 * OTP's partly-bound comparison (do_cmp_partly_bound) in spirit.
 */
#include "ms/ms.h"
#include "base/util.h"

#define UNDET 2

static int sign(int r) { return (r > 0) - (r < 0); }

static int is_hole(const unsigned char *p)
{
    return ms_is_atom(p) && (ms_var_number(p) >= 0 || ms_atom_is(p, "_"));   /* no call for a non-atom */
}

static int pcmp(const unsigned char *p, const unsigned char *k);

/* A list pattern p (LIST_EXT or STRING_EXT) against a list or other key k of the same rank. */
static int pcmp_list(const unsigned char *p, const unsigned char *k)
{
    struct term_lcur pc, kc;
    term_lcur_init(&pc, p);
    term_lcur_init(&kc, k);
    for (;;) {
        const unsigned char *pe = term_lcur_next(&pc);
        if (!pe)
            break;
        const unsigned char *ke = term_lcur_next(&kc);
        if (!ke) {                          /* the key's list ended: its tail against a cons */
            const unsigned char *kt = term_lcur_tail(&kc);
            return TR_LIST > term_rank(kt[0]) ? 1 : -1;
        }
        int r = pcmp(pe, ke);
        if (r)
            return r;
    }
    const unsigned char *pt = term_lcur_tail(&pc);
    if (is_hole(pt))
        return UNDET;
    if (kc.left)                            /* the pattern's tail (not a list) against a cons */
        return term_rank(pt[0]) > TR_LIST ? 1 : -1;
    return pcmp(pt, term_lcur_tail(&kc));
}

static int pcmp(const unsigned char *p, const unsigned char *k)
{
    if (is_hole(p))
        return UNDET;
    enum term_rank rp = term_rank(p[0]), rk = term_rank(k[0]);
    if (rp != rk)
        return rp < rk ? -1 : 1;
    switch (rp) {
    case TR_TUPLE: {
        uint32_t a = ms_tuple_arity(p), b = ms_tuple_arity(k);
        if (a != b)
            return a < b ? -1 : 1;
        const unsigned char *x = ms_tuple_first(p), *y = ms_tuple_first(k);
        for (uint32_t i = 0; i < a; i++, x = term_end_inline(x), y = term_end_inline(y)) {
            int r = pcmp(x, y);
            if (r)
                return r;
        }
        return 0;
    }
    case TR_LIST:
        return pcmp_list(p, k);
    case TR_MAP:
        return ms_is_ground(p) ? sign(term_cmp(p, k, 0)) : UNDET;
    default:
        return sign(term_cmp(p, k, 0));
    }
}

/* The bytes of p up to its first hole, when every container on the way is a tuple and every
 * element before the hole is ground: their length (pcmp of any key that starts with them
 * answers UNDET: equal headers and equal ground elements compare equal, then the hole), or 0. */
static size_t prefix_len(const unsigned char *p, const unsigned char *start, int *hole)
{
    if (is_hole(p)) {
        *hole = 1;
        return (size_t)(p - start);
    }
    if (p[0] == ETF_SMALL_TUPLE || p[0] == ETF_LARGE_TUPLE) {
        uint32_t a = ms_tuple_arity(p);
        const unsigned char *x = ms_tuple_first(p);
        for (uint32_t i = 0; i < a; i++, x = term_end_inline(x)) {
            size_t n = prefix_len(x, start, hole);
            if (*hole || !n)
                return n;
        }
        return (size_t)(x - start);     /* a ground tuple: all of it */
    }
    return ms_is_ground(p) ? (size_t)(term_end_inline(p) - start) : 0;
}

size_t ms_pattern_prefix(const unsigned char *pattern)
{
    int hole = 0;
    size_t n = prefix_len(pattern, pattern, &hole);
    return hole ? n : 0;
}

int ms_pattern_cmp(const unsigned char *pattern, const unsigned char *key)
{
    int r = pcmp(pattern, key);
    return r == UNDET ? 0 : r;
}

int ms_clause_key(const unsigned char *prog, uint32_t clause, unsigned keypos, shmets_term *key)
{
    const unsigned char *cl = prog + ms_le32(prog + MS_H_CLAUSES) + (size_t)clause * MS_CLAUSE_SIZE;
    const unsigned char *head = ms_pool(prog) + ms_le32(cl);
    key->ptr = NULL;
    key->len = 0;
    if (is_hole(head))
        return SHMETS_MS_KEY_ANY;
    if (!ms_is_tuple(head) || keypos == 0 || ms_tuple_arity(head) < keypos)
        return SHMETS_MS_KEY_NONE;
    const unsigned char *k = ms_tuple_first(head);
    for (unsigned i = 1; i < keypos; i++)
        k = term_end(k);
    if (is_hole(k))
        return SHMETS_MS_KEY_ANY;
    key->ptr = k;
    key->len = (size_t)(term_end(k) - k);
    return ms_is_ground(k) ? SHMETS_MS_KEY_BOUND : SHMETS_MS_KEY_PARTIAL;
}

/*
 * KEEPING THE KEY (ets:select_replace/2 refuses, badarg, a spec that might change an object's
 * key).  As OTP decides it statically, read off its answers (tests/test_ms.c keeps them): every
 * clause's body is one expression, and that is
 *   '$_', or
 *   {{E1, ..., En}} with the head a tuple, n and the head's arity at least keypos, and Ekeypos
 *       an expression that rebuilds the head's key pattern exactly: the same variable where
 *       the head has a variable, the same constant (=:=) where it has one, a construction of
 *       the same shape ({{...}} or [...]) where it has a tuple or list, or {const, X} where the
 *       head has exactly X and no variable in it; or
 *   {const, T} with T a tuple whose element keypos is the head's key pattern, literally, with
 *       no variable in it; or
 *   {{E1, ..., En}} as above whose Ekeypos is {element, Keypos, '$_'} itself: the matched
 *       object's key, whatever the head's key pattern is (OTP's db_match_keeps_key accepts it
 *       with the integer Keypos written literally; {element, 1.0, '$_'}, {element, {const, 1},
 *       '$_'} or '$$' in its place are refused).
 * A map anywhere in the key, '_', '$_' and '$$' never keep it (a map pattern matches larger
 * maps; '_' has no value; '$_' and '$$' mean other things in a body).
 */
static int is_special(const unsigned char *a)
{
    return ms_atom_is(a, "_") || ms_atom_is(a, "$_") || ms_atom_is(a, "$$");
}

/* Does body expression b (a literal when cmode) rebuild head pattern a?  Recursion follows b,
 * bounded by the spec's nesting. */
static int rebuilds(const unsigned char *a, const unsigned char *b, int cmode)
{
    if (ms_is_tuple(b)) {
        const unsigned char *x = ms_tuple_first(b);
        if (!cmode) {
            if (ms_tuple_arity(b) == 1 && ms_is_tuple(x)) {
                b = x;                          /* {{...}}: a construction */
            } else if (ms_tuple_arity(b) == 2 && ms_atom_is(x, "const")) {
                return rebuilds(a, term_end(x), 1);
            } else {
                return 0;                       /* a call */
            }
        }
        if (!ms_is_tuple(a) || ms_tuple_arity(a) != ms_tuple_arity(b))
            return 0;
        uint32_t n = ms_tuple_arity(a);
        const unsigned char *p = ms_tuple_first(a), *q = ms_tuple_first(b);
        for (uint32_t i = 0; i < n; i++, p = term_end(p), q = term_end(q))
            if (!rebuilds(p, q, cmode))
                return 0;
        return 1;
    }
    if (ms_is_cons(b)) {
        if (!ms_is_cons(a))
            return 0;
        struct term_lcur ca, cb;
        term_lcur_init(&ca, a);
        term_lcur_init(&cb, b);
        int bm = cmode;
        for (;;) {
            const unsigned char *x = term_lcur_next(&ca);
            unsigned char tx[2];
            if (x && ca.str) {                  /* the cursor's buffer is reused: keep a copy */
                memcpy(tx, x, 2);
                x = tx;
            }
            const unsigned char *y = term_lcur_next(&cb);
            while (x && !y) {                   /* b ended first: its tail may be {const, List} */
                const unsigned char *bt = term_lcur_tail(&cb);
                if (bm || !ms_is_tuple(bt) || ms_tuple_arity(bt) != 2 || !ms_atom_is(ms_tuple_first(bt), "const"))
                    return 0;
                const unsigned char *l = term_end(ms_tuple_first(bt));
                if (!ms_is_cons(l))
                    return 0;
                term_lcur_init(&cb, l);
                bm = 1;
                y = term_lcur_next(&cb);
            }
            if (!x)                             /* a ended: its tail against b's rest */
                return y ? 0 : rebuilds(term_lcur_tail(&ca), term_lcur_tail(&cb), bm);
            if (!rebuilds(x, y, bm))
                return 0;
        }
    }
    if (b[0] == ETF_MAP || a[0] == ETF_MAP)
        return 0;
    if (is_special(a))
        return 0;
    if (ms_is_atom(b)) {
        if (!cmode && (ms_atom_is(b, "$_") || ms_atom_is(b, "$$")))
            return 0;
        if (cmode && ms_var_number(a) >= 0)
            return 0;
    }
    size_t n = (size_t)(term_end(b) - b);
    return (size_t)(term_end(a) - a) == n && memcmp(a, b, n) == 0;
}

/* Is b the body expression {element, keypos, '$_'} (keypos a canonical integer)? */
static int is_element_key(const unsigned char *b, unsigned keypos)
{
    if (!ms_is_tuple(b) || ms_tuple_arity(b) != 3)
        return 0;
    const unsigned char *e = ms_tuple_first(b), *k = term_end(e), *o = term_end(k);
    if (!ms_atom_is(e, "element") || !ms_atom_is(o, "$_"))
        return 0;
    if (k[0] == ETF_SMALL_INTEGER)
        return k[1] == keypos;
    return k[0] == ETF_INTEGER && get_be32(k + 1) == keypos;
}

int ms_keeps_key(const unsigned char *prog, unsigned keypos)
{
    uint32_t n = ms_nclauses(prog);
    const unsigned char *cl = prog + ms_le32(prog + MS_H_CLAUSES), *pool = ms_pool(prog);
    for (uint32_t i = 0; i < n; i++, cl += MS_CLAUSE_SIZE) {
        const unsigned char *head = pool + ms_le32(cl), *body = term_end(term_end(head));
        if (body[0] != ETF_LIST || get_be32(body + 1) != 1 || term_end(body + 5)[0] != ETF_NIL)
            return 0;                           /* one body expression (not a string) */
        const unsigned char *e = body + 5;
        if (ms_atom_is(e, "$_"))
            continue;
        if (!ms_is_tuple(e) || !ms_is_tuple(head) || ms_tuple_arity(head) < keypos || keypos == 0)
            return 0;
        const unsigned char *x = ms_tuple_first(e), *t;
        int cmode;
        if (ms_tuple_arity(e) == 1 && ms_is_tuple(x)) {
            t = x;
            cmode = 0;
        } else if (ms_tuple_arity(e) == 2 && ms_atom_is(x, "const") && ms_is_tuple(term_end(x))) {
            t = term_end(x);
            cmode = 1;
        } else {
            return 0;
        }
        if (ms_tuple_arity(t) < keypos)
            return 0;
        const unsigned char *hk = ms_tuple_first(head), *bk = ms_tuple_first(t);
        for (unsigned k = 1; k < keypos; k++) {
            hk = term_end(hk);
            bk = term_end(bk);
        }
        if (!cmode && is_element_key(bk, keypos))
            continue;
        if (!rebuilds(hk, bk, cmode))
            return 0;
    }
    return 1;
}
