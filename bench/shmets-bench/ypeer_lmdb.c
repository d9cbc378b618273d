/*
 * ypeer_lmdb.c — LMDB in the YCSB workloads, as peer_lmdb.c sets it up for the read benchmark:
 * the environment on tmpfs (the run's private directory in /dev/shm) with MDB_NOSYNC |
 * MDB_NOMETASYNC (no fsync: no store here keeps anything on disk), MDB_INTEGERKEY 8-byte keys,
 * loaded in key order with MDB_APPEND.  A record's data is its counter (8 bytes) and the value.
 * Every client process opens the environment itself (MDB_NOTLS: its read transaction is not
 * tied to the thread, so it can hold it between operations and open write transactions too):
 *
 *   read    one read transaction an operation (mdb_txn_renew, mdb_get, copy, mdb_txn_reset),
 *           so that each read sees every write committed before it, as in the other stores
 *   update, insert   one write transaction a put, committed (each visible on its own)
 *   rmw     one write transaction: mdb_get, the counter incremented, mdb_put, commit
 *   scan    one read transaction: a cursor at MDB_SET_RANGE, then MDB_NEXT (a B+tree is
 *           ordered: the same store serves e)
 *
 * Write transactions of all processes take LMDB's one writer mutex.  After each run the
 * loading process walks the whole tree with a cursor (every value holds its key) and counts
 * the entries.
 */
#include "ycsb.h"

#include <stdio.h>
#include <stdlib.h>

#if __has_include(<lmdb.h>)
#include <lmdb.h>
#include <sys/stat.h>

static char envdir[320];

static int lfail(const char *what, int rc)
{
    fprintf(stderr, "shmets-bench: lmdb: %s: %s\n", what, mdb_strerror(rc));
    return -1;
}

static int env_open(const struct ycfg *y, MDB_env **env)
{
    int rc = mdb_env_create(env);
    if (rc)
        return lfail("env_create", rc);
    size_t map = (size_t)(y->c.objects + y->room) * (y->value_bytes + 64) * 4 + (512u << 20);
    if ((rc = mdb_env_set_mapsize(*env, map)) || (rc = mdb_env_set_maxreaders(*env, 256)) ||
        (rc = mdb_env_open(*env, envdir, MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS, 0600))) {
        mdb_env_close(*env);
        return lfail("env_open", rc);
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int lm_load(const struct ycfg *y, int ordered)
{
    (void)ordered;
    snprintf(envdir, sizeof envdir, "%s/ycsb-lmdb", y->c.dir);
    remove_path(envdir);
    if (mkdir(envdir, 0700) != 0) {
        perror("shmets-bench: lmdb: mkdir");
        return -1;
    }
    uint64_t *keys = malloc(y->c.objects * sizeof *keys);
    unsigned char *d = malloc(8 + y->value_bytes);
    if (!keys || !d) {
        free(keys);
        free(d);
        return -1;
    }
    for (uint64_t n = 0; n < y->c.objects; n++)
        keys[n] = y_key(y, n);
    qsort(keys, y->c.objects, sizeof *keys, cmp_u64);
    MDB_env *env;
    int rc = env_open(y, &env) ? -1 : 0;
    MDB_txn *txn;
    MDB_dbi dbi;
    if (!rc && !(rc = mdb_txn_begin(env, NULL, 0, &txn))) {
        rc = mdb_dbi_open(txn, NULL, MDB_INTEGERKEY | MDB_CREATE, &dbi);
        memset(d, 0, 8);
        for (uint64_t n = 0; n < y->c.objects && !rc; n++) {
            MDB_val key = { 8, &keys[n] }, val = { 8 + y->value_bytes, d };
            y_value(keys[n], 0, d + 8, y->value_bytes);
            rc = mdb_put(txn, dbi, &key, &val, MDB_APPEND);
        }
        if (!rc)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        if (rc)
            lfail("load", rc);
        mdb_env_close(env);
    }
    free(keys);
    free(d);
    return rc ? -1 : 0;
}

static void lm_unload(const struct ycfg *y, int ordered)
{
    (void)y;
    (void)ordered;
    remove_path(envdir);
}

static int lm_check(const struct ycfg *y, int ordered, uint64_t *count)
{
    (void)ordered;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cur;
    if (env_open(y, &env))
        return -1;
    int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (!rc && !(rc = mdb_dbi_open(txn, NULL, MDB_INTEGERKEY, &dbi)) && !(rc = mdb_cursor_open(txn, dbi, &cur))) {
        uint64_t n = 0, bad = 0;
        MDB_val k, v;
        for (int r = mdb_cursor_get(cur, &k, &v, MDB_FIRST); r == 0; r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            uint64_t key;
            memcpy(&key, k.mv_data, 8);
            n++;
            bad += v.mv_size != 8 + y->value_bytes || y_bad(key, (const unsigned char *)v.mv_data + 8);
        }
        mdb_cursor_close(cur);
        *count = n;
        if (bad) {
            fprintf(stderr, "shmets-bench: lmdb: %llu entries hold another key's value\n", (unsigned long long)bad);
            rc = -1;
        }
    } else if (rc) {
        lfail("check", rc);
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return rc ? -1 : 0;
}

struct lm {
    MDB_env *env;
    MDB_txn *rtxn;              /* reset between operations */
    MDB_cursor *cur;            /* of rtxn, renewed with it */
    MDB_dbi dbi;
    unsigned b;
    unsigned char *d;           /* counter and value being written */
};

static void *lm_open(const struct ycfg *y, int ordered, int idx)
{
    (void)ordered;
    (void)idx;
    struct lm *h = calloc(1, sizeof *h);
    if (!h || !(h->d = malloc(8 + y->value_bytes)) || env_open(y, &h->env)) {
        if (h)
            free(h->d);
        free(h);
        return NULL;
    }
    h->b = y->value_bytes;
    int rc = mdb_txn_begin(h->env, NULL, MDB_RDONLY, &h->rtxn);
    if (!rc)
        rc = mdb_dbi_open(h->rtxn, NULL, MDB_INTEGERKEY, &h->dbi);
    if (!rc)
        rc = mdb_cursor_open(h->rtxn, h->dbi, &h->cur);
    if (rc) {
        lfail("open", rc);
        mdb_env_close(h->env);
        free(h->d);
        free(h);
        return NULL;
    }
    mdb_txn_reset(h->rtxn);
    return h;
}

static void lm_close(void *p)
{
    struct lm *h = p;
    mdb_cursor_close(h->cur);
    mdb_txn_abort(h->rtxn);
    mdb_env_close(h->env);
    free(h->d);
    free(h);
}

static int lm_read(void *p, uint64_t k, unsigned char *val)
{
    struct lm *h = p;
    int rc = mdb_txn_renew(h->rtxn);
    if (rc)
        return lfail("txn_renew", rc);
    MDB_val key = { 8, &k }, v;
    rc = mdb_get(h->rtxn, h->dbi, &key, &v);
    int bad = 1;
    if (rc == 0 && v.mv_size == 8 + h->b) {
        memcpy(val, (const unsigned char *)v.mv_data + 8, h->b);
        bad = y_bad(k, val);
    }
    mdb_txn_reset(h->rtxn);
    if (rc && rc != MDB_NOTFOUND)
        return lfail("get", rc);
    return bad;
}

static int lm_put(struct lm *h, uint64_t k, const unsigned char *val, uint64_t *counter)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(h->env, NULL, 0, &txn);
    if (rc)
        return lfail("txn_begin", rc);
    MDB_val key = { 8, &k }, v = { 8 + h->b, h->d };
    if (counter) {          /* read-modify-write */
        MDB_val old;
        if ((rc = mdb_get(txn, h->dbi, &key, &old)) || old.mv_size != 8 + h->b) {
            mdb_txn_abort(txn);
            return rc == MDB_NOTFOUND || !rc ? 1 : lfail("get", rc);
        }
        memcpy(h->d, old.mv_data, 8 + h->b);
        memcpy(counter, h->d, 8);
        ++*counter;
        memcpy(h->d, counter, 8);
    } else {
        memset(h->d, 0, 8);
        memcpy(h->d + 8, val, h->b);
    }
    if ((rc = mdb_put(txn, h->dbi, &key, &v, 0))) {
        mdb_txn_abort(txn);
        return lfail("put", rc);
    }
    if ((rc = mdb_txn_commit(txn)))
        return lfail("commit", rc);
    return 0;
}

static int lm_write(void *p, uint64_t k, const unsigned char *val)
{
    return lm_put(p, k, val, NULL);
}

static int lm_rmw(void *p, uint64_t k, uint64_t *counter)
{
    return lm_put(p, k, NULL, counter);
}

static int lm_scan(void *p, uint64_t k, unsigned len, unsigned char *val, unsigned *found)
{
    struct lm *h = p;
    int rc = mdb_txn_renew(h->rtxn);
    if (!rc)
        rc = mdb_cursor_renew(h->rtxn, h->cur);
    if (rc)
        return lfail("txn_renew", rc);
    MDB_val key = { 8, &k }, v;
    int bad = 0;
    *found = 0;
    for (rc = mdb_cursor_get(h->cur, &key, &v, MDB_SET_RANGE); rc == 0 && *found < len;
         rc = mdb_cursor_get(h->cur, &key, &v, MDB_NEXT)) {
        uint64_t kk;
        memcpy(&kk, key.mv_data, 8);
        if (v.mv_size != 8 + h->b) {
            bad = 1;
            break;
        }
        memcpy(val, (const unsigned char *)v.mv_data + 8, h->b);
        bad |= y_bad(kk, val);
        ++*found;
    }
    mdb_txn_reset(h->rtxn);
    if (rc && rc != MDB_NOTFOUND)
        return lfail("cursor_get", rc);
    return bad;
}

const struct ypeer ypeer_lmdb = {
    .name = "lmdb",
    .note = "LMDB on tmpfs, MDB_INTEGERKEY, client processes each with its own environment handle: a read "
            "transaction an operation (renewed), a write transaction a write (committed, no sync), rmw "
            "get+put in one write transaction, scans by cursor (MDB_SET_RANGE, MDB_NEXT)",
    .load = lm_load, .unload = lm_unload, .open = lm_open, .close = lm_close, .read = lm_read,
    .update = lm_write, .insert = lm_write, .scan = lm_scan, .rmw = lm_rmw, .check = lm_check,
};

#else

static bool lm_available(const char **why)
{
    *why = "not built in: <lmdb.h> was missing at build time (apt-get install liblmdb-dev, then make bench)";
    return false;
}

const struct ypeer ypeer_lmdb = { .name = "lmdb", .note = "LMDB", .available = lm_available };

#endif
