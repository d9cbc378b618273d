/*
 * test_wlock.c — the robust writer lock (shm/mem/wlock.c) and crash points.
 *
 * The protected state is two counters a and b that a writer keeps equal (a++, then b++);
 * recovery after a dead writer sets b = a.  A holder killed with SIGKILL, and a writer made to
 * _exit at the crash point between its two stores, must both leave a lock whose next holder
 * runs recovery first and then finds the state whole; a recovery that fails must make every
 * later acquire refuse with -SHMETS_EBADSEG (W.1).  The lock lives in an anonymous shared
 * mapping; every child is reaped by pid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shmets.h"
#include "testutil.h"
#include "mem/wlock.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

struct state {
    struct wlock w;
    uint64_t a, b;
    int recover_calls;
    int recover_result;
};

static struct state *st;

static int setup(void **s)
{
    (void)s;
    st = mmap(NULL, sizeof *st, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(st != MAP_FAILED);
    assert_int_equal(wlock_init(&st->w), 0);
    return 0;
}

static int teardown(void **s)
{
    (void)s;
    munmap(st, sizeof *st);
    return 0;
}

static int recover(void *arg)
{
    struct state *x = arg;
    x->recover_calls++;
    if (x->recover_result == 0)
        x->b = x->a;
    return x->recover_result;
}

static void write_once(void)
{
    st->a++;
    CRASH_POINT("test_between_stores");
    st->b++;
}

static void test_plain(void **s)
{
    (void)s;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(wlock_acquire(&st->w, recover, st), 0);
        write_once();
        wlock_release(&st->w);
    }
    assert_int_equal(st->a, 3);
    assert_int_equal(st->b, 3);
    assert_int_equal(st->recover_calls, 0);
}

static void test_holder_killed(void **s)
{
    (void)s;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t c = fork();
    assert_true(c >= 0);
    if (c == 0) {
        child_init();
        if (wlock_acquire(&st->w, recover, st))
            _exit(1);
        st->a++;                    /* half a write */
        if (write(p[1], "x", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char ch;
    assert_int_equal(read(p[0], &ch, 1), 1);
    kill(c, SIGKILL);
    assert_int_equal(waitpid(c, NULL, 0), c);
    assert_int_equal(wlock_acquire(&st->w, recover, st), 0);
    assert_int_equal(st->recover_calls, 1);
    assert_int_equal(st->a, st->b);
    assert_int_equal(atomic_load(&st->w.recoveries), 1);
    wlock_release(&st->w);
    assert_int_equal(wlock_acquire(&st->w, recover, st), 0);   /* consistent again */
    assert_int_equal(st->recover_calls, 1);
    wlock_release(&st->w);
    close(p[0]);
    close(p[1]);
}

static void test_crash_point(void **s)
{
    (void)s;
    pid_t c = fork();
    assert_true(c >= 0);
    if (c == 0) {
        child_init();
        setenv("SHMETS_CRASH_AT", "test_between_stores", 1);
        if (wlock_acquire(&st->w, recover, st))
            _exit(1);
        write_once();
        _exit(0);                   /* not reached in a test build */
    }
    int status;
    assert_int_equal(waitpid(c, &status, 0), c);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), CRASH_EXIT);
    assert_int_equal(st->a, st->b + 1);
    assert_int_equal(wlock_acquire(&st->w, recover, st), 0);
    assert_int_equal(st->recover_calls, 1);
    assert_int_equal(st->a, st->b);
    wlock_release(&st->w);
}

static void test_failed_recovery_refuses_writers(void **s)
{
    (void)s;
    pid_t c = fork();
    if (c == 0) {
        child_init();
        if (wlock_acquire(&st->w, recover, st))
            _exit(1);
        _exit(0);                   /* dies holding the lock */
    }
    assert_int_equal(waitpid(c, NULL, 0), c);
    st->recover_result = -SHMETS_EBADSEG;
    assert_int_equal(wlock_acquire(&st->w, recover, st), -SHMETS_EBADSEG);
    assert_true(strlen(shmets_errdetail()) > 0);
    st->recover_result = 0;
    assert_int_equal(wlock_acquire(&st->w, recover, st), -SHMETS_EBADSEG);
    assert_int_equal(st->recover_calls, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_holder_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_point, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_recovery_refuses_writers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
