/*
 * ycsb_run.c — one run of a YCSB workload: P client processes (threads of one host process
 * for a `threads` peer), each drawing operations from the workload's mix and records from its
 * chooser, timed over a window (--seconds, after --warmup) or until --ops operations in all.
 *
 * SHARED STATE of a run lives in one anonymous shared mapping (as run.c's): the go and stop
 * flags, each client's operation counters and latency histograms (log-linear, 16 buckets a
 * power of two, so p99.9 is within ~6 % whatever the count), the insert sequence and the
 * acknowledged limit.  Every operation is counted; one in 8 is timed (two clock reads cost
 * ~40 ns here, which would weigh on the fastest stores' figures if every one were timed),
 * and only inside the window.
 *
 * INSERTS AND THE ACKNOWLEDGED LIMIT (YCSB's AcknowledgedCounterGenerator): an insert takes
 * the next record number from `next_rec` (fetch-add), inserts it, and acknowledges it in a
 * window of slots; `limit` — the records readers may choose from — advances over every
 * record acknowledged without a gap, so a read never picks a record whose insert is still in
 * flight in another process.  The window holds 2^16 slots, far more than the inserts P
 * clients can have in flight.
 */
#include "ycsb.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WIN         (1u << 16)
#define TIME_EVERY  8
#define OPS_CHUNK   64

struct yslot {
    _Atomic uint64_t n[Y_NOPS];
    _Atomic uint64_t bad;
    _Atomic int failed, ready, done;
    uint64_t hist[Y_NOPS][HBUCKETS];
} __attribute__((aligned(64)));

struct yctl {
    _Atomic int go __attribute__((aligned(64)));
    _Atomic int stop;
    _Atomic int measuring;
    _Atomic int host_failed;
    _Atomic uint64_t next_rec __attribute__((aligned(64)));
    _Atomic uint64_t limit __attribute__((aligned(64)));
    _Atomic int64_t ops_left __attribute__((aligned(64)));
    _Atomic uint64_t host_count;            /* threads peers: the host's check */
    _Atomic int host_check;
    _Atomic uint64_t win[WIN];
    struct yslot s[MAXP];
};

static struct yctl *ctl;

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static unsigned hbucket(uint64_t v)
{
    if (v < 16)
        return (unsigned)v;
    unsigned msb = 63 - (unsigned)__builtin_clzll(v);
    return (msb - 3) * 16 + (unsigned)((v >> (msb - 4)) & 15);
}

static double hvalue(unsigned i)
{
    if (i < 16)
        return i;
    unsigned msb = i / 16 + 3, sub = i % 16;
    double lo = (double)((16ull + sub) << (msb - 4)), w = (double)(1ull << (msb - 4));
    return lo + w / 2;
}

static double hquant(const uint64_t *h, double q)
{
    uint64_t tot = 0;
    for (unsigned i = 0; i < HBUCKETS; i++)
        tot += h[i];
    if (!tot)
        return 0;
    uint64_t want = (uint64_t)(q * (double)tot), acc = 0;
    if (want >= tot)
        want = tot - 1;
    for (unsigned i = 0; i < HBUCKETS; i++) {
        acc += h[i];
        if (acc > want)
            return hvalue(i);
    }
    return hvalue(HBUCKETS - 1);
}

static void ack(uint64_t n)
{
    atomic_store(&ctl->win[n & (WIN - 1)], n + 1);
    for (;;) {
        uint64_t l = atomic_load(&ctl->limit);
        if (atomic_load(&ctl->win[l & (WIN - 1)]) != l + 1)
            return;
        atomic_compare_exchange_weak(&ctl->limit, &l, l + 1);
    }
}

static void wait_go(void)
{
    while (!atomic_load_explicit(&ctl->go, memory_order_acquire) &&
           !atomic_load_explicit(&ctl->stop, memory_order_relaxed))
        sleep_s(0.0002);
}

/* One client's operations until stop (or the --ops budget is spent). */
static void client_loop(const struct ypeer *p, void *h, const struct ycfg *y, int idx)
{
    struct yslot *s = &ctl->s[idx];
    struct chooser ch;
    chooser_init(&ch, y);
    uint64_t rng = rng_seed(idx * 7919 + y->workload), gen = (uint64_t)idx << 40, budget = 0;
    uint64_t cnt[Y_NOPS] = { 0 }, bad = 0, maxrec = y->c.objects + y->room;
    unsigned b = y->value_bytes;
    unsigned char *val = malloc(b), *scanbuf = malloc(b);
    double cum[Y_NOPS];
    for (int o = 0; o < Y_NOPS; o++)
        cum[o] = (o ? cum[o - 1] : 0) + y->prop[o];
    if (!val || !scanbuf) {
        atomic_store(&s->failed, 1);
        return;
    }
    atomic_store(&s->ready, 1);
    wait_go();
    for (uint64_t it = 0; !atomic_load_explicit(&ctl->stop, memory_order_relaxed); it++) {
        if (y->ops && !budget) {
            int64_t left = atomic_fetch_sub(&ctl->ops_left, OPS_CHUNK);
            if (left <= 0)
                break;
            budget = left < OPS_CHUNK ? (uint64_t)left : OPS_CHUNK;
        }
        double u = rng_double(&rng);
        int op = 0;
        while (op < Y_NOPS - 1 && (u >= cum[op] || y->prop[op] == 0))
            op++;
        bool timed = it % TIME_EVERY == 0 && atomic_load_explicit(&ctl->measuring, memory_order_relaxed);
        uint64_t limit = atomic_load_explicit(&ctl->limit, memory_order_acquire), t0 = timed ? now_ns() : 0;
        int rc;
        uint64_t k, n, c;
        unsigned found;
        switch (op) {
        case Y_READ:
            k = y_key(y, chooser_next(&ch, limit, &rng));
            rc = p->read(h, k, val);
            break;
        case Y_UPDATE:
            k = y_key(y, chooser_next(&ch, limit, &rng));
            y_value(k, ++gen, val, b);
            rc = p->update(h, k, val);
            break;
        case Y_INSERT:
            n = atomic_fetch_add(&ctl->next_rec, 1);
            if (n >= maxrec) {
                fprintf(stderr, "shmets-bench: %s: the stores were sized for %llu records, and this insert "
                        "would be one more (use --ops, fewer --seconds, or --insert-room)\n", p->name,
                        (unsigned long long)maxrec);
                rc = -1;
                break;
            }
            k = y_key(y, n);
            y_value(k, 0, val, b);
            rc = p->insert(h, k, val);
            if (rc >= 0)
                ack(n);
            break;
        case Y_SCAN:
            k = y_key(y, chooser_next(&ch, limit, &rng));
            rc = p->scan(h, k, 1 + (unsigned)rng_key(&rng, Y_SCANMAX), scanbuf, &found);
            if (rc == 0 && found == 0)
                rc = 1;
            break;
        default:
            k = y_key(y, chooser_next(&ch, limit, &rng));
            rc = p->rmw(h, k, &c);
            break;
        }
        if (timed)
            s->hist[op][hbucket(now_ns() - t0)]++;
        if (rc < 0) {
            atomic_store(&s->failed, 1);
            break;
        }
        bad += (uint64_t)rc;
        atomic_store_explicit(&s->n[op], ++cnt[op], memory_order_relaxed);
        if (budget)
            budget--;
    }
    atomic_store(&s->bad, bad);
    atomic_store(&s->done, 1);
    free(val);
    free(scanbuf);
}

static void client_proc(const struct ypeer *p, const struct ycfg *y, int ordered, int idx)
{
    void *h = p->open(y, ordered, idx);
    if (!h) {
        atomic_store(&ctl->s[idx].failed, 1);
        _exit(1);
    }
    client_loop(p, h, y, idx);
    if (p->close)
        p->close(h);
    _exit(atomic_load(&ctl->s[idx].failed) ? 1 : 0);
}

/* ---- threads peers: a host process per run ---------------------------------------------- */

struct thr {
    const struct ypeer *p;
    const struct ycfg *y;
    int idx;
    pthread_t th;
};

static void *thr_main(void *arg)
{
    struct thr *t = arg;
    void *h = t->p->open(t->y, 0, t->idx);
    if (!h) {
        atomic_store(&ctl->s[t->idx].failed, 1);
        return NULL;
    }
    client_loop(t->p, h, t->y, t->idx);
    if (t->p->close)
        t->p->close(h);
    return NULL;
}

static void host_proc(const struct ypeer *p, const struct ycfg *y, int procs)
{
    if (p->load(y, 0)) {
        atomic_store(&ctl->host_failed, 1);
        _exit(1);
    }
    struct thr t[MAXP];
    for (int i = 0; i < procs; i++) {
        t[i] = (struct thr){ p, y, i, 0 };
        if (pthread_create(&t[i].th, NULL, thr_main, &t[i])) {
            atomic_store(&ctl->host_failed, 1);
            _exit(1);
        }
    }
    for (int i = 0; i < procs; i++)
        pthread_join(t[i].th, NULL);
    uint64_t count = 0;
    int rc = p->check ? p->check(y, 0, &count) : 0;
    atomic_store(&ctl->host_count, count);
    atomic_store(&ctl->host_check, rc ? -1 : 1);
    p->unload(y, 0);
    _exit(0);
}

/* ---- the parent's side ----------------------------------------------------------------------- */

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
    memset(ctl, 0, sizeof *ctl);
    return 0;
}

static int all_done(int procs)
{
    for (int i = 0; i < procs; i++)
        if (!atomic_load(&ctl->s[i].done) && !atomic_load(&ctl->s[i].failed))
            return 0;
    return 1;
}

int y_run(const struct ypeer *p, struct ycfg *y, int ordered, int procs, uint64_t *next_rec, struct yresult *res)
{
    memset(res, 0, sizeof *res);
    res->workload = y->workload;
    snprintf(res->peer, sizeof res->peer, "%s", p->name);
    res->procs = procs;
    if (procs < 1 || procs > MAXP || ctl_init())
        return -1;
    uint64_t start_rec = p->threads ? y->c.objects : *next_rec;
    atomic_store(&ctl->next_rec, start_rec);
    atomic_store(&ctl->limit, start_rec);
    atomic_store(&ctl->ops_left, (int64_t)y->ops);
    struct chooser warm;
    chooser_init(&warm, y);     /* a zeta computed once here is inherited by the clients */

    pid_t pids[MAXP];
    int npids = 0, rc = 0;
    if (p->threads) {
        pid_t host = bench_fork();
        if (host == 0)
            host_proc(p, y, procs);
        if (host < 0)
            return -1;
        pids[npids++] = host;
    } else {
        for (int i = 0; i < procs; i++) {
            pid_t pid = bench_fork();
            if (pid == 0)
                client_proc(p, y, ordered, i);
            if (pid < 0) {
                rc = -1;
                break;
            }
            pids[npids++] = pid;
        }
    }

    double until = now_s() + (p->threads ? 300 : 60);
    while (rc == 0) {
        int ready = 0, failed = atomic_load(&ctl->host_failed);
        for (int i = 0; i < procs; i++) {
            ready += atomic_load(&ctl->s[i].ready);
            failed |= atomic_load(&ctl->s[i].failed);
        }
        if (ready == procs)
            break;
        if (failed || now_s() > until) {
            fprintf(stderr, "shmets-bench: %s %c P=%d: a client could not start\n", p->name, y->workload, procs);
            rc = -1;
        }
        sleep_s(0.001);
    }

    uint64_t n0[MAXP][Y_NOPS] = { { 0 } }, n1[MAXP][Y_NOPS] = { { 0 } }, cpu0 = 0, cpu1 = 0;
    double ta = 0, tb = 1, busy0 = 0, busy1 = 0;
    if (rc == 0) {
        if (y->ops) {
            atomic_store(&ctl->measuring, 1);
            busy0 = machine_busy_s();
            ta = now_s();
            atomic_store_explicit(&ctl->go, 1, memory_order_release);
            while (!all_done(procs))
                sleep_s(0.0005);
            tb = now_s();
            busy1 = machine_busy_s();
            for (int i = 0; i < npids; i++)
                cpu1 += task_cpu_ns(pids[i]);
            if (p->server)
                cpu1 += task_cpu_ns(p->server());
            cpu0 = 0;       /* the clients did nothing before go; a server's idle time is small */
            for (int i = 0; i < procs; i++)
                for (int o = 0; o < Y_NOPS; o++)
                    n1[i][o] = atomic_load(&ctl->s[i].n[o]);
        } else {
            atomic_store_explicit(&ctl->go, 1, memory_order_release);
            sleep_s(y->c.warmup);
            busy0 = machine_busy_s();
            for (int i = 0; i < npids; i++)
                cpu0 += task_cpu_ns(pids[i]);
            if (p->server)
                cpu0 += task_cpu_ns(p->server());
            atomic_store(&ctl->measuring, 1);
            ta = now_s();
            for (int i = 0; i < procs; i++)
                for (int o = 0; o < Y_NOPS; o++)
                    n0[i][o] = atomic_load_explicit(&ctl->s[i].n[o], memory_order_relaxed);
            sleep_s(y->c.seconds);
            tb = now_s();
            for (int i = 0; i < procs; i++)
                for (int o = 0; o < Y_NOPS; o++)
                    n1[i][o] = atomic_load_explicit(&ctl->s[i].n[o], memory_order_relaxed);
            atomic_store(&ctl->measuring, 0);
            for (int i = 0; i < npids; i++)
                cpu1 += task_cpu_ns(pids[i]);
            if (p->server)
                cpu1 += task_cpu_ns(p->server());
            busy1 = machine_busy_s();
        }
    }
    atomic_store(&ctl->stop, 1);
    for (int i = 0; i < npids; i++) {
        int st = bench_reap(pids[i], 30 + (p->threads ? (double)y->c.objects / 1e5 : 0));
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            rc = -1;
    }
    for (int i = 0; i < procs; i++)
        if (atomic_load(&ctl->s[i].failed))
            rc = -1;
    if (atomic_load(&ctl->host_failed))
        rc = -1;
    uint64_t end_rec = atomic_load(&ctl->next_rec);
    res->inserts = end_rec - start_rec;
    if (!p->threads)
        *next_rec = end_rec;
    if (rc) {
        fprintf(stderr, "shmets-bench: %s %c P=%d failed\n", p->name, y->workload, procs);
        return -1;
    }
    if (p->threads && p->check) {
        uint64_t count = atomic_load(&ctl->host_count);
        if (atomic_load(&ctl->host_check) != 1 || count != end_rec) {
            fprintf(stderr, "shmets-bench: %s %c P=%d: CHECK FAILED: %llu records after %llu inserted\n", p->name,
                    y->workload, procs, (unsigned long long)count, (unsigned long long)end_rec);
            return -1;
        }
    }

    res->secs = tb - ta;
    uint64_t hsum[Y_NOPS + 1][HBUCKETS];
    memset(hsum, 0, sizeof hsum);
    res->nclients = procs;
    for (int i = 0; i < procs; i++) {
        res->client_reads[i] = n1[i][Y_READ] - n0[i][Y_READ] + n1[i][Y_SCAN] - n0[i][Y_SCAN];
        res->client_writes[i] = n1[i][Y_UPDATE] - n0[i][Y_UPDATE] + n1[i][Y_INSERT] - n0[i][Y_INSERT] +
                                n1[i][Y_RMW] - n0[i][Y_RMW];
        for (int o = 0; o < Y_NOPS; o++) {
            res->n[o] += n1[i][o] - n0[i][o];
            for (unsigned b = 0; b < HBUCKETS; b++) {
                hsum[o][b] += ctl->s[i].hist[o][b];
                hsum[Y_NOPS][b] += ctl->s[i].hist[o][b];
            }
        }
        res->bad += atomic_load(&ctl->s[i].bad);
    }
    static const double qs[3] = { 0.50, 0.99, 0.999 };
    for (int o = 0; o <= Y_NOPS; o++)
        for (int q = 0; q < 3; q++)
            res->p[o][q] = hquant(hsum[o], qs[q]);
    res->cpu_ours = (double)(cpu1 - cpu0) / 1e9 / res->secs;
    res->cpu_other = (busy1 - busy0) / res->secs - res->cpu_ours;
    if (res->cpu_other < 0)
        res->cpu_other = 0;
    return 0;
}
