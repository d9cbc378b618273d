/*
 * handover.c — how long from an owner's SIGKILL to its heir holding {'ETS-TRANSFER', ...}.
 *
 * 100 times: a child makes a managed table through etsmgr with this process as heir, fills
 * it with 100 objects and says it is ready; we note the time, SIGKILL it, and wait in
 * etsmgr_next_event for the transfer.  The span covers the kernel's exit, the pidfd wakeup,
 * the daemon's catalog step, reading the heir's data, the message, and our wakeup.  Prints
 * median, 90th percentile and worst (microseconds) as TSV on stdout and a sentence on stderr.
 * Uses this build's etsmgr in a private runtime directory (started and killed by pid).
 */
#include "../tests/mgrutil.h"

#include <stdint.h>

#define ROUNDS 100

static int owner(void *arg, int wfd)
{
    (void)arg;
    shmets *d;
    etsmgr *m;
    shmets_tab *t;
    uint64_t id;
    char opts[96], name[32];
    snprintf(opts, sizeof opts, "[public,{heir,<0.%d.0>,handover}]", (int)getppid());
    snprintf(name, sizeof name, "h%d", (int)getpid());
    shmets_term o = mu_parse(opts);
    if (shmets_open(mu_inst, &d) || etsmgr_connect(d, NULL, &m) || etsmgr_new_table(m, name, "h", o, &id) ||
        shmets_attach(d, id, &t))
        return 1;
    for (int i = 0; i < 100; i++) {
        char txt[32];
        snprintf(txt, sizeof txt, "{%d,%d}", i, i);
        shmets_term x = mu_parse(txt);
        shmets_insert(t, x);
        shmets_term_free(&x);
    }
    mu_write_u64(wfd, id);
    for (;;)
        pause();
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(void)
{
    mu_init("handover");
    shmets *db;
    etsmgr *m;
    if (mu_start() <= 0 || shmets_open(mu_inst, &db) || etsmgr_connect(db, NULL, &m)) {
        fprintf(stderr, "handover: cannot start etsmgr: %s\n", shmets_errdetail());
        return 1;
    }
    double us[ROUNDS];
    int n = 0;
    for (int r = 0; r < ROUNDS; r++) {
        struct mu_child c = mu_spawn(owner, NULL);
        uint64_t id = mu_read_u64(&c);
        if (!id) {
            mu_wait(&c);
            continue;
        }
        double t0 = now_us();
        kill(c.pid, SIGKILL);
        shmets_term msg;
        if (etsmgr_next_event(m, 5000, &msg) == 0) {
            us[n++] = now_us() - t0;
            shmets_term_free(&msg);
        }
        mu_wait(&c);
        shmets_tab *t;
        char name[32];
        snprintf(name, sizeof name, "h%d", (int)c.pid);
        etsmgr_del_table(m, name);
        if (shmets_attach(db, id, &t) == 0)
            shmets_delete(t);
    }
    etsmgr_disconnect(m);
    shmets_close(db);
    mu_kill(mu_daemon, SIGTERM);
    if (mu_fini())
        return 1;
    if (n == 0) {
        fprintf(stderr, "handover: no transfer arrived\n");
        return 1;
    }
    qsort(us, (size_t)n, sizeof us[0], cmp);
    printf("handover_kills\t%d\nhandover_median_us\t%.0f\nhandover_p90_us\t%.0f\nhandover_worst_us\t%.0f\n", n,
           us[n / 2], us[n * 9 / 10], us[n - 1]);
    fprintf(stderr, "handover: SIGKILL of an owner to its heir holding ETS-TRANSFER, %d kills: median %.0f us, "
            "90%% %.0f us, worst %.0f us\n", n, us[n / 2], us[n * 9 / 10], us[n - 1]);
    return n == ROUNDS ? 0 : 1;
}
