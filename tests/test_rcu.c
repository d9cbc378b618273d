/*
 * test_rcu.c — the cross-process RCU (shm/mem/rcu.c) and the control segment.
 *
 * - Sections nest, and the safe epoch is held back exactly by a reader inside a section.
 * - Hammer: reader processes read an RCU-published block while a writer process replaces it
 *   and frees retired blocks as soon as rcu_safe_epoch() allows; freed memory is poisoned, and
 *   a reader that ever sees poison or a torn block fails the test (a cross-process
 *   use-after-free would show here).
 * - A reader killed with SIGKILL inside a section: its slot is cleared and the memory it held
 *   becomes reclaimable.
 * - Slots of dead processes and of reused pids (wrong incarnation) are cleared; live ones never.
 * Each test uses an instance named after its pid; everything is unlinked, every child reaped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shmets.h"
#include "testutil.h"
#include "mem/alloc.h"
#include "base/proc.h"
#include "mem/ctl.h"
#include "mem/rcu.h"
#include "mem/seg.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char inst[64];
static char tseg[80];

static int setup(void **state)
{
    (void)state;
    static int n;
    snprintf(inst, sizeof inst, "test-rcu.%d.%d", (int)getpid(), n);
    snprintf(tseg, sizeof tseg, "/shmets-test-rcu.%d.%d", (int)getpid(), n++);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ctl_unlink(inst);
    shm_unlink(tseg);
    return 0;
}

static void open_ctl(struct ctl *c)
{
    int rc = ctl_open(inst, c);
    if (rc)
        fail_msg("ctl_open: %s: %s", shmets_strerror(rc), shmets_errdetail());
}

static void test_nesting_and_safe_epoch(void **state)
{
    (void)state;
    struct ctl c;
    struct rcu_reader rd;
    uint64_t safe;
    open_ctl(&c);
    assert_int_equal(rcu_reader_register(&c.h->reg, &rd), 0);
    assert_int_equal(rcu_safe_epoch(&c.h->reg, &safe), 0);
    assert_int_equal(safe, atomic_load(&c.h->reg.epoch));     /* nobody reads */
    rcu_read_begin(&c.h->reg, &rd);
    uint64_t in = atomic_load(&rd.slot->epoch);
    rcu_read_begin(&c.h->reg, &rd);                           /* nested */
    rcu_read_end(&rd);
    assert_int_equal(atomic_load(&rd.slot->epoch), in);       /* still inside */
    uint64_t stamp = rcu_retire_stamp(&c.h->reg);
    assert_int_equal(rcu_safe_epoch(&c.h->reg, &safe), 0);
    assert_true(safe <= stamp);                               /* held back by us */
    rcu_read_end(&rd);
    assert_int_equal(atomic_load(&rd.slot->epoch), 0);
    assert_int_equal(rcu_safe_epoch(&c.h->reg, &safe), 0);
    assert_true(safe > stamp);
    rcu_reader_unregister(&rd);
    ctl_close(&c);
}

/* The hammer's shared state, in its own segment. */
struct hammer {
    struct seg_header seg;
    _Atomic uint64_t cur;           /* offset of the published block */
    _Atomic int stop;
    _Atomic uint64_t frees;
    struct alloc_heap heap;
};

#define WORDS 64

/* Readers map the table segment read-only (as non-owners do): they count their reads here. */
static _Atomic uint64_t *read_count;

static int reader_main(struct ctl *c, struct hammer *hm, unsigned char *base)
{
    struct rcu_reader rd;
    if (rcu_reader_register(&c->h->reg, &rd))
        return 2;
    uint64_t n = 0;
    int bad = 0;
    while (!atomic_load_explicit(&hm->stop, memory_order_relaxed) && !bad) {
        rcu_read_begin(&c->h->reg, &rd);
        uint64_t off = atomic_load_explicit(&hm->cur, memory_order_acquire);
        const volatile uint64_t *w = (const volatile uint64_t *)(base + off);
        uint64_t first = w[0];
        for (int i = 1; i < WORDS; i++)
            if (w[i] != first) { bad = 1; break; }
        if ((first & 0xFF) == ALLOC_POISON)
            bad = 1;
        if (bad && getenv("RCU_DEBUG"))
            fprintf(stderr, "reader %d: off %llu first %llx w1 %llx slot %llu global %llu\n", (int)getpid(),
                    (unsigned long long)off, (unsigned long long)first, (unsigned long long)w[1],
                    (unsigned long long)atomic_load(&rd.slot->epoch), (unsigned long long)atomic_load(&c->h->reg.epoch));
        rcu_read_end(&rd);
        n++;
    }
    atomic_fetch_add(read_count, n);
    rcu_reader_unregister(&rd);
    return bad;
}

static int writer_main(struct ctl *c, struct hammer *hm, struct seg *s, double seconds)
{
    enum { LIMBO = 4096 };
    static uint64_t lim_off[LIMBO], lim_stamp[LIMBO];
    size_t nl = 0;
    alloc_poison = 1;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t seq = 2;; seq++) {
        uint64_t off;
        if (alloc_alloc(&hm->heap, s, WORDS * 8, &off))
            return 3;
        uint64_t *w = (uint64_t *)(s->base + off);
        for (int i = 0; i < WORDS; i++)
            w[i] = seq << 8 | 1;        /* low byte never equals the poison */
        uint64_t old = atomic_exchange_explicit(&hm->cur, off, memory_order_acq_rel);
        alloc_retire(&hm->heap, s, old);
        lim_off[nl] = old;
        lim_stamp[nl++] = rcu_retire_stamp(&c->h->reg);
        int waited = 0;
        while (nl == LIMBO || (seq % 64 == 0 && waited == 0)) {
            /* A reader preempted inside its section holds reclamation back for its time
             * slice; wait for it (up to 2 s), as a writer with a full limbo must. */
            if (nl == LIMBO) {
                if (++waited > 2000)
                    return 5;           /* reclamation never progressed */
                usleep(1000);
            }
            waited |= 1;
            uint64_t safe;
            if (rcu_safe_epoch(&c->h->reg, &safe))
                return 4;
            size_t k = 0;
            for (size_t i = 0; i < nl; i++) {
                if (lim_stamp[i] < safe) {
                    alloc_free(&hm->heap, s, lim_off[i]);
                    atomic_fetch_add(&hm->frees, 1);
                } else {
                    lim_off[k] = lim_off[i];
                    lim_stamp[k++] = lim_stamp[i];
                }
            }
            nl = k;
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 > seconds)
            break;
    }
    atomic_store(&hm->stop, 1);
    return 0;
}

static void test_hammer_no_use_after_free(void **state)
{
    (void)state;
    struct ctl c;
    struct seg s;
    open_ctl(&c);
    assert_int_equal(seg_create(tseg, SEG_TABLE, 4096, 64 << 20, 4096, 0600, NULL, NULL, &s), 0);
    struct hammer *hm = (struct hammer *)s.base;
    assert_int_equal(alloc_init(&hm->heap, &s, 4096, 0), 0);
    uint64_t first;
    assert_int_equal(alloc_alloc(&hm->heap, &s, WORDS * 8, &first), 0);
    for (int i = 0; i < WORDS; i++)
        ((uint64_t *)(s.base + first))[i] = 1 << 8 | 1;
    atomic_store(&hm->cur, first);

    read_count = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(read_count != MAP_FAILED);
    enum { READERS = 3 };
    pid_t pids[READERS + 1];
    for (int i = 0; i <= READERS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            child_init();
            /* Children attach on their own, as unrelated processes would. */
            struct ctl cc;
            struct seg cs;
            if (ctl_open(inst, &cc) || seg_attach(tseg, SEG_TABLE, i == 0, &cs))
                _exit(6);
            struct hammer *h = (struct hammer *)cs.base;
            _exit(i == 0 ? writer_main(&cc, h, &cs, 1.5 * stress_factor()) : reader_main(&cc, h, cs.base));
        }
    }
    for (int i = 0; i <= READERS; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("%s %d ended with status 0x%x (1: torn or poisoned read)",
                     i ? "reader" : "writer", i, st);
    }
    print_message("hammer: %llu reads, %llu blocks freed under readers\n",
                  (unsigned long long)atomic_load(read_count), (unsigned long long)atomic_load(&hm->frees));
    assert_true(atomic_load(&hm->frees) > 1000);
    assert_true(atomic_load(read_count) > 1000);
    munmap((void *)read_count, 4096);
    seg_detach(&s);
    ctl_close(&c);
}

static void test_reader_killed_inside_section(void **state)
{
    (void)state;
    struct ctl c;
    open_ctl(&c);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        child_init();
        struct ctl cc;
        struct rcu_reader rd;
        if (ctl_open(inst, &cc) || rcu_reader_register(&cc.h->reg, &rd))
            _exit(1);
        rcu_read_begin(&cc.h->reg, &rd);
        if (write(p[1], "x", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char ch;
    assert_int_equal(read(p[0], &ch, 1), 1);
    uint64_t stamp = rcu_retire_stamp(&c.h->reg), safe;
    assert_int_equal(rcu_safe_epoch(&c.h->reg, &safe), 0);
    assert_true(safe <= stamp);                 /* the live reader holds memory back */
    assert_int_equal(rcu_safe_epoch(&c.h->reg, &safe), 0);
    assert_true(safe <= stamp);                 /* ... and keeps holding it */
    uint64_t cleared = atomic_load(&c.h->reg.stale_cleared);
    kill(child, SIGKILL);
    assert_int_equal(waitpid(child, NULL, 0), child);
    assert_int_equal(rcu_safe_epoch(&c.h->reg, &safe), 0);
    assert_true(safe > stamp);                  /* its slot was cleared: memory reclaimable */
    assert_int_equal(atomic_load(&c.h->reg.stale_cleared), cleared + 1);
    close(p[0]);
    close(p[1]);
    ctl_close(&c);
}

static void test_dead_and_reused_slots(void **state)
{
    (void)state;
    struct ctl c;
    open_ctl(&c);
    struct rcu_registry *reg = &c.h->reg;
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    uint64_t child_inc = 0;
    proc_incarnation(child, &child_inc);        /* may already be gone; then 0 */
    assert_int_equal(waitpid(child, NULL, 0), child);
    assert_int_equal(proc_alive(child, child_inc), 0);
    assert_int_equal(proc_alive(getpid(), proc_self_incarnation()), 1);
    assert_int_equal(proc_alive(getpid(), proc_self_incarnation() ^ 1), 0);   /* a reused pid */

    /* Slot 0: a dead process.  Slot 1: our pid with another incarnation (reused pid).
     * Slot 2: ourselves, live.  Only the first two are cleared. */
    atomic_store(&reg->slots[0].incarnation, child_inc ? child_inc : 1);
    atomic_store(&reg->slots[0].pid, child);
    atomic_store(&reg->slots[1].incarnation, proc_self_incarnation() ^ 1);
    atomic_store(&reg->slots[1].pid, getpid());
    atomic_store(&reg->slots[2].incarnation, proc_self_incarnation());
    atomic_store(&reg->slots[2].pid, getpid());
    if (atomic_load(&reg->hiwater) < 3)
        atomic_store(&reg->hiwater, 3);     /* as rcu_reader_register() does on a claim */
    assert_int_equal(rcu_clear_dead(reg), 2);
    assert_int_equal(atomic_load(&reg->slots[0].pid), 0);
    assert_int_equal(atomic_load(&reg->slots[1].pid), 0);
    assert_int_equal(atomic_load(&reg->slots[2].pid), getpid());
    atomic_store(&reg->slots[2].pid, 0);
    ctl_close(&c);
}

static void test_bad_instance_names(void **state)
{
    (void)state;
    struct ctl c;
    assert_int_equal(ctl_open("", &c), -SHMETS_EINVAL);
    assert_int_equal(ctl_open("a/b", &c), -SHMETS_EINVAL);
    assert_int_equal(ctl_open("x y", &c), -SHMETS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nesting_and_safe_epoch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hammer_no_use_after_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_killed_inside_section, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_and_reused_slots, setup, teardown),
        cmocka_unit_test(test_bad_instance_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
