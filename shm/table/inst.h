/*
 * inst.h — private to libshmets (not installed): an open instance and the read sections of its
 * threads (inst.c).  The front end (table.c and the files beside it) calls it; it calls none of
 * them.
 */
#ifndef SHMETS_INST_H
#define SHMETS_INST_H

#include "store/tab.h"
#include "base/proc.h"

struct rcu_reader *inst_reader_slow(struct shmets *db);

/* Each thread's cache of the last instance it read through and its reader (inst.c). */
struct inst_tl {
    const struct shmets *db;
    uint64_t gen;
    struct treader *r;
};
/* initial-exec: one %fs-relative load even in the shared library (the general-dynamic model
 * of a .so calls __tls_get_addr on every access); 24 bytes of the static TLS surplus that
 * glibc keeps for libraries, so a dlopen()ed libshmets still loads. */
extern __thread struct inst_tl inst_tl __attribute__((tls_model("initial-exec")));

/* tab_reader's hit, inline: one thread-local block, the handle's generation, the pid (a child
 * made by fork() must claim a slot of its own).  The pid is the cached one, not asked for: a
 * process that has not asked yet (0) misses, and its caller's slow way asks — so that the hit
 * makes no call and saves no registers. */
static inline struct treader *inst_cached(const struct shmets *db)
{
    struct treader *r = inst_tl.r;
    pid_t me = atomic_load_explicit(&proc_cached_pid, memory_order_relaxed);
    return __builtin_expect(inst_tl.db == db && inst_tl.gen == db->gen && r->pid == me && me != 0, 1) ? r : NULL;
}

static inline struct rcu_reader *inst_reader(struct shmets *db)
{
    struct treader *r = inst_cached(db);
    return r ? &r->rd : inst_reader_slow(db);
}
/* The calling thread's reader for t's instance, registered on first use; NULL with the error
 * detail set when no reader slot is free. */
static inline struct rcu_reader *tab_reader(struct tab *t)
{
    return inst_reader(t->db);
}
/* Is the calling thread inside a read section of db (shmets_read_begin)? */
int inst_in_section(struct shmets *db);
/* shmets_close once every table is detached (table.c detaches them: inst.c is below it). */
void inst_close(struct shmets *db);

#endif
