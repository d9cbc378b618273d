/*
 * peer_urcu.c — liburcu's lock-free resizable hash table (rculfhash) with the urcu-memb
 * flavour (the library's default: read-side lock and unlock are a few instructions, writers
 * use membarrier): the in-process upper bound.  Its readers are threads of one process, so
 * run.c forks a host process per run that loads the table and runs the readers and the writer
 * as its threads.  Each lookup is one read-side section: rcu_read_lock, cds_lfht_lookup,
 * copy the value, rcu_read_unlock.  The writer replaces a key's node
 * (cds_lfht_add_replace) and frees the old one after a grace period (call_rcu).
 * M: what the host's resident set grew by while loading.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <urcu/urcu-memb.h>
#include <urcu/rculfhash.h>

struct unode {
    struct cds_lfht_node node;
    uint64_t key;
    unsigned char v[VALUE_BYTES];
    struct rcu_head rcu;
};

static struct cds_lfht *ht;

static inline uint64_t mix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

static int match(struct cds_lfht_node *n, const void *key)
{
    return caa_container_of(n, struct unode, node)->key == *(const uint64_t *)key;
}

static void free_node(struct rcu_head *h)
{
    free(caa_container_of(h, struct unode, rcu));
}

static int u_load(const struct cfg *c, int ordered, uint64_t *mem)
{
    (void)ordered;
    uint64_t before = rss_bytes(getpid());
    unsigned long buckets = 1;
    while (buckets < c->objects)
        buckets <<= 1;
    urcu_memb_register_thread();
    ht = cds_lfht_new_flavor(buckets, buckets, 0, 0, &urcu_memb_flavor, NULL);
    if (!ht) {
        fprintf(stderr, "shmets-bench: urcu: cds_lfht_new failed\n");
        return -1;
    }
    for (uint64_t k = 0; k < c->objects; k++) {
        struct unode *n = malloc(sizeof *n);
        if (!n)
            return -1;
        cds_lfht_node_init(&n->node);
        n->key = k;
        make_value(k, 0, n->v);
        urcu_memb_read_lock();
        cds_lfht_add(ht, mix64(k), &n->node);
        urcu_memb_read_unlock();
    }
    urcu_memb_unregister_thread();
    uint64_t after = rss_bytes(getpid());
    *mem = after > before ? after - before : 0;
    return 0;
}

static void u_unload(const struct cfg *c, int ordered)
{
    (void)c;
    (void)ordered;
    /* The host process exits right after: its memory goes with it. */
}

static void *u_open(const struct cfg *c, int ordered, int idx)
{
    (void)c;
    (void)ordered;
    (void)idx;
    urcu_memb_register_thread();
    return ht;
}

static void u_close(void *p)
{
    (void)p;
    urcu_memb_unregister_thread();
}

static long u_lookup(void *p, const uint64_t *keys, unsigned n, uint64_t *sum)
{
    struct cds_lfht *h = p;
    long bad = 0;
    for (unsigned i = 0; i < n; i++) {
        struct cds_lfht_iter it;
        unsigned char v[VALUE_BYTES];
        urcu_memb_read_lock();
        cds_lfht_lookup(h, mix64(keys[i]), match, &keys[i], &it);
        struct cds_lfht_node *node = cds_lfht_iter_get_node(&it);
        if (node)
            memcpy(v, caa_container_of(node, struct unode, node)->v, sizeof v);
        urcu_memb_read_unlock();
        bad += node ? fold_value(keys[i], v, sum) : 1;
    }
    return bad;
}

static void *u_writer_open(const struct cfg *c, int ordered)
{
    return u_open(c, ordered, 0);
}

static int u_write(void *p, uint64_t key, const unsigned char val[VALUE_BYTES])
{
    struct cds_lfht *h = p;
    struct unode *n = malloc(sizeof *n);
    if (!n)
        return -1;
    cds_lfht_node_init(&n->node);
    n->key = key;
    memcpy(n->v, val, VALUE_BYTES);
    urcu_memb_read_lock();
    struct cds_lfht_node *old = cds_lfht_add_replace(h, mix64(key), match, &key, &n->node);
    urcu_memb_read_unlock();
    if (old)
        urcu_memb_call_rcu(&caa_container_of(old, struct unode, node)->rcu, free_node);
    return 0;
}

const struct peer peer_urcu = {
    .name = "urcu", .store = "urcu", .cases = C_R1 | C_R2 | C_M, .unit = 1, .threads = true,
    .note = "liburcu rculfhash (urcu-memb), reader threads in one process (the in-process upper bound)",
    .load = u_load, .unload = u_unload, .reader_open = u_open, .lookup = u_lookup, .reader_close = u_close,
    .writer_open = u_writer_open, .write = u_write, .writer_close = u_close,
};
