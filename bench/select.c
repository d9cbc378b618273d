/*
 * bench/select.c — a select with a bound key prefix on a 1,000,000-object ordered_set reads
 * only its range: time per call next to a full scan that selects the same objects, in one run.
 *
 *   build/bench/select [--objects N]
 *
 * Keys are {B, I} (B < 1000, I < N/1000); the range select binds B ({{500, '$1'}, '_'}), the
 * scan selects the same objects with a guard ({{'$1', '$2'}, '_'} and '$1' == 500), which key
 * analysis cannot use.  Output: TSV lines (case, ns_per_call, results) on stdout, a sentence on
 * stderr.  Figures, never pass/fail.
 */
#include "shmets.h"
#include "benchutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define die(what, rc) bench_die("select", what, rc)

static shmets_ms *compile(const char *text)
{
    shmets_term t;
    shmets_ms *ms;
    int rc = shmets_term_parse(text, strlen(text), &t);
    if (rc || (rc = shmets_ms_compile(t, &ms)))
        die(text, rc);
    shmets_term_free(&t);
    return ms;
}

/* Best of `runs` calls: ns per call and the number of results. */
static double time_select(shmets_tab *t, const shmets_ms *ms, int runs, size_t *nres)
{
    double best = 1e30;
    for (int r = 0; r < runs; r++) {
        shmets_term res;
        double t0 = bench_now();
        int rc = shmets_select(t, ms, false, &res);
        double dt = bench_now() - t0;
        if (rc)
            die("select", rc);
        shmets_term_list_length(res, nres);
        shmets_term_free(&res);
        if (dt < best)
            best = dt;
    }
    return best * 1e9;
}

int main(int argc, char **argv)
{
    long n = 1000000;
    if (argc == 3 && !strcmp(argv[1], "--objects"))
        n = atol(argv[2]);
    char inst[64];
    snprintf(inst, sizeof inst, "bench-select.%d", (int)getpid());
    shmets *db;
    shmets_tab *t;
    int rc = shmets_open(inst, &db);
    shmets_opts o;
    shmets_opts_init(&o);
    o.kind = SHMETS_ORDERED_SET;
    if (rc || (rc = shmets_new(db, "s", &o, &t)))
        die("new", rc);
    long per = n / 1000 > 0 ? n / 1000 : 1;
    shmets_builder *b;
    shmets_builder_create(&b);
    for (long i = 0; i < n; i += 1000) {
        long m = n - i < 1000 ? n - i : 1000;
        shmets_build_list(b, (size_t)m);
        for (long j = i; j < i + m; j++) {
            shmets_build_tuple(b, 2);
            shmets_build_tuple(b, 2);
            shmets_build_int(b, j / per);
            shmets_build_int(b, j % per);
            shmets_build_int(b, j);
        }
        shmets_build_nil(b);
        shmets_term x;
        if ((rc = shmets_builder_finish(b, &x)) || (rc = shmets_insert(t, x)))
            die("insert", rc);
        shmets_term_free(&x);
    }
    shmets_builder_destroy(b);
    shmets_ms *range = compile("[{{{500,'$1'},'_'},[],['$1']}]");
    shmets_ms *scan = compile("[{{{'$1','$2'},'_'},[{'==','$1',500}],['$2']}]");
    size_t nr = 0, ns = 0;
    double tr = time_select(t, range, 20, &nr), ts = time_select(t, scan, 3, &ns);
    printf("range\t%.0f\t%zu\nscan\t%.0f\t%zu\n", tr, nr, ts, ns);
    fprintf(stderr, "ordered_set of %ld objects: select of a bound key prefix (%zu results) %.1f us a call; "
            "the same objects by a full scan %.1f ms a call: %.0fx less\n", n, nr, tr / 1e3, ts / 1e6, ts / tr);
    shmets_ms_free(range);
    shmets_ms_free(scan);
    shmets_close(db);
    shmets_destroy_instance(inst);
    return 0;
}
