/*
 * reclaim.c — etsmgr's background reclaimer: memory deleted from a table that has gone quiet
 * goes back to the system without waiting for the table's next write (issue 21).
 *
 * WHY: writers free retired memory themselves (shm/store/commit.c RECLAMATION: by count, by bytes,
 * by age), but only when they write.  A table whose last writes retired memory that a reader
 * held at that moment keeps it in limbo until its next write, which may never come: five
 * 20 MB objects, four deleted while a reader looked, held 100 MB of /dev/shm for good.  The
 * daemon already watches every table of the instance, so it reclaims the quiet ones.
 *
 * HOW: one thread of its own, so that a table lock it waits for (a writer stopped with SIGSTOP
 * while holding it) stalls only this thread, never the event loop that serves clients and
 * watches owners.  Every RECLAIM_TICK_MS it calls tab_reclaim_idle (shm/table/table.c): up to
 * RECLAIM_TABLES tables, round robin over the catalog by id, each reclaimed (up to
 * RECLAIM_ENTRIES entries, under its writer lock) if its limbo holds entries and nothing has
 * reclaimed it for RECLAIM_IDLE_MS.
 *
 * GUARANTEES
 *   G.1 Bounded work per tick: RECLAIM_TABLES attaches (one mmap each) and at most
 *       RECLAIM_TABLES * RECLAIM_ENTRIES frees, each table under its lock for at most
 *       RECLAIM_ENTRIES frees.
 *   G.2 The bound on held memory: memory deleted from a table that no reader still holds is
 *       free within RECLAIM_IDLE_MS + RECLAIM_TICK_MS * ceil(tables / RECLAIM_TABLES) of the
 *       table's last reclamation (0.3 s for an instance of up to 64 tables), plus one tick per
 *       RECLAIM_ENTRIES entries beyond the first batch.  Memory a reader still holds is freed
 *       at the first tick after the reader's section ends.
 *   G.3 It changes no table's contents and needs no table's ownership: freeing what RCU says
 *       no reader holds is the same whoever does it.  Tables the daemon's uid cannot open
 *       read-write are skipped.
 * CRASH: the daemon killed mid-reclamation is a writer killed under the lock: the next locker
 * recovers (commit.c), as for any writer.
 */
#include "mgr.h"
#include "table/table.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define RECLAIM_TICK_MS   100
#define RECLAIM_IDLE_MS   200
#define RECLAIM_TABLES    64
#define RECLAIM_ENTRIES   4096

static pthread_t reclaimer;
static atomic_int stopping;
static int started;

static void *reclaim_loop(void *arg)
{
    struct mgr *m = arg;
    uint64_t cursor = 0, total = 0;
    while (!atomic_load(&stopping)) {
        struct timespec ts = { 0, RECLAIM_TICK_MS * 1000000L };
        nanosleep(&ts, NULL);
        uint64_t freed = 0;
        if (tab_reclaim_idle(m->db, &cursor, RECLAIM_TABLES, RECLAIM_IDLE_MS * 1000000ull,
                             RECLAIM_ENTRIES, &freed) == 0 && freed) {
            total += freed;
            mgr_log(7, "reclaimer: %llu retired blocks freed (%llu in all)",
                    (unsigned long long)freed, (unsigned long long)total);
        }
    }
    return NULL;
}

void mgr_reclaimer_start(struct mgr *m)
{
    if (pthread_create(&reclaimer, NULL, reclaim_loop, m) == 0)
        started = 1;
    else
        mgr_log(4, "no background reclaimer: cannot start its thread");
}

int mgr_reclaimer_stop(void)
{
    if (!started)
        return 0;
    atomic_store(&stopping, 1);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 2;
    if (pthread_timedjoin_np(reclaimer, NULL, &dl) != 0) {
        mgr_log(4, "reclaimer still waits for a table lock at exit");
        return -1;
    }
    started = 0;
    return 0;
}
