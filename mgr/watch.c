/*
 * watch.c — etsmgr's watch on processes, and what a death does (DESIGN.md §7).
 *
 * WHO IS WATCHED: every owner of a table in the catalog, every reader holding a slot of the
 * reader registry, and every connected client, each by a pidfd (held in `m->watch`, polled by
 * the event loop).  The catalog is rescanned when its change counter (cat_gen) moves, and the
 * registry's used slots at every tick, so processes that never talk to etsmgr — a program
 * that only calls shmets_new — are watched too.  A restarted daemon finds everything again
 * this way: the registry lives in the control segment, not here.
 *
 * THE DEATH RULES (mgr_owner_dead), for each table whose owner (pid, incarnation) died:
 *   W.1 A live heir (pid and incarnation match: never a process that reuses a dead heir's pid)
 *       becomes the owner, in one catalog step that sets CATM_XFER (the heir setting stays,
 *       naming the new owner itself, as ETS leaves it: the table dies with it unless it
 *       names another heir); it is sent {'ETS-TRANSFER', Tab, FromPid, HeirData} on its
 *       connection.  An heir without a connection is the owner all the same and gets the
 *       message when it connects (CATM_XFER survives a daemon restart, so the message is
 *       rebuilt from the catalog and the table's heir data).
 *   W.2 Else a managed table becomes etsmgr's (the original etsmgr is its tables' heir), data
 *       intact, until its client calls new_table or add_table again, which gives it back.
 *       A managed table's heir is etsmgr while its client lives, unless the client named
 *       another (serve.c); an heir that is the dead owner itself is no heir.
 *   W.3 Else the table is deleted: the daemon makes itself the owner (a compare-and-set on the
 *       dead owner) and deletes it as an owner would.
 *   W.4 A reader's death clears its slots (rcu_clear_dead), so writers' reclamation never
 *       waits for it.
 * Every rule is a compare-and-set on the dead owner, so applying it twice (a rescan, or a
 * second daemon after a crash) changes nothing the first did.
 *
 * CRASH: a daemon killed between W.3's two steps leaves a table owned by a dead daemon, which
 * the next daemon deletes (W.3 again); killed after W.1's catalog step but before the
 * message, it leaves CATM_XFER, and the next daemon sends the message.
 */
#include "mgr.h"
#include "base/proc.h"
#include "base/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAG_WATCH (2ull << 56)

static int find_watch(struct mgr *m, pid_t pid, uint64_t inc)
{
    for (unsigned i = 0; i < m->nwatch; i++)
        if (m->watch[i].pid == pid && m->watch[i].inc == inc)
            return (int)i;
    return -1;
}

int mgr_watch_add(struct mgr *m, pid_t pid, uint64_t inc, int pidfd)
{
    if (find_watch(m, pid, inc) >= 0) {
        if (pidfd >= 0)
            close(pidfd);
        return 0;
    }
    int rc;
    if (pidfd < 0 && (rc = mgr_pidfd_open(pid, inc, &pidfd)))
        return rc;
    if (m->nwatch == MGR_WATCH_MAX) {
        close(pidfd);
        mgr_log(4, "watching %u processes already; process %d is not watched", m->nwatch, (int)pid);
        return err_set(SHMETS_EAGAIN, "too many processes to watch");
    }
    if (m->nwatch == m->capwatch) {
        unsigned cap = m->capwatch ? m->capwatch * 2 : 64;
        struct mgr_watch *w = realloc(m->watch, cap * sizeof *w);
        if (!w) {
            close(pidfd);
            return err_set(SHMETS_ENOMEM, "out of memory");
        }
        m->watch = w;
        m->capwatch = cap;
    }
    if (m->epfd >= 0) {
        struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_WATCH | (uint32_t)pid };
        if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, pidfd, &ev)) {
            close(pidfd);
            return err_set(SHMETS_ESYS, "epoll_ctl: %s", strerror(errno));
        }
    }
    m->watch[m->nwatch++] = (struct mgr_watch){ pid, inc, pidfd };
    return 0;
}

int mgr_proc_uid(pid_t pid, uid_t *uid, gid_t *gid)
{
    char path[32];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    if (stat(path, &st))
        return -SHMETS_ENOENT;
    *uid = st.st_uid;
    *gid = st.st_gid;
    return 0;
}

void mgr_chown_table(struct mgr *m, uint64_t id, uid_t uid, gid_t gid)
{
    char name[SEG_NAME_MAX], path[SEG_NAME_MAX + 16];
    cat_seg_name(m->c->s.name, id, name);
    snprintf(path, sizeof path, "/dev/shm%s", name);
    struct stat st;
    if (m->c->group != (gid_t)-1)
        gid = m->c->group;      /* an instance shared with a group: its segments stay in it */
    if (stat(path, &st) == 0 && (st.st_uid != uid || st.st_gid != gid) && chown(path, uid, gid))
        mgr_log(4, "chown %s: %s", path, strerror(errno));
}

/* The heir's data as the table holds it ([] if none, or if it cannot be read whole). */
static void build_heir_data(struct mgr *m, uint64_t id, shmets_builder *b)
{
    char name[SEG_NAME_MAX];
    struct seg s;
    cat_seg_name(m->c->s.name, id, name);
    if (seg_attach(name, SEG_TABLE, 0, &s)) {
        shmets_build_nil(b);
        return;
    }
    const struct tab_hdr *h = (const struct tab_hdr *)s.base;
    uint64_t committed = atomic_load(&seg_hdr(&s)->committed), off = atomic_load(&h->heir_data), len = 0;
    shmets_term d = { NULL, 0 };
    if (off && off >= sizeof *h && off < committed && committed - off >= 8) {
        memcpy(&len, s.base + off, 8);
        /* A copy first: the owner may replace the data while we read (the copy is then
         * checked as a whole, so a torn read is never sent). */
        unsigned char *cp = len && len <= committed - off - 8 && len <= SHMETS_TERM_MAX_SIZE ? malloc(len) : NULL;
        if (cp) {
            memcpy(cp, s.base + off + 8, len);
            if (shmets_term_from_etf(cp, len, SHMETS_ETF_NO_VERSION, &d))
                d = (shmets_term){ NULL, 0 };
            free(cp);
        }
    }
    seg_detach(&s);
    if (d.ptr)
        shmets_build_term(b, d);
    else
        shmets_build_nil(b);
    shmets_term_free(&d);
}

/* {event, {'ETS-TRANSFER', Tab, From, Data}} as ETF: Data the term given, the heir's data
 * when data is NULL, or {too_big, Bytes} when too_big is not 0. */
static int transfer_etf(struct mgr *m, const struct cat_entry *e, pid_t from, const shmets_term *data,
                        size_t too_big, unsigned char **buf, size_t *len)
{
    shmets_builder *b;
    shmets_term t;
    int rc = shmets_builder_create(&b);
    if (rc)
        return rc;
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "event", 5);
    shmets_build_tuple(b, 4);
    shmets_build_atom(b, "ETS-TRANSFER", 12);
    mgr_tid_term(e, b);
    shmets_build_pid(b, (uint32_t)from);
    if (too_big) {
        shmets_build_tuple(b, 2);
        shmets_build_atom(b, "too_big", 7);
        shmets_build_uint(b, too_big);
    } else if (data) {
        shmets_build_term(b, *data);
    } else {
        build_heir_data(m, e->id, b);
    }
    rc = shmets_builder_finish(b, &t);
    shmets_builder_destroy(b);
    if (rc)
        return rc;
    rc = shmets_term_to_etf(t, buf, len);
    shmets_term_free(&t);
    return rc;
}

int mgr_transfer_msg(struct mgr *m, const struct cat_entry *e, pid_t from, const shmets_term *data,
                     unsigned char **buf, size_t *len)
{
    int rc = transfer_etf(m, e, from, data, 0, buf, len);
    if (rc == 0 && *len > MGR_PACKET_MAX) {
        /* Data too large for a packet: it is sent as {too_big, Bytes}, Bytes the size the
         * message would have had (include/etsmgr.h). */
        size_t bytes = *len;
        free(*buf);
        *buf = NULL;
        rc = transfer_etf(m, e, from, NULL, bytes, buf, len);
    }
    return rc;
}

void mgr_owner_dead(struct mgr *m, const struct cat_entry *e)
{
    uid_t uid;
    gid_t gid;
    int rc;
    if (e->owner_pid == m->self && e->owner_inc == m->self_inc)
        return;
    mgr_event_tab(m, "owner_dead", e, e->owner_pid, 0);
    /* An heir that is the owner itself, or this daemon (which would skip the table for its
     * life), is no heir. */
    if (e->heir_pid > 0 && !(e->heir_pid == e->owner_pid && e->heir_inc == e->owner_inc) &&
        !(e->heir_pid == m->self && e->heir_inc == m->self_inc) &&
        mgr_alive(e->heir_pid, e->heir_inc) && mgr_proc_uid(e->heir_pid, &uid, &gid) == 0) {
        /* W.1 */
        struct cat_owner nw = { .pid = e->heir_pid, .inc = e->heir_inc, .uid = uid,
                                .xfer_from = e->owner_pid };
        if ((rc = cat_set_owner(m->c, e->id, e->owner_pid, e->owner_inc, &nw)))
            return;             /* someone moved it meanwhile: its new owner is watched */
        if (geteuid() == 0)
            mgr_chown_table(m, e->id, uid, gid);
        unsigned char *msg;
        size_t len;
        if (mgr_transfer_msg(m, e, e->owner_pid, NULL, &msg, &len) == 0) {
            mgr_post(m, e->heir_pid, e->heir_inc, msg, len, e->id);
            free(msg);
        }
        m->transfers++;
        mgr_log(6, "owner %d of table %llu died: heir %d inherits it", (int)e->owner_pid,
                (unsigned long long)e->id, (int)e->heir_pid);
        mgr_watch_add(m, e->heir_pid, e->heir_inc, -1);
        mgr_event_tab(m, "inherited", e, e->owner_pid, e->heir_pid);
        return;
    }
    if (e->mflags & CATM_MANAGED) {
        /* W.2: etsmgr owns it until its client comes back; the segment's uid stays the
         * client's (new_table/add_table give it back to a process of that uid only).  Once
         * it is etsmgr's, a rescan skips it: one log line, one event, per death. */
        struct cat_owner nw = { .pid = m->self, .inc = m->self_inc, .uid = e->owner_uid };
        if (cat_set_owner(m->c, e->id, e->owner_pid, e->owner_inc, &nw))
            return;
        mgr_log(6, "owner %d of managed table %llu (%s) is dead: etsmgr keeps it for its client %d",
                (int)e->owner_pid, (unsigned long long)e->id, e->mkey, (int)e->client_pid);
        mgr_event_tab(m, "kept", e, e->client_pid, 0);
        return;
    }
    /* W.3 */
    struct cat_owner nw = { .pid = m->self, .inc = m->self_inc, .uid = (uint32_t)geteuid() };
    if (cat_set_owner(m->c, e->id, e->owner_pid, e->owner_inc, &nw))
        return;
    shmets_tab *t;
    if ((rc = shmets_attach(m->db, e->id, &t)) == 0)
        rc = shmets_delete(t);
    if (rc) {
        char name[SEG_NAME_MAX];
        cat_seg_name(m->c->s.name, e->id, name);
        cat_remove(m->c, e->id);
        seg_unlink(name);
    }
    m->deletions++;
    mgr_log(6, "owner %d of table %llu died with no heir: table deleted", (int)e->owner_pid,
            (unsigned long long)e->id);
    mgr_event_tab(m, "deleted", e, e->owner_pid, 0);
}

static void owners_dead(struct mgr *m, pid_t pid, uint64_t inc)
{
    struct cat_entry *v;
    uint32_t n;
    if (cat_snapshot(m->c, &v, &n))
        return;
    for (uint32_t i = 0; i < n; i++)
        if (v[i].owner_pid == pid && v[i].owner_inc == inc)
            mgr_owner_dead(m, &v[i]);
    free(v);
}

void mgr_watch_dead(struct mgr *m, unsigned i)
{
    struct mgr_watch w = m->watch[i];
    if (m->epfd >= 0)
        epoll_ctl(m->epfd, EPOLL_CTL_DEL, w.pidfd, NULL);
    close(w.pidfd);
    m->watch[i] = m->watch[--m->nwatch];
    unsigned cleared = rcu_clear_proc(&m->c->h->reg, w.pid, w.inc);     /* W.4 */
    if (cleared)
        mgr_log(6, "process %d died: %u reader slot(s) cleared", (int)w.pid, cleared);
    owners_dead(m, w.pid, w.inc);
}

void mgr_scan(struct mgr *m)
{
    uint32_t gen = cat_gen(m->c);
    if (gen != m->seen_gen || m->scan_now) {
        m->seen_gen = gen;
        m->scan_now = 0;
        struct cat_entry *v;
        uint32_t n;
        if (cat_snapshot(m->c, &v, &n) == 0) {
            for (uint32_t i = 0; i < n; i++) {
                struct cat_entry *e = &v[i];
                if (e->owner_pid == m->self && e->owner_inc == m->self_inc)
                    continue;
                if (mgr_watch_add(m, e->owner_pid, e->owner_inc, -1) == -SHMETS_ENOENT)
                    mgr_owner_dead(m, e);
            }
            free(v);
        }
    }
    struct rcu_registry *reg = &m->c->h->reg;
    uint32_t hw = atomic_load(&reg->hiwater);
    int dead = 0;
    for (uint32_t i = 0; i < hw && i < rcu_nslots(reg); i++) {
        struct rcu_slot *sl = &reg->slots[i];
        int32_t pid = atomic_load(&sl->pid);
        uint64_t inc = atomic_load(&sl->incarnation);
        if (pid > 0 && inc && atomic_load(&sl->pid) == pid && find_watch(m, pid, inc) < 0 &&
            mgr_watch_add(m, pid, inc, -1) == -SHMETS_ENOENT)
            dead += (int)rcu_clear_proc(reg, pid, inc);
    }
    if (dead)
        mgr_log(6, "%d reader slot(s) of dead processes cleared", dead);
}

void mgr_deliver_pending(struct mgr *m, const struct mgr_peer *peer)
{
    /* Held messages first (conn.c). */
    mgr_deliver_held(m, peer);
    /* Inheritances recorded in the catalog (a daemon restarted since, W.1). */
    struct cat_entry *v;
    uint32_t n;
    if (cat_snapshot(m->c, &v, &n))
        return;
    for (uint32_t i = 0; i < n; i++) {
        if ((v[i].mflags & CATM_XFER) && v[i].owner_pid == peer->pid && v[i].owner_inc == peer->inc &&
            !mgr_xfer_waiting(m, peer, v[i].id)) {
            unsigned char *msg;
            size_t len;
            if (mgr_transfer_msg(m, &v[i], v[i].xfer_from, NULL, &msg, &len) == 0) {
                mgr_post(m, peer->pid, peer->inc, msg, len, v[i].id);
                free(msg);
            }
        }
    }
    free(v);
}
