/*
 * mgr_client.c — libshmets's side of etsmgr (include/etsmgr.h is the manual).
 *
 * ONE CONNECTION PER PROCESS AND INSTANCE: a process-wide list of struct etsmgr, one per
 * instance, reference-counted; its fd belongs to the process that connected (m->pid), so a
 * forked child that calls gets a connection of its own (the daemon knows a connection's
 * process by SO_PEERCRED, fixed at connect, so a child must never speak on its parent's).
 *
 * CALLS: a request is one packet; the daemon answers every request with one {reply, R}
 * packet, in order, and may send {event, Msg} packets at any time.  A call sends, then reads
 * packets until its reply, queueing the events it meets for etsmgr_next_event (so messages
 * are never lost to a call).  Replies come in order: a call that timed out still has one
 * coming, which the next call skips (m->stale), never taking it for its own.  Calls on one
 * connection are serialised by its mutex.
 *
 * AUTOSTART: no socket answering (ENOENT, ECONNREFUSED) and autostart allowed: fork, setsid,
 * fork again (the daemon is nobody's child and outlives the caller), exec the daemon with the
 * caller's runtime directory, and retry the connect every 10 ms until the timeout.  Two
 * processes starting daemons at once are harmless: the second daemon finds the first's lock
 * and exits.  Between fork and exec the child calls only async-signal-safe functions, and
 * closes every descriptor but 0-2 (the caller's would otherwise live as long as the daemon).
 *
 * CRASH: nothing shared is written here; a process that dies leaves only its connection,
 * which the kernel closes.
 */
#include "etsmgr.h"
#include "etsmgr/mgr_proto.h"
#include "base/proc.h"
#include "table/table.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct evq {
    struct evq *next;
    shmets_term t;
};

struct etsmgr {
    struct etsmgr *next;
    shmets *db;
    char inst[65];
    int refs;
    pthread_mutex_t mu;
    int fd;
    pid_t pid;                  /* the process fd belongs to */
    _Atomic pid_t daemon;        /* set after a call, outside mu: atomic */
    char dir[PATH_MAX];
    char exe[PATH_MAX];         /* "" : search at autostart */
    bool no_autostart;
    bool autostarted;           /* the daemon this connection speaks to is one this process started */
    bool follows;               /* etsmgr_follow: the daemon's end ends the stream */
    int idle_exit_s;            /* --idle-exit of a daemon started here (<0: none) */
    int timeout_ms;
    struct evq *evh, **evt;
    unsigned stale;             /* replies still owed to calls that timed out on this fd */
    unsigned char *buf;         /* MGR_PACKET_MAX bytes */
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct etsmgr *reg;

void etsmgr_opts_init(etsmgr_opts *o)
{
    memset(o, 0, sizeof *o);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- connecting, and starting the daemon ------------------------------------------------- */

static int try_connect(struct etsmgr *m, int *fd)
{
    char path[MGR_PATH_MAX];
    int rc = mgr_path(m->dir, m->inst, "sock", path, sizeof path);
    if (rc)
        return rc;
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0)
        return err_set(SHMETS_ESYS, "socket: %s", strerror(errno));
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) {
        *fd = s;
        return 0;
    }
    int e = errno;
    close(s);
    if (e == ENOENT || e == ECONNREFUSED)
        return err_set(SHMETS_ENOENT, "no etsmgr answers on %s", path);
    return err_set(e == EACCES ? SHMETS_EACCES : SHMETS_ESYS, "connect %s: %s", path, strerror(e));
}

static int find_exe(struct etsmgr *m, char *out, size_t n)
{
    const char *env = getenv("SHMETS_ETSMGR");
    if (m->exe[0])
        return snprintf(out, n, "%s", m->exe), 0;
    if (env && *env)
        return snprintf(out, n, "%s", env), 0;
    char self[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k > 0) {
        self[k] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            if ((size_t)snprintf(out, n, "%s/etsmgr", self) < n && access(out, X_OK) == 0)
                return 0;
        }
    }
    return snprintf(out, n, "etsmgr"), 0;     /* execvp searches PATH */
}

static int autostart(struct etsmgr *m)
{
    char exe[PATH_MAX];
    find_exe(m, exe, sizeof exe);
    char idle[24];
    snprintf(idle, sizeof idle, "%d", m->idle_exit_s);
    /* An instance shared with a group gets a daemon of that group (its socket 0660 in it). */
    char gid[24];
    snprintf(gid, sizeof gid, "%u", (unsigned)m->db->c.group);
    char *argv[] = { exe, "--instance", m->inst, "--runtime-dir", m->dir, "--idle-exit", idle, NULL, NULL, NULL };
    int k = m->idle_exit_s < 0 ? 5 : 7;
    argv[k] = NULL;
    if (m->db->c.group != (gid_t)-1) {
        argv[k++] = "--group";
        argv[k++] = gid;
        argv[k] = NULL;
    }
    pid_t c = fork();
    if (c < 0)
        return err_set(SHMETS_ESYS, "fork: %s", strerror(errno));
    if (c == 0) {
        setsid();
        if (fork() == 0) {
            int nul = open("/dev/null", O_RDWR);
            if (nul >= 0) {
                dup2(nul, 0);
                dup2(nul, 1);
                dup2(nul, 2);
            }
            /* Nothing of the caller's but 0-2: a pipe it left open on exec would stay
             * open for the daemon's life. */
            close_range(3, ~0u, 0);
            if (strchr(exe, '/'))
                execv(exe, argv);
            else
                execvp(exe, argv);
            _exit(127);
        }
        _exit(0);
    }
    int st;
    while (waitpid(c, &st, 0) < 0 && errno == EINTR)
        ;
    return 0;
}

static void drop_events(struct etsmgr *m)
{
    while (m->evh) {
        struct evq *q = m->evh;
        m->evh = q->next;
        shmets_term_free(&q->t);
        free(q);
    }
    m->evt = &m->evh;
}

/* m->fd connected and this process's.  Caller holds m->mu. */
static int ensure(struct etsmgr *m)
{
    pid_t me = getpid();
    if (m->fd >= 0 && m->pid == me)
        return 0;
    if (m->fd >= 0) {               /* the parent's, inherited over fork */
        close(m->fd);
        m->fd = -1;
        drop_events(m);
    }
    int rc = try_connect(m, &m->fd);
    const char *no = getenv("SHMETS_NO_AUTOSTART");
    m->stale = 0;                   /* a new connection owes no replies */
    m->autostarted = false;
    if (rc != -SHMETS_ENOENT || m->no_autostart || (no && *no && strcmp(no, "0") != 0)) {
        if (!rc)
            m->pid = me;
        return rc;
    }
    if ((rc = autostart(m)))
        return rc;
    int64_t end = now_ms() + m->timeout_ms;
    do {
        usleep(10000);
        rc = try_connect(m, &m->fd);
    } while (rc == -SHMETS_ENOENT && now_ms() < end);
    if (rc == -SHMETS_ENOENT)
        err_set(SHMETS_ENOENT, "started etsmgr for instance %s, but it did not answer within %d ms",
                m->inst, m->timeout_ms);
    if (!rc) {
        m->pid = me;
        m->autostarted = true;
    }
    return rc;
}

static int read_packet(struct etsmgr *m, int timeout_ms, int *is_reply, shmets_term *t);
static int queue_event(struct etsmgr *m, shmets_term t);

/* The connection is gone (the daemon died): keep the messages it had delivered and we had
 * not read yet, then close it. */
static void lost(struct etsmgr *m)
{
    int is_reply;
    shmets_term t;
    while (m->fd >= 0 && read_packet(m, 0, &is_reply, &t) == 1) {
        if (is_reply)
            shmets_term_free(&t);
        else
            queue_event(m, t);
    }
    if (m->fd >= 0)
        close(m->fd);
    m->fd = -1;
}

int etsmgr_connect(shmets *db, const etsmgr_opts *opts, etsmgr **out)
{
    if (!db || !out)
        return err_set(SHMETS_EINVAL, "NULL argument to etsmgr_connect");
    pthread_mutex_lock(&reg_mu);
    struct etsmgr *m;
    for (m = reg; m; m = m->next)
        if (!strcmp(m->inst, db->inst))
            break;
    int rc = 0;
    if (!m) {
        etsmgr_opts o;
        if (opts)
            o = *opts;
        else
            etsmgr_opts_init(&o);
        m = calloc(1, sizeof *m);
        unsigned char *buf = malloc(MGR_PACKET_MAX);
        if (!m || !buf) {
            free(m);
            free(buf);
            pthread_mutex_unlock(&reg_mu);
            return err_set(SHMETS_ENOMEM, "out of process memory");
        }
        m->buf = buf;
        m->db = db;
        snprintf(m->inst, sizeof m->inst, "%s", db->inst);
        m->fd = -1;
        m->evt = &m->evh;
        m->no_autostart = o.no_autostart;
        m->timeout_ms = o.timeout_ms > 0 ? o.timeout_ms : 5000;
        m->idle_exit_s = o.idle_exit_s;
        const char *idle = getenv("SHMETS_ETSMGR_IDLE");
        if (!m->idle_exit_s)
            m->idle_exit_s = idle && *idle ? atoi(idle) : ETSMGR_IDLE_EXIT_DEFAULT;
        if (!m->idle_exit_s)
            m->idle_exit_s = -1;        /* 0 in the environment: never */
        if (o.etsmgr_path)
            snprintf(m->exe, sizeof m->exe, "%s", o.etsmgr_path);
        const char *dir = o.runtime_dir ? o.runtime_dir : getenv("SHMETS_RUNTIME_DIR");
        if ((rc = mgr_runtime_dir(dir, m->dir, sizeof m->dir))) {
            free(m->buf);
            free(m);
            pthread_mutex_unlock(&reg_mu);
            return rc;
        }
        pthread_mutex_init(&m->mu, NULL);
        m->next = reg;
        reg = m;
    }
    m->refs++;
    pthread_mutex_unlock(&reg_mu);
    pthread_mutex_lock(&m->mu);
    rc = ensure(m);
    pthread_mutex_unlock(&m->mu);
    if (rc) {
        etsmgr_disconnect(m);
        return rc;
    }
    *out = m;
    return 0;
}

void etsmgr_disconnect(etsmgr *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&reg_mu);
    if (--m->refs > 0) {
        pthread_mutex_unlock(&reg_mu);
        return;
    }
    struct etsmgr **pp = &reg;
    while (*pp != m)
        pp = &(*pp)->next;
    *pp = m->next;
    pthread_mutex_unlock(&reg_mu);
    if (m->fd >= 0)
        close(m->fd);
    drop_events(m);
    pthread_mutex_destroy(&m->mu);
    free(m->buf);
    free(m);
}

int etsmgr_fd(etsmgr *m)
{
    if (!m)
        return -1;
    pthread_mutex_lock(&m->mu);
    int fd = m->pid == getpid() ? m->fd : -1;
    pthread_mutex_unlock(&m->mu);
    return fd;
}

pid_t etsmgr_daemon_pid(etsmgr *m)
{
    return m ? atomic_load(&m->daemon) : 0;
}

bool etsmgr_autostarted(etsmgr *m)
{
    if (!m)
        return false;
    pthread_mutex_lock(&m->mu);
    bool r = m->autostarted && m->fd >= 0 && m->pid == getpid();
    pthread_mutex_unlock(&m->mu);
    return r;
}

/* ---- packets ------------------------------------------------------------------------------ */

/* Read one packet within timeout_ms (-1: for ever): 1 and *kind_reply set, 0 on timeout, or
 * an error (the connection is dropped on EOF).  *t owns its bytes. */
static int read_packet(struct etsmgr *m, int timeout_ms, int *is_reply, shmets_term *t)
{
    struct pollfd p = { .fd = m->fd, .events = POLLIN };
    int r;
    do
        r = poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    ssize_t n;
    do
        n = recv(m->fd, m->buf, MGR_PACKET_MAX, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n <= 0) {
        /* End of the stream: everything it carried was read before. */
        close(m->fd);
        m->fd = -1;
        return err_set(SHMETS_ESYS, "etsmgr closed the connection");
    }
    shmets_term whole, tag, body;
    size_t ar;
    if (shmets_term_from_etf(m->buf, (size_t)n, 0, &whole))
        return err_set(SHMETS_ESYS, "etsmgr sent a malformed packet");
    if (shmets_term_tuple_arity(whole, &ar) || ar != 2 || shmets_term_tuple_element(whole, 1, &tag) ||
        shmets_term_tuple_element(whole, 2, &body) ||
        !(mgr_atom_is(tag, "reply") || mgr_atom_is(tag, "event"))) {
        shmets_term_free(&whole);
        return err_set(SHMETS_ESYS, "etsmgr sent an unexpected packet");
    }
    *is_reply = mgr_atom_is(tag, "reply");
    int rc = shmets_term_dup(body, t);
    shmets_term_free(&whole);
    return rc ? rc : 1;
}

static int queue_event(struct etsmgr *m, shmets_term t)
{
    struct evq *q = malloc(sizeof *q);
    if (!q) {
        shmets_term_free(&t);
        return err_set(SHMETS_ENOMEM, "out of process memory");
    }
    q->next = NULL;
    q->t = t;
    *m->evt = q;
    m->evt = &q->next;
    return 0;
}

static int call_locked(struct etsmgr *m, shmets_term req, shmets_term *reply)
{
    int rc = ensure(m);
    if (rc)
        return rc;
    if ((rc = mgr_send_term(m->fd, req)) == -SHMETS_ESYS) {
        /* The daemon went away before we spoke: speak to the next one. */
        lost(m);
        if ((rc = ensure(m)) == 0)
            rc = mgr_send_term(m->fd, req);
    }
    if (rc)
        return rc;
    int64_t end = now_ms() + m->timeout_ms;
    for (;;) {
        int64_t left = end - now_ms();
        if (left <= 0) {
            /* Its reply may still come: the next call must not take it for its own. */
            m->stale++;
            return err_set(SHMETS_ESYS, "etsmgr did not reply within %d ms", m->timeout_ms);
        }
        int is_reply;
        shmets_term t;
        rc = read_packet(m, (int)left, &is_reply, &t);
        if (rc < 0)
            return rc;
        if (rc == 0)
            continue;
        if (is_reply && m->stale) {     /* the reply of a call that timed out */
            m->stale--;
            shmets_term_free(&t);
            continue;
        }
        if (is_reply) {
            *reply = t;
            return 0;
        }
        if ((rc = queue_event(m, t)))
            return rc;
    }
}

int etsmgr_call(etsmgr *m, shmets_term req, shmets_term *reply)
{
    if (!m || !req.ptr || !reply)
        return err_set(SHMETS_EINVAL, "NULL argument to etsmgr_call");
    pthread_mutex_lock(&m->mu);
    int rc = call_locked(m, req, reply);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int etsmgr_next_event(etsmgr *m, int timeout_ms, shmets_term *msg)
{
    if (!m || !msg)
        return err_set(SHMETS_EINVAL, "NULL argument to etsmgr_next_event");
    pthread_mutex_lock(&m->mu);
    int rc;
    int64_t end = timeout_ms < 0 ? INT64_MAX : now_ms() + timeout_ms;
    for (;;) {
        if (m->evh) {
            struct evq *q = m->evh;
            if (!(m->evh = q->next))
                m->evt = &m->evh;
            *msg = q->t;
            free(q);
            rc = 0;
            break;
        }
        if ((rc = ensure(m)))
            break;
        int64_t left = end == INT64_MAX ? -1 : end - now_ms();
        if (left < 0 && end != INT64_MAX) {
            rc = -SHMETS_EAGAIN;
            break;
        }
        int is_reply;
        shmets_term t;
        rc = read_packet(m, left > INT32_MAX ? INT32_MAX : (int)left, &is_reply, &t);
        if (rc == -SHMETS_ESYS && m->fd < 0 && m->follows) {
            m->follows = false;     /* a follower's stream ends with its daemon */
            rc = err_set(SHMETS_ENOENT, "etsmgr stopped");
            break;
        }
        if (rc == -SHMETS_ESYS && m->fd < 0)
            continue;               /* the daemon went away: reconnect (held messages come) */
        if (rc < 0)
            break;
        if (rc == 0) {
            if (end != INT64_MAX && now_ms() >= end) {
                rc = -SHMETS_EAGAIN;
                break;
            }
            continue;
        }
        if (is_reply) {             /* a reply nobody waits for (a call timed out) */
            if (m->stale)
                m->stale--;
            shmets_term_free(&t);
            continue;
        }
        *msg = t;
        rc = 0;
        break;
    }
    pthread_mutex_unlock(&m->mu);
    if (rc == -SHMETS_EAGAIN)
        err_set(SHMETS_EAGAIN, "no message within %d ms", timeout_ms);
    return rc;
}

/* ---- the calls ---------------------------------------------------------------------------- */

/* Map {error, Reason} to a code (0 for anything else); the detail holds Reason's text. */
static int reply_error(shmets_term r)
{
    size_t ar;
    shmets_term tag, why, first;
    if (shmets_term_tuple_arity(r, &ar) || ar != 2 || shmets_term_tuple_element(r, 1, &tag) ||
        !mgr_atom_is(tag, "error") || shmets_term_tuple_element(r, 2, &why))
        return 0;
    first = why;
    if (shmets_term_tuple_arity(why, &ar) == 0 && ar >= 1)
        shmets_term_tuple_element(why, 1, &first);
    static const struct { const char *reason; int code; } map[] = {
        { "not_owner", SHMETS_EOWNER }, { "name_conflict", SHMETS_EEXIST }, { "not_found", SHMETS_ENOENT },
        { "dead_receiver", SHMETS_ENOENT }, { "badarg", SHMETS_EINVAL }, { "too_big", SHMETS_ETOOBIG },
        { "eexist", SHMETS_EEXIST }, { "enomem", SHMETS_ENOMEM }, { "einval", SHMETS_EINVAL },
        { "enoent", SHMETS_ENOENT }, { "eowner", SHMETS_EOWNER }, { "eacces", SHMETS_EACCES },
    };
    int code = SHMETS_ESYS;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (mgr_atom_is(first, map[i].reason))
            code = map[i].code;
    char *txt = NULL;
    shmets_term_format(why, &txt, NULL);
    err_set(code, "etsmgr: %s", txt ? txt : "error");
    free(txt);
    return -code;
}

/* Build a request with fmt-less helpers: the caller fills the builder after the tag. */
static int request(etsmgr *m, shmets_builder *b, shmets_term *reply)
{
    shmets_term q;
    int rc = shmets_builder_finish(b, &q);
    shmets_builder_destroy(b);
    if (rc)
        return rc;
    rc = etsmgr_call(m, q, reply);
    shmets_term_free(&q);
    if (rc)
        return rc;
    if ((rc = reply_error(*reply)))
        shmets_term_free(reply);
    return rc;
}

static int begin(shmets_builder **b, const char *call, size_t arity)
{
    int rc = shmets_builder_create(b);
    if (rc)
        return rc;
    shmets_build_tuple(*b, arity);
    return shmets_build_atom(*b, call, strlen(call));
}

/* Table id's term into the request (the builder is destroyed on failure). */
static int build_tab(shmets_builder *b, uint64_t id)
{
    shmets_term tab;
    int rc = shmets_id_term(id, &tab);
    if (rc) {
        shmets_builder_destroy(b);
        return rc;
    }
    rc = shmets_build_term(b, tab);
    shmets_term_free(&tab);
    return rc;
}

/* {ok, Pid, Tab} -> the daemon's pid and the table's id. */
static int ok_tab(etsmgr *m, shmets_term r, uint64_t *id)
{
    size_t ar;
    shmets_term tag, p, tab;
    pid_t d;
    if (shmets_term_tuple_arity(r, &ar) || ar != 3 || shmets_term_tuple_element(r, 1, &tag) ||
        !mgr_atom_is(tag, "ok") || shmets_term_tuple_element(r, 2, &p) || shmets_term_tuple_element(r, 3, &tab) ||
        mgr_pid_of(p, &d))
        return err_set(SHMETS_ESYS, "etsmgr sent an unexpected reply");
    atomic_store(&m->daemon, d);
    return id ? mgr_tab_id(&m->db->c, tab, id) : 0;
}

static int heir_of(shmets_term opts, pid_t *heir, shmets_term *data)
{
    shmets_opts o;
    int rc = shmets_opts_from_term(opts, &o);
    *heir = (pid_t)o.heir_pid;
    *data = o.heir_data;
    return rc;
}

int etsmgr_new_table(etsmgr *m, const char *name, const char *ets_name, shmets_term opts, uint64_t *id)
{
    if (!m || !name || !ets_name || !opts.ptr || !id)
        return err_set(SHMETS_EINVAL, "NULL argument to etsmgr_new_table");
    pid_t heir;
    shmets_term data;
    int rc = heir_of(opts, &heir, &data);
    if (rc)
        return err_set(SHMETS_EINVAL, "%s", shmets_errdetail());
    shmets_builder *b;
    shmets_term r;
    if ((rc = begin(&b, "new_table", 4)))
        return rc;
    shmets_build_atom(b, name, strlen(name));
    shmets_build_atom(b, ets_name, strlen(ets_name));
    shmets_build_term(b, opts);
    if ((rc = request(m, b, &r)))
        return rc;
    rc = ok_tab(m, r, id);
    shmets_term_free(&r);
    /* The heir's data: the daemon wrote it at creation; on a comeback it set the heir's pid
     * only, and the data is written here (see the header). */
    if (!rc && heir && data.ptr && shmets_term_type(data) != SHMETS_T_NIL)
        rc = etsmgr_setopts_heir(m->db, *id, heir, &data);
    return rc;
}

int etsmgr_add_table(etsmgr *m, const char *name, uint64_t id)
{
    if (!m || !name)
        return err_set(SHMETS_EINVAL, "NULL argument to etsmgr_add_table");
    shmets_builder *b;
    shmets_term r;
    int rc = begin(&b, "add_table", 3);
    if (rc)
        return rc;
    shmets_build_atom(b, name, strlen(name));
    if ((rc = build_tab(b, id)))
        return rc;
    if ((rc = request(m, b, &r)))
        return rc;
    rc = ok_tab(m, r, NULL);
    shmets_term_free(&r);
    return rc;
}

int etsmgr_del_table(etsmgr *m, const char *name)
{
    if (!m || !name)
        return err_set(SHMETS_EINVAL, "NULL argument to etsmgr_del_table");
    shmets_builder *b;
    shmets_term r;
    int rc = begin(&b, "del_table", 2);
    if (rc)
        return rc;
    shmets_build_atom(b, name, strlen(name));
    if ((rc = request(m, b, &r)))
        return rc;
    shmets_term_free(&r);
    return 0;
}

int etsmgr_info(etsmgr *m, shmets_term *info)
{
    if (!m || !info)
        return err_set(SHMETS_EINVAL, "NULL argument to etsmgr_info");
    shmets_builder *b;
    int rc = shmets_builder_create(&b);
    if (rc)
        return rc;
    shmets_build_atom(b, "info", 4);
    return request(m, b, info);
}

/* A request that is one atom and answered ok. */
static int atom_call(etsmgr *m, const char *what)
{
    shmets_builder *b;
    shmets_term r;
    int rc = shmets_builder_create(&b);
    if (rc)
        return rc;
    shmets_build_atom(b, what, strlen(what));
    if ((rc = request(m, b, &r)))
        return rc;
    rc = mgr_atom_is(r, "ok") ? 0 : err_set(SHMETS_ESYS, "etsmgr sent an unexpected reply");
    shmets_term_free(&r);
    return rc;
}

int etsmgr_follow(etsmgr *m)
{
    if (!m)
        return err_set(SHMETS_EINVAL, "NULL argument to etsmgr_follow");
    int rc = atom_call(m, "follow");
    if (!rc) {
        pthread_mutex_lock(&m->mu);
        m->follows = true;
        pthread_mutex_unlock(&m->mu);
    }
    return rc;
}

int etsmgr_stop(etsmgr *m)
{
    if (!m)
        return err_set(SHMETS_EINVAL, "NULL argument to etsmgr_stop");
    return atom_call(m, "stop");
}

int etsmgr_give_away(etsmgr *m, uint64_t id, pid_t to, shmets_term gift)
{
    if (!m || !gift.ptr || to <= 0)
        return err_set(SHMETS_EINVAL, "bad argument to etsmgr_give_away");
    shmets_builder *b;
    shmets_term r;
    int rc = begin(&b, "give_away", 4);
    if (rc)
        return rc;
    if ((rc = build_tab(b, id)))
        return rc;
    shmets_build_pid(b, (uint32_t)to);
    shmets_build_term(b, gift);
    if ((rc = request(m, b, &r)))
        return rc;
    shmets_term_free(&r);
    return 0;
}

int etsmgr_setopts_heir(shmets *db, uint64_t id, pid_t heir, const shmets_term *data)
{
    if (!db || heir < 0)
        return err_set(SHMETS_EINVAL, "bad argument to etsmgr_setopts_heir");
    shmets_tab *t;
    int rc = shmets_attach(db, id, &t);
    if (rc)
        return rc;
    rc = shmets_set_heir(t, (uint32_t)heir, data);
    shmets_detach(t);
    return rc;
}
