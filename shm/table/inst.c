/*
 * inst.c — an open instance: its control segment, its open table handles, and the RCU reader
 * of each thread that reads through it.
 *
 * A process opens an instance once and shares the handle among threads.  Each thread that
 * reads gets, on its first read, a reader slot in the instance's registry (rcu.c), kept in
 * thread-specific data and released when the thread exits or the instance is closed; a child
 * made by fork() notices that the slot is its parent's (the pid differs) and claims its own.
 * The handle's lists (tables, readers) are guarded by a process-local mutex; the read path
 * never takes it.
 *
 * THE PER-THREAD CACHE.  A zero-copy lookup asks for the thread's reader four times (read_begin,
 * the view call's section check, the read itself, read_end); pthread_getspecific costs ~17
 * instructions and a call each time.  So each thread keeps, in one thread-local block, the
 * last instance handle it read through and its reader: a hit costs two compares.  The handle
 * is named by its address and its generation (a process-wide counter), so a handle closed and
 * another opened at the same address never hits a stale entry; the reader's pid is checked as
 * before, so a child made by fork() claims its own slot.  The thread-specific value stays the
 * truth (and its destructor the cleanup); the cache is only a shortcut to it.  The cache's hit
 * is inline (inst.h, inst_reader) so that the short read path (tabfast.c) pays one
 * thread-local access and three compares for it, and no call.
 *
 * A GROUP (issue 17, shmets_open_ex): the instance is opened with ctl_open_grp, which makes it
 * shared with the group or checks that it is; the tables of such an instance are made in the
 * group with modes by protection, and trusted in it, by table.c (db->c.group).
 */
#include "table/inst.h"
#include "base/proc.h"
#include "base/util.h"

#include <dirent.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A thread with a reader exits: give its slot back (the struct stays on the instance's list
 * until shmets_close frees it). */
static void reader_dtor(void *p)
{
    struct treader *r = p;
    if (r->pid == proc_self_pid())
        rcu_reader_unregister(&r->rd);
    r->pid = 0;
}

static _Atomic uint64_t next_gen = 1;

__thread struct inst_tl inst_tl __attribute__((tls_model("initial-exec")));
#define tl inst_tl

/* The calling thread's treader for db (NULL: none yet), through the cache. */
static inline struct treader *thread_reader(struct shmets *db)
{
    if (__builtin_expect(tl.db == db && tl.gen == db->gen, 1))
        return tl.r;
    struct treader *r = pthread_getspecific(db->key);
    if (r) {
        tl.db = db;
        tl.gen = db->gen;
        tl.r = r;
    }
    return r;
}

void shmets_open_opts_init(shmets_open_opts *o)
{
    memset(o, 0, sizeof *o);
}

/* A group's name or decimal id to its gid. */
static int group_id(const char *group, gid_t *gid)
{
    size_t n = strlen(group);
    if (n > 0 && n <= 10 && strspn(group, "0123456789") == n) {
        unsigned long v = strtoul(group, NULL, 10);
        if (v >= (gid_t)-1)
            return err_set(SHMETS_EINVAL, "group id %s is out of range", group);
        *gid = (gid_t)v;
        return 0;
    }
    char buf[16384];
    struct group g, *r = NULL;
    int e = getgrnam_r(group, &g, buf, sizeof buf, &r);
    if (e || !r)
        return err_set(SHMETS_EINVAL, "no group \"%s\"%s%s", group, e ? ": " : "", e ? strerror(e) : "");
    *gid = r->gr_gid;
    return 0;
}

int shmets_open(const char *instance, shmets **out)
{
    shmets_open_opts o;
    shmets_open_opts_init(&o);
    const char *g = getenv("SHMETS_GROUP");
    if (g && *g)
        o.group = g;
    return shmets_open_ex(instance, &o, out);
}

int shmets_open_ex(const char *instance, const shmets_open_opts *opts, shmets **out)
{
    if (!out)
        return err_set(SHMETS_EINVAL, "no handle pointer");
    if (!instance)
        instance = "default";
    gid_t gid = (gid_t)-1;
    int rc;
    if (opts && opts->group && (rc = group_id(opts->group, &gid)))
        return rc;
    struct shmets *db = calloc(1, sizeof *db);
    if (!db)
        return err_set(SHMETS_ENOMEM, "out of process memory");
    rc = ctl_open_grp(instance, gid, &db->c);
    if (rc) {
        free(db);
        return rc;
    }
    snprintf(db->inst, sizeof db->inst, "%s", instance);
    db->gen = atomic_fetch_add(&next_gen, 1);
    pthread_mutex_init(&db->mu, NULL);
    if (pthread_key_create(&db->key, reader_dtor) != 0) {
        ctl_close(&db->c);
        free(db);
        return err_set(SHMETS_ESYS, "no thread-specific key left");
    }
    *out = db;
    return 0;
}

void inst_close(struct shmets *db)
{
    pthread_key_delete(db->key);
    if (tl.db == db)
        tl.db = NULL;
    for (struct treader *r = db->readers, *n; r; r = n) {
        n = r->next;
        if (r->pid == proc_self_pid())
            rcu_reader_unregister(&r->rd);
        free(r);
    }
    pthread_mutex_destroy(&db->mu);
    ctl_close(&db->c);
    free(db);
}

struct rcu_reader *inst_reader_slow(struct shmets *db)
{
    struct treader *r = thread_reader(db);
    if (__builtin_expect(r && r->pid == proc_self_pid(), 1))
        return &r->rd;
    r = pthread_getspecific(db->key);   /* the truth (the cache may hold a reader whose thread-specific
                                           value a destructor has already cleared) */
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) {
            err_set(SHMETS_ENOMEM, "out of process memory");
            return NULL;
        }
        pthread_mutex_lock(&db->mu);
        r->next = db->readers;
        if (r->next)
            r->next->prev = r;
        db->readers = r;
        pthread_mutex_unlock(&db->mu);
        pthread_setspecific(db->key, r);
        thread_reader(db);
    }
    /* New, or inherited through fork() from a parent whose slot it must not touch. */
    memset(&r->rd, 0, sizeof r->rd);
    if (rcu_reader_register(&db->c.h->reg, &r->rd) != 0)
        return NULL;
    r->pid = proc_self_pid();
    return &r->rd;
}

int inst_in_section(struct shmets *db)
{
    struct treader *r = thread_reader(db);
    return r && r->pid == proc_self_pid() && r->rd.nest > 0;
}

/* Sections: the thread-local hit inline (inst.h, inst_cached) and nothing else on the way in
 * and out; the rest — a NULL instance, a thread's first section, a forked child — out of line,
 * so that the hit saves and restores no registers. */
static __attribute__((noinline, cold)) int read_begin_slow(shmets *db)
{
    if (!db)
        return err_set(SHMETS_EINVAL, "NULL instance");
    struct rcu_reader *rd = inst_reader_slow(db);
    if (!rd)
        return -SHMETS_EAGAIN;
    rcu_read_begin(&db->c.h->reg, rd);
    return 0;
}

int shmets_read_begin(shmets *db)
{
    struct treader *r;
    if (__builtin_expect(db && (r = inst_cached(db)), 1)) {
        rcu_read_begin(&db->c.h->reg, &r->rd);
        return 0;
    }
    return read_begin_slow(db);
}

static __attribute__((noinline, cold)) void read_end_slow(shmets *db)
{
    if (!db)
        return;
    struct treader *r = thread_reader(db);
    if (r && r->pid == proc_self_pid() && r->rd.nest > 0)
        rcu_read_end(&r->rd);
}

void shmets_read_end(shmets *db)
{
    struct treader *r;
    if (__builtin_expect(db && (r = inst_cached(db)) && r->rd.nest > 0, 1))
        rcu_read_end(&r->rd);
    else
        read_end_slow(db);
}

int shmets_destroy_instance(const char *instance)
{
    char ctl[SEG_NAME_MAX];
    int rc = ctl_name(instance ? instance : "default", ctl, sizeof ctl);
    if (rc)
        return rc;
    /* Table segments are /dev/shm/shmets.<inst>.<id>: remove every one, listed or not (a
     * creator that died before publishing its catalog entry may have left one). */
    DIR *d = opendir("/dev/shm");
    if (d) {
        size_t n = strlen(ctl + 1);
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strncmp(e->d_name, ctl + 1, n) != 0 || e->d_name[n] != '.')
                continue;
            const char *id = e->d_name + n + 1;
            if (!*id || strspn(id, "0123456789") != strlen(id))
                continue;
            char name[SEG_NAME_MAX];
            if (snprintf(name, sizeof name, "/%s", e->d_name) < (int)sizeof name)
                seg_unlink(name);
        }
        closedir(d);
    }
    return seg_unlink(ctl);
}
