/*
 * main.c — build/shmets-bench: the high-concurrency read benchmark of shmets against the
 * stores users would pick instead, all measured in one program and one run (issue 8; the
 * workload is shared/WORKLOAD.md).
 *
 *   shmets-bench [--case R1,R2,R3,O1,M] [--peer NAME,...] [--procs 1,2,4,8] [--seconds D]
 *                [--objects N] [--warmup W] [--out DIR] [--ets-script PATH] [--retries N]
 *   shmets-bench --standard [--seconds D] [--out DIR]   the set `make bench` runs
 *   shmets-bench --report DIR                          report.md and the plot from DIR's TSV
 *
 * A run during which other processes took more than a quarter of a core is repeated (--retries,
 * default 2; see run_busy).
 *
 * Output: one TSV line per run on stdout,
 *   case  peer  procs  lookups_per_s  writes_per_s  mem_bytes  p50_ns  p99_ns
 * (M lines carry the memory, the others 0 there), a human table on stderr; with --out, the
 * same lines in DIR/results.tsv (with the run's parameters as # comments), the per-reader
 * medians in DIR/readers.tsv, then DIR/report.md and DIR/read-scaling.svg (report.c).
 *
 * THE GUARDIAN.  main() forks the worker that does everything and stays behind as its
 * guardian (and as the child subreaper of everything below it).  The worker records every
 * process it starts (readers, writers, the redis-server, the escript's erl) and every
 * instance and directory it makes in a shared registry (util.c).  When the worker ends — at
 * the end, by a crash, or because the guardian got SIGINT/SIGTERM/SIGHUP — the guardian
 * kills each recorded process by pid, and any orphan that was reparented to it, reaps them,
 * destroys the shmets instances and removes the directories (on /dev/shm) and sockets.
 * Every child is also made with PR_SET_PDEATHSIG, so it dies with its parent.
 */
#include "bench.h"
#include "registry.h"
#include "report.h"
#include "ycsb.h"
#include "shmets.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const struct peer *const all_peers[] = {
    &peer_shmets, &peer_shmets_zc, &peer_shmets_batch, &peer_shmets_kv, &peer_lmdb, &peer_rwlock,
    &peer_urcu, &peer_redis, &peer_redis_pipe, &peer_floor,
};
#define NPEERS (sizeof all_peers / sizeof *all_peers)

struct opts {
    struct cfg c;
    unsigned cases;
    int procs[5][16];           /* per case index (R1, R2, R3, O1): the P values */
    int nprocs[5];
    bool peer_on[NPEERS + 1];   /* the last: ets */
    const char *out;
    const char *ets_script;
    const char *report_only;
};

static struct opts O;
static int busy_tries = 3;      /* runs of a disturbed case at most (--retries N: N + 1) */
static FILE *tsv_file, *readers_file;

/* ---- options -------------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: shmets-bench [--case R1,R2,R3,O1,M] [--peer NAME,...] [--procs 1,2,4,8] [--seconds D]\n"
            "                    [--objects N] [--warmup W] [--out DIR] [--ets-script PATH] [--retries N]\n"
            "       shmets-bench --standard [--seconds D] [--objects N] [--out DIR]\n"
            "       shmets-bench --report DIR\n"
            "peers: shmets shmets-zc shmets-batch shmets-kv lmdb rwlock urcu redis redis-pipe16 floor ets\n");
    exit(2);
}

static int case_index(enum bench_case k)
{
    return k == C_R1 ? 0 : k == C_R2 ? 1 : k == C_R3 ? 2 : k == C_O1 ? 3 : 4;
}

static void set_procs(int ci, const char *list)
{
    char *s = strdup(list), *save = NULL;
    O.nprocs[ci] = 0;
    for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int p = atoi(t);
        if (p < 1 || p > MAXP || O.nprocs[ci] >= 16) {
            fprintf(stderr, "shmets-bench: --procs: %s is not in 1..%d\n", t, MAXP);
            exit(2);
        }
        O.procs[ci][O.nprocs[ci]++] = p;
    }
    free(s);
}

static void parse(int argc, char **argv)
{
    O.c.objects = 1000000;
    O.c.seconds = 5;
    O.c.warmup = 0.5;
    O.cases = C_R1 | C_R2 | C_R3 | C_O1 | C_M;
    O.ets_script = "bench/ets.escript";
    for (int ci = 0; ci < 4; ci++)
        set_procs(ci, "1,2,4,8");
    for (size_t i = 0; i <= NPEERS; i++)
        O.peer_on[i] = true;
    const char *procs = NULL;
    bool standard = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--standard")) {
            standard = true;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--seconds"))
            O.c.seconds = atof(v);
        else if (!strcmp(a, "--warmup"))
            O.c.warmup = atof(v);
        else if (!strcmp(a, "--objects"))
            O.c.objects = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--procs"))
            procs = v;
        else if (!strcmp(a, "--out"))
            O.out = v;
        else if (!strcmp(a, "--retries"))
            busy_tries = 1 + atoi(v);
        else if (!strcmp(a, "--ets-script"))
            O.ets_script = v;
        else if (!strcmp(a, "--report"))
            O.report_only = v;
        else if (!strcmp(a, "--case")) {
            O.cases = 0;
            char *s = strdup(v), *save = NULL;
            for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                unsigned k = !strcmp(t, "R1") ? C_R1 : !strcmp(t, "R2") ? C_R2 : !strcmp(t, "R3") ? C_R3
                           : !strcmp(t, "O1") ? C_O1 : !strcmp(t, "M") ? C_M : !strcmp(t, "all") ? 31u : 0;
                if (!k) {
                    fprintf(stderr, "shmets-bench: unknown case %s\n", t);
                    usage();
                }
                O.cases |= k;
            }
            free(s);
        } else if (!strcmp(a, "--peer")) {
            for (size_t j = 0; j <= NPEERS; j++)
                O.peer_on[j] = !strcmp(v, "all");
            char *s = strdup(v), *save = NULL;
            for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                bool found = !strcmp(t, "all");
                for (size_t j = 0; j < NPEERS; j++)
                    if (!strcmp(t, all_peers[j]->name))
                        O.peer_on[j] = found = true;
                if (!strcmp(t, "ets"))
                    O.peer_on[NPEERS] = found = true;
                if (!found) {
                    fprintf(stderr, "shmets-bench: unknown peer %s\n", t);
                    usage();
                }
            }
            free(s);
        } else {
            usage();
        }
    }
    if (standard) {
        /* make bench: R1 at P = 1, 2, 4, 8; the other cases at P = 1 and 2. */
        set_procs(0, "1,2,4,8");
        for (int ci = 1; ci < 4; ci++)
            set_procs(ci, "1,2");
    }
    if (procs)
        for (int ci = 0; ci < 4; ci++)
            set_procs(ci, procs);
    if (O.c.objects < 1 || O.c.seconds <= 0 || O.c.warmup < 0)
        usage();
}

/* ---- output ------------------------------------------------------------------------------- */

static void human(const struct result *r)
{
    char mem[32] = "-", wr[32] = "-";
    if (r->mem)
        snprintf(mem, sizeof mem, "%.1f MB", (double)r->mem / 1e6);
    if (r->writes > 0)
        snprintf(wr, sizeof wr, "%.3f M", r->writes / 1e6);
    if (!strcmp(r->kase, "M"))
        fprintf(stderr, "%-3s %-14s %3s %12s %12s %10s %10.2fx %7s %7s\n", r->kase, r->peer, "-", "-", "-", mem,
                (double)r->mem / (double)(O.c.objects * 40), "-", "-");
    else
        fprintf(stderr, "%-3s %-14s %3d %10.3f M %10.3f M %10s %11s %7.0f %7.0f  %4.2f %4.2f%s\n", r->kase, r->peer,
                r->procs, r->lookups / 1e6, r->reader_median / 1e6, wr, "-", r->p50, r->p99, r->cpu_ours, r->cpu_other,
                r->bad ? "  WRONG VALUES" : "");
}

static void emit(const struct result *r)
{
    char line[512];
    snprintf(line, sizeof line, "%s\t%s\t%d\t%.0f\t%.0f\t%llu\t%.0f\t%.0f\n", r->kase, r->peer, r->procs, r->lookups,
             r->writes, (unsigned long long)r->mem, r->p50, r->p99);
    fputs(line, stdout);
    fflush(stdout);
    if (tsv_file) {
        fputs(line, tsv_file);
        fflush(tsv_file);
    }
    if (readers_file && strcmp(r->kase, "M")) {
        fprintf(readers_file, "%s\t%s\t%d\t%.0f\t%llu\t%.2f\t%.2f\n", r->kase, r->peer, r->procs, r->reader_median,
                (unsigned long long)r->bad, r->cpu_ours, r->cpu_other);
        fflush(readers_file);
    }
    human(r);
    if (r->bad)
        fprintf(stderr, "shmets-bench: %s %s P=%d: %llu lookups found no value or a wrong one\n", r->peer, r->kase,
                r->procs, (unsigned long long)r->bad);
}

static void comment(const char *fmt, const char *a, const char *b)
{
    if (tsv_file) {
        fprintf(tsv_file, "# ");
        fprintf(tsv_file, fmt, a, b);
        fprintf(tsv_file, "\n");
        fflush(tsv_file);
    }
}

static void emit_mem(const char *peer, uint64_t mem)
{
    struct result r = { .kase = "M", .mem = mem };
    snprintf(r.peer, sizeof r.peer, "%s", peer);
    emit(&r);
}

static void machine_comments(void)
{
    if (!tsv_file)
        return;
    fprintf(tsv_file, "# objects %llu\n# seconds %g\n# warmup %g\n", (unsigned long long)O.c.objects, O.c.seconds,
            O.c.warmup);
    machine_info(tsv_file);
    for (size_t i = 0; i < NPEERS; i++)
        if (O.peer_on[i])
            fprintf(tsv_file, "# note %s: %s\n", all_peers[i]->name, all_peers[i]->note);
    if (O.peer_on[NPEERS])
        fprintf(tsv_file, "# note ets: ets:lookup/2 on a public set (ordered_set for O1) with read_concurrency, Erlang "
                          "reader processes on the VM's schedulers (bench/ets.escript)\n");
}

/* ---- ETS, through bench/ets.escript ------------------------------------------------------- */

static int find_in_path(const char *prog, char *out, size_t n)
{
    const char *path = getenv("PATH");
    char *p = strdup(path ? path : "/usr/bin:/bin"), *save = NULL;
    int found = 0;
    for (char *d = strtok_r(p, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, n, "%s/%s", d, prog);
        found = access(out, X_OK) == 0;
    }
    free(p);
    return found;
}

static void run_ets(void)
{
    char escript[512];
    if (!find_in_path("escript", escript, sizeof escript)) {
        comment("skipped %s: %s", "ets", "escript (Erlang) is not installed");
        fprintf(stderr, "shmets-bench: ets skipped: escript (Erlang) is not installed\n");
        return;
    }
    if (access(O.ets_script, R_OK) != 0) {
        comment("skipped %s: %s not found (--ets-script)", "ets", O.ets_script);
        fprintf(stderr, "shmets-bench: ets skipped: %s not found (--ets-script)\n", O.ets_script);
        return;
    }
    char runs[1024] = "", n[32], sec[32], warm[32];
    int nruns = 0;
    static const enum bench_case ks[] = { C_R1, C_R2, C_O1 };
    for (size_t i = 0; i < 3; i++)
        if (O.cases & ks[i])
            for (int j = 0; j < O.nprocs[case_index(ks[i])]; j++, nruns++)
                snprintf(runs + strlen(runs), sizeof runs - strlen(runs), "%s%s:%d", nruns ? "," : "",
                         case_name(ks[i]), O.procs[case_index(ks[i])][j]);
    if (!nruns && !(O.cases & C_M))
        return;
    snprintf(n, sizeof n, "%llu", (unsigned long long)O.c.objects);
    snprintf(sec, sizeof sec, "%g", O.c.seconds);
    snprintf(warm, sizeof warm, "%g", O.c.warmup);
    int fd[2];
    if (pipe(fd) != 0)
        return;
    pid_t pid = bench_fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        const char *argv[16] = { "escript", O.ets_script, "--objects", n, "--seconds", sec, "--warmup", warm };
        int a = 8;
        if (nruns) {
            argv[a++] = "--runs";
            argv[a++] = runs;
        }
        if (O.cases & C_M)
            argv[a++] = "--mem";
        argv[a] = NULL;
        execv(escript, (char *const *)argv);
        _exit(127);
    }
    close(fd[1]);
    if (pid < 0) {
        close(fd[0]);
        return;
    }
    /* Bound the wait: loading twice, every run, and the VM's start, with room to spare. */
    double limit = 120 + nruns * (O.c.seconds + O.c.warmup + 5) + (double)O.c.objects / 1e5;
    FILE *f = fdopen(fd[0], "r");
    char line[512];
    double until = now_s() + limit;
    while (f && fgets(line, sizeof line, f)) {
        struct result r = { 0 };
        double lk, wr, p50, p99, med;
        unsigned long long mem;
        if (sscanf(line, "%7s %31s %d %lf %lf %llu %lf %lf %lf", r.kase, r.peer, &r.procs, &lk, &wr, &mem, &p50,
                   &p99, &med) == 9) {
            r.lookups = lk;
            r.writes = wr;
            r.mem = mem;
            r.p50 = p50;
            r.p99 = p99;
            r.reader_median = med;
            emit(&r);
        }
        if (now_s() > until)
            break;
    }
    if (f)
        fclose(f);
    int st = bench_reap(pid, now_s() < until ? until - now_s() : 1);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fprintf(stderr, "shmets-bench: the ETS run did not complete (status %d)\n", st);
}

/*
 * One run, repeated when the rest of the machine took CPU during its window (other processes,
 * the hypervisor's steal: the `others'` figure).  Before each repeat the worker waits (up to
 * BUSY_WAIT s) for the machine to be quiet, as other load comes in bursts; at most busy_tries
 * runs, and the repeats and waits of the whole benchmark stay within BUSY_BUDGET seconds.  The
 * least disturbed run is kept, and the report shows how disturbed it was.
 */
#define BUSY_LOAD   0.25        /* cores used by others that make a run worth repeating */
#define BUSY_QUIET  0.10        /* cores busy on an idle machine: quiet enough */
#define BUSY_WAIT   20.0
#define BUSY_BUDGET 120.0

static double busy_spent;

static int run_busy(const struct peer *p, enum bench_case k, int procs, struct result *best)
{
    int rc = run_one(p, &O.c, k, procs, best);
    for (int t = 1; rc == 0 && t < busy_tries && best->cpu_other > BUSY_LOAD && busy_spent < BUSY_BUDGET; t++) {
        double t0 = now_s(), load = 0;
        fprintf(stderr, "    (%s %s P=%d: others used %.2f cores meanwhile; ", p->name, case_name(k), procs,
                best->cpu_other);
        while (now_s() - t0 < BUSY_WAIT && busy_spent + now_s() - t0 < BUSY_BUDGET &&
               (load = machine_load(0.5)) > BUSY_QUIET)
            ;
        fprintf(stderr, "waited %.1f s for a quiet machine (%.2f cores busy), run again)\n", now_s() - t0, load);
        struct result r;
        if (run_one(p, &O.c, k, procs, &r) == 0 && r.cpu_other < best->cpu_other)
            *best = r;
        busy_spent += now_s() - t0;
    }
    return rc;
}

/* ---- the worker ----------------------------------------------------------------------------- */

static void worker(void)
{
    if (O.out) {
        char p[512];
        mkdir(O.out, 0755);
        snprintf(p, sizeof p, "%s/results.tsv", O.out);
        tsv_file = fopen(p, "w");
        snprintf(p, sizeof p, "%s/readers.tsv", O.out);
        readers_file = fopen(p, "w");
        if (!tsv_file || !readers_file) {
            fprintf(stderr, "shmets-bench: cannot write in %s\n", O.out);
            exit(1);
        }
        fprintf(readers_file, "case\tpeer\tprocs\treader_median\twrong_values\tcpu_ours\tcpu_other\n");
    }
    machine_comments();
    printf("# case\tpeer\tprocs\tlookups_per_s\twrites_per_s\tmem_bytes\tp50_ns\tp99_ns\n");
    if (tsv_file)
        fprintf(tsv_file, "case\tpeer\tprocs\tlookups_per_s\twrites_per_s\tmem_bytes\tp50_ns\tp99_ns\n");
    fprintf(stderr, "shmets-bench: %llu objects, %g s a run after %g s of warm-up\n", (unsigned long long)O.c.objects,
            O.c.seconds, O.c.warmup);
    fprintf(stderr, "%-3s %-14s %3s %12s %12s %10s %11s %7s %7s  %s\n", "", "peer", "P", "lookups/s", "median rdr",
            "writes/s", "memory", "p50 ns", "p99 ns", "cores: ours, others'");

    static const enum bench_case pass_cases[2][3] = { { C_R1, C_R2, C_R3 }, { C_O1, 0, 0 } };
    bool skipped[NPEERS] = { false };
    for (int ordered = 0; ordered < 2; ordered++) {
        const struct peer *loaded = NULL;
        for (size_t i = 0; i < NPEERS; i++) {
            const struct peer *p = all_peers[i];
            unsigned want = p->cases & O.cases & (ordered ? C_O1 : C_R1 | C_R2 | C_R3 | C_M);
            if (!O.peer_on[i] || !want)
                continue;
            const char *why = NULL;
            if (p->available && !p->available(&why)) {
                if (!skipped[i])
                    comment("skipped %s: %s", p->name, why);
                if (!skipped[i])
                    fprintf(stderr, "shmets-bench: %s skipped: %s\n", p->name, why);
                skipped[i] = true;
                continue;
            }
            if (p->threads) {
                uint64_t mem = 0;
                if ((want & C_M) && run_mem_threads(p, &O.c, &mem) == 0)
                    emit_mem(p->name, mem);
            } else if (!loaded || strcmp(loaded->store, p->store)) {
                if (loaded)
                    loaded->unload(&O.c, ordered);
                loaded = NULL;
                uint64_t mem = 0;
                double t0 = now_s();
                if (p->load(&O.c, ordered, &mem)) {
                    comment("skipped %s: %s", p->name, "loading failed");
                    fprintf(stderr, "shmets-bench: %s: loading failed\n", p->name);
                    p->unload(&O.c, ordered);
                    continue;
                }
                loaded = p;
                fprintf(stderr, "    (%s: %llu objects loaded in %.1f s)\n", p->store, (unsigned long long)O.c.objects,
                        now_s() - t0);
                if ((O.cases & C_M) && (p->cases & C_M) && !ordered)
                    emit_mem(p->name, mem);
                else if ((O.cases & C_M) && ordered && !strcmp(p->store, "shmets"))
                    emit_mem("shmets-ordered", mem);
            }
            for (int k = 0; k < 3; k++) {
                enum bench_case kc = pass_cases[ordered][k];
                if (!kc || !(want & kc))
                    continue;
                int ci = case_index(kc);
                for (int j = 0; j < O.nprocs[ci]; j++) {
                    struct result r;
                    if (run_busy(p, kc, O.procs[ci][j], &r) == 0)
                        emit(&r);
                    else
                        comment("failed %s: %s", p->name, case_name(kc));
                }
            }
        }
        if (loaded)
            loaded->unload(&O.c, ordered);
    }
    if (O.peer_on[NPEERS])
        run_ets();
    if (tsv_file)
        fclose(tsv_file);
    if (readers_file)
        fclose(readers_file);
    tsv_file = readers_file = NULL;
    if (O.out && report_write(O.out) != 0)
        fprintf(stderr, "shmets-bench: the report could not be written\n");
}

/* ---- the guardian ---------------------------------------------------------------------------- */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

/* Children reparented to us (the subreaper) whose parent died: end them by pid. */
static int kill_orphans(void)
{
    int n = 0;
    DIR *d = opendir("/proc");
    pid_t me = getpid();
    for (struct dirent *e; d && (e = readdir(d));) {
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid <= 0)
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = 0;
        char *rp = strrchr(buf, ')');
        int ppid = 0;
        if (rp && sscanf(rp + 2, "%*c %d", &ppid) == 1 && ppid == me) {
            kill(pid, SIGKILL);
            n++;
        }
    }
    if (d)
        closedir(d);
    return n;
}

static void cleanup(void)
{
    for (int i = 0; i < REG_PIDS; i++) {
        pid_t p = atomic_exchange(&registry->pids[i], 0);
        if (p > 0)
            kill(p, SIGKILL);
    }
    for (int round = 0; round < 50; round++) {
        kill_orphans();
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
            break;
        sleep_s(0.02);
    }
    for (int i = 0; i < atomic_load(&registry->ninsts); i++)
        shmets_destroy_instance(registry->insts[i]);
    for (int i = atomic_load(&registry->npaths) - 1; i >= 0; i--)
        remove_path(registry->paths[i]);
}

int main(int argc, char **argv)
{
    bool ycsb = ycsb_wanted(argc, argv);
    if (ycsb)
        ycsb_parse(argc, argv);     /* YCSB's workloads (ycsb_main.c), under the same guardian */
    else
        parse(argc, argv);
    if (O.report_only)
        return report_write(O.report_only) ? 1 : 0;

    registry = mmap(NULL, sizeof *registry, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (registry == MAP_FAILED) {
        perror("shmets-bench: mmap");
        return 1;
    }
    snprintf(O.c.tag, sizeof O.c.tag, "shmets-bench.%d", (int)getpid());
    snprintf(O.c.dir, sizeof O.c.dir, "/dev/shm/%s", O.c.tag);
    if (mkdir(O.c.dir, 0700) != 0) {
        perror("shmets-bench: mkdir");
        return 1;
    }
    reg_path(O.c.dir);
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    pid_t w = bench_fork();
    if (w == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        int rc = 0;
        if (ycsb)
            rc = ycsb_worker(&O.c);
        else
            worker();
        fflush(NULL);
        _exit(rc);
    }
    if (w < 0) {
        perror("shmets-bench: fork");
        cleanup();
        return 1;
    }
    int st = 0;
    for (;;) {
        pid_t r = waitpid(w, &st, 0);
        if (r == w)
            break;
        if (r < 0 && errno == EINTR && got_signal) {
            fprintf(stderr, "shmets-bench: %s: ending every process of the run and removing its segments\n",
                    strsignal(got_signal));
            kill(w, SIGKILL);
        } else if (r < 0 && errno != EINTR) {
            break;
        }
    }
    unreg_pid(w);
    cleanup();
    if (got_signal)
        return 128 + got_signal;
    if (WIFSIGNALED(st)) {
        fprintf(stderr, "shmets-bench: the worker died of %s\n", strsignal(WTERMSIG(st)));
        return 1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
