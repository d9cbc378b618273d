/*
 * test_threads.c — threads of one process sharing an instance handle and table handles, as
 * shmets.h allows ("a process opens an instance once and shares the handle among its
 * threads"; lookups are lock-free and thread-safe).  This is the test `make check
 * SANITIZE=thread` runs under ThreadSanitizer (with test_ms's threads): the library's
 * process-local state (the handle's table list and reader registration, thread-specific
 * reader slots, the per-thread error detail) and its shared-memory protocols as far as one
 * process exercises them (RCU read sections against writers that retire and reclaim, striped
 * writer locks, a skip list read while it changes).
 *
 * Threads never call cmocka's assertions (they longjmp); each records its first failure in
 * its struct and the main thread asserts after joining.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "shmets.h"

#define TESTINST_PREFIX "tthreads"
#include "testinst.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRITERS 2
#define READERS 2
#define KEYS    200             /* keys per writer */
#define ROUNDS  60
#define VLEN    48

struct worker {
    shmets_tab *t;
    int id;
    _Atomic int *stop;
    char err[256];
    uint64_t ops;
};

static void failf(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void failf(struct worker *w, const char *fmt, ...)
{
    if (w->err[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof w->err, fmt, ap);
    va_end(ap);
}

/* Key of writer w's key i, and a value whose every byte is the round's low byte, so that a
 * reader sees at once a torn value or memory reused under it. */
static size_t mkkey(char *buf, int w, int i)
{
    return (size_t)snprintf(buf, 32, "w%d.k%04d", w, i);
}

static void mkval(unsigned char *v, int round)
{
    memset(v, round & 0xff, VLEN);
}

static bool val_ok(const unsigned char *v, size_t n)
{
    if (n != VLEN)
        return false;
    for (size_t i = 1; i < n; i++)
        if (v[i] != v[0])
            return false;
    return true;
}

/* A writer: round after round puts every one of its keys, deletes every third, and gives
 * memory back now and then.  The last round puts every key with value ROUNDS. */
static void *writer(void *arg)
{
    struct worker *w = arg;
    unsigned char v[VLEN];
    char k[32];
    for (int round = 1; round <= ROUNDS && !w->err[0]; round++) {
        mkval(v, round);
        for (int i = 0; i < KEYS && !w->err[0]; i++) {
            size_t kl = mkkey(k, w->id, i);
            int rc = shmets_kv_put(w->t, k, kl, v, VLEN);
            if (rc)
                failf(w, "writer %d: kv_put %s: %s (%s)", w->id, k, shmets_strerror(rc), shmets_errdetail());
            if (round < ROUNDS && i % 3 == round % 3 && (rc = shmets_kv_del(w->t, k, kl)) != 0)
                failf(w, "writer %d: kv_del %s: %s", w->id, k, shmets_strerror(rc));
            w->ops++;
        }
        if (round % 10 == 0) {
            int rc = shmets_reclaim(w->t, 0, NULL);
            if (rc)
                failf(w, "writer %d: reclaim: %s", w->id, shmets_strerror(rc));
        }
    }
    return NULL;
}

/* A reader: copying lookups, and views inside read sections that must stay intact until the
 * section ends although writers replace and reclaim meanwhile. */
static void *reader(void *arg)
{
    struct worker *w = arg;
    shmets *d = db;
    unsigned seed = (unsigned)w->id * 7919u + 1;
    unsigned char buf[VLEN];
    char k[32];
    do {                                /* at least once, however soon the writers end */
        int wid = (int)(rand_r(&seed) % WRITERS), i = (int)(rand_r(&seed) % KEYS);
        size_t kl = mkkey(k, wid, i), vl;
        int rc = shmets_kv_get(w->t, k, kl, buf, sizeof buf, &vl);
        if (rc == 0 && !val_ok(buf, vl))
            failf(w, "reader %d: %s has a torn value", w->id, k);
        else if (rc && rc != -SHMETS_ENOKEY)
            failf(w, "reader %d: kv_get %s: %s", w->id, k, shmets_strerror(rc));
        if ((rc = shmets_read_begin(d)) != 0) {
            failf(w, "reader %d: read_begin: %s", w->id, shmets_strerror(rc));
            break;
        }
        const void *views[8];
        size_t lens[8], nv = 0;
        for (int j = 0; j < 8; j++) {
            kl = mkkey(k, (int)(rand_r(&seed) % WRITERS), (int)(rand_r(&seed) % KEYS));
            rc = shmets_kv_view(w->t, k, kl, &views[nv], &lens[nv]);
            if (rc == 0)
                nv++;
            else if (rc != -SHMETS_ENOKEY)
                failf(w, "reader %d: kv_view: %s", w->id, shmets_strerror(rc));
        }
        sched_yield();                  /* let writers retire what the views show */
        for (size_t j = 0; j < nv; j++)
            if (!val_ok(views[j], lens[j]))
                failf(w, "reader %d: a view changed inside its read section", w->id);
        shmets_read_end(d);
        w->ops++;
    } while (!atomic_load(w->stop) && !w->err[0]);
    return NULL;
}

static void run_workers(shmets_tab *t)
{
    pthread_t th[WRITERS + READERS];
    struct worker wk[WRITERS + READERS];
    _Atomic int stop = 0;
    for (int i = 0; i < WRITERS + READERS; i++) {
        wk[i] = (struct worker){ .t = t, .id = i < WRITERS ? i : i - WRITERS, .stop = &stop };
        assert_int_equal(pthread_create(&th[i], NULL, i < WRITERS ? writer : reader, &wk[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(th[i], NULL);
    atomic_store(&stop, 1);
    for (int i = WRITERS; i < WRITERS + READERS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < WRITERS + READERS; i++)
        if (wk[i].err[0])
            fail_msg("%s", wk[i].err);
    for (int i = WRITERS; i < WRITERS + READERS; i++)
        assert_true(wk[i].ops > 0);

    /* Every key holds its last round's value; the table checks. */
    unsigned char buf[VLEN], want[VLEN];
    char k[32];
    mkval(want, ROUNDS);
    for (int w = 0; w < WRITERS; w++)
        for (int i = 0; i < KEYS; i++) {
            size_t kl = mkkey(k, w, i), vl;
            assert_int_equal(shmets_kv_get(t, k, kl, buf, sizeof buf, &vl), 0);
            assert_int_equal(vl, VLEN);
            assert_memory_equal(buf, want, VLEN);
        }
    uint64_t n;
    assert_int_equal(shmets_size(t, &n), 0);
    assert_int_equal(n, WRITERS * KEYS);
    int rc = shmets_check(t);
    if (rc)
        fail_msg("shmets_check: %s (%s)", shmets_strerror(rc), shmets_errdetail());
}

/* Writers and readers share one table handle: a set with striped writer locks. */
static void test_set_shared_handle(void **state)
{
    (void)state;
    shmets_opts o;
    shmets_opts_init(&o);
    o.access = SHMETS_PUBLIC;
    o.write_concurrency = true;
    shmets_tab *t;
    assert_int_equal(shmets_new(db, "tset", &o, &t), 0);
    run_workers(t);
    assert_int_equal(shmets_delete(t), 0);
}

/* The same on an ordered_set (a skip list read while it changes). */
static void test_ordered_shared_handle(void **state)
{
    (void)state;
    shmets_opts o;
    shmets_opts_init(&o);
    o.kind = SHMETS_ORDERED_SET;
    o.access = SHMETS_PUBLIC;
    shmets_tab *t;
    assert_int_equal(shmets_new(db, "tord", &o, &t), 0);
    run_workers(t);
    assert_int_equal(shmets_delete(t), 0);
}

/* ---- handles made and dropped by many threads at once ---- */

#define CHURN_THREADS 4
#define CHURN_ROUNDS  25

static void *churn(void *arg)
{
    struct worker *w = arg;
    char name[32], other[32];
    for (int r = 0; r < CHURN_ROUNDS && !w->err[0]; r++) {
        snprintf(name, sizeof name, "churn%d", w->id);
        shmets_opts o;
        shmets_opts_init(&o);
        o.named = true;
        o.access = SHMETS_PUBLIC;
        shmets_tab *t, *u;
        int rc = shmets_new(db, name, &o, &t);
        if (rc) {
            failf(w, "churn %d: new: %s (%s)", w->id, shmets_strerror(rc), shmets_errdetail());
            break;
        }
        char k[16];
        int kl = snprintf(k, sizeof k, "r%d", r);
        if ((rc = shmets_kv_put(t, k, (size_t)kl, "v", 1)) != 0)
            failf(w, "churn %d: put: %s", w->id, shmets_strerror(rc));
        /* Another thread's table, if it exists now: attach, read, detach. */
        snprintf(other, sizeof other, "churn%d", (w->id + 1) % CHURN_THREADS);
        rc = shmets_attach_name(db, other, &u);
        if (rc == 0) {
            uint64_t n;
            rc = shmets_size(u, &n);
            if (rc && rc != -SHMETS_ENOENT)
                failf(w, "churn %d: size of %s: %s", w->id, other, shmets_strerror(rc));
            shmets_detach(u);
        } else if (rc != -SHMETS_ENOENT) {
            failf(w, "churn %d: attach %s: %s", w->id, other, shmets_strerror(rc));
        }
        uint64_t *ids;
        size_t nids;
        if ((rc = shmets_all(db, &ids, &nids)) != 0)
            failf(w, "churn %d: all: %s", w->id, shmets_strerror(rc));
        else
            free(ids);
        if ((rc = shmets_delete(t)) != 0)
            failf(w, "churn %d: delete: %s", w->id, shmets_strerror(rc));
        w->ops++;
    }
    return NULL;
}

static void test_handle_churn(void **state)
{
    (void)state;
    pthread_t th[CHURN_THREADS];
    struct worker wk[CHURN_THREADS];
    for (int i = 0; i < CHURN_THREADS; i++) {
        wk[i] = (struct worker){ .id = i };
        assert_int_equal(pthread_create(&th[i], NULL, churn, &wk[i]), 0);
    }
    for (int i = 0; i < CHURN_THREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < CHURN_THREADS; i++) {
        if (wk[i].err[0])
            fail_msg("%s", wk[i].err);
        assert_int_equal(wk[i].ops, CHURN_ROUNDS);
    }
    uint64_t *ids;
    size_t n;
    assert_int_equal(shmets_all(db, &ids, &n), 0);
    assert_int_equal(n, 0);
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_shared_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ordered_shared_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handle_churn, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
