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
#include "ms.h"
#include "util.h"

enum rank { R_NUMBER, R_ATOM, R_REF, R_FUN, R_PORT, R_PID, R_TUPLE, R_MAP, R_NIL, R_LIST, R_BITS };

static enum rank rank_of(unsigned tag)
{
    switch (tag) {
    case ETF_SMALL_INTEGER: case ETF_INTEGER: case ETF_SMALL_BIG: case ETF_LARGE_BIG: case ETF_NEW_FLOAT:
        return R_NUMBER;
    case ETF_SMALL_ATOM_UTF8: case ETF_ATOM_UTF8: return R_ATOM;
    case ETF_NEWER_REFERENCE: return R_REF;
    case ETF_NEW_FUN: case ETF_EXPORT: return R_FUN;
    case ETF_NEW_PORT: case ETF_V4_PORT: return R_PORT;
    case ETF_NEW_PID: return R_PID;
    case ETF_SMALL_TUPLE: case ETF_LARGE_TUPLE: return R_TUPLE;
    case ETF_MAP: return R_MAP;
    case ETF_NIL: return R_NIL;
    case ETF_STRING: case ETF_LIST: return R_LIST;
    default: return R_BITS;
    }
}

#define UNDET 2

static int sign(int r) { return (r > 0) - (r < 0); }

static int is_hole(const unsigned char *p)
{
    return ms_var_number(p) >= 0 || ms_atom_is(p, "_");
}

static int pcmp(const unsigned char *p, const unsigned char *k);

/* A list pattern p (LIST_EXT or STRING_EXT) against a list or other key k of the same rank. */
static int pcmp_list(const unsigned char *p, const unsigned char *k)
{
    struct ms_lcur pc, kc;
    ms_lcur_init(&pc, p);
    ms_lcur_init(&kc, k);
    for (;;) {
        const unsigned char *pe = ms_lcur_next(&pc);
        if (!pe)
            break;
        const unsigned char *ke = ms_lcur_next(&kc);
        if (!ke) {                          /* the key's list ended: its tail against a cons */
            const unsigned char *kt = ms_lcur_tail(&kc);
            return R_LIST > rank_of(kt[0]) ? 1 : -1;
        }
        int r = pcmp(pe, ke);
        if (r)
            return r;
    }
    const unsigned char *pt = ms_lcur_tail(&pc);
    if (is_hole(pt))
        return UNDET;
    if (kc.left)                            /* the pattern's tail (not a list) against a cons */
        return rank_of(pt[0]) > R_LIST ? 1 : -1;
    return pcmp(pt, ms_lcur_tail(&kc));
}

static int pcmp(const unsigned char *p, const unsigned char *k)
{
    if (is_hole(p))
        return UNDET;
    enum rank rp = rank_of(p[0]), rk = rank_of(k[0]);
    if (rp != rk)
        return rp < rk ? -1 : 1;
    switch (rp) {
    case R_TUPLE: {
        uint32_t a = ms_tuple_arity(p), b = ms_tuple_arity(k);
        if (a != b)
            return a < b ? -1 : 1;
        const unsigned char *x = ms_tuple_first(p), *y = ms_tuple_first(k);
        for (uint32_t i = 0; i < a; i++, x = term_end(x), y = term_end(y)) {
            int r = pcmp(x, y);
            if (r)
                return r;
        }
        return 0;
    }
    case R_LIST:
        return pcmp_list(p, k);
    case R_MAP:
        return ms_is_ground(p) ? sign(term_cmp(p, k, 0)) : UNDET;
    default:
        return sign(term_cmp(p, k, 0));
    }
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
