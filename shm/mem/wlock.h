/*
 * wlock.h — private to libshmets (not installed): a table's writer lock, robust across
 * process death, and the crash points of test builds.  See wlock.c.
 */
#ifndef SHMETS_WLOCK_H
#define SHMETS_WLOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct wlock {
    pthread_mutex_t m;              /* PTHREAD_PROCESS_SHARED | PTHREAD_MUTEX_ROBUST */
    _Atomic int32_t holder;         /* pid of the holder, for diagnostics; 0 when free */
    _Atomic uint32_t recoveries;    /* times a dead holder's state was repaired */
};

/* Repairs the protected state after its previous holder died holding the lock (called with
 * the lock held).  Returns 0 when the state is whole again, or a negative code. */
typedef int (*wlock_recover_fn)(void *arg);

int  wlock_init(struct wlock *w);
/* Take the lock.  If its holder died, run recover() first: on success the lock is made
 * consistent and 0 is returned; on failure the lock is released unrepaired, and it and every
 * later wlock_acquire() return -SHMETS_EBADSEG (the table is damaged beyond repair).
 * Returns 0, -SHMETS_EBADSEG or -SHMETS_ESYS. */
int  wlock_acquire(struct wlock *w, wlock_recover_fn recover, void *arg);
void wlock_release(struct wlock *w);

/*
 * Crash points: every step of every write path is named, and a test build of the library
 * (compiled with -DSHMETS_TEST, see the Makefile) makes the process _exit(CRASH_EXIT) at the
 * step named by the environment variable SHMETS_CRASH_AT (read once per process, and again in a forked child).  Product
 * builds compile them to nothing.
 */
#define CRASH_EXIT 77
#ifdef SHMETS_TEST
void crash_point(const char *name);
#define CRASH_POINT(name) crash_point(name)
#else
#define CRASH_POINT(name) ((void)0)
#endif

#endif
