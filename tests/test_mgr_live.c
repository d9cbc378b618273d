/*
 * test_mgr_live.c — etsmgr as its users see it (issue 15, items 7-12): a client that names
 * itself its table's heir keeps it; a managed table of a dead client is etsmgr's, and goes
 * back on new_table or add_table; that death is logged once, not at every rescan; the events
 * a follower gets (etsmgr_follow, `shmets events`, with --json, ending on SIGINT and when the
 * daemon stops); daemons that exit when their instance is destroyed or when idle; 100
 * `shmets script` runs that autostart etsmgr and leave none behind; `shmets ls` and `info`
 * saying which owner is dead.  The daemon is this build's, in a private runtime directory,
 * started and stopped by pid (tests/mgrutil.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mgrutil.h"
#include "base/proc.h"

#include <dirent.h>
#include <sys/stat.h>

static shmets *db;
static etsmgr *m;

/* ---- helpers ------------------------------------------------------------------------------ */

static void tool_exe(char *out, size_t n)
{
    mu_exe(out, n);
    size_t k = strlen(out);
    memcpy(out + k - 6, "shmets", 7);          /* build/etsmgr -> build/shmets */
}

/* The next event whose text starts with prefix (others are skipped), within ms; its text
 * (malloc'd) or NULL. */
static char *wait_event(const char *prefix, int ms)
{
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        int left = ms - (int)((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0)
            return NULL;
        shmets_term ev;
        if (etsmgr_next_event(m, left, &ev))
            return NULL;
        char *txt = mu_fmt(ev);
        shmets_term_free(&ev);
        if (txt && !strncmp(txt, prefix, strlen(prefix)))
            return txt;
        free(txt);
    }
}

static void expect_event(const char *want)
{
    size_t n = strlen(want);
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%.*s", (int)(strchr(want, ',') ? (size_t)(strchr(want, ',') - want) : n), want);
    char *got = wait_event(want, 5000);
    if (!got)
        fail_msg("no event %s", want);
    free(got);
}

struct client_arg {
    const char *name;           /* managed name */
    const char *opts;
    uint64_t add_id;            /* not 0: add_table(name, add_id) instead of new_table */
};

/* A client: new_table (or add_table), report the id, then wait to be killed. */
static int client_main(void *a_, int wfd)
{
    struct client_arg *a = a_;
    shmets *d;
    etsmgr *mm;
    uint64_t id = a->add_id;
    if (shmets_open(mu_inst, &d) || etsmgr_connect(d, NULL, &mm))
        return 10;
    if (a->add_id) {
        if (etsmgr_add_table(mm, a->name, a->add_id))
            return 11;
    } else {
        shmets_term o = mu_parse(a->opts);
        if (etsmgr_new_table(mm, a->name, "livetab", o, &id))
            return 12;
    }
    mu_write_u64(wfd, id);
    for (;;)
        pause();
}

static shmets_tab_info tab_info(uint64_t id)
{
    shmets_tab *t;
    shmets_tab_info in;
    memset(&in, 0, sizeof in);
    assert_int_equal(shmets_attach(db, id, &t), 0);
    assert_int_equal(shmets_info(t, &in), 0);
    shmets_detach(t);
    return in;
}

static int count_in_log(const char *needle)
{
    char log[PATH_MAX + 8], line[1024];
    snprintf(log, sizeof log, "%s/log", mu_dir);
    FILE *f = fopen(log, "r");
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, needle))
            n++;
    if (f)
        fclose(f);
    return n;
}

/* Run the tool with args, its stdout and stderr into out (at most n bytes); returns its exit
 * status. */
static int run_tool(char *const args[], char *out, size_t n)
{
    char exe[PATH_MAX + 16];
    tool_exe(exe, sizeof exe);
    return mu_capture(exe, (const char *const *)args, 1, out, n);
}

/* ---- item 7: {heir, self(), Data} ---------------------------------------------------------- */

static void own_heir_is_kept(void **s)
{
    (void)s;
    uint64_t id;
    char opts[128];
    snprintf(opts, sizeof opts, "[named_table, {heir, <0.%d.0>, selfdata}]", (int)getpid());
    shmets_term o = mu_parse(opts);
    assert_int_equal(etsmgr_new_table(m, "h7", "h7tab", o, &id), 0);
    shmets_tab_info in = tab_info(id);
    assert_int_equal(in.owner, (uint32_t)getpid());
    assert_int_equal(in.heir, (uint32_t)getpid());          /* OTP keeps {heir, self(), D} */
    /* Again, the name known: the heir stays too. */
    assert_int_equal(etsmgr_new_table(m, "h7", "h7tab", o, &id), 0);
    assert_int_equal(tab_info(id).heir, (uint32_t)getpid());
    assert_int_equal(etsmgr_del_table(m, "h7"), 0);
    shmets_tab *t;
    assert_int_equal(shmets_attach(db, id, &t), 0);
    assert_int_equal(shmets_delete(t), 0);
    shmets_term_free(&o);
}

/* ---- items 8, 10, 12: kept by etsmgr, given back, logged once, the events ----------------- */

static void dead_clients_table_is_etsmgrs_until_it_comes_back(void **s)
{
    (void)s;
    char want[256];
    assert_int_equal(etsmgr_follow(m), 0);
    struct client_arg a = { "k8", "[public]", 0 };
    struct mu_child c = mu_spawn(client_main, &a);
    uint64_t id = mu_read_u64(&c);
    assert_true(id != 0);
    /* While the client lives: it owns the table, etsmgr is the heir. */
    shmets_tab_info in = tab_info(id);
    assert_int_equal(in.owner, (uint32_t)c.pid);
    assert_int_equal(in.heir, (uint32_t)mu_daemon);
    kill(c.pid, SIGKILL);
    assert_int_equal(mu_wait(&c), -1);
    snprintf(want, sizeof want, "{kept,%llu,<0.%d.0>}", (unsigned long long)id, (int)c.pid);
    char *ev = wait_event("{kept,", 5000);
    assert_non_null(ev);
    assert_non_null(strstr(ev, "<0."));
    free(ev);
    /* Dead client: etsmgr owns it, data and all. */
    assert_int_equal(tab_info(id).owner, (uint32_t)mu_daemon);
    /* Three full rescans (one every 2 s) later, the death was logged once. */
    mu_sleep_ms(4500);
    char needle[64];
    snprintf(needle, sizeof needle, "managed table %llu (k8) is dead", (unsigned long long)id);
    assert_int_equal(count_in_log(needle), 1);

    /* Its client restarts: new_table gives it back. */
    struct mu_child c2 = mu_spawn(client_main, &a);
    assert_int_equal(mu_read_u64(&c2), id);
    ev = wait_event("{given_back,", 5000);
    assert_non_null(ev);
    snprintf(want, sizeof want, "<0.%d.0>}", (int)c2.pid);
    assert_non_null(strstr(ev, want));
    free(ev);
    in = tab_info(id);
    assert_int_equal(in.owner, (uint32_t)c2.pid);
    assert_int_equal(in.heir, (uint32_t)mu_daemon);
    kill(c2.pid, SIGKILL);
    assert_int_equal(mu_wait(&c2), -1);
    free(wait_event("{kept,", 5000));
    assert_int_equal(tab_info(id).owner, (uint32_t)mu_daemon);

    /* And add_table gives it back as well (the table's id, from a process of its uid). */
    struct client_arg b = { "k8", NULL, id };
    struct mu_child c3 = mu_spawn(client_main, &b);
    assert_int_equal(mu_read_u64(&c3), id);
    free(wait_event("{given_back,", 5000));
    assert_int_equal(tab_info(id).owner, (uint32_t)c3.pid);
    /* info no longer shows a dead client as owner. */
    shmets_term info;
    assert_int_equal(etsmgr_info(m, &info), 0);
    char *txt = mu_fmt(info);
    snprintf(want, sizeof want, "owner => <0.%d.0>", (int)c3.pid);
    assert_non_null(strstr(txt, want));
    free(txt);
    shmets_term_free(&info);
    kill(c3.pid, SIGKILL);
    assert_int_equal(mu_wait(&c3), -1);
    free(wait_event("{kept,", 5000));
    /* This process takes the name over, and deletes the table. */
    shmets_term o = mu_parse("[]");
    uint64_t again;
    assert_int_equal(etsmgr_new_table(m, "k8", "livetab", o, &again), 0);
    assert_int_equal(again, id);
    assert_int_equal(etsmgr_del_table(m, "k8"), 0);
    shmets_tab *t;
    assert_int_equal(shmets_attach(db, id, &t), 0);
    assert_int_equal(shmets_delete(t), 0);
    shmets_term_free(&o);
}

static void events_of_an_unmanaged_death(void **s)
{
    (void)s;
    /* A plain table of a process that dies: owner_dead, then deleted; a client's connection:
     * client_up, client_down. */
    struct client_arg a = { "e12", "[]", 0 };
    struct mu_child c = mu_spawn(client_main, &a);
    uint64_t id = mu_read_u64(&c);
    assert_true(id != 0);
    char want[128];
    snprintf(want, sizeof want, "{client_up,<0.%d.0>}", (int)c.pid);
    expect_event(want);
    assert_int_equal(etsmgr_del_table(m, "e12"), -SHMETS_EOWNER);
    kill(c.pid, SIGKILL);
    assert_int_equal(mu_wait(&c), -1);
    /* Unmanaged now? No: managed, so kept; its owner_dead comes first. */
    snprintf(want, sizeof want, "{owner_dead,%llu,<0.%d.0>}", (unsigned long long)id, (int)c.pid);
    char *ev = wait_event("{owner_dead,", 5000);
    assert_non_null(ev);
    snprintf(want, sizeof want, ",<0.%d.0>}", (int)c.pid);
    assert_non_null(strstr(ev, want));
    free(ev);
    free(wait_event("{kept,", 5000));
    /* Forget it, and delete it: etsmgr owns it, so this process takes it first. */
    shmets_term o = mu_parse("[]");
    uint64_t again;
    assert_int_equal(etsmgr_new_table(m, "e12", "livetab", o, &again), 0);
    assert_int_equal(etsmgr_del_table(m, "e12"), 0);
    shmets_tab *t;
    assert_int_equal(shmets_attach(db, again, &t), 0);
    assert_int_equal(shmets_delete(t), 0);
    shmets_term_free(&o);
}

/* `shmets events`: one term a line; --json; exits 0 on SIGINT and when the daemon stops. */
struct ev_proc {
    pid_t pid;
    FILE *out;
};

static struct ev_proc events_start(int json)
{
    char exe[PATH_MAX + 16];
    tool_exe(exe, sizeof exe);
    int p[2];
    if (pipe(p))
        abort();
    struct ev_proc e = { fork(), NULL };
    if (e.pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        execl(exe, "shmets", "events", "--instance", mu_inst, json ? "--json" : (char *)NULL, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    mu_track(e.pid);
    e.out = fdopen(p[0], "r");
    return e;
}

static int events_end(struct ev_proc *e)
{
    int st;
    fclose(e->out);
    mu_untrack(e->pid);
    waitpid(e->pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void shmets_events_follows(void **s)
{
    (void)s;
    struct ev_proc e = events_start(0), j = events_start(1);
    char line[512], want[256];
    /* Its own connection comes first in the other's stream; wait for both to be up. */
    mu_sleep_ms(500);
    struct client_arg a = { "e13", "[]", 0 };
    struct mu_child c = mu_spawn(client_main, &a);
    assert_true(mu_read_u64(&c) != 0);
    snprintf(want, sizeof want, "{client_up,<0.%d.0>}\n", (int)c.pid);
    int found = 0;
    while (!found && fgets(line, sizeof line, e.out))
        found = !strcmp(line, want);
    assert_true(found);
    snprintf(want, sizeof want, "{\"event\":\"client_up\",\"pid\":\"<0.%d.0>\"}\n", (int)c.pid);
    found = 0;
    while (!found && fgets(line, sizeof line, j.out))
        found = !strcmp(line, want);
    assert_true(found);
    kill(c.pid, SIGKILL);
    assert_int_equal(mu_wait(&c), -1);
    found = 0;
    while (!found && fgets(line, sizeof line, e.out))
        found = !strncmp(line, "{kept,", 6);
    assert_true(found);
    kill(e.pid, SIGINT);
    assert_int_equal(events_end(&e), 0);
    /* The daemon stops: the other exits 0 too.  Then a new daemon for the next tests. */
    mu_kill(mu_daemon, SIGTERM);
    assert_int_equal(events_end(&j), 0);
    /* With no daemon it says so and exits 1. */
    char out[1024];
    char *ev[] = { "events", "--instance", mu_inst, NULL };
    assert_int_equal(run_tool(ev, out, sizeof out), 1);
    assert_non_null(strstr(out, "no etsmgr runs"));
    assert_true(mu_start() > 0);
}

/* ---- item 11: ls and info say who is dead -------------------------------------------------- */

static void ls_and_info_say_who_is_dead(void **s)
{
    (void)s;
    struct client_arg a = { "l11", "[named_table]", 0 };
    struct mu_child c = mu_spawn(client_main, &a);
    uint64_t id = mu_read_u64(&c);
    assert_true(id != 0);
    char out[8192], pid[32];
    char *ls[] = { "ls", "--instance", mu_inst, NULL };
    assert_int_equal(run_tool(ls, out, sizeof out), 0);
    char want[64];
    snprintf(pid, sizeof pid, "%d", (int)c.pid);
    snprintf(want, sizeof want, "%d dead", (int)c.pid);
    assert_non_null(strstr(out, pid));
    assert_null(strstr(out, want));
    /* The daemon stops, the client dies: nobody applies the rules; ls says so. */
    mu_kill(mu_daemon, SIGTERM);
    kill(c.pid, SIGKILL);
    assert_int_equal(mu_wait(&c), -1);
    assert_int_equal(run_tool(ls, out, sizeof out), 0);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "no etsmgr runs"));
    char *info[] = { "info", "--instance", mu_inst, "livetab", NULL };
    assert_int_equal(run_tool(info, out, sizeof out), 0);
    assert_non_null(strstr(out, "{owner_alive,false}"));
    assert_non_null(strstr(out, "no etsmgr runs"));
    /* A daemon again: it keeps the table (managed), and ls shows the daemon as owner, alive. */
    assert_true(mu_start() > 0);
    for (int i = 0; i < 100 && tab_info(id).owner != (uint32_t)mu_daemon; i++)
        mu_sleep_ms(20);
    assert_int_equal(tab_info(id).owner, (uint32_t)mu_daemon);
    assert_int_equal(run_tool(ls, out, sizeof out), 0);
    assert_null(strstr(out, want));
    assert_null(strstr(out, "no etsmgr runs"));
    shmets_term o = mu_parse("[]");
    uint64_t again;
    assert_int_equal(etsmgr_new_table(m, "l11", "livetab", o, &again), 0);
    assert_int_equal(etsmgr_del_table(m, "l11"), 0);
    shmets_tab *t;
    assert_int_equal(shmets_attach(db, again, &t), 0);
    assert_int_equal(shmets_delete(t), 0);
    shmets_term_free(&o);
}

/* A reader stopped inside a read section. */
static int stuck_reader_main(void *a_, int wfd)
{
    (void)a_;
    shmets *d;
    if (shmets_open(mu_inst, &d) || shmets_read_begin(d))
        return 30;
    mu_write_u64(wfd, 1);
    raise(SIGSTOP);
    for (;;)
        pause();
}

static void top_shows_old_read_sections_and_waiting_bytes(void **s)
{
    (void)s;
    struct mu_child r = mu_spawn(stuck_reader_main, NULL);
    assert_int_equal(mu_read_u64(&r), 1);
    /* Writes that retire memory, which waits for the stopped reader. */
    shmets_opts o;
    shmets_opts_init(&o);
    o.access = SHMETS_PUBLIC;
    shmets_tab *t;
    assert_int_equal(shmets_new(db, "toptab", &o, &t), 0);
    for (int i = 0; i < 200; i++) {
        char txt[64];
        snprintf(txt, sizeof txt, "{%d, <<\"some bytes to retire\">>}", i % 10);
        shmets_term obj = mu_parse(txt);
        assert_int_equal(shmets_insert(t, obj), 0);
        shmets_term_free(&obj);
    }
    char out[16384], want[64];
    char *top[] = { "top", "--instance", mu_inst, "--iterations", "2", "--interval", "1.3", NULL };
    assert_int_equal(run_tool(top, out, sizeof out), 0);
    snprintf(want, sizeof want, "pid %d, slot", (int)r.pid);
    assert_non_null(strstr(out, "read sections older than 1 s"));
    assert_non_null(strstr(out, want));
    const char *w = strstr(out, "bytes waiting for readers (in limbo): ");
    assert_non_null(w);
    assert_true(atoll(w + strlen("bytes waiting for readers (in limbo): ")) > 0);
    kill(r.pid, SIGKILL);
    assert_int_equal(mu_wait(&r), -1);
    assert_int_equal(shmets_delete(t), 0);
}

/* ---- item 9: daemons that exit ------------------------------------------------------------- */

static int gone_within(pid_t pid, uint64_t inc, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        if (!proc_alive(pid, inc))
            return 1;
        mu_sleep_ms(20);
    }
    return !proc_alive(pid, inc);
}

static void idle_autostarted_daemon_exits(void **s)
{
    (void)s;
    char inst[80];
    snprintf(inst, sizeof inst, "%s.idle", mu_inst);
    shmets *d;
    etsmgr *mm;
    assert_int_equal(shmets_open(inst, &d), 0);
    etsmgr_opts o;
    etsmgr_opts_init(&o);
    o.idle_exit_s = 1;
    char exe[PATH_MAX];
    mu_exe(exe, sizeof exe);
    o.etsmgr_path = exe;
    unsetenv("SHMETS_NO_AUTOSTART");
    int rc = etsmgr_connect(d, &o, &mm);
    setenv("SHMETS_NO_AUTOSTART", "1", 1);
    assert_int_equal(rc, 0);
    assert_true(etsmgr_autostarted(mm));
    shmets_term ping = mu_parse("ping"), r;
    assert_int_equal(etsmgr_call(mm, ping, &r), 0);
    shmets_term_free(&r);
    shmets_term_free(&ping);
    /* ping's reply names no pid: the pid file does. */
    char pidf[PATH_MAX + 96];
    snprintf(pidf, sizeof pidf, "%s/%s.pid", mu_dir, inst);
    FILE *f = fopen(pidf, "r");
    int dp = 0;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%d", &dp), 1);
    fclose(f);
    uint64_t inc;
    assert_int_equal(proc_incarnation(dp, &inc), 0);
    /* Connected: it stays. */
    mu_sleep_ms(1500);
    assert_true(proc_alive(dp, inc));
    etsmgr_disconnect(mm);
    assert_true(gone_within(dp, inc, 4000));
    shmets_close(d);
    shmets_destroy_instance(inst);
}

static void daemon_of_a_destroyed_instance_exits(void **s)
{
    (void)s;
    char inst[80], exe[PATH_MAX];
    snprintf(inst, sizeof inst, "%s.gone", mu_inst);
    shmets *d;
    assert_int_equal(shmets_open(inst, &d), 0);
    shmets_close(d);
    mu_exe(exe, sizeof exe);
    pid_t p = fork();
    if (p == 0) {
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, 1);
        dup2(nul, 2);
        execl(exe, exe, "--instance", inst, "--runtime-dir", mu_dir, (char *)NULL);
        _exit(127);
    }
    mu_track(p);
    mu_sleep_ms(300);
    assert_int_equal(waitpid(p, NULL, WNOHANG), 0);          /* it runs (no idle exit) */
    assert_int_equal(shmets_destroy_instance(inst), 0);
    int st = -1;
    for (int i = 0; i < 150 && waitpid(p, &st, WNOHANG) == 0; i++)
        mu_sleep_ms(20);
    mu_untrack(p);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* 100 scripts that autostart etsmgr (give_away makes the connection) on their own temporary
 * instances: each daemon's pid is read from the runtime dir while its script runs; afterwards
 * none of those (pid, start time) is alive. */
static void hundred_scripts_leave_no_daemon(void **s)
{
    (void)s;
    enum { RUNS = 100 };
    static pid_t pids[RUNS];
    static uint64_t incs[RUNS];
    char exe[PATH_MAX + 16];
    tool_exe(exe, sizeof exe);
    char rdir[PATH_MAX + 8];
    snprintf(rdir, sizeof rdir, "%s/scripts", mu_dir);
    mkdir(rdir, 0700);
    int found = 0;
    for (int r = 0; r < RUNS; r++) {
        int to[2], from[2];
        if (pipe(to) || pipe(from))
            abort();
        pid_t c = fork();
        if (c == 0) {
            dup2(to[0], 0);
            dup2(from[1], 1);
            close(to[1]);
            close(from[0]);
            unsetenv("SHMETS_NO_AUTOSTART");
            setenv("SHMETS_RUNTIME_DIR", rdir, 1);
            execl(exe, "shmets", "script", (char *)NULL);
            _exit(127);
        }
        close(to[0]);
        close(from[1]);
        FILE *in = fdopen(to[1], "w"), *out = fdopen(from[0], "r");
        char line[256];
        fputs("ets:new(t,[named_table]).\nets:give_away(t,self(),x).\n", in);
        fflush(in);
        assert_non_null(fgets(line, sizeof line, out));        /* t */
        assert_non_null(fgets(line, sizeof line, out));        /* error:badarg: etsmgr answered */
        /* The daemon runs now: its pid file is script.<c>.*.pid. */
        char prefix[64];
        snprintf(prefix, sizeof prefix, "script.%d.", (int)c);
        DIR *dd = opendir(rdir);
        struct dirent *de;
        while (dd && (de = readdir(dd))) {
            size_t n = strlen(de->d_name);
            if (!strncmp(de->d_name, prefix, strlen(prefix)) && n > 4 && !strcmp(de->d_name + n - 4, ".pid")) {
                char pf[PATH_MAX + 300];
                snprintf(pf, sizeof pf, "%s/%s", rdir, de->d_name);
                FILE *f = fopen(pf, "r");
                int dp = 0;
                if (f && fscanf(f, "%d", &dp) == 1 && proc_incarnation(dp, &incs[r]) == 0) {
                    pids[r] = dp;
                    found++;
                }
                if (f)
                    fclose(f);
            }
        }
        if (dd)
            closedir(dd);
        fclose(in);
        fclose(out);
        int st;
        waitpid(c, &st, 0);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    assert_int_equal(found, RUNS);
    int left = 0;
    for (int r = 0; r < RUNS; r++)
        if (!gone_within(pids[r], incs[r], 2000)) {
            left++;
            kill(pids[r], SIGTERM);             /* by pid: this test's own daemons */
        }
    assert_int_equal(left, 0);
}

static int group_setup(void **s)
{
    (void)s;
    return mu_group_setup("test_mgr_live", &db, &m);
}

static int group_teardown(void **s)
{
    (void)s;
    return mu_group_teardown(db, m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(own_heir_is_kept),
        cmocka_unit_test(dead_clients_table_is_etsmgrs_until_it_comes_back),
        cmocka_unit_test(events_of_an_unmanaged_death),
        cmocka_unit_test(shmets_events_follows),
        cmocka_unit_test(ls_and_info_say_who_is_dead),
        cmocka_unit_test(top_shows_old_read_sections_and_waiting_bytes),
        cmocka_unit_test(idle_autostarted_daemon_exits),
        cmocka_unit_test(daemon_of_a_destroyed_instance_exits),
        cmocka_unit_test(hundred_scripts_leave_no_daemon),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
