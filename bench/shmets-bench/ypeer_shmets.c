/*
 * ypeer_shmets.c — shmets in the YCSB workloads, through its public C API only (shmets.h).
 *
 * The table is public with write_concurrency (a set; an ordered_set for e) in an instance of
 * its own ("<tag>.ycsb"), destroyed by unload (and by the guardian if the run is interrupted).
 * A record is the object {Key, <<Value:B/binary>>, Counter}, written as canonical ETF into a
 * buffer by the client itself (etf.h; checked against the builder's bytes at load):
 *
 *   read    shmets_read_begin, shmets_lookup_view, the value reached with the accessors and
 *           copied out, shmets_read_end: one read section an operation (the zero-copy API;
 *           shmets-zc of the read benchmark)
 *   update  shmets_insert of the new object (replacing it: a set)
 *   insert  shmets_insert of a new key
 *   rmw     shmets_update_counter(T, Key, {3, 1}), as ets:update_counter/3
 *   scan    one read section: shmets_range_view from the start key (up to 64 records a call,
 *           going on after the last key), each value reached and copied out as a read's is
 *           (an ordered_set: term order, which is integer order)
 *
 * After each run the loading process calls shmets_check on the table and compares
 * shmets_size with the records loaded plus every insert acknowledged.
 */
#include "ycsb.h"
#include "etf.h"
#include "shmets.h"

#include <stdio.h>
#include <stdlib.h>

static struct {
    char inst[96];
    uint64_t id;
    shmets *db;
    shmets_tab *t;
} S;

static int sfail(const char *what, int rc)
{
    fprintf(stderr, "shmets-bench: shmets: %s: %s (%s)\n", what, shmets_strerror(rc), shmets_errdetail());
    return -1;
}

/* {K, <<V:b>>, C} into o (room for b + 32 bytes); returns the term. */
static shmets_term record(unsigned char *o, uint64_t k, const unsigned char *v, unsigned b, uint64_t c)
{
    size_t n = 0;
    o[n++] = 104;               /* SMALL_TUPLE_EXT */
    o[n++] = 3;
    n += etf_uint(k, o + n);
    o[n++] = 109;               /* BINARY_EXT, 32-bit big-endian length */
    o[n++] = (unsigned char)(b >> 24);
    o[n++] = (unsigned char)(b >> 16);
    o[n++] = (unsigned char)(b >> 8);
    o[n++] = (unsigned char)b;
    memcpy(o + n, v, b);
    n += b;
    n += etf_uint(c, o + n);
    return (shmets_term){ o, n };
}

/* The builder's bytes for {k, <<v>>, 0} equal ours. */
static int same_as_builder(uint64_t k, const unsigned char *v, unsigned b, unsigned char *buf)
{
    shmets_builder *bl;
    shmets_term t;
    if (shmets_builder_create(&bl))
        return -1;
    shmets_build_tuple(bl, 3);
    shmets_build_uint(bl, k);
    shmets_build_binary(bl, v, b);
    shmets_build_uint(bl, 0);
    int rc = shmets_builder_finish(bl, &t);
    shmets_builder_destroy(bl);
    if (rc)
        return sfail("build", rc);
    shmets_term mine = record(buf, k, v, b, 0);
    rc = shmets_term_exact_equal(t, mine) ? 0 : -1;
    shmets_term_free(&t);
    if (rc)
        fprintf(stderr, "shmets-bench: shmets: the record encoding of key %llu is not canonical\n", (unsigned long long)k);
    return rc;
}

#define LOAD_LIST 1000

static int s_load(const struct ycfg *y, int ordered)
{
    snprintf(S.inst, sizeof S.inst, "%s.ycsb", y->c.tag);
    reg_inst(S.inst);
    shmets_destroy_instance(S.inst);
    int rc = shmets_open(S.inst, &S.db);
    if (rc)
        return sfail("open", rc);
    shmets_opts o;
    shmets_opts_init(&o);
    o.kind = ordered ? SHMETS_ORDERED_SET : SHMETS_SET;
    o.access = SHMETS_PUBLIC;
    o.write_concurrency = true;
    o.max_bytes = (y->c.objects + y->room) * (uint64_t)(y->value_bytes + 160) * 2 + (256ull << 20);
    if ((rc = shmets_new(S.db, "ycsb", &o, &S.t)))
        return sfail("new", rc);
    S.id = shmets_id(S.t);
    unsigned b = y->value_bytes;
    size_t rec = b + 32;
    unsigned char *v = malloc(b), *list = malloc(LOAD_LIST * rec + 16);
    if (!v || !list || same_as_builder(y_key(y, 12345), (y_value(y_key(y, 12345), 0, v, b), v), b, list) ||
        same_as_builder(y_key(y, 7), (y_value(y_key(y, 7), 0, v, b), v), b, list)) {
        free(v);
        free(list);
        return -1;
    }
    for (uint64_t i = 0; i < y->c.objects && !rc; i += LOAD_LIST) {
        uint64_t m = y->c.objects - i < LOAD_LIST ? y->c.objects - i : LOAD_LIST;
        size_t n = 0;
        list[n++] = 108;        /* LIST_EXT: 32-bit count, elements, tail */
        list[n++] = (unsigned char)(m >> 24);
        list[n++] = (unsigned char)(m >> 16);
        list[n++] = (unsigned char)(m >> 8);
        list[n++] = (unsigned char)m;
        for (uint64_t r = i; r < i + m; r++) {
            uint64_t k = y_key(y, r);
            y_value(k, 0, v, b);
            n += record(list + n, k, v, b, 0).len;
        }
        list[n++] = 106;        /* NIL_EXT */
        if ((rc = shmets_insert(S.t, (shmets_term){ list, n })))
            sfail("insert", rc);
    }
    free(v);
    free(list);
    return rc ? -1 : 0;
}

static void s_unload(const struct ycfg *y, int ordered)
{
    (void)y;
    (void)ordered;
    if (S.db) {
        shmets_close(S.db);
        shmets_destroy_instance(S.inst);
    }
    S.db = NULL;
    S.t = NULL;
}

static int s_check(const struct ycfg *y, int ordered, uint64_t *count)
{
    (void)ordered;
    if (getenv("SHMETS_YCSB_SABOTAGE")) {
        /* tests/test_ycsb_smoke.c: a record goes missing behind the benchmark's back, and the
         * check must say so. */
        unsigned char kb[16];
        shmets_delete_key(S.t, (shmets_term){ kb, etf_uint(y_key(y, 0), kb) });
    }
    int rc = shmets_check(S.t);
    if (rc)
        return sfail("check", rc);
    if ((rc = shmets_size(S.t, count)))
        return sfail("size", rc);
    return 0;
}

struct sh {
    shmets *db;
    shmets_tab *t;
    unsigned b;
    unsigned char *obj;         /* a record being written */
};

static void *s_open(const struct ycfg *y, int ordered, int idx)
{
    (void)ordered;
    (void)idx;
    struct sh *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->b = y->value_bytes;
    h->obj = malloc(h->b + 32);
    int rc = shmets_open(S.inst, &h->db);
    if (!rc && (rc = shmets_attach(h->db, S.id, &h->t)))
        shmets_close(h->db);
    if (rc || !h->obj) {
        if (rc)
            sfail("attach", rc);
        free(h->obj);
        free(h);
        return NULL;
    }
    return h;
}

static void s_close(void *p)
{
    struct sh *h = p;
    shmets_close(h->db);
    free(h->obj);
    free(h);
}

/* Inside a read section: copy the value of key k's object out; 0, 1 (none or wrong), < 0. */
static int read_in_section(struct sh *h, uint64_t k, unsigned char *val)
{
    unsigned char kb[16];
    shmets_term obj, v;
    size_t cnt;
    const void *bytes;
    size_t len;
    int rc = shmets_lookup_view(h->t, (shmets_term){ kb, etf_uint(k, kb) }, &obj, 1, &cnt);
    if (rc)
        return sfail("lookup_view", rc);
    if (!cnt || shmets_term_tuple_element(obj, 2, &v) || shmets_term_get_binary(v, &bytes, &len) || len != h->b)
        return 1;
    memcpy(val, bytes, len);
    return y_bad(k, val);
}

static int s_read(void *p, uint64_t k, unsigned char *val)
{
    struct sh *h = p;
    int rc = shmets_read_begin(h->db);
    if (rc)
        return sfail("read_begin", rc);
    rc = read_in_section(h, k, val);
    shmets_read_end(h->db);
    return rc;
}

static int s_write(void *p, uint64_t k, const unsigned char *val)
{
    struct sh *h = p;
    int rc = shmets_insert(h->t, record(h->obj, k, val, h->b, 0));
    return rc ? sfail("insert", rc) : 0;
}

static int s_rmw(void *p, uint64_t k, uint64_t *counter)
{
    struct sh *h = p;
    static const unsigned char incr[] = { 104, 2, 97, 3, 97, 1 };      /* {3, 1} */
    unsigned char kb[16];
    shmets_term res;
    int rc = shmets_update_counter(h->t, (shmets_term){ kb, etf_uint(k, kb) }, (shmets_term){ incr, sizeof incr },
                                   NULL, &res);
    if (rc == -SHMETS_ENOKEY)
        return 1;
    if (rc)
        return sfail("update_counter", rc);
    rc = shmets_term_get_uint64(res, counter) ? 1 : 0;
    shmets_term_free(&res);
    return rc;
}

static int s_scan(void *p, uint64_t k, unsigned len, unsigned char *val, unsigned *found)
{
    struct sh *h = p;
    unsigned char kb[16];
    shmets_term views[64];
    int rc = shmets_read_begin(h->db), bad = 0;
    if (rc)
        return sfail("read_begin", rc);
    *found = 0;
    size_t n;
    rc = shmets_range_view(h->t, (shmets_term){ kb, etf_uint(k, kb) }, 0, views, len < 64 ? len : 64, &n);
    for (;;) {
        if (rc) {
            shmets_read_end(h->db);
            return sfail("range_view", rc);
        }
        shmets_term kt = { NULL, 0 }, v;
        for (size_t i = 0; i < n; i++) {
            const void *bytes;
            size_t blen;
            uint64_t kk;
            if (shmets_term_tuple_element(views[i], 1, &kt) || shmets_term_get_uint64(kt, &kk) ||
                shmets_term_tuple_element(views[i], 2, &v) || shmets_term_get_binary(v, &bytes, &blen) ||
                blen != h->b) {
                bad = 1;
                continue;
            }
            memcpy(val, bytes, blen);
            bad |= y_bad(kk, val);
        }
        *found += (unsigned)n;
        if (n == 0 || *found >= len)
            break;
        /* More than one chunk: go on after the last key, in the same section. */
        unsigned want = len - *found;
        rc = shmets_range_view(h->t, kt, SHMETS_RANGE_AFTER, views, want < 64 ? want : 64, &n);
    }
    shmets_read_end(h->db);
    return bad;
}

const struct ypeer ypeer_shmets = {
    .name = "shmets",
    .note = "public set with write_concurrency (ordered_set for e) of {K, <<V>>, C}: zero-copy reads "
            "(read_begin, lookup_view, copy V, read_end), shmets_insert for updates and inserts, "
            "update_counter(T, K, {3, 1}) for read-modify-write, scans by shmets_range_view in one read section",
    .load = s_load, .unload = s_unload, .open = s_open, .close = s_close, .read = s_read, .update = s_write,
    .insert = s_write, .scan = s_scan, .rmw = s_rmw, .check = s_check,
};
