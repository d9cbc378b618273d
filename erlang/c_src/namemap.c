/*
 * namemap.c — table name/id → resource, read lock-free by every scheduler thread.
 *
 * HOW IT WORKS
 * ------------
 * One cds_lfht (liburcu's lock-free resizable hash table) for the whole node, with the
 * urcu-memb flavour: readers bracket a lookup with urcu_memb_read_lock/unlock (two stores and
 * a compiler barrier: memb issues the memory barrier on the writer's side, with membarrier(2)),
 * writers replace or remove nodes with single atomic operations and hand the old node to
 * call_rcu, which frees it — and releases the resource reference it held — once every reader
 * that might see it has left its read section.
 *
 * N.1  A reader takes its own reference on the resource (enif_keep_resource) inside the read
 *      section, so the resource outlives the section even if the entry is removed meanwhile:
 *      the entry's reference is released only after a grace period, hence after the keep.
 * N.2  Threads are registered with urcu on first use (a thread-local flag).  BEAM's scheduler
 *      threads (normal and dirty) live as long as the node, so they are never unregistered;
 *      the NIF cannot be unloaded or upgraded (its load callback refuses upgrade).
 * N.3  Writers are rare (new, attach, delete, ownership changes) and need no lock among
 *      themselves: add_replace and del are atomic per key.  Two writers racing on one key
 *      leave one of their entries, as two ETS processes racing for one name would.
 * N.4  Keys are atoms (an atom term is a word that never changes while the node runs) or
 *      table ids; the kind is mixed into the hash and compared, so they never collide.
 */
#include "namemap.h"

#include <erl_nif.h>
#include <stdlib.h>
#include <urcu/urcu-memb.h>
#include <urcu/rculfhash.h>

struct nm_node {
    struct cds_lfht_node node;
    struct rcu_head rcu;
    enum namemap_kind kind;
    uint64_t key;
    void *res;
};

struct nm_key {
    enum namemap_kind kind;
    uint64_t key;
};

static struct cds_lfht *ht;
static __thread int registered;

static void reg(void)
{
    if (!registered) {
        urcu_memb_register_thread();
        registered = 1;
    }
}

static unsigned long hash(enum namemap_kind kind, uint64_t k)
{
    uint64_t z = k + 0x9e3779b97f4a7c15ull * (uint64_t)kind;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (unsigned long)(z ^ (z >> 31));
}

static int match(struct cds_lfht_node *n, const void *key)
{
    const struct nm_node *e = caa_container_of(n, struct nm_node, node);
    const struct nm_key *k = key;
    return e->kind == k->kind && e->key == k->key;
}

static void free_node(struct rcu_head *h)
{
    struct nm_node *e = caa_container_of(h, struct nm_node, rcu);
    enif_release_resource(e->res);
    free(e);
}

int namemap_init(void)
{
    reg();
    ht = cds_lfht_new_flavor(64, 64, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
                             &urcu_memb_flavor, NULL);
    return ht ? 0 : -1;
}

void *namemap_get(enum namemap_kind kind, uint64_t key)
{
    struct nm_key k = {kind, key};
    struct cds_lfht_iter it;
    void *res = NULL;
    reg();
    urcu_memb_read_lock();
    cds_lfht_lookup(ht, hash(kind, key), match, &k, &it);
    struct cds_lfht_node *n = cds_lfht_iter_get_node(&it);
    if (n) {
        res = caa_container_of(n, struct nm_node, node)->res;
        enif_keep_resource(res);                /* N.1 */
    }
    urcu_memb_read_unlock();
    return res;
}

int namemap_put(enum namemap_kind kind, uint64_t key, void *res)
{
    struct nm_node *e = malloc(sizeof *e);
    if (!e)
        return -1;
    struct nm_key k = {kind, key};
    cds_lfht_node_init(&e->node);
    e->kind = kind;
    e->key = key;
    e->res = res;
    enif_keep_resource(res);
    reg();
    urcu_memb_read_lock();
    struct cds_lfht_node *old = cds_lfht_add_replace(ht, hash(kind, key), match, &k, &e->node);
    urcu_memb_read_unlock();
    if (old)
        urcu_memb_call_rcu(&caa_container_of(old, struct nm_node, node)->rcu, free_node);
    return 0;
}

void namemap_del(enum namemap_kind kind, uint64_t key, void *res)
{
    struct nm_key k = {kind, key};
    struct cds_lfht_iter it;
    reg();
    urcu_memb_read_lock();
    cds_lfht_lookup(ht, hash(kind, key), match, &k, &it);
    struct cds_lfht_node *n = cds_lfht_iter_get_node(&it);
    if (n && (!res || caa_container_of(n, struct nm_node, node)->res == res) && cds_lfht_del(ht, n) == 0)
        urcu_memb_call_rcu(&caa_container_of(n, struct nm_node, node)->rcu, free_node);
    urcu_memb_read_unlock();
}

void namemap_del_if(bool (*pred)(void *res, void *arg), void *arg)
{
    struct cds_lfht_iter it;
    struct nm_node *e;
    reg();
    urcu_memb_read_lock();
    cds_lfht_for_each_entry(ht, &it, e, node)
        if (pred(e->res, arg) && cds_lfht_del(ht, &e->node) == 0)
            urcu_memb_call_rcu(&e->rcu, free_node);
    urcu_memb_read_unlock();
}
