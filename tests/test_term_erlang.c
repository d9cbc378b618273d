/*
 * test_term_erlang.c — differential tests of the term layer against real Erlang/OTP.
 *
 * What it tests, for thousands of generated terms:
 *   - canonical ETF: shmets' bytes equal erlang:term_to_binary(T, [{minor_version,2}]) (for
 *     maps: keys in Erlang's map-key order at every size), the C builder makes the term it
 *     was given, and shmets_term_from_etf() turns every encoding Erlang (or a hand-made
 *     alternative) gives of a term into those canonical bytes;
 *   - the printer: what shmets_term_format() writes, erl parses back to the same term, and
 *     it equals io_lib:format("~w", [T]) (except maps of more than 32 keys, which ~w prints
 *     in hash order); shmets_term_parse() reads it back too;
 *   - compare: shmets_term_compare / _equal / _exact_equal / _compare_exact agree with
 *     Erlang's <, ==, =:= and map-key order on random, mostly close, pairs;
 *   - map-key order: the order of maps:keys/1 is the order of shmets_term_compare_exact().
 * 0.0 vs -0.0 is left out of all of them (OTP 25 says 0.0 =:= -0.0, shmets follows OTP 27);
 * test_negative_zero checks shmets' rule on its own.
 *
 * How: each test makes its terms from a seeded PRNG (the seed is printed on failure;
 * SHMETS_TEST_SEED=N overrides it), writes a request file in a fresh temporary directory and
 * runs `escript tests/erl/oracle.escript MODE IN OUT` once (SHMETS_ORACLE=path overrides the
 * script).  Both files are sequences of records, each a 32-bit big-endian length and that
 * many bytes (ETF with its leading 131, or UTF-8 text); the first request record is the
 * header "shmets-oracle v1 seed=N".  The oracle's header comment lists each mode's records.
 * The first SHMETS_TEST_SHOW (default 5) mismatches of each kind are printed in full.
 * The oracle also sends terms only Erlang can make (refs, ports, funs, pids of other nodes)
 * for C to canonicalise, print and compare.  Erlang is a declared test dependency: without
 * escript on PATH these tests fail.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmets.h"
#include "erlutil.h"

extern char **environ;

#define DEFAULT_SEED      20240611u
#define SHOW_MAX          5         /* mismatches printed in full, per kind (SHMETS_TEST_SHOW) */
#define ORACLE_TIMEOUT_S  300

/* ======================================================================================== */
/* Small tools: PRNG, arena, byte buffer                                                    */
/* ======================================================================================== */

struct rng {
    uint64_t s;
};

static uint64_t rnd64(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [0, n); 0 if n is 0. */
static uint32_t rnd(struct rng *r, uint32_t n)
{
    return n ? (uint32_t)(rnd64(r) % n) : 0;
}

struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
};

struct arena {
    struct chunk *head;
};

static void *arena_alloc(struct arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        struct chunk *c = malloc(sizeof *c + cap);
        assert_non_null(c);
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *p = (char *)a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

static void arena_free(struct arena *a)
{
    while (a->head) {
        struct chunk *c = a->head;
        a->head = c->next;
        free(c);
    }
}

struct buf {
    unsigned char *p;
    size_t len, cap;
};

static void buf_put(struct buf *b, const void *d, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        assert_non_null(p);
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void buf_byte(struct buf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    buf_put(b, &c, 1);
}

static void buf_be32(struct buf *b, uint32_t v)
{
    unsigned char c[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 8), (unsigned char)v };
    buf_put(b, c, 4);
}

static void buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* A record: 32-bit big-endian length, then the bytes. */
static void put_record(struct buf *b, const void *d, size_t n)
{
    assert_true(n <= UINT32_MAX);
    buf_be32(b, (uint32_t)n);
    buf_put(b, d, n);
}

/* Start a record whose length is patched by end_record(). */
static size_t begin_record(struct buf *b)
{
    size_t at = b->len;
    buf_be32(b, 0);
    return at;
}

static void end_record(struct buf *b, size_t at)
{
    size_t n = b->len - at - 4;
    assert_true(n <= UINT32_MAX);
    b->p[at] = (unsigned char)(n >> 24);
    b->p[at + 1] = (unsigned char)(n >> 16);
    b->p[at + 2] = (unsigned char)(n >> 8);
    b->p[at + 3] = (unsigned char)n;
}

/* Reading the oracle's records. */
struct cursor {
    const unsigned char *p, *end;
};

static void next_record(struct cursor *c, const unsigned char **d, size_t *n, const char *what)
{
    if (c->end - c->p < 4)
        fail_msg("oracle response ends before %s", what);
    size_t len = (size_t)c->p[0] << 24 | (size_t)c->p[1] << 16 | (size_t)c->p[2] << 8 | c->p[3];
    if ((size_t)(c->end - c->p - 4) < len)
        fail_msg("oracle response: record %s is truncated", what);
    *d = c->p + 4;
    *n = len;
    c->p += 4 + len;
}

static uint32_t next_u32(struct cursor *c, const char *what)
{
    const unsigned char *d;
    size_t n;
    next_record(c, &d, &n, what);
    if (n != 4)
        fail_msg("oracle response: %s is not a 32-bit count", what);
    return (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
}

/* ======================================================================================== */
/* Per-test state: everything a test allocates is freed by teardown, even after a failure   */
/* ======================================================================================== */

struct state {
    uint64_t seed;
    struct rng rng;
    struct arena arena;
    shmets_builder *b;
    shmets_builder *kb;             /* for map keys while another term is being built */
    char dir[PATH_MAX];
    bool have_dir;
    struct buf req;
    unsigned char *resp;
    size_t resp_len;
    shmets_term *terms;             /* terms to free */
    size_t nterms, cterms;
    void **ptrs;                    /* malloc'd memory to free */
    size_t nptrs, cptrs;
    unsigned long failures;         /* mismatches of all kinds */
    unsigned long show;             /* mismatches of each kind printed in full */
};

static shmets_term keep_term(struct state *st, shmets_term t)
{
    if (st->nterms == st->cterms) {
        size_t c = st->cterms ? 2 * st->cterms : 1024;
        shmets_term *p = realloc(st->terms, c * sizeof *p);
        assert_non_null(p);
        st->terms = p;
        st->cterms = c;
    }
    st->terms[st->nterms++] = t;
    return t;
}

static void *keep_ptr(struct state *st, void *ptr)
{
    if (st->nptrs == st->cptrs) {
        size_t c = st->cptrs ? 2 * st->cptrs : 1024;
        void **p = realloc(st->ptrs, c * sizeof *p);
        assert_non_null(p);
        st->ptrs = p;
        st->cptrs = c;
    }
    st->ptrs[st->nptrs++] = ptr;
    return ptr;
}

static void file_path(const struct state *st, char *out, size_t cap, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", st->dir, name);
    assert_true(n > 0 && (size_t)n < cap);
}

static uint64_t test_seed(void)
{
    const char *s = getenv("SHMETS_TEST_SEED");
    if (s && *s) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 0);
        if (errno == 0 && *end == '\0')
            return v;
        fprintf(stderr, "SHMETS_TEST_SEED=%s is not a number; using %u\n", s, DEFAULT_SEED);
    }
    return DEFAULT_SEED;
}

static int setup(void **state)
{
    struct state *st = calloc(1, sizeof *st);
    if (!st)
        return -1;
    st->seed = test_seed();
    st->rng.s = st->seed;
    const char *show = getenv("SHMETS_TEST_SHOW");
    st->show = show && *show ? strtoul(show, NULL, 10) : SHOW_MAX;
    *state = st;
    if (shmets_builder_create(&st->b) != 0 || shmets_builder_create(&st->kb) != 0)
        return -1;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    int n = snprintf(st->dir, sizeof st->dir, "%s/shmets-erl-XXXXXX", tmp);
    if (n <= 0 || (size_t)n >= sizeof st->dir || !mkdtemp(st->dir)) {
        fprintf(stderr, "cannot make a temporary directory under %s: %s\n", tmp,
                strerror(errno));
        return -1;
    }
    st->have_dir = true;
    return 0;
}

static int teardown(void **state)
{
    struct state *st = *state;
    if (!st)
        return 0;
    if (st->have_dir) {
        char p[PATH_MAX + 16];
        file_path(st, p, sizeof p, "in.bin");
        unlink(p);
        file_path(st, p, sizeof p, "out.bin");
        unlink(p);
        rmdir(st->dir);
    }
    for (size_t i = 0; i < st->nterms; i++)
        shmets_term_free(&st->terms[i]);
    free(st->terms);
    for (size_t i = 0; i < st->nptrs; i++)
        free(st->ptrs[i]);
    free(st->ptrs);
    shmets_builder_destroy(st->b);
    shmets_builder_destroy(st->kb);
    arena_free(&st->arena);
    buf_free(&st->req);
    free(st->resp);
    free(st);
    *state = NULL;
    return 0;
}

/* ======================================================================================== */
/* Reporting                                                                                */
/* ======================================================================================== */

static void hexdump(const char *label, const unsigned char *p, size_t n)
{
    size_t show = n > 192 ? 192 : n;
    char line[3 * 192 + 1];
    for (size_t i = 0; i < show; i++)
        snprintf(line + 3 * i, 4, "%02x ", p[i]);
    line[3 * show] = '\0';
    print_error("    %s (%zu bytes): %s%s\n", label, n, line, show < n ? "..." : "");
}

static size_t first_diff(const unsigned char *a, size_t an, const unsigned char *b, size_t bn)
{
    size_t i = 0;
    while (i < an && i < bn && a[i] == b[i])
        i++;
    return i;
}

/* Two texts around their first difference. */
static void show_text_diff(const char *ours, size_t ol, const char *theirs, size_t tl)
{
    size_t d = first_diff((const unsigned char *)ours, ol, (const unsigned char *)theirs, tl);
    size_t from = d > 80 ? d - 80 : 0;
    size_t on = ol - from > 160 ? 160 : ol - from, tn = tl - from > 160 ? 160 : tl - from;
    print_error("    shmets: %s%.*s%s\n", from ? "..." : "", (int)on, ours + from,
                from + on < ol ? "..." : "");
    print_error("    ~w:     %s%.*s%s\n", from ? "..." : "", (int)tn, theirs + from,
                from + tn < tl ? "..." : "");
}

static void show_term(const char *label, shmets_term t)
{
    char *text = NULL;
    size_t len = 0;
    int rc = shmets_term_format(t, &text, &len);
    if (rc == 0)
        print_error("    %s: %.*s%s\n", label, len > 400 ? 400 : (int)len, text,
                    len > 400 ? "..." : "");
    else
        print_error("    %s: (shmets_term_format: %s)\n", label, shmets_strerror(rc));
    free(text);
    hexdump("bytes", t.ptr, t.len);
}

/* Count a mismatch; print the first few of each kind in full (the caller prints details
 * when this returns true). */
static bool mismatch(struct state *st, unsigned long *count, const char *fmt, ...)
    CMOCKA_PRINTF_ATTRIBUTE(3, 4);

static bool mismatch(struct state *st, unsigned long *count, const char *fmt, ...)
{
    st->failures++;
    if ((*count)++ >= st->show)
        return false;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    print_error("MISMATCH (seed %" PRIu64 "): %s\n", st->seed, msg);
    return true;
}

static void finish_test(struct state *st, const char *name)
{
    if (st->failures)
        fail_msg("%s: %lu mismatch(es) with Erlang; seed %" PRIu64
                 " (rerun with SHMETS_TEST_SEED=%" PRIu64 ")",
                 name, st->failures, st->seed, st->seed);
}

#define CHECK_RC(call) do { \
        int rc_ = (call); \
        if (rc_ != 0) \
            fail_msg("%s failed: %s (%s); seed %" PRIu64, #call, shmets_strerror(rc_), \
                     shmets_errdetail(), st->seed); \
    } while (0)

/* ======================================================================================== */
/* Running the oracle                                                                       */
/* ======================================================================================== */

static void write_all(const char *path, const unsigned char *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        fail_msg("cannot create %s: %s", path, strerror(errno));
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            fail_msg("cannot write %s: %s", path, strerror(e));
        }
        p += w;
        n -= (size_t)w;
    }
    if (close(fd) != 0)
        fail_msg("cannot write %s: %s", path, strerror(errno));
}

static void read_all(struct state *st, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail_msg("the oracle wrote no %s: %s", path, strerror(errno));
    struct buf b = { 0 };
    unsigned char tmp[65536];
    for (;;) {
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            free(b.p);
            fail_msg("cannot read %s: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        buf_put(&b, tmp, (size_t)r);
    }
    close(fd);
    free(st->resp);
    st->resp = b.p;
    st->resp_len = b.len;
}

/* Write st->req, run the oracle in MODE, read its answer into st->resp. */
static struct cursor run_oracle(struct state *st, const char *mode)
{
    char in[PATH_MAX + 16], out[PATH_MAX + 16];
    file_path(st, in, sizeof in, "in.bin");
    file_path(st, out, sizeof out, "out.bin");
    write_all(in, st->req.p, st->req.len);
    unlink(out);

    const char *script = getenv("SHMETS_ORACLE");
    if (!script || !*script)
        script = "tests/erl/oracle.escript";
    if (access(script, R_OK) != 0)
        fail_msg("oracle %s is not readable (%s): run from the repository root or set "
                 "SHMETS_ORACLE", script, strerror(errno));

    char *argv[] = { (char *)"escript", (char *)script, (char *)mode, in, out, NULL };
    char what[64];
    snprintf(what, sizeof what, "oracle %s", mode);
    erl_run(argv, ORACLE_TIMEOUT_S, what);
    read_all(st, out);
    return (struct cursor){ st->resp, st->resp + st->resp_len };
}

static void begin_request(struct state *st)
{
    char h[64];
    int n = snprintf(h, sizeof h, "shmets-oracle v1 seed=%" PRIu64, st->seed);
    st->req.len = 0;
    put_record(&st->req, h, (size_t)n);
}

/* ======================================================================================== */
/* Term trees: what the C side generates, builds with the builder and describes to Erlang   */
/* ======================================================================================== */

enum kind {
    K_INT, K_UINT, K_BIG, K_FLOAT, K_ATOM, K_BIN, K_BITS, K_STR, K_NIL, K_LIST, K_TUPLE,
    K_MAP, K_PID
};

struct node {
    enum kind k;
    int neg;                        /* K_BIG: 1 if negative */
    unsigned bits;                  /* K_BITS: valid high bits of the last byte, 1..7 */
    int64_t i;                      /* K_INT */
    uint64_t u;                     /* K_UINT */
    double f;                       /* K_FLOAT */
    uint32_t pid;                   /* K_PID */
    unsigned char *data;            /* K_BIG magnitude (little-endian), K_ATOM/K_STR UTF-8, */
    size_t len;                     /* K_BIN/K_BITS bytes */
    struct node **kid;              /* K_LIST elements then tail; K_TUPLE; K_MAP k, v, k, v */
    size_t nkid;
};

static struct node *new_node(struct state *st, enum kind k)
{
    struct node *n = arena_alloc(&st->arena, sizeof *n);
    memset(n, 0, sizeof *n);
    n->k = k;
    return n;
}

static void set_kids(struct state *st, struct node *n, size_t nkid)
{
    n->nkid = nkid;
    n->kid = arena_alloc(&st->arena, (nkid ? nkid : 1) * sizeof *n->kid);
}

static unsigned char *set_data(struct state *st, struct node *n, const void *d, size_t len)
{
    n->data = arena_alloc(&st->arena, len ? len : 1);
    if (d && len)
        memcpy(n->data, d, len);
    n->len = len;
    return n->data;
}

static struct node *mk_int(struct state *st, int64_t v)
{
    struct node *n = new_node(st, K_INT);
    n->i = v;
    return n;
}

static struct node *mk_float(struct state *st, double f)
{
    struct node *n = new_node(st, K_FLOAT);
    if (isinf(f))
        f = copysign(DBL_MAX, f);
    n->f = f == 0 ? 0.0 : f;        /* never -0.0 (see the top comment) */
    return n;
}

/* 2^k + delta (delta -1, 0 or 1) as a bignum, negated if neg. */
static struct node *mk_pow2(struct state *st, unsigned k, int delta, int neg)
{
    struct node *n = new_node(st, K_BIG);
    size_t len = k / 8 + 1;
    unsigned char *m = set_data(st, n, NULL, len);
    memset(m, 0, len);
    if (delta < 0) {
        for (unsigned b = 0; b < k; b++)
            m[b / 8] |= (unsigned char)(1u << (b % 8));
    } else {
        m[k / 8] |= (unsigned char)(1u << (k % 8));
        if (delta > 0 && k > 0)
            m[0] |= 1;
    }
    n->neg = neg && !(delta < 0 && k == 0);
    return n;
}

/* An integral double as an exact bignum. */
static struct node *mk_big_from_double(struct state *st, double f)
{
    int e;
    double m = frexp(fabs(f), &e);             /* |f| = m * 2^e, 0.5 <= m < 1 */
    uint64_t mant = (uint64_t)ldexp(m, 53);
    int shift = e - 53;
    struct node *n = new_node(st, K_BIG);
    size_t len = (size_t)(e > 0 ? e : 0) / 8 + 2;
    unsigned char *mag = set_data(st, n, NULL, len);
    memset(mag, 0, len);
    for (int b = 0; b < 53; b++) {
        if (!(mant >> b & 1))
            continue;
        int at = b + shift;
        if (at >= 0)
            mag[at / 8] |= (unsigned char)(1u << (at % 8));
    }
    n->neg = f < 0;
    return n;
}

static size_t put_utf8(unsigned char *o, uint32_t c)
{
    if (c < 0x80) {
        o[0] = (unsigned char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (unsigned char)(0xC0 | c >> 6);
        o[1] = (unsigned char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (unsigned char)(0xE0 | c >> 12);
        o[1] = (unsigned char)(0x80 | (c >> 6 & 0x3F));
        o[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | c >> 18);
    o[1] = (unsigned char)(0x80 | (c >> 12 & 0x3F));
    o[2] = (unsigned char)(0x80 | (c >> 6 & 0x3F));
    o[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}

static struct node *mk_text(struct state *st, enum kind k, const uint32_t *cps, size_t n)
{
    struct node *t = new_node(st, k);
    unsigned char *o = set_data(st, t, NULL, 4 * n);
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += put_utf8(o + len, cps[i]);
    t->len = len;
    return t;
}

static struct node *mk_atom_str(struct state *st, const char *s)
{
    struct node *n = new_node(st, K_ATOM);
    set_data(st, n, s, strlen(s));
    return n;
}

/* ---- random leaves ---- */

static const int64_t int_edges[] = {
    0, 1, 255, 256, -1, -255, -256, INT32_MAX, INT32_MIN, (int64_t)INT32_MAX + 1,
    (int64_t)INT32_MIN - 1, INT64_MAX, INT64_MIN, INT64_MIN + 1, (int64_t)1 << 53,
    ((int64_t)1 << 53) + 1, -((int64_t)1 << 53) - 1, 134217727, -134217728,
    ((int64_t)1 << 59) - 1, (int64_t)1 << 59, -((int64_t)1 << 59), ((int64_t)1 << 59) + 1,
    -((int64_t)1 << 59) - 1
};

static struct node *gen_int(struct state *st)
{
    struct rng *r = &st->rng;
    struct node *n;
    switch (rnd(r, 11)) {
    case 0:
        return mk_int(st, rnd(r, 256));
    case 1:
        return mk_int(st, -1 - (int64_t)rnd(r, 300));
    case 2:
        return mk_int(st, int_edges[rnd(r, sizeof int_edges / sizeof int_edges[0])]);
    case 3:
        return mk_int(st, (int32_t)(uint32_t)rnd64(r));
    case 4: {
        int64_t v = (int64_t)(rnd64(r) >> (1 + rnd(r, 63)));
        return mk_int(st, rnd(r, 2) ? v : -v);
    }
    case 5: {
        static const uint64_t edges[] = { UINT64_MAX, (uint64_t)1 << 63, ((uint64_t)1 << 63) + 1,
                                          (uint64_t)1 << 32, 0, 7 };
        n = new_node(st, K_UINT);
        n->u = rnd(r, 2) ? rnd64(r) : edges[rnd(r, sizeof edges / sizeof edges[0])];
        return n;
    }
    case 6:
    case 7: {
        /* up to 40 bytes of magnitude, sometimes with high zero bytes */
        n = new_node(st, K_BIG);
        size_t len = 1 + rnd(r, 40), pad = rnd(r, 4) == 0 ? 1 + rnd(r, 3) : 0;
        unsigned char *m = set_data(st, n, NULL, len + pad);
        bool zero = true;
        for (size_t i = 0; i < len + pad; i++) {
            m[i] = i < len ? (unsigned char)rnd64(r) : 0;
            zero = zero && m[i] == 0;
        }
        n->neg = zero ? 0 : (int)rnd(r, 2);
        return n;
    }
    case 8:
        return mk_pow2(st, rnd(r, 2100), (int)rnd(r, 3) - 1, (int)rnd(r, 2));
    case 9: {
        /* around the 255/256-byte line between SMALL_BIG_EXT and LARGE_BIG_EXT */
        n = new_node(st, K_BIG);
        size_t len = 250 + rnd(r, 12);
        unsigned char *m = set_data(st, n, NULL, len);
        for (size_t i = 0; i < len; i++)
            m[i] = (unsigned char)rnd64(r);
        m[len - 1] |= 1;
        n->neg = (int)rnd(r, 2);
        return n;
    }
    default:
        return mk_int(st, (int64_t)rnd(r, 2000001) - 1000000);
    }
}

static double gen_double(struct rng *r)
{
    static const double specials[] = {
        0.0, 1.0, -1.0, 0.1, 0.5, 1e300, -1e300, 0x1p-1074, -0x1p-1074, DBL_MIN, DBL_MAX,
        -DBL_MAX, 1e21, 1e20, 1e-5, 1e-4, 123456789.0, 0x1p53, 0x1p63, 0x1p64, 1e15, 1e16,
        1e17, 0.3, 1.0 / 3, 2.5e-310, 1e23, 100.0, 9007199254740993.0, 1e22, 0.001,
        1.7976931348623157e308, 4.9406564584124654e-324, 123456789012345680.0, 3.0, 2.5
    };
    double f;
    switch (rnd(r, 6)) {
    case 0:
        f = specials[rnd(r, sizeof specials / sizeof specials[0])];
        break;
    case 1:
        f = (double)((int64_t)rnd(r, 1000001) - 500000);
        break;
    case 2:
        do {
            uint64_t bits = rnd64(r);
            memcpy(&f, &bits, sizeof f);
        } while (!isfinite(f));
        break;
    case 3:
        f = ldexp((double)(rnd64(r) >> 11) / 0x1p53, (int)rnd(r, 2100) - 1074);
        if (!isfinite(f))
            f = DBL_MAX;
        if (rnd(r, 2))
            f = -f;
        break;
    case 4:
        f = (double)rnd(r, 100000) / (rnd(r, 2) ? 100.0 : 1000.0);
        break;
    default:
        f = ldexp(1.0, (int)rnd(r, 2098) - 1074);
        break;
    }
    return f == 0 ? 0.0 : f;
}

static uint32_t atom_char(struct rng *r)
{
    static const char punct[] = "_@. '\"\\\n\t$";
    static const uint32_t wide[] = { 0x100, 0x65E5, 0x672C, 0x1F600, 0xFFFD, 0x3B1 };
    switch (rnd(r, 20)) {
    case 9:
        return 'A' + rnd(r, 26);
    case 10:
        return '0' + rnd(r, 10);
    case 11:
        return (unsigned char)punct[rnd(r, sizeof punct - 1)];
    case 12:
        return (uint32_t[]){ 0, 1, 127 }[rnd(r, 3)];
    case 13:
        return 128 + rnd(r, 32);
    case 14:
    case 15:
        return 160 + rnd(r, 96);
    case 16:
        return wide[rnd(r, sizeof wide / sizeof wide[0])];
    default:
        return 'a' + rnd(r, 26);
    }
}

static const char *const fixed_atoms[] = {
    "", "ok", "true", "false", "if", "case", "receive", "maybe", "else", "Hello", "_x", "a.b",
    "a@b", "\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "\xc3\xa9" "1", "\xc3\x9f", "\xc3\x84", "a b",
    "'", "\\", "[]", "{}", "nonode@nohost", "rufsen", "a\nb", "\xf0\x9f\x98\x80", "fun", "Fun",
    "a\x7f", "\xc2\x80", "hello world"
};

static struct node *gen_atom(struct state *st)
{
    struct rng *r = &st->rng;
    uint32_t cps[255];
    switch (rnd(r, 8)) {
    case 0:
    case 1:
        return mk_atom_str(st, fixed_atoms[rnd(r, sizeof fixed_atoms / sizeof fixed_atoms[0])]);
    case 2:
        if (rnd(r, 8) == 0) {           /* the longest atoms: 255 characters */
            uint32_t c = (uint32_t[]){ 'x', 0xE9, 0x65E5, 0x1F600 }[rnd(r, 4)];
            for (size_t i = 0; i < 255; i++)
                cps[i] = c;
            return mk_text(st, K_ATOM, cps, 255);
        }
        /* fall through */
    default: {
        size_t n = rnd(r, 10);
        for (size_t i = 0; i < n; i++)
            cps[i] = atom_char(r);
        return mk_text(st, K_ATOM, cps, n);
    }
    }
}

static struct node *gen_string(struct state *st)
{
    struct rng *r = &st->rng;
    uint32_t cps[16];
    size_t n = rnd(r, 16);
    for (size_t i = 0; i < n; i++) {
        switch (rnd(r, 10)) {
        case 0:
            cps[i] = (uint32_t[]){ 256, 0x65E5, 0x1F600, 0x10FFFF, 0x7FF, 0x800 }[rnd(r, 6)];
            break;
        case 1:
        case 2:
            cps[i] = rnd(r, 256);
            break;
        default:
            cps[i] = 'a' + rnd(r, 26);
        }
    }
    return mk_text(st, K_STR, cps, n);
}

static struct node *gen_binary(struct state *st)
{
    struct rng *r = &st->rng;
    struct node *n = new_node(st, K_BIN);
    size_t len = rnd(r, 4) == 0 ? 0 : rnd(r, 41);
    unsigned char *d = set_data(st, n, NULL, len);
    bool text = rnd(r, 3) == 0;
    for (size_t i = 0; i < len; i++)
        d[i] = text ? (unsigned char)(' ' + rnd(r, 95)) : (unsigned char)rnd64(r);
    return n;
}

static struct node *gen_bits(struct state *st)
{
    struct rng *r = &st->rng;
    struct node *n = new_node(st, K_BITS);
    size_t len = 1 + rnd(r, 6);
    unsigned char *d = set_data(st, n, NULL, len);
    for (size_t i = 0; i < len; i++)
        d[i] = (unsigned char)rnd64(r);
    n->bits = 1 + rnd(r, 7);
    d[len - 1] &= (unsigned char)(0xFFu << (8 - n->bits));
    return n;
}

static struct node *gen_pid(struct state *st)
{
    struct rng *r = &st->rng;
    struct node *n = new_node(st, K_PID);
    /* OTP 25 decodes pids of its own node (nonode@nohost, creation 0) only for numbers
     * below 2^15, so the differential tests stay there. */
    n->pid = rnd(r, 4) == 0 ? (uint32_t[]){ 0, 1, 32767, 32766 }[rnd(r, 4)] : rnd(r, 32768);
    return n;
}

static struct node *gen_leaf(struct state *st)
{
    struct rng *r = &st->rng;
    switch (rnd(r, 16)) {
    case 0: case 1: case 2:
        return gen_int(st);
    case 3: case 4:
        return mk_float(st, gen_double(r));
    case 5: case 6: case 7:
        return gen_atom(st);
    case 8: case 9:
        return gen_binary(st);
    case 10:
        return gen_bits(st);
    case 11: case 12:
        return gen_string(st);
    case 13:
        return new_node(st, K_NIL);
    case 14:
        return gen_pid(st);
    default:
        return gen_int(st);
    }
}

/* ---- building ---- */

static int emit(shmets_builder *b, const struct node *n)
{
    int rc;
    switch (n->k) {
    case K_INT:   return shmets_build_int(b, n->i);
    case K_UINT:  return shmets_build_uint(b, n->u);
    case K_BIG:   return shmets_build_bigint(b, n->neg, n->data, n->len);
    case K_FLOAT: return shmets_build_float(b, n->f);
    case K_ATOM:  return shmets_build_atom(b, (const char *)n->data, n->len);
    case K_BIN:   return shmets_build_binary(b, n->data, n->len);
    case K_BITS:  return shmets_build_bitstring(b, n->data, n->len, n->bits);
    case K_STR:   return shmets_build_string(b, (const char *)n->data, n->len);
    case K_NIL:   return shmets_build_nil(b);
    case K_PID:   return shmets_build_pid(b, n->pid);
    case K_LIST:  rc = shmets_build_list(b, n->nkid - 1); break;
    case K_TUPLE: rc = shmets_build_tuple(b, n->nkid); break;
    case K_MAP:   rc = shmets_build_map(b, n->nkid / 2); break;
    default:      return -SHMETS_EINVAL;
    }
    for (size_t i = 0; rc == 0 && i < n->nkid; i++)
        rc = emit(b, n->kid[i]);
    return rc;
}

/* Build a node into a term (freed by teardown). */
static shmets_term build(struct state *st, shmets_builder *b, const struct node *n)
{
    shmets_term t = { NULL, 0 };
    int rc = emit(b, n);
    int frc = shmets_builder_finish(b, &t);
    if (rc != 0 || frc != 0)
        fail_msg("builder: build calls gave %s, finish gave %s (%s); seed %" PRIu64,
                 rc ? shmets_strerror(rc) : "0", frc ? shmets_strerror(frc) : "0",
                 shmets_errdetail(), st->seed);
    return keep_term(st, t);
}

/* Build a key with the key builder; the caller frees it. */
static shmets_term build_key(struct state *st, const struct node *n)
{
    shmets_term t = { NULL, 0 };
    int rc = emit(st->kb, n);
    int frc = shmets_builder_finish(st->kb, &t);
    if (rc != 0 || frc != 0)
        fail_msg("builder (map key): %s / %s (%s); seed %" PRIu64, shmets_strerror(rc),
                 shmets_strerror(frc), shmets_errdetail(), st->seed);
    return t;
}

/* Are the keys of every map in the tree distinct (=/=)?  Canonical bytes decide. */
static bool keys_unique(struct state *st, const struct node *n)
{
    for (size_t i = 0; i < n->nkid; i++)
        if (!keys_unique(st, n->kid[i]))
            return false;
    if (n->k != K_MAP)
        return true;
    size_t np = n->nkid / 2;
    shmets_term *ks = calloc(np ? np : 1, sizeof *ks);
    assert_non_null(ks);
    bool ok = true;
    for (size_t i = 0; i < np; i++)
        ks[i] = build_key(st, n->kid[2 * i]);
    for (size_t i = 0; ok && i < np; i++)
        for (size_t j = 0; ok && j < i; j++)
            ok = !(ks[i].len == ks[j].len && memcmp(ks[i].ptr, ks[j].ptr, ks[i].len) == 0);
    for (size_t i = 0; i < np; i++)
        shmets_term_free(&ks[i]);
    free(ks);
    return ok;
}

/* ---- random terms ---- */

static struct node *gen_node(struct state *st, unsigned depth);

static struct node *gen_key(struct state *st, unsigned depth)
{
    struct rng *r = &st->rng;
    if (rnd(r, 6) == 0) {   /* numbers that are == but not =:=: both become keys */
        int64_t k = (int64_t)rnd(r, 21) - 10;
        return rnd(r, 2) ? mk_int(st, k) : mk_float(st, (double)k);
    }
    return rnd(r, 4) == 0 ? gen_node(st, depth + 2) : gen_leaf(st);
}

static struct node *gen_map(struct state *st, unsigned depth, size_t np)
{
    struct node *m = new_node(st, K_MAP);
    set_kids(st, m, 2 * np);
    shmets_term *ks = calloc(np ? np : 1, sizeof *ks);
    assert_non_null(ks);
    size_t have = 0;
    for (size_t i = 0; i < np; i++) {
        for (int tries = 0; tries < 8; tries++) {
            struct node *k = gen_key(st, depth);
            shmets_term kt = build_key(st, k);
            bool dup = false;
            for (size_t j = 0; !dup && j < have; j++)
                dup = ks[j].len == kt.len && memcmp(ks[j].ptr, kt.ptr, kt.len) == 0;
            if (dup) {
                shmets_term_free(&kt);
                continue;
            }
            ks[have] = kt;
            m->kid[2 * have] = k;
            m->kid[2 * have + 1] = gen_node(st, depth + 1);
            have++;
            break;
        }
    }
    for (size_t i = 0; i < have; i++)
        shmets_term_free(&ks[i]);
    free(ks);
    m->nkid = 2 * have;
    return m;
}

static struct node *gen_node(struct state *st, unsigned depth)
{
    struct rng *r = &st->rng;
    if (depth >= 5)
        return gen_leaf(st);
    struct node *n;
    switch (rnd(r, 20)) {
    case 9:
    case 10: {
        size_t a = rnd(r, 6);
        if (depth <= 1 && rnd(r, 60) == 0) {     /* LARGE_TUPLE_EXT */
            n = new_node(st, K_TUPLE);
            set_kids(st, n, 256 + rnd(r, 40));
            for (size_t i = 0; i < n->nkid; i++)
                n->kid[i] = rnd(r, 8) ? mk_int(st, (int64_t)rnd(r, 1000)) : gen_leaf(st);
            return n;
        }
        n = new_node(st, K_TUPLE);
        set_kids(st, n, a);
        for (size_t i = 0; i < a; i++)
            n->kid[i] = gen_node(st, depth + 1);
        return n;
    }
    case 11:
    case 12:
    case 13:
    case 14: {
        size_t e = 1 + rnd(r, 5);
        n = new_node(st, K_LIST);
        set_kids(st, n, e + 1);
        for (size_t i = 0; i < e; i++)
            n->kid[i] = rnd(r, 3) == 0 ? mk_int(st, rnd(r, 256)) : gen_node(st, depth + 1);
        switch (rnd(r, 20)) {
        case 0: case 1: case 2:                 /* improper */
            do
                n->kid[e] = gen_leaf(st);
            while (n->kid[e]->k == K_NIL || n->kid[e]->k == K_STR);
            break;
        case 3: case 4:                         /* a list as tail: one longer list */
            n->kid[e] = gen_node(st, depth + 1);
            break;
        case 5:
            n->kid[e] = gen_string(st);
            break;
        default:
            n->kid[e] = new_node(st, K_NIL);
        }
        return n;
    }
    case 15:
    case 16:
        return gen_map(st, depth, rnd(r, 6));
    case 17:
        if (depth <= 1 && rnd(r, 4) == 0)       /* more than 32 keys: a hash map in Erlang */
            return gen_map(st, depth, 30 + rnd(r, 16));
        return gen_map(st, depth, rnd(r, 4));
    default:
        return gen_leaf(st);
    }
}

static struct node *copy_node(struct state *st, const struct node *n)
{
    struct node *c = new_node(st, n->k);
    *c = *n;
    if (n->data)
        set_data(st, c, n->data, n->len);
    if (n->kid) {
        set_kids(st, c, n->nkid);
        for (size_t i = 0; i < n->nkid; i++)
            c->kid[i] = copy_node(st, n->kid[i]);
    }
    return c;
}

/* ---- the spec: the same tree as plain ETF, written by hand, for the oracle ---- */

static void spec_tag(struct buf *b, const char *s)
{
    buf_byte(b, 119);
    buf_byte(b, (unsigned)strlen(s));
    buf_put(b, s, strlen(s));
}

static void spec_bin(struct buf *b, const void *d, size_t n)
{
    buf_byte(b, 109);
    buf_be32(b, (uint32_t)n);
    buf_put(b, d, n);
}

static void spec_int(struct buf *b, int neg, uint64_t mag)
{
    unsigned char m[8];
    size_t n = 0;
    while (mag) {
        m[n++] = (unsigned char)mag;
        mag >>= 8;
    }
    buf_byte(b, 104);
    buf_byte(b, 3);
    spec_tag(b, "i");
    buf_byte(b, 97);
    buf_byte(b, neg ? 1 : 0);
    spec_bin(b, m, n);
}

static void spec(struct buf *b, const struct node *n)
{
    switch (n->k) {
    case K_INT:
        spec_int(b, n->i < 0, n->i < 0 ? (uint64_t)0 - (uint64_t)n->i : (uint64_t)n->i);
        return;
    case K_UINT:
        spec_int(b, 0, n->u);
        return;
    case K_BIG:
        buf_byte(b, 104);
        buf_byte(b, 3);
        spec_tag(b, "i");
        buf_byte(b, 97);
        buf_byte(b, n->neg ? 1 : 0);
        spec_bin(b, n->data, n->len);
        return;
    case K_FLOAT: {
        uint64_t bits;
        unsigned char be[8];
        memcpy(&bits, &n->f, 8);
        for (int i = 0; i < 8; i++)
            be[i] = (unsigned char)(bits >> (56 - 8 * i));
        buf_byte(b, 104);
        buf_byte(b, 2);
        spec_tag(b, "f");
        spec_bin(b, be, 8);
        return;
    }
    case K_ATOM:
    case K_BIN:
    case K_STR:
        buf_byte(b, 104);
        buf_byte(b, 2);
        spec_tag(b, n->k == K_ATOM ? "a" : n->k == K_BIN ? "b" : "s");
        spec_bin(b, n->data, n->len);
        return;
    case K_BITS:
        buf_byte(b, 104);
        buf_byte(b, 3);
        spec_tag(b, "bs");
        spec_bin(b, n->data, n->len);
        buf_byte(b, 97);
        buf_byte(b, n->bits);
        return;
    case K_NIL:
        spec_tag(b, "nil");
        return;
    case K_PID:
        buf_byte(b, 104);
        buf_byte(b, 2);
        spec_tag(b, "p");
        buf_byte(b, 98);
        buf_be32(b, n->pid);
        return;
    case K_LIST:
    case K_TUPLE: {
        size_t ne = n->k == K_LIST ? n->nkid - 1 : n->nkid;
        buf_byte(b, 104);
        buf_byte(b, n->k == K_LIST ? 3 : 2);
        spec_tag(b, n->k == K_LIST ? "l" : "t");
        if (ne) {
            buf_byte(b, 108);
            buf_be32(b, (uint32_t)ne);
            for (size_t i = 0; i < ne; i++)
                spec(b, n->kid[i]);
        }
        buf_byte(b, 106);
        if (n->k == K_LIST)
            spec(b, n->kid[ne]);
        return;
    }
    case K_MAP:
        buf_byte(b, 104);
        buf_byte(b, 2);
        spec_tag(b, "m");
        if (n->nkid) {
            buf_byte(b, 108);
            buf_be32(b, (uint32_t)(n->nkid / 2));
            for (size_t i = 0; i < n->nkid; i += 2) {
                buf_byte(b, 104);
                buf_byte(b, 2);
                spec(b, n->kid[i]);
                spec(b, n->kid[i + 1]);
            }
        }
        buf_byte(b, 106);
        return;
    }
}

static void put_spec_record(struct buf *b, const struct node *n)
{
    size_t at = begin_record(b);
    buf_byte(b, 131);
    spec(b, n);
    end_record(b, at);
}

/* Our ETF (with 131) of a term, freed by teardown. */
static void to_etf(struct state *st, shmets_term t, unsigned char **etf, size_t *len)
{
    CHECK_RC(shmets_term_to_etf(t, etf, len));
    keep_ptr(st, *etf);
    if (*len != t.len + 1 || (*etf)[0] != 131 || memcmp(*etf + 1, t.ptr, t.len) != 0)
        fail_msg("shmets_term_to_etf is not 131 followed by the term's bytes; seed %" PRIu64,
                 st->seed);
}

/* from_etf that must succeed; the result is freed by teardown. */
static bool from_etf(struct state *st, const unsigned char *d, size_t n, unsigned flags,
                     shmets_term *out, unsigned long *count, const char *what)
{
    int rc = shmets_term_from_etf(d, n, flags, out);
    if (rc == 0) {
        keep_term(st, *out);
        return true;
    }
    if (mismatch(st, count, "shmets_term_from_etf refuses %s: %s (%s)", what,
                 shmets_strerror(rc), shmets_errdetail()))
        hexdump("input", d, n);
    return false;
}

static bool same_bytes(shmets_term t, const unsigned char *d, size_t n)
{
    return t.len == n && memcmp(t.ptr, d, n) == 0;
}

/* ======================================================================================== */
/* 1. Canonical encoding                                                                    */
/* ======================================================================================== */

#define N_CANON 3000

static struct node *long_string(struct state *st, size_t n)
{
    struct node *s = new_node(st, K_STR);
    unsigned char *d = set_data(st, s, NULL, n);
    memset(d, 'a', n);
    return s;
}

static void test_canonical_etf(void **state)
{
    struct state *st = *state;
    st->rng.s = st->seed ^ 0x1111;
    struct node **nodes = arena_alloc(&st->arena, (N_CANON + 4) * sizeof *nodes);
    shmets_term *terms = arena_alloc(&st->arena, (N_CANON + 4) * sizeof *terms);
    size_t n = 0;
    for (; n < N_CANON; n++)
        nodes[n] = gen_node(st, 0);
    nodes[n++] = long_string(st, 65535);    /* the longest STRING_EXT */
    nodes[n++] = long_string(st, 65536);    /* one more: LIST_EXT */
    nodes[n] = new_node(st, K_MAP);
    set_kids(st, nodes[n++], 0);
    nodes[n] = new_node(st, K_TUPLE);
    set_kids(st, nodes[n++], 0);

    begin_request(st);
    for (size_t i = 0; i < n; i++) {
        unsigned char *etf;
        size_t len;
        terms[i] = build(st, st->b, nodes[i]);
        to_etf(st, terms[i], &etf, &len);
        put_record(&st->req, etf, len);
        put_spec_record(&st->req, nodes[i]);
    }
    struct cursor c = run_oracle(st, "canon");

    unsigned long bad_value = 0, bad_bytes = 0, bad_from = 0, bad_variant = 0, disagree = 0;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *d;
        size_t len;
        next_record(&c, &d, &len, "canonical answer");
        if (len == 0)
            fail_msg("oracle: empty canonical answer");
        if (d[0] != 0) {
            if (mismatch(st, &bad_value, "term %zu: Erlang: %.*s", i, (int)len - 1,
                         (const char *)d + 1))
                show_term("shmets", terms[i]);
            continue;
        }
        if (len < 2 || d[1] != 131)
            fail_msg("oracle: canonical answer %zu is not ETF", i);
        if (!same_bytes(terms[i], d + 2, len - 2)) {
            if (mismatch(st, &bad_bytes, "term %zu: canonical ETF differs from Erlang's at "
                         "byte %zu", i, first_diff(terms[i].ptr, terms[i].len, d + 2, len - 2))) {
                show_term("shmets", terms[i]);
                hexdump("Erlang", d + 2, len - 2);
            }
        }
    }

    /* Terms made by Erlang, in several encodings each. */
    uint32_t m = next_u32(&c, "count of Erlang terms");
    size_t encodings = 0;
    for (uint32_t j = 0; j < m; j++) {
        uint32_t k = next_u32(&c, "count of encodings");
        const unsigned char **vs = calloc(k ? k : 1, sizeof *vs);
        size_t *vl = calloc(k ? k : 1, sizeof *vl);
        assert_non_null(vs);
        assert_non_null(vl);
        keep_ptr(st, vs);
        keep_ptr(st, vl);
        for (uint32_t v = 0; v < k; v++)
            next_record(&c, &vs[v], &vl[v], "encoding");
        const unsigned char *canon;
        size_t canon_len;
        next_record(&c, &canon, &canon_len, "canonical encoding");
        if (canon_len < 2 || canon[0] != 131)
            fail_msg("oracle: bad canonical encoding");

        shmets_term first = { NULL, 0 };
        for (uint32_t v = 0; v < k; v++) {
            shmets_term t;
            char what[64];
            snprintf(what, sizeof what, "Erlang term %u encoding %u", j, v);
            encodings++;
            if (!from_etf(st, vs[v], vl[v], 0, &t, &bad_from, what))
                continue;
            if (!first.ptr)
                first = t;
            else if (!shmets_term_exact_equal(first, t) &&
                     mismatch(st, &disagree, "%s canonicalises unlike encoding 0", what)) {
                hexdump("input", vs[v], vl[v]);
                show_term("encoding 0 gave", first);
                show_term("this one gave", t);
            }
            if (!same_bytes(t, canon + 1, canon_len - 1) &&
                mismatch(st, &bad_variant, "%s: canonical bytes differ from Erlang's at byte %zu",
                         what, first_diff(t.ptr, t.len, canon + 1, canon_len - 1))) {
                hexdump("input", vs[v], vl[v]);
                show_term("shmets", t);
                hexdump("expected", canon + 1, canon_len - 1);
            }
            /* The same bytes without the version byte. */
            if (v == 0 && vl[v] > 1 && vs[v][1] != 80) {
                shmets_term t2;
                if (from_etf(st, vs[v] + 1, vl[v] - 1, SHMETS_ETF_NO_VERSION, &t2, &bad_from,
                             "an encoding without 131 (SHMETS_ETF_NO_VERSION)") &&
                    !shmets_term_exact_equal(t, t2) &&
                    mismatch(st, &disagree, "%s: SHMETS_ETF_NO_VERSION gives another term", what))
                    show_term("without 131", t2);
            }
        }
        /* Canonical input is a fixed point. */
        shmets_term t;
        encodings++;
        if (from_etf(st, canon, canon_len, 0, &t, &bad_from, "a canonical encoding") &&
            !same_bytes(t, canon + 1, canon_len - 1) &&
            mismatch(st, &bad_variant, "Erlang term %u: canonical input is rewritten", j)) {
            hexdump("input", canon, canon_len);
            show_term("shmets", t);
        }
    }
    if (c.p != c.end)
        fail_msg("oracle: %zu bytes after the last record", (size_t)(c.end - c.p));

    print_message("canonical ETF: %zu C-built terms vs term_to_binary; %u Erlang terms in %zu "
                  "encodings through shmets_term_from_etf; %lu mismatch(es)\n",
                  n, m, encodings, st->failures);
    if (bad_value)
        print_error("  %lu C-built term(s) Erlang decodes to another value (or rejects)\n",
                    bad_value);
    if (bad_bytes)
        print_error("  %lu C-built term(s) not in canonical form\n", bad_bytes);
    if (bad_from)
        print_error("  %lu Erlang encoding(s) refused by shmets_term_from_etf\n", bad_from);
    if (bad_variant)
        print_error("  %lu Erlang encoding(s) canonicalised to other bytes than Erlang's\n",
                    bad_variant);
    if (disagree)
        print_error("  %lu Erlang encoding(s) canonicalised unlike another encoding of the same "
                    "term\n", disagree);
    finish_test(st, "canonical ETF");
}

/* ======================================================================================== */
/* 2. Printer round trip                                                                    */
/* ======================================================================================== */

#define N_FORMAT 3000

static void test_printer_round_trip(void **state)
{
    struct state *st = *state;
    st->rng.s = st->seed ^ 0x2222;
    shmets_term *terms = arena_alloc(&st->arena, N_FORMAT * sizeof *terms);
    char **texts = arena_alloc(&st->arena, N_FORMAT * sizeof *texts);
    size_t *tlens = arena_alloc(&st->arena, N_FORMAT * sizeof *tlens);
    unsigned long own = 0, unread = 0, differs = 0, bad_from = 0;

    begin_request(st);
    for (size_t i = 0; i < N_FORMAT; i++) {
        unsigned char *etf;
        size_t len;
        terms[i] = build(st, st->b, gen_node(st, 0));
        to_etf(st, terms[i], &etf, &len);
        CHECK_RC(shmets_term_format(terms[i], &texts[i], &tlens[i]));
        keep_ptr(st, texts[i]);
        if (strlen(texts[i]) != tlens[i])
            fail_msg("shmets_term_format: length %zu but strlen %zu", tlens[i], strlen(texts[i]));
        /* shmets reads its own text back */
        shmets_term p;
        int rc = shmets_term_parse(texts[i], tlens[i], &p);
        if (rc == 0)
            keep_term(st, p);
        if ((rc != 0 || !shmets_term_exact_equal(p, terms[i])) &&
            mismatch(st, &own, "term %zu: shmets_term_parse of its own text: %s", i,
                     rc ? shmets_strerror(rc) : "another term")) {
            show_term("term", terms[i]);
            if (rc)
                print_error("    detail: %s\n", shmets_errdetail());
            else
                show_term("parsed", p);
        }
        put_record(&st->req, etf, len);
        put_record(&st->req, texts[i], tlens[i]);
    }
    struct cursor c = run_oracle(st, "format");

    size_t compared = 0;
    for (size_t i = 0; i < N_FORMAT; i++) {
        const unsigned char *s, *w;
        size_t sl, wl;
        next_record(&c, &s, &sl, "status");
        next_record(&c, &w, &wl, "~w text");
        if (sl == 0 || wl == 0)
            fail_msg("oracle: empty format answer");
        if (s[0] != 0 &&
            mismatch(st, &unread, "term %zu: %.*s", i, (int)sl - 1, (const char *)s + 1))
            show_term("term", terms[i]);
        if (w[0] == 1) {
            compared++;
            if ((tlens[i] != wl - 1 || memcmp(texts[i], w + 1, wl - 1) != 0) &&
                mismatch(st, &differs, "term %zu: text differs from ~w at byte %zu", i,
                         first_diff((const unsigned char *)texts[i], tlens[i], w + 1, wl - 1))) {
                show_text_diff(texts[i], tlens[i], (const char *)w + 1, wl - 1);
            }
        }
    }

    /* Terms made by Erlang: pids, ports, refs, funs and all the rest. */
    uint32_t m = next_u32(&c, "count of Erlang terms");
    size_t ecompared = 0, eparsed = 0;
    for (uint32_t j = 0; j < m; j++) {
        const unsigned char *canon, *w;
        size_t cl, wl;
        next_record(&c, &canon, &cl, "canonical encoding");
        next_record(&c, &w, &wl, "~w text");
        if (wl == 0)
            fail_msg("oracle: empty ~w record");
        shmets_term t;
        if (!from_etf(st, canon, cl, 0, &t, &bad_from, "an Erlang term"))
            continue;
        char *text;
        size_t tl;
        CHECK_RC(shmets_term_format(t, &text, &tl));
        keep_ptr(st, text);
        if (w[0] & 1) {
            ecompared++;
            if ((tl != wl - 1 || memcmp(text, w + 1, wl - 1) != 0) &&
                mismatch(st, &differs, "Erlang term %u: text differs from ~w at byte %zu", j,
                         first_diff((const unsigned char *)text, tl, w + 1, wl - 1))) {
                show_text_diff(text, tl, (const char *)w + 1, wl - 1);
                hexdump("term", t.ptr, t.len);
            }
        }
        if (w[0] & 2) {
            /* shmets reads Erlang's ~w text (refs, ports, pids of this node included) */
            shmets_term p;
            eparsed++;
            int rc = shmets_term_parse((const char *)w + 1, wl - 1, &p);
            if (rc == 0)
                keep_term(st, p);
            if ((rc != 0 || !shmets_term_exact_equal(p, t)) &&
                mismatch(st, &unread, "Erlang term %u: shmets_term_parse of ~w text: %s (%s)",
                         j, rc ? shmets_strerror(rc) : "another term",
                         rc ? shmets_errdetail() : "")) {
                print_error("    ~w: %.*s\n", wl > 401 ? 400 : (int)wl - 1, (const char *)w + 1);
                show_term("term", t);
                if (rc == 0)
                    show_term("parsed", p);
            }
        }
    }
    if (c.p != c.end)
        fail_msg("oracle: %zu bytes after the last record", (size_t)(c.end - c.p));

    print_message("printer: %d C-built terms read back by erl and by shmets, %zu texts compared "
                  "with ~w; %u Erlang terms, %zu texts compared with ~w, %zu ~w texts read by "
                  "shmets; %lu mismatch(es)\n", N_FORMAT, compared, m, ecompared, eparsed,
                  st->failures);
    if (own)
        print_error("  %lu text(s) shmets_term_parse does not read back\n", own);
    if (unread)
        print_error("  %lu text(s) read back as another term or not at all\n", unread);
    if (differs)
        print_error("  %lu text(s) unlike io_lib:format(\"~w\")\n", differs);
    if (bad_from)
        print_error("  %lu Erlang term(s) refused by shmets_term_from_etf\n", bad_from);
    finish_test(st, "printer");
}

/* ======================================================================================== */
/* 3. Compare                                                                               */
/* ======================================================================================== */

#define N_PAIRS 5000

enum { F_LT = 1, F_EQ = 2, F_EXACT = 4, F_KEYFIRST = 8 };

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

static void check_pair(struct state *st, shmets_term a, shmets_term b, unsigned flags,
                       unsigned long *count, const char *origin, size_t idx)
{
    if (flags == 255) {
        if (mismatch(st, count, "%s pair %zu: binary_to_term/1 rejects our ETF", origin, idx)) {
            show_term("A", a);
            show_term("B", b);
        }
        return;
    }
    int want = flags & F_LT ? -1 : flags & F_EQ ? 0 : 1;
    int ab = sign(shmets_term_compare(a, b)), ba = sign(shmets_term_compare(b, a));
    bool eq = shmets_term_equal(a, b), ex = shmets_term_exact_equal(a, b);
    int xab = sign(shmets_term_compare_exact(a, b)), xba = sign(shmets_term_compare_exact(b, a));
    int want_x = flags & F_EXACT ? 0 : flags & F_KEYFIRST ? -1 : 1;
    const char *what = NULL;
    if (ab != want)
        what = "shmets_term_compare(A, B) disagrees with Erlang's < and ==";
    else if (ba != -want)
        what = "shmets_term_compare(B, A) is not the opposite of compare(A, B)";
    else if (eq != !!(flags & F_EQ))
        what = "shmets_term_equal disagrees with ==";
    else if (ex != !!(flags & F_EXACT))
        what = "shmets_term_exact_equal disagrees with =:=";
    else if (xab != want_x)
        what = "shmets_term_compare_exact disagrees with map-key order";
    else if (xba != -want_x)
        what = "shmets_term_compare_exact(B, A) is not the opposite of (A, B)";
    if (what && mismatch(st, count, "%s pair %zu: %s (Erlang: A < B %s, A == B %s, A =:= B %s, "
                         "A first in a map %s; shmets: compare %d, equal %d, exact_equal %d, "
                         "compare_exact %d)", origin, idx, what,
                         flags & F_LT ? "true" : "false", flags & F_EQ ? "true" : "false",
                         flags & F_EXACT ? "true" : "false", flags & F_KEYFIRST ? "true" : "false",
                         ab, eq, ex, xab)) {
        show_term("A", a);
        show_term("B", b);
    }
}

/* Nudge one node into a near neighbour (or something else entirely). */
static struct node *tweak(struct state *st, struct node *n)
{
    struct rng *r = &st->rng;
    if (rnd(r, 6) == 0)
        return gen_node(st, 3);
    struct node *c = copy_node(st, n);
    switch (c->k) {
    case K_INT:
        if (rnd(r, 3) == 0 && c->i > -((int64_t)1 << 53) && c->i < ((int64_t)1 << 53))
            return mk_float(st, (double)c->i);
        c->i += c->i == INT64_MAX ? -1 : c->i == INT64_MIN ? 1 : rnd(r, 2) ? 1 : -1;
        return c;
    case K_UINT:
        c->u += rnd(r, 2) ? 1 : (uint64_t)-1;
        return c;
    case K_BIG:
        if (c->len && rnd(r, 2))
            c->data[rnd(r, (uint32_t)c->len)] ^= (unsigned char)(1u << rnd(r, 8));
        else
            c->neg = !c->neg;
        return c;
    case K_FLOAT:
        if (rnd(r, 3) == 0 && c->f == floor(c->f)) {
            if (fabs(c->f) < 0x1p63)
                return mk_int(st, (int64_t)c->f);
            return mk_big_from_double(st, c->f);
        }
        return mk_float(st, nextafter(c->f, rnd(r, 2) ? INFINITY : -INFINITY));
    case K_ATOM:
    case K_BIN:
    case K_STR: {
        /* append a character or byte, or drop the last one */
        unsigned char *d = arena_alloc(&st->arena, c->len + 4);
        memcpy(d, c->data, c->len);
        if (c->len && rnd(r, 2)) {
            size_t l = c->len - 1;
            while (c->k != K_BIN && l && (d[l] & 0xC0) == 0x80)
                l--;
            c->len = l;
        } else if (c->k == K_BIN) {
            d[c->len++] = (unsigned char)rnd64(r);
        } else {
            c->len += put_utf8(d + c->len, 'a' + rnd(r, 3));
        }
        c->data = d;
        if (c->k == K_ATOM) {       /* at most 255 characters */
            size_t chars = 0;
            for (size_t i = 0; i < c->len; i++)
                chars += (d[i] & 0xC0) != 0x80;
            if (chars > 255)
                c->len = 0;
        }
        return c;
    }
    case K_BITS:
        if (rnd(r, 2) && c->bits > 1) {
            c->bits--;
            c->data[c->len - 1] &= (unsigned char)(0xFFu << (8 - c->bits));
        } else {
            c->k = K_BIN;
        }
        return c;
    case K_PID:
        c->pid = c->pid ? c->pid - 1 : 1;
        return c;
    case K_NIL:
        return gen_string(st);
    case K_LIST:
    case K_TUPLE:
    case K_MAP: {
        size_t step = c->k == K_MAP ? 2 : 1, base = c->k == K_LIST ? 1 : 0;
        if (c->nkid > base + step && rnd(r, 2)) {           /* drop the last element */
            c->nkid -= step;
            if (c->k == K_LIST)
                c->kid[c->nkid - 1] = n->kid[n->nkid - 1];
            return c;
        }
        struct node **k = arena_alloc(&st->arena, (c->nkid + step) * sizeof *k);
        memcpy(k, c->kid, c->nkid * sizeof *k);
        if (c->k == K_LIST) {                               /* one more element */
            k[c->nkid] = k[c->nkid - 1];
            k[c->nkid - 1] = gen_leaf(st);
        } else if (c->k == K_TUPLE) {
            k[c->nkid] = gen_leaf(st);
        } else {
            k[c->nkid] = gen_key(st, 2);
            k[c->nkid + 1] = gen_leaf(st);
        }
        c->kid = k;
        c->nkid += step;
        return c;
    }
    }
    return c;
}

/* A copy of n with one node somewhere inside nudged. */
static struct node *mutate(struct state *st, const struct node *n)
{
    struct rng *r = &st->rng;
    struct node *root = copy_node(st, n);
    struct node **slot = &root;
    while ((*slot)->nkid && rnd(r, 3) != 0)
        slot = &(*slot)->kid[rnd(r, (uint32_t)(*slot)->nkid)];
    *slot = tweak(st, *slot);
    return root;
}

/* A copy with integers turned into equal floats and back (== but perhaps not =:=). */
static struct node *flip_numbers(struct state *st, const struct node *n)
{
    struct rng *r = &st->rng;
    if (n->k == K_INT && n->i > -((int64_t)1 << 53) && n->i < ((int64_t)1 << 53) && rnd(r, 2))
        return mk_float(st, (double)n->i);
    if (n->k == K_FLOAT && n->f == floor(n->f) && fabs(n->f) < 0x1p63 && rnd(r, 2))
        return mk_int(st, (int64_t)n->f);
    struct node *c = new_node(st, n->k);
    *c = *n;
    if (n->kid) {
        set_kids(st, c, n->nkid);
        for (size_t i = 0; i < n->nkid; i++)
            c->kid[i] = flip_numbers(st, n->kid[i]);
    }
    return c;
}

/* Numbers that are close: equal values of both types, neighbours, floats near big powers. */
static void num_pair(struct state *st, struct node **a, struct node **b)
{
    struct rng *r = &st->rng;
    static const unsigned pows[] = { 31, 32, 52, 53, 54, 59, 60, 63, 64, 65, 100, 1022, 1023,
                                     1024, 1025 };
    int neg = (int)rnd(r, 2);
    switch (rnd(r, 12)) {
    case 0: {
        int64_t k = rnd(r, 2) ? (int64_t)rnd(r, 1000) - 500
                              : (int64_t)(rnd64(r) >> 11) * (neg ? -1 : 1);
        *a = mk_int(st, k);
        *b = mk_float(st, (double)k);
        break;
    }
    case 1:
        *a = mk_int(st, (((int64_t)1 << 53) + (int64_t)rnd(r, 5) - 2) * (neg ? -1 : 1));
        *b = mk_float(st, neg ? -0x1p53 : 0x1p53);
        break;
    case 2: {
        unsigned k = pows[rnd(r, sizeof pows / sizeof pows[0])];
        *a = mk_pow2(st, k, (int)rnd(r, 3) - 1, neg);
        double f = k >= 1024 ? DBL_MAX : ldexp(1.0, (int)k);
        if (rnd(r, 3) == 0)
            f = nextafter(f, rnd(r, 2) ? INFINITY : 0);
        if (isinf(f))
            f = DBL_MAX;
        *b = mk_float(st, neg ? -f : f);
        break;
    }
    case 3: {
        double f = gen_double(r);
        *a = mk_float(st, f);
        *b = mk_float(st, nextafter(f, rnd(r, 2) ? INFINITY : -INFINITY));
        if (isinf((*b)->f))
            (*b)->f = f;
        break;
    }
    case 4: {
        int64_t k = (int64_t)rnd64(r) >> rnd(r, 64);
        *a = mk_int(st, k);
        *b = mk_int(st, k == INT64_MAX ? k - 1 : k + 1);
        break;
    }
    case 5: {
        *a = gen_int(st);
        *b = tweak(st, *a);
        break;
    }
    case 6: {
        static const double tiny[] = { 0x1p-1074, -0x1p-1074, 0.0, 1e-300, -1e-300 };
        *a = mk_int(st, 0);
        *b = mk_float(st, tiny[rnd(r, sizeof tiny / sizeof tiny[0])]);
        break;
    }
    case 7: {   /* an integral float beyond 2^53 and the same value as an integer, or next to it */
        double f = ldexp((double)((rnd64(r) >> 11) | 1), 53 + (int)rnd(r, 960));
        if (neg)
            f = -f;
        *a = mk_big_from_double(st, f);
        if (rnd(r, 2))
            (*a)->data[0] ^= 1;
        *b = mk_float(st, f);
        break;
    }
    case 8: {
        double f = (double)((int64_t)rnd(r, 2000) - 1000) + (rnd(r, 2) ? 0.5 : 1e-9);
        *a = mk_float(st, f);
        *b = mk_int(st, (int64_t)floor(f) + (int64_t)rnd(r, 2));
        break;
    }
    case 9:
        if (rnd(r, 2)) {
            *a = new_node(st, K_UINT);
            (*a)->u = UINT64_MAX - rnd(r, 2);
            *b = mk_float(st, 0x1p64);
        } else {
            *a = mk_int(st, neg ? INT64_MIN + (int64_t)rnd(r, 2) : INT64_MAX - (int64_t)rnd(r, 2));
            *b = mk_float(st, neg ? -0x1p63 : 0x1p63);
        }
        break;
    case 10: {  /* the same value from build_uint and build_bigint (with high zero bytes) */
        uint64_t u = rnd64(r) >> rnd(r, 64);
        *a = new_node(st, K_UINT);
        (*a)->u = u;
        *b = new_node(st, K_BIG);
        unsigned char *m = set_data(st, *b, NULL, 8 + rnd(r, 3));
        memset(m, 0, (*b)->len);
        for (int i = 0; i < 8; i++)
            m[i] = (unsigned char)(u >> (8 * i));
        break;
    }
    default: {  /* a negative int64 from build_int and from build_bigint */
        int64_t k = -(int64_t)(rnd64(r) >> (1 + rnd(r, 63))) - 1;
        uint64_t mag = (uint64_t)0 - (uint64_t)k;
        *a = mk_int(st, k);
        *b = new_node(st, K_BIG);
        unsigned char *m = set_data(st, *b, NULL, 8);
        for (int i = 0; i < 8; i++)
            m[i] = (unsigned char)(mag >> (8 * i));
        (*b)->neg = 1;
        break;
    }
    }
    if (rnd(r, 2))
        return;
    /* The same context around both. */
    /* The same context around both: {Other, N}, [Other | N], #{Other => N} or #{N => Other}. */
    enum kind k = rnd(r, 3) == 0 ? K_MAP : rnd(r, 2) ? K_TUPLE : K_LIST;
    struct node *other = gen_leaf(st), *ca = new_node(st, k), *cb = new_node(st, k);
    bool first = k == K_MAP && rnd(r, 2);
    set_kids(st, ca, 2);
    set_kids(st, cb, 2);
    ca->kid[0] = first ? *a : other;
    ca->kid[1] = first ? other : *a;
    cb->kid[0] = first ? *b : other;
    cb->kid[1] = first ? other : *b;
    *a = ca;
    *b = cb;
}

/* Two leaves of one kind, often sharing a prefix. */
static void same_kind_pair(struct state *st, struct node **a, struct node **b)
{
    *a = gen_leaf(st);
    if (rnd(&st->rng, 2))
        *b = tweak(st, *a);
    else
        do
            *b = gen_leaf(st);
        while ((*b)->k != (*a)->k);
}

static void gen_pair(struct state *st, struct node **a, struct node **b)
{
    struct rng *r = &st->rng;
    for (;;) {
        switch (rnd(r, 20)) {
        case 0: case 1: case 2:
            *a = gen_node(st, 1);
            *b = gen_node(st, 1);
            break;
        case 3: case 4: case 5: case 6:
            num_pair(st, a, b);
            break;
        case 7: case 8:
            same_kind_pair(st, a, b);
            break;
        case 9: case 10: case 11: case 12: case 13: case 14:
            *a = gen_node(st, 1);
            *b = mutate(st, *a);
            break;
        case 15: case 16:
            *a = gen_node(st, 1);
            *b = copy_node(st, *a);
            break;
        default:
            *a = gen_node(st, 1);
            *b = flip_numbers(st, *a);
            break;
        }
        if (rnd(r, 2)) {
            struct node *t = *a;
            *a = *b;
            *b = t;
        }
        if (keys_unique(st, *a) && keys_unique(st, *b))
            return;
    }
}

static void test_compare(void **state)
{
    struct state *st = *state;
    st->rng.s = st->seed ^ 0x3333;
    shmets_term *as = arena_alloc(&st->arena, N_PAIRS * sizeof *as);
    shmets_term *bs = arena_alloc(&st->arena, N_PAIRS * sizeof *bs);
    unsigned long bad = 0, bad_from = 0;

    begin_request(st);
    for (size_t i = 0; i < N_PAIRS; i++) {
        struct node *a, *b;
        unsigned char *etf;
        size_t len;
        gen_pair(st, &a, &b);
        as[i] = build(st, st->b, a);
        bs[i] = build(st, st->b, b);
        to_etf(st, as[i], &etf, &len);
        put_record(&st->req, etf, len);
        to_etf(st, bs[i], &etf, &len);
        put_record(&st->req, etf, len);
    }
    struct cursor c = run_oracle(st, "compare");

    const unsigned char *flags;
    size_t nflags;
    next_record(&c, &flags, &nflags, "flags");
    if (nflags != N_PAIRS)
        fail_msg("oracle: %zu flags for %d pairs", nflags, N_PAIRS);
    size_t counts[3] = { 0 };   /* <, ==, > by Erlang */
    size_t equal_not_exact = 0;
    for (size_t i = 0; i < N_PAIRS; i++) {
        check_pair(st, as[i], bs[i], flags[i], &bad, "C", i);
        if (flags[i] != 255) {
            counts[flags[i] & F_LT ? 0 : flags[i] & F_EQ ? 1 : 2]++;
            equal_not_exact += (flags[i] & F_EQ) && !(flags[i] & F_EXACT);
        }
    }

    uint32_t m = next_u32(&c, "count of Erlang pairs");
    for (uint32_t j = 0; j < m; j++) {
        const unsigned char *a, *b, *f;
        size_t al, bl, fl;
        next_record(&c, &a, &al, "A");
        next_record(&c, &b, &bl, "B");
        next_record(&c, &f, &fl, "pair flags");
        if (fl != 1)
            fail_msg("oracle: pair flags are not one byte");
        shmets_term ta, tb;
        if (!from_etf(st, a, al, 0, &ta, &bad_from, "an Erlang term") ||
            !from_etf(st, b, bl, 0, &tb, &bad_from, "an Erlang term"))
            continue;
        check_pair(st, ta, tb, f[0], &bad, "Erlang", j);
    }
    if (c.p != c.end)
        fail_msg("oracle: %zu bytes after the last record", (size_t)(c.end - c.p));

    print_message("compare: %d C-built pairs (Erlang says %zu <, %zu ==, %zu >; %zu == but not "
                  "=:=) and %u Erlang-made pairs (refs, ports, pids, funs); %lu mismatch(es)\n",
                  N_PAIRS, counts[0], counts[1], counts[2], equal_not_exact, m, st->failures);
    if (bad_from)
        print_error("  %lu Erlang term(s) refused by shmets_term_from_etf\n", bad_from);
    finish_test(st, "compare");
}

/* ======================================================================================== */
/* 4. Map-key order                                                                         */
/* ======================================================================================== */

static int cmp_exact_qsort(const void *x, const void *y)
{
    return shmets_term_compare_exact(*(const shmets_term *)x, *(const shmets_term *)y);
}

static void test_map_key_order(void **state)
{
    struct state *st = *state;
    st->rng.s = st->seed ^ 0x4444;
    unsigned long bad = 0, bad_from = 0;
    begin_request(st);
    struct cursor c = run_oracle(st, "mapkeys");
    uint32_t m = next_u32(&c, "count of maps");
    size_t nkeys = 0;
    for (uint32_t j = 0; j < m; j++) {
        const unsigned char *md, *kd;
        size_t ml, kl;
        next_record(&c, &md, &ml, "map");
        next_record(&c, &kd, &kl, "keys");
        shmets_term map, keys;
        if (!from_etf(st, md, ml, 0, &map, &bad_from, "a map") ||
            !from_etf(st, kd, kl, 0, &keys, &bad_from, "a key list"))
            continue;
        /* maps of up to 32 keys: Erlang's bytes are canonical */
        if (!same_bytes(map, md + 1, ml - 1) &&
            mismatch(st, &bad, "map %u: canonical bytes differ from term_to_binary", j)) {
            show_term("shmets", map);
            hexdump("Erlang", md + 1, ml - 1);
        }
        /* maps:keys order, copied out of the list */
        size_t n;
        CHECK_RC(shmets_term_list_length(keys, &n));
        shmets_term *ks = calloc(n ? n : 1, sizeof *ks), *sorted = calloc(n ? n : 1, sizeof *ks);
        assert_non_null(ks);
        assert_non_null(sorted);
        keep_ptr(st, ks);
        keep_ptr(st, sorted);
        shmets_list_iter it;
        shmets_term el;
        CHECK_RC(shmets_list_begin(keys, &it));
        for (size_t i = 0; i < n; i++) {
            int rc = shmets_list_next(&it, &el);
            if (rc != 1)
                fail_msg("shmets_list_next gave %d before the end of a %zu-element list", rc, n);
            CHECK_RC(shmets_term_dup(el, &ks[i]));
            keep_term(st, ks[i]);
        }
        if (shmets_list_next(&it, &el) != 0)
            fail_msg("shmets_list_next: list longer than its length");
        nkeys += n;

        /* the map walks its keys in maps:keys order */
        shmets_map_iter mi;
        size_t size;
        CHECK_RC(shmets_map_begin(map, &mi, &size));
        if (size != n && mismatch(st, &bad, "map %u: size %zu, Erlang has %zu keys", j, size, n))
            show_term("map", map);
        shmets_term k, v;
        for (size_t i = 0; i < n; i++) {
            int rc = shmets_map_next(&mi, &k, &v);
            if (rc != 1) {
                if (mismatch(st, &bad, "map %u: shmets_map_next gave %d at key %zu", j, rc, i))
                    show_term("map", map);
                break;
            }
            if (!shmets_term_exact_equal(k, ks[i]) &&
                mismatch(st, &bad, "map %u: key %zu is not maps:keys' key %zu", j, i, i)) {
                show_term("shmets", k);
                show_term("Erlang", ks[i]);
            }
        }
        /* every pair in order, both ways */
        for (size_t i = 0; i < n; i++)
            for (size_t l = i + 1; l < n; l++) {
                int x = shmets_term_compare_exact(ks[i], ks[l]);
                int y = shmets_term_compare_exact(ks[l], ks[i]);
                if ((x >= 0 || y <= 0) &&
                    mismatch(st, &bad, "map %u: compare_exact(key %zu, key %zu) = %d, reversed "
                             "%d; maps:keys puts the first first", j, i, l, x, y)) {
                    show_term("first", ks[i]);
                    show_term("second", ks[l]);
                }
            }
        /* sorting a shuffled copy gives maps:keys' order */
        memcpy(sorted, ks, n * sizeof *ks);
        for (size_t i = n; i > 1; i--) {
            size_t s = rnd(&st->rng, (uint32_t)i);
            shmets_term t = sorted[i - 1];
            sorted[i - 1] = sorted[s];
            sorted[s] = t;
        }
        qsort(sorted, n, sizeof *sorted, cmp_exact_qsort);
        for (size_t i = 0; i < n; i++)
            if (!shmets_term_exact_equal(sorted[i], ks[i])) {
                if (mismatch(st, &bad, "map %u: sorting with compare_exact puts another key at "
                             "%zu", j, i)) {
                    show_term("sorted", sorted[i]);
                    show_term("maps:keys", ks[i]);
                }
                break;
            }
    }
    if (c.p != c.end)
        fail_msg("oracle: %zu bytes after the last record", (size_t)(c.end - c.p));
    print_message("map-key order: %u Erlang maps, %zu keys; %lu mismatch(es)\n", m, nkeys,
                  st->failures);
    if (bad_from)
        print_error("  %lu Erlang term(s) refused by shmets_term_from_etf\n", bad_from);
    finish_test(st, "map-key order");
}

/* ======================================================================================== */
/* 5. -0.0, without Erlang (OTP 25 says 0.0 =:= -0.0; shmets follows OTP 27)               */
/* ======================================================================================== */

static void test_negative_zero(void **state)
{
    struct state *st = *state;
    shmets_term pz, nz, iz, m;
    CHECK_RC(shmets_build_float(st->b, 0.0));
    CHECK_RC(shmets_builder_finish(st->b, &pz));
    keep_term(st, pz);
    CHECK_RC(shmets_build_float(st->b, -0.0));
    CHECK_RC(shmets_builder_finish(st->b, &nz));
    keep_term(st, nz);
    CHECK_RC(shmets_build_int(st->b, 0));
    CHECK_RC(shmets_builder_finish(st->b, &iz));
    keep_term(st, iz);

    assert_true(shmets_term_equal(pz, nz));             /* 0.0 == -0.0 */
    assert_false(shmets_term_exact_equal(pz, nz));      /* 0.0 =/= -0.0 */
    assert_int_equal(shmets_term_compare(pz, nz), 0);
    assert_int_equal(shmets_term_compare(nz, pz), 0);
    assert_true(shmets_term_compare_exact(nz, pz) < 0); /* -0.0 before 0.0 in map-key order */
    assert_true(shmets_term_compare_exact(pz, nz) > 0);
    assert_true(shmets_term_equal(iz, nz));             /* 0 == -0.0 */
    assert_true(shmets_term_compare_exact(iz, nz) < 0); /* integers before floats */

    double d;
    CHECK_RC(shmets_term_get_double(nz, &d));
    assert_true(d == 0 && signbit(d));

    /* its ETF, both float encodings of it, and its text */
    static const unsigned char new_float[] = { 131, 70, 0x80, 0, 0, 0, 0, 0, 0, 0 };
    unsigned char *etf;
    size_t len;
    to_etf(st, nz, &etf, &len);
    assert_int_equal(len, sizeof new_float);
    assert_memory_equal(etf, new_float, sizeof new_float);
    unsigned char old_float[33] = { 131, 99 };
    memcpy(old_float + 2, "-0.00000000000000000000e+00", 27);
    shmets_term t;
    CHECK_RC(shmets_term_from_etf(old_float, sizeof old_float, 0, &t));
    keep_term(st, t);
    assert_true(shmets_term_exact_equal(t, nz));
    CHECK_RC(shmets_term_from_etf(new_float, sizeof new_float, 0, &t));
    keep_term(st, t);
    assert_true(shmets_term_exact_equal(t, nz));
    char *text;
    CHECK_RC(shmets_term_format(nz, &text, &len));
    keep_ptr(st, text);
    assert_string_equal(text, "-0.0");
    CHECK_RC(shmets_term_parse("-0.0", 4, &t));
    keep_term(st, t);
    assert_true(shmets_term_exact_equal(t, nz));

    /* both are keys of one map, -0.0 first */
    CHECK_RC(shmets_build_map(st->b, 2));
    CHECK_RC(shmets_build_float(st->b, 0.0));
    CHECK_RC(shmets_build_atom(st->b, "pos", 3));
    CHECK_RC(shmets_build_float(st->b, -0.0));
    CHECK_RC(shmets_build_atom(st->b, "neg", 3));
    CHECK_RC(shmets_builder_finish(st->b, &m));
    keep_term(st, m);
    shmets_map_iter it;
    size_t size;
    shmets_term k, v;
    CHECK_RC(shmets_map_begin(m, &it, &size));
    assert_int_equal(size, 2);
    assert_int_equal(shmets_map_next(&it, &k, &v), 1);
    assert_true(shmets_term_exact_equal(k, nz));
    assert_int_equal(shmets_map_next(&it, &k, &v), 1);
    assert_true(shmets_term_exact_equal(k, pz));
    assert_int_equal(shmets_map_next(&it, &k, &v), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_canonical_etf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_printer_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compare, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_key_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_negative_zero, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
