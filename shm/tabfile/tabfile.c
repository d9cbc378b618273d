/*
 * tabfile.c — table files: ets:tab2file/2,3, ets:file2tab/1,2 and ets:tabfile_info/1.
 *
 * THE FORMAT (man/shmets-tabfile.5 is its reference; version 1).  All integers little-endian.
 *
 *   header   magic "\x89SHMETS\n", u32 version (1), u32 header bytes (52 + name bytes),
 *            u32 kind, u32 access, u32 keypos, u32 flags (F_*), u64 max_object_bytes,
 *            u64 max_bytes (the table's reservation), u32 name bytes, the name (UTF-8)
 *   objects  each: u32 n (1 .. SHMETS_TERM_MAX_SIZE + 1), then n bytes: the object as
 *            term_to_binary/1 writes it (131 first), canonical
 *   end      u32 0
 *   trailer  magic "\x89SHMEND\n", u64 objects written, 16 bytes MD5 of every byte before
 *            the trailer, end marker included (zero without md5sum)
 *
 * The header is written before the objects and the count after them, because a dump is not a
 * snapshot (as in ETS, tab2file traverses a table that others may write meanwhile: each key
 * is seen once, as it is when visited).  The fixed-size trailer at the end lets
 * tabfile_info read a file's description and count without reading its objects.
 *
 * AND ERLANG'S.  OTP writes its table files with disk_log (its internal log format: items
 * with sizes and magics, the info tuple first).  This format is not that one, and is the
 * default: it can be specified in one page and checked byte by byte, its count and checksum
 * are in a fixed-size trailer that tabfile_info reads without reading the objects, and a
 * truncation is always found.  Erlang's is read as well (recognised by its first bytes) and
 * written on request (opts.erlang), so tables move between ETS and shmets both ways; that
 * code is in tabfile_otp.c, and both share the writer, reader and batches of tabfile_io.c.
 *
 * WRITING (tab2file).  The file is written under no name at all (O_TMPFILE in the target's
 * directory), linked under a fresh temporary name ".NAME.XXXXXX" when it is complete, and
 * renamed over NAME: rename(2) is atomic, so NAME is at every moment either the old file or
 * the whole new one.  A process killed while writing leaves nothing (the kernel frees an
 * unlinked file); killed between link and rename it leaves the temporary name.  Where the
 * file system has no O_TMPFILE a mkstemp(3) name is used from the start, and a crash leaves
 * that file.  With sync, the data is fsync'ed before the rename and the directory after it.
 * Objects stream through a 1 MiB stdio buffer: memory does not grow with the table.
 *
 * READING (file2tab).  The header is checked whole (magic, version, sizes, kind, access,
 * flags, name) before anything is made.  Objects are read into a batch of at most BATCH_OBJS
 * objects or BATCH_BYTES bytes (one larger object makes a batch of its own), every length
 * checked against the limit before memory is taken; the batch becomes one list term through
 * shmets_term_from_etf (which validates and canonicalises each object) and is inserted with
 * one shmets_insert.  Memory is therefore bounded by the batch, whatever the file.  The
 * trailer's count must equal the objects read; with verify and md5sum the MD5 must match.
 * A named table is made under a temporary name and renamed to its own name only when every
 * object is in; on any error the table is deleted: no half-loaded table is ever found by the
 * name.  (An unnamed table cannot be found by name at all; while it loads, ets:all/0 lists
 * it.)  The loader takes an fd (shmets_file2tab_fd) so a fuzzer can feed it a memfd.
 *
 * A CRASH WHILE LOADING (the loading process killed) leaves the half table as it was: under
 * its temporary name "shmets-file2tab.PID.N" (a named table) or its own (an unnamed one),
 * owned by the dead process, its segment in /dev/shm; the name the file gives stays free.
 * It goes the way of every table whose owner died without an heir (DESIGN.md section 7,
 * etsmgr); the library itself has no call that deletes another owner's protected or private
 * table.
 *
 * ERRORS.  A file that is not ours (magic), of another version (SHMETS_EVERSION), damaged or
 * truncated (SHMETS_EBADFILE, the detail saying where), a malformed object (SHMETS_EBADFILE,
 * naming the objects), system failures (SHMETS_ESYS, naming the call and errno), a missing
 * file (SHMETS_ENOENT), one we may not read or write (SHMETS_EACCES).
 */
#include "shmets.h"
#include "table/table.h"
#include "tabfile/tabfile_io.h"
#include "tabfile/tabfile_otp.h"
#include "base/util.h"
#include "mem/wlock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <md5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define TF_VERSION   1u
#define HDR_FIXED    52u
#define TRAILER_LEN  32u
#define END_LEN      (4u + TRAILER_LEN)
#define NAME_MAX_B   1020u
#define OBJ_MAX      ((uint32_t)SHMETS_TERM_MAX_SIZE + 1u)
#define BATCH_OBJS   1024u
#define BATCH_BYTES  (4u << 20)

#define F_NAMED      0x001u
#define F_COMPRESSED 0x002u
#define F_READ_CONC  0x004u
#define F_WRITE_CONC 0x008u
#define F_DCOUNTERS  0x010u
#define F_EXT_COUNT  0x100u
#define F_EXT_MD5    0x200u
#define F_KNOWN      0x31fu

static const unsigned char hdr_magic[8] = { 0x89, 'S', 'H', 'M', 'E', 'T', 'S', '\n' };
static const unsigned char end_magic[8] = { 0x89, 'S', 'H', 'M', 'E', 'N', 'D', '\n' };

static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> 8 * i); }
static void put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> 8 * i); }
static uint32_t get32(const unsigned char *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = v << 8 | p[i]; return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }

void shmets_tabfile_opts_init(shmets_tabfile_opts *o)
{
    memset(o, 0, sizeof *o);
}

/* ---- writing ------------------------------------------------------------------------- */

static int wr_object(shmets_term obj, void *arg)
{
    struct tf_wr *w = arg;
    unsigned char h[5];
    put32(h, (uint32_t)obj.len + 1);
    h[4] = 131;
    if (tf_wr_put(w, h, 5) || tf_wr_put(w, obj.ptr, obj.len))
        return 1;
    w->count++;
    if (w->o && w->o->progress && (w->count & 4095) == 0)
        w->o->progress(w->count, w->total, w->o->progress_arg);
    return 0;
}

/* The header, the objects, the end marker and the trailer (shmets's own format). */
static int write_shmets(struct tf_wr *w, shmets_tab *t, const shmets_tab_info *info)
{
    size_t nlen = strlen(info->name);
    unsigned char h[HDR_FIXED + NAME_MAX_B];
    uint32_t flags = (info->named ? F_NAMED : 0) | (info->compressed ? F_COMPRESSED : 0) |
                     (info->read_concurrency ? F_READ_CONC : 0) |
                     (info->write_concurrency ? F_WRITE_CONC : 0) |
                     (info->decentralized_counters ? F_DCOUNTERS : 0) |
                     (w->o && w->o->object_count ? F_EXT_COUNT : 0) | (w->o && w->o->md5sum ? F_EXT_MD5 : 0);
    memcpy(h, hdr_magic, 8);
    put32(h + 8, TF_VERSION);
    put32(h + 12, (uint32_t)(HDR_FIXED + nlen));
    put32(h + 16, info->kind);
    put32(h + 20, info->access);
    put32(h + 24, info->keypos);
    put32(h + 28, flags);
    put64(h + 32, t->h->obj_max);
    put64(h + 40, t->h->seg.size_max);
    put32(h + 48, (uint32_t)nlen);
    memcpy(h + HDR_FIXED, info->name, nlen);
    int rc = 0;
    if (tf_wr_put(w, h, HDR_FIXED + nlen) == 0) {
        rc = shmets_foldl(t, wr_object, w);
        if (rc > 0)             /* wr_object stopped the fold: a write failed */
            rc = 0;
    }
    if (rc)
        return rc;
    unsigned char tr[END_LEN] = { 0 };     /* the end marker (u32 0), then the trailer */
    memcpy(tr + 4, end_magic, 8);
    put64(tr + 12, w->count);
    if (!w->err && tf_wr_put(w, tr, 4) == 0) {
        if (w->md5on)
            MD5Final(tr + 20, &w->md5);
        w->md5on = false;
        tf_wr_put(w, tr + 4, TRAILER_LEN);
    }
    return 0;
}

/* The directory part of path ("." if none) into dir; the file part's start into *base. */
static int split_path(const char *path, char *dir, size_t cap, const char **base)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (!*path)
        return err_set(SHMETS_ENOENT, "an empty path names no file");
    if (!**base)
        return err_set(SHMETS_EINVAL, "%s names a directory, not a file", path);
    size_t n = slash ? (size_t)(slash - path) : 1;
    if (n + 1 > cap)
        return err_set(SHMETS_EINVAL, "the path %s is too long", path);
    if (!slash)
        memcpy(dir, ".", 2);
    else if (n == 0)
        memcpy(dir, "/", 2);
    else {
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    return 0;
}

/* A fresh temporary name in dir for base. */
static void temp_name(char *out, size_t cap, const char *dir, const char *base)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)out;
    snprintf(out, cap, "%s/.%s.%012llx", dir, base, (unsigned long long)(r & 0xffffffffffffull));
}

int shmets_tab2file(shmets_tab *t, const char *path, const shmets_tabfile_opts *o)
{
    if (!t || !path)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_tab2file");
    shmets_tab_info info;
    int rc = shmets_info(t, &info);
    if (rc)
        return rc;
    char dir[PATH_MAX], tmp[PATH_MAX + 32];
    const char *base;
    if ((rc = split_path(path, dir, sizeof dir, &base)))
        return rc;
    if (strlen(path) + 24 > PATH_MAX)
        return err_set(SHMETS_EINVAL, "the path %s is too long", path);

    /* Unnamed while it is written (O_TMPFILE); else a temporary name from the start. */
    bool named_tmp = false;
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        for (int tries = 0; fd < 0 && tries < 100; tries++) {
            temp_name(tmp, sizeof tmp, dir, base);
            fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (fd < 0 && errno != EEXIST)
                break;
        }
        named_tmp = fd >= 0;
    }
    if (fd < 0)
        return tf_sys_err("creating a file in", dir);
    struct tf_wr w = { .o = o, .md5on = o && o->md5sum, .total = info.size };
    if (w.md5on)
        MD5Init(&w.md5);
    w.f = fdopen(fd, "w");
    if (!w.f) {
        rc = tf_sys_err("fdopen for", path);
        close(fd);
        goto fail;
    }
    setvbuf(w.f, NULL, _IOFBF, TF_IOBUF);

    rc = o && o->erlang ? otp_write(&w, t, &info) : write_shmets(&w, t, &info);
    if (rc)
        goto fail;
    if (!w.err && fflush(w.f))
        w.err = w.err ? w.err : errno;
    if (w.err) {
        errno = w.err;
        rc = tf_sys_err("writing", path);
        goto fail;
    }
    CRASH_POINT("tabfile.written");
    if (o && o->sync && fsync(fd)) {
        rc = tf_sys_err("fsync of", path);
        goto fail;
    }
    if (!named_tmp) {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        int lrc = -1;
        for (int tries = 0; lrc && tries < 100; tries++) {
            temp_name(tmp, sizeof tmp, dir, base);
            lrc = linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW);
            if (lrc && errno != EEXIST)
                break;
        }
        if (lrc) {
            rc = tf_sys_err("linking the new file into", dir);
            goto fail;
        }
        named_tmp = true;
    }
    CRASH_POINT("tabfile.linked");
    if (rename(tmp, path)) {
        rc = tf_sys_err("renaming the new file to", path);
        goto fail;
    }
    named_tmp = false;
    fclose(w.f);
    w.f = NULL;
    if (o && o->sync) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd)) {
            rc = tf_sys_err("fsync of the directory", dir);
            if (dfd >= 0)
                close(dfd);
            return rc;
        }
        close(dfd);
    }
    if (o && o->progress)
        o->progress(w.count, w.count, o->progress_arg);
    return 0;
fail:
    if (named_tmp)
        unlink(tmp);
    if (w.f)
        fclose(w.f);
    return rc;
}

/* ---- reading ------------------------------------------------------------------------- */

struct hdr {
    uint32_t version, kind, access, keypos, flags, nlen;
    uint64_t obj_max, max_bytes;
    char name[NAME_MAX_B + 1];
    unsigned char raw[HDR_FIXED + NAME_MAX_B];
    size_t rawlen;
};

static int read_full(int fd, void *p, size_t n, size_t *got)
{
    size_t k = 0;
    while (k < n) {
        ssize_t r = read(fd, (char *)p + k, n - k);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        k += (size_t)r;
    }
    *got = k;
    return 0;
}

/* Check the header's fixed part and name.  what names the file for messages. */
static int parse_header(const unsigned char *p, size_t got, const char *what, struct hdr *h)
{
    if (got < 12 || memcmp(p, hdr_magic, 8))
        return err_set(SHMETS_EBADFILE, "%s is not a shmets table file (no magic)", what);
    h->version = get32(p + 8);
    if (h->version != TF_VERSION)
        return err_set(SHMETS_EVERSION, "%s is a table file of format version %u; this library "
                       "reads version %u", what, h->version, TF_VERSION);
    if (got < HDR_FIXED)
        return err_set(SHMETS_EBADFILE, "%s is truncated in its header", what);
    uint32_t hlen = get32(p + 12);
    h->kind = get32(p + 16);
    h->access = get32(p + 20);
    h->keypos = get32(p + 24);
    h->flags = get32(p + 28);
    h->obj_max = get64(p + 32);
    h->max_bytes = get64(p + 40);
    h->nlen = get32(p + 48);
    if (h->nlen > NAME_MAX_B || hlen != HDR_FIXED + h->nlen)
        return err_set(SHMETS_EBADFILE, "%s: header length %u and name length %u disagree", what, hlen, h->nlen);
    if (h->kind < SHMETS_SET || h->kind > SHMETS_DUPLICATE_BAG || h->access < SHMETS_PUBLIC ||
        h->access > SHMETS_PRIVATE || h->keypos == 0 || (h->flags & ~F_KNOWN) ||
        h->obj_max > SHMETS_TERM_MAX_SIZE)
        return err_set(SHMETS_EBADFILE, "%s: the header's table options are damaged "
                       "(kind %u, access %u, keypos %u, flags %#x)", what, h->kind, h->access,
                       h->keypos, h->flags);
    if (got < hlen)
        return err_set(SHMETS_EBADFILE, "%s is truncated in its header", what);
    memcpy(h->name, p + HDR_FIXED, h->nlen);
    h->name[h->nlen] = 0;
    if (strlen(h->name) != h->nlen)
        return err_set(SHMETS_EBADFILE, "%s: the table name holds a NUL byte", what);
    memcpy(h->raw, p, hlen);
    h->rawlen = hlen;
    return 0;
}

/* The header; `first` holds its first 8 bytes, already read (the format's dispatch). */
static int read_header(int fd, const char *what, struct hdr *h, const unsigned char *first)
{
    unsigned char buf[HDR_FIXED + NAME_MAX_B];
    size_t got;
    memcpy(buf, first, 8);
    if (read_full(fd, buf + 8, HDR_FIXED - 8, &got))
        return tf_sys_err("reading", what);
    got += 8;
    if (got >= HDR_FIXED) {
        uint32_t n = get32(buf + 48);
        size_t more = 0;
        if (n <= NAME_MAX_B && read_full(fd, buf + HDR_FIXED, n, &more))
            return tf_sys_err("reading", what);
        got += more;
    }
    return parse_header(buf, got, what, h);
}

/* The first 8 bytes: 1 for Erlang's disk_log format, 0 for ours (or anything else, which
 * read_header then refuses). */
static int read_head8(int fd, const char *what, unsigned char *first)
{
    size_t got;
    if (read_full(fd, first, 8, &got))
        return tf_sys_err("reading", what);
    if (got < 8)
        memset(first + got, 0, 8 - got);
    if (got < 8 && got >= 1 && !memcmp(first, hdr_magic, got))
        return err_set(SHMETS_EBADFILE, "%s is truncated in its header", what);
    if (got < 8)
        return err_set(SHMETS_EBADFILE, "%s is not a table file (%zu bytes)", what, got);
    return otp_is_head(first);
}

/* The trailer, read from the end of a regular file: count and MD5. */
static int read_trailer(int fd, const char *what, const struct hdr *h, uint64_t *count, unsigned char *md5)
{
    struct stat st;
    if (fstat(fd, &st))
        return tf_sys_err("fstat of", what);
    if (!S_ISREG(st.st_mode))
        return 1;                   /* not seekable: the caller reads the trailer at the end */
    unsigned char tr[END_LEN];
    if ((uint64_t)st.st_size < h->rawlen + END_LEN)
        return err_set(SHMETS_EBADFILE, "%s is truncated: it ends before its trailer", what);
    ssize_t r = pread(fd, tr, END_LEN, st.st_size - END_LEN);
    if (r != (ssize_t)END_LEN)
        return r < 0 ? tf_sys_err("reading", what) : err_set(SHMETS_EBADFILE, "%s is truncated", what);
    if (get32(tr) != 0 || memcmp(tr + 4, end_magic, 8))
        return err_set(SHMETS_EBADFILE, "%s is truncated or damaged: no trailer at its end", what);
    *count = get64(tr + 12);
    memcpy(md5, tr + 20, 16);
    return 0;
}

static void info_of(const struct hdr *h, uint64_t count, shmets_tabfile_desc *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", h->name);
    out->kind = (enum shmets_kind)h->kind;
    out->access = (enum shmets_access)h->access;
    out->keypos = h->keypos;
    out->named = h->flags & F_NAMED;
    out->compressed = h->flags & F_COMPRESSED;
    out->read_concurrency = h->flags & F_READ_CONC;
    out->write_concurrency = h->flags & F_WRITE_CONC;
    out->decentralized_counters = h->flags & F_DCOUNTERS;
    out->object_count = h->flags & F_EXT_COUNT;
    out->md5sum = h->flags & F_EXT_MD5;
    out->size = count;
    out->max_object_bytes = h->obj_max;
    out->max_bytes = h->max_bytes;
    out->version = h->version;
}

static int info_fd(int fd, const char *what, bool regular, shmets_tabfile_desc *info)
{
    struct hdr h;
    uint64_t count;
    unsigned char md5[16], first[8];
    int rc = read_head8(fd, what, first);
    if (rc == 1)
        return otp_info(fd, what, first, info);
    if (!rc)
        rc = read_header(fd, what, &h, first);
    if (!rc && (rc = read_trailer(fd, what, &h, &count, md5)) == 1)
        rc = regular ? err_set(SHMETS_EINVAL, "%s is not a regular file", what)
                     : err_set(SHMETS_EINVAL, "tabfile_info needs a regular file (it reads the trailer at the end)");
    if (rc)
        return rc;
    info_of(&h, count, info);
    return 0;
}

int shmets_tabfile_info_fd(int fd, shmets_tabfile_desc *info)
{
    if (fd < 0 || !info)
        return err_set(SHMETS_EINVAL, "bad argument to shmets_tabfile_info_fd");
    return info_fd(fd, "the table file", false, info);
}

int shmets_tabfile_info(const char *path, shmets_tabfile_desc *info)
{
    if (!path || !info)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_tabfile_info");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tf_sys_err("opening", path);
    int rc = info_fd(fd, path, true, info);
    close(fd);
    return rc;
}

static int load(shmets *db, int fd, const char *what, const shmets_tabfile_opts *o, shmets_tab **out)
{
    struct hdr h;
    uint64_t tcount = 0;
    unsigned char tmd5[16], first[8];
    int rc = read_head8(fd, what, first);
    if (rc == 1)
        return otp_load(db, fd, what, first, o, out);
    if (rc || (rc = read_header(fd, what, &h, first)))
        return rc;
    int have_trailer = read_trailer(fd, what, &h, &tcount, tmd5);
    if (have_trailer < 0)
        return have_trailer;

    shmets_opts opts;
    shmets_tabfile_desc d;
    info_of(&h, 0, &d);
    tf_opts_of(&d, &opts);
    shmets_tab *t;
    if ((rc = tf_new_table(db, &opts, h.name, what, &t)))
        return rc;

    /* With verify, the MD5 is checked when the header says there is one or the trailer has
     * one (so that a flipped md5sum flag cannot switch the check off); from a pipe the
     * trailer comes last, so the sum is computed in any case. */
    static const unsigned char zero16[16];
    bool has_md5 = (h.flags & F_EXT_MD5) || (have_trailer == 0 && memcmp(tmd5, zero16, 16));
    struct tf_rd r = { .fd = fd, .what = what, .md5on = o && o->verify && (has_md5 || have_trailer) };
    struct tf_batch b = { .first = 1, .len = 6 };
    uint64_t count = 0;
    r.buf = malloc(TF_IOBUF);
    if (!r.buf || (rc = tf_batch_room(&b, 0))) {
        rc = err_set(SHMETS_ENOMEM, "out of memory for the read buffer");
        goto fail;
    }
    if (r.md5on) {
        MD5Init(&r.md5);
        MD5Update(&r.md5, h.raw, h.rawlen);
    }
    for (;;) {
        unsigned char lb[4];
        if ((rc = tf_rd_get(&r, lb, 4)))
            goto fail;
        uint32_t n = get32(lb);
        if (n == 0)
            break;
        if (n > OBJ_MAX || n < 2)
            { rc = err_set(SHMETS_EBADFILE, "%s: object %llu has a length of %u bytes (damaged)", what,
                           (unsigned long long)(count + 1), n); goto fail; }
        if (b.n && (b.n >= BATCH_OBJS || b.len + n > BATCH_BYTES) && (rc = tf_batch_flush(&b, t, what)))
            goto fail;
        if ((rc = tf_batch_room(&b, n)))
            goto fail;
        unsigned char v;
        if ((rc = tf_rd_get(&r, &v, 1)))
            goto fail;
        if (v != 131)
            { rc = err_set(SHMETS_EBADFILE, "%s: object %llu does not start with the ETF version byte", what,
                           (unsigned long long)(count + 1)); goto fail; }
        if ((rc = tf_rd_get(&r, b.p + b.len, n - 1)))
            goto fail;
        b.len += n - 1;
        b.n++;
        count++;
        if (o && o->progress && (count & 4095) == 0)
            o->progress(count, have_trailer == 0 ? tcount : 0, o->progress_arg);
    }
    if ((rc = tf_batch_flush(&b, t, what)))
        goto fail;
    unsigned char digest[16];
    if (r.md5on)
        MD5Final(digest, &r.md5);
    r.md5on = false;
    unsigned char tr[TRAILER_LEN];
    if ((rc = tf_rd_get(&r, tr, TRAILER_LEN)))
        goto fail;
    if (memcmp(tr, end_magic, 8))
        { rc = err_set(SHMETS_EBADFILE, "%s is damaged: no trailer after its objects", what); goto fail; }
    if (get64(tr + 8) != count)
        { rc = err_set(SHMETS_EBADFILE, "%s is damaged: its trailer counts %llu objects, it holds %llu",
                       what, (unsigned long long)get64(tr + 8), (unsigned long long)count); goto fail; }
    unsigned char extra;
    if (tf_rd_get(&r, &extra, 1) == 0)
        { rc = err_set(SHMETS_EBADFILE, "%s is damaged: bytes after its trailer", what); goto fail; }
    if (o && o->verify && ((h.flags & F_EXT_MD5) || memcmp(tr + 16, zero16, 16)) && memcmp(digest, tr + 16, 16))
        { rc = err_set(SHMETS_EBADFILE, "%s fails verification: its MD5 sum does not match", what); goto fail; }
    if ((rc = tf_finish_table(t, opts.named, h.name, what)))
        goto fail;
    if (o && o->progress)
        o->progress(count, count, o->progress_arg);
    free(r.buf);
    free(b.p);
    *out = t;
    return 0;
fail:
    tf_drop_table(t, rc);
    free(r.buf);
    free(b.p);
    return rc;
}

int shmets_file2tab_fd(shmets *db, int fd, const shmets_tabfile_opts *o, shmets_tab **t)
{
    if (!db || fd < 0 || !t)
        return err_set(SHMETS_EINVAL, "bad argument to shmets_file2tab_fd");
    return load(db, fd, "the table file", o, t);
}

int shmets_file2tab(shmets *db, const char *path, const shmets_tabfile_opts *o, shmets_tab **t)
{
    if (!db || !path || !t)
        return err_set(SHMETS_EINVAL, "NULL argument to shmets_file2tab");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tf_sys_err("opening", path);
    int rc = load(db, fd, path, o, t);
    close(fd);
    return rc;
}
