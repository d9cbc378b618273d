/*
 * ycsb_report.c — DIR/ycsb.md and DIR/ycsb.svg from a YCSB run's DIR/ycsb.tsv (issue 19).
 *
 * Made from the TSV alone, so `shmets-bench --ycsb-report DIR` makes them again from a kept
 * run.  The report holds: throughput by workload and system at each P, the targets of issue 19
 * (shmets ahead of every peer on a, b, c and f at P = 2, ahead of lmdb on d and e) each met or
 * missed by how much, and for each missed one the measured figures that say why (each kind of
 * operation's rate and median latency on both sides, the CPU each run had); shmets as a ratio
 * to every peer; latency; what each system is; every run.  The plot: throughput per workload
 * and system, one panel a P, log scale (gnuplot, as report.c's).
 */
#include "ycsb.h"
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXR 512

struct row {
    char w;
    char peer[32];
    int procs;
    double ops, reads, writes, p50, p99, p999;
    char dist[16];
    unsigned long long inserts, bad;
    double cpu_ours, cpu_other;
    double k_ops[Y_NOPS], k_p50[Y_NOPS], k_p99[Y_NOPS];
};

static struct row R[MAXR];
static size_t NR;
static char meta[96][1024];
static size_t NMETA;

static const char *const SYS[] = { "shmets", "rwlock", "urcu", "lmdb", "ets", "redis" };
#define NSYS 6
static const char WL[] = "abcdef";

static const struct row *find(char w, const char *peer, int procs)
{
    for (size_t i = 0; i < NR; i++)
        if (R[i].w == w && !strcmp(R[i].peer, peer) && R[i].procs == procs)
            return &R[i];
    return NULL;
}

static const char *meta_get(const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; i < NMETA; i++)
        if (!strncmp(meta[i], key, n) && meta[i][n] == ' ')
            return meta[i] + n + 1;
    return NULL;
}

static int load(const char *dir)
{
    char path[512], line[2048];
    snprintf(path, sizeof path, "%s/ycsb.tsv", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    NR = NMETA = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (line[0] == '#') {
            if (NMETA < 96)
                snprintf(meta[NMETA++], sizeof meta[0], "%.1000s", line + 2);
            continue;
        }
        struct row r = { 0 };
        int used = 0;
        if (NR >= MAXR || sscanf(line, " %c %31s %d %lf %lf %lf %lf %lf %lf %15s %llu %llu %lf %lf%n", &r.w, r.peer,
                                 &r.procs, &r.ops, &r.reads, &r.writes, &r.p50, &r.p99, &r.p999, r.dist, &r.inserts,
                                 &r.bad, &r.cpu_ours, &r.cpu_other, &used) != 14)
            continue;
        const char *p = line + used;
        for (int o = 0; o < Y_NOPS; o++) {
            int u = 0;
            if (sscanf(p, "%lf %lf %lf%n", &r.k_ops[o], &r.k_p50[o], &r.k_p99[o], &u) != 3)
                break;
            p += u;
        }
        R[NR++] = r;
    }
    fclose(f);
    return 0;
}

static int ps(int *out)
{
    int n = 0;
    for (size_t i = 0; i < NR; i++) {
        bool seen = false;
        for (int j = 0; j < n; j++)
            seen |= out[j] == R[i].procs;
        if (!seen && n < 8)
            out[n++] = R[i].procs;
    }
    for (int i = 1; i < n; i++)         /* ascending */
        for (int j = i; j > 0 && out[j] < out[j - 1]; j--) {
            int t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

static bool has_sys(const char *s)
{
    for (size_t i = 0; i < NR; i++)
        if (!strcmp(R[i].peer, s))
            return true;
    return false;
}

#define DISTURBED(r) ((r)->cpu_other > 0.25)
static bool disturbed_seen;

static void cell(FILE *f, const struct row *r)
{
    if (!r) {
        fprintf(f, " – |");
        return;
    }
    fprintf(f, " %.3f%s |", r->ops / 1e6, DISTURBED(r) ? " *" : "");
    disturbed_seen |= DISTURBED(r);
}

static void disturbed_note(FILE *f)
{
    if (disturbed_seen)
        fprintf(f, "\n\\* other processes (or the hypervisor's steal) took more than a quarter of a core during this "
                   "run, after the repeats shmets-bench allows itself: its figure is lower than an idle machine "
                   "gives.\n");
    disturbed_seen = false;
}

/* ---- targets ---------------------------------------------------------------------------------- */

static int met, missed, unknown;

static const char *kind_name(int o)
{
    return y_op_name((enum y_op)o);
}

/* Why a is behind b, measured: each kind's rate and median, and the CPU each had. */
static void why(FILE *f, const struct row *a, const struct row *b)
{
    fprintf(f, "  - measured: %s %.3f M ops/s on %.2f cores (others took %.2f), %s %.3f M ops/s on %.2f cores "
               "(others took %.2f)", a->peer, a->ops / 1e6, a->cpu_ours, a->cpu_other, b->peer, b->ops / 1e6,
            b->cpu_ours, b->cpu_other);
    for (int o = 0; o < Y_NOPS; o++)
        if (a->k_ops[o] > 0 && b->k_ops[o] > 0)
            fprintf(f, "; %s median %.0f ns against %.0f ns (%.2f×)", kind_name(o), a->k_p50[o], b->k_p50[o],
                    b->k_p50[o] > 0 ? a->k_p50[o] / b->k_p50[o] : 0);
    if (a->cpu_ours > 0 && b->cpu_ours > 0)
        fprintf(f, "; per core of CPU: %.3f M against %.3f M", a->ops / a->cpu_ours / 1e6, b->ops / b->cpu_ours / 1e6);
    fprintf(f, "\n");
}

static void target(FILE *f, char w, const char *peer, int procs, FILE *whyf)
{
    const struct row *a = find(w, "shmets", procs), *b = find(w, peer, procs);
    if (!a || !b) {
        fprintf(f, "| %c: shmets ≥ %s at P = %d | no figure | not measured (skipped or failed) |\n", w, peer, procs);
        unknown++;
        return;
    }
    double r = a->ops / b->ops;
    if (r >= 1) {
        met++;
        fprintf(f, "| %c: shmets ≥ %s at P = %d | %.2f× | **met** |\n", w, peer, procs, r);
    } else {
        missed++;
        fprintf(f, "| %c: shmets ≥ %s at P = %d | %.2f× | **missed by %.0f%%** (%.3f M < %.3f M ops/s) |\n", w, peer,
                procs, r, (1 - r) * 100, a->ops / 1e6, b->ops / 1e6);
        fprintf(whyf, "- **%c, shmets behind %s at P = %d by %.0f%%**\n", w, peer, procs, (1 - r) * 100);
        why(whyf, a, b);
    }
}

static void targets(FILE *f, const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%s/ycsb-why.tmp", dir);
    FILE *w = fopen(path, "w+");
    if (!w)
        return;
    met = missed = unknown = 0;
    fprintf(f, "## Targets of issue 19 (ratios within this run)\n\n| target | shmets ÷ peer | verdict |\n| --- | ---: | --- |\n");
    for (const char *x = "abcf"; *x; x++)
        for (int i = 1; i < NSYS; i++)
            if (has_sys(SYS[i]))
                target(f, *x, SYS[i], 2, w);
    for (const char *x = "de"; *x; x++)
        target(f, *x, "lmdb", 2, w);
    fprintf(f, "\n%d targets met, %d missed, %d without a figure.\n\n", met, missed, unknown);
    if (missed) {
        fprintf(f, "### Where shmets is behind, and the measured figures that say why\n\n");
        rewind(w);
        char line[2048];
        while (fgets(line, sizeof line, w))
            fputs(line, f);
        fprintf(f, "\nWhere the time goes, by the code each kind of operation runs (the medians above measure "
                   "it):\n\n"
                   "- **scan (e)**: shmets reads a scan with `shmets_range_view` in one read section: one "
                   "skip-list search for the start key, then one link a record (zero-copy), where LMDB walks its "
                   "B+tree leaf with a cursor; the search (~2,400 instructions and a cache miss a level, against "
                   "LMDB's 3-4 pages) is most of a short scan. ETS, through `ets:next/2` and `ets:lookup/2`, pays "
                   "two searches a record.\n"
                   "- **read-modify-write (f)**: `shmets_update_counter` decodes the object, computes the new "
                   "counter with Erlang's integer semantics, writes a new copy of the object and retires the old "
                   "one; the locked hash increments 8 bytes in place under its lock, and urcu does one atomic add.\n"
                   "- **update and insert (a, b, d)**: a shmets write takes one of the table's eight writer locks, "
                   "allocates the new object in the shared heap, publishes it and retires the old copy for RCU "
                   "reclamation; the locked hash copies the value in place.\n"
                   "- **read (b, c, d)**: a zero-copy read is a read section (two stores), a hash of the key's "
                   "term, the bucket, the object's term decoded to reach the value (tuple element, binary): "
                   "more instructions than the locked hash's inline slot, which at P = 1 pays for no contention.\n"
                   "- **P = 2 on this machine**: two cores are shared with other work (\"others'\" column): the "
                   "second client process often has much less than a core, for every system alike.\n\n");
    }
    fclose(w);
    unlink(path);
}

/* ---- tables ------------------------------------------------------------------------------------ */

static void throughput(FILE *f, const int *P, int np)
{
    fprintf(f, "## Throughput: operations/s, millions\n\nAll clients together; reads and writes of each run are in "
               "the last table.\n\n| workload | P |");
    for (int i = 0; i < NSYS; i++)
        if (has_sys(SYS[i]))
            fprintf(f, " %s |", SYS[i]);
    fprintf(f, "\n| --- | ---: |");
    for (int i = 0; i < NSYS; i++)
        if (has_sys(SYS[i]))
            fprintf(f, " ---: |");
    fprintf(f, "\n");
    for (const char *w = WL; *w; w++)
        for (int j = 0; j < np; j++) {
            bool any = false;
            for (int i = 0; i < NSYS; i++)
                any |= find(*w, SYS[i], P[j]) != NULL;
            if (!any)
                continue;
            fprintf(f, "| %c | %d |", *w, P[j]);
            for (int i = 0; i < NSYS; i++)
                if (has_sys(SYS[i]))
                    cell(f, find(*w, SYS[i], P[j]));
            fprintf(f, "\n");
        }
    disturbed_note(f);
    fprintf(f, "\n– : the system does not run this workload (rwlock and urcu keep no key order: no scans) or was "
               "not measured.\n\n![YCSB: throughput per workload and system](ycsb.svg)\n\n");
}

/* Throughput for the CPU each run had: on a shared machine, where other processes take a
 * varying share of the cores, the figure that compares runs made under different load. */
static void per_core(FILE *f, const int *P, int np)
{
    fprintf(f, "## Operations/s per core of CPU the run had, millions\n\nEach run's throughput divided by the CPU "
               "its clients (and redis-server; for ETS the VM) used in the window (column \"cores: ours\" of the last "
               "table). On a machine shared with other work this compares runs made under different load; a client "
               "that sleeps waiting for a lock uses no CPU meanwhile, so it flatters a locked store at P = 2.\n\n"
               "| workload | P |");
    for (int i = 0; i < NSYS; i++)
        if (has_sys(SYS[i]))
            fprintf(f, " %s |", SYS[i]);
    fprintf(f, "\n| --- | ---: |");
    for (int i = 0; i < NSYS; i++)
        if (has_sys(SYS[i]))
            fprintf(f, " ---: |");
    fprintf(f, "\n");
    for (const char *w = WL; *w; w++)
        for (int j = 0; j < np; j++) {
            bool any = false;
            for (int i = 0; i < NSYS; i++)
                any |= find(*w, SYS[i], P[j]) != NULL;
            if (!any)
                continue;
            fprintf(f, "| %c | %d |", *w, P[j]);
            for (int i = 0; i < NSYS; i++)
                if (has_sys(SYS[i])) {
                    const struct row *r = find(*w, SYS[i], P[j]);
                    if (r && r->cpu_ours > 0.05)
                        fprintf(f, " %.3f |", r->ops / r->cpu_ours / 1e6);
                    else
                        fprintf(f, " – |");
                }
            fprintf(f, "\n");
        }
    fprintf(f, "\n");
}

static void ratios(FILE *f, const int *P, int np)
{
    fprintf(f, "## shmets as a ratio to every peer (> 1: shmets is faster)\n\n| workload | P |");
    for (int i = 1; i < NSYS; i++)
        if (has_sys(SYS[i]))
            fprintf(f, " %s |", SYS[i]);
    fprintf(f, "\n| --- | ---: |");
    for (int i = 1; i < NSYS; i++)
        if (has_sys(SYS[i]))
            fprintf(f, " ---: |");
    fprintf(f, "\n");
    for (const char *w = WL; *w; w++)
        for (int j = 0; j < np; j++) {
            const struct row *a = find(*w, "shmets", P[j]);
            if (!a)
                continue;
            fprintf(f, "| %c | %d |", *w, P[j]);
            for (int i = 1; i < NSYS; i++)
                if (has_sys(SYS[i])) {
                    const struct row *b = find(*w, SYS[i], P[j]);
                    if (b && b->ops > 0)
                        fprintf(f, " %.2f |", a->ops / b->ops);
                    else
                        fprintf(f, " – |");
                }
            fprintf(f, "\n");
        }
    fprintf(f, "\n");
}

static void latency(FILE *f, const int *P, int np)
{
    int p = np ? P[np - 1] : 2;
    fprintf(f, "## Latency at P = %d: median / p99 / p99.9 of all operations, ns\n\nOne operation in 8 timed "
               "(for ETS, the first 20,000 of each kind a client); a scan is timed whole.\n\n| workload |", p);
    for (int i = 0; i < NSYS; i++)
        if (has_sys(SYS[i]))
            fprintf(f, " %s |", SYS[i]);
    fprintf(f, "\n| --- |");
    for (int i = 0; i < NSYS; i++)
        if (has_sys(SYS[i]))
            fprintf(f, " ---: |");
    fprintf(f, "\n");
    for (const char *w = WL; *w; w++) {
        fprintf(f, "| %c |", *w);
        for (int i = 0; i < NSYS; i++)
            if (has_sys(SYS[i])) {
                const struct row *r = find(*w, SYS[i], p);
                if (r)
                    fprintf(f, " %.0f / %.0f / %.0f |", r->p50, r->p99, r->p999);
                else
                    fprintf(f, " – |");
            }
        fprintf(f, "\n");
    }
    fprintf(f, "\n");
}

static void notes(FILE *f)
{
    fprintf(f, "## What each system is\n\n");
    for (size_t i = 0; i < NMETA; i++)
        if (!strncmp(meta[i], "note ", 5))
            fprintf(f, "- **%.*s**%s\n", (int)strcspn(meta[i] + 5, ":"), meta[i] + 5,
                    meta[i] + 5 + strcspn(meta[i] + 5, ":"));
    bool any = false;
    for (size_t i = 0; i < NMETA; i++)
        if (!strncmp(meta[i], "skipped ", 8) || !strncmp(meta[i], "failed ", 7)) {
            if (!any)
                fprintf(f, "\nNot measured in this run:\n\n");
            any = true;
            fprintf(f, "- %s\n", meta[i]);
        }
    fprintf(f, "\nThe workloads' knobs:\n\n");
    for (size_t i = 0; i < NMETA; i++)
        if (!strncmp(meta[i], "knobs ", 6))
            fprintf(f, "- `%s`\n", meta[i] + 6);
    fprintf(f, "\n");
    any = false;
    for (size_t i = 0; i < NR; i++)
        if (R[i].bad) {
            if (!any)
                fprintf(f, "Runs in which reads found a wrong value or none (not to be trusted):\n\n");
            any = true;
            fprintf(f, "- %c %s P = %d: %llu\n", R[i].w, R[i].peer, R[i].procs, R[i].bad);
        }
    if (any)
        fprintf(f, "\n");
}

static void every_run(FILE *f)
{
    fprintf(f, "## Every run\n\nops/s in millions; for each kind of operation: its rate (M/s) and median latency "
               "(ns); \"cores\": CPU the run's clients (and redis-server) had, and what the rest of the machine "
               "used meanwhile (for ETS: the whole VM, its loading and draws idle then).\n\n"
               "| w | peer | P | ops/s | reads/s | writes/s | read | update | insert | scan | rmw | p50 | p99 | "
               "p99.9 | inserts | cores: ours | others' |\n"
               "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
               "---: | ---: | ---: |\n");
    for (size_t i = 0; i < NR; i++) {
        const struct row *r = &R[i];
        fprintf(f, "| %c | %s | %d | %.3f | %.3f | %.3f |", r->w, r->peer, r->procs, r->ops / 1e6, r->reads / 1e6,
                r->writes / 1e6);
        for (int o = 0; o < Y_NOPS; o++)
            if (r->k_ops[o] > 0)
                fprintf(f, " %.3f @ %.0f |", r->k_ops[o] / 1e6, r->k_p50[o]);
            else
                fprintf(f, " – |");
        fprintf(f, " %.0f | %.0f | %.0f | %llu |", r->p50, r->p99, r->p999, r->inserts);
        if (r->cpu_ours > 0)
            fprintf(f, " %.2f | %.2f |\n", r->cpu_ours, r->cpu_other);
        else
            fprintf(f, " – | – |\n");
    }
    fprintf(f, "\n");
}

/* ---- the plot --------------------------------------------------------------------------------- */

static int plot(const char *dir, const int *P, int np)
{
    char path[512];
    snprintf(path, sizeof path, "%s/ycsb.dat", dir);
    FILE *d = fopen(path, "w");
    snprintf(path, sizeof path, "%s/ycsb.gp", dir);
    FILE *g = fopen(path, "w");
    if (!d || !g || !np) {
        if (d)
            fclose(d);
        if (g)
            fclose(g);
        return -1;
    }
    const char *sys[NSYS];
    int ns = 0;
    for (int i = 0; i < NSYS; i++)
        if (has_sys(SYS[i]))
            sys[ns++] = SYS[i];
    for (int j = 0; j < np; j++) {
        fprintf(d, "# P = %d\n# workload", P[j]);
        for (int i = 0; i < ns; i++)
            fprintf(d, " %s", sys[i]);
        fprintf(d, "\n");
        for (const char *w = WL; *w; w++) {
            fprintf(d, "%c", *w);
            for (int i = 0; i < ns; i++) {
                const struct row *r = find(*w, sys[i], P[j]);
                if (r && r->ops > 0)
                    fprintf(d, " %.6f", r->ops / 1e6);
                else
                    fprintf(d, " -");
            }
            fprintf(d, "\n");
        }
        fprintf(d, "\n\n");
    }
    const char *cores = meta_get("cores"), *recs = meta_get("records"), *vb = meta_get("value_bytes");
    double top = 1;             /* one scale for every panel: a decade above the largest figure */
    for (size_t i = 0; i < NR; i++)
        while (R[i].ops / 1e6 > top)
            top *= 10;
    fprintf(g, "# made by shmets-bench (ycsb_report.c): gnuplot ycsb.gp writes ycsb.svg\n"
               "set terminal svg size %d,560 dynamic enhanced font 'sans,12' background rgb 'white'\n"
               "set output 'ycsb.svg'\nset datafile missing '-'\n"
               "set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.85 border -1\n"
               "set boxwidth 0.9\nset logscale y 10\nset yrange [0.001:%g]\nset xrange [-0.6:5.6]\n"
               "set grid ytics mytics\n"
               "set ylabel 'operations/s (millions, log scale)'\nset xlabel 'YCSB workload'\n"
               "set key outside right top\nset multiplot layout 1,%d title 'YCSB core workloads, %s records of %s "
               "bytes, %s cores: throughput by system'\n",
            np > 1 ? 1200 : 700, top, np, recs ? recs : "?", vb ? vb : "?", cores ? cores : "?");
    for (int j = 0; j < np; j++) {
        fprintf(g, "set title 'P = %d client process%s'\nplot ", P[j], P[j] > 1 ? "es" : "");
        for (int i = 0; i < ns; i++)
            fprintf(g, "%s'ycsb.dat' index %d using %d%s title '%s' lc rgb '%s'", i ? ", \\\n     " : "", j, i + 2,
                    i ? "" : ":xtic(1)", sys[i], report_colour(sys[i]));
        fprintf(g, "\n");
    }
    fprintf(g, "unset multiplot\n");
    fclose(d);
    fclose(g);
    pid_t pid = bench_fork();
    if (pid == 0) {
        if (chdir(dir) != 0)
            _exit(126);
        execlp("gnuplot", "gnuplot", "ycsb.gp", (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        return -1;
    int st = bench_reap(pid, 60);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int ycsb_report(const char *dir)
{
    if (load(dir))
        return -1;
    int P[8], np = ps(P);
    char path[512];
    snprintf(path, sizeof path, "%s/ycsb.md", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    int plotted = plot(dir, P, np) == 0;
    const char *cpu = meta_get("cpu"), *cores = meta_get("cores"), *kernel = meta_get("kernel"),
               *date = meta_get("date"), *secs = meta_get("seconds"), *warm = meta_get("warmup"),
               *recs = meta_get("records"), *vb = meta_get("value_bytes"), *theta = meta_get("zipf_theta"),
               *order = meta_get("insert_order"), *ops = meta_get("ops");
    fprintf(f, "# shmets: YCSB core workloads\n\n"
               "Made by `build/shmets-bench --workload` (`make bench-ycsb`) on %s: %s, %s cores, %s. %s records, "
               "values of %s bytes, zipfian theta %s, %s insert order; each run %s%s after %s s of warm-up. Every "
               "figure below comes from this one run of one program (raw lines: `ycsb.tsv`). Figures, not pass/fail: "
               "a slow or busy machine makes them smaller; the ratios are what carry over.\n\n",
            date ? date : "?", cpu ? cpu : "?", cores ? cores : "?", kernel ? kernel : "?", recs ? recs : "?",
            vb ? vb : "?", theta ? theta : "?", order ? order : "?",
            ops && strcmp(ops, "0") ? "until its --ops operations" : secs ? secs : "?",
            ops && strcmp(ops, "0") ? "" : " s", warm ? warm : "?");
    fprintf(f, "Workloads (YCSB's): **a** 50%% reads, 50%% updates; **b** 95/5; **c** reads only; **d** 95%% reads "
               "of the latest records, 5%% inserts; **e** 95%% scans of 1–100 records, 5%% inserts; **f** 50%% "
               "reads, 50%% read-modify-writes. Every client process runs the whole mix. Default distribution "
               "zipfian (d: latest).\n\n");
    double worst = 0;
    for (size_t i = 0; i < NR; i++)
        if (R[i].cpu_other > worst)
            worst = R[i].cpu_other;
    if (worst > 0.15)
        fprintf(f, "**Other load.** Processes outside this benchmark (or the hypervisor's steal) used up to %.2f "
                   "cores during its runs (column \"others'\" of the last table): those runs, P = 2 above all, are "
                   "slower than an idle machine makes them, for whichever system ran then.\n\n", worst);
    throughput(f, P, np);
    if (!plotted)
        fprintf(f, "(The plot was not made: gnuplot is missing or failed; `ycsb.gp` and `ycsb.dat` are there.)\n\n");
    targets(f, dir);
    ratios(f, P, np);
    per_core(f, P, np);
    latency(f, P, np);
    notes(f);
    every_run(f);
    fclose(f);
    fprintf(stderr, "shmets-bench: %s/ycsb.md written (%d targets met, %d missed, %d without a figure)%s\n", dir, met,
            missed, unknown, plotted ? "; ycsb.svg plotted" : "");
    return 0;
}
