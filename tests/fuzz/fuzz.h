/*
 * fuzz.h — what the fuzz targets of tests/fuzz/ share (test code, never part of the library).
 *
 * LAYOUT.  A target is one file, tests/fuzz/NAME.c, that defines LLVMFuzzerTestOneInput(),
 * and one directory of seed inputs, tests/fuzz/NAME/ (a libFuzzer dictionary
 * tests/fuzz/NAME.dict is used when it exists).  The Makefile finds targets by their files:
 *   make fuzz    builds build/fuzz/NAME with clang (-fsanitize=fuzzer,address,undefined) and
 *                runs each for FUZZ_SECONDS (tests/fuzz/run.sh), new inputs going to
 *                build/fuzz/corpus/NAME;
 *   make check   builds $(B)/tests/fuzz-NAME with the ordinary compiler: the target and
 *                tests/fuzz/replay.c, which feeds it every file of tests/fuzz/NAME/ (each in a
 *                child process) and fails if one crashes or breaks a property.
 * Every target links the library and the objects in the Makefile's FUZZ_LINK (tools/script.c;
 * a target that needs more, such as etsmgr's message handling, adds its objects there).
 *
 * RULES FOR A TARGET
 *   F.1 A broken property is FUZZ_CHECK(cond): it prints the condition and abort()s, which
 *       libFuzzer reports as a crash with the input, and the replay as a failure.
 *   F.2 Shared memory a target makes lives in instances whose names start with fuzz_inst()
 *       ("fuzz.<pid>"); the target removes them before it returns.  After a crash the replay
 *       driver and tests/fuzz/run.sh remove whatever a process of that pid left in /dev/shm.
 *   F.3 Work per input is bounded by the input (libFuzzer's -max_len, and -timeout catches a
 *       call that runs away: the library promises bounded work).
 */
#ifndef SHMETS_FUZZ_H
#define SHMETS_FUZZ_H

#include "shmets.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* F.1: the message goes to standard error, or to the fd FUZZ_REPORT_FD names (the replay's,
 * whose children send standard error to /dev/null). */
static inline void fuzz_fail(const char *file, int line, const char *cond)
{
    const char *fd = getenv("FUZZ_REPORT_FD");
    dprintf(fd ? atoi(fd) : 2, "fuzz: %s:%d: property broken: %s (detail: %s)\n", file, line, cond,
            shmets_errdetail());
    abort();
}

#define FUZZ_CHECK(cond)                                                                    \
    do {                                                                                    \
        if (!(cond))                                                                        \
            fuzz_fail(__FILE__, __LINE__, #cond);                                           \
    } while (0)

/* The instance name prefix of F.2 for this process. */
static inline const char *fuzz_inst(void)
{
    static char name[32];
    snprintf(name, sizeof name, "fuzz.%d", (int)getpid());
    return name;
}

static inline int fuzz_sign(int v)
{
    return (v > 0) - (v < 0);
}

/* Does t hold a pid, port, reference or fun anywhere?  Their text is not always read back
 * to the same term (creation numbers, other nodes, funs have no text form). */
static inline bool fuzz_opaque(shmets_term t)
{
    switch (shmets_term_type(t)) {
    case SHMETS_T_PID: case SHMETS_T_PORT: case SHMETS_T_REF: case SHMETS_T_FUN:
        return true;
    case SHMETS_T_TUPLE: {
        size_t n;
        shmets_term el;
        FUZZ_CHECK(shmets_term_tuple_arity(t, &n) == 0);
        for (size_t i = 1; i <= n; i++) {
            FUZZ_CHECK(shmets_term_tuple_element(t, i, &el) == 0);
            if (fuzz_opaque(el))
                return true;
        }
        return false;
    }
    case SHMETS_T_LIST: {
        shmets_list_iter it;
        shmets_term el;
        FUZZ_CHECK(shmets_list_begin(t, &it) == 0);
        while (shmets_list_next(&it, &el) == 1)
            if (fuzz_opaque(el))
                return true;
        return fuzz_opaque(it.tail);
    }
    case SHMETS_T_MAP: {
        shmets_map_iter it;
        shmets_term k, v;
        size_t n;
        FUZZ_CHECK(shmets_map_begin(t, &it, &n) == 0);
        while (shmets_map_next(&it, &k, &v) == 1)
            if (fuzz_opaque(k) || fuzz_opaque(v))
                return true;
        return false;
    }
    default:
        return false;
    }
}

/* Walk a term with every accessor: each part has a type, equals itself, and the accessors
 * of its type answer; lengths agree with what the walk finds. */
static inline void fuzz_walk(shmets_term t)
{
    enum shmets_type ty = shmets_term_type(t);
    FUZZ_CHECK(ty >= SHMETS_T_INTEGER && ty <= SHMETS_T_BINARY);
    FUZZ_CHECK(shmets_term_compare(t, t) == 0);
    int64_t i64;
    uint64_t u64;
    double d;
    const char *txt;
    const void *bytes;
    size_t n, n2;
    unsigned bits;
    uint32_t num, serial;
    shmets_term node;
    switch (ty) {
    case SHMETS_T_INTEGER:
        if (shmets_term_get_int64(t, &i64) == 0 && i64 >= 0)
            FUZZ_CHECK(shmets_term_get_uint64(t, &u64) == 0 && u64 == (uint64_t)i64);
        break;
    case SHMETS_T_FLOAT:
        FUZZ_CHECK(shmets_term_get_double(t, &d) == 0 && d == d);
        break;
    case SHMETS_T_ATOM:
        FUZZ_CHECK(shmets_term_get_atom(t, &txt, &n) == 0 && n <= SHMETS_ATOM_MAX_CHARS * 4);
        break;
    case SHMETS_T_BINARY:
        FUZZ_CHECK(shmets_term_get_bitstring(t, &bytes, &n, &bits) == 0 && bits >= 1 && bits <= 8);
        if (bits == 8)
            FUZZ_CHECK(shmets_term_get_binary(t, &bytes, &n2) == 0 && n2 == n);
        break;
    case SHMETS_T_PID:
        FUZZ_CHECK(shmets_term_get_pid(t, &num, &serial, &node) == 0);
        FUZZ_CHECK(shmets_term_type(node) == SHMETS_T_ATOM);
        break;
    case SHMETS_T_TUPLE: {
        shmets_term el;
        FUZZ_CHECK(shmets_term_tuple_arity(t, &n) == 0);
        for (size_t i = 1; i <= n; i++) {
            FUZZ_CHECK(shmets_term_tuple_element(t, i, &el) == 0);
            fuzz_walk(el);
        }
        FUZZ_CHECK(shmets_term_tuple_element(t, n + 1, &el) == -SHMETS_EBADPOS);
        break;
    }
    case SHMETS_T_NIL:
        FUZZ_CHECK(shmets_term_list_length(t, &n) == 0 && n == 0);
        break;
    case SHMETS_T_LIST: {
        shmets_list_iter it;
        shmets_term el;
        size_t count = 0;
        FUZZ_CHECK(shmets_list_begin(t, &it) == 0);
        while (shmets_list_next(&it, &el) == 1) {
            fuzz_walk(el);
            count++;
        }
        FUZZ_CHECK(count >= 1);
        fuzz_walk(it.tail);
        int rc = shmets_term_list_length(t, &n);
        if (shmets_term_type(it.tail) == SHMETS_T_NIL)
            FUZZ_CHECK(rc == 0 && n == count);
        else
            FUZZ_CHECK(rc == -SHMETS_ETYPE);
        break;
    }
    case SHMETS_T_MAP: {
        shmets_map_iter it;
        shmets_term k, v, prev = { NULL, 0 };
        size_t count = 0;
        FUZZ_CHECK(shmets_map_begin(t, &it, &n) == 0);
        while (shmets_map_next(&it, &k, &v) == 1) {
            fuzz_walk(k);
            fuzz_walk(v);
            if (prev.ptr)               /* canonical maps list keys in map-key order */
                FUZZ_CHECK(shmets_term_compare_exact(prev, k) < 0);
            prev = k;
            count++;
        }
        FUZZ_CHECK(count == n);
        break;
    }
    default:
        break;
    }
}

/*
 * The properties every term the library makes must have:
 *   its ETF goes back to the same bytes (canonical means a fixed point);
 *   a copy is =:=, ==, hashes alike;
 *   its ~w text, for terms without opaque parts, parses back to an =:= term;
 *   every part answers its accessors (fuzz_walk).
 */
static inline void fuzz_term(shmets_term t)
{
    FUZZ_CHECK(t.ptr && t.len > 0);
    fuzz_walk(t);

    unsigned char *etf;
    size_t elen;
    shmets_term back;
    FUZZ_CHECK(shmets_term_to_etf(t, &etf, &elen) == 0);
    FUZZ_CHECK(elen == t.len + 1 && etf[0] == 131);
    FUZZ_CHECK(shmets_term_from_etf(etf, elen, 0, &back) == 0);
    FUZZ_CHECK(back.len == t.len && memcmp(back.ptr, t.ptr, t.len) == 0);
    shmets_term_free(&back);
    free(etf);

    shmets_term dup;
    FUZZ_CHECK(shmets_term_dup(t, &dup) == 0);
    FUZZ_CHECK(shmets_term_exact_equal(t, dup) && shmets_term_equal(t, dup));
    FUZZ_CHECK(shmets_term_compare_exact(t, dup) == 0);
    FUZZ_CHECK(shmets_term_hash(t, 42) == shmets_term_hash(dup, 42));
    shmets_term_free(&dup);

    char *text;
    size_t tlen;
    FUZZ_CHECK(shmets_term_format(t, &text, &tlen) == 0);
    FUZZ_CHECK(strlen(text) == tlen);
    if (!fuzz_opaque(t)) {
        int rc = shmets_term_parse(text, tlen, &back);
        if (rc)
            fprintf(stderr, "fuzz: the text %s does not parse: %s\n", text, shmets_errdetail());
        FUZZ_CHECK(rc == 0);
        if (!shmets_term_exact_equal(t, back))
            fprintf(stderr, "fuzz: the text %s parses to another term\n", text);
        FUZZ_CHECK(shmets_term_exact_equal(t, back));
        shmets_term_free(&back);
    }
    free(text);
}

/* The order's laws over the elements of a tuple or list (at most 12 of them): compare is
 * antisymmetric and transitive, 0 exactly when equal; compare_exact is a total order whose 0
 * is =:=, and =:= implies ==. */
static inline void fuzz_order(shmets_term t)
{
    shmets_term el[12];
    size_t n = 0;
    if (shmets_term_type(t) == SHMETS_T_TUPLE) {
        size_t ar;
        FUZZ_CHECK(shmets_term_tuple_arity(t, &ar) == 0);
        for (size_t i = 1; i <= ar && n < 12; i++)
            FUZZ_CHECK(shmets_term_tuple_element(t, i, &el[n++]) == 0);
    } else if (shmets_term_type(t) == SHMETS_T_LIST) {
        return;                         /* list elements may be views of the iterator's buffer */
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int c = shmets_term_compare(el[i], el[j]);
            int x = shmets_term_compare_exact(el[i], el[j]);
            bool same = shmets_term_exact_equal(el[i], el[j]);
            FUZZ_CHECK(fuzz_sign(c) == -fuzz_sign(shmets_term_compare(el[j], el[i])));
            FUZZ_CHECK(fuzz_sign(x) == -fuzz_sign(shmets_term_compare_exact(el[j], el[i])));
            FUZZ_CHECK((c == 0) == shmets_term_equal(el[i], el[j]));
            FUZZ_CHECK((x == 0) == same);
            if (same)
                FUZZ_CHECK(c == 0 && shmets_term_hash(el[i], 7) == shmets_term_hash(el[j], 7));
            for (size_t k = 0; k < n; k++) {
                if (c <= 0 && shmets_term_compare(el[j], el[k]) <= 0)
                    FUZZ_CHECK(shmets_term_compare(el[i], el[k]) <= 0);
                if (x <= 0 && shmets_term_compare_exact(el[j], el[k]) <= 0)
                    FUZZ_CHECK(shmets_term_compare_exact(el[i], el[k]) <= 0);
            }
        }
}

#endif
