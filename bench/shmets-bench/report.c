/*
 * report.c — build/bench/report.md and read-scaling.svg from a run's results.tsv.
 *
 * The report is made from the TSV alone (and readers.tsv for the per-reader medians), so
 * `shmets-bench --report DIR` makes it again from a kept run.  It holds: the R1 table (total
 * lookups/s by system and P), each target of issues 23 and 18 with its measured figure, by how
 * much it is met or missed and the instructions a call of that API runs (cost.tsv, when
 * bench/cost.sh ran first), every shmets variant as a ratio to every peer at the same P, the R2,
 * R3, O1 and M tables, what each peer measures, and every line of the run.
 */
#include "bench.h"
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXR 1024

static struct result R[MAXR];
static size_t NR;
static char meta[64][1024];      /* the # lines: parameters, notes, skips */
static size_t NMETA;
static uint64_t objects = 1000000;

static const char *const SHMETS[] = { "shmets", "shmets-zc", "shmets-batch", "shmets-kv" };
#define NSHMETS 4
static const char *const PEERS[] = { "rwlock", "urcu", "lmdb", "ets", "redis", "redis-pipe16", "floor" };
#define NPEERS_R 7
static const int PS[] = { 1, 2, 4, 8 };

static const struct result *find(const char *kase, const char *peer, int procs)
{
    for (size_t i = 0; i < NR; i++)
        if (!strcmp(R[i].kase, kase) && !strcmp(R[i].peer, peer) && R[i].procs == procs)
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

static int load_tsv(const char *dir)
{
    char path[512], line[1024];
    snprintf(path, sizeof path, "%s/results.tsv", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    NR = NMETA = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (line[0] == '#') {
            if (NMETA < 64)
                snprintf(meta[NMETA++], sizeof meta[0], "%s", line + 2);
            continue;
        }
        struct result r = { 0 };
        unsigned long long mem;
        if (NR < MAXR && sscanf(line, "%7s %31s %d %lf %lf %llu %lf %lf", r.kase, r.peer, &r.procs, &r.lookups,
                                &r.writes, &mem, &r.p50, &r.p99) == 8) {
            r.mem = mem;
            R[NR++] = r;
        }
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/readers.tsv", dir);
    if ((f = fopen(path, "r"))) {
        while (fgets(line, sizeof line, f)) {
            char k[8], p[32];
            int procs;
            double med, ours = -1, other = -1;
            unsigned long long bad;
            if (sscanf(line, "%7s %31s %d %lf %llu %lf %lf", k, p, &procs, &med, &bad, &ours, &other) >= 5)
                for (size_t i = 0; i < NR; i++)
                    if (!strcmp(R[i].kase, k) && !strcmp(R[i].peer, p) && R[i].procs == procs) {
                        R[i].reader_median = med;
                        R[i].bad = bad;
                        R[i].cpu_ours = ours;
                        R[i].cpu_other = other;
                    }
        }
        fclose(f);
    }
    const char *o = meta_get("objects");
    if (o)
        objects = strtoull(o, NULL, 10);
    return 0;
}

static double raw_bytes(void)
{
    return (double)objects * (8 + VALUE_BYTES);
}

/* ---- targets ---------------------------------------------------------------------------------- */

static int met_count, missed_count, unknown_count;

/* Instructions a lookup from bench/cost.sh's cost.tsv in the same directory (make bench runs
 * it first): the library-only count of a mode, or -1. */
static char cost_dir[512];
static double cost_of(const char *mode)
{
    char path[600], line[256], m[64];
    snprintf(path, sizeof path, "%s/cost.tsv", cost_dir);
    FILE *f = fopen(path, "r");
    double v = -1, with, lib;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%63s %lf %lf", m, &with, &lib) == 3 && !strcmp(m, mode))
            v = lib;
    fclose(f);
    return v;
}

/* R5's objects/s from range.tsv (bench/range.c and bench/range.escript, which make bench runs
 * first) for peer at P, or -1. */
static double range_of(const char *peer, int procs)
{
    char path[600], line[256], c[16], pe[64];
    snprintf(path, sizeof path, "%s/range.tsv", cost_dir);
    FILE *f = fopen(path, "r");
    double v = -1, x;
    int p;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%15s %63s %d %lf", c, pe, &p, &x) == 4 && !strcmp(c, "R5") && !strcmp(pe, peer) && p == procs)
            v = x;
    fclose(f);
    return v;
}

static void range_table(FILE *f)
{
    if (range_of("shmets", 1) < 0)
        return;
    fprintf(f, "## R5: range reads (issue 18)\n\n`build/bench/range` and `bench/range.escript`: a select of 100 "
               "consecutive keys from a random start in an ordered_set of 1,000,000 (shmets: the bound prefix "
               "{B, '_'}; shmets-zc: shmets_range_view of 100 objects from {B, 0} in a read section, zero-copy; "
               "LMDB: a cursor; ETS: ets:select/2 with the bound prefix), M objects/s.\n\n"
               "| system | P = 1 | P = 2 |\n| --- | ---: | ---: |\n");
    static const char *const peers[] = { "shmets", "shmets-zc", "lmdb", "ets" };
    for (int i = 0; i < 4; i++) {
        double a = range_of(peers[i], 1), b = range_of(peers[i], 2);
        if (a < 0 && b < 0)
            continue;
        char x[32] = "-", y[32] = "-";
        if (a >= 0)
            snprintf(x, sizeof x, "%.2f", a / 1e6);
        if (b >= 0)
            snprintf(y, sizeof y, "%.2f", b / 1e6);
        fprintf(f, "| %s | %s | %s |\n", peers[i], x, y);
    }
    fprintf(f, "\n");
}

/* One line of the targets table: measured `v` against `target`, at least (ge) or at most;
 * `mode`: the cost.sh mode whose instructions a call go beside it (NULL: none). */
static void target(FILE *f, const char *what, double v, double target, int ge, const char *unit, const char *mode)
{
    char ins[64] = "";
    double c = mode ? cost_of(mode) : -1;
    if (c >= 0)
        snprintf(ins, sizeof ins, "%.0f (%s)", c, mode);
    if (v < 0) {
        fprintf(f, "| %s | no figure | not measured (peer skipped or run failed) | %s |\n", what, ins);
        unknown_count++;
        return;
    }
    int ok = ge ? v >= target : v <= target;
    double by = ge ? (target - v) / target : (v - target) / target;
    if (ok) {
        met_count++;
        fprintf(f, "| %s | %.2f%s | **met** | %s |\n", what, v, unit, ins);
    } else {
        missed_count++;
        fprintf(f, "| %s | %.2f%s | **missed by %.0f%%** (%.2f%s %s %.2f%s) | %s |\n", what, v, unit, by * 100, v, unit,
                ge ? "<" : ">", target, unit, ins);
    }
}

static double ratio(const struct result *a, const struct result *b)
{
    return a && b && b->lookups > 0 ? a->lookups / b->lookups : -1;
}

static void rt(FILE *f, const char *kase, const char *a, const char *b, int p, double want, const char *mode,
               const char *fmt)
{
    char what[256];
    snprintf(what, sizeof what, fmt, p);
    target(f, what, ratio(find(kase, a, p), find(kase, b, p)), want, 1, "×", mode);
}

static void targets(FILE *f)
{
    fprintf(f, "## Targets of issues 23 (the read path) and 18 (the ordered index)\n\n"
               "Ratios within this run.  The last column is what one lookup (or write) of that API runs in the "
               "library, from `bench/cost.sh` (callgrind; its modes are in the last section; its keys are "
               "prepared once, the benchmark's in each call).\n\n"
               "| target | measured | verdict | instructions a call |\n| --- | --- | --- | --- |\n");
    rt(f, "R1", "shmets-zc", "rwlock", 1, 0.6, "zckey", "R1 shmets-zc ≥ 0.6 × rwlock at P = %d");
    rt(f, "R1", "shmets-zc", "rwlock", 2, 1.0, "zckey", "R1 shmets-zc ≥ 1.0 × rwlock at P = %d");
    for (int p = 1; p <= 2; p++)
        rt(f, "R1", "shmets", "lmdb", p, 3, "into", "R1 shmets (copying) ≥ 3 × lmdb at P = %d");
    rt(f, "R1", "shmets", "rwlock", 2, 0.7, "into", "R1 shmets (copying) ≥ 0.7 × rwlock at P = %d");
    rt(f, "R1", "shmets-batch", "floor", 1, 0.45, "batchkey", "R1 shmets-batch ≥ 0.45 × floor at P = %d");
    for (size_t i = 0; i < 3; i++) {
        const char *peer = SHMETS[i];
        char what[256];
        snprintf(what, sizeof what, "R1 %s at P = 8 (oversubscribed) ≥ 0.9 × its P = 2", peer);
        target(f, what, ratio(find("R1", peer, 8), find("R1", peer, 2)), 0.9, 1, "×", NULL);
    }
    target(f, "R2 shmets readers, one writer at full speed, ≥ 0.8 × own R1 at P = 1",
           ratio(find("R2", "shmets", 1), find("R1", "shmets", 1)), 0.8, 1, "×", NULL);
    const struct result *w = find("R2", "shmets", 1);
    target(f, "R2 shmets writer ≥ 1 M writes/s at P = 1", w ? w->writes / 1e6 : -1, 1, 1, " M/s", "write");
    for (int p = 1; p <= 2; p++) {
        char what[256];
        snprintf(what, sizeof what, "R3 shmets readers, writer stopped holding the lock, ≥ 0.95 × own R1 at P = %d", p);
        target(f, what, ratio(find("R3", "shmets", p), find("R1", "shmets", p)), 0.95, 1, "×", NULL);
    }
    const struct result *m = find("M", "shmets", 0);
    target(f, "M shmets set ≤ 2.0 × the raw bytes (N × 40)", m ? (double)m->mem / raw_bytes() : -1, 2.0, 0, "×", NULL);
    for (int p = 1; p <= 2; p++) {
        rt(f, "O1", "shmets-zc", "lmdb", p, 1.0, "ordered", "O1 shmets-zc ordered_set ≥ 1.0 × lmdb at P = %d");
        rt(f, "O1", "shmets-zc", "ets", p, 2.0, "ordered", "O1 shmets-zc ordered_set ≥ 2 × ETS ordered_set at P = %d");
        rt(f, "O1", "shmets", "ets", p, 1.5, NULL, "O1 shmets (copying) ordered_set ≥ 1.5 × ETS ordered_set at P = %d");
    }
    for (int p = 1; p <= 2; p++) {
        char what[256];
        double a = range_of("shmets-zc", p), c = range_of("shmets", p), b = range_of("lmdb", p);
        snprintf(what, sizeof what, "R5 shmets range views ≥ 1.0 × lmdb's cursor, objects/s, at P = %d", p);
        target(f, what, a >= 0 && b > 0 ? a / b : -1, 1.0, 1, "×", "rangezc");
        snprintf(what, sizeof what, "R5 shmets range select ≥ 1.0 × lmdb's cursor, objects/s, at P = %d", p);
        target(f, what, c >= 0 && b > 0 ? c / b : -1, 1.0, 1, "×", "range");
    }
    fprintf(f, "\n%d targets met, %d missed, %d without a figure.\n\n", met_count, missed_count, unknown_count);
    range_table(f);
}

/* ---- tables ------------------------------------------------------------------------------------ */

static bool has_peer(const char *kase, const char *peer)
{
    for (size_t i = 0; i < NR; i++)
        if (!strcmp(R[i].kase, kase) && !strcmp(R[i].peer, peer))
            return true;
    return false;
}

/* The systems of a case, in a fixed order: shmets's variants first, then the peers. */
static size_t systems(const char *kase, const char **out)
{
    size_t n = 0;
    for (int i = 0; i < NSHMETS; i++)
        if (has_peer(kase, SHMETS[i]))
            out[n++] = SHMETS[i];
    for (int i = 0; i < NPEERS_R; i++)
        if (has_peer(kase, PEERS[i]))
            out[n++] = PEERS[i];
    return n;
}

/* A run during which other processes used more than a quarter of a core is marked. */
#define DISTURBED(r) ((r)->cpu_other > 0.25)
static int disturbed_seen;

static const char *mark(const struct result *r)
{
    if (r && DISTURBED(r)) {
        disturbed_seen = 1;
        return " *";
    }
    return "";
}

static void cell(FILE *f, const struct result *r)
{
    if (r)
        fprintf(f, " %.3f%s |", r->lookups / 1e6, mark(r));
    else
        fprintf(f, " – |");
}

static void disturbed_note(FILE *f)
{
    if (disturbed_seen)
        fprintf(f, "\n\\* other processes used more than a quarter of a core during this run (after the retries "
                   "shmets-bench allows itself): its figure is lower than an idle machine gives.\n");
    disturbed_seen = 0;
}

static void r1_table(FILE *f)
{
    const char *sys[16];
    size_t n = systems("R1", sys);
    fprintf(f, "## R1 read-only: total lookups/s, millions\n\n"
               "Sum over P reader processes (threads for urcu, Erlang processes for ETS) of each reader's "
               "lookups/s; latency of single lookups from a sampled subset (1 key in 256; for batched and "
               "pipelined calls, a call's time divided by its keys).\n\n"
               "| system | P = 1 | P = 2 | P = 4 | P = 8 | P = 8 / P = 2 | p50 ns (P = 1) | p99 ns (P = 1) |\n"
               "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "| %s |", sys[i]);
        for (int j = 0; j < 4; j++)
            cell(f, find("R1", sys[i], PS[j]));
        double r82 = ratio(find("R1", sys[i], 8), find("R1", sys[i], 2));
        const struct result *one = find("R1", sys[i], 1);
        if (r82 >= 0)
            fprintf(f, " %.2f |", r82);
        else
            fprintf(f, " – |");
        if (one)
            fprintf(f, " %.0f | %.0f |\n", one->p50, one->p99);
        else
            fprintf(f, " – | – |\n");
    }
    disturbed_note(f);
    fprintf(f, "\n![R1: lookups/s against P](read-scaling.svg)\n\n");
}

static void ratio_table(FILE *f, const char *kase, const char *title)
{
    const char *sys[16], *peers[16];
    size_t n = systems(kase, sys), np = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(sys[i], "shmets", 6))
            peers[np++] = sys[i];
    if (!np)
        return;
    fprintf(f, "## %s\n\nEach shmets figure divided by the peer's at the same P (> 1: shmets is faster).\n\n"
               "| shmets | P |", title);
    for (size_t j = 0; j < np; j++)
        fprintf(f, " %s |", peers[j]);
    fprintf(f, "\n| --- | ---: |");
    for (size_t j = 0; j < np; j++)
        fprintf(f, " ---: |");
    fprintf(f, "\n");
    for (size_t i = 0; i < n; i++) {
        if (strncmp(sys[i], "shmets", 6))
            continue;
        for (int pi = 0; pi < 4; pi++) {
            const struct result *a = find(kase, sys[i], PS[pi]);
            if (!a)
                continue;
            fprintf(f, "| %s | %d |", sys[i], PS[pi]);
            for (size_t j = 0; j < np; j++) {
                double r = ratio(a, find(kase, peers[j], PS[pi]));
                if (r >= 0)
                    fprintf(f, " %.2f |", r);
                else
                    fprintf(f, " – |");
            }
            fprintf(f, "\n");
        }
    }
    fprintf(f, "\n");
}

static void mixed_tables(FILE *f)
{
    const char *sys[16];
    size_t n = systems("R2", sys);
    if (n) {
        fprintf(f, "## R2 mixed: readers while one writer overwrites random keys at full speed\n\n"
                   "| system | P | readers' lookups/s (M) | ÷ own R1 | writer's writes/s (M) | p99 ns |\n"
                   "| --- | ---: | ---: | ---: | ---: | ---: |\n");
        for (size_t i = 0; i < n; i++)
            for (int pi = 0; pi < 4; pi++) {
                const struct result *a = find("R2", sys[i], PS[pi]);
                if (!a)
                    continue;
                double r = ratio(a, find("R1", sys[i], PS[pi]));
                fprintf(f, "| %s | %d | %.3f%s | %s%.2f | %.3f | %.0f |\n", sys[i], PS[pi], a->lookups / 1e6, mark(a),
                        r < 0 ? "–" : "", r < 0 ? 0 : r, a->writes / 1e6, a->p99);
            }
        disturbed_note(f);
        fprintf(f, "\nOn 2 cores the writer is a process of its own: at P = 1 it has the second core, at P = 2 "
                   "three processes share two cores, so the readers cannot keep more than about 2/3 of their R1 "
                   "figure whatever the store does.\n\n");
    }
    n = systems("R3", sys);
    if (n) {
        fprintf(f, "## R3 stalled writer: readers while a writer holds the write lock, stopped (SIGSTOP)\n\n"
                   "| system | P | readers' lookups/s (M) | ÷ own R1 |\n| --- | ---: | ---: | ---: |\n");
        for (size_t i = 0; i < n; i++)
            for (int pi = 0; pi < 4; pi++) {
                const struct result *a = find("R3", sys[i], PS[pi]);
                if (!a)
                    continue;
                double r = ratio(a, find("R1", sys[i], PS[pi]));
                fprintf(f, "| %s | %d | %.3f%s | %s%.2f |\n", sys[i], PS[pi], a->lookups / 1e6, mark(a),
                        r < 0 ? "–" : "", r < 0 ? 0 : r);
            }
        disturbed_note(f);
        double sum = 0;
        int cnt = 0;
        for (int v = 0; v < NSHMETS; v++)
            for (int pi = 0; pi < 4; pi++) {
                double r = ratio(find("R3", SHMETS[v], PS[pi]), find("R1", SHMETS[v], PS[pi]));
                if (r >= 0) {
                    sum += r;
                    cnt++;
                }
            }
        if (cnt)
            fprintf(f, "\nMean R3 ÷ R1 over shmets's %d runs above (its four APIs at each P): %.2f. Readers of shmets "
                       "never touch the writer lock, so these ratios differ from 1 by the run-to-run variation of the "
                       "machine (on the 2-core VM this was measured on, the same run repeated varies by about ±10%%).\n",
                    cnt, sum / cnt);
        fprintf(f, "\nshmets's writer holds every writer lock of the table (the library's own tab_with_all) when "
                   "it stops; lmdb's has a write transaction open; rwlock's holds the write lock.\n\n");
    }
    n = systems("O1", sys);
    if (n) {
        fprintf(f, "## O1 ordered index: total lookups/s, millions\n\n| system | P = 1 | P = 2 | P = 4 | P = 8 | "
                   "p50 ns (P = 1) | p99 ns (P = 1) |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (size_t i = 0; i < n; i++) {
            fprintf(f, "| %s |", sys[i]);
            for (int j = 0; j < 4; j++)
                cell(f, find("O1", sys[i], PS[j]));
            const struct result *one = find("O1", sys[i], 1);
            fprintf(f, one ? " %.0f | %.0f |\n" : " – | – |\n", one ? one->p50 : 0, one ? one->p99 : 0);
        }
        disturbed_note(f);
        fprintf(f, "\nshmets: an ordered_set (a skip list); shmets-batch looks an ordered_set up key by key; "
                   "lmdb: the same B+tree as in R1; ets: an ordered_set.\n\n");
        ratio_table(f, "O1", "O1: shmets as a ratio to every peer");
    }
    bool any = false;
    for (size_t i = 0; i < NR; i++)
        any |= !strcmp(R[i].kase, "M");
    if (any) {
        fprintf(f, "## M memory after loading %llu objects (raw: %.1f MB = N × (8-byte key + 32-byte value))\n\n"
                   "| store | bytes | MB | ÷ raw |\n| --- | ---: | ---: | ---: |\n",
                (unsigned long long)objects, raw_bytes() / 1e6);
        for (size_t i = 0; i < NR; i++)
            if (!strcmp(R[i].kase, "M"))
                fprintf(f, "| %s | %llu | %.1f | %.2f |\n", R[i].peer, (unsigned long long)R[i].mem,
                        (double)R[i].mem / 1e6, (double)R[i].mem / raw_bytes());
        fprintf(f, "\nshmets: the blocks /dev/shm holds for the table's segment and the instance's control "
                   "segment; lmdb: data.mdb and lock.mdb on tmpfs; rwlock and floor: their shared mapping; "
                   "urcu: what the process's RSS grew by while loading; redis: the server's RSS; ets: "
                   "ets:info(T, memory) in bytes.\n\n");
    }
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
    fprintf(f, "\n");
    any = false;
    for (size_t i = 0; i < NR; i++)
        if (R[i].bad) {
            if (!any)
                fprintf(f, "Runs in which lookups found a wrong value (these figures are not to be trusted):\n\n");
            any = true;
            fprintf(f, "- %s %s P = %d: %llu\n", R[i].kase, R[i].peer, R[i].procs, (unsigned long long)R[i].bad);
        }
    if (any)
        fprintf(f, "\n");
}

static void all_runs(FILE *f)
{
    fprintf(f, "## Every run\n\n\"cores\": CPU the run's readers and writer had during the window, and what the "
               "rest of the machine used meanwhile (other processes, steal), in cores (– where not measured: ETS, M).\n\n"
               "| case | peer | procs | lookups/s | per-reader median | writes/s | mem bytes | "
               "p50 ns | p99 ns | cores: ours | others' |\n"
               "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (size_t i = 0; i < NR; i++) {
        fprintf(f, "| %s | %s | %d | %.0f | %.0f | %.0f | %llu | %.0f | %.0f |", R[i].kase, R[i].peer, R[i].procs,
                R[i].lookups, R[i].reader_median, R[i].writes, (unsigned long long)R[i].mem, R[i].p50, R[i].p99);
        if (R[i].cpu_ours > 0)
            fprintf(f, " %.2f | %.2f |\n", R[i].cpu_ours, R[i].cpu_other);
        else
            fprintf(f, " – | – |\n");
    }
    fprintf(f, "\n");
}

/* ---- the plot --------------------------------------------------------------------------------- */

/* One colour a system: shmets's APIs in strong colours and solid lines, the peers dashed
 * (the YCSB plot, ycsb_report.c, uses the same). */
const char *report_colour(const char *sys)
{
    static const char *const map[][2] = {
        { "shmets", "#7b00c8" }, { "shmets-zc", "#009e73" }, { "shmets-batch", "#d55e00" },
        { "shmets-kv", "#e6a000" }, { "rwlock", "#0072b2" }, { "urcu", "#56b4e9" }, { "lmdb", "#cc1f1f" },
        { "ets", "#000000" }, { "redis", "#8c8c8c" }, { "redis-pipe16", "#a0522d" }, { "floor", "#2e8b57" },
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(map[i][0], sys))
            return map[i][1];
    return "#444444";
}

static int plot(const char *dir)
{
    char path[512];
    const char *sys[16];
    size_t n = systems("R1", sys);
    snprintf(path, sizeof path, "%s/read-scaling.dat", dir);
    FILE *d = fopen(path, "w");
    snprintf(path, sizeof path, "%s/read-scaling.gp", dir);
    FILE *g = fopen(path, "w");
    if (!d || !g) {
        if (d)
            fclose(d);
        if (g)
            fclose(g);
        return -1;
    }
    const char *cores = meta_get("cores");
    fprintf(g, "# made by shmets-bench (report.c): gnuplot read-scaling.gp writes read-scaling.svg\n"
               "set terminal svg size 960,600 dynamic enhanced font 'sans,13' background rgb 'white'\n"
               "set output 'read-scaling.svg'\n"
               "set title 'R1 read-only, %llu objects, %s cores: total lookups/s against reader processes'\n"
               "set xlabel 'reader processes P (threads for urcu)'\nset ylabel 'lookups/s (millions, log scale)'\n"
               "set logscale x 2\nset logscale y 10\nset xtics (1, 2, 4, 8)\nset xrange [0.9:9]\n"
               "set grid xtics ytics mytics\nset key outside right top\nplot ",
            (unsigned long long)objects, cores ? cores : "?");
    int blocks = 0;
    for (size_t i = 0; i < n; i++) {
        fprintf(d, "# %s\n", sys[i]);
        for (int j = 0; j < 4; j++) {
            const struct result *r = find("R1", sys[i], PS[j]);
            if (r && r->lookups > 0)
                fprintf(d, "%d %.6f\n", PS[j], r->lookups / 1e6);
        }
        fprintf(d, "\n\n");
        int shm = !strncmp(sys[i], "shmets", 6);
        fprintf(g, "%s'read-scaling.dat' index %d with linespoints lw %d dt %d pt %d lc rgb '%s' title '%s'",
                blocks ? ", \\\n     " : "", blocks, shm ? 3 : 2, shm ? 1 : 2, shm ? 7 : 5, report_colour(sys[i]), sys[i]);
        blocks++;
    }
    fprintf(g, "\n");
    fclose(d);
    fclose(g);
    if (!blocks)
        return -1;
    pid_t pid = bench_fork();
    if (pid == 0) {
        if (chdir(dir) != 0)
            _exit(126);
        execlp("gnuplot", "gnuplot", "read-scaling.gp", (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        return -1;
    int st = bench_reap(pid, 60);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int report_write(const char *dir)
{
    snprintf(cost_dir, sizeof cost_dir, "%s", dir);
    if (load_tsv(dir))
        return -1;
    met_count = missed_count = unknown_count = 0;
    char path[512];
    snprintf(path, sizeof path, "%s/report.md", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    int plotted = plot(dir) == 0;
    const char *cpu = meta_get("cpu"), *cores = meta_get("cores"), *kernel = meta_get("kernel"),
               *date = meta_get("date"), *secs = meta_get("seconds"), *warm = meta_get("warmup");
    fprintf(f, "# shmets read benchmark\n\n"
               "Made by `build/shmets-bench` (`make bench`) on %s: %s, %s cores, %s. %llu objects (integer keys, "
               "32-byte values), each run %s s after %s s of warm-up; every figure below comes from this one run "
               "of one program (raw lines: `results.tsv`, per-reader medians: `readers.tsv`). These are "
               "figures, not pass/fail: a slow machine makes them smaller, and the ratios are what carry over.\n\n",
            date ? date : "?", cpu ? cpu : "?", cores ? cores : "?", kernel ? kernel : "?",
            (unsigned long long)objects, secs ? secs : "?", warm ? warm : "?");
    double worst = 0;
    for (size_t i = 0; i < NR; i++)
        if (R[i].cpu_other > worst)
            worst = R[i].cpu_other;
    if (worst > 0.15)
        fprintf(f, "**Other load.** Processes outside this benchmark used up to %.2f cores during its runs (column "
                   "\"others'\" of the last table): figures of those runs, P ≥ 2 above all, are lower than an idle "
                   "machine gives.\n\n", worst);
    r1_table(f);
    if (!plotted)
        fprintf(f, "(The plot was not made: gnuplot is missing or failed; `read-scaling.gp` and `.dat` are there.)\n\n");
    targets(f);
    ratio_table(f, "R1", "R1: shmets as a ratio to every peer at the same P");
    mixed_tables(f);
    notes(f);
    all_runs(f);
    fclose(f);
    fprintf(stderr, "shmets-bench: %s/report.md written (%d targets met, %d missed, %d without a figure)%s\n", dir,
            met_count, missed_count, unknown_count, plotted ? "; read-scaling.svg plotted" : "");
    return 0;
}
