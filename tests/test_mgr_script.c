/*
 * test_mgr_script.c — `shmets script --instance NAME` with etsmgr: two script processes, the
 * second the heir of the first's table; the first is killed with SIGKILL, and the second's
 * shmets:receive/1 prints the ETS-TRANSFER, after which it writes the protected table as its
 * new owner.  Also the etsmgr calls' replies as the original etsmgr gives them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mgrutil.h"

struct sp {
    pid_t pid;
    FILE *in, *out;
};

static struct sp script_start(void)
{
    char exe[PATH_MAX + 16];
    mu_exe(exe, sizeof exe);
    size_t n = strlen(exe);
    memcpy(exe + n - 6, "shmets", 7);          /* build/etsmgr -> build/shmets */
    int to[2], from[2];
    if (pipe(to) || pipe(from))
        abort();
    struct sp p = { fork(), NULL, NULL };
    if (p.pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[1]);
        close(from[0]);
        execl(exe, "shmets", "script", "--instance", mu_inst, (char *)NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    p.in = fdopen(to[1], "w");
    p.out = fdopen(from[0], "r");
    return p;
}

/* Send one call, return its result line (static buffer). */
static const char *ask(struct sp *p, const char *call)
{
    static char line[4096];
    fprintf(p->in, "%s\n", call);
    fflush(p->in);
    if (!fgets(line, sizeof line, p->out))
        return "(eof)";
    line[strcspn(line, "\n")] = 0;
    return line;
}

static int script_end(struct sp *p)
{
    fclose(p->in);
    fclose(p->out);
    int st;
    waitpid(p->pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void heir_script_inherits(void **s)
{
    (void)s;
    char buf[512], want[512];
    struct sp b = script_start(), a = script_start();
    snprintf(want, sizeof want, "<0.%d.0>", (int)b.pid);
    assert_string_equal(ask(&b, "self()."), want);
    snprintf(buf, sizeof buf, "ets:new(inh, [named_table, protected, {heir, <0.%d.0>, fromA}]).", (int)b.pid);
    assert_string_equal(ask(&a, buf), "inh");
    assert_string_equal(ask(&a, "ets:insert(inh, {k, v})."), "true");
    assert_string_equal(ask(&b, "ets:insert(inh, {k0, v0})."), "error:badarg");     /* not the owner */
    kill(a.pid, SIGKILL);
    script_end(&a);
    snprintf(want, sizeof want, "{'ETS-TRANSFER',inh,<0.%d.0>,fromA}", (int)a.pid);
    assert_string_equal(ask(&b, "shmets:receive(5000)."), want);
    assert_string_equal(ask(&b, "ets:insert(inh, {k2, v2})."), "true");            /* the owner now */
    assert_string_equal(ask(&b, "ets:lookup(inh, k)."), "[{k,v}]");
    assert_string_equal(ask(&b, "shmets:receive(0)."), "timeout");
    assert_string_equal(ask(&b, "ets:delete(inh)."), "true");
    assert_int_equal(script_end(&b), 0);
}

static void etsmgr_calls_in_a_script(void **s)
{
    (void)s;
    char buf[512], want[512];
    struct sp a = script_start();
    snprintf(buf, sizeof buf, "etsmgr:new_table('%s', app, apptab, [named_table, public]).", mu_inst);
    snprintf(want, sizeof want, "{ok,<0.%d.0>,apptab}", (int)mu_daemon);
    assert_string_equal(ask(&a, buf), want);
    assert_string_equal(ask(&a, buf), want);                    /* its own name again: ok */
    snprintf(buf, sizeof buf, "etsmgr:info('%s').", mu_inst);
    snprintf(want, sizeof want, "#{app => #{client => <0.%d.0>,client_alive => true,ets_name => apptab,"
             "heir => <0.%d.0>,owner => <0.%d.0>,protection => public,tab => apptab,type => set}}", (int)a.pid,
             (int)mu_daemon, (int)a.pid);                   /* etsmgr the heir (issue 15) */
    assert_string_equal(ask(&a, buf), want);
    assert_string_equal(ask(&a, "etsmgr:info(not_this_instance)."), "error:badarg");
    assert_string_equal(ask(&a, "ets:give_away(apptab, self(), x)."), "error:badarg");
    snprintf(buf, sizeof buf, "etsmgr:del_table('%s', app).", mu_inst);
    snprintf(want, sizeof want, "{ok,<0.%d.0>}", (int)mu_daemon);
    assert_string_equal(ask(&a, buf), want);
    assert_string_equal(ask(&a, buf), "{error,not_found}");
    assert_string_equal(ask(&a, "shmets:sleep(1)."), "ok");
    assert_string_equal(ask(&a, "ets:delete(apptab)."), "true");
    assert_int_equal(script_end(&a), 0);
}

/* `shmets ARGS` (this build's), its standard output and error in out; returns its exit status. */
static int tool(char *out, size_t cap, const char *args)
{
    char exe[PATH_MAX + 16], cmd[2 * PATH_MAX];
    mu_exe(exe, sizeof exe);
    memcpy(exe + strlen(exe) - 6, "shmets", 7);
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", exe, args);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = 0;
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `shmets load` makes a table owned by the tool, which exits at once: with etsmgr running the
 * table would die with it (not managed, no heir).  --manage NAME keeps it for the program
 * that calls etsmgr_new_table(NAME); --give-to PID hands it to a live process; plain load
 * says what will happen, and it happens. */
static void load_under_etsmgr(void **s)
{
    (void)s;
    char buf[2 * PATH_MAX], out[4096], file[PATH_MAX + 16], want[256];
    snprintf(file, sizeof file, "%s/kept.tab", mu_dir);
    struct sp a = script_start();
    assert_string_equal(ask(&a, "ets:new(kept, [named_table, public])."), "kept");
    assert_string_equal(ask(&a, "ets:insert(kept, [{1,a},{2,b}])."), "true");
    snprintf(buf, sizeof buf, "ets:tab2file(kept, \"%s\").", file);
    assert_string_equal(ask(&a, buf), "ok");
    assert_string_equal(ask(&a, "ets:delete(kept)."), "true");

    snprintf(buf, sizeof buf, "load --instance %s --manage keeper %s", mu_inst, file);
    assert_int_equal(tool(out, sizeof out, buf), 0);
    assert_non_null(strstr(out, "managed by etsmgr as keeper"));
    mu_sleep_ms(200);                                   /* the tool is gone; the table stays */
    assert_string_equal(ask(&a, "ets:lookup(kept, 2)."), "[{2,b}]");
    snprintf(buf, sizeof buf, "etsmgr:new_table('%s', keeper, kept, [named_table, public]).", mu_inst);
    snprintf(want, sizeof want, "{ok,<0.%d.0>,kept}", (int)mu_daemon);
    assert_string_equal(ask(&a, buf), want);
    snprintf(want, sizeof want, "<0.%d.0>", (int)a.pid);
    assert_string_equal(ask(&a, "ets:info(kept, owner)."), want);
    snprintf(buf, sizeof buf, "etsmgr:del_table('%s', keeper).", mu_inst);
    snprintf(want, sizeof want, "{ok,<0.%d.0>}", (int)mu_daemon);
    assert_string_equal(ask(&a, buf), want);
    assert_string_equal(ask(&a, "ets:delete(kept)."), "true");

    snprintf(buf, sizeof buf, "load --instance %s --give-to %d %s", mu_inst, (int)a.pid, file);
    assert_int_equal(tool(out, sizeof out, buf), 0);
    const char *msg = ask(&a, "shmets:receive(5000).");
    assert_true(strncmp(msg, "{'ETS-TRANSFER',kept,<0.", 24) == 0 && strstr(msg, ".0>,loaded}"));
    snprintf(want, sizeof want, "<0.%d.0>", (int)a.pid);
    assert_string_equal(ask(&a, "ets:info(kept, owner)."), want);
    assert_string_equal(ask(&a, "ets:delete(kept)."), "true");

    snprintf(buf, sizeof buf, "load --instance %s --give-to 4194304 %s", mu_inst, file);
    assert_int_equal(tool(out, sizeof out, buf), 1);    /* no such process: said, exit 1 */
    assert_non_null(strstr(out, "dead_receiver"));
    for (int i = 0; i < 500 && strcmp(ask(&a, "ets:whereis(kept)."), "undefined"); i++)
        mu_sleep_ms(10);

    snprintf(buf, sizeof buf, "load --instance %s %s", mu_inst, file);
    assert_int_equal(tool(out, sizeof out, buf), 0);
    assert_non_null(strstr(out, "will delete table"));
    const char *w = "kept";
    for (int i = 0; i < 500 && strcmp(w, "undefined"); i++) {
        mu_sleep_ms(10);
        w = ask(&a, "ets:whereis(kept).");
    }
    assert_string_equal(w, "undefined");                /* deleted with the tool, as said */
    assert_int_equal(script_end(&a), 0);
}

static int group_setup(void **s)
{
    (void)s;
    mu_init("test_mgr_script");
    assert_true(mu_start() > 0);
    return 0;
}

static int group_teardown(void **s)
{
    (void)s;
    mu_kill(mu_daemon, SIGTERM);
    assert_int_equal(mu_fini(), 0);     /* no sanitizer report in the daemon's log */
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(heir_script_inherits),
        cmocka_unit_test(etsmgr_calls_in_a_script),
        cmocka_unit_test(load_under_etsmgr),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
