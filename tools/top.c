/*
 * top.c — `shmets top [--instance NAME] [--iterations N] [--interval SECONDS]`: a live view of
 * an instance's tables, refreshed every interval (1 s by default) until interrupted, or N
 * times.
 *
 * Each refresh lists every table with its size, memory (bytes), writes per second, owner and
 * heir ("PID dead" for a dead one: pid and start time, tools/liveness.c), and the instance's
 * reader slots (registered by live threads, and inside a read section at that moment); then
 * the read sections older than a second (pid, slot, age: see struct sect), the bytes the
 * tables hold in limbo waiting for readers, and, when an owner is dead and no etsmgr runs,
 * the note that its table stays until one does.  Rates are differences of the tables' write counters between two refreshes
 * divided by the time between them (CLOCK_MONOTONIC), so the first refresh has none ("-").
 * Reads are not counted anywhere (shm/table/tabstats.c says why: it would cost the read path a
 * shared store), so there is no reads-per-second column.
 *
 * On a terminal each refresh clears the screen first (ANSI "home, clear"); otherwise refreshes
 * follow each other separated by a blank line, which keeps `top` usable in a log.  Handles
 * are kept from one refresh to the next and dropped when a table goes away.
 */
#include "tool.h"
#include "mem/rcu.h"
#include "table/table.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct row {
    uint64_t id;
    shmets_tab *t;
    bool seen;
    uint64_t writes;            /* at the last refresh */
    double at;                  /* when that was */
    bool sampled;               /* writes and at hold a sample */
    double rate;                /* writes per second, < 0: not known yet */
    shmets_tab_info in;
    uint64_t used;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Read sections as top sees them: per reader slot, the (pid, epoch) of the section it is in
 * and since when top has seen it there.  Sampled every 50 ms between refreshes, so a section
 * that ends and another that begins are told apart unless both fall between two samples in
 * one epoch (then no writer retired anything meanwhile, and nothing waits for it). */
struct sect {
    int32_t pid;
    uint64_t epoch;
    double since;
};

static void sample_sections(shmets *db, struct sect *sc, uint32_t n, double now)
{
    struct rcu_registry *reg = &db->c.h->reg;
    uint32_t hw = atomic_load(&reg->hiwater);
    for (uint32_t i = 0; i < n; i++) {
        int32_t pid = i < hw ? atomic_load(&reg->slots[i].pid) : 0;
        uint64_t ep = i < hw ? atomic_load(&reg->slots[i].epoch) : 0;
        if (pid <= 0 || !ep)
            sc[i].epoch = 0;
        else if (sc[i].pid != pid || sc[i].epoch != ep)
            sc[i] = (struct sect){ pid, ep, now };
    }
}

/* Bytes a table holds in limbo, waiting for readers: read without its lock (top must not stop
 * writers), so a walk that meets a change is tried again, at most thrice; -1 if it never held
 * still. */
static int64_t waiting_bytes(shmets_tab *t)
{
    for (int k = 0; k < 3; k++) {
        uint64_t b;
        if (limbo_check(&t->h->limbo, &t->h->heap, &t->s, &b) == 0)
            return (int64_t)b;
    }
    return -1;
}

static int by_rate(const void *x, const void *y)
{
    const struct row *a = x, *b = y;
    if (a->rate != b->rate)
        return a->rate < b->rate ? 1 : -1;
    return a->id < b->id ? -1 : a->id > b->id;
}

int cmd_top(int argc, char **argv)
{
    struct tool_args a;
    int rc = tool_args("top", argc, argv, "iterations,interval", 0, 0,
                       "[--instance NAME] [--iterations N] [--interval SECONDS]", &a);
    if (rc)
        return rc;
    shmets *db;
    if ((rc = tool_open(&a, true, &db)))
        return free(a.argv), rc;
    bool tty = isatty(STDOUT_FILENO);
    struct row *rows = NULL;
    size_t nrows = 0;
    const char *inst = a.instance ? a.instance : "default";
    uint32_t nsl = rcu_nslots(&db->c.h->reg);
    struct sect *sc = calloc(nsl ? nsl : 1, sizeof *sc);
    if (!sc) {
        shmets_close(db);
        free(a.argv);
        return tool_fail("top", -SHMETS_ENOMEM);
    }
    sample_sections(db, sc, nsl, now_s());
    for (int it = 0; a.iterations == 0 || it < a.iterations; it++) {
        if (it) {
            double until = now_s() + a.interval;
            for (double t0; (t0 = now_s()) < until;) {
                double d = until - t0 < 0.05 ? until - t0 : 0.05;
                struct timespec ts = { 0, (long)(d * 1e9) };
                nanosleep(&ts, NULL);
                sample_sections(db, sc, nsl, now_s());
            }
        }
        uint64_t *ids;
        size_t n;
        if ((rc = shmets_all(db, &ids, &n))) {
            rc = tool_fail("top", rc);
            break;
        }
        double t = now_s();
        for (size_t i = 0; i < nrows; i++)
            rows[i].seen = false;
        for (size_t i = 0; i < n; i++) {
            struct row *r = NULL;
            for (size_t k = 0; k < nrows && !r; k++)
                if (rows[k].id == ids[i])
                    r = &rows[k];
            if (!r) {
                shmets_tab *h;
                if (shmets_attach(db, ids[i], &h))
                    continue;           /* deleted meanwhile, or private to another process */
                struct row *nr = realloc(rows, (nrows + 1) * sizeof *rows);
                if (!nr) {
                    shmets_detach(h);
                    continue;
                }
                rows = nr;
                r = &rows[nrows++];
                memset(r, 0, sizeof *r);
                r->id = ids[i];
                r->t = h;
                r->rate = -1;
            }
            shmets_tab_stats st;
            uint64_t freeb;
            if (shmets_info(r->t, &r->in) || shmets_tab_stats_get(r->t, &st) ||
                shmets_memory(r->t, &r->used, &freeb))
                continue;
            if (r->sampled && t > r->at)
                r->rate = st.writes >= r->writes ? (double)(st.writes - r->writes) / (t - r->at) : 0;
            r->writes = st.writes;
            r->at = t;
            r->sampled = true;
            r->seen = true;
        }
        free(ids);
        /* Drop tables that went away. */
        for (size_t i = 0; i < nrows;) {
            if (!rows[i].seen) {
                shmets_detach(rows[i].t);
                rows[i] = rows[--nrows];
            } else {
                i++;
            }
        }
        qsort(rows, nrows, sizeof *rows, by_rate);
        uint32_t reg = 0, act = 0;
        shmets_readers(db, &reg, &act);
        if (tty)
            fputs("\033[H\033[2J", stdout);
        else if (it)
            putchar('\n');
        printf("shmets top: instance %s, %zu tables, readers %u registered, %u in a section (every %.2g s)\n",
               inst, nrows, reg, act, a.interval);
        printf("%-8s %-24s %-14s %12s %14s %-13s %-13s %12s\n", "id", "name", "type", "size", "memory",
               "owner", "heir", "writes/s");
        int dead = 0;
        int64_t waiting = 0;
        for (size_t i = 0; i < nrows; i++) {
            struct row *r = &rows[i];
            char rate[32], owner[32], heir[32];
            if (r->rate < 0)
                snprintf(rate, sizeof rate, "-");
            else
                snprintf(rate, sizeof rate, "%.0f", r->rate);
            struct tool_live l = { (int32_t)r->in.owner, (int32_t)r->in.heir, true, r->in.heir != 0 };
            tool_liveness(db, r->id, &l);
            tool_pid_text(l.owner, l.owner_alive, owner, sizeof owner);
            tool_pid_text(l.heir, l.heir_alive, heir, sizeof heir);
            dead += !l.owner_alive;
            int64_t w = waiting_bytes(r->t);
            if (w > 0)
                waiting += w;
            printf("%-8llu %-24.24s %-14s %12llu %14llu %-13s %-13s %12s\n", (unsigned long long)r->id, r->in.name,
                   tool_kind_names[r->in.kind], (unsigned long long)r->in.size,
                   (unsigned long long)r->in.memory_bytes, owner, heir, rate);
        }
        /* Read sections older than a second: a reader stopped inside one (SIGSTOP, a debugger)
         * holds back the reclamation of every table. */
        double t1 = now_s();
        int old = 0;
        for (uint32_t i = 0; i < nsl; i++) {
            if (!sc[i].epoch || t1 - sc[i].since < 1.0)
                continue;
            if (!old++)
                printf("read sections older than 1 s (they hold back reclamation in every table):\n");
            printf("  pid %d, slot %u, %.1f s\n", (int)sc[i].pid, i, t1 - sc[i].since);
        }
        printf("bytes waiting for readers (in limbo): %lld\n", (long long)waiting);
        if (dead && !tool_etsmgr_runs(inst))
            tool_note_no_etsmgr(stdout, inst);
        fflush(stdout);
    }
    for (size_t i = 0; i < nrows; i++)
        shmets_detach(rows[i].t);
    free(rows);
    free(sc);
    shmets_close(db);
    free(a.argv);
    return rc;
}
