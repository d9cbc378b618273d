/*
 * rcu.c — cross-process read-copy-update over shared memory (its registry lives in the control
 * segment: mem/ctl.c).
 *
 * WHY OUR OWN: liburcu's grace periods see the threads of one process only.  shmets readers are
 * threads of many processes that share nothing but memory, so the registry of readers must be
 * in shared memory too.  The model is liburcu's `memb` flavour (readers do plain stores and a
 * compiler barrier; the writer side pays with membarrier(2)) and DPDK's rte_rcu_qsbr (a shared
 * array of per-reader counters, one cache line each).
 *
 * THE REGISTRY is an array of slots in the instance's control segment, one per reading thread:
 * (pid, incarnation, epoch).  A global epoch counter starts at 1 and only grows.
 *
 * GUARANTEES
 *   R.1 A reader inside a section never waits and never writes anything but its own slot.
 *   R.2 rcu_read_begin() is a load of the global epoch and a store to the slot; rcu_read_end()
 *       one store: no atomic read-modify-write, no fence (bench/rcu_read measures it).
 *   R.3 Grace period: a writer unlinks X, then stamps it with the epoch E it reads *after* the
 *       unlinking stores (rcu_retire_stamp).  rcu_safe_epoch() then increments the epoch to
 *       E' > E, and issues membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) (every reader process
 *       registered for it): when that returns, every running reader thread has executed a full
 *       barrier, so any slot store made before it is visible to the scan that follows.  A reader
 *       whose slot reads 0 or an epoch > E either entered after the barrier (and so after the
 *       unlink: it cannot reach X) or loaded the epoch after the increment (likewise).  Hence X
 *       may be freed once every slot is 0 or > E: memory stamped below the returned "safe" epoch
 *       is unreachable.  (Kernels without the expedited command fall back to the slower
 *       MEMBARRIER_CMD_GLOBAL, which needs no registration; one of the two exists since 4.16.)
 *   R.4 A reader that dies inside a section would hold back reclamation forever: the scan
 *       checks the (pid, incarnation) of every slot that blocks progress and clears slots of
 *       dead processes (etsmgr does the same from pidfd notifications).  A pid reused by another
 *       process is not mistaken for the dead reader (proc.c).
 *   R.5 Nesting is counted in the process (struct rcu_reader), never in shared memory.
 *
 *   R.6 A slot is claimed by CAS on its pid from 0 to -1, then its incarnation is written, then
 *       the claimer's pid: a scanner never pairs a new pid with an old incarnation.
 *
 *   R.7 Garbage in the registry is bounded, checked, cleared and never followed (issue 17:
 *       in an instance shared by a group, every member writes the registry, so a broken or
 *       hostile member can write anything there).  Nothing in a slot is an offset or a
 *       pointer: it is three numbers, which scans only compare.  Scans stop at the smaller
 *       of hiwater and rcu_nslots() (the layout's count, whatever the shared one says).  A
 *       slot whose pid is 0 or negative holds no reader (a reader enters only after its pid
 *       is stored, R.6), so its epoch is ignored; a pid below -1 is no state R.6 makes, and
 *       is cleared; a positive pid with incarnation 0 likewise (R.6 writes the incarnation,
 *       never 0, before the pid); a pid and incarnation that name no live process are
 *       cleared as a dead reader's (R.4); an epoch at or above the current one delays
 *       nothing.  What garbage cannot be told from a reader: the (pid, incarnation) of a live
 *       process with an old epoch.  That stalls reclamation while the process lives, and a
 *       member can claim every free slot: the trust LMDB puts in the processes that share
 *       its lock file, written down in the README's threat model.
 *
 * CRASH SAFETY: a slot is released by storing 0; a process killed at any point leaves at worst
 * a claimed slot, which R.4 clears — or, if it died in the two stores of R.6, a slot held by
 * -1, lost for the registry's life (one slot of thousands; etsmgr's restart does not reset it).
 */
#include "mem/rcu.h"
#include "base/proc.h"
#include "shmets.h"
#include "base/util.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int membarrier(int cmd, unsigned flags)
{
    return (int)syscall(SYS_membarrier, cmd, flags, 0);
}

/* Which membarrier command writers use; readers register for the expedited one.  Threads
 * may ask at once: each computes the same answer, and the cache is atomic (found by TSan). */
static int barrier_cmd(void)
{
    static _Atomic int cache = -1;
    int cmd = atomic_load_explicit(&cache, memory_order_relaxed);
    if (cmd < 0) {
        int mask = membarrier(MEMBARRIER_CMD_QUERY, 0);
        if (mask > 0 && (mask & MEMBARRIER_CMD_GLOBAL_EXPEDITED))
            cmd = MEMBARRIER_CMD_GLOBAL_EXPEDITED;
        else if (mask > 0 && (mask & MEMBARRIER_CMD_GLOBAL))
            cmd = MEMBARRIER_CMD_GLOBAL;
        else
            cmd = 0;
        atomic_store_explicit(&cache, cmd, memory_order_relaxed);
    }
    return cmd;
}

/* The pid that registered for the expedited barrier (registration is per process and
 * idempotent: two threads may both register; a forked child registers again). */
static _Atomic pid_t registered_pid;

int rcu_reader_register(struct rcu_registry *reg, struct rcu_reader *rd)
{
    int cmd = barrier_cmd();
    if (cmd == 0)
        return err_set(SHMETS_ESYS, "this kernel has no membarrier(2) global command (Linux 4.16+ needed)");
    pid_t me = proc_self_pid();
    if (cmd == MEMBARRIER_CMD_GLOBAL_EXPEDITED && atomic_load_explicit(&registered_pid, memory_order_acquire) != me) {
        if (membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0) != 0)
            return err_set(SHMETS_ESYS, "membarrier register: %s", strerror(errno));
        atomic_store_explicit(&registered_pid, me, memory_order_release);
    }
    uint64_t inc = proc_self_incarnation();
    for (int round = 0; round < 2; round++) {
        uint32_t ns = rcu_nslots(reg);
        for (uint32_t i = 0; i < ns; i++) {
            struct rcu_slot *sl = &reg->slots[i];
            int32_t zero = 0;
            /* Claimed as -1 first, so that no scanner pairs our pid with the incarnation of
             * the slot's previous owner and clears the slot under us (R.6). */
            if (atomic_load_explicit(&sl->pid, memory_order_relaxed) == 0 &&
                atomic_compare_exchange_strong(&sl->pid, &zero, -1)) {
                atomic_store(&sl->epoch, 0);
                atomic_store(&sl->incarnation, inc);
                atomic_store(&sl->pid, me);
                uint32_t hw = atomic_load(&reg->hiwater);
                while (hw < i + 1 && !atomic_compare_exchange_weak(&reg->hiwater, &hw, i + 1))
                    ;
                rd->slot = sl;
                rd->nest = 0;
                return 0;
            }
        }
        if (round == 0 && rcu_clear_dead(reg) == 0)
            break;
    }
    return err_set(SHMETS_EAGAIN, "all %u reader slots are held by live threads", rcu_nslots(reg));
}

void rcu_reader_unregister(struct rcu_reader *rd)
{
    if (!rd->slot)
        return;
    atomic_store_explicit(&rd->slot->epoch, 0, memory_order_release);
    atomic_store_explicit(&rd->slot->pid, 0, memory_order_release);
    rd->slot = NULL;
}

uint64_t rcu_retire_stamp(struct rcu_registry *reg)
{
    atomic_thread_fence(memory_order_seq_cst);      /* the unlinking stores come first */
    return atomic_load_explicit(&reg->epoch, memory_order_relaxed);
}

static int slot_dead(struct rcu_slot *sl, int32_t pid)
{
    /* Between reading pid and incarnation the slot may be released and claimed again;
     * a claimer writes the incarnation after the pid, so re-check the pid afterwards. */
    if (pid == 0 || pid == -1)
        return 0;                   /* free, or being claimed (R.6) */
    if (pid < -1)
        return 1;                   /* no state of R.6: garbage (R.7) */
    uint64_t inc = atomic_load(&sl->incarnation);
    if (atomic_load(&sl->pid) != pid)
        return 0;
    if (inc == 0)
        return 1;                   /* R.6 never stores a pid before a non-zero incarnation (R.7) */
    return !proc_alive(pid, inc);
}

/* Free the slot of dead process pid.  Only the pid is written, by a CAS: two cleaners may
 * find one dead slot (a writer's scan and etsmgr), and the loser must not touch it, for the
 * winner's release lets a new reader claim it and enter a section at once (storing epoch 0
 * before the CAS, as this did, could zero that reader's epoch: reclamation would then free
 * what it reads).  The dead reader's epoch stays in the slot until the next claim zeroes it;
 * scanners ignore the epoch of a slot whose pid is 0 (rcu_safe_epoch). */
static int clear_slot(struct rcu_registry *reg, struct rcu_slot *sl, int32_t pid)
{
    int32_t expect = pid;
    if (atomic_compare_exchange_strong(&sl->pid, &expect, 0)) {
        atomic_fetch_add(&reg->stale_cleared, 1);
        return 1;
    }
    return 0;
}

unsigned rcu_clear_dead(struct rcu_registry *reg)
{
    unsigned n = 0;
    uint32_t hw = atomic_load(&reg->hiwater), ns = rcu_nslots(reg);
    for (uint32_t i = 0; i < hw && i < ns; i++) {
        struct rcu_slot *sl = &reg->slots[i];
        int32_t pid = atomic_load(&sl->pid);
        if (pid != 0 && slot_dead(sl, pid))
            n += (unsigned)clear_slot(reg, sl, pid);
    }
    return n;
}

int rcu_safe_epoch(struct rcu_registry *reg, uint64_t *safe)
{
    uint64_t now = atomic_fetch_add_explicit(&reg->epoch, 1, memory_order_seq_cst) + 1;
    int cmd = barrier_cmd();
    if (cmd == 0 || membarrier(cmd, 0) != 0)
        return err_set(SHMETS_ESYS, "membarrier: %s", cmd ? strerror(errno) : "not supported");
    uint64_t min = now;
    /* A slot claimed after we read hiwater entered after the increment above: it cannot
     * hold memory retired before it (R.3), so stopping at hiwater is safe. */
    uint32_t hw = atomic_load(&reg->hiwater), ns = rcu_nslots(reg);
    for (uint32_t i = 0; i < hw && i < ns; i++) {
        struct rcu_slot *sl = &reg->slots[i];
        uint64_t e = atomic_load_explicit(&sl->epoch, memory_order_acquire);
        if (e == 0 || e >= min)
            continue;
        int32_t pid = atomic_load(&sl->pid);
        if (pid < -1 && clear_slot(reg, sl, pid))
            continue;       /* garbage (R.7) */
        if (pid <= 0)
            continue;       /* released, cleared or being claimed: no reader (R.6, R.7) */
        if (pid != proc_self_pid() && slot_dead(sl, pid) && clear_slot(reg, sl, pid))
            continue;       /* R.4 */
        min = e;
    }
    *safe = min;
    return 0;
}

unsigned rcu_clear_proc(struct rcu_registry *reg, int32_t pid, uint64_t inc)
{
    unsigned n = 0;
    uint32_t hw = atomic_load(&reg->hiwater), ns = rcu_nslots(reg);
    for (uint32_t i = 0; pid > 0 && i < hw && i < ns; i++) {
        struct rcu_slot *sl = &reg->slots[i];
        if (atomic_load(&sl->pid) == pid && atomic_load(&sl->incarnation) == inc && atomic_load(&sl->pid) == pid)
            n += (unsigned)clear_slot(reg, sl, pid);
    }
    return n;
}
