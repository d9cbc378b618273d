/*
 * namemap.h — the NIF's process-local map from table names and ids to table resources
 * (private to erlang/c_src; not installed).
 *
 * Every scheduler thread of the node resolves an atom (a named table) through this map on
 * every call, so reads must not take a lock: it is liburcu's rculfhash under the urcu-memb
 * flavour (DESIGN §4, the process-local side of RCU), lookups inside a read section, and a
 * replaced or removed entry freed by call_rcu after a grace period.  See namemap.c.
 */
#ifndef SHMETS_NIF_NAMEMAP_H
#define SHMETS_NIF_NAMEMAP_H

#include <stdbool.h>
#include <stdint.h>

/* What a key is: the atom term of a named table's name (atoms live as long as the node), or
 * a table id.  The two never collide: the kind is part of the key. */
enum namemap_kind { NM_NAME = 1, NM_ID = 2 };

int namemap_init(void);

/* The resource of key, with a reference taken (enif_keep_resource) that the caller
 * releases, or NULL.  Lock-free; any thread. */
void *namemap_get(enum namemap_kind kind, uint64_t key);

/* Map key to res (the map takes its own reference), replacing any entry. */
int namemap_put(enum namemap_kind kind, uint64_t key, void *res);

/* Remove key's entry if it maps to res (any resource if res is NULL). */
void namemap_del(enum namemap_kind kind, uint64_t key, void *res);

/* Remove every entry whose resource pred accepts. */
void namemap_del_if(bool (*pred)(void *res, void *arg), void *arg);

#endif
