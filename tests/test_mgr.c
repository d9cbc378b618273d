/*
 * test_mgr.c — etsmgr's supervision at work: owners killed with SIGKILL (with an heir, managed,
 * unmanaged without an heir) while readers keep reading; etsmgr killed mid-run and restarted;
 * give_away; a dead reader's slots cleared.  Every case ends with the right owner, the message
 * delivered, the data intact and shmets_check() passing.  The daemon is this build's, in a
 * private runtime directory, started and killed by pid (tests/mgrutil.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mgrutil.h"

#include <poll.h>
#include "table/table.h"

#define N 500

static shmets *db;
static etsmgr *m;

/* ---- children ----------------------------------------------------------------------------- */

struct owner_arg {
    const char *name;           /* managed name, or NULL: plain shmets_new */
    const char *opts;           /* option list text */
    int stay;                   /* pause() after reporting (until killed) */
    pid_t give_to;              /* give the table away to this process, with gift {gift,42} */
    size_t big_heir;            /* then make the heir's data a binary of this many bytes */
};

static int fill(shmets_tab *t, int from, int to)
{
    for (int i = from; i < to; i++) {
        char txt[64];
        snprintf(txt, sizeof txt, "{%d,%d}", i, i * i);
        shmets_term o = mu_parse(txt);
        int rc = shmets_insert(t, o);
        shmets_term_free(&o);
        if (rc)
            return rc;
    }
    return 0;
}

static int owner_main(void *a_, int wfd)
{
    struct owner_arg *a = a_;
    shmets *d;
    etsmgr *mm;
    shmets_tab *t;
    uint64_t id;
    if (shmets_open(mu_inst, &d))
        return 10;
    shmets_term opts = mu_parse(a->opts);
    if (a->name) {
        if (etsmgr_connect(d, NULL, &mm) || etsmgr_new_table(mm, a->name, "tab", opts, &id) ||
            shmets_attach(d, id, &t))
            return 11;
    } else {
        shmets_opts o;
        shmets_opts_init(&o);
        o.access = SHMETS_PUBLIC;
        if (shmets_new(d, "plain", &o, &t))
            return 12;
        id = shmets_id(t);
    }
    if (fill(t, 0, N))
        return 13;
    if (a->big_heir) {
        shmets_builder *b;
        shmets_term bin;
        char *bytes = calloc(1, a->big_heir);
        if (shmets_builder_create(&b) || shmets_build_binary(b, bytes, a->big_heir) ||
            shmets_builder_finish(b, &bin) || etsmgr_setopts_heir(d, id, getppid(), &bin))
            return 15;
        /* A gift that large does not fit a packet: refused before it is sent. */
        if (etsmgr_give_away(mm, id, getppid(), bin) != -SHMETS_ETOOBIG)
            return 16;
    }
    if (a->give_to) {
        shmets_term gift = mu_parse("{gift,42}");
        if (etsmgr_give_away(mm, id, a->give_to, gift))
            return 14;
    }
    mu_write_u64(wfd, id);
    for (;;)
        if (!a->stay)
            return 0;
        else
            pause();
}

/* Reads objects of table id for about a second; 0 if every read found what was written. */
static int reader_main(void *a_, int wfd)
{
    uint64_t id = *(uint64_t *)a_;
    shmets *d;
    shmets_tab *t;
    if (shmets_open(mu_inst, &d) || shmets_attach(d, id, &t))
        return 20;
    mu_write_u64(wfd, 1);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int bad = 0;
    for (unsigned i = 0;; i++) {
        char k[32], want[64];
        int key = (int)(i * 7919u % N);
        snprintf(k, sizeof k, "%d", key);
        snprintf(want, sizeof want, "[{%d,%d}]", key, key * key);
        shmets_term kt = mu_parse(k), w = mu_parse(want), got;
        if (shmets_lookup(t, kt, &got) || !shmets_term_exact_equal(got, w))
            bad++;
        else
            shmets_term_free(&got);
        shmets_term_free(&kt);
        shmets_term_free(&w);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 >= 800)
            break;
    }
    return bad ? 21 : 0;
}

/* A process that comes back and calls new_table for a name it had: reports id and size. */
static int comeback_main(void *a_, int wfd)
{
    const char *name = a_;
    shmets *d;
    etsmgr *mm;
    shmets_tab *t;
    uint64_t id, size;
    shmets_term opts = mu_parse("[protected]");
    if (shmets_open(mu_inst, &d) || etsmgr_connect(d, NULL, &mm) || etsmgr_new_table(mm, name, "tab", opts, &id) ||
        shmets_attach(d, id, &t) || shmets_size(t, &size))
        return 30;
    if (fill(t, N, N + 1))          /* it owns the table again: it can write a protected one */
        return 31;
    mu_write_u64(wfd, id);
    mu_write_u64(wfd, size);
    return 0;
}

/* Holds a read section open until killed. */
static int section_main(void *a_, int wfd)
{
    (void)a_;
    shmets *d;
    if (shmets_open(mu_inst, &d) || shmets_read_begin(d))
        return 40;
    mu_write_u64(wfd, (uint64_t)getpid());
    for (;;)
        pause();
}

/* An heir that is not connected: it waits until it owns the named table `tab`, then until the
 * parent writes a byte on go_fd, and only then connects; 0 if the message it then gets is
 * {'ETS-TRANSFER', tab, _, nc}. */
static int go_fd = -1;

static int late_heir_main(void *a_, int wfd)
{
    (void)a_;
    shmets *d;
    etsmgr *mm;
    if (shmets_open(mu_inst, &d))
        return 50;
    for (int i = 0; i < 1000; i++) {
        shmets_tab *t;
        shmets_tab_info in;
        if (shmets_attach_name(d, "tab", &t) == 0) {
            int mine = shmets_info(t, &in) == 0 && in.owner == (uint32_t)getpid();
            shmets_detach(t);
            if (mine)
                break;
        }
        mu_sleep_ms(5);
    }
    mu_write_u64(wfd, 1);           /* it owns the table, not connected */
    char go;
    if (read(go_fd, &go, 1) != 1)
        return 51;
    shmets_term msg;
    if (etsmgr_connect(d, NULL, &mm) || etsmgr_next_event(mm, 5000, &msg))
        return 52;
    char *txt = mu_fmt(msg);
    int ok = txt && !strncmp(txt, "{'ETS-TRANSFER',tab,<0.", 23) && strstr(txt, ",nc}");
    free(txt);
    return ok ? 0 : 53;
}

/* ---- checks ------------------------------------------------------------------------------- */

static char *fmt_pid_opts(const char *fmt)
{
    static char buf[128];
    snprintf(buf, sizeof buf, fmt, (int)getpid());
    return buf;
}

/* The next message is {'ETS-TRANSFER', Tab(id), <from>, data}. */
static void expect_transfer(uint64_t id, pid_t from, const char *data)
{
    shmets_term msg, tid;
    assert_int_equal(etsmgr_next_event(m, 5000, &msg), 0);
    assert_int_equal(shmets_id_term(id, &tid), 0);
    char *ttxt = mu_fmt(tid), want[512];
    snprintf(want, sizeof want, "{'ETS-TRANSFER',%s,<0.%d.0>,%s}", ttxt, (int)from, data);
    char *got = mu_fmt(msg);
    char *star = strchr(want, '*');                 /* data "...*": that prefix, then anything */
    if (star)
        assert_int_equal(strncmp(got, want, (size_t)(star - want)), 0);
    else
        assert_string_equal(got, want);
    free(got);
    free(ttxt);
    shmets_term_free(&tid);
    shmets_term_free(&msg);
}

/* The table is owned by this process, holds `objects` objects, and passes shmets_check. */
static void expect_mine(uint64_t id, uint64_t objects)
{
    shmets_tab *t;
    shmets_tab_info in;
    uint64_t size;
    assert_int_equal(shmets_attach(db, id, &t), 0);
    assert_int_equal(shmets_info(t, &in), 0);
    assert_int_equal(in.owner, (uint32_t)getpid());
    assert_int_equal(shmets_size(t, &size), 0);
    assert_int_equal(size, objects);
    assert_int_equal(shmets_check(t), 0);
    assert_int_equal(fill(t, 1000, 1001), 0);       /* the owner writes */
    assert_int_equal(shmets_delete(t), 0);
}

/* Wait (up to 5 s) until table id is gone. */
static int gone(uint64_t id)
{
    for (int i = 0; i < 500; i++) {
        shmets_tab *t;
        int rc = shmets_attach(db, id, &t);
        if (rc == -SHMETS_ENOENT)
            return 1;
        if (rc == 0)
            shmets_detach(t);
        mu_sleep_ms(10);
    }
    return 0;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void heir_inherits_while_readers_read(void **s)
{
    (void)s;
    struct owner_arg a = { "h1", fmt_pid_opts("[protected,{heir,<0.%d.0>,hd}]"), 1, 0, 0 };
    struct mu_child o = mu_spawn(owner_main, &a);
    uint64_t id = mu_read_u64(&o);
    assert_true(id != 0);
    struct mu_child r[2];
    for (int i = 0; i < 2; i++) {
        r[i] = mu_spawn(reader_main, &id);
        assert_int_equal(mu_read_u64(&r[i]), 1);
    }
    kill(o.pid, SIGKILL);
    assert_int_equal(mu_wait(&o), -1);
    expect_transfer(id, o.pid, "hd");
    for (int i = 0; i < 2; i++)
        assert_int_equal(mu_wait(&r[i]), 0);
    expect_mine(id, N);
}

static void heir_data_too_big_for_a_packet(void **s)
{
    (void)s;
    struct owner_arg a = { "big", fmt_pid_opts("[public,{heir,<0.%d.0>,small}]"), 1, 0, 200000 };
    struct mu_child o = mu_spawn(owner_main, &a);
    uint64_t id = mu_read_u64(&o);
    assert_true(id != 0);
    kill(o.pid, SIGKILL);
    assert_int_equal(mu_wait(&o), -1);
    /* The message comes; its data says how large the real one is. */
    expect_transfer(id, o.pid, "{too_big,*}");
    assert_int_equal(etsmgr_del_table(m, "big"), 0);
    expect_mine(id, N);
}

/* The heir is not connected when it inherits: it owns the table at once and gets the message
 * when it connects — held by the daemon, or (restart) rebuilt from the catalog by the next. */
static void late_heir(int restart)
{
    int go[2];
    assert_int_equal(pipe(go), 0);
    go_fd = go[0];
    struct mu_child h = mu_spawn(late_heir_main, NULL);
    close(go[0]);
    char opts[128];
    snprintf(opts, sizeof opts, "[named_table,public,{heir,<0.%d.0>,nc}]", (int)h.pid);
    struct owner_arg a = { restart ? "late2" : "late1", opts, 1, 0, 0 };
    struct mu_child o = mu_spawn(owner_main, &a);
    uint64_t id = mu_read_u64(&o);
    assert_true(id != 0);
    kill(o.pid, SIGKILL);
    assert_int_equal(mu_wait(&o), -1);
    assert_int_equal(mu_read_u64(&h), 1);      /* the heir owns it, unconnected */
    if (restart) {
        mu_kill(mu_daemon, SIGKILL);
        mu_start();
    }
    assert_int_equal(write(go[1], "g", 1), 1);
    close(go[1]);
    assert_int_equal(mu_wait(&h), 0);
    /* The heir has exited since, and the table is managed: it waits for its client, and
     * nobody else may drop it; this process takes the name over (its client is dead). */
    const char *name = restart ? "late2" : "late1";
    assert_int_equal(etsmgr_del_table(m, name), -SHMETS_EOWNER);
    shmets_term opts0 = mu_parse("[]");
    uint64_t again;
    assert_int_equal(etsmgr_new_table(m, name, "tab", opts0, &again), 0);
    assert_int_equal(again, id);
    shmets_term_free(&opts0);
    assert_int_equal(etsmgr_del_table(m, name), 0);
    expect_mine(id, N);
}

static void heir_not_connected_gets_it_on_connect(void **s)
{
    (void)s;
    late_heir(0);
}

static void heir_not_connected_across_a_restart(void **s)
{
    (void)s;
    late_heir(1);
}

static void managed_table_waits_for_its_client(void **s)
{
    (void)s;
    struct owner_arg a = { "m1", "[protected]", 1, 0, 0 };
    struct mu_child o = mu_spawn(owner_main, &a);
    uint64_t id = mu_read_u64(&o), other;
    assert_true(id != 0);
    /* While its client lives, nobody else gets it, deletes it or gives it away. */
    shmets_term opts = mu_parse("[]"), gift = mu_parse("x");
    assert_int_equal(etsmgr_new_table(m, "m1", "tab", opts, &other), -SHMETS_EEXIST);
    assert_int_equal(etsmgr_del_table(m, "m1"), -SHMETS_EOWNER);
    assert_int_equal(etsmgr_give_away(m, id, getpid(), gift), -SHMETS_EOWNER);
    assert_int_equal(etsmgr_add_table(m, "m1x", id), -SHMETS_EOWNER);

    struct mu_child r = mu_spawn(reader_main, &id);
    assert_int_equal(mu_read_u64(&r), 1);
    kill(o.pid, SIGKILL);
    assert_int_equal(mu_wait(&o), -1);
    /* Its client comes back (another process: a restart) and gets it back, data intact. */
    struct mu_child c = mu_spawn(comeback_main, "m1");
    assert_int_equal(mu_read_u64(&c), id);
    assert_int_equal(mu_read_u64(&c), N);
    assert_int_equal(mu_wait(&c), 0);
    assert_int_equal(mu_wait(&r), 0);
    /* That client is dead too now: the table still waits, and info says so. */
    shmets_term info;
    assert_int_equal(etsmgr_info(m, &info), 0);
    char *txt = mu_fmt(info);
    assert_non_null(strstr(txt, "m1 => #{"));
    assert_non_null(strstr(txt, "client_alive => false"));
    free(txt);
    shmets_term_free(&info);
    /* This process takes the name over, then lets it go. */
    assert_int_equal(etsmgr_new_table(m, "m1", "tab", opts, &other), 0);
    assert_int_equal(other, id);
    assert_int_equal(etsmgr_del_table(m, "m1"), 0);
    assert_int_equal(etsmgr_del_table(m, "m1"), -SHMETS_ENOENT);
    expect_mine(id, N + 1);
    shmets_term_free(&opts);
    shmets_term_free(&gift);
}

static void unmanaged_table_without_heir_is_deleted(void **s)
{
    (void)s;
    struct owner_arg a = { NULL, "[]", 1, 0, 0 };     /* never talks to etsmgr */
    struct mu_child o = mu_spawn(owner_main, &a);
    uint64_t id = mu_read_u64(&o);
    assert_true(id != 0);
    kill(o.pid, SIGKILL);
    assert_int_equal(mu_wait(&o), -1);
    assert_true(gone(id));
}

static void give_away_tells_the_receiver(void **s)
{
    (void)s;
    struct owner_arg a = { "g1", "[protected]", 0, getpid(), 0 };
    struct mu_child o = mu_spawn(owner_main, &a);
    uint64_t id = mu_read_u64(&o);
    assert_true(id != 0);
    assert_int_equal(mu_wait(&o), 0);
    expect_transfer(id, o.pid, "{gift,42}");
    shmets_term gift = mu_parse("[]");
    assert_int_equal(etsmgr_give_away(m, id, getpid(), gift), -SHMETS_EINVAL);   /* to itself */
    assert_int_equal(etsmgr_give_away(m, id, o.pid, gift), -SHMETS_ENOENT);      /* to the dead */
    assert_int_equal(etsmgr_give_away(m, id, mu_daemon, gift), -SHMETS_EINVAL);  /* to etsmgr */
    shmets_term_free(&gift);
    assert_int_equal(etsmgr_del_table(m, "g1"), 0);     /* the owner may */
    expect_mine(id, N);
}

/* A restarted client whose new_table for its name reaches the daemon before the old owner's
 * death does (it waits behind the request in the daemon's event queue) must not take the
 * table: the death rules run first, the live heir inherits, and the name is in conflict with
 * it.  The child connects by hand, the daemon is stopped, the child's request goes in, then
 * the owner dies, then the daemon runs on: it sees the request first. */
static int early_comeback_main(void *a_, int wfd)
{
    (void)a_;
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (snprintf(sa.sun_path, sizeof sa.sun_path, "%s", mu_sock) >= (int)sizeof sa.sun_path)
        return 59;
    static unsigned char rbuf[65536];
    unsigned char *buf;
    size_t len;
    shmets_term ping = mu_parse("ping"), req = mu_parse("{new_table,r1,tab,[]}");
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) || shmets_term_to_etf(ping, &buf, &len) ||
        send(s, buf, len, 0) != (ssize_t)len || recv(s, rbuf, sizeof rbuf, 0) <= 0)
        return 60;                  /* connected and served: accepted before the stop */
    free(buf);
    mu_write_u64(wfd, 1);
    char go;
    if (read(go_fd, &go, 1) != 1 || shmets_term_to_etf(req, &buf, &len) || send(s, buf, len, 0) != (ssize_t)len)
        return 61;
    free(buf);
    mu_write_u64(wfd, 2);           /* the request is queued in the stopped daemon */
    ssize_t n = recv(s, rbuf, sizeof rbuf, 0);
    shmets_term r;
    if (n <= 0 || shmets_term_from_etf(rbuf, (size_t)n, 0, &r))
        return 62;
    char *txt = mu_fmt(r), want[96];
    snprintf(want, sizeof want, "{reply,{error,{name_conflict,<0.%d.0>}}}", (int)getppid());
    int ok = txt && !strcmp(txt, want);
    if (!ok)
        fprintf(stderr, "early comeback got %s, want %s\n", txt, want);
    free(txt);
    return ok ? 0 : 63;
}

static void heir_wins_over_an_early_comeback(void **s)
{
    (void)s;
    struct owner_arg a = { "r1", fmt_pid_opts("[protected,{heir,<0.%d.0>,early}]"), 1, 0, 0 };
    struct mu_child o = mu_spawn(owner_main, &a);
    uint64_t id = mu_read_u64(&o);
    assert_true(id != 0);
    int go[2];
    assert_int_equal(pipe(go), 0);
    go_fd = go[0];
    struct mu_child c = mu_spawn(early_comeback_main, NULL);
    close(go[0]);
    assert_int_equal(mu_read_u64(&c), 1);
    int st;
    kill(mu_daemon, SIGSTOP);
    assert_int_equal(waitpid(mu_daemon, &st, WUNTRACED), mu_daemon);
    assert_true(WIFSTOPPED(st));
    assert_int_equal(write(go[1], "g", 1), 1);
    close(go[1]);
    assert_int_equal(mu_read_u64(&c), 2);
    kill(o.pid, SIGKILL);
    assert_int_equal(mu_wait(&o), -1);
    kill(mu_daemon, SIGCONT);
    assert_int_equal(mu_wait(&c), 0);
    expect_transfer(id, o.pid, "early");
    assert_int_equal(etsmgr_del_table(m, "r1"), 0);
    expect_mine(id, N);
}

/* A call that timed out (the daemon stopped) must not leave its late reply for the next call
 * to take as its own. */
static int slow_daemon_main(void *a_, int wfd)
{
    (void)a_;
    shmets *d;
    etsmgr *mm;
    etsmgr_opts o;
    etsmgr_opts_init(&o);
    o.timeout_ms = 300;
    shmets_term info;
    if (shmets_open(mu_inst, &d) || etsmgr_connect(d, &o, &mm) || etsmgr_info(mm, &info))
        return 70;
    shmets_term_free(&info);
    mu_write_u64(wfd, 1);
    char go;
    if (read(go_fd, &go, 1) != 1)
        return 71;
    if (etsmgr_del_table(mm, "no_such_name") != -SHMETS_ESYS)    /* stopped: times out */
        return 72;
    mu_write_u64(wfd, 2);
    if (read(go_fd, &go, 1) != 1)
        return 73;
    int rc = etsmgr_info(mm, &info);  /* the del_table's {error,not_found} arrives first */
    if (rc)
        return 74;
    int ok = shmets_term_type(info) == SHMETS_T_MAP;
    shmets_term_free(&info);
    etsmgr_disconnect(mm);
    shmets_close(d);
    return ok ? 0 : 75;
}

static void late_reply_is_not_the_next_calls(void **s)
{
    (void)s;
    int go[2];
    assert_int_equal(pipe(go), 0);
    go_fd = go[0];
    struct mu_child c = mu_spawn(slow_daemon_main, NULL);
    close(go[0]);
    assert_int_equal(mu_read_u64(&c), 1);
    int st;
    kill(mu_daemon, SIGSTOP);
    assert_int_equal(waitpid(mu_daemon, &st, WUNTRACED), mu_daemon);
    assert_int_equal(write(go[1], "g", 1), 1);
    assert_int_equal(mu_read_u64(&c), 2);
    kill(mu_daemon, SIGCONT);
    assert_int_equal(write(go[1], "g", 1), 1);
    close(go[1]);
    assert_int_equal(mu_wait(&c), 0);
}

static void etsmgr_killed_and_restarted(void **s)
{
    (void)s;
    struct owner_arg a = { "r1", fmt_pid_opts("[public,{heir,<0.%d.0>,{restart,1}}]"), 1, 0, 0 };
    struct owner_arg b = { "r2", "[public]", 1, 0, 0 };
    struct owner_arg c = { NULL, "[]", 1, 0, 0 };
    struct mu_child o = mu_spawn(owner_main, &a), k = mu_spawn(owner_main, &b), u = mu_spawn(owner_main, &c);
    uint64_t id = mu_read_u64(&o), id2 = mu_read_u64(&k), id3 = mu_read_u64(&u);
    assert_true(id && id2 && id3);
    mu_kill(mu_daemon, SIGKILL);
    /* No daemon: tables are read and written all the same. */
    struct mu_child r = mu_spawn(reader_main, &id);
    assert_int_equal(mu_read_u64(&r), 1);
    shmets_tab *t;
    assert_int_equal(shmets_attach(db, id, &t), 0);
    assert_int_equal(fill(t, N, N + 10), 0);
    shmets_detach(t);
    /* Owners die while it is down. */
    kill(o.pid, SIGKILL);
    assert_int_equal(mu_wait(&o), -1);
    kill(u.pid, SIGKILL);
    assert_int_equal(mu_wait(&u), -1);
    mu_start();
    /* The new daemon applies the rules: the heir (this process, reconnecting) inherits and is
     * told; the unmanaged table is deleted; the live client's table is re-adopted. */
    expect_transfer(id, o.pid, "{restart,1}");
    assert_true(gone(id3));
    shmets_term info;
    assert_int_equal(etsmgr_info(m, &info), 0);
    char *txt = mu_fmt(info);
    assert_non_null(strstr(txt, "r2 => #{"));
    assert_non_null(strstr(txt, "client_alive => true"));
    free(txt);
    shmets_term_free(&info);
    assert_int_equal(mu_wait(&r), 0);
    expect_mine(id, N + 10);
    kill(k.pid, SIGKILL);
    assert_int_equal(mu_wait(&k), -1);
    struct mu_child back = mu_spawn(comeback_main, "r2");
    assert_int_equal(mu_read_u64(&back), id2);
    assert_int_equal(mu_read_u64(&back), N);
    assert_int_equal(mu_wait(&back), 0);
    shmets_term opts = mu_parse("[]");
    uint64_t again;
    assert_int_equal(etsmgr_new_table(m, "r2", "tab", opts, &again), 0);
    assert_int_equal(again, id2);
    assert_int_equal(etsmgr_del_table(m, "r2"), 0);
    shmets_term_free(&opts);
    expect_mine(id2, N + 1);
}

static void unread_message_survives_a_daemon_restart(void **s)
{
    (void)s;
    /* The message reaches this process's socket, then the daemon dies before it is read;
     * the next call finds the connection gone and keeps what it held. */
    struct owner_arg a = { "u1", fmt_pid_opts("[public,{heir,<0.%d.0>,unread}]"), 1, 0, 0 };
    struct mu_child o = mu_spawn(owner_main, &a);
    uint64_t id = mu_read_u64(&o);
    assert_true(id != 0);
    kill(o.pid, SIGKILL);
    assert_int_equal(mu_wait(&o), -1);
    struct pollfd pf = { .fd = etsmgr_fd(m), .events = POLLIN };
    assert_int_equal(poll(&pf, 1, 5000), 1);            /* delivered, not read */
    mu_kill(mu_daemon, SIGKILL);
    mu_start();
    shmets_term info;
    assert_int_equal(etsmgr_info(m, &info), 0);         /* reconnects */
    shmets_term_free(&info);
    expect_transfer(id, o.pid, "unread");
    assert_int_equal(etsmgr_del_table(m, "u1"), 0);
    expect_mine(id, N);
}

/* The heir's socket is full (it does not read; large gifts fill it), so its ETS-TRANSFER
 * waits in the daemon's queue when the daemon is killed: the next daemon must still send it
 * (the catalog's CATM_XFER may be cleared only once the message was sent). */
#define GIFTS 6
static int gifts_main(void *a_, int wfd)
{
    (void)a_;
    shmets *d;
    etsmgr *mm;
    shmets_tab *t;
    uint64_t id;
    char txt[96];
    snprintf(txt, sizeof txt, "[public,{heir,<0.%d.0>,queued}]", (int)getppid());
    shmets_term opts = mu_parse(txt);
    if (shmets_open(mu_inst, &d) || etsmgr_connect(d, NULL, &mm) || etsmgr_new_table(mm, "q1", "tab", opts, &id) ||
        shmets_attach(d, id, &t) || fill(t, 0, N))
        return 80;
    shmets_builder *b;
    shmets_term gift;
    char *bytes = calloc(1, 100000);
    if (!bytes || shmets_builder_create(&b) || shmets_build_binary(b, bytes, 100000) ||
        shmets_builder_finish(b, &gift))
        return 81;
    shmets_builder_destroy(b);
    for (int i = 0; i < GIFTS; i++) {
        shmets_opts o;
        shmets_tab *g;
        shmets_opts_init(&o);
        if (shmets_new(d, "gift", &o, &g) || etsmgr_give_away(mm, shmets_id(g), getppid(), gift))
            return 82;
        mu_write_u64(wfd, shmets_id(g));
    }
    mu_write_u64(wfd, id);
    for (;;)
        pause();
}

static void queued_inheritance_survives_a_daemon_kill(void **s)
{
    (void)s;
    struct mu_child o = mu_spawn(gifts_main, NULL);
    uint64_t gifts[GIFTS];
    for (int i = 0; i < GIFTS; i++)
        assert_true((gifts[i] = mu_read_u64(&o)) != 0);
    uint64_t id = mu_read_u64(&o);
    assert_true(id != 0);
    kill(o.pid, SIGKILL);
    assert_int_equal(mu_wait(&o), -1);
    /* This process owns q1 once the daemon handled the death (its message then queued). */
    int mine = 0;
    for (int i = 0; i < 500 && !mine; i++) {
        shmets_tab *t;
        shmets_tab_info in;
        if (shmets_attach(db, id, &t) == 0) {
            mine = shmets_info(t, &in) == 0 && in.owner == (uint32_t)getpid();
            shmets_detach(t);
        }
        if (!mine)
            mu_sleep_ms(10);
    }
    assert_true(mine);
    mu_kill(mu_daemon, SIGKILL);
    mu_start();
    /* The gifts that were in the socket come, then (reconnected) the inheritance. */
    int got = 0;
    shmets_term msg;
    while (!got && etsmgr_next_event(m, 5000, &msg) == 0) {
        char *txt = mu_fmt(msg);
        got = strstr(txt, ",queued}") != NULL;
        free(txt);
        shmets_term_free(&msg);
    }
    assert_true(got);
    for (int i = 0; i < GIFTS; i++) {
        shmets_tab *g;
        assert_int_equal(shmets_attach(db, gifts[i], &g), 0);
        assert_int_equal(shmets_delete(g), 0);
    }
    assert_int_equal(etsmgr_del_table(m, "q1"), 0);
    expect_mine(id, N);
}

static int has_slot(pid_t pid)
{
    struct rcu_registry *reg = &db->c.h->reg;
    for (uint32_t i = 0; i < atomic_load(&reg->hiwater); i++)
        if (atomic_load(&reg->slots[i].pid) == pid)
            return 1;
    return 0;
}

static void dead_reader_slots_are_cleared(void **s)
{
    (void)s;
    struct mu_child r = mu_spawn(section_main, NULL);
    assert_int_equal(mu_read_u64(&r), (uint64_t)r.pid);
    assert_true(has_slot(r.pid));
    kill(r.pid, SIGKILL);
    /* Not reaped yet: a zombie, whose pidfd already says it died. */
    int cleared = 0;
    for (int i = 0; i < 500 && !cleared; i++) {
        cleared = !has_slot(r.pid);
        mu_sleep_ms(10);
    }
    assert_int_equal(mu_wait(&r), -1);
    assert_true(cleared);
}

static void no_daemon_no_autostart(void **s)
{
    (void)s;
    /* Another instance, no daemon, autostart off: a clear error, nothing started. */
    char inst[96];
    snprintf(inst, sizeof inst, "%s.none", mu_inst);
    shmets *d;
    etsmgr *x;
    assert_int_equal(shmets_open(inst, &d), 0);
    assert_int_equal(etsmgr_connect(d, NULL, &x), -SHMETS_ENOENT);
    shmets_close(d);
    shmets_destroy_instance(inst);
}

static void autostart_and_one_connection(void **s)
{
    (void)s;
    /* Another instance with no daemon: the first connect starts this build's etsmgr
     * (SHMETS_ETSMGR), detached; a second connect in the process is the same connection. */
    char inst[96], exe[PATH_MAX], pidf[PATH_MAX + 112];
    snprintf(inst, sizeof inst, "%s.auto", mu_inst);
    mu_exe(exe, sizeof exe);
    setenv("SHMETS_ETSMGR", exe, 1);
    unsetenv("SHMETS_NO_AUTOSTART");
    shmets *d;
    etsmgr *x, *y;
    assert_int_equal(shmets_open(inst, &d), 0);
    int leak[2];                        /* a descriptor the caller did not mark close-on-exec */
    assert_int_equal(pipe(leak), 0);
    int rc = etsmgr_connect(d, NULL, &x);
    setenv("SHMETS_NO_AUTOSTART", "1", 1);
    assert_int_equal(rc, 0);
    /* The daemon holds none of the caller's descriptors: with the write end closed here, the
     * pipe is at its end at once (a daemon holding it would keep a caller's pipe open for ever). */
    close(leak[1]);
    struct pollfd lp = { .fd = leak[0], .events = POLLIN };
    assert_int_equal(poll(&lp, 1, 0), 1);
    assert_true(lp.revents & POLLHUP);
    close(leak[0]);
    assert_int_equal(etsmgr_connect(d, NULL, &y), 0);
    assert_ptr_equal(x, y);
    assert_true(etsmgr_fd(x) >= 0);
    shmets_term info;
    assert_int_equal(etsmgr_info(x, &info), 0);
    shmets_term_free(&info);
    etsmgr_disconnect(y);
    etsmgr_disconnect(x);
    /* Stop it by its pid (from its pid file): it is not our child. */
    snprintf(pidf, sizeof pidf, "%s/%s.pid", mu_dir, inst);
    FILE *f = fopen(pidf, "r");
    assert_non_null(f);
    int pid = 0;
    assert_int_equal(fscanf(f, "%d", &pid), 1);
    fclose(f);
    assert_int_equal(kill(pid, SIGTERM), 0);
    for (int i = 0; i < 500 && kill(pid, 0) == 0; i++)
        mu_sleep_ms(10);
    assert_int_not_equal(kill(pid, 0), 0);
    shmets_close(d);
    shmets_destroy_instance(inst);
}

static int group_setup(void **s)
{
    (void)s;
    return mu_group_setup("test_mgr", &db, &m);
}

static int group_teardown(void **s)
{
    (void)s;
    return mu_group_teardown(db, m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(heir_inherits_while_readers_read),
        cmocka_unit_test(heir_data_too_big_for_a_packet),
        cmocka_unit_test(heir_not_connected_gets_it_on_connect),
        cmocka_unit_test(heir_not_connected_across_a_restart),
        cmocka_unit_test(managed_table_waits_for_its_client),
        cmocka_unit_test(unmanaged_table_without_heir_is_deleted),
        cmocka_unit_test(give_away_tells_the_receiver),
        cmocka_unit_test(heir_wins_over_an_early_comeback),
        cmocka_unit_test(late_reply_is_not_the_next_calls),
        cmocka_unit_test(etsmgr_killed_and_restarted),
        cmocka_unit_test(unread_message_survives_a_daemon_restart),
        cmocka_unit_test(queued_inheritance_survives_a_daemon_kill),
        cmocka_unit_test(dead_reader_slots_are_cleared),
        cmocka_unit_test(no_daemon_no_autostart),
        cmocka_unit_test(autostart_and_one_connection),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
