/*
 * tabstats.c — counters for `shmets top` (include/shmets.h part 8).
 *
 * WHAT IS COUNTED AND WHY ONLY THAT.  Each table's header has a write counter (tab_hdr.writes)
 * that tab_commit bumps with a relaxed atomic add while it holds the writer lock: it lives on
 * the write path, which owns the line anyway.  Reads are not counted: a per-table read counter
 * in shared memory would turn every lock-free lookup into a store to one cache line shared by
 * every reading core (the contention the read path exists to avoid, DESIGN.md §4-5), and a
 * per-slot counter would still add a store per lookup.  `top` therefore shows writes per
 * second per table, and the instance's reader slots (how many live threads are registered and
 * how many are inside a read section at the moment of the sample).
 *
 * CONCURRENCY.  Plain relaxed loads of counters other processes update; a sample is a moment,
 * not a snapshot.  Nothing here writes shared memory, so a crash here leaves nothing behind.
 */
#include "shmets.h"
#include "table/table.h"
#include "base/util.h"

int shmets_tab_stats_get(shmets_tab *t, shmets_tab_stats *st)
{
    uint64_t n;
    if (!st)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_tab_stats_get");
    int rc = shmets_size(t, &n);            /* access check and deleted check */
    if (rc)
        return rc;
    st->writes = atomic_load_explicit(&t->h->writes, memory_order_relaxed);
    return 0;
}

int shmets_readers(shmets *db, uint32_t *registered, uint32_t *active)
{
    if (!db || !registered || !active)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_readers");
    struct rcu_registry *reg = &db->c.h->reg;
    uint32_t hi = atomic_load_explicit(&reg->hiwater, memory_order_acquire);
    if (hi > rcu_nslots(reg))
        hi = rcu_nslots(reg);
    uint32_t r = 0, a = 0;
    for (uint32_t i = 0; i < hi; i++) {
        if (atomic_load_explicit(&reg->slots[i].pid, memory_order_relaxed) == 0)
            continue;
        r++;
        if (atomic_load_explicit(&reg->slots[i].epoch, memory_order_relaxed) != 0)
            a++;
    }
    *registered = r;
    *active = a;
    return 0;
}
