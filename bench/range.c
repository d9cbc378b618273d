/*
 * bench/range.c — R5 of issue 18: range reads, objects/s.  A select of 100 consecutive keys
 * from a uniformly drawn start, by P reader processes for D seconds each run.
 *
 *   build/bench/range [--objects N] [--seconds D] [--procs 1,2] [--order sequential|random]
 *
 * --order random inserts shmets's keys in a scattered order (K * 2654435761 mod N; N must then
 * be prime to 2654435761, as 1,000,000 is), as a table filled over time is: a skip list's
 * consecutive keys then lie far apart in memory, where in key order they are allocated side
 * by side.  (LMDB is loaded in key order either way: its pages hold consecutive keys.)
 *
 *   shmets   an ordered_set of N objects {{K div 100, K rem 100}, <<V:32/binary>>}; a select
 *            with the bound key prefix {B, '_'} (its specification made with the builder,
 *            bench/r5.h, and compiled for each call, as ets:select/2 does), the 100 results' values folded (each checked: V holds
 *            K in its first 8 bytes, little-endian)
 *   shmets-zc  the same table read by shmets_range_view: in a read section, the 100 objects
 *            from the key {B, 0} as views (one search, then one link a key), each value folded
 *            where it lies
 *   lmdb     (when <lmdb.h> was there at build time) N values under MDB_INTEGERKEY keys K in
 *            one read transaction per range (reset and renewed, as shmets-bench's peer does): a
 *            cursor set at B * 100, then 99 steps, each value copied and folded
 * ETS's figure comes from bench/range.escript (select with the bound prefix on a public
 * ordered_set with read_concurrency).  Output: TSV lines (case, peer, procs, objects_per_s) on
 * stdout, a sentence on stderr.  Figures, never pass/fail.
 */
#include "shmets.h"
#include "benchutil.h"
#include "r5.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if __has_include(<lmdb.h>)
#include <lmdb.h>
#define HAVE_LMDB 1
#endif

#define RANGE 100
#define VALUE 32

static long nobj = 1000000;
static int shuffled;                    /* --order random: keys inserted in a scattered order */
static double seconds = 2;
static char inst[64];
static char lmdir[128];

#define die(what, rc) bench_die("range", what, rc)

static void value_of(uint64_t k, unsigned char v[VALUE])
{
    memset(v, (int)(k & 0xff), VALUE);
    memcpy(v, &k, 8);
}

/* Fold a value; 1 if it is not key k's. */
static int fold(const unsigned char *v, uint64_t k, uint64_t *sum)
{
    uint64_t w, got;
    memcpy(&got, v, 8);
    for (int i = 0; i < VALUE; i += 8) {
        memcpy(&w, v + i, 8);
        *sum += w;
    }
    return got != k;
}

/* ---- shmets ---------------------------------------------------------------------------- */

static uint64_t shmets_id_of;

static void load_shmets(void)
{
    shmets *db;
    shmets_tab *t;
    shmets_opts o;
    shmets_opts_init(&o);
    o.kind = SHMETS_ORDERED_SET;
    o.access = SHMETS_PUBLIC;
    o.max_bytes = (uint64_t)nobj * 512 + (256ull << 20);
    int rc = shmets_open(inst, &db);
    if (rc || (rc = shmets_new(db, "r5", &o, &t)))
        die("new", rc);
    shmets_builder *b;
    shmets_builder_create(&b);
    unsigned char v[VALUE];
    for (long i = 0; i < nobj; i += 1000) {
        long m = nobj - i < 1000 ? nobj - i : 1000;
        shmets_build_list(b, (size_t)m);
        for (long j = i; j < i + m; j++) {
            long k = shuffled ? (long)(((uint64_t)j * 0x9E3779B1u + 12345) % (uint64_t)nobj) : j;
            value_of((uint64_t)k, v);
            shmets_build_tuple(b, 2);
            shmets_build_tuple(b, 2);
            shmets_build_int(b, k / RANGE);
            shmets_build_int(b, k % RANGE);
            shmets_build_binary(b, v, VALUE);
        }
        shmets_build_nil(b);
        shmets_term x;
        if ((rc = shmets_builder_finish(b, &x)) || (rc = shmets_insert(t, x)))
            die("insert", rc);
        shmets_term_free(&x);
    }
    shmets_builder_destroy(b);
    shmets_reclaim(t, 0, NULL);
    shmets_id_of = shmets_id(t);
    shmets_close(db);
}

/* The 100 objects of range bnd into objs[] (*n of them), by a select (views 0: the results
 * are copied into *res, which the caller frees) or by range views (inside a read section the
 * caller holds).  Exits on an error. */
static size_t one_range(shmets_tab *t, shmets_builder *b, uint64_t bnd, int views, shmets_term *res,
                        shmets_term objs[RANGE])
{
    shmets_term x;
    size_t n = 0;
    int rc;
    if (views) {
        shmets_build_tuple(b, 2);
        shmets_build_int(b, (int64_t)bnd);
        shmets_build_int(b, 0);
        if ((rc = shmets_builder_finish(b, &x)) || (rc = shmets_range_view(t, x, 0, objs, RANGE, &n)))
            die("range_view", rc);
        shmets_term_free(&x);
        return n;
    }
    shmets_ms *ms;
    if ((rc = r5_spec(b, bnd, &x)) || (rc = shmets_ms_compile(x, &ms)))
        die("ms", rc);
    shmets_term_free(&x);
    if ((rc = shmets_select(t, ms, false, res)))
        die("select", rc);
    shmets_ms_free(ms);
    shmets_list_iter it;
    shmets_list_begin(*res, &it);
    while (n < RANGE && shmets_list_next(&it, &objs[n]) == 1)
        n++;
    return n;
}

/* One reader: ranges for `secs` (views: by range views, else by select); objects read into
 * *objs, each value checked and folded. */
static int read_ranges(uint64_t seed, double secs, _Atomic uint64_t *objs, int views)
{
    shmets *db;
    shmets_tab *t;
    shmets_builder *b;
    int rc = shmets_open(inst, &db);
    if (rc || (rc = shmets_attach(db, shmets_id_of, &t)) || (rc = shmets_builder_create(&b)))
        die("attach", rc);
    uint64_t sum = 0, n = 0, bad = 0;
    double end = bench_now() + secs;
    while (bench_now() < end) {
        for (int j = 0; j < 16; j++) {
            uint64_t bnd = bench_rnd(&seed) % (uint64_t)(nobj / RANGE);
            shmets_term res = { NULL, 0 }, got[RANGE], el;
            if (views && (rc = shmets_read_begin(db)))
                die("read_begin", rc);
            size_t m = one_range(t, b, bnd, views, &res, got);
            for (size_t i = 0; i < m; i++) {
                const void *p;
                size_t plen;
                if (shmets_term_tuple_element(got[i], 2, &el) || shmets_term_get_binary(el, &p, &plen) ||
                    plen != VALUE)
                    bad++;
                else
                    bad += (uint64_t)fold(p, bnd * RANGE + i, &sum);
            }
            if (views)
                shmets_read_end(db);
            shmets_term_free(&res);
            bad += m != RANGE;
            n += m;
        }
    }
    atomic_fetch_add(objs, n);
    shmets_builder_destroy(b);
    shmets_detach(t);
    shmets_close(db);
    if (bad)
        fprintf(stderr, "range: shmets%s: %llu wrong values\n", views ? "-zc" : "", (unsigned long long)bad);
    return bad ? 1 : (int)(sum & 0);
}

static int read_shmets(uint64_t seed, double secs, _Atomic uint64_t *objs)
{
    return read_ranges(seed, secs, objs, 0);
}

/* Range views: a cursor's reads, zero-copy, as LMDB's. */
static int read_shmets_zc(uint64_t seed, double secs, _Atomic uint64_t *objs)
{
    return read_ranges(seed, secs, objs, 1);
}

/* ---- lmdb -------------------------------------------------------------------------------- */

#ifdef HAVE_LMDB
static void lm_die(const char *what, int rc)
{
    fprintf(stderr, "range: lmdb %s: %s\n", what, mdb_strerror(rc));
    exit(1);
}

static void load_lmdb(void)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    int rc;
    if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_mapsize(env, (size_t)nobj * 256 + (64u << 20))) ||
        (rc = mdb_env_open(env, lmdir, MDB_NOSYNC, 0644)))
        lm_die("open", rc);
    if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) || (rc = mdb_dbi_open(txn, NULL, MDB_INTEGERKEY | MDB_CREATE, &dbi)))
        lm_die("txn", rc);
    unsigned char v[VALUE];
    for (uint64_t k = 0; k < (uint64_t)nobj; k++) {
        value_of(k, v);
        MDB_val key = { sizeof k, &k }, val = { VALUE, v };
        if ((rc = mdb_put(txn, dbi, &key, &val, MDB_APPEND)))
            lm_die("put", rc);
    }
    if ((rc = mdb_txn_commit(txn)))
        lm_die("commit", rc);
    mdb_env_close(env);
}

static int read_lmdb(uint64_t seed, double secs, _Atomic uint64_t *objs)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cur;
    int rc;
    if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_mapsize(env, (size_t)nobj * 256 + (64u << 20))) ||
        (rc = mdb_env_open(env, lmdir, MDB_RDONLY | MDB_NOSYNC, 0644)))
        lm_die("open", rc);
    if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) || (rc = mdb_dbi_open(txn, NULL, MDB_INTEGERKEY, &dbi)) ||
        (rc = mdb_cursor_open(txn, dbi, &cur)))
        lm_die("txn", rc);
    mdb_txn_reset(txn);
    uint64_t sum = 0, n = 0, bad = 0;
    double end = bench_now() + secs;
    while (bench_now() < end) {
        for (int j = 0; j < 16; j++) {
            uint64_t k = bench_rnd(&seed) % (uint64_t)(nobj / RANGE) * RANGE;
            if ((rc = mdb_txn_renew(txn)) || (rc = mdb_cursor_renew(txn, cur)))
                lm_die("renew", rc);
            MDB_val key = { sizeof k, &k }, val;
            rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
            for (int i = 0; i < RANGE && rc == 0; i++) {
                unsigned char v[VALUE];
                memcpy(v, val.mv_data, VALUE);
                bad += (uint64_t)fold(v, k + (uint64_t)i, &sum);
                n++;
                if (i + 1 < RANGE)
                    rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
            }
            mdb_txn_reset(txn);
        }
    }
    atomic_fetch_add(objs, n);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    if (bad)
        fprintf(stderr, "range: lmdb: %llu wrong values\n", (unsigned long long)bad);
    return bad ? 1 : 0;
}
#endif

/* ---- runs ----------------------------------------------------------------------------------- */

static double run(int (*reader)(uint64_t, double, _Atomic uint64_t *), int procs)
{
    _Atomic uint64_t *objs = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (objs == MAP_FAILED)
        die("mmap", -SHMETS_ENOMEM);
    atomic_store(objs, 0);
    pid_t pids[64];
    double t0 = bench_now();
    for (int i = 0; i < procs; i++) {
        pids[i] = fork();
        if (pids[i] == 0)
            _exit(reader(0x9E3779B97F4A7C15ull * (uint64_t)(i + 1), seconds, objs));
    }
    int failed = 0;
    for (int i = 0; i < procs; i++) {
        int st;
        waitpid(pids[i], &st, 0);
        failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    double dt = bench_now() - t0, r = (double)atomic_load(objs) / dt;
    munmap((void *)objs, 4096);
    return failed ? -1 : r;
}

int main(int argc, char **argv)
{
    int procs[8] = { 1, 2 }, np = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--objects"))
            nobj = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--order"))
            shuffled = !strcmp(argv[i + 1], "random");
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--procs")) {
            np = 0;
            for (char *p = argv[i + 1]; *p && np < 8; p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p))
                procs[np++] = atoi(p);
        }
    }
    if (nobj < RANGE)
        nobj = RANGE;
    snprintf(inst, sizeof inst, "bench-range.%d", (int)getpid());
    load_shmets();
#ifdef HAVE_LMDB
    snprintf(lmdir, sizeof lmdir, "/tmp/bench-range.%d", (int)getpid());
    if (mkdir(lmdir, 0700) != 0) {
        perror("range: mkdir");
        return 1;
    }
#endif
    double shm[8] = { 0 }, zc[8] = { 0 }, lm[8] = { 0 };
    for (int i = 0; i < np; i++) {
        shm[i] = run(read_shmets, procs[i]);
        printf("R5\tshmets\t%d\t%.0f\n", procs[i], shm[i]);
    }
    for (int i = 0; i < np; i++) {
        zc[i] = run(read_shmets_zc, procs[i]);
        printf("R5\tshmets-zc\t%d\t%.0f\n", procs[i], zc[i]);
    }
#ifdef HAVE_LMDB
    load_lmdb();
    for (int i = 0; i < np; i++) {
        lm[i] = run(read_lmdb, procs[i]);
        printf("R5\tlmdb\t%d\t%.0f\n", procs[i], lm[i]);
    }
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", lmdir);
    if (system(cmd) != 0)
        fprintf(stderr, "range: could not remove %s\n", lmdir);
#endif
    fflush(stdout);
    fprintf(stderr, "R5, select of %d consecutive keys from a random start, %ld objects:", RANGE, nobj);
    for (int i = 0; i < np; i++)
        fprintf(stderr, " P=%d shmets %.2f (range views %.2f) M objects/s%s", procs[i], shm[i] / 1e6, zc[i] / 1e6,
                lm[i] > 0 ? "" : ";");
#ifdef HAVE_LMDB
    for (int i = 0; i < np; i++)
        fprintf(stderr, ", lmdb %.2f M (P=%d, %.2fx, range views %.2fx)", lm[i] / 1e6, procs[i], shm[i] / lm[i],
                zc[i] / lm[i]);
#endif
    fprintf(stderr, "\n");
    shmets_destroy_instance(inst);
    return 0;
}
