/*
 * testinst.h — one shmets instance per test (never part of the library).  Define
 * TESTINST_PREFIX (the program's name) and include after <cmocka.h> and "shmets.h"; use
 * setup/teardown with cmocka_unit_test_setup_teardown.  Each test gets an instance named
 * PREFIX.<pid>.<n>, opened into `db`, and destroyed afterwards with every table segment it
 * holds, so test programs run side by side and leave nothing in /dev/shm.
 */
#ifndef SHMETS_TESTINST_H
#define SHMETS_TESTINST_H

#include <stdio.h>
#include <unistd.h>

static char inst[64];
static shmets *db;

static int setup(void **s)
{
    (void)s;
    static int n;
    snprintf(inst, sizeof inst, TESTINST_PREFIX ".%d.%d", (int)getpid(), n++);
    assert_int_equal(shmets_open(inst, &db), 0);
    return 0;
}

static int teardown(void **s)
{
    (void)s;
    shmets_close(db);
    assert_int_equal(shmets_destroy_instance(inst), 0);
    return 0;
}

#endif
