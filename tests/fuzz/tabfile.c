/*
 * tabfile.c — fuzz target: table-file loading, both formats (shm/tabfile/tabfile.c's own and
 * shm/tabfile/tabfile_otp.c's, Erlang's disk_log), through the fd entries.
 *
 * The input is a file: it goes into a memfd, and shmets_tabfile_info_fd then
 * shmets_file2tab_fd read it, the load twice (without verify, then with) into a fresh instance
 * named fuzz_inst() (F.2), removed at the end.  Properties, beyond no crash, leak or sanitizer
 * report (libFuzzer's -rss_limit_mb bounds the memory a load may take: a load streams):
 *   info either fails with -SHMETS_EBADFILE or -SHMETS_EVERSION or gives a header whose
 *   kind, protection and keypos are in range;
 *   a load either fails with -SHMETS_EBADFILE, -SHMETS_EVERSION or -SHMETS_ENOMEM (no room
 *   for what the header asks) and leaves nothing behind (no table in the catalog, no segment
 *   of the instance in /dev/shm but those that were there before), or gives a table that
 *   passes shmets_check, has the file's kind, protection and keypos, and holds at most as
 *   many objects as the file says (fewer when keys repeat: a set keeps one object a key) —
 *   exactly as many for a duplicate_bag in shmets's format, whose trailer's count is always
 *   checked;
 *   the instance is gone afterwards.
 * Seeds (tests/fuzz/tabfile/): small files of both formats made by the library (shmets's
 * format, with and without md5sum and object_count; Erlang's, through opts.erlang) and by
 * Erlang's ets:tab2file/3, of every kind, and truncated and bit-flipped variants of them.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>

/* Segments of this instance in /dev/shm ("shmets.fuzz.<pid>" and its tables). */
static unsigned inst_segments(void)
{
    char prefix[64];
    int n = snprintf(prefix, sizeof prefix, "shmets.%s", fuzz_inst());
    DIR *d = opendir("/dev/shm");
    FUZZ_CHECK(d != NULL);
    unsigned count = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strncmp(de->d_name, prefix, (size_t)n) == 0 && (de->d_name[n] == 0 || de->d_name[n] == '.'))
            count++;
    closedir(d);
    return count;
}

static size_t tables(shmets *db)
{
    uint64_t *ids;
    size_t n;
    FUZZ_CHECK(shmets_all(db, &ids, &n) == 0);
    free(ids);
    return n;
}

/* One load; 1 if it gave a table (checked and deleted), 0 if it failed cleanly. */
static int load(shmets *db, int fd, bool verify, int info_rc, const shmets_tabfile_desc *info)
{
    shmets_tabfile_opts o;
    shmets_tabfile_opts_init(&o);
    o.verify = verify;
    FUZZ_CHECK(lseek(fd, 0, SEEK_SET) == 0);
    unsigned segs = inst_segments();
    size_t ntab = tables(db);
    shmets_tab *t = NULL;
    int rc = shmets_file2tab_fd(db, fd, &o, &t);
    if (rc) {
        FUZZ_CHECK(rc == -SHMETS_EBADFILE || rc == -SHMETS_EVERSION || rc == -SHMETS_ENOMEM);
        FUZZ_CHECK(tables(db) == ntab);
        FUZZ_CHECK(inst_segments() == segs);
        return 0;
    }
    FUZZ_CHECK(shmets_check(t) == 0);
    /* What loads has a header tabfile_info reads. */
    FUZZ_CHECK(info_rc == 0);
    shmets_tab_info ti;
    FUZZ_CHECK(shmets_info(t, &ti) == 0);
    FUZZ_CHECK(ti.kind == info->kind && ti.access == info->access && ti.keypos == info->keypos);
    uint64_t size;
    FUZZ_CHECK(shmets_size(t, &size) == 0);
    /* The header's size binds shmets's own files (their trailer's count is always checked)
     * and, under verify, Erlang's; without verify OTP loads an Erlang file whatever size its
     * header gives, and so does shmets (found by this target: 5 objects under a header of 4). */
    if (!info->erlang || verify)
        FUZZ_CHECK(size <= info->size);
    if (info->kind == SHMETS_DUPLICATE_BAG && !info->erlang)
        FUZZ_CHECK(size == info->size);
    FUZZ_CHECK(shmets_delete(t) == 0);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz-tabfile", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    for (size_t off = 0; off < size;) {
        ssize_t n = write(fd, data + off, size - off);
        FUZZ_CHECK(n > 0);
        off += (size_t)n;
    }
    FUZZ_CHECK(lseek(fd, 0, SEEK_SET) == 0);
    shmets_tabfile_desc info;
    int info_rc = shmets_tabfile_info_fd(fd, &info);
    if (info_rc == 0) {
        FUZZ_CHECK(info.kind >= SHMETS_SET && info.kind <= SHMETS_DUPLICATE_BAG);
        FUZZ_CHECK(info.access >= SHMETS_PUBLIC && info.access <= SHMETS_PRIVATE);
        FUZZ_CHECK(info.keypos >= 1);
        FUZZ_CHECK(memchr(info.name, 0, sizeof info.name) != NULL);
    } else {
        FUZZ_CHECK(info_rc == -SHMETS_EBADFILE || info_rc == -SHMETS_EVERSION);
    }

    shmets *db;
    shmets_destroy_instance(fuzz_inst());
    FUZZ_CHECK(shmets_open(fuzz_inst(), &db) == 0);
    load(db, fd, false, info_rc, &info);
    load(db, fd, true, info_rc, &info);
    shmets_close(db);
    close(fd);
    FUZZ_CHECK(shmets_destroy_instance(fuzz_inst()) == 0);
    FUZZ_CHECK(inst_segments() == 0);
    return 0;
}
