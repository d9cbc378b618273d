/*
 * conn.c — etsmgr's connections, which move bytes and nothing else: accepting a client
 * (SO_PEERCRED, its pidfd), receiving its packets, its bounded output queue, messages to
 * processes (mgr_post) and the ones held for processes not connected yet, and the log.  It
 * calls neither serve.c nor watch.c: main.c's event loop dispatches (a request to mgr_handle,
 * a new client to mgr_watch_add and mgr_deliver_pending).  main.c has the design and the
 * threat model; this file holds no state of its own but the log's instance name, and is kept
 * apart from main() so that a fuzz target can link serve.c, watch.c and this without a main.
 *
 * An inheritance's ETS-TRANSFER clears the table's CATM_XFER only once it is in the heir's
 * socket (sent, not merely queued): a daemon killed with it queued, or a connection closed
 * with it unsent, leaves CATM_XFER, and the message is made again when the heir connects.
 * Killed between the send and the clearing, the heir gets it twice: at least once, never lost.
 */
#include "mgr.h"
#include "base/proc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

const char *mgr_log_inst = "?";

void mgr_log(int prio, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "<%d>etsmgr[%s]: %s\n", prio, mgr_log_inst, buf);
}

static void client_events(struct mgr *m, struct mgr_client *cl)
{
    /* While replies wait, the connection is not read: a flood stalls only its sender. */
    struct epoll_event ev = { .events = cl->outq ? EPOLLOUT : EPOLLIN,
                              .data.u64 = MGR_TAG_CLIENT | (uint32_t)cl->fd };
    epoll_ctl(m->epfd, EPOLL_CTL_MOD, cl->fd, &ev);
}

void mgr_client_flush(struct mgr *m, struct mgr_client *cl)
{
    int had = cl->outq != NULL;
    while (cl->outq) {
        struct mgr_pkt *p = cl->outq;
        ssize_t n = send(cl->fd, p->buf, p->len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            cl->dead = 1;
            break;
        }
        cl->outq = p->next;
        cl->outq_bytes -= p->len;
        if (p->xfer)                /* in the heir's socket now: the catalog may forget it */
            cat_xfer_done(m->c, p->xfer);
        free(p);
    }
    if (!cl->outq)
        cl->outq_tail = &cl->outq;
    if (m->epfd >= 0 && !cl->dead && had != (cl->outq != NULL))
        client_events(m, cl);
}

/* Queue one packet on a connection (xfer: the table whose CATM_XFER its sending clears, or
 * 0).  0, or -1 if the client had to be dropped. */
int mgr_client_send(struct mgr *m, struct mgr_client *cl, const unsigned char *buf, size_t len, uint64_t xfer)
{
    if (cl->dead)
        return -1;
    if (cl->outq_bytes + len > MGR_OUTQ_BYTES) {
        mgr_log(4, "client %d does not read its replies: dropped", (int)cl->peer.pid);
        cl->dead = 1;
        return -1;
    }
    struct mgr_pkt *p = malloc(sizeof *p + len);
    if (!p) {
        cl->dead = 1;
        return -1;
    }
    p->next = NULL;
    p->xfer = xfer;
    p->len = len;
    memcpy(p->buf, buf, len);
    *cl->outq_tail = p;
    cl->outq_tail = &p->next;
    cl->outq_bytes += len;
    mgr_client_flush(m, cl);
    return cl->dead ? -1 : 0;
}

int mgr_post(struct mgr *m, pid_t pid, uint64_t inc, const unsigned char *buf, size_t len, uint64_t xfer_tab)
{
    for (struct mgr_client *cl = m->clients; cl; cl = cl->next) {
        if (cl->dead || cl->peer.pid != pid || cl->peer.inc != inc)
            continue;
        if (mgr_client_send(m, cl, buf, len, xfer_tab))
            continue;
        return 1;
    }
    struct mgr_pending *q = malloc(sizeof *q);
    struct mgr_pkt *p = malloc(sizeof *p + len);
    if (!q || !p) {
        free(q);
        free(p);
        return -1;
    }
    while (m->pending && (m->npending == MGR_PENDING_MAX || m->pending_bytes + len > MGR_PENDING_BYTES)) {
        /* Drop the oldest (the list's last): bounded memory for processes that never come. */
        struct mgr_pending **pp = &m->pending;
        while ((*pp)->next)
            pp = &(*pp)->next;
        m->pending_bytes -= (*pp)->pkt->len;
        free((*pp)->pkt);
        free(*pp);
        *pp = NULL;
        m->npending--;
        mgr_log(4, "too many messages held for processes not connected: the oldest dropped");
    }
    p->next = NULL;
    p->len = len;
    memcpy(p->buf, buf, len);
    *q = (struct mgr_pending){ m->pending, pid, inc, xfer_tab, p };
    m->pending = q;
    m->npending++;
    m->pending_bytes += len;
    return 0;
}

/* Is an ETS-TRANSFER of table id for peer queued on one of its connections, or held? */
int mgr_xfer_waiting(struct mgr *m, const struct mgr_peer *peer, uint64_t id)
{
    for (struct mgr_client *cl = m->clients; cl; cl = cl->next)
        if (!cl->dead && cl->peer.pid == peer->pid && cl->peer.inc == peer->inc)
            for (struct mgr_pkt *p = cl->outq; p; p = p->next)
                if (p->xfer == id)
                    return 1;
    for (struct mgr_pending *q = m->pending; q; q = q->next)
        if (q->pid == peer->pid && q->inc == peer->inc && q->tab == id)
            return 1;
    return 0;
}

void mgr_deliver_held(struct mgr *m, const struct mgr_peer *peer)
{
    /* Oldest first (the list is newest first). */
    struct mgr_pending *mine = NULL, **pp = &m->pending;
    while (*pp) {
        struct mgr_pending *q = *pp;
        if (q->pid == peer->pid && q->inc == peer->inc) {
            *pp = q->next;
            q->next = mine;
            mine = q;
            m->npending--;
            m->pending_bytes -= q->pkt->len;
        } else {
            pp = &q->next;
        }
    }
    while (mine) {
        struct mgr_pending *q = mine;
        mine = q->next;
        mgr_post(m, q->pid, q->inc, q->pkt->buf, q->pkt->len, q->tab);
        free(q->pkt);
        free(q);
    }
}

void mgr_client_close(struct mgr *m, struct mgr_client *cl)
{
    struct mgr_client **pp = &m->clients;
    while (*pp != cl)
        pp = &(*pp)->next;
    *pp = cl->next;
    epoll_ctl(m->epfd, EPOLL_CTL_DEL, cl->fd, NULL);
    close(cl->fd);
    while (cl->outq) {
        struct mgr_pkt *p = cl->outq;
        cl->outq = p->next;
        free(p);
    }
    m->nclients--;
    free(cl);
}

struct mgr_client *mgr_client_accept(struct mgr *m, int lfd, int *pidfd_out)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct ucred cr;
    socklen_t sl = sizeof cr;
    int pidfd = -1;
    if (m->nclients >= MGR_CLIENTS_MAX || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &sl) || cr.pid <= 0) {
        mgr_log(4, "connection refused (%u clients, or no peer credentials)", m->nclients);
        close(fd);
        return NULL;
    }
    sl = sizeof pidfd;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &sl) != 0)
        pidfd = -1;
    struct mgr_peer peer = { cr.pid, cr.uid, cr.gid, 0 };
    /* No SO_PEERPIDFD (before Linux 6.5): pidfd_open, then the start time read while it shows
     * the process alive (mgr_pidfd_inc) names the one that connected, unless the peer died
     * and its pid was reused in between — and then its connection is closed already. */
    if (pidfd < 0)
        pidfd = (int)syscall(SYS_pidfd_open, cr.pid, 0);
    int rc = pidfd < 0 ? -SHMETS_ENOENT : mgr_pidfd_inc(pidfd, cr.pid, &peer.inc);
    struct mgr_client *cl = rc ? NULL : calloc(1, sizeof *cl);
    if (!cl) {
        if (pidfd >= 0)
            close(pidfd);
        close(fd);
        return NULL;
    }
    cl->fd = fd;
    cl->peer = peer;
    cl->outq_tail = &cl->outq;
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = MGR_TAG_CLIENT | (uint32_t)fd };
    if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev)) {
        close(pidfd);
        close(fd);
        free(cl);
        return NULL;
    }
    cl->next = m->clients;
    m->clients = cl;
    m->nclients++;
    *pidfd_out = pidfd;
    return cl;
}

static unsigned char rbuf[MGR_PACKET_MAX];

const unsigned char *mgr_client_recv(struct mgr_client *cl, size_t *len)
{
    for (;;) {
        ssize_t n = recv(cl->fd, rbuf, sizeof rbuf, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return NULL;
        if (n <= 0) {
            cl->dead = 1;
            return NULL;
        }
        *len = (size_t)n;
        return rbuf;
    }
}

struct mgr_client *mgr_client_of(struct mgr *m, int fd)
{
    for (struct mgr_client *cl = m->clients; cl; cl = cl->next)
        if (cl->fd == fd)
            return cl;
    return NULL;
}
