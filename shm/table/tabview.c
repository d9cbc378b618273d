/*
 * tabview.c — reads that copy nothing, batched lookups, and the byte-key calls.
 *
 * ZERO COPY: a stored object never changes once published (a write makes a new one and
 * retires the old through RCU, plan.h), so a pointer to it stays good for as long as the
 * reader's read section lasts.  The view calls therefore run only inside an explicit section
 * (shmets_read_begin/end, inst.c) and hand out pointers into the mapping.  Each call still
 * checks the publish sequence (T.3) and looks again if a multi-key publish overlapped it, so
 * one call never sees half of a list insert.
 *
 * VIEWS by term key take the short path (tabfast.c: shmets_lookup_view itself lives there,
 * beside shmets_lookup_view_key; a batch's keys are prepared here and handed to
 * shmets_lookup_bulk_view_keys): one reader of views, not two.
 *
 * COPYING BATCHES go through the index's lookup_bulk (hash.c: prefetch all buckets, then all
 * candidate objects, then compare), in chunks of BULK_CHUNK keys whose hashes are computed
 * first, outside the read section's retry loop.
 *
 * BYTE KEYS: the object of key K and value V is {<<K>>, <<V>>}; its canonical encoding is
 * 104 2 | 109 len(K) K | 109 len(V) V, written here directly.  A value is found right after
 * the stored key (koff + klen), so kv_get costs what a lookup costs; a hash table's key is
 * read on the short path (tabfast.c, tab_fast_read), the rest the general way.
 */
#include "table/table.h"
#include "term/term.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

#define BULK_CHUNK 64

/* shmets_lookup_view is in tabfast.c, on the short path with its key made there, so there is
 * one reader of views. */

/* ---- ranges --------------------------------------------------------------------------------- */

/*
 * RANGES (shmets_range_view) walk like a traversal's section (tabread.c) but hand out views:
 * the first key by one search — the index's seek where it has cursors (SEEK_AT unless
 * SHMETS_RANGE_AFTER), else a lookup of `from` and, if absent or skipped, next() — and every
 * later key by the cursor's step (one link) or, in a hash table, next() from the key just
 * visited.  The walk is bounded by max and by tab_chain_max per key, so a damaged index gives
 * wrong keys at worst, never an endless walk; every view is checked to be a term (Q.5).
 */
/* The objects of the key whose first object is o, as views after objs[*got], all or none:
 * 0 (taken), 1 (they do not fit: the range ends before them), or an error. */
static inline __attribute__((always_inline)) int range_key(struct tab *t, const struct sobj *o, uint64_t cap,
                                                           struct term_shape *sh, shmets_term *objs, size_t max,
                                                           size_t *got, size_t *n)
{
    size_t k = 0;
    if (*got >= max)
        return 1;                       /* full (a damaged ordered_set's chain filled it early) */
    if (__builtin_expect(o->koff8 < SOBJ_SHORT_LZ4, 1)) {   /* short and plain (sobj.h): one object */
        const unsigned char *etf = (const unsigned char *)o + SOBJ_SHORT_HDR;
        if (!term_span_shaped(sh, etf, o->len16))
            return sobj_bad(t, o, "D.1 a stored object is not a term");
        objs[(*got)++] = (shmets_term){ etf, o->len16 };
        return 0;
    }
    if (!sobj_next(o)) {                /* one object of the long form */
        if (!term_span_shaped(sh, sobj_etf(o), sobj_len(o)))
            return sobj_bad(t, o, "D.1 a stored object is not a term");
        objs[(*got)++] = (shmets_term){ sobj_etf(o), sobj_len(o) };
        return 0;
    }
    for (const struct sobj *y = o; y && k < cap; k++) {
        if (!term_span_shaped(sh, sobj_etf(y), sobj_len(y)))
            return sobj_bad(t, y, "D.1 a stored object is not a term");
        if (*got + k < max)
            objs[*got + k] = (shmets_term){ sobj_etf(y), sobj_len(y) };
        uint64_t nx = sobj_next(y);
        y = nx ? sobj_at(&t->s, nx) : NULL;
    }
    if (*got + k > max) {
        if (*got == 0) {
            *n = k;
            return err_set(SHMETS_ERANGE, "the key's %zu objects are more than the %zu asked for", k, max);
        }
        return 1;
    }
    *got += k;
    return 0;
}

/* A cursor's steps ahead of the objects it hands out: the node chain is followed first, up to
 * RANGE_AHEAD keys, each key's object prefetched as its offset is read, and only then are the
 * objects checked and handed out — so the objects' cache misses overlap each other and the
 * walk, instead of each waiting for the one before (a table filled in scattered key order has
 * its neighbours' nodes and objects far apart: 2 misses a key, ~360 ns, without this). */
#define RANGE_AHEAD 16

static int range_walk(struct tab *t, shmets_term from, unsigned flags, shmets_term *objs, size_t max, size_t *n)
{
    const struct index_ops *x = t->ops;
    int reverse = (flags & SHMETS_RANGE_REVERSE) && x->seek;
    struct index_cursor cur = { 0, 0 };
    uint64_t off, cap = tab_chain_max(t);
    uint32_t flen = (uint32_t)from.len;
    size_t got = 0;
    int rc = 0;
    struct term_shape sh;               /* a range's objects mostly share a shape (D.6) */
    term_shape_init(&sh);
    if (x->seek) {
        off = x->seek(t, from.ptr, flen, (reverse ? SEEK_REVERSE : 0) | (flags & SHMETS_RANGE_AFTER ? 0 : SEEK_AT),
                      &cur);
        while (off && got < max && rc == 0) {
            /* off and the keys after it, up to RANGE_AHEAD, their objects prefetched by
             * steps; then checked and handed out. */
            uint64_t q[RANGE_AHEAD];
            size_t want = max - got < RANGE_AHEAD ? max - got : RANGE_AHEAD;
            if (off < t->s.size)
                __builtin_prefetch(t->s.base + off);
            q[0] = off;
            size_t m = 1 + (want > 1 ? x->steps(t, &cur, reverse, q + 1, want - 1) : 0);
            for (size_t i = 0; i < m && rc == 0; i++) {
                const struct sobj *o = sobj_at(&t->s, q[i]);
                rc = o ? range_key(t, o, cap, &sh, objs, max, &got, n) : 1;   /* out of bounds: the walk ends */
            }
            off = 0;                            /* the cursor stands on q[m - 1] */
            if (m == want && rc == 0 && got < max && !x->steps(t, &cur, reverse, &off, 1))
                off = 0;
        }
    } else {
        if (!from.ptr) {
            off = x->first(t);
        } else {
            uint64_t h = tab_hash(t, from);
            off = flags & SHMETS_RANGE_AFTER ? 0 : x->lookup(t, from.ptr, flen, h);
            if (!off)
                off = x->next(t, from.ptr, flen, h);
        }
        while (off && got < max && rc == 0) {
            const struct sobj *o = sobj_at(&t->s, off);
            if (!o || (rc = range_key(t, o, cap, &sh, objs, max, &got, n)))
                break;                          /* out of bounds: the walk ends here */
            if (!sobj_key_ok(o))
                return sobj_bad(t, o, "D.1 a stored key is not a term");
            off = x->next(t, sobj_key(o), sobj_klen(o), sobj_hash(t, o));
        }
    }
    if (rc < 0)
        return rc;
    *n = got;
    return 0;
}

int shmets_range_view(shmets_tab *t, shmets_term from, unsigned flags, shmets_term *objs, size_t max, size_t *n)
{
    if (!t || (!objs && max) || !n)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_range_view");
    *n = 0;
    if (flags & ~(SHMETS_RANGE_AFTER | SHMETS_RANGE_REVERSE))
        return err_set(SHMETS_EINVAL, "unknown flags %#x to shmets_range_view", flags & ~(SHMETS_RANGE_AFTER | SHMETS_RANGE_REVERSE));
    if (from.ptr && from.len > UINT32_MAX)
        return err_set(SHMETS_ETOOBIG, "a key of %zu bytes", from.len);
    int rc = tab_view_section(t);
    if (rc)
        return rc;
    for (;;) {
        uint64_t seq = tab_seq_begin(t);
        rc = range_walk(t, from, flags, objs, max, n);
        if (!tab_seq_retry(t, seq))
            return rc;
    }
}

/* ---- batches -------------------------------------------------------------------------------- */

struct bulk_arg {
    const shmets_key *k;
    size_t n;
    uint64_t *off;
    /* copying: one list per key */
    struct tbuf *lists;
};

static int bulk_fn(struct tab *t, void *arg)
{
    struct bulk_arg *a = arg;
    if (t->ops->lookup_bulk)
        t->ops->lookup_bulk(t, a->k, a->n, a->off);
    else
        for (size_t i = 0; i < a->n; i++)
            a->off[i] = t->ops->lookup(t, a->k[i].etf, a->k[i].len, a->k[i].hash);
    for (size_t i = 0; i < a->n; i++) {
        a->lists[i].len = 0;
        a->lists[i].err = 0;
        tab_copy_chain(t, a->off[i], &a->lists[i]);
    }
    return 0;
}

/* Look keys[0..n) up in chunks, each key's objects copied into a list. */
static int bulk(struct tab *t, const shmets_term *keys, size_t n, shmets_term *lists)
{
    shmets_key k[BULK_CHUNK];
    uint64_t off[BULK_CHUNK];
    struct tbuf tb[BULK_CHUNK];
    int rc = 0;
    for (size_t g = 0; g < n && !rc; g += BULK_CHUNK) {
        size_t m = n - g < BULK_CHUNK ? n - g : BULK_CHUNK;
        for (size_t i = 0; i < m; i++)
            if (!keys[g + i].ptr)
                rc = err_set(SHMETS_EINVAL, "NULL key %zu in a batch", g + i);
        if (rc)
            break;                      /* the lists made so far are freed below */
        for (size_t i = 0; i < m; i++) {
            tab_key_of(t, keys[g + i], &k[i]);
            tbuf_init(&tb[i], (size_t)1 << 62);
        }
        struct bulk_arg a = { k, m, off, tb };
        rc = tab_read(t, bulk_fn, &a);
        for (size_t i = 0; i < m; i++) {
            if (!rc && tb[i].err)
                rc = tb[i].err;
            size_t len;
            lists[g + i].ptr = rc ? NULL : tbuf_take(&tb[i], &len);
            lists[g + i].len = rc ? 0 : len;
            tbuf_free(&tb[i]);
        }
    }
    if (rc)
        for (size_t i = 0; i < n; i++)
            shmets_term_free(&lists[i]);
    return rc;
}

int shmets_lookup_bulk_view(shmets_tab *t, const shmets_term *keys, size_t n, shmets_term *objs, size_t *found)
{
    if (!t || (n && (!keys || !objs)))
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_lookup_bulk_view");
    int rc = tab_view_section(t);
    if (found)
        *found = 0;
    size_t got = 0;
    for (size_t g = 0; g < n && !rc; g += BULK_CHUNK) {
        size_t m = n - g < BULK_CHUNK ? n - g : BULK_CHUNK, f = 0;
        shmets_key k[BULK_CHUNK];
        for (size_t i = 0; i < m; i++) {
            if (!keys[g + i].ptr)
                return err_set(SHMETS_EINVAL, "NULL key %zu in a batch", g + i);
            tab_key_of(t, keys[g + i], &k[i]);
        }
        rc = shmets_lookup_bulk_view_keys(t, k, m, objs + g, &f);
        got += f;
    }
    if (found && !rc)
        *found = got;
    return rc;
}

int shmets_lookup_bulk(shmets_tab *t, const shmets_term *keys, size_t n, shmets_term *lists)
{
    if (!t || (n && (!keys || !lists)))
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_lookup_bulk");
    for (size_t i = 0; i < n; i++)
        lists[i] = (shmets_term){ NULL, 0 };
    return bulk(t, keys, n, lists);
}

/* ---- byte keys --------------------------------------------------------------------------- */

#define KV_STACK 256

/* The canonical encoding of <<K>> in buf (of KV_STACK bytes) or a malloc'd one (*heap). */
static int kv_key(const void *key, size_t klen, unsigned char *buf, unsigned char **heap, shmets_term *out)
{
    if (!key && klen)
        return err_set(SHMETS_EINVAL, "NULL key");
    if (klen > SHMETS_TERM_MAX_SIZE - 5)
        return err_set(SHMETS_ETOOBIG, "a key of %zu bytes", klen);
    unsigned char *p = buf;
    *heap = NULL;
    if (klen + 5 > KV_STACK && !(p = *heap = malloc(klen + 5)))
        return err_set(SHMETS_ENOMEM, "out of process memory");
    p[0] = ETF_BINARY;
    put_be32(p + 1, (uint32_t)klen);
    if (klen)
        memcpy(p + 5, key, klen);
    *out = (shmets_term){ p, klen + 5 };
    return 0;
}

static int kv_table(struct tab *t)
{
    if (!t)
        return err_set(SHMETS_EINVAL, "NULL table");
    if (t->h->keypos != 1)
        return err_set(SHMETS_EINVAL, "byte-key calls need a table with keypos 1");
    return 0;
}

int shmets_kv_put(shmets_tab *t, const void *key, size_t klen, const void *val, size_t vlen)
{
    int rc = kv_table(t);
    if (rc)
        return rc;
    if ((!key && klen) || (!val && vlen))
        return err_set(SHMETS_EINVAL, "NULL key or value");
    if (klen > SHMETS_TERM_MAX_SIZE - 12 || vlen > SHMETS_TERM_MAX_SIZE - 12 - klen)
        return err_set(SHMETS_ETOOBIG, "an object of %zu + %zu bytes", klen, vlen);
    size_t len = 12 + klen + vlen;
    unsigned char stack[KV_STACK], *p = len <= KV_STACK ? stack : malloc(len);
    if (!p)
        return err_set(SHMETS_ENOMEM, "out of process memory");
    p[0] = ETF_SMALL_TUPLE;
    p[1] = 2;
    p[2] = ETF_BINARY;
    put_be32(p + 3, (uint32_t)klen);
    if (klen)
        memcpy(p + 7, key, klen);
    p[7 + klen] = ETF_BINARY;
    put_be32(p + 8 + klen, (uint32_t)vlen);
    if (vlen)
        memcpy(p + 12 + klen, val, vlen);
    rc = shmets_insert(t, (shmets_term){ p, len });
    if (p != stack)
        free(p);
    return rc;
}

/* The value of {<<K>>, <<V>>} (a canonical object): -SHMETS_ETYPE if it is not of that form. */
/* The value of {<<K>>, <<V>>} (o's bytes, all of them), or -SHMETS_ETYPE (with its detail when
 * say is set) for any other term or bytes. */
static int kv_value(shmets_term o, const unsigned char **v, size_t *vlen, int say)
{
    const unsigned char *p = o.ptr;
    uint64_t at = 7;
    if (o.len < 12 || p[0] != ETF_SMALL_TUPLE || p[1] != 2 || p[2] != ETF_BINARY ||
        (at += get_be32(p + 3)) + 5 > o.len || p[at] != ETF_BINARY || at + 5 + get_be32(p + at + 1) != o.len)
        return say ? err_set(SHMETS_ETYPE, "the key's object is not {<<Key>>, <<Value>>}") : -SHMETS_ETYPE;
    *v = p + at + 5;
    *vlen = get_be32(p + at + 1);
    return 0;
}

struct kv_arg {
    shmets_term key;
    uint64_t hash;
    void *buf;
    size_t cap, vlen;
    const void *view;
    int found;
    struct tbuf *tmp;           /* a compressed object, unpacked */
};

/* The key's value v (a->vlen bytes) was found: kept as a view, and copied when it fits. */
static inline int kv_found(struct kv_arg *a, const unsigned char *v)
{
    a->found = 1;
    a->view = v;
    if (a->buf && a->vlen <= a->cap && a->vlen)
        memcpy(a->buf, v, a->vlen);
    return 0;
}

static int kv_get_fn(struct tab *t, void *arg)
{
    struct kv_arg *a = arg;
    a->found = 0;
    uint64_t off = t->ops->lookup(t, a->key.ptr, (uint32_t)a->key.len, a->hash);
    const struct sobj *o = off ? sobj_at(&t->s, off) : NULL;
    if (!o)
        return 0;
    const unsigned char *v = NULL;
    shmets_term obj;
    int rc = sobj_term(t, o, a->tmp, &obj);
    if (!rc)
        rc = kv_value(obj, &v, &a->vlen, 1);
    return rc ? rc : kv_found(a, v);
}

/* kv_get_fn on the short path (tabfast.c, tab_fast_read): the object read in place, its shape
 * checked by kv_value alone — which accepts exactly the terms {<<K>>, <<V>>}, so it is D.1's
 * check for them.  An object it refuses goes the general way, which tells a damaged object
 * (-SHMETS_EBADSEG) from one of another shape (-SHMETS_ETYPE). */
static int kv_fast_fn(struct tab *t, const struct sobj *x, void *arg)
{
    (void)t;
    struct kv_arg *a = arg;
    a->found = 0;
    if (!x)
        return 0;
    const unsigned char *v;
    if (sobj_flags(x) || kv_value((shmets_term){ sobj_etf(x), sobj_len(x) }, &v, &a->vlen, 0))
        return TAB_FAST_NO;
    return kv_found(a, v);
}

static int kv_read(struct tab *t, const void *key, size_t klen, struct kv_arg *a)
{
    int rc = kv_table(t);
    unsigned char stack[KV_STACK], *heap;
    if (!rc)
        rc = kv_key(key, klen, stack, &heap, &a->key);
    if (rc)
        return rc;
    rc = tab_fast_read(t, a->key, kv_fast_fn, a);
    if (rc == TAB_FAST_NO) {
        a->hash = tab_read_hash(t, a->key);
        struct tbuf tmp;
        tbuf_init(&tmp, SHMETS_TERM_MAX_SIZE);
        a->tmp = &tmp;
        rc = tab_read(t, kv_get_fn, a);
        tbuf_free(&tmp);
    }
    free(heap);
    if (!rc && !a->found)
        rc = err_set(SHMETS_ENOKEY, "no such key");
    return rc;
}

int shmets_kv_get(shmets_tab *t, const void *key, size_t klen, void *buf, size_t cap, size_t *vlen)
{
    if (!vlen || (!buf && cap))
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_kv_get");
    struct kv_arg a = { .buf = buf ? buf : (void *)"", .cap = cap };
    int rc = kv_read(t, key, klen, &a);
    if (rc)
        return rc;
    *vlen = a.vlen;
    if (a.vlen > cap)
        return err_set(SHMETS_ERANGE, "the value has %zu bytes; the buffer %zu", a.vlen, cap);
    return 0;
}

int shmets_kv_view(shmets_tab *t, const void *key, size_t klen, const void **val, size_t *vlen)
{
    if (!t || !val || !vlen)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_kv_view");
    int rc = tab_view_section(t);
    struct kv_arg a = { 0 };
    if (!rc)
        rc = kv_read(t, key, klen, &a);
    if (rc)
        return rc;
    *val = a.view;
    *vlen = a.vlen;
    return 0;
}

int shmets_kv_del(shmets_tab *t, const void *key, size_t klen)
{
    int rc = kv_table(t);
    unsigned char stack[KV_STACK], *heap;
    shmets_term k;
    if (!rc)
        rc = kv_key(key, klen, stack, &heap, &k);
    if (rc)
        return rc;
    rc = shmets_delete_key(t, k);
    free(heap);
    return rc;
}
