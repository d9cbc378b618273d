/*
 * mgr.h — private to the etsmgr daemon (not installed).  The daemon's state and the five
 * parts that share it: main.c (socket, the event loop, which dispatches), serve.c (one request
 * in, one reply out: mgr_handle), watch.c (who is watched by pidfd, and what a death does),
 * events.c (what followers are told), conn.c (connections, messages, the log: it moves bytes
 * and calls none of the others) and reclaim.c (the background reclaimer of quiet tables, a
 * thread that calls the library only).  main.c calls them all; serve.c calls watch.c,
 * events.c and conn.c; watch.c calls events.c and conn.c; events.c and reclaim.c call conn.c.
 * See main.c for the design and the threat model.
 */
#ifndef SHMETS_MGR_H
#define SHMETS_MGR_H

#include "etsmgr/mgr_proto.h"
#include "mem/rcu.h"
#include "store/tab.h"
#include "shmets.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MGR_CLIENTS_MAX   1024          /* connections at once; more are closed at accept */
#define MGR_OUTQ_BYTES    (4u << 20)    /* a client's unsent packets; past it, it is dropped */
#define MGR_PENDING_MAX   4096          /* messages held for processes not connected */
#define MGR_PENDING_BYTES (16u << 20)   /* and their bytes (4096 gifts of 128 KiB were 512 MiB) */
#define MGR_WATCH_MAX     65536         /* processes watched by pidfd */

/* Who sent a request: from SO_PEERCRED and the connection's pidfd, never from the packet. */
struct mgr_peer {
    pid_t pid;
    uid_t uid;
    gid_t gid;
    uint64_t inc;
};

struct mgr_pkt {
    struct mgr_pkt *next;
    uint64_t xfer;                      /* CATM_XFER of this table to clear once sent, or 0 */
    size_t len;
    unsigned char buf[];
};

/* A message for a process with no connection yet (delivered when it connects). */
struct mgr_pending {
    struct mgr_pending *next;
    pid_t pid;
    uint64_t inc;
    uint64_t tab;                       /* CATM_XFER to clear once delivered, or 0 */
    struct mgr_pkt *pkt;
};

struct mgr_client {
    int fd;
    struct mgr_peer peer;
    struct mgr_pkt *outq, **outq_tail;
    size_t outq_bytes;
    int dead;                           /* to be closed by the loop */
    int follows;                        /* asked for the events (events.c) */
    struct mgr_client *next;
};

/* A process watched by pidfd: an owner from the catalog, a reader from the registry, or a
 * client.  When its pidfd turns readable, watch.c applies the death rules. */
struct mgr_watch {
    pid_t pid;
    uint64_t inc;
    int pidfd;
};

struct mgr {
    shmets *db;                         /* the instance, opened by the daemon */
    struct ctl *c;                      /* &db->c */
    pid_t self;
    uint64_t self_inc;
    int epfd;                           /* -1 when driven without sockets (fuzzing) */
    struct mgr_client *clients;
    unsigned nclients;
    struct mgr_pending *pending;
    unsigned npending;
    size_t pending_bytes;
    struct mgr_watch *watch;
    unsigned nwatch, capwatch;
    uint32_t seen_gen;                  /* catalog generation of the last scan */
    int scan_now;                       /* rescan at the next tick */
    uint64_t transfers, deletions;      /* counts for the log */
    int follow_req;                     /* set by mgr_handle: the request was `follow` */
    int stop_req;                       /* set by mgr_handle: the request was `stop` (allowed) */
};

#define MGR_TAG_CLIENT (3ull << 56)     /* epoll data of a connection: tag | fd */

/* conn.c: the log (an sd-daemon priority prefix, "<6>" ..., on stderr; mgr_log_inst names
 * the instance) and the connections. */
extern const char *mgr_log_inst;
void mgr_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Accept one connection: the new client, and its pidfd in *pidfd (for mgr_watch_add), or
 * NULL when there is none or it was refused. */
struct mgr_client *mgr_client_accept(struct mgr *m, int lfd, int *pidfd);
/* One packet the client sent (valid until the next call), or NULL: none now, or the
 * connection ended (cl->dead set). */
const unsigned char *mgr_client_recv(struct mgr_client *cl, size_t *len);
/* Queue a packet (copied) on the client's connection (xfer: the table of an ETS-TRANSFER it
 * carries, or 0). */
int mgr_client_send(struct mgr *m, struct mgr_client *cl, const unsigned char *buf, size_t len, uint64_t xfer);
void mgr_client_flush(struct mgr *m, struct mgr_client *cl);
void mgr_client_close(struct mgr *m, struct mgr_client *cl);
struct mgr_client *mgr_client_of(struct mgr *m, int fd);

/* serve.c: one request (ETF bytes) from peer to one reply (malloc'd ETF bytes, {reply, R}).
 * Never fails for bad input: bad input gets {reply, {error, Reason}}.  Returns 0, or a
 * negative code when no reply could be made (out of memory): the caller drops the client. */
int mgr_handle(struct mgr *m, const struct mgr_peer *peer, const unsigned char *req, size_t len,
               unsigned char **reply, size_t *rlen);

/* conn.c: queue a packet (ETF bytes, copied) for process (pid, inc): on its connection, or
 * held until it connects.  Returns 1 if put on a connection, 0 if held, <0 if dropped. */
int mgr_post(struct mgr *m, pid_t pid, uint64_t inc, const unsigned char *buf, size_t len, uint64_t xfer_tab);
/* Deliver the packets held for peer (it just connected). */
void mgr_deliver_held(struct mgr *m, const struct mgr_peer *peer);
/* Is an ETS-TRANSFER of table id for peer queued on one of its connections, or held? */
int mgr_xfer_waiting(struct mgr *m, const struct mgr_peer *peer, uint64_t id);

/* watch.c */
/* Scan the catalog and the reader registry: watch every owner and reader not yet watched,
 * and apply the death rules to owners found dead. */
void mgr_scan(struct mgr *m);
/* Watch (pid, inc) (from a pidfd the caller gives, or opened here when pidfd < 0).
 * Returns 0, or -SHMETS_ENOENT if it is dead already (pidfd is closed either way on error). */
int mgr_watch_add(struct mgr *m, pid_t pid, uint64_t inc, int pidfd);
/* The watched process at index i died: apply the death rules, forget it. */
void mgr_watch_dead(struct mgr *m, unsigned i);
/* Apply the rules for a dead owner to one table (entry as copied from the catalog). */
void mgr_owner_dead(struct mgr *m, const struct cat_entry *e);
/* The message {'ETS-TRANSFER', Tab, FromPid, Data} for table e with the data given, or the
 * heir's data read from the table when data is NULL. */
int mgr_transfer_msg(struct mgr *m, const struct cat_entry *e, pid_t from, const shmets_term *data,
                     unsigned char **buf, size_t *len);
/* Deliver what waits for peer, which just connected: the packets held for it, then the
 * ETS-TRANSFERs the catalog records for it (CATM_XFER) that are not queued yet. */
void mgr_deliver_pending(struct mgr *m, const struct mgr_peer *peer);
/* The uid of a live process (for the table segment's owner), or -1. */
int mgr_proc_uid(pid_t pid, uid_t *uid, gid_t *gid);
/* Make table id's segment belong to uid/gid (the daemon runs as root: a new owner of another
 * uid can then map it writable).  Best effort. */
void mgr_chown_table(struct mgr *m, uint64_t id, uid_t uid, gid_t gid);

/* events.c: {event, {What, Tab, P1[, P2]}} (p2 0: none) and {event, {What, Pid}} to every
 * connection that follows (asked with `follow`). */
void mgr_event_tab(struct mgr *m, const char *what, const struct cat_entry *e, pid_t p1, pid_t p2);
void mgr_event_pid(struct mgr *m, const char *what, pid_t pid);

/* reclaim.c: the background reclaimer's thread (started once the instance is open; stop
 * returns -1 if it could not be joined within 2 s: it waits for a table lock). */
void mgr_reclaimer_start(struct mgr *m);
int  mgr_reclaimer_stop(void);

#endif
