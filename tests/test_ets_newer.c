/*
 * test_ets_newer.c — the ETS calls and items shmets took from OTP releases newer than the
 * erl at hand (25), as their current manual gives them, and the info items whose answer is
 * shmets's own (issue 15): first_lookup/1, next_lookup/2, last_lookup/1, prev_lookup/2 and
 * update_element/4 (OTP 27) through the C API, ets:info(T, binary) (ETS's [] for a table
 * holding no reference-counted binary: shmets's always) and ets:info(T, stats) (shmets's
 * documented [{writes, W}, {memory_bytes, B}]).  `shmets script` runs the same calls in
 * test_script.c, and the differential test (tests/diff/) checks them against an emulation
 * on OTP 25 (ets_script.hrl).  Each test uses its own instance and destroys it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <cmocka.h>

#include "shmets.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#define TESTINST_PREFIX "test_ets_newer"
#include "testinst.h"
#include "tabutil.h"

static const char *errs(int rc)
{
    static char e[8][32];
    static int k;
    char *o = e[k++ % 8];
    snprintf(o, 32, "error %d", -rc);
    return o;
}

static const char *item(shmets_tab *t, const char *name)
{
    shmets_term v;
    int rc = shmets_info_item(t, name, &v);
    if (rc)
        return errs(rc);
    const char *s = S(v);
    shmets_term_free(&v);
    return s;
}

static const char *tab2list(shmets_tab *t)
{
    shmets_term l;
    int rc = shmets_tab2list(t, &l);
    if (rc)
        return errs(rc);
    const char *s = S(l);
    shmets_term_free(&l);
    return s;
}

/* ---- info(T, binary), info(T, stats) (issue 15, item 3) ------------------------------- */

static void test_info_binary_stats(void **s)
{
    (void)s;
    shmets_tab *t = mk("infostats", SHMETS_SET, SHMETS_PUBLIC, 1);
    assert_string_equal(item(t, "binary"), "[]");          /* as ETS: no binaries held */
    shmets_tab_info in;
    char want[128];
    assert_int_equal(shmets_info(t, &in), 0);
    snprintf(want, sizeof want, "[{writes,0},{memory_bytes,%" PRIu64 "}]", in.memory_bytes);
    assert_string_equal(item(t, "stats"), want);
    ins(t, "{a,1}");
    ins(t, "[{b,2},{c,3}]");
    assert_int_equal(shmets_info(t, &in), 0);
    snprintf(want, sizeof want, "[{writes,2},{memory_bytes,%" PRIu64 "}]", in.memory_bytes);
    assert_string_equal(item(t, "stats"), want);
    assert_string_equal(item(t, "bogus"), errs(-SHMETS_EINVAL));
    check(t);
}

/* ---- OTP 27's first/next/last/prev_lookup and update_element/4 (issue 15, item 5) ---------- */

/* A _lookup step as ETS 27 prints it: "{Key,Objects}", "'$end_of_table'" or "error N". */
static const char *step_lookup(shmets_tab *t, const char *fn, const char *key)
{
    shmets_term k = { NULL, 0 }, kt = key ? T(key) : k, objs = { (const void *)1, 1 };
    int rc;
    if (!strcmp(fn, "first"))
        rc = shmets_first_lookup(t, &k, &objs);
    else if (!strcmp(fn, "last"))
        rc = shmets_last_lookup(t, &k, &objs);
    else if (!strcmp(fn, "next"))
        rc = shmets_next_lookup(t, kt, &k, &objs);
    else
        rc = shmets_prev_lookup(t, kt, &k, &objs);
    shmets_term_free(&kt);
    if (rc)
        return errs(rc);
    static char out[4][256];
    static int n;
    char *o = out[n++ % 4];
    if (!k.ptr) {
        assert_null(objs.ptr);
        return "'$end_of_table'";
    }
    snprintf(o, 256, "{%s,", S(k));
    snprintf(o + strlen(o), 256 - strlen(o), "%s}", S(objs));
    shmets_term_free(&k);
    shmets_term_free(&objs);
    return o;
}

static const char *ue4(shmets_tab *t, const char *key, const char *elems, const char *dflt)
{
    shmets_term kt = T(key), et = T(elems), dt = T(dflt);
    int rc = shmets_update_element_default(t, kt, et, dt);
    shmets_term_free(&kt);
    shmets_term_free(&et);
    shmets_term_free(&dt);
    return rc ? errs(rc) : "true";
}

static void test_step_lookup(void **s)
{
    (void)s;
    shmets_tab *o = mk("sl_ord", SHMETS_ORDERED_SET, SHMETS_PUBLIC, 1);
    assert_string_equal(step_lookup(o, "first", NULL), "'$end_of_table'");
    assert_string_equal(step_lookup(o, "last", NULL), "'$end_of_table'");
    ins(o, "[{1,a},{2,b},{3,c}]");
    assert_string_equal(step_lookup(o, "first", NULL), "{1,[{1,a}]}");
    assert_string_equal(step_lookup(o, "next", "1"), "{2,[{2,b}]}");
    assert_string_equal(step_lookup(o, "next", "1.5"), "{2,[{2,b}]}");    /* any key, as next/2 */
    assert_string_equal(step_lookup(o, "next", "3"), "'$end_of_table'");
    assert_string_equal(step_lookup(o, "last", NULL), "{3,[{3,c}]}");
    assert_string_equal(step_lookup(o, "prev", "3"), "{2,[{2,b}]}");
    assert_string_equal(step_lookup(o, "prev", "1"), "'$end_of_table'");
    assert_string_equal(step_lookup(o, "next", "'$end_of_table'"), errs(-SHMETS_ENOKEY));
    /* a bag: every object of the key; next of a key not in the table is badarg */
    shmets_tab *b = mk("sl_bag", SHMETS_BAG, SHMETS_PUBLIC, 1);
    ins(b, "[{k,1},{k,2}]");
    assert_string_equal(step_lookup(b, "first", NULL), "{k,[{k,1},{k,2}]}");
    assert_string_equal(step_lookup(b, "last", NULL), "{k,[{k,1},{k,2}]}");
    assert_string_equal(step_lookup(b, "next", "k"), "'$end_of_table'");
    assert_string_equal(step_lookup(b, "prev", "nokey"), errs(-SHMETS_ENOKEY));
    shmets_term objs;
    assert_int_equal(shmets_first_lookup(b, &objs, NULL), -SHMETS_EINVAL);
    /* a walk by next_lookup visits each key once, with its objects */
    shmets_tab *h = mk("sl_set", SHMETS_SET, SHMETS_PUBLIC, 1);
    ins(h, "[{1,a},{2,b},{3,c},{4,d}]");
    shmets_term k, ob;
    int seen = 0;
    assert_int_equal(shmets_first_lookup(h, &k, &ob), 0);
    while (k.ptr) {
        shmets_term want;
        assert_int_equal(shmets_lookup(h, k, &want), 0);
        assert_string_equal(S(ob), S(want));
        shmets_term_free(&want);
        shmets_term_free(&ob);
        shmets_term nk;
        assert_int_equal(shmets_next_lookup(h, k, &nk, &ob), 0);
        shmets_term_free(&k);
        k = nk;
        seen++;
    }
    assert_null(ob.ptr);
    assert_int_equal(seen, 4);
    check(o);
    check(b);
    check(h);
}

/* update_element/4 (OTP 27's manual; OTP 25 has no such call). */
static void test_update_element_default(void **s)
{
    (void)s;
    shmets_tab *t = mk("ue4", SHMETS_ORDERED_SET, SHMETS_PUBLIC, 1);
    ins(t, "{a,1,2}");
    assert_string_equal(ue4(t, "a", "{2,x}", "{a,0,0}"), "true");           /* present: as /3 */
    assert_string_equal(ue4(t, "b", "{2,x}", "{zz,0,0}"), "true");          /* absent: the default */
    assert_string_equal(ue4(t, "c", "[{2,x},{3,y}]", "{c,0,0}"), "true");
    assert_string_equal(ue4(t, "d", "{3,x}", "{d,0}"), errs(-SHMETS_EBADPOS));  /* past the default */
    assert_string_equal(ue4(t, "d", "{1,x}", "{d,0}"), errs(-SHMETS_EBADPOS));  /* the key */
    assert_string_equal(ue4(t, "a", "{2,y}", "notatuple"), errs(-SHMETS_ETYPE)); /* checked anyway */
    assert_string_equal(ue4(t, "d", "{2,y}", "{}"), errs(-SHMETS_EBADPOS));
    assert_string_equal(ue4(t, "d", "{2,y}", "{d}"), errs(-SHMETS_EBADPOS));
    assert_string_equal(tab2list(t), "[{a,x,2},{b,x,0},{c,x,y}]");
    shmets_tab *h = mk("ue4set", SHMETS_SET, SHMETS_PUBLIC, 1);
    assert_string_equal(ue4(h, "b", "{2,x}", "{zz,0,0}"), "true");
    assert_string_equal(ue4(h, "b", "{3,x}", "{zz,0,0}"), "true");
    assert_string_equal(tab2list(h), "[{b,x,x}]");
    check(h);
    shmets_tab *k2 = mk("ue4k2", SHMETS_ORDERED_SET, SHMETS_PUBLIC, 2);
    assert_string_equal(ue4(k2, "k", "{1,x}", "{0,zz}"), "true");
    assert_string_equal(ue4(k2, "k", "{1,y}", "{0,zz}"), "true");
    assert_string_equal(ue4(k2, "j", "{1,y}", "{0}"), errs(-SHMETS_EBADPOS));
    assert_string_equal(tab2list(k2), "[{y,k}]");
    shmets_tab *b = mk("ue4bag", SHMETS_BAG, SHMETS_PUBLIC, 1);
    assert_string_equal(ue4(b, "k", "{2,y}", "{k,0}"), errs(-SHMETS_ETYPE));
    check(t);
    check(k2);
    check(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_info_binary_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_element_default, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
