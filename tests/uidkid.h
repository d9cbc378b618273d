/*
 * uidkid.h — children that drop to another uid, for the tests of the uid boundary
 * (test_security.c, test_group.c; never part of the library).  Include after <cmocka.h>.
 *   spawn_as(uid, gid, fn, arg, who)   fn(arg) in a forked child of that uid (and gid as its
 *                  only supplementary group, or none for -1); returns at once
 *   kid_wait(&k)   waits; fails the test with the child's words if it failed
 *   run_as(...)    both
 *   CHILD_CHECK(cond, fmt, ...)   in a child: fail with those words (exit 1)
 * A file that tracks its children for clean-up defines UIDKID_TRACK(pid) and
 * UIDKID_UNTRACK(pid) before including this.
 */
#ifndef SHMETS_UIDKID_H
#define SHMETS_UIDKID_H

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef UIDKID_TRACK
#define UIDKID_TRACK(pid) ((void)(pid))
#define UIDKID_UNTRACK(pid) ((void)(pid))
#endif

static int report_fd = -1;

static void child_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn, unused));

static void child_fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n > 0 && write(report_fd, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1) < 0)
        _exit(3);
    _exit(1);
}

#define CHILD_CHECK(cond, ...)                                                              \
    do {                                                                                    \
        if (!(cond))                                                                        \
            child_fail(__VA_ARGS__);                                                        \
    } while (0)

struct kid {
    pid_t pid;
    int rfd;
    const char *who;
};

static __attribute__((unused)) struct kid spawn_as(uid_t uid, long gid, void (*fn)(void *), void *arg,
                                                   const char *who)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        report_fd = p[1];
        gid_t g = (gid_t)gid;
        if (setgroups(gid >= 0 ? 1 : 0, &g) != 0 || setresgid(uid, uid, uid) != 0 ||
            setresuid(uid, uid, uid) != 0)
            child_fail("dropping to uid %d: %s", (int)uid, strerror(errno));
        CHILD_CHECK(geteuid() == uid && setuid(0) != 0, "still able to become root");
        fn(arg);
        _exit(0);
    }
    close(p[1]);
    UIDKID_TRACK(pid);
    return (struct kid){ pid, p[0], who };
}

static __attribute__((unused)) void kid_wait(struct kid *k)
{
    char msg[512] = "";
    ssize_t n = read(k->rfd, msg, sizeof msg - 1);
    msg[n > 0 ? n : 0] = 0;
    close(k->rfd);
    int status;
    assert_int_equal(waitpid(k->pid, &status, 0), k->pid);
    UIDKID_UNTRACK(k->pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("%s: %s (status 0x%x)", k->who, msg[0] ? msg : "died", status);
}

static __attribute__((unused)) void run_as(uid_t uid, long gid, void (*fn)(void *), void *arg, const char *who)
{
    struct kid k = spawn_as(uid, gid, fn, arg, who);
    kid_wait(&k);
}

#endif
