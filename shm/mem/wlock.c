/*
 * wlock.c — the writer lock of a table, and recovery when its holder dies.
 *
 * A glibc pthread mutex with PTHREAD_PROCESS_SHARED and PTHREAD_MUTEX_ROBUST lives in the
 * table segment (DESIGN.md §6).  When a process dies holding it, the kernel's robust-futex list
 * makes the next locker's pthread_mutex_lock() return EOWNERDEAD: that locker owns the mutex
 * and must repair the state it protects before anyone else sees it (LMDB's mdb_mutex_failed()
 * plays the same part).  The repair is the caller's recover() — for a table: complete or roll
 * back the intent record, rebuild the heap by mark and sweep, recount — after which
 * pthread_mutex_consistent() returns the mutex to service.  If the repair fails, the mutex is
 * unlocked without being made consistent; glibc then marks it ENOTRECOVERABLE and every later
 * locker is told the table is damaged, instead of writing into a half-repaired table.
 *
 * Guarantees:
 *   W.1 No writer ever proceeds on state left half-written by a dead writer: either recover()
 *       succeeded first, or the lock refuses every writer from then on.
 *   W.2 A writer that merely blocks (SIGSTOP) holds the lock: writers wait, readers never do.
 *   W.3 A lock scribbled on (a stray write into a public table's segment, issue 20) is
 *       -SHMETS_EBADSEG, not a wait for ever: its type must be the one wlock_init() gave it,
 *       and a waiter looks every second at the thread the lock word names as its owner — one
 *       that does not exist, with no owner-died mark from the kernel, is a damaged lock.
 *       (glibc's layout of the mutex, read here, is what the futex protocol fixes: the owner's
 *       thread id in the low 30 bits of the lock word, FUTEX_OWNER_DIED above them.)
 */
#include "mem/wlock.h"
#include "base/proc.h"
#include "shmets.h"
#include "base/util.h"

#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The type word of a lock wlock_init() made (W.3), found once per process. */
static int good_kind(const pthread_mutex_t *m)
{
    static _Atomic int kind = -1;
    int k = atomic_load_explicit(&kind, memory_order_relaxed);
    if (k == -1) {
        struct wlock w;
        if (wlock_init(&w))
            return 1;                   /* cannot tell: trust it */
        k = w.m.__data.__kind;
        pthread_mutex_destroy(&w.m);
        atomic_store_explicit(&kind, k, memory_order_relaxed);
    }
    return __atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED) == k;
}

/* Does the lock word name an owner that does not exist, unmarked by the kernel (W.3)? */
static int owner_gone(const pthread_mutex_t *m)
{
    unsigned w = __atomic_load_n((const unsigned *)&m->__data.__lock, __ATOMIC_RELAXED);
    pid_t tid = (pid_t)(w & FUTEX_TID_MASK);
    if (!tid || (w & FUTEX_OWNER_DIED))
        return 0;
    return kill(tid, 0) != 0 && errno == ESRCH;
}

int wlock_init(struct wlock *w)
{
    pthread_mutexattr_t a;
    int e;
    if ((e = pthread_mutexattr_init(&a)) ||
        (e = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) ||
        (e = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) ||
        (e = pthread_mutex_init(&w->m, &a)))
        return err_set(SHMETS_ESYS, "initialising the writer lock: %s", strerror(e));
    pthread_mutexattr_destroy(&a);
    atomic_store(&w->holder, 0);
    atomic_store(&w->recoveries, 0);
    return 0;
}

int wlock_acquire(struct wlock *w, wlock_recover_fn recover, void *arg)
{
    if (!good_kind(&w->m))
        return err_set(SHMETS_EBADSEG, "the writer lock is damaged (its type word is not a robust shared mutex's)"
                       SALVAGE_HINT);
    /* Uncontended, the lock is taken by trylock (no clock read, no timed wait: ~90 of a
     * write's instructions); a robust trylock reports a dead holder (EOWNERDEAD) as the
     * timed lock does. */
    int e = pthread_mutex_trylock(&w->m);
    while (e == EBUSY) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        e = pthread_mutex_timedlock(&w->m, &until);
        if (e != ETIMEDOUT)
            break;
        e = EBUSY;
        if (owner_gone(&w->m))
            return err_set(SHMETS_EBADSEG, "the writer lock is damaged (held by thread %u, which does not exist)"
                           SALVAGE_HINT, __atomic_load_n((const unsigned *)&w->m.__data.__lock, __ATOMIC_RELAXED) & FUTEX_TID_MASK);
    }
    if (e == 0) {
        atomic_store(&w->holder, (int32_t)proc_self_pid());
        return 0;
    }
    if (e == ENOTRECOVERABLE)
        return err_set(SHMETS_EBADSEG, "the table was damaged by a writer that died, and could not be repaired");
    if (e != EOWNERDEAD)
        return err_set(SHMETS_ESYS, "taking the writer lock: %s", strerror(e));
    int32_t dead = atomic_load(&w->holder);
    atomic_store(&w->holder, (int32_t)proc_self_pid());
    int rc = recover ? recover(arg) : 0;
    if (rc < 0) {
        atomic_store(&w->holder, 0);
        pthread_mutex_unlock(&w->m);      /* not consistent: ENOTRECOVERABLE from now on */
        return err_set(SHMETS_EBADSEG, "writer %d died holding the lock and its table could not be repaired (%s)",
                       (int)dead, shmets_strerror(rc));
    }
    if ((e = pthread_mutex_consistent(&w->m)) != 0) {
        atomic_store(&w->holder, 0);
        pthread_mutex_unlock(&w->m);
        return err_set(SHMETS_ESYS, "marking the writer lock consistent: %s", strerror(e));
    }
    atomic_fetch_add(&w->recoveries, 1);
    return 0;
}

void wlock_release(struct wlock *w)
{
    atomic_store(&w->holder, 0);
    int e = pthread_mutex_unlock(&w->m);
    if (e)
        die(__FILE__, __LINE__, "unlocking the writer lock failed: not its holder?");
}

#ifdef SHMETS_TEST
void crash_point(const char *name)
{
    static const char *at;
    static pid_t read_by;           /* read once per process, again after fork */
    if (read_by != proc_self_pid()) {
        at = getenv("SHMETS_CRASH_AT");
        read_by = proc_self_pid();
    }
    if (at && strcmp(at, name) == 0)
        _exit(CRASH_EXIT);
}
#endif
