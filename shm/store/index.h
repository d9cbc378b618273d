/*
 * index.h — private to libshmets (not installed): the one method table every index kind
 * implements (CONVENTIONS.md item 1, on the model of OTP's DbTableMethod).  The stored object
 * an index links is sobj.h's; the write plan through which it publishes every change, plan.h's.
 *
 * THE SPLIT OF WORK
 The front end (shm/table/) checks arguments and access, enters RCU for readers, takes the
 * writer lock and turns terms into stored objects; store/commit.c commits write plans
 * (prepare, record the intent, publish, retire).  An index kind (shm/index/: hash.c,
 * skiplist.c) sees only the layers below it, keeps everything static and exports one
 * `const struct index_ops`.  Its writer ops never publish anything: they allocate and fill
 * unpublished memory, and list the single-word stores that would publish it in a `struct
 * plan`, together with the blocks those stores unlink.  Only commit.c executes a plan, so
 * crash safety (the intent record, DESIGN.md §6) is written once, for every kind.
 *
 */
#ifndef SHMETS_INDEX_H
#define SHMETS_INDEX_H

#include "store/plan.h"
#include "shmets.h"
#include <stddef.h>
#include <stdint.h>

struct tab;             /* store/tab.h */

/* One object being written: where its prepared block is, and its key. */
struct wobj {
    uint64_t off;               /* payload offset of the prepared struct sobj (fresh) */
    uint64_t hash;
    const unsigned char *key;   /* the key's bytes (in the caller's term) */
    uint32_t klen;
    const unsigned char *etf;   /* the whole object */
    uint32_t len;
};

enum put_mode { PUT_REPLACE, PUT_APPEND, PUT_NEW };

/* A reader's place in an ordered walk (index_ops.seek/steps): process memory, and valid only
 * inside the read section that set it — its offsets name index blocks that RCU keeps for that
 * section and no longer.  A walk that leaves its section goes on from a key (seek), never from
 * a cursor. */
struct index_cursor { uint64_t node, pos; };
enum { SEEK_REVERSE = 1, SEEK_AT = 2 };          /* index_ops.seek's `how` */

/* What a call that visits marks: every block the index reaches. */
typedef void (*index_mark_fn)(void *arg, uint64_t off);
/* What slot() visits: the first object of each key (its chain head). */
typedef void (*index_visit_fn)(void *arg, uint64_t head);

struct index_ops {
    const char *name;
    /* Writer: make an empty index (at table creation and by delete_all_objects). */
    int (*init)(struct tab *t, struct plan *p);
    /* Reader (inside a read section): offset of the first object with this key, or 0. */
    uint64_t (*lookup)(const struct tab *t, const unsigned char *key, uint32_t klen, uint64_t hash);
    /* Reader: n lookups of prepared keys (shmets.h, shmets_key) at once, pipelined (NULL: the
     * front end loops over lookup). */
    void (*lookup_bulk)(const struct tab *t, const shmets_key *k, size_t n, uint64_t *out);
    /* Readers: traversal.  The index's order is fixed by its keys (term order; for the hash
     * index an order of hashes that resizing keeps), so `next` takes any key, present or not,
     * and gives the first object of the first key after it, or 0.  last and prev are NULL for
     * kinds whose traversal has no reverse (the front end uses first and next, as ETS). */
    uint64_t (*first)(const struct tab *t);
    uint64_t (*next)(const struct tab *t, const unsigned char *key, uint32_t klen, uint64_t hash);
    uint64_t (*last)(const struct tab *t);
    uint64_t (*prev)(const struct tab *t, const unsigned char *key, uint32_t klen, uint64_t hash);
    /* Readers (ordered kinds; NULL otherwise): cursors.  seek places c on the first key after
     * key (SEEK_REVERSE: the last key before it; SEEK_AT: key itself when it is there; key
     * NULL: the first, or the last, key) and returns its first object, or 0 at the end; steps
     * moves c up to max keys on in the same direction, writing each key's first object to
     * out[] (prefetched, as a walk reads it next), and returns how many (fewer than max: the
     * end, where c stays on the last key written).  A step does the work of one link, not of
     * a search, where the index can (index-dependent); many in one call cost no call each.
     * Both inside one read section (above). */
    uint64_t (*seek)(const struct tab *t, const unsigned char *key, uint32_t klen, unsigned how,
                     struct index_cursor *c);
    size_t (*steps)(const struct tab *t, struct index_cursor *c, int reverse, uint64_t *out, size_t max);
    /* Reader (ordered kinds; NULL otherwise): the last key for which below(arg, key, klen)
     * holds, given that it holds for a prefix of the keys in order — as a search, O(log n).
     * Returns its first object, or 0 if it holds for no key. */
    uint64_t (*seek_below)(const struct tab *t, int (*below)(void *arg, const unsigned char *key, uint32_t klen),
                           void *arg);
    /* Reader: visit the keys of slot i (ets:slot/2).  Returns 1, 0 when i is the number of
     * slots ('$end_of_table'), or -SHMETS_EBADPOS past it. */
    int (*slot)(const struct tab *t, uint64_t i, index_visit_fn fn, void *arg);
    /* Writer: plan the insertion of n prepared objects whose keys are all different (the
     * front end groups an insert by key).  For PUT_APPEND, objs[i] is the head of a chain of
     * fresh objects of one key, linked through `next`, that goes after the key's existing
     * objects; for PUT_REPLACE it replaces them (set); PUT_NEW fails with -SHMETS_EEXIST,
     * planning nothing, when a key exists (insert_new). */
    int (*put)(struct tab *t, struct plan *p, const struct wobj *objs, size_t n, enum put_mode mode);
    /* Writer: plan the deletion of every object with this key.  Returns 1 if there was one. */
    int (*del)(struct tab *t, struct plan *p, const unsigned char *key, uint32_t klen, uint64_t hash);
    /* Does the index want a resize for this many keys?  (A resize needs TAB_ALL.) */
    int (*needs_resize)(const struct tab *t, uint64_t nkeys);
    /* Writer (TAB_ALL): plan a resize when the key count has left the index's comfortable
     * range (returns 1 when it planned one, 0 when none is needed). */
    int (*resize)(struct tab *t, struct plan *p, uint64_t nkeys_after);
    /* Writer (recovery, check): call mark for every block the index reaches; count objects
     * and keys.  Returns 0 or -SHMETS_EBADSEG for a structure it cannot follow. */
    int (*mark)(const struct tab *t, index_mark_fn mark, void *arg, uint64_t *objs, uint64_t *keys);
    /* Writer: every invariant of the index (I.1 ...), on failure -SHMETS_EBADSEG with detail. */
    int (*check)(const struct tab *t);
};

extern const struct index_ops hash_index_ops;
extern const struct index_ops skiplist_index_ops;

#endif
