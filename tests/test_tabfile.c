/*
 * test_tabfile.c — table files (shm/tabfile/tabfile.c): what a user of tab2file/file2tab relies on.
 *
 * - A dump and a load give back the same table, for every kind and option: the same objects
 *   (a bag's and a duplicate_bag's in the same order for a key), and the same info.
 * - A truncated file, and a file with any one bit flipped (dumped with md5sum), are refused
 *   under verify; a refused load leaves no table behind and the name free.
 * - Garbage, an empty file, another format version, a malformed object, an object that is not
 *   a tuple of the table's keypos: each a clear error, never a crash, no table left.
 * - A dump killed with SIGKILL in the middle leaves the old file as it was; one that dies
 *   after the new file is linked under its temporary name and before the rename, too.
 * - tabfile_info describes a file without reading its objects; a load from a pipe works.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "shmets.h"
#define TESTINST_PREFIX "test_tabfile"
#include "testinst.h"
#include "testdir.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char dir[256];
static char file[300];

static int dsetup(void **s)
{
    testdir_make(dir, sizeof dir, "test_tabfile");
    snprintf(file, sizeof file, "%s/t.tab", dir);
    return setup(s);
}

static int dteardown(void **s)
{
    testdir_remove(dir);
    return teardown(s);
}

static shmets_term T(const char *text)
{
    shmets_term t;
    assert_int_equal(shmets_term_parse(text, strlen(text), &t), 0);
    return t;
}

static void insert_text(shmets_tab *t, const char *text)
{
    shmets_term o = T(text);
    assert_int_equal(shmets_insert(t, o), 0);
    shmets_term_free(&o);
}

/* tab2list as text (the order of a key's objects in a bag is kept by both sides). */
static char *contents(shmets_tab *t)
{
    shmets_term l;
    char *s;
    assert_int_equal(shmets_tab2list(t, &l), 0);
    /* Sort: hash tables may traverse in another order after a load; sorting by key keeps
     * a key's objects in their order (qsort is not stable, so sort the whole objects with
     * their index). */
    size_t n;
    assert_int_equal(shmets_term_list_length(l, &n), 0);
    shmets_term *v = calloc(n + 1, sizeof *v);
    shmets_list_iter it;
    shmets_term el;
    size_t k = 0;
    shmets_list_begin(l, &it);
    while (shmets_list_next(&it, &el) == 1)
        v[k++] = el;
    /* insertion sort by exact term order of the key (element keypos is part of the object:
     * compare whole objects, stable) */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && shmets_term_compare_exact(v[j - 1], v[j]) > 0; j--) {
            shmets_term x = v[j];
            v[j] = v[j - 1];
            v[j - 1] = x;
        }
    size_t cap = 16, len = 0;
    char *out = malloc(cap);
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(shmets_term_format(v[i], &s, NULL), 0);
        size_t m = strlen(s);
        while (len + m + 2 > cap)
            out = realloc(out, cap *= 2);
        memcpy(out + len, s, m);
        len += m;
        out[len++] = ';';
        out[len] = 0;
        free(s);
    }
    free(v);
    shmets_term_free(&l);
    return out;
}

static void same_info(shmets_tab *a, shmets_tab *b, const char *name)
{
    shmets_tab_info x, y;
    assert_int_equal(shmets_info(a, &x), 0);
    assert_int_equal(shmets_info(b, &y), 0);
    assert_string_equal(y.name, name);
    assert_int_equal(x.kind, y.kind);
    assert_int_equal(x.access, y.access);
    assert_int_equal(x.keypos, y.keypos);
    assert_int_equal(x.named, y.named);
    assert_int_equal(x.compressed, y.compressed);
    assert_int_equal(x.read_concurrency, y.read_concurrency);
    assert_int_equal(x.write_concurrency, y.write_concurrency);
    assert_int_equal(x.decentralized_counters, y.decentralized_counters);
    assert_int_equal(x.size, y.size);
    assert_int_equal(y.owner, (uint32_t)getpid());
    assert_int_equal(y.heir, 0);
}

static uint64_t count_tables(void)
{
    uint64_t *ids;
    size_t n;
    assert_int_equal(shmets_all(db, &ids, &n), 0);
    free(ids);
    return n;
}

static void fill(shmets_tab *t, unsigned keypos, int n)
{
    char buf[256];
    for (int i = 0; i < n; i++) {
        if (keypos == 1)
            snprintf(buf, sizeof buf, "{%d, <<\"v%d\">>, [x, %d.5, \"str\"], #{a => %d}}", i % 37, i, i, i);
        else
            snprintf(buf, sizeof buf, "{v%d, {key, %d}, %d}", i, i % 37, -i * 1000003);
        insert_text(t, buf);
    }
    if (keypos == 1) {   /* a duplicate object: a duplicate_bag keeps both */
        insert_text(t, "{1, <<\"v1\">>, [x, 1.5, \"str\"], #{a => 1}}");
        insert_text(t, "{123456789012345678901234567890, 'atom with space', <<1:3>>}");
    }
}

/* Every kind, every protection, keypos 1 and 2, named and not, compressed, write_concurrency. */
static void round_trips(void **state)
{
    (void)state;
    static const enum shmets_kind kinds[] = { SHMETS_SET, SHMETS_ORDERED_SET, SHMETS_BAG, SHMETS_DUPLICATE_BAG };
    static const enum shmets_access acc[] = { SHMETS_PUBLIC, SHMETS_PROTECTED, SHMETS_PRIVATE };
    int n = 0;
    for (size_t k = 0; k < 4; k++)
        for (size_t a = 0; a < 3; a++)
            for (int variant = 0; variant < 3; variant++) {
                shmets_opts o;
                shmets_opts_init(&o);
                o.kind = kinds[k];
                o.access = acc[a];
                o.keypos = variant == 1 ? 2 : 1;
                o.named = variant != 2;
                o.compressed = variant == 1;
                o.write_concurrency = variant == 2;
                o.read_concurrency = variant == 0;
                char name[32];
                snprintf(name, sizeof name, "rt_%d", n++);
                shmets_tab *t, *u;
                assert_int_equal(shmets_new(db, name, &o, &t), 0);
                fill(t, o.keypos, 100);
                shmets_tabfile_opts fo;
                shmets_tabfile_opts_init(&fo);
                fo.md5sum = variant != 1;
                fo.object_count = variant == 0;
                fo.sync = variant == 2;
                assert_int_equal(shmets_tab2file(t, file, &fo), 0);
                shmets_tabfile_desc d;
                assert_int_equal(shmets_tabfile_info(file, &d), 0);
                assert_string_equal(d.name, name);
                assert_int_equal(d.kind, o.kind);
                assert_int_equal(d.access, o.access);
                assert_int_equal(d.keypos, o.keypos);
                assert_int_equal(d.named, o.named);
                assert_int_equal(d.md5sum, fo.md5sum);
                assert_int_equal(d.object_count, fo.object_count);
                assert_int_equal(d.version, 1);
                uint64_t size;
                assert_int_equal(shmets_size(t, &size), 0);
                assert_int_equal(d.size, size);
                if (o.named) {          /* the name is taken: ETS's cannot_create_table */
                    assert_int_equal(shmets_file2tab(db, file, NULL, &u), -SHMETS_EEXIST);
                }
                char *before = contents(t);
                /* load a second copy under the same name after renaming the first away */
                char other[40];
                snprintf(other, sizeof other, "%s_old", name);
                assert_int_equal(shmets_rename(t, other), 0);
                fo.verify = true;
                assert_int_equal(shmets_file2tab(db, file, &fo, &u), 0);
                assert_int_equal(shmets_rename(t, name), o.named ? -SHMETS_EEXIST : 0);
                char *after = contents(u);
                assert_string_equal(before, after);
                same_info(t, u, name);
                assert_int_equal(shmets_check(u), 0);
                free(before);
                free(after);
                assert_int_equal(shmets_delete(u), 0);
                assert_int_equal(shmets_delete(t), 0);
            }
}

/* An empty table round-trips too. */
static void empty_table(void **state)
{
    (void)state;
    shmets_opts o;
    shmets_opts_init(&o);
    o.kind = SHMETS_BAG;
    shmets_tab *t, *u;
    assert_int_equal(shmets_new(db, "empty", &o, &t), 0);
    assert_int_equal(shmets_tab2file(t, file, NULL), 0);
    assert_int_equal(shmets_file2tab(db, file, NULL, &u), 0);
    uint64_t n = 1;
    assert_int_equal(shmets_size(u, &n), 0);
    assert_int_equal(n, 0);
    shmets_detach(u);
    shmets_detach(t);
}

/* Objects larger than a batch (4 MiB) load alone, between batches of small ones. */
static void large_objects(void **state)
{
    (void)state;
    shmets_opts o;
    shmets_opts_init(&o);
    o.kind = SHMETS_ORDERED_SET;
    shmets_tab *t, *u;
    assert_int_equal(shmets_new(db, "large", &o, &t), 0);
    size_t big = 6u << 20;
    unsigned char *bytes = malloc(big);
    for (size_t i = 0; i < big; i++)
        bytes[i] = (unsigned char)(i * 7 + 3);
    shmets_builder *b;
    shmets_term obj;
    assert_int_equal(shmets_builder_create(&b), 0);
    for (int k = 0; k < 3; k++) {
        shmets_build_tuple(b, 2);
        shmets_build_int(b, 1000 + k * 10);
        shmets_build_binary(b, bytes, big - (size_t)k);
        assert_int_equal(shmets_builder_finish(b, &obj), 0);
        assert_int_equal(shmets_insert(t, obj), 0);
        shmets_term_free(&obj);
    }
    shmets_builder_destroy(b);
    free(bytes);
    fill(t, 1, 50);
    shmets_tabfile_opts fo;
    shmets_tabfile_opts_init(&fo);
    fo.md5sum = fo.verify = true;
    assert_int_equal(shmets_tab2file(t, file, &fo), 0);
    assert_int_equal(shmets_file2tab(db, file, &fo, &u), 0);
    shmets_term key, l1, l2;
    assert_int_equal(shmets_term_parse("1020", 4, &key), 0);
    assert_int_equal(shmets_lookup(t, key, &l1), 0);
    assert_int_equal(shmets_lookup(u, key, &l2), 0);
    assert_true(l1.len > big - 2);
    assert_true(shmets_term_exact_equal(l1, l2));
    uint64_t n1, n2;
    assert_int_equal(shmets_size(t, &n1), 0);
    assert_int_equal(shmets_size(u, &n2), 0);
    assert_int_equal(n1, n2);
    shmets_term_free(&key);
    shmets_term_free(&l1);
    shmets_term_free(&l2);
    shmets_detach(u);
    shmets_detach(t);
}

static void dump_small(int md5)
{
    shmets_opts o;
    shmets_opts_init(&o);
    o.named = true;
    shmets_tab *t;
    assert_int_equal(shmets_new(db, "small", &o, &t), 0);
    fill(t, 1, 20);
    shmets_tabfile_opts fo;
    shmets_tabfile_opts_init(&fo);
    fo.md5sum = md5;
    assert_int_equal(shmets_tab2file(t, file, &fo), 0);
    assert_int_equal(shmets_delete(t), 0);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    unsigned char *b = malloc((size_t)st.st_size + 1);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, b, (size_t)st.st_size), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b, len), (ssize_t)len);
    close(fd);
}

static char last_detail[256];

/* A refused load leaves nothing: no table, the name free. */
/* The instance's table segments in /dev/shm (shmets.INST.ID). */
static int count_segments(void)
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, "shmets.%s.", inst);
    DIR *d = opendir("/dev/shm");
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        n += !strncmp(e->d_name, prefix, strlen(prefix));
    closedir(d);
    return n;
}

static void refused(const char *path, bool verify, int want)
{
    shmets_tabfile_opts fo;
    shmets_tabfile_opts_init(&fo);
    fo.verify = verify;
    shmets_tab *u = NULL;
    int segs = count_segments();
    uint64_t before = count_tables(), id;
    int rc = shmets_file2tab(db, path, &fo, &u);
    snprintf(last_detail, sizeof last_detail, "%s", shmets_errdetail());
    if (rc != want && !(want == 0 && (rc == -SHMETS_EBADFILE || rc == -SHMETS_EVERSION)))
        fprintf(stderr, "%s: %d (%s)\n", path, rc, last_detail);
    if (want)
        assert_int_equal(rc, want);
    else
        assert_true(rc == -SHMETS_EBADFILE || rc == -SHMETS_EVERSION);
    assert_true(strlen(last_detail) > 0);
    assert_int_equal(count_tables(), before);
    assert_int_equal(count_segments(), segs);
    assert_int_equal(shmets_whereis(db, "small", &id), -SHMETS_ENOENT);
}

/* A load that fails after whole batches went in (a bad object, a cut, an MD5 that does not
 * match, in both formats) leaves no table, no segment in /dev/shm, and the name free. */
static void refused_late(void **state)
{
    (void)state;
    shmets_opts o;
    shmets_opts_init(&o);
    o.named = true;
    shmets_tab *t;
    assert_int_equal(shmets_new(db, "small", &o, &t), 0);
    fill(t, 1, 5000);
    char p[400];
    snprintf(p, sizeof p, "%s/late.tab", dir);
    for (int erlang = 0; erlang < 2; erlang++) {
        shmets_tabfile_opts fo;
        shmets_tabfile_opts_init(&fo);
        fo.md5sum = true;
        fo.erlang = erlang;
        assert_int_equal(shmets_tab2file(t, file, &fo), 0);
        size_t len;
        unsigned char *b = slurp(file, &len);
        assert_int_equal(shmets_rename(t, "small_was"), 0);
        spit(p, b, len - 100);                  /* cut in its last objects */
        refused(p, false, -SHMETS_EBADFILE);
        b[len - 150] ^= 0x10;                   /* a flipped bit near the end */
        spit(p, b, len);
        refused(p, true, -SHMETS_EBADFILE);
        assert_int_equal(shmets_rename(t, "small"), 0);
        free(b);
    }
}

static void truncated(void **state)
{
    (void)state;
    dump_small(1);
    size_t len;
    unsigned char *b = slurp(file, &len);
    char cut[400];
    snprintf(cut, sizeof cut, "%s/cut.tab", dir);
    for (size_t k = 1; k < len; k += (k < 64 ? 1 : 37)) {
        spit(cut, b, len - k);
        refused(cut, true, 0);
        refused(cut, false, 0);          /* the trailer is always required */
    }
    /* the whole file loads */
    shmets_tab *u;
    spit(cut, b, len);
    shmets_tabfile_opts fo;
    shmets_tabfile_opts_init(&fo);
    fo.verify = true;
    assert_int_equal(shmets_file2tab(db, cut, &fo, &u), 0);
    shmets_detach(u);
    free(b);
}

static void flipped_bits(void **state)
{
    (void)state;
    dump_small(1);
    size_t len;
    unsigned char *b = slurp(file, &len);
    char bad[400];
    snprintf(bad, sizeof bad, "%s/bad.tab", dir);
    int n = 0;
    for (size_t byte = 0; byte < len; byte += (byte < 100 || byte + 60 > len) ? 1 : 7) {
        int bit = (int)(byte * 5 % 8);
        b[byte] ^= (unsigned char)(1u << bit);
        spit(bad, b, len);
        refused(bad, true, 0);
        b[byte] ^= (unsigned char)(1u << bit);
        n++;
    }
    print_message("flipped one bit at %d places of a %zu-byte file: each refused\n", n, len);
    free(b);
}

static void garbage_and_versions(void **state)
{
    (void)state;
    char p[400];
    snprintf(p, sizeof p, "%s/g.tab", dir);
    spit(p, (const unsigned char *)"garbage garbage garbage garbage garbage garbage garbage garbage", 63);
    refused(p, false, -SHMETS_EBADFILE);
    assert_non_null(strstr(last_detail, "not a shmets table file"));
    shmets_tabfile_desc d;
    assert_int_equal(shmets_tabfile_info(p, &d), -SHMETS_EBADFILE);
    spit(p, (const unsigned char *)"", 0);
    refused(p, false, -SHMETS_EBADFILE);
    assert_int_equal(shmets_tabfile_info(p, &d), -SHMETS_EBADFILE);
    /* version 2 */
    dump_small(0);
    size_t len;
    unsigned char *b = slurp(file, &len);
    b[8] = 2;
    spit(p, b, len);
    refused(p, false, -SHMETS_EVERSION);
    assert_int_equal(shmets_tabfile_info(p, &d), -SHMETS_EVERSION);
    free(b);
    snprintf(p, sizeof p, "%s/missing.tab", dir);
    shmets_tab *u;
    assert_int_equal(shmets_file2tab(db, p, NULL, &u), -SHMETS_ENOENT);
    assert_int_equal(shmets_tabfile_info(p, &d), -SHMETS_ENOENT);
}

/* Hand-made files: a header, then the given objects (ETF with 131), end marker, trailer. */
static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> 8 * i); }

static size_t handmade(unsigned char *b, const unsigned char *const *objs, const size_t *lens, int n)
{
    static const unsigned char magic[8] = { 0x89, 'S', 'H', 'M', 'E', 'T', 'S', '\n' };
    static const unsigned char emagic[8] = { 0x89, 'S', 'H', 'M', 'E', 'N', 'D', '\n' };
    size_t k = 0;
    memset(b, 0, 52);
    memcpy(b, magic, 8);
    put32(b + 8, 1);
    put32(b + 12, 52 + 5);
    put32(b + 16, SHMETS_SET);
    put32(b + 20, SHMETS_PUBLIC);
    put32(b + 24, 1);
    put32(b + 28, 1);                    /* named */
    put32(b + 48, 5);
    memcpy(b + 52, "small", 5);
    k = 57;
    for (int i = 0; i < n; i++) {
        put32(b + k, (uint32_t)lens[i]);
        memcpy(b + k + 4, objs[i], lens[i]);
        k += 4 + lens[i];
    }
    put32(b + k, 0);
    memcpy(b + k + 4, emagic, 8);
    memset(b + k + 12, 0, 24);
    b[k + 12] = (unsigned char)n;
    return k + 36;
}

static void malformed_objects(void **state)
{
    (void)state;
    static const unsigned char good[] = { 131, 104, 2, 97, 1, 97, 2 };           /* {1,2} */
    static const unsigned char badtag[] = { 131, 104, 2, 97, 1, 255, 2 };        /* unknown tag */
    static const unsigned char short_[] = { 131, 104, 3, 97, 1, 97, 2 };         /* arity too big */
    static const unsigned char notup[] = { 131, 97, 7 };                         /* 7 */
    static const unsigned char empty_tuple[] = { 131, 104, 0 };                  /* {} */
    static const unsigned char noversion[] = { 130, 104, 2, 97, 1, 97, 2 };
    unsigned char b[512];
    char p[400];
    snprintf(p, sizeof p, "%s/h.tab", dir);
    const unsigned char *objs[2] = { good, NULL };
    size_t lens[2] = { sizeof good, 0 };
    spit(p, b, handmade(b, objs, lens, 1));
    shmets_tab *u;
    assert_int_equal(shmets_file2tab(db, p, NULL, &u), 0);       /* the hand-made file is right */
    assert_int_equal(shmets_delete(u), 0);
    const unsigned char *bads[] = { badtag, short_, notup, empty_tuple, noversion };
    size_t blens[] = { sizeof badtag, sizeof short_, sizeof notup, sizeof empty_tuple, sizeof noversion };
    for (int i = 0; i < 5; i++) {
        objs[1] = bads[i];
        lens[1] = blens[i];
        spit(p, b, handmade(b, objs, lens, 2));
        refused(p, false, -SHMETS_EBADFILE);
    }
    /* a length past the limit, and a count that disagrees */
    objs[1] = good;
    lens[1] = sizeof good;
    size_t n = handmade(b, objs, lens, 2);
    b[57] = 0xff; b[58] = 0xff; b[59] = 0xff; b[60] = 0x7f;
    spit(p, b, n);
    refused(p, false, -SHMETS_EBADFILE);
    n = handmade(b, objs, lens, 2);
    b[n - 24] = 3;
    spit(p, b, n);
    refused(p, false, -SHMETS_EBADFILE);
}

/* Hostile headers and lengths of shmets's own format: each field is checked before it is
 * trusted (sizes before reads, options before the table is made). */
static void hostile_headers(void **state)
{
    (void)state;
    static const unsigned char good[] = { 131, 104, 2, 97, 1, 97, 2 };
    const unsigned char *objs[1] = { good };
    size_t lens[1] = { sizeof good };
    unsigned char b[512], c[512];
    char p[400];
    snprintf(p, sizeof p, "%s/h.tab", dir);
    size_t n = handmade(b, objs, lens, 1);
    struct { size_t at; uint32_t v; } pokes[] = {
        { 12, 52 + 6 },             /* header length disagrees with the name's */
        { 48, 1021 },               /* a name longer than a table's */
        { 48, 0xffffffffu },
        { 16, 0 }, { 16, 5 },       /* kind */
        { 20, 0 }, { 20, 4 },       /* protection */
        { 24, 0 },                  /* keypos */
        { 28, 0x1001 },             /* an unknown flag */
        { 36, 1 },                  /* max_object_bytes 4 GiB and more */
        { 40, 1000 },               /* max_bytes below 1 MiB */
        { 44, 0x1000 },             /* max_bytes 16 TiB and more */
        { 57, 1 },                  /* an object of 1 byte */
        { 57, 0xffffffffu },        /* of 4 GiB */
        { 57, 1000 },               /* longer than the file */
    };
    for (size_t i = 0; i < sizeof pokes / sizeof pokes[0]; i++) {
        memcpy(c, b, n);
        put32(c + pokes[i].at, pokes[i].v);
        spit(p, c, n);
        refused(p, false, -SHMETS_EBADFILE);
    }
    memcpy(c, b, n);
    c[54] = 0;                      /* a NUL in the name */
    spit(p, c, n);
    refused(p, false, -SHMETS_EBADFILE);
}

/* The child's progress callback: past 20,000 objects, tell the parent and wait for its kill. */
static void stop_midway(uint64_t done, uint64_t total, void *arg)
{
    if (done >= 20000 && done < total) {
        char c = 'k';
        if (write(*(int *)arg, &c, 1) == 1)
            pause();
    }
}

/* The old file under the name stays whole when a dump dies. */
static void killed_dump(void **state)
{
    (void)state;
    dump_small(1);
    size_t oldlen;
    unsigned char *old = slurp(file, &oldlen);
    shmets_opts o;
    shmets_opts_init(&o);
    o.access = SHMETS_PUBLIC;
    shmets_tab *t;
    assert_int_equal(shmets_new(db, "big", &o, &t), 0);
    shmets_term list;
    shmets_builder *b;
    assert_int_equal(shmets_builder_create(&b), 0);
    for (int chunk = 0; chunk < 20; chunk++) {
        shmets_build_list(b, 5000);
        for (int i = 0; i < 5000; i++) {
            shmets_build_tuple(b, 2);
            shmets_build_int(b, chunk * 5000 + i);
            shmets_build_binary(b, "0123456789012345678901234567890123456789", 40);
        }
        shmets_build_nil(b);
        assert_int_equal(shmets_builder_finish(b, &list), 0);
        assert_int_equal(shmets_insert(t, list), 0);
        shmets_term_free(&list);
    }
    shmets_builder_destroy(b);
    uint64_t id = shmets_id(t);

    /* 1. SIGKILL while the objects are being written (the child stops in its progress
     *    callback, tells us, and we kill it there). */
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        shmets *cdb;
        shmets_tab *ct;
        if (shmets_open(inst, &cdb) || shmets_attach(cdb, id, &ct))
            _exit(3);
        shmets_tabfile_opts fo;
        shmets_tabfile_opts_init(&fo);
        fo.md5sum = true;
        fo.progress_arg = &p[1];
        fo.progress = stop_midway;
        shmets_tab2file(ct, file, &fo);
        _exit(4);
    }
    close(p[1]);
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    kill(pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    close(p[0]);
    size_t len;
    unsigned char *now = slurp(file, &len);
    assert_int_equal(len, oldlen);
    assert_memory_equal(now, old, len);
    free(now);
    /* nothing else in the directory: the new file had no name yet (O_TMPFILE) */
    DIR *d = opendir(dir);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)))
        files += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(files, 1);

    /* 2. a crash between the link under the temporary name and the rename */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("SHMETS_CRASH_AT", "tabfile.linked", 1);
        shmets *cdb;
        shmets_tab *ct;
        if (shmets_open(inst, &cdb) || shmets_attach(cdb, id, &ct))
            _exit(3);
        shmets_tab2file(ct, file, NULL);
        _exit(4);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 77);
    now = slurp(file, &len);
    assert_int_equal(len, oldlen);
    assert_memory_equal(now, old, len);
    free(now);
    free(old);
    /* the complete new file lies under its temporary name (.t.tab.XXXX), and loads */
    d = opendir(dir);
    char tmp[600] = "";
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, ".t.tab.", 7))
            snprintf(tmp, sizeof tmp, "%s/%s", dir, e->d_name);
    closedir(d);
    assert_true(tmp[0]);
    shmets_tabfile_desc dd;
    assert_int_equal(shmets_tabfile_info(tmp, &dd), 0);
    assert_int_equal(dd.size, 100000);
    unlink(tmp);
    /* and a dump that is let finish replaces it */
    assert_int_equal(shmets_tab2file(t, file, NULL), 0);
    assert_int_equal(shmets_tabfile_info(file, &dd), 0);
    assert_string_equal(dd.name, "big");
    assert_int_equal(dd.size, 100000);
}

/* A load from a pipe (no trailer to read first): progress without a total. */
static void from_pipe(void **state)
{
    (void)state;
    dump_small(1);
    size_t len;
    unsigned char *b = slurp(file, &len);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        if (write(p[1], b, len) != (ssize_t)len)
            _exit(1);
        _exit(0);
    }
    close(p[1]);
    shmets_tab *u;
    shmets_tabfile_opts fo;
    shmets_tabfile_opts_init(&fo);
    fo.verify = true;
    assert_int_equal(shmets_file2tab_fd(db, p[0], &fo, &u), 0);
    uint64_t n;
    assert_int_equal(shmets_size(u, &n), 0);
    assert_int_equal(n, 21);           /* 22 objects, two of key 1 in a set */
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    shmets_detach(u);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(round_trips, dsetup, dteardown),
        cmocka_unit_test_setup_teardown(empty_table, dsetup, dteardown),
        cmocka_unit_test_setup_teardown(large_objects, dsetup, dteardown),
        cmocka_unit_test_setup_teardown(truncated, dsetup, dteardown),
        cmocka_unit_test_setup_teardown(flipped_bits, dsetup, dteardown),
        cmocka_unit_test_setup_teardown(garbage_and_versions, dsetup, dteardown),
        cmocka_unit_test_setup_teardown(malformed_objects, dsetup, dteardown),
        cmocka_unit_test_setup_teardown(refused_late, dsetup, dteardown),
        cmocka_unit_test_setup_teardown(hostile_headers, dsetup, dteardown),
        cmocka_unit_test_setup_teardown(killed_dump, dsetup, dteardown),
        cmocka_unit_test_setup_teardown(from_pipe, dsetup, dteardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
