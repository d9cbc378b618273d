/*
 * skiplist.c — the ordered_set index: a skip list in Erlang term order, read under RCU.
 *
 * WHY A SKIP LIST: OTP keeps an ordered_set in an AVL tree (or, with write_concurrency, a
 * contention-adapting tree of them).  A balanced tree rebalances by rotations that move many
 * links at once, which a reader that takes no lock cannot follow across processes.  A skip
 * list changes by linking one node, and its order is the order of its bottom list, so a reader
 * needs nothing but acquire loads (DESIGN.md §5; liburcu's and Fraser's lock-free skip lists
 * are the models, though with one writer at a time we need none of their CAS machinery).
 *
 * LAYOUT
 * The root word (index_root.word) holds the offset of the head node.  A node is one heap block:
 *         obj      offset of the stored object (struct sobj, sobj.h); a replacement stores a
 *                  new one here, so a key's node never moves
 *         prefix   an order-preserving 64-bit prefix of the key (below); in the head node, the
 *                  number of levels in use
 *         height   levels of this node (1 .. SL_LEVELS)
 *         next[]   the next node at each level, 0 at the end
 * Heights come from the key's hash (keyed by the table's secret seed, so nobody can choose keys
 * that build a degenerate list): level l+1 is reached with probability 1/4, so a node has 1.33
 * links on average and a search reads about 2 nodes a level over log4(n) levels.
 *
 * THE PREFIX: a 64-bit number p(k) with a < b  =>  p(a) <= p(b) (and a == b => p(a) == p(b)),
 * so two keys with different prefixes compare by their prefixes alone and the search touches
 * the object (one more cache miss) only on a tie.  The top 4 bits are the type's rank in term
 * order (number < atom < reference < fun < port < pid < tuple < map < [] < list < bitstring),
 * the other 60 are:
 *   numbers      the value as a double (integers round to nearest, which keeps the order; 0
 *                and -0.0 are one key, as == says) in order-preserving bits
 *   atoms, binaries and bitstrings   their first 7 bytes (bits after the end are 0)
 *   tuples       the arity (up to 65534), then the first element's prefix
 *   lists        the first element's prefix;   maps   the size
 * Containers look into their first element down to depth 4 only; below it every list (a
 * string as much as any other: both encodings must give one prefix) counts by its rank.
 * A tie means nothing; term_cmp decides.
 *
 * READERS (no lock, inside a read section) search from the head's top level down, moving
 * right while the next node's key is smaller (or, for next/2, not greater).  Every offset is
 * bounds-checked and a walk takes at most as many steps as the heap has blocks, so a damaged
 * segment gives wrong answers, not endless loops.  A stored key is handed to term_cmp only
 * once term_span (term/term_span.c) has found it a term inside its recorded length
 * (sobj_key_ok): a key scribbled on by a foreign writer stops the walk there (a wrong answer,
 * or -SHMETS_EBADSEG for a writer), never a read past it.
 *
 * WRITERS plan (index.h) and never publish.  An insert allocates and fills a node (fresh
 * memory, plain stores: nobody can reach it), then plans the stores that link it, level 0
 * first: that store is the publish, after which the node is in the table; the upper levels are
 * shortcuts that readers may or may not use yet.  A replacement plans one store, node.obj.  A
 * delete plans the unlinks from the top level down, level 0 last, and retires the node and its
 * object; a reader standing on the node still finds its links intact (RCU keeps it until the
 * reader is gone) and walks on.  All planning reads go through plan_word(), so one plan can
 * insert or delete neighbours.  ordered_set tables have one writer lock (no striping).
 *
 * GUARANTEES
 *   S.1 The bottom list is strictly increasing in term order (==): one node a key.
 *   S.2 Level l lists exactly the nodes of height > l, in the bottom list's order.
 *   S.3 Every node's prefix is its key's prefix; the head's level count covers every node.
 *   S.4 Node and object counts equal the table's key and object counts.
 *   S.5 A node's links change only while it is in the bottom list: a delete unlinks it and
 *       never stores into it again, so a reader standing on it still walks on (CURSORS).
 *
 * COSTS: lookup, insert, delete, next, prev, last, seek: O(log n) expected.  A cursor's
 * forward step: O(1), one node.  Its reverse step: O(log n).  slot(i): O(i).
 */
#include "store/commit.h"
#include "store/index.h"
#include "store/sobj.h"
#include "store/tab.h"
#include "term/term.h"
#include "shmets.h"
#include "base/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SL_LEVELS   24                  /* 4^24 keys before the levels run out */

struct snode {
    _Atomic uint64_t obj;
    _Atomic uint64_t prefix;
    uint32_t height;
    uint32_t spare;
    _Atomic uint64_t next[];
};

#define SN_OBJ      offsetof(struct snode, obj)
#define SN_PREFIX   offsetof(struct snode, prefix)
#define SN_NEXT(l)  (offsetof(struct snode, next) + (uint64_t)(l) * 8)

static inline uint64_t node_size(uint32_t height)
{
    return offsetof(struct snode, next) + (uint64_t)height * 8;
}

/* A node at `off` whose links lie inside the mapping, or NULL. */
static inline const struct snode *node_at(const struct seg *s, uint64_t off)
{
    if (off < SEG_PAGE || off > s->size - node_size(1) || (off & 7))
        return NULL;
    const struct snode *n = (const struct snode *)(s->base + off);
    if (n->height < 1 || n->height > SL_LEVELS || node_size(n->height) > s->size - off)
        return NULL;
    return n;
}

/* Readers' quick bound: off - SEG_PAGE <= fast_bound(s) (one compare, with off < SEG_PAGE
 * wrapping past it) says that a node of SL_LEVELS links at off, and so any node there, lies
 * inside the mapping; an offset that fails it may still be a node near the mapping's end, for
 * node_at to decide. */
static inline uint64_t fast_bound(const struct seg *s)
{
    return s->size >= SEG_PAGE + node_size(SL_LEVELS) ? s->size - node_size(SL_LEVELS) - SEG_PAGE : 0;
}

/* The node a reader's link leads to (base: s->base, fast: fast_bound(s), both kept by the
 * caller's loop), or NULL at the end or out of bounds. */
static inline __attribute__((always_inline)) const struct snode *node_quick(const struct seg *s, const unsigned char *base,
                                                                             uint64_t fast, uint64_t no)
{
    if (__builtin_expect(no - SEG_PAGE <= fast && !(no & 7), 1))
        return (const struct snode *)(base + no);
    return no ? node_at(s, no) : NULL;
}

/* ---- the prefix ------------------------------------------------------------------------- */

enum { RK_NUMBER = 1, RK_ATOM, RK_REF, RK_FUN, RK_PORT, RK_PID, RK_TUPLE, RK_MAP, RK_NIL, RK_LIST,
       RK_BITS };

static uint64_t double_bits(double d)
{
    if (d == 0)
        d = 0.0;                        /* -0.0 == 0.0 */
    uint64_t u;
    memcpy(&u, &d, 8);
    return u >> 63 ? ~u : u | 1ull << 63;
}

/* A canonical integer as a double, monotonically (most significant byte first: each step is
 * an exact scaling and one rounded addition, both monotone). */
static double int_double(const unsigned char *p)
{
    struct term_int v;
    term_get_int(p, &v);
    if (v.n == 0)
        return (double)v.small;
    double d = 0;
    for (size_t i = v.n; i-- > 0;)
        d = d * 256.0 + v.mag[i];
    return v.negative ? -d : d;
}

static uint64_t bytes60(const unsigned char *b, size_t n, unsigned last_bits)
{
    unsigned char x[7] = { 0 };
    size_t k = n < 7 ? n : 7;
    memcpy(x, b, k);
    if (k == n && n > 0 && last_bits < 8)
        x[n - 1] &= (unsigned char)(0xff << (8 - last_bits));
    uint64_t v = 0;
    for (int i = 0; i < 7; i++)
        v = v << 8 | x[i];
    return v << 4;
}

static uint64_t key_prefix(const unsigned char *p, int depth)
{
    uint64_t rank, val = 0;
    switch (p[0]) {
    case ETF_SMALL_INTEGER: case ETF_INTEGER: case ETF_SMALL_BIG: case ETF_LARGE_BIG:
        rank = RK_NUMBER;
        val = double_bits(int_double(p)) >> 4;
        break;
    case ETF_NEW_FLOAT: {
        double d;
        uint64_t u = get_be64(p + 1);
        memcpy(&d, &u, 8);
        rank = RK_NUMBER;
        val = double_bits(d) >> 4;
        break;
    }
    case ETF_SMALL_ATOM_UTF8: case ETF_ATOM_UTF8: {
        size_t n;
        const char *s = term_atom_text(p, &n);
        rank = RK_ATOM;
        val = bytes60((const unsigned char *)s, n, 8);
        break;
    }
    case ETF_NEWER_REFERENCE: case ETF_NEW_REFERENCE: case ETF_REFERENCE: rank = RK_REF; break;
    case ETF_NEW_FUN: case ETF_EXPORT: case ETF_FUN: rank = RK_FUN; break;
    case ETF_NEW_PORT: case ETF_V4_PORT: case ETF_PORT: rank = RK_PORT; break;
    case ETF_NEW_PID: case ETF_PID: rank = RK_PID; break;
    case ETF_SMALL_TUPLE: case ETF_LARGE_TUPLE: {
        uint32_t ar = p[0] == ETF_SMALL_TUPLE ? p[1] : get_be32(p + 1);
        const unsigned char *e = p + (p[0] == ETF_SMALL_TUPLE ? 2 : 5);
        rank = RK_TUPLE;
        if (ar >= 0xffff)
            val = 0xffffull << 44;
        else
            val = (uint64_t)ar << 44 | (ar && depth < 4 ? key_prefix(e, depth + 1) >> 20 : 0);
        break;
    }
    case ETF_MAP: {
        uint32_t n = get_be32(p + 1);
        rank = RK_MAP;
        val = n;
        break;
    }
    case ETF_NIL: rank = RK_NIL; break;
    case ETF_STRING: {
        /* A list of small integers: its first element is the integer p[3], whose prefix a
         * LIST would take (below). */
        rank = RK_LIST;
        val = depth < 4 ? ((uint64_t)RK_NUMBER << 60 | double_bits((double)p[3]) >> 4) >> 4 : 0;
        break;
    }
    case ETF_LIST:
        rank = RK_LIST;
        val = depth < 4 ? key_prefix(p + 5, depth + 1) >> 4 : 0;
        break;
    case ETF_BINARY:
        rank = RK_BITS;
        val = bytes60(p + 5, get_be32(p + 1), 8);
        break;
    case ETF_BIT_BINARY:
        rank = RK_BITS;
        val = bytes60(p + 6, get_be32(p + 1), p[5]);
        break;
    default:
        rank = 0;
        break;
    }
    return rank << 60 | (val & ((1ull << 60) - 1));
}

/* ---- comparing a search key with a node ------------------------------------------------- */

struct skey {
    const unsigned char *key;
    uint64_t prefix;
};

/* Compare the node's key with k: <0, 0, >0.  *bad is set when the node's object is out of
 * bounds (a damaged segment): the caller stops. */
static int node_cmp(const struct seg *s, const struct snode *n, const struct skey *k, int *bad)
{
    uint64_t p = atomic_load_explicit(&n->prefix, memory_order_relaxed);
    if (p != k->prefix)
        return p < k->prefix ? -1 : 1;
    const struct sobj *o = sobj_at(s, atomic_load_explicit(&n->obj, memory_order_acquire));
    if (!o || !sobj_key_ok(o)) {          /* term_span: term_cmp may walk it */
        *bad = 1;
        return 1;
    }
    return term_cmp(sobj_key(o), k->key, 0);
}

static uint64_t walk_cap(const struct tab *t)
{
    uint64_t b = __atomic_load_n(&t->h->heap.blocks, __ATOMIC_RELAXED);
    uint64_t most = t->s.size / (node_size(1) + ALLOC_HDR);
    return (b < most ? b : most) + SL_LEVELS;
}

static unsigned head_levels(const struct snode *head)
{
    uint64_t l = atomic_load_explicit(&head->prefix, memory_order_relaxed);
    return l < 1 ? 1 : l > SL_LEVELS ? SL_LEVELS : (unsigned)l;
}

/*
 * The reader's search: the last node whose key is < k (strict) or <= k (!strict), or the head;
 * *succ (if not NULL) the node after it at level 0 AS THE SEARCH SAW IT.  A caller must use
 * that node and not load the link again: a writer may link a new node in between (a search
 * for 51 that stopped at 49 because 49 led to 51 would otherwise find 50, just inserted, and
 * miss 51).  *eq (if not NULL): 1 when *succ's key was compared equal to k, so that a lookup
 * need not compare it again.  k NULL: the last node of the list (every key counts as smaller).
 *
 * The loop is the cost of every ordered read (~35 node visits in a 200,000-key table), so a
 * visit does little: a link whose node would fit whole even at SL_LEVELS links (every node not
 * within 216 bytes of the mapping's end) is taken after two compares, not node_at's five — the
 * height it does not check is read at the next visit only as a bound of the level, which
 * head_levels keeps below SL_LEVELS, so every link read stays inside the mapping; the rare node
 * near the end goes through node_at.  A node whose key compared equal once (at an upper level)
 * is known equal when the search meets it again lower down: term_cmp runs once a search.
 * (callgrind, a 200,000-key table: 47 instructions a visit before, ~25 after; an ordered
 * lookup_view 2,140-2,350 -> ~1,510 in the library.)  The search's state is struct walk; a
 * level's walk is level_walk, inlined for the upper levels (which prefetch) and for level 0.
 */
struct walk {
    const struct seg *s;
    const unsigned char *base;
    uint64_t fast, cap, kp, same;
    const struct skey *k;
    const struct snode *x;
    uint64_t xo;
};

/* Walk level l right from w->x while the next key is < k (strict) or <= k.  1: the level is
 * done, *stop the node it stopped before (0: none) and *cmp that node's compare with k; 0: the
 * search ends at w->xo (the walk's bound, or a damaged node or key). */
static inline __attribute__((always_inline)) int level_walk(struct walk *w, int l, int strict, uint64_t *stop, int *cmp,
                                                            const int haskey)
{
    for (;;) {
        if ((unsigned)l >= w->x->height || w->cap-- == 0)
            return 0;
        uint64_t no = atomic_load_explicit(&w->x->next[l], memory_order_acquire);
        const struct snode *n = node_quick(w->s, w->base, w->fast, no);
        if (!n) {
            *stop = 0;
            *cmp = 1;
            return 1;
        }
        /* While n's line is on its way, fetch the node the search visits if it goes down
         * from x instead (x's next a level lower): a level then costs about one memory
         * latency, not two.  A damaged offset is not prefetched (the pointer would
         * overflow: undefined, though the prefetch itself could not fault). */
        if (l > 0) {
            uint64_t pf = atomic_load_explicit(&w->x->next[l - 1], memory_order_relaxed);
            if (pf - SEG_PAGE <= w->fast)
                __builtin_prefetch(w->base + pf);
        }
        int c = -1;
        if (haskey) {
            uint64_t p = atomic_load_explicit(&n->prefix, memory_order_relaxed);
            if (p != w->kp)
                c = p < w->kp ? -1 : 1;
            else if (no == w->same)
                c = 0;
            else {
                int bad = 0;
                c = node_cmp(w->s, n, w->k, &bad);
                if (bad)
                    return 0;
                if (c == 0)
                    w->same = no;
            }
        }
        if (c < 0 || (!strict && c == 0)) {
            w->xo = no;
            w->x = n;
        } else {
            *stop = no;
            *cmp = c;
            return 1;
        }
    }
}

static inline __attribute__((always_inline)) uint64_t search_in(const struct tab *t, const struct skey *k, int strict,
                                                                  uint64_t *succ, int *eq, const int haskey)
{
    if (succ)
        *succ = 0;
    if (eq)
        *eq = 0;
    struct walk w;
    w.s = &t->s;
    w.xo = atomic_load_explicit(&t->h->root.word, memory_order_acquire);
    w.x = node_at(w.s, w.xo);
    if (!w.x)
        return 0;
    w.base = w.s->base;
    w.fast = fast_bound(w.s);
    w.cap = walk_cap(t);
    w.k = k;
    w.kp = k ? k->prefix : 0;
    w.same = 0;
    uint64_t no;
    int c;
    for (int l = (int)head_levels(w.x) - 1; l > 0; l--)
        if (!level_walk(&w, l, strict, &no, &c, haskey))
            return w.xo;
    if (!level_walk(&w, 0, strict, &no, &c, haskey))
        return w.xo;
    if (succ)
        *succ = no;
    if (eq)
        *eq = no && c == 0;
    return w.xo;
}

static uint64_t search_eq(const struct tab *t, const struct skey *k, int strict, uint64_t *succ, int *eq)
{
    return k ? search_in(t, k, strict, succ, eq, 1) : search_in(t, NULL, strict, succ, eq, 0);
}

static uint64_t search(const struct tab *t, const struct skey *k, int strict, uint64_t *succ)
{
    return search_eq(t, k, strict, succ, NULL);
}

static uint64_t obj_of(const struct tab *t, uint64_t no)
{
    const struct snode *n = node_at(&t->s, no);
    return n ? atomic_load_explicit(&n->obj, memory_order_acquire) : 0;
}

static uint64_t head_off(const struct tab *t)
{
    return atomic_load_explicit(&t->h->root.word, memory_order_acquire);
}

/* The node after xo at level 0, or 0. */
static uint64_t after(const struct tab *t, uint64_t xo)
{
    const struct snode *x = node_at(&t->s, xo);
    return x ? atomic_load_explicit(&x->next[0], memory_order_acquire) : 0;
}

static uint64_t sl_lookup(const struct tab *t, const unsigned char *key, uint32_t klen, uint64_t hash)
{
    (void)klen;
    (void)hash;
    struct skey k = { key, key_prefix(key, 0) };
    uint64_t no;
    int eq;
    search_eq(t, &k, 1, &no, &eq);
    return eq ? obj_of(t, no) : 0;
}

static uint64_t sl_first(const struct tab *t)
{
    return obj_of(t, after(t, head_off(t)));
}

static uint64_t sl_next(const struct tab *t, const unsigned char *key, uint32_t klen, uint64_t hash)
{
    (void)klen;
    (void)hash;
    struct skey k = { key, key_prefix(key, 0) };
    uint64_t no;
    search(t, &k, 0, &no);
    return obj_of(t, no);
}

static uint64_t sl_last(const struct tab *t)
{
    uint64_t xo = search(t, NULL, 1, NULL);
    return xo == head_off(t) ? 0 : obj_of(t, xo);
}

static uint64_t sl_prev(const struct tab *t, const unsigned char *key, uint32_t klen, uint64_t hash)
{
    (void)klen;
    (void)hash;
    struct skey k = { key, key_prefix(key, 0) };
    uint64_t xo = search(t, &k, 1, NULL);
    return xo == head_off(t) ? 0 : obj_of(t, xo);
}

/*
 * CURSORS (seek/step, index.h).  A cursor is the offset of the node it stands on.  A forward
 * step follows that node's level-0 link and nothing else: one line, not a search.  That is
 * right even when a writer unlinked the node after the cursor reached it (S.5): a delete
 * leaves the unlinked node's links as they were, and RCU keeps it for the section, so the
 * link leads to the key that followed it when it left the list — at most the next key still
 * in the table, never past one (a key present throughout the walk is never skipped; keys
 * inserted meanwhile may or may not be seen, as in ETS).  A reverse step has no link to
 * follow (one-way list): it searches for the last key before the node's.
 */
static uint64_t sl_seek(const struct tab *t, const unsigned char *key, uint32_t klen, unsigned how,
                        struct index_cursor *c)
{
    (void)klen;
    uint64_t no = 0;
    int reverse = how & SEEK_REVERSE, at = (how & SEEK_AT) != 0;
    if (key) {
        /* Forward: the node after the last one < key (at) or <= key; reverse: the last one
         * <= key (at) or < key. */
        struct skey k = { key, key_prefix(key, 0) };
        if (reverse)
            no = search(t, &k, !at, NULL);
        else
            search(t, &k, at, &no);
    } else {
        no = reverse ? search(t, NULL, 1, NULL) : after(t, head_off(t));
    }
    if (reverse && no == head_off(t))
        no = 0;
    c->node = no;
    c->pos = 0;
    return no ? obj_of(t, no) : 0;
}

static size_t sl_steps(const struct tab *t, struct index_cursor *c, int reverse, uint64_t *out, size_t max)
{
    const struct seg *s = &t->s;
    size_t m = 0;
    if (!reverse) {
        /* Link by link, each node checked once (the search's two compares, or node_at near the
         * mapping's end), its object's line prefetched. */
        uint64_t fast = fast_bound(s);
        const unsigned char *base = s->base;
        uint64_t at = c->node;
        const struct snode *x = at ? node_at(s, at) : NULL;
        while (x && m < max) {
            uint64_t no = atomic_load_explicit(&x->next[0], memory_order_acquire);
            const struct snode *n = node_quick(s, base, fast, no);
            if (!n)
                break;                  /* the end (or a damaged link: the walk ends here) */
            uint64_t o = atomic_load_explicit(&n->obj, memory_order_acquire);
            if (o - SEG_PAGE <= fast)
                __builtin_prefetch(base + o);
            out[m++] = o;
            at = no;
            x = n;
        }
        c->node = at;
        return m;
    }
    while (c->node && m < max) {
        const struct sobj *o = sobj_at(s, obj_of(t, c->node));
        uint64_t no = 0;
        if (o && sobj_key_ok(o)) {      /* else a damaged object: the walk ends here */
            struct skey k = { sobj_key(o), key_prefix(sobj_key(o), 0) };
            no = search(t, &k, 1, NULL);
            if (no == head_off(t))
                no = 0;
        }
        if (!no)
            break;
        c->node = no;
        out[m++] = obj_of(t, no);
    }
    return m;
}

static uint64_t sl_seek_below(const struct tab *t, int (*below)(void *arg, const unsigned char *key, uint32_t klen),
                              void *arg)
{
    const struct seg *s = &t->s;
    uint64_t xo = head_off(t);
    const struct snode *x = node_at(s, xo);
    if (!x)
        return 0;
    uint64_t cap = walk_cap(t);
    for (int l = (int)head_levels(x) - 1; l >= 0; l--) {
        while ((unsigned)l < x->height && cap-- > 0) {
            uint64_t no = atomic_load_explicit(&x->next[l], memory_order_acquire);
            const struct snode *n = no ? node_at(s, no) : NULL;
            const struct sobj *o = n ? sobj_at(s, atomic_load_explicit(&n->obj, memory_order_acquire)) : NULL;
            if (!o || !sobj_key_ok(o) || !below(arg, sobj_key(o), sobj_klen(o)))
                break;
            xo = no;
            x = n;
        }
    }
    return xo == head_off(t) ? 0 : obj_of(t, xo);
}

static int sl_slot(const struct tab *t, uint64_t i, index_visit_fn fn, void *arg)
{
    uint64_t cap = walk_cap(t), xo = after(t, head_off(t));
    for (uint64_t k = 0; k < i; k++) {
        if (!xo || cap-- == 0)
            return -SHMETS_EBADPOS;     /* past the end ('$end_of_table' is slot `size`) */
        xo = after(t, xo);
    }
    if (!xo)
        return 0;
    fn(arg, obj_of(t, xo));
    return 1;
}

/* ---- writers ------------------------------------------------------------------------------ */

static int damaged(const char *what, uint64_t at)
{
    return err_set(SHMETS_EBADSEG, "skip list: %s (at offset %llu; a damaged segment)" SALVAGE_HINT, what,
                   (unsigned long long)at);
}

/* The writer's search through the plan: pred[l] for every level (the last node < k at l), and
 * the node at level 0 after pred[0] (*hit if its key == k).  Returns 0 or -SHMETS_EBADSEG. */
static int wsearch(const struct tab *t, const struct plan *p, const struct skey *k, uint64_t pred[SL_LEVELS],
                   uint64_t *succ0, int *hit)
{
    const struct seg *s = &t->s;
    uint64_t xo = plan_word(p, s, offsetof(struct tab_hdr, root.word));
    uint64_t cap = walk_cap(t);
    if (!node_at(s, xo))
        return damaged("the head node is out of bounds", xo);
    for (int l = SL_LEVELS - 1; l >= 0; l--) {
        for (;;) {
            uint64_t no = plan_word(p, s, xo + SN_NEXT(l));
            if (!no)
                break;
            const struct snode *n = node_at(s, no);
            if (!n || (unsigned)l >= n->height || cap-- == 0)
                return damaged("a link leads out of bounds, or loops", no);
            /* The node's key as the plan leaves it (a replacement may be planned). */
            const struct sobj *o = sobj_at(s, plan_word(p, s, no + SN_OBJ));
            if (!o || !sobj_key_ok(o))
                return damaged("a node's object is out of bounds or its key is not a term", no);
            uint64_t np = atomic_load_explicit(&n->prefix, memory_order_relaxed);
            int c = np != k->prefix ? (np < k->prefix ? -1 : 1) : term_cmp(sobj_key(o), k->key, 0);
            if (c >= 0)
                break;
            xo = no;
        }
        pred[l] = xo;
    }
    *succ0 = plan_word(p, s, pred[0] + SN_NEXT(0));
    *hit = 0;
    if (*succ0) {
        const struct sobj *o = sobj_at(s, plan_word(p, s, *succ0 + SN_OBJ));
        if (!o || !sobj_key_ok(o))
            return damaged("a node's object is out of bounds or its key is not a term", *succ0);
        *hit = term_cmp(sobj_key(o), k->key, 0) == 0;
    }
    return 0;
}

static uint32_t height_of(uint64_t hash)
{
    uint32_t h = 1;
    while (h < SL_LEVELS && (hash & 3) == 0) {
        h++;
        hash >>= 2;
    }
    return h;
}

static int sl_init(struct tab *t, struct plan *p)
{
    uint64_t off;
    int rc = plan_alloc(p, t, node_size(SL_LEVELS), &off);
    if (rc)
        return rc;
    struct snode *h = (struct snode *)(t->s.base + off);
    memset(h, 0, node_size(SL_LEVELS));
    h->height = SL_LEVELS;
    atomic_store_explicit(&h->prefix, 1, memory_order_relaxed);
    plan_store(p, offsetof(struct tab_hdr, root.word), off);
    return p->err;
}

static int sl_put(struct tab *t, struct plan *p, const struct wobj *objs, size_t n, enum put_mode mode)
{
    struct seg *s = &t->s;
    for (size_t i = 0; i < n; i++) {
        const struct wobj *w = &objs[i];
        struct skey k = { w->key, key_prefix(w->key, 0) };
        uint64_t pred[SL_LEVELS], succ;
        int hit, rc = wsearch(t, p, &k, pred, &succ, &hit);
        if (rc)
            return rc;
        if (hit) {
            if (mode == PUT_NEW)
                return -SHMETS_EEXIST;
            /* Set semantics (ordered_set has no bags): the new object replaces the old. */
            plan_retire(p, plan_word(p, s, succ + SN_OBJ));
            plan_store(p, succ + SN_OBJ, w->off);
            continue;
        }
        uint32_t h = height_of(w->hash);
        uint64_t no;
        if ((rc = plan_alloc(p, t, node_size(h), &no)))
            return rc;
        struct snode *nd = (struct snode *)(s->base + no);
        atomic_store_explicit(&nd->obj, w->off, memory_order_relaxed);
        atomic_store_explicit(&nd->prefix, k.prefix, memory_order_relaxed);
        nd->height = h;
        nd->spare = 0;
        for (uint32_t l = 0; l < h; l++)
            atomic_store_explicit(&nd->next[l], plan_word(p, s, pred[l] + SN_NEXT(l)), memory_order_relaxed);
        for (uint32_t l = 0; l < h; l++)                /* level 0 first: the publish */
            plan_store(p, pred[l] + SN_NEXT(l), no);
        uint64_t head = plan_word(p, s, offsetof(struct tab_hdr, root.word));
        if (plan_word(p, s, head + SN_PREFIX) < h)
            plan_store(p, head + SN_PREFIX, h);
        p->dkeys++;
        p->dobjs++;
        if (p->err)
            return p->err;
    }
    return 0;
}

static int sl_del(struct tab *t, struct plan *p, const unsigned char *key, uint32_t klen, uint64_t hash)
{
    (void)klen;
    (void)hash;
    struct seg *s = &t->s;
    struct skey k = { key, key_prefix(key, 0) };
    uint64_t pred[SL_LEVELS], no;
    int hit, rc = wsearch(t, p, &k, pred, &no, &hit);
    if (rc)
        return rc;
    if (!hit)
        return 0;
    const struct snode *n = node_at(s, no);
    for (int l = (int)n->height - 1; l >= 0; l--) {     /* level 0 last: the unpublish */
        if (plan_word(p, s, pred[l] + SN_NEXT(l)) != no)
            return damaged("a node is missing from an upper level", no);
        plan_store(p, pred[l] + SN_NEXT(l), plan_word(p, s, no + SN_NEXT(l)));
    }
    plan_retire(p, plan_word(p, s, no + SN_OBJ));
    plan_retire(p, no);
    p->dkeys--;
    p->dobjs--;
    return p->err ? p->err : 1;
}

static int sl_needs_resize(const struct tab *t, uint64_t nkeys)
{
    (void)t;
    (void)nkeys;
    return 0;
}

static int sl_resize(struct tab *t, struct plan *p, uint64_t nkeys)
{
    (void)t;
    (void)p;
    (void)nkeys;
    return 0;                           /* a skip list has nothing to resize */
}

/* ---- recovery and check ----------------------------------------------------------------- */

/* Walk the bottom list; with `full`, check S.1-S.3 as well. */
static int sl_walk(const struct tab *t, index_mark_fn mark, void *arg, uint64_t *objs, uint64_t *keys, int full)
{
    const struct seg *s = &t->s;
    const struct alloc_heap *hp = &t->h->heap;
    uint64_t ho = atomic_load(&t->h->root.word);
    if (!alloc_is_block(hp, s, ho, BLK_USED) || alloc_capacity(s, ho) < node_size(SL_LEVELS) ||
        !node_at(s, ho) || node_at(s, ho)->height != SL_LEVELS)
        return damaged("the head node is not a used block", ho);
    const struct snode *head = node_at(s, ho);
    if (mark)
        mark(arg, ho);
    uint64_t budget = hp->blocks, n = 0, at_level[SL_LEVELS] = { 0 };
    const struct sobj *prev = NULL;
    uint32_t top = 1;
    for (uint64_t no = atomic_load(&head->next[0]); no; no = atomic_load(&node_at(s, no)->next[0])) {
        const struct snode *nd = node_at(s, no);
        if (!nd || !alloc_is_block(hp, s, no, BLK_USED) || alloc_capacity(s, no) < node_size(nd->height))
            return damaged("a link names something that is not a node", no);
        if (budget-- == 0)
            return damaged("the list is longer than the heap (a cycle?)", no);
        uint64_t oo = atomic_load(&nd->obj);
        const struct sobj *o = sobj_at(s, oo);
        if (!o || !alloc_is_block(hp, s, oo, BLK_USED) || alloc_capacity(s, oo) < SOBJ_SHORT_HDR ||
            sobj_size(o) > alloc_capacity(s, oo) || sobj_klen(o) == 0 || sobj_next(o) != 0)
            return damaged("a node's object is not a stored object", oo);
        if (mark) {
            mark(arg, no);
            mark(arg, oo);
        }
        n++;
        for (uint32_t l = 0; l < nd->height; l++)
            at_level[l]++;
        if (nd->height > top)
            top = nd->height;
        if (full) {
            struct tbuf tmp;
            shmets_term obj;
            tbuf_init(&tmp, SHMETS_TERM_MAX_SIZE);
            int rc = sobj_check(t, oo, o, &tmp, &obj);
            tbuf_free(&tmp);
            if (rc)
                return rc;
            const unsigned char *key = sobj_key(o);      /* sobj_check: the key's bytes */
            if (atomic_load(&nd->prefix) != key_prefix(key, 0))
                return damaged("S.3 a node's prefix is not its key's", no);
            if (prev && term_cmp(sobj_key(prev), key, 0) >= 0)
                return damaged("S.1 the bottom list is not strictly increasing", no);
            prev = o;
        }
    }
    if (full) {
        if (head_levels(head) < top || atomic_load(&head->prefix) > SL_LEVELS)
            return damaged("S.3 the head's level count is below a node's height", ho);
        for (uint32_t l = 1; l < SL_LEVELS; l++) {
            /* S.2: level l is the subsequence of nodes of height > l. */
            uint64_t want = atomic_load(&head->next[0]), m = 0;
            for (uint64_t no = atomic_load(&head->next[l]); no; no = atomic_load(&node_at(s, no)->next[l]), m++) {
                if (!node_at(s, no) || node_at(s, no)->height <= l)
                    return damaged("S.2 an upper level names a node not that tall", no);
                while (want && want != no) {
                    if (node_at(s, want)->height > l)
                        return damaged("S.2 an upper level skips a node of its height", want);
                    want = atomic_load(&node_at(s, want)->next[0]);
                }
                if (!want || m >= at_level[l])
                    return damaged("S.2 an upper level names a node off the bottom list", no);
                want = atomic_load(&node_at(s, want)->next[0]);
            }
            if (m != at_level[l])
                return damaged("S.2 an upper level misses nodes of its height", ho);
        }
    }
    *objs = *keys = n;
    return 0;
}

static int sl_mark(const struct tab *t, index_mark_fn mark, void *arg, uint64_t *objs, uint64_t *keys)
{
    return sl_walk(t, mark, arg, objs, keys, 0);
}

static int sl_check(const struct tab *t)
{
    uint64_t objs, keys;
    int rc = sl_walk(t, NULL, NULL, &objs, &keys, 1);
    if (rc)
        return rc;
    if (objs != atomic_load(&t->h->objs) || keys != atomic_load(&t->h->keys))
        return err_set(SHMETS_EBADSEG, "S.4 the table counts %llu objects and %llu keys; its index holds %llu",
                       (unsigned long long)atomic_load(&t->h->objs), (unsigned long long)atomic_load(&t->h->keys),
                       (unsigned long long)keys);
    return 0;
}

const struct index_ops skiplist_index_ops = {
    .name = "skiplist",
    .init = sl_init,
    .lookup = sl_lookup,
    .first = sl_first,
    .next = sl_next,
    .last = sl_last,
    .prev = sl_prev,
    .seek = sl_seek,
    .steps = sl_steps,
    .seek_below = sl_seek_below,
    .slot = sl_slot,
    .put = sl_put,
    .del = sl_del,
    .needs_resize = sl_needs_resize,
    .resize = sl_resize,
    .mark = sl_mark,
    .check = sl_check,
};
