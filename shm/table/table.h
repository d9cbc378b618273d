/*
 * table.h — private to libshmets (not installed): what the front-end files of shm/table/ share
 * (table.c, tabread.c, tabwrite.c, tabinfo.c, tabview.c, tabselect.c, tabstats.c, inst.c).
 * The table segment and the handles are store/tab.h's; commit and recovery, store/commit.c's.
 */
#ifndef SHMETS_TABLE_H
#define SHMETS_TABLE_H

#include "store/commit.h"
#include "store/extra.h"
#include "store/index.h"
#include "store/sobj.h"
#include "store/tab.h"
#include "table/inst.h"
#include "shmets.h"
#include <stdlib.h>


/* table.c, shared with the other front-end files (tabread.c, tabwrite.c, tabinfo.c). */
struct tbuf;
/* tab_lock (commit.h) for the front end: first refuses a write from inside the calling
 * thread's own read section of the instance (-SHMETS_EINVAL: it would wait for itself). */
int  tab_write_lock(struct tab *t, struct plan *p, int stripe);
/* Readers may read this table (0), or -SHMETS_EOWNER (private, not the owner). */
int  tab_read_access(struct tab *t);
/* Writers may write it (0), or -SHMETS_EOWNER naming the call. */
int  tab_write_access(struct tab *t, const char *call);
/* Delete and rename, which change the table for everyone: the owner (by pid) of a table that
 * is not public; and, for any table, a process of the uid that owns its segment, or root —
 * in an instance shared with a group a member of another uid may write a public table but
 * not delete or rename it (nor could it remove the segment: /dev/shm is sticky).
 * Returns 0 or -SHMETS_EOWNER. */
int  tab_admin_access(struct tab *t, const char *call);
/* Objects a chain can hold at most (a bound for walks of a damaged segment). */
uint64_t tab_chain_max(const struct tab *t);
/* Append the chain from off to b as a list term ([] for 0). */
void tab_copy_chain(const struct tab *t, uint64_t off, struct tbuf *b);
/* tabfast.c: key as a prepared key of t (its hash for t's seed; 0 for an ordered_set, whose
 * index reads none; a key over 4 GiB as an empty key, found nowhere).  No checks. */
void tab_key_of(const struct tab *t, shmets_term key, shmets_key *k);
/* shmets_lookup the general way: any index, any object form (table.c). */
int  tab_lookup(struct tab *t, shmets_term key, shmets_term *objects);
/* shmets_member the general way (table.c). */
int  tab_member(struct tab *t, shmets_term key, int *found);
/* One key of a hash table read the short way (tabfast.c): fn on its first object (NULL: none)
 * inside a read section; TAB_FAST_NO (from it or from fn) means "go the general way". */
#define TAB_FAST_NO 1
/* A short read's result buffer of at least len bytes (malloc'd, *cap its size), kept across
 * the retries that need no more: 0 or -SHMETS_ENOMEM. */
static inline int tab_fast_room(unsigned char **buf, size_t *cap, size_t len)
{
    if (len <= *cap)
        return 0;
    free(*buf);
    if (!(*buf = malloc(len)))
        return err_set(SHMETS_ENOMEM, "a result of %zu bytes", len);
    *cap = len;
    return 0;
}
int  tab_fast_read(struct tab *t, shmets_term key, int (*fn)(struct tab *t, const struct sobj *x, void *arg), void *arg);
/* tabfast.c: may a view call read t here — inside the caller's read section, a table whose
 * objects are terms (not compressed), readable by this process, not deleted?  0 or the error
 * (-SHMETS_EINVAL, -SHMETS_EOWNER, -SHMETS_ENOENT) with its detail. */
int  tab_view_section(struct tab *t);
/* Run fn inside a read section, again while a multi-word publish overlapped it (fn must start
 * its output afresh each time).  Checks access and deletion first. */
int  tab_read(struct tab *t, int (*fn)(struct tab *t, void *arg), void *arg);
/* tabread.c: visit every object in traversal order (reverse: an ordered_set backwards), a few
 * keys per read section; each() gets the objects copied out (encodings one after another, and
 * their lengths in lens when the section copied at most 256 objects, else lens NULL) and runs
 * outside any section.  each returns 0 to go on; anything else ends the traversal and is
 * returned.  after (may be NULL): start after this key (which need not be stored). */
int  tab_traverse(struct tab *t, int reverse, const shmets_term *after,
                  int (*each)(const unsigned char *objs, const size_t *lens, size_t n, void *arg), void *arg);
/* tabwrite.c: replace the object `old` by `repl` (same key) if old is still stored, as one
 * write.  Returns 1 if replaced, 0 if old is not there, or an error. */
int  tab_replace_object(struct tab *t, shmets_term old, shmets_term repl);
/* Run fn with every stripe and the heap held. */
int  tab_with_all(struct tab *t, int (*fn)(struct tab *t, void *arg), void *arg);
/* Is the table fixed (safe_fixtable) by a live process? */
int  tab_fixed(struct tab *t);
/* Background reclamation (etsmgr's reclaimer, store/commit.c RECLAMATION): visits up to
 * `ntables` tables of the catalog, the first whose id is above *cursor (wrapping; *cursor is
 * left at the last visited); a table whose limbo holds entries and that nothing has reclaimed
 * for `idle_ns` is attached read-write, kernel permitting (freeing what readers are done with
 * changes no content, so the owner rule does not apply), and up to `max` entries are reclaimed
 * under its writer lock.  *freed (may be NULL) adds the entries freed.  Bounded: ntables
 * attaches and ntables * max frees.  Returns 0, or an error of the catalog. */
int  tab_reclaim_idle(struct shmets *db, uint64_t *cursor, unsigned ntables, uint64_t idle_ns,
                      uint64_t max, uint64_t *freed);

#endif
