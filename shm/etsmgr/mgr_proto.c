/*
 * mgr_proto.c — what the etsmgr daemon and its clients share (DESIGN.md §7).
 *
 * WIRE: a SOCK_SEQPACKET Unix socket; every packet is one external-term-format term with its
 * leading 131, at most MGR_PACKET_MAX bytes.  A client sends requests (tuples, see
 * include/etsmgr.h and mgr/serve.c) and reads packets that are either {reply, Reply} — one per
 * request, in order — or {event, Msg}, an Erlang-style message sent to the process (today
 * only {'ETS-TRANSFER', Tab, FromPid, Data}).  The daemon knows a client only by the
 * connection's SO_PEERCRED, never by anything the client says.
 *
 * INCARNATIONS: owners and heirs are (pid, incarnation) as proc.c defines it.  A pidfd
 * names one process for good, so the daemon reads the incarnation from the pidfd itself
 * (its pidfs inode, which is what proc_incarnation reads through pidfd_open) and never
 * confuses a dead owner with a process that reuses its pid.  On a kernel without pidfs the
 * start time is read from /proc while the pidfd shows the process alive before and after.
 *
 * Nothing here keeps state; a crash anywhere leaves nothing behind.
 */
#include "etsmgr/mgr_proto.h"
#include "base/proc.h"
#include "base/util.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#define PIDFS_MAGIC 0x50494446

int mgr_runtime_dir(const char *dir, char *out, size_t n)
{
    int k;
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (dir && *dir)
        k = snprintf(out, n, "%s", dir);
    else if (xdg && *xdg)
        k = snprintf(out, n, "%s/shmets", xdg);
    else if (geteuid() == 0)
        k = snprintf(out, n, "/run/shmets");
    else
        return err_set(SHMETS_ENOENT, "no runtime directory: XDG_RUNTIME_DIR is not set and we are not root");
    if (k < 0 || (size_t)k >= n)
        return err_set(SHMETS_EINVAL, "runtime directory path too long");
    return 0;
}

int mgr_path(const char *dir, const char *inst, const char *suffix, char *out, size_t n)
{
    int k = snprintf(out, n, "%s/%s.%s", dir, inst ? inst : "default", suffix);
    if (k < 0 || (size_t)k >= n || (size_t)k >= MGR_PATH_MAX)
        return err_set(SHMETS_EINVAL, "socket path %s/%s.%s is longer than a Unix socket address allows",
                       dir, inst ? inst : "default", suffix);
    return 0;
}

static int exited(int pidfd)
{
    struct pollfd p = { .fd = pidfd, .events = POLLIN };
    return poll(&p, 1, 0) > 0;
}

int mgr_pidfd_inc(int pidfd, pid_t pid, uint64_t *inc)
{
    struct statfs sf;
    struct stat st;
    if (fstatfs(pidfd, &sf) == 0 && sf.f_type == PIDFS_MAGIC && fstat(pidfd, &st) == 0) {
        if (exited(pidfd))
            return err_set(SHMETS_ENOENT, "process %d has exited", (int)pid);
        *inc = (uint64_t)st.st_ino & ~(1ull << 63);
        return 0;
    }
    if (exited(pidfd))
        return err_set(SHMETS_ENOENT, "process %d has exited", (int)pid);
    int rc = proc_incarnation(pid, inc);
    if (rc)
        return rc;
    /* Alive after the read: the start time read is the pidfd's process's. */
    return exited(pidfd) ? err_set(SHMETS_ENOENT, "process %d has exited", (int)pid) : 0;
}

int mgr_pidfd_open(pid_t pid, uint64_t inc, int *fd)
{
    if (pid <= 0)
        return err_set(SHMETS_ENOENT, "no process %d", (int)pid);
    int f = (int)syscall(SYS_pidfd_open, pid, 0);
    if (f < 0)
        return errno == ESRCH ? err_set(SHMETS_ENOENT, "process %d is gone", (int)pid)
                              : err_set(SHMETS_ESYS, "pidfd_open(%d): %s", (int)pid, strerror(errno));
    uint64_t now;
    int rc = mgr_pidfd_inc(f, pid, &now);
    if (rc == 0 && now != inc)
        rc = err_set(SHMETS_ENOENT, "process %d is another process now", (int)pid);
    if (rc) {
        close(f);
        return rc;
    }
    *fd = f;
    return 0;
}

int mgr_alive(pid_t pid, uint64_t inc)
{
    int fd;
    if (pid <= 0 || inc == 0 || mgr_pidfd_open(pid, inc, &fd))
        return 0;
    close(fd);
    return 1;
}

int mgr_atom_is(shmets_term t, const char *want)
{
    const char *s;
    size_t n;
    return shmets_term_get_atom(t, &s, &n) == 0 && n == strlen(want) && memcmp(s, want, n) == 0;
}

int mgr_atom(shmets_term t, char *out, size_t n)
{
    const char *s;
    size_t len;
    if (shmets_term_get_atom(t, &s, &len) || len == 0 || len >= n || len > CAT_NAME_MAX || memchr(s, 0, len))
        return err_set(SHMETS_ETYPE, "a name is a non-empty atom");
    memcpy(out, s, len);
    out[len] = 0;
    return 0;
}

int mgr_pid_of(shmets_term t, pid_t *pid)
{
    uint32_t num;
    if (shmets_term_get_pid(t, &num, NULL, NULL) || num == 0 || num > INT32_MAX)
        return err_set(SHMETS_ETYPE, "a process is a pid <0.N.0>");
    *pid = (pid_t)num;
    return 0;
}

int mgr_tab_id(struct ctl *c, shmets_term t, uint64_t *id)
{
    if (!t.ptr)
        return err_set(SHMETS_ETYPE, "no table");
    struct cat_entry *e = NULL;
    const char *s;
    size_t n;
    int rc;
    if (shmets_term_get_atom(t, &s, &n) == 0) {
        if (!(e = malloc(sizeof *e)))
            return err_set(SHMETS_ENOMEM, "out of process memory");
        rc = cat_find_name(c, s, n, e);
        if (!rc)
            *id = e->id;
        free(e);
        return rc;
    }
    if (shmets_term_type(t) != SHMETS_T_REF)
        return err_set(SHMETS_ETYPE, "a table is named by an atom or a reference");
    char *txt;
    if ((rc = shmets_term_format(t, &txt, NULL)))
        return rc;
    uint64_t a, b, d;
    char end;
    int ok = sscanf(txt, "#Ref<0.%" SCNu64 ".%" SCNu64 ".%" SCNu64 "%c", &a, &b, &d, &end) == 4 && end == '>' &&
             a < (1u << 14) && b <= 0xffffffffu && d < (1u << 18);
    free(txt);
    if (!ok)
        return err_set(SHMETS_ENOENT, "the reference names no table");
    *id = a << 50 | b << 18 | d;
    return 0;
}

int mgr_tid_term(const struct cat_entry *e, shmets_builder *b)
{
    if (e->flags & CAT_NAMED)
        return shmets_build_atom(b, e->name, e->name_len);
    shmets_term r;
    int rc = shmets_id_term(e->id, &r);
    if (rc)
        return rc;
    rc = shmets_build_term(b, r);
    shmets_term_free(&r);
    return rc;
}

static int bool_of(shmets_term t, bool *b)
{
    if (mgr_atom_is(t, "true"))
        return *b = true, 0;
    if (mgr_atom_is(t, "false"))
        return *b = false, 0;
    return -1;
}

static int one_opt(shmets_term opt, shmets_opts *o)
{
    static const struct { const char *name; int kind, access; } atoms[] = {
        { "set", SHMETS_SET, 0 }, { "ordered_set", SHMETS_ORDERED_SET, 0 },
        { "bag", SHMETS_BAG, 0 }, { "duplicate_bag", SHMETS_DUPLICATE_BAG, 0 },
        { "public", 0, SHMETS_PUBLIC }, { "protected", 0, SHMETS_PROTECTED },
        { "private", 0, SHMETS_PRIVATE },
    };
    for (size_t i = 0; i < sizeof atoms / sizeof atoms[0]; i++) {
        if (mgr_atom_is(opt, atoms[i].name)) {
            /* As ETS: the defaults never override a choice made earlier in the list. */
            if (atoms[i].kind && atoms[i].kind != SHMETS_SET)
                o->kind = (enum shmets_kind)atoms[i].kind;
            else if (atoms[i].access && atoms[i].access != SHMETS_PROTECTED)
                o->access = (enum shmets_access)atoms[i].access;
            return 0;
        }
    }
    if (mgr_atom_is(opt, "named_table"))
        return o->named = true, 0;
    if (mgr_atom_is(opt, "compressed"))
        return o->compressed = true, 0;
    size_t n;
    shmets_term tag, v;
    if (shmets_term_tuple_arity(opt, &n) || n < 2 || n > 3 || shmets_term_tuple_element(opt, 1, &tag) ||
        shmets_term_tuple_element(opt, 2, &v))
        return -1;
    if (mgr_atom_is(tag, "heir")) {
        o->heir_data = (shmets_term){ NULL, 0 };
        if (n == 2) {
            o->heir_pid = 0;
            return mgr_atom_is(v, "none") ? 0 : -1;
        }
        pid_t p;
        if (mgr_pid_of(v, &p))
            return -1;
        o->heir_pid = (uint32_t)p;
        return shmets_term_tuple_element(opt, 3, &o->heir_data) ? -1 : 0;
    }
    if (n != 2)
        return -1;
    bool b;
    if (mgr_atom_is(tag, "keypos")) {
        int64_t pos;
        if (shmets_term_get_int64(v, &pos) || pos < 1 || pos > (int64_t)UINT32_MAX)
            return -1;
        o->keypos = (unsigned)pos;
        return 0;
    }
    if (mgr_atom_is(tag, "write_concurrency") && mgr_atom_is(v, "auto"))
        return o->write_concurrency = true, 0;
    if (bool_of(v, &b))
        return -1;
    if (mgr_atom_is(tag, "read_concurrency"))
        return o->read_concurrency = b, 0;
    if (mgr_atom_is(tag, "write_concurrency"))
        return o->write_concurrency = b, 0;
    if (mgr_atom_is(tag, "decentralized_counters"))
        return o->decentralized_counters = b, 0;
    return -1;
}

int shmets_opts_from_term(shmets_term list, shmets_opts *o)
{
    shmets_opts_init(o);
    shmets_list_iter it;
    shmets_term el;
    if (shmets_list_begin(list, &it))
        return err_set(SHMETS_ETYPE, "the options are a proper list");
    int rc;
    while ((rc = shmets_list_next(&it, &el)) == 1 || rc == 0) {
        if (rc == 0)
            break;
        if (one_opt(el, o)) {
            char *txt = NULL;
            shmets_term_format(el, &txt, NULL);
            err_set(SHMETS_ETYPE, "bad table option %s", txt ? txt : "?");
            free(txt);
            return -SHMETS_ETYPE;
        }
    }
    if (rc < 0 || shmets_term_type(it.tail) != SHMETS_T_NIL)
        return err_set(SHMETS_ETYPE, "the options are a proper list");
    return 0;
}

int mgr_send_term(int fd, shmets_term t)
{
    unsigned char *buf;
    size_t len;
    int rc = shmets_term_to_etf(t, &buf, &len);
    if (rc)
        return rc;
    if (len > MGR_PACKET_MAX) {
        free(buf);
        return err_set(SHMETS_ETOOBIG, "a packet of %zu bytes; at most %u", len, MGR_PACKET_MAX);
    }
    ssize_t n;
    do
        n = send(fd, buf, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    int e = errno;
    free(buf);
    if (n < 0)
        return err_set(SHMETS_ESYS, "send to etsmgr: %s", strerror(e));
    return 0;
}
