/*
 * tab.h — private to libshmets (not installed): the table segment's header (DESIGN.md §3, §6),
 * a process's handle on a table, and the instance handle it belongs to.  The store layer and
 * the index kinds read them; the front end (shm/table/) makes them.  commit.h writes them.
 */
#ifndef SHMETS_TAB_H
#define SHMETS_TAB_H

#include "mem/alloc.h"
#include "mem/ctl.h"
#include "mem/limbo.h"
#include "mem/rcu.h"
#include "mem/seg.h"
#include "mem/wlock.h"
#include "store/index.h"
#include "store/plan.h"
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
#define TABF_COMPRESSED       0x1u             /* tab_hdr.flags: objects stored LZ4-packed (sobj.c) */
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
    uint64_t retired_bytes;     /* and their bytes (commit.c: reclamation by bytes) */
    _Atomic uint64_t reclaimed_ns;  /* CLOCK_MONOTONIC of the last reclamation: idle tables
                                       are reclaimed by the next writer or by etsmgr */
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

/* The key's hash with the table's seed. */
static inline uint64_t tab_hash(const struct tab *t, shmets_term key)
{
    return shmets_term_hash(key, t->h->seed);
}

/* The hash a reader hands the index with a key: none for an ordered_set, whose skip list
 * orders by the key itself and reads no hash on its read paths (skiplist.c). */
static inline uint64_t tab_read_hash(const struct tab *t, shmets_term key)
{
    return t->h->kind == SHMETS_ORDERED_SET ? 0 : tab_hash(t, key);
}

/* Mark what the header reaches besides the index and limbo (the heir's data, the spare
 * empty index). */
static inline void tab_mark_extra(const struct tab *t, index_mark_fn mark, void *arg)
{
    uint64_t d = atomic_load(&t->h->heir_data);
    if (d)
        mark(arg, d);
    if ((d = atomic_load(&t->h->spare_block)))
        mark(arg, d);
}

#endif
