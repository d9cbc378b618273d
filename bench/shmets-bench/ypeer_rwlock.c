/*
 * ypeer_rwlock.c — the read benchmark's locked hash (peer_rwlock.c) in the YCSB workloads:
 * open addressing with linear probing in a shared anonymous mapping the client processes
 * inherit, each slot the key, a counter and the value inline, at most half full (sized for the
 * records and every insert the benchmark allows), under one PTHREAD_PROCESS_SHARED
 * pthread_rwlock_t: reads take it shared, updates, inserts and read-modify-writes (the counter
 * incremented under the write lock) exclusive.  No key order: no scans (e is skipped).
 */
#include "ycsb.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

struct yrw_hdr {
    pthread_rwlock_t lock;
    unsigned lg;                /* 2^lg slots */
    size_t stride, bytes;
    unsigned b;
    unsigned char slot[] __attribute__((aligned(64)));
};

/* A slot: key + 1 (0: empty), the counter, the value. */
#define SLOT(i) (rw->slot + (size_t)(i) * rw->stride)

static struct yrw_hdr *rw;

static inline uint64_t mix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

static inline unsigned char *find(uint64_t k)
{
    uint64_t mask = (1ull << rw->lg) - 1;
    for (uint64_t i = mix64(k) & mask;; i = (i + 1) & mask) {
        unsigned char *s = SLOT(i);
        uint64_t k1;
        memcpy(&k1, s, 8);
        if (k1 == k + 1 || k1 == 0)
            return s;
    }
}

static int rw_load(const struct ycfg *y, int ordered)
{
    (void)ordered;
    unsigned lg = 4;
    while ((1ull << lg) < 2 * (y->c.objects + y->room))
        lg++;
    size_t stride = (16 + y->value_bytes + 7) & ~(size_t)7;
    size_t bytes = sizeof *rw + ((size_t)1 << lg) * stride;
    rw = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (rw == MAP_FAILED) {
        rw = NULL;
        perror("shmets-bench: rwlock: mmap");
        return -1;
    }
    rw->lg = lg;
    rw->stride = stride;
    rw->bytes = bytes;
    rw->b = y->value_bytes;
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_rwlock_init(&rw->lock, &a);
    pthread_rwlockattr_destroy(&a);
    for (uint64_t n = 0; n < y->c.objects; n++) {
        uint64_t k = y_key(y, n), k1 = k + 1;
        unsigned char *s = find(k);
        memcpy(s, &k1, 8);
        y_value(k, 0, s + 16, rw->b);
    }
    return 0;
}

static void rw_unload(const struct ycfg *y, int ordered)
{
    (void)y;
    (void)ordered;
    if (rw)
        munmap(rw, rw->bytes);
    rw = NULL;
}

static int rw_check(const struct ycfg *y, int ordered, uint64_t *count)
{
    (void)y;
    (void)ordered;
    uint64_t n = 0, bad = 0;
    for (uint64_t i = 0; i < (1ull << rw->lg); i++) {
        uint64_t k1;
        memcpy(&k1, SLOT(i), 8);
        if (k1) {
            n++;
            bad += y_bad(k1 - 1, SLOT(i) + 16);
        }
    }
    *count = n;
    if (bad)
        fprintf(stderr, "shmets-bench: rwlock: %llu slots hold another key's value\n", (unsigned long long)bad);
    return bad ? -1 : 0;
}

static void *rw_open(const struct ycfg *y, int ordered, int idx)
{
    (void)y;
    (void)ordered;
    (void)idx;
    return rw;
}

static int rw_read(void *p, uint64_t k, unsigned char *val)
{
    (void)p;
    pthread_rwlock_rdlock(&rw->lock);
    unsigned char *s = find(k);
    uint64_t k1;
    memcpy(&k1, s, 8);
    if (k1)
        memcpy(val, s + 16, rw->b);
    pthread_rwlock_unlock(&rw->lock);
    return k1 ? y_bad(k, val) : 1;
}

static int rw_write(void *p, uint64_t k, const unsigned char *val)
{
    (void)p;
    uint64_t k1 = k + 1;
    pthread_rwlock_wrlock(&rw->lock);
    unsigned char *s = find(k);
    memcpy(s, &k1, 8);
    memcpy(s + 16, val, rw->b);
    pthread_rwlock_unlock(&rw->lock);
    return 0;
}

static int rw_rmw(void *p, uint64_t k, uint64_t *counter)
{
    (void)p;
    pthread_rwlock_wrlock(&rw->lock);
    unsigned char *s = find(k);
    uint64_t k1, c;
    memcpy(&k1, s, 8);
    if (k1) {
        memcpy(&c, s + 8, 8);
        c++;
        memcpy(s + 8, &c, 8);
        *counter = c;
    }
    pthread_rwlock_unlock(&rw->lock);
    return k1 ? 0 : 1;
}

const struct ypeer ypeer_rwlock = {
    .name = "rwlock",
    .note = "open-addressing hash (key, counter and value inline, at most half full) in shared memory under one "
            "process-shared pthread_rwlock_t: reads shared, every write exclusive; no key order, so no e",
    .load = rw_load, .unload = rw_unload, .open = rw_open, .read = rw_read, .update = rw_write, .insert = rw_write,
    .rmw = rw_rmw, .check = rw_check,
};
