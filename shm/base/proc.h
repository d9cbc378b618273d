/*
 * proc.h — private to libshmets (not installed): telling a live process from a dead one whose
 * pid was reused.  A process is named by (pid, incarnation); see proc.c.
 */
#ifndef SHMETS_PROC_H
#define SHMETS_PROC_H

#include <stdint.h>
#include <stdatomic.h>
#include <sys/types.h>

/* The incarnation of a live process: 0 on success, -SHMETS_ENOENT if no such process. */
int proc_incarnation(pid_t pid, uint64_t *inc);
/* 1 if (pid, inc) names a live process, 0 if it died (its pid may now be another's). */
int proc_alive(pid_t pid, uint64_t inc);
/* This process's pid without a system call (getpid() is one, and the read path asks for it on
 * every call): cached, and forgotten in the child by a pthread_atfork handler.  A child made
 * by a raw clone() that skips the handlers would see its parent's pid: use fork(). */
pid_t proc_self_pid_slow(void);
extern _Atomic pid_t proc_cached_pid;       /* 0 until asked, and again in a forked child */
static inline pid_t proc_self_pid(void)
{
    pid_t p = atomic_load_explicit(&proc_cached_pid, memory_order_relaxed);
    return __builtin_expect(p != 0, 1) ? p : proc_self_pid_slow();
}
/* This process's incarnation, computed once per process (and again after fork). */
uint64_t proc_self_incarnation(void);

#endif
