/*
 * testdir.h — a fresh temporary directory for a test (never part of the library).  Include
 * after <cmocka.h>.  testdir_make() makes $TMPDIR/PREFIX.XXXXXX (/tmp without TMPDIR);
 * testdir_remove() removes it with every file in it (dumps leave temporary names there too),
 * so a test leaves no file behind.
 */
#ifndef SHMETS_TESTDIR_H
#define SHMETS_TESTDIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void testdir_make(char *dir, size_t cap, const char *prefix)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, cap, "%s/%s.XXXXXX", t && *t ? t : "/tmp", prefix);
    assert_non_null(mkdtemp(dir));
}

static void testdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[4200];
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(dir);
}

#endif
