/*
 * test_seg_alloc.c — segments (shm/mem/seg.c) and the heap allocator (shm/mem/alloc.c).
 *
 * Segments: create/attach/unlink, read-only mappings, and every attach check (missing, wrong
 * magic, uninitialised, wrong version, wrong ABI, wrong kind, truncated object).  Allocator:
 * random alloc/free against a shadow model with alloc_check() after every step, size classes,
 * page runs given back and reused, the table's size cap as a clean -SHMETS_ENOMEM with the heap
 * intact, the object cap as -SHMETS_ETOOBIG, and mark-and-sweep rebuild.  Segment names carry
 * the pid and a counter, so runs side by side do not collide; every segment is unlinked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shmets.h"
#include "mem/alloc.h"
#include "mem/seg.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <dirent.h>
#include <unistd.h>

static char name[64];
static int counter;

static const char *fresh_name(void)
{
    snprintf(name, sizeof name, "/shmets-test.%d.%d", (int)getpid(), counter++);
    return name;
}

struct heap_seg {
    struct seg s;
    struct alloc_heap *h;
};

static void heap_seg_create(struct heap_seg *hs, size_t max, uint64_t obj_max)
{
    assert_int_equal(seg_create(fresh_name(), SEG_TABLE, 4096, max, 4096, 0600, NULL, NULL, &hs->s), 0);
    hs->h = (struct alloc_heap *)(hs->s.base + sizeof(struct seg_header));
    assert_int_equal(alloc_init(hs->h, &hs->s, 4096, obj_max), 0);
}

static void heap_seg_destroy(struct heap_seg *hs)
{
    assert_int_equal(seg_unlink(hs->s.name), 0);
    seg_detach(&hs->s);
}

static void check_heap(struct heap_seg *hs)
{
    int rc = alloc_check(hs->h, &hs->s, NULL, NULL);
    if (rc)
        fail_msg("alloc_check: %s", shmets_errdetail());
}

static void test_create_attach(void **state)
{
    (void)state;
    struct seg a, b, r;
    assert_int_equal(seg_create(fresh_name(), SEG_TABLE, 4096, 1 << 20, 8192, 0600, NULL, NULL, &a), 0);
    strcpy((char *)a.base + 5000, "hello");
    assert_int_equal(seg_create(a.name, SEG_TABLE, 4096, 1 << 20, 8192, 0600, NULL, NULL, &b), -SHMETS_EEXIST);
    assert_int_equal(seg_attach(a.name, SEG_TABLE, 1, &b), 0);
    assert_string_equal((char *)b.base + 5000, "hello");
    assert_int_equal(seg_attach(a.name, SEG_TABLE, 0, &r), 0);
    assert_string_equal((char *)r.base + 5000, "hello");
    assert_int_equal(seg_grow(&r, 1 << 19), -SHMETS_EACCES);
    assert_int_equal(seg_grow(&b, 100000), 0);
    assert_true(atomic_load(&seg_hdr(&a)->committed) >= 100000);
    assert_non_null(seg_ptr(&r, 99000, 1000));
    assert_null(seg_ptr(&r, 1 << 19, 8));
    assert_int_equal(seg_grow(&b, (1 << 20) + 1), -SHMETS_ENOMEM);
    assert_int_equal(seg_attach(a.name, SEG_CONTROL, 0, &r), -SHMETS_EBADSEG);
    seg_detach(&r);
    seg_detach(&b);
    assert_int_equal(seg_unlink(a.name), 0);
    seg_detach(&a);
    assert_int_equal(seg_attach(a.name, SEG_TABLE, 0, &r), -SHMETS_ENOENT);
    assert_int_equal(seg_unlink("no-slash"), -SHMETS_EINVAL);
}

/* Damage a fresh segment's header with `poke`, then attach: expect `want`. */
static void attach_damaged(size_t off, const void *bytes, size_t n, off_t truncate_to, int want)
{
    struct seg a, r;
    assert_int_equal(seg_create(fresh_name(), SEG_TABLE, 4096, 1 << 20, 8192, 0600, NULL, NULL, &a), 0);
    if (bytes)
        memcpy(a.base + off, bytes, n);
    if (truncate_to >= 0)
        assert_int_equal(ftruncate(a.fd, truncate_to), 0);
    int rc = seg_attach(a.name, SEG_TABLE, 0, &r);
    assert_int_equal(rc, want);
    assert_true(strlen(shmets_errdetail()) > 0);
    if (rc == 0)
        seg_detach(&r);
    assert_int_equal(seg_unlink(a.name), 0);
    seg_detach(&a);
}

static void test_attach_checks(void **state)
{
    (void)state;
    uint64_t junk = 0x1234;
    uint32_t v = SEG_VERSION + 1, abi = 0, zero = 0;
    attach_damaged(offsetof(struct seg_header, magic), &junk, 8, -1, -SHMETS_EBADSEG);
    attach_damaged(offsetof(struct seg_header, magic), &zero, 4, -1, -SHMETS_EBADSEG);
    attach_damaged(offsetof(struct seg_header, version), &v, 4, -1, -SHMETS_EVERSION);
    attach_damaged(offsetof(struct seg_header, abi), &abi, 4, -1, -SHMETS_EVERSION);
    attach_damaged(0, NULL, 0, 1 << 19, -SHMETS_EBADSEG);      /* truncated object */
    attach_damaged(0, NULL, 0, 16, -SHMETS_EBADSEG);           /* shorter than a header */
    uint64_t huge = UINT64_MAX;
    attach_damaged(offsetof(struct seg_header, committed), &huge, 8, -1, -SHMETS_EBADSEG);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return rng;
}

static void test_random_alloc_free(void **state)
{
    (void)state;
    struct heap_seg hs;
    heap_seg_create(&hs, 64 << 20, 0);
    alloc_poison = 1;
    enum { N = 400 };
    uint64_t off[N] = { 0 }, len[N] = { 0 };
    unsigned char fill[N];
    for (int step = 0; step < 6000; step++) {
        int i = (int)(next_rand() % N);
        if (off[i]) {
            for (uint64_t k = 0; k < len[i]; k++)
                if (hs.s.base[off[i] + k] != fill[i])
                    fail_msg("block %d byte %llu changed while allocated", i, (unsigned long long)k);
            uint64_t cap = alloc_capacity(&hs.s, off[i]);
            alloc_free(hs.h, &hs.s, off[i]);
            if (cap > 8)    /* the first word links the free list; the rest is poisoned */
                assert_int_equal(hs.s.base[off[i] + 8], ALLOC_POISON);
            off[i] = 0;
        } else {
            uint64_t r = next_rand();
            len[i] = r % 8 == 0 ? 70000 + r % 200000 : r % 3000;
            assert_int_equal(alloc_alloc(hs.h, &hs.s, len[i], &off[i]), 0);
            assert_true(alloc_capacity(&hs.s, off[i]) >= len[i]);
            assert_int_equal(off[i] % 8, 0);
            fill[i] = (unsigned char)r;
            memset(hs.s.base + off[i], fill[i], len[i]);
        }
        if (step % 50 == 0)
            check_heap(&hs);
    }
    check_heap(&hs);
    uint64_t used_before = atomic_load(&hs.h->used_bytes);
    assert_true(used_before > 0);
    for (int i = 0; i < N; i++)
        if (off[i])
            alloc_free(hs.h, &hs.s, off[i]);
    check_heap(&hs);
    assert_int_equal(atomic_load(&hs.h->used_bytes), 0);
    alloc_poison = 0;
    heap_seg_destroy(&hs);
}

static void test_reuse_same_class(void **state)
{
    (void)state;
    struct heap_seg hs;
    heap_seg_create(&hs, 8 << 20, 0);
    uint64_t a, b, c;
    assert_int_equal(alloc_alloc(hs.h, &hs.s, 40, &a), 0);
    alloc_free(hs.h, &hs.s, a);
    assert_int_equal(alloc_alloc(hs.h, &hs.s, 33, &b), 0);
    assert_int_equal(b, a);                 /* the same class reuses the freed block */
    assert_int_equal(alloc_alloc(hs.h, &hs.s, 300000, &c), 0);
    uint64_t top = hs.h->top;
    alloc_free(hs.h, &hs.s, c);
    assert_int_equal(alloc_alloc(hs.h, &hs.s, 290000, &c), 0);
    assert_int_equal(hs.h->top, top);       /* the page run was reused, not carved anew */
    memset(hs.s.base + c, 7, 290000);       /* its punched pages are backed again */
    check_heap(&hs);
    heap_seg_destroy(&hs);
}

/* Every small size gets the smallest class that holds it — the classes' rule, written here
 * apart from alloc.c's (8-byte steps to 128 B, then four classes per power of two up to
 * ALLOC_SMALL_MAX) — and its freed block goes back to that class's list (the next allocation
 * of the size takes it again).  alloc.c finds the class by arithmetic, not by searching the
 * table; this is every size it can be asked. */
static void test_every_small_size_class(void **state)
{
    (void)state;
    uint64_t classes[ALLOC_NCLASS];
    unsigned n = 0;
    for (uint64_t c = 16; c <= 128; c += 8)
        classes[n++] = c;
    for (uint64_t e = 128; e < ALLOC_SMALL_MAX; e *= 2)
        for (uint64_t q = 5; q <= 8; q++)
            classes[n++] = e * q / 4;
    assert_int_equal(n, ALLOC_NCLASS);
    struct heap_seg hs;
    heap_seg_create(&hs, 8 << 20, 0);
    unsigned k = 0;
    for (uint64_t size = 0; size + ALLOC_HDR <= ALLOC_SMALL_MAX; size++) {
        uint64_t b = (size + ALLOC_HDR + 7) & ~(uint64_t)7, off, again;
        while (classes[k] < b)
            k++;
        assert_int_equal(alloc_alloc(hs.h, &hs.s, size, &off), 0);
        if (alloc_capacity(&hs.s, off) != classes[k] - ALLOC_HDR)
            fail_msg("%llu bytes: capacity %llu, the class holds %llu", (unsigned long long)size,
                     (unsigned long long)alloc_capacity(&hs.s, off), (unsigned long long)(classes[k] - ALLOC_HDR));
        alloc_free(hs.h, &hs.s, off);
        assert_int_equal(alloc_alloc(hs.h, &hs.s, size, &again), 0);
        assert_int_equal(again, off);
        alloc_free(hs.h, &hs.s, again);
    }
    check_heap(&hs);
    heap_seg_destroy(&hs);
}

static void test_size_caps(void **state)
{
    (void)state;
    struct heap_seg hs;
    heap_seg_create(&hs, 1 << 20, 1000);
    uint64_t o;
    assert_int_equal(alloc_alloc(hs.h, &hs.s, 1001, &o), -SHMETS_ETOOBIG);
    int n = 0, rc;
    while ((rc = alloc_alloc(hs.h, &hs.s, 1000, &o)) == 0) {
        memset(hs.s.base + o, 1, 1000);
        n++;
    }
    assert_int_equal(rc, -SHMETS_ENOMEM);
    assert_true(strlen(shmets_errdetail()) > 0);
    assert_true(n > 900);                   /* the whole MiB was usable */
    check_heap(&hs);
    alloc_free(hs.h, &hs.s, hs.h->start + ALLOC_HDR);    /* the first block */
    assert_int_equal(alloc_alloc(hs.h, &hs.s, 1000, &o), 0);   /* usable again after a free */
    check_heap(&hs);
    heap_seg_destroy(&hs);
}

static int keep_even(void *arg, uint64_t off, uint32_t tag)
{
    (void)tag;
    uint64_t *offs = arg;
    for (int i = 0; i < 100; i += 2)
        if (offs[i] == off)
            return 1;
    return 0;
}

static void test_rebuild(void **state)
{
    (void)state;
    struct heap_seg hs;
    heap_seg_create(&hs, 8 << 20, 0);
    uint64_t offs[100];
    for (int i = 0; i < 100; i++)
        assert_int_equal(alloc_alloc(hs.h, &hs.s, (uint64_t)(i * 37 % 500), &offs[i]), 0);
    alloc_retire(hs.h, &hs.s, offs[2]);
    /* A writer died mid-way: lists and counters are garbage. */
    memset(hs.h->free_small, 0xAB, sizeof hs.h->free_small);
    atomic_store(&hs.h->used_bytes, 12345);
    assert_int_equal(alloc_check(hs.h, &hs.s, NULL, NULL), -SHMETS_EBADSEG);
    assert_int_equal(alloc_rebuild(hs.h, &hs.s, keep_even, offs), 50);
    check_heap(&hs);
    uint64_t used, limbo;
    assert_int_equal(alloc_check(hs.h, &hs.s, &used, &limbo), 0);
    assert_true(limbo > 0);                 /* a live retired block stays in limbo */
    uint64_t o;
    assert_int_equal(alloc_alloc(hs.h, &hs.s, 37, &o), 0);
    assert_true(keep_even(offs, o, 0) == 0); /* reuse only ever hands out freed blocks */
    heap_seg_destroy(&hs);
}

/* Unlink whatever this run left in /dev/shm, also after a failed test. */
static int cleanup(void **state)
{
    (void)state;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "shmets-test.%d.", (int)getpid());
    DIR *d = opendir("/dev/shm");
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            char n[300];
            snprintf(n, sizeof n, "/%s", e->d_name);
            shm_unlink(n);
        }
    }
    closedir(d);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_attach),
        cmocka_unit_test(test_attach_checks),
        cmocka_unit_test(test_random_alloc_free),
        cmocka_unit_test(test_reuse_same_class),
        cmocka_unit_test(test_every_small_size_class),
        cmocka_unit_test(test_size_caps),
        cmocka_unit_test(test_rebuild),
    };
    return cmocka_run_group_tests(tests, NULL, cleanup);
}
