/*
 * tabfile_io.c — what the two table-file formats share (tabfile_io.h): writing through an
 * MD5, buffered reading through an MD5, objects gathered into one insert a batch, and making,
 * naming and dropping the table a file loads into, so that bounds, batching and the
 * no-half-table rule live in one place.  tabfile.c (shmets's own format and the public calls)
 * and tabfile_otp.c (Erlang's disk_log format) call it; it calls neither.
 */
#include "tabfile/tabfile_io.h"
#include "shmets.h"
#include "base/util.h"

#include <errno.h>
#include <md5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

int tf_sys_err(const char *what, const char *path)
{
    int e = errno;
    int code = e == ENOENT ? SHMETS_ENOENT : (e == EACCES || e == EPERM || e == EROFS) ? SHMETS_EACCES
             : e == ENOMEM ? SHMETS_ENOMEM : SHMETS_ESYS;
    return err_set(code, "%s %s: %s", what, path, strerror(e));
}

/* ---- writing ------------------------------------------------------------------------- */

int tf_wr_put(struct tf_wr *w, const void *p, size_t n)
{
    if (w->md5on)
        MD5Update(&w->md5, p, n);
    if (fwrite(p, 1, n, w->f) != n) {
        w->err = errno ? errno : EIO;
        return -1;
    }
    return 0;
}

/* ---- loading: the parts both formats use ---------------------------------------------- */

void tf_opts_of(const shmets_tabfile_desc *d, shmets_opts *o)
{
    shmets_opts_init(o);
    o->kind = d->kind;
    o->access = d->access;
    o->keypos = d->keypos;
    o->named = d->named;
    o->compressed = d->compressed;
    o->read_concurrency = d->read_concurrency;
    o->write_concurrency = d->write_concurrency;
    o->decentralized_counters = d->decentralized_counters ? 1 : 0;
    o->max_object_bytes = d->max_object_bytes;
    o->max_bytes = d->max_bytes;
}

int tf_new_table(shmets *db, shmets_opts *opts, const char *name, const char *what, shmets_tab **t)
{
    uint64_t id;
    if (opts->named && shmets_whereis(db, name, &id) == 0)
        return err_set(SHMETS_EEXIST, "a named table %s exists already", name);
    char tmpname[96];
    uint64_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        rnd = (uint64_t)(uintptr_t)&id;
    snprintf(tmpname, sizeof tmpname, "shmets-file2tab.%d.%016llx", (int)getpid(), (unsigned long long)rnd);
    int rc = shmets_new(db, opts->named ? tmpname : name, opts, t);
    if (rc == -SHMETS_EINVAL) {
        char d[200];
        snprintf(d, sizeof d, "%s", shmets_errdetail());
        return err_set(SHMETS_EBADFILE, "%s: the header's table options are refused: %s", what, d);
    }
    return rc;
}

int tf_finish_table(shmets_tab *t, bool named, const char *name, const char *what)
{
    int rc = named ? shmets_rename(t, name) : 0;
    if (rc == -SHMETS_EEXIST)
        err_set(SHMETS_EEXIST, "a named table %s was made while %s loaded", name, what);
    return rc;
}

int tf_drop_table(shmets_tab *t, int rc)
{
    char d[256];
    snprintf(d, sizeof d, "%s", shmets_errdetail());
    shmets_delete(t);
    err_set(-rc, "%s", d);
    return rc;
}

int tf_batch_room(struct tf_batch *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->len + more + 1)
        cap *= 2;
    unsigned char *q = realloc(b->p, cap);
    if (!q)
        return err_set(SHMETS_ENOMEM, "out of memory for a batch of %zu bytes", cap);
    b->p = q;
    b->cap = cap;
    return 0;
}

int tf_batch_flush(struct tf_batch *b, shmets_tab *t, const char *what)
{
    if (!b->n)
        return 0;
    shmets_term list;
    int rc;
    if (b->n == 1) {            /* alone (a large object): no list around it, so that an object
                                   of the largest size a term may have still loads */
        b->p[5] = 131;
        rc = shmets_term_from_etf(b->p + 5, b->len - 5, 0, &list);
    } else {
        b->p[0] = 131;
        b->p[1] = 108;
        put_be32(b->p + 2, b->n);
        b->p[b->len++] = 106;
        rc = shmets_term_from_etf(b->p, b->len, 0, &list);
    }
    if (rc) {
        char d[200];
        snprintf(d, sizeof d, "%s", shmets_errdetail());
        return err_set(SHMETS_EBADFILE, "%s: objects %llu to %llu: %s: %s", what,
                       (unsigned long long)b->first, (unsigned long long)(b->first + b->n - 1),
                       shmets_strerror(rc), d);
    }
    rc = shmets_insert(t, list);
    shmets_term_free(&list);
    if (rc == -SHMETS_ETYPE || rc == -SHMETS_EBADPOS || rc == -SHMETS_ETOOBIG)
        return err_set(SHMETS_EBADFILE, "%s: objects %llu to %llu: an object that cannot be in the "
                       "table (%s)", what, (unsigned long long)b->first,
                       (unsigned long long)(b->first + b->n - 1), shmets_strerror(rc));
    if (rc)
        return rc;
    b->first += b->n;
    b->n = 0;
    b->len = 6;
    return 0;
}

/* Refill an empty buffer; 0, or an error. */
static int rd_fill(struct tf_rd *r)
{
    while (r->pos == r->len && !r->eof) {
        ssize_t k = read(r->fd, r->buf, TF_IOBUF);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return tf_sys_err("reading", r->what);
        r->pos = 0;
        r->len = (size_t)k;
        r->eof = k == 0;
    }
    return 0;
}

int tf_rd_at_end(struct tf_rd *r, bool *end)
{
    int rc = rd_fill(r);
    *end = r->pos == r->len;
    return rc;
}

int tf_rd_get(struct tf_rd *r, void *out, size_t n)
{
    unsigned char *o = out;
    while (n) {
        if (r->pos == r->len) {
            int rc = rd_fill(r);
            if (rc)
                return rc;
            if (r->pos == r->len)
                return err_set(SHMETS_EBADFILE, "%s is truncated: it ends inside its objects", r->what);
        }
        size_t m = r->len - r->pos < n ? r->len - r->pos : n;
        memcpy(o, r->buf + r->pos, m);
        if (r->md5on)
            MD5Update(&r->md5, r->buf + r->pos, m);
        r->pos += m;
        o += m;
        n -= m;
    }
    return 0;
}
