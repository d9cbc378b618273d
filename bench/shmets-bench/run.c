/*
 * run.c — one run of build/shmets-bench: P readers (and for R2 a writer, for R3 a stopped
 * writer) on one loaded store, timed over one window.
 *
 * HOW A RUN IS TIMED.  The readers are forked (or, for a `threads` peer, started as threads of
 * one host process), open the store, and count up in a shared control block; each reader's
 * count has a cache line of its own and is stored (relaxed) after every chunk of 32 keys.
 * When all are ready the parent lets them go, sleeps the warm-up (page faults, attaching,
 * a reader's first cache misses), takes a snapshot of the counts, sleeps the window D and
 * takes another: lookups/s = (sum of the differences) / (time between the snapshots), the
 * same for the writer.  No reader waits for another; the parent sleeps meanwhile.
 *
 * LATENCY is sampled: one chunk in SAMPLE_EVERY begins with a call timed alone (one key for
 * single-key peers, one whole batch or pipeline for the others, whose time is divided by its
 * keys).  Each reader keeps its last SAMPLES samples; p50/p99 are taken over all readers'.
 *
 * A RUN NEVER HANGS: every wait has a limit after which the children are killed (by pid) and
 * the run is reported as failed.  R3's readers of a locked store wait in the lock until the
 * writer is let go (SIGCONT) after the window; they then see `stop` and end.
 */
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct slot {
    _Atomic uint64_t n;         /* lookups (readers) or writes (writer) so far */
    _Atomic uint64_t bad;
    _Atomic uint32_t nsamp;
    _Atomic int failed;
    _Atomic int ready;
} __attribute__((aligned(64)));

struct shctl {
    _Atomic int go __attribute__((aligned(64)));
    _Atomic int stop __attribute__((aligned(64)));
    _Atomic uint64_t mem __attribute__((aligned(64)));      /* threads peers: the host's load */
    _Atomic int host_failed;
    struct slot r[MAXP];
    struct slot w;
    uint32_t samp[MAXP][SAMPLES];
};

static struct shctl *ctl;
static volatile uint64_t sink;

const char *case_name(enum bench_case k)
{
    switch (k) {
    case C_R1: return "R1";
    case C_R2: return "R2";
    case C_R3: return "R3";
    case C_O1: return "O1";
    case C_M:  return "M";
    }
    return "?";
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void wait_go(void)
{
    while (!atomic_load_explicit(&ctl->go, memory_order_acquire) &&
           !atomic_load_explicit(&ctl->stop, memory_order_relaxed))
        sleep_s(0.0002);
}

static void reader_loop(const struct peer *p, void *r, const struct cfg *c, int idx)
{
    struct slot *s = &ctl->r[idx];
    uint32_t *samp = ctl->samp[idx];
    uint64_t x = rng_seed(idx), sum = 0, n = 0, bad = 0, keys[CHUNK];
    uint32_t nsamp = 0;
    unsigned unit = p->unit < CHUNK ? p->unit : CHUNK;
    atomic_store(&s->ready, 1);
    wait_go();
    for (unsigned iter = 0; !atomic_load_explicit(&ctl->stop, memory_order_relaxed); iter++) {
        for (int i = 0; i < CHUNK; i++)
            keys[i] = rng_key(&x, c->objects);
        long e;
        if (iter % SAMPLE_EVERY == 0) {
            uint64_t t0 = now_ns();
            e = p->lookup(r, keys, unit, &sum);
            uint64_t dt = (now_ns() - t0) / unit;
            samp[nsamp++ % SAMPLES] = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
            if (e >= 0 && unit < CHUNK) {
                long e2 = p->lookup(r, keys + unit, CHUNK - unit, &sum);
                e = e2 < 0 ? e2 : e + e2;
            }
        } else {
            e = p->lookup(r, keys, CHUNK, &sum);
        }
        if (e < 0) {
            atomic_store(&s->failed, 1);
            break;
        }
        bad += (uint64_t)e;
        n += CHUNK;
        atomic_store_explicit(&s->n, n, memory_order_relaxed);
    }
    atomic_store(&s->bad, bad);
    atomic_store(&s->nsamp, nsamp);
    sink = sum;
}

static void writer_loop(const struct peer *p, void *w, const struct cfg *c)
{
    struct slot *s = &ctl->w;
    uint64_t x = rng_seed(MAXP + 7), n = 0;
    unsigned char v[VALUE_BYTES];
    atomic_store(&s->ready, 1);
    wait_go();
    while (!atomic_load_explicit(&ctl->stop, memory_order_relaxed)) {
        uint64_t k = rng_key(&x, c->objects);
        make_value(k, n + 1, v);
        if (p->write(w, k, v)) {
            atomic_store(&s->failed, 1);
            break;
        }
        atomic_store_explicit(&s->n, ++n, memory_order_relaxed);
    }
}

/* ---- processes ----------------------------------------------------------------------------- */

static void reader_proc(const struct peer *p, const struct cfg *c, int ordered, int idx)
{
    void *r = p->reader_open(c, ordered, idx);
    if (!r) {
        atomic_store(&ctl->r[idx].failed, 1);
        _exit(1);
    }
    reader_loop(p, r, c, idx);
    if (p->reader_close)
        p->reader_close(r);
    _exit(0);
}

static void writer_proc(const struct peer *p, const struct cfg *c, int ordered, int stall)
{
    void *w = p->writer_open(c, ordered);
    if (!w) {
        atomic_store(&ctl->w.failed, 1);
        _exit(1);
    }
    if (stall) {
        /* R3: take the lock (or open a write transaction) and stop holding it. */
        if (p->stall(w)) {
            atomic_store(&ctl->w.failed, 1);
            _exit(1);
        }
    } else {
        writer_loop(p, w, c);
    }
    if (p->writer_close)
        p->writer_close(w);
    _exit(0);
}

/* ---- threads peers: one host process ------------------------------------------------------ */

struct thr {
    const struct peer *p;
    const struct cfg *c;
    int idx;                    /* -1: the writer */
    pthread_t th;
};

static void *thr_main(void *arg)
{
    struct thr *t = arg;
    if (t->idx < 0) {
        void *w = t->p->writer_open(t->c, 0);
        if (!w) {
            atomic_store(&ctl->w.failed, 1);
            return NULL;
        }
        writer_loop(t->p, w, t->c);
        if (t->p->writer_close)
            t->p->writer_close(w);
        return NULL;
    }
    void *r = t->p->reader_open(t->c, 0, t->idx);
    if (!r) {
        atomic_store(&ctl->r[t->idx].failed, 1);
        return NULL;
    }
    reader_loop(t->p, r, t->c, t->idx);
    if (t->p->reader_close)
        t->p->reader_close(r);
    return NULL;
}

static void host_proc(const struct peer *p, const struct cfg *c, int ordered, int procs, int writer)
{
    uint64_t mem = 0;
    if (p->load(c, ordered, &mem)) {
        atomic_store(&ctl->host_failed, 1);
        _exit(1);
    }
    atomic_store(&ctl->mem, mem);
    struct thr t[MAXP + 1];
    int n = 0;
    for (int i = -(writer != 0); i < procs; i++, n++) {
        t[n] = (struct thr){ p, c, i, 0 };
        if (pthread_create(&t[n].th, NULL, thr_main, &t[n])) {
            atomic_store(&ctl->host_failed, 1);
            _exit(1);
        }
    }
    for (int i = 0; i < n; i++)
        pthread_join(t[i].th, NULL);
    p->unload(c, ordered);
    _exit(0);
}

/* ---- CPU: ours and the rest of the machine's ---------------------------------------------- */

/* Nanoseconds on a CPU of every thread of a process (/proc/PID/task/TID/schedstat). */
uint64_t task_cpu_ns(pid_t pid)
{
    char path[96], buf[128];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    uint64_t sum = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%.16s/schedstat", (int)pid, e->d_name);
        FILE *f = fopen(path, "r");
        unsigned long long ns;
        if (f && fgets(buf, sizeof buf, f) && sscanf(buf, "%llu", &ns) == 1)
            sum += ns;
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return sum;
}

/* Seconds of CPU the whole machine spent busy (steal included: the hypervisor gave it away). */
double machine_busy_s(void)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long u = 0, n = 0, s = 0, idle = 0, io = 0, irq = 0, sirq = 0, steal = 0;
    if (f) {
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &u, &n, &s, &idle, &io, &irq, &sirq, &steal) != 8)
            u = n = s = irq = sirq = steal = 0;
        fclose(f);
    }
    return (double)(u + n + s + irq + sirq + steal) / (double)sysconf(_SC_CLK_TCK);
}

double machine_load(double secs)
{
    double b0 = machine_busy_s(), t0 = now_s();
    sleep_s(secs);
    return (machine_busy_s() - b0) / (now_s() - t0);
}

/* ---- the parent's side --------------------------------------------------------------------- */

static int ctl_init(void)
{
    if (!ctl) {
        ctl = mmap(NULL, sizeof *ctl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (ctl == MAP_FAILED) {
            ctl = NULL;
            perror("shmets-bench: mmap");
            return -1;
        }
    }
    memset(ctl, 0, offsetof(struct shctl, samp));
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Has any child died (not stopped)?  Reaps it (so the caller must not wait for it again). */
static int child_died(pid_t *pids, int n)
{
    for (int i = 0; i < n; i++) {
        int st;
        if (pids[i] > 0 && waitpid(pids[i], &st, WNOHANG) == pids[i]) {
            unreg_pid(pids[i]);
            pids[i] = 0;
            return 1;
        }
    }
    return 0;
}

/* Wait until a forked R3 writer has stopped itself; 0, or -1 if it died or took too long. */
static int wait_stopped(pid_t pid)
{
    double until = now_s() + 30;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG | WUNTRACED);
        if (r == pid && WIFSTOPPED(st))
            return 0;
        if (r == pid || (r < 0 && errno != EINTR) || now_s() > until)
            return -1;
        sleep_s(0.001);
    }
}

int run_mem_threads(const struct peer *p, const struct cfg *c, uint64_t *mem)
{
    if (ctl_init())
        return -1;
    pid_t host = bench_fork();
    if (host == 0)
        host_proc(p, c, 0, 0, 0);
    if (host < 0)
        return -1;
    int st = bench_reap(host, 300);
    *mem = atomic_load(&ctl->mem);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 && *mem ? 0 : -1;
}

int run_one(const struct peer *p, const struct cfg *c, enum bench_case k, int procs, struct result *res)
{
    memset(res, 0, sizeof *res);
    snprintf(res->kase, sizeof res->kase, "%s", case_name(k));
    snprintf(res->peer, sizeof res->peer, "%s", p->name);
    res->procs = procs;
    if (procs < 1 || procs > MAXP || ctl_init())
        return -1;
    int ordered = k == C_O1, writer = k == C_R2, stall = k == C_R3;
    pid_t pids[MAXP + 2];
    int npids = 0, rc = 0;
    pid_t wpid = 0, host = 0;

    if (p->threads) {
        host = bench_fork();
        if (host == 0)
            host_proc(p, c, ordered, procs, writer);
        if (host < 0)
            return -1;
        pids[npids++] = host;
    } else {
        if (writer || stall) {
            wpid = bench_fork();
            if (wpid == 0)
                writer_proc(p, c, ordered, stall);
            if (wpid < 0)
                return -1;
            if (stall && wait_stopped(wpid)) {
                fprintf(stderr, "shmets-bench: %s R3: the writer did not stop holding the lock\n", p->name);
                bench_reap(wpid, 5);
                return -1;
            }
            if (!stall)
                pids[npids++] = wpid;
        }
        for (int i = 0; i < procs; i++) {
            pid_t pid = bench_fork();
            if (pid == 0)
                reader_proc(p, c, ordered, i);
            if (pid < 0) {
                rc = -1;
                break;
            }
            pids[npids++] = pid;
        }
    }

    /* Everyone ready (a threads host loads its store first: allow for that). */
    double until = now_s() + (p->threads ? 300 : 60);
    for (int want = procs + writer; rc == 0;) {
        int ready = writer ? atomic_load(&ctl->w.ready) : 0, failed = atomic_load(&ctl->host_failed) |
                    (writer ? atomic_load(&ctl->w.failed) : 0);
        for (int i = 0; i < procs; i++) {
            ready += atomic_load(&ctl->r[i].ready);
            failed |= atomic_load(&ctl->r[i].failed);
        }
        if (ready == want)
            break;
        if (failed || child_died(pids, npids) || now_s() > until) {
            fprintf(stderr, "shmets-bench: %s %s P=%d: a reader or the writer could not start\n", p->name,
                    res->kase, procs);
            rc = -1;
        }
        sleep_s(0.001);
    }

    uint64_t n0[MAXP], n1[MAXP], w0 = 0, w1 = 0, cpu0 = 0, cpu1 = 0;
    double ta = 0, tb = 1, busy0 = 0, busy1 = 0;
    if (rc == 0) {
        atomic_store_explicit(&ctl->go, 1, memory_order_release);
        sleep_s(c->warmup);
        busy0 = machine_busy_s();
        for (int i = 0; i < npids; i++)
            cpu0 += task_cpu_ns(pids[i]);
        if (p->server)
            cpu0 += task_cpu_ns(p->server());
        ta = now_s();
        for (int i = 0; i < procs; i++)
            n0[i] = atomic_load_explicit(&ctl->r[i].n, memory_order_relaxed);
        w0 = atomic_load_explicit(&ctl->w.n, memory_order_relaxed);
        sleep_s(c->seconds);
        tb = now_s();
        for (int i = 0; i < procs; i++)
            n1[i] = atomic_load_explicit(&ctl->r[i].n, memory_order_relaxed);
        w1 = atomic_load_explicit(&ctl->w.n, memory_order_relaxed);
        for (int i = 0; i < npids; i++)
            cpu1 += task_cpu_ns(pids[i]);
        if (p->server)
            cpu1 += task_cpu_ns(p->server());
        busy1 = machine_busy_s();
    }
    atomic_store(&ctl->stop, 1);
    if (wpid && stall)
        kill(wpid, SIGCONT);
    for (int i = 0; i < npids; i++)
        if (pids[i] > 0) {
            int st = bench_reap(pids[i], 10 + c->seconds);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                rc = -1;
        }
    if (wpid && stall)
        bench_reap(wpid, 10);
    for (int i = 0; i < procs; i++)
        if (atomic_load(&ctl->r[i].failed))
            rc = -1;
    if ((writer && atomic_load(&ctl->w.failed)) || atomic_load(&ctl->host_failed))
        rc = -1;
    if (rc) {
        fprintf(stderr, "shmets-bench: %s %s P=%d failed\n", p->name, res->kase, procs);
        return -1;
    }

    double dt = tb - ta, rates[MAXP], total = 0;
    for (int i = 0; i < procs; i++) {
        rates[i] = (double)(n1[i] - n0[i]) / dt;
        total += rates[i];
        res->bad += atomic_load(&ctl->r[i].bad);
    }
    qsort(rates, (size_t)procs, sizeof *rates, cmp_dbl);
    res->reader_median = procs % 2 ? rates[procs / 2] : (rates[procs / 2 - 1] + rates[procs / 2]) / 2;
    res->lookups = total;
    res->cpu_ours = (double)(cpu1 - cpu0) / 1e9 / dt;
    res->cpu_other = (busy1 - busy0) / dt - res->cpu_ours;
    if (res->cpu_other < 0)
        res->cpu_other = 0;
    res->writes = writer ? (double)(w1 - w0) / dt : 0;

    size_t ns = 0;
    for (int i = 0; i < procs; i++) {
        uint32_t m = atomic_load(&ctl->r[i].nsamp);
        ns += m < SAMPLES ? m : SAMPLES;
    }
    uint32_t *all = malloc((ns ? ns : 1) * sizeof *all);
    if (all) {
        size_t j = 0;
        for (int i = 0; i < procs; i++) {
            uint32_t m = atomic_load(&ctl->r[i].nsamp);
            m = m < SAMPLES ? m : SAMPLES;
            memcpy(all + j, ctl->samp[i], m * sizeof *all);
            j += m;
        }
        qsort(all, ns, sizeof *all, cmp_u32);
        if (ns) {
            res->p50 = all[ns / 2];
            res->p99 = all[ns * 99 / 100];
        }
        free(all);
    }
    return 0;
}
