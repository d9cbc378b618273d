/*
 * tabwrite.c — the writing calls besides insert and delete/2 (table.c): take, delete_object,
 * delete_all_objects, update_counter and update_element, with ETS's meaning and its badargs.
 *
 * ONE KEY, ONE PLAN.  Each call but delete_all_objects touches one key: it takes that key's
 * writer lock (its stripe; every stripe when the hash index may have to grow first), reads the
 * key's objects as they are — nobody else can change them while the lock is held — computes
 * the new objects in process memory, and publishes them with one plan (commit.c): a
 * replacement of the key's chain (PUT_REPLACE), a delete of the key, or nothing.  So each call
 * is atomic and isolated as ETS promises: a reader sees the key before or after, and a writer
 * that dies at any point leaves one or the other.
 *
 * BAGS: delete_object removes every copy of an object from a bag by publishing a fresh chain
 * of the objects that stay (copied: a chain's links are published words, and cutting one out
 * would need the index's help for the chain's head) — O(objects of the key), as in ETS.
 *
 * COUNTERS are integers of any size: update_counter computes with GMP, as the Erlang VM would,
 * and stores the result as the canonical integer encoding (a small integer when it fits).
 *
 * delete_all_objects takes every stripe, plans an empty index and retires everything the old
 * one reaches: one store (the root word) publishes the empty table, so readers see all or
 * nothing.  It is O(objects) for the writer, as in ETS.
 */
#include "table/table.h"
#include "term/term.h"
#include "base/util.h"

#include <gmp.h>
#include <stdlib.h>
#include <string.h>

/* ---- one key under its lock --------------------------------------------------------------- */

struct kw {
    shmets_term key;
    uint64_t hash;
    uint64_t head;              /* the key's first stored object, 0 if absent */
    int adds_key;               /* the call may add the key (the index may grow) */
    void *arg;
};

/* Lock the key's stripe (or all, if the index must grow first), find its objects, run fn to
 * plan, and publish what it planned.  fn returns 0 (plan built, maybe empty) or an error. */
static int with_key(struct tab *t, const char *call, struct kw *k,
                    int (*fn)(struct tab *t, struct plan *p, struct kw *k))
{
    int rc = tab_write_access(t, call);
    if (rc)
        return rc;
    if (k->key.len > UINT32_MAX)
        return err_set(SHMETS_ETOOBIG, "%s: the key is too large", call);
    k->hash = tab_hash(t, k->key);
    struct plan p;
    plan_init(&p);
    int stripe = k->adds_key && t->ops->needs_resize(t, atomic_load(&t->h->keys) + 1) ? TAB_ALL : tab_stripe(t, k->hash);
    for (;;) {
        if ((rc = tab_write_lock(t, &p, stripe)))
            return rc;
        if (!k->adds_key || p.stripe == TAB_ALL || !t->ops->needs_resize(t, atomic_load(&t->h->keys) + 1))
            break;
        tab_unlock(t, &p);
        stripe = TAB_ALL;
    }
    k->head = t->ops->lookup(t, k->key.ptr, (uint32_t)k->key.len, k->hash);
    rc = fn(t, &p, k);
    if (!rc && p.nst && p.stripe == TAB_ALL) {
        /* The keys the plan leaves (an added key, or a removed one). */
        int r = t->ops->resize(t, &p, (uint64_t)((int64_t)atomic_load(&t->h->keys) + p.dkeys));
        rc = r < 0 ? r : 0;
    }
    if (!rc && p.nst)
        rc = tab_commit(t, &p);         /* (it abandons the plan itself when it fails) */
    else if (rc)
        tab_abandon(t, &p);
    tab_unlock(t, &p);
    plan_free(&p);
    return rc;
}

static const struct sobj *obj_next(const struct tab *t, const struct sobj *x)
{
    uint64_t nx = sobj_next(x);
    return nx ? sobj_at(&t->s, nx) : NULL;
}

/* Replace the key's objects by objs[0..n) (whose keys are all k->key), or delete the key. */
static int plan_replace(struct tab *t, struct plan *p, struct kw *k, const shmets_term *objs, size_t n)
{
    if (n == 0) {
        int r = t->ops->del(t, p, k->key.ptr, (uint32_t)k->key.len, k->hash);
        return r < 0 ? r : 0;
    }
    uint64_t head = 0, tail = 0;
    for (size_t i = 0; i < n; i++) {
        shmets_term key;
        uint64_t off;
        int rc = shmets_term_key(objs[i], t->h->keypos, &key);
        if (!rc)
            rc = sobj_store(t, p, objs[i], key, &off);
        if (rc)
            return rc;
        sobj_chain_append(&t->s, &head, &tail, off);
    }
    /* The stored key's own hash: an ordered_set's stored key may be another encoding of the
     * caller's (5 and 5.0). */
    const struct sobj *h = (const struct sobj *)(t->s.base + head);
    struct wobj w = { head, sobj_hash(t, h), sobj_key(h), sobj_klen(h), sobj_etf(h), sobj_len(h) };
    return t->ops->put(t, p, &w, 1, PUT_REPLACE);
}

/* ---- take ------------------------------------------------------------------------------------ */

static int take_fn(struct tab *t, struct plan *p, struct kw *k)
{
    tab_copy_chain(t, k->head, k->arg);
    if (((struct tbuf *)k->arg)->err)
        return ((struct tbuf *)k->arg)->err;
    return k->head ? plan_replace(t, p, k, NULL, 0) : 0;
}

int shmets_take(shmets_tab *t, shmets_term key, shmets_term *objects)
{
    if (!t || !key.ptr || !objects)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_take");
    struct tbuf b;
    tbuf_init(&b, (size_t)1 << 62);
    struct kw k = { .key = key, .arg = &b };
    return tbuf_to_term(&b, with_key(t, "take", &k, take_fn), objects);
}

/* ---- delete_object ------------------------------------------------------------------------- */

static int delobj_fn(struct tab *t, struct plan *p, struct kw *k)
{
    const shmets_term *obj = k->arg;
    /* The objects that stay, unpacked (a compressed table's) one after another in `keep`. */
    struct tbuf keep, tmp;
    tbuf_init(&keep, (size_t)1 << 62);
    tbuf_init(&tmp, SHMETS_TERM_MAX_SIZE);
    uint64_t n = 0, nkeep = 0, cap = tab_chain_max(t);
    int rc = 0;
    for (const struct sobj *x = sobj_at(&t->s, k->head); x && n < cap && !rc; x = obj_next(t, x), n++) {
        shmets_term o;
        if (!(rc = sobj_term(t, x, &tmp, &o)) && !(o.len == obj->len && memcmp(o.ptr, obj->ptr, obj->len) == 0)) {
            tbuf_put(&keep, o.ptr, o.len);
            nkeep++;
        }
    }
    rc = rc ? rc : keep.err;
    shmets_term *objs = NULL;
    if (!rc && nkeep < n) {             /* (all kept: the object is not there, nothing to do) */
        objs = nkeep ? malloc(nkeep * sizeof *objs) : NULL;
        if (nkeep && !objs)
            rc = err_set(SHMETS_ENOMEM, "out of process memory");
        const unsigned char *q = keep.p;
        for (size_t i = 0; !rc && i < nkeep; i++) {
            const unsigned char *e = term_end(q);
            objs[i] = (shmets_term){ q, (size_t)(e - q) };
            q = e;
        }
        if (!rc)
            rc = plan_replace(t, p, k, objs, nkeep);
    }
    free(objs);
    tbuf_free(&keep);
    tbuf_free(&tmp);
    return rc;
}

int shmets_delete_object(shmets_tab *t, shmets_term object)
{
    if (!t || !object.ptr)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_delete_object");
    struct kw k = { .arg = &object };
    int rc = shmets_term_key(object, t->h->keypos, &k.key);
    if (rc)
        return err_set(-rc, "delete_object: %s", rc == -SHMETS_ETYPE ? "the object is not a tuple"
                                                                     : "the object has fewer elements than keypos");
    return with_key(t, "delete_object", &k, delobj_fn);
}

/* ---- delete_all_objects ------------------------------------------------------------------- */

/* The blocks the old index reaches, gathered in process memory. */
struct blocks { uint64_t *v; size_t n, cap; int err; };

static void collect_block(void *arg, uint64_t off)
{
    struct blocks *b = arg;
    if (b->n == b->cap) {
        size_t c = b->cap ? b->cap * 2 : 1024;
        uint64_t *v = realloc(b->v, c * sizeof *v);
        if (!v) {
            b->err = -SHMETS_ENOMEM;
            return;
        }
        b->v = v;
        b->cap = c;
    }
    b->v[b->n++] = off;
}

/*
 * delete_all_objects: one store publishes the empty index (the spare one when there is one:
 * no memory needed), then, after a grace period, the old index's blocks are freed directly —
 * not through limbo, which would need a chunk per 254 blocks that a full table does not have.
 * A writer that dies before the frees leaves them unreachable: recovery's sweep takes them.
 */
static int delall_fn(struct tab *t, void *arg)
{
    (void)arg;
    struct tab_hdr *h = t->h;
    struct plan p;
    plan_init(&p);
    p.stripe = TAB_ALL;
    p.heap_held = 1;
    struct blocks old = { 0 };
    uint64_t objs, keys;
    int rc = t->ops->mark(t, collect_block, &old, &objs, &keys);
    rc = rc ? rc : old.err;
    uint64_t spare = atomic_load(&h->spare_root);
    if (!rc && spare) {
        plan_store(&p, offsetof(struct tab_hdr, root.word), spare);
        plan_store(&p, offsetof(struct tab_hdr, spare_root), 0);
        plan_store(&p, offsetof(struct tab_hdr, spare_block), 0);
    } else if (!rc) {
        rc = t->ops->init(t, &p);
    }
    if (!rc && p.err)
        rc = p.err;
    if (!rc) {
        p.dobjs = -(int64_t)objs;
        p.dkeys = -(int64_t)keys;
        rc = tab_commit(t, &p);
    } else {
        tab_abandon(t, &p);
    }
    plan_free(&p);
    /* Published: the table is empty whatever follows.  If the grace period cannot be waited
     * for (membarrier failed), the old blocks stay unreachable until a sweep frees them. */
    if (!rc && tab_synchronize(t) == 0) {
        for (size_t i = 0; i < old.n; i++)
            alloc_free(&h->heap, &t->s, old.v[i]);
        tab_make_spare(t);
    }
    free(old.v);
    return rc;
}

int shmets_delete_all_objects(shmets_tab *t)
{
    if (!t)
        return err_set(SHMETS_EINVAL, "NULL table");
    int rc = tab_write_access(t, "delete_all_objects");
    return rc ? rc : tab_with_all(t, delall_fn, NULL);
}

/* ---- update_counter and update_element ---------------------------------------------------- */

/* The object a key's update starts from: the stored one, or the default with its key put in. */
struct upd {
    shmets_term base;           /* the object (a tuple) */
    size_t arity;
    shmets_term *el;            /* its elements (views), 1-based: el[1..arity] */
    mpz_t *num;                 /* counters being computed, by position (NULL: unchanged) */
    unsigned char *changed;
};

static int upd_open(struct upd *u, shmets_term obj, unsigned keypos, const shmets_term *key)
{
    memset(u, 0, sizeof *u);
    u->base = obj;
    if (shmets_term_tuple_arity(obj, &u->arity) != 0)
        return err_set(SHMETS_ETYPE, "not a tuple");
    if (u->arity < keypos)
        return err_set(SHMETS_EBADPOS, "the object has fewer elements than keypos");
    u->el = calloc(u->arity + 1, sizeof *u->el);
    u->num = calloc(u->arity + 1, sizeof *u->num);
    u->changed = calloc(u->arity + 1, 1);
    if (!u->el || !u->num || !u->changed)
        return err_set(SHMETS_ENOMEM, "out of process memory");
    /* One walk over the elements (element i by index would walk from 1 each time). */
    const unsigned char *p = obj.ptr + (obj.ptr[0] == ETF_SMALL_TUPLE ? 2 : 5);
    for (size_t i = 1; i <= u->arity; i++) {
        const unsigned char *e = term_end(p);
        u->el[i] = (shmets_term){ p, (size_t)(e - p) };
        p = e;
    }
    if (key)
        u->el[keypos] = *key;
    return 0;
}

static void upd_close(struct upd *u)
{
    for (size_t i = 1; u->num && u->changed && i <= u->arity; i++)
        if (u->changed[i] == 1)
            mpz_clear(u->num[i]);
    free(u->el);
    free(u->num);
    free(u->changed);
}

static void term_to_mpz(mpz_t z, shmets_term t)
{
    struct term_int v;
    term_get_int(t.ptr, &v);
    if (v.n == 0) {
        mpz_set_si(z, (long)v.small);
        return;
    }
    mpz_import(z, v.n, -1, 1, 0, 0, v.mag);
    if (v.negative)
        mpz_neg(z, z);
}

static int build_mpz(shmets_builder *b, const mpz_t z)
{
    if (mpz_fits_slong_p(z))
        return shmets_build_int(b, mpz_get_si(z));
    size_t n = (mpz_sizeinbase(z, 2) + 7) / 8;
    unsigned char *mag = malloc(n ? n : 1);
    if (!mag)
        return -SHMETS_ENOMEM;
    mpz_export(mag, &n, -1, 1, 0, 0, z);
    int rc = shmets_build_bigint(b, mpz_sgn(z) < 0, mag, n);
    free(mag);
    return rc;
}

/* The updated object, as a new term. */
static int upd_build(struct upd *u, shmets_term *out)
{
    shmets_builder *b;
    int rc = shmets_builder_create(&b);
    if (rc)
        return rc;
    shmets_build_tuple(b, u->arity);
    for (size_t i = 1; i <= u->arity; i++)
        if (u->changed[i] == 1)
            build_mpz(b, u->num[i]);
        else
            shmets_build_term(b, u->el[i]);
    rc = shmets_builder_finish(b, out);
    shmets_builder_destroy(b);
    return rc;
}

/* Position pos of an update: 1..arity and not the key's. */
static int upd_pos(const struct upd *u, shmets_term pt, unsigned keypos, size_t *pos)
{
    uint64_t v;
    if (shmets_term_get_uint64(pt, &v) != 0 || v == 0 || v > u->arity || v == keypos)
        return err_set(SHMETS_EBADPOS, "update: position is not one of the object's elements besides the key");
    *pos = (size_t)v;
    return 0;
}

/* An update_counter op: {Pos, Incr} or {Pos, Incr, Threshold, SetValue}. */
struct cop { shmets_term pos, incr, thr, set; int has_thr; };

static int parse_op(shmets_term op, struct cop *c)
{
    size_t ar;
    memset(c, 0, sizeof *c);
    if (shmets_term_tuple_arity(op, &ar) != 0 || (ar != 2 && ar != 4))
        return err_set(SHMETS_ETYPE, "update_counter: an op is {Pos, Incr} or {Pos, Incr, Threshold, SetValue}");
    shmets_term_tuple_element(op, 1, &c->pos);
    shmets_term_tuple_element(op, 2, &c->incr);
    if (ar == 4) {
        shmets_term_tuple_element(op, 3, &c->thr);
        shmets_term_tuple_element(op, 4, &c->set);
        c->has_thr = 1;
    }
    if (shmets_term_type(c->incr) != SHMETS_T_INTEGER ||
        (c->has_thr && (shmets_term_type(c->thr) != SHMETS_T_INTEGER || shmets_term_type(c->set) != SHMETS_T_INTEGER)))
        return err_set(SHMETS_ETYPE, "update_counter: Incr, Threshold and SetValue are integers");
    return 0;
}

struct counter_arg {
    shmets_term ops;
    const shmets_term *dflt;
    shmets_term *result;
};

static int apply_op(struct upd *u, const struct cop *c, unsigned keypos, mpz_t out)
{
    size_t pos = 0;
    int rc = upd_pos(u, c->pos, keypos, &pos);
    if (rc)
        return rc;
    if (!u->changed[pos]) {
        if (shmets_term_type(u->el[pos]) != SHMETS_T_INTEGER)
            return err_set(SHMETS_ETYPE, "update_counter: element %zu is not an integer", pos);
        mpz_init(u->num[pos]);
        term_to_mpz(u->num[pos], u->el[pos]);
        u->changed[pos] = 1;
    }
    mpz_t incr;
    mpz_init(incr);
    term_to_mpz(incr, c->incr);
    mpz_add(u->num[pos], u->num[pos], incr);
    if (c->has_thr) {
        mpz_t thr;
        mpz_init(thr);
        term_to_mpz(thr, c->thr);
        int up = mpz_sgn(incr) >= 0, cmp = mpz_cmp(u->num[pos], thr);
        if ((up && cmp > 0) || (!up && cmp < 0))
            term_to_mpz(u->num[pos], c->set);
        mpz_clear(thr);
    }
    mpz_clear(incr);
    mpz_set(out, u->num[pos]);
    return 0;
}

static int counter_fn(struct tab *t, struct plan *p, struct kw *k)
{
    struct counter_arg *a = k->arg;
    unsigned keypos = t->h->keypos;
    const struct sobj *o = sobj_at(&t->s, k->head);
    if (!o && !a->dflt)
        return err_set(SHMETS_ENOKEY, "update_counter: the key is not in the table and there is no default");
    struct upd u = { 0 };
    struct tbuf tmp;
    shmets_term cur;
    tbuf_init(&tmp, SHMETS_TERM_MAX_SIZE);
    int rc = o ? sobj_term(t, o, &tmp, &cur) : 0;
    if (!rc)
        rc = o ? upd_open(&u, cur, keypos, NULL) : upd_open(&u, *a->dflt, keypos, &k->key);
    if (rc) {
        upd_close(&u);
        tbuf_free(&tmp);
        return rc;
    }
    /* The ops: Incr alone (position keypos + 1), one op, or a list of ops. */
    enum shmets_type ty = shmets_term_type(a->ops);
    size_t nops = 1;
    int is_list = ty == SHMETS_T_LIST || ty == SHMETS_T_NIL;
    if (is_list && shmets_term_list_length(a->ops, &nops) != 0)
        rc = err_set(SHMETS_ETYPE, "update_counter: the ops are not a proper list");
    shmets_builder *rb = NULL;
    if (!rc)
        rc = shmets_builder_create(&rb);
    if (!rc && is_list) {
        if (nops)
            shmets_build_list(rb, nops);
        else
            shmets_build_nil(rb);
    }
    shmets_list_iter it;
    if (!rc && is_list)
        shmets_list_begin(a->ops, &it);
    mpz_t val;
    mpz_init(val);
    for (size_t i = 0; i < nops && !rc; i++) {
        struct cop c;
        if (ty == SHMETS_T_INTEGER) {
            unsigned char posb[8];
            struct tbuf pb = { posb, 0, sizeof posb, sizeof posb, 0 };
            etf_put_int(&pb, keypos + 1);
            memset(&c, 0, sizeof c);
            c.pos = (shmets_term){ posb, pb.len };
            c.incr = a->ops;
            rc = apply_op(&u, &c, keypos, val);
        } else {
            shmets_term op = a->ops;
            if (is_list)
                shmets_list_next(&it, &op);
            rc = parse_op(op, &c);
            if (!rc)
                rc = apply_op(&u, &c, keypos, val);
        }
        if (!rc)
            rc = build_mpz(rb, val);
    }
    mpz_clear(val);
    if (!rc && is_list && nops)
        shmets_build_nil(rb);
    shmets_term newobj = { NULL, 0 };
    if (!rc)
        rc = shmets_builder_finish(rb, a->result);
    shmets_builder_destroy(rb);
    if (!rc)
        rc = upd_build(&u, &newobj);
    upd_close(&u);
    tbuf_free(&tmp);
    if (!rc && newobj.len > t->h->obj_max)
        rc = err_set(SHMETS_ETOOBIG, "update_counter: the object grows past this table's largest");
    if (!rc)
        rc = plan_replace(t, p, k, &newobj, 1);
    shmets_term_free(&newobj);
    if (rc)
        shmets_term_free(a->result);
    return rc;
}

int shmets_update_counter(shmets_tab *t, shmets_term key, shmets_term ops, const shmets_term *dflt,
                          shmets_term *result)
{
    if (!t || !key.ptr || !ops.ptr || !result || (dflt && !dflt->ptr))
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_update_counter");
    *result = (shmets_term){ NULL, 0 };
    if (t->h->kind != SHMETS_SET && t->h->kind != SHMETS_ORDERED_SET)
        return err_set(SHMETS_ETYPE, "update_counter: only sets and ordered_sets have counters");
    if (dflt && shmets_term_type(*dflt) != SHMETS_T_TUPLE)
        return err_set(SHMETS_ETYPE, "update_counter: the default object is not a tuple");
    struct counter_arg a = { ops, dflt, result };
    struct kw k = { .key = key, .adds_key = dflt != NULL, .arg = &a };
    int rc = with_key(t, "update_counter", &k, counter_fn);
    if (rc)
        shmets_term_free(result);       /* built before a commit that then failed */
    return rc;
}

static int element_fn(struct tab *t, struct plan *p, struct kw *k)
{
    shmets_term elems = *(shmets_term *)((void **)k->arg)[0];
    int *updated = ((void **)k->arg)[1];
    const shmets_term *dflt = ((void **)k->arg)[2];
    unsigned keypos = t->h->keypos;
    const struct sobj *o = sobj_at(&t->s, k->head);
    *updated = 0;
    if (!o && !dflt)
        return 0;                       /* ETS: false for an absent key, whatever the elements */
    enum shmets_type ty = shmets_term_type(elems);
    size_t n = 1;
    int is_list = ty == SHMETS_T_LIST || ty == SHMETS_T_NIL;
    if (is_list && shmets_term_list_length(elems, &n) != 0)
        return err_set(SHMETS_ETYPE, "update_element: not a proper list of {Pos, Value}");
    struct upd u = { 0 };
    struct tbuf tmp;
    shmets_term cur;
    tbuf_init(&tmp, SHMETS_TERM_MAX_SIZE);
    int rc = o ? sobj_term(t, o, &tmp, &cur) : 0;
    if (rc) {
        tbuf_free(&tmp);
        return rc;
    }
    /* update_element/4 with the key absent: the default, its key element replaced by key
     * (as update_counter/4 does), inserted with the elements applied, in one write. */
    rc = o ? upd_open(&u, cur, keypos, NULL) : upd_open(&u, *dflt, keypos, &k->key);
    shmets_list_iter it;
    if (is_list)
        shmets_list_begin(elems, &it);
    for (size_t i = 0; i < n && !rc; i++) {
        shmets_term pv = elems, pt, v;
        size_t ar, pos = 0;
        if (is_list)
            shmets_list_next(&it, &pv);
        if (shmets_term_tuple_arity(pv, &ar) != 0 || ar != 2) {
            rc = err_set(SHMETS_ETYPE, "update_element: {Pos, Value} expected");
            break;
        }
        shmets_term_tuple_element(pv, 1, &pt);
        shmets_term_tuple_element(pv, 2, &v);
        if (!(rc = upd_pos(&u, pt, keypos, &pos))) {
            u.el[pos] = v;
            u.changed[pos] = 2;         /* a view, not a counter */
        }
    }
    shmets_term newobj = { NULL, 0 };
    if (!rc)
        rc = upd_build(&u, &newobj);
    upd_close(&u);
    tbuf_free(&tmp);
    if (!rc && newobj.len > t->h->obj_max)
        rc = err_set(SHMETS_ETOOBIG, "update_element: the object grows past this table's largest");
    if (!rc)
        rc = plan_replace(t, p, k, &newobj, 1);
    shmets_term_free(&newobj);
    if (!rc)
        *updated = 1;
    return rc;
}

int shmets_update_element(shmets_tab *t, shmets_term key, shmets_term elems, int *updated)
{
    if (!t || !key.ptr || !elems.ptr || !updated)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_update_element");
    if (t->h->kind != SHMETS_SET && t->h->kind != SHMETS_ORDERED_SET)
        return err_set(SHMETS_ETYPE, "update_element: only sets and ordered_sets");
    void *arg[3] = { &elems, updated, NULL };
    struct kw k = { .key = key, .arg = arg };
    return with_key(t, "update_element", &k, element_fn);
}

int shmets_update_element_default(shmets_tab *t, shmets_term key, shmets_term elems, shmets_term dflt)
{
    if (!t || !key.ptr || !elems.ptr || !dflt.ptr)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_update_element_default");
    if (t->h->kind != SHMETS_SET && t->h->kind != SHMETS_ORDERED_SET)
        return err_set(SHMETS_ETYPE, "update_element: only sets and ordered_sets");
    size_t ar;
    if (shmets_term_tuple_arity(dflt, &ar) != 0)
        return err_set(SHMETS_ETYPE, "update_element/4: the default object is not a tuple");
    if (ar < t->h->keypos)
        return err_set(SHMETS_EBADPOS, "update_element/4: the default object is shorter than the keypos");
    int updated;
    void *arg[3] = { &elems, &updated, &dflt };
    struct kw k = { .key = key, .adds_key = 1, .arg = arg };
    return with_key(t, "update_element", &k, element_fn);
}

/* ---- select_replace's step ------------------------------------------------------------------ */

struct replace_arg { shmets_term old, repl; int done; };

/* A duplicate_bag: the chain again, with the first copy of `old` replaced in its place. */
static int replace_in_chain(struct tab *t, struct plan *p, struct kw *k, struct replace_arg *a)
{
    struct tbuf all, tmp;
    tbuf_init(&all, (size_t)1 << 62);
    tbuf_init(&tmp, SHMETS_TERM_MAX_SIZE);
    uint64_t n = 0, cap = tab_chain_max(t);
    int rc = 0, found = 0;
    for (const struct sobj *x = sobj_at(&t->s, k->head); x && n < cap && !rc; x = obj_next(t, x), n++) {
        shmets_term o;
        if ((rc = sobj_term(t, x, &tmp, &o)))
            break;
        if (!found && o.len == a->old.len && memcmp(o.ptr, a->old.ptr, o.len) == 0) {
            found = 1;
            o = a->repl;
        }
        tbuf_put(&all, o.ptr, o.len);
    }
    rc = rc ? rc : all.err;
    shmets_term *objs = NULL;
    if (!rc && found && !(a->repl.len == a->old.len && memcmp(a->repl.ptr, a->old.ptr, a->old.len) == 0)) {
        if (!(objs = malloc(n * sizeof *objs)))
            rc = err_set(SHMETS_ENOMEM, "out of process memory");
        const unsigned char *q = all.p;
        for (uint64_t i = 0; !rc && i < n; i++) {
            const unsigned char *e = term_end(q);
            objs[i] = (shmets_term){ q, (size_t)(e - q) };
            q = e;
        }
        if (!rc)
            rc = plan_replace(t, p, k, objs, (size_t)n);
    }
    a->done = !rc && found;
    free(objs);
    tbuf_free(&all);
    tbuf_free(&tmp);
    return rc;
}

static int replace_fn(struct tab *t, struct plan *p, struct kw *k)
{
    struct replace_arg *a = k->arg;
    const struct sobj *o = sobj_at(&t->s, k->head);
    if (!o)
        return 0;
    if (t->h->kind == SHMETS_DUPLICATE_BAG)
        return replace_in_chain(t, p, k, a);
    struct tbuf tmp;
    tbuf_init(&tmp, SHMETS_TERM_MAX_SIZE);
    shmets_term cur;
    int rc = sobj_term(t, o, &tmp, &cur);
    if (!rc && cur.len == a->old.len && memcmp(cur.ptr, a->old.ptr, cur.len) == 0 &&
        !(a->repl.len == cur.len && memcmp(a->repl.ptr, cur.ptr, cur.len) == 0)) {
        rc = a->repl.len > t->h->obj_max
             ? err_set(SHMETS_ETOOBIG, "select_replace: an object larger than this table's largest")
             : plan_replace(t, p, k, &a->repl, 1);
        a->done = !rc;
    } else if (!rc) {
        a->done = cur.len == a->old.len && memcmp(cur.ptr, a->old.ptr, cur.len) == 0;   /* unchanged */
    }
    tbuf_free(&tmp);
    return rc;
}

int tab_replace_object(struct tab *t, shmets_term old, shmets_term repl)
{
    struct replace_arg a = { old, repl, 0 };
    struct kw k = { .arg = &a };
    int rc = shmets_term_key(old, t->h->keypos, &k.key);
    if (rc)
        return rc;
    rc = with_key(t, "select_replace", &k, replace_fn);
    return rc ? rc : a.done;
}
