/*
 * test_view.c — zero-copy reads, batched lookups and the byte-key calls (shm/table/tabview.c):
 * what a C program that uses shmets as a key-value store relies on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "shmets.h"

#define TESTINST_PREFIX "tview"
#include "testinst.h"
#include "termpool.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>


static void assert_text(shmets_term t, const char *want)
{
    char *s;
    assert_int_equal(shmets_term_format(t, &s, NULL), 0);
    assert_string_equal(s, want);
    free(s);
}

static shmets_tab *mk(enum shmets_kind kind, const char *name)
{
    shmets_opts o;
    shmets_opts_init(&o);
    o.kind = kind;
    o.access = SHMETS_PUBLIC;
    shmets_tab *t;
    assert_int_equal(shmets_new(db, name, &o, &t), 0);
    return t;
}

/* Views point into the table, stay valid while the section lasts, even across a write by
 * another handle that replaces the object; outside a section the calls refuse. */
static void test_views(void **s)
{
    (void)s;
    shmets_tab *t = mk(SHMETS_DUPLICATE_BAG, "v");
    shmets_term k = P("k"), objs[4];
    size_t n = 99;
    assert_int_equal(shmets_lookup_view(t, k, objs, 4, &n), -SHMETS_EINVAL);
    assert_int_equal(shmets_insert(t, P("[{k,1},{k,2},{k,1},{j,0}]")), 0);
    assert_int_equal(shmets_read_begin(db), 0);
    assert_int_equal(shmets_lookup_view(t, k, objs, 2, &n), 0);
    assert_int_equal(n, 3);                         /* three objects, two views given */
    assert_text(objs[0], "{k,1}");
    assert_text(objs[1], "{k,2}");
    assert_int_equal(shmets_read_begin(db), 0);     /* sections nest */
    shmets_read_end(db);
    /* A write inside a section would wait for itself: refused, nothing written. */
    assert_int_equal(shmets_insert(t, P("{k,3}")), -SHMETS_EINVAL);
    assert_int_equal(shmets_delete_key(t, k), -SHMETS_EINVAL);
    assert_int_equal(shmets_lookup_view(t, P("none"), objs, 4, &n), 0);
    assert_int_equal(n, 0);
    shmets_read_end(db);

    /* Replaced while a view is held: the view still shows the old object. */
    shmets_tab *set = mk(SHMETS_SET, "s");
    assert_int_equal(shmets_insert(set, P("{a, old}")), 0);
    assert_int_equal(shmets_read_begin(db), 0);
    assert_int_equal(shmets_lookup_view(set, P("a"), objs, 1, &n), 0);
    pid_t pid = fork();
    if (pid == 0) {
        shmets *d2;
        shmets_tab *t2;
        int rc = shmets_open(inst, &d2);
        rc = rc ? rc : shmets_attach(d2, shmets_id(set), &t2);
        rc = rc ? rc : shmets_insert(t2, P("{a, new}"));
        if (rc)
            fprintf(stderr, "child: %s: %s\n", shmets_strerror(rc), shmets_errdetail());
        _exit(rc ? 1 : 0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_text(objs[0], "{a,old}");
    shmets_term fresh[1];
    assert_int_equal(shmets_lookup_view(set, P("a"), fresh, 1, &n), 0);
    assert_text(fresh[0], "{a,new}");
    shmets_read_end(db);
    assert_int_equal(shmets_check(set), 0);
    assert_int_equal(shmets_check(t), 0);
}

/* Batches give what single lookups give, for hits, misses and every kind; in a set of
 * 20,000 keys so that buckets overflow and the fallback runs too. */
static void test_bulk(void **s)
{
    (void)s;
    enum shmets_kind kinds[] = { SHMETS_SET, SHMETS_ORDERED_SET, SHMETS_BAG };
    for (int ki = 0; ki < 3; ki++) {
        char name[16];
        snprintf(name, sizeof name, "b%d", ki);
        shmets_tab *t = mk(kinds[ki], name);
        for (int i = 0; i < 20000; i += 2) {
            char buf[64];
            shmets_term o;
            snprintf(buf, sizeof buf, "[{%d, x}, {%d, y}]", i, i);
            assert_int_equal(shmets_term_parse(buf, strlen(buf), &o), 0);
            assert_int_equal(shmets_insert(t, o), 0);
            shmets_term_free(&o);
        }
        enum { N = 300 };
        shmets_term keys[N], views[N], lists[N];
        for (int i = 0; i < N; i++) {
            char buf[32];
            snprintf(buf, sizeof buf, "%d", (i * 7919) % 20010);
            assert_int_equal(shmets_term_parse(buf, strlen(buf), &keys[i]), 0);
        }
        size_t found = 0;
        assert_int_equal(shmets_read_begin(db), 0);
        assert_int_equal(shmets_lookup_bulk_view(t, keys, N, views, &found), 0);
        size_t want = 0;
        for (int i = 0; i < N; i++) {
            shmets_term one[2];
            size_t n;
            assert_int_equal(shmets_lookup_view(t, keys[i], one, 2, &n), 0);
            want += n > 0;
            if (n == 0) {
                assert_null(views[i].ptr);
                continue;
            }
            assert_int_equal(views[i].len, one[0].len);
            assert_memory_equal(views[i].ptr, one[0].ptr, one[0].len);
        }
        shmets_read_end(db);
        assert_int_equal(found, want);
        assert_true(want > 0 && want < N);
        assert_int_equal(shmets_lookup_bulk_view(t, keys, N, views, &found), -SHMETS_EINVAL);
        assert_int_equal(shmets_lookup_bulk(t, keys, N, lists), 0);
        for (int i = 0; i < N; i++) {
            shmets_term l;
            assert_int_equal(shmets_lookup(t, keys[i], &l), 0);
            assert_int_equal(lists[i].len, l.len);
            assert_memory_equal(lists[i].ptr, l.ptr, l.len);
            shmets_term_free(&l);
            shmets_term_free(&lists[i]);
            shmets_term_free(&keys[i]);
        }
        assert_int_equal(shmets_check(t), 0);
    }
}

/* Byte keys: the object Erlang sees is {<<K>>, <<V>>}; values of any size; errors. */
static void test_kv(void **s)
{
    (void)s;
    shmets_tab *t = mk(SHMETS_SET, "kv");
    assert_int_equal(shmets_kv_put(t, "key", 3, "value", 5), 0);
    shmets_term l;
    assert_int_equal(shmets_lookup(t, P("<<\"key\">>"), &l), 0);
    assert_text(l, "[{<<107,101,121>>,<<118,97,108,117,101>>}]");
    shmets_term_free(&l);
    char buf[8];
    size_t vl = 0;
    assert_int_equal(shmets_kv_get(t, "key", 3, buf, sizeof buf, &vl), 0);
    assert_int_equal(vl, 5);
    assert_memory_equal(buf, "value", 5);
    assert_int_equal(shmets_kv_get(t, "key", 3, buf, 4, &vl), -SHMETS_ERANGE);
    assert_int_equal(vl, 5);
    assert_int_equal(shmets_kv_get(t, "nokey", 5, buf, sizeof buf, &vl), -SHMETS_ENOKEY);
    /* Empty keys and values, and a value larger than the stack buffers. */
    size_t big = 100000;
    char *v = malloc(big), *back = malloc(big);
    for (size_t i = 0; i < big; i++)
        v[i] = (char)(i * 31);
    assert_int_equal(shmets_kv_put(t, "", 0, "", 0), 0);
    assert_int_equal(shmets_kv_put(t, "big", 3, v, big), 0);
    assert_int_equal(shmets_kv_get(t, "", 0, buf, sizeof buf, &vl), 0);
    assert_int_equal(vl, 0);
    assert_int_equal(shmets_kv_get(t, "big", 3, back, big, &vl), 0);
    assert_int_equal(vl, big);
    assert_memory_equal(back, v, big);
    const void *view;
    assert_int_equal(shmets_kv_view(t, "big", 3, &view, &vl), -SHMETS_EINVAL);
    assert_int_equal(shmets_read_begin(db), 0);
    assert_int_equal(shmets_kv_view(t, "big", 3, &view, &vl), 0);
    assert_int_equal(vl, big);
    assert_memory_equal(view, v, big);
    shmets_read_end(db);
    /* A damaged object (its arity byte scribbled on, so its bytes are no term): the short
     * path's shape check refuses it and the general way names it, -SHMETS_EBADSEG, never a
     * value; mended, it reads again. */
    assert_int_equal(shmets_read_begin(db), 0);
    assert_int_equal(shmets_kv_view(t, "key", 3, &view, &vl), 0);
    shmets_read_end(db);
    unsigned char *arity = (unsigned char *)view - 5 - 3 - 5 - 1;   /* 104 2 | 109 3 key | 109 5 value */
    assert_int_equal(arity[-1], 104);
    assert_int_equal(*arity, 2);
    *arity = 3;
    assert_int_equal(shmets_kv_get(t, "key", 3, buf, sizeof buf, &vl), -SHMETS_EBADSEG);
    *arity = 2;
    assert_int_equal(shmets_kv_get(t, "key", 3, buf, sizeof buf, &vl), 0);
    assert_memory_equal(buf, "value", 5);
    /* A key whose object is not {<<K>>, <<V>>}. */
    assert_int_equal(shmets_insert(t, P("{<<\"odd\">>, 1, 2}")), 0);
    assert_int_equal(shmets_kv_get(t, "odd", 3, buf, sizeof buf, &vl), -SHMETS_ETYPE);
    assert_int_equal(shmets_kv_del(t, "big", 3), 0);
    assert_int_equal(shmets_kv_get(t, "big", 3, back, big, &vl), -SHMETS_ENOKEY);
    /* keypos 2 tables cannot hold {<<K>>, <<V>>} by K. */
    shmets_opts o;
    shmets_opts_init(&o);
    o.keypos = 2;
    shmets_tab *t2;
    assert_int_equal(shmets_new(db, "kv2", &o, &t2), 0);
    assert_int_equal(shmets_kv_put(t2, "a", 1, "b", 1), -SHMETS_EINVAL);
    assert_int_equal(shmets_check(t), 0);
    free(v);
    free(back);
}

/* compressed: every call gives what an uncompressed table gives, in less memory; the
 * view calls refuse (the objects are not stored as terms). */
static void test_compressed(void **s)
{
    (void)s;
    enum shmets_kind kinds[] = { SHMETS_SET, SHMETS_ORDERED_SET, SHMETS_BAG, SHMETS_DUPLICATE_BAG };
    for (int ki = 0; ki < 4; ki++) {
        shmets_tab *tab[2];
        for (int c = 0; c < 2; c++) {
            shmets_opts o;
            shmets_opts_init(&o);
            o.kind = kinds[ki];
            o.compressed = c;
            char name[32];
            snprintf(name, sizeof name, "c%d%d", ki, c);
            assert_int_equal(shmets_new(db, name, &o, &tab[c]), 0);
            for (int i = 0; i < 2000; i++) {
                char buf[256];
                shmets_term x;
                snprintf(buf, sizeof buf, "{%d, <<\"a value that repeats, repeats, repeats, repeats\">>, %d, [a,a,a,a,a,a,a,a]}",
                         i % 700, i);
                assert_int_equal(shmets_term_parse(buf, strlen(buf), &x), 0);
                assert_int_equal(shmets_insert(tab[c], x), 0);
                shmets_term_free(&x);
            }
            assert_int_equal(shmets_insert(tab[c], P("{small, 1}")), 0);     /* stays plain */
            assert_int_equal(shmets_delete_object(tab[c], P("{3, <<\"a value that repeats, repeats, repeats, repeats\">>, 3, [a,a,a,a,a,a,a,a]}")), 0);
        }
        shmets_term op = P("{3, 1}");
        for (int i = -1; i < 700; i++) {
            char buf[16];
            shmets_term k, a, b;
            if (i < 0)
                snprintf(buf, sizeof buf, "small");
            else
                snprintf(buf, sizeof buf, "%d", i);
            assert_int_equal(shmets_term_parse(buf, strlen(buf), &k), 0);
            assert_int_equal(shmets_lookup(tab[0], k, &a), 0);
            assert_int_equal(shmets_lookup(tab[1], k, &b), 0);
            assert_int_equal(a.len, b.len);
            assert_memory_equal(a.ptr, b.ptr, a.len);
            shmets_term_free(&a);
            shmets_term_free(&b);
            if (i >= 0 && (kinds[ki] == SHMETS_SET || kinds[ki] == SHMETS_ORDERED_SET)) {
                shmets_term r;
                assert_int_equal(shmets_update_counter(tab[1], k, op, NULL, &r), 0);
                shmets_term_free(&r);
                assert_int_equal(shmets_update_counter(tab[0], k, op, NULL, &r), 0);
                shmets_term_free(&r);
            }
            shmets_term_free(&k);
        }
        uint64_t used[2], fr, n[2];
        for (int c = 0; c < 2; c++) {
            assert_int_equal(shmets_reclaim(tab[c], 0, NULL), 0);     /* limbo: not the objects' */
            assert_int_equal(shmets_memory(tab[c], &used[c], &fr), 0);
            assert_int_equal(shmets_size(tab[c], &n[c]), 0);
            assert_int_equal(shmets_check(tab[c]), 0);
        }
        assert_int_equal(n[0], n[1]);
        /* At least an eighth smaller: these objects of ~110 bytes pack to ~85 (a fifth), and
         * the index's share of the whole (a set's objects have a 4-byte header) makes it ~16%. */
        assert_true(used[1] * 8 < used[0] * 7);
        shmets_term inf, l;
        assert_int_equal(shmets_info_item(tab[1], "compressed", &inf), 0);
        assert_text(inf, "true");
        shmets_term_free(&inf);
        assert_int_equal(shmets_tab2list(tab[1], &l), 0);
        size_t len;
        assert_int_equal(shmets_term_list_length(l, &len), 0);
        assert_int_equal(len, n[1]);
        shmets_term_free(&l);
        shmets_term views[1];
        size_t nv;
        assert_int_equal(shmets_read_begin(db), 0);
        assert_int_equal(shmets_lookup_view(tab[1], P("small"), views, 1, &nv), -SHMETS_EINVAL);
        shmets_read_end(db);
        while (npool)
            shmets_term_free(&pool[--npool]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_views, setup, done),
        cmocka_unit_test_setup_teardown(test_bulk, setup, done),
        cmocka_unit_test_setup_teardown(test_kv, setup, done),
        cmocka_unit_test_setup_teardown(test_compressed, setup, done),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
