/*
 * rcu.h — private to libshmets (not installed): the reader registry (it lives in the instance's
 * control segment, mem/ctl.h) and the cross-process, epoch-based RCU built on it.  See rcu.c for
 * the algorithm and its guarantees (R.1 ...).
 *
 * Read side (no lock, no atomic read-modify-write, no fence):
 *     rcu_read_begin(reg, rd);  ... read shared memory ...  rcu_read_end(rd);
 * Write side (under the writer lock of whatever was changed):
 *     unlink X; stamp = rcu_retire_stamp(reg); put (X, stamp) on a limbo list;
 *     later: safe = rcu_safe_epoch(reg); free every limbo entry whose stamp < safe.
 */
#ifndef SHMETS_RCU_H
#define SHMETS_RCU_H

#include "mem/seg.h"
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#define RCU_SLOTS_DEFAULT 8192

/* One reading thread; a cache line of its own so readers never share a line. */
struct rcu_slot {
    _Atomic int32_t pid;            /* 0: free */
    uint32_t spare;
    _Atomic uint64_t incarnation;   /* proc.c: tells a dead owner from a reused pid */
    _Atomic uint64_t epoch;         /* 0: quiescent; else the epoch the section began in */
    unsigned char pad[40];
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct rcu_slot) == 64, "reader slots are one cache line");

struct rcu_registry {
    _Atomic uint64_t epoch __attribute__((aligned(64)));    /* starts at 1, only grows */
    uint32_t nslots;
    uint32_t membarrier_cmd;        /* what writers call (rcu.c, R.3) */
    _Atomic uint64_t stale_cleared; /* slots of dead readers cleared, for info */
    _Atomic uint32_t hiwater;       /* slots [0, hiwater) have ever been claimed: scans stop there */
    struct rcu_slot slots[] __attribute__((aligned(64)));
};

/* How many slots a scan may visit: the registry's count, but never more than the layout's
 * (ctl_open refuses a registry of another size), since a process of the instance's group can
 * write any value into the shared count (R.7). */
static inline uint32_t rcu_nslots(const struct rcu_registry *reg)
{
    uint32_t n = __atomic_load_n(&reg->nslots, __ATOMIC_RELAXED);
    return n < RCU_SLOTS_DEFAULT ? n : RCU_SLOTS_DEFAULT;
}

/* A reading thread's handle: its slot and its nesting depth (process-local, never shared). */
struct rcu_reader {
    struct rcu_slot *slot;
    unsigned nest;
};

/* Claim a slot for the calling thread.  When all are taken, slots of dead processes are
 * cleared first; if none is free after that: -SHMETS_EAGAIN (too many live readers). */
int rcu_reader_register(struct rcu_registry *reg, struct rcu_reader *rd);
void rcu_reader_unregister(struct rcu_reader *rd);

static inline void rcu_read_begin(struct rcu_registry *reg, struct rcu_reader *rd)
{
    if (rd->nest++ == 0) {
        uint64_t e = atomic_load_explicit(&reg->epoch, memory_order_acquire);
        atomic_store_explicit(&rd->slot->epoch, e, memory_order_relaxed);
        atomic_signal_fence(memory_order_seq_cst);     /* compiler barrier only (R.2) */
    }
}

static inline void rcu_read_end(struct rcu_reader *rd)
{
    if (--rd->nest == 0) {
        atomic_signal_fence(memory_order_seq_cst);
        atomic_store_explicit(&rd->slot->epoch, 0, memory_order_release);
    }
}

/* Stamp for memory unlinked just now (call after the unlinking stores). */
uint64_t rcu_retire_stamp(struct rcu_registry *reg);

/* Advance the epoch, make every reader's slot store visible (membarrier), clear slots of dead
 * readers that block progress, and return the oldest epoch a live reader is in (or the new
 * epoch if none reads): memory stamped below it is unreachable by every reader.
 * Returns 0 or -SHMETS_ESYS (membarrier failed). */
int rcu_safe_epoch(struct rcu_registry *reg, uint64_t *safe);

/* Clear every slot whose process is dead.  Returns the number cleared. */
unsigned rcu_clear_dead(struct rcu_registry *reg);
/* Clear the slots of process (pid, inc), which the caller knows is dead (etsmgr: its pidfd
 * turned readable, a zombie included).  Returns the number cleared. */
unsigned rcu_clear_proc(struct rcu_registry *reg, int32_t pid, uint64_t inc);

#endif
