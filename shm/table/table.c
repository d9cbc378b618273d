/*
 * table.c — the table front end (CONVENTIONS.md item 1, as OTP's erl_db.c): argument checks,
 * access rights, entering RCU or taking the lock, dispatch to the index kind, and ETS's
 * semantics for insert, insert_new, lookup and delete.
 *
 * A TABLE is one segment /dev/shm/shmets.<instance>.<id> (DESIGN.md §3), created sparse at
 * opts.max_bytes with its first 64 KiB backed, laid out as struct tab_hdr and then the heap.
 * Its catalog entry (mem/ctl.c) says who owns it; the segment's file mode and the mapping's
 * protection make the kernel enforce what it can (public and protected 0644, private 0600;
 * a process that may not write maps PROT_READ).  In an instance shared with a group (issue 17,
 * db->c.group) the segment is made in the group with its mode by protection — public 0660,
 * protected 0640, private 0600 — and a member's segments are trusted for writing (seg.h S.3);
 * delete and rename also need the segment's uid (tab_admin_access).
 *
 * INSERT semantics, as the ETS manual gives them: the objects of an insert are grouped by key
 * (exact equality, =:=).  A set keeps the last object of each key.  A duplicate_bag appends
 * every object, in list order.  A bag appends, in list order, the objects it does not hold
 * yet.  (OTP 23 to 25.2 inserted a bag's list backwards, erlang/otp#6730, fixed in 25.3 by
 * PR #6752; the erl of Debian 12, 25.2.3, still has that bug, so differential tests must
 * not take it as the oracle there.)  insert_new inserts nothing if any key is present.  The whole insert is one plan, published
 * atomically and in isolation (commit.c, T.3).
 *
 * READS run inside an RCU read section (no lock, nothing written to the table) and copy what
 * they found into process memory before they leave it.
 */
#include "table/table.h"
#include "base/proc.h"
#include "term/term.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define TAB_COMMIT_INITIAL (64u << 10)
/* A chain cannot hold more objects than the heap has blocks: a reader of a damaged segment
 * (a cycle of `next`) stops there instead of looping.  (A racy read of a counter that only
 * a writer changes: at worst a little stale, never unbounded.) */
uint64_t tab_chain_max(const struct tab *t)
{
    uint64_t b = __atomic_load_n(&t->h->heap.blocks, __ATOMIC_RELAXED);
    uint64_t most = t->s.size / 16;     /* the smallest block */
    return b < most ? b : most;
}

void shmets_opts_init(shmets_opts *o)
{
    memset(o, 0, sizeof *o);
    o->kind = SHMETS_SET;
    o->access = SHMETS_PROTECTED;
    o->keypos = 1;
    o->decentralized_counters = -1;
}

static const struct index_ops *ops_for(uint32_t kind)
{
    switch (kind) {
    case SHMETS_SET: case SHMETS_BAG: case SHMETS_DUPLICATE_BAG: return &hash_index_ops;
    case SHMETS_ORDERED_SET: return &skiplist_index_ops;
    default: return NULL;
    }
}

static void seg_name_of(const struct shmets *db, uint64_t id, char *out, size_t n)
{
    (void)n;
    cat_seg_name(db->c.s.name, id, out);
}

static void link_tab(struct tab *t)
{
    pthread_mutex_lock(&t->db->mu);
    t->next = t->db->tabs;
    if (t->next)
        t->next->prev = t;
    t->db->tabs = t;
    pthread_mutex_unlock(&t->db->mu);
}

static void unlink_tab(struct tab *t)
{
    pthread_mutex_lock(&t->db->mu);
    if (t->prev)
        t->prev->next = t->next;
    else
        t->db->tabs = t->next;
    if (t->next)
        t->next->prev = t->prev;
    pthread_mutex_unlock(&t->db->mu);
}

struct tab_init_arg {
    const shmets_opts *o;
    uint64_t id, seed;
    int rc;
};

static void tab_init(unsigned char *base, void *arg)
{
    struct tab_init_arg *a = arg;
    struct tab_hdr *h = (struct tab_hdr *)base;
    h->kind = a->o->kind;
    h->access = a->o->access;
    h->keypos = a->o->keypos;
    h->id = a->id;
    h->seed = a->seed;
    /* Only the hash index stripes its writers (a key's stripe owns its buckets). */
    h->flags = a->o->compressed ? TABF_COMPRESSED : 0;
    h->nstripes = a->o->write_concurrency && a->o->kind != SHMETS_ORDERED_SET ? TAB_STRIPES : 1;
    a->rc = wlock_init(&h->hlock);
    for (int i = 0; i < TAB_STRIPES && !a->rc; i++)
        a->rc = wlock_init(&h->stripe[i].lock);
    /* The heap starts at the first page after the header: readers' bounds checks refuse any
     * offset below SEG_PAGE (sobj.h, hash.c). */
    alloc_init(&h->heap, NULL, (sizeof *h + SEG_PAGE - 1) & ~(uint64_t)(SEG_PAGE - 1), a->o->max_bytes);
    h->obj_max = a->o->max_object_bytes ? a->o->max_object_bytes : ALLOC_OBJ_MAX_DEFAULT;
}

int shmets_new(shmets *db, const char *name, const shmets_opts *opts, shmets_tab **out)
{
    shmets_opts o;
    if (!db || !name || !out)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_new");
    if (opts)
        o = *opts;
    else
        shmets_opts_init(&o);
    if (!ops_for(o.kind))
        return err_set(SHMETS_EINVAL, "table kind %d is not set, ordered_set, bag or duplicate_bag", (int)o.kind);
    if (o.access == SHMETS_PRIVATE)                 /* ETS ignores them for private tables */
        o.read_concurrency = o.write_concurrency = false;
    bool dcounters = o.write_concurrency && (o.decentralized_counters < 0 ? o.kind == SHMETS_ORDERED_SET
                                                                          : o.decentralized_counters > 0);
    if (o.heir_data.ptr && o.heir_data.len > SHMETS_TERM_MAX_SIZE)
        return err_set(SHMETS_EINVAL, "the heir's data is larger than a term can be");
    if (o.access < SHMETS_PUBLIC || o.access > SHMETS_PRIVATE)
        return err_set(SHMETS_EINVAL, "access %d is not public, protected or private", (int)o.access);
    if (o.keypos < 1)
        return err_set(SHMETS_EINVAL, "keypos must be 1 or more");
    if (!o.max_bytes)
        o.max_bytes = TAB_SIZE_MAX_DEFAULT;
    if (o.max_bytes < TAB_SIZE_MIN || o.max_bytes > TAB_SIZE_LIMIT)
        return err_set(SHMETS_EINVAL, "max_bytes must be between 1 MiB and 8 TiB");
    o.max_bytes = (o.max_bytes + SEG_PAGE - 1) & ~(uint64_t)(SEG_PAGE - 1);
    if (o.max_object_bytes > SHMETS_TERM_MAX_SIZE)
        return err_set(SHMETS_EINVAL, "max_object_bytes is larger than a term can be (%u bytes)", SHMETS_TERM_MAX_SIZE);
    size_t nlen = strlen(name);
    struct cat_entry *e = calloc(1, sizeof *e);
    struct tab *t = calloc(1, sizeof *t);
    if (!e || !t) {
        free(e);
        free(t);
        return err_set(SHMETS_ENOMEM, "out of process memory");
    }
    e->kind = o.kind;
    e->access = o.access;
    e->keypos = o.keypos;
    e->flags = (o.named ? CAT_NAMED : 0) | (o.read_concurrency ? CAT_READ_CONC : 0) |
               (o.write_concurrency ? CAT_WRITE_CONC : 0) | (o.compressed ? CAT_COMPRESSED : 0) |
               (dcounters ? CAT_DCOUNTERS : 0);
    e->owner_uid = getuid();
    e->owner_pid = getpid();
    e->owner_inc = proc_self_incarnation();
    e->heir_pid = (int32_t)o.heir_pid;
    if (o.heir_pid && proc_incarnation((pid_t)o.heir_pid, &e->heir_inc) != 0)
        e->heir_inc = 0;            /* not alive: it can never take the table */
    e->name_len = (uint32_t)(nlen > CAT_NAME_MAX ? CAT_NAME_MAX + 1 : nlen);
    memcpy(e->name, name, nlen > CAT_NAME_MAX ? CAT_NAME_MAX : nlen);
    uint32_t idx;
    int rc = cat_add(&db->c, e, &idx);
    if (rc == -SHMETS_EEXIST) {
        /* The name may belong to a table whose deleter died before removing it: attaching
         * finishes such a delete (attach_entry), after which the name is free. */
        shmets_tab *old;
        int r = shmets_attach_name(db, name, &old);
        if (r == 0)
            shmets_detach(old);
        else if (r == -SHMETS_ENOENT)
            rc = cat_add(&db->c, e, &idx);
        if (rc == -SHMETS_EEXIST)
            err_set(SHMETS_EEXIST, "a named table \"%s\" exists already", name);
    }
    if (rc)
        goto fail;
    char sname[SEG_NAME_MAX];
    seg_name_of(db, e->id, sname, sizeof sname);
    struct tab_init_arg a = { &o, e->id, 0, 0 };
    if (getrandom(&a.seed, sizeof a.seed, 0) != sizeof a.seed)
        a.seed = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)&a;
    gid_t group = db->c.group;
    mode_t mode = o.access == SHMETS_PRIVATE ? 0600 : group == (gid_t)-1 ? 0644
                : o.access == SHMETS_PUBLIC ? 0660 : 0640;
    rc = seg_create_grp(sname, SEG_TABLE, sizeof(struct tab_hdr), o.max_bytes, TAB_COMMIT_INITIAL, mode,
                        group, tab_init, &a, &t->s);
    if (!rc && a.rc) {
        seg_detach(&t->s);
        rc = a.rc;
    }
    if (rc) {
        cat_remove(&db->c, e->id);
        goto fail;
    }
    t->db = db;
    t->h = (struct tab_hdr *)t->s.base;
    t->ops = ops_for(o.kind);
    t->id = e->id;
    t->writable = t->owner = 1;
    t->access = o.access;
    struct plan p;
    plan_init(&p);
    rc = t->ops->init(t, &p);
    if (!rc && !p.err && o.heir_pid && o.heir_data.ptr)
        rc = tab_put_heir_data(t, &p, o.heir_data);
    if (!rc && !p.err) {
        for (size_t i = 0; i < p.nst; i++)      /* nobody can see the table yet: plain stores */
            atomic_store((_Atomic uint64_t *)(t->s.base + p.st[i].off), p.st[i].val);
    }
    rc = rc ? rc : p.err;
    plan_free(&p);
    if (!rc) {
        /* Reserves that let a full table still delete: a limbo chunk, and an empty index for
         * delete_all_objects (best effort: a table too small for them works without). */
        limbo_reserve(&t->h->limbo, &t->h->heap, &t->s, 1);
        tab_make_spare(t);
        rc = cat_publish(&db->c, idx);
    }
    if (rc) {
        seg_detach(&t->s);
        seg_unlink(sname);
        cat_remove(&db->c, e->id);
        goto fail;
    }
    free(e);
    link_tab(t);
    *out = t;
    return 0;
fail:
    free(e);
    free(t);
    return rc;
}

/* maint: attached by the background reclaimer (tab_reclaim_idle), read-write whatever the
 * protection, as far as the kernel lets this process open the segment. */
static int attach_entry(shmets *db, const struct cat_entry *e, int maint, shmets_tab **out)
{
    int owner = e->owner_pid == getpid() && e->owner_inc == proc_self_incarnation();
    if (e->access == SHMETS_PRIVATE && !owner && !maint)
        return err_set(SHMETS_EOWNER, "table \"%s\" is private to process %d", e->name, (int)e->owner_pid);
    struct tab *t = calloc(1, sizeof *t);
    if (!t)
        return err_set(SHMETS_ENOMEM, "out of process memory");
    char sname[SEG_NAME_MAX];
    seg_name_of(db, e->id, sname, sizeof sname);
    t->writable = owner || maint || e->access == SHMETS_PUBLIC;
    int rc = seg_attach_grp(sname, SEG_TABLE, t->writable, db->c.group, &t->s);
    if (rc) {
        free(t);
        return rc;
    }
    t->db = db;
    t->h = (struct tab_hdr *)t->s.base;
    t->ops = ops_for(t->h->kind);
    if (seg_hdr(&t->s)->header_size != sizeof(struct tab_hdr) || t->h->id != e->id || !t->ops ||
        t->h->kind != e->kind || t->h->keypos != e->keypos || t->h->keypos == 0) {
        seg_detach(&t->s);
        free(t);
        return err_set(SHMETS_EBADSEG, "table segment %s does not match its catalog entry", sname);
    }
    t->id = e->id;
    t->owner = owner;
    t->access = e->access;
    if (atomic_load(&t->h->root.deleted)) {
        /* Deleted by a process that died before it removed the name: finish its work. */
        seg_detach(&t->s);
        free(t);
        cat_remove(&db->c, e->id);
        seg_unlink(sname);
        return err_set(SHMETS_ENOENT, "table \"%s\" was deleted", e->name);
    }
    link_tab(t);
    *out = t;
    return 0;
}

int shmets_attach(shmets *db, uint64_t id, shmets_tab **out)
{
    if (!db || !out)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_attach");
    struct cat_entry *e = malloc(sizeof *e);
    if (!e)
        return err_set(SHMETS_ENOMEM, "out of process memory");
    int rc = cat_find_id(&db->c, id, e);
    if (!rc)
        rc = attach_entry(db, e, 0, out);
    free(e);
    return rc;
}

int shmets_attach_name(shmets *db, const char *name, shmets_tab **out)
{
    if (!db || !name || !out)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_attach_name");
    struct cat_entry *e = malloc(sizeof *e);
    if (!e)
        return err_set(SHMETS_ENOMEM, "out of process memory");
    int rc = cat_find_name(&db->c, name, strlen(name), e);
    if (!rc)
        rc = attach_entry(db, e, 0, out);
    free(e);
    return rc;
}

void shmets_detach(shmets_tab *t)
{
    if (!t)
        return;
    unlink_tab(t);
    seg_detach(&t->s);
    free(t);
}

/* Closing an instance detaches its tables first: here, not in inst.c, which is below this file. */
void shmets_close(shmets *db)
{
    if (!db)
        return;
    while (db->tabs)
        shmets_detach(db->tabs);
    inst_close(db);
}

uint64_t shmets_id(const shmets_tab *t)
{
    return t ? t->id : 0;
}

int tab_with_all(struct tab *t, int (*fn)(struct tab *t, void *arg), void *arg)
{
    if (!t)
        return err_set(SHMETS_EINVAL, "NULL table");
    struct plan p;
    plan_init(&p);
    int rc = tab_write_lock(t, &p, TAB_ALL);
    if (rc)
        return rc;
    rc = fn(t, arg);
    tab_unlock(t, &p);
    return rc;
}

static int mark_deleted(struct tab *t, void *arg)
{
    (void)arg;
    atomic_store(&t->h->root.deleted, 1);
    return 0;
}

int shmets_delete(shmets_tab *t)
{
    if (!t)
        return err_set(SHMETS_EINVAL, "NULL table");
    int rc = tab_admin_access(t, "delete");
    if (rc)
        return rc;
    rc = tab_with_all(t, mark_deleted, NULL);
    if (rc)
        return rc;
    char sname[SEG_NAME_MAX];
    seg_name_of(t->db, t->id, sname, sizeof sname);
    cat_remove(&t->db->c, t->id);
    seg_unlink(sname);
    shmets_detach(t);
    return 0;
}

/* ---- insert -------------------------------------------------------------------------------- */

struct item {
    shmets_term obj, key;
    uint64_t hash;
    size_t pos;             /* place in the caller's list */
};

/* Group an insert by key: by =:= (hash, then bytes) for hash tables; by == in term order for
 * an ordered_set, whose index wants its keys ascending. */
static int item_cmp(const void *a, const void *b, void *kind)
{
    const struct item *x = a, *y = b;
    if (*(const uint32_t *)kind == SHMETS_ORDERED_SET) {
        int c = term_cmp(x->key.ptr, y->key.ptr, 0);
        return c ? c : x->pos < y->pos ? -1 : x->pos > y->pos;
    }
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    if (x->key.len != y->key.len)
        return x->key.len < y->key.len ? -1 : 1;
    int c = memcmp(x->key.ptr, y->key.ptr, x->key.len);
    if (c)
        return c;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int same_key(const struct item *x, const struct item *y, uint32_t kind)
{
    if (kind == SHMETS_ORDERED_SET)
        return term_cmp(x->key.ptr, y->key.ptr, 0) == 0;
    return x->hash == y->hash && x->key.len == y->key.len && memcmp(x->key.ptr, y->key.ptr, x->key.len) == 0;
}

static int same_obj(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* Items that collect() allocated (a single object's is the caller's *one). */
static void items_free(struct item *it, const struct item *one)
{
    if (it != one)
        free(it);
}

/* The objects of an insert — one tuple, or a proper list of tuples — each with its key and
 * hash: a single object in *one (no allocation: the commonest insert), a list in memory the
 * caller frees with items_free. */
static int collect(struct tab *t, shmets_term objects, struct item *one, struct item **out, size_t *n)
{
    enum shmets_type ty = shmets_term_type(objects);
    size_t cnt = 1;
    if (ty == SHMETS_T_LIST || ty == SHMETS_T_NIL) {
        int rc = shmets_term_list_length(objects, &cnt);
        if (rc)
            return err_set(SHMETS_ETYPE, "insert: not a proper list of tuples");
    } else if (ty != SHMETS_T_TUPLE) {
        return err_set(SHMETS_ETYPE, "insert: the object is not a tuple");
    }
    struct item *it = ty == SHMETS_T_TUPLE ? one : calloc(cnt ? cnt : 1, sizeof *it);
    if (!it)
        return err_set(SHMETS_ENOMEM, "out of process memory");
    if (ty == SHMETS_T_TUPLE) {
        memset(one, 0, sizeof *one);
        it[0].obj = objects;
    } else {
        shmets_list_iter li;
        shmets_list_begin(objects, &li);
        for (size_t i = 0; i < cnt; i++) {
            shmets_list_next(&li, &it[i].obj);
            /* (A list in the string form hands out integers made in the iterator: never keep
             * such a view past the next step.  They are no objects anyway.) */
            if (shmets_term_type(it[i].obj) != SHMETS_T_TUPLE) {
                items_free(it, one);
                return err_set(SHMETS_ETYPE, "insert: object %zu is not a tuple", i + 1);
            }
        }
    }
    for (size_t i = 0; i < cnt; i++) {
        int rc = shmets_term_key(it[i].obj, t->h->keypos, &it[i].key);
        if (rc) {
            items_free(it, one);
            return err_set(-rc, "insert: object %zu %s", i + 1,
                           rc == -SHMETS_ETYPE ? "is not a tuple" : "has fewer elements than keypos");
        }
        if (it[i].obj.len > t->h->obj_max) {
            size_t len = it[i].obj.len;
            items_free(it, one);
            return err_set(SHMETS_ETOOBIG, "insert: object %zu has %zu bytes; this table's largest is %llu",
                           i + 1, len, (unsigned long long)t->h->obj_max);
        }
        it[i].hash = shmets_term_hash(it[i].key, t->h->seed);
        it[i].pos = i;
    }
    *out = it;
    *n = cnt;
    return 0;
}

static int store_obj(struct tab *t, struct plan *p, const struct item *it, uint64_t *off)
{
    return sobj_store(t, p, it->obj, it->key, off);
}

/* Is this object (bytes) among the stored objects of its key, or among the group's earlier
 * survivors?  (bags only) */
static int bag_has(struct tab *t, uint64_t head, const struct item *it, struct tbuf *tmp)
{
    uint64_t n = 0, cap = tab_chain_max(t);
    for (uint64_t o = head; o && n < cap; n++) {
        const struct sobj *x = sobj_at(&t->s, o);
        if (!x)
            break;                      /* damaged: the index's own checks report it */
        if (sobj_flags(x) & SOBJ_LZ4 ? sobj_equal(t, x, it->obj, tmp) : same_obj(sobj_etf(x), sobj_len(x), it->obj.ptr, it->obj.len))
            return 1;
        o = sobj_next(x);
    }
    return 0;
}

/* Plan one key's group it[a..b) (sorted by list position). */
static int plan_group(struct tab *t, struct plan *p, struct item *it, size_t a, size_t b, int newonly,
                      struct wobj *w, int *any)
{
    uint32_t kind = t->h->kind;
    *any = 0;
    if (kind == SHMETS_SET || kind == SHMETS_ORDERED_SET) {
        const struct item *last = &it[b - 1];
        int rc = store_obj(t, p, last, &w->off);
        if (rc)
            return rc;
        w->hash = last->hash;
        w->key = last->key.ptr;
        w->klen = (uint32_t)last->key.len;
        *any = 1;
        return 0;
    }
    uint64_t head = 0, tail = 0;
    /* The key's stored objects matter to a bag (no duplicates) and to insert_new only. */
    uint64_t existing = kind == SHMETS_BAG || newonly
                        ? t->ops->lookup(t, it[a].key.ptr, (uint32_t)it[a].key.len, it[a].hash) : 0;
    if (newonly && existing)
        return -SHMETS_EEXIST;          /* insert_new: the key is there, whatever its objects */
    struct tbuf tmp;
    tbuf_init(&tmp, SHMETS_TERM_MAX_SIZE);
    for (size_t k = 0; k < b - a; k++) {
        const struct item *x = &it[a + k];
        if (kind == SHMETS_BAG && (bag_has(t, existing, x, &tmp) || bag_has(t, head, x, &tmp)))
            continue;
        uint64_t off;
        int rc = store_obj(t, p, x, &off);
        if (rc) {
            tbuf_free(&tmp);
            return rc;
        }
        sobj_chain_append(&t->s, &head, &tail, off);
    }
    tbuf_free(&tmp);
    if (!head)
        return 0;
    w->off = head;
    w->hash = it[a].hash;
    w->key = it[a].key.ptr;
    w->klen = (uint32_t)it[a].key.len;
    *any = 1;
    return 0;
}

static int do_insert(struct tab *t, shmets_term objects, int newonly, int *inserted)
{
    struct item *it = NULL, one;
    struct wobj w_one;
    size_t n = 0;
    uint32_t kind = t->h->kind;
    int rc = tab_write_access(t, "insert");
    if (!rc)
        rc = collect(t, objects, &one, &it, &n);
    if (rc)
        return rc;
    if (n > 1)
        qsort_r(it, n, sizeof *it, item_cmp, &kind);
    struct wobj *w = n == 1 ? memset(&w_one, 0, sizeof w_one) : calloc(n ? n : 1, sizeof *w);
    if (!w) {
        items_free(it, &one);
        return err_set(SHMETS_ENOMEM, "out of process memory");
    }
    size_t groups = 0;
    for (size_t a = 0; a < n; a++)
        groups += a == 0 || !same_key(&it[a - 1], &it[a], kind);
    /* One key: its stripe (unless the index must grow first); several: every stripe, so that
     * the whole list is published at once (T.3). */
    struct plan p;
    plan_init(&p);
    int stripe = groups == 1 && !t->ops->needs_resize(t, atomic_load(&t->h->keys) + 1)
                 ? tab_stripe(t, it[0].hash) : TAB_ALL;
    for (;;) {
        if ((rc = tab_write_lock(t, &p, stripe))) {
            items_free(it, &one);
            if (w != &w_one)
                free(w);
            return rc;
        }
        if (p.stripe == TAB_ALL || !t->ops->needs_resize(t, atomic_load(&t->h->keys) + 1))
            break;
        tab_unlock(t, &p);          /* the index must grow meanwhile: take everything */
        stripe = TAB_ALL;
    }
    p.multi = groups > 1;
    size_t nw = 0;
    for (size_t a = 0; a < n && !rc;) {
        size_t b = a + 1;
        while (b < n && same_key(&it[a], &it[b], kind))
            b++;
        int any;
        rc = plan_group(t, &p, it, a, b, newonly, &w[nw], &any);
        nw += (size_t)any;
        a = b;
    }
    /* A list of many keys: the index grows first for the keys the list adds (those not in
     * the table: one lookup each), so that placing each key does not walk overflow chains
     * that the resize at the end would only then undo (an 80,000-object list took 11 s,
     * quadratic; now 0.14 s).  Replaced keys add none, so a replacing list does not grow
     * the index. */
    uint64_t keys = atomic_load(&t->h->keys);
    if (!rc && p.stripe == TAB_ALL && groups > 64 && t->ops->needs_resize(t, keys + groups)) {
        uint64_t adds = 0;
        for (size_t a = 0; a < n; a++)
            if (a == 0 || !same_key(&it[a - 1], &it[a], kind))
                adds += t->ops->lookup(t, it[a].key.ptr, (uint32_t)it[a].key.len, it[a].hash) == 0;
        if (t->ops->needs_resize(t, keys + adds)) {
            int r = t->ops->resize(t, &p, keys + adds);
            rc = r < 0 ? r : 0;
        }
    }
    CRASH_POINT("insert.prepared");
    if (!rc)
        rc = t->ops->put(t, &p, w, nw, newonly ? PUT_NEW : kind == SHMETS_SET || kind == SHMETS_ORDERED_SET
                                                          ? PUT_REPLACE : PUT_APPEND);
    /* Resized for the keys the insert really adds (replaced keys and a bag's objects already
     * there add none); the rehash reads the array as the plan leaves it. */
    if (!rc && p.stripe == TAB_ALL) {
        int r = t->ops->resize(t, &p, (uint64_t)((int64_t)atomic_load(&t->h->keys) + p.dkeys));
        rc = r < 0 ? r : 0;
    }
    CRASH_POINT("insert.planned");
    if (rc == -SHMETS_EEXIST && newonly) {
        tab_abandon(t, &p);
        *inserted = 0;
        rc = 0;
    } else if (rc) {
        tab_abandon(t, &p);
    } else {
        rc = tab_commit(t, &p);
        if (inserted)
            *inserted = rc == 0;
    }
    tab_unlock(t, &p);
    plan_free(&p);
    items_free(it, &one);
    if (w != &w_one)
        free(w);
    return rc;
}

int shmets_insert(shmets_tab *t, shmets_term objects)
{
    if (!t || !objects.ptr)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_insert");
    return do_insert(t, objects, 0, NULL);
}

int shmets_insert_new(shmets_tab *t, shmets_term objects, int *inserted)
{
    if (!t || !objects.ptr || !inserted)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_insert_new");
    return do_insert(t, objects, 1, inserted);
}

int shmets_delete_key(shmets_tab *t, shmets_term key)
{
    if (!t || !key.ptr)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_delete_key");
    if (key.len > UINT32_MAX)
        return 0;
    uint64_t hash = shmets_term_hash(key, t->h->seed);
    struct plan p;
    plan_init(&p);
    int rc = tab_write_lock(t, &p, tab_stripe(t, hash));
    if (rc)
        return rc;
    rc = t->ops->del(t, &p, key.ptr, (uint32_t)key.len, hash);
    CRASH_POINT("delete.planned");
    if (rc == 1) {
        /* Shrinking needs every stripe; a striped table shrinks at its next such write. */
        int r = p.stripe == TAB_ALL ? t->ops->resize(t, &p, atomic_load(&t->h->keys) - 1) : 0;
        rc = r < 0 ? r : tab_commit(t, &p);
    }
    if (rc < 0)
        tab_abandon(t, &p);
    tab_unlock(t, &p);
    plan_free(&p);
    return rc < 0 ? rc : 0;
}

/* ---- reads ---------------------------------------------------------------------------------- */

int tab_read_access(struct tab *t)
{
    if (t->access == SHMETS_PRIVATE && !t->owner)
        return err_set(SHMETS_EOWNER, "table %llu is private", (unsigned long long)t->id);
    return 0;
}

int tab_write_access(struct tab *t, const char *call)
{
    if (!t->writable)
        return err_set(SHMETS_EOWNER, "%s: table %llu is %s and this process is not its owner", call,
                       (unsigned long long)t->id, t->access == SHMETS_PRIVATE ? "private" : "protected");
    return 0;
}

int tab_admin_access(struct tab *t, const char *call)
{
    if (!t->owner && t->access != SHMETS_PUBLIC)
        return err_set(SHMETS_EOWNER, "%s: only the owner may %s a %s table", call, call,
                       t->access == SHMETS_PRIVATE ? "private" : "protected");
    if (t->s.uid != geteuid() && geteuid() != 0)
        return err_set(SHMETS_EOWNER, "%s: table %llu belongs to uid %u, not to this process's uid %u",
                       call, (unsigned long long)t->id, (unsigned)t->s.uid, (unsigned)geteuid());
    return 0;
}

int tab_write_lock(struct tab *t, struct plan *p, int stripe)
{
    /* Only a writable table's lock is waited for; tab_lock refuses the others (EOWNER first). */
    if (t->writable && inst_in_section(t->db))
        return err_set(SHMETS_EINVAL, "a write inside a read section (shmets_read_begin) would wait for itself");
    return tab_lock(t, p, stripe);
}

/* Copy the objects of one key, as a list term, into b, in one pass over the chain (the
 * count is patched in afterwards).  Inside a read section. */
void tab_copy_chain(const struct tab *t, uint64_t off, struct tbuf *b)
{
    /* The common case, one plain object (every key of a set): the list [Obj] in one step,
     * room made once (four buffer calls cost ~200 instructions of a ~1,000-instruction
     * copying lookup). */
    const struct sobj *x1 = off ? sobj_at(&t->s, off) : NULL;
    if (x1 && !sobj_flags(x1) && !sobj_next(x1)) {
        uint32_t len = sobj_len(x1);
        unsigned char *q = tbuf_room(b, (size_t)len + 6);
        if (!q)
            return;
        q[0] = ETF_LIST;
        put_be32(q + 1, 1);
        memcpy(q + 5, sobj_etf(x1), len);
        if (!term_span(q + 5, len)) {   /* term_span.c: the copy, which no stray write can change */
            b->err = sobj_bad(t, x1, "D.1 a stored object is not a term");
            return;
        }
        q[5 + len] = ETF_NIL;
        b->len += (size_t)len + 6;
        return;
    }
    size_t start = b->len;
    tbuf_byte(b, ETF_LIST);
    size_t at = b->len;
    tbuf_be32(b, 0);
    uint64_t got = 0, cap = tab_chain_max(t);
    for (uint64_t o = off; o && got < cap; got++) {
        const struct sobj *x = sobj_at(&t->s, o);
        if (!x)
            break;
        if (sobj_append(t, x, b, NULL))
            return;
        o = sobj_next(x);
    }
    if (b->err)
        return;
    if (got == 0) {
        b->len = start;                 /* no object: [] */
        tbuf_byte(b, ETF_NIL);
        return;
    }
    put_be32(b->p + at, (uint32_t)got);
    tbuf_byte(b, ETF_NIL);
}

int tab_read(struct tab *t, int (*fn)(struct tab *t, void *arg), void *arg)
{
    int rc = tab_read_access(t);
    if (rc)
        return rc;
    struct rcu_reader *rd = tab_reader(t);
    if (!rd)
        return -SHMETS_EAGAIN;
    struct rcu_registry *reg = &t->db->c.h->reg;
    rcu_read_begin(reg, rd);
    for (;;) {
        uint64_t seq = tab_seq_begin(t);
        if (atomic_load_explicit(&t->h->root.deleted, memory_order_relaxed)) {
            rc = err_set(SHMETS_ENOENT, "table %llu was deleted", (unsigned long long)t->id);
            break;
        }
        rc = fn(t, arg);
        if (!tab_seq_retry(t, seq))
            break;
    }
    rcu_read_end(rd);
    return rc;
}

struct read_key_arg {
    shmets_term key;
    uint64_t hash;
    struct tbuf *b;
    int found;
};

static int read_key_fn(struct tab *t, void *arg)
{
    struct read_key_arg *a = arg;
    uint64_t off = a->key.len <= UINT32_MAX ? t->ops->lookup(t, a->key.ptr, (uint32_t)a->key.len, a->hash) : 0;
    if (a->b) {
        a->b->len = 0;
        a->b->err = 0;
        tab_copy_chain(t, off, a->b);
    }
    a->found = off != 0;
    return 0;
}

/* The objects of one key (b: as a list term) or whether there are any. */
static int read_key(struct tab *t, shmets_term key, struct tbuf *b, int *found)
{
    struct read_key_arg a = { key, tab_read_hash(t, key), b, 0 };
    int rc = tab_read(t, read_key_fn, &a);
    *found = a.found;
    return rc;
}

/* shmets_lookup's general way (tabfast.c takes a set's keys the short way). */
int tab_lookup(struct tab *t, shmets_term key, shmets_term *objects)
{
    struct tbuf b;
    tbuf_init(&b, (size_t)1 << 62);
    int found;
    return tbuf_to_term(&b, read_key(t, key, &b, &found), objects);
}

/* shmets_member's general way (tabfast.c takes a hash table's keys the short way). */
int tab_member(struct tab *t, shmets_term key, int *found)
{
    return read_key(t, key, NULL, found);
}

int shmets_size(shmets_tab *t, uint64_t *objects)
{
    if (!t || !objects)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_size");
    int rc = tab_read_access(t);
    if (rc)
        return rc;
    if (atomic_load(&t->h->root.deleted))
        return err_set(SHMETS_ENOENT, "table %llu was deleted", (unsigned long long)t->id);
    *objects = atomic_load_explicit(&t->h->objs, memory_order_relaxed);
    return 0;
}

int shmets_memory(shmets_tab *t, uint64_t *used, uint64_t *free_bytes)
{
    if (!t || !used || !free_bytes)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_memory");
    int rc = tab_read_access(t);
    if (rc)
        return rc;
    *used = sizeof(struct tab_hdr) + atomic_load(&t->h->heap.used_bytes);
    *free_bytes = atomic_load(&t->h->heap.free_bytes);
    return 0;
}

static int check_fn(struct tab *t, void *arg)
{
    (void)arg;
    return tab_check(t);
}

int shmets_check(shmets_tab *t)
{
    int rc = tab_with_all(t, check_fn, NULL);
    return rc ? rc : cat_check(&t->db->c);
}

struct reclaim_arg { uint64_t max, *freed; };

static int reclaim_fn(struct tab *t, void *arg)
{
    struct reclaim_arg *a = arg;
    return tab_reclaim(t, a->max, a->freed);
}

int shmets_reclaim(shmets_tab *t, uint64_t max, uint64_t *freed)
{
    struct reclaim_arg a = { max, freed };
    return tab_with_all(t, reclaim_fn, &a);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int tab_reclaim_idle(shmets *db, uint64_t *cursor, unsigned ntables, uint64_t idle_ns,
                     uint64_t max, uint64_t *freed)
{
    uint32_t n = 0, cap = 0;
    uint64_t *ids = NULL;
    int rc;
    for (;;) {                              /* the live ids, in a buffer that fits them all */
        if ((rc = cat_list(&db->c, ids, cap, &n))) {
            free(ids);
            return rc;
        }
        if (n <= cap)
            break;
        free(ids);
        cap = n + 16;
        if (!(ids = malloc(cap * sizeof *ids)))
            return err_set(SHMETS_ENOMEM, "out of process memory");
    }
    if (n)
        qsort(ids, n, sizeof *ids, cmp_u64);
    uint32_t i = 0;
    while (i < n && ids[i] <= *cursor)
        i++;
    uint64_t now = mono_ns();
    for (unsigned visited = 0; visited < ntables && visited < n; visited++, i++) {
        if (i == n)
            i = 0;                          /* wrap: ids up to the cursor come next */
        *cursor = ids[i];
        struct cat_entry e;
        shmets_tab *t;
        if (cat_find_id(&db->c, ids[i], &e) || attach_entry(db, &e, 1, &t))
            continue;                       /* gone meanwhile, or not ours to open */
        const struct tab_hdr *h = t->h;
        uint64_t last = atomic_load_explicit(&h->reclaimed_ns, memory_order_relaxed);
        if (__atomic_load_n(&h->limbo.entries, __ATOMIC_RELAXED) && now - last >= idle_ns) {
            uint64_t got = 0;
            struct reclaim_arg a = { max ? max : 1, &got };
            if (tab_with_all(t, reclaim_fn, &a) == 0 && freed)
                *freed += got;
        }
        shmets_detach(t);
    }
    free(ids);
    return 0;
}
