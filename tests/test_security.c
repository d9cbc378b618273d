/*
 * test_security.c — the boundary between uids, as the PROTECTION paragraph of shmets.h draws
 * it: between uids the kernel's file modes on the segments decide (public and protected
 * tables 0644, private 0600, the control segment 0644), and a process that may not write a
 * segment cannot make itself a writable mapping of it.
 *
 * THE SECOND UID.  The test runs as root (CI does), sets up tables, and forks children that
 * drop to uid and gid OTHER_UID (64999, one that no account uses here: setresgid, setgroups
 * and setresuid in the child only; nothing is added to the system, so the test is idempotent
 * and leaves nothing behind).  A child reports a broken expectation through a pipe and exits
 * 1; it never calls cmocka (whose longjmp would go on running tests in the child).  The
 * child's inherited mappings of the parent's segments are not used: everything it tries, it
 * opens itself after dropping privileges.  Not root: every test is skipped, saying why.
 *
 * What another uid cannot do, and the test checks:
 *   - open the instance through the library (its reader registry is in the control segment,
 *     which only the owner's uid may write): -SHMETS_EACCES;
 *   - open any table segment, or the control segment, for writing (public, protected);
 *   - map a segment it opened read-only for writing, or mprotect such a mapping writable;
 *   - store through a read-only mapping: the store faults (SIGSEGV) in that process alone,
 *     and the table is intact and passes shmets_check() for its owner;
 *   - open a private table's segment at all;
 *   - remove, rename or chmod the segments (/dev/shm is sticky: only owners unlink), or
 *     destroy the instance through the library;
 *   - squat an instance's name: a control segment another user made (even mode 0666) is not
 *     attached read-write by root or anyone but its owner (seg.h, S.3).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "shmets.h"

#define TESTINST_PREFIX "tsec"
#include "testinst.h"
#include "tabutil.h"
#include "uidkid.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define OTHER_UID 64999
#define OTHER_UID_TEXT "64999"

static shmets_tab *pub, *prot, *priv;

/* ---- children of another uid ------------------------------------------------------- */

/* Run fn(arg) in a child as OTHER_UID; fail the test with the child's words if it fails. */
static void as_other(void (*fn)(void *), void *arg)
{
    run_as(OTHER_UID, -1, fn, arg, "child as uid " OTHER_UID_TEXT);
}

static void seg_of(shmets_tab *t, char *out, size_t n)
{
    snprintf(out, n, "/shmets.%s.%llu", inst, (unsigned long long)shmets_id(t));
}

static void ctl_of(char *out, size_t n)
{
    snprintf(out, n, "/shmets.%s", inst);
}

/* ---- fixtures ---------------------------------------------------------------------- */

static int sec_setup(void **state)
{
    if (geteuid() != 0)
        return 0;               /* each test skips */
    setup(state);
    pub = mk("pub", SHMETS_SET, SHMETS_PUBLIC, 1);
    prot = mk("prot", SHMETS_ORDERED_SET, SHMETS_PROTECTED, 1);
    priv = mk("priv", SHMETS_BAG, SHMETS_PRIVATE, 1);
    ins(pub, "{k, public}");
    ins(prot, "{k, protected}");
    ins(priv, "{k, private}");
    return 0;
}

static int sec_teardown(void **state)
{
    if (geteuid() != 0)
        return 0;
    return teardown(state);
}

#define NEED_ROOT()                                                                         \
    do {                                                                                    \
        if (geteuid() != 0) {                                                               \
            print_message("test_security: not root, so no second uid can be made: "        \
                          "skipped (CI runs as root)\n");                                   \
            skip();                                                                         \
        }                                                                                   \
    } while (0)

/* The tables are as they were: each checks, and holds its one object. */
static void tables_intact(void)
{
    check(pub);
    check(prot);
    check(priv);
    assert_string_equal(look(pub, "k"), "[{k,public}]");
    assert_string_equal(look(prot, "k"), "[{k,protected}]");
    assert_string_equal(look(priv, "k"), "[{k,private}]");
}

/* ---- the library refuses another uid ----------------------------------------------- */

static void open_instance(void *arg)
{
    (void)arg;
    shmets *d = NULL;
    int rc = shmets_open(inst, &d);
    CHILD_CHECK(rc == -SHMETS_EACCES, "shmets_open of another uid's instance: %d (%s), not EACCES",
                rc, shmets_errdetail());
    rc = shmets_destroy_instance(inst);
    CHILD_CHECK(rc == -SHMETS_EACCES, "shmets_destroy_instance of another uid's instance: %d (%s)",
                rc, shmets_errdetail());
}

static void test_library_refuses_other_uid(void **state)
{
    (void)state;
    NEED_ROOT();
    as_other(open_instance, NULL);
    tables_intact();
}

/* ---- no write access to any segment ------------------------------------------------ */

static void no_write_open(void *arg)
{
    const char *const *names = arg;
    for (size_t i = 0; names[i]; i++) {
        int fd = shm_open(names[i], O_RDWR, 0);
        CHILD_CHECK(fd < 0 && errno == EACCES, "%s opened for writing (%s)", names[i],
                    fd < 0 ? strerror(errno) : "it worked");
        fd = shm_open(names[i], O_WRONLY | O_TRUNC, 0);
        CHILD_CHECK(fd < 0 && errno == EACCES, "%s opened for truncation", names[i]);
    }
}

static void test_no_segment_opens_for_writing(void **state)
{
    (void)state;
    NEED_ROOT();
    char c[128], p[128], r[128], v[128];
    ctl_of(c, sizeof c);
    seg_of(pub, p, sizeof p);
    seg_of(prot, r, sizeof r);
    seg_of(priv, v, sizeof v);
    const char *names[] = { c, p, r, v, NULL };
    as_other(no_write_open, names);
    tables_intact();
}

/* ---- a read-only mapping stays read-only, and a store through it faults ------------- */

static void read_only_mapping(void *arg)
{
    const char *name = arg;
    int fd = shm_open(name, O_RDONLY, 0);
    CHILD_CHECK(fd >= 0, "%s cannot be opened for reading: %s", name, strerror(errno));
    struct stat st;
    CHILD_CHECK(fstat(fd, &st) == 0 && st.st_size > 0, "fstat %s", name);
    size_t len = 65536;
    void *w = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHILD_CHECK(w == MAP_FAILED && errno == EACCES, "%s mapped writable from a read-only open", name);
    CHILD_CHECK(ftruncate(fd, 0) != 0, "%s truncated through a read-only open", name);
    volatile unsigned char *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    CHILD_CHECK(m != MAP_FAILED, "%s cannot be mapped for reading: %s", name, strerror(errno));
    CHILD_CHECK(mprotect((void *)m, len, PROT_READ | PROT_WRITE) != 0 && errno == EACCES,
                "%s: a read-only mapping was made writable by mprotect", name);
    unsigned char first = m[0];
    /* A store through the mapping, in a grandchild: it must die of SIGSEGV, alone. */
    fflush(NULL);
    pid_t g = fork();
    CHILD_CHECK(g >= 0, "fork");
    if (g == 0) {
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        sigaction(SIGSEGV, &dfl, NULL);
        sigaction(SIGBUS, &dfl, NULL);
        m[0] = (unsigned char)~first;           /* the segment's magic */
        m[4096] = 0xff;
        _exit(0);
    }
    int status;
    CHILD_CHECK(waitpid(g, &status, 0) == g, "waitpid");
    CHILD_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
                "a store through a read-only mapping of %s did not fault (status 0x%x)", name, status);
    CHILD_CHECK(m[0] == first, "%s changed under a read-only mapping", name);
    munmap((void *)m, len);
    close(fd);
}

static void test_store_through_read_only_mapping_faults(void **state)
{
    (void)state;
    NEED_ROOT();
    char p[128], r[128];
    seg_of(pub, p, sizeof p);
    seg_of(prot, r, sizeof r);
    as_other(read_only_mapping, p);
    as_other(read_only_mapping, r);
    tables_intact();
}

/* ---- a private table cannot be read ------------------------------------------------- */

static void no_read_open(void *arg)
{
    const char *name = arg;
    int fd = shm_open(name, O_RDONLY, 0);
    CHILD_CHECK(fd < 0 && errno == EACCES, "private table segment %s opened for reading (%s)", name,
                fd < 0 ? strerror(errno) : "it worked");
}

static void test_private_cannot_be_read(void **state)
{
    (void)state;
    NEED_ROOT();
    char v[128];
    seg_of(priv, v, sizeof v);
    struct stat st;
    assert_int_equal(stat("/dev/shm", &st), 0);
    char path[160];
    snprintf(path, sizeof path, "/dev/shm%s", v);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    as_other(no_read_open, v);
    tables_intact();
}

/* ---- nothing can be removed, renamed or chmod'ed ------------------------------------ */

static void no_removal(void *arg)
{
    const char *const *names = arg;
    for (size_t i = 0; names[i]; i++) {
        char path[160], to[180];
        snprintf(path, sizeof path, "/dev/shm%s", names[i]);
        snprintf(to, sizeof to, "/dev/shm%s.moved", names[i]);
        CHILD_CHECK(shm_unlink(names[i]) != 0 && (errno == EACCES || errno == EPERM),
                    "%s removed by another uid (%s)", names[i], strerror(errno));
        CHILD_CHECK(rename(path, to) != 0 && (errno == EACCES || errno == EPERM),
                    "%s renamed by another uid", names[i]);
        CHILD_CHECK(chmod(path, 0666) != 0 && errno == EPERM, "%s chmod'ed by another uid", names[i]);
        CHILD_CHECK(access(path, F_OK) == 0, "%s is gone", names[i]);
    }
}

static void test_segments_cannot_be_removed(void **state)
{
    (void)state;
    NEED_ROOT();
    struct stat st;
    assert_int_equal(stat("/dev/shm", &st), 0);
    if (!(st.st_mode & S_ISVTX))
        fail_msg("/dev/shm is not sticky (mode %o): any user may remove any segment", st.st_mode & 07777);
    char c[128], p[128], r[128], v[128];
    ctl_of(c, sizeof c);
    seg_of(pub, p, sizeof p);
    seg_of(prot, r, sizeof r);
    seg_of(priv, v, sizeof v);
    const char *names[] = { c, p, r, v, NULL };
    as_other(no_removal, names);
    tables_intact();
}

/* ---- a squatted instance name ------------------------------------------------------ */

struct squat {
    char name[80];              /* the instance */
};

/* The other uid makes the instance first (a valid control segment, its own) and opens it to
 * everyone. */
static void squat_instance(void *arg)
{
    struct squat *q = arg;
    shmets *d;
    int rc = shmets_open(q->name, &d);
    CHILD_CHECK(rc == 0, "the other uid cannot make instance %s: %s", q->name, shmets_errdetail());
    shmets_close(d);
    char seg[128];
    snprintf(seg, sizeof seg, "/shmets.%s", q->name);
    int fd = shm_open(seg, O_RDONLY, 0);
    CHILD_CHECK(fd >= 0 && fchmod(fd, 0666) == 0, "chmod of its own control segment: %s", strerror(errno));
    close(fd);
}

static void test_squatted_instance_is_refused(void **state)
{
    (void)state;
    NEED_ROOT();
    struct squat q;
    snprintf(q.name, sizeof q.name, "%s.squat", inst);
    as_other(squat_instance, &q);
    shmets *d = NULL;
    int rc = shmets_open(q.name, &d);
    char seg[128];
    snprintf(seg, sizeof seg, "/shmets.%s", q.name);
    shm_unlink(seg);
    if (rc == 0)
        shmets_close(d);
    assert_int_equal(rc, -SHMETS_EACCES);
    tables_intact();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_library_refuses_other_uid, sec_setup, sec_teardown),
        cmocka_unit_test_setup_teardown(test_no_segment_opens_for_writing, sec_setup, sec_teardown),
        cmocka_unit_test_setup_teardown(test_store_through_read_only_mapping_faults, sec_setup, sec_teardown),
        cmocka_unit_test_setup_teardown(test_private_cannot_be_read, sec_setup, sec_teardown),
        cmocka_unit_test_setup_teardown(test_segments_cannot_be_removed, sec_setup, sec_teardown),
        cmocka_unit_test_setup_teardown(test_squatted_instance_is_refused, sec_setup, sec_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
