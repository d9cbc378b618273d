/*
 * ypeer_urcu.c — liburcu's lock-free hash table (rculfhash, urcu-memb flavour) in the YCSB
 * workloads: the in-process upper bound, as in the read benchmark (peer_urcu.c).  Its clients
 * are threads of one host process that ycsb_run.c forks for each run; the host loads the
 * table, runs the clients, checks and counts the table, and exits.
 *
 *   read    rcu_read_lock, cds_lfht_lookup, copy the value, rcu_read_unlock
 *   update  a new node, cds_lfht_add_replace, the old node freed after a grace period (call_rcu)
 *   insert  the same (the key is new)
 *   rmw     the node's counter incremented in place with an atomic fetch-add inside a read-side
 *           section: the closest rculfhash has to update_counter (an update that replaces the
 *           node meanwhile starts the counter again: YCSB's f has no updates)
 *   scan    none: the table keeps no key order (e is skipped)
 */
#include "ycsb.h"

#include <stdio.h>
#include <stdlib.h>

#include <urcu/urcu-memb.h>
#include <urcu/rculfhash.h>

struct unode {
    struct cds_lfht_node node;
    struct rcu_head rcu;
    uint64_t key;
    _Atomic uint64_t counter;
    unsigned char v[];
};

static struct cds_lfht *ht;
static unsigned vbytes;

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

static struct unode *new_node(uint64_t k, const unsigned char *v)
{
    struct unode *n = malloc(sizeof *n + vbytes);
    if (!n)
        return NULL;
    cds_lfht_node_init(&n->node);
    n->key = k;
    atomic_init(&n->counter, 0);
    memcpy(n->v, v, vbytes);
    return n;
}

static int u_load(const struct ycfg *y, int ordered)
{
    (void)ordered;
    vbytes = y->value_bytes;
    unsigned long buckets = 1;
    while (buckets < y->c.objects)
        buckets <<= 1;
    urcu_memb_register_thread();
    ht = cds_lfht_new_flavor(buckets, buckets, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, &urcu_memb_flavor, NULL);
    unsigned char *v = malloc(vbytes);
    if (!ht || !v) {
        fprintf(stderr, "shmets-bench: urcu: cds_lfht_new failed\n");
        return -1;
    }
    for (uint64_t i = 0; i < y->c.objects; i++) {
        uint64_t k = y_key(y, i);
        y_value(k, 0, v, vbytes);
        struct unode *n = new_node(k, v);
        if (!n)
            return -1;
        urcu_memb_read_lock();
        cds_lfht_add(ht, mix64(k), &n->node);
        urcu_memb_read_unlock();
    }
    free(v);
    return 0;
}

static void u_unload(const struct ycfg *y, int ordered)
{
    (void)y;
    (void)ordered;
    /* The host process exits right after: its memory goes with it. */
}

static int u_check(const struct ycfg *y, int ordered, uint64_t *count)
{
    (void)y;
    (void)ordered;
    struct cds_lfht_iter it;
    struct unode *n;
    uint64_t c = 0, bad = 0;
    urcu_memb_read_lock();
    cds_lfht_for_each_entry(ht, &it, n, node) {
        c++;
        bad += y_bad(n->key, n->v);
    }
    urcu_memb_read_unlock();
    *count = c;
    if (bad)
        fprintf(stderr, "shmets-bench: urcu: %llu nodes hold another key's value\n", (unsigned long long)bad);
    return bad ? -1 : 0;
}

static void *u_open(const struct ycfg *y, int ordered, int idx)
{
    (void)y;
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

static int u_read(void *p, uint64_t k, unsigned char *val)
{
    struct cds_lfht_iter it;
    urcu_memb_read_lock();
    cds_lfht_lookup(p, mix64(k), match, &k, &it);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(&it);
    if (node)
        memcpy(val, caa_container_of(node, struct unode, node)->v, vbytes);
    urcu_memb_read_unlock();
    return node ? y_bad(k, val) : 1;
}

static int u_write(void *p, uint64_t k, const unsigned char *val)
{
    struct unode *n = new_node(k, val);
    if (!n)
        return -1;
    urcu_memb_read_lock();
    struct cds_lfht_node *old = cds_lfht_add_replace(p, mix64(k), match, &k, &n->node);
    urcu_memb_read_unlock();
    if (old)
        urcu_memb_call_rcu(&caa_container_of(old, struct unode, node)->rcu, free_node);
    return 0;
}

static int u_rmw(void *p, uint64_t k, uint64_t *counter)
{
    struct cds_lfht_iter it;
    urcu_memb_read_lock();
    cds_lfht_lookup(p, mix64(k), match, &k, &it);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(&it);
    if (node)
        *counter = atomic_fetch_add(&caa_container_of(node, struct unode, node)->counter, 1) + 1;
    urcu_memb_read_unlock();
    return node ? 0 : 1;
}

const struct ypeer ypeer_urcu = {
    .name = "urcu", .threads = true,
    .note = "liburcu rculfhash (urcu-memb), client threads in one process (the in-process upper bound): "
            "add_replace for writes, rmw an atomic fetch-add on the node's counter; no key order, so no e",
    .load = u_load, .unload = u_unload, .open = u_open, .close = u_close, .read = u_read, .update = u_write,
    .insert = u_write, .rmw = u_rmw, .check = u_check,
};
