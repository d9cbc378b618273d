/*
 * serve.c — etsmgr's requests: one packet in, one reply out (mgr_handle).
 *
 * mgr_handle is a function of (daemon state, the peer's identity, the packet's bytes) to the
 * reply's bytes; it never touches a socket, so a libFuzzer target can drive it directly
 * (messages it posts to other processes are held in the pending list, which is bounded):
 * link mgr/serve.c, watch.c and conn.c (everything but main.c) with libshmets, open an
 * instance, fill struct mgr's db, c, self and self_inc with epfd = -1, and call mgr_handle
 * with any peer and bytes.
 * The peer's identity comes from the kernel (SO_PEERCRED and the connection's pidfd); the
 * packet only ever names tables and other processes.
 *
 * THE CALLS (the original etsmgr's, DESIGN.md §7, plus ETS's give_away):
 *   {new_table, Name, EtsName, Opts}  Name unknown: make the table (the daemon calls
 *       shmets_new with Opts, heir included, so the heir is set in the step that creates the
 *       table), then give it to the caller and register Name for it.  Name known and its
 *       client dead (or the caller itself): the caller gets the table back, data and all,
 *       with the heir Opts name; a caller of another uid than the table's (but root) gets
 *       {error, not_owner}.  A dead owner whose death the daemon has not handled yet gets the death
 *       rules first (a live heir inherits, and the name is then in conflict with it).  Known
 *       and its client (or a live owner other than the caller)
 *       alive: {error, {name_conflict, Pid}}.  Reply {ok, EtsmgrPid, Tab}.
 *   {add_table, Name, Tab}  the caller, owner of Tab, has it managed as Name (again, after an
 *       etsmgr restart: idempotent).  {error, not_owner}, {error, {name_conflict, Pid}}.
 *   {del_table, Name}  only the registered client or the owner: Name is forgotten, the table
 *       stays its owner's.  {error, not_owner}; {error, not_found}.  An entry whose table
 *       segment is gone is removed whoever asks.  Reply {ok, EtsmgrPid}.
 *   info  #{Name => #{tab, ets_name, owner, client, client_alive, heir, type, protection}};
 *       {error, too_big} if that map does not fit a packet (some 500 managed tables).
 *   {give_away, Tab, Pid, GiftData}  as ets:give_away/3: only the owner; Pid alive and not the
 *       owner; Pid becomes the owner (the heir stays) and gets {'ETS-TRANSFER', Tab,
 *       FromPid, GiftData}.  Reply true; {error, not_owner}, {error, badarg} (Pid is the
 *       owner, or etsmgr), {error, dead_receiver}.
 *   ping  pong.
 *   follow  ok; from then on the connection also gets every event of events.c as {event, E}
 *       (shmets events, etsmgr_follow).
 *   stop  ok, and the daemon exits once the reply is sent (tables stay); only a peer of the
 *       daemon's uid or root, else {error, not_owner} (a script stops the daemon it started).
 * Departure from DESIGN.md §7, which lists setopts(heir) among the manager's calls: it is
 * not a request here.  The owner writes the heir itself (etsmgr_setopts_heir, which is
 * shmets_set_heir: the table's heir data and the catalog's heir in its own process), since
 * the daemon only reads the heir when the owner dies; a round trip would add a failure
 * (no daemon) and nothing else.
 * Any other packet: {error, bad_term} (not ETF), {error, badarg} (unknown call, wrong arity
 * or argument types), {error, {Code, Detail}} for a failure of the library (enomem ...).
 *
 * BOUNDED WORK: a request touches the entries it names (each catalog call is one pass over
 * the catalog under its lock); only info copies the whole catalog.  A new owner is watched
 * directly (mgr_watch_add), never by a rescan, so n new_table calls cost O(n) scans of the
 * catalog, not O(n) copies of it.
 *
 * CONCURRENCY: the daemon is one thread.  Tables change owner only through cat_set_owner,
 * a compare-and-set on the previous owner, so a client racing the daemon (a give_away while
 * its owner dies) moves a table at most once.
 */
#include "mgr.h"
#include "base/proc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int same(pid_t p, uint64_t pi, const struct mgr_peer *q)
{
    return p == q->pid && pi == q->inc;
}

/* ---- replies ------------------------------------------------------------------------------ */

static void build_pid_or_none(shmets_builder *b, pid_t pid, int live)
{
    if (pid > 0 && live)
        shmets_build_pid(b, (uint32_t)pid);
    else
        shmets_build_atom(b, "none", 4);
}

static void begin_error(shmets_builder *b)
{
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "error", 5);
}

static void error_atom(shmets_builder *b, const char *reason)
{
    begin_error(b);
    shmets_build_atom(b, reason, strlen(reason));
}

static void error_pid(shmets_builder *b, const char *reason, pid_t pid)
{
    begin_error(b);
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, reason, strlen(reason));
    shmets_build_pid(b, (uint32_t)pid);
}

/* {error, {Code, <<"detail">>}} for a library failure: Code is the SHMETS_E name, lower case. */
static void error_code(shmets_builder *b, int rc)
{
    static const char *names[] = {
        [SHMETS_EINVAL] = "einval", [SHMETS_ENOMEM] = "enomem", [SHMETS_EEXIST] = "eexist",
        [SHMETS_ENOENT] = "enoent", [SHMETS_EACCES] = "eacces", [SHMETS_EBADSEG] = "ebadseg",
        [SHMETS_EVERSION] = "eversion", [SHMETS_ESYS] = "esys", [SHMETS_EAGAIN] = "eagain",
        [SHMETS_EOWNER] = "eowner", [SHMETS_ETOOBIG] = "etoobig", [SHMETS_ETYPE] = "etype",
    };
    int c = rc < 0 ? -rc : rc;
    const char *n = c > 0 && c < (int)(sizeof names / sizeof names[0]) && names[c] ? names[c] : "error";
    const char *d = shmets_errdetail();
    begin_error(b);
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, n, strlen(n));
    shmets_build_binary(b, d, strlen(d));
}

static void ok_pid_tab(struct mgr *m, shmets_builder *b, uint64_t id)
{
    struct cat_entry *e = malloc(sizeof *e);
    int rc = e ? cat_find_id(m->c, id, e) : -SHMETS_ENOMEM;
    if (rc) {
        error_code(b, rc);
    } else {
        shmets_build_tuple(b, 3);
        shmets_build_atom(b, "ok", 2);
        shmets_build_pid(b, (uint32_t)m->self);
        mgr_tid_term(e, b);
    }
    free(e);
}

/* ---- the calls ---------------------------------------------------------------------------- */

static void give_to(struct mgr *m, uint64_t id, uid_t uid, gid_t gid)
{
    if (geteuid() == 0)
        mgr_chown_table(m, id, uid, gid);
}

static int is_self(struct mgr *m, pid_t pid, uint64_t inc)
{
    return pid == m->self && inc == m->self_inc;
}

/* The heir a managed table gets when it is (again) its client's: the heir Opts name, the
 * client itself included (ETS keeps {heir, self(), Data}); etsmgr when Opts name none, or a
 * dead one (the original etsmgr's "owned by the client, with etsmgr the heir"). */
static void client_heir(struct mgr *m, const shmets_opts *o, struct cat_owner *nw)
{
    nw->set_heir = 1;
    if (o->heir_pid && proc_incarnation((pid_t)o->heir_pid, &nw->heir_inc) == 0) {
        nw->heir_pid = (int32_t)o->heir_pid;
    } else {
        nw->heir_pid = m->self;
        nw->heir_inc = m->self_inc;
    }
}

static void new_table(struct mgr *m, const struct mgr_peer *p, const shmets_term *a, shmets_builder *b)
{
    char key[CAT_NAME_MAX + 1], ets_name[CAT_NAME_MAX + 1];
    shmets_opts o;
    if (mgr_atom(a[1], key, sizeof key) || mgr_atom(a[2], ets_name, sizeof ets_name) ||
        shmets_opts_from_term(a[3], &o))
        return error_atom(b, "badarg");
    struct cat_entry *e = malloc(sizeof *e);
    if (!e)
        return error_code(b, -SHMETS_ENOMEM);
    int rc = cat_find_key(m->c, key, strlen(key), e);
    if (rc == 0 && !same(e->owner_pid, e->owner_inc, p) &&
        !(e->owner_pid == m->self && e->owner_inc == m->self_inc) && !mgr_alive(e->owner_pid, e->owner_inc)) {
        /* Its owner died and the death rules have not run yet (its pidfd's event waits
         * behind this request): run them first, so that a live heir inherits, as ETS does at
         * the owner's death, before a restarted client can take the table. */
        mgr_owner_dead(m, e);
        rc = cat_find_key(m->c, key, strlen(key), e);
    }
    if (rc == 0) {
        /* Known: the client restarted, or another one wants the name. */
        if (p->uid != 0 && p->uid != e->owner_uid) {
            /* Not the uid of the table's segment: a process of another uid (allowed on the
             * socket by --group) never takes over a table, dead client or not. */
            error_atom(b, "not_owner");
            goto out;
        }
        if (!same(e->client_pid, e->client_inc, p) && mgr_alive(e->client_pid, e->client_inc)) {
            error_pid(b, "name_conflict", e->client_pid);
            goto out;
        }
        int held = is_self(m, e->owner_pid, e->owner_inc);
        if (!same(e->owner_pid, e->owner_inc, p) && !held && mgr_alive(e->owner_pid, e->owner_inc)) {
            error_pid(b, "name_conflict", e->owner_pid);
            goto out;
        }
        struct cat_owner nw = { .pid = p->pid, .inc = p->inc, .uid = p->uid, .set_heir = 1,
                                .key = key, .key_len = strlen(key) };
        client_heir(m, &o, &nw);
        if ((rc = cat_set_owner(m->c, e->id, e->owner_pid, e->owner_inc, &nw))) {
            error_code(b, rc);
            goto out;
        }
        give_to(m, e->id, p->uid, p->gid);
        mgr_watch_add(m, p->pid, p->inc, -1);
        mgr_log(6, "new_table %s: table %llu back to its client %d", key, (unsigned long long)e->id, (int)p->pid);
        if (held)
            mgr_event_tab(m, "given_back", e, p->pid, 0);
        ok_pid_tab(m, b, e->id);
        goto out;
    }
    if (rc != -SHMETS_ENOENT) {
        error_code(b, rc);
        goto out;
    }
    /* Unknown: make it (heir and its data included, in the creating step), then hand it over.
     * A daemon killed in between leaves an unmanaged table of a dead owner: the next daemon
     * gives it to the heir or deletes it, and the client, whose call failed, asks again. */
    shmets_tab *t;
    if ((rc = shmets_new(m->db, ets_name, &o, &t))) {
        error_code(b, rc);
        goto out;
    }
    uint64_t id = shmets_id(t);
    shmets_detach(t);
    /* One catalog step hands the table over and registers it: a daemon killed before it
     * leaves an unmanaged table of a dead owner (the next daemon applies W.1 or W.3), never
     * a table the client owns but etsmgr does not know. */
    struct cat_owner nw = { .pid = p->pid, .inc = p->inc, .uid = p->uid, .key = key, .key_len = strlen(key) };
    if (!o.heir_pid)
        client_heir(m, &o, &nw);     /* no heir asked for: etsmgr is the heir */
    if ((rc = cat_set_owner(m->c, id, m->self, m->self_inc, &nw))) {
        error_code(b, rc);
        goto out;
    }
    give_to(m, id, p->uid, p->gid);
    mgr_watch_add(m, p->pid, p->inc, -1);      /* its new owner (a connected client is already) */
    mgr_log(6, "new_table %s: table %llu for client %d", key, (unsigned long long)id, (int)p->pid);
    ok_pid_tab(m, b, id);
out:
    free(e);
}

static void add_table(struct mgr *m, const struct mgr_peer *p, const shmets_term *a, shmets_builder *b)
{
    char key[CAT_NAME_MAX + 1];
    uint64_t id;
    if (mgr_atom(a[1], key, sizeof key))
        return error_atom(b, "badarg");
    int rc = mgr_tab_id(m->c, a[2], &id);
    if (rc == -SHMETS_ETYPE)
        return error_atom(b, "badarg");
    struct cat_entry *e = malloc(sizeof *e);
    if (!e)
        return error_code(b, -SHMETS_ENOMEM);
    int held = 0, live_heir = 0;
    if (rc || (rc = cat_find_id(m->c, id, e))) {
        error_atom(b, "not_found");
        goto out;
    }
    /* A table etsmgr holds for its dead client (W.2) goes back to a process of its uid. */
    held = is_self(m, e->owner_pid, e->owner_inc) && (e->mflags & CATM_MANAGED) &&
           (p->uid == 0 || p->uid == e->owner_uid) &&
           (same(e->client_pid, e->client_inc, p) || !mgr_alive(e->client_pid, e->client_inc));
    live_heir = e->heir_pid > 0 && !is_self(m, e->heir_pid, e->heir_inc) && mgr_alive(e->heir_pid, e->heir_inc);
    if (!same(e->owner_pid, e->owner_inc, p) && !held) {
        error_atom(b, "not_owner");
    } else if ((rc = cat_find_key(m->c, key, strlen(key), e)) == 0 && e->id != id) {
        error_pid(b, "name_conflict", e->client_pid);
    } else if (held) {
        struct cat_owner nw = { .pid = p->pid, .inc = p->inc, .uid = p->uid, .set_heir = 1,
                                .heir_pid = m->self, .heir_inc = m->self_inc, .key = key, .key_len = strlen(key) };
        if ((rc = cat_set_owner(m->c, id, m->self, m->self_inc, &nw))) {
            error_code(b, rc);
            goto out;
        }
        give_to(m, id, p->uid, p->gid);
        mgr_log(6, "add_table %s: table %llu back to its client %d", key, (unsigned long long)id, (int)p->pid);
        mgr_watch_add(m, p->pid, p->inc, -1);
        if (cat_find_id(m->c, id, e) == 0)
            mgr_event_tab(m, "given_back", e, p->pid, 0);
        ok_pid_tab(m, b, id);
    } else if ((rc = cat_manage(m->c, id, key, strlen(key), p->pid, p->inc))) {
        error_code(b, rc);
    } else {
        /* No live heir: etsmgr is the heir (it keeps the table for its client, W.2). */
        if (!live_heir)
            cat_set_heir(m->c, id, m->self, m->self_inc);
        mgr_log(6, "add_table %s: table %llu of client %d", key, (unsigned long long)id, (int)p->pid);
        mgr_watch_add(m, p->pid, p->inc, -1);
        ok_pid_tab(m, b, id);
    }
out:
    free(e);
}

static int segment_gone(struct mgr *m, uint64_t id)
{
    char name[SEG_NAME_MAX], path[SEG_NAME_MAX + 16];
    struct stat st;
    cat_seg_name(m->c->s.name, id, name);
    snprintf(path, sizeof path, "/dev/shm%s", name);
    return stat(path, &st) != 0;
}

static void del_table(struct mgr *m, const struct mgr_peer *p, const shmets_term *a, shmets_builder *b)
{
    char key[CAT_NAME_MAX + 1];
    if (mgr_atom(a[1], key, sizeof key))
        return error_atom(b, "badarg");
    struct cat_entry *e = malloc(sizeof *e);
    if (!e)
        return error_code(b, -SHMETS_ENOMEM);
    int rc = cat_find_key(m->c, key, strlen(key), e);
    if (rc) {
        error_atom(b, "not_found");
    } else if (segment_gone(m, e->id)) {
        cat_remove(m->c, e->id);
        mgr_log(5, "del_table %s: table %llu no longer exists; entry removed", key, (unsigned long long)e->id);
        goto ok;
    } else if (!same(e->client_pid, e->client_inc, p) && !same(e->owner_pid, e->owner_inc, p)) {
        error_atom(b, "not_owner");
    } else if ((rc = cat_unmanage(m->c, e->id))) {
        error_code(b, rc);
    } else {
        mgr_log(6, "del_table %s: table %llu no longer managed", key, (unsigned long long)e->id);
        goto ok;
    }
    free(e);
    return;
ok:
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "ok", 2);
    shmets_build_pid(b, (uint32_t)m->self);
    free(e);
}

static const char *kind_name(uint32_t k)
{
    switch (k) {
    case SHMETS_SET: return "set";
    case SHMETS_ORDERED_SET: return "ordered_set";
    case SHMETS_BAG: return "bag";
    case SHMETS_DUPLICATE_BAG: return "duplicate_bag";
    default: return "unknown";
    }
}

static const char *access_name(uint32_t a)
{
    return a == SHMETS_PUBLIC ? "public" : a == SHMETS_PRIVATE ? "private" : "protected";
}

static void info(struct mgr *m, shmets_builder *b)
{
    struct cat_entry *v;
    uint32_t n, k = 0;
    int rc = cat_snapshot(m->c, &v, &n);
    if (rc)
        return error_code(b, rc);
    for (uint32_t i = 0; i < n; i++)
        if (v[i].mflags & CATM_MANAGED)
            k++;
    shmets_build_map(b, k);
    for (uint32_t i = 0; i < n; i++) {
        struct cat_entry *e = &v[i];
        if (!(e->mflags & CATM_MANAGED))
            continue;
        int client_alive = mgr_alive(e->client_pid, e->client_inc);
        shmets_build_atom(b, e->mkey, e->mkey_len);
        shmets_build_map(b, 8);
        shmets_build_atom(b, "tab", 3);
        mgr_tid_term(e, b);
        shmets_build_atom(b, "ets_name", 8);
        shmets_build_atom(b, e->name, e->name_len);
        shmets_build_atom(b, "owner", 5);
        build_pid_or_none(b, e->owner_pid, mgr_alive(e->owner_pid, e->owner_inc));
        shmets_build_atom(b, "client", 6);
        shmets_build_pid(b, (uint32_t)e->client_pid);
        shmets_build_atom(b, "client_alive", 12);
        shmets_build_atom(b, client_alive ? "true" : "false", client_alive ? 4 : 5);
        shmets_build_atom(b, "heir", 4);
        build_pid_or_none(b, e->heir_pid, mgr_alive(e->heir_pid, e->heir_inc));
        shmets_build_atom(b, "type", 4);
        shmets_build_atom(b, kind_name(e->kind), strlen(kind_name(e->kind)));
        shmets_build_atom(b, "protection", 10);
        shmets_build_atom(b, access_name(e->access), strlen(access_name(e->access)));
    }
    free(v);
}

static void give_away(struct mgr *m, const struct mgr_peer *p, const shmets_term *a, shmets_builder *b)
{
    uint64_t id, rinc;
    pid_t to;
    int rc = mgr_tab_id(m->c, a[1], &id);
    if (rc == -SHMETS_ETYPE || mgr_pid_of(a[2], &to))
        return error_atom(b, "badarg");
    struct cat_entry *e = malloc(sizeof *e);
    if (!e)
        return error_code(b, -SHMETS_ENOMEM);
    uid_t uid;
    gid_t gid;
    if (rc || (rc = cat_find_id(m->c, id, e))) {
        error_atom(b, "not_found");
    } else if (!same(e->owner_pid, e->owner_inc, p)) {
        error_atom(b, "not_owner");
    } else if (to == p->pid || to == m->self) {
        /* To the owner itself, as ETS; to the daemon, which never owns a table for long: one
         * it owned would be skipped by its death rules until it died. */
        error_atom(b, "badarg");
    } else if (proc_incarnation(to, &rinc) || !mgr_alive(to, rinc) || mgr_proc_uid(to, &uid, &gid)) {
        error_atom(b, "dead_receiver");
    } else {
        struct cat_owner nw = { .pid = to, .inc = rinc, .uid = uid };
        unsigned char *msg = NULL;
        size_t len;
        if ((rc = cat_set_owner(m->c, id, p->pid, p->inc, &nw))) {
            error_code(b, rc);
        } else {
            give_to(m, id, uid, gid);
            if (mgr_transfer_msg(m, e, p->pid, &a[3], &msg, &len) == 0)
                mgr_post(m, to, rinc, msg, len, 0);
            free(msg);
            m->transfers++;
            mgr_log(6, "give_away: table %llu from %d to %d", (unsigned long long)id, (int)p->pid, (int)to);
            mgr_watch_add(m, to, rinc, -1);
            shmets_build_atom(b, "true", 4);
        }
    }
    free(e);
}

/* ---- dispatch ----------------------------------------------------------------------------- */

static const struct call {
    const char *name;
    size_t arity;                       /* of the request tuple, the name included */
} calls[] = {
    { "new_table", 4 }, { "add_table", 3 }, { "del_table", 2 }, { "give_away", 4 },
};

int mgr_handle(struct mgr *m, const struct mgr_peer *peer, const unsigned char *req, size_t len,
               unsigned char **reply, size_t *rlen)
{
    shmets_builder *b;
    shmets_term q = { NULL, 0 }, r;
    int rc = shmets_builder_create(&b);
    if (rc)
        return rc;
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "reply", 5);
    size_t arity = 0;
    shmets_term a[4];
    if (len > MGR_PACKET_MAX) {
        error_atom(b, "too_big");
    } else if (shmets_term_from_etf(req, len, 0, &q)) {
        error_atom(b, "bad_term");
    } else if (mgr_atom_is(q, "info")) {
        info(m, b);
    } else if (mgr_atom_is(q, "ping")) {
        shmets_build_atom(b, "pong", 4);
    } else if (mgr_atom_is(q, "follow")) {
        m->follow_req = 1;
        shmets_build_atom(b, "ok", 2);
    } else if (mgr_atom_is(q, "stop")) {
        if (peer->uid == 0 || peer->uid == geteuid()) {
            m->stop_req = 1;
            shmets_build_atom(b, "ok", 2);
        } else {
            error_atom(b, "not_owner");
        }
    } else if (shmets_term_tuple_arity(q, &arity) || arity < 1 || arity > 4) {
        error_atom(b, "badarg");
    } else {
        for (size_t i = 0; i < arity; i++)
            shmets_term_tuple_element(q, i + 1, &a[i]);
        size_t c = 0;
        while (c < sizeof calls / sizeof calls[0] && !(mgr_atom_is(a[0], calls[c].name) && calls[c].arity == arity))
            c++;
        switch (c) {
        case 0: new_table(m, peer, a, b); break;
        case 1: add_table(m, peer, a, b); break;
        case 2: del_table(m, peer, a, b); break;
        case 3: give_away(m, peer, a, b); break;
        default: error_atom(b, "badarg"); break;
        }
    }
    shmets_term_free(&q);
    rc = shmets_builder_finish(b, &r);
    shmets_builder_destroy(b);
    if (rc)
        return rc;
    rc = shmets_term_to_etf(r, reply, rlen);
    shmets_term_free(&r);
    if (rc == 0 && *rlen > MGR_PACKET_MAX) {
        /* A reply that would not fit a packet (info on very many tables). */
        static const unsigned char too_big[] = { 131, 104, 2, 119, 5, 'r', 'e', 'p', 'l', 'y', 104, 2, 119, 5,
                                                 'e', 'r', 'r', 'o', 'r', 119, 7, 't', 'o', 'o', '_', 'b', 'i', 'g' };
        free(*reply);
        if (!(*reply = malloc(sizeof too_big)))
            return -SHMETS_ENOMEM;
        memcpy(*reply, too_big, sizeof too_big);
        *rlen = sizeof too_big;
    }
    return rc;
}
