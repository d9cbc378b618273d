/*
 * test_crash.c — writers that die: at every named crash point of every write path, and by
 * SIGKILL at random moments.  What the user relies on (DESIGN.md §6, commit.c T.1-T.2):
 *   - the next writer (here: shmets_check, which takes the lock) repairs the table first, and
 *     shmets_check() then passes — heap, limbo, index and the accounting that proves nothing
 *     leaked;
 *   - every acknowledged write is present, and the write that was under way is all there or
 *     not there at all (a crash before the intent record is stored loses it, one after is
 *     completed);
 *   - the table stays usable, and retired memory comes back once reclaimed.
 * Crash points are compiled into the test build of the library (-DSHMETS_TEST) and chosen with
 * the environment variable SHMETS_CRASH_AT in the child; a child that reaches the point exits
 * with status 77 (CRASH_EXIT) holding the writer lock, exactly like a killed writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shmets.h"
#include "testutil.h"
#include "table/table.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const points[] = {
    "insert.prepared", "insert.planned", "delete.planned",
    "commit.prepared", "commit.intent", "commit.publishing", "commit.published",
    "commit.retiring", "commit.counted", "commit.done",
    "alloc.carve", "alloc.free", "limbo.retire", "limbo.reclaim", "limbo.unspare",
};
#define NPOINTS (sizeof points / sizeof points[0])

/* Points at or after the commit point: the write must be complete after recovery. */
static int after_commit(const char *p)
{
    return strncmp(p, "commit.", 7) == 0 && strcmp(p, "commit.prepared") != 0;
}

#define TESTINST_PREFIX "test_crash"
#include "testinst.h"

static shmets_term T(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static shmets_term T(const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    shmets_term t;
    if (shmets_term_parse(text, strlen(text), &t))
        abort();
    return t;
}

/* The ~w text of the objects under a key. */
static char *look(shmets_tab *t, const char *key_fmt, int k)
{
    shmets_term key = T(key_fmt, k), r;
    char *txt = NULL;
    if (shmets_lookup(t, key, &r) == 0) {
        shmets_term_format(r, &txt, NULL);
        shmets_term_free(&r);
    }
    shmets_term_free(&key);
    return txt;
}

static int ins(shmets_tab *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ins(shmets_tab *t, const char *fmt, ...)
{
    char text[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    shmets_term x;
    if (shmets_term_parse(text, strlen(text), &x))
        abort();
    int rc = shmets_insert(t, x);
    shmets_term_free(&x);
    return rc;
}

static int del(shmets_tab *t, int k)
{
    shmets_term key = T("%d", k);
    int rc = shmets_delete_key(t, key);
    shmets_term_free(&key);
    return rc;
}

static void check(shmets_tab *t)
{
    int rc = shmets_check(t);
    if (rc)
        fail_msg("shmets_check: %s (%s)", shmets_strerror(rc), shmets_errdetail());
}

/* ---- crash points ------------------------------------------------------------------------ */

/*
 * A write path: the table it starts from (prepare, in the parent), the write (run, in the
 * child), and what the table holds with the write done or not done (verify: returns 1 if
 * the write is wholly present, 0 if wholly absent, -1 for anything in between).
 */
struct path {
    const char *name;
    enum shmets_kind kind;
    void (*prepare)(shmets_tab *t);
    int (*run)(shmets_tab *t);
    int (*verify)(shmets_tab *t);
};

/* 100 keys {K, K*10}, and 40 replaced once so that limbo holds retired objects. */
static void base(shmets_tab *t)
{
    for (int k = 0; k < 100; k++)
        assert_int_equal(ins(t, "{%d,%d}", k, k * 10), 0);
    for (int k = 0; k < 40; k++)
        assert_int_equal(ins(t, "{%d,%d}", k, k * 10 + 1), 0);
}

/* The base data, intact (keys the path does not touch are all >= 60). */
static int base_intact(shmets_tab *t, int from)
{
    for (int k = from; k < 100; k++) {
        char want[64];
        snprintf(want, sizeof want, "[{%d,%d}]", k, k < 40 ? k * 10 + 1 : k * 10);
        char *got = look(t, "%d", k);
        int ok = got && strcmp(got, want) == 0;
        free(got);
        if (!ok)
            return 0;
    }
    return 1;
}

static int has(shmets_tab *t, int k, const char *want)
{
    char *got = look(t, "%d", k);
    int ok = got && strcmp(got, want) == 0;
    free(got);
    return ok;
}

static int look_is(shmets_tab *t, const char *key, const char *want)
{
    char *got = look(t, key, 0);       /* key: a term without a format directive */
    int ok = got && strcmp(got, want) == 0;
    free(got);
    return ok;
}

static int all_or_none(int yes, int no)
{
    return yes ? 1 : no ? 0 : -1;
}

static int run_insert_one(shmets_tab *t) { return ins(t, "{1000,new}"); }
static int verify_insert_one(shmets_tab *t)
{
    if (!base_intact(t, 0)) return -1;
    return all_or_none(has(t, 1000, "[{1000,new}]"), has(t, 1000, "[]"));
}

static int run_replace(shmets_tab *t) { return ins(t, "{50,replaced}"); }
static int verify_replace(shmets_tab *t)
{
    if (!base_intact(t, 51)) return -1;
    return all_or_none(has(t, 50, "[{50,replaced}]"), has(t, 50, "[{50,500}]"));
}

/* 60 new keys in one list: the hash array doubles inside the same publish. */
static int run_insert_list(shmets_tab *t)
{
    char text[8192];
    size_t n = 0;
    n += (size_t)snprintf(text + n, sizeof text - n, "[");
    for (int k = 2000; k < 2100; k++)          /* over 64 keys: the index grows before they are placed */
        n += (size_t)snprintf(text + n, sizeof text - n, "%s{%d,%d}", k > 2000 ? "," : "", k, k);
    snprintf(text + n, sizeof text - n, "]");
    return ins(t, "%s", text);
}
static int verify_insert_list(shmets_tab *t)
{
    if (!base_intact(t, 0)) return -1;
    int yes = 0, no = 0;
    for (int k = 2000; k < 2100; k++) {
        char want[64];
        snprintf(want, sizeof want, "[{%d,%d}]", k, k);
        yes += has(t, k, want);
        no += has(t, k, "[]");
    }
    return all_or_none(yes == 100, no == 100);
}

static int run_delete(shmets_tab *t) { return del(t, 55); }
static int verify_delete(shmets_tab *t)
{
    if (!base_intact(t, 56)) return -1;
    return all_or_none(has(t, 55, "[]"), has(t, 55, "[{55,550}]"));
}

/* Deleting 90 of 100 keys one by one shrinks the array; the crash hits whichever delete
 * reaches the point first, so every delete before it must be complete. */
static int deleted_upto;
static int run_delete_many(shmets_tab *t)
{
    for (int k = 0; k < 90; k++) {
        int rc = del(t, k);
        if (rc)
            return rc;
    }
    return 0;
}
static int verify_delete_many(shmets_tab *t)
{
    /* A prefix 0..j-1 is gone, key j may be gone or not, the rest is intact. */
    int j = 0;
    while (j < 90 && has(t, j, "[]"))
        j++;
    deleted_upto = j;
    if (!base_intact(t, j + 1 > 90 ? 90 : j + 1) && !base_intact(t, j))
        return -1;
    return j == 90 ? 1 : 0;
}

static void prepare_bag(shmets_tab *t)
{
    base(t);
    assert_int_equal(ins(t, "[{bag,1},{bag,2}]"), 0);
}
static int run_bag_append(shmets_tab *t) { return ins(t, "[{bag,3},{bag,2},{bag,4}]"); }
static int verify_bag_append(shmets_tab *t)
{
    if (!base_intact(t, 40)) return -1;         /* in a bag, base()'s "replacements" appended */
    char *got = look(t, "bag", 0);
    int yes = got && strcmp(got, "[{bag,1},{bag,2},{bag,3},{bag,4}]") == 0;
    int no = got && strcmp(got, "[{bag,1},{bag,2}]") == 0;
    free(got);
    return all_or_none(yes, no);
}

static int run_insert_new(shmets_tab *t)
{
    shmets_term x = T("[{3000,a},{3001,b}]");
    int ok, rc = shmets_insert_new(t, x, &ok);
    shmets_term_free(&x);
    return rc ? rc : ok ? 0 : -1;
}
static int verify_insert_new(shmets_tab *t)
{
    if (!base_intact(t, 0)) return -1;
    return all_or_none(has(t, 3000, "[{3000,a}]") && has(t, 3001, "[{3001,b}]"),
                       has(t, 3000, "[]") && has(t, 3001, "[]"));
}

/* Reclamation is a write path too: it frees limbo's blocks and chunks. */
static int run_reclaim(shmets_tab *t) { return shmets_reclaim(t, 0, NULL); }
static int verify_reclaim(shmets_tab *t) { return base_intact(t, 0) ? 1 : -1; }

/* A reader killed inside its read section while 600 replacements retire memory: limbo grows
 * to several chunks that only a reclamation which finds the reader dead can drain; draining
 * it gives the spare chunks back (limbo.c L.7). */
static void prepare_dead_reader(shmets_tab *t)
{
    base(t);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_init();
        shmets *d;
        if (shmets_open(inst, &d) || shmets_read_begin(d))
            _exit(10);
        char c = 1;
        if (write(p[1], &c, 1) != 1)
            _exit(11);
        for (;;)
            pause();
    }
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    for (int i = 0; i < 600; i++)
        assert_int_equal(ins(t, "{%d,%d}", 1000 + i % 50, i), 0);
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    close(p[0]);
    close(p[1]);
    assert_true(t->h->limbo.entries > 2 * LIMBO_CHUNK);
}

static int run_counter(shmets_tab *t)
{
    shmets_term k = T("50"), op = T("{2, 7}"), r;
    int rc = shmets_update_counter(t, k, op, NULL, &r);
    shmets_term_free(&k);
    shmets_term_free(&op);
    shmets_term_free(&r);
    return rc;
}
static int verify_counter(shmets_tab *t)
{
    if (!base_intact(t, 51)) return -1;
    return all_or_none(has(t, 50, "[{50,507}]"), has(t, 50, "[{50,500}]"));
}

static int run_delete_all(shmets_tab *t) { return shmets_delete_all_objects(t); }
static int verify_delete_all(shmets_tab *t)
{
    int none = 1;                       /* (the probe written after the crash is there) */
    for (int k = 0; k < 100 && none; k++)
        none = has(t, k, "[]");
    return base_intact(t, 0) ? 0 : none ? 1 : -1;
}

static int run_delete_object(shmets_tab *t)
{
    shmets_term o = T("{bag, 1}");
    int rc = shmets_delete_object(t, o);
    shmets_term_free(&o);
    return rc;
}
static int verify_delete_object(shmets_tab *t)
{
    if (!base_intact(t, 40)) return -1;
    return all_or_none(look_is(t, "bag", "[{bag,2},{bag,2}]"),
                       look_is(t, "bag", "[{bag,1},{bag,2},{bag,1},{bag,2}]"));
}

static void prepare_dbag(shmets_tab *t)
{
    base(t);
    assert_int_equal(ins(t, "[{bag,1},{bag,2},{bag,1},{bag,2}]"), 0);
}

static const struct path paths[] = {
    { "insert one", SHMETS_SET, base, run_insert_one, verify_insert_one },
    { "replace", SHMETS_SET, base, run_replace, verify_replace },
    { "insert list with resize", SHMETS_SET, base, run_insert_list, verify_insert_list },
    { "delete", SHMETS_SET, base, run_delete, verify_delete },
    { "delete many with shrink", SHMETS_SET, base, run_delete_many, verify_delete_many },
    { "bag append", SHMETS_BAG, prepare_bag, run_bag_append, verify_bag_append },
    { "insert_new", SHMETS_SET, base, run_insert_new, verify_insert_new },
    { "reclaim", SHMETS_SET, base, run_reclaim, verify_reclaim },
    { "reclaim after a dead reader", SHMETS_SET, prepare_dead_reader, run_reclaim, verify_reclaim },
    { "ordered_set replace", SHMETS_ORDERED_SET, base, run_replace, verify_replace },
    { "ordered_set insert list", SHMETS_ORDERED_SET, base, run_insert_list, verify_insert_list },
    { "ordered_set delete many", SHMETS_ORDERED_SET, base, run_delete_many, verify_delete_many },
    { "update_counter", SHMETS_SET, base, run_counter, verify_counter },
    { "delete_all_objects", SHMETS_SET, base, run_delete_all, verify_delete_all },
    { "delete_object", SHMETS_DUPLICATE_BAG, prepare_dbag, run_delete_object, verify_delete_object },
};
#define NPATHS (sizeof paths / sizeof paths[0])

/* Repairs done on a table: over its stripes and its heap lock. */
static uint32_t recoveries(shmets_tab *t)
{
    uint32_t n = atomic_load(&t->h->hlock.recoveries);
    for (int i = 0; i < TAB_STRIPES; i++)
        n += atomic_load(&t->h->stripe[i].lock.recoveries);
    return n;
}

static void crash_points(int write_concurrency)
{
    int hit[NPOINTS] = { 0 };
    for (size_t pi = 0; pi < NPATHS; pi++) {
        const struct path *P = &paths[pi];
        for (size_t ci = 0; ci < NPOINTS; ci++) {
            shmets_opts o;
            shmets_opts_init(&o);
            o.kind = P->kind;
            o.access = SHMETS_PUBLIC;
            o.write_concurrency = write_concurrency;
            shmets_tab *t;
            assert_int_equal(shmets_new(db, "crash", &o, &t), 0);
            P->prepare(t);
            check(t);
            uint64_t id = shmets_id(t);
            uint32_t repairs = recoveries(t);
            pid_t pid = fork();
            assert_true(pid >= 0);
            if (pid == 0) {
                child_init();
                setenv("SHMETS_CRASH_AT", points[ci], 1);
                shmets *d;
                shmets_tab *c;
                if (shmets_open(inst, &d) || shmets_attach(d, id, &c))
                    _exit(10);
                _exit(P->run(c) == 0 ? 0 : 11);
            }
            int status;
            assert_int_equal(waitpid(pid, &status, 0), pid);
            assert_true(WIFEXITED(status));
            int code = WEXITSTATUS(status);
            if (code != 0 && code != CRASH_EXIT)
                fail_msg("%s at %s: child exited %d", P->name, points[ci], code);
            /* A write of one key right after the crash, before anything else takes the
             * lock: it must repair first, and must survive the repair of whatever the dead
             * writer left (on a striped table its stripe may differ from the dead writer's). */
            assert_int_equal(ins(t, "{probe,%d}", (int)ci), 0);
            int rc = shmets_check(t);
            if (rc)
                fail_msg("%s, crashed at %s: shmets_check: %s (%s)", P->name, points[ci], shmets_strerror(rc),
                         shmets_errdetail());
            char want[32];
            snprintf(want, sizeof want, "[{probe,%d}]", (int)ci);
            char *got = look(t, "probe", 0);
            if (!got || strcmp(got, want) != 0)
                fail_msg("%s, crashed at %s: the write made after the crash is lost (%s)", P->name, points[ci],
                         got ? got : "?");
            free(got);
            int v = P->verify(t);
            if (v < 0)
                fail_msg("%s, crashed at %s (exit %d): the table holds part of the write, or lost data",
                         P->name, points[ci], code);
            if (code == 0 && v != 1)
                fail_msg("%s, not crashed (%s not on its path): the write is missing", P->name, points[ci]);
            if (code == CRASH_EXIT) {
                hit[ci]++;
                assert_true(recoveries(t) > repairs);
                if (after_commit(points[ci]) && v != 1 && !strstr(P->name, "delete many"))
                    fail_msg("%s, crashed at %s after the commit point: the write was not completed",
                             P->name, points[ci]);
                if (strncmp(points[ci], "insert.", 7) == 0 && v != 0)
                    fail_msg("%s, crashed at %s before the commit point: the write is there", P->name, points[ci]);
            }
            /* Usable, and retired memory (orphans included) comes back. */
            assert_int_equal(ins(t, "{recovered,crash}"), 0);
            assert_int_equal(shmets_reclaim(t, 0, NULL), 0);
            assert_int_equal(t->h->limbo.entries, 0);
            check(t);
            assert_int_equal(shmets_delete(t), 0);
        }
    }
    for (size_t ci = 0; ci < NPOINTS; ci++)
        if (!hit[ci])
            fail_msg("crash point %s was reached by no write path", points[ci]);
}

static void test_every_crash_point(void **s)
{
    (void)s;
    crash_points(0);
}

/* The same with write_concurrency: a dead writer held one stripe (and maybe the heap lock);
 * its stripe's intent is replayed and the sweep runs at the next all-stripes lock. */
static void test_every_crash_point_striped(void **s)
{
    (void)s;
    crash_points(1);
}

/* ---- SIGKILL at random moments ------------------------------------------------------------ */

#define KEYS 64

/* What the writer acknowledged, in shared memory: for each key the value of the last write
 * that returned (-1: deleted), and the write under way (pending_key >= 0). */
struct acks {
    volatile int64_t val[KEYS];
    volatile int pending_key[8];
    volatile int64_t pending_val[8];
    volatile int npending;
    volatile uint64_t ops;
};

static void writer(shmets_tab *t, struct acks *a, unsigned seed)
{
    for (uint64_t i = 1;; i++) {
        seed = seed * 1103515245u + 12345u;
        int k = (int)((seed >> 8) % KEYS);
        int what = (int)((seed >> 20) % 8);
        int64_t v = (int64_t)(a->ops + 1) * 1000 + k;
        if (what == 0) {
            a->pending_key[0] = k;
            a->pending_val[0] = -1;
            a->npending = 1;
            if (del(t, k))
                _exit(20);
            a->val[k] = -1;
        } else if (what == 1) {                 /* a list of 4 keys */
            char text[512];
            size_t n = 0;
            n += (size_t)snprintf(text + n, sizeof text - n, "[");
            for (int j = 0; j < 4; j++) {
                int kk = (k + j * 7) % KEYS;
                a->pending_key[j] = kk;
                a->pending_val[j] = v + j;
                n += (size_t)snprintf(text + n, sizeof text - n, "%s{%d,%lld}", j ? "," : "", kk, (long long)(v + j));
            }
            snprintf(text + n, sizeof text - n, "]");
            a->npending = 4;
            if (ins(t, "%s", text))
                _exit(21);
            for (int j = 0; j < 4; j++)
                a->val[a->pending_key[j]] = a->pending_val[j];
        } else {
            a->pending_key[0] = k;
            a->pending_val[0] = v;
            a->npending = 1;
            if (ins(t, "{%d,%lld,<<\"%0*d\">>}", k, (long long)v, (int)(seed % 300), 7))
                _exit(22);
            a->val[k] = v;
        }
        a->npending = 0;
        a->ops++;
    }
}

static int64_t value_of(shmets_tab *t, int k)
{
    char *got = look(t, "%d", k);
    if (!got)
        return -2;
    int64_t v = -1;
    if (strcmp(got, "[]") != 0) {
        long long x;
        char fmt[32];
        snprintf(fmt, sizeof fmt, "[{%d,%%lld", k);
        if (sscanf(got, fmt, &x) != 1)
            v = -3;
        else
            v = x;
    }
    free(got);
    return v;
}

static void sigkill_writers(int write_concurrency, enum shmets_kind kind)
{
    struct acks *a = mmap(NULL, sizeof *a, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(a != MAP_FAILED);
    for (int k = 0; k < KEYS; k++)
        a->val[k] = -1;
    shmets_opts o;
    shmets_opts_init(&o);
    o.access = SHMETS_PUBLIC;
    o.kind = kind;
    o.write_concurrency = write_concurrency;
    shmets_tab *t;
    assert_int_equal(shmets_new(db, "killed", &o, &t), 0);
    uint64_t id = shmets_id(t);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    unsigned seed = (unsigned)now.tv_nsec;
    int kills = 0, recovered = 0;
    uint64_t ops = 0;
    int rounds = 40 * (int)stress_factor();
    for (int round = 0; round < rounds; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            child_init();
            shmets *d;
            shmets_tab *c;
            if (shmets_open(inst, &d) || shmets_attach(d, id, &c))
                _exit(10);
            writer(c, a, seed + (unsigned)round * 7919u);
        }
        seed = seed * 1103515245u + 12345u;
        struct timespec ts = { 0, (long)(1 + seed % 15) * 1000000L };
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status))
            fail_msg("writer exited %d instead of being killed", WEXITSTATUS(status));
        kills++;
        uint32_t before = recoveries(t);
        check(t);
        recovered += recoveries(t) != before;
        for (int k = 0; k < KEYS; k++) {
            int64_t v = value_of(t, k);
            int ok = v == a->val[k];
            for (int j = 0; j < a->npending && !ok; j++)
                ok = a->pending_key[j] == k && a->pending_val[j] == v;
            if (!ok)
                fail_msg("round %d: key %d holds %lld; acknowledged %lld", round, k, (long long)v,
                         (long long)a->val[k]);
        }
        /* The pending write is now settled: fold it in as the table has it. */
        for (int j = 0; j < a->npending; j++)
            a->val[a->pending_key[j]] = value_of(t, a->pending_key[j]);
        a->npending = 0;
        ops = a->ops;
    }
    assert_int_equal(shmets_reclaim(t, 0, NULL), 0);
    check(t);
    print_message("      %d writers killed, %d of them holding the lock (repaired), %llu writes acknowledged, 0 lost\n",
                  kills, recovered, (unsigned long long)ops);
    assert_int_equal(shmets_delete(t), 0);
    munmap(a, sizeof *a);
}

static void test_sigkill_writer(void **s)
{
    (void)s;
    sigkill_writers(0, SHMETS_SET);
}

/* The same on an ordered_set: skip-list links, a replacement of a node's object. */
static void test_sigkill_writer_ordered(void **s)
{
    (void)s;
    sigkill_writers(0, SHMETS_ORDERED_SET);
}

static void test_sigkill_writer_striped(void **s)
{
    (void)s;
    sigkill_writers(1, SHMETS_SET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_crash_point, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_crash_point_striped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_writer_ordered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_writer_striped, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
