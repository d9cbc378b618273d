/*
 * tabinfo.c — what a table says about itself and the options that change after ets:new:
 * info/1,2, rename, the heir, safe_fixtable, all/0, whereis/1, and the term that names a table.
 *
 * WHERE THINGS LIVE: a table's name, flags, owner and heir are in its catalog entry (the
 * control segment, mem/ctl.c), because processes find tables there; its kind, protection,
 * key position and counts are in its segment's header; the heir's Data, a term of any size,
 * is a heap block of the table named by tab_hdr.heir_data, written by a plan like any object
 * (so a writer that dies while setting it leaves the old Data or the new, never a leak).
 *
 * SAFE_FIXTABLE: traversals of shmets tables are safe without it (index.h: next() takes any
 * key, and neither index reorders keys as it grows), so a fix has two effects only, both
 * ETS's: next/prev on a hash table accept a key deleted meanwhile, and info reports the fix.
 * A process that can write the table records its fixes in the header (TAB_FIXERS of them, by
 * pid and incarnation, so a fix ends when its process does); a process that maps the table
 * read-only (a protected table it does not own) keeps its fixes in its handle, where only it
 * sees them.  That is a departure from ETS, whose info(T, safe_fixed) lists every fixer.
 *
 * TABLE TERMS: a named table is its name; an unnamed one the reference #Ref<0.A.B.C>, the id's
 * top 14, middle 32 and low 18 bits (Erlang 25's binary_to_term refuses a local reference
 * whose first id word, C here, is 2^18 or more), written and read through the term layer's
 * own text form.
 */
#include "mem/ctl.h"
#include "base/proc.h"
#include "table/table.h"
#include "term/term.h"
#include "base/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ---- safe_fixtable ------------------------------------------------------------------------- */

static uint32_t header_fixes(const struct tab *t, struct tab_fix *live, size_t *nlive)
{
    uint32_t n = 0;
    size_t k = 0;
    for (int i = 0; i < TAB_FIXERS; i++) {
        struct tab_fix f = t->h->fix[i];
        if (f.count && proc_alive(f.pid, f.inc)) {
            n += f.count;
            if (live)
                live[k++] = f;
        }
    }
    if (nlive)
        *nlive = k;
    return n;
}

/* Called by every next/prev on a hash table: answers without a system call when nobody, or
 * this process, fixes the table; whether other fixers are alive (a /proc look each) is asked
 * at most once a millisecond per handle. */
int tab_fixed(struct tab *t)
{
    if (t->local_fixes)
        return 1;
    int32_t me = (int32_t)proc_self_pid();
    int others = 0;
    for (int i = 0; i < TAB_FIXERS; i++) {
        const struct tab_fix *f = &t->h->fix[i];
        if (f->count && f->pid == me && f->inc == proc_self_incarnation())
            return 1;
        others |= f->count != 0;
    }
    if (!others)
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    if (!t->fixed_seen_ns || now - t->fixed_seen_ns > 1000000) {
        t->fixed_seen = header_fixes(t, NULL, NULL) > 0;
        t->fixed_seen_ns = now;
    }
    return t->fixed_seen;
}

static int fix_fn(struct tab *t, void *arg)
{
    int fix = *(int *)arg;
    struct tab_hdr *h = t->h;
    int32_t me = (int32_t)getpid();
    uint64_t inc = proc_self_incarnation();
    int mine = -1, spare = -1;
    for (int i = 0; i < TAB_FIXERS; i++) {
        struct tab_fix *f = &h->fix[i];
        if (f->count && f->pid == me && f->inc == inc)
            mine = i;
        else if (spare < 0 && (!f->count || !proc_alive(f->pid, f->inc)))
            spare = i;
    }
    if (!fix) {
        if (mine >= 0 && --h->fix[mine].count == 0)
            memset(&h->fix[mine], 0, sizeof h->fix[mine]);
        else if (mine < 0 && t->local_fixes)
            t->local_fixes--;
        return 0;
    }
    if (mine < 0 && spare < 0) {
        t->local_fixes++;               /* every record holds a live fixer: keep it here */
        return 0;
    }
    if (mine < 0) {
        if (header_fixes(t, NULL, NULL) == 0) {
            struct timespec ts;
            struct timeval tv;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            gettimeofday(&tv, NULL);
            h->fix_mono_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
            h->fix_wall_us = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
        }
        mine = spare;
        h->fix[mine].pid = me;
        h->fix[mine].inc = inc;
        h->fix[mine].count = 0;
    }
    h->fix[mine].count++;
    return 0;
}

int shmets_safe_fixtable(shmets_tab *t, bool fix)
{
    if (!t)
        return err_set(SHMETS_EINVAL, "NULL table");
    int rc = tab_read_access(t);
    if (rc)
        return rc;
    if (atomic_load(&t->h->root.deleted))
        return err_set(SHMETS_ENOENT, "table %llu was deleted", (unsigned long long)t->id);
    int f = fix;
    if (!t->writable) {
        if (f)
            t->local_fixes++;
        else if (t->local_fixes)
            t->local_fixes--;
        return 0;
    }
    return tab_with_all(t, fix_fn, &f);
}

/* ---- rename and heir ----------------------------------------------------------------------- */

int shmets_rename(shmets_tab *t, const char *name)
{
    if (!t || !name)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_rename");
    int rc = tab_write_access(t, "rename");
    if (!rc)
        rc = tab_admin_access(t, "rename");
    if (rc)
        return rc;
    if (atomic_load(&t->h->root.deleted))
        return err_set(SHMETS_ENOENT, "table %llu was deleted", (unsigned long long)t->id);
    return cat_rename(&t->db->c, t->id, name, strlen(name));
}

struct heir_arg { shmets_term data; };

static int heir_fn(struct tab *t, void *arg)
{
    struct heir_arg *a = arg;
    struct plan p;
    plan_init(&p);
    p.stripe = TAB_ALL;
    p.heap_held = 1;
    int rc = tab_put_heir_data(t, &p, a->data);
    rc = rc ? rc : tab_commit(t, &p);
    if (rc)
        tab_abandon(t, &p);
    plan_free(&p);
    return rc;
}

int shmets_set_heir(shmets_tab *t, uint32_t heir_pid, const shmets_term *heir_data)
{
    if (!t)
        return err_set(SHMETS_EINVAL, "NULL table");
    if (!t->owner)
        return err_set(SHMETS_EOWNER, "only the owner sets the heir of table %llu", (unsigned long long)t->id);
    if (heir_data && heir_data->ptr && heir_data->len > SHMETS_TERM_MAX_SIZE)
        return err_set(SHMETS_EINVAL, "the heir's data is larger than a term can be");
    uint64_t inc = 0;
    if (heir_pid && proc_incarnation((pid_t)heir_pid, &inc) != 0)
        inc = 0;
    struct heir_arg a = { { NULL, 0 } };
    if (heir_pid && heir_data)
        a.data = *heir_data;
    int rc = tab_with_all(t, heir_fn, &a);
    return rc ? rc : cat_set_heir(&t->db->c, t->id, (int32_t)heir_pid, inc);
}

/* ---- table terms --------------------------------------------------------------------------- */

static int ref_term(uint64_t id, shmets_term *out)
{
    char txt[80];
    int n = snprintf(txt, sizeof txt, "#Ref<0.%" PRIu64 ".%" PRIu64 ".%" PRIu64 ">", id >> 50,
                     id >> 18 & 0xffffffffu, id & 0x3ffffu);
    return shmets_term_parse(txt, (size_t)n, out);
}

int shmets_id_term(uint64_t id, shmets_term *out)
{
    if (!out)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_id_term");
    return ref_term(id, out);
}

static int atom_term(const char *name, shmets_term *out)
{
    struct tbuf b;
    tbuf_init(&b, SHMETS_TERM_MAX_SIZE);
    etf_put_atom(&b, name, strlen(name));
    return tbuf_to_term(&b, 0, out);
}

int shmets_tab_term(shmets_tab *t, shmets_term *out)
{
    if (!t || !out)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_tab_term");
    struct cat_entry *e = malloc(sizeof *e);
    if (!e)
        return err_set(SHMETS_ENOMEM, "out of process memory");
    int rc = cat_find_id(&t->db->c, t->id, e);
    if (!rc)
        rc = e->flags & CAT_NAMED ? atom_term(e->name, out) : ref_term(t->id, out);
    free(e);
    return rc;
}

int shmets_attach_term(shmets *db, shmets_term tab, shmets_tab **t)
{
    if (!db || !tab.ptr || !t)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_attach_term");
    const char *s;
    size_t n;
    if (shmets_term_get_atom(tab, &s, &n) == 0) {
        char name[CAT_NAME_MAX + 1];
        if (n > CAT_NAME_MAX || memchr(s, 0, n))
            return err_set(SHMETS_ENOENT, "no table named so");
        memcpy(name, s, n);
        name[n] = 0;
        return shmets_attach_name(db, name, t);
    }
    if (shmets_term_type(tab) != SHMETS_T_REF)
        return err_set(SHMETS_ETYPE, "a table is named by an atom or a reference");
    char *txt;
    int rc = shmets_term_format(tab, &txt, NULL);
    if (rc)
        return rc;
    uint64_t a, b, c;
    char end;
    int ok = sscanf(txt, "#Ref<0.%" SCNu64 ".%" SCNu64 ".%" SCNu64 "%c", &a, &b, &c, &end) == 4 && end == '>' &&
             a < (1u << 14) && b <= 0xffffffffu && c < (1u << 18);
    free(txt);
    if (!ok)
        return err_set(SHMETS_ENOENT, "the reference names no table");
    return shmets_attach(db, a << 50 | b << 18 | c, t);
}

int shmets_all(shmets *db, uint64_t **ids, size_t *n)
{
    if (!db || !ids || !n)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_all");
    uint32_t cap = 64, got;
    for (;;) {
        uint64_t *v = malloc(cap * sizeof *v);
        if (!v)
            return err_set(SHMETS_ENOMEM, "out of process memory");
        int rc = cat_list(&db->c, v, cap, &got);
        if (rc || got <= cap) {
            if (rc)
                free(v);
            else {
                *ids = v;
                *n = got;
            }
            return rc;
        }
        free(v);
        cap = got + 64;
    }
}

int shmets_whereis(shmets *db, const char *name, uint64_t *id)
{
    if (!db || !name || !id)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_whereis");
    struct cat_entry *e = malloc(sizeof *e);
    if (!e)
        return err_set(SHMETS_ENOMEM, "out of process memory");
    int rc = cat_find_name(&db->c, name, strlen(name), e);
    if (!rc)
        *id = e->id;
    free(e);
    return rc;
}

/* ---- info ------------------------------------------------------------------------------------ */

int shmets_info(shmets_tab *t, shmets_tab_info *out)
{
    if (!t || !out)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_info");
    int rc = tab_read_access(t);
    if (rc)
        return rc;
    if (atomic_load(&t->h->root.deleted))
        return err_set(SHMETS_ENOENT, "table %llu was deleted", (unsigned long long)t->id);
    struct cat_entry *e = malloc(sizeof *e);
    if (!e)
        return err_set(SHMETS_ENOMEM, "out of process memory");
    if ((rc = cat_find_id(&t->db->c, t->id, e))) {
        free(e);
        return rc;
    }
    if (t->h->kind < SHMETS_SET || t->h->kind > SHMETS_DUPLICATE_BAG || t->h->access < SHMETS_PUBLIC ||
        t->h->access > SHMETS_PRIVATE) {       /* names are looked up by them */
        free(e);
        return err_set(SHMETS_EBADSEG, "table %llu is damaged: its header's kind or protection is out of range"
                       SALVAGE_HINT, (unsigned long long)t->id);
    }
    memset(out, 0, sizeof *out);
    out->id = t->id;
    snprintf(out->name, sizeof out->name, "%s", e->name);
    out->kind = (enum shmets_kind)t->h->kind;
    out->access = (enum shmets_access)t->h->access;
    out->keypos = t->h->keypos;
    out->named = e->flags & CAT_NAMED;
    out->read_concurrency = e->flags & CAT_READ_CONC;
    out->write_concurrency = e->flags & CAT_WRITE_CONC;
    out->compressed = e->flags & CAT_COMPRESSED;
    out->decentralized_counters = e->flags & CAT_DCOUNTERS;
    out->owner = (uint32_t)e->owner_pid;
    out->heir = e->heir_pid > 0 && e->heir_inc && proc_alive(e->heir_pid, e->heir_inc) ? (uint32_t)e->heir_pid : 0;
    out->size = atomic_load(&t->h->objs);
    out->memory_bytes = sizeof(struct tab_hdr) + atomic_load(&t->h->heap.used_bytes) +
                        atomic_load(&t->h->heap.free_bytes);
    out->memory_words = out->memory_bytes / 8;
    out->fixes = header_fixes(t, NULL, NULL) + t->local_fixes;
    free(e);
    return 0;
}

static const char *const kind_names[] = {
    [SHMETS_SET] = "set", [SHMETS_ORDERED_SET] = "ordered_set", [SHMETS_BAG] = "bag",
    [SHMETS_DUPLICATE_BAG] = "duplicate_bag",
};
static const char *const access_names[] = {
    [SHMETS_PUBLIC] = "public", [SHMETS_PROTECTED] = "protected", [SHMETS_PRIVATE] = "private",
};

static void build_atom(shmets_builder *b, const char *s)
{
    shmets_build_atom(b, s, strlen(s));
}

static void build_bool(shmets_builder *b, bool v)
{
    build_atom(b, v ? "true" : "false");
}

/* {{Mega, Sec, Micro} or NativeTime, [{Pid, Count}]} or false. */
static void build_safe_fixed(shmets_builder *b, struct tab *t, int monotonic)
{
    struct tab_fix live[TAB_FIXERS];
    size_t n;
    uint32_t total = header_fixes(t, live, &n);
    size_t items = n + (t->local_fixes ? 1 : 0);
    if (total + t->local_fixes == 0) {
        build_atom(b, "false");
        return;
    }
    shmets_build_tuple(b, 2);
    if (monotonic) {
        shmets_build_uint(b, t->h->fix_mono_ns);
    } else {
        uint64_t us = t->h->fix_wall_us;
        shmets_build_tuple(b, 3);
        shmets_build_uint(b, us / 1000000000000u);
        shmets_build_uint(b, us / 1000000u % 1000000u);
        shmets_build_uint(b, us % 1000000u);
    }
    if (!items) {
        shmets_build_nil(b);
        return;
    }
    shmets_build_list(b, items);
    for (size_t i = 0; i < n; i++) {
        shmets_build_tuple(b, 2);
        shmets_build_pid(b, (uint32_t)live[i].pid);
        shmets_build_uint(b, live[i].count);
    }
    if (t->local_fixes) {
        shmets_build_tuple(b, 2);
        shmets_build_pid(b, (uint32_t)getpid());
        shmets_build_uint(b, t->local_fixes);
    }
    shmets_build_nil(b);
}

/* The value of one item into b; -SHMETS_EINVAL for an unknown item. */
static int build_item(shmets_builder *b, struct tab *t, const shmets_tab_info *in, shmets_term tabref,
                      const char *item)
{
    if (!strcmp(item, "id"))
        shmets_build_term(b, tabref);
    else if (!strcmp(item, "decentralized_counters"))
        build_bool(b, in->decentralized_counters);
    else if (!strcmp(item, "read_concurrency"))
        build_bool(b, in->read_concurrency);
    else if (!strcmp(item, "write_concurrency"))
        build_bool(b, in->write_concurrency);
    else if (!strcmp(item, "compressed"))
        build_bool(b, in->compressed);
    else if (!strcmp(item, "memory"))
        shmets_build_uint(b, in->memory_words);
    else if (!strcmp(item, "owner"))
        shmets_build_pid(b, in->owner);
    else if (!strcmp(item, "heir")) {
        if (in->heir)
            shmets_build_pid(b, in->heir);
        else
            build_atom(b, "none");
    } else if (!strcmp(item, "name"))
        build_atom(b, in->name);
    else if (!strcmp(item, "size"))
        shmets_build_uint(b, in->size);
    else if (!strcmp(item, "node"))
        build_atom(b, "nonode@nohost");
    else if (!strcmp(item, "named_table"))
        build_bool(b, in->named);
    else if (!strcmp(item, "type"))
        build_atom(b, kind_names[in->kind]);
    else if (!strcmp(item, "keypos"))
        shmets_build_uint(b, in->keypos);
    else if (!strcmp(item, "protection"))
        build_atom(b, access_names[in->access]);
    else if (!strcmp(item, "fixed"))
        build_bool(b, in->fixes > 0);
    else if (!strcmp(item, "safe_fixed"))
        build_safe_fixed(b, t, 0);
    else if (!strcmp(item, "safe_fixed_monotonic_time"))
        build_safe_fixed(b, t, 1);
    else if (!strcmp(item, "binary"))
        shmets_build_nil(b);            /* no reference-counted binaries: all in the segment */
    else if (!strcmp(item, "stats")) {
        /* ETS's are its hash chains' statistics; shmets gives its own (shmets.h). */
        shmets_build_list(b, 2);
        shmets_build_tuple(b, 2);
        build_atom(b, "writes");
        shmets_build_uint(b, atomic_load_explicit(&t->h->writes, memory_order_relaxed));
        shmets_build_tuple(b, 2);
        build_atom(b, "memory_bytes");
        shmets_build_uint(b, in->memory_bytes);
        shmets_build_nil(b);
    } else
        return err_set(SHMETS_EINVAL, "\"%s\" is not an item of ets:info/2", item);
    return 0;
}

static const char *const info1_items[] = {
    "id", "decentralized_counters", "read_concurrency", "write_concurrency", "compressed", "memory",
    "owner", "heir", "name", "size", "node", "named_table", "type", "keypos", "protection",
};

static int info_build(shmets_tab *t, const char *item, shmets_term *out)
{
    if (!t || !out)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_info_term");
    shmets_tab_info *in = malloc(sizeof *in);
    if (!in)
        return err_set(SHMETS_ENOMEM, "out of process memory");
    shmets_term ref = { NULL, 0 };
    shmets_builder *b = NULL;
    int rc = shmets_info(t, in);
    if (!rc)
        rc = ref_term(t->id, &ref);     /* info(T, id) is the reference, named or not */
    if (!rc)
        rc = shmets_builder_create(&b);
    if (!rc && item) {
        rc = build_item(b, t, in, ref, item);
    } else if (!rc) {
        size_t n = sizeof info1_items / sizeof info1_items[0];
        shmets_build_list(b, n);
        for (size_t i = 0; i < n && !rc; i++) {
            shmets_build_tuple(b, 2);
            build_atom(b, info1_items[i]);
            rc = build_item(b, t, in, ref, info1_items[i]);
        }
        shmets_build_nil(b);
    }
    if (!rc)
        rc = shmets_builder_finish(b, out);
    shmets_builder_destroy(b);
    shmets_term_free(&ref);
    free(in);
    return rc;
}

int shmets_info_term(shmets_tab *t, shmets_term *list)
{
    return info_build(t, NULL, list);
}

int shmets_info_item(shmets_tab *t, const char *item, shmets_term *value)
{
    if (!item)
        return err_set(SHMETS_EINVAL, "NULL item");
    return info_build(t, item, value);
}
