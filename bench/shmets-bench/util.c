/*
 * util.c — the small services of build/shmets-bench: clocks, process memory, files, and the
 * registry through which the guardian (main.c) ends every process and removes every segment
 * the run made, however it ends.
 *
 * THE REGISTRY lives in a shared anonymous mapping made before the worker is forked, so the
 * worker (and a `threads` peer's host process) record into it and the guardian reads it after
 * they are gone.  Only pids, instance names and paths are kept: nothing process-local.
 */
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "registry.h"

struct registry *registry;

double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec t = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

void reg_pid(pid_t pid)
{
    if (!registry)
        return;
    for (int i = 0; i < REG_PIDS; i++) {
        pid_t z = 0;
        if (atomic_compare_exchange_strong(&registry->pids[i], &z, pid))
            return;
    }
    fprintf(stderr, "shmets-bench: registry full: pid %d will not be ended by the guardian\n", (int)pid);
}

void unreg_pid(pid_t pid)
{
    if (!registry)
        return;
    for (int i = 0; i < REG_PIDS; i++) {
        pid_t p = pid;
        if (atomic_compare_exchange_strong(&registry->pids[i], &p, 0))
            return;
    }
}

static void reg_name(char (*names)[REG_NAME], _Atomic int *n, const char *s)
{
    for (int i = 0; i < atomic_load(n); i++)
        if (!strcmp(names[i], s))
            return;
    int i = atomic_load(n);
    if (i >= REG_NAMES) {
        fprintf(stderr, "shmets-bench: registry full: %s will not be removed by the guardian\n", s);
        return;
    }
    snprintf(names[i], REG_NAME, "%s", s);
    atomic_store(n, i + 1);
}

void reg_inst(const char *inst)
{
    if (registry)
        reg_name(registry->insts, &registry->ninsts, inst);
}

void reg_path(const char *path)
{
    if (registry)
        reg_name(registry->paths, &registry->npaths, path);
}

pid_t bench_fork(void)
{
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);                   /* the parent is gone already */
    } else if (pid > 0) {
        reg_pid(pid);
    }
    return pid;
}

int bench_reap(pid_t pid, double timeout)
{
    int st = -1;
    double until = now_s() + timeout;
    for (;;) {
        pid_t r = waitpid(pid, &st, timeout > 0 ? WNOHANG : 0);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            st = -1;
            break;
        }
        if (r == 0 && now_s() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            break;
        }
        if (r == 0)
            sleep_s(0.002);
    }
    unreg_pid(pid);
    return st;
}

uint64_t rss_bytes(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    uint64_t kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %lu kB", &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}

uint64_t file_bytes(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return (uint64_t)st.st_blocks * 512;
    uint64_t sum = 0;
    DIR *d = opendir(path);
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
            sum += (uint64_t)st.st_blocks * 512;
    }
    closedir(d);
    return sum;
}

void remove_path(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    DIR *d = opendir(path);
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            remove_path(p);
        }
        closedir(d);
    }
    rmdir(path);
}

void machine_info(FILE *f)
{
    char model[256] = "?", line[512];
    FILE *c = fopen("/proc/cpuinfo", "r");
    while (c && fgets(line, sizeof line, c))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
            model[strcspn(model, "\n")] = 0;
            break;
        }
    if (c)
        fclose(c);
    struct utsname u;
    uname(&u);
    time_t t = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&t));
    fprintf(f, "# cores %ld\n# cpu %s\n# kernel %s %s\n# date %s\n", sysconf(_SC_NPROCESSORS_ONLN), model, u.sysname,
            u.release, date);
}
