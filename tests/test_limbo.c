/*
 * test_limbo.c — the limbo list (shm/mem/limbo.c): retire with reserved room, reclaim oldest-first
 * below the safe epoch and at most `max` per call (L.5), chunks reused, the check's limbo bytes
 * equal to the heap walk's, and a mark-and-sweep rebuild (as after a writer's death) that keeps
 * every block limbo still reaches (L.6).  One segment per test, named after the pid, unlinked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shmets.h"
#include "mem/alloc.h"
#include "mem/limbo.h"
#include "mem/seg.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

struct t {
    struct seg s;
    struct alloc_heap *h;
    struct limbo *l;
};

static char name[64];

static int setup(void **state)
{
    static struct t t;
    snprintf(name, sizeof name, "/shmets-test-limbo.%d", (int)getpid());
    if (seg_create(name, SEG_TABLE, 4096, 64 << 20, 4096, 0600, NULL, NULL, &t.s))
        return -1;
    t.h = (struct alloc_heap *)(t.s.base + 512);
    t.l = (struct limbo *)(t.s.base + 2048);
    *t.l = (struct limbo){ 0 };
    alloc_init(t.h, &t.s, 4096, 0);
    *state = &t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;
    seg_detach(&t->s);
    shm_unlink(name);
    return 0;
}

static void checks(struct t *t)
{
    uint64_t used, limbo_walk, limbo_list;
    if (alloc_check(t->h, &t->s, &used, &limbo_walk))
        fail_msg("alloc_check: %s", shmets_errdetail());
    if (limbo_check(t->l, t->h, &t->s, &limbo_list))
        fail_msg("limbo_check: %s", shmets_errdetail());
    assert_int_equal(limbo_walk, limbo_list);
}

static uint64_t retire_n(struct t *t, int n, uint64_t first_stamp, uint64_t *offs)
{
    for (int i = 0; i < n; i++) {
        uint64_t off;
        assert_int_equal(alloc_alloc(t->h, &t->s, 40 + (uint64_t)(i % 7) * 100, &off), 0);
        assert_int_equal(limbo_reserve(t->l, t->h, &t->s, 1), 0);
        limbo_retire(t->l, t->h, &t->s, off, first_stamp + (uint64_t)i);
        if (offs)
            offs[i] = off;
    }
    return first_stamp + (uint64_t)n;
}

static void test_retire_and_reclaim(void **state)
{
    struct t *t = *state;
    retire_n(t, 1000, 10, NULL);
    assert_int_equal(t->l->entries, 1000);
    checks(t);
    assert_int_equal(limbo_reclaim(t->l, t->h, &t->s, 10, 1000), 0);      /* nothing below 10 */
    assert_int_equal(limbo_reclaim(t->l, t->h, &t->s, 510, 50), 50);      /* bounded (L.5) */
    assert_int_equal(limbo_reclaim(t->l, t->h, &t->s, 510, 1000), 450);   /* stamps 10..509 */
    assert_int_equal(t->l->entries, 500);
    checks(t);
    assert_int_equal(limbo_reclaim(t->l, t->h, &t->s, UINT64_MAX, UINT64_MAX), 500);
    assert_int_equal(t->l->entries, 0);
    checks(t);
    /* Only the chunks themselves remain in use; retiring again reuses them. */
    uint64_t top = t->h->top;
    retire_n(t, 300, 2000, NULL);
    assert_int_equal(limbo_reclaim(t->l, t->h, &t->s, UINT64_MAX, UINT64_MAX), 300);
    retire_n(t, 300, 3000, NULL);
    assert_true(t->h->top - top < 64 * 1024);   /* blocks and chunks were reused */
    checks(t);
}

static uint64_t live_offs[100];
static uint64_t marked[4096];
static size_t nmarked;

static void mark(void *arg, uint64_t off)
{
    (void)arg;
    assert_true(nmarked < 4096);
    marked[nmarked++] = off;
}

static int live(void *arg, uint64_t off, uint32_t tag)
{
    (void)arg;
    (void)tag;
    for (size_t i = 0; i < nmarked; i++)
        if (marked[i] == off)
            return 1;
    for (int i = 0; i < 100; i++)
        if (live_offs[i] == off)
            return 1;
    return 0;
}

static void test_rebuild_keeps_limbo(void **state)
{
    struct t *t = *state;
    uint64_t retired[600];
    retire_n(t, 600, 1, retired);
    for (int i = 0; i < 100; i++)
        assert_int_equal(alloc_alloc(t->h, &t->s, 64, &live_offs[i]), 0);
    uint64_t leaked;
    assert_int_equal(alloc_alloc(t->h, &t->s, 64, &leaked), 0);   /* reachable from nothing */
    assert_int_equal(limbo_reserve(t->l, t->h, &t->s, LIMBO_CHUNK), 0);  /* the tail is part full: a spare */
    assert_true(t->l->spare != 0);
    nmarked = 0;
    limbo_repair(t->l, t->h, &t->s);
    limbo_mark(t->l, &t->s, mark, t);
    long freed = alloc_rebuild(t->h, &t->s, live, t);
    assert_int_equal(freed, 1);                                    /* only the leaked block */
    checks(t);
    assert_int_equal(limbo_reclaim(t->l, t->h, &t->s, UINT64_MAX, UINT64_MAX), 600);
    checks(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retire_and_reclaim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_keeps_limbo, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
