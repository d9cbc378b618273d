/*
 * peer_shmets.c — shmets itself, through four of its APIs (each reported under its own name):
 *
 *   shmets        copying: the key prepared (shmets_key_prepare: its hash, every call, as
 *                 every peer hashes its key), shmets_lookup_into copies the object
 *                 {Key, <<Value>>} into a buffer of the reader's, the value is reached with
 *                 the accessors (tuple element, binary), copied and folded.  A set (R1-R3),
 *                 an ordered_set (O1).  (Issue 8's figures used shmets_lookup, which also
 *                 builds and frees a list: tabfast.c says what the short path leaves out.)
 *   shmets-zc     zero copy: shmets_read_begin, shmets_lookup_view_key, the accessors on the
 *                 view, shmets_read_end: one read section per key.
 *   shmets-batch  shmets_lookup_bulk_view_keys of 32 keys prepared in the call, in one read
 *                 section.
 *   shmets-kv     the byte-key calls on a table of {<<Key:64/little>>, <<Value>>}:
 *                 shmets_kv_get (copies the value), shmets_kv_put for the writer.
 *
 * KEYS.  A lookup needs its key as a term.  The API makes terms in memory of its own (the
 * builder, shmets_term_from_etf), so the benchmark writes an integer key's canonical
 * encoding (what erlang:term_to_binary gives, less the 131) into a stack buffer itself, and
 * checks at load time that it is byte for byte what the builder makes for every key.
 * Writers go through the builder, viewed without a copy (shmets_builder_view), or kv_put, as a
 * C program writing new values would.
 *
 * R3 takes every writer lock of the table through the library's own tab_with_all (a private
 * function: shm/table/table.h) and stops there, as a writer stopped in the middle of a write would.
 *
 * Each store is an instance of its own ("<tag>.set", "<tag>.ord", "<tag>.kv"), destroyed by
 * unload (and by the guardian if the run is interrupted).
 */
#include "bench.h"
#include "etf.h"
#include "shmets.h"
#include "table/table.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

enum api { API_COPY, API_ZC, API_BATCH, API_KV };

struct store {
    char inst[96];
    uint64_t id;
    shmets *db;                 /* the loading process's handle (children open their own) */
    shmets_tab *t;
};

static struct store stores[3];  /* set, ordered_set, kv */

static struct store *store_of(enum api a, int ordered)
{
    return &stores[a == API_KV ? 2 : ordered ? 1 : 0];
}

static void fail(const char *what, int rc)
{
    fprintf(stderr, "shmets-bench: shmets: %s: %s (%s)\n", what, shmets_strerror(rc), shmets_errdetail());
}

/* The canonical encoding of integer k (etf.h) in b, as a term. */
static inline shmets_term key_term(uint64_t k, unsigned char b[16])
{
    return (shmets_term){ b, etf_uint(k, b) };
}

/* ---- loading ------------------------------------------------------------------------------ */

#define LOAD_LIST 1000

static int load_terms(struct store *s, const struct cfg *c)
{
    shmets_builder *b;
    int rc = shmets_builder_create(&b);
    if (rc)
        return fail("builder", rc), -1;
    unsigned char v[VALUE_BYTES], kb[16];
    for (uint64_t i = 0; i < c->objects && !rc; i += LOAD_LIST) {
        uint64_t m = c->objects - i < LOAD_LIST ? c->objects - i : LOAD_LIST;
        shmets_build_list(b, m);
        for (uint64_t k = i; k < i + m; k++) {
            make_value(k, 0, v);
            shmets_build_tuple(b, 2);
            shmets_build_uint(b, k);
            shmets_build_binary(b, v, sizeof v);
        }
        shmets_build_nil(b);
        shmets_term list;
        if ((rc = shmets_builder_finish(b, &list)))
            fail("build", rc);
        else if ((rc = shmets_insert(s->t, list)))
            fail("insert", rc);
        shmets_term_free(&list);
    }
    /* The readers' key encoding is the library's, for every key. */
    for (uint64_t k = 0; k < c->objects && !rc; k++) {
        shmets_term t, mine = key_term(k, kb);
        shmets_build_uint(b, k);
        if ((rc = shmets_builder_finish(b, &t)))
            fail("build key", rc);
        else if (!shmets_term_exact_equal(t, mine)) {
            fprintf(stderr, "shmets-bench: shmets: the key encoding of %llu is not canonical\n", (unsigned long long)k);
            rc = -1;
        }
        shmets_term_free(&t);
    }
    shmets_builder_destroy(b);
    return rc ? -1 : 0;
}

static int load_kv(struct store *s, const struct cfg *c)
{
    unsigned char v[VALUE_BYTES];
    for (uint64_t k = 0; k < c->objects; k++) {
        make_value(k, 0, v);
        int rc = shmets_kv_put(s->t, &k, sizeof k, v, sizeof v);
        if (rc)
            return fail("kv_put", rc), -1;
    }
    return 0;
}

static int load(enum api a, const struct cfg *c, int ordered, uint64_t *mem)
{
    struct store *s = store_of(a, ordered);
    snprintf(s->inst, sizeof s->inst, "%s.%s", c->tag, a == API_KV ? "kv" : ordered ? "ord" : "set");
    reg_inst(s->inst);
    int rc = shmets_open(s->inst, &s->db);
    if (rc)
        return fail("open", rc), -1;
    shmets_opts o;
    shmets_opts_init(&o);
    o.kind = ordered ? SHMETS_ORDERED_SET : SHMETS_SET;
    o.access = SHMETS_PUBLIC;
    o.max_bytes = c->objects * 512 + (256ull << 20);
    if ((rc = shmets_new(s->db, "bench", &o, &s->t)))
        return fail("new", rc), -1;
    s->id = shmets_id(s->t);
    if (a == API_KV ? load_kv(s, c) : load_terms(s, c))
        return -1;
    uint64_t size = 0;
    shmets_size(s->t, &size);
    if (size != c->objects) {
        fprintf(stderr, "shmets-bench: shmets: %llu objects after loading %llu\n", (unsigned long long)size,
                (unsigned long long)c->objects);
        return -1;
    }
    shmets_reclaim(s->t, 0, NULL);
    uint64_t used = 0, free_bytes = 0;
    shmets_memory(s->t, &used, &free_bytes);
    /* M: what /dev/shm holds for the table's segment and the instance's control segment. */
    char path[256];
    snprintf(path, sizeof path, "/dev/shm/shmets.%s.%llu", s->inst, (unsigned long long)s->id);
    *mem = file_bytes(path);
    uint64_t seg = *mem;
    snprintf(path, sizeof path, "/dev/shm/shmets.%s", s->inst);
    *mem += file_bytes(path);
    fprintf(stderr, "    (shmets %s: info memory %.1f MB in use + %.1f MB free in the heap; /dev/shm holds %.1f MB for "
            "the table, %.1f MB for the instance's control segment)\n", ordered ? "ordered_set" : "set",
            (double)used / 1e6, (double)free_bytes / 1e6, (double)seg / 1e6, (double)(*mem - seg) / 1e6);
    return 0;
}

static void unload(enum api a, int ordered)
{
    struct store *s = store_of(a, ordered);
    if (s->db) {
        shmets_close(s->db);
        shmets_destroy_instance(s->inst);
    }
    memset(s, 0, sizeof *s);
}

static int load_set(const struct cfg *c, int ordered, uint64_t *mem) { return load(API_COPY, c, ordered, mem); }
static int load_kvs(const struct cfg *c, int ordered, uint64_t *mem) { return load(API_KV, c, ordered, mem); }
static void unload_set(const struct cfg *c, int ordered) { (void)c; unload(API_COPY, ordered); }
static void unload_kvs(const struct cfg *c, int ordered) { (void)c; unload(API_KV, ordered); }

/* ---- readers ---------------------------------------------------------------------------- */

struct reader {
    enum api api;
    shmets *db;
    shmets_tab *t;
};

static void *open_api(enum api a, int ordered)
{
    struct store *s = store_of(a, ordered);
    struct reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->api = a;
    int rc = shmets_open(s->inst, &r->db);
    if (!rc && (rc = shmets_attach(r->db, s->id, &r->t)))
        shmets_close(r->db);
    if (rc) {
        fail("attach", rc);
        free(r);
        return NULL;
    }
    return r;
}

static void *open_copy(const struct cfg *c, int o, int i) { (void)c; (void)i; return open_api(API_COPY, o); }
static void *open_zc(const struct cfg *c, int o, int i) { (void)c; (void)i; return open_api(API_ZC, o); }
static void *open_batch(const struct cfg *c, int o, int i) { (void)c; (void)i; return open_api(API_BATCH, o); }
static void *open_kv(const struct cfg *c, int o, int i) { (void)c; (void)i; return open_api(API_KV, o); }

static void close_api(void *p)
{
    struct reader *r = p;
    shmets_close(r->db);
    free(r);
}

/* The value of object {K, <<V>>} through the accessors; 1 if it is not key k's, else 0. */
static inline long object_value(shmets_term obj, uint64_t k, uint64_t *sum)
{
    shmets_term v;
    const void *bytes;
    size_t len;
    if (shmets_term_tuple_element(obj, 2, &v) || shmets_term_get_binary(v, &bytes, &len) || len != VALUE_BYTES)
        return 1;
    unsigned char val[VALUE_BYTES];
    memcpy(val, bytes, sizeof val);
    return fold_value(k, val, sum);
}

static long lookup_copy(void *p, const uint64_t *keys, unsigned n, uint64_t *sum)
{
    struct reader *r = p;
    long bad = 0;
    unsigned char kb[16], buf[128];
    for (unsigned i = 0; i < n; i++) {
        shmets_key k;
        shmets_term obj;
        int rc = shmets_key_prepare(r->t, key_term(keys[i], kb), &k);
        if (!rc)
            rc = shmets_lookup_into(r->t, &k, buf, sizeof buf, &obj, NULL);
        if (rc == -SHMETS_ENOKEY) {
            bad++;
            continue;
        }
        if (rc)
            return fail("lookup_into", rc), -1;
        bad += object_value(obj, keys[i], sum);
    }
    return bad;
}

static long lookup_zc(void *p, const uint64_t *keys, unsigned n, uint64_t *sum)
{
    struct reader *r = p;
    long bad = 0;
    unsigned char kb[16];
    for (unsigned i = 0; i < n; i++) {
        shmets_key k;
        shmets_term obj;
        size_t cnt;
        int rc = shmets_key_prepare(r->t, key_term(keys[i], kb), &k);
        if (rc)
            return fail("key_prepare", rc), -1;
        if ((rc = shmets_read_begin(r->db)))
            return fail("read_begin", rc), -1;
        rc = shmets_lookup_view_key(r->t, &k, &obj, 1, &cnt);
        if (!rc)
            bad += cnt ? object_value(obj, keys[i], sum) : 1;
        shmets_read_end(r->db);
        if (rc)
            return fail("lookup_view_key", rc), -1;
    }
    return bad;
}

static long lookup_batch(void *p, const uint64_t *keys, unsigned n, uint64_t *sum)
{
    struct reader *r = p;
    unsigned char kb[CHUNK][16];
    shmets_key k[CHUNK];
    shmets_term objs[CHUNK];
    long bad = 0;
    for (unsigned i = 0; i < n; i++) {
        int rc = shmets_key_prepare(r->t, key_term(keys[i], kb[i]), &k[i]);
        if (rc)
            return fail("key_prepare", rc), -1;
    }
    int rc = shmets_read_begin(r->db);
    if (rc)
        return fail("read_begin", rc), -1;
    rc = shmets_lookup_bulk_view_keys(r->t, k, n, objs, NULL);
    if (!rc)
        for (unsigned i = 0; i < n; i++)
            bad += objs[i].ptr ? object_value(objs[i], keys[i], sum) : 1;
    shmets_read_end(r->db);
    if (rc)
        return fail("lookup_bulk_view_keys", rc), -1;
    return bad;
}

static long lookup_kv(void *p, const uint64_t *keys, unsigned n, uint64_t *sum)
{
    struct reader *r = p;
    long bad = 0;
    for (unsigned i = 0; i < n; i++) {
        unsigned char val[VALUE_BYTES];
        size_t len;
        uint64_t k = keys[i];           /* little-endian on this machine, as the table holds it */
        int rc = shmets_kv_get(r->t, &k, sizeof k, val, sizeof val, &len);
        if (rc == -SHMETS_ENOKEY) {
            bad++;
            continue;
        }
        if (rc)
            return fail("kv_get", rc), -1;
        bad += len != VALUE_BYTES || fold_value(keys[i], val, sum);
    }
    return bad;
}

/* ---- writers -------------------------------------------------------------------------------- */

struct writer {
    struct reader r;
    shmets_builder *b;
};

static void *writer_open(const struct cfg *c, int ordered)
{
    (void)c;
    struct writer *w = calloc(1, sizeof *w);
    struct reader *r = w ? open_api(API_COPY, ordered) : NULL;
    if (!r || shmets_builder_create(&w->b)) {
        free(w);
        return NULL;
    }
    w->r = *r;
    free(r);
    return w;
}

static void *writer_open_kv(const struct cfg *c, int ordered)
{
    (void)c;
    struct writer *w = calloc(1, sizeof *w);
    struct reader *r = w ? open_api(API_KV, ordered) : NULL;
    if (!r) {
        free(w);
        return NULL;
    }
    w->r = *r;
    free(r);
    return w;
}

static void writer_close(void *p)
{
    struct writer *w = p;
    shmets_builder_destroy(w->b);
    shmets_close(w->r.db);
    free(w);
}

static int write_term(void *p, uint64_t key, const unsigned char val[VALUE_BYTES])
{
    struct writer *w = p;
    shmets_term obj;
    shmets_build_tuple(w->b, 2);
    shmets_build_uint(w->b, key);
    shmets_build_binary(w->b, val, VALUE_BYTES);
    int rc = shmets_builder_view(w->b, &obj);      /* no copy: valid until the next build */
    if (!rc)
        rc = shmets_insert(w->r.t, obj);
    if (rc)
        fail("insert", rc);
    return rc;
}

static int write_kv(void *p, uint64_t key, const unsigned char val[VALUE_BYTES])
{
    struct writer *w = p;
    int rc = shmets_kv_put(w->r.t, &key, sizeof key, val, VALUE_BYTES);
    if (rc)
        fail("kv_put", rc);
    return rc;
}

static int stop_holding(struct tab *t, void *arg)
{
    (void)t;
    (void)arg;
    raise(SIGSTOP);
    return 0;
}

static int stall(void *p)
{
    struct writer *w = p;
    int rc = tab_with_all(w->r.t, stop_holding, NULL);
    if (rc)
        fail("tab_with_all", rc);
    return rc;
}

#define SHMETS_COMMON                                                                             \
    .unload = unload_set, .reader_close = close_api, .writer_open = writer_open, .write = write_term, \
    .stall = stall, .writer_close = writer_close

const struct peer peer_shmets = {
    .name = "shmets", .store = "shmets", .cases = C_R1 | C_R2 | C_R3 | C_O1 | C_M, .unit = 1,
    .note = "set (ordered_set for O1); key_prepare, lookup_into copies {K,<<V>>} into our buffer, accessors reach V",
    .load = load_set, .reader_open = open_copy, .lookup = lookup_copy, SHMETS_COMMON,
};

const struct peer peer_shmets_zc = {
    .name = "shmets-zc", .store = "shmets", .cases = C_R1 | C_R2 | C_R3 | C_O1, .unit = 1,
    .note = "key_prepare, read_begin, lookup_view_key, accessors on the view, copy V, read_end: one section a key",
    .load = load_set, .reader_open = open_zc, .lookup = lookup_zc, SHMETS_COMMON,
};

const struct peer peer_shmets_batch = {
    .name = "shmets-batch", .store = "shmets", .cases = C_R1 | C_R2 | C_R3 | C_O1, .unit = 32,
    .note = "32 key_prepare, read_begin, lookup_bulk_view_keys, accessors, copy each V, read_end (latency: a call / 32)",
    .load = load_set, .reader_open = open_batch, .lookup = lookup_batch, SHMETS_COMMON,
};

const struct peer peer_shmets_kv = {
    .name = "shmets-kv", .store = "shmets-kv", .cases = C_R1 | C_R2 | C_R3 | C_M, .unit = 1,
    .note = "set of {<<K:64/little>>,<<V>>}; shmets_kv_get copies V; the writer uses shmets_kv_put",
    .load = load_kvs, .unload = unload_kvs, .reader_open = open_kv, .lookup = lookup_kv,
    .reader_close = close_api, .writer_open = writer_open_kv, .write = write_kv, .stall = stall,
    .writer_close = writer_close,
};
