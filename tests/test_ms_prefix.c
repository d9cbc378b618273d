/*
 * test_ms_prefix.c — ms_pattern_prefix (ms/ms_key.c): the bytes of a key pattern before its
 * first hole, which a RANGE select compares with each key instead of ms_pattern_cmp's
 * structural walk.  What a select relies on: a key that starts with those bytes is inside the
 * pattern's interval (ms_pattern_cmp answers 0), for every pattern and key; and the patterns
 * of a bound prefix ({B, '_'}, {{B, '$1'}, '_'} …) have such bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shmets.h"
#include "ms/ms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static shmets_term P(const char *text)
{
    shmets_term t = { NULL, 0 };
    int rc = shmets_term_parse(text, strlen(text), &t);
    if (rc)
        fail_msg("parse %s: %s", text, shmets_strerror(rc));
    return t;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The prefix of a pattern, as the text of the key bytes it covers (checked by length). */
static void test_known_prefixes(void **state)
{
    (void)state;
    static const struct { const char *pattern; size_t len; } cases[] = {
        { "{b,'_'}", 2 + 3 },                   /* 104 2, then the atom b (119 1 98) */
        { "{{x,'$1'},'_',3}", 2 + 2 + 3 },      /* down into the first element, to '$1' */
        { "{'$1',b}", 2 },                      /* a hole first: any 2-tuple */
        { "{[],'$1'}", 2 + 1 },
        { "{{a,b},7,'_'}", 2 + 8 + 2 },         /* a ground tuple whole, then 7 */
        { "{1,#{a => '$1'}}", 0 },              /* a map on the way: no bytes */
        { "{1,[a|'_']}", 0 },                   /* a list on the way */
        { "[1|'$1']", 0 },
        { "{a,b}", 0 },                         /* no hole: a bound key, not a pattern */
        { "'_'", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        shmets_term p = P(cases[i].pattern);
        size_t n = ms_pattern_prefix(p.ptr);
        if (n != cases[i].len)
            fail_msg("%s: prefix of %zu bytes, expected %zu", cases[i].pattern, n, cases[i].len);
        shmets_term_free(&p);
    }
}

/* Every key that starts with a pattern's prefix is in its interval, on random patterns and keys
 * built from the same parts (so that many keys share the prefixes). */
static void test_prefix_means_inside(void **state)
{
    (void)state;
    static const char *const parts[] = { "a", "b", "1", "2.0", "[]", "{}", "[a]", "{x,y}", "#{a => 1}", "<<>>",
                                         "<<\"ab\">>", "-7", "18446744073709551616", "\"ab\"" };
    static const char *const holes[] = { "'_'", "'$1'", "'$2'" };
    enum { NP = sizeof parts / sizeof *parts };
    uint64_t seed = 0x1f2e3d;
    unsigned with = 0, inside = 0, keys = 0;
    for (int round = 0; round < 2000; round++) {
        char pat[256], *X[4];
        char buf[4][64];
        for (int j = 0; j < 4; j++) {       /* each place: a part, a hole, or a tuple of both */
            switch (rnd(&seed) % 4) {
            case 0: snprintf(buf[j], sizeof buf[j], "%s", holes[rnd(&seed) % 3]); break;
            case 1: snprintf(buf[j], sizeof buf[j], "{%s,%s}", parts[rnd(&seed) % NP], holes[rnd(&seed) % 3]); break;
            default: snprintf(buf[j], sizeof buf[j], "%s", parts[rnd(&seed) % NP]); break;
            }
            X[j] = buf[j];
        }
        switch (rnd(&seed) % 3) {
        case 0: snprintf(pat, sizeof pat, "{%s,%s}", X[0], X[1]); break;
        case 1: snprintf(pat, sizeof pat, "{%s,%s,%s}", X[0], X[1], X[2]); break;
        default: snprintf(pat, sizeof pat, "{{%s,%s},%s,%s}", X[0], X[1], X[2], X[3]); break;
        }
        shmets_term p = P(pat);
        size_t pre = ms_pattern_prefix(p.ptr);
        with += pre > 0;
        for (int k = 0; k < 40; k++) {
            /* A key: the pattern with each hole filled by a part (so it often shares the
             * prefix), or a part changed. */
            char key[256];
            size_t o = 0;
            for (const char *c = pat; *c && o < sizeof key - 40;) {
                if (*c == '\'') {               /* a hole: '_', '$1' or '$2' */
                    const char *e = strchr(c + 1, '\'');
                    o += (size_t)snprintf(key + o, sizeof key - o, "%s", parts[rnd(&seed) % NP]);
                    c = e + 1;
                } else {
                    key[o++] = *c++;
                }
            }
            key[o] = 0;
            shmets_term kt = P(key);
            keys++;
            if (pre && kt.len >= pre && memcmp(kt.ptr, p.ptr, pre) == 0) {
                inside++;
                if (ms_pattern_cmp(p.ptr, kt.ptr) != 0)
                    fail_msg("%s: key %s starts with its %zu-byte prefix, but ms_pattern_cmp says %d", pat, key, pre,
                             ms_pattern_cmp(p.ptr, kt.ptr));
            }
            shmets_term_free(&kt);
        }
        shmets_term_free(&p);
    }
    print_message("%u of 2000 patterns have a prefix; %u of %u keys start with theirs, all inside\n", with, inside,
                  keys);
    assert_true(with > 500 && inside > 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_prefixes),
        cmocka_unit_test(test_prefix_means_inside),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
