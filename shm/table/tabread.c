/*
 * tabread.c — the reading calls besides lookup and member (table.c): first, next, last, prev,
 * their _lookup forms (OTP 27: the key and its objects, read in one read section, so the
 * objects are the key's at one moment and never [] for a key the step found), foldl, foldr,
 * tab2list, slot and lookup_element, all with ETS's meaning.
 *
 * EVERY CALL IS A FEW SHORT READ SECTIONS.  A traversal does not hold one read section for the
 * whole table (that would hold back reclamation for as long as the caller takes, and a fold's
 * callback may even write the table); it takes up to STEP_KEYS keys (or STEP_BYTES bytes) per
 * section, copies them out, and goes on from the last key it copied.  That works because the
 * indexes' next() accepts any key, present or not, and neither index reorders keys when it
 * grows or shrinks (index.h): every key that stays in the table meanwhile is visited exactly
 * once, whatever the writers do, and a traversal never loops.  As in ETS, a traversal is not
 * a snapshot: keys inserted or deleted meanwhile may or may not be seen.
 *
 * WITHIN A SECTION A WALK USES A CURSOR where the index has one (index.h seek/step: the
 * ordered_set's skip list): the section's first key is found by a search from the key the
 * last section ended at, every later one by stepping the cursor from the node it stands on
 * (a link followed, skiplist.c S.5), not by a search from the top.  A cursor never outlives its
 * section: between sections RCU may free what it names, so the next section searches again by
 * key — which is also why a continuation (tabselect.c), resumed in any process, carries a key.
 * A walk by search checks that every step moves forward in the walk's order (goes_on below); a
 * walk by cursor, that each section ends past where it began — enough for it to end.
 *
 * Each section can be run again (tab_read retries it when a multi-key publish overlapped it),
 * so the functions here truncate their output to where the section began before they write.
 */
#include "table/table.h"
#include "term/term.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

#define STEP_KEYS  64
#define STEP_BYTES (256u << 10)

/* ---- first / next / last / prev ------------------------------------------------------------ */

enum step { ST_FIRST, ST_NEXT, ST_LAST, ST_PREV };

struct key_arg {
    enum step op;
    shmets_term key;
    uint64_t hash;
    int need_present;           /* next/prev on a hash table that is not fixed */
    int absent;
    struct tbuf *b;
    struct tbuf *objs;          /* the _lookup forms: the key's objects too, as a list term */
};

static uint64_t do_step(const struct tab *t, enum step op, shmets_term key, uint64_t hash)
{
    const struct index_ops *x = t->ops;
    uint32_t kl = (uint32_t)key.len;
    switch (op) {
    case ST_FIRST: return x->first(t);
    case ST_LAST:  return x->last ? x->last(t) : x->first(t);
    case ST_NEXT:  return x->next(t, key.ptr, kl, hash);
    case ST_PREV:  return x->prev ? x->prev(t, key.ptr, kl, hash) : x->next(t, key.ptr, kl, hash);
    }
    return 0;
}

static int key_fn(struct tab *t, void *arg)
{
    struct key_arg *a = arg;
    a->b->len = 0;
    a->b->err = 0;
    a->absent = 0;
    if (a->need_present && !t->ops->lookup(t, a->key.ptr, (uint32_t)a->key.len, a->hash)) {
        a->absent = 1;
        return 0;
    }
    uint64_t off = do_step(t, a->op, a->key, a->hash);
    const struct sobj *o = sobj_at(&t->s, off);
    if (o)
        tbuf_put(a->b, sobj_key(o), sobj_klen(o));
    if (o && !a->b->err && !term_span(a->b->p, a->b->len))
        return sobj_bad(t, o, "D.1 a stored key is not a term");
    if (o && a->objs) {
        a->objs->len = 0;
        a->objs->err = 0;
        tab_copy_chain(t, off, a->objs);
    }
    return 0;
}

/* The step from key (or from an end); with objs, the objects of the key found as well. */
static int key_call(shmets_tab *t, enum step op, shmets_term key, shmets_term *out, shmets_term *objs)
{
    if (!t || !out || ((op == ST_NEXT || op == ST_PREV) && !key.ptr))
        return err_set(SHMETS_EINVAL, "NULL argument");
    out->ptr = NULL;
    out->len = 0;
    if (objs)
        *objs = (shmets_term){ NULL, 0 };
    if (key.len > UINT32_MAX)
        return err_set(SHMETS_ENOKEY, "no such key");
    const char *atom;
    size_t alen;
    if ((op == ST_NEXT || op == ST_PREV) && t->h->kind == SHMETS_ORDERED_SET &&
        shmets_term_get_atom(key, &atom, &alen) == 0 && alen == 13 && memcmp(atom, "$end_of_table", 13) == 0)
        return err_set(SHMETS_ENOKEY, "next/prev of '$end_of_table' on an ordered_set (ETS: badarg)");
    struct tbuf b, ob;
    tbuf_init(&b, SHMETS_TERM_MAX_SIZE);
    tbuf_init(&ob, (size_t)1 << 62);
    struct key_arg a = { op, key, 0, 0, 0, &b, objs ? &ob : NULL };
    if (op == ST_NEXT || op == ST_PREV) {
        a.hash = tab_read_hash(t, key);
        a.need_present = t->h->kind != SHMETS_ORDERED_SET && !tab_fixed(t);
    }
    int rc = tab_read(t, key_fn, &a);
    if (!rc && a.absent)
        rc = err_set(SHMETS_ENOKEY, "next/prev: the key is not in the table (and the table is not fixed)");
    if (!rc && !b.err && b.len == 0) {
        tbuf_free(&b);
        tbuf_free(&ob);
        return 0;                       /* '$end_of_table': {NULL, 0} */
    }
    if (!objs) {
        tbuf_free(&ob);
        return tbuf_to_term(&b, rc, out);
    }
    rc = tbuf_to_term(&ob, rc, objs);
    rc = tbuf_to_term(&b, rc, out);
    if (rc)
        shmets_term_free(objs);
    return rc;
}

int shmets_first(shmets_tab *t, shmets_term *key)
{
    shmets_term none = { NULL, 0 };
    return key_call(t, ST_FIRST, none, key, NULL);
}

int shmets_last(shmets_tab *t, shmets_term *key)
{
    shmets_term none = { NULL, 0 };
    return key_call(t, ST_LAST, none, key, NULL);
}

int shmets_next(shmets_tab *t, shmets_term key, shmets_term *next)
{
    return key_call(t, ST_NEXT, key, next, NULL);
}

int shmets_prev(shmets_tab *t, shmets_term key, shmets_term *prev)
{
    return key_call(t, ST_PREV, key, prev, NULL);
}

int shmets_first_lookup(shmets_tab *t, shmets_term *key, shmets_term *objects)
{
    shmets_term none = { NULL, 0 };
    return objects ? key_call(t, ST_FIRST, none, key, objects) : err_set(SHMETS_EINVAL, "NULL argument");
}

int shmets_last_lookup(shmets_tab *t, shmets_term *key, shmets_term *objects)
{
    shmets_term none = { NULL, 0 };
    return objects ? key_call(t, ST_LAST, none, key, objects) : err_set(SHMETS_EINVAL, "NULL argument");
}

int shmets_next_lookup(shmets_tab *t, shmets_term key, shmets_term *next, shmets_term *objects)
{
    return objects ? key_call(t, ST_NEXT, key, next, objects) : err_set(SHMETS_EINVAL, "NULL argument");
}

int shmets_prev_lookup(shmets_tab *t, shmets_term key, shmets_term *prev, shmets_term *objects)
{
    return objects ? key_call(t, ST_PREV, key, prev, objects) : err_set(SHMETS_EINVAL, "NULL argument");
}

/* ---- traversal in sections -------------------------------------------------------------- */

/*
 * One section of a traversal: from after `from` (or from the start), copy the objects of up to
 * STEP_KEYS keys into objs (their encodings one after another) and remember the last key.
 */
#define WALK_LENS 256            /* objects of a section whose lengths each() is given */

struct walk_arg {
    int reverse;
    struct tbuf *objs;          /* the section's objects, one encoding after another */
    size_t nobjs;
    struct tbuf *from;          /* the key the section starts after (if started) */
    struct tbuf *last;          /* the last key the section copied */
    int started, done;
    struct term_shape shape;    /* the objects' shape, for their check (term_span.c D.6) */
    size_t lens[WALK_LENS];     /* the first WALK_LENS objects' lengths, for each() */
};

/* Does the key of o come after `key` (hash `hash`; unused for an ordered_set) in traversal order?  Every step of a walk
 * must move forward, or a damaged index could send it round a cycle for ever: term order for an
 * ordered_set (reversed for a reverse walk), and for a hash table the order hash.c visits keys
 * in, by the bit-reversed hash, then length and bytes.  The key has passed sobj_key_ok. */
static uint64_t rev64(uint64_t x)
{
    x = (x >> 1 & 0x5555555555555555ull) | (x & 0x5555555555555555ull) << 1;
    x = (x >> 2 & 0x3333333333333333ull) | (x & 0x3333333333333333ull) << 2;
    x = (x >> 4 & 0x0F0F0F0F0F0F0F0Full) | (x & 0x0F0F0F0F0F0F0F0Full) << 4;
    return __builtin_bswap64(x);
}

static int goes_on(const struct tab *t, int reverse, const struct sobj *o, shmets_term key, uint64_t hash)
{
    if (t->h->kind == SHMETS_ORDERED_SET) {
        int c = term_cmp(sobj_key(o), key.ptr, 0);
        return reverse ? c < 0 : c > 0;
    }
    uint64_t a = rev64(sobj_hash(t, o)), b = rev64(hash);
    if (a != b)
        return a > b;
    if (sobj_klen(o) != key.len)
        return sobj_klen(o) > key.len;
    return memcmp(sobj_key(o), key.ptr, key.len) > 0;
}

/* The section's first key: after `key` (or from an end), by a search. */
static uint64_t walk_seek(const struct tab *t, struct walk_arg *a, shmets_term key, struct index_cursor *cur)
{
    if (t->ops->seek)
        return t->ops->seek(t, key.ptr, (uint32_t)key.len, a->reverse ? SEEK_REVERSE : 0, cur);
    return !key.ptr ? do_step(t, a->reverse ? ST_LAST : ST_FIRST, key, 0)
                    : do_step(t, a->reverse ? ST_PREV : ST_NEXT, key, tab_hash(t, key));
}

/* Keys the cursor has stepped over ahead of the walk (their objects prefetched by steps):
 * up to WALK_AHEAD taken in one call, handed out one by one; what is left when the section
 * ends is dropped (the next section seeks from the last key handed out). */
#define WALK_AHEAD 16
struct walk_ahead {
    uint64_t q[WALK_AHEAD];
    size_t i, n;
};

/* The key after the one just visited (o, whose key is key): by the cursor where the index has
 * one (links followed, not a search), else by a search from the key. */
static uint64_t walk_step(const struct tab *t, struct walk_arg *a, shmets_term key, struct index_cursor *cur,
                          struct walk_ahead *ah)
{
    if (t->ops->steps) {
        if (ah->i == ah->n) {
            ah->i = 0;
            ah->n = t->ops->steps(t, cur, a->reverse, ah->q, a->reverse ? 1 : WALK_AHEAD);
            if (!ah->n)
                return 0;
        }
        return ah->q[ah->i++];
    }
    return do_step(t, a->reverse ? ST_PREV : ST_NEXT, key, tab_hash(t, key));
}

static int walk_fn(struct tab *t, void *arg)
{
    struct walk_arg *a = arg;
    a->objs->len = 0;
    a->objs->err = 0;
    a->nobjs = 0;
    a->done = 0;
    shmets_term key = { NULL, 0 };
    if (a->started) {
        key.ptr = a->from->p;
        key.len = a->from->len;
    }
    uint64_t cap = tab_chain_max(t);
    struct index_cursor cur = { 0, 0 };
    struct walk_ahead ah = { .i = 0, .n = 0 };
    const struct sobj *lasto = NULL;    /* the last key visited, in the table (this section) */
    for (int k = 0; k < STEP_KEYS && a->objs->len < STEP_BYTES; k++) {
        uint64_t off = k == 0 ? walk_seek(t, a, key, &cur) : walk_step(t, a, key, &cur, &ah);
        const struct sobj *o = sobj_at(&t->s, off);
        if (!o) {
            a->done = 1;
            break;
        }
        /* A walk by search reads each key (the next step starts from it): it is checked
         * first (D.1).  A walk by cursor reads only its section's last key (below); the
         * others it copies inside their objects, which are checked. */
        if (!t->ops->steps && !sobj_key_ok(o)) {
            a->objs->err = sobj_bad(t, o, "D.1 a stored key is not a term");
            break;
        }
        /* A walk by search checks every step; one by cursor, its section's end (below). */
        if (key.ptr && !t->ops->steps &&
            !goes_on(t, a->reverse, o, key, t->h->kind == SHMETS_ORDERED_SET ? 0 : tab_hash(t, key))) {
            a->objs->err = sobj_bad(t, o, "the traversal does not move forward (a damaged index: it would never end)");
            break;
        }
        uint64_t n = 0;
        for (const struct sobj *x = o; x && n < cap; n++) {
            size_t at = a->objs->len;
            if (sobj_append(t, x, a->objs, &a->shape))
                break;
            if (a->nobjs < WALK_LENS)
                a->lens[a->nobjs] = a->objs->len - at;
            a->nobjs++;
            uint64_t nx = sobj_next(x);
            x = nx ? sobj_at(&t->s, nx) : NULL;
        }
        if (a->objs->err)
            break;
        /* Go on from this key: within the section it is read where it lies (stored objects do
         * not change, and RCU keeps this one until the section ends; sobj_key_ok above, or
         * for a walk by cursor below, before it is read). */
        lasto = o;
        key.ptr = sobj_key(o);
        key.len = sobj_klen(o);
    }
    /* A walk by cursor must end its section past where it began, or a damaged index could
     * send it round for ever (within a section the walk is bounded by STEP_KEYS; a damaged
     * node may give a key twice there, a wrong answer, never an endless walk). */
    if (lasto && !a->objs->err && t->ops->steps && !sobj_key_ok(lasto))
        a->objs->err = sobj_bad(t, lasto, "D.1 a stored key is not a term");
    if (lasto && !a->objs->err && a->started && t->ops->steps &&
        !goes_on(t, a->reverse, lasto, (shmets_term){ a->from->p, a->from->len }, 0))
        a->objs->err = sobj_bad(t, lasto, "the traversal does not move forward (a damaged index: it would never end)");
    /* The next section goes on from a copy of the last key (the table may change meanwhile). */
    if (lasto && !a->objs->err) {
        a->last->len = 0;
        a->last->err = 0;
        tbuf_put(a->last, key.ptr, key.len);
        if (!a->last->err && !term_span(a->last->p, a->last->len))
            a->objs->err = sobj_bad(t, lasto, "D.1 a stored key is not a term");
    } else if (!lasto && !a->objs->err) {
        /* Nothing visited: the walk is done, and from stays where it was. */
        a->last->len = 0;
        a->last->err = 0;
        if (a->started)
            tbuf_put(a->last, a->from->p, a->from->len);
    }
    return a->objs->err ? a->objs->err : a->last->err;
}

/*
 * Traverse the table; after each section, call each(objs, lens, n, arg) on the objects it
 * copied (outside any read section): n encodings one after another, lens[i] the length of the
 * i-th (lens NULL when the section copied more than WALK_LENS: then term_end finds them).
 * each returns 0 to go on.
 */
int tab_traverse(struct tab *t, int reverse, const shmets_term *after,
                 int (*each)(const unsigned char *objs, const size_t *lens, size_t n, void *arg), void *arg)
{
    struct tbuf objs, k1, k2;
    tbuf_init(&objs, (size_t)1 << 62);
    tbuf_init(&k1, SHMETS_TERM_MAX_SIZE);
    tbuf_init(&k2, SHMETS_TERM_MAX_SIZE);
    struct walk_arg a = { .reverse = reverse && t->h->kind == SHMETS_ORDERED_SET, .objs = &objs,
                          .from = &k1, .last = &k2 };
    term_shape_init(&a.shape);
    int rc = 0;
    if (after) {                        /* start after this key, as if a section had ended there */
        tbuf_put(&k1, after->ptr, after->len);
        a.started = 1;
        if (k1.err) {
            rc = k1.err;
            a.done = 1;
        }
    }
    while (!rc && !a.done) {
        rc = tab_read(t, walk_fn, &a);
        if (!rc && a.nobjs)
            rc = each(objs.p, a.nobjs <= WALK_LENS ? a.lens : NULL, a.nobjs, arg);
        struct tbuf *x = a.from;       /* the next section starts after this one's last key */
        a.from = a.last;
        a.last = x;
        a.started = 1;
    }
    tbuf_free(&objs);
    tbuf_free(&k1);
    tbuf_free(&k2);
    return rc;
}

struct fold_arg {
    shmets_fold_fn fn;
    void *arg;
};

static int fold_each(const unsigned char *p, const size_t *lens, size_t n, void *arg)
{
    struct fold_arg *f = arg;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *end = lens ? p + lens[i] : term_end(p);
        shmets_term obj = { p, (size_t)(end - p) };
        int r = f->fn(obj, f->arg);
        if (r)
            return r;
        p = end;
    }
    return 0;
}

static int fold(shmets_tab *t, int reverse, shmets_fold_fn fn, void *arg)
{
    if (!t || !fn)
        return err_set(SHMETS_EINVAL, "NULL argument to a fold");
    struct fold_arg f = { fn, arg };
    return tab_traverse(t, reverse, NULL, fold_each, &f);
}

int shmets_foldl(shmets_tab *t, shmets_fold_fn fn, void *arg)
{
    return fold(t, 0, fn, arg);
}

int shmets_foldr(shmets_tab *t, shmets_fold_fn fn, void *arg)
{
    return fold(t, 1, fn, arg);
}

struct list_arg { struct tbuf *b; uint64_t n; };

static int list_each(const unsigned char *p, const size_t *lens, size_t n, void *arg)
{
    struct list_arg *l = arg;
    const unsigned char *q = p;
    for (size_t i = 0; i < n; i++)
        q = lens ? q + lens[i] : term_end(q);
    tbuf_put(l->b, p, (size_t)(q - p));
    l->n += n;
    return l->b->err;
}

/* A list term of the objects in b (after its 5-byte head), n of them. */
static int finish_list(struct tbuf *b, uint64_t n, shmets_term *out)
{
    if (n > UINT32_MAX)
        return tbuf_to_term(b, err_set(SHMETS_ETOOBIG, "more than 2^32 objects in one list"), out);
    if (n == 0)
        b->len = 0;
    tbuf_byte(b, ETF_NIL);
    if (n && !b->err)
        put_be32(b->p + 1, (uint32_t)n);
    return tbuf_to_term(b, 0, out);
}

int shmets_tab2list(shmets_tab *t, shmets_term *list)
{
    if (!t || !list)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_tab2list");
    struct tbuf b;
    tbuf_init(&b, (size_t)1 << 62);
    tbuf_byte(&b, ETF_LIST);
    tbuf_be32(&b, 0);
    struct list_arg l = { &b, 0 };
    int rc = tab_traverse(t, 0, NULL, list_each, &l);
    if (rc) {
        tbuf_free(&b);
        return rc;
    }
    return finish_list(&b, l.n, list);
}

/* ---- slot ----------------------------------------------------------------------------------- */

struct slot_arg {
    uint64_t i;
    struct tbuf *b;
    uint64_t n;
    int res;
};

static void slot_visit(void *arg, uint64_t head)
{
    struct tab *t = ((struct tab **)arg)[0];
    struct slot_arg *a = ((struct slot_arg **)arg)[1];
    uint64_t cap = tab_chain_max(t), k = 0;
    for (const struct sobj *x = sobj_at(&t->s, head); x && k < cap; k++) {
        if (sobj_append(t, x, a->b, NULL))
            break;
        a->n++;
        uint64_t nx = sobj_next(x);
        x = nx ? sobj_at(&t->s, nx) : NULL;
    }
}

static int slot_fn(struct tab *t, void *arg)
{
    struct slot_arg *a = arg;
    a->b->len = 5;
    a->b->err = 0;
    a->n = 0;
    void *pair[2] = { t, a };
    a->res = t->ops->slot(t, a->i, slot_visit, pair);
    return 0;
}

int shmets_slot(shmets_tab *t, uint64_t i, shmets_term *objects)
{
    if (!t || !objects)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_slot");
    objects->ptr = NULL;
    objects->len = 0;
    struct tbuf b;
    tbuf_init(&b, (size_t)1 << 62);
    tbuf_byte(&b, ETF_LIST);
    tbuf_be32(&b, 0);
    struct slot_arg a = { i, &b, 0, 0 };
    int rc = tab_read(t, slot_fn, &a);
    if (!rc && a.res < 0)
        rc = err_set(-a.res, "slot %llu is past the table's last slot", (unsigned long long)i);
    if (rc || a.res == 0) {
        tbuf_free(&b);
        return rc;
    }
    return finish_list(&b, a.n, objects);
}

/* ---- lookup_element ------------------------------------------------------------------------ */

struct elem_arg {
    shmets_term key;
    uint64_t hash;
    uint64_t pos;
    struct tbuf *b;
    uint64_t n;
    int found, short_obj;
    struct tbuf *tmp;
};

static int elem_fn(struct tab *t, void *arg)
{
    struct elem_arg *a = arg;
    a->b->len = 5;
    a->b->err = 0;
    a->n = 0;
    a->found = a->short_obj = 0;
    uint64_t off = t->ops->lookup(t, a->key.ptr, (uint32_t)a->key.len, a->hash);
    uint64_t cap = tab_chain_max(t), k = 0;
    for (const struct sobj *x = sobj_at(&t->s, off); x && k < cap; k++) {
        shmets_term obj, el;
        int rc = sobj_term(t, x, a->tmp, &obj);
        if (rc)
            return rc;
        a->found = 1;
        if (shmets_term_tuple_element(obj, a->pos, &el) != 0) {
            a->short_obj = 1;
            return 0;
        }
        tbuf_put(a->b, el.ptr, el.len);
        a->n++;
        uint64_t nx = sobj_next(x);
        x = nx ? sobj_at(&t->s, nx) : NULL;
    }
    return 0;
}

/* A set's element on the short path (tabfast.c, tab_fast_read): the object checked in place
 * (D.1, as sobj_term checks it), its element copied into one malloc of its size, kept across a
 * retry that needs no more.  A packed object goes the general way. */
struct elem_one {
    uint64_t pos;
    unsigned char *buf;
    size_t cap, len;
    int found, short_obj;
};

static int elem_one_fn(struct tab *t, const struct sobj *x, void *arg)
{
    struct elem_one *a = arg;
    a->found = x != NULL;
    a->short_obj = 0;
    if (!x)
        return 0;
    if (sobj_flags(x))
        return TAB_FAST_NO;
    shmets_term obj = { sobj_etf(x), sobj_len(x) }, el;
    if (!term_span(obj.ptr, obj.len))
        return sobj_bad(t, x, "D.1 a stored object is not a term");
    if (shmets_term_tuple_element(obj, (size_t)a->pos, &el) != 0) {
        a->short_obj = 1;
        return 0;
    }
    int rc = tab_fast_room(&a->buf, &a->cap, el.len);
    if (rc)
        return rc;
    memcpy(a->buf, el.ptr, el.len);
    a->len = el.len;
    return 0;
}

int shmets_lookup_element(shmets_tab *t, shmets_term key, uint64_t pos, const shmets_term *dflt,
                          shmets_term *out)
{
    if (!t || !key.ptr || !out)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_lookup_element");
    out->ptr = NULL;
    out->len = 0;
    if (pos == 0)
        return err_set(SHMETS_EBADPOS, "lookup_element: position 0");
    if (t->h->kind == SHMETS_SET && pos <= SIZE_MAX) {
        struct elem_one e = { pos, NULL, 0, 0, 0, 0 };
        int rc = tab_fast_read(t, key, elem_one_fn, &e);
        if (rc != TAB_FAST_NO) {
            if (!rc && e.short_obj)
                rc = err_set(SHMETS_EBADPOS, "lookup_element: an object of the key has fewer than %llu elements",
                             (unsigned long long)pos);
            if (!rc && e.found) {
                *out = (shmets_term){ e.buf, e.len };
                return 0;
            }
            free(e.buf);
            if (!rc)
                rc = dflt ? shmets_term_dup(*dflt, out) : err_set(SHMETS_ENOKEY, "lookup_element: the key is not in the table");
            return rc;
        }
        free(e.buf);
    }
    struct tbuf b;
    tbuf_init(&b, (size_t)1 << 62);
    tbuf_byte(&b, ETF_LIST);
    tbuf_be32(&b, 0);
    struct tbuf tmp;
    tbuf_init(&tmp, SHMETS_TERM_MAX_SIZE);
    struct elem_arg a = { key, tab_read_hash(t, key), pos, &b, 0, 0, 0, &tmp };
    int rc = key.len <= UINT32_MAX ? tab_read(t, elem_fn, &a) : 0;
    tbuf_free(&tmp);
    if (!rc && b.err)
        rc = b.err;
    if (!rc && a.short_obj)
        rc = err_set(SHMETS_EBADPOS, "lookup_element: an object of the key has fewer than %llu elements",
                     (unsigned long long)pos);
    if (!rc && !a.found)
        rc = dflt ? shmets_term_dup(*dflt, out)
                  : err_set(SHMETS_ENOKEY, "lookup_element: the key is not in the table");
    if (rc || !a.found) {
        tbuf_free(&b);
        return rc;
    }
    uint32_t k = t->h->kind;
    if (k == SHMETS_SET || k == SHMETS_ORDERED_SET) {
        /* One object: its element alone, not a list. */
        int r = shmets_term_dup((shmets_term){ b.p + 5, b.len - 5 }, out);
        tbuf_free(&b);
        return r;
    }
    return finish_list(&b, a.n, out);
}
