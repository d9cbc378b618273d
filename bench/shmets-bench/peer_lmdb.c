/*
 * peer_lmdb.c — LMDB (liblmdb), the memory-mapped B+tree users pick for a read-mostly store
 * shared by processes.  Built when <lmdb.h> is there (liblmdb-dev; `make bench` installs it).
 *
 * The environment lives in the run's private directory on /dev/shm (tmpfs: no disk in the
 * figures), opened with MDB_NOSYNC | MDB_NOMETASYNC (no fsync: the other stores keep nothing
 * on disk either).  Keys are MDB_INTEGERKEY 8-byte integers (the byte-keyed form of the
 * workload: little-endian on this machine), loaded in order with MDB_APPEND.  LMDB is a
 * B+tree, so O1 reads the same store.  Every reader process opens the environment itself and
 * keeps one read transaction, renewed (mdb_txn_reset + mdb_txn_renew) every 1,000 lookups;
 * mdb_get hands out a pointer into the map and the value is copied from it.  The R2 writer
 * commits one transaction per put (each write visible on its own, as in the other stores);
 * the R3 writer opens a write transaction and stops.  M: the bytes /dev/shm holds for
 * data.mdb and lock.mdb.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

#if __has_include(<lmdb.h>)
#include <lmdb.h>
#include <signal.h>
#include <sys/stat.h>

#define RENEW_EVERY 1000

static char envdir[320];

static int lfail(const char *what, int rc)
{
    fprintf(stderr, "shmets-bench: lmdb: %s: %s\n", what, mdb_strerror(rc));
    return -1;
}

static int env_open(const struct cfg *c, MDB_env **env)
{
    int rc = mdb_env_create(env);
    if (rc)
        return lfail("env_create", rc);
    if ((rc = mdb_env_set_mapsize(*env, (size_t)c->objects * 256 + (256u << 20))) ||
        (rc = mdb_env_set_maxreaders(*env, 256)) ||
        (rc = mdb_env_open(*env, envdir, MDB_NOSYNC | MDB_NOMETASYNC, 0600))) {
        mdb_env_close(*env);
        return lfail("env_open", rc);
    }
    return 0;
}

static int lm_load(const struct cfg *c, int ordered, uint64_t *mem)
{
    (void)ordered;
    snprintf(envdir, sizeof envdir, "%s/lmdb", c->dir);
    remove_path(envdir);
    if (mkdir(envdir, 0700) != 0) {
        perror("shmets-bench: lmdb: mkdir");
        return -1;
    }
    MDB_env *env;
    if (env_open(c, &env))
        return -1;
    MDB_txn *txn;
    MDB_dbi dbi;
    int rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (!rc)
        rc = mdb_dbi_open(txn, NULL, MDB_INTEGERKEY | MDB_CREATE, &dbi);
    unsigned char v[VALUE_BYTES];
    for (uint64_t k = 0; k < c->objects && !rc; k++) {
        MDB_val key = { sizeof k, &k }, val = { sizeof v, v };
        make_value(k, 0, v);
        rc = mdb_put(txn, dbi, &key, &val, MDB_APPEND);
    }
    if (!rc)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    mdb_env_close(env);
    if (rc)
        return lfail("load", rc);
    *mem = file_bytes(envdir);
    return 0;
}

static void lm_unload(const struct cfg *c, int ordered)
{
    (void)c;
    (void)ordered;
    remove_path(envdir);
}

struct lm {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    unsigned since;             /* lookups since the read transaction was renewed */
};

static void *lm_open(const struct cfg *c, int ordered, int idx)
{
    (void)ordered;
    (void)idx;
    struct lm *r = calloc(1, sizeof *r);
    if (!r || env_open(c, &r->env)) {
        free(r);
        return NULL;
    }
    int rc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, &r->txn);
    if (!rc)
        rc = mdb_dbi_open(r->txn, NULL, MDB_INTEGERKEY, &r->dbi);
    if (rc) {
        lfail("reader", rc);
        mdb_env_close(r->env);
        free(r);
        return NULL;
    }
    return r;
}

static void lm_close(void *p)
{
    struct lm *r = p;
    mdb_txn_abort(r->txn);
    mdb_env_close(r->env);
    free(r);
}

static long lm_lookup(void *p, const uint64_t *keys, unsigned n, uint64_t *sum)
{
    struct lm *r = p;
    long bad = 0;
    for (unsigned i = 0; i < n; i++) {
        if (++r->since >= RENEW_EVERY) {
            mdb_txn_reset(r->txn);
            int rc = mdb_txn_renew(r->txn);
            if (rc)
                return lfail("txn_renew", rc);
            r->since = 0;
        }
        uint64_t k = keys[i];
        MDB_val key = { sizeof k, &k }, val;
        int rc = mdb_get(r->txn, r->dbi, &key, &val);
        if (rc == MDB_NOTFOUND || (rc == 0 && val.mv_size != VALUE_BYTES)) {
            bad++;
            continue;
        }
        if (rc)
            return lfail("get", rc);
        unsigned char v[VALUE_BYTES];
        memcpy(v, val.mv_data, sizeof v);
        bad += fold_value(keys[i], v, sum);
    }
    return bad;
}

struct lw {
    MDB_env *env;
    MDB_dbi dbi;
};

static void *lm_writer_open(const struct cfg *c, int ordered)
{
    (void)ordered;
    struct lw *w = calloc(1, sizeof *w);
    if (!w || env_open(c, &w->env)) {
        free(w);
        return NULL;
    }
    MDB_txn *txn;
    int rc = mdb_txn_begin(w->env, NULL, MDB_RDONLY, &txn);
    if (!rc) {
        rc = mdb_dbi_open(txn, NULL, MDB_INTEGERKEY, &w->dbi);
        mdb_txn_abort(txn);
    }
    if (rc) {
        lfail("writer", rc);
        mdb_env_close(w->env);
        free(w);
        return NULL;
    }
    return w;
}

static void lm_writer_close(void *p)
{
    struct lw *w = p;
    mdb_env_close(w->env);
    free(w);
}

static int lm_write(void *p, uint64_t k, const unsigned char v[VALUE_BYTES])
{
    struct lw *w = p;
    MDB_txn *txn;
    int rc = mdb_txn_begin(w->env, NULL, 0, &txn);
    if (rc)
        return lfail("txn_begin", rc);
    MDB_val key = { sizeof k, &k }, val = { VALUE_BYTES, (void *)v };
    if ((rc = mdb_put(txn, w->dbi, &key, &val, 0))) {
        mdb_txn_abort(txn);
        return lfail("put", rc);
    }
    if ((rc = mdb_txn_commit(txn)))
        return lfail("commit", rc);
    return 0;
}

static int lm_stall(void *p)
{
    struct lw *w = p;
    MDB_txn *txn;
    int rc = mdb_txn_begin(w->env, NULL, 0, &txn);
    if (rc)
        return lfail("txn_begin", rc);
    raise(SIGSTOP);
    mdb_txn_abort(txn);
    return 0;
}

const struct peer peer_lmdb = {
    .name = "lmdb", .store = "lmdb", .cases = C_R1 | C_R2 | C_R3 | C_O1 | C_M, .unit = 1,
    .note = "LMDB on tmpfs, MDB_INTEGERKEY, reader processes, read txn renewed every 1,000 lookups, value copied from mdb_get",
    .load = lm_load, .unload = lm_unload, .reader_open = lm_open, .lookup = lm_lookup, .reader_close = lm_close,
    .writer_open = lm_writer_open, .write = lm_write, .stall = lm_stall, .writer_close = lm_writer_close,
};

#else

static bool lm_available(const char **why)
{
    *why = "not built in: <lmdb.h> was missing at build time (apt-get install liblmdb-dev, then make bench)";
    return false;
}

const struct peer peer_lmdb = {
    .name = "lmdb", .store = "lmdb", .cases = C_R1 | C_R2 | C_R3 | C_O1 | C_M, .unit = 1,
    .note = "LMDB", .available = lm_available,
};

#endif
