/*
 * damage.h — what the damaged-segment test (test_damage.c) and the segment fuzz target
 * (tests/fuzz/segment.c) share (test code, never part of the library): fill a table, scribble
 * on its segment as a stray write of another process would, and run every read call on it.
 *
 * The property both check is issue 20's: a reader of a damaged table gets answers (maybe
 * wrong) or errors, never a crash, a hang or a sanitizer report.  dmg_read_all() returns the
 * number of calls that answered -SHMETS_EBADSEG; any other outcome but 0 is fine too, except
 * that an error must carry a detail.
 */
#ifndef SHMETS_DAMAGE_H
#define SHMETS_DAMAGE_H

#include "shmets.h"
#include "store/tab.h"
#include "intkey.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A small deterministic generator (splitmix64). */
static inline uint64_t dmg_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Object i of the trial: a 5-tuple of mixed types whose key is i. */
static inline int dmg_object(long i, shmets_term *out)
{
    char txt[256];
    snprintf(txt, sizeof txt, "{%ld, <<\"value %ld\">>, \"str%ld\", [a, {b, %ld}, 'c d'], %ld.5}", i, i, i, i, i);
    return shmets_term_parse(txt, strlen(txt), out);
}

static inline int dmg_fill(shmets_tab *t, long n)
{
    for (long i = 0; i < n; i++) {
        shmets_term x;
        int rc = dmg_object(i, &x);
        if (!rc)
            rc = shmets_insert(t, x);
        shmets_term_free(&x);
        if (rc)
            return rc;
    }
    return 0;
}

/* The table's segment as this process maps it (a public table: read-write). */
static inline unsigned char *dmg_segment(shmets_tab *t, uint64_t *size)
{
    *size = t->s.size;
    return t->s.base;
}

/* Overwrite `words` random aligned 8-byte words in the first `span` bytes of t's segment. */
static inline void dmg_scribble(shmets_tab *t, uint64_t *seed, int words, uint64_t span)
{
    uint64_t size;
    unsigned char *base = dmg_segment(t, &size);
    if (span > size)
        span = size;
    for (int i = 0; i < words; i++) {
        uint64_t off = (dmg_rand(seed) % (span / 8)) * 8, v = dmg_rand(seed);
        memcpy(base + off, &v, 8);
    }
}

/* Print a result the way the tool would (the printer is a walker too). */
static inline void dmg_print(shmets_term x)
{
    char *txt;
    if (x.ptr && shmets_term_format(x, &txt, NULL) == 0)
        free(txt);
}

static inline int dmg_note(int rc, int *bad)
{
    if (rc == -SHMETS_EBADSEG) {
        (*bad)++;
        if (!shmets_errdetail() || !*shmets_errdetail()) {
            fprintf(stderr, "damage: -SHMETS_EBADSEG without a detail\n");
            abort();
        }
    }
    return rc;
}

static inline shmets_ms *dmg_ms(const char *text)
{
    shmets_term spec;
    shmets_ms *ms = NULL;
    if (shmets_term_parse(text, strlen(text), &spec) == 0) {
        shmets_ms_compile(spec, &ms);
        shmets_term_free(&spec);
    }
    return ms;
}

/* Every read call, as the trial runs them: `lookups` lookups of keys 0..nkeys-1 (and a
 * few absent), info, select_count, first/next, a range select, tab2list, and then the rest of
 * the read API (last/prev, slot, foldl, lookup_element, member, views and range views in read
 * sections, a walk of the whole table by range views, select with a limit, info items, memory,
 * shmets_check).  Returns the calls that said EBADSEG. */
static int dmg_fold_fn(shmets_term obj, void *arg)
{
    (void)arg;
    dmg_print(obj);
    return 0;
}

/* A batch of 20 drawn keys (the hash index's three passes: bucket lines, candidates, keys)
 * by prepared keys and by terms, inside the caller's read section. */
static inline void dmg_batch(shmets_tab *t, uint64_t *seed, long nkeys, int *bad)
{
    enum { NB = 20 };
    unsigned char kb[NB][5];
    shmets_term keys[NB], objs[NB];
    shmets_key pk[NB];
    size_t found;
    for (int j = 0; j < NB; j++) {
        long key = (long)(dmg_rand(seed) % (uint64_t)(nkeys + nkeys / 10 + 1));
        keys[j] = int_key((uint32_t)key, kb[j]);
        if (shmets_key_prepare(t, keys[j], &pk[j]))
            return;
    }
    if (dmg_note(shmets_lookup_bulk_view_keys(t, pk, NB, objs, &found), bad) == 0)
        for (int j = 0; j < NB; j++)
            dmg_print(objs[j]);
    if (dmg_note(shmets_lookup_bulk_view(t, keys, NB, objs, &found), bad) == 0)
        for (int j = 0; j < NB; j++)
            dmg_print(objs[j]);
}

static inline int dmg_read_all(shmets *db, shmets_tab *t, uint64_t *seed, int lookups, long nkeys)
{
    int bad = 0;
    shmets_term x, k, nx;
    for (int i = 0; i < lookups; i++) {
        long key = (long)(dmg_rand(seed) % (uint64_t)(nkeys + nkeys / 10 + 1));
        char txt[32];
        snprintf(txt, sizeof txt, "%ld", key);
        if (shmets_term_parse(txt, strlen(txt), &k))
            continue;
        if (dmg_note(shmets_lookup(t, k, &x), &bad) == 0) {
            dmg_print(x);
            shmets_term_free(&x);
        }
        dmg_note(shmets_member(t, k, &(int){ 0 }), &bad);
        if (dmg_note(shmets_lookup_element(t, k, 2, NULL, &x), &bad) == 0) {
            dmg_print(x);
            shmets_term_free(&x);
        }
        shmets_term objs[4];
        size_t n;
        if (i % 8 == 0 && shmets_read_begin(db) == 0) {      /* the view calls, in a section */
            if (dmg_note(shmets_lookup_view(t, k, objs, 4, &n), &bad) == 0)
                for (size_t j = 0; j < n && j < 4; j++)
                    dmg_print(objs[j]);
            static const unsigned fl[] = { 0, SHMETS_RANGE_AFTER, SHMETS_RANGE_REVERSE };
            if (dmg_note(shmets_range_view(t, k, fl[(i / 8) % 3], objs, 4, &n), &bad) == 0)
                for (size_t j = 0; j < n && j < 4; j++)
                    dmg_print(objs[j]);
            dmg_batch(t, seed, nkeys, &bad);
            shmets_read_end(db);
        }
        shmets_term_free(&k);
    }
    shmets_tab_info info;
    dmg_note(shmets_info(t, &info), &bad);
    if (dmg_note(shmets_info_term(t, &x), &bad) == 0) {
        dmg_print(x);
        shmets_term_free(&x);
    }
    uint64_t cnt, used, fr;
    dmg_note(shmets_size(t, &cnt), &bad);
    dmg_note(shmets_memory(t, &used, &fr), &bad);
    shmets_ms *all = dmg_ms("[{'_', [], [true]}]");
    if (all) {
        dmg_note(shmets_select_count(t, all, &cnt), &bad);
        shmets_ms_free(all);
    }
    /* first/next and last/prev, bounded */
    for (int dir = 0; dir < 2; dir++) {
        int rc = dmg_note(dir ? shmets_last(t, &k) : shmets_first(t, &k), &bad);
        for (long steps = 0; rc == 0 && k.ptr && steps < nkeys + 100; steps++) {
            dmg_print(k);
            rc = dmg_note(dir ? shmets_prev(t, k, &nx) : shmets_next(t, k, &nx), &bad);
            shmets_term_free(&k);
            if (rc == 0)
                k = nx;
        }
        if (rc == 0)
            shmets_term_free(&k);
    }
    shmets_ms *range = dmg_ms("[{{'$1','_','_','_','_'}, [{'>=','$1',100}, {'<','$1',300}], ['$_']}]");
    if (range) {
        if (dmg_note(shmets_select(t, range, false, &x), &bad) == 0) {
            dmg_print(x);
            shmets_term_free(&x);
        }
        if (dmg_note(shmets_select(t, range, true, &x), &bad) == 0) {
            dmg_print(x);
            shmets_term_free(&x);
        }
        shmets_term cont;
        if (dmg_note(shmets_select_limit(t, range, 50, false, &x, &cont), &bad) == 0) {
            dmg_print(x);
            shmets_term_free(&x);
            shmets_term_free(&cont);
        }
        shmets_ms_free(range);
    }
    /* The whole table by range views, 16 objects a section, bounded. */
    {
        shmets_term v[16], from = { NULL, 0 };
        unsigned char last[256];
        unsigned flags = 0;
        for (long steps = 0; steps < nkeys / 16 + 20; steps++) {
            size_t n = 0;
            if (shmets_read_begin(db) != 0)
                break;
            int rc = dmg_note(shmets_range_view(t, from, flags, v, 16, &n), &bad);
            for (size_t j = 0; rc == 0 && j < n; j++)
                dmg_print(v[j]);
            shmets_term key;
            int go = rc == 0 && n > 0 && shmets_term_key(v[n - 1], 1, &key) == 0 && key.len <= sizeof last;
            if (go) {
                memcpy(last, key.ptr, key.len);
                from = (shmets_term){ last, key.len };
                flags = SHMETS_RANGE_AFTER;
            }
            shmets_read_end(db);
            if (!go)
                break;
        }
    }
    if (dmg_note(shmets_tab2list(t, &x), &bad) == 0) {
        dmg_print(x);
        shmets_term_free(&x);
    }
    dmg_note(shmets_foldl(t, dmg_fold_fn, NULL), &bad);
    for (uint64_t s = 0; s < 4; s++)
        if (dmg_note(shmets_slot(t, s, &x), &bad) == 0)
            shmets_term_free(&x);
    dmg_note(shmets_check(t), &bad);
    return bad;
}

#endif
