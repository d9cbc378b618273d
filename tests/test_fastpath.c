/*
 * test_fastpath.c — the short read path (shm/table/tabfast.c): prepared keys, shmets_lookup_into,
 * shmets_lookup_view_key, shmets_lookup_bulk_view_keys.  Each answers as the general call does
 * (shmets_lookup, shmets_lookup_view, shmets_lookup_bulk_view) on every kind, compressed
 * tables included, and refuses what it must: another table's key, a small buffer, a view
 * outside a section, another process's private table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shmets.h"
#define TESTINST_PREFIX "fastpath"
#include "testinst.h"
#include "tabutil.h"
#include "testutil.h"
#include "store/tab.h"
#include "index/hash_read.h"
#include "intkey.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* The options of a public table of this kind (the tests set what else they need). */
static shmets_opts pub(enum shmets_kind kind)
{
    shmets_opts o;
    shmets_opts_init(&o);
    o.kind = kind;
    o.access = SHMETS_PUBLIC;
    return o;
}

static shmets_tab *mko(const char *name, shmets_opts o)
{
    shmets_tab *t;
    assert_int_equal(shmets_new(db, name, &o, &t), 0);
    return t;
}

static shmets_tab *mkc(const char *name, enum shmets_kind kind, bool compressed)
{
    shmets_opts o = pub(kind);
    o.compressed = compressed;
    return mko(name, o);
}

/* lookup_into agrees with lookup on every key of every kind (first object, and *more). */
static void into_agrees_with_lookup(void **state)
{
    (void)state;
    static const enum shmets_kind kinds[] = { SHMETS_SET, SHMETS_ORDERED_SET, SHMETS_BAG, SHMETS_DUPLICATE_BAG };
    for (int c = 0; c < 2; c++)
        for (size_t k = 0; k < 4; k++) {
            char name[16];
            snprintf(name, sizeof name, "t%d%zu", c, k);
            shmets_tab *t = mkc(name, kinds[k], c);
            char text[200];
            for (int i = 0; i < 50; i++) {
                snprintf(text, sizeof text, "{%d, <<\"value of %d, long enough to compress well well well\">>, %d}", i, i, i);
                ins(t, text);
                if (i % 5 == 0 && kinds[k] != SHMETS_SET && kinds[k] != SHMETS_ORDERED_SET) {
                    snprintf(text, sizeof text, "{%d, second}", i);
                    ins(t, text);
                }
            }
            for (int i = 0; i < 60; i++) {
                char ktext[16];
                snprintf(ktext, sizeof ktext, "%d", i);
                shmets_term key = T(ktext), list, obj;
                shmets_key pk;
                assert_int_equal(shmets_key_prepare(t, key, &pk), 0);
                unsigned char buf[512];
                int more = -1;
                int rc = shmets_lookup_into(t, &pk, buf, sizeof buf, &obj, &more);
                assert_int_equal(shmets_lookup(t, key, &list), 0);
                size_t n;
                assert_int_equal(shmets_term_list_length(list, &n), 0);
                if (n == 0) {
                    assert_int_equal(rc, -SHMETS_ENOKEY);
                } else {
                    assert_int_equal(rc, 0);
                    shmets_list_iter it;
                    shmets_term first;
                    assert_int_equal(shmets_list_begin(list, &it), 0);
                    assert_int_equal(shmets_list_next(&it, &first), 1);
                    assert_true(shmets_term_exact_equal(first, obj));
                    assert_int_equal(more, n > 1);
                    assert_ptr_equal(obj.ptr, buf);
                }
                shmets_term_free(&list);
                shmets_term_free(&key);
            }
            assert_int_equal(shmets_delete(t), 0);
        }
}

static void into_refuses_a_small_buffer_and_another_tables_key(void **state)
{
    (void)state;
    shmets_tab *a = mkc("a", SHMETS_SET, false), *b = mkc("b", SHMETS_SET, false);
    ins(a, "{k, <<\"0123456789\">>}");
    ins(b, "{k, v}");
    shmets_term key = T("k"), obj;
    shmets_key pk;
    assert_int_equal(shmets_key_prepare(a, key, &pk), 0);
    unsigned char buf[64];
    assert_int_equal(shmets_lookup_into(a, &pk, buf, 4, &obj, NULL), -SHMETS_ETOOBIG);
    assert_int_equal(obj.len, 20);                  /* the size needed */
    assert_int_equal(shmets_lookup_into(a, &pk, buf, 20, &obj, NULL), 0);
    assert_string_equal(S(obj), "{k,<<48,49,50,51,52,53,54,55,56,57>>}");   /* ~w prints binaries as bytes */
    assert_int_equal(shmets_lookup_into(b, &pk, buf, sizeof buf, &obj, NULL), -SHMETS_EINVAL);
    assert_int_equal(shmets_lookup_into(a, NULL, buf, sizeof buf, &obj, NULL), -SHMETS_EINVAL);
    assert_int_equal(shmets_key_prepare(a, (shmets_term){ NULL, 0 }, &pk), -SHMETS_EINVAL);
    shmets_term_free(&key);
    shmets_delete(a);
    shmets_delete(b);
}

/* The view and batch calls on prepared keys give what the term-key calls give. */
static void view_and_batch_keys_agree(void **state)
{
    (void)state;
    shmets_tab *t = mkc("v", SHMETS_BAG, false);
    char text[64];
    for (int i = 0; i < 300; i += 2) {
        snprintf(text, sizeof text, "{%d, a}", i);
        ins(t, text);
        snprintf(text, sizeof text, "{%d, b}", i);
        ins(t, text);
    }
    shmets_term keys[300];
    shmets_key pk[300];
    for (int i = 0; i < 300; i++) {
        snprintf(text, sizeof text, "%d", i);
        keys[i] = T(text);
        assert_int_equal(shmets_key_prepare(t, keys[i], &pk[i]), 0);
    }
    shmets_term v1[300], v2[300], o1[2], o2[2];
    size_t f1, f2, n1, n2;
    assert_int_equal(shmets_lookup_view_key(t, &pk[0], o1, 2, &n1), -SHMETS_EINVAL);   /* no section */
    assert_int_equal(shmets_read_begin(db), 0);
    assert_int_equal(shmets_lookup_bulk_view(t, keys, 300, v1, &f1), 0);
    assert_int_equal(shmets_lookup_bulk_view_keys(t, pk, 300, v2, &f2), 0);
    assert_int_equal(f1, 150);
    assert_int_equal(f2, 150);
    for (int i = 0; i < 300; i++) {
        assert_int_equal(!v1[i].ptr, !v2[i].ptr);
        if (v1[i].ptr)
            assert_true(shmets_term_exact_equal(v1[i], v2[i]));
        assert_int_equal(shmets_lookup_view(t, keys[i], o1, 2, &n1), 0);
        assert_int_equal(shmets_lookup_view_key(t, &pk[i], o2, 2, &n2), 0);
        assert_int_equal(n1, n2);
        for (size_t j = 0; j < n1; j++)
            assert_true(shmets_term_exact_equal(o1[j], o2[j]));
    }
    shmets_read_end(db);
    for (int i = 0; i < 300; i++)
        shmets_term_free(&keys[i]);
    shmets_delete(t);
}

/* The hash index's batch (hash_read_bulk: buckets, then candidates, then keys) agrees with the
 * single lookup on a set large enough that many bucket lines overflow (30,000 keys at 4-5 a
 * line), for present and absent keys, in batches of 37 (groups of HASH_BULK cut anywhere). */
static void batch_agrees_on_overflowing_buckets(void **state)
{
    (void)state;
    shmets_tab *t = mkc("big", SHMETS_SET, false);
    enum { N = 30000, B = 37 };
    char text[64];
    for (int i = 0; i < N; i++) {
        snprintf(text, sizeof text, "{%d, <<\"v%d\">>}", 2 * i, i);
        ins(t, text);
    }
    static shmets_term keys[2 * N];
    static shmets_key pk[2 * N];
    for (int i = 0; i < 2 * N; i++) {
        snprintf(text, sizeof text, "%d", i);
        keys[i] = T(text);
        assert_int_equal(shmets_key_prepare(t, keys[i], &pk[i]), 0);
    }
    assert_int_equal(shmets_read_begin(db), 0);
    size_t total = 0;
    for (int g = 0; g < 2 * N; g += B) {
        size_t m = 2 * N - g < B ? (size_t)(2 * N - g) : B, found;
        shmets_term v[B], o[2];
        assert_int_equal(shmets_lookup_bulk_view_keys(t, pk + g, m, v, &found), 0);
        total += found;
        for (size_t i = 0; i < m; i++) {
            size_t n;
            assert_int_equal(shmets_lookup_view_key(t, &pk[g + i], o, 2, &n), 0);
            assert_int_equal(n, ((g + i) % 2 == 0));
            assert_int_equal(!!v[i].ptr, n);
            if (n)
                assert_true(shmets_term_exact_equal(v[i], o[0]));
        }
    }
    shmets_read_end(db);
    assert_int_equal(total, N);
    for (int i = 0; i < 2 * N; i++)
        shmets_term_free(&keys[i]);
    shmets_delete(t);
}

/* A batch with one key that is not the table's — prepared for another table, or with no
 * bytes — anywhere in it (the hash index checks the keys group by group, in its first pass)
 * is -SHMETS_EINVAL naming the table, on a set and on an ordered_set, and reads nothing of
 * that key. */
static void batch_refuses_another_tables_key_anywhere(void **state)
{
    (void)state;
    static const enum shmets_kind kinds[] = { SHMETS_SET, SHMETS_ORDERED_SET };
    shmets_tab *other = mkc("other", SHMETS_SET, false);
    for (size_t c = 0; c < 2; c++) {
        shmets_tab *t = mkc(c ? "ord" : "set", kinds[c], false);
        enum { B = 2 * HASH_BULK + 5 };
        shmets_term keys[B], v[B];
        shmets_key pk[B], alien;
        char text[32];
        for (int i = 0; i < B; i++) {
            snprintf(text, sizeof text, "{%d, x}", i);
            ins(t, text);
            snprintf(text, sizeof text, "%d", i);
            keys[i] = T(text);
            assert_int_equal(shmets_key_prepare(t, keys[i], &pk[i]), 0);
        }
        assert_int_equal(shmets_key_prepare(other, keys[0], &alien), 0);
        assert_int_equal(shmets_read_begin(db), 0);
        size_t found;
        assert_int_equal(shmets_lookup_bulk_view_keys(t, pk, B, v, &found), 0);
        assert_int_equal(found, B);
        static const int at[] = { 0, HASH_BULK - 1, HASH_BULK, HASH_BULK + 4, B - 1 };  /* first, group edges, middle, last */
        for (size_t a = 0; a < sizeof at / sizeof at[0]; a++) {
            shmets_key keep = pk[at[a]];
            pk[at[a]] = alien;
            assert_int_equal(shmets_lookup_bulk_view_keys(t, pk, B, v, &found), -SHMETS_EINVAL);
            assert_non_null(strstr(shmets_errdetail(), "another table"));
            pk[at[a]] = keep;
            pk[at[a]].etf = NULL;
            assert_int_equal(shmets_lookup_bulk_view_keys(t, pk, B, v, &found), -SHMETS_EINVAL);
            pk[at[a]] = keep;
        }
        assert_int_equal(shmets_lookup_bulk_view_keys(t, pk, B, v, &found), 0);
        assert_int_equal(found, B);
        shmets_read_end(db);
        for (int i = 0; i < B; i++)
            shmets_term_free(&keys[i]);
        shmets_delete(t);
    }
    shmets_delete(other);
}

/* An adversary's bucket: a key whose fingerprint is 0 (the top 24 bits of its hash), in an
 * overflow bucket, behind a first bucket with an empty slot (one of its keys deleted).  The
 * empty slot "matches" fingerprint 0; the batch must still follow the chain and find the key,
 * as the single lookup does (it did not: the empty slot's offset 0 was taken for "absent").
 * The table's seed is set before its first key, so that the search for such a key is the same
 * (well under a second) on every run. */
static void batch_finds_a_fingerprint_0_key_behind_an_empty_slot(void **state)
{
    (void)state;
    shmets_tab *t = mkc("fp0", SHMETS_SET, false);
    const uint64_t seed = 0x5eed0f00d;
    t->h->seed = seed;                                  /* no key yet: nothing hashed with the old one */
    unsigned char kb[5];
    uint32_t k0 = 256;
    uint64_t h0 = 0;
    for (;; k0++) {
        h0 = shmets_term_hash(int_key(k0, kb), seed);
        if (h0 >> 40 == 0)
            break;
        assert_true(k0 < 200000000u);
    }
    uint64_t w = atomic_load(&t->h->root.word);
    uint64_t nb = 1ull << (w & 63);                      /* the array's buckets (no resize below 5 a bucket) */
    uint32_t fill[7];
    int nf = 0;
    for (uint32_t i = 1000; nf < 7; i++) {              /* seven keys of k0's bucket fill its line */
        if (i != k0 && (shmets_term_hash(int_key(i, kb), seed) & (nb - 1)) == (h0 & (nb - 1)))
            fill[nf++] = i;
    }
    char text[64];
    for (int i = 0; i < 7; i++) {
        snprintf(text, sizeof text, "{%u, fill}", fill[i]);
        ins(t, text);
    }
    snprintf(text, sizeof text, "{%u, k0}", k0);
    ins(t, text);                                       /* the line is full: k0 goes to an overflow bucket */
    snprintf(text, sizeof text, "%u", fill[3]);
    shmets_term del = T(text);
    assert_int_equal(shmets_delete_key(t, del), 0);    /* an empty slot in the first line */
    shmets_term_free(&del);
    assert_int_equal(atomic_load(&t->h->root.word), w);
    snprintf(text, sizeof text, "%u", k0);
    shmets_term key = T(text), v[3], o;
    shmets_key pk[3];
    assert_int_equal(shmets_key_prepare(t, key, &pk[1]), 0);
    assert_int_equal(pk[1].hash, h0);
    pk[0] = pk[2] = pk[1];
    size_t n, found;
    assert_int_equal(shmets_read_begin(db), 0);
    assert_int_equal(shmets_lookup_view_key(t, &pk[1], &o, 1, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(shmets_lookup_bulk_view_keys(t, pk, 3, v, &found), 0);
    assert_int_equal(found, 3);
    assert_true(shmets_term_exact_equal(v[1], o));
    assert_int_equal(shmets_lookup_bulk_view(t, &key, 1, v, &found), 0);
    assert_int_equal(found, 1);
    shmets_read_end(db);
    shmets_term lists[1];
    assert_int_equal(shmets_lookup_bulk(t, &key, 1, lists), 0);   /* the copying batch (hash.c) */
    assert_int_equal(shmets_term_list_length(lists[0], &n), 0);
    assert_int_equal(n, 1);
    shmets_term_free(&lists[0]);
    shmets_term_free(&key);
    shmets_delete(t);
}

/* Every read of one key, each against the others: the copying lookup (its short path for a
 * set), the view, the prepared key's view, into and the batch of one.  n is the number of
 * objects the key must have (at most 2 are compared). */
static void reads_agree(shmets_tab *t, shmets_term key, size_t n)
{
    shmets_key pk;
    assert_int_equal(shmets_key_prepare(t, key, &pk), 0);
    shmets_term list, o1[2], o2[2], b[1], obj, first;
    size_t n1, n2, len, found;
    assert_int_equal(shmets_lookup(t, key, &list), 0);
    assert_int_equal(shmets_term_list_length(list, &len), 0);
    assert_int_equal(len, n);
    unsigned char buf[2048];
    int rc = shmets_lookup_into(t, &pk, buf, sizeof buf, &obj, NULL);
    assert_int_equal(rc, n ? 0 : -SHMETS_ENOKEY);
    assert_int_equal(shmets_read_begin(db), 0);
    assert_int_equal(shmets_lookup_view(t, key, o1, 2, &n1), 0);
    assert_int_equal(shmets_lookup_view_key(t, &pk, o2, 2, &n2), 0);
    assert_int_equal(shmets_lookup_bulk_view_keys(t, &pk, 1, b, &found), 0);
    assert_int_equal(n1, n);
    assert_int_equal(n2, n);
    assert_int_equal(found, n > 0);
    if (n) {
        shmets_list_iter it;
        assert_int_equal(shmets_list_begin(list, &it), 0);
        assert_int_equal(shmets_list_next(&it, &first), 1);
        assert_true(shmets_term_exact_equal(first, o1[0]));
        assert_true(shmets_term_exact_equal(first, o2[0]));
        assert_true(shmets_term_exact_equal(first, b[0]));
        assert_true(shmets_term_exact_equal(first, obj));
    }
    shmets_read_end(db);
    shmets_term_free(&list);
}

/* A prepared key keeps its first 8 bytes (shmets_key.head), and a short stored key is
 * compared with them alone.  Keys of every length from 1 to 39 bytes ([], small integers,
 * atoms of 0 to 37 characters) are each found by every read, and a key of the same length
 * that differs in any one character — inside the head's 8 bytes, at their edge, past them —
 * by none. */
static void every_key_length_and_every_differing_byte(void **state)
{
    (void)state;
    shmets_tab *t = mkc("lens", SHMETS_SET, false);
    char text[128], name[64];
    ins(t, "{[], nil}");
    ins(t, "{7, seven}");
    static const char *const small[] = { "[]", "7", "8" };
    for (int i = 0; i < 3; i++) {
        shmets_term key = T(small[i]);
        reads_agree(t, key, i < 2);
        shmets_term_free(&key);
    }
    for (int len = 0; len <= 37; len++) {
        memset(name, 'a', (size_t)len);
        name[len] = 0;
        snprintf(text, sizeof text, "{'%s', %d}", name, len);
        ins(t, text);
    }
    for (int len = 0; len <= 37; len++) {
        /* The atom's ETF is 119, len, chars: character j is byte j + 2 of the key. */
        memset(name, 'a', (size_t)len);
        name[len] = 0;
        snprintf(text, sizeof text, "'%s'", name);
        shmets_term key = T(text);
        reads_agree(t, key, 1);
        shmets_term_free(&key);
        for (int j = 0; j < len; j++) {
            name[j] = 'b';
            snprintf(text, sizeof text, "'%s'", name);
            key = T(text);
            reads_agree(t, key, 0);
            shmets_term_free(&key);
            name[j] = 'a';
        }
    }
    check(t);
    shmets_delete(t);
}

/* The compare a prepared key's short candidates get (hash_read.h, key_head_is; the lookups
 * above reach it only when two keys' fingerprints collide): for keys of 1 to 40 bytes ([], a
 * small integer, atoms of 1 and 2 characters, binaries of 0 to 35 bytes, prepared as terms),
 * a stored copy is equal, a copy with any one byte of the key changed is not, and bytes after
 * the key, which the compare loads too, are not looked at. */
static void the_head_compare_sees_every_byte_of_the_key_and_none_after(void **state)
{
    (void)state;
    shmets_tab *t = mkc("head", SHMETS_SET, false);
    static const unsigned char shorts[4][4] = { { 106 }, { 97, 200 }, { 119, 1, 'a' }, { 119, 2, 'a', 'b' } };
    unsigned char key[48], stored[48 + 8];
    for (uint32_t len = 1; len <= 40; len++) {
        if (len < 5) {
            memcpy(key, shorts[len - 1], len);
        } else {
            uint32_t blen = len - 5;
            key[0] = 109;                           /* BINARY_EXT, 32-bit length, bytes */
            key[1] = key[2] = key[3] = 0;
            key[4] = (unsigned char)blen;
            for (uint32_t i = 0; i < blen; i++)
                key[5 + i] = (unsigned char)(blen * 31 + i * 7 + 1);
        }
        shmets_key pk;
        assert_int_equal(shmets_key_prepare(t, (shmets_term){ key, len }, &pk), 0);
        for (int after = 0; after < 2; after++) {
            memcpy(stored, key, len);
            memset(stored + len, after ? 0xA5 : 0, 8);
            assert_true(key_head_is(stored, &pk));
            for (uint32_t j = 0; j < len; j++) {
                stored[j] ^= 0x10;
                assert_false(key_head_is(stored, &pk));
                stored[j] ^= 0x10;
            }
        }
    }
    shmets_delete(t);
}

/* A table at its smallest reservation (1 MiB), filled until it is full: its last objects lie
 * within 64 KiB of the mapping's end, where a candidate takes sobj_at's whole check instead
 * of the one bound (hash_read.h, HB_LIM).  Every key, near the end or not, is found by every
 * read, through both ways. */
static void a_full_small_table_is_read_to_its_end(void **state)
{
    (void)state;
    shmets_opts o = pub(SHMETS_SET);
    o.max_bytes = 1u << 20;
    shmets_tab *t = mko("small", o);
    char text[1200], fill[1001];
    memset(fill, 'x', 1000);
    fill[1000] = 0;
    int n = 0, rc;
    for (;; n++) {
        /* Objects of ~1 KiB: the bucket array stays small, and the heap fills to its end. */
        snprintf(text, sizeof text, "{%d, <<\"%s%08d\">>}", n, fill + (n % 500), n);
        shmets_term obj = T(text);
        rc = shmets_insert(t, obj);
        shmets_term_free(&obj);
        if (rc)
            break;
    }
    assert_int_equal(rc, -SHMETS_ENOMEM);
    assert_true(n > 500);
    size_t near_end = 0;
    for (int i = 0; i <= n; i++) {
        snprintf(text, sizeof text, "%d", i);
        shmets_term key = T(text), v;
        reads_agree(t, key, i < n);
        size_t got;
        assert_int_equal(shmets_read_begin(db), 0);
        assert_int_equal(shmets_lookup_view(t, key, &v, 1, &got), 0);
        if (got && (size_t)(v.ptr - t->s.base) + 65535 > t->s.size)
            near_end++;
        shmets_read_end(db);
        shmets_term_free(&key);
    }
    assert_true(near_end > 0);          /* the case this test is for did happen */
    check(t);
    shmets_delete(t);
}

/* shmets_lookup takes the short path for a hash table's key with no object or one plain one,
 * the general way for the rest: each form gives the list of the objects inserted — a set's
 * small object and its big one (the long form, over 64 KiB), a bag's one and two objects, a
 * compressed set's — and a deleted table is -SHMETS_ENOENT to another handle.  shmets_member
 * (short for every hash table) and shmets_lookup_element (short for a set's key) agree. */
static void copying_lookup_of_every_form(void **state)
{
    (void)state;
    enum { BIG = 100000 };
    unsigned char *big = malloc(BIG + 12);       /* {big, <<BIG bytes>>}, encoded here */
    assert_non_null(big);
    memcpy(big, "\x68\x02\x77\x03" "big" "\x6d", 8);
    big[8] = BIG >> 24, big[9] = (BIG >> 16) & 255, big[10] = (BIG >> 8) & 255, big[11] = BIG & 255;
    memset(big + 12, 'v', BIG);
    shmets_term want = { big, BIG + 12 };
    static const struct { enum shmets_kind kind; bool packed; } forms[] = {
        { SHMETS_SET, false }, { SHMETS_BAG, false }, { SHMETS_DUPLICATE_BAG, false }, { SHMETS_SET, true },
    };
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        char name[16];
        snprintf(name, sizeof name, "form%zu", f);
        shmets_tab *t = mkc(name, forms[f].kind, forms[f].packed);
        ins(t, "{one, 1}");
        assert_int_equal(shmets_insert(t, want), 0);
        ins(t, "{two, a}");
        if (forms[f].kind != SHMETS_SET)
            ins(t, "{two, b}");
        assert_string_equal(look(t, "one"), "[{one,1}]");
        assert_string_equal(look(t, "two"), forms[f].kind != SHMETS_SET ? "[{two,a},{two,b}]" : "[{two,a}]");
        assert_string_equal(look(t, "three"), "[]");
        int found = -1;
        shmets_term k3 = T("three"), k2 = T("two");
        assert_int_equal(shmets_member(t, k2, &found), 0);
        assert_int_equal(found, 1);
        assert_int_equal(shmets_member(t, k3, &found), 0);
        assert_int_equal(found, 0);
        shmets_term k1 = T("one"), e1, dflt = T("none");
        assert_int_equal(shmets_lookup_element(t, k1, 2, NULL, &e1), 0);
        assert_string_equal(S(e1), forms[f].kind == SHMETS_SET ? "1" : "[1]");
        shmets_term_free(&e1);
        assert_int_equal(shmets_lookup_element(t, k2, 2, NULL, &e1), 0);
        assert_string_equal(S(e1), forms[f].kind == SHMETS_SET ? "a" : "[a,b]");
        shmets_term_free(&e1);
        assert_int_equal(shmets_lookup_element(t, k1, 3, NULL, &e1), -SHMETS_EBADPOS);
        assert_int_equal(shmets_lookup_element(t, k1, 0, NULL, &e1), -SHMETS_EBADPOS);
        assert_int_equal(shmets_lookup_element(t, k3, 2, NULL, &e1), -SHMETS_ENOKEY);
        assert_int_equal(shmets_lookup_element(t, k3, 9, &dflt, &e1), 0);
        assert_string_equal(S(e1), "none");
        shmets_term_free(&e1);
        shmets_term_free(&k1);
        shmets_term_free(&dflt);
        shmets_term key = T("big"), list, obj, el;
        assert_int_equal(shmets_lookup_element(t, key, 2, NULL, &el), 0);   /* the long form's element */
        assert_int_equal(el.len, forms[f].kind == SHMETS_SET ? BIG + 5 : BIG + 5 + 6);
        shmets_term_free(&el);
        assert_int_equal(shmets_lookup(t, key, &list), 0);
        shmets_list_iter it;
        assert_int_equal(shmets_list_begin(list, &it), 0);
        assert_int_equal(shmets_list_next(&it, &obj), 1);
        assert_true(shmets_term_exact_equal(obj, want));
        assert_int_equal(shmets_list_next(&it, &obj), 0);
        shmets_term_free(&list);
        shmets_tab *other;
        assert_int_equal(shmets_attach(db, shmets_id(t), &other), 0);
        assert_int_equal(shmets_delete(t), 0);
        assert_int_equal(shmets_lookup(other, key, &list), -SHMETS_ENOENT);
        assert_int_equal(shmets_member(other, k2, &found), -SHMETS_ENOENT);
        assert_int_equal(shmets_lookup_element(other, k2, 2, NULL, &el), -SHMETS_ENOENT);
        shmets_detach(other);
        shmets_term_free(&k2);
        shmets_term_free(&k3);
        shmets_term_free(&key);
    }
    free(big);
}

/* Every short read, from processes that share nothing with the writer but the table, while
 * the writer replaces the values of 20,000 keys and inserts and deletes 40,000 more (the
 * bucket array grows and is replaced under the readers), and a third process reclaims what
 * the writes retire.  Objects are {<<K:64>>, <<K:64, Gen:64, Pad:128>>}.  Each reader, for
 * every key it asks: a batch of 32 prepared keys, shmets_lookup_into, a prepared key's view,
 * shmets_lookup and shmets_kv_get.  A key of the first 20,000 is found by every read, and
 * every object found is its key's, whole (its value names its key); a key of the rest may be
 * found or not.  (It runs ~4 rounds, ~3 million reads a reader.  It does not widen the moment
 * between a lookup and its copy: a read outside its section, made on purpose, went unseen in
 * three runs; test_rcu.c tests that sections hold reclamation back.) */
enum { XP_STABLE = 20000, XP_KEYS = 60000, XP_VAL = 32, XP_READERS = 2 };

struct xp_flags {
    _Atomic int stop;
    _Atomic uint64_t reads[XP_READERS];
};

static void xp_kb(uint64_t k, unsigned char *kb)
{
    for (int i = 0; i < 8; i++)
        kb[i] = (unsigned char)(k >> (56 - 8 * i));
}

/* Is v (len bytes) the value of key k?  (Its first 8 bytes name the key.) */
static int xp_ok(const unsigned char *v, size_t len, uint64_t k)
{
    unsigned char kb[8];
    xp_kb(k, kb);
    return len == XP_VAL && memcmp(v, kb, 8) == 0;
}

static void xp_put(shmets_tab *t, uint64_t k, uint64_t gen)
{
    unsigned char kb[8], v[XP_VAL] = { 0 };
    xp_kb(k, kb);
    memcpy(v, kb, 8);
    memcpy(v + 8, &gen, 8);
    assert_int_equal(shmets_kv_put(t, kb, 8, v, XP_VAL), 0);
}

/* One reader's run: exit 0 if every answer held, else the number of the first broken rule. */
static int xp_reader(struct xp_flags *f, int id)
{
    shmets *d;
    shmets_tab *t;
    if (shmets_open(inst, &d) || shmets_attach_name(d, "xp", &t))
        return 10;
    uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(id + 1), reads = 0;
    unsigned char kt[32][13];
    shmets_key pk[32];
    shmets_term views[32];
    while (!atomic_load(&f->stop)) {
        uint64_t keys[32];
        for (int i = 0; i < 32; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            keys[i] = x % XP_KEYS;
            kt[i][0] = 109, kt[i][1] = kt[i][2] = kt[i][3] = 0, kt[i][4] = 8;
            xp_kb(keys[i], kt[i] + 5);
            if (shmets_key_prepare(t, (shmets_term){ kt[i], 13 }, &pk[i]))
                return 11;
        }
        if (shmets_read_begin(d))
            return 12;
        size_t found;
        if (shmets_lookup_bulk_view_keys(t, pk, 32, views, &found))
            return 13;
        for (int i = 0; i < 32; i++) {
            shmets_term v;
            const void *vp;
            size_t vl;
            if (!views[i].ptr) {
                if (keys[i] < XP_STABLE)
                    return 14;                      /* a stable key not found */
                continue;
            }
            if (shmets_term_tuple_element(views[i], 2, &v) || shmets_term_get_binary(v, &vp, &vl) || !xp_ok(vp, vl, keys[i]))
                return 15;                          /* another key's object, or not whole */
        }
        shmets_read_end(d);
        uint64_t k = keys[0];
        unsigned char buf[128], kb[8];
        shmets_term obj, list, v, o[1];
        const void *vp;
        size_t vl, n;
        int rc = shmets_lookup_into(t, &pk[0], buf, sizeof buf, &obj, NULL);
        if (rc == -SHMETS_ENOKEY ? k < XP_STABLE
                                 : rc || shmets_term_tuple_element(obj, 2, &v) || shmets_term_get_binary(v, &vp, &vl) || !xp_ok(vp, vl, k))
            return 16;
        if (shmets_read_begin(d) || shmets_lookup_view_key(t, &pk[0], o, 1, &n))
            return 17;
        if (n ? shmets_term_tuple_element(o[0], 2, &v) || shmets_term_get_binary(v, &vp, &vl) || !xp_ok(vp, vl, k) : k < XP_STABLE)
            return 17;
        shmets_read_end(d);
        if (shmets_lookup(t, (shmets_term){ kt[0], 13 }, &list) || shmets_term_list_length(list, &n) || n > 1)
            return 18;
        if (n) {
            shmets_list_iter it;
            if (shmets_list_begin(list, &it) || shmets_list_next(&it, &obj) != 1 || shmets_term_tuple_element(obj, 2, &v) ||
                shmets_term_get_binary(v, &vp, &vl) || !xp_ok(vp, vl, k))
                return 18;
        } else if (k < XP_STABLE) {
            return 18;
        }
        shmets_term_free(&list);
        xp_kb(k, kb);
        rc = shmets_kv_get(t, kb, 8, buf, sizeof buf, &vl);
        if (rc == -SHMETS_ENOKEY ? k < XP_STABLE : rc || !xp_ok(buf, vl, k))
            return 19;
        reads += 36;
        atomic_store(&f->reads[id], reads);
    }
    shmets_detach(t);
    shmets_close(d);
    return 0;
}

static void readers_in_other_processes_while_another_writes_and_a_third_reclaims(void **state)
{
    (void)state;
    shmets_opts o = pub(SHMETS_SET);
    o.named = true;
    shmets_tab *t = mko("xp", o);
    for (uint64_t k = 0; k < XP_STABLE; k++)
        xp_put(t, k, 0);
    struct xp_flags *f = mmap(NULL, sizeof *f, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(f != MAP_FAILED);
    memset(f, 0, sizeof *f);
    pid_t kids[XP_READERS + 1];
    for (int r = 0; r <= XP_READERS; r++) {
        kids[r] = fork();
        assert_true(kids[r] >= 0);
        if (kids[r] == 0) {
            child_init();
            if (r < XP_READERS)
                _exit(xp_reader(f, r));
            shmets *d;                              /* the reclaimer */
            shmets_tab *x;
            if (shmets_open(inst, &d) || shmets_attach_name(d, "xp", &x))
                _exit(20);
            while (!atomic_load(&f->stop)) {
                uint64_t freed;
                if (shmets_reclaim(x, 0, &freed))
                    _exit(21);
                usleep(1000);
            }
            shmets_detach(x);
            shmets_close(d);
            _exit(0);
        }
    }
    /* The writer: rounds of replacing every stable key's value and growing and emptying the
     * rest, until each reader has read at least 20,000 times (and at least 3 rounds). */
    uint64_t gen = 1;
    for (int round = 0;; round++, gen++) {
        for (uint64_t k = 0; k < XP_STABLE; k++)
            xp_put(t, k, gen);
        for (uint64_t k = XP_STABLE; k < XP_KEYS; k++)
            xp_put(t, k, gen);
        for (uint64_t k = XP_STABLE; k < XP_KEYS; k++) {
            unsigned char kb[8];
            xp_kb(k, kb);
            assert_int_equal(shmets_kv_del(t, kb, 8), 0);
        }
        int done = round >= 3;
        for (int r = 0; r < XP_READERS; r++)
            done &= atomic_load(&f->reads[r]) >= 20000;
        if (done || round > 200)
            break;
    }
    atomic_store(&f->stop, 1);
    for (int r = 0; r <= XP_READERS; r++) {
        int st;
        assert_int_equal(waitpid(kids[r], &st, 0), kids[r]);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("process %d (%s) ended with status %d", r, r < XP_READERS ? "reader" : "reclaimer", st);
    }
    for (int r = 0; r < XP_READERS; r++)
        assert_true(atomic_load(&f->reads[r]) >= 20000);
    munmap(f, sizeof *f);
    check(t);
    shmets_delete(t);
}

/* A private table of another process: refused, as the general calls refuse it. */
static void private_table_of_another_process(void **state)
{
    (void)state;
    shmets_opts o;
    shmets_opts_init(&o);
    o.access = SHMETS_PRIVATE;
    o.named = true;
    shmets_tab *t;
    assert_int_equal(shmets_new(db, "priv", &o, &t), 0);
    ins(t, "{k, v}");
    pid_t p = fork();
    if (p == 0) {
        child_init();
        shmets *d;
        shmets_tab *x;
        if (shmets_open(inst, &d))
            _exit(2);
        int rc = shmets_attach_name(d, "priv", &x);
        _exit(rc == -SHMETS_EOWNER ? 0 : 3);        /* not even attached */
    }
    int st;
    assert_int_equal(waitpid(p, &st, 0), p);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    shmets_term key = T("k"), obj;
    shmets_key pk;
    unsigned char buf[32];
    assert_int_equal(shmets_key_prepare(t, key, &pk), 0);
    assert_int_equal(shmets_lookup_into(t, &pk, buf, sizeof buf, &obj, NULL), 0);   /* the owner reads */
    shmets_term_free(&key);
    shmets_delete(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(into_agrees_with_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(into_refuses_a_small_buffer_and_another_tables_key, setup, teardown),
        cmocka_unit_test_setup_teardown(view_and_batch_keys_agree, setup, teardown),
        cmocka_unit_test_setup_teardown(batch_agrees_on_overflowing_buckets, setup, teardown),
        cmocka_unit_test_setup_teardown(batch_refuses_another_tables_key_anywhere, setup, teardown),
        cmocka_unit_test_setup_teardown(batch_finds_a_fingerprint_0_key_behind_an_empty_slot, setup, teardown),
        cmocka_unit_test_setup_teardown(private_table_of_another_process, setup, teardown),
        cmocka_unit_test_setup_teardown(every_key_length_and_every_differing_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(the_head_compare_sees_every_byte_of_the_key_and_none_after, setup, teardown),
        cmocka_unit_test_setup_teardown(a_full_small_table_is_read_to_its_end, setup, teardown),
        cmocka_unit_test_setup_teardown(copying_lookup_of_every_form, setup, teardown),
        cmocka_unit_test_setup_teardown(readers_in_other_processes_while_another_writes_and_a_third_reclaims, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
