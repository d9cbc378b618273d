/*
 * ctl.h — private to libshmets (not installed): the instance's control segment (DESIGN.md §3):
 * its layout, opening and closing it, and the table catalog it holds.  See ctl.c.  The reader
 * registry it also holds is rcu.h's.
 */
#ifndef SHMETS_CTL_H
#define SHMETS_CTL_H

#include "mem/rcu.h"
#include "mem/seg.h"
#include "mem/wlock.h"
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

#define CAT_MAX_DEFAULT  16384          /* tables per instance */
#define CAT_NAME_MAX     1020           /* bytes of a name: 255 characters of 4 UTF-8 bytes */

enum cat_state { CAT_FREE = 0, CAT_CREATING = 1, CAT_LIVE = 2 };

#define CAT_NAMED       0x1u
#define CAT_COMPRESSED  0x2u
#define CAT_WRITE_CONC  0x4u
#define CAT_READ_CONC   0x8u
#define CAT_DCOUNTERS   0x10u          /* info decentralized_counters (ETS's option, reported) */

struct cat_entry {
    _Atomic uint32_t state;     /* enum cat_state */
    uint32_t kind, access, keypos;
    uint64_t id;
    uint32_t flags;             /* CAT_NAMED ... */
    uint32_t owner_uid;
    int32_t owner_pid, heir_pid;
    uint64_t owner_inc, heir_inc;
    uint64_t created_ns;
    uint32_t name_len;
    char name[CAT_NAME_MAX + 1];
    /* etsmgr's registry of managed tables (DESIGN.md §7; written only through the cat_
     * calls below, read by the daemon and by etsmgr_info): */
    uint32_t mflags;            /* CATM_MANAGED, CATM_XFER */
    int32_t client_pid;         /* the registered client (new_table/add_table) */
    uint64_t client_inc;
    int32_t xfer_from;          /* CATM_XFER: the dead owner whose heir has not been told */
    uint32_t mkey_len;          /* the client's Table_name (an atom's text) */
    char mkey[CAT_NAME_MAX + 1];
} __attribute__((aligned(64)));

#define CATM_MANAGED    0x1u    /* a client registered the table with etsmgr */
#define CATM_XFER       0x2u    /* the heir inherited it; its ETS-TRANSFER is not delivered yet */

/* A new owner (cat_set_owner). */
struct cat_owner {
    int32_t pid;
    uint64_t inc;
    uint32_t uid;
    int set_heir;               /* also set the heir, in the same step */
    int32_t heir_pid;
    uint64_t heir_inc;
    int32_t xfer_from;          /* > 0: set CATM_XFER with this sender; 0: clear CATM_XFER */
    const char *key;            /* non-NULL: also manage the table as key for the new owner */
    size_t key_len;
};

struct cat_hdr {
    struct wlock lock;          /* every change, and every lookup by name or id */
    uint64_t next_id;           /* ids start at 1 and are never reused in an instance */
    uint64_t entries_off;       /* offset of entry 0 in the control segment */
    uint32_t cap;               /* entries the segment reserves room for */
    uint32_t hiwater;           /* entries [0, hiwater) have been used */
    uint32_t live;              /* entries LIVE or CREATING */
    _Atomic uint32_t gen;       /* bumped by every change of an entry (etsmgr polls it) */
};

/* The instance control segment: the table catalog's header, the reader registry, and (from
 * cat.entries_off, page-aligned after the registry) the catalog's entries. */
struct ctl_hdr {
    struct seg_header seg;
    struct cat_hdr cat __attribute__((aligned(64)));
    struct rcu_registry reg __attribute__((aligned(64)));
};

struct ctl {
    struct seg s;
    struct ctl_hdr *h;
    uint64_t entries_off;       /* the catalog's place and room as ctl_open checked them (C.6) */
    uint32_t cap;
    gid_t group;                /* the group the instance is shared with, (gid_t)-1 if none:
                                   table segments are made in it and trusted in it (seg.h S.3) */
};

/* The segment name of an instance: "/shmets.<inst>".  inst: 1..64 of [A-Za-z0-9_.-]. */
int ctl_name(const char *inst, char *out, size_t n);
/* Attach the instance's control segment, creating it (O_EXCL, mode 0644) if it is missing. */
int ctl_open(const char *inst, struct ctl *c);
/* As ctl_open, for an instance shared with group `group` ((gid_t)-1: ctl_open): made mode 0660
 * in that group if missing; an existing one must be shared with that group (-SHMETS_EACCES
 * otherwise) and may belong to another uid (trusted as the group's, seg.h S.3).  c->group
 * is set either way: an instance made for a group is shared with it whoever opens it. */
int ctl_open_grp(const char *inst, gid_t group, struct ctl *c);
void ctl_close(struct ctl *c);
/* Remove the instance's control segment name (tests, tools). */
int ctl_unlink(const char *inst);

/* The segment name of table `id` of the instance whose control segment is `ctl_name`:
 * "<ctl_name>.<id>".  out has SEG_NAME_MAX bytes. */
void cat_seg_name(const char *ctl_name, uint64_t id, char *out);

/* Everything below takes the catalog lock itself. */

/* Reserve an entry for a new table: fills in e's id and returns its index through *idx, in
 * state CREATING.  A named table whose name a LIVE table has: -SHMETS_EEXIST.  Full:
 * -SHMETS_ENOMEM. */
int cat_add(struct ctl *c, struct cat_entry *e, uint32_t *idx);
/* CREATING -> LIVE. */
int cat_publish(struct ctl *c, uint32_t idx);
/* Free the entry of table `id`.  Returns 0 or -SHMETS_ENOENT. */
int cat_remove(struct ctl *c, uint64_t id);
/* Copy out the LIVE entry of a named table, or of table `id`.  -SHMETS_ENOENT if none. */
int cat_find_name(struct ctl *c, const char *name, size_t len, struct cat_entry *out);
int cat_find_id(struct ctl *c, uint64_t id, struct cat_entry *out);
/* A new name for table id (-SHMETS_EEXIST: it is named and a named table has that name). */
int cat_rename(struct ctl *c, uint64_t id, const char *name, size_t len);
/* The table's heir (pid 0: none). */
int cat_set_heir(struct ctl *c, uint64_t id, int32_t pid, uint64_t inc);
/* Ids of LIVE tables, up to max (returns the number of LIVE tables, maybe > max). */
int cat_list(struct ctl *c, uint64_t *ids, uint32_t max, uint32_t *n);
/* ---- etsmgr (mgr/, shm/etsmgr/) ---- */
/* The catalog's change counter: read without the lock; a different value means rescan. */
uint32_t cat_gen(struct ctl *c);
/* A copy of every LIVE entry (malloc'd array in *out, free() it).  Bounded by hiwater. */
int cat_snapshot(struct ctl *c, struct cat_entry **out, uint32_t *n);
/* Give table id to nw if its owner is still (old_pid, old_inc): owner, uid, (set_heir) the
 * heir and (key) the registration as managed for the new owner, in one step under the lock.
 * -SHMETS_EOWNER if the owner changed meanwhile, -SHMETS_ENOENT if there is no such table,
 * -SHMETS_EEXIST if another table is managed as key (nothing changed then). */
int cat_set_owner(struct ctl *c, uint64_t id, int32_t old_pid, uint64_t old_inc, const struct cat_owner *nw);
/* Register table id as managed under key for client (pid, inc).  -SHMETS_EEXIST if another
 * LIVE table is managed under that key; -SHMETS_ENOENT if there is no such table. */
int cat_manage(struct ctl *c, uint64_t id, const char *key, size_t len, int32_t pid, uint64_t inc);
/* Forget that table id is managed. */
int cat_unmanage(struct ctl *c, uint64_t id);
/* The LIVE entry managed under key (-SHMETS_ENOENT if none). */
int cat_find_key(struct ctl *c, const char *key, size_t len, struct cat_entry *out);
/* Clear CATM_XFER of table id (its ETS-TRANSFER was delivered). */
int cat_xfer_done(struct ctl *c, uint64_t id);
/* Invariants of the catalog (C.1 ...). */
int cat_check(struct ctl *c);

#endif
