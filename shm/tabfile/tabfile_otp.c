/*
 * tabfile_otp.c — Erlang's own table files: what ets:tab2file/2,3 writes and ets:file2tab/1,2
 * reads, so that tables move between ETS and shmets in both directions.
 *
 * THE FORMAT, as OTP writes it (stdlib's ets.erl over kernel's disk_log, a "halt" log of
 * internal format; learnt from OTP's sources and checked against the files OTP 25 writes):
 *
 *   file head   <<1,2,3,4>> (LOGMAGIC), then <<99,88,77,11>> (closed) or <<6,7,8,9>> (still
 *               open: its writer died)
 *   item        <<Size:32/big, 98,87,76,65>> (BIGMAGICHEAD), then, when Size >= 65528, the
 *               MD5 of <<Size:32/big>> (16 bytes), then Size bytes: term_to_binary(Term).
 *               Old logs use <<12,33,44,55>> (MAGICHEAD) and no MD5.
 *   items       1. the header: a tuple of {Item, Value} — ets:info/1's list plus
 *                  {major_version,1}, {minor_version,0}, {extended_info, [object_count,
 *                  md5sum]}; name, type, protection, named_table, keypos and size must be
 *                  there; compressed, read_concurrency and write_concurrency are used if they
 *                  are;
 *               2. one item per object;
 *               3. with extended_info: ['$end_of_table', [{count, N}, {md5, Digest}]], where
 *                  Digest is the MD5 over the bytes of every item before it (header first),
 *                  each as term_to_binary gave it (the sizes and magics are not included).
 *
 * VERIFICATION, as OTP's file2tab does it with {verify, true}: the MD5 if md5sum, the end
 * count if object_count, the header's size if neither.  Stricter than OTP: the MD5 is
 * checked whenever the end record has one (a flipped bit in the header's extended_info
 * cannot turn it off), an item that does
 * not decode is an error (OTP skips it), the end record is required whenever the header
 * announces extended_info (even without verify: a file cut at an item boundary is then
 * found), an end count is always checked, and nothing may follow the end record.  A file cut
 * at an item boundary, with no extended_info, is found only with verify (its size), as in OTP.
 *
 * WRITING: the same head (closed), a header tuple with the mandatory items and compressed,
 * read_concurrency, write_concurrency, decentralized_counters, the versions and
 * extended_info; the objects; and the end record when extended_info asks.  The header's size
 * is the table's size when the dump begins (a dump is not a snapshot, in ETS either), so a
 * table written to meanwhile may fail OTP's verify without extended_info; with object_count
 * the end record has the true count.  The file goes through the same temporary-name-and-rename
 * path as shmets's own (tabfile.c), and loads through the same bounded batches.
 *
 * Objects are passed through as ETF: shmets writes its canonical encoding (which OTP reads),
 * and validates and canonicalises every object it reads, as for its own files.
 */
#include "shmets.h"
#include "tabfile/tabfile_io.h"
#include "tabfile/tabfile_otp.h"
#include "base/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const unsigned char logmagic[4] = { 1, 2, 3, 4 };
static const unsigned char closed[4] = { 99, 88, 77, 11 };
static const unsigned char opened[4] = { 6, 7, 8, 9 };
static const unsigned char bigmagic[4] = { 98, 87, 76, 65 };
static const unsigned char oldmagic[4] = { 12, 33, 44, 55 };
#define MIN_MD5_TERM 65528u
#define ITEM_MAX     ((uint32_t)SHMETS_TERM_MAX_SIZE + 1u)

static const char *const kinds[] = { NULL, "set", "ordered_set", "bag", "duplicate_bag" };
static const char *const accesses[] = { NULL, "public", "protected", "private" };

int otp_is_head(const unsigned char *first8)
{
    return memcmp(first8, logmagic, 4) == 0;
}

/* ---- writing --------------------------------------------------------------------------- */

/* An item's size and magic (and the MD5 of its size when large): never part of the MD5. */
static int put_item_head(struct tf_wr *w, size_t n)
{
    unsigned char h[24];
    size_t hl = 8;
    put_be32(h, (uint32_t)n);
    memcpy(h + 4, bigmagic, 4);
    if (n >= MIN_MD5_TERM) {
        MD5_CTX c;
        MD5Init(&c);
        MD5Update(&c, h, 4);
        MD5Final(h + 8, &c);
        hl = 24;
    }
    bool on = w->md5on;
    w->md5on = false;
    int rc = tf_wr_put(w, h, hl);
    w->md5on = on;
    return rc;
}

/* A whole item from a term (a header or the end record). */
static int put_term_item(struct tf_wr *w, shmets_term t)
{
    unsigned char *b;
    size_t n;
    int rc = shmets_term_to_etf(t, &b, &n);
    if (rc)
        return rc;
    if (put_item_head(w, n) == 0)
        tf_wr_put(w, b, n);
    free(b);
    return 0;
}

static int put_object(shmets_term obj, void *arg)
{
    struct tf_wr *w = arg;
    static const unsigned char v = 131;
    if (put_item_head(w, obj.len + 1) || tf_wr_put(w, &v, 1) || tf_wr_put(w, obj.ptr, obj.len))
        return 1;
    w->count++;
    if (w->o && w->o->progress && (w->count & 4095) == 0)
        w->o->progress(w->count, w->total, w->o->progress_arg);
    return 0;
}

static void pair_atom(shmets_builder *b, const char *tag, const char *atom)
{
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, tag, strlen(tag));
    shmets_build_atom(b, atom, strlen(atom));
}

static void pair_int(shmets_builder *b, const char *tag, uint64_t v)
{
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, tag, strlen(tag));
    shmets_build_uint(b, v);
}

int otp_write(struct tf_wr *w, shmets_tab *t, const shmets_tab_info *in)
{
    (void)t;
    bool count = w->o && w->o->object_count, md5 = w->o && w->o->md5sum;
    unsigned char head[8];
    memcpy(head, logmagic, 4);
    memcpy(head + 4, closed, 4);
    bool on = w->md5on;
    w->md5on = false;
    tf_wr_put(w, head, 8);
    w->md5on = on;

    shmets_builder *b;
    shmets_term hdr;
    int rc = shmets_builder_create(&b);
    if (rc)
        return rc;
    shmets_build_tuple(b, 13);
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "name", 4);
    shmets_build_atom(b, in->name, strlen(in->name));
    pair_atom(b, "type", kinds[in->kind]);
    pair_atom(b, "protection", accesses[in->access]);
    pair_atom(b, "named_table", in->named ? "true" : "false");
    pair_int(b, "keypos", in->keypos);
    pair_int(b, "size", w->total);
    pair_atom(b, "compressed", in->compressed ? "true" : "false");
    pair_atom(b, "read_concurrency", in->read_concurrency ? "true" : "false");
    pair_atom(b, "write_concurrency", in->write_concurrency ? "true" : "false");
    pair_atom(b, "decentralized_counters", in->decentralized_counters ? "true" : "false");
    pair_int(b, "major_version", 1);
    pair_int(b, "minor_version", 0);
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "extended_info", 13);
    if (count || md5) {
        shmets_build_list(b, (size_t)count + (size_t)md5);
        if (count)
            shmets_build_atom(b, "object_count", 12);
        if (md5)
            shmets_build_atom(b, "md5sum", 6);
    }
    shmets_build_nil(b);
    if ((rc = shmets_builder_finish(b, &hdr))) {
        shmets_builder_destroy(b);
        return rc;
    }
    rc = put_term_item(w, hdr);
    shmets_term_free(&hdr);
    if (!rc) {
        rc = shmets_foldl(t, put_object, w);
        if (rc > 0)             /* put_object stopped the fold: a write failed (w->err) */
            rc = 0;
    }
    if (!rc && (count || md5)) {
        unsigned char digest[16];
        if (md5)
            MD5Final(digest, &w->md5);
        w->md5on = false;
        shmets_term end;
        shmets_build_list(b, 2);
        shmets_build_atom(b, "$end_of_table", 13);
        shmets_build_list(b, (size_t)count + (size_t)md5);
        if (count)
            pair_int(b, "count", w->count);
        if (md5) {
            shmets_build_tuple(b, 2);
            shmets_build_atom(b, "md5", 3);
            shmets_build_binary(b, digest, 16);
        }
        shmets_build_nil(b);
        shmets_build_nil(b);
        if ((rc = shmets_builder_finish(b, &end)) == 0) {
            rc = put_term_item(w, end);
            shmets_term_free(&end);
        }
    }
    shmets_builder_destroy(b);
    return rc;
}

/* ---- reading --------------------------------------------------------------------------- */

struct ohdr {
    char name[1024];
    unsigned kind, access, keypos, seen;
    bool named, compressed, rc, wc, dc, ext_count, ext_md5;
    uint64_t size, major, minor;
};

enum { S_NAME = 1, S_TYPE = 2, S_PROT = 4, S_NAMED = 8, S_KEYPOS = 16, S_SIZE = 32, S_ALL = 63 };

static bool atom_eq(shmets_term t, const char *s)
{
    const char *a;
    size_t n;
    return shmets_term_get_atom(t, &a, &n) == 0 && n == strlen(s) && !memcmp(a, s, n);
}

static int bool_of(shmets_term v, bool *b)
{
    if (atom_eq(v, "true"))
        *b = true;
    else if (atom_eq(v, "false"))
        *b = false;
    else
        return -1;
    return 0;
}

static int index_of(shmets_term v, const char *const *names, unsigned n, unsigned *out)
{
    for (unsigned i = 1; i < n; i++)
        if (atom_eq(v, names[i]))
            return *out = i, 0;
    return -1;
}

/* The header item's tuple into h. */
static int parse_header(const unsigned char *bin, size_t n, const char *what, struct ohdr *h)
{
    shmets_term t, el, tag, v;
    size_t arity, k;
    int rc = shmets_term_from_etf(bin, n, 0, &t);
    if (rc)
        return err_set(SHMETS_EBADFILE, "%s: its header does not decode (%s)", what, shmets_strerror(rc));
    memset(h, 0, sizeof *h);
    rc = -1;
    if (shmets_term_tuple_arity(t, &arity))
        goto bad;
    for (size_t i = 1; i <= arity; i++) {
        if (shmets_term_tuple_element(t, i, &el) || shmets_term_tuple_arity(el, &k) || k != 2)
            continue;
        shmets_term_tuple_element(el, 1, &tag);
        shmets_term_tuple_element(el, 2, &v);
        const char *a;
        size_t an;
        uint64_t u;
        if (atom_eq(tag, "name")) {
            if (shmets_term_get_atom(v, &a, &an) || an >= sizeof h->name || memchr(a, 0, an))
                goto bad;
            memcpy(h->name, a, an);
            h->name[an] = 0;
            h->seen |= S_NAME;
        } else if (atom_eq(tag, "type")) {
            if (index_of(v, kinds, 5, &h->kind))
                goto bad;
            h->seen |= S_TYPE;
        } else if (atom_eq(tag, "protection")) {
            if (index_of(v, accesses, 4, &h->access))
                goto bad;
            h->seen |= S_PROT;
        } else if (atom_eq(tag, "named_table")) {
            if (bool_of(v, &h->named))
                goto bad;
            h->seen |= S_NAMED;
        } else if (atom_eq(tag, "keypos")) {
            if (shmets_term_get_uint64(v, &u) || u == 0 || u > UINT32_MAX)
                goto bad;
            h->keypos = (unsigned)u;
            h->seen |= S_KEYPOS;
        } else if (atom_eq(tag, "size")) {
            if (shmets_term_get_uint64(v, &h->size))
                goto bad;
            h->seen |= S_SIZE;
        } else if (atom_eq(tag, "compressed")) {
            bool_of(v, &h->compressed);
        } else if (atom_eq(tag, "read_concurrency")) {
            bool_of(v, &h->rc);
        } else if (atom_eq(tag, "write_concurrency")) {
            h->wc = atom_eq(v, "true") || atom_eq(v, "auto");
        } else if (atom_eq(tag, "decentralized_counters")) {
            bool_of(v, &h->dc);
        } else if (atom_eq(tag, "major_version")) {
            shmets_term_get_uint64(v, &h->major);
        } else if (atom_eq(tag, "minor_version")) {
            shmets_term_get_uint64(v, &h->minor);
        } else if (atom_eq(tag, "extended_info")) {
            shmets_list_iter it;
            shmets_term x;
            if (shmets_list_begin(v, &it) == 0)
                while (shmets_list_next(&it, &x) == 1) {
                    h->ext_count |= atom_eq(x, "object_count");
                    h->ext_md5 |= atom_eq(x, "md5sum");
                }
        }
    }
    if (h->seen != S_ALL)
        goto bad;
    shmets_term_free(&t);
    if (h->major > 1)
        return err_set(SHMETS_EVERSION, "%s is an ets table file of version {%llu,%llu}; shmets reads "
                       "version 1", what, (unsigned long long)h->major, (unsigned long long)h->minor);
    return 0;
bad:
    shmets_term_free(&t);
    return err_set(SHMETS_EBADFILE, "%s is a disk_log but not an ets table file (its header lacks "
                   "name, type, protection, named_table, keypos or size, or has a bad value)", what);
}

/* The next item's size, with its magic checked; *end at a clean end of the file. */
static int item_head(struct tf_rd *r, uint32_t *n, bool *end)
{
    int rc = tf_rd_at_end(r, end);
    if (rc || *end)
        return rc;
    unsigned char h[8], md5[16], want[16];
    bool on = r->md5on;
    r->md5on = false;
    rc = tf_rd_get(r, h, 8);
    *n = get_be32(h);
    if (!rc && !memcmp(h + 4, bigmagic, 4) && *n >= MIN_MD5_TERM && !(rc = tf_rd_get(r, md5, 16))) {
        MD5_CTX c;
        MD5Init(&c);
        MD5Update(&c, h, 4);
        MD5Final(want, &c);
        if (memcmp(md5, want, 16))
            rc = err_set(SHMETS_EBADFILE, "%s is damaged: an item's size does not match its checksum", r->what);
    }
    r->md5on = on;
    if (rc)
        return rc;
    if (memcmp(h + 4, bigmagic, 4) && memcmp(h + 4, oldmagic, 4))
        return err_set(SHMETS_EBADFILE, "%s is damaged: an item lacks its magic word", r->what);
    if (*n < 2 || *n > ITEM_MAX)
        return err_set(SHMETS_EBADFILE, "%s is damaged: an item of %u bytes", r->what, *n);
    return 0;
}

/* The file head and the header item. */
static int read_head(struct tf_rd *r, const unsigned char *first8, struct ohdr *h, unsigned char **hbin, size_t *hlen)
{
    if (!memcmp(first8 + 4, opened, 4))
        return err_set(SHMETS_EBADFILE, "%s is an ets table file that was never closed (its writer "
                       "died while writing it)", r->what);
    if (memcmp(first8 + 4, closed, 4))
        return err_set(SHMETS_EBADFILE, "%s is not a table file (a damaged disk_log head)", r->what);
    uint32_t n;
    bool end;
    int rc = item_head(r, &n, &end);
    if (rc)
        return rc;
    if (end)
        return err_set(SHMETS_EBADFILE, "%s is an empty disk_log, not an ets table file", r->what);
    unsigned char *b = malloc(n);
    if (!b)
        return err_set(SHMETS_ENOMEM, "out of memory for a header of %u bytes", n);
    if ((rc = tf_rd_get(r, b, n)) || (rc = parse_header(b, n, r->what, h))) {
        free(b);
        return rc;
    }
    *hbin = b;
    *hlen = n;
    return 0;
}

static void desc_of(const struct ohdr *h, shmets_tabfile_desc *d)
{
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", h->name);
    d->kind = (enum shmets_kind)h->kind;
    d->access = (enum shmets_access)h->access;
    d->keypos = h->keypos;
    d->named = h->named;
    d->compressed = h->compressed;
    d->read_concurrency = h->rc;
    d->write_concurrency = h->wc;
    d->decentralized_counters = h->dc;
    d->object_count = h->ext_count;
    d->md5sum = h->ext_md5;
    d->size = h->size;
    d->version = (uint32_t)h->major;
    d->erlang = true;
}

int otp_info(int fd, const char *what, const unsigned char *first8, shmets_tabfile_desc *d)
{
    struct tf_rd r = { .fd = fd, .what = what };
    struct ohdr h;
    unsigned char *hb;
    size_t hl;
    r.buf = malloc(TF_IOBUF);
    if (!r.buf)
        return err_set(SHMETS_ENOMEM, "out of memory for the read buffer");
    int rc = read_head(&r, first8, &h, &hb, &hl);
    free(r.buf);
    if (rc)
        return rc;
    free(hb);
    desc_of(&h, d);
    return 0;
}

/* ['$end_of_table', Info]: *count (or UINT64_MAX) and md5 (*has_md5). 1 if it is not one. */
static int end_record(const unsigned char *bin, size_t n, uint64_t *count, unsigned char *md5, bool *has_md5)
{
    shmets_term t, el, tag, v;
    shmets_list_iter it, jt;
    size_t k;
    if (shmets_term_from_etf(bin, n, 0, &t))
        return 1;
    int rc = 1;
    *count = UINT64_MAX;
    *has_md5 = false;
    if (shmets_list_begin(t, &it) || shmets_list_next(&it, &el) != 1 || !atom_eq(el, "$end_of_table") ||
        shmets_list_next(&it, &el) != 1 || shmets_list_begin(el, &jt))
        goto out;
    while (shmets_list_next(&jt, &el) == 1) {
        if (shmets_term_tuple_arity(el, &k) || k != 2)
            continue;
        shmets_term_tuple_element(el, 1, &tag);
        shmets_term_tuple_element(el, 2, &v);
        const void *b;
        size_t bl;
        if (atom_eq(tag, "count"))
            shmets_term_get_uint64(v, count);
        else if (atom_eq(tag, "md5") && shmets_term_get_binary(v, &b, &bl) == 0 && bl == 16) {
            memcpy(md5, b, 16);
            *has_md5 = true;
        }
    }
    rc = shmets_list_next(&it, &el) == 0 ? 0 : 1;
out:
    shmets_term_free(&t);
    return rc;
}

int otp_load(shmets *db, int fd, const char *what, const unsigned char *first8,
             const shmets_tabfile_opts *o, shmets_tab **out)
{
    struct tf_rd r = { .fd = fd, .what = what };
    struct ohdr h;
    unsigned char *hb = NULL, *item = NULL;
    size_t hl;
    r.buf = malloc(TF_IOBUF);
    if (!r.buf)
        return err_set(SHMETS_ENOMEM, "out of memory for the read buffer");
    int rc = read_head(&r, first8, &h, &hb, &hl);
    if (rc) {
        free(r.buf);
        return rc;
    }
    shmets_opts opts;
    shmets_tabfile_desc d;
    desc_of(&h, &d);
    tf_opts_of(&d, &opts);
    shmets_tab *t;
    if ((rc = tf_new_table(db, &opts, h.name, what, &t))) {
        free(r.buf);
        free(hb);
        return rc;
    }
    /* With verify the MD5 is computed whatever the header says, and checked when the header
     * or the end record has one: a bit flipped in the header's extended_info must not turn
     * the check off. */
    bool verify = o && o->verify;
    if (verify) {
        MD5Init(&r.md5);
        MD5Update(&r.md5, hb, hl);
        r.md5on = true;
    }
    free(hb);
    struct tf_batch b = { .first = 1, .len = 6 };
    uint64_t count = 0, ecount = UINT64_MAX;
    unsigned char emd5[16];
    bool has_end = false, has_emd5 = false;
    if ((rc = tf_batch_room(&b, 0)))
        goto fail;
    for (;;) {
        uint32_t n;
        bool end;
        if ((rc = item_head(&r, &n, &end)))
            goto fail;
        if (end)
            break;
        if (has_end) {
            rc = err_set(SHMETS_EBADFILE, "%s is damaged: items after its end record", what);
            goto fail;
        }
        unsigned char vt[2];
        bool on = r.md5on;
        r.md5on = false;                /* not yet known to be an object */
        rc = tf_rd_get(&r, vt, 2);
        r.md5on = on;
        if (rc)
            goto fail;
        if (vt[0] != 131) {
            rc = err_set(SHMETS_EBADFILE, "%s: item %llu is not in the external term format", what,
                         (unsigned long long)(count + 2));
            goto fail;
        }
        if (vt[1] == 104 || vt[1] == 105) {     /* a tuple: straight into the batch */
            if (r.md5on)
                MD5Update(&r.md5, vt, 2);
            if (b.n && (b.n >= TF_BATCH_OBJS || b.len + n > TF_BATCH_BYTES) && (rc = tf_batch_flush(&b, t, what)))
                goto fail;
            if ((rc = tf_batch_room(&b, n)))
                goto fail;
            b.p[b.len] = vt[1];
            if ((rc = tf_rd_get(&r, b.p + b.len + 1, n - 2)))
                goto fail;
            b.len += n - 1;
            b.n++;
            count++;
            if (o && o->progress && (count & 4095) == 0)
                o->progress(count, h.size, o->progress_arg);
            continue;
        }
        /* Anything else is read whole: the end record, or an object in another encoding
         * (compressed ETF), or something that is not an object. */
        free(item);
        item = malloc(n);
        if (!item) {
            rc = err_set(SHMETS_ENOMEM, "out of memory for an item of %u bytes", n);
            goto fail;
        }
        memcpy(item, vt, 2);
        r.md5on = false;
        rc = tf_rd_get(&r, item + 2, n - 2);
        r.md5on = on;
        if (rc)
            goto fail;
        if (vt[1] == 108 && end_record(item, n, &ecount, emd5, &has_emd5) == 0) {
            has_end = true;
            r.md5on = false;
            continue;
        }
        if (r.md5on)
            MD5Update(&r.md5, item, n);
        shmets_term obj;
        size_t arity;
        if ((rc = shmets_term_from_etf(item, n, 0, &obj)) || shmets_term_tuple_arity(obj, &arity)) {
            shmets_term_free(&obj);
            rc = err_set(SHMETS_EBADFILE, "%s: item %llu is not an object (a tuple)", what,
                         (unsigned long long)(count + 2));
            goto fail;
        }
        if ((rc = tf_batch_flush(&b, t, what)) || (rc = tf_batch_room(&b, obj.len))) {
            shmets_term_free(&obj);
            goto fail;
        }
        memcpy(b.p + b.len, obj.ptr, obj.len);
        b.len += obj.len;
        b.n++;
        count++;
        shmets_term_free(&obj);
    }
    if ((rc = tf_batch_flush(&b, t, what)))
        goto fail;
    if ((h.ext_count || h.ext_md5) && !has_end) {
        rc = err_set(SHMETS_EBADFILE, "%s is truncated: its header announces extended_info and it "
                     "has no end record", what);
        goto fail;
    }
    if (has_end && ecount != UINT64_MAX && ecount != count) {
        rc = err_set(SHMETS_EBADFILE, "%s is damaged: its end record counts %llu objects, it holds %llu",
                     what, (unsigned long long)ecount, (unsigned long long)count);
        goto fail;
    }
    if (verify && (h.ext_md5 || has_emd5)) {
        unsigned char digest[16];
        MD5Final(digest, &r.md5);
        if (!has_emd5 || memcmp(digest, emd5, 16)) {
            rc = err_set(SHMETS_EBADFILE, "%s fails verification: its MD5 sum does not match", what);
            goto fail;
        }
    }
    if (verify && h.ext_count && ecount == UINT64_MAX) {
        rc = err_set(SHMETS_EBADFILE, "%s fails verification: its end record has no count", what);
        goto fail;
    }
    if (verify && !h.ext_count && !h.ext_md5 && count != h.size) {
        rc = err_set(SHMETS_EBADFILE, "%s fails verification: its header says %llu objects, it holds %llu",
                     what, (unsigned long long)h.size, (unsigned long long)count);
        goto fail;
    }
    if ((rc = tf_finish_table(t, opts.named, h.name, what)))
        goto fail;
    if (o && o->progress)
        o->progress(count, count, o->progress_arg);
    free(item);
    free(b.p);
    free(r.buf);
    *out = t;
    return 0;
fail:
    tf_drop_table(t, rc);
    free(item);
    free(b.p);
    free(r.buf);
    return rc;
}
