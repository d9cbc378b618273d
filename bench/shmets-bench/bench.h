/*
 * bench.h — private to build/shmets-bench (issue 8): the read benchmark of shmets and of the
 * stores users would otherwise pick, measured in one program and one run.
 *
 * THE WORKLOAD (shared/WORKLOAD.md): N objects (1,000,000), keys 0..N-1, values of 32 bytes.
 * Every lookup copies its 32-byte value out of the store and folds it into a checksum; keys
 * are drawn uniformly by a per-reader xorshift64* seeded from the reader's index.  The value
 * of key K holds K in its first 8 bytes (little-endian), so each lookup also checks that it
 * found the right object: a store that returns wrong values is reported, not measured.
 *
 * THE PARTS
 *   main.c    options, the guardian process (cleanup however the run ends), the standard set
 *   run.c     one run: fork readers (and a writer), time a window, collect figures
 *   report.c  results.tsv -> report.md and read-scaling.svg (gnuplot)
 *   peer_*.c  one file per store; each exports `const struct peer` tables (below)
 *
 * A PEER is a store seen through one API.  Peers that read the same loaded store (shmets,
 * shmets-zc and shmets-batch; redis and redis-pipe16) name the same `store`, so it is loaded
 * once.  Loading runs in the parent (the worker process); readers and writers are forked
 * children that open the store themselves, as unrelated processes would.  A peer with
 * `threads` set (urcu) keeps its store in one process: run.c forks a host process per run
 * that loads the store and runs the readers and the writer as its threads.
 */
#ifndef SHMETS_BENCH_H
#define SHMETS_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#define MAXP        64          /* readers a run may have */
#define CHUNK       32          /* keys drawn at a time; a peer's lookup() gets this many */
#define SAMPLES     16384       /* latency samples kept per reader (the last ones) */
#define SAMPLE_EVERY 8          /* one chunk in 8 starts with a timed call (1 in 256 keys) */
#define VALUE_BYTES 32

enum bench_case { C_R1 = 1, C_R2 = 2, C_R3 = 4, C_O1 = 8, C_M = 16 };

struct cfg {
    uint64_t objects;           /* N */
    double seconds;             /* D: the measured window of a run */
    double warmup;              /* before the window: readers attach, fault pages in */
    char tag[64];               /* "shmets-bench.<pid>": names of segments, dirs, sockets */
    char dir[256];              /* a private directory for files (lmdb, redis's socket) */
};

/*
 * The store's side of the benchmark.  Every function but the name may be NULL where the peer
 * does not take part in the cases that need it (`cases` says which).  `ordered` is 1 for O1
 * (an ordered index), 0 for the others.  Return values: 0 or a negative number (the peer
 * prints what went wrong on stderr).
 */
struct peer {
    const char *name;
    const char *store;          /* peers with one store name share its load */
    unsigned cases;             /* C_... mask */
    unsigned unit;              /* keys one call looks up (1; 16: a pipeline; 32: a batch) */
    bool threads;               /* readers are threads of one process (run.c forks a host) */
    const char *note;           /* one line for the report: what exactly is measured */
    /* Is the store usable here (library built in, server binary present)?  NULL: yes.  On
     * no, *why says why. */
    bool (*available)(const char **why);
    /* Make and fill the store with N objects; *mem_bytes: what it uses (the M case). */
    int (*load)(const struct cfg *c, int ordered, uint64_t *mem_bytes);
    void (*unload)(const struct cfg *c, int ordered);
    /* A reader (in its own process, or thread for `threads` peers). */
    void *(*reader_open)(const struct cfg *c, int ordered, int idx);
    /* Look up keys[0..n), fold each value into *sum; returns the number of keys whose value
     * was wrong or missing, or a negative number when the store failed. */
    long (*lookup)(void *r, const uint64_t *keys, unsigned n, uint64_t *sum);
    void (*reader_close)(void *r);
    /* A writer: overwrite key with val (R2); take the write lock or open a write transaction
     * and stop with raise(SIGSTOP) holding it, then let go (R3). */
    void *(*writer_open)(const struct cfg *c, int ordered);
    int (*write)(void *w, uint64_t key, const unsigned char val[VALUE_BYTES]);
    int (*stall)(void *w);
    void (*writer_close)(void *w);
    /* A server process the store runs in (redis-server): its CPU counts as the run's. */
    pid_t (*server)(void);
};

extern const struct peer peer_shmets, peer_shmets_zc, peer_shmets_batch, peer_shmets_kv;
extern const struct peer peer_lmdb, peer_rwlock, peer_floor, peer_urcu, peer_redis, peer_redis_pipe;

/* ---- runs (run.c) ------------------------------------------------------------------------- */

/* The figures of one run: one TSV line
 *   case  peer  procs  lookups_per_s  writes_per_s  mem_bytes  p50_ns  p99_ns
 * and, for the report, the per-reader median and the count of wrong values. */
struct result {
    char kase[8];
    char peer[32];
    int procs;
    double lookups, writes;     /* per second: readers' total, the writer's */
    uint64_t mem;               /* M lines: bytes the store uses */
    double p50, p99;            /* ns of one call, divided by the keys it looks up */
    double reader_median;       /* lookups/s of the median reader */
    uint64_t bad;               /* lookups that found no value or a wrong one */
    double cpu_ours;            /* cores the run's readers and writer had in the window */
    double cpu_other;           /* cores the rest of the machine used meanwhile (others' load) */
};

const char *case_name(enum bench_case k);
/* Run case k (R1, R2, R3 or O1) of peer p with `procs` readers; fills *r.  Returns 0, or -1
 * when the run failed (a reader or the writer could not open the store, or died). */
int run_one(const struct peer *p, const struct cfg *c, enum bench_case k, int procs, struct result *r);
/* Cores the whole machine kept busy over the next `secs` seconds (steal included). */
double machine_load(double secs);
/* Nanoseconds on a CPU of every thread of a process; seconds of CPU the whole machine spent
 * busy so far (steal included).  Differences of two calls measure a window. */
uint64_t task_cpu_ns(pid_t pid);
double machine_busy_s(void);
/* For a `threads` peer: load its store in a host process and report what it uses. */
int run_mem_threads(const struct peer *p, const struct cfg *c, uint64_t *mem);

/* ---- the workload's values ---------------------------------------------------------------- */

/* The value of key k in generation g (0 when loaded; writers count up). */
static inline void make_value(uint64_t k, uint64_t g, unsigned char v[VALUE_BYTES])
{
    uint64_t w[4] = { k, g, k * 0x9E3779B97F4A7C15ull, ~k ^ g };
    memcpy(v, w, sizeof w);
}

/* Fold a copied value into *sum; 1 if it is not key k's value, else 0. */
static inline long fold_value(uint64_t k, const unsigned char v[VALUE_BYTES], uint64_t *sum)
{
    uint64_t w[4];
    memcpy(w, v, sizeof w);
    *sum += w[0] ^ w[1] ^ w[2] ^ w[3];
    return w[0] != k;
}

/* xorshift64* (Vigna), and a key in 0..n-1 from it (the high half of a 128-bit product). */
static inline uint64_t rng_next(uint64_t *x)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 0x2545F4914F6CDD1Dull;
}

static inline uint64_t rng_key(uint64_t *x, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rng_next(x) * n) >> 64);
}

static inline uint64_t rng_seed(int idx)
{
    uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(idx + 1) ^ 0xD1B54A32D192ED03ull;
    return x ? x : 1;
}

/* ---- guardian registry (main.c): what the run must end or remove, however it ends ------------ */

/* Record a process to end (by pid) if the run is interrupted; forget it once reaped. */
void reg_pid(pid_t pid);
void unreg_pid(pid_t pid);
/* A shmets instance to destroy, or a file or directory (of files) to remove, at the end. */
void reg_inst(const char *inst);
void reg_path(const char *path);

/* Fork a child that dies with its parent (PR_SET_PDEATHSIG) and is registered.  Returns as
 * fork() does. */
pid_t bench_fork(void);
/* Reap a registered child (waitpid), forgetting it; with a timeout in seconds, after which it
 * is killed (SIGKILL) and reaped.  Returns its wait status, or -1. */
int bench_reap(pid_t pid, double timeout);

double now_s(void);
void sleep_s(double s);
/* Resident set size of a process, in bytes (0 if unknown). */
uint64_t rss_bytes(pid_t pid);
/* Bytes of memory a file (or every file of a directory) holds (st_blocks). */
uint64_t file_bytes(const char *path);
/* Remove a file, or a directory and the files in it. */
void remove_path(const char *path);
/* The machine, as "# key value" lines: cores, cpu, kernel, date (UTC). */
void machine_info(FILE *f);

#endif
