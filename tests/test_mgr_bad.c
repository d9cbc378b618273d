/*
 * test_mgr_bad.c — etsmgr against bad input and hostile clients: malformed ETF, wrong arities
 * and types, oversized packets, random bytes, a flood from a client that never reads, many
 * connections; each gets {error, Reason} or a closed connection while another client is
 * still served.  Also: the socket's mode (0600, 0660 with --group) and socket activation by
 * systemd-socket-activate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mgrutil.h"

#include <poll.h>
#include <sys/stat.h>

static shmets *db;
static etsmgr *m;

static int raw_connect(const char *path)
{
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (snprintf(a.sun_path, sizeof a.sun_path, "%s", path) >= (int)sizeof a.sun_path)
        abort();
    assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof a), 0);
    return s;
}

/* Send bytes; the reply's text ("closed" if the daemon closed the connection). */
static char *raw_call(int s, const void *buf, size_t len)
{
    static unsigned char rbuf[1 << 18];
    assert_int_equal(send(s, buf, len, MSG_NOSIGNAL), (ssize_t)len);
    struct pollfd p = { .fd = s, .events = POLLIN };
    assert_int_equal(poll(&p, 1, 5000), 1);
    ssize_t n = recv(s, rbuf, sizeof rbuf, 0);
    if (n <= 0)
        return strdup("closed");
    shmets_term t;
    assert_int_equal(shmets_term_from_etf(rbuf, (size_t)n, 0, &t), 0);
    char *txt = mu_fmt(t);
    shmets_term_free(&t);
    return txt;
}

/* Send a term given as text; expect the reply text. */
static void expect_reply(int s, const char *req, const char *want)
{
    shmets_term t = mu_parse(req);
    unsigned char *buf;
    size_t len;
    assert_int_equal(shmets_term_to_etf(t, &buf, &len), 0);
    char *got = raw_call(s, buf, len);
    if (strcmp(got, want))
        fail_msg("request %s: got %s, want %s", req, got, want);
    free(got);
    free(buf);
    shmets_term_free(&t);
}

static void served(void)
{
    shmets_term info;
    assert_int_equal(etsmgr_info(m, &info), 0);
    shmets_term_free(&info);
}

static void malformed_and_wrong_requests(void **s)
{
    (void)s;
    int c = raw_connect(mu_sock);
    static const unsigned char bad1[] = { 131, 200, 1, 2 }, bad2[] = { 'a', 'b', 'c' },
                               bad3[] = { 131, 104, 5, 100 };   /* tuple of 5, then nothing */
    char *r;
    r = raw_call(c, bad1, sizeof bad1);
    assert_string_equal(r, "{reply,{error,bad_term}}");
    free(r);
    r = raw_call(c, bad2, sizeof bad2);
    assert_string_equal(r, "{reply,{error,bad_term}}");
    free(r);
    r = raw_call(c, bad3, sizeof bad3);
    assert_string_equal(r, "{reply,{error,bad_term}}");
    free(r);
    expect_reply(c, "ping", "{reply,pong}");
    expect_reply(c, "42", "{reply,{error,badarg}}");
    expect_reply(c, "{}", "{reply,{error,badarg}}");
    expect_reply(c, "{foo,1}", "{reply,{error,badarg}}");
    expect_reply(c, "{new_table,a}", "{reply,{error,badarg}}");
    expect_reply(c, "{new_table,a,b,c,d,e}", "{reply,{error,badarg}}");
    expect_reply(c, "{new_table,1,b,[]}", "{reply,{error,badarg}}");
    expect_reply(c, "{new_table,a,b,notalist}", "{reply,{error,badarg}}");
    expect_reply(c, "{new_table,a,b,[bogus]}", "{reply,{error,badarg}}");
    expect_reply(c, "{new_table,a,b,[{keypos,0}]}", "{reply,{error,badarg}}");
    expect_reply(c, "{new_table,a,b,[set|improper]}", "{reply,{error,badarg}}");
    expect_reply(c, "{new_table,'',b,[]}", "{reply,{error,badarg}}");
    expect_reply(c, "{del_table}", "{reply,{error,badarg}}");
    expect_reply(c, "{del_table,\"str\"}", "{reply,{error,badarg}}");
    expect_reply(c, "{del_table,nobody}", "{reply,{error,not_found}}");
    expect_reply(c, "{add_table,x,12345}", "{reply,{error,badarg}}");
    expect_reply(c, "{add_table,x,nosuchtable}", "{reply,{error,not_found}}");
    expect_reply(c, "{give_away,nosuchtable,<0.1.0>,x}", "{reply,{error,not_found}}");
    expect_reply(c, "{give_away,t,notapid,x}", "{reply,{error,badarg}}");
    expect_reply(c, "{give_away,t,<0.1.0>}", "{reply,{error,badarg}}");
    expect_reply(c, "info", "{reply,#{}}");
    close(c);
    served();
}

static void oversized_packets(void **s)
{
    (void)s;
    int c = raw_connect(mu_sock);
    size_t big = 150u << 10;            /* over the 128 KiB limit, under the socket buffer */
    unsigned char *buf = calloc(1, big);
    buf[0] = 131;
    buf[1] = 109;                       /* BINARY_EXT */
    uint32_t n = (uint32_t)(big - 6);
    buf[2] = (unsigned char)(n >> 24);
    buf[3] = (unsigned char)(n >> 16);
    buf[4] = (unsigned char)(n >> 8);
    buf[5] = (unsigned char)n;
    char *r = raw_call(c, buf, big);
    assert_string_equal(r, "{reply,{error,too_big}}");
    free(r);
    free(buf);
    expect_reply(c, "ping", "{reply,pong}");
    /* A zero-length packet reads as end of file: the connection is closed. */
    assert_int_equal(send(c, "", 0, MSG_NOSIGNAL), 0);
    struct pollfd p = { .fd = c, .events = POLLIN };
    assert_int_equal(poll(&p, 1, 5000), 1);
    char x;
    assert_true(recv(c, &x, 1, 0) <= 0);
    close(c);
    served();
}

static void random_bytes(void **s)
{
    (void)s;
    int c = raw_connect(mu_sock);
    unsigned seed = 12345;
    unsigned char buf[256];
    for (int i = 0; i < 2000; i++) {
        size_t len = 1 + (size_t)(rand_r(&seed) % (int)sizeof buf);
        for (size_t k = 0; k < len; k++)
            buf[k] = (unsigned char)rand_r(&seed);
        if (i % 2)
            buf[0] = 131;               /* half of them past the version byte */
        char *r = raw_call(c, buf, len);
        assert_true(strncmp(r, "{reply,{error,", 14) == 0);
        free(r);
    }
    close(c);
    served();
}

static void flood_does_not_stall_others(void **s)
{
    (void)s;
    int c = raw_connect(mu_sock);
    int fl = fcntl(c, F_GETFL);
    fcntl(c, F_SETFL, fl | O_NONBLOCK);
    shmets_term t = mu_parse("ping");
    unsigned char *buf;
    size_t len;
    assert_int_equal(shmets_term_to_etf(t, &buf, &len), 0);
    int sent = 0, refused = 0;
    /* Never read: the replies pile up on the daemon's side until it stops reading us, and
     * then our sends are refused (EAGAIN) for good. */
    while (refused < 100 && sent < 100000) {
        if (send(c, buf, len, MSG_NOSIGNAL) == (ssize_t)len) {
            sent++;
            refused = 0;
            continue;
        }
        assert_int_equal(errno, EAGAIN);
        refused++;
        if (refused % 20 == 0)
            served();                   /* meanwhile another client is answered */
        mu_sleep_ms(1);
    }
    assert_true(sent > 100);
    served();
    free(buf);
    shmets_term_free(&t);
    close(c);
    /* Many connections opened and dropped, some mid-request. */
    for (int i = 0; i < 300; i++) {
        int x = raw_connect(mu_sock);
        if (i % 2)
            send(x, "\x83" "d", 2, MSG_NOSIGNAL);
        close(x);
    }
    served();
}

static long daemon_rss_kb(void)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)mu_daemon);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static int never_connects(void *a, int wfd)
{
    (void)a;
    mu_write_u64(wfd, 1);
    for (;;)
        pause();
    return 0;
}

static void held_messages_are_bounded_in_bytes(void **s)
{
    (void)s;
    /* Gifts of 120 kB to a live process that never connects are held for it: 300 of them
     * (36 MB) must not all stay in the daemon's memory (it holds at most 16 MiB). */
    struct mu_child w = mu_spawn(never_connects, NULL);
    assert_int_equal(mu_read_u64(&w), 1);
    shmets_builder *b;
    shmets_term gift;
    char *bytes = calloc(1, 120000);
    assert_non_null(bytes);
    assert_int_equal(shmets_builder_create(&b), 0);
    shmets_build_binary(b, bytes, 120000);
    assert_int_equal(shmets_builder_finish(b, &gift), 0);
    shmets_builder_destroy(b);
    free(bytes);
    long before = daemon_rss_kb();
    assert_true(before > 0);
    for (int i = 0; i < 300; i++) {
        shmets_opts o;
        shmets_tab *t;
        shmets_opts_init(&o);
        assert_int_equal(shmets_new(db, "gift", &o, &t), 0);
        assert_int_equal(etsmgr_give_away(m, shmets_id(t), w.pid, gift), 0);
        shmets_detach(t);
    }
    long after = daemon_rss_kb();
    shmets_term_free(&gift);
    kill(w.pid, SIGKILL);       /* its 300 tables are deleted with it (no heir) */
    assert_int_equal(mu_wait(&w), -1);
#ifndef __SANITIZE_ADDRESS__           /* ASan's quarantine keeps freed memory resident */
    if (after - before > 24 * 1024)
        fail_msg("the daemon grew by %ld kB holding messages", after - before);
#else
    (void)after;
#endif
    served();
}

/* Start a daemon of instance inst with --group root; its socket's path in sock. */
static pid_t group_daemon(const char *inst, char *sock, size_t n)
{
    char exe[PATH_MAX];
    mu_exe(exe, sizeof exe);
    if (snprintf(sock, n, "%s/%s.sock", mu_dir, inst) >= (int)n)
        abort();
    pid_t p = fork();
    if (p == 0) {
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, 2);
        execl(exe, exe, "--instance", inst, "--runtime-dir", mu_dir, "--group", "root", (char *)NULL);
        _exit(127);
    }
    mu_track(p);
    /* Its pid file is written once the socket is set up (mode and group included). */
    char pidf[PATH_MAX + 112];
    if (snprintf(pidf, sizeof pidf, "%s/%s.pid", mu_dir, inst) >= (int)sizeof pidf)
        abort();
    int ok = 0;
    for (int i = 0; i < 500 && !ok; i++) {
        FILE *f = fopen(pidf, "r");
        int got = 0;
        ok = f && fscanf(f, "%d", &got) == 1 && got == (int)p;
        if (f)
            fclose(f);
        if (!ok)
            mu_sleep_ms(10);
    }
    assert_true(ok);
    return p;
}

static void socket_mode(void **s)
{
    (void)s;
    struct stat st;
    assert_int_equal(stat(mu_sock, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* --group: 0660 and the group. */
    char inst[96], sock[PATH_MAX];
    snprintf(inst, sizeof inst, "%s.grp", mu_inst);
    pid_t p = group_daemon(inst, sock, sizeof sock);
    assert_int_equal(stat(sock, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0660);
    assert_int_equal(st.st_gid, 0);
    mu_kill(p, SIGTERM);
    assert_int_not_equal(stat(sock, &st), 0);       /* a daemon removes its socket on exit */
    shmets_destroy_instance(inst);
}

/* As uid (keeping gid 0, the socket's group) call req on sock; 0 if the reply is want ("*ok":
 * any {ok, ...}). */
static int call_as(uid_t uid, const char *sock, const char *req, const char *want)
{
    pid_t p = fork();
    if (p == 0) {
        if (uid && setresuid(uid, uid, uid))
            _exit(2);
        int c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        if (snprintf(a.sun_path, sizeof a.sun_path, "%s", sock) >= (int)sizeof a.sun_path ||
            connect(c, (struct sockaddr *)&a, sizeof a))
            _exit(3);
        static unsigned char rbuf[1 << 16];
        shmets_term t = mu_parse(req), r;
        unsigned char *buf;
        size_t len;
        if (shmets_term_to_etf(t, &buf, &len) || send(c, buf, len, 0) != (ssize_t)len)
            _exit(4);
        ssize_t n = recv(c, rbuf, sizeof rbuf, 0);
        if (n <= 0 || shmets_term_from_etf(rbuf, (size_t)n, 0, &r))
            _exit(5);
        char *got = mu_fmt(r);
        int ok = want[0] == '*' ? !strncmp(got, "{reply,{ok,", 11) : !strcmp(got, want);
        if (!ok)
            fprintf(stderr, "as uid %d, %s: got %s, want %s\n", (int)uid, req, got, want);
        _exit(ok ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(p, &st, 0), p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void other_uid_cannot_take_a_dead_clients_table(void **s)
{
    (void)s;
    if (geteuid() != 0)
        skip();
    /* A daemon whose socket the group root may use: a process of uid 65534 in that group
     * reaches it, and may make tables of its own, but never takes over root's managed table
     * whose client died (the daemon, as root, would chown its segment to it). */
    char inst[96], sock[PATH_MAX];
    snprintf(inst, sizeof inst, "%s.uid", mu_inst);
    assert_int_equal(chmod(mu_dir, 0711), 0);
    pid_t d = group_daemon(inst, sock, sizeof sock);
    assert_int_equal(call_as(0, sock, "{new_table,u1,tab,[]}", "*ok"), 0);  /* its client exits */
    assert_int_equal(call_as(65534, sock, "{new_table,u1,tab,[]}", "{reply,{error,not_owner}}"), 0);
    assert_int_equal(call_as(65534, sock, "{del_table,u1}", "{reply,{error,not_owner}}"), 0);
    assert_int_equal(call_as(0, sock, "{new_table,u1,tab,[]}", "*ok"), 0);  /* root's may */
    assert_int_equal(chmod(mu_dir, 0700), 0);
    mu_kill(d, SIGTERM);
    shmets_destroy_instance(inst);
}

static void other_uid_is_refused(void **s)
{
    (void)s;
    if (geteuid() != 0)
        skip();
    /* A process of another uid cannot even connect to the 0600 socket (the directory lets it
     * through, so that the socket's mode is what refuses it). */
    assert_int_equal(chmod(mu_dir, 0711), 0);
    pid_t p = fork();
    if (p == 0) {
        if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
            _exit(2);
        int c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        if (snprintf(a.sun_path, sizeof a.sun_path, "%s", mu_sock) >= (int)sizeof a.sun_path)
            _exit(3);
        _exit(connect(c, (struct sockaddr *)&a, sizeof a) == -1 && errno == EACCES ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(p, &st, 0), p);
    assert_int_equal(chmod(mu_dir, 0700), 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void sd_notify_ready_and_stopping(void **s)
{
    (void)s;
    /* A stand-in for systemd's notification socket: READY=1 once it serves, STOPPING=1 on
     * SIGTERM. */
    char exe[PATH_MAX], inst[96], ns[PATH_MAX];
    mu_exe(exe, sizeof exe);
    snprintf(inst, sizeof inst, "%s.ntf", mu_inst);
    if (snprintf(ns, sizeof ns, "%s/notify", mu_dir) >= (int)sizeof ns)
        abort();
    int n = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (snprintf(a.sun_path, sizeof a.sun_path, "%s", ns) >= (int)sizeof a.sun_path)
        abort();
    assert_int_equal(bind(n, (struct sockaddr *)&a, sizeof a), 0);
    pid_t p = fork();
    if (p == 0) {
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, 2);
        setenv("NOTIFY_SOCKET", ns, 1);
        execl(exe, exe, "--instance", inst, "--runtime-dir", mu_dir, (char *)NULL);
        _exit(127);
    }
    mu_track(p);
    char buf[256];
    struct pollfd pf = { .fd = n, .events = POLLIN };
    assert_int_equal(poll(&pf, 1, 5000), 1);
    ssize_t k = recv(n, buf, sizeof buf - 1, 0);
    assert_true(k > 0);
    buf[k] = 0;
    assert_non_null(strstr(buf, "READY=1"));
    kill(p, SIGTERM);
    assert_int_equal(poll(&pf, 1, 5000), 1);
    k = recv(n, buf, sizeof buf - 1, 0);
    assert_true(k > 0);
    buf[k] = 0;
    assert_non_null(strstr(buf, "STOPPING=1"));
    waitpid(p, NULL, 0);
    mu_untrack(p);
    close(n);
    unlink(ns);
    shmets_destroy_instance(inst);
}

static void socket_activation(void **s)
{
    (void)s;
    if (access("/usr/bin/systemd-socket-activate", X_OK) != 0)
        skip();
    char exe[PATH_MAX], inst[96], sock[PATH_MAX];
    mu_exe(exe, sizeof exe);
    snprintf(inst, sizeof inst, "%s.act", mu_inst);
    if (snprintf(sock, sizeof sock, "%s/%s.sock", mu_dir, inst) >= (int)sizeof sock)
        abort();
    pid_t p = fork();
    if (p == 0) {
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, 2);
        execl("/usr/bin/systemd-socket-activate", "systemd-socket-activate", "--seqpacket", "-l", sock,
              exe, "--instance", inst, "--runtime-dir", mu_dir, (char *)NULL);
        _exit(127);
    }
    mu_track(p);
    struct stat st;
    int ok = 0;
    for (int i = 0; i < 500 && !ok; i++) {
        ok = stat(sock, &st) == 0;
        mu_sleep_ms(10);
    }
    assert_true(ok);
    /* The first connection starts etsmgr on the passed socket; it answers.  (The socket file
     * appears at bind, a moment before systemd-socket-activate listens: retry.) */
    int c = -1;
    for (int i = 0; i < 500 && c < 0; i++) {
        c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        if (snprintf(a.sun_path, sizeof a.sun_path, "%s", sock) >= (int)sizeof a.sun_path)
            abort();
        if (connect(c, (struct sockaddr *)&a, sizeof a)) {
            close(c);
            c = -1;
            mu_sleep_ms(10);
        }
    }
    assert_true(c >= 0);
    expect_reply(c, "ping", "{reply,pong}");
    expect_reply(c, "info", "{reply,#{}}");
    close(c);
    mu_kill(p, SIGTERM);        /* systemd-socket-activate exec'd etsmgr: the same pid */
    unlink(sock);
    shmets_destroy_instance(inst);
}

static int group_setup(void **s)
{
    (void)s;
    return mu_group_setup("test_mgr_bad", &db, &m);
}

static int group_teardown(void **s)
{
    (void)s;
    return mu_group_teardown(db, m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(malformed_and_wrong_requests),
        cmocka_unit_test(oversized_packets),
        cmocka_unit_test(random_bytes),
        cmocka_unit_test(flood_does_not_stall_others),
        cmocka_unit_test(held_messages_are_bounded_in_bytes),
        cmocka_unit_test(socket_mode),
        cmocka_unit_test(other_uid_is_refused),
        cmocka_unit_test(other_uid_cannot_take_a_dead_clients_table),
        cmocka_unit_test(sd_notify_ready_and_stopping),
        cmocka_unit_test(socket_activation),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
