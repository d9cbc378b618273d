/*
 * seg.h — private to libshmets (not installed): POSIX shared-memory segments.
 *
 * A segment is one /dev/shm object mapped whole at attach: a sparse reservation of
 * `size_max` bytes (ftruncate makes the object that large without backing it), of which the
 * first `committed` bytes are backed by posix_fallocate.  Memory is used only below
 * `committed`, so a full /dev/shm is an error at seg_grow() time, never a SIGBUS later.  The
 * mapping never moves (no mremap): growth only raises `committed`, and every process already
 * maps the whole reservation.  Every link inside a segment is an offset from its base.
 *
 * Layout guarantees (see seg.c):
 *   S.1 A segment starts with struct seg_header: magic, layout version, ABI word, kind, sizes.
 *       seg_attach() checks all of them against fstat() before anything else is read.
 *   S.2 `committed` only grows, under the segment's writer lock; readers may read it at any time.
 *   S.3 A segment is attached read-write only if it belongs to this process's effective uid
 *       or to root: its owner can always write it, so writing into (and trusting the locks and
 *       catalog of) another user's segment would let that user corrupt or stall this process.
 *       The one exception is a group the caller names (seg_attach_grp: an instance's group,
 *       issue 17): a segment of another uid whose group is that one, and which is not
 *       writable by others, is trusted as far as the caller trusts the group's members.
 *   S.4 A segment made for a group (seg_create_grp) is never open to more than its owner
 *       before it is the group's: it is created mode 0600, given to the group (fchown), and
 *       only then given its mode.  A caller that is not in the group gets -SHMETS_EACCES.
 */
#ifndef SHMETS_SEG_H
#define SHMETS_SEG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SEG_MAGIC        0x5354454d48530a31ull     /* "1\nSHMETS" little-endian */
#define SEG_VERSION      4u     /* 2: catalog in the control segment, table segments;
                                   3: ordered_set, heir data and fixes in the table header;
                                   4: etsmgr's managed-table registry in catalog entries;
                                      denser heap classes, hash buckets and object headers */
#define SEG_NAME_MAX     128
#define SEG_PAGE         4096u

enum seg_kind { SEG_CONTROL = 1, SEG_TABLE = 2 };

struct seg_header {
    uint64_t magic;
    uint32_t version;           /* layout version of this file format */
    uint32_t abi;               /* seg_abi(): sizes and offsets of the shared structures */
    uint32_t kind;              /* enum seg_kind */
    uint32_t header_size;       /* bytes of the kind's header, this struct included */
    uint64_t size_max;          /* bytes reserved (the object's size) */
    _Atomic uint64_t committed; /* bytes backed by posix_fallocate (S.2) */
    uint64_t created_ns;        /* CLOCK_REALTIME at creation */
};

/* A process's handle on one mapped segment. */
struct seg {
    int fd;
    unsigned char *base;
    size_t size;                /* size_max, as mapped */
    int writable;
    uid_t uid;                  /* the object's owner, group and mode when it was attached */
    gid_t gid;
    mode_t mode;
    char name[SEG_NAME_MAX];
};

/* The ABI word: a hash of the sizes and offsets of every shared structure, so a library built
 * with a different layout refuses to attach (tables.c and friends add theirs). */
uint32_t seg_abi(void);

/*
 * Create a segment: shm_open(O_CREAT|O_EXCL) with `mode`, reserve size_max bytes, back the
 * first `commit` bytes, write the header, call init(base, arg) (if not NULL) to fill in the
 * kind's header, and only then publish the magic: nobody attaches a half-made segment.  Returns 0, -SHMETS_EEXIST, -SHMETS_ENOMEM (no room in
 * /dev/shm, or address space), -SHMETS_EACCES, -SHMETS_EINVAL, -SHMETS_ESYS.
 */
int seg_create(const char *name, enum seg_kind kind, uint32_t header_size, size_t size_max,
               size_t commit, mode_t mode, void (*init)(unsigned char *base, void *arg), void *arg,
               struct seg *s);
/* As seg_create, the object given to group `gid` before it gets `mode` (S.4); gid (gid_t)-1:
 * no group, as seg_create. */
int seg_create_grp(const char *name, enum seg_kind kind, uint32_t header_size, size_t size_max,
                   size_t commit, mode_t mode, gid_t gid, void (*init)(unsigned char *base, void *arg),
                   void *arg, struct seg *s);

/* Attach read-write or read-only (PROT_READ: a stray write faults in this process only).
 * Returns 0, -SHMETS_ENOENT, -SHMETS_EACCES (also: read-write, and owned by another uid than
 * ours or root's, S.3), -SHMETS_EBADSEG (not a shmets segment, wrong
 * kind, truncated), -SHMETS_EVERSION (another layout version or ABI), -SHMETS_ENOMEM. */
int seg_attach(const char *name, enum seg_kind kind, int writable, struct seg *s);
/* As seg_attach, also trusting for a read-write attach a segment of another uid whose group
 * is `trust` and that others cannot write (S.3); trust (gid_t)-1: seg_attach. */
int seg_attach_grp(const char *name, enum seg_kind kind, int writable, gid_t trust, struct seg *s);

/* Back the segment up to `want` bytes (rounded up to pages).  Caller holds the writer lock.
 * Returns 0, -SHMETS_ENOMEM (size_max reached, or /dev/shm full), -SHMETS_ESYS. */
int seg_grow(struct seg *s, size_t want);

/* Give the whole pages inside [off, off+len) back to the system (fallocate PUNCH_HOLE): they
 * read as zeros afterwards.  Before such a range is written again it must be backed again
 * with seg_back(), or a write to it could SIGBUS on a full /dev/shm.  Returns 0 or
 * -SHMETS_ESYS. */
int seg_punch(struct seg *s, size_t off, size_t len);

/* Back [off, off+len) again after seg_punch().  Returns 0, -SHMETS_ENOMEM (/dev/shm full) or
 * -SHMETS_ESYS. */
int seg_back(struct seg *s, size_t off, size_t len);

void seg_detach(struct seg *s);
/* Remove the name; mappings stay valid until detached.  Returns 0 or -SHMETS_ENOENT. */
int seg_unlink(const char *name);

static inline struct seg_header *seg_hdr(const struct seg *s) { return (struct seg_header *)s->base; }

/* Pointer for an offset, or NULL when [off, off+len) is not inside the committed part. */
static inline void *seg_ptr(const struct seg *s, uint64_t off, uint64_t len)
{
    uint64_t c = atomic_load_explicit(&seg_hdr(s)->committed, memory_order_acquire);
    if (off > c || len > c - off)
        return NULL;
    return s->base + off;
}

#endif
