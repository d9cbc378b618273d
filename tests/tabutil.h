/*
 * tabutil.h — helpers for the table tests that speak Erlang text (never part of the library).
 * Include after <cmocka.h>, "shmets.h" and testinst.h (the helpers make tables in `db`).
 *   T(text)        a term parsed from Erlang syntax (owning; free it); fails the test if bad
 *   S(term)        the ~w text of a term (one of 8 rotating static buffers)
 *   W(text)        the ~w text of a term given in any syntax
 *   ins, look      insert a term given as text; the ~w text of lookup(key)
 *   check(t)       shmets_check() passes, or the test fails with the broken invariant and
 *                  the caller's line
 *   mk(name, kind, access, keypos)   a new table
 *   tab_size(t)    ets:info(T, size)
 *   fun_term(m, f, a)   the export fun m:f/a (the text syntax has no funs)
 */
#ifndef SHMETS_TABUTIL_H
#define SHMETS_TABUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABUTIL_TEXT 16384

static inline shmets_term T(const char *text)
{
    shmets_term t = { NULL, 0 };
    int rc = shmets_term_parse(text, strlen(text), &t);
    if (rc)
        fail_msg("parse %s: %s (%s)", text, shmets_strerror(rc), shmets_errdetail());
    return t;
}

static inline const char *S(shmets_term t)
{
    static char out[8][TABUTIL_TEXT];
    static int k;
    char *o = out[k++ % 8];
    if (!t.ptr) {
        snprintf(o, TABUTIL_TEXT, "'$end_of_table'");
        return o;
    }
    char *txt;
    assert_int_equal(shmets_term_format(t, &txt, NULL), 0);
    snprintf(o, TABUTIL_TEXT, "%s", txt);
    free(txt);
    return o;
}

static inline const char *W(const char *text)
{
    shmets_term t = T(text);
    const char *s = S(t);
    shmets_term_free(&t);
    return s;
}

static inline void ins(shmets_tab *t, const char *text)
{
    shmets_term x = T(text);
    int rc = shmets_insert(t, x);
    if (rc)
        fail_msg("insert %s: %s (%s)", text, shmets_strerror(rc), shmets_errdetail());
    shmets_term_free(&x);
}

static inline const char *look(shmets_tab *t, const char *key)
{
    shmets_term k = T(key), r;
    int rc = shmets_lookup(t, k, &r);
    if (rc)
        fail_msg("lookup %s: %s (%s)", key, shmets_strerror(rc), shmets_errdetail());
    const char *s = S(r);
    shmets_term_free(&k);
    shmets_term_free(&r);
    return s;
}

static inline void check_at(shmets_tab *t, const char *file, int line)
{
    int rc = shmets_check(t);
    if (rc)
        fail_msg("%s:%d: shmets_check: %s (%s)", file, line, shmets_strerror(rc), shmets_errdetail());
}
#define check(t) check_at((t), __FILE__, __LINE__)

static inline shmets_tab *mk(const char *name, enum shmets_kind kind, enum shmets_access access, unsigned keypos)
{
    shmets_opts o;
    shmets_opts_init(&o);
    o.kind = kind;
    o.access = access;
    o.keypos = keypos;
    shmets_tab *t;
    int rc = shmets_new(db, name, &o, &t);
    if (rc)
        fail_msg("shmets_new %s: %s (%s)", name, shmets_strerror(rc), shmets_errdetail());
    check(t);
    return t;
}

static inline uint64_t tab_size(shmets_tab *t)
{
    uint64_t n;
    assert_int_equal(shmets_size(t, &n), 0);
    return n;
}

static inline shmets_term fun_term(const char *m, const char *f, unsigned arity)
{
    unsigned char b[600];
    size_t n = 0, ml = strlen(m), fl = strlen(f);
    assert_true(ml < 256 && fl < 256);
    b[n++] = 131;
    b[n++] = 113;                       /* EXPORT_EXT */
    b[n++] = 119;                       /* SMALL_ATOM_UTF8_EXT */
    b[n++] = (unsigned char)ml;
    memcpy(b + n, m, ml);
    n += ml;
    b[n++] = 119;
    b[n++] = (unsigned char)fl;
    memcpy(b + n, f, fl);
    n += fl;
    b[n++] = 97;                        /* SMALL_INTEGER_EXT */
    b[n++] = (unsigned char)arity;
    shmets_term t;
    assert_int_equal(shmets_term_from_etf(b, n, 0, &t), 0);
    return t;
}

#endif
