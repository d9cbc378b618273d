/*
 * test_tabfile_erl.c — table files between shmets and Erlang's ETS, with OTP as the oracle
 * (tests/erl/tabfile_oracle.escript).  What a user moving tables between the two relies on:
 *
 * - every file ets:tab2file/3 writes (each kind, protection, keypos, named, compressed, with
 *   and without extended_info, an object above disk_log's 65528-byte item limit) loads into
 *   shmets under verify with the same objects and options;
 * - every file shmets writes in Erlang's format loads into ETS under verify, the same;
 * - an Erlang-format file with one flipped bit (md5sum) is refused under verify, one cut at
 *   an item boundary is refused (with extended_info even without verify), and a disk_log that
 *   was never closed is refused.
 * Erlang is a test dependency: without escript this test fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "shmets.h"
#define TESTINST_PREFIX "test_tabfile_erl"
#include "testinst.h"
#include "testdir.h"

#include <dirent.h>
#include <fcntl.h>
#include <md5.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define ORACLE "tests/erl/tabfile_oracle.escript"

static char dir[256];

static int dsetup(void **s)
{
    testdir_make(dir, sizeof dir, "test_tabfile_erl");
    return setup(s);
}

static int dteardown(void **s)
{
    testdir_remove(dir);
    return teardown(s);
}

/* Run the oracle with args; its standard output into a malloc'd string. */
static char *oracle(const char *const *args)
{
    int fo = memfd_create("out", 0);
    assert_true(fo >= 0);
    const char *argv[64] = { "escript", ORACLE };
    int k = 2;
    for (int i = 0; args[i] && k < 63; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fo, 1);
        execvp("escript", (char *const *)argv);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("the oracle failed (status %#x): Erlang/OTP is a test dependency", st);
    off_t n = lseek(fo, 0, SEEK_END);
    char *out = malloc((size_t)n + 1);
    assert_int_equal(pread(fo, out, (size_t)n, 0), n);
    out[n] = 0;
    close(fo);
    return out;
}

static char *slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    off_t n = lseek(fd, 0, SEEK_END);
    char *b = malloc((size_t)n + 1);
    assert_int_equal(pread(fd, b, (size_t)n, 0), n);
    b[n] = 0;
    close(fd);
    if (len)
        *len = (size_t)n;
    return b;
}

static void spit(const char *path, const void *b, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b, len), (ssize_t)len);
    close(fd);
}

static int by_order(const void *x, const void *y)
{
    return shmets_term_compare(*(const shmets_term *)x, *(const shmets_term *)y);
}

static const char *const kinds[] = { "", "set", "ordered_set", "bag", "duplicate_bag" };
static const char *const accesses[] = { "", "public", "protected", "private" };

/* The table as the oracle writes it: lists:sort(tab2list) as ~w, then the facts. */
static char *describe(shmets_tab *t, bool one_term)
{
    shmets_term l, el, sorted;
    shmets_list_iter it;
    size_t n;
    assert_int_equal(shmets_tab2list(t, &l), 0);
    assert_int_equal(shmets_term_list_length(l, &n), 0);
    shmets_term *v = calloc(n + 1, sizeof *v);
    size_t k = 0;
    shmets_list_begin(l, &it);
    while (shmets_list_next(&it, &el) == 1)
        v[k++] = el;
    /* lists:sort is a merge sort: stable; objects equal under == keep their order.  The data
     * has no such pairs but the duplicate_bag's copies, which are identical. */
    qsort(v, n, sizeof *v, by_order);
    shmets_builder *b;
    assert_int_equal(shmets_builder_create(&b), 0);
    if (n) {
        shmets_build_list(b, n);
        for (size_t i = 0; i < n; i++)
            shmets_build_term(b, v[i]);
    }
    shmets_build_nil(b);
    assert_int_equal(shmets_builder_finish(b, &sorted), 0);
    shmets_builder_destroy(b);
    char *objs;
    assert_int_equal(shmets_term_format(sorted, &objs, NULL), 0);
    shmets_term_free(&sorted);
    shmets_term_free(&l);
    free(v);
    shmets_tab_info in;
    assert_int_equal(shmets_info(t, &in), 0);
    char *out;
    const char *fmt = one_term ? "{%s,[%s,%s,%u,%s,%s]}\n" : "%s\n%s %s %u %s %s\n";
    assert_true(asprintf(&out, fmt, objs, kinds[in.kind], accesses[in.access], in.keypos,
                         in.named ? "true" : "false", in.compressed ? "true" : "false") > 0);
    free(objs);
    return out;
}

/* Erlang writes, shmets reads. */
static void erlang_to_shmets(void **state)
{
    (void)state;
    const char *args[] = { "write", dir, NULL };
    free(oracle(args));
    char path[400];
    int files = 0;
    for (int i = 0;; i++) {
        snprintf(path, sizeof path, "%s/e_%d.tab", dir, i);
        if (access(path, F_OK))
            break;
        shmets_tabfile_desc d;
        assert_int_equal(shmets_tabfile_info(path, &d), 0);
        assert_true(d.erlang);
        assert_int_equal(d.version, 1);
        shmets_tabfile_opts o;
        shmets_tabfile_opts_init(&o);
        o.verify = true;
        shmets_tab *t;
        if (shmets_file2tab(db, path, &o, &t))
            fail_msg("%s: %s", path, shmets_errdetail());
        char *got = describe(t, false);
        snprintf(path, sizeof path, "%s/e_%d.txt", dir, i);
        char *want = slurp(path, NULL);
        if (strcmp(got, want))
            fail_msg("e_%d: shmets loaded\n%.300s\nErlang dumped\n%.300s", i, got, want);
        uint64_t size;
        assert_int_equal(shmets_size(t, &size), 0);
        assert_int_equal(size, d.size);
        free(got);
        free(want);
        assert_int_equal(shmets_delete(t), 0);
        files++;
    }
    assert_int_equal(files, 16);
}

/* shmets writes Erlang's format, Erlang reads. */
static void shmets_to_erlang(void **state)
{
    (void)state;
    static const enum shmets_kind ks[] = { SHMETS_SET, SHMETS_ORDERED_SET, SHMETS_BAG, SHMETS_DUPLICATE_BAG };
    char *want[16];
    char paths[16][400];
    const char *args[20] = { "read" };
    unsigned char *big = malloc(70000);
    for (int i = 0; i < 70000; i++)
        big[i] = (unsigned char)(i % 251);
    for (int i = 0; i < 16; i++) {
        shmets_opts o;
        shmets_opts_init(&o);
        o.kind = ks[i / 4];
        o.access = (enum shmets_access)(1 + i % 3);
        o.keypos = 1;
        o.named = i % 2;
        o.compressed = i % 4 == 1;
        char name[16];
        snprintf(name, sizeof name, "s_%d", i);
        shmets_tab *t;
        assert_int_equal(shmets_new(db, name, &o, &t), 0);
        shmets_term l;
        const char *txt = "[{1, <<\"one\">>, 1.5}, {2, [a, \"b\"], #{c => d}}, {1, dup}, {1, dup},"
                          "{'quoted atom', -12345678901234567890, <<7:3>>}, {<<\"k\">>, {nested, [1|2]}}]";
        assert_int_equal(shmets_term_parse(txt, strlen(txt), &l), 0);
        assert_int_equal(shmets_insert(t, l), 0);
        shmets_term_free(&l);
        shmets_builder *b;
        shmets_term obj;
        assert_int_equal(shmets_builder_create(&b), 0);
        shmets_build_tuple(b, 2);
        shmets_build_atom(b, "big", 3);
        shmets_build_binary(b, big, 70000);
        assert_int_equal(shmets_builder_finish(b, &obj), 0);
        shmets_builder_destroy(b);
        assert_int_equal(shmets_insert(t, obj), 0);
        shmets_term_free(&obj);
        shmets_tabfile_opts fo;
        shmets_tabfile_opts_init(&fo);
        fo.erlang = true;
        fo.md5sum = i % 4 < 2;
        fo.object_count = i % 2 == 0;
        snprintf(paths[i], sizeof paths[i], "%s/s_%d.tab", dir, i);
        assert_int_equal(shmets_tab2file(t, paths[i], &fo), 0);
        args[1 + i] = paths[i];
        want[i] = describe(t, true);
        /* and it loads back into shmets */
        assert_int_equal(shmets_rename(t, "moved"), 0);
        shmets_tab *u;
        fo.verify = true;
        assert_int_equal(shmets_file2tab(db, paths[i], &fo, &u), 0);
        char *back = describe(u, true);
        assert_string_equal(back, want[i]);
        free(back);
        assert_int_equal(shmets_delete(u), 0);
        assert_int_equal(shmets_delete(t), 0);
    }
    free(big);
    args[17] = NULL;
    char *got = oracle(args);
    char *line = got;
    for (int i = 0; i < 16; i++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        size_t n = (size_t)(nl - line) + 1;
        if (strlen(want[i]) != n || strncmp(line, want[i], n))
            fail_msg("s_%d: Erlang loaded\n%.300s\nshmets dumped\n%.300s", i, line, want[i]);
        line = nl + 1;
        free(want[i]);
    }
    free(got);
}

static void refused(const char *path, bool verify)
{
    shmets_tabfile_opts o;
    shmets_tabfile_opts_init(&o);
    o.verify = verify;
    shmets_tab *t = NULL;
    uint64_t *ids;
    size_t before, after;
    assert_int_equal(shmets_all(db, &ids, &before), 0);
    free(ids);
    int rc = shmets_file2tab(db, path, &o, &t);
    if (rc != -SHMETS_EBADFILE && rc != -SHMETS_EVERSION)
        fail_msg("%s loaded (%d) %s", path, rc, shmets_errdetail());
    assert_int_equal(shmets_all(db, &ids, &after), 0);
    free(ids);
    assert_int_equal(after, before);
}

/* Damage in Erlang-format files. */
static void damaged_erlang_files(void **state)
{
    (void)state;
    const char *args[] = { "write", dir, NULL };
    free(oracle(args));
    char path[400], bad[400];
    snprintf(path, sizeof path, "%s/e_0.tab", dir);     /* set, [object_count, md5sum] */
    snprintf(bad, sizeof bad, "%s/bad.tab", dir);
    size_t len;
    unsigned char *b = (unsigned char *)slurp(path, &len);
    int n = 0;
    for (size_t at = 0; at < len; at += at < 600 || at + 200 > len ? 3 : 997) {
        b[at] ^= (unsigned char)(1u << (at % 8));
        spit(bad, b, len);
        refused(bad, true);
        b[at] ^= (unsigned char)(1u << (at % 8));
        n++;
    }
    print_message("one flipped bit at %d places of a %zu-byte Erlang file: each refused\n", n, len);
    /* cut at the item before the end record: announced extended_info, so refused without
     * verify too.  Items: walk the sizes. */
    size_t at = 8, last = 0;
    while (at + 8 <= len) {
        uint32_t sz = (uint32_t)b[at] << 24 | (uint32_t)b[at + 1] << 16 | (uint32_t)b[at + 2] << 8 | b[at + 3];
        last = at;
        at += 8 + (sz >= 65528 ? 16 : 0) + sz;
    }
    assert_int_equal(at, len);
    spit(bad, b, last);
    refused(bad, false);
    /* a file with no extended_info cut at an item boundary: found under verify (its size) */
    free(b);
    snprintf(path, sizeof path, "%s/e_1.tab", dir);     /* ordered_set, no extended_info */
    b = (unsigned char *)slurp(path, &len);
    at = 8;
    while (at + 8 <= len) {
        uint32_t sz = (uint32_t)b[at] << 24 | (uint32_t)b[at + 1] << 16 | (uint32_t)b[at + 2] << 8 | b[at + 3];
        last = at;
        at += 8 + (sz >= 65528 ? 16 : 0) + sz;
    }
    spit(bad, b, last);
    refused(bad, true);
    /* never closed */
    b[4] = 6; b[5] = 7; b[6] = 8; b[7] = 9;
    spit(bad, b, len);
    refused(bad, false);
    free(b);
}

/* Hand-made hostile disk_logs: every size, magic and header item is checked before it is
 * trusted, and each file is refused with a clear error, leaving nothing. */
static size_t put_item(unsigned char *b, size_t k, const char *magic, uint32_t size, const void *etf, size_t n)
{
    b[k] = (unsigned char)(size >> 24);
    b[k + 1] = (unsigned char)(size >> 16);
    b[k + 2] = (unsigned char)(size >> 8);
    b[k + 3] = (unsigned char)size;
    memcpy(b + k + 4, magic, 4);
    memcpy(b + k + 8, etf, n);
    return k + 8 + n;
}

static size_t put_term_item(unsigned char *b, size_t k, const char *text)
{
    shmets_term t;
    unsigned char *etf;
    size_t n;
    assert_int_equal(shmets_term_parse(text, strlen(text), &t), 0);
    assert_int_equal(shmets_term_to_etf(t, &etf, &n), 0);
    k = put_item(b, k, "\x62\x57\x4c\x41", (uint32_t)n, etf, n);
    free(etf);
    shmets_term_free(&t);
    return k;
}

static void hostile_erlang_items(void **state)
{
    (void)state;
    static const char head[] = "\1\2\3\4\x63\x58\x4d\x0b", big[] = "\x62\x57\x4c\x41";
    static const char hdr[] = "{{name,h},{type,set},{protection,public},{named_table,true},{keypos,1},{size,1}}";
    static unsigned char b[4096];
    char p[400];
    snprintf(p, sizeof p, "%s/h.tab", dir);
    size_t k;
    /* a good file first: the hand-made format is right */
    memcpy(b, head, 8);
    k = put_term_item(b, 8, hdr);
    k = put_term_item(b, k, "{1,2}");
    spit(p, b, k);
    shmets_tab *t;
    shmets_tabfile_opts o;
    shmets_tabfile_opts_init(&o);
    o.verify = true;
    assert_int_equal(shmets_file2tab(db, p, &o, &t), 0);
    assert_int_equal(shmets_delete(t), 0);
    /* an item of 64 MiB (its size's MD5 right) in a file of 40 bytes: truncated */
    memcpy(b, head, 8);
    k = put_item(b, 8, big, 64u << 20, "", 0);
    unsigned char sz[4] = { 4, 0, 0, 0 };
    MD5_CTX c;
    MD5Init(&c);
    MD5Update(&c, sz, 4);
    MD5Final(b + k, &c);
    spit(p, b, k + 16);
    refused(p, false);
    b[k + 3] ^= 1;                              /* its size's MD5 wrong */
    spit(p, b, k + 16);
    refused(p, false);
    /* items of 0, 1 and 0xffffffff bytes, and an item without its magic */
    static const uint32_t sizes[] = { 0, 1, 0xffffffffu, (64u << 20) + 2 };
    for (int i = 0; i < 4; i++) {
        k = put_item(b, 8, big, sizes[i], "\x83\x61\x01", 3);
        spit(p, b, k);
        refused(p, false);
    }
    k = put_term_item(b, 8, hdr);
    memcpy(b + 12, "\x0c\x21\x2c\x38", 4);
    spit(p, b, k);
    refused(p, false);
    /* headers: a writer that died (not closed), no keypos, a major version to come, not a tuple */
    static const char *const hdrs[] = {
        "{{name,h},{type,set},{protection,public},{named_table,true},{size,1}}",
        "{{name,h},{type,set},{protection,public},{named_table,true},{keypos,1},{size,1},{major_version,2}}",
        "{{name,h},{type,sett},{protection,public},{named_table,true},{keypos,1},{size,1}}",
        "{{name,h},{type,set},{protection,public},{named_table,true},{keypos,0},{size,1}}",
        "[{name,h},{type,set},{protection,public},{named_table,true},{keypos,1},{size,1}]",
    };
    for (int i = 0; i < 5; i++) {
        k = put_term_item(b, 8, hdrs[i]);
        spit(p, b, k);
        refused(p, false);
    }
    memcpy(b + 4, "\6\7\x08\x09", 4);
    k = put_term_item(b, 8, hdr);
    spit(p, b, k);
    refused(p, false);
    memcpy(b + 4, head + 4, 4);
    /* objects: a tuple tag with nothing after it, last; a list that is no end record; items
     * after the end record */
    k = put_term_item(b, 8, hdr);
    k = put_item(b, k, big, 2, "\x83\x68", 2);
    spit(p, b, k);
    refused(p, false);
    k = put_term_item(b, 8, hdr);
    k = put_term_item(b, k, "[a, b]");
    spit(p, b, k);
    refused(p, false);
    k = put_term_item(b, 8, "{{name,h},{type,set},{protection,public},{named_table,true},{keypos,1},{size,1},"
                            "{extended_info,[object_count]}}");
    k = put_term_item(b, k, "{1,2}");
    size_t objs = k;
    k = put_term_item(b, objs, "['$end_of_table', [{count, 1}]]");
    size_t whole = k;
    spit(p, b, whole);
    assert_int_equal(shmets_file2tab(db, p, &o, &t), 0);
    assert_int_equal(shmets_delete(t), 0);
    k = put_term_item(b, whole, "{3,4}");
    spit(p, b, k);
    refused(p, false);
    k = put_term_item(b, objs, "['$end_of_table', [{count, 2}]]");
    spit(p, b, k);
    refused(p, false);
    spit(p, b, objs);                           /* announced, and no end record */
    refused(p, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(erlang_to_shmets, dsetup, dteardown),
        cmocka_unit_test_setup_teardown(shmets_to_erlang, dsetup, dteardown),
        cmocka_unit_test_setup_teardown(damaged_erlang_files, dsetup, dteardown),
        cmocka_unit_test_setup_teardown(hostile_erlang_items, dsetup, dteardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
