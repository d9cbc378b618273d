/*
 * bench/scale.c — the scale of one instance (issue: "tables of 100,000,000 small objects and
 * 10,000 tables per instance"), and whether info(memory) tells the truth about it.
 *
 *   build/bench/scale [--tables N] [--objects N] [--lookups N]
 *
 * Part 1 makes N tables (default 10,000) in one instance, inserts 10 objects into each, attaches
 * every one again by name and looks one key up, then deletes them all; it reports the time per
 * table for each step.  Part 2 fills one set with N objects {I, I} (default 10,000,000; the
 * issue's figure is --objects 100000000, which needs about 9 GB of /dev/shm and a few minutes),
 * in lists of 1,000, then runs random lookups, and compares what the table reports (info memory,
 * in bytes and ETS words) with what /dev/shm holds for its segment (allocated blocks of the
 * file).  Output: TSV lines on stdout (what, value, unit), sentences on stderr.
 */
#include "shmets.h"
#include "benchutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define die(what, rc) bench_die("scale", what, rc)

static shmets_term parse(const char *s)
{
    shmets_term t;
    int rc = shmets_term_parse(s, strlen(s), &t);
    if (rc)
        die("parse", rc);
    return t;
}

static void tsv(const char *what, double v, const char *unit)
{
    printf("%s\t%.1f\t%s\n", what, v, unit);
}

static void many_tables(shmets *db, long n)
{
    shmets_tab **t = calloc((size_t)n, sizeof *t);
    char name[32], text[256];
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        shmets_opts o;
        shmets_opts_init(&o);
        o.named = true;
        o.access = SHMETS_PUBLIC;
        snprintf(name, sizeof name, "tab%ld", i);
        int rc = shmets_new(db, name, &o, &t[i]);
        if (rc)
            die("new", rc);
        snprintf(text, sizeof text, "[{1,a},{2,b},{3,c},{4,d},{5,e},{6,f},{7,g},{8,h},{9,i},{10,%ld}]", i);
        shmets_term x = parse(text);
        if ((rc = shmets_insert(t[i], x)))
            die("insert", rc);
        shmets_term_free(&x);
    }
    double t1 = bench_now();
    shmets_term k = parse("10");
    for (long i = 0; i < n; i++) {
        shmets_tab *u;
        snprintf(name, sizeof name, "tab%ld", i);
        int rc = shmets_attach_name(db, name, &u);
        if (rc)
            die("attach", rc);
        shmets_term l;
        if ((rc = shmets_lookup(u, k, &l)))
            die("lookup", rc);
        shmets_term_free(&l);
        shmets_detach(u);
    }
    double t2 = bench_now();
    uint64_t *ids;
    size_t nids;
    int rc = shmets_all(db, &ids, &nids);
    if (rc)
        die("all", rc);
    free(ids);
    for (long i = 0; i < n; i++)
        if ((rc = shmets_delete(t[i])))
            die("delete", rc);
    double t3 = bench_now();
    shmets_term_free(&k);
    free(t);
    fprintf(stderr, "%ld tables in one instance (all/0 listed %zu): new + 10 inserts %.1f us, attach by name + "
            "lookup %.1f us, delete %.1f us per table\n", n, nids, (t1 - t0) / (double)n * 1e6,
            (t2 - t1) / (double)n * 1e6, (t3 - t2) / (double)n * 1e6);
    tsv("tables", (double)n, "tables");
    tsv("table_new_insert10", (t1 - t0) / (double)n * 1e6, "us");
    tsv("table_attach_lookup", (t2 - t1) / (double)n * 1e6, "us");
    tsv("table_delete", (t3 - t2) / (double)n * 1e6, "us");
}

static void big_table(shmets *db, const char *inst, long n, long lookups)
{
    shmets_opts o;
    shmets_opts_init(&o);
    o.access = SHMETS_PUBLIC;
    o.max_bytes = (uint64_t)n * 160 + (64ull << 20);    /* room for objects, index and growth */
    shmets_tab *t;
    int rc = shmets_new(db, "big", &o, &t);
    if (rc)
        die("new", rc);
    size_t cap = 1000 * 48 + 16;
    char *text = malloc(cap);
    double t0 = bench_now();
    for (long i = 0; i < n; i += 1000) {
        size_t len = 0;
        len += (size_t)snprintf(text + len, cap - len, "[");
        for (long j = i; j < i + 1000 && j < n; j++)
            len += (size_t)snprintf(text + len, cap - len, "%s{%ld,%ld}", j > i ? "," : "", j, j);
        snprintf(text + len, cap - len, "]");
        shmets_term x = parse(text);
        if ((rc = shmets_insert(t, x)))
            die("insert", rc);
        shmets_term_free(&x);
        if (i % 10000000 == 0 && i)
            fprintf(stderr, "  %ld objects, %.0f s\n", i, bench_now() - t0);
    }
    double t1 = bench_now();
    free(text);
    uint64_t size = 0, used = 0, fr = 0;
    shmets_size(t, &size);
    shmets_memory(t, &used, &fr);
    shmets_term words;
    shmets_info_item(t, "memory", &words);
    uint64_t w = 0;
    shmets_term_get_uint64(words, &w);
    shmets_term_free(&words);
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/shmets.%s.%" PRIu64, inst, shmets_id(t));
    struct stat st;
    uint64_t disk = stat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
    /* Random lookups, copying, of 65,536 keys made beforehand (the objects they find are
     * spread over the whole table: each lookup misses the cache for its bucket and object). */
    enum { NKEYS = 65536 };
    shmets_term *keys = calloc(NKEYS, sizeof *keys);
    shmets_builder *b;
    shmets_builder_create(&b);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < NKEYS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        shmets_build_int(b, (int64_t)(x % (uint64_t)n));
        if ((rc = shmets_builder_finish(b, &keys[i])))
            die("key", rc);
    }
    shmets_builder_destroy(b);
    long hits = 0;
    double t2 = bench_now();
    for (long i = 0; i < lookups; i++) {
        shmets_term l;
        if ((rc = shmets_lookup(t, keys[i & (NKEYS - 1)], &l)))
            die("lookup", rc);
        hits += l.len > 1;
        shmets_term_free(&l);
    }
    double t3 = bench_now();
    for (int i = 0; i < NKEYS; i++)
        shmets_term_free(&keys[i]);
    free(keys);
    fprintf(stderr, "one set of %" PRIu64 " objects: inserted at %.2f M objects/s (lists of 1000); %ld random lookups "
            "(copying) at %.0f ns each, %ld hits; info memory %" PRIu64 " words = %" PRIu64 " bytes in use + %" PRIu64
            " free (%.1f bytes an object); /dev/shm holds %" PRIu64 " bytes for the segment\n",
            size, (double)n / (t1 - t0) / 1e6, lookups, (t3 - t2) / (double)lookups * 1e9, hits, w, used, fr,
            (double)(used + fr) / (double)(size ? size : 1), disk);
    tsv("objects", (double)size, "objects");
    tsv("insert_rate", (double)n / (t1 - t0) / 1e6, "M/s");
    tsv("lookup", (t3 - t2) / (double)lookups * 1e9, "ns");
    tsv("info_memory_bytes", (double)(used + fr), "bytes");
    tsv("info_memory_words", (double)w, "words");
    tsv("dev_shm_bytes", (double)disk, "bytes");
    tsv("bytes_per_object", (double)(used + fr) / (double)(size ? size : 1), "bytes");
    if ((rc = shmets_delete(t)))
        die("delete", rc);
}

int main(int argc, char **argv)
{
    long tables = 10000, objects = 10000000, lookups = 1000000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--tables"))
            tables = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--objects"))
            objects = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--lookups"))
            lookups = atol(argv[i + 1]);
        else {
            fprintf(stderr, "usage: scale [--tables N] [--objects N] [--lookups N]\n");
            return 2;
        }
    }
    char inst[64];
    snprintf(inst, sizeof inst, "bench-scale.%d", (int)getpid());
    shmets *db;
    int rc = shmets_open(inst, &db);
    if (rc)
        die("open", rc);
    if (tables > 0)
        many_tables(db, tables);
    if (objects > 0)
        big_table(db, inst, objects, lookups);
    shmets_close(db);
    shmets_destroy_instance(inst);
    return 0;
}
