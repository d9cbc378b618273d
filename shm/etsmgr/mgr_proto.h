/*
 * mgr_proto.h — private to libshmets and etsmgr (not installed): what the etsmgr daemon
 * (mgr/) and its client side (shm/etsmgr/mgr_client.c) share — where the socket is, how a packet
 * looks, how a process's incarnation is read from a pidfd, how table terms and options are
 * read.  See mgr_proto.c.
 */
#ifndef SHMETS_MGR_PROTO_H
#define SHMETS_MGR_PROTO_H

#include "mem/ctl.h"
#include "shmets.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The largest packet either side sends or accepts: one ETF term (131 included). */
#define MGR_PACKET_MAX  (128u << 10)   /* below the default socket buffer (208 KiB) */
#define MGR_PATH_MAX    108            /* sun_path */

/* The directory holding NAME.sock: dir if given (--runtime-dir, SHMETS_RUNTIME_DIR), else
 * $XDG_RUNTIME_DIR/shmets, else /run/shmets for root, else -SHMETS_ENOENT. */
int mgr_runtime_dir(const char *dir, char *out, size_t n);
/* <dir>/<inst>.<suffix> ("sock", "lock"); -SHMETS_EINVAL if it does not fit sun_path. */
int mgr_path(const char *dir, const char *inst, const char *suffix, char *out, size_t n);

/* The incarnation (proc.c's kind) of the process pidfd refers to, whose pid is pid:
 * the pidfs inode, else the start time read while the pidfd shows it alive.
 * -SHMETS_ENOENT if it has exited. */
int mgr_pidfd_inc(int pidfd, pid_t pid, uint64_t *inc);
/* pidfd_open(pid), checked against inc: 0 and *fd, or -SHMETS_ENOENT (dead, or the pid is
 * another process's now), -SHMETS_ESYS. */
int mgr_pidfd_open(pid_t pid, uint64_t inc, int *fd);

/* (pid, inc) names a live process: its pidfd does not show it exited (a zombie is dead,
 * unlike proc_alive's answer).  inc 0 is never alive. */
int mgr_alive(pid_t pid, uint64_t inc);

/* The id of the table a term names: a reference as shmets_id_term makes, or a named table's
 * atom.  -SHMETS_ENOENT (names no table), -SHMETS_ETYPE. */
int mgr_tab_id(struct ctl *c, shmets_term t, uint64_t *id);
/* The term ets:new/2 returns for an entry: its name's atom if named, else its reference. */
int mgr_tid_term(const struct cat_entry *e, shmets_builder *b);
/* An atom's text as a C string (NUL-free, at most CAT_NAME_MAX bytes), or -SHMETS_ETYPE. */
int mgr_atom(shmets_term t, char *out, size_t n);
/* Is t the atom `want`? */
int mgr_atom_is(shmets_term t, const char *want);
/* An Erlang pid <0.N.0> as the OS pid N (> 0), or -SHMETS_ETYPE. */
int mgr_pid_of(shmets_term t, pid_t *pid);

/* Send one term as one packet (MSG_NOSIGNAL).  -SHMETS_ETOOBIG over MGR_PACKET_MAX. */
int mgr_send_term(int fd, shmets_term t);

#endif
