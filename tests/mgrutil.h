/*
 * mgrutil.h — helpers of the etsmgr tests and bench (never part of the library): a private
 * runtime directory and instance per program, the daemon of this build started and killed by
 * pid, child processes that report through a pipe.  Include after <cmocka.h> (tests) or with
 * MGRUTIL_NO_CMOCKA (bench).
 */
#ifndef SHMETS_MGRUTIL_H
#define SHMETS_MGRUTIL_H

#include "shmets.h"
#include "etsmgr.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char mu_dir[PATH_MAX];          /* private runtime directory */
static char mu_inst[64];
static char mu_sock[PATH_MAX];
static pid_t mu_daemon;
/* Children not waited for yet: killed by mu_fini, so that a failed test leaves none. */
static pid_t mu_children[64];

static inline void mu_track(pid_t p)
{
    for (size_t i = 0; i < sizeof mu_children / sizeof mu_children[0]; i++)
        if (!mu_children[i]) {
            mu_children[i] = p;
            return;
        }
}

static inline void mu_untrack(pid_t p)
{
    for (size_t i = 0; i < sizeof mu_children / sizeof mu_children[0]; i++)
        if (mu_children[i] == p)
            mu_children[i] = 0;
}

static inline void mu_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) && errno == EINTR)
        ;
}

/* The etsmgr binary of this build: next to the test's directory (build/tests/.. ). */
static inline void mu_exe(char *out, size_t n)
{
    char self[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    self[k > 0 ? k : 0] = 0;
    char *s = strrchr(self, '/');
    if (s)
        *s = 0;
    s = strrchr(self, '/');
    if (s)
        *s = 0;
    if (snprintf(out, n, "%s/etsmgr", self) >= (int)n)
        abort();
}

/* Run the program exe with args (NULL-terminated, at most 14), its standard output — and its
 * standard error too when `with_stderr`, else /dev/null — into out (at most n - 1 bytes, then a
 * NUL).  Returns its exit status, or -1 (it did not exit normally, or could not be run). */
static inline int mu_capture(const char *exe, const char *const *args, int with_stderr, char *out, size_t n)
{
    int p[2];
    if (pipe(p))
        return -1;
    pid_t c = fork();
    if (c < 0)
        return -1;
    if (c == 0) {
        dup2(p[1], 1);
        int err = with_stderr ? p[1] : open("/dev/null", O_WRONLY);
        dup2(err, 2);
        close(p[0]);
        char *argv[16] = { (char *)exe };
        for (int i = 0; args[i] && i < 14; i++)
            argv[i + 1] = (char *)args[i];
        execv(exe, argv);
        _exit(127);
    }
    close(p[1]);
    size_t got = 0;
    ssize_t k;
    while (got + 1 < n && (k = read(p[0], out + got, n - 1 - got)) > 0)
        got += (size_t)k;
    out[got] = 0;
    close(p[0]);
    int st;
    if (waitpid(c, &st, 0) != c)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Start the daemon (its log goes to <dir>/log) and wait until it answers. */
static inline pid_t mu_start(void)
{
    char exe[PATH_MAX], log[PATH_MAX + 8];
    mu_exe(exe, sizeof exe);
    if (snprintf(log, sizeof log, "%s/log", mu_dir) >= (int)sizeof log)
        abort();
    pid_t p = fork();
    if (p == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {                  /* never the test's stdout: a pipe would stay open */
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(exe, exe, "--instance", mu_inst, "--runtime-dir", mu_dir, (char *)NULL);
        _exit(127);
    }
    /* Ready once its pid file names it (written after it listens).  Not by connecting: the
     * daemon would take a probe for this process's connection and could deliver a message
     * for it there, lost when the probe closes. */
    char pidf[PATH_MAX + 112];
    if (snprintf(pidf, sizeof pidf, "%s/%s.pid", mu_dir, mu_inst) >= (int)sizeof pidf)
        abort();
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(pidf, "r");
        int got = 0;
        if (f && fscanf(f, "%d", &got) != 1)
            got = 0;
        if (f)
            fclose(f);
        if (got == (int)p)
            break;
        mu_sleep_ms(10);
    }
    mu_daemon = p;
    mu_track(p);
    return p;
}

static inline void mu_kill(pid_t p, int sig)
{
    if (p > 0) {
        kill(p, sig);
        waitpid(p, NULL, 0);
        mu_untrack(p);
    }
}

/* Set up the program's runtime dir and instance (call once, first). */
static inline void mu_init(const char *prog)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(mu_dir, sizeof mu_dir, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", prog);
    if (!mkdtemp(mu_dir))
        abort();
    setenv("SHMETS_RUNTIME_DIR", mu_dir, 1);
    setenv("SHMETS_NO_AUTOSTART", "1", 1);
    snprintf(mu_inst, sizeof mu_inst, "%s.%d", prog, (int)getpid());
    if (snprintf(mu_sock, sizeof mu_sock, "%s/%s.sock", mu_dir, mu_inst) >= (int)sizeof mu_sock)
        abort();
}

/* Remove the runtime dir and the instance.  Returns 1 if a daemon's log holds a sanitizer
 * report (the log is printed then), else 0: the daemons of a SANITIZE build are checked too. */
static inline int mu_fini(void)
{
    char cmd[PATH_MAX + 32], log[PATH_MAX + 8], line[512];
    int bad = 0;
    for (size_t i = 0; i < sizeof mu_children / sizeof mu_children[0]; i++)
        if (mu_children[i] > 0) {
            kill(mu_children[i], SIGKILL);
            waitpid(mu_children[i], NULL, 0);
            mu_children[i] = 0;
        }
    if (snprintf(log, sizeof log, "%s/log", mu_dir) < (int)sizeof log) {
        FILE *f = fopen(log, "r");
        while (f && fgets(line, sizeof line, f))
            if (strstr(line, "Sanitizer") || strstr(line, "runtime error"))
                bad = 1;
        if (f && bad) {
            rewind(f);
            while (fgets(line, sizeof line, f))
                fputs(line, stderr);
        }
        if (f)
            fclose(f);
    }
    if (snprintf(cmd, sizeof cmd, "rm -rf '%s'", mu_dir) >= (int)sizeof cmd)
        return 1;
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", mu_dir);
    shmets_destroy_instance(mu_inst);
    return bad;
}

/* A child process running fn(arg, wfd); the parent reads what it writes to wfd. */
struct mu_child {
    pid_t pid;
    int rfd;
};

static inline struct mu_child mu_spawn(int (*fn)(void *arg, int wfd), void *arg)
{
    int p[2];
    if (pipe(p))
        abort();
    struct mu_child c = { fork(), p[0] };
    if (c.pid == 0) {
        close(p[0]);
        _exit(fn(arg, p[1]));
    }
    close(p[1]);
    mu_track(c.pid);
    return c;
}

/* Read one uint64_t the child sends (0 on EOF). */
static inline uint64_t mu_read_u64(struct mu_child *c)
{
    uint64_t v = 0;
    size_t got = 0;
    while (got < sizeof v) {
        ssize_t n = read(c->rfd, (char *)&v + got, sizeof v - got);
        if (n <= 0)
            return 0;
        got += (size_t)n;
    }
    return v;
}

static inline void mu_write_u64(int fd, uint64_t v)
{
    if (write(fd, &v, sizeof v) != sizeof v)
        _exit(99);
}

/* Wait for a child and return its exit status (-1: killed). */
static inline int mu_wait(struct mu_child *c)
{
    int st;
    close(c->rfd);
    mu_untrack(c->pid);
    if (waitpid(c->pid, &st, 0) != c->pid)
        return -2;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline shmets_term mu_parse(const char *txt)
{
    shmets_term t;
    if (shmets_term_parse(txt, strlen(txt), &t))
        abort();
    return t;
}

/* The text of a term (malloc'd). */
static inline char *mu_fmt(shmets_term t)
{
    char *s = NULL;
    shmets_term_format(t, &s, NULL);
    return s;
}

#ifdef cmocka_unit_test
/* The group fixture of the tests that talk to one daemon (test_mgr.c, test_mgr_bad.c): start
 * it, open its instance and connect; at the end disconnect, close, stop it, and check its log
 * (no sanitizer report). */
static inline int mu_group_setup(const char *prog, shmets **db, etsmgr **m)
{
    mu_init(prog);
    assert_true(mu_start() > 0);
    assert_int_equal(shmets_open(mu_inst, db), 0);
    assert_int_equal(etsmgr_connect(*db, NULL, m), 0);
    return 0;
}

static inline int mu_group_teardown(shmets *db, etsmgr *m)
{
    etsmgr_disconnect(m);
    shmets_close(db);
    mu_kill(mu_daemon, SIGTERM);
    assert_int_equal(mu_fini(), 0);
    return 0;
}
#endif

#endif
