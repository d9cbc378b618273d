/*
 * test_ycsb_smoke.c — a short smoke run of each YCSB workload of build/shmets-bench
 * (`--workload`, issue 19) over shmets, the locked hash and LMDB (when built in): not its
 * figures (a benchmark never fails on speed) but that each workload runs with every process
 * reading and writing, prints one well-formed TSV line per run, finds every value it reads,
 * passes the check after each shmets run (shmets_check and the object count), that a broken
 * count fails the program loudly, that --ops and --json do what they say, and that nothing is
 * left behind in /dev/shm.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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
    snprintf(bench, sizeof bench, "%s/../shmets-bench", dirname(self));
    if (access(bench, X_OK) != 0)
        fail_msg("%s is not built (make check builds it)", bench);
    return 0;
}

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

/* Run shmets-bench with args (NULL-terminated, after the program), stdout and stderr into
 * files; returns the exit status and the guardian's pid. */
static int run(char **args, char *out, char *err, pid_t *pidp, const char *env)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_init();
        if (!freopen(out, "w", stdout) || !freopen(err, "w", stderr))
            _exit(126);
        if (env)
            putenv((char *)env);
        char *argv[40] = { bench };
        for (int i = 0; args[i] && i < 38; i++)
            argv[i + 1] = args[i];
        execv(bench, argv);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    *pidp = pid;
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static bool lmdb_built(void)
{
    FILE *f = fopen("build/bench/features", "r");
    char buf[64] = "";
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = 0;
        fclose(f);
    }
    return strstr(buf, "lmdb") != NULL;
}

static void no_failure_in(const char *err)
{
    FILE *f = fopen(err, "r");
    char buf[1024];
    while (f && fgets(buf, sizeof buf, f)) {
        if (strstr(buf, "WRONG VALUES") || strstr(buf, "FAILED") || strstr(buf, "failed"))
            fail_msg("shmets-bench said: %s", buf);
    }
    if (f)
        fclose(f);
}

static void workload(char w)
{
    char out[] = "/tmp/ycsb-smoke-out.XXXXXX", err[] = "/tmp/ycsb-smoke-err.XXXXXX";
    close(mkstemp(out));
    close(mkstemp(err));
    char wl[2] = { w, 0 };
    char peers[64];
    snprintf(peers, sizeof peers, "shmets,rwlock%s", lmdb_built() ? ",lmdb" : "");
    char *args[] = { "--workload", wl, "--peer", peers, "--records", "5000", "--seconds", "0.1", "--warmup", "0.02",
                     "--procs", "2", "--insert-room", "400000", "--retries", "0", NULL };
    pid_t pid;
    int rc = run(args, out, err, &pid, NULL);
    if (rc != 0) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "cat %s >&2", err);
        (void)!system(cmd);
    }
    assert_int_equal(rc, 0);
    no_failure_in(err);

    FILE *f = fopen(out, "r");
    assert_non_null(f);
    char buf[512];
    int lines = 0, header = 0, shmets_seen = 0;
    while (fgets(buf, sizeof buf, f)) {
        if (!strncmp(buf, "# workload\t", 11)) {
            header++;
            continue;
        }
        if (buf[0] == '#')
            continue;
        char wk, peer[32];
        int procs;
        double ops, reads, writes, p50, p99, p999;
        assert_int_equal(sscanf(buf, " %c %31s %d %lf %lf %lf %lf %lf %lf", &wk, peer, &procs, &ops, &reads, &writes,
                                &p50, &p99, &p999), 9);
        assert_int_equal(wk, w);
        assert_int_equal(procs, 2);
        assert_true(ops > 0 && reads > 0);
        assert_true(ops >= reads + writes - 2 && ops <= reads + writes + 2);
        if (w == 'c')
            assert_true(writes == 0);
        else
            assert_true(writes > 0);
        assert_true(p50 > 0 && p99 >= p50 && p999 >= p99);
        shmets_seen += !strcmp(peer, "shmets");
        lines++;
    }
    fclose(f);
    assert_int_equal(header, 1);
    assert_int_equal(shmets_seen, 1);
    /* shmets and rwlock (no e: it keeps no order), lmdb when built in */
    assert_int_equal(lines, (w == 'e' ? 1 : 2) + lmdb_built());
    assert_int_equal(leftovers(pid), 0);
    unlink(out);
    unlink(err);
}

static void test_a(void **s) { (void)s; workload('a'); }
static void test_b(void **s) { (void)s; workload('b'); }
static void test_c(void **s) { (void)s; workload('c'); }
static void test_d(void **s) { (void)s; workload('d'); }
static void test_e(void **s) { (void)s; workload('e'); }
static void test_f(void **s) { (void)s; workload('f'); }

/* --ops N: exactly N operations; --json: one object a run with each kind's latency and each
 * client's reads and writes (every process does both). */
static void test_ops_json(void **state)
{
    (void)state;
    char out[] = "/tmp/ycsb-smoke-out.XXXXXX", err[] = "/tmp/ycsb-smoke-err.XXXXXX";
    close(mkstemp(out));
    close(mkstemp(err));
    char *args[] = { "--workload", "f", "--peer", "shmets", "--records", "3000", "--ops", "20000", "--procs", "2",
                     "--distribution", "uniform", "--value-bytes", "100", "--json", NULL };
    pid_t pid;
    assert_int_equal(run(args, out, err, &pid, NULL), 0);
    no_failure_in(err);
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    char buf[2048];
    int n = 0;
    while (fgets(buf, sizeof buf, f)) {
        assert_int_equal(buf[0], '{');
        assert_non_null(strstr(buf, "\"ops\":20000,"));
        assert_non_null(strstr(buf, "\"distribution\":\"uniform\""));
        assert_non_null(strstr(buf, "\"value_bytes\":100,"));
        assert_non_null(strstr(buf, "\"rmw\":{"));
        assert_non_null(strstr(buf, "\"read\":{"));
        assert_non_null(strstr(buf, "\"wrong_values\":0,"));
        /* every client process both read and wrote */
        const char *c = strstr(buf, "\"clients\":[");
        assert_non_null(c);
        int clients = 0;
        for (const char *q = c; (q = strstr(q, "{\"reads\":")); q++) {
            unsigned long long rd = 0, wr = 0;
            assert_int_equal(sscanf(q, "{\"reads\":%llu,\"writes\":%llu}", &rd, &wr), 2);
            assert_true(rd > 0 && wr > 0);
            clients++;
        }
        assert_int_equal(clients, 2);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 1);
    assert_int_equal(leftovers(pid), 0);
    unlink(out);
    unlink(err);
}

/* A table whose count disagrees with the inserts fails the run and the program loudly. */
static void test_check_catches(void **state)
{
    (void)state;
    char out[] = "/tmp/ycsb-smoke-out.XXXXXX", err[] = "/tmp/ycsb-smoke-err.XXXXXX";
    close(mkstemp(out));
    close(mkstemp(err));
    char *args[] = { "--workload", "d", "--peer", "shmets", "--records", "3000", "--ops", "5000", "--procs", "1", NULL };
    pid_t pid;
    assert_int_equal(run(args, out, err, &pid, "SHMETS_YCSB_SABOTAGE=1"), 1);
    FILE *f = fopen(err, "r");
    char buf[1024];
    int said = 0;
    while (f && fgets(buf, sizeof buf, f))
        said |= strstr(buf, "CHECK FAILED") != NULL;
    if (f)
        fclose(f);
    assert_true(said);
    assert_int_equal(leftovers(pid), 0);
    unlink(out);
    unlink(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_a, setup), cmocka_unit_test_setup(test_b, setup),
        cmocka_unit_test_setup(test_c, setup), cmocka_unit_test_setup(test_d, setup),
        cmocka_unit_test_setup(test_e, setup), cmocka_unit_test_setup(test_f, setup),
        cmocka_unit_test_setup(test_ops_json, setup), cmocka_unit_test_setup(test_check_catches, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
