/*
 * proc.c — process incarnations: (pid, incarnation) names one process for the life of a boot.
 *
 * A pid alone is not a name: after a process dies its pid is given to another.  DESIGN.md §4
 * and §7 record every reader and owner as (pid, incarnation), as ETS checks a heir's
 * started_interval.  The incarnation is the inode of the process's pidfd when the kernel has a
 * pidfs (Linux 6.9+: one inode per process, never reused while the system runs), with the top
 * bit clear; otherwise the process's start time in clock ticks after boot (field 22 of
 * /proc/PID/stat), with the top bit set so the two kinds never compare equal.  Two processes
 * can share a start time only if a pid is reused within one clock tick, which needs the whole
 * pid space to wrap in 10 ms.
 */
#include "base/proc.h"

#include <pthread.h>
#include <stdatomic.h>
#include "shmets.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#define PIDFS_MAGIC_NUMBER 0x50494446
#define INC_STARTTIME (1ull << 63)

static int starttime(pid_t pid, uint64_t *ticks)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -SHMETS_ENOENT : err_set(SHMETS_ESYS, "%s: %s", path, strerror(errno));
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -SHMETS_ENOENT;      /* the process went away while we read */
    buf[n] = '\0';
    char *p = strrchr(buf, ')');    /* the command name may hold spaces and parentheses */
    if (!p)
        return err_set(SHMETS_ESYS, "%s: unexpected format", path);
    /* After ") " come fields 3.. ; starttime is field 22. */
    for (int field = 2; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    if (!p)
        return err_set(SHMETS_ESYS, "%s: unexpected format", path);
    *ticks = strtoull(p + 1, NULL, 10);
    return 0;
}

static int pidfs_inode(pid_t pid, uint64_t *ino)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return errno == ESRCH ? -SHMETS_ENOENT : -SHMETS_ESYS;
    struct statfs sf;
    struct stat st;
    int rc = -SHMETS_ESYS;
    if (fstatfs(fd, &sf) == 0 && sf.f_type == PIDFS_MAGIC_NUMBER && fstat(fd, &st) == 0) {
        *ino = (uint64_t)st.st_ino & ~INC_STARTTIME;
        rc = 0;
    }
    close(fd);
    return rc;
}

int proc_incarnation(pid_t pid, uint64_t *inc)
{
    if (pid <= 0)
        return err_set(SHMETS_EINVAL, "pid %d", (int)pid);
    uint64_t v;
    int rc = pidfs_inode(pid, &v);
    if (rc == 0) {
        *inc = v;
        return 0;
    }
    if (rc == -SHMETS_ENOENT)
        return rc;
    if ((rc = starttime(pid, &v)))
        return rc;
    *inc = v | INC_STARTTIME;
    return 0;
}

int proc_alive(pid_t pid, uint64_t inc)
{
    uint64_t now;
    if (pid <= 0)
        return 0;
    if (inc & INC_STARTTIME) {
        if (starttime(pid, &now) != 0)
            return 0;
        return (now | INC_STARTTIME) == inc;
    }
    int rc = pidfs_inode(pid, &now);
    if (rc == -SHMETS_ENOENT)
        return 0;
    if (rc != 0)
        return 1;       /* cannot tell: never declare a live process dead */
    return now == inc;
}

/* This process's incarnation, computed once per pid (a forked child computes its own).  Any
 * thread may compute it: self_inc is stored before self_pid is published (release), and read
 * after self_pid is seen (acquire), so no thread returns the incarnation of another pid. */
static _Atomic pid_t self_pid;
static _Atomic uint64_t self_inc;

_Atomic pid_t proc_cached_pid;
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void pid_forget(void)
{
    atomic_store_explicit(&proc_cached_pid, 0, memory_order_relaxed);
}

static void pid_init(void)
{
    pthread_atfork(NULL, NULL, pid_forget);
}

pid_t proc_self_pid_slow(void)
{
    pthread_once(&pid_once, pid_init);
    pid_t p = getpid();
    atomic_store_explicit(&proc_cached_pid, p, memory_order_relaxed);
    return p;
}

uint64_t proc_self_incarnation(void)
{
    pid_t p = getpid();
    if (atomic_load_explicit(&self_pid, memory_order_acquire) != p) {
        uint64_t v = 0;
        if (proc_incarnation(p, &v) != 0)
            die(__FILE__, __LINE__, "cannot read this process's own incarnation");
        atomic_store_explicit(&self_inc, v, memory_order_relaxed);
        atomic_store_explicit(&self_pid, p, memory_order_release);
        return v;
    }
    return atomic_load_explicit(&self_inc, memory_order_relaxed);
}
