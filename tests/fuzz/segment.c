/*
 * segment.c — fuzz target: a damaged table segment (issue 20).  Readers of a table whose
 * segment another process scribbled on get answers (maybe wrong) or -SHMETS_EBADSEG, never a
 * crash, a hang, an out-of-bounds read or another sanitizer report.
 *
 * The input says what table to build and how to damage it:
 *   byte 0   kind (bits 0-1: set, ordered_set, bag, duplicate_bag), bit 2 compressed;
 *            the values 8..15 (bits 3-7 = 00001): the trial (below)
 *   byte 1   objects - 1 (1..256), each a tuple of mixed types (some long enough to be
 *            compressed); a bag has two objects a key
 *   then     damage records of 12 bytes: where (byte 0 % 5), a 24-bit position, a length
 *            (1..8) and 8 bytes to write:
 *              0 the table header (struct tab_hdr: heap, index root, locks, counts)
 *              1 an object's header (the object of key position % objects)
 *              2 an object's bytes
 *              3 anywhere in the first 256 KiB of the segment (index nodes, buckets, heap
 *                block headers, objects)
 *              4 near an object (±256 bytes: the neighbouring blocks, often its index node)
 * The trial (byte 0 in 8..15): 2,000 objects and 200 random 8-byte words in the first 600 KB, the
 * random numbers seeded by bytes 2..9 — the case the issue reported (seed tests/fuzz/segment/
 * trial-*).
 * Then every read call runs (tests/damage.h dmg_read_all: lookups, member, lookup_element,
 * views, info, size, memory, select_count, first/next, last/prev, range selects, select with a
 * limit, tab2list, foldl, slot, shmets_check) and each result is printed; then
 * shmets_salvage, whose new table must pass shmets_check and hold at most the objects made.
 * The instance is fuzz_inst() (F.2), destroyed at the end.
 */
#include "fuzz.h"
#include "../damage.h"
#include "store/sobj.h"

static void make_object(long i, int bag, shmets_term *out)
{
    char txt[512];
    long k = bag ? i / 2 : i;
    if (i % 3 == 0)
        snprintf(txt, sizeof txt, "{%ld, <<\"%ld aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">>, %ld}",
                 k, i, i);
    else if (i % 3 == 1)
        snprintf(txt, sizeof txt, "{%ld, 'atom %ld', -123456789012345678901234567890, [1, 2.5 | x], #{a => %ld}}", k, i, i);
    else
        snprintf(txt, sizeof txt, "{%ld, \"str%ld\", {<<1:3>>, [], {}}, %ld.25}", k, i, i);
    FUZZ_CHECK(shmets_term_parse(txt, strlen(txt), out) == 0);
}

/* The stored object of key k, or 0 (read straight from the index, as a reader would). */
static uint64_t object_of(shmets_tab *t, long k)
{
    char txt[32];
    shmets_term key;
    snprintf(txt, sizeof txt, "%ld", k);
    if (shmets_term_parse(txt, strlen(txt), &key))
        return 0;
    uint64_t off = t->ops->lookup(t, key.ptr, (uint32_t)key.len, tab_hash(t, key));
    shmets_term_free(&key);
    return off;
}

static void put(unsigned char *base, uint64_t size, uint64_t off, const uint8_t *v, size_t n)
{
    if (off < size && n <= size - off)
        memcpy(base + off, v, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const enum shmets_kind kinds[4] = { SHMETS_SET, SHMETS_ORDERED_SET, SHMETS_BAG, SHMETS_DUPLICATE_BAG };
    int trial = data[0] >> 3 == 1;      /* 8..15: rare, as a trial costs 2,000 inserts */
    shmets *db;
    FUZZ_CHECK(shmets_open(fuzz_inst(), &db) == 0);
    shmets_opts o;
    shmets_opts_init(&o);
    o.kind = kinds[data[0] & 3];
    o.access = SHMETS_PUBLIC;
    o.compressed = (data[0] & 4) != 0;
    shmets_tab *t;
    FUZZ_CHECK(shmets_new(db, "seg", &o, &t) == 0);
    int bag = o.kind == SHMETS_BAG || o.kind == SHMETS_DUPLICATE_BAG;
    long n = trial ? 2000 : 1 + (long)data[1];
    if (trial) {
        FUZZ_CHECK(dmg_fill(t, n) == 0);
    } else {
        for (long i = 0; i < n; i++) {
            shmets_term x;
            make_object(i, bag, &x);
            FUZZ_CHECK(shmets_insert(t, x) == 0);
            shmets_term_free(&x);
        }
    }
    uint64_t segsize;
    unsigned char *base = dmg_segment(t, &segsize);
    uint64_t seed = 0;
    if (trial) {
        for (size_t i = 2; i < 10 && i < size; i++)
            seed = seed << 8 | data[i];
        dmg_scribble(t, &seed, 200, 600u * 1024);
    } else {
        long keys = bag ? n / 2 + 1 : n;
        for (size_t at = 2; at + 12 <= size; at += 12) {
            const uint8_t *r = data + at;
            uint64_t pos = (uint64_t)r[1] << 16 | (uint64_t)r[2] << 8 | r[3];
            size_t len = 1 + (r[4] & 7);
            const uint8_t *v = r + 4;           /* r[4] doubles as the first byte written */
            uint64_t obj = 0;
            if (r[0] % 5 == 1 || r[0] % 5 == 2 || r[0] % 5 == 4)
                obj = object_of(t, (long)(pos % (uint64_t)keys));
            switch (r[0] % 5) {
            case 0: put(base, segsize, pos % sizeof(struct tab_hdr), v, len); break;
            case 1: if (obj) put(base, segsize, obj + (pos >> 8) % SOBJ_LONG_HDR, v, len); break;
            case 2:
                if (obj) {
                    const struct sobj *so = sobj_at(&t->s, obj);
                    if (so && sobj_len(so))
                        put(base, segsize, obj + sobj_hdr(so) + (pos >> 8) % sobj_len(so), v, len);
                }
                break;
            case 3: put(base, segsize, pos % (256u * 1024), v, len); break;
            case 4: if (obj) put(base, segsize, obj - 256 + (pos >> 8) % 512, v, len); break;
            }
        }
        seed = size;
    }
    dmg_read_all(db, t, &seed, trial ? 300 : 40, bag ? n / 2 + 1 : n);
    /* Salvage (tabsalvage.c V.1): what it keeps passes shmets_check. */
    shmets_tab *nt;
    shmets_salvage_report rep;
    int rc = shmets_salvage(t, "seg2", &nt, &rep);
    FUZZ_CHECK(rc <= 0);                /* an error is an answer (a header damaged to say
                                           "deleted" is -SHMETS_ENOENT) */
    if (rc == 0) {
        FUZZ_CHECK(rep.kept <= (uint64_t)n);
        FUZZ_CHECK(shmets_check(nt) == 0);
        shmets_detach(nt);
    }
    shmets_detach(t);
    shmets_close(db);
    FUZZ_CHECK(shmets_destroy_instance(fuzz_inst()) == 0);
    return 0;
}
