/*
 * testtool.h — where the shmets program under test is (never part of the library).  Include
 * after <cmocka.h>.  tool() is $SHMETS_BIN if set, else the shmets next to the test's build
 * directory (B/tests/test_x -> B/shmets), so a sanitizer build tests its own program.
 */
#ifndef SHMETS_TESTTOOL_H
#define SHMETS_TESTTOOL_H

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *tool(void)
{
    static char path[PATH_MAX];
    const char *env = getenv("SHMETS_BIN");
    if (env && *env)
        return env;
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 16);
    assert_true(n > 0);
    path[n] = 0;
    for (int up = 0; up < 2; up++) {        /* .../B/tests/test_x -> .../B */
        char *slash = strrchr(path, '/');
        assert_non_null(slash);
        *slash = 0;
    }
    strcat(path, "/shmets");
    return path;
}

#endif
