/*
 * ctl.c — the instance's control segment (DESIGN.md §3): its layout (the catalog's header, the
 * reader registry of rcu.c, then the catalog's entries), opening it, and the table catalog.
 *
 * WHAT IT HOLDS: one fixed-size entry per table — id, name, type, options, owner and heir as
 * (pid, incarnation) — so that any process of the host can find a table by name or id, list
 * the tables (ets:all/0), and, later, so that etsmgr can re-adopt owners after a restart (the
 * registry lives here, not in the daemon: DESIGN.md §7).
 *
 * LAYOUT: an array of struct cat_entry at cat_hdr.entries_off, page-aligned after the reader
 * registry.  The array is reserved for cap entries (sparse) and backed as it is used: cat_add
 * grows the segment's committed part a page-multiple at a time, so an instance with three
 * tables costs a few pages, and one with 10,000 tables about 11 MiB.
 *
 * CONCURRENCY: every call takes the catalog's robust lock, lookups included.  Lookups by name
 * happen when a process opens a table, not per operation (a process keeps its handle), so a
 * lock here costs nothing that matters, and it spares readers a seqlock over 1 KiB entries.
 * The ids handed out only grow (never reused within an instance), so a stale id can never
 * name a newer table.
 *
 * GUARANTEES
 *   C.1 Every entry at or above hiwater is FREE; live counts the entries not FREE.
 *   C.2 No two LIVE entries share an id, and no two LIVE named tables share a name.
 *   C.3 Every id is below next_id.
 *
 *   C.4 An entry in state CREATING whose creator died is dropped by the next cat_add (a
 *       creator holds no lock while it makes the segment, so no lock recovery sees it).
 *
 * ETSMGR'S REGISTRY (DESIGN.md §7): each entry also records whether etsmgr manages the table,
 * under which client key (new_table/add_table's Table_name) and for which client (pid,
 * incarnation), and whether an heir inherited it without having been told yet (CATM_XFER).
 * Ownership changes go through cat_set_owner, a compare-and-set on the (pid, incarnation) of
 * the owner under the lock, so a give_away racing the daemon's handling of the owner's death
 * moves the table once.  `gen` counts changes so the daemon can poll for new tables cheaply.
 *
 *   C.5 No two LIVE managed entries share a client key.
 *
 *   C.6 A walk of the catalog stays inside it whatever the shared header says: where the
 *       entries start and how many there may be are checked once, at ctl_open, and kept in
 *       the process (struct ctl); the high-water mark is clamped to them; an entry copied out
 *       has its lengths clamped and its strings terminated.  (Issue 17: in an instance shared
 *       by a group, every member may write the control segment, the catalog included.  A
 *       hostile member can still rewrite entries — hide, rename or misattribute tables in the
 *       catalog, hold its lock — but not reach the tables' memory, which the kernel guards
 *       by each segment's own mode: README, Reliability.)
 *
 * CRASH SAFETY: a process that dies holding the lock leaves at worst one entry half-written or
 * in state CREATING.  Recovery (cat_recover) frees CREATING entries whose creator is dead,
 * together with the table segment the creator may have made, and recounts `live`.  An entry
 * becomes LIVE only after every field is written (cat_publish), so a LIVE entry is whole.
 */
#include "mem/ctl.h"
#include "base/proc.h"
#include "shmets.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the control segment ---------------------------------------------------------------- */

int ctl_name(const char *inst, char *out, size_t n)
{
    size_t len = inst ? strlen(inst) : 0;
    if (len < 1 || len > 64)
        return err_set(SHMETS_EINVAL, "instance name must have 1 to 64 characters");
    for (size_t i = 0; i < len; i++) {
        char ch = inst[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.'))
            return err_set(SHMETS_EINVAL, "instance name \"%s\": only letters, digits, _ - . allowed", inst);
    }
    snprintf(out, n, "/shmets.%s", inst);
    return 0;
}

static size_t ctl_size(uint32_t nslots)
{
    return offsetof(struct ctl_hdr, reg) + offsetof(struct rcu_registry, slots) +
           (size_t)nslots * sizeof(struct rcu_slot);
}

/* Where the catalog's entries start, and the whole reservation. */
static size_t ctl_entries_off(uint32_t nslots)
{
    return (ctl_size(nslots) + SEG_PAGE - 1) & ~(size_t)(SEG_PAGE - 1);
}

static size_t ctl_size_max(uint32_t nslots, uint32_t cap)
{
    return ctl_entries_off(nslots) + (size_t)cap * sizeof(struct cat_entry);
}

struct ctl_init_arg { uint32_t nslots, cap; int rc; };

static void ctl_init(unsigned char *base, void *arg)
{
    struct ctl_init_arg *a = arg;
    struct ctl_hdr *h = (struct ctl_hdr *)base;
    h->reg.nslots = a->nslots;
    atomic_store(&h->reg.epoch, 1);
    h->cat.next_id = 1;
    h->cat.entries_off = ctl_entries_off(a->nslots);
    h->cat.cap = a->cap;
    a->rc = wlock_init(&h->cat.lock);
}

int ctl_open(const char *inst, struct ctl *c)
{
    return ctl_open_grp(inst, (gid_t)-1, c);
}

/* The group an attached control segment is shared with: its group if the group may write it
 * (mode 0660), else none. */
static gid_t shared_group(const struct seg *s)
{
    return (s->mode & 0060) == 0060 ? s->gid : (gid_t)-1;
}

int ctl_open_grp(const char *inst, gid_t group, struct ctl *c)
{
    char name[SEG_NAME_MAX];
    int rc = ctl_name(inst, name, sizeof name);
    if (rc)
        return rc;
    for (int attempt = 0; attempt < 3; attempt++) {
        rc = seg_attach_grp(name, SEG_CONTROL, 1, group, &c->s);
        if (rc == 0) {
            c->h = (struct ctl_hdr *)c->s.base;
            const struct cat_hdr *k = &c->h->cat;
            /* The registry has the layout's size, whatever its shared count says now (a
             * member of the instance's group may have written it: rcu_nslots clamps it). */
            if (ctl_size(RCU_SLOTS_DEFAULT) > c->s.size || k->entries_off != ctl_entries_off(RCU_SLOTS_DEFAULT) ||
                ctl_size_max(RCU_SLOTS_DEFAULT, k->cap) > c->s.size || k->hiwater > k->cap) {
                seg_detach(&c->s);
                return err_set(SHMETS_EBADSEG, "control segment %s: its registry or catalog does not fit", name);
            }
            c->entries_off = k->entries_off;
            c->cap = k->cap;
            c->group = shared_group(&c->s);
            if (group != (gid_t)-1 && c->group != group) {
                unsigned m = (unsigned)c->s.mode, g = (unsigned)c->s.gid;
                seg_detach(&c->s);
                return err_set(SHMETS_EACCES, "instance %s is not shared with group %u (its control segment "
                               "has group %u, mode %04o): it was made %s", inst, (unsigned)group, g, m,
                               (m & 0060) == 0060 ? "for another group" : "without a group");
            }
            return 0;
        }
        if (rc != -SHMETS_ENOENT)
            return rc;
        struct ctl_init_arg a = { RCU_SLOTS_DEFAULT, CAT_MAX_DEFAULT, 0 };
        /* The registry is backed whole (it is small and sparse use is not worth a lock); the
         * catalog's entries are backed as tables are made (cat_add). */
        size_t commit = ctl_entries_off(a.nslots);
        /* Losers of a creation race get EEXIST and attach on the next round.  With a group,
         * the group writes it too: its members read and register as readers (C.6). */
        struct seg s;
        rc = seg_create_grp(name, SEG_CONTROL, (uint32_t)sizeof(struct ctl_hdr), ctl_size_max(a.nslots, a.cap),
                            commit, group != (gid_t)-1 ? 0660 : 0644, group, ctl_init, &a, &s);
        if (rc == -SHMETS_EEXIST)
            continue;
        if (rc)
            return rc;
        if (a.rc) {
            seg_detach(&s);
            seg_unlink(name);
            return a.rc;
        }
        c->s = s;
        c->h = (struct ctl_hdr *)s.base;
        c->entries_off = c->h->cat.entries_off;
        c->cap = c->h->cat.cap;
        c->group = group;
        return 0;
    }
    return err_set(SHMETS_ESYS, "control segment %s keeps appearing and disappearing", name);
}

void ctl_close(struct ctl *c)
{
    seg_detach(&c->s);
    c->h = NULL;
}

int ctl_unlink(const char *inst)
{
    char name[SEG_NAME_MAX];
    int rc = ctl_name(inst, name, sizeof name);
    return rc ? rc : seg_unlink(name);
}

/* ---- the catalog ------------------------------------------------------------------------- */

/* Entry i, i below c->cap: where the entries start and how many there may be are the values
 * ctl_open checked, kept in the process (a member of the instance's group can write the
 * shared ones: C.6). */
static struct cat_entry *entry(struct ctl *c, uint32_t i)
{
    INVARIANT(i < c->cap);
    return (struct cat_entry *)(c->s.base + c->entries_off) + i;
}

/* The entries a walk visits: the shared high-water mark, never past the checked capacity. */
static uint32_t hiw(struct ctl *c)
{
    uint32_t h = __atomic_load_n(&c->h->cat.hiwater, __ATOMIC_RELAXED);
    return h < c->cap ? h : c->cap;
}

/* A copy of an entry made safe to print and compare: its lengths within their arrays and
 * its strings terminated, whatever the shared entry held (C.6). */
static void copy_out(struct cat_entry *out, const struct cat_entry *x)
{
    memcpy(out, x, sizeof *out);
    if (out->name_len > CAT_NAME_MAX)
        out->name_len = CAT_NAME_MAX;
    out->name[out->name_len] = 0;
    if (out->mkey_len > CAT_NAME_MAX)
        out->mkey_len = CAT_NAME_MAX;
    out->mkey[out->mkey_len] = 0;
}

void cat_seg_name(const char *ctl_name, uint64_t id, char *out)
{
    int n = snprintf(out, SEG_NAME_MAX, "%s.%llu", ctl_name, (unsigned long long)id);
    INVARIANT(n > 0 && n < SEG_NAME_MAX);   /* control names have at most 72 bytes */
}

static int cat_recover(void *arg)
{
    struct ctl *c = arg;
    struct cat_hdr *k = &c->h->cat;
    uint64_t committed = atomic_load(&seg_hdr(&c->s)->committed);
    uint64_t room = committed > c->entries_off ? (committed - c->entries_off) / sizeof(struct cat_entry) : 0;
    if (k->hiwater > c->cap || k->hiwater > room)
        k->hiwater = (uint32_t)(room < c->cap ? room : c->cap);
    uint32_t live = 0;
    for (uint32_t i = 0; i < hiw(c); i++) {
        struct cat_entry *e = entry(c, i);
        uint32_t st = atomic_load(&e->state);
        if (st == CAT_CREATING && !proc_alive(e->owner_pid, e->owner_inc)) {
            char name[SEG_NAME_MAX];
            cat_seg_name(c->s.name, e->id, name);
            seg_unlink(name);
            atomic_store(&e->state, CAT_FREE);
        } else if (st != CAT_FREE && st != CAT_CREATING && st != CAT_LIVE) {
            atomic_store(&e->state, CAT_FREE);
        }
        if (atomic_load(&e->state) != CAT_FREE) {
            live++;
            if (e->id >= k->next_id)
                k->next_id = e->id + 1;
        }
    }
    k->live = live;
    return 0;
}

static int lock(struct ctl *c)
{
    return wlock_acquire(&c->h->cat.lock, cat_recover, c);
}

static void unlock(struct ctl *c)
{
    wlock_release(&c->h->cat.lock);
}

static int name_eq(const struct cat_entry *e, const char *name, size_t len)
{
    return (e->flags & CAT_NAMED) && len <= CAT_NAME_MAX && e->name_len == len && memcmp(e->name, name, len) == 0;
}

int cat_add(struct ctl *c, struct cat_entry *e, uint32_t *idx)
{
    if (e->name_len > CAT_NAME_MAX)
        return err_set(SHMETS_EINVAL, "table name of %u bytes; at most %u", e->name_len, CAT_NAME_MAX);
    int rc = lock(c);
    if (rc)
        return rc;
    struct cat_hdr *k = &c->h->cat;
    uint32_t free_at = UINT32_MAX;
    for (uint32_t i = 0; i < hiw(c); i++) {
        struct cat_entry *x = entry(c, i);
        uint32_t st = atomic_load(&x->state);
        if (st == CAT_CREATING && !proc_alive(x->owner_pid, x->owner_inc)) {
            /* Its creator died between cat_add and cat_publish (C.4): drop it, and the
             * segment it may have made. */
            char name[SEG_NAME_MAX];
            cat_seg_name(c->s.name, x->id, name);
            seg_unlink(name);
            atomic_store(&x->state, CAT_FREE);
            k->live--;
            st = CAT_FREE;
        }
        if (st == CAT_FREE) {
            if (free_at == UINT32_MAX)
                free_at = i;
        } else if ((e->flags & CAT_NAMED) && name_eq(x, e->name, e->name_len)) {
            unlock(c);
            return err_set(SHMETS_EEXIST, "a named table \"%.*s\" exists already", (int)e->name_len, e->name);
        }
    }
    if (free_at == UINT32_MAX) {
        if (hiw(c) == c->cap) {
            unlock(c);
            return err_set(SHMETS_ENOMEM, "the instance holds %u tables, its most", c->cap);
        }
        free_at = hiw(c);
        size_t end = c->entries_off + (size_t)(free_at + 1) * sizeof(struct cat_entry);
        if (end > atomic_load(&seg_hdr(&c->s)->committed)) {
            size_t want = c->entries_off + (size_t)(free_at + 64) * sizeof(struct cat_entry);
            if (want > c->s.size)
                want = c->s.size;
            if ((rc = seg_grow(&c->s, want))) {
                unlock(c);
                return rc;
            }
        }
        k->hiwater = free_at + 1;
    }
    struct cat_entry *x = entry(c, free_at);
    e->id = k->next_id++;
    uint32_t st = CAT_CREATING;
    memcpy((char *)x + sizeof x->state, (char *)e + sizeof e->state, sizeof *e - sizeof e->state);
    x->name[x->name_len] = 0;
    atomic_store(&x->state, st);
    k->live++;
    atomic_fetch_add(&k->gen, 1);
    unlock(c);
    *idx = free_at;
    return 0;
}

int cat_publish(struct ctl *c, uint32_t idx)
{
    int rc = lock(c);
    if (rc)
        return rc;
    struct cat_entry *x = entry(c, idx);
    INVARIANT(atomic_load(&x->state) == CAT_CREATING);
    atomic_store(&x->state, CAT_LIVE);
    atomic_fetch_add(&c->h->cat.gen, 1);
    unlock(c);
    return 0;
}

int cat_remove(struct ctl *c, uint64_t id)
{
    int rc = lock(c);
    if (rc)
        return rc;
    struct cat_hdr *k = &c->h->cat;
    for (uint32_t i = 0; i < hiw(c); i++) {
        struct cat_entry *x = entry(c, i);
        if (atomic_load(&x->state) != CAT_FREE && x->id == id) {
            atomic_store(&x->state, CAT_FREE);
            k->live--;
            atomic_fetch_add(&k->gen, 1);
            unlock(c);
            return 0;
        }
    }
    unlock(c);
    return err_set(SHMETS_ENOENT, "no table with id %llu", (unsigned long long)id);
}

static int find(struct ctl *c, const char *name, size_t len, uint64_t id, struct cat_entry *out)
{
    int rc = lock(c);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < hiw(c); i++) {
        struct cat_entry *x = entry(c, i);
        if (atomic_load(&x->state) != CAT_LIVE)
            continue;
        if (name ? name_eq(x, name, len) : x->id == id) {
            copy_out(out, x);
            unlock(c);
            return 0;
        }
    }
    unlock(c);
    if (name)
        return err_set(SHMETS_ENOENT, "no table named \"%.*s\"", (int)len, name);
    return err_set(SHMETS_ENOENT, "no table with id %llu", (unsigned long long)id);
}

int cat_rename(struct ctl *c, uint64_t id, const char *name, size_t len)
{
    if (len > CAT_NAME_MAX)
        return err_set(SHMETS_EINVAL, "a table name has at most %d bytes", CAT_NAME_MAX);
    int rc = lock(c);
    if (rc)
        return rc;
    struct cat_entry *me = NULL;
    for (uint32_t i = 0; i < hiw(c); i++) {
        struct cat_entry *x = entry(c, i);
        if (atomic_load(&x->state) == CAT_LIVE && x->id == id)
            me = x;
    }
    if (!me) {
        unlock(c);
        return err_set(SHMETS_ENOENT, "no table with id %llu", (unsigned long long)id);
    }
    /* A named table's new name must be free, its own included (ets:rename(T, T) is badarg). */
    for (uint32_t i = 0; (me->flags & CAT_NAMED) && i < hiw(c); i++) {
        struct cat_entry *x = entry(c, i);
        if (atomic_load(&x->state) != CAT_FREE && name_eq(x, name, len)) {
            unlock(c);
            return err_set(SHMETS_EEXIST, "a named table \"%.*s\" exists already", (int)len, name);
        }
    }
    memcpy(me->name, name, len);
    me->name[len] = 0;
    me->name_len = (uint32_t)len;
    unlock(c);
    return 0;
}

int cat_set_heir(struct ctl *c, uint64_t id, int32_t pid, uint64_t inc)
{
    int rc = lock(c);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < hiw(c); i++) {
        struct cat_entry *x = entry(c, i);
        if (atomic_load(&x->state) == CAT_LIVE && x->id == id) {
            x->heir_pid = pid;
            x->heir_inc = inc;
            unlock(c);
            return 0;
        }
    }
    unlock(c);
    return err_set(SHMETS_ENOENT, "no table with id %llu", (unsigned long long)id);
}

int cat_find_name(struct ctl *c, const char *name, size_t len, struct cat_entry *out)
{
    if (!name)
        return err_set(SHMETS_EINVAL, "no table name");
    return find(c, name, len, 0, out);
}

int cat_find_id(struct ctl *c, uint64_t id, struct cat_entry *out)
{
    return find(c, NULL, 0, id, out);
}

int cat_list(struct ctl *c, uint64_t *ids, uint32_t max, uint32_t *n)
{
    int rc = lock(c);
    if (rc)
        return rc;
    uint32_t got = 0;
    for (uint32_t i = 0; i < hiw(c); i++) {
        struct cat_entry *x = entry(c, i);
        if (atomic_load(&x->state) == CAT_LIVE) {
            if (got < max)
                ids[got] = x->id;
            got++;
        }
    }
    unlock(c);
    *n = got;
    return 0;
}

/* ---- etsmgr's registry ---------------------------------------------------------------- */

static struct cat_entry *live_id(struct ctl *c, uint64_t id)
{
    for (uint32_t i = 0; i < hiw(c); i++) {
        struct cat_entry *x = entry(c, i);
        if (atomic_load(&x->state) == CAT_LIVE && x->id == id)
            return x;
    }
    return NULL;
}

static int key_eq(const struct cat_entry *e, const char *key, size_t len)
{
    return (e->mflags & CATM_MANAGED) && len <= CAT_NAME_MAX && e->mkey_len == len && memcmp(e->mkey, key, len) == 0;
}

uint32_t cat_gen(struct ctl *c)
{
    return atomic_load(&c->h->cat.gen);
}

int cat_snapshot(struct ctl *c, struct cat_entry **out, uint32_t *n)
{
    int rc = lock(c);
    if (rc)
        return rc;
    struct cat_hdr *k = &c->h->cat;
    uint32_t live = k->live, hw = hiw(c);      /* read once (C.6) */
    if (live > hw)
        live = hw;
    struct cat_entry *v = malloc((size_t)(live ? live : 1) * sizeof *v);
    if (!v) {
        unlock(c);
        return err_set(SHMETS_ENOMEM, "out of process memory");
    }
    uint32_t got = 0;
    for (uint32_t i = 0; i < hw && got < live; i++) {
        struct cat_entry *x = entry(c, i);
        if (atomic_load(&x->state) == CAT_LIVE)
            copy_out(&v[got++], x);
    }
    unlock(c);
    *out = v;
    *n = got;
    return 0;
}

int cat_set_owner(struct ctl *c, uint64_t id, int32_t old_pid, uint64_t old_inc, const struct cat_owner *nw)
{
    int rc = lock(c);
    if (rc)
        return rc;
    struct cat_entry *x = live_id(c, id);
    if (!x)
        rc = err_set(SHMETS_ENOENT, "no table with id %llu", (unsigned long long)id);
    else if (x->owner_pid != old_pid || x->owner_inc != old_inc)
        rc = err_set(SHMETS_EOWNER, "table %llu changed owner meanwhile", (unsigned long long)id);
    else if (nw->key && (nw->key_len == 0 || nw->key_len > CAT_NAME_MAX))
        rc = err_set(SHMETS_EINVAL, "a managed table's name has 1 to %d bytes", CAT_NAME_MAX);
    for (uint32_t i = 0; !rc && nw->key && i < hiw(c); i++) {
        struct cat_entry *y = entry(c, i);
        if (y != x && atomic_load(&y->state) != CAT_FREE && key_eq(y, nw->key, nw->key_len))
            rc = err_set(SHMETS_EEXIST, "table %llu is managed as \"%.*s\" already",
                         (unsigned long long)y->id, (int)nw->key_len, nw->key);
    }
    if (!rc) {
        if (nw->key) {
            memcpy(x->mkey, nw->key, nw->key_len);
            x->mkey[nw->key_len] = 0;
            x->mkey_len = (uint32_t)nw->key_len;
            x->client_pid = nw->pid;
            x->client_inc = nw->inc;
            x->mflags |= CATM_MANAGED;
        }
        x->owner_pid = nw->pid;
        x->owner_inc = nw->inc;
        x->owner_uid = nw->uid;
        if (nw->set_heir) {
            x->heir_pid = nw->heir_pid;
            x->heir_inc = nw->heir_inc;
        }
        if (nw->xfer_from > 0) {
            x->mflags |= CATM_XFER;
            x->xfer_from = nw->xfer_from;
        } else {
            x->mflags &= ~CATM_XFER;
            x->xfer_from = 0;
        }
        atomic_fetch_add(&c->h->cat.gen, 1);
    }
    unlock(c);
    return rc;
}

int cat_manage(struct ctl *c, uint64_t id, const char *key, size_t len, int32_t pid, uint64_t inc)
{
    if (len == 0 || len > CAT_NAME_MAX)
        return err_set(SHMETS_EINVAL, "a managed table's name has 1 to %d bytes", CAT_NAME_MAX);
    int rc = lock(c);
    if (rc)
        return rc;
    struct cat_hdr *k = &c->h->cat;
    struct cat_entry *me = live_id(c, id);
    if (!me) {
        unlock(c);
        return err_set(SHMETS_ENOENT, "no table with id %llu", (unsigned long long)id);
    }
    for (uint32_t i = 0; i < hiw(c); i++) {
        struct cat_entry *x = entry(c, i);
        if (x != me && atomic_load(&x->state) != CAT_FREE && key_eq(x, key, len)) {
            unlock(c);
            return err_set(SHMETS_EEXIST, "table %llu is managed as \"%.*s\" already",
                           (unsigned long long)x->id, (int)len, key);
        }
    }
    memcpy(me->mkey, key, len);
    me->mkey[len] = 0;
    me->mkey_len = (uint32_t)len;
    me->client_pid = pid;
    me->client_inc = inc;
    me->mflags |= CATM_MANAGED;
    atomic_fetch_add(&k->gen, 1);
    unlock(c);
    return 0;
}

int cat_unmanage(struct ctl *c, uint64_t id)
{
    int rc = lock(c);
    if (rc)
        return rc;
    struct cat_entry *x = live_id(c, id);
    if (x) {
        x->mflags &= ~CATM_MANAGED;
        x->client_pid = 0;
        x->client_inc = 0;
        atomic_fetch_add(&c->h->cat.gen, 1);
    }
    unlock(c);
    return x ? 0 : err_set(SHMETS_ENOENT, "no table with id %llu", (unsigned long long)id);
}

int cat_find_key(struct ctl *c, const char *key, size_t len, struct cat_entry *out)
{
    int rc = lock(c);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < hiw(c); i++) {
        struct cat_entry *x = entry(c, i);
        if (atomic_load(&x->state) == CAT_LIVE && key_eq(x, key, len)) {
            copy_out(out, x);
            unlock(c);
            return 0;
        }
    }
    unlock(c);
    return err_set(SHMETS_ENOENT, "no table managed as \"%.*s\"", (int)len, key);
}

int cat_xfer_done(struct ctl *c, uint64_t id)
{
    int rc = lock(c);
    if (rc)
        return rc;
    struct cat_entry *x = live_id(c, id);
    if (x) {
        x->mflags &= ~CATM_XFER;
        x->xfer_from = 0;
    }
    unlock(c);
    return x ? 0 : err_set(SHMETS_ENOENT, "no table with id %llu", (unsigned long long)id);
}

int cat_check(struct ctl *c)
{
    int rc = lock(c);
    if (rc)
        return rc;
    struct cat_hdr *k = &c->h->cat;
    uint32_t live = 0;
    rc = 0;
    uint64_t committed = atomic_load(&seg_hdr(&c->s)->committed);
    if (k->hiwater > c->cap || c->entries_off + (uint64_t)k->hiwater * sizeof(struct cat_entry) > committed) {
        rc = err_set(SHMETS_EBADSEG, "C.1 catalog high-water mark %u is past its room", k->hiwater);
        goto out;
    }
    for (uint32_t i = 0; i < hiw(c) && !rc; i++) {
        struct cat_entry *x = entry(c, i);
        uint32_t st = atomic_load(&x->state);
        if (st == CAT_FREE)
            continue;
        if (st != CAT_CREATING && st != CAT_LIVE) {
            rc = err_set(SHMETS_EBADSEG, "C.1 catalog entry %u has state %u", i, st);
            break;
        }
        live++;
        if (x->id == 0 || x->id >= k->next_id)
            rc = err_set(SHMETS_EBADSEG, "C.3 catalog entry %u has id %llu, next id is %llu", i,
                         (unsigned long long)x->id, (unsigned long long)k->next_id);
        if (x->name_len > CAT_NAME_MAX)
            rc = err_set(SHMETS_EBADSEG, "catalog entry %u: name of %u bytes", i, x->name_len);
        for (uint32_t j = i + 1; j < hiw(c) && !rc; j++) {
            struct cat_entry *y = entry(c, j);
            if (atomic_load(&y->state) == CAT_FREE)
                continue;
            if (y->id == x->id)
                rc = err_set(SHMETS_EBADSEG, "C.2 catalog entries %u and %u share id %llu", i, j,
                             (unsigned long long)x->id);
            else if ((x->flags & CAT_NAMED) && st == CAT_LIVE && atomic_load(&y->state) == CAT_LIVE &&
                     name_eq(y, x->name, x->name_len))
                rc = err_set(SHMETS_EBADSEG, "C.2 catalog entries %u and %u share the name \"%s\"", i, j, x->name);
            else if (st == CAT_LIVE && atomic_load(&y->state) == CAT_LIVE && key_eq(x, y->mkey, y->mkey_len) &&
                     (y->mflags & CATM_MANAGED))
                rc = err_set(SHMETS_EBADSEG, "C.5 catalog entries %u and %u are both managed as \"%s\"", i, j, x->mkey);
        }
    }
    if (!rc && live != k->live)
        rc = err_set(SHMETS_EBADSEG, "C.1 catalog counts %u tables, holds %u", k->live, live);
out:
    unlock(c);
    return rc;
}
