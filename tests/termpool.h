/*
 * termpool.h — terms parsed for a test and freed after it (never part of the library).
 * Include after "testinst.h": P("{a, 1}") parses a term into the pool; `done` is a teardown
 * that frees the pool, then the test's instance.
 */
#ifndef SHMETS_TERMPOOL_H
#define SHMETS_TERMPOOL_H

#include <string.h>

static shmets_term pool[64];
static size_t npool;

static shmets_term P(const char *s)
{
    shmets_term t;
    assert_int_equal(shmets_term_parse(s, strlen(s), &t), 0);
    assert_true(npool < sizeof pool / sizeof pool[0]);
    return pool[npool++] = t;
}

static int done(void **s)
{
    while (npool)
        shmets_term_free(&pool[--npool]);
    return teardown(s);
}

#endif
