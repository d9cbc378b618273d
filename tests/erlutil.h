/*
 * erlutil.h — running an Erlang oracle from a cmocka test (never part of the library): the
 * tests that compare shmets with OTP itself (test_term_erlang.c, test_ms_erl.c) start an
 * escript and wait for it, bounded.  Include after <cmocka.h>.  Erlang/OTP is a test
 * dependency: without escript on PATH the test fails, saying so.
 */
#ifndef SHMETS_ERLUTIL_H
#define SHMETS_ERLUTIL_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Run argv (argv[0] is "escript"; standard input /dev/null) and wait for it at most
 * timeout_s seconds; a test failure naming `what` unless it exits with status 0. */
static inline void erl_run(char *const argv[], int timeout_s, const char *what)
{
    posix_spawn_file_actions_t fa;
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    assert_int_equal(posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0), 0);
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err != 0)
        fail_msg("cannot run %s (%s): Erlang/OTP is a test dependency and its escript must be on "
                 "PATH", argv[0], strerror(err));
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            fail_msg("waitpid(%s): %s", argv[0], strerror(errno));
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > timeout_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("%s did not finish in %d s", what, timeout_s);
        }
        struct timespec nap = { 0, 5 * 1000 * 1000 };
        nanosleep(&nap, NULL);
    }
    if (WIFSIGNALED(status))
        fail_msg("%s killed by signal %d", what, WTERMSIG(status));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("%s exited with status %d (its message is above; 127: escript could not start "
                 "Erlang)", what, WEXITSTATUS(status));
}

#endif
