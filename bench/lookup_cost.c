/*
 * lookup_cost.c — the cost of one lookup in instructions, for `make bench` (issue 23).
 *
 *   lookup_cost [MODE [N] [M]]
 *
 * Loads a set (and an ordered_set) of N objects {K, <<32 bytes>>} (WORKLOAD.md's shape; N
 * defaults to 200,000, small enough for valgrind) and runs M lookups (default 100,000) of
 * uniformly drawn keys through one API, MODE:
 *   copy      shmets_lookup: the list copied out, the value reached and folded, the list freed
 *   into      shmets_lookup_into with prepared keys: the object copied into a buffer of ours
 *   zc        shmets_read_begin, shmets_lookup_view, the value folded, shmets_read_end
 *   zckey     the same with prepared keys (shmets_lookup_view_key)
 *   batch     shmets_lookup_bulk_view of 32 keys in one read section (cost per key)
 *   batchkey  shmets_lookup_bulk_view_keys of 32 prepared keys (cost per key)
 *   ordered   shmets_lookup_view on the ordered_set
 *   next      shmets_next on the ordered_set from a uniformly drawn key (one call a step)
 *   fold      shmets_foldl over the ordered_set, cost per object visited (M objects, the
 *             fold restarted at the end of the table)
 *   range     R5: shmets_select of the 100 objects of a bound key prefix {B, '_'} on an
 *             ordered_set keyed {K div 100, K rem 100}, B uniformly drawn; cost per object
 *   rangezc   R5 by range views: read_begin, shmets_range_view of the 100 objects from the key
 *             {B, 0} of the same ordered_set, each value folded, read_end; cost per object
 *   member    shmets_member (whether the key has an object; no value reached)
 *   element   shmets_lookup_element of the value (position 2), copied out and freed
 *   kv        shmets_kv_get
 *   write     R2's write: {K, <<V:32 bytes>>} built (shmets_builder, viewed: no copy) and inserted
 *             over the drawn key's object (shmets_insert replaces it); cost per write
 *   none      no lookup: the key drawn and a stored object's value folded as the others do,
 *             the harness's own cost, which the report subtracts to give the library's
 * Prepared keys are made at load time, one per object (as a caller that looks the same keys up
 * often keeps them).  Every lookup happens inside run(), which `make bench` hands to callgrind's --toggle-collect:
 * instructions per lookup = Ir of run() / M, the same on every run of the same binary (the
 * VM has no hardware counters; callgrind counts instructions, not time).  Without valgrind it
 * prints the wall time per lookup too, for a quick look.
 */
#include "shmets.h"
#include "benchutil.h"
#include "r5.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VALUE 32
#define BATCH 32

static shmets *db;
static shmets_key *pkeys;           /* prepared keys of the set, one per object */
static unsigned char (*pbytes)[8];
static shmets_tab *set, *ord, *kvt, *rng;
static uint64_t nobj, nlook, sum;
static char inst[64];

static shmets_term key_of(uint64_t k, unsigned char b[8])
{
    if (k < 256) {
        b[0] = 97;
        b[1] = (unsigned char)k;
        return (shmets_term){ b, 2 };
    }
    b[0] = 98;
    b[1] = (unsigned char)(k >> 24);
    b[2] = (unsigned char)(k >> 16);
    b[3] = (unsigned char)(k >> 8);
    b[4] = (unsigned char)k;
    return (shmets_term){ b, 5 };
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "lookup_cost: %s: %s (%s)\n", what, shmets_strerror(rc), shmets_errdetail());
    shmets_destroy_instance(inst);
    exit(1);
}

static void fold(shmets_term obj)
{
    shmets_term v;
    const void *p;
    size_t len;
    if (shmets_term_tuple_element(obj, 2, &v) == 0 && shmets_term_get_binary(v, &p, &len) == 0 && len == VALUE) {
        unsigned char val[VALUE];
        memcpy(val, p, VALUE);
        for (int i = 0; i < VALUE; i += 8) {
            uint64_t w;
            memcpy(&w, val + i, 8);
            sum += w;
        }
    } else {
        sum ^= 0xbad;
    }
}

/* The set always (the prepared keys are its); the ordered_set and the kv table only for the
 * mode that reads them (mode NULL: all), so that a run under valgrind loads what it needs. */
static void load(const char *mode)
{
    int want_ord = !mode || !strcmp(mode, "ordered") || !strcmp(mode, "next") || !strcmp(mode, "fold");
    int want_kv = !mode || !strcmp(mode, "kv"), want_rng = !mode || !strcmp(mode, "range") || !strcmp(mode, "rangezc");
    shmets_opts o;
    shmets_opts_init(&o);
    int rc;
    if ((rc = shmets_new(db, "set", &o, &set)))
        die("new", rc);
    o.kind = SHMETS_ORDERED_SET;
    if (want_ord && (rc = shmets_new(db, "ord", &o, &ord)))
        die("new", rc);
    if (want_rng && (rc = shmets_new(db, "rng", &o, &rng)))
        die("new", rc);
    shmets_opts_init(&o);
    if (want_kv && (rc = shmets_new(db, "kv", &o, &kvt)))
        die("new", rc);
    shmets_builder *b;
    shmets_builder_create(&b);
    unsigned char v[VALUE];
    for (uint64_t k = 0; k < nobj; k++) {
        memset(v, (int)(k & 0xff), sizeof v);
        shmets_term obj;
        shmets_build_tuple(b, 2);
        shmets_build_uint(b, k);
        shmets_build_binary(b, v, sizeof v);
        if ((rc = shmets_builder_finish(b, &obj)) || (rc = shmets_insert(set, obj)) ||
            (want_ord && (rc = shmets_insert(ord, obj))))
            die("insert", rc);
        shmets_term_free(&obj);
        if (want_rng) {
            shmets_build_tuple(b, 2);
            shmets_build_tuple(b, 2);
            shmets_build_uint(b, k / 100);
            shmets_build_uint(b, k % 100);
            shmets_build_binary(b, v, sizeof v);
            if ((rc = shmets_builder_finish(b, &obj)) || (rc = shmets_insert(rng, obj)))
                die("insert", rc);
            shmets_term_free(&obj);
        }
        if (want_kv && (rc = shmets_kv_put(kvt, &k, sizeof k, v, sizeof v)))
            die("kv_put", rc);
    }
    shmets_builder_destroy(b);
    pkeys = malloc(nobj * sizeof *pkeys);
    pbytes = malloc(nobj * sizeof *pbytes);
    if (!pkeys || !pbytes)
        die("malloc", -SHMETS_ENOMEM);
    for (uint64_t k = 0; k < nobj; k++)
        if ((rc = shmets_key_prepare(set, key_of(k, pbytes[k]), &pkeys[k])))
            die("key_prepare", rc);
}

static uint64_t folded;

static int fold_cb(shmets_term obj, void *arg)
{
    (void)arg;
    fold(obj);
    return ++folded >= nlook ? 1 : 0;
}

static __attribute__((noinline)) void run(const char *mode)
{
    uint64_t seed = 88172645463325252ull;
    unsigned char kb[BATCH][8];
    int rc = 0;
    if (!strcmp(mode, "copy")) {
        for (uint64_t i = 0; i < nlook; i++) {
            shmets_term list, obj;
            if ((rc = shmets_lookup(set, key_of(bench_rnd(&seed) % nobj, kb[0]), &list)))
                die("lookup", rc);
            shmets_list_iter it;
            if (shmets_list_begin(list, &it) == 0 && shmets_list_next(&it, &obj) == 1)
                fold(obj);
            shmets_term_free(&list);
        }
    } else if (!strcmp(mode, "none")) {
        unsigned char buf[256];
        shmets_term obj;
        if ((rc = shmets_lookup_into(set, &pkeys[1], buf, sizeof buf, &obj, NULL)))
            die("lookup_into", rc);
        for (uint64_t i = 0; i < nlook; i++) {
            pkeys[0].hash += bench_rnd(&seed) % nobj;     /* the draw, kept */
            fold(obj);
        }
    } else if (!strcmp(mode, "into")) {
        unsigned char buf[256];
        for (uint64_t i = 0; i < nlook; i++) {
            shmets_term obj;
            if ((rc = shmets_lookup_into(set, &pkeys[bench_rnd(&seed) % nobj], buf, sizeof buf, &obj, NULL)))
                die("lookup_into", rc);
            fold(obj);
        }
    } else if (!strcmp(mode, "zckey")) {
        for (uint64_t i = 0; i < nlook; i++) {
            shmets_term obj;
            size_t n;
            if ((rc = shmets_read_begin(db)))
                die("read_begin", rc);
            if ((rc = shmets_lookup_view_key(set, &pkeys[bench_rnd(&seed) % nobj], &obj, 1, &n)))
                die("lookup_view_key", rc);
            if (n)
                fold(obj);
            shmets_read_end(db);
        }
    } else if (!strcmp(mode, "batchkey")) {
        shmets_key k[BATCH];
        shmets_term objs[BATCH];
        for (uint64_t i = 0; i < nlook; i += BATCH) {
            for (int j = 0; j < BATCH; j++)
                k[j] = pkeys[bench_rnd(&seed) % nobj];
            if ((rc = shmets_read_begin(db)))
                die("read_begin", rc);
            if ((rc = shmets_lookup_bulk_view_keys(set, k, BATCH, objs, NULL)))
                die("bulk keys", rc);
            for (int j = 0; j < BATCH; j++)
                if (objs[j].ptr)
                    fold(objs[j]);
            shmets_read_end(db);
        }
    } else if (!strcmp(mode, "zc") || !strcmp(mode, "ordered")) {
        shmets_tab *t = mode[0] == 'z' ? set : ord;
        for (uint64_t i = 0; i < nlook; i++) {
            shmets_term obj;
            size_t n;
            if ((rc = shmets_read_begin(db)))
                die("read_begin", rc);
            if ((rc = shmets_lookup_view(t, key_of(bench_rnd(&seed) % nobj, kb[0]), &obj, 1, &n)))
                die("lookup_view", rc);
            if (n)
                fold(obj);
            shmets_read_end(db);
        }
    } else if (!strcmp(mode, "batch")) {
        shmets_term k[BATCH], objs[BATCH];
        for (uint64_t i = 0; i < nlook; i += BATCH) {
            for (int j = 0; j < BATCH; j++)
                k[j] = key_of(bench_rnd(&seed) % nobj, kb[j]);
            if ((rc = shmets_read_begin(db)))
                die("read_begin", rc);
            if ((rc = shmets_lookup_bulk_view(set, k, BATCH, objs, NULL)))
                die("bulk", rc);
            for (int j = 0; j < BATCH; j++)
                if (objs[j].ptr)
                    fold(objs[j]);
            shmets_read_end(db);
        }
    } else if (!strcmp(mode, "next")) {
        for (uint64_t i = 0; i < nlook; i++) {
            shmets_term nx;
            if ((rc = shmets_next(ord, key_of(bench_rnd(&seed) % nobj, kb[0]), &nx)))
                die("next", rc);
            sum += nx.len;
            shmets_term_free(&nx);
        }
    } else if (!strcmp(mode, "fold")) {
        folded = 0;
        while (folded < nlook)
            if ((rc = shmets_foldl(ord, fold_cb, NULL)) < 0)
                die("foldl", rc);
    } else if (!strcmp(mode, "range")) {
        /* One compiled specification a prefix would be a caller's cache; here the
         * specification is built and compiled per select, as a caller with a new bound does. */
        uint64_t ranges = nobj / 100;
        shmets_builder *b;
        shmets_builder_create(&b);
        for (uint64_t i = 0; i < nlook; i += 100) {
            shmets_term spec, res, obj;
            shmets_ms *ms;
            if ((rc = r5_spec(b, bench_rnd(&seed) % ranges, &spec)) || (rc = shmets_ms_compile(spec, &ms)))
                die("ms", rc);
            shmets_term_free(&spec);
            if ((rc = shmets_select(rng, ms, false, &res)))
                die("select", rc);
            shmets_list_iter it;
            shmets_list_begin(res, &it);
            while (shmets_list_next(&it, &obj) == 1)
                fold(obj);
            shmets_term_free(&res);
            shmets_ms_free(ms);
        }
        shmets_builder_destroy(b);
    } else if (!strcmp(mode, "rangezc")) {
        uint64_t ranges = nobj / 100;
        shmets_builder *b;
        shmets_builder_create(&b);
        for (uint64_t i = 0; i < nlook; i += 100) {
            shmets_term from, views[100];
            size_t got;
            shmets_build_tuple(b, 2);
            shmets_build_uint(b, bench_rnd(&seed) % ranges);
            shmets_build_uint(b, 0);
            if ((rc = shmets_builder_finish(b, &from)) || (rc = shmets_read_begin(db)) ||
                (rc = shmets_range_view(rng, from, 0, views, 100, &got)))
                die("range_view", rc);
            for (size_t j = 0; j < got; j++)
                fold(views[j]);
            shmets_read_end(db);
            shmets_term_free(&from);
        }
        shmets_builder_destroy(b);
    } else if (!strcmp(mode, "member")) {
        for (uint64_t i = 0; i < nlook; i++) {
            int found;
            if ((rc = shmets_member(set, key_of(bench_rnd(&seed) % nobj, kb[0]), &found)))
                die("member", rc);
            sum += (uint64_t)found;
        }
    } else if (!strcmp(mode, "element")) {
        for (uint64_t i = 0; i < nlook; i++) {
            shmets_term v;
            const void *p;
            size_t len;
            if ((rc = shmets_lookup_element(set, key_of(bench_rnd(&seed) % nobj, kb[0]), 2, NULL, &v)))
                die("lookup_element", rc);
            if (shmets_term_get_binary(v, &p, &len) == 0 && len == VALUE)
                sum += *(const unsigned char *)p;
            shmets_term_free(&v);
        }
    } else if (!strcmp(mode, "kv")) {
        for (uint64_t i = 0; i < nlook; i++) {
            uint64_t k = bench_rnd(&seed) % nobj;
            unsigned char val[VALUE];
            size_t len;
            if ((rc = shmets_kv_get(kvt, &k, sizeof k, val, sizeof val, &len)))
                die("kv_get", rc);
            sum += val[0];
        }
    } else if (!strcmp(mode, "write")) {
        shmets_builder *b;
        if ((rc = shmets_builder_create(&b)))
            die("builder", rc);
        unsigned char v[VALUE];
        for (uint64_t i = 0; i < nlook; i++) {
            uint64_t k = bench_rnd(&seed) % nobj;
            memset(v, (int)(i & 0xff), sizeof v);
            shmets_term obj;
            shmets_build_tuple(b, 2);
            shmets_build_uint(b, k);
            shmets_build_binary(b, v, sizeof v);
            if ((rc = shmets_builder_view(b, &obj)) || (rc = shmets_insert(set, obj)))
                die("insert", rc);
        }
        shmets_builder_destroy(b);
    } else {
        fprintf(stderr, "lookup_cost: unknown mode %s\n", mode);
        shmets_destroy_instance(inst);
        exit(2);
    }
}

static const char *const modes[] = { "copy", "into", "zc", "zckey", "batch", "batchkey", "member", "element", "ordered", "next", "fold", "range", "rangezc",
                                     "kv", "write", "none" };

int main(int argc, char **argv)
{
    nobj = argc > 2 ? strtoull(argv[2], NULL, 10) : 200000;
    nlook = argc > 3 ? strtoull(argv[3], NULL, 10) : 100000;
    snprintf(inst, sizeof inst, "lookup_cost.%d", (int)getpid());
    int rc = shmets_open(inst, &db);
    if (rc)
        die("open", rc);
    load(argc > 1 ? argv[1] : NULL);
    /* No MODE: every mode, wall time only (what `make bench` runs without valgrind). */
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        const char *mode = argc > 1 ? argv[1] : modes[m];
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        run(mode);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)nlook;
        printf("lookup_cost\t%s\t%llu lookups\t%.1f ns each (%llu objects)\n", mode, (unsigned long long)nlook, ns,
               (unsigned long long)nobj);
        if (argc > 1)
            break;
    }
    free(pkeys);
    free(pbytes);
    shmets_close(db);
    shmets_destroy_instance(inst);
    return 0;
}
