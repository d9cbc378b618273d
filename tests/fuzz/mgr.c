/*
 * mgr.c — fuzz target: etsmgr's message handling (mgr/serve.c's mgr_handle), no sockets.
 *
 * As serve.c's top comment says: a fresh instance named fuzz_inst() (F.2) per input, struct mgr
 * filled with db, c, self, self_inc and epfd = -1, and the input's bytes after the first as one
 * packet from a peer.  The first byte picks the peer (its identity is the kernel's in the
 * daemon, so it is the harness's to choose):
 *   0  the daemon's own process and uid (the fuzzer process itself);
 *   1  another uid: a live process (the parent) claiming uid 65534;
 *   2  the same uid, a live process other than the daemon (the parent);
 *   3  a dead process of the same uid (a child forked and reaped once).
 * Before the packet the catalog holds three managed tables made through mgr_handle itself:
 * `mine` (named table mine_t, client and owner the daemon's process), `theirs` (theirs_t, the
 * other uid's) and `orphan` (orphan_t, public, its client and owner the dead process), so that
 * requests naming them reach the ownership rules.  Pids in a request are ETF pids <0.N.0>:
 * <0.1.0> (init) is a live receiver for give_away.
 * Properties, beyond no crash, leak or sanitizer report:
 *   every request gets a reply that decodes as {reply, _}, or mgr_handle fails with
 *   -SHMETS_ENOMEM (the documented outcome: the daemon closes the connection);
 *   the catalog passes cat_check and every table shmets_check (but -SHMETS_EOWNER: the check
 *   may repair, which only the owner of a protected table may do);
 *   a peer of another uid changes the owner of no table that is not its own process's (the
 *   daemon taking a dead client's managed table, W.2 of watch.c, which a request naming it
 *   runs first, is the death rules' doing, not the peer's);
 *   the instance is gone afterwards (its control segment no longer opens).
 * Messages held for processes not connected (give_away's ETS-TRANSFER) and the pidfds of
 * watched processes are freed here, as the daemon's exit would.
 * Seeds (tests/fuzz/mgr/): every call's valid requests in ETF from each peer, and the malformed
 * ones of tests/test_mgr_bad.c.
 */
#include "fuzz.h"
#include "../../mgr/mgr.h"
#include "mem/ctl.h"
#include "base/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

static pid_t dead_pid;
static uint64_t dead_inc;

/* A process of ours that is dead for sure: forked, its incarnation read, then reaped. */
static void make_dead(void)
{
    if (dead_pid)
        return;
    int p[2];
    FUZZ_CHECK(pipe(p) == 0);
    pid_t c = fork();
    FUZZ_CHECK(c >= 0);
    if (c == 0) {
        char x;
        close(p[1]);
        while (read(p[0], &x, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    close(p[0]);
    FUZZ_CHECK(proc_incarnation(c, &dead_inc) == 0);
    close(p[1]);
    FUZZ_CHECK(waitpid(c, NULL, 0) == c);
    dead_pid = c;
}

static void peer_of(unsigned sel, struct mgr *m, struct mgr_peer *p)
{
    pid_t pp = getppid();
    uint64_t pinc = 0;
    proc_incarnation(pp, &pinc);
    switch (sel % 4) {
    case 0: *p = (struct mgr_peer){ m->self, getuid(), getgid(), m->self_inc }; break;
    case 1: *p = (struct mgr_peer){ pp, 65534, 65534, pinc }; break;
    case 2: *p = (struct mgr_peer){ pp, getuid(), getgid(), pinc }; break;
    default: *p = (struct mgr_peer){ dead_pid, getuid(), getgid(), dead_inc }; break;
    }
}

/* One request; the reply checked as {reply, _} and returned decoded (the caller frees it). */
static int call(struct mgr *m, const struct mgr_peer *p, const unsigned char *req, size_t len, shmets_term *r)
{
    unsigned char *reply = NULL;
    size_t rlen = 0;
    int rc = mgr_handle(m, p, req, len, &reply, &rlen);
    FUZZ_CHECK(rc == 0 || rc == -SHMETS_ENOMEM);
    if (rc)
        return rc;
    FUZZ_CHECK(rlen <= MGR_PACKET_MAX);
    FUZZ_CHECK(shmets_term_from_etf(reply, rlen, 0, r) == 0);
    free(reply);
    size_t n;
    shmets_term tag;
    FUZZ_CHECK(shmets_term_tuple_arity(*r, &n) == 0 && n == 2);
    FUZZ_CHECK(shmets_term_tuple_element(*r, 1, &tag) == 0);
    const char *s;
    size_t sl;
    FUZZ_CHECK(shmets_term_get_atom(tag, &s, &sl) == 0 && sl == 5 && memcmp(s, "reply", 5) == 0);
    return 0;
}

static void call_text(struct mgr *m, const struct mgr_peer *p, const char *txt)
{
    shmets_term q, r;
    unsigned char *etf;
    size_t len;
    FUZZ_CHECK(shmets_term_parse(txt, strlen(txt), &q) == 0);
    FUZZ_CHECK(shmets_term_to_etf(q, &etf, &len) == 0);
    shmets_term_free(&q);
    FUZZ_CHECK(call(m, p, etf, len, &r) == 0);
    shmets_term_free(&r);
    free(etf);
}

/* Owners of every table (at most 64: the setup makes 3, one request at most one more). */
struct owners {
    size_t n;
    struct { uint64_t id; int32_t pid; uint64_t inc; } t[64];
};

static void owners_of(struct mgr *m, struct owners *o, struct cat_entry *e)
{
    uint64_t *ids;
    size_t n;
    FUZZ_CHECK(shmets_all(m->db, &ids, &n) == 0);
    o->n = 0;
    for (size_t i = 0; i < n && o->n < 64; i++)
        if (cat_find_id(m->c, ids[i], e) == 0) {
            o->t[o->n].id = ids[i];
            o->t[o->n].pid = e->owner_pid;
            o->t[o->n].inc = e->owner_inc;
            o->n++;
        }
    free(ids);
}

static void check_tables(struct mgr *m)
{
    FUZZ_CHECK(cat_check(m->c) == 0);
    uint64_t *ids;
    size_t n;
    FUZZ_CHECK(shmets_all(m->db, &ids, &n) == 0);
    for (size_t i = 0; i < n; i++) {
        shmets_tab *t;
        if (shmets_attach(m->db, ids[i], &t) == 0) {
            int rc = shmets_check(t);    /* repairs: only the owner of a protected table */
            FUZZ_CHECK(rc == 0 || rc == -SHMETS_EOWNER);
            shmets_detach(t);
        }
    }
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    make_dead();
    struct mgr m = { .epfd = -1 };
    shmets_destroy_instance(fuzz_inst());
    FUZZ_CHECK(shmets_open(fuzz_inst(), &m.db) == 0);
    m.c = &m.db->c;
    m.self = getpid();
    m.self_inc = proc_self_incarnation();

    struct mgr_peer self, other, dead, p;
    peer_of(0, &m, &self);
    peer_of(1, &m, &other);
    peer_of(3, &m, &dead);
    call_text(&m, &self, "{new_table,mine,mine_t,[named_table]}");
    call_text(&m, &other, "{new_table,theirs,theirs_t,[named_table,ordered_set]}");
    call_text(&m, &dead, "{new_table,orphan,orphan_t,[named_table,public,bag]}");

    peer_of(data[0], &m, &p);
    struct cat_entry *e = malloc(sizeof *e);
    struct owners *before = malloc(sizeof *before), *after = malloc(sizeof *after);
    FUZZ_CHECK(e && before && after);
    owners_of(&m, before, e);
    shmets_term r;
    if (call(&m, &p, data + 1, size - 1, &r) == 0)
        shmets_term_free(&r);
    check_tables(&m);
    if (data[0] % 4 == 1) {
        /* Another uid moves no table but its own process's. */
        owners_of(&m, after, e);
        for (size_t i = 0; i < before->n; i++) {
            if (before->t[i].pid == p.pid)
                continue;
            for (size_t j = 0; j < after->n; j++)
                if (after->t[j].id == before->t[i].id &&
                    !(after->t[j].pid == m.self && after->t[j].inc == m.self_inc &&
                      !proc_alive(before->t[i].pid, before->t[i].inc)))
                    FUZZ_CHECK(after->t[j].pid == before->t[i].pid && after->t[j].inc == before->t[i].inc);
        }
    }
    free(e);
    free(before);
    free(after);

    while (m.pending) {
        struct mgr_pending *q = m.pending;
        m.pending = q->next;
        free(q->pkt);
        free(q);
    }
    for (unsigned i = 0; i < m.nwatch; i++)
        close(m.watch[i].pidfd);
    free(m.watch);
    shmets_close(m.db);
    FUZZ_CHECK(shmets_destroy_instance(fuzz_inst()) == 0);
    char seg[64];
    snprintf(seg, sizeof seg, "/shmets.%s", fuzz_inst());
    int fd = shm_open(seg, O_RDONLY, 0);
    FUZZ_CHECK(fd < 0 && errno == ENOENT);
    return 0;
}
