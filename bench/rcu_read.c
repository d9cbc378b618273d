/*
 * bench/rcu_read.c — what a shmets read section costs, next to the lock a reader would
 * otherwise take, measured in the same run on the same machine.
 *
 * Each case runs a tight loop of enter/exit pairs with one dependent load inside (so the pair
 * is not optimised away) and reports nanoseconds per pair, best of 5 runs:
 *   rcu        rcu_read_begin/rcu_read_end on a shmets control segment (shm/mem/rcu.h)
 *   rwlock     pthread_rwlock_rdlock/unlock, uncontended, process-private
 *   rwlock-ps  the same lock with PTHREAD_PROCESS_SHARED in shared memory (what a locked
 *              shared-memory table would use)
 * Output: one TSV line per case on stdout (case, ns_per_pair), a sentence on stderr.
 */
#include "shmets.h"
#include "benchutil.h"
#include "mem/ctl.h"
#include "mem/rcu.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define ITERS 20000000L

static volatile uint64_t sink;

static double run_rcu(struct ctl *c, struct rcu_reader *rd, const volatile uint64_t *data)
{
    double t0 = bench_now();
    uint64_t s = 0;
    for (long i = 0; i < ITERS; i++) {
        rcu_read_begin(&c->h->reg, rd);
        s += data[i & 7];
        rcu_read_end(rd);
    }
    sink = s;
    return (bench_now() - t0) * 1e9 / ITERS;
}

static double run_rwlock(pthread_rwlock_t *l, const volatile uint64_t *data)
{
    double t0 = bench_now();
    uint64_t s = 0;
    for (long i = 0; i < ITERS; i++) {
        pthread_rwlock_rdlock(l);
        s += data[i & 7];
        pthread_rwlock_unlock(l);
    }
    sink = s;
    return (bench_now() - t0) * 1e9 / ITERS;
}

static double best(double a, double b) { return a < b ? a : b; }

int main(void)
{
    char inst[64];
    snprintf(inst, sizeof inst, "bench-rcu.%d", (int)getpid());
    struct ctl c;
    struct rcu_reader rd;
    int rc;
    if ((rc = ctl_open(inst, &c)) || (rc = rcu_reader_register(&c.h->reg, &rd))) {
        fprintf(stderr, "rcu_read: %s: %s\n", shmets_strerror(rc), shmets_errdetail());
        ctl_unlink(inst);
        return 1;
    }
    static uint64_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    pthread_rwlock_t priv;
    pthread_rwlock_init(&priv, NULL);
    pthread_rwlock_t *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_rwlock_init(shared, &a);

    double r = 1e9, p = 1e9, s = 1e9;
    for (int k = 0; k < 5; k++) {
        r = best(r, run_rcu(&c, &rd, data));
        p = best(p, run_rwlock(&priv, data));
        s = best(s, run_rwlock(shared, data));
    }
    printf("rcu\t%.2f\nrwlock\t%.2f\nrwlock-ps\t%.2f\n", r, p, s);
    fprintf(stderr, "read section: %.2f ns per begin/end pair; pthread_rwlock rdlock/unlock: %.2f ns "
            "(process-shared %.2f ns): the section costs %.1fx less\n", r, p, s, p / r);
    rcu_reader_unregister(&rd);
    ctl_close(&c);
    ctl_unlink(inst);
    return 0;
}
