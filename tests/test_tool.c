/*
 * test_tool.c — the shmets table subcommands, run as a user runs them: build/shmets as a
 * subprocess against a live instance whose tables this test made, output and exit status
 * checked.  top and the progress bar run under a pseudo-terminal (forkpty).
 *
 * The program is found next to this test's build directory (build/tests/test_tool runs
 * build/shmets; SHMETS_BIN overrides), as tests/test_script.c finds it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "testtool.h"

#include "shmets.h"
#define TESTINST_PREFIX "test_tool"
#include "testinst.h"
#include "testdir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

struct run {
    char out[65536], err[8192];
    int status;                 /* exit status, or 128 + signal */
};

static void slurp_fd(int fd, char *buf, size_t cap)
{
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, cap - 1);
    buf[n > 0 ? n : 0] = 0;
    close(fd);
}

/* Run `shmets CMD --instance inst ARGS...` (NULL-terminated), standard input `in` (or empty). */
static void run(struct run *r, const char *in, const char *cmd, ...)
{
    const char *argv[32] = { tool(), cmd, "--instance", inst };
    int k = 4;
    va_list ap;
    va_start(ap, cmd);
    for (const char *a; (a = va_arg(ap, const char *)) && k < 31;)
        argv[k++] = a;
    va_end(ap);
    argv[k] = NULL;
    int fi = memfd_create("in", 0), fo = memfd_create("out", 0), fe = memfd_create("err", 0);
    assert_true(fi >= 0 && fo >= 0 && fe >= 0);
    if (in)
        assert_int_equal(write(fi, in, strlen(in)), (ssize_t)strlen(in));
    lseek(fi, 0, SEEK_SET);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fi, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    close(fi);
    slurp_fd(fo, r->out, sizeof r->out);
    slurp_fd(fe, r->err, sizeof r->err);
}

static shmets_term T(const char *text)
{
    shmets_term t;
    assert_int_equal(shmets_term_parse(text, strlen(text), &t), 0);
    return t;
}

static shmets_tab *tab;

static int tsetup(void **s)
{
    setup(s);
    shmets_opts o;
    shmets_opts_init(&o);
    o.kind = SHMETS_BAG;
    o.access = SHMETS_PUBLIC;
    o.named = true;
    assert_int_equal(shmets_new(db, "fruit", &o, &tab), 0);
    shmets_term l = T("[{apple, red, 3}, {apple, green, 5}, {pear, yellow, 7}]");
    assert_int_equal(shmets_insert(tab, l), 0);
    shmets_term_free(&l);
    return 0;
}

static void ls(void **state)
{
    (void)state;
    struct run r;
    run(&r, NULL, "ls", NULL);
    assert_int_equal(r.status, 0);
    char want[128];
    snprintf(want, sizeof want, "%llu", (unsigned long long)shmets_id(tab));
    assert_non_null(strstr(r.out, "id"));
    assert_non_null(strstr(r.out, "protection"));
    char *line = strstr(r.out, "fruit");
    assert_non_null(line);
    char pid[16];
    snprintf(pid, sizeof pid, " %d ", (int)getpid());
    assert_non_null(strstr(line, "bag"));
    assert_non_null(strstr(line, " 3 "));
    assert_non_null(strstr(line, pid));
    assert_non_null(strstr(line, "none"));
    assert_non_null(strstr(line, "public"));
    assert_memory_equal(strstr(r.out, "\n") + 1, want, strlen(want));
    /* an instance that does not exist is an error, and is not made */
    struct run q;
    const char *argv[] = { tool(), "ls", "--instance", "test_tool.none.such", NULL };
    int fo = memfd_create("o", 0);
    pid_t p = fork();
    if (p == 0) {
        dup2(fo, 1);
        dup2(fo, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    waitpid(p, &st, 0);
    slurp_fd(fo, q.out, sizeof q.out);
    assert_int_equal(WEXITSTATUS(st), 1);
    assert_non_null(strstr(q.out, "no such segment or table"));
    assert_int_equal(access("/dev/shm/shmets.test_tool.none.such", F_OK), -1);
}

/* A table ls cannot read (its segment damaged) is named on standard error, the others are
 * listed, and the exit status is 1. */
static void ls_damaged_table(void **state)
{
    (void)state;
    shmets_opts o;
    shmets_opts_init(&o);
    shmets_tab *t;
    assert_int_equal(shmets_new(db, "damaged", &o, &t), 0);
    uint64_t id = shmets_id(t);
    shmets_detach(t);
    char seg[128];
    snprintf(seg, sizeof seg, "/dev/shm/shmets.%s.%llu", inst, (unsigned long long)id);
    assert_int_equal(truncate(seg, 100), 0);
    struct run r;
    run(&r, NULL, "ls", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.out, "fruit"));
    char what[64];
    snprintf(what, sizeof what, "shmets: table %llu: ", (unsigned long long)id);
    assert_non_null(strstr(r.err, what));
}

static void info_get(void **state)
{
    (void)state;
    struct run r;
    run(&r, NULL, "info", "fruit", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "{name,fruit}\n"));
    assert_non_null(strstr(r.out, "{size,3}\n"));
    assert_non_null(strstr(r.out, "{type,bag}\n"));
    assert_non_null(strstr(r.out, "{protection,public}\n"));
    /* by id too */
    char id[32];
    snprintf(id, sizeof id, "%llu", (unsigned long long)shmets_id(tab));
    run(&r, NULL, "get", id, "apple", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "{apple,red,3}\n{apple,green,5}\n");
    run(&r, NULL, "get", "fruit", "plum", NULL);
    assert_int_equal(r.status, 1);
    assert_string_equal(r.out, "");
    assert_non_null(strstr(r.err, "no such key"));
    run(&r, NULL, "get", "fruit", "{bad", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "syntax"));
    run(&r, NULL, "info", "nosuch", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "shmets: table nosuch: no such segment or table"));
    run(&r, NULL, "get", "fruit", NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "usage"));
}

static void insert_delete_select(void **state)
{
    (void)state;
    struct run r;
    run(&r, NULL, "insert", "fruit", "{plum, blue, 1}", "{plum, red, 2}", NULL);
    assert_int_equal(r.status, 0);
    shmets_term k = T("plum"), objs;
    assert_int_equal(shmets_lookup(tab, k, &objs), 0);
    char *s;
    assert_int_equal(shmets_term_format(objs, &s, NULL), 0);
    assert_string_equal(s, "[{plum,blue,1},{plum,red,2}]");
    free(s);
    shmets_term_free(&objs);
    run(&r, NULL, "insert", "fruit", "{ok}", "notatuple", NULL);        /* atomic: neither */
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "wrong type"));
    run(&r, NULL, "select", "fruit", "[{{'$1', red, '$2'}, [{'>', '$2', 2}], [{{'$1', '$2'}}]}]", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "{apple,3}\n");
    run(&r, NULL, "select", "fruit", "[{{'$1', '$2', '_'}, [], ['$2']}]", NULL);
    assert_int_equal(r.status, 0);
    int lines = 0;
    for (char *p = r.out; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 5);
    run(&r, NULL, "select", "fruit", "[{'$1', [], ['$3']}]", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "unbound"));
    run(&r, NULL, "delete", "fruit", "plum", NULL);
    assert_int_equal(r.status, 0);
    int found;
    assert_int_equal(shmets_member(tab, k, &found), 0);
    assert_int_equal(found, 0);
    shmets_term_free(&k);
}

static void check(void **state)
{
    (void)state;
    struct run r;
    run(&r, NULL, "check", "fruit", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "fruit: ok (3 objects; every invariant holds)\n");
    run(&r, NULL, "check", "nosuch", NULL);
    assert_int_equal(r.status, 1);
}

static void files(void **state)
{
    (void)state;
    char dir[128], f[200];
    testdir_make(dir, sizeof dir, "test_tool");
    snprintf(f, sizeof f, "%s/fruit.tab", dir);
    struct run r;
    run(&r, NULL, "dump", "--md5sum", "fruit", f, NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, "");           /* not a terminal: no progress bar */
    run(&r, NULL, "fileinfo", f, NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "{name,fruit}\n{type,bag}\n{protection,public}\n{named_table,true}\n"
                               "{keypos,1}\n{size,3}\n{extended_info,[md5sum]}\n{version,{1,0}}\n{format,shmets}\n");
    run(&r, NULL, "load", f, NULL);               /* the name is taken */
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "already exists"));
    assert_int_equal(shmets_rename(tab, "fruit_was"), 0);
    run(&r, NULL, "load", "--verify", f, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "loaded"));
    run(&r, NULL, "get", "fruit", "pear", NULL);
    assert_string_equal(r.out, "{pear,yellow,7}\n");
    run(&r, NULL, "load", dir, NULL);
    assert_int_equal(r.status, 1);
    /* Erlang's format: fileinfo says so, and it loads back */
    run(&r, NULL, "dump", "--erlang", "--object-count", "fruit", f, NULL);
    assert_int_equal(r.status, 0);
    run(&r, NULL, "fileinfo", f, NULL);
    assert_non_null(strstr(r.out, "{extended_info,[object_count]}\n{version,{1,0}}\n{format,erlang}\n"));
    run(&r, NULL, "load", "--verify", f, NULL);                 /* read, but the name is taken */
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "a named table fruit exists already"));
    testdir_remove(dir);
}

/* fileinfo and the script's tabfile_info/1 describe a file whose table name no atom can hold
 * (more than 255 characters): the name comes as a binary, never silently left out. */
static void fileinfo_long_name(void **state)
{
    (void)state;
    char dir[128], f[200], name[301], calls[400];
    testdir_make(dir, sizeof dir, "test_tool");
    snprintf(f, sizeof f, "%s/long.tab", dir);
    memset(name, 'n', 300);
    name[300] = 0;
    shmets_opts o;
    shmets_opts_init(&o);
    shmets_tab *t;
    assert_int_equal(shmets_new(db, name, &o, &t), 0);
    assert_int_equal(shmets_tab2file(t, f, NULL), 0);
    struct run r;
    run(&r, NULL, "fileinfo", f, NULL);
    assert_int_equal(r.status, 0);
    assert_memory_equal(r.out, "{name,<<110,110,", 16);
    assert_non_null(strstr(r.out, ",110>>}\n{type,set}\n"));
    snprintf(calls, sizeof calls, "ets:tabfile_info(\"%s\").\n", f);
    run(&r, calls, "script", NULL);
    assert_int_equal(r.status, 0);
    assert_memory_equal(r.out, "{ok,[{name,<<110,", 17);
    assert_non_null(strstr(r.out, ",110>>},{type,set},{protection,protected},"));
    testdir_remove(dir);
}

/* The shell with standard input not a terminal: calls run, an error does not end it. */
static void shell(void **state)
{
    (void)state;
    struct run r;
    setenv("HOME", "/nonexistent-home", 1);    /* no history file written by the test */
    run(&r, "ets:lookup(fruit, pear).\nets:lookup(fruit pear).\nets:member(fruit,\n apple).\n", "shell", NULL);
    assert_int_equal(r.status, 1);                 /* an error happened */
    assert_non_null(strstr(r.out, "[{pear,yellow,7}]\n"));
    assert_non_null(strstr(r.out, "true\n"));
    assert_non_null(strstr(r.err, "syntax"));
}


/* The script's table-file calls answer as ETS does (their results and error terms were taken
 * from erl: OTP 25's ets:tab2file/3, file2tab/2, tabfile_info/1). */
static void script_tabfiles(void **state)
{
    (void)state;
    char dir[128], calls[2048];
    testdir_make(dir, sizeof dir, "test_tool");
    snprintf(calls, sizeof calls,
             "ets:tab2file(fruit, \"%s/f.tab\", [{extended_info, [object_count, md5sum]}, {sync, true}]).\n"
             "ets:tabfile_info(\"%s/f.tab\").\n"
             "ets:file2tab(\"%s/f.tab\").\n"
             "ets:rename(fruit, fruit_was).\n"
             "ets:file2tab('%s/f.tab', [{verify, true}]).\n"
             "ets:lookup(fruit, pear).\n"
             "ets:tab2file(fruit, \"%s/g.tab\", [{sync, maybe}]).\n"
             "ets:tab2file(nosuch, \"%s/g.tab\").\n"
             "ets:file2tab(\"%s/none.tab\").\n"
             "ets:tab2file(fruit, \"%s/none/g.tab\").\n"
             "ets:tab2file(fruit, <<\"%s/g.tab\">>).\n",
             dir, dir, dir, dir, dir, dir, dir, dir, dir);
    struct run r;
    run(&r, calls, "script", NULL);
    assert_int_equal(r.status, 0);
    char *line[16];
    int n = 0;
    for (char *p = r.out; n < 16 && *p; n++) {
        line[n] = p;
        p = strchr(p, '\n');
        assert_non_null(p);
        *p++ = 0;
    }
    assert_int_equal(n, 11);
    assert_string_equal(line[0], "ok");
    assert_string_equal(line[1], "{ok,[{name,fruit},{type,bag},{protection,public},{named_table,true},{keypos,1},"
                                 "{size,3},{extended_info,[object_count,md5sum]},{version,{1,0}}]}");
    assert_string_equal(line[2], "{error,cannot_create_table}");
    assert_string_equal(line[3], "fruit_was");
    assert_string_equal(line[4], "{ok,fruit}");
    assert_string_equal(line[5], "[{pear,yellow,7}]");
    assert_string_equal(line[6], "{error,{unknown_option,{sync,maybe}}}");
    assert_string_equal(line[7], "{error,badtab}");
    assert_non_null(strstr(line[8], "{error,{read_error,{file_error,"));
    assert_non_null(strstr(line[8], ",enoent}}}"));
    assert_non_null(strstr(line[9], "{error,{file_error,"));
    assert_string_equal(line[10], "error:badarg");
    testdir_remove(dir);
}

/* An unknown option of any size comes back whole in {error,{unknown_option,Opt}} (its text
 * once went through a 4200-byte buffer, and a longer one was cut and failed to parse). */
static void script_long_option(void **state)
{
    (void)state;
    static char calls[8192], want[8192];
    char s[1501];
    memset(s, 'a', 1500);
    s[1500] = 0;
    snprintf(calls, sizeof calls, "ets:tab2file(fruit, \"unused.tab\", [{bad, \"%s\"}]).\n"
             "ets:file2tab(\"unused.tab\", [{verify, \"%s\"}]).\n", s, s);
    struct run r;
    run(&r, calls, "script", NULL);
    assert_int_equal(r.status, 0);
    size_t k = (size_t)snprintf(want, sizeof want, "{error,{unknown_option,{bad,[");
    for (int i = 0; i < 1500; i++)
        k += (size_t)snprintf(want + k, sizeof want - k, i ? ",97" : "97");
    snprintf(want + k, sizeof want - k, "]}}}\n");
    assert_memory_equal(r.out, want, strlen(want));
    assert_non_null(strstr(r.out + strlen(want), "{error,{unknown_option,{verify,[97,97,"));
    assert_int_equal(access("unused.tab", F_OK), -1);
}

/* File names as ETS takes them (file:name_all() but binaries; answers taken from OTP 25):
 * deep lists of characters, atoms and lists, and the empty name (no such file). */
static void script_file_names(void **state)
{
    (void)state;
    char dir[128], calls[1024];
    testdir_make(dir, sizeof dir, "test_tool");
    snprintf(calls, sizeof calls,
             "ets:tab2file(fruit, [\"%s\", [$/, f], \".tab\"]).\n"
             "ets:tabfile_info(\"%s/f.tab\").\n"
             "ets:tab2file(fruit, \"\").\n"
             "ets:file2tab(\"\").\n", dir, dir);
    struct run r;
    run(&r, calls, "script", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "ok\n"
                        "{ok,[{name,fruit},{type,bag},{protection,public},{named_table,true},{keypos,1},"
                        "{size,3},{extended_info,[]},{version,{1,0}}]}\n"
                        "{error,{file_error,[],enoent}}\n"
                        "{error,{read_error,{file_error,[],enoent}}}\n");
    testdir_remove(dir);
}

/* Read everything a pty child writes until it exits. */
static void pty_run(const char *const *argv, char *buf, size_t cap, int *status)
{
    int master;
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    assert_true(pid >= 0);
    if (pid == 0) {
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    size_t n = 0;
    for (;;) {
        struct pollfd p = { master, POLLIN, 0 };
        if (poll(&p, 1, 10000) <= 0)
            break;
        ssize_t k = read(master, buf + n, cap - 1 - n);
        if (k <= 0)
            break;                      /* EIO once the child has gone */
        n += (size_t)k;
    }
    buf[n] = 0;
    close(master);
    assert_int_equal(waitpid(pid, status, 0), pid);
}

static void top_on_a_terminal(void **state)
{
    (void)state;
    /* a writer keeps writing while top watches */
    pid_t w = fork();
    assert_true(w >= 0);
    if (w == 0) {
        shmets *d;
        shmets_tab *t;
        if (shmets_open(inst, &d) || shmets_attach_name(d, "fruit", &t))
            _exit(1);
        shmets_term o = T("{counter, 0, 0}"), k = T("counter");
        for (;;) {
            shmets_insert(t, o);
            shmets_delete_key(t, k);
            usleep(500);
        }
    }
    static char buf[1 << 16];
    int st;
    const char *argv[] = { tool(), "top", "--instance", inst, "--iterations", "4", "--interval", "0.2", NULL };
    pty_run(argv, buf, sizeof buf, &st);
    kill(w, SIGKILL);
    waitpid(w, NULL, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    int clears = 0;
    for (char *p = buf; (p = strstr(p, "\033[H\033[2J")); p++)
        clears++;
    assert_int_equal(clears, 4);
    assert_non_null(strstr(buf, "fruit"));
    assert_non_null(strstr(buf, "writes/s"));
    /* the first refresh has no rate ("-"); later ones have one for fruit, and, the writer
     * writing all along, some is not 0 (any one might fall in a moment the machine did not
     * run the writer) */
    int refresh = 0, rated = 0;
    for (char *p = buf; (p = strstr(p, "\033[H\033[2J")); p++, refresh++) {
        char *line = strstr(p, " fruit ");
        assert_non_null(line);
        char *eol = strpbrk(line, "\r\n");
        assert_non_null(eol);
        char *sp = eol;
        while (sp > line && sp[-1] != ' ')
            sp--;
        if (refresh == 0)
            assert_true(*sp == '-');
        else
            rated += atol(sp) > 0;
    }
    assert_true(rated > 0);
}

static void progress_bar_on_a_terminal(void **state)
{
    (void)state;
    shmets_term l;
    shmets_builder *b;
    assert_int_equal(shmets_builder_create(&b), 0);
    shmets_build_list(b, 50000);
    for (int i = 0; i < 50000; i++) {
        shmets_build_tuple(b, 2);
        shmets_build_int(b, i);
        shmets_build_int(b, i);
    }
    shmets_build_nil(b);
    assert_int_equal(shmets_builder_finish(b, &l), 0);
    shmets_builder_destroy(b);
    assert_int_equal(shmets_insert(tab, l), 0);
    shmets_term_free(&l);
    char dir[128], f[200];
    testdir_make(dir, sizeof dir, "test_tool");
    snprintf(f, sizeof f, "%s/big.tab", dir);
    static char buf[1 << 16];
    int st;
    const char *argv[] = { tool(), "dump", "--instance", inst, "fruit", f, NULL };
    pty_run(argv, buf, sizeof buf, &st);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_non_null(strstr(buf, "dump ["));
    assert_non_null(strstr(buf, "100% 50003/50003 objects"));
    assert_int_equal(shmets_rename(tab, "fruit_was"), 0);
    const char *argv2[] = { tool(), "load", "--instance", inst, f, NULL };
    pty_run(argv2, buf, sizeof buf, &st);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_non_null(strstr(buf, "load ["));
    assert_non_null(strstr(buf, "100% 50003/50003 objects"));
    testdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(ls, tsetup, teardown),
        cmocka_unit_test_setup_teardown(ls_damaged_table, tsetup, teardown),
        cmocka_unit_test_setup_teardown(info_get, tsetup, teardown),
        cmocka_unit_test_setup_teardown(insert_delete_select, tsetup, teardown),
        cmocka_unit_test_setup_teardown(check, tsetup, teardown),
        cmocka_unit_test_setup_teardown(files, tsetup, teardown),
        cmocka_unit_test_setup_teardown(fileinfo_long_name, tsetup, teardown),
        cmocka_unit_test_setup_teardown(shell, tsetup, teardown),
        cmocka_unit_test_setup_teardown(script_tabfiles, tsetup, teardown),
        cmocka_unit_test_setup_teardown(script_long_option, tsetup, teardown),
        cmocka_unit_test_setup_teardown(script_file_names, tsetup, teardown),
        cmocka_unit_test_setup_teardown(top_on_a_terminal, tsetup, teardown),
        cmocka_unit_test_setup_teardown(progress_bar_on_a_terminal, tsetup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
