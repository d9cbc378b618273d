/*
 * commit.c — how a write is published, and how a table is repaired when its writer died
 * (DESIGN.md §6).  Written once for every index kind: the kinds only plan (index.h).
 *
 * THE PUBLISH (tab_commit), with the writer lock held:
 *   1. The plan is complete: every new object, bucket or array is allocated and written, but
 *      nothing published refers to it yet.  Room for every retirement is reserved in limbo.
 *   2. The plan's stores are copied into an intent record (a heap block), and the record's
 *      offset is stored in tab_hdr.intent.  This store is the commit point.
 *   3. The stores are made in order, each a release store of one aligned 64-bit word.  A plan
 *      of more than one store holds index_root.seq odd meanwhile (T.3).
 *   4. What the stores unlinked goes to limbo, stamped with the RCU epoch.
 *   5. Counts are updated, the intent is cleared, its record freed.
 * Every step has a crash point (CRASH_POINT, test builds only) named "commit.<step>".
 *
 * GUARANTEES
 *   T.1 A write that returned 0 is in the table; one that did not return is whole or absent:
 *       a writer dead before step 2 published nothing, one dead after it has its stores
 *       replayed by the next writer (replaying is idempotent: each store sets a word to a
 *       value).
 *   T.2 Recovery frees nothing a reader could hold: blocks that nothing reaches any more
 *       (the dead writer's fresh blocks, and what it unlinked but had not yet retired) go to
 *       limbo like any retired block, and are freed after a grace period.
 *   T.3 Isolation of multi-word publishes: readers that see index_root.seq odd wait for it
 *       to turn even (a bounded run of stores, no system call), and retry a lookup during
 *       which it changed, so no reader sees half of an insert of a list.  A reader that
 *       finds the lock holder dead stops waiting and reads what is there (recovery will
 *       complete the write).
 *
 * RECOVERY (tab_recover, run by wlock_acquire when pthread_mutex_lock returns EOWNERDEAD):
 * replay the intent, end an odd seq; repair limbo's chains; MARK every block the index and
 * limbo reach in a bitmap of the heap (one bit per 8 bytes); SWEEP the heap with
 * alloc_rebuild, which rebuilds the free lists and counters from the block headers; blocks
 * that are in use but unmarked are orphans and go to limbo (T.2); recount objects and keys
 * from the index.  Cost: one walk of the index and one of the heap, O(heap) time and
 * heap/64 bytes of process memory.  If the heap is too full for limbo to take the orphans,
 * recovery waits for a grace period and frees them directly.
 *
 * WRITE_CONCURRENCY (striped tables).  A table made with write_concurrency has TAB_STRIPES
 * writer locks instead of one, and a heap lock.  Stripe i owns the buckets whose index is i
 * modulo TAB_STRIPES (hash.c: every array has at least that many buckets), with their overflow
 * chains and their keys' objects, so writers of keys of different stripes never store to the
 * same word.  A single-key write takes its key's stripe, and the heap lock around each
 * allocation and from its limbo reservation through its publish to its retirements; a write of several keys, a resize, check and delete take every
 * stripe in order, then the heap lock (TAB_ALL).  Lock order is stripes ascending, then the
 * heap: no cycle.  Each stripe has its own intent record; a TAB_ALL writer uses stripe 0's.
 *   T.4 A dead stripe holder's intent is replayed by the next holder of that stripe; a dead
 *       heap holder's free lists are rebuilt from the block tags by the next holder of the
 *       heap lock, every block in use kept (a live writer may hold it).  Either sets
 *       sweep_needed, and the next TAB_ALL locker (at the latest shmets_check) runs the mark
 *       and sweep that finds the dead writer's orphans and recounts.  Until then the orphans
 *       stay allocated and the counts may be off by that writer's last write; nothing is
 *       freed that anyone could hold.  A single-stripe locker that finds sweep_needed set
 *       takes every stripe instead: a dead all-stripes writer's record (stripe 0's) may
 *       touch its stripe, and must be replayed before anything is written there.  A table
 *       with one stripe does all of it at once.
 *
 * RECLAMATION (tab_reclaim): a writer that leaves entries in limbo runs a grace period
 * (rcu_safe_epoch: one membarrier) and frees at most RECLAIM_MAX entries when one of these holds:
 *   T.5 by count: RECLAIM_AT retirements since the last reclamation, with RECLAIM_AT or more
 *       entries in limbo (one grace period per RECLAIM_AT retirements, not per write: a
 *       reader that holds the newest entries must not make every write pay a membarrier and
 *       a liveness check per reader, which cost writers half their time);
 *   T.6 by bytes: the blocks retired since the last reclamation hold RECLAIM_BYTES or a 64th
 *       of the heap in use, whichever is more (a table of few large objects: five 20 MB
 *       objects and four deletions held 80 MB until the 64th retirement, which may never come);
 *   T.7 by age: nothing has reclaimed the table for RECLAIM_IDLE_NS (100 ms), so garbage a
 *       reader held at the last reclamation goes at the next write after it.
 * So the cost of reclamation is spread over writes and bounded per write (CONVENTIONS.md item
 * 8).  A table that goes quiet with entries in limbo (its readers held them at its last write)
 * is reclaimed by etsmgr's reclaimer (tab_reclaim_idle, mgr/reclaim.c), which visits the
 * instance's tables in the background; without etsmgr, by its next write or shmets_reclaim().
 * Readers never reclaim: they write nothing into a table segment (rcu.c R.1), and a reader of
 * a protected table maps it read-only.
 */
#include "store/commit.h"
#include "base/proc.h"
#include "base/util.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RECLAIM_AT       64
#define RECLAIM_MAX      512
#define RECLAIM_BYTES    (1u << 20)
#define RECLAIM_IDLE_NS  100000000u     /* 100 ms */

static inline _Atomic uint64_t *word_at(const struct tab *t, uint64_t off)
{
    return (_Atomic uint64_t *)(t->s.base + off);
}

/* ---- the heap lock of striped tables ---------------------------------------------------- */

static int heap_recover(void *arg);

int tab_heap_enter(struct tab *t, struct plan *p)
{
    if (p->heap_held)
        return 0;
    return wlock_acquire(&t->h->hlock, heap_recover, t);
}

void tab_heap_leave(struct tab *t, struct plan *p)
{
    if (!p->heap_held)
        wlock_release(&t->h->hlock);
}

void tab_abandon(struct tab *t, struct plan *p)
{
    if (p->nfresh && tab_heap_enter(t, p) == 0) {   /* on failure: orphans, for the sweep */
        for (size_t i = p->nfresh; i-- > 0;)
            alloc_free(&t->h->heap, &t->s, p->fresh[i]);
        tab_heap_leave(t, p);
    }
    p->nfresh = 0;
}

int tab_commit(struct tab *t, struct plan *p)
{
    struct tab_hdr *h = t->h;
    struct seg *s = &t->s;
    int rc = p->err;
    uint64_t log = 0;
    if (!rc && p->nst == 0 && p->nretire == 0) {
        tab_abandon(t, p);              /* nothing to publish (an insert of [] ...) */
        return 0;
    }
    INVARIANT(!p->multi || p->stripe == TAB_ALL);
    /* The heap is held from the limbo reservation to the retirements it covers: room in limbo
     * belongs to nobody, so a writer of another stripe must not use it up in between. */
    /* Every store must land in the index's part of the segment (a damaged index could plan
     * one into the header): the same bounds replay_intent() holds a record to. */
    uint64_t committed = atomic_load(&seg_hdr(s)->committed);
    for (size_t i = 0; !rc && i < p->nst; i++)
        if ((p->st[i].off & 7) || p->st[i].off < offsetof(struct tab_hdr, root) || p->st[i].off > committed - 8)
            rc = err_set(SHMETS_EBADSEG, "a write planned a store out of bounds (%llu): the index is damaged",
                         (unsigned long long)p->st[i].off);
    struct stripe *sp = &h->stripe[p->stripe == TAB_ALL ? 0 : p->stripe];
    uint64_t inline_log = (uint64_t)((unsigned char *)&sp->small - s->base);
    if (!rc && !(rc = tab_heap_enter(t, p))) {
        rc = limbo_reserve(&h->limbo, &h->heap, s, (uint32_t)p->nretire);
        if (rc == -SHMETS_ENOMEM) {
            /* Full: give back what readers are done with, and try once more. */
            tab_reclaim(t, 0, NULL);
            rc = limbo_reserve(&h->limbo, &h->heap, s, (uint32_t)p->nretire);
        }
        if (!rc && p->nst <= INTENT_INLINE)
            log = inline_log;
        else if (!rc)
            rc = alloc_alloc(&h->heap, s, sizeof(struct intent) + p->nst * sizeof(struct plan_store), &log);
        if (rc)
            tab_heap_leave(t, p);
    }
    if (rc) {
        tab_abandon(t, p);
        return rc;
    }
    CRASH_POINT("commit.prepared");
    _Atomic uint64_t *intent = &sp->intent;
    struct intent *in = (struct intent *)(s->base + log);
    in->magic = INTENT_MAGIC;
    in->nst = p->nst;
    in->multi = p->multi;
    if (p->nst)
        memcpy(in->st, p->st, p->nst * sizeof *p->st);
    atomic_store_explicit(intent, log, memory_order_release);           /* the commit point */
    CRASH_POINT("commit.intent");
    uint64_t seq = atomic_load_explicit(&h->root.seq, memory_order_relaxed);
    if (in->multi) {
        atomic_store_explicit(&h->root.seq, seq + 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_release);
    }
    for (size_t i = 0; i < p->nst; i++) {
        atomic_store_explicit(word_at(t, p->st[i].off), p->st[i].val, memory_order_release);
        if (i == 0)
            CRASH_POINT("commit.publishing");
    }
    if (in->multi)
        atomic_store_explicit(&h->root.seq, seq + 2, memory_order_release);
    CRASH_POINT("commit.published");
    p->nfresh = 0;                      /* published: no longer ours to free */
    uint64_t stamp = rcu_retire_stamp(&t->db->c.h->reg);
    uint64_t retired_bytes = 0;
    for (size_t i = 0; i < p->nretire; i++) {
        retired_bytes += alloc_capacity(s, p->retire[i]) + ALLOC_HDR;
        limbo_retire(&h->limbo, &h->heap, s, p->retire[i], stamp);
        if (i == 0)
            CRASH_POINT("commit.retiring");
    }
    atomic_fetch_add_explicit(&h->objs, (uint64_t)p->dobjs, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->keys, (uint64_t)p->dkeys, memory_order_relaxed);
    CRASH_POINT("commit.counted");
    atomic_store_explicit(intent, 0, memory_order_release);
    if (log != inline_log)
        alloc_free(&h->heap, s, log);
    atomic_fetch_add_explicit(&h->writes, 1, memory_order_relaxed);
    CRASH_POINT("commit.done");
    /* RECLAMATION (see the top): by count, by bytes, and by age. */
    h->retired_since += p->nretire;
    h->retired_bytes += retired_bytes;
    if (h->limbo.entries) {
        uint64_t by_bytes = atomic_load_explicit(&h->heap.used_bytes, memory_order_relaxed) / 64;
        if ((h->retired_since >= RECLAIM_AT && h->limbo.entries >= RECLAIM_AT) ||
            h->retired_bytes >= (by_bytes > RECLAIM_BYTES ? by_bytes : RECLAIM_BYTES) ||
            mono_ns() - atomic_load_explicit(&h->reclaimed_ns, memory_order_relaxed) >= RECLAIM_IDLE_NS)
            tab_reclaim(t, RECLAIM_MAX, NULL);  /* best effort: an error here loses nothing */
    }
    tab_heap_leave(t, p);
    return 0;
}

int tab_reclaim(struct tab *t, uint64_t max, uint64_t *freed)
{
    uint64_t safe;
    int rc = rcu_safe_epoch(&t->db->c.h->reg, &safe);
    if (rc)
        return rc;
    t->h->retired_since = t->h->retired_bytes = 0;
    atomic_store_explicit(&t->h->reclaimed_ns, mono_ns(), memory_order_relaxed);
    uint64_t n = limbo_reclaim(&t->h->limbo, &t->h->heap, &t->s, safe, max ? max : UINT64_MAX);
    if (freed)
        *freed = n;
    return 0;
}

/* ---- readers' side of T.3 ---------------------------------------------------------------- */

uint64_t tab_seq_wait(const struct tab *t)
{
    for (unsigned spins = 1;; spins++) {
        uint64_t s = atomic_load_explicit(&t->h->root.seq, memory_order_acquire);
        if (!(s & 1))
            return s;
        if (spins % 1024 == 0) {
            int32_t pid = atomic_load_explicit(&t->h->stripe[0].lock.holder, memory_order_relaxed);
            if (pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH))
                return s;               /* its writer died: read what is there (T.3) */
            sched_yield();
        } else {
            cpu_relax();
        }
    }
}

/* ---- marking -------------------------------------------------------------------------------- */

struct marks {
    const struct tab *t;
    uint64_t start, top;
    uint64_t *bits;
    uint64_t bytes;             /* bytes of the blocks marked (headers included) */
    uint64_t twice;             /* blocks reached twice (a damaged index, for check) */
};

static int marks_init(struct marks *m, const struct tab *t)
{
    memset(m, 0, sizeof *m);
    m->t = t;
    m->start = t->h->heap.start;
    m->top = t->h->heap.top;
    /* The header's heap bounds are read from the segment: damaged, they could ask for a bitmap
     * of exabytes (fuzz segment, ASan: allocation-size-too-big). */
    if (m->start < SEG_PAGE || m->start > m->top || m->top > t->s.size)
        return err_set(SHMETS_EBADSEG, "table %llu is damaged: its heap bounds [%llu, %llu) are outside its %zu-byte "
                       "segment" SALVAGE_HINT, (unsigned long long)t->id, (unsigned long long)m->start,
                       (unsigned long long)m->top, t->s.size);
    size_t words = (size_t)((m->top - m->start) / 8 / 64 + 1);
    m->bits = calloc(words, sizeof *m->bits);
    return m->bits ? 0 : err_set(SHMETS_ENOMEM, "out of process memory for the mark bitmap");
}

static void mark(void *arg, uint64_t off)
{
    struct marks *m = arg;
    if (off < m->start + ALLOC_HDR || off >= m->top)
        return;
    uint64_t bit = (off - m->start) / 8;
    if (m->bits[bit / 64] & (1ull << (bit % 64))) {
        m->twice++;
        return;
    }
    m->bits[bit / 64] |= 1ull << (bit % 64);
    m->bytes += alloc_capacity(&m->t->s, off) + ALLOC_HDR;
}

static int marked(const struct marks *m, uint64_t off)
{
    uint64_t bit = (off - m->start) / 8;
    return (m->bits[bit / 64] >> (bit % 64)) & 1;
}

/* ---- recovery ------------------------------------------------------------------------------- */

struct sweep {
    struct marks *m;
    uint64_t *orphans;
    size_t n, cap;
    int err;
};

static int sweep_live(void *arg, uint64_t off, uint32_t tag)
{
    struct sweep *w = arg;
    (void)tag;
    if (marked(w->m, off))
        return 1;
    if (w->n == w->cap) {
        size_t c = w->cap ? w->cap * 2 : 64;
        uint64_t *o = realloc(w->orphans, c * sizeof *o);
        if (!o) {
            w->err = 1;
            return 1;           /* kept: a leak until the next repair, never a wrong free */
        }
        w->orphans = o;
        w->cap = c;
    }
    w->orphans[w->n++] = off;
    return 1;
}

static int replay_intent(struct tab *t, int i)
{
    struct tab_hdr *h = t->h;
    _Atomic uint64_t *intent = &h->stripe[i].intent;
    uint64_t log = atomic_load(intent);
    if (log) {
        uint64_t committed = atomic_load(&seg_hdr(&t->s)->committed);
        uint64_t inline_log = (uint64_t)((unsigned char *)&h->stripe[i].small - t->s.base), cap;
        if (log == inline_log)
            cap = sizeof h->stripe[i].small;
        else if (alloc_is_block(&h->heap, &t->s, log, BLK_USED) && alloc_capacity(&t->s, log) >= sizeof(struct intent))
            cap = alloc_capacity(&t->s, log);
        else
            return err_set(SHMETS_EBADSEG, "the intent record at %llu is not a block", (unsigned long long)log);
        const struct intent *in = (const struct intent *)(t->s.base + log);
        if (in->magic != INTENT_MAGIC || in->nst > (cap - sizeof *in) / sizeof(struct plan_store))
            return err_set(SHMETS_EBADSEG, "the intent record at %llu is damaged", (unsigned long long)log);
        for (uint64_t k = 0; k < in->nst; k++) {
            uint64_t off = in->st[k].off;
            if ((off & 7) || off < offsetof(struct tab_hdr, root) || off > committed - 8)
                return err_set(SHMETS_EBADSEG, "the intent record stores out of bounds (%llu)", (unsigned long long)off);
        }
        for (uint64_t k = 0; k < in->nst; k++)
            atomic_store_explicit(word_at(t, in->st[k].off), in->st[k].val, memory_order_release);
        atomic_store(intent, 0);
    }
    /* Only an all-stripes writer (intent in stripe 0) makes the sequence odd. */
    uint64_t seq = atomic_load(&h->root.seq);
    if (i == 0 && (seq & 1))
        atomic_store_explicit(&h->root.seq, seq + 1, memory_order_release);
    return 0;
}

/* Wait until no reader can hold memory unlinked before now. */
int tab_synchronize(struct tab *t)
{
    uint64_t now = rcu_retire_stamp(&t->db->c.h->reg), safe;
    for (;;) {
        int rc = rcu_safe_epoch(&t->db->c.h->reg, &safe);
        if (rc)
            return rc;
        if (safe > now)
            return 0;
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
}

/* Mark and sweep (T.4): with every stripe and the heap held, nothing is being written. */
static int sweep(struct tab *t)
{
    struct tab_hdr *h = t->h;
    int rc;
    limbo_repair(&h->limbo, &h->heap, &t->s);
    struct marks m;
    if ((rc = marks_init(&m, t)))
        return rc;
    uint64_t objs, keys;
    if ((rc = t->ops->mark(t, mark, &m, &objs, &keys))) {
        free(m.bits);
        return rc;
    }
    tab_mark_extra(t, mark, &m);
    limbo_mark(&h->limbo, &t->s, mark, &m);
    struct sweep w = { .m = &m };
    long r = alloc_rebuild(&h->heap, &t->s, sweep_live, &w);
    free(m.bits);
    if (r < 0) {
        free(w.orphans);
        return (int)r;
    }
    atomic_store(&h->objs, objs);
    atomic_store(&h->keys, keys);
    /* Orphans: in use, reached by nothing.  A reader may still hold what the dead writer
     * unlinked, so they go through limbo (T.2). */
    for (size_t i = 0; i < w.n; i++) {
        struct blk *k = (struct blk *)(t->s.base + w.orphans[i] - ALLOC_HDR);
        k->tag = BLK_USED;          /* a block caught halfway into limbo */
    }
    if (limbo_reserve(&h->limbo, &h->heap, &t->s, (uint32_t)w.n) == 0) {
        uint64_t stamp = rcu_retire_stamp(&t->db->c.h->reg);
        for (size_t i = 0; i < w.n; i++)
            limbo_retire(&h->limbo, &h->heap, &t->s, w.orphans[i], stamp);
    } else if ((rc = tab_synchronize(t)) == 0) {
        for (size_t i = 0; i < w.n; i++)
            alloc_free(&h->heap, &t->s, w.orphans[i]);
    }
    free(w.orphans);
    if (!rc)
        atomic_store(&h->sweep_needed, 0);
    return rc;
}

struct stripe_arg { struct tab *t; int i; };

/* A stripe's holder died: complete its write.  With one stripe that lock covers the heap
 * too, so the sweep runs at once; with several it waits for the next all-stripes lock. */
static int stripe_recover(void *arg)
{
    struct stripe_arg *a = arg;
    int rc = replay_intent(a->t, a->i);
    if (rc)
        return rc;
    if (a->t->h->nstripes == 1)
        return sweep(a->t);
    atomic_store(&a->t->h->sweep_needed, 1);
    return 0;
}

/* The heap lock's holder died (striped tables): rebuild the free lists from the block tags,
 * keeping every block in use (whoever holds it may be alive), and leave the sweep for later. */
static int keep_all(void *arg, uint64_t off, uint32_t tag)
{
    (void)arg;
    (void)off;
    (void)tag;
    return 1;
}

static int heap_recover(void *arg)
{
    struct tab *t = arg;
    limbo_repair(&t->h->limbo, &t->h->heap, &t->s);
    long r = alloc_rebuild(&t->h->heap, &t->s, keep_all, NULL);
    if (r < 0)
        return (int)r;
    atomic_store(&t->h->sweep_needed, 1);
    return 0;
}

static void release_stripes(struct tab *t, int upto)
{
    while (upto-- > 0)
        wlock_release(&t->h->stripe[upto].lock);
}

int tab_lock(struct tab *t, struct plan *p, int stripe)
{
    struct tab_hdr *h = t->h;
    if (!t->writable)
        return err_set(SHMETS_EOWNER, "table %llu is %s and this process is not its owner",
                       (unsigned long long)t->id, t->access == SHMETS_PRIVATE ? "private" : "protected");
    int n = (int)h->nstripes, rc;
    if (n != 1 && n != TAB_STRIPES)         /* a damaged header: never an index past stripe[] */
        return err_set(SHMETS_EBADSEG, "table %llu is damaged: its header counts %d writer locks" SALVAGE_HINT,
                       (unsigned long long)t->id, n);
    if (n == 1 || stripe == TAB_ALL) {
        for (int i = 0; i < n; i++) {
            struct stripe_arg a = { t, i };
            if ((rc = wlock_acquire(&h->stripe[i].lock, stripe_recover, &a))) {
                release_stripes(t, i);
                return rc;
            }
        }
        if (n > 1 && (rc = wlock_acquire(&h->hlock, heap_recover, t))) {
            release_stripes(t, n);
            return rc;
        }
        p->stripe = TAB_ALL;
        p->heap_held = 1;
        if (atomic_load(&h->sweep_needed) && (rc = sweep(t))) {
            tab_unlock(t, p);
            return rc;
        }
    } else {
        struct stripe_arg a = { t, stripe };
        if ((rc = wlock_acquire(&h->stripe[stripe].lock, stripe_recover, &a)))
            return rc;
        if (atomic_load(&h->sweep_needed)) {
            /* A writer died (T.4).  If it held every stripe, its intent is in stripe 0's
             * record and part of it may touch this stripe: nothing may be written here
             * before that record is replayed and the sweep has run, so take everything. */
            wlock_release(&h->stripe[stripe].lock);
            return tab_lock(t, p, TAB_ALL);
        }
        p->stripe = stripe;
        p->heap_held = 0;
    }
    if (atomic_load(&h->root.deleted)) {
        tab_unlock(t, p);
        return err_set(SHMETS_ENOENT, "table %llu was deleted", (unsigned long long)t->id);
    }
    return 0;
}

void tab_unlock(struct tab *t, struct plan *p)
{
    if (p->stripe == TAB_ALL) {
        if (t->h->nstripes > 1)
            wlock_release(&t->h->hlock);
        release_stripes(t, (int)t->h->nstripes);
    } else {
        wlock_release(&t->h->stripe[p->stripe].lock);
    }
}

/* ---- check -------------------------------------------------------------------------------- */

int tab_check(struct tab *t)
{
    struct tab_hdr *h = t->h;
    uint64_t used, limbo_tagged, limbo_listed;
    int rc;
    for (uint32_t i = 0; i < h->nstripes; i++)
        if (atomic_load(&h->stripe[i].intent) != 0)
            return err_set(SHMETS_EBADSEG, "T.1 an intent record is pending with the lock free");
    if (atomic_load(&h->root.seq) & 1)
        return err_set(SHMETS_EBADSEG, "T.3 the publish sequence is odd with the lock free");
    if ((rc = alloc_check(&h->heap, &t->s, &used, &limbo_tagged)))
        return rc;
    if ((rc = limbo_check(&h->limbo, &h->heap, &t->s, &limbo_listed)))
        return rc;
    if (limbo_listed != limbo_tagged)
        return err_set(SHMETS_EBADSEG, "L.2 %llu bytes are in limbo blocks, limbo lists %llu",
                       (unsigned long long)limbo_tagged, (unsigned long long)limbo_listed);
    if ((rc = t->ops->check(t)))
        return rc;
    /* Accounting: the blocks in use are exactly those the index and limbo's chunks reach. */
    struct marks m;
    if ((rc = marks_init(&m, t)))
        return rc;
    uint64_t objs, keys;
    rc = t->ops->mark(t, mark, &m, &objs, &keys);
    if (!rc)
        tab_mark_extra(t, mark, &m);
    for (uint64_t c = h->limbo.spare; !rc && c; c = ((struct limbo_chunk *)(t->s.base + c))->next)
        mark(&m, c);
    for (uint64_t c = h->limbo.head; !rc && c; c = ((struct limbo_chunk *)(t->s.base + c))->next)
        mark(&m, c);
    free(m.bits);
    if (rc)
        return rc;
    if (m.twice)
        return err_set(SHMETS_EBADSEG, "A.1 %llu blocks are reached twice", (unsigned long long)m.twice);
    if (m.bytes != used)
        return err_set(SHMETS_EBADSEG, "A.2 %llu bytes are in use but the index and limbo reach %llu (%s)",
                       (unsigned long long)used, (unsigned long long)m.bytes, m.bytes < used ? "a leak" : "damage");
    return 0;
}

/* plan_alloc (commit.h) lives here, by the heap lock it takes, so that plan.c needs no table. */
int plan_alloc(struct plan *p, struct tab *t, uint64_t size, uint64_t *off)
{
    if (p->err)
        return p->err;
    int rc = plan_fresh_room(p);
    if (rc || (rc = tab_heap_enter(t, p)))
        return rc;
    rc = alloc_alloc(&t->h->heap, &t->s, size, off);
    tab_heap_leave(t, p);
    if (rc)
        return rc;
    p->fresh[p->nfresh++] = *off;
    return 0;
}
