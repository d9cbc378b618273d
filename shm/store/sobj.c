/*
 * sobj.c — the stored object whole: its canonical encoding, in place or unpacked, and the
 * `compressed` table option: objects stored LZ4-compressed but for the key.
 *
 * ETS's `compressed` keeps the key as it is (so lookups compare keys without unpacking) and
 * packs the rest.  We do the same with liblz4's block format (the well-kept library; its
 * decompressor is bounds-safe on hostile input, LZ4_decompress_safe):
 *
 *     struct sobj   the long form (sobj.h): flags = SOBJ_LZ4, koff = 0, klen = the key's
 *                   length, len = klen + 4 + the compressed size
 *     etf[]         the key's canonical bytes | the object's length (4 bytes, big-endian) |
 *                   LZ4 block of the object's whole canonical encoding
 *
 * so the indexes, which compare keys through etf + koff, work unchanged.  An object is stored
 * compressed only when that saves space (small objects rarely compress: they stay plain, and
 * a compressed table may hold both).  Everything that reads an object whole goes through
 * sobj_term() or sobj_append() below, which hand out the canonical encoding either in place
 * (plain objects: no copy) or unpacked into the caller's buffer.
 *
 * Costs: a write compresses once (LZ4's fast mode, ~0.5-1 GB/s); a read that copies an object
 * unpacks it (~2-4 GB/s) instead of copying it.  Zero-copy views need the encoding in the
 * table, so the view calls refuse compressed objects (tabview.c); the copying calls work.
 */
#include "store/sobj.h"
#include "store/commit.h"
#include "term/term.h"
#include "base/util.h"

#include <lz4.h>
#include <stdlib.h>
#include <string.h>

#define LZ4_MIN_OBJECT 64           /* smaller objects are stored as they are */

int sobj_bad(const struct tab *t, const void *at, const char *what)
{
    return err_set(SHMETS_EBADSEG, "table %llu is damaged: %s (at offset %llu)" SALVAGE_HINT, (unsigned long long)t->id, what,
                   (unsigned long long)((const unsigned char *)at - t->s.base));
}

int sobj_term(const struct tab *t, const struct sobj *o, struct tbuf *tmp, shmets_term *out)
{
    if (!(sobj_flags(o) & SOBJ_LZ4)) {
        *out = (shmets_term){ sobj_etf(o), sobj_len(o) };
        if (!term_span(out->ptr, out->len))         /* term_span.c: before any walker reads it */
            return sobj_bad(t, o, "D.1 a stored object is not a term");
        return 0;
    }
    tmp->len = 0;
    tmp->err = 0;
    if (sobj_append(t, o, tmp, NULL))
        return tmp->err;
    *out = (shmets_term){ tmp->p, tmp->len };
    return 0;
}

int sobj_append(const struct tab *t, const struct sobj *o, struct tbuf *b, struct term_shape *sh)
{
    const unsigned char *etf = sobj_etf(o);
    uint32_t len = sobj_len(o), klen = sobj_klen(o);
    size_t start = b->len;
    if (!(sobj_flags(o) & SOBJ_LZ4)) {
        tbuf_put(b, etf, len);
        /* The copy is checked (a later stray write cannot change it), by the walk's shape
         * when it has one (term_span.c D.6) — but {Int, <<V>>}, which term_span_kv checks in
         * fewer instructions and which has none. */
        if (!b->err && !(sh ? term_span_kv(b->p + start, len) || term_span_shaped(sh, b->p + start, len)
                            : term_span(b->p + start, len)))
            b->err = sobj_bad(t, o, "D.1 a stored object is not a term");
        return b->err;
    }
    if ((uint64_t)klen + 4 > len || sobj_koff(o) != 0) {
        b->err = sobj_bad(t, o, "I.3 a compressed object's header is inconsistent");
        return b->err;
    }
    uint32_t raw = get_be32(etf + klen);
    if (raw > SHMETS_TERM_MAX_SIZE) {
        b->err = sobj_bad(t, o, "I.3 a compressed object claims more than the largest term");
        return b->err;
    }
    unsigned char *dst = tbuf_room(b, raw);
    if (!dst)
        return b->err;
    int csize = (int)(len - klen - 4);
    int n = LZ4_decompress_safe((const char *)etf + klen + 4, (char *)dst, csize, (int)raw);
    if (n != (int)raw || !term_span(dst, raw)) {
        b->err = sobj_bad(t, o, "I.3 a compressed object does not unpack to a term");
        return b->err;
    }
    b->len += raw;
    return 0;
}

int sobj_equal(const struct tab *t, const struct sobj *o, shmets_term obj, struct tbuf *tmp)
{
    shmets_term x;
    if (sobj_term(t, o, tmp, &x))
        return 0;
    return x.len == obj.len && memcmp(x.ptr, obj.ptr, obj.len) == 0;
}

int sobj_pack(const struct tab *t, shmets_term obj, shmets_term key, unsigned char **packed, size_t *len)
{
    *packed = NULL;
    *len = 0;
    if (!(t->h->flags & TABF_COMPRESSED) || obj.len < LZ4_MIN_OBJECT || obj.len > LZ4_MAX_INPUT_SIZE)
        return 0;
    int bound = LZ4_compressBound((int)obj.len);
    unsigned char *buf = malloc(key.len + 4 + (size_t)bound);
    if (!buf)
        return err_set(SHMETS_ENOMEM, "out of process memory");
    memcpy(buf, key.ptr, key.len);
    put_be32(buf + key.len, (uint32_t)obj.len);
    int c = LZ4_compress_default((const char *)obj.ptr, (char *)buf + key.len + 4, (int)obj.len, bound);
    if (c <= 0 || key.len + 4 + (size_t)c >= obj.len) {
        free(buf);                      /* does not pay: stored plain */
        return 0;
    }
    *packed = buf;
    *len = key.len + 4 + (size_t)c;
    return 0;
}

int sobj_check(const struct tab *t, uint64_t off, const struct sobj *x, struct tbuf *tmp, shmets_term *obj)
{
    uint32_t flags = sobj_flags(x), koff = sobj_koff(x), klen = sobj_klen(x);
    const unsigned char *etf = sobj_etf(x);
    if ((uint64_t)koff + klen > sobj_len(x) || ((flags & SOBJ_LZ4) && koff != 0) || (flags & ~SOBJ_LZ4) ||
        (sobj_is_long(x) && x->len16 != 0) || (!sobj_is_long(x) && x->len16 == 0))
        return err_set(SHMETS_EBADSEG, "I.3 an object's header is inconsistent (at offset %llu)", (unsigned long long)off);
    if (!sobj_is_long(x) && t->h->kind != SHMETS_SET && t->h->kind != SHMETS_ORDERED_SET)
        return err_set(SHMETS_EBADSEG, "I.3 a bag's object has the short header, which has no chain link (at offset %llu)",
                       (unsigned long long)off);
    if (sobj_term(t, x, tmp, obj))
        return err_set(SHMETS_EBADSEG, "I.3 a compressed object does not unpack (at offset %llu)", (unsigned long long)off);
    shmets_term canon, key;
    if (shmets_term_from_etf(obj->ptr, obj->len, SHMETS_ETF_NO_VERSION, &canon) != 0)
        return err_set(SHMETS_EBADSEG, "I.3 an object is not a valid term (at offset %llu)", (unsigned long long)off);
    int same = canon.len == obj->len && memcmp(canon.ptr, obj->ptr, obj->len) == 0;
    shmets_term_free(&canon);
    if (!same)
        return err_set(SHMETS_EBADSEG, "I.3 an object is not in canonical form (at offset %llu)", (unsigned long long)off);
    if (shmets_term_key(*obj, t->h->keypos, &key) != 0 || key.len != klen ||
        memcmp(key.ptr, etf + koff, key.len) != 0 ||
        (!(flags & SOBJ_LZ4) && key.ptr != etf + koff))
        return err_set(SHMETS_EBADSEG, "I.3 an object's key is not its element keypos (at offset %llu)", (unsigned long long)off);
    return 0;
}

/* The stored form: short for a set's or ordered_set's object that fits it (packed or not),
 * else long (a bag's objects are always long: their chains need `next`).  The hash is not
 * stored. */
int sobj_store(struct tab *t, struct plan *p, shmets_term obj, shmets_term key, uint64_t *off)
{
    unsigned char *packed;
    size_t plen;
    int rc = sobj_pack(t, obj, key, &packed, &plen);
    uint64_t koff = packed ? 0 : (uint64_t)(key.ptr - obj.ptr), len = packed ? plen : obj.len;
    int shrt = (t->h->kind == SHMETS_SET || t->h->kind == SHMETS_ORDERED_SET) && sobj_fits_short(len, koff, key.len);
    if (!rc)
        rc = plan_alloc(p, t, (shrt ? SOBJ_SHORT_HDR : SOBJ_LONG_HDR) + len, off);
    if (rc) {
        free(packed);
        return rc;
    }
    struct sobj *o = (struct sobj *)(t->s.base + *off);
    if (shrt) {
        o->len16 = (uint16_t)len;
        o->koff8 = packed ? SOBJ_SHORT_LZ4 : (uint8_t)koff;
        o->x8 = (uint8_t)key.len;
    } else {
        o->len16 = 0;
        o->koff8 = SOBJ_LONG;
        o->x8 = packed ? SOBJ_LZ4 : 0;
        o->l_len = (uint32_t)len;
        o->l_koff = (uint32_t)koff;
        o->l_klen = (uint32_t)key.len;
        atomic_store_explicit(&o->l_next, 0, memory_order_relaxed);
    }
    memcpy((unsigned char *)sobj_etf(o), packed ? packed : obj.ptr, len);
    free(packed);
    return 0;
}

int sobj_key_span(const struct sobj *o)
{
    return term_span(sobj_key(o), sobj_klen(o));
}
