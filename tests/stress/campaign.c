/*
 * campaign.c — `make stress`: a randomised kill -9 campaign (issue 9, item 2).
 *
 *   shmets-stress [--minutes M | --seconds S] [--writers W] [--readers R] [--seed N] [--no-etsmgr]
 *
 * WHAT RUNS.  One private instance with three public tables — a set with write_concurrency
 * (striped writer locks), an ordered_set and a bag — and these processes, all children of the
 * campaign:
 *   writers  each owns the keys k with k % W == w of every table and loops over random writes
 *            to them: an insert, an atomic insert of a list of four of its keys, a delete, a
 *            take; on the bag, a delete of the key and an insert of a list of two objects.
 *            Before a write it records the write as pending in memory shared with the campaign
 *            (an anonymous MAP_SHARED mapping made before fork); after the call returns 0 it
 *            records the write as acknowledged.  Writers of different keys share the locks, so
 *            a killed writer often leaves a lock that another writer must repair.
 *   readers  loop over random lookups of any key and bounded first/next walks, checking each
 *            object's shape (its value encodes its key, so a torn or misplaced object shows);
 *            a bad object is reported through the shared mapping and ends the campaign.
 *   owners   with etsmgr (this build's daemon, in a private runtime directory, started by the
 *            campaign with autostart off), two more kinds, each writing its own table and
 *            acknowledging as the writers do:
 *            - an owner whose table (not managed) names an heir process, which waits on its
 *              etsmgr connection: the owner's kill must make the heir the owner and deliver
 *              {'ETS-TRANSFER', Tab, OwnerPid, HeirData}; the heir's kill then (a table with
 *              no heir left and not managed) must make etsmgr delete the table;
 *            - a managed owner (etsmgr_new_table): after its kill the table must stay, data
 *              intact, and the next owner's etsmgr_new_table must give it back, same id.
 *   etsmgr   the daemon itself: killed, sometimes an owner killed while it is down, then
 *            restarted; the restarted daemon must re-adopt everything and apply the rules
 *            to the owners that died meanwhile.  Writers and readers never notice.
 *   deleters and a reclaimer  (issue 21: one table's writes split between processes that share
 *            nothing but the table) a writer's replacement is, one time in three, a deleter: a
 *            new program image (the campaign re-executed with --child, so it has none of the
 *            state the campaign's own library calls left behind) that only deletes and takes its
 *            keys, acknowledging as a writer does; and one reclaimer, also a new image, loops
 *            over shmets_reclaim() of random bounds on every table.  Both are killed at random
 *            too: a reclaimer killed under a table's lock is a writer killed mid-write.
 * The campaign kills one process at a random moment (1 to 40 ms apart) with SIGKILL, reaps it,
 * verifies, and starts a replacement.  Killed readers die inside read sections often: the
 * writers' reclamation must then find them dead and clear their slots, or memory would pile up.
 *
 * AFTER EVERY KILL.  shmets_check() passes on every table (it repairs first when the lock's
 * owner died, as the next writer would).  After a writer's death its keys hold exactly what it
 * acknowledged, but for the one write that was under way, which is whole or absent (the value
 * the table has then becomes the acknowledged one).  Every reader report is empty.
 *
 * AT THE END.  Every process is killed; the tables are checked and their keys compared once more;
 * then every object is deleted and retired memory reclaimed, and each table's memory in use must
 * come back to what it was when the table was empty at the start (the baseline: a new table
 * after 1,000 inserts and deletes, so that its limbo keeps the chunks it keeps from then on):
 * nothing leaked by the killed writers, nothing held by killed readers.  It prints kills survived by kind, writes
 * acknowledged and lost (0), lookups done, ownership changes verified, memory before and after.  Exit 0 only if all held.
 */
#include "shmets.h"
#include "etsmgr.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NTAB      3
#define KEYS      1024            /* keys per table, shared out among the writers */
#define MAXW      16
#define MAXR      16
#define OKEYS     64              /* keys of an owner's table */

enum { T_SET, T_ORDERED, T_BAG };
static const char *const tab_names[NTAB] = { "stress_set", "stress_ordered", "stress_bag" };

/* What a writer acknowledged, per table and key: the value of the last write that returned
 * (-1: no object).  At most 4 writes are pending (a list insert) and all on one table. */
struct shared {
    _Atomic int64_t val[NTAB][KEYS];
    struct {
        _Atomic int ntab, npending;
        _Atomic int key[4];
        _Atomic int64_t val[4];
        _Atomic uint64_t acked;
    } w[MAXW];
    _Atomic uint64_t lookups[MAXR];
    struct {                            /* [0]: the owner with an heir; [1]: the managed one */
        _Atomic int64_t val[OKEYS];
        _Atomic int pkey, npending;
        _Atomic int64_t pval;
        _Atomic uint64_t acked;
        _Atomic uint64_t id;            /* the owner's table, once made */
        _Atomic int got;                /* the heir received a message: its text in msg */
        char msg[256];
    } o[2];
    _Atomic int bad;                    /* a reader saw a bad object: its text is in why */
    char why[512];
};

static struct shared *sh;
static int shfd = -1;                   /* sh's memfd: exec'd children map it again */
static int delete_only;                 /* this writer only deletes (a deleter) */
static pid_t reclaimer_pid;
static uint64_t deleters;
static char inst[64];
static pid_t campaign_pid;
static pid_t wp[MAXW], rp[MAXR];
static pid_t daemon_pid, owner_pid[2], heir_pid;
static char runtime_dir[64], sock_path[108];
static uint64_t tab_id[NTAB];
static int nwriters = 2, nreaders = 2;

/* The private runtime directory and what the daemons left in it (socket, log, lock, pid). */
static void cleanup_runtime(void)
{
    if (!runtime_dir[0])
        return;
    DIR *d = opendir(runtime_dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.')
            unlinkat(dirfd(d), e->d_name, 0);
    if (d)
        closedir(d);
    rmdir(runtime_dir);
    runtime_dir[0] = 0;
}

/* The campaign leaves nothing behind when it fails: its processes are killed by pid and its
 * instance destroyed. */
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "stress: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (getpid() == campaign_pid) {
        for (int i = 0; i < MAXW; i++)
            if (wp[i] > 0)
                kill(wp[i], SIGKILL);
        for (int i = 0; i < MAXR; i++)
            if (rp[i] > 0)
                kill(rp[i], SIGKILL);
        pid_t more[] = { daemon_pid, owner_pid[0], owner_pid[1], heir_pid, reclaimer_pid };
        for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
            if (more[i] > 0)
                kill(more[i], SIGKILL);
        while (wait(NULL) > 0)
            ;
        cleanup_runtime();
        shmets_destroy_instance(inst);
    }
    exit(1);
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A term from printf-style Erlang text; exits the process on a parse error (a bug here). */
static shmets_term term(const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    shmets_term t;
    int rc = shmets_term_parse(text, strlen(text), &t);
    if (rc)
        die("parse %s: %s", text, shmets_strerror(rc));
    return t;
}

/* The value of an object encodes its key: v % KEYS == k. */
static int64_t value_for(uint64_t seq, int k)
{
    return (int64_t)(seq * KEYS + (uint64_t)k);
}

/* ---- writers -------------------------------------------------------------------------- */

/* Padding that varies the objects' sizes across the allocator's size classes. */
static const char PAD[] = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmn"
                          "opqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz";

static int write_one(shmets_tab *t, int tab, int w, uint64_t *seed)
{
    struct shared *s = sh;
    int per = KEYS / nwriters;
    uint64_t r = rnd(seed);
    int k = w + nwriters * (int)(r % (uint64_t)per);
    int64_t v = value_for(atomic_load(&s->w[w].acked) + 1, k);
    int what = (int)((r >> 20) % 8);
    if (delete_only)
        what %= 2;                      /* a delete or a take; on the bag, the delete alone */
    size_t pad = (size_t)((r >> 32) % 200);
    int rc;
    atomic_store(&s->w[w].ntab, tab);
    if (tab == T_BAG) {
        /* A delete of the key; 5 times in 8 then both objects of a replacement at once. */
        atomic_store(&s->w[w].key[0], k);
        atomic_store(&s->w[w].val[0], -1);
        atomic_store(&s->w[w].npending, 1);
        shmets_term key = term("%d", k);
        rc = shmets_delete_key(t, key);
        shmets_term_free(&key);
        if (rc)
            return rc;
        atomic_store(&s->val[tab][k], -1);
        if (what >= 3) {
            atomic_store(&s->w[w].val[0], v);
            shmets_term objs = term("[{%d,%" PRId64 ",1},{%d,%" PRId64 ",<<\"%.*s\">>}]", k, v, k, v, (int)pad, PAD);
            rc = shmets_insert(t, objs);
            shmets_term_free(&objs);
            if (rc)
                return rc;
            atomic_store(&s->val[tab][k], v);
        }
    } else if (what == 0 || what == 1) {
        atomic_store(&s->w[w].key[0], k);
        atomic_store(&s->w[w].val[0], -1);
        atomic_store(&s->w[w].npending, 1);
        shmets_term key = term("%d", k);
        if (what == 0) {
            rc = shmets_delete_key(t, key);
        } else {
            shmets_term got;
            rc = shmets_take(t, key, &got);
            if (!rc)
                shmets_term_free(&got);
        }
        shmets_term_free(&key);
        if (rc)
            return rc;
        atomic_store(&s->val[tab][k], -1);
    } else if (what == 2) {
        char text[900];
        size_t n = (size_t)snprintf(text, sizeof text, "[");
        for (int j = 0; j < 4; j++) {
            int kk = w + nwriters * (int)(((uint64_t)(k / nwriters) + (uint64_t)j * 7) % (uint64_t)per);
            atomic_store(&s->w[w].key[j], kk);
            atomic_store(&s->w[w].val[j], value_for(atomic_load(&s->w[w].acked) + 1, kk));
            n += (size_t)snprintf(text + n, sizeof text - n, "%s{%d,%" PRId64 ",<<\"%.*s\">>}", j ? "," : "", kk,
                                  value_for(atomic_load(&s->w[w].acked) + 1, kk), (int)pad / 4, PAD);
        }
        snprintf(text + n, sizeof text - n, "]");
        atomic_store(&s->w[w].npending, 4);
        shmets_term objs = term("%s", text);
        rc = shmets_insert(t, objs);
        shmets_term_free(&objs);
        if (rc)
            return rc;
        for (int j = 0; j < 4; j++)
            atomic_store(&s->val[tab][atomic_load(&s->w[w].key[j])], atomic_load(&s->w[w].val[j]));
    } else {
        atomic_store(&s->w[w].key[0], k);
        atomic_store(&s->w[w].val[0], v);
        atomic_store(&s->w[w].npending, 1);
        shmets_term obj = term("{%d,%" PRId64 ",<<\"%.*s\">>}", k, v, (int)pad, PAD);
        rc = shmets_insert(t, obj);
        shmets_term_free(&obj);
        if (rc)
            return rc;
        atomic_store(&s->val[tab][k], v);
    }
    atomic_store(&s->w[w].npending, 0);
    atomic_fetch_add(&s->w[w].acked, 1);
    return 0;
}

static void attach_all(shmets **d, shmets_tab *t[NTAB])
{
    int rc = shmets_open(inst, d);
    for (int i = 0; i < NTAB && !rc; i++)
        rc = shmets_attach(*d, tab_id[i], &t[i]);
    if (rc)
        die("child %d: attach: %s (%s)", (int)getpid(), shmets_strerror(rc), shmets_errdetail());
}

/* A reclaimer: reclamation of random bounds on every table, from a process that never wrote. */
static void reclaimer(int unused, uint64_t seed)
{
    (void)unused;
    shmets *d;
    shmets_tab *t[NTAB];
    attach_all(&d, t);
    for (;;) {
        int tab = (int)(rnd(&seed) % NTAB);
        int rc = shmets_reclaim(t[tab], rnd(&seed) % 600, NULL);
        if (rc)
            die("reclaimer: %s: %s (%s)", tab_names[tab], shmets_strerror(rc), shmets_errdetail());
        struct timespec ts = { 0, (long)(rnd(&seed) % 3000) * 1000L };
        nanosleep(&ts, NULL);
    }
}

static void writer(int w, uint64_t seed)
{
    shmets *d;
    shmets_tab *t[NTAB];
    attach_all(&d, t);
    for (;;) {
        int tab = (int)(rnd(&seed) % NTAB);
        int rc = write_one(t[tab], tab, w, &seed);
        if (rc)
            die("writer %d: %s: %s (%s)", w, tab_names[tab], shmets_strerror(rc), shmets_errdetail());
    }
}

/* ---- readers -------------------------------------------------------------------------- */

static void report_bad(const char *fmt, ...)
{
    char buf[sizeof sh->why];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    int zero = 0;
    if (atomic_compare_exchange_strong(&sh->bad, &zero, 1))
        memcpy(sh->why, buf, sizeof buf);
    _exit(3);
}

/* Each object of a lookup or walk is {K, V, _} with V % KEYS == K; a bag key's objects share V. */
static void check_objects(int tab, shmets_term objs)
{
    char *text;
    if (shmets_term_format(objs, &text, NULL))
        report_bad("unformattable lookup result on %s", tab_names[tab]);
    const char *p = text;
    long long bagv = -1;
    int n = 0;
    while ((p = strchr(p, '{')) != NULL) {
        long long k, v;
        if (sscanf(p, "{%lld,%lld,", &k, &v) != 2 || k < 0 || k >= KEYS || v % KEYS != k ||
            (tab == T_BAG && bagv >= 0 && v != bagv))
            report_bad("reader: bad object on %s: %.200s", tab_names[tab], p);
        bagv = v;
        n++;
        p++;
    }
    if (tab == T_BAG && n != 0 && n != 2)
        report_bad("reader: bag key with %d objects (a list insert seen in part): %.200s", n, text);
    free(text);
}

static void reader(int r, uint64_t seed)
{
    shmets *d;
    shmets_tab *t[NTAB];
    attach_all(&d, t);
    for (uint64_t i = 0;; i++) {
        int tab = (int)(rnd(&seed) % NTAB);
        if (i % 64 == 63) {                 /* a bounded walk */
            shmets_term k;
            int rc = shmets_first(t[tab], &k);
            for (int step = 0; step < 100 && rc == 0 && k.ptr; step++) {
                shmets_term objs, next = { NULL, 0 };
                rc = shmets_lookup(t[tab], k, &objs);
                if (!rc) {
                    check_objects(tab, objs);
                    shmets_term_free(&objs);
                    rc = shmets_next(t[tab], k, &next);
                }
                shmets_term_free(&k);
                k = next;
            }
            if (rc && rc != -SHMETS_ENOKEY)
                report_bad("reader: walk of %s: %s (%s)", tab_names[tab], shmets_strerror(rc), shmets_errdetail());
            shmets_term_free(&k);
        } else {
            shmets_term key = term("%d", (int)(rnd(&seed) % KEYS)), objs;
            int rc = shmets_lookup(t[tab], key, &objs);
            if (rc)
                report_bad("reader: lookup on %s: %s (%s)", tab_names[tab], shmets_strerror(rc), shmets_errdetail());
            check_objects(tab, objs);
            shmets_term_free(&objs);
            shmets_term_free(&key);
        }
        atomic_fetch_add_explicit(&sh->lookups[r], 1, memory_order_relaxed);
    }
}

/* ---- owners and etsmgr ---------------------------------------------------------------- */

/* A child dies with the campaign, however the campaign ends (a SIGKILL included): no reader
 * or writer is left spinning on an instance nobody will clean up. */
static void die_with_campaign(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != campaign_pid)
        _exit(1);
}

static pid_t spawn(void (*fn)(int, uint64_t), int i, uint64_t seed);
static void reap(pid_t pid, const char *what);

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) && errno == EINTR)
        ;
}

/* A connection to etsmgr, retried while the daemon is down (the campaign restarts it). */
static etsmgr *connect_mgr(shmets *d)
{
    etsmgr *m;
    for (;;) {
        int rc = etsmgr_connect(d, NULL, &m);
        if (!rc)
            return m;
        if (rc != -SHMETS_ENOENT && rc != -SHMETS_ESYS)
            die("child %d: etsmgr_connect: %s (%s)", (int)getpid(), shmets_strerror(rc), shmets_errdetail());
        sleep_ms(10);
    }
}

/* An owner's writes: its own table, keys 0..OKEYS-1, acknowledged in sh->o[slot]. */
static void owner_writes(int slot, shmets_tab *t, uint64_t seed)
{
    for (;;) {
        uint64_t r = rnd(&seed);
        int k = (int)(r % OKEYS);
        int64_t v = (r >> 40) % 4 == 0 ? -1 : value_for(atomic_load(&sh->o[slot].acked) + 1, k);
        atomic_store(&sh->o[slot].pkey, k);
        atomic_store(&sh->o[slot].pval, v);
        atomic_store(&sh->o[slot].npending, 1);
        shmets_term x = v < 0 ? term("%d", k) : term("{%d,%" PRId64 "}", k, v);
        int rc = v < 0 ? shmets_delete_key(t, x) : shmets_insert(t, x);
        shmets_term_free(&x);
        if (rc)
            die("owner %d: write: %s (%s)", (int)getpid(), shmets_strerror(rc), shmets_errdetail());
        atomic_store(&sh->o[slot].val[k], v);
        atomic_store(&sh->o[slot].npending, 0);
        atomic_fetch_add(&sh->o[slot].acked, 1);
    }
}

/* The heir: records the first message it receives on its connection. */
static void heir(int unused, uint64_t seed)
{
    (void)unused;
    (void)seed;
    shmets *d;
    if (shmets_open(inst, &d))
        die("heir: open");
    etsmgr *m = connect_mgr(d);
    for (;;) {
        shmets_term msg;
        int rc = etsmgr_next_event(m, 200, &msg);
        if (rc == 0) {
            char *text;
            if (shmets_term_format(msg, &text, NULL) == 0) {
                if (!atomic_load(&sh->o[0].got)) {
                    snprintf(sh->o[0].msg, sizeof sh->o[0].msg, "%s", text);
                    atomic_store(&sh->o[0].got, 1);
                }
                free(text);
            }
            shmets_term_free(&msg);
        } else if (rc != -SHMETS_EAGAIN) {
            sleep_ms(10);                   /* the daemon is down: the next call reconnects */
        }
    }
}

static uint64_t heir_round;

/* The owner with an heir: a table that is not managed, made with heir_pid in the same step. */
static void heir_owner(int heirpid, uint64_t seed)
{
    shmets *d;
    shmets_tab *t;
    if (shmets_open(inst, &d))
        die("owner: open");
    shmets_opts o;
    shmets_opts_init(&o);
    o.access = SHMETS_PUBLIC;
    o.heir_pid = (uint32_t)heirpid;
    o.heir_data = term("{gift,%" PRIu64 "}", heir_round);
    char name[48];
    snprintf(name, sizeof name, "inherited_%" PRIu64, heir_round);
    int rc = shmets_new(d, name, &o, &t);
    if (rc)
        die("owner: new %s: %s (%s)", name, shmets_strerror(rc), shmets_errdetail());
    atomic_store(&sh->o[0].id, shmets_id(t));
    owner_writes(0, t, seed);
}

/* The managed owner: etsmgr_new_table, which gives a dead client's table back. */
static void managed_owner(int unused, uint64_t seed)
{
    (void)unused;
    shmets *d;
    shmets_tab *t;
    if (shmets_open(inst, &d))
        die("managed owner: open");
    etsmgr *m = connect_mgr(d);
    shmets_term opts = term("[public,set]");
    uint64_t id;
    for (;;) {
        int rc = etsmgr_new_table(m, "managed", "managed_tab", opts, &id);
        if (!rc)
            break;
        if (rc != -SHMETS_ESYS && rc != -SHMETS_ENOENT)
            die("managed owner: new_table: %s (%s)", shmets_strerror(rc), shmets_errdetail());
        sleep_ms(10);                       /* the daemon is down or restarting */
    }
    int rc = shmets_attach(d, id, &t);
    if (rc)
        die("managed owner: attach: %s (%s)", shmets_strerror(rc), shmets_errdetail());
    uint64_t zero = 0;
    if (!atomic_compare_exchange_strong(&sh->o[1].id, &zero, id) && zero != id)
        report_bad("managed owner: etsmgr_new_table gave table %" PRIu64 ", the managed table is %" PRIu64, id, zero);
    atomic_fetch_add(&sh->o[1].got, 1);     /* adopted */
    owner_writes(1, t, seed);
}

static int daemon_answers(void)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    memcpy(a.sun_path, sock_path, sizeof a.sun_path);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* This build's etsmgr (next to this program), logging to <runtime dir>/log. */
static void start_daemon(void)
{
    char self[PATH_MAX], exe[PATH_MAX + 8], log[PATH_MAX + 8];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    snprintf(exe, sizeof exe, "%s/etsmgr", self);
    snprintf(log, sizeof log, "%s/log", runtime_dir);
    fflush(NULL);
    daemon_pid = fork();
    if (daemon_pid < 0)
        die("fork: %s", strerror(errno));
    if (daemon_pid == 0) {
        die_with_campaign();
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0)
            dup2(fd, 2);
        execl(exe, exe, "--instance", inst, "--runtime-dir", runtime_dir, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500 && !daemon_answers(); i++)
        sleep_ms(10);
    if (!daemon_answers())
        die("etsmgr (%s) does not answer on %s; its log is %s", exe, sock_path, log);
}

/* Wait up to 5 s for cond(arg) (the daemon acts on a death within milliseconds). */
static int wait_for(int (*cond)(void *), void *arg)
{
    for (int i = 0; i < 500; i++) {
        if (cond(arg))
            return 1;
        sleep_ms(10);
    }
    return cond(arg);
}

/* ---- the campaign --------------------------------------------------------------------- */

static shmets *db;
static shmets_tab *tabs[NTAB];

/* What key k of table tab holds: -1 none, the shared value, or -2 (not an acknowledged shape). */
static int64_t value_in(shmets_tab *t, const char *name, int bag, int k)
{
    shmets_term key = term("%d", k), objs;
    int rc = shmets_lookup(t, key, &objs);
    shmets_term_free(&key);
    if (rc)
        die("lookup %d in %s: %s (%s)", k, name, shmets_strerror(rc), shmets_errdetail());
    char *text;
    if (shmets_term_format(objs, &text, NULL))
        die("format");
    shmets_term_free(&objs);
    int64_t v = -1;
    long long x;
    int n = 0;
    for (const char *p = text; (p = strchr(p, '{')) != NULL; p++, n++) {
        if (sscanf(p, "{%*d,%lld", &x) != 1 || (n && x != v))
            v = -2;
        else if (!n || v != -2)
            v = x;
    }
    if (bag && n != 0 && n != 2)
        v = -2;
    free(text);
    return v;
}

static int64_t value_of(int tab, int k)
{
    return value_in(tabs[tab], tab_names[tab], tab == T_BAG, k);
}

/* An owner is dead and its table holds what it acknowledged, or its pending write whole. */
static uint64_t verify_owner_data(int slot, uint64_t id, const char *when)
{
    shmets_tab *t;
    int rc = shmets_attach(db, id, &t);
    if (rc)
        die("%s: attach table %" PRIu64 ": %s (%s)", when, id, shmets_strerror(rc), shmets_errdetail());
    if ((rc = shmets_check(t)))
        die("%s: check of table %" PRIu64 ": %s (%s)", when, id, shmets_strerror(rc), shmets_errdetail());
    uint64_t lost = 0;
    int pending = atomic_load(&sh->o[slot].npending), pk = atomic_load(&sh->o[slot].pkey);
    for (int k = 0; k < OKEYS; k++) {
        int64_t v = value_in(t, "an owner's table", 0, k), acked = atomic_load(&sh->o[slot].val[k]);
        int isp = pending && k == pk;
        if (v == acked || (isp && v == atomic_load(&sh->o[slot].pval))) {
            if (isp)
                atomic_store(&sh->o[slot].val[k], v);
            continue;
        }
        fprintf(stderr, "stress: %s: table %" PRIu64 " key %d holds %" PRId64 ", acknowledged %" PRId64 "\n", when, id,
                k, v, acked);
        lost++;
    }
    atomic_store(&sh->o[slot].npending, 0);
    shmets_detach(t);
    return lost;
}

struct owner_q { uint64_t id; pid_t pid; };

static int owner_is(void *arg)
{
    struct owner_q *q = arg;
    shmets_tab *t;
    shmets_tab_info info;
    if (shmets_attach(db, q->id, &t))
        return 0;
    int ok = shmets_info(t, &info) == 0 && info.owner == (uint32_t)q->pid;
    shmets_detach(t);
    return ok;
}

static int table_gone(void *arg)
{
    shmets_tab *t;
    int rc = shmets_attach(db, *(uint64_t *)arg, &t);
    if (rc == 0)
        shmets_detach(t);
    return rc == -SHMETS_ENOENT;
}

static int heir_got(void *arg)
{
    (void)arg;
    return atomic_load(&sh->o[0].got) != 0;
}

static int owner_made(void *arg)
{
    return atomic_load(&sh->o[*(int *)arg].id) != 0;
}

static int adopted_since(void *arg)
{
    return atomic_load(&sh->o[1].got) > *(int *)arg;
}

static uint64_t transfers, deletions, readoptions;

/* A new heir and an owner naming it. */
static void heir_round_start(uint64_t *seed)
{
    heir_round++;
    atomic_store(&sh->o[0].got, 0);
    atomic_store(&sh->o[0].id, 0);
    atomic_store(&sh->o[0].npending, 0);
    for (int k = 0; k < OKEYS; k++)
        atomic_store(&sh->o[0].val[k], -1);
    heir_pid = spawn(heir, 0, rnd(seed));
    owner_pid[0] = spawn(heir_owner, heir_pid, rnd(seed));
    int slot = 0;
    if (!wait_for(owner_made, &slot))
        die("the owner with an heir made no table");
}

static pid_t killed_owner;

static void heir_round_kill(void)
{
    killed_owner = owner_pid[0];
    kill(owner_pid[0], SIGKILL);
    reap(owner_pid[0], "owner");
    owner_pid[0] = 0;
}

/* After the owner's death (etsmgr up): the heir owns the table and got the message; then the
 * heir dies, and the table, with no heir left and not managed, is deleted. */
static uint64_t heir_round_verify(uint64_t *seed)
{
    uint64_t id = atomic_load(&sh->o[0].id);
    struct owner_q q = { id, heir_pid };
    if (!wait_for(owner_is, &q))
        die("table %" PRIu64 " did not go to its heir %d after its owner %d died", id, (int)heir_pid,
            (int)killed_owner);
    if (!wait_for(heir_got, NULL))
        die("the heir %d owns table %" PRIu64 " but received no message", (int)heir_pid, id);
    char want_from[32], want_name[48], want_gift[48];
    snprintf(want_from, sizeof want_from, "<0.%d.0>", (int)killed_owner);
    snprintf(want_name, sizeof want_name, "inherited_%" PRIu64, heir_round);
    snprintf(want_gift, sizeof want_gift, "{gift,%" PRIu64 "}}", heir_round);
    if (strncmp(sh->o[0].msg, "{'ETS-TRANSFER',", 16) != 0 || !strstr(sh->o[0].msg, want_from) ||
        !strstr(sh->o[0].msg, want_gift))
        die("the heir received %s; expected {'ETS-TRANSFER', %s's table, %s, {gift,%" PRIu64 "}}", sh->o[0].msg,
            want_name, want_from, heir_round);
    transfers++;
    uint64_t lost = verify_owner_data(0, id, "after an owner's kill, with the heir");
    kill(heir_pid, SIGKILL);
    reap(heir_pid, "heir");
    heir_pid = 0;
    if (!wait_for(table_gone, &id))
        die("table %" PRIu64 " outlived its last owner (no heir, not managed)", id);
    deletions++;
    heir_round_start(seed);
    return lost;
}

static void managed_start(uint64_t *seed)
{
    int before = atomic_load(&sh->o[1].got);
    owner_pid[1] = spawn(managed_owner, 0, rnd(seed));
    if (!wait_for(adopted_since, &before))
        die("the managed owner %d got no table from etsmgr_new_table", (int)owner_pid[1]);
}

static void managed_kill(void)
{
    kill(owner_pid[1], SIGKILL);
    reap(owner_pid[1], "managed owner");
    owner_pid[1] = 0;
}

/* After the managed owner's death: the table stays, data intact; the next client gets it. */
static uint64_t managed_verify(uint64_t *seed)
{
    sleep_ms(20);                           /* the daemon has seen the death by now */
    uint64_t id = atomic_load(&sh->o[1].id);
    if (table_gone(&id))
        die("the managed table %" PRIu64 " was deleted when its client died", id);
    uint64_t lost = verify_owner_data(1, id, "after a managed owner's kill");
    managed_start(seed);
    readoptions++;
    return lost;
}

static void check_tables(const char *when)
{
    for (int i = 0; i < NTAB; i++) {
        int rc = shmets_check(tabs[i]);
        if (rc)
            die("%s: check of %s: %s (%s)", when, tab_names[i], shmets_strerror(rc), shmets_errdetail());
    }
}

/* Writer w is dead: its keys must hold what it acknowledged, or its pending write whole. */
static uint64_t verify_writer(int w, const char *when)
{
    uint64_t lost = 0;
    int ptab = atomic_load(&sh->w[w].ntab), np = atomic_load(&sh->w[w].npending);
    for (int tab = 0; tab < NTAB; tab++)
        for (int k = w; k < KEYS; k += nwriters) {
            int64_t v = value_of(tab, k), acked = atomic_load(&sh->val[tab][k]);
            int ok = v == acked, pending = 0;
            for (int j = 0; j < np && tab == ptab; j++)
                if (atomic_load(&sh->w[w].key[j]) == k) {
                    pending = 1;
                    ok = ok || v == atomic_load(&sh->w[w].val[j]);
                }
            if (!ok) {
                fprintf(stderr, "stress: %s: %s key %d holds %" PRId64 ", acknowledged %" PRId64 "%s\n", when,
                        tab_names[tab], k, v, acked, pending ? " (a write was pending)" : "");
                lost++;
            } else if (pending) {
                atomic_store(&sh->val[tab][k], v);    /* the pending write is settled */
            }
        }
    atomic_store(&sh->w[w].npending, 0);
    return lost;
}

static pid_t spawn(void (*fn)(int, uint64_t), int i, uint64_t seed)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        die_with_campaign();
        fn(i, seed);
        _exit(0);
    }
    return pid;
}

/* fn in a new program image: the campaign re-executed as `--child ROLE I SEED FD INST NW ID...
 * CAMPAIGN`, with sh's memfd inherited. */
static pid_t spawn_exec(const char *role, int i, uint64_t seed)
{
    char a[8][32];
    snprintf(a[0], 32, "%d", i);
    snprintf(a[1], 32, "%" PRIu64, seed);
    snprintf(a[2], 32, "%d", shfd);
    snprintf(a[3], 32, "%d", nwriters);
    for (int k = 0; k < NTAB; k++)
        snprintf(a[4 + k], 32, "%" PRIu64, tab_id[k]);
    snprintf(a[7], 32, "%d", (int)campaign_pid);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        die_with_campaign();            /* PR_SET_PDEATHSIG stays across execve */
        execl("/proc/self/exe", "shmets-stress", "--child", role, a[0], a[1], a[2], inst, a[3], a[4], a[5],
              a[6], a[7], (char *)NULL);
        _exit(127);
    }
    return pid;
}

static pid_t spawn_writer(int w, uint64_t seed)
{
    if (seed % 3 == 0) {
        deleters++;
        return spawn_exec("deleter", w, seed);
    }
    return spawn(writer, w, seed);
}

static int child_main(char **argv)
{
    const char *role = argv[0];
    int i = atoi(argv[1]);
    uint64_t seed = strtoull(argv[2], NULL, 10);
    shfd = atoi(argv[3]);
    snprintf(inst, sizeof inst, "%s", argv[4]);
    nwriters = atoi(argv[5]);
    for (int k = 0; k < NTAB; k++)
        tab_id[k] = strtoull(argv[6 + k], NULL, 10);
    campaign_pid = (pid_t)atoi(argv[9]);
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED, shfd, 0);
    if (sh == MAP_FAILED || getppid() != campaign_pid)
        return 1;
    if (!strcmp(role, "deleter")) {
        delete_only = 1;
        writer(i, seed);
    } else if (!strcmp(role, "reclaimer")) {
        reclaimer(i, seed);
    }
    return 1;
}

static void reap(pid_t pid, const char *what)
{
    int status;
    if (waitpid(pid, &status, 0) != pid)
        die("waitpid %s: %s", what, strerror(errno));
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
        if (atomic_load(&sh->bad))
            die("%s", sh->why);
        die("%s %d ended by itself (status %d) instead of being killed", what, (int)pid, status);
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: shmets-stress [--minutes M | --seconds S] [--writers W] [--readers R] [--seed N] [--no-etsmgr]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc == 12 && !strcmp(argv[1], "--child"))
        return child_main(argv + 2);
    double seconds = 60;
    int with_mgr = 1;
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    static const struct option lo[] = {
        { "minutes", 1, NULL, 'm' }, { "seconds", 1, NULL, 's' }, { "writers", 1, NULL, 'w' },
        { "readers", 1, NULL, 'r' }, { "seed", 1, NULL, 'S' }, { "no-etsmgr", 0, NULL, 'n' },
        { NULL, 0, NULL, 0 },
    };
    for (int c; (c = getopt_long(argc, argv, "", lo, NULL)) != -1;) {
        switch (c) {
        case 'm': seconds = 60 * atof(optarg); break;
        case 's': seconds = atof(optarg); break;
        case 'w': nwriters = atoi(optarg); break;
        case 'r': nreaders = atoi(optarg); break;
        case 'S': seed = strtoull(optarg, NULL, 0); break;
        case 'n': with_mgr = 0; break;
        default: usage();
        }
    }
    if (seconds <= 0 || nwriters < 1 || nwriters > MAXW || nreaders < 0 || nreaders > MAXR)
        usage();
    if (!seed)
        seed = 1;
    printf("stress: %.0f s, %d writers, %d readers%s, seed %" PRIu64 "\n", seconds, nwriters, nreaders,
           with_mgr ? ", 2 owners, an heir and etsmgr" : "", seed);

    shfd = memfd_create("shmets-stress", 0);      /* inherited by the exec'd children */
    if (shfd < 0 || ftruncate(shfd, sizeof *sh))
        die("memfd: %s", strerror(errno));
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED, shfd, 0);
    if (sh == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    for (int i = 0; i < NTAB; i++)
        for (int k = 0; k < KEYS; k++)
            atomic_store(&sh->val[i][k], -1);
    campaign_pid = getpid();
    snprintf(inst, sizeof inst, "stress.%d", (int)getpid());
    int rc = shmets_open(inst, &db);
    if (rc)
        die("open %s: %s", inst, shmets_strerror(rc));
    uint64_t base[NTAB];
    for (int i = 0; i < NTAB; i++) {
        shmets_opts o;
        shmets_opts_init(&o);
        o.access = SHMETS_PUBLIC;
        o.kind = i == T_SET ? SHMETS_SET : i == T_ORDERED ? SHMETS_ORDERED_SET : SHMETS_BAG;
        o.write_concurrency = i == T_SET;
        o.max_bytes = 256u << 20;
        rc = shmets_new(db, tab_names[i], &o, &tabs[i]);
        if (rc)
            die("new %s: %s", tab_names[i], shmets_strerror(rc));
        /* The baseline is an empty table that has retired more than a limbo chunk's worth of
         * memory once: from then on its limbo list keeps one emptied chunk and one spare
         * (limbo.c), 4 KiB more than a new table. */
        uint64_t fr;
        for (int k = 0; k < 1000; k++) {
            shmets_term obj = term("{%d,0}", k), key = term("%d", k);
            if ((rc = shmets_insert(tabs[i], obj)) || (rc = shmets_delete_key(tabs[i], key)))
                die("baseline of %s: %s", tab_names[i], shmets_strerror(rc));
            shmets_term_free(&obj);
            shmets_term_free(&key);
        }
        if ((rc = shmets_reclaim(tabs[i], 0, NULL)) || (rc = shmets_memory(tabs[i], &base[i], &fr)))
            die("baseline of %s: %s", tab_names[i], shmets_strerror(rc));
        tab_id[i] = shmets_id(tabs[i]);
    }

    for (int w = 0; w < nwriters; w++)
        wp[w] = spawn_writer(w, rnd(&seed));
    for (int r = 0; r < nreaders; r++)
        rp[r] = spawn(reader, r, rnd(&seed));
    reclaimer_pid = spawn_exec("reclaimer", 0, rnd(&seed));
    if (with_mgr) {
        snprintf(runtime_dir, sizeof runtime_dir, "/tmp/shmets-stress.XXXXXX");
        if (!mkdtemp(runtime_dir))
            die("mkdtemp: %s", strerror(errno));
        if (snprintf(sock_path, sizeof sock_path, "%s/%s.sock", runtime_dir, inst) >= (int)sizeof sock_path)
            die("socket path too long");
        setenv("SHMETS_RUNTIME_DIR", runtime_dir, 1);
        setenv("SHMETS_NO_AUTOSTART", "1", 1);
        start_daemon();
        for (int i = 0; i < 2; i++)
            for (int k = 0; k < OKEYS; k++)
                atomic_store(&sh->o[i].val[k], -1);
        heir_round_start(&seed);
        managed_start(&seed);
    }

    uint64_t wkills = 0, rkills = 0, okills = 0, mkills = 0, ckills = 0, lost = 0;
    double start = now_s(), last_print = start;
    while (now_s() - start < seconds) {
        struct timespec ts = { 0, (long)(1 + rnd(&seed) % 40) * 1000000L };
        nanosleep(&ts, NULL);
        if (atomic_load(&sh->bad))
            die("%s", sh->why);
        int victim = (int)(rnd(&seed) % (uint64_t)(nwriters + nreaders + 1 + (with_mgr ? 3 : 0)));
        if (victim == nwriters + nreaders) {
            kill(reclaimer_pid, SIGKILL);
            reap(reclaimer_pid, "reclaimer");
            ckills++;
            check_tables("after the reclaimer's kill");
            reclaimer_pid = spawn_exec("reclaimer", 0, rnd(&seed));
        } else if (victim > nwriters + nreaders) {
            int what = victim - nwriters - nreaders - 1;     /* 0: heir's owner, 1: managed, 2: etsmgr */
            int down_owner = 0, down_managed = 0;
            if (what == 2) {
                kill(daemon_pid, SIGKILL);
                reap(daemon_pid, "etsmgr");
                daemon_pid = 0;
                mkills++;
                uint64_t r = rnd(&seed);
                down_owner = r % 3 == 0;        /* owners that die while the daemon is down */
                down_managed = r % 5 == 0;
                sleep_ms((int)(r >> 20) % 20);
            }
            if (what == 0 || down_owner) {
                heir_round_kill();
                okills++;
            }
            if (what == 1 || down_managed) {
                managed_kill();
                okills++;
            }
            if (what == 2)
                start_daemon();
            check_tables("after an owner's or etsmgr's kill");
            if (what == 0 || down_owner) {
                lost += heir_round_verify(&seed);
                okills++;                       /* the heir, killed after the handover */
            }
            if (what == 1 || down_managed)
                lost += managed_verify(&seed);
        } else if (victim < nwriters) {
            kill(wp[victim], SIGKILL);
            reap(wp[victim], "writer");
            wkills++;
            check_tables("after a writer's kill");
            lost += verify_writer(victim, "after a writer's kill");
            wp[victim] = spawn_writer(victim, rnd(&seed));
        } else {
            int r = victim - nwriters;
            kill(rp[r], SIGKILL);
            reap(rp[r], "reader");
            rkills++;
            check_tables("after a reader's kill");
            rp[r] = spawn(reader, r, rnd(&seed));
        }
        if (lost)
            break;
        if (now_s() - last_print >= 30) {
            last_print = now_s();
            uint64_t acked = 0;
            for (int w = 0; w < nwriters; w++)
                acked += atomic_load(&sh->w[w].acked);
            printf("stress: %4.0f s: %" PRIu64 " kills, %" PRIu64 " writes acknowledged, 0 lost\n", last_print - start,
                   wkills + rkills + okills + mkills + ckills, acked);
            fflush(stdout);
        }
    }

    for (int w = 0; w < nwriters; w++) {
        kill(wp[w], SIGKILL);
        reap(wp[w], "writer");
    }
    for (int r = 0; r < nreaders; r++) {
        kill(rp[r], SIGKILL);
        reap(rp[r], "reader");
    }
    kill(reclaimer_pid, SIGKILL);
    reap(reclaimer_pid, "reclaimer");
    if (with_mgr) {
        heir_round_kill();
        lost += heir_round_verify(&seed);   /* makes a new round: end it too */
        heir_round_kill();
        managed_kill();
        lost += verify_owner_data(1, atomic_load(&sh->o[1].id), "at the end");
        kill(heir_pid, SIGKILL);
        reap(heir_pid, "heir");
        kill(daemon_pid, SIGKILL);
        reap(daemon_pid, "etsmgr");
        heir_pid = daemon_pid = 0;
        cleanup_runtime();
    }
    check_tables("at the end");
    for (int w = 0; w < nwriters; w++)
        lost += verify_writer(w, "at the end");
    uint64_t acked = 0, lookups = 0, objects = 0;
    for (int w = 0; w < nwriters; w++)
        acked += atomic_load(&sh->w[w].acked);
    acked += atomic_load(&sh->o[0].acked) + atomic_load(&sh->o[1].acked);
    for (int r = 0; r < nreaders; r++)
        lookups += atomic_load(&sh->lookups[r]);

    /* Every process is gone: empty the tables and give back what readers held. */
    int leaked = 0;
    uint64_t peak = 0, after = 0, before = 0;
    for (int i = 0; i < NTAB; i++) {
        uint64_t used, fr, n;
        shmets_size(tabs[i], &n);
        objects += n;
        shmets_memory(tabs[i], &used, &fr);
        peak += used;
        if ((rc = shmets_delete_all_objects(tabs[i])) || (rc = shmets_reclaim(tabs[i], 0, NULL)))
            die("emptying %s: %s (%s)", tab_names[i], shmets_strerror(rc), shmets_errdetail());
        shmets_memory(tabs[i], &used, &fr);
        if ((rc = shmets_check(tabs[i])))
            die("check of the emptied %s: %s (%s)", tab_names[i], shmets_strerror(rc), shmets_errdetail());
        before += base[i];
        after += used;
        if (used != base[i]) {
            fprintf(stderr, "stress: %s uses %" PRIu64 " bytes empty, %" PRIu64 " at the start\n", tab_names[i], used,
                    base[i]);
            leaked = 1;
        }
    }
    printf("stress: %" PRIu64 " kills survived (%" PRIu64 " writers, %" PRIu64 " readers, %" PRIu64 " reclaimers, %" PRIu64
           " owners and heirs, %" PRIu64 " etsmgr), shmets_check passed after each; %" PRIu64 " of the writers started"
           " were delete-only new program images\n",
           wkills + rkills + okills + mkills + ckills, wkills, rkills, ckills, okills, mkills, deleters);
    if (with_mgr)
        printf("stress: ownership as the rules say after every owner's death: %" PRIu64 " tables went to their heir with"
               " ETS-TRANSFER, %" PRIu64 " deleted with their last owner, %" PRIu64 " managed tables given back\n",
               transfers, deletions, readoptions);
    printf("stress: %" PRIu64 " writes acknowledged, %" PRIu64 " lost; %" PRIu64 " lookups; %" PRIu64
           " objects at the end\n", acked, lost, lookups, objects);
    printf("stress: table memory in use: %" PRIu64 " bytes at the start, %" PRIu64 " at the end with the objects, %" PRIu64
           " emptied after the last reader (%s)\n", before, peak, after, leaked ? "NOT the baseline" : "the baseline");
    for (int i = 0; i < NTAB; i++)
        shmets_detach(tabs[i]);
    shmets_close(db);
    shmets_destroy_instance(inst);
    munmap(sh, sizeof *sh);
    return lost || leaked ? 1 : 0;
}
