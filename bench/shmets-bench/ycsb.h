/*
 * ycsb.h — private to build/shmets-bench: YCSB's six core workloads (issue 19) over the same
 * peers as the read benchmark, run by `shmets-bench --workload a,b,...`.
 *
 * THE WORKLOADS are YCSB's CoreWorkload with the property files workloads/workload[a-f]:
 *
 *   a  50 % read, 50 % update                       zipfian
 *   b  95 % read,  5 % update                       zipfian
 *   c 100 % read                                    zipfian
 *   d  95 % read,  5 % insert                       latest
 *   e  95 % scan,  5 % insert                       zipfian; scan length uniform 1..100
 *   f  50 % read, 50 % read-modify-write            zipfian
 *
 * Every client process draws its operations from the workload's mix, so with P processes
 * every process both reads and writes (c only reads, by definition).  A record is one key and
 * one value of --value-bytes bytes (YCSB's is ten fields of 100 bytes: --value-bytes 1000);
 * a read returns the whole value, an update replaces it, a read-modify-write increments the
 * record's counter (update_counter for shmets and ETS; see each peer for its closest).
 *
 * KEYS.  Record number n (0..records-1 loaded, then inserts counting up from `records`, as
 * YCSB's insert sequence) has the key key_of(n): with YCSB's default insertorder=hashed a
 * bijective mix of n within 59 bits (YCSB hashes n with FNV-64; a bijection cannot collide,
 * so the object count stays exact, and 59 bits keep the key an Erlang small integer); with
 * --insert-order ordered the key is n itself.  The value of a record holds its key in its first
 * 8 bytes (little-endian), so every read checks it found the right record.
 *
 * CHOOSING RECORDS (ycsb_gen.c): uniform over the records inserted so far; zipfian as YCSB's
 * ScrambledZipfianGenerator (a Gray et al. zipfian over 10^10 items, hashed by FNV-64 onto
 * the key space); latest as YCSB's SkewedLatestGenerator (the newest record the most likely).
 * Inserts take the next record number from one counter shared by every process; a record is
 * readable once it and every record before it were inserted (YCSB's acknowledged counter).
 */
#ifndef SHMETS_BENCH_YCSB_H
#define SHMETS_BENCH_YCSB_H

#include "bench.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define Y_MAXVAL    (1u << 20)  /* largest --value-bytes */
#define Y_MINVAL    16          /* the key and the generation */
#define Y_SCANMAX   100         /* YCSB workload e: maxscanlength=100, uniform */

enum y_op { Y_READ, Y_UPDATE, Y_INSERT, Y_SCAN, Y_RMW, Y_NOPS };
enum y_dist { D_DEFAULT, D_UNIFORM, D_ZIPFIAN, D_LATEST };

struct ycfg {
    struct cfg c;               /* objects (= records), seconds, warmup, tag, dir */
    char workload;              /* 'a'..'f' */
    unsigned value_bytes;
    enum y_dist dist;           /* the workload's unless given */
    double theta;               /* zipfian constant */
    bool ordered_keys;          /* --insert-order ordered */
    uint64_t ops;               /* --ops N: run until N operations in all (0: --seconds) */
    uint64_t room;              /* records inserts may add, whole benchmark (stores are sized for it) */
    double prop[Y_NOPS];        /* the mix */
};

/*
 * A PEER of the YCSB benchmark.  `ordered`: the store must keep keys in order (workload e's
 * scans); `scan` NULL means the peer cannot scan (its e runs are skipped, and said so).
 * Every op returns 0, 1 when a read found a wrong value or none (counted, not fatal), or a
 * negative number when the store failed (the run fails).  `rmw` increments the record's
 * counter and returns its new value in *counter.
 */
struct ypeer {
    const char *name;
    bool threads;               /* clients are threads of one host process (urcu) */
    const char *note;
    bool (*available)(const char **why);
    int (*load)(const struct ycfg *y, int ordered);
    void (*unload)(const struct ycfg *y, int ordered);
    void *(*open)(const struct ycfg *y, int ordered, int idx);
    void (*close)(void *h);
    int (*read)(void *h, uint64_t key, unsigned char *val);
    int (*update)(void *h, uint64_t key, const unsigned char *val);
    int (*insert)(void *h, uint64_t key, const unsigned char *val);
    int (*scan)(void *h, uint64_t key, unsigned len, unsigned char *val, unsigned *found);
    int (*rmw)(void *h, uint64_t key, uint64_t *counter);
    /* After a run, in the loading process: verify the store and count its records
     * (NULL: not checked).  Returns 0 or -1 (printed). */
    int (*check)(const struct ycfg *y, int ordered, uint64_t *count);
    pid_t (*server)(void);
};

extern const struct ypeer ypeer_shmets, ypeer_rwlock, ypeer_lmdb, ypeer_redis, ypeer_urcu;

/* ---- keys and values (ycsb_gen.c) ---------------------------------------------------------- */

#define KEY_BITS 59
static inline uint64_t y_mix59(uint64_t x)
{
    const uint64_t m = (1ull << KEY_BITS) - 1;
    x &= m;
    x = (x * 0x9E3779B97F4A7C15ull) & m;
    x ^= x >> 29;
    x = (x * 0xBF58476D1CE4E5B9ull) & m;
    x ^= x >> 32;
    x = (x * 0x94D049BB133111EBull) & m;
    x ^= x >> 29;
    return x;
}

static inline uint64_t y_key(const struct ycfg *y, uint64_t n)
{
    return y->ordered_keys ? n : y_mix59(n);
}

/* The value of key k, generation g: k, g, then a pattern; B bytes (B >= 16). */
static inline void y_value(uint64_t k, uint64_t g, unsigned char *v, unsigned b)
{
    memcpy(v, &k, 8);
    memcpy(v + 8, &g, 8);
    uint64_t x = k * 0x9E3779B97F4A7C15ull ^ g;
    for (unsigned i = 16; i < b; i += 8) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        memcpy(v + i, &x, b - i < 8 ? b - i : 8);
    }
}

/* 1 if v is not a value of key k. */
static inline int y_bad(uint64_t k, const unsigned char *v)
{
    uint64_t w;
    memcpy(&w, v, 8);
    return w != k;
}

/* A double in [0, 1). */
static inline double rng_double(uint64_t *x)
{
    return (double)(rng_next(x) >> 11) * 0x1.0p-53;
}

/* YCSB's zipfian generator (Gray et al., "Quickly generating billion-record synthetic
 * databases", SIGMOD 1994), as in its ZipfianGenerator: items 0..n-1, item 0 the most likely. */
struct zipf {
    double theta, alpha, zeta2, zetan, eta;
    uint64_t n;                 /* items zetan is for */
};

double y_zeta(uint64_t n, double theta);
void zipf_init(struct zipf *z, uint64_t n, double theta);
/* n may grow from call to call (latest): zetan is extended term by term, as YCSB does. */
uint64_t zipf_next(struct zipf *z, uint64_t n, uint64_t *rng);
uint64_t fnv64(uint64_t v);

/* One client's record chooser. */
struct chooser {
    enum y_dist dist;
    struct zipf z;
    uint64_t space;             /* scrambled zipfian: records + expected inserts */
};

void chooser_init(struct chooser *ch, const struct ycfg *y);
/* A record number below `limit` (the records readable now). */
uint64_t chooser_next(struct chooser *ch, uint64_t limit, uint64_t *rng);

/* The workload's mix and distribution; 0 or -1 for an unknown name. */
int y_workload(struct ycfg *y, char name);
const char *y_dist_name(enum y_dist d);
const char *y_op_name(enum y_op o);

/* ---- runs (ycsb_run.c) ---------------------------------------------------------------------- */

#define HBUCKETS 1024           /* log-linear: 16 a power of two, ~6 % apart */

struct yresult {
    char workload;
    char peer[32];
    int procs;
    double secs;                /* the measured window */
    uint64_t n[Y_NOPS];         /* operations of each kind in the window */
    uint64_t inserts;           /* inserts the run made (all of them, warm-up included) */
    uint64_t bad;               /* reads that found a wrong value or none */
    double p[Y_NOPS + 1][3];    /* p50, p99, p99.9 ns by kind; [Y_NOPS]: all kinds */
    double cpu_ours, cpu_other;
    int nclients;               /* per client (0: not known, ETS): its reads and writes */
    uint64_t client_reads[MAXP], client_writes[MAXP];
};

int y_run(const struct ypeer *p, struct ycfg *y, int ordered, int procs, uint64_t *next_rec, struct yresult *r);

/* Entry from main.c: does argv ask for the YCSB workloads?  Then parse it, and run in the
 * worker (c: the guardian's tag and directory). */
bool ycsb_wanted(int argc, char **argv);
void ycsb_parse(int argc, char **argv);
int ycsb_worker(const struct cfg *c);
/* ycsb_report.c: DIR/ycsb.tsv -> DIR/ycsb.md and DIR/ycsb.svg. */
int ycsb_report(const char *dir);


#endif
