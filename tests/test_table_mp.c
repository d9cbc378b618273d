/*
 * test_table_mp.c — tables shared by several processes, through the public API (plus the RCU
 * internals for one test): the guarantees of include/shmets.h part 6 that only show when
 * writers and readers run at the same time in different processes.
 *
 * - Readers never see freed memory: writer processes replace, delete, re-insert and
 *   list-insert objects of a public set table and reclaim retired memory as fast as they can,
 *   with freed blocks poisoned (alloc_poison: 0xDE), while reader processes look keys up.
 *   Every object carries a payload derived from its key and version, so a reader can tell a
 *   whole object from a torn, reused or poisoned one; and only every tenth key is ever
 *   deleted, so a miss on any other key (what a lookup through freed memory mostly gives) is
 *   caught too.  A cross-process use-after-free in the hash index, the limbo list or the
 *   allocator would show here.  (Checked against a library whose rcu_safe_epoch() ignored
 *   readers: each of 10 runs failed.)
 * - An insert of a list is isolated: a writer inserts 8 objects {{g,I}, Gen} in one call with
 *   a growing Gen; once a reader has seen generation G for one of them, every later lookup of
 *   any of them must give at least G.  Seeing part of an insert would break this.  (Checked
 *   against a library that did not hold index_root.seq odd during the publish: each of 10
 *   runs failed.)
 * - A reader killed inside a read section: while it lives, memory retired after it entered
 *   stays in limbo (shmets_reclaim frees nothing of it); once it is SIGKILLed and reaped, the
 *   next reclaim clears its slot and frees everything, and the memory in use falls back to
 *   where it was.
 * - Traversals while writers write: readers walk a set (under safe_fixtable; plain and
 *   write_concurrency) and an ordered_set by first/next, tab2list and foldl while writers replace, delete and insert
 *   keys and one of them makes the hash index double and halve over and over; no key comes
 *   twice in a traversal, an ordered_set's keys come strictly increasing, every key that stays
 *   throughout comes once, and no object is torn or poisoned.
 *
 * Children call child_init() first, never call cmocka asserts (they _exit with a code listed
 * next to each child's main), and each is reaped by pid before the parent asserts anything.
 * Each test uses its own instance, named after the pid, and destroys it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shmets.h"
#include "testutil.h"
#include "table/table.h"       /* alloc_poison, the RCU reader, limbo counts */

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TESTINST_PREFIX "test_table_mp"
#include "testinst.h"

/* Tests that poison frees leave the process as they found it. */
static int teardown_unpoison(void **s)
{
    alloc_poison = 0;
    return teardown(s);
}

/* ---- helpers shared by parent and children (no cmocka calls) --------------------------- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;                    /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Reap a child by pid; its wait status. */
static int reap(pid_t pid)
{
    int st = 0;
    pid_t r;
    do
        r = waitpid(pid, &st, 0);
    while (r < 0 && errno == EINTR);
    return r == pid ? st : -1;
}

/* Reap a child by pid, waiting at most `secs`: a child still running then is SIGKILLed and
 * reaped, and *hung set (a call that never returns fails the test instead of hanging it). */
static int reap_within(pid_t pid, double secs, int *hung)
{
    double end = now() + secs;
    *hung = 0;
    for (;;) {
        int st = 0;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return st;
        if (r < 0 && errno != EINTR)
            return -1;
        if (now() > end) {
            *hung = 1;
            kill(pid, SIGKILL);
            return reap(pid);
        }
        usleep(2000);
    }
}

/* How a child ended, in words (static buffer). */
static const char *how(int st)
{
    static char out[64];
    if (st == -1)
        snprintf(out, sizeof out, "could not be reaped");
    else if (WIFEXITED(st))
        snprintf(out, sizeof out, "exit code %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(out, sizeof out, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(out, sizeof out, "wait status 0x%x", st);
    return out;
}

/* Counters shared with the children (an anonymous shared mapping). */
struct shared {
    _Atomic int stop;
    double t0;                          /* when the writers started (CLOCK_MONOTONIC) */
    _Atomic uint64_t reads, hits, writes, changes;
    _Atomic int64_t acked;              /* the group writer's last generation whose insert returned */
};

static struct shared *shared_new(void)
{
    struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(sh != MAP_FAILED);
    memset(sh, 0, sizeof *sh);
    return sh;
}

/* The payload of object {K, V, <<Payload>>}: its length and its every byte follow from K and V
 * (bytes are < 0x80, so never the poison 0xDE). */
static size_t pay_len(int64_t k, int64_t v)
{
    return 32 + (size_t)((k * 7 + v * 13) % 169);       /* 32 .. 200 */
}

static unsigned char pay_byte(int64_t k, int64_t v)
{
    return (unsigned char)((k * 31 + v) & 0x7f);
}

/* Give object {K, V, <<Payload>>} (len payload bytes) to a builder. */
static void build_obj(shmets_builder *b, int64_t k, int64_t v, size_t len)
{
    unsigned char pay[2048];
    if (len > sizeof pay)
        len = sizeof pay;
    memset(pay, pay_byte(k, v), len);
    shmets_build_tuple(b, 3);
    shmets_build_int(b, k);
    shmets_build_int(b, v);
    shmets_build_binary(b, pay, len);
}

static int make_obj(shmets_builder *b, int64_t k, int64_t v, size_t len, shmets_term *out)
{
    build_obj(b, k, v, len);
    return shmets_builder_finish(b, out);
}

static int make_int(shmets_builder *b, int64_t k, shmets_term *out)
{
    shmets_build_int(b, k);
    return shmets_builder_finish(b, out);
}

/*
 * Check a lookup result for key k: [] or [{K, V, <<Payload>>}] with K == k and the payload
 * that (K, V) gives.  Returns 0 (*hit set) or the reader's exit code:
 *   10 the result is not a valid term        14 V is not a non-negative integer
 *   11 not [] nor a one-element list         15 the third element is not a binary
 *   12 the object is not a 3-tuple           16 the payload has the wrong length
 *   13 the key is not k                      17 a payload byte is wrong   18 ... it is poison
 */
static int verify(shmets_term r, int64_t k, int *hit)
{
    shmets_term v;
    if (shmets_term_from_etf(r.ptr, r.len, SHMETS_ETF_NO_VERSION, &v))
        return 10;
    int rc = 0;
    *hit = 0;
    if (shmets_term_type(v) != SHMETS_T_NIL) {
        size_t n, arity, len;
        shmets_list_iter it;
        shmets_term obj, e;
        int64_t kk, ver;
        const unsigned char *bytes;
        const void *vb;
        if (shmets_term_list_length(v, &n) || n != 1 || shmets_list_begin(v, &it) ||
            shmets_list_next(&it, &obj) != 1)
            rc = 11;
        else if (shmets_term_tuple_arity(obj, &arity) || arity != 3)
            rc = 12;
        else if (shmets_term_tuple_element(obj, 1, &e) || shmets_term_get_int64(e, &kk) || kk != k)
            rc = 13;
        else if (shmets_term_tuple_element(obj, 2, &e) || shmets_term_get_int64(e, &ver) || ver < 0)
            rc = 14;
        else if (shmets_term_tuple_element(obj, 3, &e) || shmets_term_get_binary(e, &vb, &len))
            rc = 15;
        else if (len != pay_len(k, ver))
            rc = 16;
        else {
            bytes = vb;
            for (size_t i = 0; i < len && !rc; i++)
                if (bytes[i] == ALLOC_POISON)
                    rc = 18;
                else if (bytes[i] != pay_byte(k, ver))
                    rc = 17;
        }
        *hit = 1;
    }
    shmets_term_free(&v);
    return rc;
}

static void check(shmets_tab *t)
{
    int rc = shmets_check(t);
    if (rc)
        fail_msg("shmets_check: %s (%s)", shmets_strerror(rc), shmets_errdetail());
}

/* The kind the tests of parts 1 and 2 run on: a set, then an ordered_set (skip-list nodes are
 * retired and poisoned as hash buckets are). */
static enum shmets_kind mp_kind = SHMETS_SET;

static shmets_tab *mk(enum shmets_access access)
{
    shmets_opts o;
    shmets_opts_init(&o);
    o.kind = mp_kind;
    o.access = access;
    shmets_tab *t;
    assert_int_equal(shmets_new(db, "mp", &o, &t), 0);
    return t;
}

static void ins_term(shmets_tab *t, shmets_term x)
{
    int rc = shmets_insert(t, x);
    if (rc)
        fail_msg("insert: %s (%s)", shmets_strerror(rc), shmets_errdetail());
}

/* ---- 1. readers never see freed memory ------------------------------------------------- */

#define NKEYS 200
#define T1_SECONDS (1.5 * stress_factor())
#define T1_WRITERS 2
#define T1_READERS 3
#define READER_CAP (10.0 * stress_factor())        /* seconds: a reader stops on its own if the parent never says */

/* Only every tenth key is ever deleted: a lookup of any other key must find it.  (A lookup
 * that reads freed memory mostly finds no object there, since hash and key no longer match,
 * so a miss where there can be none is the commonest sign of a use-after-free.) */
static int deletable(int64_t k)
{
    return k % 10 == 0;
}

/*
 * A writer: for `secs` seconds, at random: replace a key with a new version; delete a
 * deletable key and insert it again; insert a list of 2..8 objects in one call.  Reclaims
 * every 8 writes (besides what writes reclaim on their own), so freed blocks are poisoned
 * and reused soon after readers are done with them.
 *
 * Lists are inserted only in one 100 ms window out of four (the same windows for both
 * writers).  A list insert is a multi-word publish, and a reader whose lookup overlapped one
 * retries it (T.3), discarding whatever it read: with lists at every moment, a reader stalled
 * inside its section would always retry, and a use-after-free that happened meanwhile would
 * never show.  Outside the windows every write is a single-store publish.
 * Versions are wi + 2n: the two writers never make the same version.  Exit codes:
 *   30 open  31 attach  32 builder  33 insert  34 delete  35 re-insert  36 list insert
 *   37 reclaim  38 building a term
 */
static int writer_main(uint64_t id, int wi, double secs, struct shared *sh)
{
    alloc_poison = 1;
    shmets *d;
    shmets_tab *t;
    shmets_builder *b;
    if (shmets_open(inst, &d))
        return 30;
    if (shmets_attach(d, id, &t))
        return 31;
    if (shmets_builder_create(&b))
        return 32;
    uint64_t rs = 0x9E3779B97F4A7C15ull ^ ((uint64_t)getpid() << 16) ^ (uint64_t)wi;
    int64_t ver = wi + 2;
    uint64_t n = 0;
    int rc = 0;
    double end = now() + secs;
    while (!rc && now() < end) {
        unsigned op = (unsigned)(rnd(&rs) % 100);
        if ((long)((now() - sh->t0) / 0.1) % 4 != 3)
            op %= 75;                   /* no lists outside the windows */
        int64_t k = (int64_t)(rnd(&rs) % NKEYS);
        shmets_term x = { NULL, 0 }, key = { NULL, 0 };
        if (op < 55) {
            if (make_obj(b, k, ver, pay_len(k, ver), &x))
                rc = 38;
            else if (shmets_insert(t, x))
                rc = 33;
        } else if (op < 75) {
            k -= k % 10;                /* a deletable key */
            if (make_int(b, k, &key) || make_obj(b, k, ver, pay_len(k, ver), &x))
                rc = 38;
            else if (shmets_delete_key(t, key))
                rc = 34;
            else if (shmets_insert(t, x))
                rc = 35;
        } else {
            size_t m = 2 + (size_t)(rnd(&rs) % 7);
            shmets_build_list(b, m);
            for (size_t i = 0; i < m; i++) {
                int64_t kk = (int64_t)(rnd(&rs) % NKEYS);
                build_obj(b, kk, ver, pay_len(kk, ver));
            }
            shmets_build_nil(b);
            if (shmets_builder_finish(b, &x))
                rc = 38;
            else if (shmets_insert(t, x))
                rc = 36;
        }
        shmets_term_free(&x);
        shmets_term_free(&key);
        ver += 2;
        if (!rc && ++n % 8 == 0 && shmets_reclaim(t, 0, NULL))
            rc = 37;
    }
    atomic_fetch_add(&sh->writes, n);
    shmets_builder_destroy(b);
    shmets_close(d);
    return rc;
}

/* A reader: look random keys up until told to stop; every result must pass verify() (its
 * codes 10..18).  Others: 19 [] for a key never deleted  20 open  21 attach  22 builder
 * 23 lookup failed. */
static int reader_main(uint64_t id, int ri, struct shared *sh)
{
    shmets *d;
    shmets_tab *t;
    shmets_builder *b;
    if (shmets_open(inst, &d))
        return 20;
    if (shmets_attach(d, id, &t))
        return 21;
    if (shmets_builder_create(&b))
        return 22;
    shmets_term keys[NKEYS];
    for (int k = 0; k < NKEYS; k++)
        if (make_int(b, k, &keys[k]))
            return 22;
    uint64_t rs = 0xD1B54A32D192ED03ull ^ ((uint64_t)getpid() << 20) ^ (uint64_t)ri;
    uint64_t reads = 0, hits = 0;
    int rc = 0;
    double end = now() + READER_CAP;
    while (!rc && !atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
        int64_t k = (int64_t)(rnd(&rs) % NKEYS);
        shmets_term r;
        int hit = 0;
        if (shmets_lookup(t, keys[k], &r)) {
            rc = 23;
            break;
        }
        rc = verify(r, k, &hit);
        if (!rc && !hit && !deletable(k))
            rc = 19;
        if (rc && getenv("MP_DEBUG")) {
            char *txt = NULL;
            shmets_term_format(r, &txt, NULL);
            fprintf(stderr, "reader %d: key %lld: code %d: %s\n", (int)getpid(), (long long)k, rc,
                    txt ? txt : "(unprintable)");
            free(txt);
        }
        shmets_term_free(&r);
        reads++;
        hits += (uint64_t)hit;
        if ((reads & 1023) == 0 && now() > end)
            break;
    }
    atomic_fetch_add(&sh->reads, reads);
    atomic_fetch_add(&sh->hits, hits);
    for (int k = 0; k < NKEYS; k++)
        shmets_term_free(&keys[k]);
    shmets_builder_destroy(b);
    shmets_close(d);
    return rc;
}

static void readers_never_see_freed_memory(void)
{
    shmets_tab *t = mk(SHMETS_PUBLIC);
    uint64_t id = shmets_id(t);
    shmets_builder *b;
    assert_int_equal(shmets_builder_create(&b), 0);
    shmets_term x;
    shmets_build_list(b, NKEYS);
    for (int k = 0; k < NKEYS; k++)
        build_obj(b, k, 0, pay_len(k, 0));
    shmets_build_nil(b);
    assert_int_equal(shmets_builder_finish(b, &x), 0);
    ins_term(t, x);
    shmets_term_free(&x);
    check(t);
    alloc_poison = 1;

    struct shared *sh = shared_new();
    sh->t0 = now();
    pid_t pids[T1_WRITERS + T1_READERS];
    int st[T1_WRITERS + T1_READERS];
    for (int i = 0; i < T1_WRITERS + T1_READERS; i++) {
        pids[i] = fork();
        if (pids[i] < 0) {
            atomic_store(&sh->stop, 1);
            for (int j = 0; j < i; j++)
                reap(pids[j]);
            fail_msg("fork: %s", strerror(errno));
        }
        if (pids[i] == 0) {
            child_init();
            _exit(i < T1_WRITERS ? writer_main(id, i, T1_SECONDS, sh)
                                 : reader_main(id, i, sh));
        }
    }
    double t0 = now();
    for (int i = 0; i < T1_WRITERS; i++)
        st[i] = reap(pids[i]);
    atomic_store(&sh->stop, 1);
    for (int i = T1_WRITERS; i < T1_WRITERS + T1_READERS; i++)
        st[i] = reap(pids[i]);
    double secs = now() - t0;
    for (int i = 0; i < T1_WRITERS + T1_READERS; i++)
        if (st[i] == -1 || !WIFEXITED(st[i]) || WEXITSTATUS(st[i]) != 0)
            fail_msg("%s %d (pid %d): %s (exit codes: see writer_main, reader_main, verify)",
                     i < T1_WRITERS ? "writer" : "reader", i, (int)pids[i], how(st[i]));
    print_message("freed memory: %.2f s, %llu writes, %llu lookups (%llu hits)\n", secs,
                  (unsigned long long)atomic_load(&sh->writes), (unsigned long long)atomic_load(&sh->reads),
                  (unsigned long long)atomic_load(&sh->hits));
    assert_true(atomic_load(&sh->writes) > 100);
    assert_true(atomic_load(&sh->reads) > 1000);
    assert_true(atomic_load(&sh->hits) > 100);
    check(t);

    /* Every delete was followed by a re-insert: all keys are there, each object whole. */
    uint64_t n;
    assert_int_equal(shmets_size(t, &n), 0);
    assert_int_equal(n, NKEYS);
    for (int k = 0; k < NKEYS; k++) {
        shmets_term key, r;
        int hit;
        assert_int_equal(make_int(b, k, &key), 0);
        assert_int_equal(shmets_lookup(t, key, &r), 0);
        assert_int_equal(verify(r, k, &hit), 0);
        assert_int_equal(hit, 1);
        shmets_term_free(&r);
        shmets_term_free(&key);
    }
    assert_int_equal(shmets_reclaim(t, 0, NULL), 0);
    check(t);
    shmets_builder_destroy(b);
    munmap(sh, sizeof *sh);
}

/* ---- 2. a list insert is isolated ------------------------------------------------------ */

#define GROUP 8
#define T2_SECONDS (1.0 * stress_factor())
#define T2_READERS 2

/* The group {{g,I}, Gen} for I in 1..GROUP, as one list. */
static int make_group(shmets_builder *b, int64_t gen, shmets_term *out)
{
    shmets_build_list(b, GROUP);
    for (int i = 1; i <= GROUP; i++) {
        shmets_build_tuple(b, 2);
        shmets_build_tuple(b, 2);
        shmets_build_atom(b, "g", 1);
        shmets_build_int(b, i);
        shmets_build_int(b, gen);
    }
    shmets_build_nil(b);
    return shmets_builder_finish(b, out);
}

static int make_gkey(shmets_builder *b, int i, shmets_term *out)
{
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "g", 1);
    shmets_build_int(b, i);
    return shmets_builder_finish(b, out);
}

/* Writer: insert generation 1, 2, ... of the group, each in one call.  Exit codes: 50 open,
 * 51 attach, 52 builder, 53 insert, 54 reclaim. */
static int group_writer(uint64_t id, double secs, struct shared *sh)
{
    shmets *d;
    shmets_tab *t;
    shmets_builder *b;
    if (shmets_open(inst, &d))
        return 50;
    if (shmets_attach(d, id, &t))
        return 51;
    if (shmets_builder_create(&b))
        return 52;
    int rc = 0;
    int64_t gen = 1;
    double end = now() + secs;
    for (; !rc && now() < end; gen++) {
        shmets_term x = { NULL, 0 };
        if (make_group(b, gen, &x))
            rc = 52;
        else if (shmets_insert(t, x))
            rc = 53;
        else
            atomic_store_explicit(&sh->acked, gen, memory_order_release);
        shmets_term_free(&x);
        if (!rc && gen % 64 == 0 && shmets_reclaim(t, 0, NULL))
            rc = 54;
    }
    atomic_fetch_add(&sh->writes, (uint64_t)gen - 1);
    shmets_builder_destroy(b);
    shmets_close(d);
    return rc;
}

/* The generation in a lookup result [{{g,I}, Gen}], or -1 if the result is not that. */
static int64_t gen_of(shmets_term r)
{
    shmets_list_iter it;
    shmets_term obj, e;
    size_t n;
    int64_t g;
    if (shmets_term_list_length(r, &n) || n != 1 || shmets_list_begin(r, &it) ||
        shmets_list_next(&it, &obj) != 1 || shmets_term_tuple_element(obj, 2, &e) ||
        shmets_term_get_int64(e, &g) || g < 0)
        return -1;
    return g;
}

static int64_t look_gen(shmets_tab *t, shmets_term key)
{
    shmets_term r;
    if (shmets_lookup(t, key, &r))
        return -2;
    int64_t g = gen_of(r);
    shmets_term_free(&r);
    return g;
}

/*
 * Reader.  The writer inserts each generation of the group whole, and generations only grow;
 * so once a lookup of any member has returned generation G, every later lookup of any member
 * must return at least G (a lookup that returned G saw the insert of G, hence all of it).
 * Each iteration reads {g,1} then {g,8}, then {g,8} then {g,1} (so that whichever order the
 * publish stores the two in, one pair straddles it the revealing way), then the others, and
 * checks every generation against the highest seen so far.  A later read that sees an older
 * generation means it saw part of an insert.  And no lookup may return a generation older
 * than the writer's last acknowledged one when the lookup began (sh->acked).  Exit codes:
 * 40 part of an insert seen, 41 a lookup failed, 42 a result was not [{{g,I},Gen}],
 * 43 open/attach/builder, 44 a stale read.
 */
static int group_reader(uint64_t id, struct shared *sh)
{
    static const int order[] = { 1, GROUP, GROUP, 1, 2, 3, 4, 5, 6, 7, 7, 6, 5, 4, 3, 2 };
    enum { NORDER = sizeof order / sizeof order[0] };
    _Static_assert(GROUP == 8, "order[] names the members of a group of 8");
    shmets *d;
    shmets_tab *t;
    shmets_builder *b;
    shmets_term k[GROUP + 1] = { { NULL, 0 } };
    if (shmets_open(inst, &d) || shmets_attach(d, id, &t) || shmets_builder_create(&b))
        return 43;
    for (int i = 1; i <= GROUP; i++)
        if (make_gkey(b, i, &k[i]))
            return 43;
    uint64_t reads = 0, changes = 0;
    int64_t max = 0, seen[NORDER];
    int rc = 0;
    double end = now() + READER_CAP;
    while (!rc && !atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
        int64_t before = max;
        int j;
        for (j = 0; j < NORDER && !rc; j++) {
            /* An insert acknowledged before this lookup began must be seen (no stale read). */
            int64_t acked = atomic_load_explicit(&sh->acked, memory_order_acquire);
            int64_t g = seen[j] = look_gen(t, k[order[j]]);
            if (g == -2)
                rc = 41;
            else if (g < 0)
                rc = 42;
            else if (g < acked)
                rc = 44;
            else if (g < max)
                rc = 40;
            else
                max = g;
        }
        reads += (uint64_t)j;
        changes += max != before;
        if (rc && getenv("MP_DEBUG")) {
            fprintf(stderr, "reader %d: highest before %lld; read", (int)getpid(), (long long)before);
            for (int i = 0; i < j; i++)
                fprintf(stderr, " {g,%d}=%lld", order[i], (long long)seen[i]);
            fprintf(stderr, "\n");
        }
        if ((reads & 4095) < NORDER && now() > end)
            break;
    }
    atomic_fetch_add(&sh->reads, reads);
    atomic_fetch_add(&sh->changes, changes);
    for (int i = 1; i <= GROUP; i++)
        shmets_term_free(&k[i]);
    shmets_builder_destroy(b);
    shmets_close(d);
    return rc;
}

static void list_insert_is_isolated(void)
{
    shmets_tab *t = mk(SHMETS_PUBLIC);
    uint64_t id = shmets_id(t);
    shmets_builder *b;
    assert_int_equal(shmets_builder_create(&b), 0);
    shmets_term x;
    assert_int_equal(make_group(b, 0, &x), 0);
    ins_term(t, x);
    shmets_term_free(&x);
    check(t);

    struct shared *sh = shared_new();
    pid_t pids[1 + T2_READERS];
    int st[1 + T2_READERS];
    for (int i = 0; i <= T2_READERS; i++) {
        pids[i] = fork();
        if (pids[i] < 0) {
            atomic_store(&sh->stop, 1);
            for (int j = 0; j < i; j++)
                reap(pids[j]);
            fail_msg("fork: %s", strerror(errno));
        }
        if (pids[i] == 0) {
            child_init();
            _exit(i == 0 ? group_writer(id, T2_SECONDS, sh) : group_reader(id, sh));
        }
    }
    double t0 = now();
    st[0] = reap(pids[0]);
    atomic_store(&sh->stop, 1);
    for (int i = 1; i <= T2_READERS; i++)
        st[i] = reap(pids[i]);
    double secs = now() - t0;
    for (int i = 0; i <= T2_READERS; i++)
        if (st[i] == -1 || !WIFEXITED(st[i]) || WEXITSTATUS(st[i]) != 0)
            fail_msg("%s %d (pid %d): %s (exit codes: see group_writer, group_reader)",
                     i ? "reader" : "writer", i, (int)pids[i], how(st[i]));
    uint64_t gens = atomic_load(&sh->writes);
    print_message("list isolation: %.2f s, %llu generations, %llu lookups, %llu rounds that saw a newer one\n",
                  secs, (unsigned long long)gens, (unsigned long long)atomic_load(&sh->reads),
                  (unsigned long long)atomic_load(&sh->changes));
    assert_true(gens > 100);
    assert_true(atomic_load(&sh->reads) > 1000);

    /* At rest every member of the group has the last generation. */
    for (int i = 1; i <= GROUP; i++) {
        shmets_term k;
        assert_int_equal(make_gkey(b, i, &k), 0);
        assert_int_equal(look_gen(t, k), (int64_t)gens);
        shmets_term_free(&k);
    }
    uint64_t n;
    assert_int_equal(shmets_size(t, &n), 0);
    assert_int_equal(n, GROUP);
    check(t);
    shmets_builder_destroy(b);
    munmap(sh, sizeof *sh);
}

/* ---- 3. a killed reader is cleared ------------------------------------------------------ */

#define T3_PAYLOAD 1000
#define T3_ROUNDS 5

/* Insert {K, V, <<T3_PAYLOAD bytes>>}: 0 or an error code (no cmocka: a child may be live). */
static int t3_put(shmets_tab *t, shmets_builder *b, int64_t k, int64_t v)
{
    shmets_term x = { NULL, 0 };
    int rc = make_obj(b, k, v, T3_PAYLOAD, &x);
    if (!rc)
        rc = shmets_insert(t, x);
    shmets_term_free(&x);
    return rc;
}

static int t3_del(shmets_tab *t, shmets_builder *b, int64_t k)
{
    shmets_term key = { NULL, 0 };
    int rc = make_int(b, k, &key);
    if (!rc)
        rc = shmets_delete_key(t, key);
    shmets_term_free(&key);
    return rc;
}

static void test_killed_reader_is_cleared(void **s)
{
    (void)s;
    shmets_tab *t = mk(SHMETS_PROTECTED);
    uint64_t id = shmets_id(t);
    shmets_builder *b;
    assert_int_equal(shmets_builder_create(&b), 0);
    for (int k = 0; k < NKEYS; k++)
        assert_int_equal(t3_put(t, b, k, 0), 0);
    uint64_t freed, used0, used1, used2, fr;
    assert_int_equal(shmets_reclaim(t, 0, NULL), 0);
    assert_int_equal(t->h->limbo.entries, 0);           /* nobody reads: limbo empties */
    assert_int_equal(shmets_memory(t, &used0, &fr), 0);

    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        /* Exit codes: 1 open/attach, 2 no reader slot, 3 pipe. */
        child_init();
        close(p[0]);
        shmets *d;
        shmets_tab *ct;
        if (shmets_open(inst, &d) || shmets_attach(d, id, &ct))
            _exit(1);
        struct rcu_reader *rd = tab_reader(ct);
        if (!rd)
            _exit(2);
        rcu_read_begin(&d->c.h->reg, rd);
        if (write(p[1], "r", 1) != 1)
            _exit(3);
        for (;;)
            pause();
    }
    close(p[1]);
    char ch;
    ssize_t got = read(p[0], &ch, 1);
    close(p[0]);
    if (got != 1) {
        int st = reap(child);
        fail_msg("the reader child did not start its section: %s", how(st));
    }

    /* Retire memory while the reader sits in its section: every key replaced T3_ROUNDS times,
     * then half the keys deleted and inserted again.  Nothing here may fail before the child
     * is reaped, so errors are kept for later. */
    int rc0 = 0;
    for (int r = 1; r <= T3_ROUNDS; r++)
        for (int k = 0; k < NKEYS && !rc0; k++)
            rc0 = t3_put(t, b, k, r);
    for (int k = 0; k < NKEYS / 2 && !rc0; k++)
        rc0 = t3_del(t, b, k);
    for (int k = 0; k < NKEYS / 2 && !rc0; k++)
        rc0 = t3_put(t, b, k, T3_ROUNDS + 1);
    uint64_t retired = (uint64_t)NKEYS * T3_ROUNDS + NKEYS / 2;
    uint64_t retired_bytes = retired * T3_PAYLOAD;

    uint64_t cleared = atomic_load(&db->c.h->reg.stale_cleared);
    int rc1 = shmets_reclaim(t, 0, &freed);
    uint64_t limbo1 = t->h->limbo.entries;
    int rc2 = shmets_memory(t, &used1, &fr);
    int alive = kill(child, 0) == 0;
    kill(child, SIGKILL);
    int st = reap(child);
    if (rc0)
        fail_msg("writing under the reader: %s (%s)", shmets_strerror(rc0), shmets_errdetail());
    assert_true(alive);
    assert_int_equal(rc1, 0);
    assert_int_equal(rc2, 0);
    print_message("killed reader: baseline %llu B used; with the reader in its section: %llu B used, "
                  "%llu in limbo, reclaim freed %llu\n", (unsigned long long)used0,
                  (unsigned long long)used1, (unsigned long long)limbo1, (unsigned long long)freed);
    assert_int_equal(freed, 0);                         /* the live reader holds it all */
    assert_true(limbo1 >= retired);
    assert_true(used1 >= used0 + retired_bytes);
    assert_true(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

    /* The reader is dead: its slot is cleared and everything retired becomes free. */
    assert_int_equal(shmets_reclaim(t, 0, &freed), 0);
    assert_int_equal(shmets_memory(t, &used2, &fr), 0);
    print_message("killed reader: after SIGKILL reclaim freed %llu, %llu B used\n",
                  (unsigned long long)freed, (unsigned long long)used2);
    assert_int_equal(freed, limbo1);
    assert_int_equal(t->h->limbo.entries, 0);
    assert_int_equal(atomic_load(&db->c.h->reg.stale_cleared), cleared + 1);
    assert_true(used2 + retired_bytes <= used1);
    assert_true(used2 <= used0 + 64 * 1024);            /* back near the baseline */
    check(t);

    /* The table holds the last version of every key. */
    for (int k = 0; k < NKEYS; k++) {
        shmets_term key, r;
        assert_int_equal(make_int(b, k, &key), 0);
        assert_int_equal(shmets_lookup(t, key, &r), 0);
        int64_t want = k < NKEYS / 2 ? T3_ROUNDS + 1 : T3_ROUNDS;
        shmets_list_iter it;
        shmets_term obj, e;
        int64_t v;
        assert_int_equal(shmets_list_begin(r, &it), 0);
        assert_int_equal(shmets_list_next(&it, &obj), 1);
        assert_int_equal(shmets_term_tuple_element(obj, 2, &e), 0);
        assert_int_equal(shmets_term_get_int64(e, &v), 0);
        assert_int_equal(v, want);
        shmets_term_free(&r);
        shmets_term_free(&key);
    }
    shmets_builder_destroy(b);
}

/* ---- 4. readers traverse while writers change the table ---------------------------------- */

/*
 * Keys 0..T4_KEYS-1 are in the table from the start; those with k % 4 != 0 stay throughout
 * (writers only replace them), the others come and go, and writer 0 also inserts T4_EXTRA
 * more keys (lists of 100: multi-key publishes) and deletes them again, over and over, so a
 * hash index doubles three times and halves back while readers walk it.  Key k is the
 * integer k, the float k + 0.5 or the binary <<"abcdefg", k:32>> (k mod 3), so an ordered_set
 * interleaves integers and floats and has binaries whose 7-byte prefixes tie.  Readers look
 * stable keys up, and traverse the whole table by first/next, tab2list and foldl, checking:
 * every object is whole (its payload follows from key and version, never poison: writers
 * poison freed memory); an ordered_set's keys come strictly increasing; no key comes twice
 * in one traversal; every stable key comes once.  A hash table is traversed under
 * safe_fixtable (next/2 of a key deleted meanwhile is badarg without it); an ordered_set
 * without.
 */
#define T4_KEYS 2000
#define T4_EXTRA 8000
#define T4_SECONDS (0.8 * stress_factor())
#define T4_WRITERS 2
#define T4_READERS 3

static int t4_stable(int64_t k)
{
    return k < T4_KEYS && k % 4 != 0;
}

static void t4_build_key(shmets_builder *b, int64_t k)
{
    if (k % 3 == 0) {
        shmets_build_int(b, k);
    } else if (k % 3 == 1) {
        shmets_build_float(b, (double)k + 0.5);
    } else {
        unsigned char by[11] = { 'a', 'b', 'c', 'd', 'e', 'f', 'g', (unsigned char)(k >> 24),
                                 (unsigned char)(k >> 16), (unsigned char)(k >> 8), (unsigned char)k };
        shmets_build_binary(b, by, sizeof by);
    }
}

/* The k of a key term, or -1. */
static int64_t t4_key_index(shmets_term key)
{
    int64_t k;
    double d;
    const void *vb;
    size_t len;
    switch (shmets_term_type(key)) {
    case SHMETS_T_INTEGER:
        if (shmets_term_get_int64(key, &k) || k < 0 || k % 3 != 0)
            return -1;
        return k;
    case SHMETS_T_FLOAT:
        if (shmets_term_get_double(key, &d) || d < 0 || d > 1e9)
            return -1;
        k = (int64_t)d;
        return (double)k + 0.5 == d && k % 3 == 1 ? k : -1;
    case SHMETS_T_BINARY: {
        if (shmets_term_get_binary(key, &vb, &len) || len != 11 || memcmp(vb, "abcdefg", 7))
            return -1;
        const unsigned char *p = vb;
        k = (int64_t)p[7] << 24 | (int64_t)p[8] << 16 | (int64_t)p[9] << 8 | p[10];
        return k % 3 == 2 ? k : -1;
    }
    default:
        return -1;
    }
}

static void t4_build_obj(shmets_builder *b, int64_t k, int64_t v)
{
    unsigned char pay[256];
    size_t len = pay_len(k, v);
    memset(pay, pay_byte(k, v), len);
    shmets_build_tuple(b, 3);
    t4_build_key(b, k);
    shmets_build_int(b, v);
    shmets_build_binary(b, pay, len);
}

/* An object {Key, V, <<Payload>>}: 0 and *k, or verify()'s codes 12..18 (13: the key is not
 * one of ours). */
static int t4_check_obj(shmets_term obj, int64_t *kout)
{
    size_t arity, len;
    shmets_term e;
    int64_t k, ver;
    const void *vb;
    if (shmets_term_tuple_arity(obj, &arity) || arity != 3)
        return 12;
    if (shmets_term_tuple_element(obj, 1, &e) || (k = t4_key_index(e)) < 0 || k >= T4_KEYS + T4_EXTRA)
        return 13;
    if (shmets_term_tuple_element(obj, 2, &e) || shmets_term_get_int64(e, &ver) || ver < 0)
        return 14;
    if (shmets_term_tuple_element(obj, 3, &e) || shmets_term_get_binary(e, &vb, &len))
        return 15;
    if (len != pay_len(k, ver))
        return 16;
    const unsigned char *bytes = vb;
    for (size_t i = 0; i < len; i++)
        if (bytes[i] != pay_byte(k, ver))
            return bytes[i] == ALLOC_POISON ? 18 : 17;
    *kout = k;
    return 0;
}

/*
 * A writer, for `secs` seconds: replace a key with a new version (stable or not), delete or
 * insert a coming-and-going key, insert a list of 2..8 objects; writer 0 also inserts the
 * T4_EXTRA keys 100 at a time, then deletes them one at a time, again and again (counting
 * half cycles in sh->changes).  Reclaims
 * every 16 writes.  Versions are wi + 2n.  Exit codes: 30 open/attach/builder, 33 insert,
 * 34 delete, 36 list insert, 37 reclaim, 38 building a term.
 */
static int t4_writer(uint64_t id, int wi, double secs, struct shared *sh)
{
    alloc_poison = 1;
    shmets *d;
    shmets_tab *t;
    shmets_builder *b;
    if (shmets_open(inst, &d) || shmets_attach(d, id, &t) || shmets_builder_create(&b))
        return 30;
    uint64_t rs = 0x5851F42D4C957F2Dull ^ ((uint64_t)getpid() << 16) ^ (uint64_t)wi;
    int64_t ver = wi + 2, extra = 0, cycles = 0;
    int growing = 1;
    uint64_t n = 0;
    int rc = 0;
    double end = now() + secs;
    while (!rc && now() < end) {
        shmets_term x = { NULL, 0 };
        if (wi == 0 && growing) {               /* 100 extra keys in one list */
            shmets_build_list(b, 100);
            for (int i = 0; i < 100; i++)
                t4_build_obj(b, T4_KEYS + extra + i, ver);
            shmets_build_nil(b);
            if (shmets_builder_finish(b, &x))
                rc = 38;
            else if (shmets_insert(t, x))
                rc = 36;
            shmets_term_free(&x);
            extra += 100;
            growing = extra < T4_EXTRA;
            cycles += !growing;                 /* a half cycle: the index grew 4 times over */
        } else if (wi == 0 && extra > 0) {      /* and out again, 50 at a time */
            for (int i = 0; i < 50 && extra > 0 && !rc; i++) {
                extra--;
                t4_build_key(b, T4_KEYS + extra);
                if (shmets_builder_finish(b, &x))
                    rc = 38;
                else if (shmets_delete_key(t, x))
                    rc = 34;
                shmets_term_free(&x);
            }
            if (extra == 0) {
                growing = 1;
                cycles++;                       /* and shrank back */
            }
        }
        unsigned op = (unsigned)(rnd(&rs) % 100);
        int64_t k = (int64_t)(rnd(&rs) % T4_KEYS);
        if (rc) {
        } else if (op < 60 || (op < 85 && t4_stable(k))) {
            t4_build_obj(b, k, ver);
            if (shmets_builder_finish(b, &x))
                rc = 38;
            else if (shmets_insert(t, x))
                rc = 33;
        } else if (op < 85) {
            t4_build_key(b, k);
            if (shmets_builder_finish(b, &x))
                rc = 38;
            else if (shmets_delete_key(t, x))
                rc = 34;
        } else {
            size_t m = 2 + (size_t)(rnd(&rs) % 7);
            shmets_build_list(b, m);
            for (size_t i = 0; i < m; i++)
                t4_build_obj(b, (int64_t)(rnd(&rs) % T4_KEYS), ver);
            shmets_build_nil(b);
            if (shmets_builder_finish(b, &x))
                rc = 38;
            else if (shmets_insert(t, x))
                rc = 36;
        }
        shmets_term_free(&x);
        ver += 2;
        if (!rc && ++n % 16 == 0 && shmets_reclaim(t, 0, NULL))
            rc = 37;
    }
    atomic_fetch_add(&sh->writes, n);
    atomic_fetch_add(&sh->changes, (uint64_t)cycles);
    shmets_builder_destroy(b);
    shmets_close(d);
    return rc;
}

/* One traversal's bookkeeping: keys seen (by k), the previous key (ordered_set order). */
struct t4_walk {
    int ordered;
    unsigned char *seen;
    shmets_term prev;           /* owned copy */
    int rc;
};

/* Record key k (term key) of a traversal: 0, or 66 out of order, 67 seen twice. */
static int t4_track(struct t4_walk *w, shmets_term key, int64_t k)
{
    if (w->ordered && w->prev.ptr && shmets_term_compare(w->prev, key) >= 0)
        return 66;
    if (w->seen[k]++)
        return 67;
    shmets_term_free(&w->prev);
    if (w->ordered && shmets_term_dup(key, &w->prev))
        return 69;
    return 0;
}

/* After a traversal: every stable key seen (68 if not). */
static int t4_done(struct t4_walk *w)
{
    shmets_term_free(&w->prev);
    for (int64_t k = 0; k < T4_KEYS; k++)
        if (t4_stable(k) && w->seen[k] != 1)
            return 68;
    memset(w->seen, 0, T4_KEYS + T4_EXTRA);
    return 0;
}

static int t4_fold_fn(shmets_term obj, void *arg)
{
    struct t4_walk *w = arg;
    int64_t k;
    int rc = t4_check_obj(obj, &k);
    shmets_term key;
    if (!rc && shmets_term_tuple_element(obj, 1, &key))
        rc = 13;
    if (!rc)
        rc = t4_track(w, key, k);
    return rc;
}

/*
 * A reader: until told to stop, in turn: 200 lookups of stable keys (each found, whole); a
 * first/next traversal; tab2list; foldl.  Exit codes: 60 open/attach/builder, 61 a lookup
 * failed, 62 a stable key was not found, 12..18 an object was not whole (t4_check_obj), 19 a
 * lookup gave an object of another key, 64 first/next failed, 65 first/next gave a key not
 * ours, 66 keys out of order, 67 a key twice in one traversal, 68 a stable key missed,
 * 69 out of memory, 70 tab2list failed, 71 foldl failed (with its own code), 74 fixing failed.
 */
static int t4_reader(uint64_t id, int ri, int ordered, struct shared *sh)
{
    shmets *d;
    shmets_tab *t;
    shmets_builder *b;
    limit_data_memory(2ull << 30);      /* a tab2list that never ends: ENOMEM, not the OOM killer */
    if (shmets_open(inst, &d) || shmets_attach(d, id, &t) || shmets_builder_create(&b))
        return 60;
    if (!ordered && shmets_safe_fixtable(t, true))
        return 74;
    struct t4_walk w = { ordered, calloc(T4_KEYS + T4_EXTRA, 1), { NULL, 0 }, 0 };
    if (!w.seen)
        return 69;
    uint64_t rs = 0x94D049BB133111EBull ^ ((uint64_t)getpid() << 20) ^ (uint64_t)ri;
    uint64_t reads = 0, walks = 0;
    int rc = 0;
    double end = now() + READER_CAP;
    for (unsigned round = (unsigned)ri; !rc && !atomic_load_explicit(&sh->stop, memory_order_relaxed); round++) {
        if (now() > end)
            break;
        switch (round % 4) {
        case 0:
            for (int i = 0; i < 200 && !rc; i++, reads++) {
                int64_t k = (int64_t)(rnd(&rs) % T4_KEYS), got;
                if (!t4_stable(k))
                    k |= 1;
                shmets_term key, r, obj;
                shmets_list_iter it;
                size_t n;
                t4_build_key(b, k);
                if (shmets_builder_finish(b, &key))
                    return 69;
                if (shmets_lookup(t, key, &r))
                    rc = 61;
                else if (shmets_term_list_length(r, &n) || n != 1)
                    rc = 62;
                else if (shmets_list_begin(r, &it) || shmets_list_next(&it, &obj) != 1)
                    rc = 62;
                else if (!(rc = t4_check_obj(obj, &got)) && got != k)
                    rc = 19;
                if (!rc || rc != 61)
                    shmets_term_free(&r);
                shmets_term_free(&key);
            }
            break;
        case 1: {
            shmets_term key, nx;
            if (shmets_first(t, &key)) {
                rc = 64;
                break;
            }
            while (!rc && key.ptr) {
                int64_t k = t4_key_index(key);
                if (k < 0 || k >= T4_KEYS + T4_EXTRA)
                    rc = 65;
                else if (!(rc = t4_track(&w, key, k)) && shmets_next(t, key, &nx))
                    rc = 64;
                shmets_term_free(&key);
                if (!rc)
                    key = nx;
            }
            if (!rc)
                rc = t4_done(&w);
            walks++;
            break;
        }
        case 2: {
            shmets_term l, obj, key;
            shmets_list_iter it;
            if (shmets_tab2list(t, &l) || shmets_list_begin(l, &it)) {
                rc = 70;
                break;
            }
            while (!rc && shmets_list_next(&it, &obj) == 1) {
                int64_t k;
                rc = t4_check_obj(obj, &k);
                if (!rc && shmets_term_tuple_element(obj, 1, &key))
                    rc = 13;
                if (!rc)
                    rc = t4_track(&w, key, k);
            }
            shmets_term_free(&l);
            if (!rc)
                rc = t4_done(&w);
            walks++;
            break;
        }
        default: {
            int r = shmets_foldl(t, t4_fold_fn, &w);
            rc = r > 0 ? r : r < 0 ? 71 : 0;
            if (!rc)
                rc = t4_done(&w);
            walks++;
            break;
        }
        }
        if (rc && getenv("MP_DEBUG"))
            fprintf(stderr, "t4 reader %d (%s): round %u: code %d\n", (int)getpid(),
                    ordered ? "ordered_set" : "set", round, rc);
    }
    if (!ordered && !rc && shmets_safe_fixtable(t, false))
        rc = 74;
    atomic_fetch_add(&sh->reads, reads);
    atomic_fetch_add(&sh->hits, walks);
    shmets_term_free(&w.prev);
    free(w.seen);
    shmets_builder_destroy(b);
    shmets_close(d);
    return rc;
}

static void traverse_while_writing(enum shmets_kind kind, bool wc)
{
    const char *kname = kind == SHMETS_ORDERED_SET ? "ordered_set" : wc ? "set, write_concurrency" : "set";
    shmets_opts o;
    shmets_opts_init(&o);
    o.kind = kind;
    o.access = SHMETS_PUBLIC;
    o.write_concurrency = wc;
    shmets_tab *t;
    assert_int_equal(shmets_new(db, "traverse", &o, &t), 0);
    uint64_t id = shmets_id(t);
    shmets_builder *b;
    assert_int_equal(shmets_builder_create(&b), 0);
    shmets_term x;
    shmets_build_list(b, T4_KEYS);
    for (int k = 0; k < T4_KEYS; k++)
        t4_build_obj(b, k, 0);
    shmets_build_nil(b);
    assert_int_equal(shmets_builder_finish(b, &x), 0);
    ins_term(t, x);
    shmets_term_free(&x);
    check(t);
    alloc_poison = 1;

    struct shared *sh = shared_new();
    pid_t pids[T4_WRITERS + T4_READERS];
    int st[T4_WRITERS + T4_READERS];
    for (int i = 0; i < T4_WRITERS + T4_READERS; i++) {
        pids[i] = fork();
        if (pids[i] < 0) {
            atomic_store(&sh->stop, 1);
            for (int j = 0; j < i; j++)
                reap(pids[j]);
            fail_msg("fork: %s", strerror(errno));
        }
        if (pids[i] == 0) {
            child_init();
            _exit(i < T4_WRITERS ? t4_writer(id, i, T4_SECONDS, sh)
                                 : t4_reader(id, i, kind == SHMETS_ORDERED_SET, sh));
        }
    }
    double t0 = now();
    int hung[T4_WRITERS + T4_READERS];
    for (int i = 0; i < T4_WRITERS; i++)
        st[i] = reap_within(pids[i], T4_SECONDS + 30, &hung[i]);
    atomic_store(&sh->stop, 1);
    for (int i = T4_WRITERS; i < T4_WRITERS + T4_READERS; i++)
        st[i] = reap_within(pids[i], READER_CAP + 30, &hung[i]);
    double secs = now() - t0;
    alloc_poison = 0;
    for (int i = 0; i < T4_WRITERS + T4_READERS; i++)
        if (hung[i] || st[i] == -1 || !WIFEXITED(st[i]) || WEXITSTATUS(st[i]) != 0)
            fail_msg("%s: %s %d (pid %d): %s%s (exit codes: see t4_writer, t4_reader)", kname,
                     i < T4_WRITERS ? "writer" : "reader", i, (int)pids[i], hung[i] ? "hung, " : "",
                     how(st[i]));
    print_message("traversals (%s): %.2f s, %llu writes, %llu extra-key half cycles, %llu lookups, "
                  "%llu whole traversals\n", kname, secs, (unsigned long long)atomic_load(&sh->writes),
                  (unsigned long long)atomic_load(&sh->changes), (unsigned long long)atomic_load(&sh->reads),
                  (unsigned long long)atomic_load(&sh->hits));
    assert_true(atomic_load(&sh->writes) > 100);
    assert_true(atomic_load(&sh->hits) >= T4_READERS);
    assert_true(atomic_load(&sh->changes) >= 1);        /* the extra keys all went in once */
    check(t);

    /* At rest: every stable key is there and whole, the order holds, nothing twice. */
    shmets_term l, obj, prev = { NULL, 0 };
    shmets_list_iter it;
    unsigned char *seen = calloc(T4_KEYS + T4_EXTRA, 1);
    assert_non_null(seen);
    assert_int_equal(shmets_tab2list(t, &l), 0);
    assert_int_equal(shmets_list_begin(l, &it), 0);
    while (shmets_list_next(&it, &obj) == 1) {
        int64_t k;
        shmets_term key;
        assert_int_equal(t4_check_obj(obj, &k), 0);
        assert_int_equal(seen[k]++, 0);
        assert_int_equal(shmets_term_tuple_element(obj, 1, &key), 0);
        if (kind == SHMETS_ORDERED_SET && prev.ptr)
            assert_true(shmets_term_compare(prev, key) < 0);
        prev = key;
    }
    for (int k = 0; k < T4_KEYS; k++)
        if (t4_stable(k))
            assert_int_equal(seen[k], 1);
    free(seen);
    shmets_term_free(&l);
    assert_int_equal(shmets_reclaim(t, 0, NULL), 0);
    check(t);
    shmets_builder_destroy(b);
    munmap(sh, sizeof *sh);
    assert_int_equal(shmets_delete(t), 0);
}

static void test_traversals_while_writing_hash(void **s)
{
    (void)s;
    traverse_while_writing(SHMETS_SET, false);
}

/* Striped: the two writers take different stripes at once, and grow the index under all. */
static void test_traversals_while_writing_striped(void **s)
{
    (void)s;
    traverse_while_writing(SHMETS_SET, true);
}

static void test_traversals_while_writing_ordered(void **s)
{
    (void)s;
    traverse_while_writing(SHMETS_ORDERED_SET, false);
}

static void test_readers_never_see_freed_memory(void **s)
{
    (void)s;
    mp_kind = SHMETS_SET;
    readers_never_see_freed_memory();
}

static void test_readers_never_see_freed_memory_ordered(void **s)
{
    (void)s;
    mp_kind = SHMETS_ORDERED_SET;
    readers_never_see_freed_memory();
    mp_kind = SHMETS_SET;
}

static void test_list_insert_is_isolated(void **s)
{
    (void)s;
    mp_kind = SHMETS_SET;
    list_insert_is_isolated();
}

static void test_list_insert_is_isolated_ordered(void **s)
{
    (void)s;
    mp_kind = SHMETS_ORDERED_SET;
    list_insert_is_isolated();
    mp_kind = SHMETS_SET;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_readers_never_see_freed_memory, setup, teardown_unpoison),
        cmocka_unit_test_setup_teardown(test_list_insert_is_isolated, setup, teardown_unpoison),
        cmocka_unit_test_setup_teardown(test_readers_never_see_freed_memory_ordered, setup, teardown_unpoison),
        cmocka_unit_test_setup_teardown(test_list_insert_is_isolated_ordered, setup, teardown_unpoison),
        cmocka_unit_test_setup_teardown(test_killed_reader_is_cleared, setup, teardown_unpoison),
        cmocka_unit_test_setup_teardown(test_traversals_while_writing_hash, setup, teardown_unpoison),
        cmocka_unit_test_setup_teardown(test_traversals_while_writing_striped, setup, teardown_unpoison),
        cmocka_unit_test_setup_teardown(test_traversals_while_writing_ordered, setup, teardown_unpoison),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
