/*
 * table.h — private to libshmets (not installed): the table segment's header and a process's
 * handle on a table.  See table.c (front end, write commit, recovery) and catalog.c (names).
 */
#ifndef SHMETS_TABLE_H
#define SHMETS_TABLE_H

#include "mem/alloc.h"
#include "store/index.h"
#include "mem/limbo.h"
#include "mem/ctl.h"
#include "mem/rcu.h"
#include "mem/seg.h"
#include "mem/wlock.h"
#include "shmets.h"

#include <pthread.h>
#include <sys/types.h>
#include <stdatomic.h>
#include <stdint.h>

#define TAB_SIZE_MAX_DEFAULT  (4ull << 30)     /* bytes reserved per table by default */
#define TAB_SIZE_MIN          (1ull << 20)
#define TAB_SIZE_LIMIT        (1ull << 43)     /* offsets are stored in 40 bits of 8 bytes */
#define INTENT_MAGIC          0x494e54454e54ull
#define TAB_STRIPES           8                /* writer locks of a write_concurrency table */
#define TAB_ALL               (-1)             /* tab_lock(): every stripe, and the heap */
#define TABF_COMPRESSED       0x1u             /* tab_hdr.flags: objects stored LZ4-packed (compress.c) */
#define TAB_FIXERS            16               /* processes whose safe_fixtable fixes the header records */

/* The index root: the one cache line every reader reads first. */
struct index_root {
    _Atomic uint64_t seq;       /* even: quiet; odd: a multi-word publish is under way (T.3) */
    _Atomic uint64_t word;      /* the index kind's root word (hash: bucket array | log2) */
    _Atomic uint64_t deleted;   /* 1 once ets:delete/1 ran: every handle then gets ENOENT */
    uint64_t spare[5];
};

/* The redo record of a publish in progress (a heap block named by tab_hdr.intent). */
struct intent {
    uint64_t magic;
    uint64_t nst;               /* stores */
    uint64_t multi;             /* the publish holds index_root.seq odd */
    struct plan_store st[];
};

#define INTENT_INLINE 8         /* stores an intent record in the stripe itself holds */

/* One writer lock and the intent record of the writes it covers (commit.c).  A plan of up to
 * INTENT_INLINE stores writes its record into `small`, so a write needs no heap block for it:
 * a table at its max_bytes can still delete (whose plans are small). */
struct stripe {
    struct wlock lock;
    _Atomic uint64_t intent;    /* offset of the struct intent being published, or 0 */
    struct {
        struct intent in;
        struct plan_store st[INTENT_INLINE];
    } small;
} __attribute__((aligned(64)));

struct tab_hdr {
    struct seg_header seg;
    uint32_t kind;              /* enum shmets_kind */
    uint32_t access;            /* enum shmets_access */
    uint32_t keypos;
    uint32_t flags;
    uint64_t id;
    uint64_t seed;              /* hash seed, random per table (hash flooding) */
    uint64_t obj_max;           /* bytes of the largest object (max_object_bytes) */
    struct index_root root __attribute__((aligned(64)));
    uint32_t nstripes;          /* 1, or TAB_STRIPES with write_concurrency (commit.c) */
    _Atomic uint32_t sweep_needed;  /* a striped writer died: mark and sweep at the next
                                       all-stripes lock (commit.c, T.4) */
    struct stripe stripe[TAB_STRIPES];
    struct wlock hlock __attribute__((aligned(64)));   /* the heap and limbo, when striped */
    _Atomic uint64_t objs;      /* objects stored (info size) */
    _Atomic uint64_t keys;      /* distinct keys */
    _Atomic uint64_t writes;    /* write calls completed, for `shmets top` */
    struct alloc_heap heap;
    struct limbo limbo;
    uint64_t retired_since;     /* blocks retired since the last reclamation (commit.c) */
    /* The heir's Data: payload offset of a heap block holding its length (8 bytes) and its
     * canonical encoding; 0 when there is none ([]).  Published and retired by plans; marked
     * by tab_mark_extra. */
    _Atomic uint64_t heir_data;
    /* safe_fixtable: who holds fixes (writers of the table record here; read-only mappers in
     * their handle), and when the first fix in effect was taken. */
    uint64_t fix_mono_ns, fix_wall_us;
    struct tab_fix { int32_t pid; uint32_t count; uint64_t inc; } fix[TAB_FIXERS];
    /* An empty index made in advance (its root word, and its one block), so that
     * delete_all_objects needs no memory even in a full table (tabwrite.c).  0: none. */
    _Atomic uint64_t spare_root, spare_block;
};

_Static_assert(sizeof(struct tab_hdr) <= SEG_PAGE, "the table header fits in the first page");

/* A process's handle on one attached table. */
struct tab {
    struct shmets *db;
    struct seg s;
    struct tab_hdr *h;
    const struct index_ops *ops;
    uint64_t id;
    int writable;               /* mapped read-write (owner, or public table) */
    int owner;                  /* this process owns the table */
    enum shmets_access access;
    uint32_t local_fixes;       /* safe_fixtable fixes of a process that maps read-only */
    uint64_t fixed_seen_ns;     /* when tab_fixed last asked the kernel about other fixers */
    int fixed_seen;             /* and what it learnt */
    struct tab *next, *prev;    /* the instance handle's list of open tables */
};

/* A reading thread's RCU handle, one per thread and instance (inst.c). */
struct treader {
    struct rcu_reader rd;
    pid_t pid;                  /* the process that registered it (a forked child re-registers) */
    struct treader *next, *prev;
};

/* An open instance. */
struct shmets {
    struct ctl c;
    char inst[65];
    pthread_key_t key;          /* the thread's struct treader */
    uint64_t gen;               /* unique in the process: tells this handle from a later one at
                                   the same address (inst.c's per-thread cache) */
    pthread_mutex_t mu;         /* guards the two lists */
    struct tab *tabs;
    struct treader *readers;
};

/* The calling thread's reader for t's instance, registered on first use; NULL with the error
 * detail set when no reader slot is free. */
struct rcu_reader *tab_reader(struct tab *t);
/* Is the calling thread inside a read section of db (shmets_read_begin)? */
int inst_in_section(struct shmets *db);

/* commit.c: the write side's crash safety.
 * A write takes one stripe (the one that owns its key's buckets: hash % nstripes) or all of
 * them (TAB_ALL: multi-key writes, resizes, check, delete).  The plan records which. */
/* The stripe of a key's hash. */
static inline int tab_stripe(const struct tab *t, uint64_t hash)
{
    return (int)(hash & (t->h->nstripes - 1));
}
/* Take stripe `stripe` (or TAB_ALL), repairing first what a dead holder left.
 * Returns 0, -SHMETS_EOWNER (no write access), -SHMETS_ENOENT (deleted), -SHMETS_EBADSEG. */
int  tab_lock(struct tab *t, struct plan *p, int stripe);
void tab_unlock(struct tab *t, struct plan *p);
/* The heap and limbo, for a writer holding one stripe (no-op when it holds all, or the table
 * has one stripe).  plan_alloc and tab_commit call them. */
int  tab_heap_enter(struct tab *t, struct plan *p);
void tab_heap_leave(struct tab *t, struct plan *p);
/* Publish a plan (DESIGN.md §6): reserve limbo room, write the intent record, make the
 * stores, retire what they unlinked, update counts.  On failure nothing is published and the
 * plan's fresh blocks are freed.  Returns 0 or an allocator error.  Caller holds the lock. */
int  tab_commit(struct tab *t, struct plan *p);
/* Drop a plan that will not be published: free its fresh blocks. */
void tab_abandon(struct tab *t, struct plan *p);
/* Wait until no reader can hold memory unlinked before now (caller holds TAB_ALL). */
int  tab_synchronize(struct tab *t);
/* Make the spare empty index if there is none (best effort; caller holds TAB_ALL, or nobody
 * can see the table yet). */
void tab_make_spare(struct tab *t);
/* Reclaim up to max retired blocks after a grace period (caller holds the heap). */
int  tab_reclaim(struct tab *t, uint64_t max, uint64_t *freed);
/* Every invariant of the table (caller holds TAB_ALL). */
int  tab_check(struct tab *t);

/* table.c, shared with the other front-end files (tabread.c, tabwrite.c, tabinfo.c). */
struct tbuf;
/* Readers may read this table (0), or -SHMETS_EOWNER (private, not the owner). */
int  tab_read_access(struct tab *t);
/* Writers may write it (0), or -SHMETS_EOWNER naming the call. */
int  tab_write_access(struct tab *t, const char *call);
/* Objects a chain can hold at most (a bound for walks of a damaged segment). */
uint64_t tab_chain_max(const struct tab *t);
/* Append the chain from off to b as a list term ([] for 0). */
void tab_copy_chain(const struct tab *t, uint64_t off, struct tbuf *b);
/* Run fn inside a read section, again while a multi-word publish overlapped it (fn must start
 * its output afresh each time).  Checks access and deletion first. */
int  tab_read(struct tab *t, int (*fn)(struct tab *t, void *arg), void *arg);
/* tabread.c: visit every object in traversal order (reverse: an ordered_set backwards), a few
 * keys per read section; each() gets the objects copied out (encodings one after another)
 * and runs outside any section.  each returns 0 to go on; anything else ends the traversal
 * and is returned.  after (may be NULL): start after this key (which need not be stored). */
int  tab_traverse(struct tab *t, int reverse, const shmets_term *after,
                  int (*each)(const unsigned char *objs, size_t n, void *arg), void *arg);
/* tabwrite.c: replace the object `old` by `repl` (same key) if old is still stored, as one
 * write.  Returns 1 if replaced, 0 if old is not there, or an error. */
int  tab_replace_object(struct tab *t, shmets_term old, shmets_term repl);
/* Run fn with every stripe and the heap held. */
int  tab_with_all(struct tab *t, int (*fn)(struct tab *t, void *arg), void *arg);
/* Allocate and fill the stored form of obj (its key, at keypos, is key; hash its hash). */
int  tab_store_obj(struct tab *t, struct plan *p, shmets_term obj, shmets_term key, uint64_t hash, uint64_t *off);
/* compress.c: the packed form of obj for a compressed table (*packed NULL: store it plain). */
int  sobj_pack(const struct tab *t, shmets_term obj, shmets_term key, unsigned char **packed, size_t *len);
/* compress.c: I.3, one stored object is a valid canonical term whose key (at keypos) and hash
 * are the header's; *obj its canonical encoding (in place or in tmp). */
int  sobj_check(const struct tab *t, uint64_t off, const struct sobj *x, struct tbuf *tmp, shmets_term *obj);
/* The key's hash with the table's seed. */
uint64_t tab_hash(const struct tab *t, shmets_term key);
/* A stored object's key's hash (objects do not keep it: index.h). */
static inline uint64_t sobj_hash(const struct tab *t, const struct sobj *o)
{
    return tab_hash(t, (shmets_term){ sobj_key(o), sobj_klen(o) });
}
/* Is the table fixed (safe_fixtable) by a live process? */
int  tab_fixed(struct tab *t);
/* Plan the heir's data (copied into a fresh block; the old one retired). */
int  tab_put_heir_data(struct tab *t, struct plan *p, shmets_term data);
/* Mark what the header reaches besides the index and limbo (the heir's data). */
void tab_mark_extra(const struct tab *t, index_mark_fn mark, void *arg);

/* Readers: wait out a multi-word publish, and tell whether one happened meanwhile (T.3). */
uint64_t tab_seq_begin(const struct tab *t);
static inline int tab_seq_retry(const struct tab *t, uint64_t s)
{
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&t->h->root.seq, memory_order_relaxed) != s;
}

#endif
