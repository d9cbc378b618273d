/*
 * test_range.c — range views (shmets_range_view, shm/table/tabview.c): what a program that
 * scans an ordered_set by key range relies on — where a range starts (at, after, before a key
 * that is there or not; 1 == 1.0), which way it goes, that a key's objects are never split,
 * that a walk resumed from the last key sees every key once, and that a walk stays in order
 * while another process writes the table under it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "shmets.h"

#define TESTINST_PREFIX "trange"
#include "testinst.h"
#include "termpool.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>


/* The views' text, comma-separated. */
static void assert_views(const shmets_term *v, size_t n, const char *want)
{
    char got[1024] = "";
    for (size_t i = 0; i < n; i++) {
        char *s;
        assert_int_equal(shmets_term_format(v[i], &s, NULL), 0);
        if (i)
            strcat(got, ",");
        assert_true(strlen(got) + strlen(s) < sizeof got);
        strcat(got, s);
        free(s);
    }
    assert_string_equal(got, want);
}

/* Processes a test started, ended by the teardown even when an assertion failed first (and
 * by the kernel if this process dies: PR_SET_PDEATHSIG). */
static pid_t kids[2];

static pid_t kid(void)
{
    pid_t parent = getpid(), p = fork();
    assert_true(p >= 0);
    if (p == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(0);
        return 0;
    }
    for (int i = 0; i < 2; i++)
        if (!kids[i]) {
            kids[i] = p;
            return p;
        }
    fail_msg("more than two children");
    return p;
}

/* SIGKILL a child and reap it: 1 if it was still running (it never stopped on a failure). */
static int end_kid(pid_t p)
{
    int st;
    kill(p, SIGKILL);
    if (waitpid(p, &st, 0) != p)
        return 0;
    for (int i = 0; i < 2; i++)
        if (kids[i] == p)
            kids[i] = 0;
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

static int done_kids(void **s)
{
    for (int i = 0; i < 2; i++)
        if (kids[i])
            end_kid(kids[i]);
    return done(s);
}

static shmets_tab *mk(enum shmets_kind kind, const char *name, const char *objs)
{
    shmets_opts o;
    shmets_opts_init(&o);
    o.kind = kind;
    o.access = SHMETS_PUBLIC;
    shmets_tab *t;
    assert_int_equal(shmets_new(db, name, &o, &t), 0);
    if (objs)
        assert_int_equal(shmets_insert(t, P(objs)), 0);
    return t;
}

/* Where a range starts and which way it goes, on an ordered_set. */
static void test_ordered(void **s)
{
    (void)s;
    shmets_tab *t = mk(SHMETS_ORDERED_SET, "o", "[{1,a},{2,b},{3,c},{5,e},{8,h},{x,z}]");
    shmets_term v[8], none = { NULL, 0 };
    size_t n = 99;
    assert_int_equal(shmets_range_view(t, none, 0, v, 8, &n), -SHMETS_EINVAL);   /* no section */
    assert_int_equal(n, 0);
    assert_int_equal(shmets_read_begin(db), 0);
    assert_int_equal(shmets_range_view(t, none, 0, v, 3, &n), 0);
    assert_views(v, n, "{1,a},{2,b},{3,c}");
    assert_int_equal(shmets_range_view(t, P("3"), 0, v, 8, &n), 0);             /* at 3 */
    assert_views(v, n, "{3,c},{5,e},{8,h},{x,z}");
    assert_int_equal(shmets_range_view(t, P("3"), SHMETS_RANGE_AFTER, v, 2, &n), 0);
    assert_views(v, n, "{5,e},{8,h}");
    assert_int_equal(shmets_range_view(t, P("4"), 0, v, 2, &n), 0);             /* absent */
    assert_views(v, n, "{5,e},{8,h}");
    assert_int_equal(shmets_range_view(t, P("2.0"), 0, v, 1, &n), 0);           /* 2.0 == 2 */
    assert_views(v, n, "{2,b}");
    assert_int_equal(shmets_range_view(t, P("2.0"), SHMETS_RANGE_AFTER, v, 1, &n), 0);
    assert_views(v, n, "{3,c}");
    assert_int_equal(shmets_range_view(t, P("4"), SHMETS_RANGE_REVERSE, v, 8, &n), 0);
    assert_views(v, n, "{3,c},{2,b},{1,a}");
    assert_int_equal(shmets_range_view(t, P("3"), SHMETS_RANGE_REVERSE, v, 8, &n), 0);
    assert_views(v, n, "{3,c},{2,b},{1,a}");
    assert_int_equal(shmets_range_view(t, P("3"), SHMETS_RANGE_REVERSE | SHMETS_RANGE_AFTER, v, 8, &n), 0);
    assert_views(v, n, "{2,b},{1,a}");
    assert_int_equal(shmets_range_view(t, none, SHMETS_RANGE_REVERSE, v, 2, &n), 0);
    assert_views(v, n, "{x,z},{8,h}");
    assert_int_equal(shmets_range_view(t, P("y"), 0, v, 8, &n), 0);             /* past the end */
    assert_int_equal(n, 0);
    assert_int_equal(shmets_range_view(t, P("0"), SHMETS_RANGE_REVERSE, v, 8, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(shmets_range_view(t, P("x"), SHMETS_RANGE_AFTER, v, 8, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(shmets_range_view(t, P("1"), 0, v, 0, &n), 0);             /* max 0 */
    assert_int_equal(n, 0);
    assert_int_equal(shmets_range_view(t, none, 4, v, 8, &n), -SHMETS_EINVAL);  /* unknown flag */
    assert_int_equal(shmets_range_view(t, none, 0, NULL, 8, &n), -SHMETS_EINVAL);
    assert_int_equal(shmets_range_view(NULL, none, 0, v, 8, &n), -SHMETS_EINVAL);
    shmets_read_end(db);
}

/* A bag's key comes whole or not at all; a key with more objects than max is -SHMETS_ERANGE. */
static void test_bag(void **s)
{
    (void)s;
    shmets_tab *t = mk(SHMETS_DUPLICATE_BAG, "b", "[{k,1},{k,2},{k,1},{j,0},{m,7}]");
    shmets_term v[8], none = { NULL, 0 };
    size_t n, seen = 0;
    assert_int_equal(shmets_read_begin(db), 0);
    assert_int_equal(shmets_range_view(t, P("k"), 0, v, 2, &n), -SHMETS_ERANGE);
    assert_int_equal(n, 3);
    assert_int_equal(shmets_range_view(t, P("k"), 0, v, 3, &n), 0);
    assert_views(v, n, "{k,1},{k,2},{k,1}");
    /* Every key once through continuations of max 3: k's three never share a chunk. */
    shmets_term from = none, key;
    unsigned flags = 0;
    for (int round = 0; round < 10; round++) {
        assert_int_equal(shmets_range_view(t, from, flags, v, 3, &n), 0);
        if (n == 0)
            break;
        size_t ks = 0;
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(shmets_term_tuple_element(v[i], 1, &key), 0);
            ks += shmets_term_compare(key, P("k")) == 0;
        }
        assert_true(ks == 0 || ks == 3);
        seen += n;
        assert_int_equal(shmets_term_tuple_element(v[n - 1], 1, &from), 0);
        flags = SHMETS_RANGE_AFTER;
    }
    assert_int_equal(seen, 5);
    shmets_read_end(db);
}

/* A hash table's range follows its traversal order (first/next); reverse is forward there. */
static void test_hash(void **s)
{
    (void)s;
    shmets_tab *t = mk(SHMETS_SET, "h", NULL);
    for (int i = 0; i < 50; i++) {
        char b[32];
        snprintf(b, sizeof b, "{%d, v}", i * 7);
        shmets_term x;
        assert_int_equal(shmets_term_parse(b, strlen(b), &x), 0);
        assert_int_equal(shmets_insert(t, x), 0);
        shmets_term_free(&x);
    }
    /* The order first/next give. */
    shmets_term order[50], k;
    assert_int_equal(shmets_first(t, &order[0]), 0);
    for (int i = 1; i < 50; i++)
        assert_int_equal(shmets_next(t, order[i - 1], &order[i]), 0);
    assert_int_equal(shmets_next(t, order[49], &k), 0);
    assert_null(k.ptr);                         /* '$end_of_table' */
    for (unsigned rev = 0; rev <= SHMETS_RANGE_REVERSE; rev += SHMETS_RANGE_REVERSE) {
        shmets_term v[7], from = { NULL, 0 };
        unsigned flags = rev;
        int at = 0;
        assert_int_equal(shmets_read_begin(db), 0);
        for (;;) {
            size_t n;
            assert_int_equal(shmets_range_view(t, from, flags, v, 7, &n), 0);
            if (n == 0)
                break;
            for (size_t i = 0; i < n; i++, at++) {
                assert_true(at < 50);
                assert_int_equal(shmets_term_tuple_element(v[i], 1, &k), 0);
                assert_int_equal(shmets_term_compare(k, order[at]), 0);
            }
            from = k;
            flags = rev | SHMETS_RANGE_AFTER;
        }
        assert_int_equal(at, 50);
        /* At a key that is there: it comes first. */
        size_t n;
        assert_int_equal(shmets_range_view(t, order[20], rev, v, 2, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(shmets_term_tuple_element(v[0], 1, &k), 0);
        assert_int_equal(shmets_term_compare(k, order[20]), 0);
        assert_int_equal(shmets_term_tuple_element(v[1], 1, &k), 0);
        assert_int_equal(shmets_term_compare(k, order[21]), 0);
        shmets_read_end(db);
    }
    for (int i = 0; i < 50; i++)
        shmets_term_free(&order[i]);
}

/*
 * Another process writes the table, and a third reclaims what it retires, while this one walks
 * it by ranges, one read section a chunk, going on from the last key: the even keys, which stay, are each seen exactly once and
 * in order; the odd ones, which the writer deletes and inserts again and again, may or may not
 * be.  A compressed table is refused (its objects are not terms in place).
 */
static void test_walk_under_writer(void **s)
{
    (void)s;
    enum { N = 4000 };
    shmets_tab *t = mk(SHMETS_ORDERED_SET, "w", NULL);
    shmets_builder *b;
    assert_int_equal(shmets_builder_create(&b), 0);
    for (int i = 0; i < N; i++) {
        shmets_term x;
        shmets_build_tuple(b, 2);
        shmets_build_int(b, i);
        shmets_build_int(b, i);
        assert_int_equal(shmets_builder_finish(b, &x), 0);
        assert_int_equal(shmets_insert(t, x), 0);
        shmets_term_free(&x);
    }
    pid_t w = kid();
    if (w == 0) {
        shmets *cdb;
        shmets_tab *ct;
        shmets_builder *cb;
        if (shmets_open(inst, &cdb) || shmets_attach(cdb, shmets_id(t), &ct) || shmets_builder_create(&cb))
            _exit(2);
        for (unsigned r = 1;; r++) {
            int i = (int)((r * 2654435761u) % (N / 2)) * 2 + 1;
            shmets_term x;
            shmets_build_tuple(cb, 2);
            shmets_build_int(cb, i);
            shmets_build_int(cb, (int64_t)r);
            if (shmets_builder_finish(cb, &x))
                _exit(3);
            shmets_term key;
            shmets_build_int(cb, i);
            if (shmets_builder_finish(cb, &key))
                _exit(3);
            if (r % 2 ? shmets_delete_key(ct, key) : shmets_insert(ct, x))
                _exit(4);
            shmets_term_free(&x);
            shmets_term_free(&key);
        }
    }
    /* A third process reclaims what the writer retires, as fast as it can: the views a walk
     * holds must outlive every reclamation while their section lasts. */
    pid_t rc_pid = kid();
    if (rc_pid == 0) {
        shmets *cdb;
        shmets_tab *ct;
        if (shmets_open(inst, &cdb) || shmets_attach(cdb, shmets_id(t), &ct))
            _exit(2);
        for (;;)
            if (shmets_reclaim(ct, 0, NULL) < 0)
                _exit(5);
    }
    /* Walk only once the writer is writing: the size changes when it deletes. */
    for (uint64_t size = N; size == N;)
        assert_int_equal(shmets_size(t, &size), 0);
    for (int pass = 0; pass < 200; pass++) {
        shmets_term v[64], from = { NULL, 0 }, k;
        unsigned char last[16];
        size_t lastlen = 0;
        unsigned flags = 0;
        int64_t prev = -1, even = 0, seen[64];
        for (;;) {
            size_t n;
            assert_int_equal(shmets_read_begin(db), 0);
            assert_int_equal(shmets_range_view(t, from, flags, v, 64, &n), 0);
            for (size_t i = 0; i < n; i++) {
                int64_t key;
                assert_int_equal(shmets_term_tuple_element(v[i], 1, &k), 0);
                assert_int_equal(shmets_term_get_int64(k, &key), 0);
                assert_true(key > prev);
                for (int64_t e = (prev + 2) / 2 * 2; e < key; e += 2)
                    fail_msg("pass %d: even key %lld skipped (after %lld, at %lld)", pass, (long long)e,
                             (long long)prev, (long long)key);
                even += key % 2 == 0;
                prev = seen[i] = key;
            }
            if (pass % 10 == 0 && n) {          /* hold the views a while, then read them again */
                usleep(300);
                for (size_t i = 0; i < n; i++) {
                    int64_t key, val;
                    shmets_term e2;
                    assert_int_equal(shmets_term_tuple_element(v[i], 1, &k), 0);
                    assert_int_equal(shmets_term_get_int64(k, &key), 0);
                    assert_int_equal(key, seen[i]);     /* not memory reused meanwhile */
                    assert_int_equal(shmets_term_tuple_element(v[i], 2, &e2), 0);
                    assert_int_equal(shmets_term_get_int64(e2, &val), 0);
                    if (key % 2 == 0)
                        assert_int_equal(val, key);
                }
            }
            if (n) {                            /* go on from a copy: the views end with the section */
                assert_true(k.len <= sizeof last);
                memcpy(last, k.ptr, k.len);
                lastlen = k.len;
            }
            shmets_read_end(db);
            if (n == 0)
                break;
            from = (shmets_term){ last, lastlen };
            flags = SHMETS_RANGE_AFTER;
        }
        assert_int_equal(even, N / 2);
    }
    assert_true(end_kid(w));                    /* it wrote until killed, never failed */
    assert_true(end_kid(rc_pid));               /* it reclaimed until killed, never failed */
    assert_int_equal(shmets_check(t), 0);
    shmets_builder_destroy(b);

    shmets_opts o;
    shmets_opts_init(&o);
    o.kind = SHMETS_ORDERED_SET;
    o.compressed = true;
    shmets_tab *c;
    shmets_term v[1];
    size_t n;
    assert_int_equal(shmets_new(db, "c", &o, &c), 0);
    assert_int_equal(shmets_insert(c, P("{1, a}")), 0);
    assert_int_equal(shmets_read_begin(db), 0);
    assert_int_equal(shmets_range_view(c, (shmets_term){ NULL, 0 }, 0, v, 1, &n), -SHMETS_EINVAL);
    shmets_read_end(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ordered, setup, done),
        cmocka_unit_test_setup_teardown(test_bag, setup, done),
        cmocka_unit_test_setup_teardown(test_hash, setup, done),
        cmocka_unit_test_setup_teardown(test_walk_under_writer, setup, done_kids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
