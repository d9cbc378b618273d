/*
 * test_plan.c — write plans (shm/store/plan.c), the list of stores a write publishes.  What
 * every index kind relies on: a store planned twice to one word keeps its first place in the
 * order and its last value; plan_word reads the planned value (and the segment's word for an
 * offset not planned); all of it the same whether the plan is small (its stores found by a
 * scan) or large (found through the hash built past PLAN_LINEAR stores), across that switch,
 * and through the growth of the arrays out of the plan's inline room.  Checked against a
 * model on random plans of 1 to 600 stores.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "store/plan.h"
#include "mem/seg.h"

#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9a7e5eedull;

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

enum { WORDS = 2048 };

/* A fake mapping: plan_word reads an unplanned word from s->base + off. */
static uint64_t words[WORDS];

static void plans_agree_with_a_model(void **state)
{
    (void)state;
    struct seg s;
    memset(&s, 0, sizeof s);
    s.base = (unsigned char *)words;
    s.size = sizeof words;
    for (int i = 0; i < WORDS; i++)
        words[i] = 0xAA00000000000000ull | (uint64_t)i;
    static uint64_t model[WORDS];
    static long first[WORDS];
    for (int trial = 0; trial < 400; trial++) {
        int n = 1 + (int)(rnd() % (trial < 200 ? 40 : 600));        /* around PLAN_LINEAR, and far past */
        int span = 1 + (int)(rnd() % (trial % 3 ? WORDS : 24));     /* few words: many repeated stores */
        memset(model, 0, sizeof model);
        for (int i = 0; i < WORDS; i++)
            first[i] = -1;
        struct plan p;
        plan_init(&p);
        long order = 0;
        for (int k = 0; k < n; k++) {
            uint64_t w = rnd() % (uint64_t)span, v = rnd() | 1;
            plan_store(&p, w * 8, v);
            model[w] = v;
            if (first[w] < 0)
                first[w] = order++;
            /* Every word reads as planned (or as the segment has it) after each store. */
            if (k % 7 == 0 || k == n - 1)
                for (int x = 0; x < span; x++)
                    assert_int_equal(plan_word(&p, &s, (uint64_t)x * 8), first[x] >= 0 ? model[x] : words[x]);
        }
        assert_int_equal(p.err, 0);
        assert_int_equal(p.nst, (size_t)order);
        for (size_t i = 0; i < p.nst; i++) {
            uint64_t w = p.st[i].off / 8;
            assert_int_equal(first[w], (long)i);          /* the first store's place */
            assert_int_equal(p.st[i].val, model[w]);      /* the last store's value */
        }
        plan_free(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plans_agree_with_a_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
