/*
 * main.c — etsmgr, the supervisor daemon of one shmets instance (DESIGN.md §7).
 *
 *   etsmgr --instance NAME [--runtime-dir DIR] [--group GROUP] [--idle-exit SECONDS]
 *
 * WHAT IT DOES: it holds a pidfd on every process that owns a table, reads through the reader
 * registry, or talks to it, and when one dies it applies ETS's rules: the heir inherits and is
 * told ({'ETS-TRANSFER', ...}), a managed table waits for its client, anything else is deleted;
 * a dead reader's slots are cleared (watch.c).  Over a socket it serves the original etsmgr's
 * calls and ETS's give_away (serve.c).  Readers and writers never need it: it may be killed at
 * any time, and the next one re-adopts every table and owner from the control segment, where
 * the registry lives, and applies the rules to owners that died meanwhile.
 *
 * LIFETIME: it runs until SIGTERM/SIGINT/SIGHUP, a `stop` request from its uid (serve.c),
 * the destruction of its instance (the control segment unlinked: checked every second), or,
 * with --idle-exit S (which autostart passes, include/etsmgr.h), S seconds with no
 * connection, no process to watch and no message held.  Tables never need it to run.  It
 * removes its socket and pid file on exit, and its lock file too when the instance is gone.
 *
 * STRUCTURE: one thread, one epoll loop over the listening socket, every connection, every
 * watched pidfd and a signalfd; a 100 ms tick rescans the catalog when it changed and the
 * reader registry.  A second thread reclaims quiet tables' deleted memory (reclaim.c).  Requests go through mgr_handle (serve.c), a function from (state, peer,
 * bytes) to reply bytes that a fuzz target can drive without sockets.  The socket is
 * SOCK_SEQPACKET: one ETF term per packet, at most MGR_PACKET_MAX bytes; a larger one is
 * answered {error, too_big} (MSG_TRUNC tells its size), a malformed one {error, bad_term}.
 * Each connection reads at most 32 packets per wakeup, and while its replies are unsent it is
 * not read at all (it waits for EPOLLOUT), so a client that floods without reading stalls only
 * itself; past MGR_OUTQ_BYTES of unsent packets it is dropped.  Socket activation: a socket
 * passed by systemd (sd_listen_fds) is used as is; readiness is sd_notify("READY=1").
 *
 * THREAT MODEL.  Between uids shmets protects: the socket is 0600 (0660 with --group), so only
 * the daemon's uid (and the group) can ask anything; table segments are 0644 (0600 private)
 * and belong to their owner's uid (the daemon, as root, chowns a segment to its new owner on
 * every transfer), so the kernel stops another uid from writing a table it does not own or
 * reading a private one.  With --group the instance itself is shared with the group (issue
 * 17: the daemon opens it with shmets_open_ex's group, making it so if it is new, and refuses
 * to serve an instance made without that group): its segments are the group's, public 0660,
 * protected 0640, private 0600, and a transfer keeps them in the group; a client of another
 * uid is served by the rules below, which go by the kernel's word on who it is (SO_PEERCRED)
 * and by the table's owner, never by the group alone.  A client is known by the kernel's
 * SO_PEERCRED and held by pidfd (SO_PEERPIDFD, else pidfd_open checked against the start
 * time), never by what it says, so
 * no client can delete, give away or take over (new_table on a live client's name) a table
 * whose owner or registered client it is not, whatever its uid, and a dead owner's pid reused
 * by another process is never taken for it (owners and heirs are (pid, incarnation)).
 * Malformed, oversized or flooding input gets an error or a closed connection, never a crash
 * or a stall for other clients; connections, watched processes and held messages are bounded.
 * A client allowed on the socket can still make tables (new_table) until the instance's
 * catalog is full: give the socket's group only to processes trusted that far.
 * What it cannot protect between processes of ONE uid: such a process can open, map and write
 * the segments themselves (including the control segment and its catalog), ptrace the owner,
 * or pass its connection to another process (which is then taken for the first), or stop
 * (SIGSTOP) while it holds the catalog's lock, which stalls the daemon with every other
 * process that needs the catalog until it runs again.  The owner
 * rule between processes of one uid is a convention the library keeps, as in ETS within one
 * VM; put mutually distrusting parties under different uids.
 *
 * CRASH: the daemon holds nothing the next one needs: the catalog and the tables are in shared
 * memory; the socket and lock files are remade (a stale socket is unlinked while the lock,
 * flock'd for the daemon's life, shows no daemon runs).  Messages held for processes that have
 * not connected are lost with it, except inheritances, which CATM_XFER in the catalog keeps.
 */
#include "mgr.h"
#include "base/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#define TAG_MASK   (0xffull << 56)
#define TAG_LISTEN (1ull << 56)
#define TAG_WATCH  (2ull << 56)
#define TAG_CLIENT MGR_TAG_CLIENT
#define TAG_SIGNAL (4ull << 56)
#define TICK_MS 100
#define FULL_SCAN_TICKS 20
#define READS_PER_WAKEUP 32

/* ---- the socket --------------------------------------------------------------------------- */

static int mkdirs(const char *dir)
{
    char p[MGR_PATH_MAX * 2];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = 0;
            mkdir(p, 0755);
            *s = '/';
        }
    }
    return mkdir(p, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static int listen_socket(const char *sock, const char *group, int *made)
{
    *made = 0;
    int n = sd_listen_fds(1);
    if (n > 1) {
        mgr_log(3, "systemd passed %d sockets; one is wanted", n);
        return -1;
    }
    if (n == 1) {
        int fd = SD_LISTEN_FDS_START;
        if (sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0) <= 0) {
            mgr_log(3, "the socket systemd passed is not a listening SOCK_SEQPACKET Unix socket");
            return -1;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        mgr_log(6, "listening on the socket systemd passed");
        return fd;
    }
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof a.sun_path, "%s", sock);
    unlink(sock);                   /* stale: we hold the lock, so no daemon serves it */
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&a, sizeof a);
    umask(old);
    if (rc || listen(fd, 128)) {
        mgr_log(3, "bind/listen %s: %s", sock, strerror(errno));
        close(fd);
        return -1;
    }
    *made = 1;
    if (group) {
        struct group *g = getgrnam(group);
        char *end;
        unsigned long num = strtoul(group, &end, 10);
        gid_t gid = g ? g->gr_gid : (gid_t)num;
        if (!g && (!*group || *end || num >= (gid_t)-1))
            g = NULL, gid = (gid_t)-1;  /* neither a name nor a decimal gid */
        if (gid == (gid_t)-1 || chown(sock, (uid_t)-1, gid) || chmod(sock, 0660)) {
            mgr_log(3, "group %s for %s: %s", group, sock, gid != (gid_t)-1 ? strerror(errno) : "no such group");
            close(fd);
            unlink(sock);
            return -1;
        }
    }
    mgr_log(6, "listening on %s", sock);
    return fd;
}

/* The event loop dispatches; conn.c only moves bytes.  A new client: watch it (its pidfd),
 * then deliver what waits for it. */
static void client_accept(struct mgr *m, int lfd)
{
    int pidfd;
    struct mgr_client *cl = mgr_client_accept(m, lfd, &pidfd);
    if (!cl)
        return;
    struct mgr_peer peer = cl->peer;
    mgr_watch_add(m, peer.pid, peer.inc, pidfd);
    mgr_log(7, "client %d (uid %d) connected", (int)peer.pid, (int)peer.uid);
    mgr_event_pid(m, "client_up", peer.pid);
    mgr_deliver_pending(m, &peer);
}

/* A client's requests: at most READS_PER_WAKEUP a wakeup, none while its replies wait (a
 * flood stalls only its sender); each gets its reply from mgr_handle. */
static void client_read(struct mgr *m, struct mgr_client *cl)
{
    for (int k = 0; k < READS_PER_WAKEUP && !cl->dead && !cl->outq; k++) {
        size_t n;
        const unsigned char *req = mgr_client_recv(cl, &n);
        if (!req)
            return;
        unsigned char *reply;
        size_t rlen;
        if (mgr_handle(m, &cl->peer, req, n, &reply, &rlen)) {
            cl->dead = 1;
            return;
        }
        mgr_client_send(m, cl, reply, rlen, 0);
        free(reply);
        if (m->follow_req)
            cl->follows = 1;
        m->follow_req = 0;
        if (m->stop_req)
            return;
    }
}

static void usage(void)
{
    fputs("usage: etsmgr --instance NAME [--runtime-dir DIR] [--group GROUP] [--idle-exit SECONDS]\n", stderr);
}

/* Is the instance's control segment still there?  shmets_destroy_instance unlinks it: a
 * daemon of a destroyed instance has nothing left to serve. */
static int instance_exists(struct mgr *m)
{
    char path[SEG_NAME_MAX + 16];
    struct stat st;
    snprintf(path, sizeof path, "/dev/shm%s", m->c->s.name);
    return stat(path, &st) == 0;
}

/* Nothing to do: no connection, no message held for anyone, no table owned by a live
 * process but the daemon, and no reader slot of a live process.  (A process once watched
 * stays in m->watch until it dies, so the watch list is not the measure.) */
static int idle(struct mgr *m)
{
    if (m->clients || m->pending)
        return 0;
    struct cat_entry *v;
    uint32_t n;
    if (cat_snapshot(m->c, &v, &n))
        return 0;
    int busy = 0;
    for (uint32_t i = 0; i < n && !busy; i++)
        busy = !(v[i].owner_pid == m->self && v[i].owner_inc == m->self_inc) &&
               proc_alive(v[i].owner_pid, v[i].owner_inc);
    free(v);
    struct rcu_registry *reg = &m->c->h->reg;
    uint32_t hw = atomic_load(&reg->hiwater);
    for (uint32_t i = 0; i < hw && i < rcu_nslots(reg) && !busy; i++) {
        int32_t pid = atomic_load(&reg->slots[i].pid);
        busy = pid > 0 && proc_alive(pid, atomic_load(&reg->slots[i].incarnation));
    }
    return !busy;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        { "instance", required_argument, 0, 'i' }, { "runtime-dir", required_argument, 0, 'r' },
        { "group", required_argument, 0, 'g' }, { "idle-exit", required_argument, 0, 'x' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    const char *inst = NULL, *rdir = NULL, *group = NULL;
    long idle_exit_ms = 0;              /* 0: never */
    int o;
    char *end;
    while ((o = getopt_long(argc, argv, "i:r:g:x:h", lo, NULL)) != -1) {
        switch (o) {
        case 'i': inst = optarg; break;
        case 'r': rdir = optarg; break;
        case 'g': group = optarg; break;
        case 'x':
            idle_exit_ms = (long)(strtod(optarg, &end) * 1000);
            if (end == optarg || *end || idle_exit_ms < 0) {
                usage();
                return 2;
            }
            break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (!inst || optind != argc) {
        usage();
        return 2;
    }
    mgr_log_inst = inst;
    setvbuf(stderr, NULL, _IOLBF, 0);
    char dir[MGR_PATH_MAX * 2], sock[MGR_PATH_MAX], lockp[MGR_PATH_MAX], pidp[MGR_PATH_MAX];
    if (mgr_runtime_dir(rdir, dir, sizeof dir) || mgr_path(dir, inst, "sock", sock, sizeof sock) ||
        mgr_path(dir, inst, "lock", lockp, sizeof lockp) || mgr_path(dir, inst, "pid", pidp, sizeof pidp)) {
        mgr_log(3, "%s", shmets_errdetail());
        return 1;
    }
    int activated = sd_listen_fds(0) > 0;
    if (mkdirs(dir) && !activated) {
        mgr_log(3, "mkdir %s: %s", dir, strerror(errno));
        return 1;
    }
    int lockfd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lockfd >= 0 && flock(lockfd, LOCK_EX | LOCK_NB)) {
        mgr_log(5, "another etsmgr serves instance %s already", inst);
        return activated ? 1 : 0;
    }
    if (lockfd < 0 && !activated) {
        mgr_log(3, "lock %s: %s", lockp, strerror(errno));
        return 1;
    }

    /* A pidfd per watched process: as many descriptors as the hard limit allows. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct mgr m = { .epfd = -1 };
    /* --group names the instance's group too: the daemon makes (or opens) the instance shared
     * with it, so that the group's processes it serves can open it (include/shmets.h). */
    shmets_open_opts oo;
    shmets_open_opts_init(&oo);
    oo.group = group;
    int rc = shmets_open_ex(inst, &oo, &m.db);
    if (rc) {
        mgr_log(3, "instance %s: %s (%s)", inst, shmets_strerror(rc), shmets_errdetail());
        return 1;
    }
    m.c = &m.db->c;
    m.self = getpid();
    m.self_inc = proc_self_incarnation();
    m.epfd = epoll_create1(EPOLL_CLOEXEC);
    int made;
    int lfd = listen_socket(sock, group, &made);
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    sigaddset(&ss, SIGHUP);
    sigprocmask(SIG_BLOCK, &ss, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
    if (m.epfd < 0 || lfd < 0 || sfd < 0) {
        mgr_log(3, "cannot set up the event loop: %s", strerror(errno));
        return 1;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_LISTEN };
    epoll_ctl(m.epfd, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.u64 = TAG_SIGNAL;
    epoll_ctl(m.epfd, EPOLL_CTL_ADD, sfd, &ev);
    FILE *pf = fopen(pidp, "we");
    int wrote_pid = pf != NULL;
    if (pf) {
        fprintf(pf, "%d\n", (int)m.self);
        fclose(pf);
    }

    /* Re-adopt: watch every owner and reader; owners that died while no daemon ran get the
     * death rules now. */
    m.scan_now = 1;
    mgr_scan(&m);
    mgr_reclaimer_start(&m);
    mgr_log(6, "etsmgr %d serves instance %s", (int)m.self, inst);
    sd_notify(0, "READY=1");

    struct timespec last, busy;
    clock_gettime(CLOCK_MONOTONIC, &last);
    busy = last;
    int stop = 0;
    unsigned ticks = 0;
    while (!stop) {
        struct epoll_event evs[64];
        int n = epoll_wait(m.epfd, evs, 64, TICK_MS);
        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64 & TAG_MASK, low = evs[i].data.u64 & 0xffffffffu;
            if (tag == TAG_LISTEN) {
                for (int k = 0; k < 16; k++)
                    client_accept(&m, lfd);
            } else if (tag == TAG_SIGNAL) {
                struct signalfd_siginfo si;
                if (read(sfd, &si, sizeof si) == sizeof si) {
                    mgr_log(6, "signal %u: exiting; tables stay", si.ssi_signo);
                    stop = 1;
                }
            } else if (tag == TAG_WATCH) {
                for (unsigned w = 0; w < m.nwatch; w++) {
                    if (m.watch[w].pid == (pid_t)low) {
                        struct pollfd pfd = { .fd = m.watch[w].pidfd, .events = POLLIN };
                        if (poll(&pfd, 1, 0) > 0) {
                            mgr_watch_dead(&m, w);
                            w--;
                        }
                    }
                }
            } else if (tag == TAG_CLIENT) {
                struct mgr_client *cl = mgr_client_of(&m, (int)low);
                if (!cl)
                    continue;
                if (evs[i].events & EPOLLOUT)
                    mgr_client_flush(&m, cl);
                if (evs[i].events & EPOLLIN)
                    client_read(&m, cl);
                if (m.stop_req) {
                    mgr_client_flush(&m, cl);
                    mgr_log(6, "asked to stop by process %d: exiting; tables stay", (int)cl->peer.pid);
                    stop = 1;
                }
                if (evs[i].events & (EPOLLHUP | EPOLLERR))
                    cl->dead = 1;
            }
        }
        for (struct mgr_client *cl = m.clients, *nx; cl; cl = nx) {
            nx = cl->next;
            if (cl->dead) {
                pid_t pid = cl->peer.pid;
                mgr_client_close(&m, cl);
                mgr_event_pid(&m, "client_down", pid);
            }
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000 >= TICK_MS || m.scan_now) {
            /* Every FULL_SCAN_TICKS a full rescan even if the catalog did not change: an owner
             * that could not be watched (no pidfd left) is found dead this way. */
            if (++ticks % FULL_SCAN_TICKS == 0)
                m.scan_now = 1;
            mgr_scan(&m);
            last = now;
            if (ticks % 10 == 0 && !instance_exists(&m)) {
                mgr_log(6, "instance %s was destroyed: exiting", inst);
                stop = 1;
            }
            /* --idle-exit (autostart passes it): nothing watched, nobody connected for that
             * long.  Tables a dead client left (W.2) need no daemon: the next one keeps them. */
            if (idle_exit_ms > 0) {
                long quiet = (now.tv_sec - busy.tv_sec) * 1000 + (now.tv_nsec - busy.tv_nsec) / 1000000;
                if (m.clients || m.pending || ((ticks % 10 == 0 || quiet >= idle_exit_ms) && !idle(&m))) {
                    busy = now;
                } else if (quiet >= idle_exit_ms) {
                    mgr_log(6, "idle for %ld ms: exiting", idle_exit_ms);
                    stop = 1;
                }
            }
        }
    }
    sd_notify(0, "STOPPING=1");
    while (m.clients)
        mgr_client_close(&m, m.clients);
    while (m.pending) {
        struct mgr_pending *q = m.pending;
        m.pending = q->next;
        free(q->pkt);
        free(q);
    }
    for (unsigned w = 0; w < m.nwatch; w++)
        close(m.watch[w].pidfd);
    free(m.watch);
    if (made)
        unlink(sock);
    if (wrote_pid)
        unlink(pidp);
    if (!instance_exists(&m))
        unlink(lockp);                  /* its instance is gone: no daemon will want the lock */
    if (mgr_reclaimer_stop() == 0)
        shmets_close(m.db);             /* else the reclaimer still uses it: exit leaves it */
    mgr_log(6, "%llu transfer(s), %llu deletion(s); bye", (unsigned long long)m.transfers,
            (unsigned long long)m.deletions);
    return 0;
}
