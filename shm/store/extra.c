/*
 * extra.c — what the table header holds besides the index and limbo: the heir's data (an
 * ets:setopts/give_away heir's Data term, in a heap block of its own) and the spare empty
 * index that lets delete_all_objects run in a full table.  Both are planned and published as
 * any write is (plan.h, commit.c), and tab_mark_extra (tab.h) marks them for recovery.
 */
#include "store/extra.h"
#include "store/commit.h"
#include "base/util.h"

#include <stddef.h>
#include <string.h>

/* ---- the heir's data ----------------------------------------------------------------------- */

int tab_put_heir_data(struct tab *t, struct plan *p, shmets_term data)
{
    uint64_t old = atomic_load(&t->h->heir_data), off = 0;
    if (data.ptr && data.len) {
        int rc = plan_alloc(p, t, 8 + data.len, &off);
        if (rc)
            return rc;
        uint64_t len = data.len;
        memcpy(t->s.base + off, &len, 8);
        memcpy(t->s.base + off + 8, data.ptr, data.len);
    }
    if (old)
        plan_retire(p, old);
    plan_store(p, offsetof(struct tab_hdr, heir_data), off);
    return p->err;
}

void tab_make_spare(struct tab *t)
{
    struct tab_hdr *h = t->h;
    if (atomic_load(&h->spare_root))
        return;
    struct plan p;
    plan_init(&p);
    p.stripe = TAB_ALL;
    p.heap_held = 1;
    int rc = t->ops->init(t, &p);
    uint64_t word = plan_word(&p, &t->s, offsetof(struct tab_hdr, root.word));
    if (!rc && !p.err && p.nfresh == 1 && word != atomic_load(&h->root.word)) {
        atomic_store(&h->spare_block, p.fresh[0]);      /* reached: marked by tab_mark_extra */
        atomic_store(&h->spare_root, word);
        p.nfresh = 0;
    }
    tab_abandon(t, &p);
    plan_free(&p);
}
