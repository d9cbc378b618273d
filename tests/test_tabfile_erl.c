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

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define ORACLE "tests/erl/tabfile_oracle.escript"

static char dir[256];

static int dsetup(void **s)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/test_tabfile_erl.XXXXXX", t && *t ? t : "/tmp");
    assert_non_null(mkdtemp(dir));
    return setup(s);
}

static int dteardown(void **s)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[600];
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(dir);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(erlang_to_shmets, dsetup, dteardown),
        cmocka_unit_test_setup_teardown(shmets_to_erlang, dsetup, dteardown),
        cmocka_unit_test_setup_teardown(damaged_erlang_files, dsetup, dteardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
