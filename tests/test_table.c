/*
 * test_table.c — tables through the public API: ETS semantics of insert, insert_new, lookup,
 * member, delete for set, bag and duplicate_bag (the expected results were asked of OTP 25's
 * ets), growing and shrinking the hash index, names and ids, protection, the size cap, and
 * shmets_check() after every step.  Each test uses its own instance, named after the pid, and
 * destroys it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shmets.h"
#include "testutil.h"
#include "table/table.h"       /* the protection test reaches the mapping itself */
#include "base/proc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TESTINST_PREFIX "test_table"
#include "testinst.h"

static shmets_term T(const char *text)
{
    shmets_term t;
    int rc = shmets_term_parse(text, strlen(text), &t);
    if (rc)
        fail_msg("parse %s: %s", text, shmets_errdetail());
    return t;
}

/* The text of a term (static buffer, for comparisons). */
static const char *S(shmets_term t)
{
    static char out[8][4096];
    static int k;
    char *txt;
    assert_int_equal(shmets_term_format(t, &txt, NULL), 0);
    char *o = out[k++ % 8];
    snprintf(o, 4096, "%s", txt);
    free(txt);
    return o;
}

static void ins(shmets_tab *t, const char *text)
{
    shmets_term x = T(text);
    int rc = shmets_insert(t, x);
    if (rc)
        fail_msg("insert %s: %s (%s)", text, shmets_strerror(rc), shmets_errdetail());
    shmets_term_free(&x);
}

static const char *look(shmets_tab *t, const char *key)
{
    shmets_term k = T(key), r;
    assert_int_equal(shmets_lookup(t, k, &r), 0);
    const char *s = S(r);
    shmets_term_free(&k);
    shmets_term_free(&r);
    return s;
}

/* The ~w text of a term given in any syntax. */
static const char *W(const char *text)
{
    shmets_term t = T(text);
    const char *s = S(t);
    shmets_term_free(&t);
    return s;
}

static void check(shmets_tab *t)
{
    int rc = shmets_check(t);
    if (rc)
        fail_msg("shmets_check: %s (%s)", shmets_strerror(rc), shmets_errdetail());
}

static shmets_tab *mk(enum shmets_kind kind, enum shmets_access access, unsigned keypos)
{
    shmets_opts o;
    shmets_opts_init(&o);
    o.kind = kind;
    o.access = access;
    o.keypos = keypos;
    shmets_tab *t;
    assert_int_equal(shmets_new(db, "t", &o, &t), 0);
    check(t);
    return t;
}

static uint64_t size(shmets_tab *t)
{
    uint64_t n;
    assert_int_equal(shmets_size(t, &n), 0);
    return n;
}

static void test_set(void **s)
{
    (void)s;
    shmets_tab *t = mk(SHMETS_SET, SHMETS_PROTECTED, 1);
    assert_string_equal(look(t, "a"), "[]");
    ins(t, "{a,1}");
    ins(t, "{b,2,x}");
    assert_string_equal(look(t, "a"), "[{a,1}]");
    ins(t, "{a,3}");
    assert_string_equal(look(t, "a"), "[{a,3}]");
    assert_int_equal(size(t), 2);
    ins(t, "[{c,1},{c,2},{d,4}]");                  /* a list: the last of a key wins */
    assert_string_equal(look(t, "c"), "[{c,2}]");
    ins(t, "{1,int}");
    ins(t, "{1.0,float}");                          /* 1 and 1.0 are different keys (=:=) */
    assert_string_equal(look(t, "1"), "[{1,int}]");
    assert_string_equal(look(t, "1.0"), "[{1.0,float}]");
    ins(t, "[]");
    assert_int_equal(size(t), 6);
    check(t);
    shmets_term k = T("a");
    int found;
    assert_int_equal(shmets_member(t, k, &found), 0);
    assert_int_equal(found, 1);
    assert_int_equal(shmets_delete_key(t, k), 0);
    assert_int_equal(shmets_member(t, k, &found), 0);
    assert_int_equal(found, 0);
    assert_int_equal(shmets_delete_key(t, k), 0);  /* absent: not an error */
    shmets_term_free(&k);
    assert_int_equal(size(t), 5);
    int ok;
    shmets_term x = T("[{e,1},{b,9}]");             /* b exists: nothing is inserted */
    assert_int_equal(shmets_insert_new(t, x, &ok), 0);
    assert_int_equal(ok, 0);
    assert_string_equal(look(t, "e"), "[]");
    shmets_term_free(&x);
    x = T("[{e,1},{e,2}]");
    assert_int_equal(shmets_insert_new(t, x, &ok), 0);
    assert_int_equal(ok, 1);
    assert_string_equal(look(t, "e"), "[{e,2}]");
    shmets_term_free(&x);
    check(t);
    assert_int_equal(shmets_delete(t), 0);
}

static void test_bags(void **s)
{
    (void)s;
    /* The manual's order: list order for both bag kinds.  (erl 25.2.3 reverses a bag's list,
     * erlang/otp#6730, fixed in OTP 25.3.) */
    shmets_tab *b = mk(SHMETS_BAG, SHMETS_PUBLIC, 1);
    ins(b, "[{a,1},{b,1},{a,2},{a,3}]");
    assert_string_equal(look(b, "a"), "[{a,1},{a,2},{a,3}]");
    ins(b, "{a,2}");
    assert_string_equal(look(b, "a"), "[{a,1},{a,2},{a,3}]");
    ins(b, "{a,0}");
    assert_string_equal(look(b, "a"), "[{a,1},{a,2},{a,3},{a,0}]");
    ins(b, "[{c,1},{c,2},{c,1}]");
    assert_string_equal(look(b, "c"), "[{c,1},{c,2}]");
    int inserted;
    shmets_term dup = T("{c,1}");                   /* the key exists: insert_new refuses */
    assert_int_equal(shmets_insert_new(b, dup, &inserted), 0);
    assert_int_equal(inserted, 0);
    shmets_term_free(&dup);
    dup = T("[{c,1},{z,9}]");
    assert_int_equal(shmets_insert_new(b, dup, &inserted), 0);
    assert_int_equal(inserted, 0);
    assert_string_equal(look(b, "z"), "[]");
    shmets_term_free(&dup);
    assert_int_equal(size(b), 7);
    check(b);
    shmets_term k = T("a");
    assert_int_equal(shmets_delete_key(b, k), 0);
    shmets_term_free(&k);
    assert_int_equal(size(b), 3);
    check(b);
    assert_int_equal(shmets_delete(b), 0);

    shmets_tab *d = mk(SHMETS_DUPLICATE_BAG, SHMETS_PUBLIC, 1);
    ins(d, "[{a,1},{b,1},{a,2},{a,1}]");
    assert_string_equal(look(d, "a"), "[{a,1},{a,2},{a,1}]");
    ins(d, "{a,1}");
    assert_string_equal(look(d, "a"), "[{a,1},{a,2},{a,1},{a,1}]");
    int ok;
    shmets_term x = T("[{a,5}]");
    assert_int_equal(shmets_insert_new(d, x, &ok), 0);
    assert_int_equal(ok, 0);
    shmets_term_free(&x);
    assert_int_equal(size(d), 5);
    check(d);
    assert_int_equal(shmets_delete(d), 0);
}

static void test_keypos_and_errors(void **s)
{
    (void)s;
    shmets_tab *t = mk(SHMETS_SET, SHMETS_PROTECTED, 2);
    ins(t, "{x,k,1}");
    assert_string_equal(look(t, "k"), "[{x,k,1}]");
    shmets_term bad = T("{onlyone}");
    assert_int_equal(shmets_insert(t, bad), -SHMETS_EBADPOS);
    shmets_term_free(&bad);
    bad = T("[{a,b},notatuple]");                   /* nothing of a bad list goes in */
    assert_int_equal(shmets_insert(t, bad), -SHMETS_ETYPE);
    shmets_term_free(&bad);
    assert_string_equal(look(t, "b"), "[]");
    bad = T("[{a,b}|improper]");
    assert_int_equal(shmets_insert(t, bad), -SHMETS_ETYPE);
    shmets_term_free(&bad);
    bad = T("atom");
    assert_int_equal(shmets_insert(t, bad), -SHMETS_ETYPE);
    shmets_term_free(&bad);
    bad = T("\"abc\"");                             /* a string: its elements are made on the fly */
    assert_int_equal(shmets_insert(t, bad), -SHMETS_ETYPE);
    assert_int_equal(shmets_insert_new(t, bad, &(int){ 0 }), -SHMETS_ETYPE);
    shmets_term_free(&bad);
    assert_int_equal(size(t), 1);
    check(t);
    shmets_opts o;
    shmets_opts_init(&o);
    shmets_tab *u;
    o.keypos = 0;
    assert_int_equal(shmets_new(db, "u", &o, &u), -SHMETS_EINVAL);
    o.keypos = 1;
    o.kind = 9;
    assert_int_equal(shmets_new(db, "u", &o, &u), -SHMETS_EINVAL);
    o.kind = SHMETS_SET;
    o.max_bytes = 4096;
    assert_int_equal(shmets_new(db, "u", &o, &u), -SHMETS_EINVAL);
    assert_int_equal(shmets_delete(t), 0);
}

static void test_grow_and_shrink(void **s)
{
    (void)s;
    shmets_tab *t = mk(SHMETS_SET, SHMETS_PROTECTED, 1);
    char buf[64];
    for (int i = 0; i < 20000; i++) {
        snprintf(buf, sizeof buf, "{%d,<<\"value %d\">>}", i, i);
        ins(t, buf);
    }
    assert_int_equal(size(t), 20000);
    check(t);
    for (int i = 0; i < 20000; i += 997) {
        snprintf(buf, sizeof buf, "%d", i);
        char want[64];
        snprintf(want, sizeof want, "[{%d,<<\"value %d\">>}]", i, i);
        assert_string_equal(look(t, buf), W(want));
    }
    for (int i = 0; i < 19990; i++) {
        snprintf(buf, sizeof buf, "%d", i);
        shmets_term k = T(buf);
        assert_int_equal(shmets_delete_key(t, k), 0);
        shmets_term_free(&k);
    }
    assert_int_equal(size(t), 10);
    check(t);
    assert_int_equal(shmets_reclaim(t, 0, NULL), 0);
    uint64_t used, free_bytes;
    assert_int_equal(shmets_memory(t, &used, &free_bytes), 0);
    assert_true(used < 64 * 1024);                  /* the objects and old arrays came back */
    check(t);
    assert_string_equal(look(t, "19995"), W("[{19995,<<\"value 19995\">>}]"));
    assert_int_equal(shmets_delete(t), 0);
}

static void test_names_and_ids(void **s)
{
    (void)s;
    shmets_opts o;
    shmets_opts_init(&o);
    o.named = true;
    shmets_tab *a, *b, *c;
    assert_int_equal(shmets_new(db, "cats", &o, &a), 0);
    assert_int_equal(shmets_new(db, "cats", &o, &b), -SHMETS_EEXIST);
    o.named = false;
    assert_int_equal(shmets_new(db, "cats", &o, &b), 0);    /* unnamed: names may repeat */
    assert_int_not_equal(shmets_id(a), shmets_id(b));
    ins(a, "{tom,1}");
    assert_int_equal(shmets_attach_name(db, "cats", &c), 0);
    assert_int_equal(shmets_id(c), shmets_id(a));
    assert_string_equal(look(c, "tom"), "[{tom,1}]");
    shmets_detach(c);
    assert_int_equal(shmets_attach(db, shmets_id(b), &c), 0);
    assert_string_equal(look(c, "tom"), "[]");
    uint64_t id = shmets_id(a);
    assert_int_equal(shmets_delete(a), 0);
    assert_int_equal(shmets_attach(db, id, &a), -SHMETS_ENOENT);
    assert_int_equal(shmets_attach_name(db, "cats", &a), -SHMETS_ENOENT);
    assert_int_equal(shmets_delete(c), 0);
    shmets_term k = T("tom"), r;
    assert_int_equal(shmets_lookup(b, k, &r), -SHMETS_ENOENT);   /* another handle's table went */
    shmets_term_free(&k);
    shmets_detach(b);
}

/* A child process that is not the owner: protected tables it reads but cannot write, and a
 * store through its read-only mapping faults in the child alone; private tables it cannot
 * even attach. */
static void test_protection(void **s)
{
    (void)s;
    shmets_tab *prot = mk(SHMETS_SET, SHMETS_PROTECTED, 1);
    shmets_tab *priv = mk(SHMETS_SET, SHMETS_PRIVATE, 1);
    shmets_tab *pub = mk(SHMETS_SET, SHMETS_PUBLIC, 1);
    ins(prot, "{k,1}");
    ins(priv, "{k,2}");
    struct stat st;
    char path[256];
    snprintf(path, sizeof path, "/dev/shm/shmets.%s.%llu", inst, (unsigned long long)shmets_id(priv));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    uint64_t ids[3] = { shmets_id(prot), shmets_id(priv), shmets_id(pub) };
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_init();
        shmets *d;
        shmets_tab *a, *b, *c;
        if (shmets_open(inst, &d) || shmets_attach(d, ids[0], &a) || shmets_attach(d, ids[2], &c))
            _exit(10);
        if (shmets_attach(d, ids[1], &b) != -SHMETS_EOWNER)
            _exit(11);
        shmets_term k = T("k"), r, o = T("{k,9}");
        if (shmets_lookup(a, k, &r) || strcmp(S(r), "[{k,1}]"))
            _exit(12);
        if (shmets_insert(a, o) != -SHMETS_EOWNER || shmets_delete_key(a, k) != -SHMETS_EOWNER ||
            shmets_delete(a) != -SHMETS_EOWNER)
            _exit(13);
        if (shmets_insert(c, o))                    /* public: anyone writes */
            _exit(14);
        /* The kernel's part: the protected segment is mapped read-only here, so a stray
         * store faults in the process that makes it (a grandchild, so we can watch). */
        pid_t g = fork();
        if (g == 0) {
            signal(SIGSEGV, SIG_DFL);
            atomic_store(&a->h->objs, 12345);
            _exit(0);
        }
        int gs;
        if (waitpid(g, &gs, 0) != g || !WIFSIGNALED(gs) || WTERMSIG(gs) != SIGSEGV)
            _exit(15);
        shmets_term_free(&r);
        if (shmets_lookup(a, k, &r) || strcmp(S(r), "[{k,1}]"))
            _exit(16);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_string_equal(look(pub, "k"), "[{k,9}]");
    check(prot);
    check(priv);
    check(pub);
    shmets_delete(prot);
    shmets_delete(priv);
    shmets_delete(pub);
}

/* A table at its size cap: the write that needs memory fails cleanly, and the table stays
 * intact and usable. */
static void test_size_cap(void **s)
{
    (void)s;
    shmets_opts o;
    shmets_opts_init(&o);
    o.max_bytes = 1 << 20;
    shmets_tab *t;
    assert_int_equal(shmets_new(db, "small", &o, &t), 0);
    char buf[256];
    int i, rc = 0;
    for (i = 0; i < 100000; i++) {
        snprintf(buf, sizeof buf, "{%d,<<\"%0100d\">>}", i, i);
        shmets_term x = T(buf);
        rc = shmets_insert(t, x);
        shmets_term_free(&x);
        if (rc)
            break;
    }
    assert_int_equal(rc, -SHMETS_ENOMEM);
    assert_true(i > 1000);
    assert_int_equal(size(t), (uint64_t)i);
    check(t);
    assert_string_equal(look(t, "0"), W("[{0,<<\"0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\">>}]"));
    for (int k = 0; k < 100; k++) {
        snprintf(buf, sizeof buf, "%d", k);
        shmets_term x = T(buf);
        assert_int_equal(shmets_delete_key(t, x), 0);
        shmets_term_free(&x);
    }
    assert_int_equal(shmets_reclaim(t, 0, NULL), 0);
    /* Room again after deletes, for objects of the deleted ones' size (the heap keeps freed
     * blocks by size class: it does not split or merge them across classes). */
    ins(t, "{again,<<\"0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001\">>}");
    check(t);
    shmets_opts_init(&o);
    o.max_object_bytes = 100;
    shmets_tab *u;
    assert_int_equal(shmets_new(db, "tiny", &o, &u), 0);
    shmets_term big = T("{k,<<\"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\">>}");
    assert_int_equal(shmets_insert(u, big), -SHMETS_ETOOBIG);
    shmets_term_free(&big);
    check(u);
    shmets_delete(u);
    shmets_delete(t);
}

/* write_concurrency: writers of different keys take different stripes and share the heap
 * under its own lock; single-key writes, lists (all stripes) and deletes from two processes
 * at once leave exactly what they acknowledged. */
static void test_striped_writers(void **s)
{
    (void)s;
    shmets_opts o;
    shmets_opts_init(&o);
    o.access = SHMETS_PUBLIC;
    o.write_concurrency = true;
    shmets_tab *t;
    assert_int_equal(shmets_new(db, "striped", &o, &t), 0);
    uint64_t id = shmets_id(t);
    pid_t pids[2];
    for (int w = 0; w < 2; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            child_init();
            shmets *d;
            shmets_tab *c;
            if (shmets_open(inst, &d) || shmets_attach(d, id, &c))
                _exit(10);
            char buf[256];
            for (int i = 0; i < 4000; i++) {
                int k = w * 100000 + i;
                if (i % 50 == 0)
                    snprintf(buf, sizeof buf, "[{%d,%d},{%d,%d},{%d,gone}]", k, k, k + 50000, k, k + 70000);
                else
                    snprintf(buf, sizeof buf, "{%d,%d}", k, k);
                shmets_term x;
                if (shmets_term_parse(buf, strlen(buf), &x) || shmets_insert(c, x))
                    _exit(11);
                shmets_term_free(&x);
                if (i % 50 == 0) {
                    snprintf(buf, sizeof buf, "%d", k + 70000);
                    if (shmets_term_parse(buf, strlen(buf), &x) || shmets_delete_key(c, x))
                        _exit(12);
                    shmets_term_free(&x);
                }
            }
            shmets_close(d);
            _exit(0);
        }
    }
    for (int w = 0; w < 2; w++) {
        int status;
        assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(size(t), 2 * (4000 + 80));
    char key[32], want[64];
    for (int w = 0; w < 2; w++)
        for (int i = 0; i < 4000; i += 7) {
            int k = w * 100000 + i;
            snprintf(key, sizeof key, "%d", k);
            snprintf(want, sizeof want, "[{%d,%d}]", k, k);
            assert_string_equal(look(t, key), want);
        }
    check(t);
    assert_int_equal(shmets_delete(t), 0);
}

/* A process that dies while it makes a table (after its catalog entry, before publishing
 * it) leaves no stuck name behind; nor does one that dies in the middle of a delete. */
static void test_dead_creator_and_deleter(void **s)
{
    (void)s;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_init();
        struct cat_entry e;
        memset(&e, 0, sizeof e);
        e.kind = SHMETS_SET;
        e.access = SHMETS_PUBLIC;
        e.keypos = 1;
        e.flags = CAT_NAMED;
        e.owner_pid = getpid();
        e.owner_inc = proc_self_incarnation();
        e.name_len = 5;
        memcpy(e.name, "users", 5);
        uint32_t idx;
        shmets *d;
        if (shmets_open(inst, &d) || cat_add(&d->c, &e, &idx))
            _exit(10);
        _exit(0);                                   /* dies before cat_publish */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(WEXITSTATUS(status), 0);
    shmets_opts o;
    shmets_opts_init(&o);
    o.named = true;
    o.access = SHMETS_PUBLIC;
    shmets_tab *t, *u;
    assert_int_equal(shmets_new(db, "users", &o, &t), 0);
    check(t);
    /* A deleter that died after marking the table deleted, before removing its name. */
    atomic_store(&t->h->root.deleted, 1);
    assert_int_equal(shmets_new(db, "users", &o, &u), 0);
    assert_int_equal(shmets_attach(db, shmets_id(t), &t), -SHMETS_ENOENT);
    check(u);
    assert_int_equal(shmets_delete(u), 0);
}

/* A damaged chain (a cycle of `next`, as a stray write could make): readers stop, writers
 * and shmets_check report the damage instead of looping. */
static void test_damaged_chain(void **s)
{
    (void)s;
    shmets_tab *t = mk(SHMETS_BAG, SHMETS_PUBLIC, 1);
    ins(t, "[{a,1},{a,2}]");
    shmets_term k = T("a");
    uint64_t off = t->ops->lookup(t, k.ptr, (uint32_t)k.len, shmets_term_hash(k, t->h->seed));
    assert_true(off != 0);
    atomic_store(&((struct sobj *)(t->s.base + off))->l_next, off);      /* a one-object cycle */
    shmets_term r;
    assert_int_equal(shmets_lookup(t, k, &r), 0);                       /* returns, bounded */
    shmets_term_free(&r);
    assert_int_equal(shmets_check(t), -SHMETS_EBADSEG);
    shmets_term x = T("{a,3}");
    assert_int_equal(shmets_insert(t, x), -SHMETS_EBADSEG);
    assert_int_equal(shmets_delete_key(t, k), -SHMETS_EBADSEG);
    shmets_term_free(&x);
    shmets_term_free(&k);
    ins(t, "{b,1}");                                                    /* other keys still work */
    assert_string_equal(look(t, "b"), "[{b,1}]");
    assert_int_equal(shmets_delete(t), 0);
}

/* A damaged table segment is a clear error at attach, never a crash: wrong magic, another
 * layout version, a header that does not match the catalog, a truncated file. */
static void corrupt(const char *path, off_t at, const void *bytes, size_t n)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, n, at), (ssize_t)n);
    close(fd);
}

static void test_damaged_segment(void **s)
{
    (void)s;
    shmets_tab *t = mk(SHMETS_SET, SHMETS_PUBLIC, 1);
    ins(t, "{k,1}");
    uint64_t id = shmets_id(t);
    char path[256];
    snprintf(path, sizeof path, "/dev/shm/shmets.%s.%llu", inst, (unsigned long long)id);
    struct tab_hdr saved;
    memcpy(&saved, t->h, sizeof saved);
    shmets_detach(t);
    shmets_tab *u;
    uint64_t junk = 0x4141414141414141ull;
    corrupt(path, offsetof(struct seg_header, magic), &junk, 8);
    assert_int_equal(shmets_attach(db, id, &u), -SHMETS_EBADSEG);
    corrupt(path, 0, &saved, sizeof saved.seg);
    uint32_t v = SEG_VERSION + 1;
    corrupt(path, offsetof(struct seg_header, version), &v, 4);
    assert_int_equal(shmets_attach(db, id, &u), -SHMETS_EVERSION);
    corrupt(path, 0, &saved, sizeof saved.seg);
    uint32_t kind = 77;
    corrupt(path, offsetof(struct tab_hdr, kind), &kind, 4);
    assert_int_equal(shmets_attach(db, id, &u), -SHMETS_EBADSEG);
    corrupt(path, 0, &saved, sizeof saved);
    assert_int_equal(shmets_attach(db, id, &u), 0);         /* repaired by hand: whole again */
    assert_string_equal(look(u, "k"), "[{k,1}]");
    shmets_detach(u);
    assert_int_equal(truncate(path, 100), 0);
    assert_int_equal(shmets_attach(db, id, &u), -SHMETS_EBADSEG);
    /* The control segment too. */
    snprintf(path, sizeof path, "/dev/shm/shmets.%s", inst);
    struct seg_header ctl;
    memcpy(&ctl, db->c.s.base, sizeof ctl);
    corrupt(path, offsetof(struct seg_header, magic), &junk, 8);
    shmets *d2;
    assert_int_equal(shmets_open(inst, &d2), -SHMETS_EBADSEG);
    corrupt(path, 0, &ctl, sizeof ctl);
    uint32_t big = 1u << 30;
    corrupt(path, offsetof(struct ctl_hdr, cat.cap), &big, 4);
    assert_int_equal(shmets_open(inst, &d2), -SHMETS_EBADSEG);
    uint32_t cap = CAT_MAX_DEFAULT;
    corrupt(path, offsetof(struct ctl_hdr, cat.cap), &cap, 4);
    assert_int_equal(shmets_open(inst, &d2), 0);
    shmets_close(d2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keypos_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grow_and_shrink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_and_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_protection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_striped_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_creator_and_deleter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_chain, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
