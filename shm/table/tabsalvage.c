/*
 * tabsalvage.c — shmets_salvage: copy every object of a damaged table that still validates
 * into a new table, and say how many were lost (issue 20; SQLite's `.recover` is the model).
 *
 * WHY NOT THROUGH THE INDEX.  A damaged table is damaged anywhere: a bucket array, a skip list
 * link or a block header scribbled on hides every object behind it from a walk of the index
 * or of the heap's tiling.  So salvage trusts neither: it scans the heap's address range word
 * by word for what an object looks like in its block — the 8 bytes before it a block header
 * tagged BLK_USED (alloc.h), then a stored object (sobj.h) that passes sobj_check, the whole
 * I.3 check: a canonical term whose key is its element keypos.  A valid object is copied and
 * the scan goes on after it; anything else is skipped 8 bytes at a time.  Blocks in limbo
 * (objects deleted or replaced, waiting for readers) are not taken.
 *
 * GUARANTEES
 *   V.1 Every object copied passed I.3, and is inserted again through shmets_insert (which
 *       canonicalises it once more): the new table passes shmets_check.
 *   V.2 The damaged table is only read (inside read sections, no writer lock: its lock may
 *       be damaged too), never changed; a stray write that goes on meanwhile can make an object
 *       fail and be dropped, never make a wrong one pass.
 *   V.3 Work is bounded by the segment's data, not by anything it says: one pass over the
 *       extents of the file that hold data (below, scan_fn), a compare a word where nothing
 *       is found.
 *   V.4 The report: kept (objects copied), recorded (the objects the table's header counts,
 *       itself possibly damaged) and dropped = recorded - kept when positive.
 * LIMITS.  The new table is named (newname finds it) and takes the kind, keypos, protection and compressed option the old one
 * had (its index kind, which this process chose when it attached, decides set vs ordered_set;
 * a damaged kind or keypos falls back to set and 1).  In a bag the objects of a key come in
 * the order of their addresses, not of their insertion.  An object whose bytes were damaged
 * into another valid object with the same key is kept: V.1 checks form, not history.
 */
#include "mem/alloc.h"
#include "store/index.h"
#include "store/sobj.h"
#include "store/tab.h"
#include "table/table.h"
#include "term/term.h"
#include "base/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct salv {
    struct tbuf objs;           /* the objects found, one encoding after another */
    uint64_t n, recorded;
};

/* Scan [lo, hi) of t's mapping for valid objects (lo a multiple of 8). */
static void scan_range(struct tab *t, struct salv *a, struct tbuf *tmp, uint64_t lo, uint64_t hi)
{
    const struct seg *s = &t->s;
    for (uint64_t off = lo + ALLOC_HDR; off < hi && hi - off >= SOBJ_SHORT_HDR && !a->objs.err; off += 8) {
        const struct blk *b = (const struct blk *)(s->base + off - ALLOC_HDR);
        if (b->tag != BLK_USED)
            continue;
        uint64_t cap = (uint64_t)b->size8 * 8;
        if (cap < ALLOC_HDR + SOBJ_SHORT_HDR || cap - ALLOC_HDR > s->size - off)
            continue;
        const struct sobj *o = sobj_at(s, off);
        if (!o || sobj_size(o) > cap - ALLOC_HDR || sobj_klen(o) == 0)
            continue;
        shmets_term obj;
        if (sobj_check(t, off, o, tmp, &obj))
            continue;
        tbuf_put(&a->objs, obj.ptr, obj.len);
        if (a->objs.err)
            break;
        a->n++;
        off += ((sobj_size(o) + 7) & ~(uint64_t)7) - 8;     /* on after the object */
    }
}

/* V.3: the segment is sparse (its reservation may be gigabytes, its heap's top a damaged
 * number), so the scan visits only the extents the file has data in (SEEK_DATA, SEEK_HOLE:
 * tmpfs keeps no pages for holes, which read as zeros and hold no object).  Where the file
 * system cannot say, [heap start, heap top) clipped to the mapping. */
static int scan_fn(struct tab *t, void *arg)
{
    struct salv *a = arg;
    const struct seg *s = &t->s;
    a->recorded = atomic_load_explicit(&t->h->objs, memory_order_relaxed);
    struct tbuf tmp;
    tbuf_init(&tmp, SHMETS_TERM_MAX_SIZE);
    off_t pos = SEG_PAGE, size = (off_t)s->size;
    off_t d = lseek(s->fd, pos, SEEK_DATA);
    if (d < 0 && errno != ENXIO) {
        uint64_t lo = SEG_PAGE, hi = s->size;
        uint64_t start = __atomic_load_n(&t->h->heap.start, __ATOMIC_RELAXED);
        uint64_t top = __atomic_load_n(&t->h->heap.top, __ATOMIC_RELAXED);
        if (start >= lo && start < hi && !(start & 7))
            lo = start;
        if (top > lo && top <= hi)
            hi = top;
        scan_range(t, a, &tmp, lo, hi);
    }
    while (d >= 0 && d < size && !a->objs.err) {
        off_t h = lseek(s->fd, d, SEEK_HOLE);
        if (h < 0 || h > size)
            h = size;
        scan_range(t, a, &tmp, (uint64_t)d & ~(uint64_t)7, (uint64_t)h);
        if (h >= size)
            break;
        d = lseek(s->fd, h, SEEK_DATA);
    }
    tbuf_free(&tmp);
    return a->objs.err;
}

static void salvage_opts(shmets_tab *t, shmets_opts *o)
{
    shmets_opts_init(o);
    unsigned kind = t->h->kind;
    if (t->ops == &skiplist_index_ops)
        o->kind = SHMETS_ORDERED_SET;
    else
        o->kind = kind == SHMETS_BAG || kind == SHMETS_DUPLICATE_BAG ? (enum shmets_kind)kind : SHMETS_SET;
    o->keypos = t->h->keypos >= 1 && t->h->keypos <= 255 ? t->h->keypos : 1;
    o->access = t->access;
    o->compressed = (t->h->flags & TABF_COMPRESSED) != 0;
    o->named = true;                /* so that NEWTAB finds it */
}

int shmets_salvage(shmets_tab *t, const char *newname, shmets_tab **out, shmets_salvage_report *rep)
{
    if (!t || !newname || !out || !rep)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_salvage");
    *out = NULL;
    memset(rep, 0, sizeof *rep);
    struct salv a = { .n = 0 };
    tbuf_init(&a.objs, (size_t)1 << 62);
    int rc = tab_read(t, scan_fn, &a);
    shmets_opts o;
    salvage_opts(t, &o);
    shmets_tab *nt = NULL;
    if (!rc)
        rc = shmets_new(t->db, newname, &o, &nt);
    const unsigned char *p = a.objs.p, *end = p ? p + a.objs.len : p;     /* nothing found: no buffer */
    while (!rc && p < end) {
        const unsigned char *e = term_end(p);       /* V.1: each passed sobj_check */
        rc = shmets_insert(nt, (shmets_term){ p, (size_t)(e - p) });
        p = e;
    }
    tbuf_free(&a.objs);
    if (rc) {
        if (nt)
            shmets_delete(nt);
        return rc;
    }
    rep->kept = a.n;
    rep->recorded = a.recorded;
    rep->dropped = a.recorded > a.n ? a.recorded - a.n : 0;
    *out = nt;
    return 0;
}
