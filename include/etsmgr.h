/*
 * etsmgr.h — the client side of etsmgr, the supervisor daemon of a shmets instance.
 *
 * OVERVIEW
 * A table belongs to one process, its owner, as in ETS.  When the owner dies, etsmgr (one
 * daemon per instance, `etsmgr --instance NAME`, see etsmgr(8)) applies ETS's rules: a live
 * heir inherits the table and receives {'ETS-TRANSFER', Tab, FromPid, HeirData}; a table that
 * a client registered with etsmgr (new_table/add_table, the calls of Fred Youhanaie's etsmgr)
 * becomes etsmgr's (owner: the daemon's pid), data intact, until its client comes back and
 * calls etsmgr_new_table or etsmgr_add_table again, which gives it back; any other table is
 * deleted.  While its client lives, a managed table's heir is etsmgr, unless the client named
 * another (itself included, as ETS keeps {heir, self(), Data}).  Readers that die have their reader slots cleared.  Owners and heirs are
 * (pid, incarnation): a process that reuses a dead process's pid is never taken for it.
 * Tables stay readable and writable while etsmgr is down; a restarted etsmgr re-adopts every
 * table and owner (the registry is in the instance's shared memory) and applies the rules to
 * owners that died meanwhile.
 *
 * Processes are named as Erlang pids <0.N.0>, N the OS pid (shmets_build_pid).  Messages to a
 * process (today only ETS-TRANSFER) arrive on its connection: read them with
 * etsmgr_next_event(), and wait for them by polling etsmgr_fd().
 *
 * CONNECTION: one per process and instance.  etsmgr_connect() returns the process's
 * connection for the instance, making it on first use; when no daemon answers it starts one
 * (as gpg-agent is started), unless opts.no_autostart or the environment variable
 * SHMETS_NO_AUTOSTART=1 says not to.  The daemon binary is opts.etsmgr_path, else
 * $SHMETS_ETSMGR, else `etsmgr` next to the calling program, else `etsmgr` in PATH; it is
 * started detached (its own session, stdin/stdout/stderr on /dev/null), with the runtime
 * directory the client uses and --idle-exit (opts.idle_exit_s): a daemon started so exits
 * once nothing needs it for that long (no connection, no table of a live process, no reader;
 * see etsmgr(8)), and any daemon exits when its instance is destroyed.  The socket is <runtime dir>/<instance>.sock, the runtime dir
 * being opts.runtime_dir, else $SHMETS_RUNTIME_DIR, else $XDG_RUNTIME_DIR/shmets, else
 * /run/shmets for root.  If the daemon goes away the next call reconnects (and may start
 * one); a call that was waiting for its reply gets -SHMETS_ESYS.
 *
 * ERRORS: every call returns 0 or a negative SHMETS_E… code; shmets_errdetail() says more,
 * and for a refusal by the daemon it holds the daemon's reason as Erlang text.  The daemon's
 * refusals map to: not_owner -SHMETS_EOWNER, name_conflict -SHMETS_EEXIST, not_found
 * -SHMETS_ENOENT, dead_receiver -SHMETS_ENOENT, badarg -SHMETS_EINVAL, too_big
 * -SHMETS_ETOOBIG, any other -SHMETS_ESYS.  No daemon and no autostart: -SHMETS_ENOENT.
 *
 * THREADS: a connection may be shared by the threads of its process; calls on it are
 * serialised.  After fork() the child gets a connection of its own at its first call (the
 * daemon knows a connection's process from the kernel, so a child must not use its parent's).
 *
 * CAVEATS
 * - A process's table handles carry the rights it had when it attached: after it inherits a
 *   table or is given one (ETS-TRANSFER), it attaches the table again (shmets_attach) to
 *   write it as owner.
 * - Messages for a process that is not connected are held by the daemon (up to 4096) and
 *   delivered when it connects; if the daemon restarts meanwhile, give_away's messages are
 *   lost but an inheritance's is not (it is rebuilt from the catalog).
 * - An heir that inherits a table before it ever connected is the owner at once; the message
 *   tells it so when it connects.
 * - A packet holds at most 128 KiB: a request larger than that (a give_away's GiftData) gets
 *   -SHMETS_ETOOBIG, and an heir whose HeirData would not fit receives {too_big, Bytes} in its
 *   place, Bytes the size the message would have had (the table itself is whole).
 * - A table is managed under one name: add_table of a managed table under another name
 *   renames its entry.
 */
#ifndef SHMETS_ETSMGR_H
#define SHMETS_ETSMGR_H

#include "shmets.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct etsmgr etsmgr;

typedef struct etsmgr_opts {
    const char *runtime_dir;        /* NULL: see CONNECTION */
    const char *etsmgr_path;        /* NULL: see CONNECTION */
    bool no_autostart;              /* never start a daemon (also SHMETS_NO_AUTOSTART=1) */
    int timeout_ms;                 /* a call's wait for its reply, and for a started daemon;
                                       0: 5000 */
    int idle_exit_s;                /* a daemon this process starts exits after this many
                                       seconds with no connection, no process to watch and no
                                       message held (etsmgr --idle-exit); 0: $SHMETS_ETSMGR_IDLE,
                                       else ETSMGR_IDLE_EXIT_DEFAULT; <0 (or the variable 0):
                                       never */
} etsmgr_opts;

#define ETSMGR_IDLE_EXIT_DEFAULT 60

void etsmgr_opts_init(etsmgr_opts *o);

/*
 * The calling process's connection to the etsmgr of db's instance (made, and the daemon
 * started, if need be; see CONNECTION).  Each successful call takes a reference that
 * etsmgr_disconnect() releases; db must stay open while the connection is used.  opts are
 * read at the first connect only (NULL: defaults).
 * Returns 0, -SHMETS_ENOENT (no daemon, and none started), -SHMETS_EINVAL (path too long),
 * -SHMETS_ENOMEM, -SHMETS_ESYS.  Thread-safe.
 */
int etsmgr_connect(shmets *db, const etsmgr_opts *opts, etsmgr **m);
/* Release a reference; the last closes the connection (held events are dropped). */
void etsmgr_disconnect(etsmgr *m);
/* The connection's fd, readable when a packet (a message) arrives: for poll/epoll.  Then call
 * etsmgr_next_event(m, 0, ...).  The fd changes if the connection is remade; -1 if none. */
int etsmgr_fd(etsmgr *m);
/* The daemon's OS pid (from its replies), 0 before the first reply. */
pid_t etsmgr_daemon_pid(etsmgr *m);
/* Whether this connection speaks to a daemon this process autostarted. */
bool etsmgr_autostarted(etsmgr *m);
/* Ask the daemon to exit (the request `stop`; tables stay, as after SIGTERM).  Only a process
 * of the daemon's uid, or root.  Returns 0, -SHMETS_EOWNER, -SHMETS_ESYS. */
int etsmgr_stop(etsmgr *m);

/*
 * etsmgr:new_table/4: the table managed as `name`.  Unknown name: a new table named ets_name
 * with ETS options `opts` (a list, as ets:new/2 takes: kind, protection, named_table,
 * {keypos,K}, {heir,Pid,Data}, {read_concurrency,B}, {write_concurrency,B}, compressed,
 * {decentralized_counters,B}), owned by the caller, heir set in the same step.  Known, and
 * its client dead or the caller: the caller owns it again, data intact (ets_name and the
 * kind options are then ignored; the heir option applies: its pid at once, its data right
 * after, so an owner that dies in between leaves its heir [] as data).  No heir option (or a
 * dead heir): etsmgr is the heir.  {heir, self(), Data} is kept, as ETS keeps it.
 *   *id  the table's id (shmets_attach).
 * A known name whose owner died with a live heir goes to the heir first (as in ETS), and is
 * then in conflict with it.
 * Returns 0, -SHMETS_EEXIST (the name's client, or the table's owner, is another live
 * process), -SHMETS_EOWNER (a known name's table belongs to another uid than the caller's),
 * -SHMETS_EINVAL (bad name or options), and a table's creation errors.
 */
int etsmgr_new_table(etsmgr *m, const char *name, const char *ets_name, shmets_term opts, uint64_t *id);
/* etsmgr:add_table/3: have table id, owned by the caller, managed as `name` (again after an
 * etsmgr restart: a no-op then); with no live heir, etsmgr becomes its heir.  A table etsmgr
 * keeps for a dead client is given back to a caller of its uid.  Returns 0, -SHMETS_EOWNER
 * (the caller does not own it, and it is no dead client's table of the caller's uid),
 * -SHMETS_EEXIST (another table is managed as name), -SHMETS_ENOENT (no such table). */
int etsmgr_add_table(etsmgr *m, const char *name, uint64_t id);
/* etsmgr:del_table/2: forget `name` (the table stays its owner's).  Only its registered client
 * or the table's owner; an entry whose table segment is gone is removed for anyone.  Returns 0,
 * -SHMETS_EOWNER (not_owner), -SHMETS_ENOENT (no table managed as name). */
int etsmgr_del_table(etsmgr *m, const char *name);
/* etsmgr:info/1: a map Name => #{tab, ets_name, owner (pid, etsmgr's while the client is
 * dead; none: dead), client, client_alive, heir (pid or none), type, protection} of every
 * managed table.  Free *info with
 * shmets_term_free(). */
int etsmgr_info(etsmgr *m, shmets_term *info);
/* ets:give_away/3: table id to process `to`, which receives {'ETS-TRANSFER', Tab, Self,
 * gift}.  Only the owner; `to` alive and not the caller; the heir stays.  Returns 0,
 * -SHMETS_EOWNER, -SHMETS_EINVAL (to is the caller, or etsmgr), -SHMETS_ENOENT (no such
 * table, or `to` is dead). */
int etsmgr_give_away(etsmgr *m, uint64_t id, pid_t to, shmets_term gift);
/* ets:setopts(Tab, {heir, Heir, Data}) (heir 0: {heir, none}): only the owner.  Done in the
 * calling process (the heir is recorded in the catalog and the table, where etsmgr reads it
 * when the owner dies), so it needs no daemon.  Returns 0, -SHMETS_EOWNER, -SHMETS_ENOENT. */
int etsmgr_setopts_heir(shmets *db, uint64_t id, pid_t heir, const shmets_term *data);

/* Any request term, as the socket protocol defines it (mgr/serve.c): *reply gets R of the
 * daemon's {reply, R}, {error, Reason} included (returns 0 then).  Free with
 * shmets_term_free(). */
int etsmgr_call(etsmgr *m, shmets_term request, shmets_term *reply);

/*
 * EVENTS: etsmgr_follow(m) asks the daemon for the events of the whole instance; from then on
 * etsmgr_next_event also returns them, one term each, as they happen (`shmets events` prints
 * them), the first element naming the event and more elements possibly following in later
 * versions:
 *   {owner_dead, Tab, Pid}              table Tab's owner Pid died (what follows is one of:)
 *   {inherited, Tab, FromPid, HeirPid}  its live heir inherited it (and got ETS-TRANSFER)
 *   {kept, Tab, ClientPid}              a managed table: etsmgr owns it until ClientPid's
 *                                       successor calls etsmgr_new_table/etsmgr_add_table
 *   {deleted, Tab, Pid}                 no heir, not managed: deleted
 *   {given_back, Tab, ClientPid}        a kept table went back to its client
 *   {client_up, Pid}, {client_down, Pid}  a connection of process Pid opened, closed
 * Each happens once (a daemon restarted meanwhile may repeat a kept).  When the daemon stops,
 * etsmgr_next_event returns -SHMETS_ENOENT ("etsmgr stopped") instead of reconnecting; the
 * next call reconnects (unfollowed).  The process's own messages (ETS-TRANSFER) come in the
 * same stream.  A follower that does not read is dropped as any client (4 MiB unsent).
 * Returns 0, -SHMETS_ENOENT (no daemon), -SHMETS_ESYS.
 */
int etsmgr_follow(etsmgr *m);

/*
 * The next message for this process, e.g. {'ETS-TRANSFER', Tab, FromPid, Data}: messages
 * that arrived during calls first, then the socket, waiting up to timeout_ms (0: do not
 * wait; -1: for ever).  A connection the daemon closed is remade (so an inheritance held
 * for this process arrives).  Returns 0 and *msg (free with shmets_term_free()),
 * -SHMETS_EAGAIN (none within the timeout), -SHMETS_ENOENT (no daemon), -SHMETS_ESYS.
 */
int etsmgr_next_event(etsmgr *m, int timeout_ms, shmets_term *msg);

#ifdef __cplusplus
}
#endif

#endif
