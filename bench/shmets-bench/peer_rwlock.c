/*
 * peer_rwlock.c — two stores written for this benchmark, in shared memory that the reader
 * processes inherit (a shared anonymous mapping: shmem pages, as /dev/shm's):
 *
 *   rwlock  the hand-written locked hash a C programmer would reach for: open addressing with
 *           linear probing, each slot the 8-byte key and the 32-byte value inline (one cache
 *           miss a lookup, the best a hash can do), at most half full, under one
 *           PTHREAD_PROCESS_SHARED pthread_rwlock_t that every lookup read-locks and every
 *           write write-locks.
 *   floor   a flat array of N values indexed by the key, no lock, no hash: the memory-latency
 *           floor any store of this workload sits above.
 */
#include "bench.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

struct rw_slot {
    uint64_t key1;              /* key + 1; 0: empty */
    unsigned char v[VALUE_BYTES];
};

struct rw_hdr {
    pthread_rwlock_t lock;
    unsigned lg;                /* 2^lg slots */
    size_t bytes;
    struct rw_slot slot[] __attribute__((aligned(64)));
};

static struct rw_hdr *rw;
static unsigned char *flat;
static size_t flat_bytes;

/* MurmurHash3's finaliser: a good 64-bit mix, a few cycles. */
static inline uint64_t mix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

static void *shared_alloc(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("shmets-bench: mmap");
        return NULL;
    }
    return p;
}

static inline struct rw_slot *rw_find(uint64_t k)
{
    uint64_t mask = (1ull << rw->lg) - 1;
    for (uint64_t i = mix64(k) & mask;; i = (i + 1) & mask) {
        struct rw_slot *s = &rw->slot[i];
        if (s->key1 == k + 1 || s->key1 == 0)
            return s;
    }
}

static int rw_load(const struct cfg *c, int ordered, uint64_t *mem)
{
    (void)ordered;
    unsigned lg = 4;
    while ((1ull << lg) < 2 * c->objects)
        lg++;
    size_t bytes = sizeof *rw + ((size_t)1 << lg) * sizeof(struct rw_slot);
    if (!(rw = shared_alloc(bytes)))
        return -1;
    rw->lg = lg;
    rw->bytes = bytes;
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_rwlock_init(&rw->lock, &a);
    pthread_rwlockattr_destroy(&a);
    for (uint64_t k = 0; k < c->objects; k++) {
        struct rw_slot *s = rw_find(k);
        s->key1 = k + 1;
        make_value(k, 0, s->v);
    }
    *mem = bytes;
    return 0;
}

static void rw_unload(const struct cfg *c, int ordered)
{
    (void)c;
    (void)ordered;
    if (rw)
        munmap(rw, rw->bytes);
    rw = NULL;
}

static void *rw_open(const struct cfg *c, int ordered, int idx)
{
    (void)c;
    (void)ordered;
    (void)idx;
    return rw;
}

static long rw_lookup(void *p, const uint64_t *keys, unsigned n, uint64_t *sum)
{
    (void)p;
    long bad = 0;
    for (unsigned i = 0; i < n; i++) {
        unsigned char v[VALUE_BYTES];
        pthread_rwlock_rdlock(&rw->lock);
        struct rw_slot *s = rw_find(keys[i]);
        int hit = s->key1 != 0;
        if (hit)
            memcpy(v, s->v, sizeof v);
        pthread_rwlock_unlock(&rw->lock);
        bad += hit ? fold_value(keys[i], v, sum) : 1;
    }
    return bad;
}

static void *rw_writer_open(const struct cfg *c, int ordered)
{
    return rw_open(c, ordered, 0);
}

static int rw_write(void *p, uint64_t key, const unsigned char val[VALUE_BYTES])
{
    (void)p;
    pthread_rwlock_wrlock(&rw->lock);
    struct rw_slot *s = rw_find(key);
    s->key1 = key + 1;
    memcpy(s->v, val, VALUE_BYTES);
    pthread_rwlock_unlock(&rw->lock);
    return 0;
}

static int rw_stall(void *p)
{
    (void)p;
    pthread_rwlock_wrlock(&rw->lock);
    raise(SIGSTOP);
    pthread_rwlock_unlock(&rw->lock);
    return 0;
}

const struct peer peer_rwlock = {
    .name = "rwlock", .store = "rwlock", .cases = C_R1 | C_R2 | C_R3 | C_M, .unit = 1,
    .note = "open-addressing hash (key and value inline, half full) in shared memory, one process-shared pthread_rwlock_t",
    .load = rw_load, .unload = rw_unload, .reader_open = rw_open, .lookup = rw_lookup,
    .writer_open = rw_writer_open, .write = rw_write, .stall = rw_stall,
};

/* ---- floor ----------------------------------------------------------------------------------- */

static int flat_load(const struct cfg *c, int ordered, uint64_t *mem)
{
    (void)ordered;
    flat_bytes = c->objects * VALUE_BYTES;
    if (!(flat = shared_alloc(flat_bytes)))
        return -1;
    for (uint64_t k = 0; k < c->objects; k++)
        make_value(k, 0, flat + k * VALUE_BYTES);
    *mem = flat_bytes;
    return 0;
}

static void flat_unload(const struct cfg *c, int ordered)
{
    (void)c;
    (void)ordered;
    if (flat)
        munmap(flat, flat_bytes);
    flat = NULL;
}

static void *flat_open(const struct cfg *c, int ordered, int idx)
{
    (void)c;
    (void)ordered;
    (void)idx;
    return flat;
}

static long flat_lookup(void *p, const uint64_t *keys, unsigned n, uint64_t *sum)
{
    const unsigned char *base = p;
    long bad = 0;
    for (unsigned i = 0; i < n; i++) {
        unsigned char v[VALUE_BYTES];
        memcpy(v, base + keys[i] * VALUE_BYTES, sizeof v);
        bad += fold_value(keys[i], v, sum);
    }
    return bad;
}

const struct peer peer_floor = {
    .name = "floor", .store = "floor", .cases = C_R1 | C_M, .unit = 1,
    .note = "a flat shared array of values indexed by the key: no lock, no hash (the memory-latency floor)",
    .load = flat_load, .unload = flat_unload, .reader_open = flat_open, .lookup = flat_lookup,
};
