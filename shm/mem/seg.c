/*
 * seg.c — POSIX shared-memory segments: create, attach, grow, punch, detach.
 *
 * WHY THIS SHAPE (DESIGN.md §3)
 * One /dev/shm object per table and one per instance's control segment.  The object is sized
 * to its maximum with ftruncate (tmpfs allocates nothing for that) and mapped whole, once, by
 * every process; so the mapping never moves, offsets stay valid forever, and growing a table
 * never asks other processes to remap.  The address-space cost is the reservation: 10,000
 * tables of the default 4 GiB maximum take 40 TiB of the 128 TiB a process has.
 *
 * Memory is only ever used below the header's `committed` mark, and every byte below it was
 * reserved with posix_fallocate (which tmpfs implements by allocating the pages): a full
 * /dev/shm shows up as ENOSPC from seg_grow() — an -SHMETS_ENOMEM at the write that needed
 * the memory — and never as a SIGBUS when a page is first touched.
 *
 * PROTECTION is the kernel's: the object's mode says who may open it read-write; a process
 * that may only read it maps it PROT_READ, so a stray write through a reader's mapping faults
 * in that process and cannot corrupt the table.
 *
 * NAME SQUATTING (S.3 in seg.h): /dev/shm is one namespace for every user, so another user
 * can make /dev/shm/shmets.<instance> before its rightful owner does, mode 0666, and wait for
 * the owner (or root, whom file modes do not stop) to open it read-write and put its catalog,
 * locks and reader slots there.  seg_attach() therefore refuses a read-write attach of a
 * segment whose owner is neither this process's effective uid nor root.  Squatting a name
 * still denies its use (an attach that is refused, a create that finds it taken): choose
 * instance names others cannot guess, or a private runtime directory's manager.
 *
 * GROUPS (issue 17): an instance shared between uids is made for a group; its segments belong
 * to the group (fchown, as a setgid directory would do) with modes that follow their use (the
 * control segment and public tables 0660, protected 0640, private 0600).  seg_create_grp makes
 * such an object owner-only (0600) until it is the group's, then sets its mode (S.4), so no
 * process of the creator's primary group ever sees it in between.  seg_attach_grp trusts, for
 * writing, a segment of another uid only if its group is the one the caller named and others
 * cannot write it: the caller has chosen to trust that group's members (S.3).
 *
 * ATTACH CHECKS (S.1 in seg.h), in this order, before trusting any other field: the object is
 * at least a header long; magic; layout version; ABI word; kind; header_size; size_max equals
 * the object's size; committed lies within size_max.  Each failure is a distinct, worded error.
 *
 * CRASH SAFETY: seg_create() writes the header last but the magic, and the magic last of all
 * (release order), on an object opened O_EXCL: a creator that dies midway leaves an object
 * whose magic is 0, which attach reports as "not initialised" (-SHMETS_EBADSEG) and which
 * the instance layer may unlink.
 */
#include "mem/seg.h"
#include "shmets.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

uint32_t seg_abi(void)
{
    /* FNV-1a over the layout facts a reader relies on. */
    const uint64_t facts[] = {
        sizeof(struct seg_header), offsetof(struct seg_header, committed),
        offsetof(struct seg_header, size_max), sizeof(void *), SEG_PAGE,
    };
    uint32_t h = 2166136261u;
    const unsigned char *p = (const unsigned char *)facts;
    for (size_t i = 0; i < sizeof facts; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static int sys_err(int e, const char *what, const char *name)
{
    switch (e) {
    case EEXIST: return err_set(SHMETS_EEXIST, "%s %s: exists already", what, name);
    case ENOENT: return err_set(SHMETS_ENOENT, "%s %s: no such segment", what, name);
    case EACCES: case EPERM: return err_set(SHMETS_EACCES, "%s %s: permission denied", what, name);
    case ENOSPC: case ENOMEM: case EFBIG:
        return err_set(SHMETS_ENOMEM, "%s %s: %s", what, name, strerror(e));
    case EINVAL: case ENAMETOOLONG:
        return err_set(SHMETS_EINVAL, "%s %s: %s", what, name, strerror(e));
    default: return err_set(SHMETS_ESYS, "%s %s: %s", what, name, strerror(e));
    }
}

static int name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 2 || n >= SEG_NAME_MAX || name[0] != '/' || strchr(name + 1, '/'))
        return err_set(SHMETS_EINVAL, "segment name \"%s\" must be /NAME, shorter than %d bytes",
                       name ? name : "(null)", SEG_NAME_MAX);
    return 0;
}

static size_t page_up(size_t n)
{
    return (n + SEG_PAGE - 1) & ~(size_t)(SEG_PAGE - 1);
}

int seg_create(const char *name, enum seg_kind kind, uint32_t header_size, size_t size_max,
               size_t commit, mode_t mode, void (*init)(unsigned char *base, void *arg), void *arg,
               struct seg *s)
{
    return seg_create_grp(name, kind, header_size, size_max, commit, mode, (gid_t)-1, init, arg, s);
}

int seg_create_grp(const char *name, enum seg_kind kind, uint32_t header_size, size_t size_max,
                   size_t commit, mode_t mode, gid_t gid, void (*init)(unsigned char *base, void *arg),
                   void *arg, struct seg *s)
{
    int rc;
    if ((rc = name_ok(name)))
        return rc;
    size_max = page_up(size_max);
    commit = page_up(commit < header_size ? header_size : commit);
    if (header_size < sizeof(struct seg_header) || commit > size_max)
        return err_set(SHMETS_EINVAL, "segment %s: header %u, commit %zu, maximum %zu do not fit",
                       name, header_size, commit, size_max);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, gid == (gid_t)-1 ? mode : (mode & 0600));
    if (fd < 0)
        return sys_err(errno, "creating segment", name);
    if (gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) != 0) {
        rc = errno == EPERM ? err_set(SHMETS_EACCES, "segment %s: cannot give it to group %u (is this "
                                      "process in it?)", name, (unsigned)gid)
                            : sys_err(errno, "giving segment to its group", name);
        goto fail;
    }
    if (fchmod(fd, mode) != 0 || ftruncate(fd, (off_t)size_max) != 0) {
        rc = sys_err(errno, "sizing segment", name);
        goto fail;
    }
    int e = posix_fallocate(fd, 0, (off_t)commit);
    if (e) {
        rc = sys_err(e, "reserving memory for segment", name);
        goto fail;
    }
    void *base = mmap(NULL, size_max, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        rc = sys_err(errno, "mapping segment", name);
        goto fail;
    }
    struct seg_header *h = base;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    h->version = SEG_VERSION;
    h->abi = seg_abi();
    h->kind = kind;
    h->header_size = header_size;
    h->size_max = size_max;
    atomic_store_explicit(&h->committed, commit, memory_order_relaxed);
    h->created_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    if (init)
        init(base, arg);
    __atomic_store_n(&h->magic, SEG_MAGIC, __ATOMIC_RELEASE);
    s->fd = fd;
    s->base = base;
    s->size = size_max;
    s->writable = 1;
    s->uid = geteuid();
    s->gid = gid != (gid_t)-1 ? gid : getegid();
    s->mode = mode & 07777;
    snprintf(s->name, sizeof s->name, "%s", name);
    return 0;
fail:
    close(fd);
    shm_unlink(name);
    return rc;
}

int seg_attach(const char *name, enum seg_kind kind, int writable, struct seg *s)
{
    return seg_attach_grp(name, kind, writable, (gid_t)-1, s);
}

int seg_attach_grp(const char *name, enum seg_kind kind, int writable, gid_t trust, struct seg *s)
{
    int rc;
    if ((rc = name_ok(name)))
        return rc;
    int fd = shm_open(name, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
    if (fd < 0)
        return sys_err(errno, "opening segment", name);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = sys_err(errno, "examining segment", name);
        goto fail;
    }
    if (writable && st.st_uid != geteuid() && st.st_uid != 0 &&
        !(trust != (gid_t)-1 && st.st_gid == trust && !(st.st_mode & 0002))) {
        rc = err_set(SHMETS_EACCES, "segment %s belongs to uid %u (group %u), not to this process's uid %u%s: "
                     "not writing into memory another user controls", name, (unsigned)st.st_uid,
                     (unsigned)st.st_gid, (unsigned)geteuid(),
                     trust != (gid_t)-1 ? " nor to the instance's group" : "");
        goto fail;
    }
    if ((size_t)st.st_size < sizeof(struct seg_header)) {
        rc = err_set(SHMETS_EBADSEG, "segment %s: %lld bytes, too short for a header",
                     name, (long long)st.st_size);
        goto fail;
    }
    struct seg_header hdr;
    if (pread(fd, &hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr) {
        rc = sys_err(errno ? errno : EIO, "reading segment header", name);
        goto fail;
    }
    if (hdr.magic != SEG_MAGIC) {
        rc = err_set(SHMETS_EBADSEG, hdr.magic == 0 ? "segment %s: not initialised (its creator died?)"
                                                     : "segment %s: not a shmets segment (bad magic)", name);
        goto fail;
    }
    if (hdr.version != SEG_VERSION) {
        rc = err_set(SHMETS_EVERSION, "segment %s: layout version %u, this library reads %u",
                     name, hdr.version, SEG_VERSION);
        goto fail;
    }
    if (hdr.abi != seg_abi()) {
        rc = err_set(SHMETS_EVERSION, "segment %s: made by a library of another ABI (0x%08x, ours 0x%08x)",
                     name, hdr.abi, seg_abi());
        goto fail;
    }
    if (hdr.kind != (uint32_t)kind) {
        rc = err_set(SHMETS_EBADSEG, "segment %s: kind %u, expected %u", name, hdr.kind, kind);
        goto fail;
    }
    uint64_t committed = atomic_load_explicit(&hdr.committed, memory_order_relaxed);
    if (hdr.size_max != (uint64_t)st.st_size || committed > hdr.size_max ||
        hdr.header_size < sizeof hdr || hdr.header_size > committed) {
        rc = err_set(SHMETS_EBADSEG, "segment %s: sizes disagree (file %lld, maximum %llu, committed %llu, header %u)",
                     name, (long long)st.st_size, (unsigned long long)hdr.size_max,
                     (unsigned long long)committed, hdr.header_size);
        goto fail;
    }
    void *base = mmap(NULL, hdr.size_max, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        rc = sys_err(errno, "mapping segment", name);
        goto fail;
    }
    s->fd = fd;
    s->base = base;
    s->size = hdr.size_max;
    s->writable = writable;
    s->uid = st.st_uid;
    s->gid = st.st_gid;
    s->mode = st.st_mode & 07777;
    snprintf(s->name, sizeof s->name, "%s", name);
    return 0;
fail:
    close(fd);
    return rc;
}

int seg_grow(struct seg *s, size_t want)
{
    struct seg_header *h = seg_hdr(s);
    uint64_t have = atomic_load_explicit(&h->committed, memory_order_relaxed);
    if (want <= have)
        return 0;
    if (!s->writable)
        return err_set(SHMETS_EACCES, "segment %s is mapped read-only", s->name);
    if (want > s->size)
        return err_set(SHMETS_ENOMEM, "segment %s: %zu bytes needed, its maximum size is %zu",
                       s->name, want, s->size);
    size_t to = page_up(want);
    int e = posix_fallocate(s->fd, (off_t)have, (off_t)(to - have));
    if (e)
        return sys_err(e, "reserving memory for segment", s->name);
    atomic_store_explicit(&h->committed, to, memory_order_release);
    return 0;
}

int seg_punch(struct seg *s, size_t off, size_t len)
{
    size_t a = page_up(off), b = (off + len) & ~(size_t)(SEG_PAGE - 1);
    if (b <= a)
        return 0;
    if (fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)a, (off_t)(b - a)) != 0)
        return sys_err(errno, "returning memory of segment", s->name);
    return 0;
}

int seg_back(struct seg *s, size_t off, size_t len)
{
    size_t a = off & ~(size_t)(SEG_PAGE - 1), b = page_up(off + len);
    int e = posix_fallocate(s->fd, (off_t)a, (off_t)(b - a));
    return e ? sys_err(e, "reserving memory for segment", s->name) : 0;
}

void seg_detach(struct seg *s)
{
    if (s->base)
        munmap(s->base, s->size);
    if (s->fd >= 0)
        close(s->fd);
    s->base = NULL;
    s->fd = -1;
}

int seg_unlink(const char *name)
{
    int rc = name_ok(name);
    if (rc)
        return rc;
    if (shm_unlink(name) != 0)
        return sys_err(errno, "removing segment", name);
    return 0;
}
