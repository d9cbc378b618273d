/*
 * test_bench_smoke.c — a one-second smoke run of build/shmets-bench (the read benchmark of
 * issue 8): not its figures (a benchmark never fails on speed) but that it runs, prints one
 * well-formed TSV line per run, finds every value it looks up, shows a stopped writer blocking
 * the rwlock peer and not shmets, and leaves nothing behind — also when it is interrupted.
 *
 * The program is found next to this test's build directory (build/tests/.. or
 * build/san-*\/tests/..), as `make check` builds it first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static char bench[PATH_MAX];

static int setup(void **state)
{
    (void)state;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = 0;
    char *tests = dirname(self);                /* build/tests */
    snprintf(bench, sizeof bench, "%s/../shmets-bench", tests);
    if (access(bench, X_OK) != 0)
        fail_msg("%s is not built (make check builds it)", bench);
    return 0;
}

/* Does /dev/shm hold anything of the run whose guardian is `pid`? */
static int leftovers(pid_t pid)
{
    char tag[64];
    snprintf(tag, sizeof tag, "shmets-bench.%d", (int)pid);
    int n = 0;
    DIR *d = opendir("/dev/shm");
    for (struct dirent *e; d && (e = readdir(d));)
        if (strstr(e->d_name, tag)) {
            fprintf(stderr, "left behind: /dev/shm/%s\n", e->d_name);
            n++;
        }
    if (d)
        closedir(d);
    return n;
}

/* Start shmets-bench with args, stdout and stderr to files. */
static pid_t start(char *const *args, const char *out, const char *err)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_init();
        if (!freopen(out, "w", stdout) || !freopen(err, "w", stderr))
            _exit(126);
        execv(bench, args);
        _exit(127);
    }
    return pid;
}

struct line {
    char kase[8], peer[32];
    int procs;
    double lookups, writes;
    unsigned long long mem;
    double p50, p99;
};

static int read_lines(const char *path, struct line *l, int max)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[512];
    int n = 0;
    while (fgets(buf, sizeof buf, f)) {
        if (buf[0] == '#')
            continue;
        assert_true(n < max);
        assert_int_equal(sscanf(buf, "%7s %31s %d %lf %lf %llu %lf %lf", l[n].kase, l[n].peer, &l[n].procs,
                                &l[n].lookups, &l[n].writes, &l[n].mem, &l[n].p50, &l[n].p99), 8);
        n++;
    }
    fclose(f);
    return n;
}

static const struct line *find(const struct line *l, int n, const char *kase, const char *peer)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(l[i].kase, kase) && !strcmp(l[i].peer, peer))
            return &l[i];
    fail_msg("no %s line for %s", kase, peer);
    return NULL;
}

static void test_smoke_run(void **state)
{
    (void)state;
    char out[] = "/tmp/bench-smoke-out.XXXXXX", err[] = "/tmp/bench-smoke-err.XXXXXX";
    close(mkstemp(out));
    close(mkstemp(err));
    char *args[] = { bench, "--objects", "10000", "--seconds", "0.08", "--warmup", "0.02", "--procs", "2",
                     "--case", "R1,R3,M", "--peer", "shmets,shmets-batch,shmets-kv,rwlock", NULL };
    pid_t pid = start(args, out, err);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "cat %s >&2", err);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        (void)!system(cmd);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);

    struct line l[64];
    int n = read_lines(out, l, 64);
    assert_int_equal(n, 3 + 4 + 4);                 /* M of 3 stores; R1 and R3 of 4 peers */
    const char *r1[] = { "shmets", "shmets-batch", "shmets-kv", "rwlock" };
    for (int i = 0; i < 4; i++) {
        const struct line *x = find(l, n, "R1", r1[i]);
        assert_int_equal(x->procs, 2);
        assert_true(x->lookups > 0);
        assert_true(x->p50 > 0 && x->p99 >= x->p50);
    }
    /* A writer stopped holding the lock stops rwlock's readers and none of shmets's. */
    assert_true(find(l, n, "R3", "rwlock")->lookups == 0);
    assert_true(find(l, n, "R3", "shmets")->lookups > 0);
    assert_true(find(l, n, "R3", "shmets-kv")->lookups > 0);
    assert_true(find(l, n, "M", "shmets")->mem > 20000 * 40);
    assert_true(find(l, n, "M", "rwlock")->mem > 20000 * 40);

    /* No lookup found a wrong value, and nothing failed. */
    FILE *f = fopen(err, "r");
    char buf[512];
    while (f && fgets(buf, sizeof buf, f)) {
        assert_null(strstr(buf, "WRONG VALUES"));
        assert_null(strstr(buf, "failed"));
    }
    if (f)
        fclose(f);
    assert_int_equal(leftovers(pid), 0);
    unlink(out);
    unlink(err);
}

static void test_interrupted(void **state)
{
    (void)state;
    char out[] = "/tmp/bench-smoke-out.XXXXXX", err[] = "/tmp/bench-smoke-err.XXXXXX";
    close(mkstemp(out));
    close(mkstemp(err));
    /* R3 of rwlock: its readers are blocked in the lock and the writer is stopped when the
     * signal comes, the hardest state to clean up. */
    char *args[] = { bench, "--objects", "20000", "--seconds", "30", "--warmup", "0.05", "--procs", "2",
                     "--case", "R3", "--peer", "rwlock", NULL };
    pid_t pid = start(args, out, err);
    struct timespec t = { 0, 400 * 1000 * 1000 };
    nanosleep(&t, NULL);
    assert_int_equal(kill(pid, SIGTERM), 0);
    int st = 0;
    for (int i = 0; i < 500 && waitpid(pid, &st, WNOHANG) == 0; i++) {
        struct timespec d = { 0, 10 * 1000 * 1000 };
        nanosleep(&d, NULL);
    }
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 128 + SIGTERM);
    assert_int_equal(leftovers(pid), 0);
    /* No process of the run is left: none has the guardian's pid as parent or is a reader of
     * it (the readers' command is shmets-bench, and their parent, the worker, is gone). */
    DIR *d = opendir("/proc");
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%.16s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = 0;
        int ppid = 0;
        char *rp = strrchr(buf, ')');
        if (rp && sscanf(rp + 2, "%*c %d", &ppid) == 1)
            assert_int_not_equal(ppid, pid);
    }
    if (d)
        closedir(d);
    unlink(out);
    unlink(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_smoke_run, setup),
        cmocka_unit_test_setup(test_interrupted, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
