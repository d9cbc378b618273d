/*
 * test_damage.c — issue 20: a damaged table segment never takes its readers down.
 *
 * The trial of the issue, 50 times: a public set and a public ordered_set of 2,000 objects
 * each; 200 random 8-byte words of the first 600 KB of each segment overwritten (a stray write
 * of another process of the uid, which maps public tables read-write); then, in a new process
 * (as a new `shmets script` would be), 300 lookups on each, info, select_count, first/next, a
 * range select, tab2list and the rest of the read calls (damage.h).  The property: the reader
 * exits normally — no abort on an internal invariant, no fault, no hang (an alarm), no report
 * under ASan/UBSan — whatever the answers were.  Each seed's damage is different and fixed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "shmets.h"
#define TESTINST_PREFIX "test_damage"
#include "testinst.h"
#include "damage.h"
#include "store/sobj.h"
#include "term/term.h"
#include <string.h>

#define OBJECTS  2000
#define WORDS    200
#define SPAN     (600u * 1024)
#define SEEDS    50

/* The reads, in a child that opens the instance afresh.  Returns its wait status. */
static int read_in_child(uint64_t id_set, uint64_t id_ord, uint64_t seed, int *bad)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        alarm(60);                      /* a hang is a failure too */
        shmets *d;
        int n = 0;
        if (shmets_open(inst, &d) != 0)
            _exit(3);
        uint64_t ids[2] = { id_set, id_ord };
        for (int i = 0; i < 2; i++) {
            shmets_tab *t;
            int rc = shmets_attach(d, ids[i], &t);
            if (rc) {                   /* refusing a damaged header is an answer too */
                if (rc == -SHMETS_EBADSEG)
                    n++;
                continue;
            }
            n += dmg_read_all(d, t, &seed, 300, OBJECTS);
            shmets_detach(t);
        }
        shmets_close(d);
        if (write(fd[1], &n, sizeof n) != (ssize_t)sizeof n)
            _exit(4);
        _exit(0);
    }
    close(fd[1]);
    int st = 0;
    *bad = 0;
    if (read(fd[0], bad, sizeof *bad) != (ssize_t)sizeof *bad)
        *bad = -1;
    close(fd[0]);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return st;
}

static void test_trial(void **state)
{
    (void)state;
    int badseg = 0;
    /* DMG_SEED=N runs that seed alone (to look into one). */
    uint64_t first = getenv("DMG_SEED") ? strtoull(getenv("DMG_SEED"), NULL, 10) : 1;
    uint64_t last = getenv("DMG_SEED") ? first : SEEDS;
    for (uint64_t seed = first; seed <= last; seed++) {
        shmets_opts o;
        shmets_opts_init(&o);
        o.access = SHMETS_PUBLIC;
        shmets_tab *set, *ord;
        o.kind = SHMETS_SET;
        assert_int_equal(shmets_new(db, "dset", &o, &set), 0);
        o.kind = SHMETS_ORDERED_SET;
        assert_int_equal(shmets_new(db, "dord", &o, &ord), 0);
        assert_int_equal(dmg_fill(set, OBJECTS), 0);
        assert_int_equal(dmg_fill(ord, OBJECTS), 0);
        uint64_t s = seed * 7919;
        dmg_scribble(set, &s, WORDS, SPAN);
        dmg_scribble(ord, &s, WORDS, SPAN);
        int bad;
        int st = read_in_child(shmets_id(set), shmets_id(ord), seed, &bad);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("seed %llu: the reader %s %d", (unsigned long long)seed,
                     WIFSIGNALED(st) ? "died of signal" : "exited with", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        badseg += bad;
        /* The damaged tables go: deleting needs no walk of their contents. */
        shmets_detach(set);
        shmets_detach(ord);
        teardown(NULL);
        setup(NULL);
    }
    print_message("damage: %d seeds, %d calls answered -SHMETS_EBADSEG\n", SEEDS, badseg);
    assert_true(badseg > 0);
}

/* Salvage: 50 of 2,000 objects made unreadable (their first byte, the term's tag, scribbled
 * on); shmets_salvage copies the other 1,950, exactly as they were, into a new table that
 * passes shmets_check, and reports 50 dropped.  Then the random damage: salvage still
 * succeeds and gives a table that passes shmets_check. */
static void test_salvage(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        shmets_opts o;
        shmets_opts_init(&o);
        o.access = SHMETS_PUBLIC;
        o.kind = k ? SHMETS_ORDERED_SET : SHMETS_SET;
        shmets_tab *t, *nt;
        assert_int_equal(shmets_new(db, k ? "sord" : "sset", &o, &t), 0);
        assert_int_equal(dmg_fill(t, OBJECTS), 0);
        for (long i = 0; i < 50; i++) {
            shmets_term key;
            char txt[32];
            snprintf(txt, sizeof txt, "%ld", i * 37);
            assert_int_equal(shmets_term_parse(txt, strlen(txt), &key), 0);
            uint64_t off = t->ops->lookup(t, key.ptr, (uint32_t)key.len, tab_hash(t, key));
            assert_true(off != 0);
            struct sobj *so = (struct sobj *)(t->s.base + off);
            *(unsigned char *)sobj_etf(so) = 0xFF;
            shmets_term x;
            assert_int_equal(shmets_lookup(t, key, &x), -SHMETS_EBADSEG);
            assert_non_null(strstr(shmets_errdetail(), "--salvage"));
            shmets_term_free(&key);
        }
        assert_int_equal(shmets_check(t), -SHMETS_EBADSEG);
        shmets_salvage_report r;
        assert_int_equal(shmets_salvage(t, k ? "sord2" : "sset2", &nt, &r), 0);
        assert_int_equal(r.kept, OBJECTS - 50);
        assert_int_equal(r.dropped, 50);
        assert_int_equal(r.recorded, OBJECTS);
        assert_int_equal(shmets_check(nt), 0);
        uint64_t size;
        assert_int_equal(shmets_size(nt, &size), 0);
        assert_int_equal(size, OBJECTS - 50);
        for (long i = 0; i < OBJECTS; i++) {
            shmets_term key, want, got;
            char txt[32];
            snprintf(txt, sizeof txt, "%ld", i);
            assert_int_equal(shmets_term_parse(txt, strlen(txt), &key), 0);
            assert_int_equal(shmets_lookup(nt, key, &got), 0);
            if (i % 37 == 0 && i / 37 < 50) {
                assert_int_equal(got.len, 1);       /* [] */
            } else {
                assert_int_equal(dmg_object(i, &want), 0);
                assert_int_equal(got.len, want.len + 6);    /* [Obj] */
                assert_memory_equal(got.ptr + 5, want.ptr, want.len);
                shmets_term_free(&want);
            }
            shmets_term_free(&got);
            shmets_term_free(&key);
        }
        shmets_detach(nt);
        /* Random damage, as in the trial. */
        assert_int_equal(shmets_new(db, k ? "rord" : "rset", &o, &t), 0);
        assert_int_equal(dmg_fill(t, OBJECTS), 0);
        uint64_t seed = 99 + (uint64_t)k;
        dmg_scribble(t, &seed, WORDS, SPAN);
        int rc = shmets_salvage(t, k ? "rord2" : "rset2", &nt, &r);
        assert_int_equal(rc, 0);
        assert_true(r.kept <= OBJECTS && r.kept > OBJECTS / 2);
        assert_int_equal(shmets_check(nt), 0);
        print_message("salvage (%s): random damage: kept %llu, dropped %llu\n", k ? "ordered_set" : "set",
                      (unsigned long long)r.kept, (unsigned long long)r.dropped);
        shmets_detach(nt);
    }
}

/* D.5: term_span's inline case (term.h) and term_span_walk answer alike on every input, and
 * bytes they pass are walked by term_end to exactly their end.  Inputs: objects of the shape
 * the inline case takes ({Int, <<Bytes>>}, {Int, Int, ...}), then each with one byte changed,
 * a length field changed, or cut short — 200,000 cases, fixed seeds. */
/* A small tuple of integers, binaries and (depth permitting) small tuples of them: the shapes
 * term_span's inline case takes, nested up to 11 deep — past its 8-tuple bound, so the walk
 * decides those.  At most 2 + 3 * 16 bytes a level and 11 levels: b must hold 600. */
static size_t span_gen(unsigned char *b, uint64_t *rng, int depth)
{
    size_t n = 0;
    unsigned arity = (unsigned)(dmg_rand(rng) % 5);
    b[n++] = 104;                                   /* ETF_SMALL_TUPLE */
    b[n++] = (unsigned char)arity;
    int nested = depth >= 10;                       /* one nested tuple a level at most */
    for (unsigned e = 0; e < arity; e++) {
        switch (dmg_rand(rng) % (nested ? 3 : 4)) {
        case 0: b[n++] = 97; b[n++] = (unsigned char)dmg_rand(rng); break;
        case 1: b[n++] = 98; for (int j = 0; j < 4; j++) b[n++] = (unsigned char)dmg_rand(rng); break;
        case 2: {
            unsigned len = (unsigned)(dmg_rand(rng) % 12);
            b[n++] = 109; b[n++] = 0; b[n++] = 0; b[n++] = 0; b[n++] = (unsigned char)len;
            for (unsigned j = 0; j < len; j++) b[n++] = (unsigned char)dmg_rand(rng);
            break;
        }
        default:
            n += span_gen(b + n, rng, depth + 1);
            nested = 1;
        }
    }
    return n;
}

static void test_span_inline_agrees(void **state)
{
    (void)state;
    uint64_t rng = 0x5eed;
    unsigned agree = 0, passed = 0;
    for (int i = 0; i < 200000; i++) {
        unsigned char b[1024];
        size_t n = span_gen(b, &rng, 0);
        switch (dmg_rand(&rng) % 4) {               /* 0: left whole */
        case 1: b[dmg_rand(&rng) % n] = (unsigned char)dmg_rand(&rng); break;
        case 2: b[dmg_rand(&rng) % n] ^= (unsigned char)(1u << (dmg_rand(&rng) % 8)); break;
        case 3: n = (size_t)(dmg_rand(&rng) % n); break;
        }
        unsigned char *p = malloc(n ? n : 1);       /* exactly n bytes: ASan sees a read past them */
        assert_non_null(p);
        memcpy(p, b, n);
        int fast = term_span(p, n), walk = term_span_walk(p, n);
        if (fast != walk) {
            print_message("case %d: inline %d, walk %d, %zu bytes\n", i, fast, walk, n);
            fail();
        }
        agree++;
        if (fast) {
            assert_ptr_equal(term_end(p), p + n);
            passed++;
        }
        free(p);
    }
    print_message("term_span inline and walk agree on %u inputs (%u are terms)\n", agree, passed);
    assert_true(passed > 50000 && passed < 190000);  /* both answers were exercised */
}

/* D.6: a shape learnt from a term is never looser than term_span.  shape_gen makes a term whose
 * structure (tags, arities, lengths, atoms' and floats' bytes) comes from srng and whose free
 * bytes (integers' values, binaries' contents) from prng, so two calls with one srng state are
 * siblings: one shape.  At most 2 + 5 * 17 bytes a level, 4 levels: b must hold 400. */
static size_t shape_gen(unsigned char *b, uint64_t *srng, uint64_t *prng, int depth)
{
    static const char *const atoms[] = { "ok", "user", "session_id", "x" };
    size_t n = 0;
    unsigned arity = 1 + (unsigned)(dmg_rand(srng) % 4);
    b[n++] = 104;
    b[n++] = (unsigned char)arity;
    for (unsigned e = 0; e < arity; e++) {
        switch (dmg_rand(srng) % (depth < 3 ? 6 : 5)) {
        case 0: b[n++] = 97; b[n++] = (unsigned char)dmg_rand(prng); break;
        case 1: b[n++] = 98; for (int j = 0; j < 4; j++) b[n++] = (unsigned char)dmg_rand(prng); break;
        case 2: {
            unsigned len = (unsigned)(dmg_rand(srng) % 13);
            b[n++] = 109; b[n++] = 0; b[n++] = 0; b[n++] = 0; b[n++] = (unsigned char)len;
            for (unsigned j = 0; j < len; j++) b[n++] = (unsigned char)dmg_rand(prng);
            break;
        }
        case 3: {
            const char *a = atoms[dmg_rand(srng) % 4];
            b[n++] = 119; b[n++] = (unsigned char)strlen(a);
            memcpy(b + n, a, strlen(a));
            n += strlen(a);
            break;
        }
        case 4: {                                   /* a finite float */
            uint64_t u = dmg_rand(srng) & ~(1ull << 62);
            b[n++] = 70;
            for (int j = 7; j >= 0; j--) b[n++] = (unsigned char)(u >> (8 * j));
            break;
        }
        default:
            n += shape_gen(b + n, srng, prng, depth + 1);
        }
    }
    return n;
}

static void test_shape_never_looser(void **state)
{
    (void)state;
    uint64_t srng = 0x5a9e, prng = 0x9a7;
    unsigned learnt = 0, siblings = 0, fit = 0, refused = 0;
    for (int i = 0; learnt < 30000 && i < 2000000; i++) {   /* ~9% of the terms have a shape */
        unsigned char a[512], b[512];
        uint64_t s0 = srng;
        size_t n = shape_gen(a, &srng, &prng, 0);
        assert_true(term_span(a, n));
        struct term_shape sh;
        term_shape_init(&sh);
        if (!term_shape_learn(&sh, a, n))
            continue;
        learnt++;
        assert_true(term_shape_fits(&sh, a, n));
        /* A sibling (the same structure, other values) fits. */
        uint64_t s1 = s0;
        size_t m = shape_gen(b, &s1, &prng, 0);
        assert_int_equal(m, n);
        assert_true(term_shape_fits(&sh, b, m));
        siblings++;
        /* A mutant fits only if it is a term. */
        size_t at = dmg_rand(&prng) % (dmg_rand(&prng) % 2 || m < 24 ? m : 24);     /* half in the structure */
        switch (dmg_rand(&prng) % 4) {
        case 0: b[at] = (unsigned char)dmg_rand(&prng); break;
        case 1: b[at] ^= (unsigned char)(1u << (dmg_rand(&prng) % 8)); break;
        case 2: m = 1 + (size_t)(dmg_rand(&prng) % m); break;                          /* cut short */
        case 3: {                                   /* grown: random bytes after the end */
            size_t k = 1 + (size_t)(dmg_rand(&prng) % 16);
            for (size_t j = 0; j < k; j++) b[m + j] = (unsigned char)dmg_rand(&prng);
            m += k;
            break;
        }
        }
        unsigned char *p = malloc(m);               /* exactly m bytes: ASan sees a read past them */
        assert_non_null(p);
        memcpy(p, b, m);
        if (term_shape_fits(&sh, p, m)) {
            if (!term_span_walk(p, m)) {
                print_message("case %d: a shape fits %zu bytes that are no term\n", i, m);
                fail();
            }
            assert_ptr_equal(term_end(p), p + m);
            fit++;
        } else {
            refused++;
        }
        assert_int_equal(term_span_shaped(&sh, p, m), term_span_walk(p, m));
        free(p);
    }
    print_message("shapes: %u learnt, %u siblings fit; mutants: %u fit (all terms), %u refused\n",
                  learnt, siblings, fit, refused);
    assert_true(learnt == 30000 && fit > 5000 && refused > 15000);
}

/* The range's object, {{B, K}, <<V>>}: one shape for any B, K of one encoding and any V. */
static void test_shape_of_a_range(void **state)
{
    (void)state;
    unsigned char o[1100] = { 104, 2, 104, 2, 97, 1, 97, 2, 109, 0, 0, 0, 32 };
    struct term_shape sh;
    term_shape_init(&sh);
    assert_false(term_shape_fits(&sh, o, 45));      /* none learnt: nothing fits */
    assert_true(term_shape_learn(&sh, o, 45));
    for (unsigned v = 11; v <= 1024; v += 13) {    /* 24 bytes and more */
        o[5] = (unsigned char)v; o[7] = (unsigned char)(v >> 3);
        o[11] = (unsigned char)(v >> 8); o[12] = (unsigned char)v;
        assert_true(term_shape_fits(&sh, o, 13 + v));
        assert_false(term_shape_fits(&sh, o, 13 + v - 1));      /* the length field lies */
        assert_false(term_shape_fits(&sh, o, 13 + v + 1));
    }
    o[11] = 0; o[12] = 32;
    assert_true(term_shape_fits(&sh, o, 45));
    o[6] = 98;                                      /* K as a 4-byte integer: another shape */
    assert_false(term_shape_fits(&sh, o, 45));
    o[6] = 97; o[3] = 3;                            /* {B, K, ...}: another arity */
    assert_false(term_shape_fits(&sh, o, 45));
    o[3] = 2; o[8] = 77;                            /* a bitstring's tag */
    assert_false(term_shape_fits(&sh, o, 45));
    /* Shorter than a word, {Int, <<V>>} (term_span's own case), or structure past 24 bytes:
     * no shape, term_span decides. */
    unsigned char small[7] = { 104, 2, 97, 1, 97, 2 };
    assert_true(term_span(small, 6));
    assert_false(term_shape_learn(&sh, small, 6));
    unsigned char kv[44] = { 104, 2, 98, 0, 0, 1, 0, 109, 0, 0, 0, 32 };
    assert_true(term_span(kv, 44));
    assert_false(term_shape_learn(&sh, kv, 44));
    unsigned char deep[40] = { 104, 3, 97, 1, 109, 0, 0, 0, 20 };
    deep[29] = 97;                                  /* {1, <<20 bytes>>, 7}: a tag at byte 29 */
    deep[30] = 7;
    deep[1] = 3;
    assert_true(term_span(deep, 31));
    assert_false(term_shape_learn(&sh, deep, 31));
    assert_false(term_shape_fits(&sh, deep, 31));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_trial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_salvage, setup, teardown),
        cmocka_unit_test(test_span_inline_agrees),
        cmocka_unit_test(test_shape_never_looser),
        cmocka_unit_test(test_shape_of_a_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
