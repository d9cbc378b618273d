/*
 * ycsb_main.c — `shmets-bench --workload a,b,...`: YCSB's core workloads (ycsb.h) over the
 * peers, run in the worker process under main.c's guardian (which ends every process and
 * removes every segment however the run ends).
 *
 *   shmets-bench --workload a,b,c,d,e,f [--peer shmets,rwlock,lmdb,redis,urcu,ets]
 *                [--records N] [--value-bytes B] [--distribution uniform|zipfian|latest]
 *                [--zipf-theta T] [--procs 1,2] [--seconds D] [--warmup W] [--ops N]
 *                [--insert-order hashed|ordered] [--insert-room N] [--retries N]
 *                [--json] [--out DIR] [--ets-script PATH]
 *   shmets-bench --ycsb-report DIR        ycsb.md and ycsb.svg again from DIR/ycsb.tsv
 *
 * Defaults: YCSB's where it has them (zipfian theta 0.99, hashed insert order, each workload's
 * mix and distribution, scans of 1..100 records), else the read benchmark's (1,000,000
 * records, 32-byte values); 5 s a run after 0.5 s of warm-up, P = 1 and 2.
 *
 * ORDER OF RUNS, as YCSB's documentation advises: each store is loaded once and runs a, b, c,
 * f, d in that order (d's inserts last), then is loaded again as an ordered store for e.  The
 * peers' stores are loaded side by side and each workload and P runs on every peer in turn,
 * so that other load on a shared machine falls on all of them alike (run_pass); ETS runs
 * after them, in its own VM.
 * After every run the store is checked in the loading process (shmets: shmets_check on the
 * table, and its object count against the records loaded plus every insert acknowledged so
 * far); a failed check fails the run loudly and the program's exit status.
 *
 * OUTPUT: on stdout a `#` header line, then one TSV line per run
 *   workload peer procs ops_per_s reads_per_s writes_per_s p50_ns p99_ns p999_ns
 * (reads: reads and scans; writes: updates, inserts, read-modify-writes; latency over all
 * operations), each workload's knobs as a `# knobs` line before its runs; with --json one
 * JSON object a run instead, with the knobs and the latency of each kind of operation.  A
 * table on stderr.  With --out DIR the lines also go to DIR/ycsb.tsv (with more columns and
 * the machine), and DIR/ycsb.md and DIR/ycsb.svg are made from it (ycsb_report.c).
 */
#include "ycsb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct ypeer *const ypeers[] = { &ypeer_shmets, &ypeer_rwlock, &ypeer_lmdb, &ypeer_redis, &ypeer_urcu };
#define NYPEERS (sizeof ypeers / sizeof *ypeers)

static struct {
    struct ycfg y;
    char workloads[8];
    int procs[16], nprocs;
    bool peer_on[NYPEERS + 1];      /* the last: ets */
    bool json;
    int tries;
    const char *out, *ets_script;
} Y;

static FILE *tsv;
static int failures;

static void usage(void)
{
    fprintf(stderr,
            "usage: shmets-bench --workload a,b,c,d,e,f [--peer shmets,rwlock,lmdb,redis,urcu,ets] [--records N]\n"
            "                    [--value-bytes B] [--distribution uniform|zipfian|latest] [--zipf-theta T]\n"
            "                    [--procs 1,2] [--seconds D] [--warmup W] [--ops N] [--insert-order hashed|ordered]\n"
            "                    [--insert-room N] [--retries N] [--json] [--out DIR] [--ets-script PATH]\n"
            "       shmets-bench --ycsb-report DIR\n");
    exit(2);
}

bool ycsb_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--workload") || !strcmp(argv[i], "--ycsb-report"))
            return true;
    return false;
}

void ycsb_parse(int argc, char **argv)
{
    struct ycfg *y = &Y.y;
    y->c.objects = 1000000;
    y->c.seconds = 5;
    y->c.warmup = 0.5;
    y->value_bytes = 32;
    y->theta = 0.99;
    Y.procs[0] = 1;
    Y.procs[1] = 2;
    Y.nprocs = 2;
    Y.tries = 2;
    Y.ets_script = "bench/ycsb.escript";
    for (size_t i = 0; i <= NYPEERS; i++)
        Y.peer_on[i] = true;
    bool room_given = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) {
            Y.json = true;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--ycsb-report"))
            exit(ycsb_report(v) ? 1 : 0);
        else if (!strcmp(a, "--workload")) {
            Y.workloads[0] = 0;
            for (const char *s = strcmp(v, "all") ? v : "abcdef"; *s; s++) {
                if (*s == ',')
                    continue;
                if (*s < 'a' || *s > 'f' || strlen(Y.workloads) >= 6 || strchr(Y.workloads, *s)) {
                    fprintf(stderr, "shmets-bench: --workload: %s is not a list of a..f\n", v);
                    usage();
                }
                size_t n = strlen(Y.workloads);
                Y.workloads[n] = *s;
                Y.workloads[n + 1] = 0;
            }
        } else if (!strcmp(a, "--records") || !strcmp(a, "--objects"))
            y->c.objects = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--value-bytes"))
            y->value_bytes = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--distribution"))
            y->dist = !strcmp(v, "uniform") ? D_UNIFORM : !strcmp(v, "zipfian") ? D_ZIPFIAN
                    : !strcmp(v, "latest") ? D_LATEST : (usage(), D_DEFAULT);
        else if (!strcmp(a, "--zipf-theta"))
            y->theta = atof(v);
        else if (!strcmp(a, "--seconds"))
            y->c.seconds = atof(v);
        else if (!strcmp(a, "--warmup"))
            y->c.warmup = atof(v);
        else if (!strcmp(a, "--ops"))
            y->ops = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--insert-order"))
            y->ordered_keys = !strcmp(v, "ordered") ? true : !strcmp(v, "hashed") ? false : (usage(), false);
        else if (!strcmp(a, "--insert-room")) {
            y->room = strtoull(v, NULL, 10);
            room_given = true;
        } else if (!strcmp(a, "--retries"))
            Y.tries = 1 + atoi(v);
        else if (!strcmp(a, "--out"))
            Y.out = v;
        else if (!strcmp(a, "--ets-script"))
            Y.ets_script = v;
        else if (!strcmp(a, "--procs")) {
            Y.nprocs = 0;
            char *s = strdup(v), *save = NULL;
            for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                int p = atoi(t);
                if (p < 1 || p > MAXP || Y.nprocs >= 16) {
                    fprintf(stderr, "shmets-bench: --procs: %s is not in 1..%d\n", t, MAXP);
                    exit(2);
                }
                Y.procs[Y.nprocs++] = p;
            }
            free(s);
        } else if (!strcmp(a, "--peer")) {
            for (size_t j = 0; j <= NYPEERS; j++)
                Y.peer_on[j] = !strcmp(v, "all");
            char *s = strdup(v), *save = NULL;
            for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                bool found = !strcmp(t, "all");
                for (size_t j = 0; j < NYPEERS; j++)
                    if (!strcmp(t, ypeers[j]->name))
                        Y.peer_on[j] = found = true;
                if (!strcmp(t, "ets"))
                    Y.peer_on[NYPEERS] = found = true;
                if (!found) {
                    fprintf(stderr, "shmets-bench: unknown peer %s\n", t);
                    usage();
                }
            }
            free(s);
        } else
            usage();
    }
    if (!Y.workloads[0] || y->c.objects < 2 || (y->c.seconds <= 0 && !y->ops) || y->c.warmup < 0 ||
        y->value_bytes < Y_MINVAL || y->value_bytes > Y_MAXVAL || y->theta <= 0 || y->theta >= 1)
        usage();
    /* Room for inserts (d and e): the stores are sized for it.  --ops: every run's inserts at
     * most its operations; --seconds: at least 2,000,000 (d at P = 2 inserts some 300,000 a
     * second here; a run that would insert more fails and says so). */
    if (!room_given)
        y->room = y->ops ? y->ops * (uint64_t)Y.nprocs * (uint64_t)Y.tries
                         : y->c.objects > 2000000 ? y->c.objects : 2000000;
}

/* ---- output ------------------------------------------------------------------------------- */

static double reads_of(const struct yresult *r)
{
    return (double)(r->n[Y_READ] + r->n[Y_SCAN]) / r->secs;
}

static double writes_of(const struct yresult *r)
{
    return (double)(r->n[Y_UPDATE] + r->n[Y_INSERT] + r->n[Y_RMW]) / r->secs;
}

static const char *order_name(void)
{
    return Y.y.ordered_keys ? "ordered" : "hashed";
}

static void knobs(const struct ycfg *y)
{
    char line[512];
    snprintf(line, sizeof line,
             "# knobs workload=%c records=%llu value_bytes=%u distribution=%s zipf_theta=%g insert_order=%s "
             "seconds=%g warmup=%g ops=%llu scan_length=uniform:1-%d mix=read:%g,update:%g,insert:%g,scan:%g,rmw:%g\n",
             y->workload, (unsigned long long)y->c.objects, y->value_bytes, y_dist_name(y->dist), y->theta, order_name(),
             y->c.seconds, y->c.warmup, (unsigned long long)y->ops, Y_SCANMAX, y->prop[Y_READ], y->prop[Y_UPDATE],
             y->prop[Y_INSERT], y->prop[Y_SCAN], y->prop[Y_RMW]);
    if (!Y.json)
        fputs(line, stdout);
    if (tsv)
        fputs(line, tsv);
    fprintf(stderr, "%s", line + 2);
}

static void emit(const struct ycfg *y, const struct yresult *r)
{
    double ops = reads_of(r) + writes_of(r);
    char line[512];
    snprintf(line, sizeof line, "%c\t%s\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f", r->workload, r->peer, r->procs, ops,
             reads_of(r), writes_of(r), r->p[Y_NOPS][0], r->p[Y_NOPS][1], r->p[Y_NOPS][2]);
    if (Y.json) {
        printf("{\"workload\":\"%c\",\"peer\":\"%s\",\"procs\":%d,\"records\":%llu,\"value_bytes\":%u,"
               "\"distribution\":\"%s\",\"zipf_theta\":%g,\"insert_order\":\"%s\",\"seconds\":%.3f,\"ops\":%llu,"
               "\"ops_per_s\":%.0f,\"reads_per_s\":%.0f,\"writes_per_s\":%.0f,\"inserts\":%llu,\"wrong_values\":%llu,"
               "\"cpu_ours\":%.2f,\"cpu_other\":%.2f,\"latency_ns\":{",
               r->workload, r->peer, r->procs, (unsigned long long)y->c.objects, y->value_bytes, y_dist_name(y->dist),
               y->theta, order_name(), r->secs,
               (unsigned long long)(r->n[0] + r->n[1] + r->n[2] + r->n[3] + r->n[4]), ops, reads_of(r),
               writes_of(r), (unsigned long long)r->inserts, (unsigned long long)r->bad, r->cpu_ours, r->cpu_other);
        bool first = true;
        for (int o = 0; o <= Y_NOPS; o++) {
            if (o < Y_NOPS && !r->n[o])
                continue;
            printf("%s\"%s\":{\"ops_per_s\":%.0f,\"p50\":%.0f,\"p99\":%.0f,\"p999\":%.0f}", first ? "" : ",",
                   y_op_name(o), o < Y_NOPS ? (double)r->n[o] / r->secs : ops, r->p[o][0], r->p[o][1], r->p[o][2]);
            first = false;
        }
        printf("}");
        if (r->nclients) {          /* each client's reads (and scans) and writes in the window */
            printf(",\"clients\":[");
            for (int i = 0; i < r->nclients; i++)
                printf("%s{\"reads\":%llu,\"writes\":%llu}", i ? "," : "", (unsigned long long)r->client_reads[i],
                       (unsigned long long)r->client_writes[i]);
            printf("]");
        }
        printf("}\n");
    } else {
        printf("%s\n", line);
    }
    fflush(stdout);
    if (tsv) {
        fprintf(tsv, "%s\t%s\t%llu\t%llu\t%.2f\t%.2f", line, y_dist_name(y->dist), (unsigned long long)r->inserts,
                (unsigned long long)r->bad, r->cpu_ours, r->cpu_other);
        for (int o = 0; o < Y_NOPS; o++)
            fprintf(tsv, "\t%.0f\t%.0f\t%.0f", r->n[o] ? (double)r->n[o] / r->secs : 0, r->p[o][0], r->p[o][1]);
        fprintf(tsv, "\n");
        fflush(tsv);
    }
    fprintf(stderr, "%c %-8s %3d %11.3f M %10.3f M %10.3f M %8.0f %8.0f %9.0f  %4.2f %4.2f%s\n", r->workload, r->peer,
            r->procs, ops / 1e6, reads_of(r) / 1e6, writes_of(r) / 1e6, r->p[Y_NOPS][0], r->p[Y_NOPS][1],
            r->p[Y_NOPS][2], r->cpu_ours, r->cpu_other, r->bad ? "  WRONG VALUES" : "");
    if (r->bad) {
        fprintf(stderr, "shmets-bench: %s %c P=%d: %llu reads found a wrong value or none\n", r->peer, r->workload,
                r->procs, (unsigned long long)r->bad);
        failures++;
    }
}

static void comment(const char *fmt, const char *a, const char *b)
{
    if (tsv) {
        fprintf(tsv, "# ");
        fprintf(tsv, fmt, a, b);
        fprintf(tsv, "\n");
        fflush(tsv);
    }
}

/* ---- runs --------------------------------------------------------------------------------- */

#define BUSY_LOAD   0.25
#define BUSY_BUDGET 90.0
static double busy_spent;

/* A run, repeated (up to --retries) when other processes took more than a quarter of a core
 * meanwhile; the least disturbed is kept.  Each repeat runs on the store as the last left it. */
static int run_busy(const struct ypeer *p, struct ycfg *y, int ordered, int procs, uint64_t *next_rec,
                    struct yresult *best)
{
    int rc = y_run(p, y, ordered, procs, next_rec, best);
    for (int t = 1; rc == 0 && t < Y.tries && best->cpu_other > BUSY_LOAD && busy_spent < BUSY_BUDGET; t++) {
        double t0 = now_s();
        fprintf(stderr, "    (%s %c P=%d: others used %.2f cores meanwhile; run again)\n", p->name, y->workload, procs,
                best->cpu_other);
        sleep_s(1);
        struct yresult r;
        rc = y_run(p, y, ordered, procs, next_rec, &r);
        if (rc == 0 && r.cpu_other < best->cpu_other) {
            uint64_t ins = best->inserts;
            *best = r;
            best->inserts += ins;
        }
        busy_spent += now_s() - t0;
    }
    return rc;
}

/* The check after a run: the store verified and its records counted. */
static int check_after(const struct ypeer *p, const struct ycfg *y, int ordered, uint64_t want)
{
    if (!p->check || p->threads)
        return 0;
    uint64_t count = 0;
    if (p->check(y, ordered, &count)) {
        fprintf(stderr, "shmets-bench: %s %c: CHECK FAILED: the store does not verify\n", p->name, y->workload);
        return -1;
    }
    if (count != want) {
        fprintf(stderr, "shmets-bench: %s %c: CHECK FAILED: %llu records, and %llu were loaded or inserted\n", p->name,
                y->workload, (unsigned long long)count, (unsigned long long)want);
        return -1;
    }
    return 0;
}

/*
 * The runs of one pass: the hash stores (ordered 0: workloads a, b, c, f, d in YCSB's order,
 * d's inserts last) or the ordered stores (1: e).  Every peer's store is loaded first, then
 * the runs go workload by workload, P by P, peer after peer, so that the load other processes
 * put on a shared machine falls on the peers alike rather than on whichever ran then.
 */
static void run_pass(int ordered, const bool *usable)
{
    static const char order[2][6] = { "abcfd", "e" };
    bool loaded[NYPEERS] = { false }, broken[NYPEERS] = { false };
    uint64_t next_rec[NYPEERS];
    for (size_t i = 0; i < NYPEERS; i++)
        next_rec[i] = Y.y.c.objects;
    bool any = false;
    for (const char *w = order[ordered]; *w; w++)
        any |= strchr(Y.workloads, *w) != NULL;
    if (!any)
        return;
    for (size_t i = 0; i < NYPEERS; i++) {
        const struct ypeer *p = ypeers[i];
        struct ycfg y = Y.y;
        y_workload(&y, order[ordered][0]);
        if (!usable[i])
            continue;
        if (ordered && !p->scan) {
            comment("skipped e for %s (%s)", p->name, "the store keeps no key order: it cannot scan");
            fprintf(stderr, "shmets-bench: %s skipped for e: the store keeps no key order, it cannot scan\n", p->name);
            continue;
        }
        if (p->threads)
            continue;           /* its host process loads it for each run */
        double t0 = now_s();
        if (p->load(&y, ordered)) {
            comment("failed %s: %s", p->name, "loading failed");
            fprintf(stderr, "shmets-bench: %s: loading failed\n", p->name);
            p->unload(&y, ordered);
            broken[i] = true;
            failures++;
            continue;
        }
        loaded[i] = true;
        fprintf(stderr, "    (%s: %llu records loaded in %.1f s%s)\n", p->name, (unsigned long long)y.c.objects,
                now_s() - t0, ordered ? ", ordered" : "");
        if (check_after(p, &y, ordered, next_rec[i])) {
            broken[i] = true;
            failures++;
        }
    }
    for (const char *w = order[ordered]; *w; w++) {
        if (!strchr(Y.workloads, *w))
            continue;
        struct ycfg y = Y.y;
        y_workload(&y, *w);
        for (int j = 0; j < Y.nprocs; j++)
            for (size_t i = 0; i < NYPEERS; i++) {
                const struct ypeer *p = ypeers[i];
                if (!usable[i] || broken[i] || (!loaded[i] && !p->threads) || (*w == 'e' && !p->scan))
                    continue;
                char what[16];
                snprintf(what, sizeof what, "%c P=%d", *w, Y.procs[j]);
                struct yresult r;
                if (run_busy(p, &y, ordered, Y.procs[j], &next_rec[i], &r) != 0) {
                    comment("failed %s %s", p->name, what);
                    failures++;
                } else if (check_after(p, &y, ordered, next_rec[i])) {
                    comment("failed %s %s: the check after the run", p->name, what);
                    failures++;
                } else {
                    emit(&y, &r);
                }
            }
    }
    for (size_t i = 0; i < NYPEERS; i++)
        if (loaded[i])
            ypeers[i]->unload(&Y.y, ordered);
}

/* ---- ETS, through bench/ycsb.escript -------------------------------------------------------- */

static void run_ets(void)
{
    char escript[512] = "";
    const char *path = getenv("PATH");
    char *ps = strdup(path ? path : "/usr/bin:/bin"), *save = NULL;
    for (char *d = strtok_r(ps, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(escript, sizeof escript, "%s/escript", d);
        if (access(escript, X_OK) == 0)
            break;
        escript[0] = 0;
    }
    free(ps);
    if (!escript[0] || access(Y.ets_script, R_OK) != 0) {
        const char *why = escript[0] ? "the escript was not found (--ets-script)" : "escript (Erlang) is not installed";
        comment("skipped %s: %s", "ets", why);
        fprintf(stderr, "shmets-bench: ets skipped: %s\n", why);
        return;
    }
    char runs[256] = "", procs[64] = "", n[32], sec[32], warm[32], bytes[32], theta[32], ops[32];
    for (const char *w = "abcfde"; *w; w++)
        if (strchr(Y.workloads, *w))
            snprintf(runs + strlen(runs), sizeof runs - strlen(runs), "%s%c", runs[0] ? "," : "", *w);
    for (int j = 0; j < Y.nprocs; j++)
        snprintf(procs + strlen(procs), sizeof procs - strlen(procs), "%s%d", j ? "," : "", Y.procs[j]);
    snprintf(n, sizeof n, "%llu", (unsigned long long)Y.y.c.objects);
    snprintf(sec, sizeof sec, "%g", Y.y.c.seconds);
    snprintf(warm, sizeof warm, "%g", Y.y.c.warmup);
    snprintf(bytes, sizeof bytes, "%u", Y.y.value_bytes);
    snprintf(theta, sizeof theta, "%g", Y.y.theta);
    snprintf(ops, sizeof ops, "%llu", (unsigned long long)Y.y.ops);
    int fd[2];
    if (pipe(fd) != 0)
        return;
    pid_t pid = bench_fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        const char *argv[] = { "escript", Y.ets_script, "--records", n, "--seconds", sec, "--warmup", warm,
                               "--value-bytes", bytes, "--zipf-theta", theta, "--ops", ops, "--workloads", runs,
                               "--procs", procs, "--distribution", y_dist_name(Y.y.dist), "--insert-order",
                               order_name(), NULL };
        execv(escript, (char *const *)argv);
        _exit(127);
    }
    close(fd[1]);
    if (pid < 0) {
        close(fd[0]);
        return;
    }
    FILE *f = fdopen(fd[0], "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f)) {
        /* workload peer procs secs n_read n_update n_insert n_scan n_rmw p50 p99 p999 (all) inserts bad
         * then p50 p99 of each kind, cores ours and others'; or a "# ..." line (the count check). */
        if (line[0] == '#') {
            fputs(line, stderr);
            if (strstr(line, "CHECK FAILED"))
                failures++;
            continue;
        }
        struct yresult r = { 0 };
        struct ycfg y = Y.y;
        char wl;
        unsigned long long nn[Y_NOPS], ins, bad;
        double pk[Y_NOPS][2];
        int got = sscanf(line, " %c %31s %d %lf %llu %llu %llu %llu %llu %lf %lf %lf %llu %llu %lf %lf %lf %lf %lf %lf "
                               "%lf %lf %lf %lf %lf %lf",
                         &wl, r.peer, &r.procs, &r.secs, &nn[0], &nn[1], &nn[2], &nn[3], &nn[4], &r.p[Y_NOPS][0],
                         &r.p[Y_NOPS][1], &r.p[Y_NOPS][2], &ins, &bad, &pk[0][0], &pk[0][1], &pk[1][0], &pk[1][1],
                         &pk[2][0], &pk[2][1], &pk[3][0], &pk[3][1], &pk[4][0], &pk[4][1], &r.cpu_ours, &r.cpu_other);
        if (got < 24 || r.secs <= 0)
            continue;
        r.workload = wl;
        y_workload(&y, wl);
        for (int o = 0; o < Y_NOPS; o++) {
            r.n[o] = nn[o];
            r.p[o][0] = pk[o][0];
            r.p[o][1] = pk[o][1];
        }
        r.inserts = ins;
        r.bad = bad;
        emit(&y, &r);
    }
    if (f)
        fclose(f);
    double limit = 120 + 12 * (Y.y.c.seconds + Y.y.c.warmup + 10) + (double)Y.y.c.objects / 2e4;
    int st = bench_reap(pid, limit);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "shmets-bench: the ETS runs did not complete (status %d)\n", st);
        failures++;
    }
}

/* ---- the worker --------------------------------------------------------------------------- */

int ycsb_worker(const struct cfg *c)
{
    snprintf(Y.y.c.tag, sizeof Y.y.c.tag, "%s", c->tag);
    snprintf(Y.y.c.dir, sizeof Y.y.c.dir, "%s", c->dir);
    if (Y.out) {
        char p[512];
        mkdir(Y.out, 0755);
        snprintf(p, sizeof p, "%s/ycsb.tsv", Y.out);
        if (!(tsv = fopen(p, "w"))) {
            fprintf(stderr, "shmets-bench: cannot write %s: %s\n", p, strerror(errno));
            return 1;
        }
        fprintf(tsv, "# records %llu\n# value_bytes %u\n# zipf_theta %g\n# insert_order %s\n# seconds %g\n# warmup %g\n"
                     "# ops %llu\n",
                (unsigned long long)Y.y.c.objects, Y.y.value_bytes, Y.y.theta, order_name(), Y.y.c.seconds,
                Y.y.c.warmup, (unsigned long long)Y.y.ops);
        machine_info(tsv);
        for (size_t i = 0; i < NYPEERS; i++)
            if (Y.peer_on[i])
                fprintf(tsv, "# note %s: %s\n", ypeers[i]->name, ypeers[i]->note);
        if (Y.peer_on[NYPEERS])
            fprintf(tsv, "# note ets: a public set with {write_concurrency, true} (ordered_set for e), Erlang client "
                         "processes on the VM's schedulers: ets:lookup/2, ets:insert/2, ets:update_counter/3, "
                         "ets:next/2 for scans (bench/ycsb.escript)\n");
        fprintf(tsv, "workload\tpeer\tprocs\tops_per_s\treads_per_s\twrites_per_s\tp50_ns\tp99_ns\tp999_ns\t"
                     "distribution\tinserts\twrong_values\tcpu_ours\tcpu_other");
        for (int o = 0; o < Y_NOPS; o++)
            fprintf(tsv, "\t%s_per_s\t%s_p50\t%s_p99", y_op_name(o), y_op_name(o), y_op_name(o));
        fprintf(tsv, "\n");
    }
    if (!Y.json)
        printf("# workload\tpeer\tprocs\tops_per_s\treads_per_s\twrites_per_s\tp50_ns\tp99_ns\tp999_ns\n");
    fprintf(stderr, "shmets-bench: YCSB workloads %s, %llu records of %u bytes, %s a run\n", Y.workloads,
            (unsigned long long)Y.y.c.objects, Y.y.value_bytes, Y.y.ops ? "--ops" : "--seconds");
    for (const char *w = "abcfde"; *w; w++)
        if (strchr(Y.workloads, *w)) {
            struct ycfg y = Y.y;
            y_workload(&y, *w);
            knobs(&y);
        }
    fprintf(stderr, "%-1s %-8s %3s %13s %12s %12s %8s %8s %9s  %s\n", "w", "peer", "P", "ops/s", "reads/s", "writes/s",
            "p50 ns", "p99 ns", "p99.9 ns", "cores: ours, others'");
    bool usable[NYPEERS];
    for (size_t i = 0; i < NYPEERS; i++) {
        const struct ypeer *p = ypeers[i];
        const char *why = NULL;
        usable[i] = Y.peer_on[i] && (!p->available || p->available(&why));
        if (Y.peer_on[i] && !usable[i]) {
            comment("skipped %s: %s", p->name, why);
            fprintf(stderr, "shmets-bench: %s skipped: %s\n", p->name, why);
        }
    }
    run_pass(0, usable);
    run_pass(1, usable);
    if (Y.peer_on[NYPEERS])
        run_ets();
    if (tsv)
        fclose(tsv);
    tsv = NULL;
    if (Y.out && ycsb_report(Y.out) != 0)
        fprintf(stderr, "shmets-bench: the YCSB report could not be written\n");
    if (failures)
        fprintf(stderr, "shmets-bench: %d run(s) FAILED or found wrong values (see above)\n", failures);
    return failures ? 1 : 0;
}
