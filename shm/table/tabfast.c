/*
 * tabfast.c — the short read path: prepared keys, a lookup into the caller's buffer, and the
 * view and batch calls on prepared keys (issue 23).
 *
 * WHY A SECOND PATH.  The general read calls (tabread.c, tabview.c) take a key as a term and
 * return what they found in memory they allocate: per lookup they find the key term's end,
 * hash it, enter a section through a function that looks the thread's reader up, run the
 * lookup through a callback, grow a buffer with realloc and hand it over — about 1,000
 * instructions for a copying lookup and 750 for a zero-copy one, of which the bucket line and
 * the object are ~150.  At that length the CPU cannot overlap one lookup's two cache misses
 * with the next one's (DESIGN.md §5).  This path does only what a lookup must:
 *   - the key is prepared once by the caller (its bytes, its hash for the table's seed, and
 *     its first 8 bytes, `head`, against which a short stored key is compared without
 *     reading the caller's bytes: hash_read.h, key_head_is); a key used once
 *     (shmets_lookup_view) is made here without a head, which would cost more than it saves;
 *   - the thread's reader comes from one thread-local block, inline (inst.h, inst_reader);
 *   - the section is the RCU's two stores, the T.3 sequence check two loads;
 *   - the hash index's lookup is inline (index/hash_read.h; the skip list's goes through its
 *     method table); the object is copied with one memcpy into the caller's buffer, or handed
 *     out as a view.
 * It allocates nothing and sets no error detail on the hot outcomes (found, absent).  The
 * copying lookup by term key, shmets_lookup, takes it too for a set's keys (below), with one
 * malloc of its result's size.
 *
 * GUARANTEES (those of the general calls, which it must not weaken)
 *   Q.1 A copy is of one published object, whole: it is made inside the read section (the
 *       object cannot be freed meanwhile, rcu.c R.3) and retried if a multi-key publish
 *       overlapped it (commit.c T.3), as tab_read does.
 *   Q.2 Offsets read from the segment are bounds-checked (sobj_at), as everywhere; for a
 *       prepared key's short candidates, by one bound (HB_LIM, hash_read.h) that implies
 *       sobj_at's checks, and the key's place inside its object as sobj_at checks it.
 *   Q.3 A prepared key is used only with the table whose seed it was made with.
 *   Q.4 A compressed table's objects are unpacked by the general path (shmets_lookup).
 *   Q.5 What it hands out is a term (term_span.c D.1, issue 20): a copy is checked after it is
 *       made, a view when it is taken; a damaged object is -SHMETS_EBADSEG, never a crash
 *       later in the caller's accessors.
 */
#include "index/hash_read.h"
#include "table/table.h"
#include "term/term.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

/* The first 8 bytes of a key of len bytes, zero-padded (shmets_key.head, as a little-endian
 * load of them gives: hash_read.h), read without reading past the key: one load, two
 * overlapping ones, or three bytes. */
static inline uint64_t key_head(const unsigned char *p, uint32_t len)
{
    uint64_t h = 0;
    if (len >= 8) {
        memcpy(&h, p, 8);
    } else if (len >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + len - 4, 4);
        h = a | (uint64_t)b << (8 * (len - 4));
    } else if (len) {
        h = p[0] | (uint64_t)p[len / 2] << (8 * (len / 2)) | (uint64_t)p[len - 1] << (8 * (len - 1));
    }
    return h;
}

/* A key used once (shmets_lookup_view) has no head: its lookup compares the caller's bytes
 * (hash_read_obj), which costs fewer instructions than making the head would save. */
static inline __attribute__((always_inline)) void key_of(const struct tab *t, shmets_term key, shmets_key *k, int head)
{
    /* A key longer than any stored key can hold: an empty key, found nowhere. */
    k->etf = key.ptr;
    k->len = key.len <= UINT32_MAX ? (uint32_t)key.len : 0;
    k->seed = t->h->seed;
    k->hash = k->len ? tab_read_hash(t, key) : 0;
    k->head = head ? key_head(key.ptr, k->len) : 0;
}

void tab_key_of(const struct tab *t, shmets_term key, shmets_key *k)
{
    key_of(t, key, k, 1);
}

int shmets_key_prepare(shmets_tab *t, shmets_term key, shmets_key *k)
{
    if (!t || !key.ptr || !k)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_key_prepare");
    if (key.len > UINT32_MAX)
        return err_set(SHMETS_ETOOBIG, "a key of %zu bytes", key.len);
    tab_key_of(t, key, k);
    return 0;
}

/* The object of a prepared key, or NULL: the hash index inline, any other through its method
 * (head: k has one; a constant in each caller). */
static inline __attribute__((always_inline)) const struct sobj *lookup_obj(struct tab *t, const shmets_key *k, int head)
{
    if (__builtin_expect(t->ops == &hash_index_ops, 1))
        return head ? hash_read_key(t, k) : hash_read_obj(t, k->etf, k->len, k->hash);
    uint64_t off = t->ops->lookup(t, k->etf, k->len, k->hash);
    return off ? sobj_at(&t->s, off) : NULL;
}

static int key_check(struct tab *t, const shmets_key *k)
{
    if (!k || !k->etf)
        return err_set(SHMETS_EINVAL, "NULL prepared key");
    if (k->seed != t->h->seed)
        return err_set(SHMETS_EINVAL, "a key prepared for another table (table %llu)", (unsigned long long)t->id);
    return 0;
}

/* A read's start inside its section: the T.3 sequence it checks at its end (a publish in
 * progress waited out), or -SHMETS_ENOENT for a table deleted meanwhile. */
static inline __attribute__((always_inline)) int read_start(struct tab *t, uint64_t *seq)
{
    *seq = tab_seq_begin(t);
    if (__builtin_expect(atomic_load_explicit(&t->h->root.deleted, memory_order_relaxed), 0))
        return err_set(SHMETS_ENOENT, "table %llu was deleted", (unsigned long long)t->id);
    return 0;
}

/* The general path for a compressed table (Q.4). */
static int into_slow(struct tab *t, const shmets_key *k, void *buf, size_t cap, shmets_term *obj, int *more)
{
    shmets_term list, first;
    int rc = shmets_lookup(t, (shmets_term){ k->etf, k->len }, &list);
    if (rc)
        return rc;
    shmets_list_iter it;
    size_t n = 0;
    rc = -SHMETS_ENOKEY;
    if (shmets_list_begin(list, &it) == 0 && shmets_list_next(&it, &first) == 1) {
        obj->ptr = buf;
        obj->len = first.len;
        if (first.len > cap)
            rc = -SHMETS_ETOOBIG;
        else {
            memcpy(buf, first.ptr, first.len);
            rc = 0;
        }
        shmets_term_list_length(list, &n);
    }
    if (more)
        *more = n > 1;
    shmets_term_free(&list);
    return rc;
}

int shmets_lookup_into(shmets_tab *t, const shmets_key *k, void *buf, size_t cap, shmets_term *obj, int *more)
{
    if (__builtin_expect(!t || !obj || (!buf && cap), 0))
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_lookup_into");
    int rc;
    if (__builtin_expect(!k || k->seed != t->h->seed || !k->etf, 0))
        return key_check(t, k);
    if (__builtin_expect(t->access == SHMETS_PRIVATE && !t->owner, 0))
        return tab_read_access(t);
    if (__builtin_expect(t->h->flags & TABF_COMPRESSED, 0))
        return into_slow(t, k, buf, cap, obj, more);
    struct rcu_reader *rd = inst_reader(t->db);
    if (__builtin_expect(!rd, 0))
        return -SHMETS_EAGAIN;
    rcu_read_begin(&t->db->c.h->reg, rd);
    for (;;) {
        uint64_t seq;
        if ((rc = read_start(t, &seq)))
            break;
        const struct sobj *x = lookup_obj(t, k, 1);
        if (!x) {
            rc = -SHMETS_ENOKEY;
        } else {
            uint32_t len = sobj_len(x);
            obj->ptr = buf;
            obj->len = len;
            if (len > cap) {
                rc = -SHMETS_ETOOBIG;
            } else {
                memcpy(buf, sobj_etf(x), len);
                /* The copy, not the segment, is checked: no later stray write can change it
                 * (term_span.c D.1; issue 20). */
                rc = term_span(buf, len) ? 0 : sobj_bad(t, x, "D.1 a stored object is not a term");
            }
            if (more)
                *more = sobj_next(x) != 0;
        }
        if (__builtin_expect(!tab_seq_retry(t, seq), 1))
            break;
    }
    rcu_read_end(rd);
    if (rc == -SHMETS_ETOOBIG)
        err_set(SHMETS_ETOOBIG, "the object has %zu bytes, the buffer %zu", obj->len, cap);
    return rc;
}

/*
 * ONE KEY, COPIED OUT (tab_fast_read): the copying calls by term key — shmets_lookup,
 * shmets_member, a set's shmets_lookup_element (tabread.c) and the byte-key reads (tabview.c)
 * — take this path for a hash table's key: the key made without a
 * head (key_of), the section and the lookup inline as above, fn called on the key's first
 * object inside the section (again if a multi-key publish overlapped it).  A table this path
 * is not for (an ordered_set, a compressed table, a private table of another process, no
 * reader slot) answers TAB_FAST_NO before anything is read, and so may fn (a bag's chain, an
 * object form it does not read): the caller then goes the general way, which gives the same
 * answers.
 */
static inline __attribute__((always_inline)) int fast_read(struct tab *t, shmets_term key,
                                                           int (*fn)(struct tab *t, const struct sobj *x, void *arg), void *arg)
{
    struct rcu_reader *rd;
    if (t->ops != &hash_index_ops || (t->h->flags & TABF_COMPRESSED) || key.len > UINT32_MAX ||
        (t->access == SHMETS_PRIVATE && !t->owner) || !(rd = inst_reader(t->db)))
        return TAB_FAST_NO;
    shmets_key k;
    key_of(t, key, &k, 0);
    int rc;
    rcu_read_begin(&t->db->c.h->reg, rd);
    for (;;) {
        uint64_t seq;
        if ((rc = read_start(t, &seq)))
            break;
        rc = fn(t, hash_read_obj(t, k.etf, k.len, k.hash), arg);
        if (rc || __builtin_expect(!tab_seq_retry(t, seq), 1))
            break;
    }
    rcu_read_end(rd);
    return rc;
}

/* The same for the other files (its callback called, not inlined). */
int tab_fast_read(struct tab *t, shmets_term key, int (*fn)(struct tab *t, const struct sobj *x, void *arg), void *arg)
{
    return fast_read(t, key, fn, arg);
}

/* shmets_lookup's copy of a key with no object or one plain one: the list [Obj] (or []) in
 * one malloc of its size, kept across a retry that needs no more, and checked (Q.5). */
struct copy_one {
    unsigned char *buf;
    size_t cap, len;
};

static inline __attribute__((always_inline)) int copy_one(struct tab *t, const struct sobj *x, void *arg)
{
    struct copy_one *a = arg;
    if (x && (sobj_flags(x) || sobj_next(x)))
        return TAB_FAST_NO;
    uint32_t n = x ? sobj_len(x) : 0;
    a->len = x ? (size_t)n + 6 : 1;
    int rc = tab_fast_room(&a->buf, &a->cap, a->len);
    if (rc)
        return rc;
    unsigned char *q = a->buf;
    if (!x) {
        q[0] = ETF_NIL;
        return 0;
    }
    q[0] = ETF_LIST;
    put_be32(q + 1, 1);
    memcpy(q + 5, sobj_etf(x), n);
    q[5 + n] = ETF_NIL;
    return __builtin_expect(term_span(q + 5, n), 1) ? 0 : sobj_bad(t, x, "D.1 a stored object is not a term");
}

/* ets:lookup/2, copying: a set's keys (every key with no object or one plain one) the short
 * way, with no callback of tab_read's, no growing buffer and no realloc to trim it (~220
 * instructions of ~800); the rest the general way, tab_lookup (table.c). */
int shmets_lookup(shmets_tab *t, shmets_term key, shmets_term *objects)
{
    if (!t || !key.ptr || !objects)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_lookup");
    struct copy_one a = { NULL, 0, 0 };
    int rc = fast_read(t, key, copy_one, &a);     /* copy_one inline */
    if (rc) {
        free(a.buf);
        return rc == TAB_FAST_NO ? tab_lookup(t, key, objects) : rc;
    }
    *objects = (shmets_term){ a.buf, a.len };
    return 0;
}

/* ets:member/2: whether the key has an object, the short way for a hash table (nothing of
 * the object is read), the general way for the rest (tab_member, table.c). */
static inline __attribute__((always_inline)) int is_there(struct tab *t, const struct sobj *x, void *arg)
{
    (void)t;
    *(int *)arg = x != NULL;
    return 0;
}

int shmets_member(shmets_tab *t, shmets_term key, int *found)
{
    if (!t || !key.ptr || !found)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_member");
    int rc = fast_read(t, key, is_there, found);
    return rc == TAB_FAST_NO ? tab_member(t, key, found) : rc;
}

/* Inside the caller's read section, for a table whose objects are terms (the view calls). */
static inline __attribute__((always_inline)) int in_section(struct tab *t, struct rcu_reader **rd)
{
    if (t->h->flags & TABF_COMPRESSED)
        return err_set(SHMETS_EINVAL, "a compressed table's objects are not stored as terms: use the copying calls");
    *rd = inst_reader(t->db);
    if (!*rd || (*rd)->nest == 0)
        return err_set(SHMETS_EINVAL, "a view call outside a read section (shmets_read_begin)");
    if (t->access == SHMETS_PRIVATE && !t->owner)
        return tab_read_access(t);
    if (atomic_load_explicit(&t->h->root.deleted, memory_order_relaxed))
        return err_set(SHMETS_ENOENT, "table %llu was deleted", (unsigned long long)t->id);
    return 0;
}

int tab_view_section(struct tab *t)
{
    struct rcu_reader *rd;
    return in_section(t, &rd);
}

/* The views of k's objects (its seed checked, inside a section). */
static inline __attribute__((always_inline)) int view_key(struct tab *t, const shmets_key *k, shmets_term *objs, size_t max,
                                                          size_t *n, int head)
{
    size_t got;
    for (;;) {
        uint64_t seq = tab_seq_begin(t);
        const struct sobj *x = lookup_obj(t, k, head);
        got = 0;
        if (x && !sobj_next(x)) {               /* the common case: one object */
            if (!term_span(sobj_etf(x), sobj_len(x)))
                return sobj_bad(t, x, "D.1 a stored object is not a term");
            if (max)
                objs[0] = (shmets_term){ sobj_etf(x), sobj_len(x) };
            got = 1;
        } else {
            uint64_t cap = tab_chain_max(t);
            while (x && got < cap) {
                if (!term_span(sobj_etf(x), sobj_len(x)))
                    return sobj_bad(t, x, "D.1 a stored object is not a term");
                if (got < max)
                    objs[got] = (shmets_term){ sobj_etf(x), sobj_len(x) };
                got++;
                uint64_t nx = sobj_next(x);
                x = nx ? sobj_at(&t->s, nx) : NULL;
            }
        }
        if (!tab_seq_retry(t, seq))
            break;
    }
    *n = got;
    return 0;
}

int shmets_lookup_view_key(shmets_tab *t, const shmets_key *k, shmets_term *objs, size_t max, size_t *n)
{
    if (!t || (!objs && max) || !n)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_lookup_view_key");
    struct rcu_reader *rd;
    int rc = key_check(t, k);
    if (rc || (rc = in_section(t, &rd)))
        return rc;
    return view_key(t, k, objs, max, n, 1);
}

int shmets_lookup_view(shmets_tab *t, shmets_term key, shmets_term *objs, size_t max, size_t *n)
{
    if (!t || !key.ptr || (!objs && max) || !n)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_lookup_view");
    struct rcu_reader *rd;
    int rc = in_section(t, &rd);
    if (rc)
        return rc;
    *n = 0;
    if (key.len > UINT32_MAX)
        return 0;
    shmets_key k;
    key_of(t, key, &k, 0);
    return view_key(t, &k, objs, max, n, 0);
}

#define FAST_CHUNK 64

/* The error of the first of n keys that is not this table's (key_check), or 0. */
static int bad_key(struct tab *t, const shmets_key *k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!k[i].etf || k[i].seed != t->h->seed)
            return key_check(t, &k[i]);
    return 0;
}

int shmets_lookup_bulk_view_keys(shmets_tab *t, const shmets_key *keys, size_t n, shmets_term *objs, size_t *found)
{
    if (!t || (n && (!keys || !objs)))
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_lookup_bulk_view_keys");
    struct rcu_reader *rd;
    int rc = in_section(t, &rd);
    if (rc)
        return rc;
    size_t got = 0;
    if (t->ops == &hash_index_ops) {
        /* The hash index inline, in groups whose misses overlap (hash_read.h, BATCHES): no
         * copy of the keys, no indirect call; the last pass finds each object, checks it
         * (Q.5) and hands out its view in one loop. */
        struct hash_bulk q;
        for (size_t g = 0; g < n; g += HASH_BULK) {
            size_t m = n - g < HASH_BULK ? n - g : HASH_BULK;
            const shmets_key *k = keys + g;
            shmets_term *out = objs + g;
            size_t hit;
            for (;;) {
                uint64_t seq = tab_seq_begin(t);
                if (__builtin_expect(hash_bulk_probe(t, k, m, &q) != 0, 0)) {
                    /* A key of another table; or, if none is now, the seed itself changed
                     * under the probe: the header is damaged (a seed never changes). */
                    rc = bad_key(t, k, m);
                    return rc ? rc : sobj_bad(t, t->h, "the table's seed changed under a read");
                }
                hit = 0;
                for (size_t i = 0; i < m; i++) {
                    shmets_term v;
                    const struct sobj *o = hash_bulk_obj(t, k, &q, i, &v);
                    if (!o) {
                        out[i] = (shmets_term){ NULL, 0 };
                        continue;
                    }
                    if (__builtin_expect(!term_span(v.ptr, v.len), 0))
                        return sobj_bad(t, o, "D.1 a stored object is not a term");
                    out[i] = v;
                    hit++;
                }
                if (__builtin_expect(!tab_seq_retry(t, seq), 1))
                    break;
            }
            got += hit;
        }
        if (found)
            *found = got;
        return 0;
    }
    if ((rc = bad_key(t, keys, n)))
        return rc;
    uint64_t off[FAST_CHUNK];
    for (size_t g = 0; g < n; g += FAST_CHUNK) {
        size_t m = n - g < FAST_CHUNK ? n - g : FAST_CHUNK;
        for (;;) {
            uint64_t seq = tab_seq_begin(t);
            if (t->ops->lookup_bulk)
                t->ops->lookup_bulk(t, keys + g, m, off);
            else
                for (size_t i = 0; i < m; i++)
                    off[i] = t->ops->lookup(t, keys[g + i].etf, keys[g + i].len, keys[g + i].hash);
            if (!tab_seq_retry(t, seq))
                break;
        }
        for (size_t i = 0; i < m; i++) {
            const struct sobj *o = off[i] ? sobj_at(&t->s, off[i]) : NULL;
            if (o && !term_span(sobj_etf(o), sobj_len(o)))
                return sobj_bad(t, o, "D.1 a stored object is not a term");
            got += o != NULL;
            objs[g + i] = o ? (shmets_term){ sobj_etf(o), sobj_len(o) } : (shmets_term){ NULL, 0 };
        }
    }
    if (found)
        *found = got;
    return 0;
}
