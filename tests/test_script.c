/*
 * test_script.c — `shmets script` from the outside: the built program is run on fixed inputs
 * and its lines are compared with what ETS gives for the same calls (asked of erl, OTP 25;
 * lookup_element/4 is OTP 26's).
 *
 *   - one line per call, with the expected text, for a script per table kind (set, bag,
 *     duplicate_bag, ordered_set) and one of badargs, undefs and undefineds;
 *   - through a pipe a call's line comes out before the next call is written;
 *   - a syntax error names its line on standard error, the lines before it are printed, and
 *     the exit status is not 0; a fatal (non-badarg) error likewise;
 *   - comments, and strings, quoted atoms and $c holding '.' and '%', do not end a call;
 *   - FILE and --instance NAME;
 *   - no /dev/shm/shmets.script.<pid>.* is left behind: after a clean run, a syntax error, a
 *     fatal error and SIGTERM.
 *
 * The program is found next to this test's build directory: build/tests/test_script runs
 * build/shmets, build/san-X/tests/test_script runs build/san-X/shmets (`make check` builds
 * both before it runs the tests); SHMETS_BIN overrides.  Under a sanitizer the child is
 * sanitized too, so a leak in it makes its exit status non-zero and a test fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "testtool.h"

#include "shmets.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 10000

/* ---- running the program ------------------------------------------------------------ */


struct child {
    pid_t pid;
    int in, out, err;           /* our ends of its standard input, output and error */
};

/* The child a failed assertion may leave running (one at a time); the teardown stops it. */
static pid_t alive;

/* Stop a child: SIGTERM lets it remove its instance; SIGKILL if it does not go in 2 s. */
static void stop(pid_t pid)
{
    int status;
    kill(pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
}

static int teardown(void **state)
{
    (void)state;
    if (alive > 0)
        stop(alive);
    alive = 0;
    return 0;
}

/* Start `shmets script ARGS...` (args NULL-terminated, may be NULL). */
static void spawn(struct child *c, const char *const *args)
{
    int pin[2], pout[2], perr[2];
    assert_int_equal(pipe2(pin, O_CLOEXEC), 0);
    assert_int_equal(pipe2(pout, O_CLOEXEC), 0);
    assert_int_equal(pipe2(perr, O_CLOEXEC), 0);
    const char *argv[16] = { tool(), "script" };
    int k = 2;
    for (int i = 0; args && args[i] && k < 15; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        dup2(perr[1], 2);
        signal(SIGPIPE, SIG_DFL);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    alive = c->pid;
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    c->in = pin[1];
    c->out = pout[0];
    c->err = perr[0];
}

struct output {
    char *out, *err;            /* all it wrote, NUL-terminated */
    size_t nout, nerr;
    int status;                 /* from waitpid */
    pid_t pid;
};

static void grow(char **p, size_t *n, const char *src, size_t k)
{
    *p = realloc(*p, *n + k + 1);
    assert_non_null(*p);
    memcpy(*p + *n, src, k);
    *n += k;
    (*p)[*n] = 0;
}

/* Feed `input` (if not NULL) and collect everything until the child exits. */
static void finish(struct child *c, const char *input, struct output *o)
{
    size_t sent = 0, len = input ? strlen(input) : 0;
    memset(o, 0, sizeof *o);
    grow(&o->out, &o->nout, "", 0);
    grow(&o->err, &o->nerr, "", 0);
    if (!input || !len) {
        close(c->in);
        c->in = -1;
    }
    while (c->out >= 0 || c->err >= 0) {
        struct pollfd p[3] = { { .fd = c->out, .events = POLLIN }, { .fd = c->err, .events = POLLIN },
                               { .fd = c->in, .events = POLLOUT } };
        int r = poll(p, 3, TIMEOUT_MS);
        if (r == 0)
            fail_msg("shmets script did not finish within %d ms; output so far:\n%s\n%s", TIMEOUT_MS,
                     o->out, o->err);
        assert_true(r > 0 || errno == EINTR);
        char buf[4096];
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(p[i].fd, buf, sizeof buf);
            if (n > 0) {
                if (i == 0)
                    grow(&o->out, &o->nout, buf, (size_t)n);
                else
                    grow(&o->err, &o->nerr, buf, (size_t)n);
            } else if (n == 0 || errno != EINTR) {
                close(p[i].fd);
                *(i == 0 ? &c->out : &c->err) = -1;
            }
        }
        if (c->in >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t n = write(c->in, input + sent, len - sent);
            if (n > 0)
                sent += (size_t)n;
            if (n < 0 || sent == len) {
                close(c->in);
                c->in = -1;
            }
        }
    }
    if (c->in >= 0)
        close(c->in);
    assert_int_equal(waitpid(c->pid, &o->status, 0), c->pid);
    alive = 0;
    o->pid = c->pid;
}

static void run(const char *input, const char *const *args, struct output *o)
{
    struct child c;
    spawn(&c, args);
    finish(&c, input, o);
}

static void output_free(struct output *o)
{
    free(o->out);
    free(o->err);
}

/* Segments of the temporary instance of process pid in /dev/shm (named if `report`). */
static int segments(pid_t pid, bool report)
{
    char prefix[64];
    int n = 0, len = snprintf(prefix, sizeof prefix, "shmets.script.%d.", (int)pid);
    DIR *d = opendir("/dev/shm");
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        if (!strncmp(e->d_name, prefix, (size_t)len)) {
            if (report)
                print_error("left behind: /dev/shm/%s\n", e->d_name);
            n++;
        }
    closedir(d);
    return n;
}

static int leftovers(pid_t pid)
{
    return segments(pid, true);
}

static bool exited_ok(const struct output *o)
{
    return WIFEXITED(o->status) && WEXITSTATUS(o->status) == 0;
}

/* ---- scripts with their expected lines ---------------------------------------------- */

struct step {
    const char *call, *want;
};

/* Run the calls (one a line) and compare line by line.  Returns false (and says why) if the
 * program reported that the library cannot do this yet (the caller skips). */
static bool check_script(const struct step *st, size_t n)
{
    char *input = NULL;
    size_t len = 0;
    grow(&input, &len, "", 0);
    for (size_t i = 0; i < n; i++) {
        grow(&input, &len, st[i].call, strlen(st[i].call));
        grow(&input, &len, "\n", 1);
    }
    struct output o;
    run(input, NULL, &o);
    free(input);
    if (strstr(o.err, "not implemented")) {
        print_message("the library cannot run this script yet: %s", o.err);
        output_free(&o);
        return false;
    }
    char *line = o.out;
    for (size_t i = 0; i < n; i++) {
        char *nl = line ? strchr(line, '\n') : NULL;
        if (!nl)
            fail_msg("no line for call %zu, %s (want %s); stderr: %s", i + 1, st[i].call, st[i].want, o.err);
        *nl = 0;
        if (strcmp(line, st[i].want))
            fail_msg("call %zu, %s: got %s, want %s", i + 1, st[i].call, line, st[i].want);
        line = nl + 1;
    }
    if (*line)
        fail_msg("lines after the last call: %s", line);
    if (!exited_ok(&o) || o.nerr)
        fail_msg("status %d, stderr: %s", o.status, o.err);
    assert_int_equal(leftovers(o.pid), 0);
    output_free(&o);
    return true;
}

#define CHECK_SCRIPT(steps)                                                  \
    do {                                                                     \
        if (!check_script(steps, sizeof steps / sizeof steps[0]))            \
            skip();                                                          \
    } while (0)

static void test_set(void **state)
{
    (void)state;
    static const struct step st[] = {
        { "ets:new(s, [named_table, public]).", "s" },
        { "ets:insert(s, [{a,1}, {b,2.5}, {<<\"k\">>, \"str\", #{x => 1}}]).", "true" },
        { "ets:insert(s, {a, 2}).", "true" },
        { "ets:lookup(s, a).", "[{a,2}]" },
        { "ets:lookup(s, <<\"k\">>).", "[{<<107>>,[115,116,114],#{x => 1}}]" },
        { "ets:lookup(s, nokey).", "[]" },
        { "ets:insert_new(s, {a, 3}).", "false" },
        { "ets:insert_new(s, [{c, 3}, {d, 4}]).", "true" },
        { "ets:member(s, c).", "true" },
        { "ets:member(s, 1).", "false" },
        { "ets:lookup_element(s, b, 2).", "2.5" },
        { "ets:lookup_element(s, zz, 2).", "error:badarg" },
        { "ets:lookup_element(s, zz, 2, dflt).", "dflt" },
        { "ets:lookup_element(s, a, 3).", "error:badarg" },
        { "ets:update_counter(s, c, 10).", "13" },
        { "ets:update_counter(s, c, {2, -20, 0, 100}).", "100" },
        { "ets:update_counter(s, n, 1, {n, 0}).", "1" },
        { "ets:update_counter(s, q, [{2, 1}, {2, 1}], {q, 10}).", "[11,12]" },
        { "ets:update_counter(s, b, 1).", "error:badarg" },
        { "ets:update_element(s, a, {2, x}).", "true" },
        { "ets:update_element(s, nope, {2, x}).", "false" },
        { "ets:update_element(s, a, {1, x}).", "error:badarg" },
        { "ets:take(s, c).", "[{c,100}]" },
        { "ets:take(s, c).", "[]" },
        { "ets:delete(s, n).", "true" },
        { "ets:delete(s, q).", "true" },
        { "ets:delete(s, d).", "true" },
        { "ets:delete_object(s, {a, x}).", "true" },
        { "ets:lookup(s, a).", "[]" },
        { "ets:delete(s, b).", "true" },
        { "ets:info(s, size).", "1" },
        { "ets:info(s, type).", "set" },
        { "ets:info(s, keypos).", "1" },
        { "ets:info(s, protection).", "public" },
        { "ets:info(s, named_table).", "true" },
        { "ets:first(s).", "<<107>>" },
        { "ets:next(s, <<\"k\">>).", "'$end_of_table'" },
        { "ets:last(s).", "<<107>>" },
        { "ets:prev(s, <<\"k\">>).", "'$end_of_table'" },
        { "ets:safe_fixtable(s, true).", "true" },
        { "ets:safe_fixtable(s, false).", "true" },
        { "ets:tab2list(s).", "[{<<107>>,[115,116,114],#{x => 1}}]" },
        { "ets:rename(s, s2).", "s2" },
        { "ets:lookup(s, a).", "error:badarg" },
        { "ets:info(s2, name).", "s2" },
        { "ets:delete_all_objects(s2).", "true" },
        { "ets:tab2list(s2).", "[]" },
        { "ets:first(s2).", "'$end_of_table'" },
        { "ets:next(s2, nokey).", "error:badarg" },
        { "ets:all().", "[s2]" },
        { "ets:delete(s2).", "true" },
        { "ets:info(s2).", "undefined" },
        { "ets:delete(s2).", "error:badarg" },
        { "ets:all().", "[]" },
    };
    CHECK_SCRIPT(st);
}

/* Objects are inserted one by one: erl 25.2.3 reverses a bag's list insert (otp#6730). */
static void test_bag(void **state)
{
    (void)state;
    static const struct step st[] = {
        { "ets:new(b, [bag, named_table]).", "b" },
        { "ets:insert(b, {k, 1}).", "true" },
        { "ets:insert(b, {k, 2}).", "true" },
        { "ets:insert(b, {k, 1}).", "true" },
        { "ets:insert(b, {j, 3}).", "true" },
        { "ets:lookup(b, k).", "[{k,1},{k,2}]" },
        { "ets:insert(b, {k, 3}).", "true" },
        { "ets:lookup_element(b, k, 2).", "[1,2,3]" },
        { "ets:delete_object(b, {k, 2}).", "true" },
        { "ets:lookup(b, k).", "[{k,1},{k,3}]" },
        { "ets:insert_new(b, {k, 4}).", "false" },
        { "ets:update_counter(b, k, 1).", "error:badarg" },
        { "ets:update_element(b, k, {2, 9}).", "error:badarg" },
        { "ets:insert(b, {}).", "error:badarg" },
        { "ets:insert(b, [{k, 1} | x]).", "error:badarg" },
        { "ets:insert(b, x).", "error:badarg" },
        { "ets:info(b, size).", "3" },
        { "ets:info(b, type).", "bag" },
        { "ets:take(b, k).", "[{k,1},{k,3}]" },
        { "ets:tab2list(b).", "[{j,3}]" },
        { "ets:delete(b).", "true" },
    };
    CHECK_SCRIPT(st);
}

static void test_duplicate_bag(void **state)
{
    (void)state;
    static const struct step st[] = {
        { "ets:new(d, [duplicate_bag, named_table, {keypos, 2}]).", "d" },
        { "ets:insert(d, [{x, k, 1}, {y, k, 1}, {x, k, 1}]).", "true" },
        { "ets:lookup(d, k).", "[{x,k,1},{y,k,1},{x,k,1}]" },
        { "ets:insert(d, {x}).", "error:badarg" },
        { "ets:delete_object(d, {x, k, 1}).", "true" },
        { "ets:lookup(d, k).", "[{y,k,1}]" },
        { "ets:info(d, keypos).", "2" },
        { "ets:info(d, type).", "duplicate_bag" },
        { "ets:member(d, k).", "true" },
        { "ets:take(d, k).", "[{y,k,1}]" },
        { "ets:info(d, size).", "0" },
        { "ets:delete(d).", "true" },
    };
    CHECK_SCRIPT(st);
}

static void test_ordered_set(void **state)
{
    (void)state;
    static const struct step st[] = {
        { "ets:new(o, [ordered_set, named_table]).", "o" },
        { "ets:insert(o, [{3, c}, {1, a}, {2, b}, {1.0, aa}]).", "true" },
        { "ets:tab2list(o).", "[{1.0,aa},{2,b},{3,c}]" },
        { "ets:first(o).", "1.0" },
        { "ets:next(o, 1).", "2" },
        { "ets:next(o, 1.5).", "2" },
        { "ets:prev(o, 3).", "2" },
        { "ets:last(o).", "3" },
        { "ets:next(o, 3).", "'$end_of_table'" },
        { "ets:prev(o, 1).", "'$end_of_table'" },
        { "ets:slot(o, 0).", "[{1.0,aa}]" },
        { "ets:slot(o, 2).", "[{3,c}]" },
        { "ets:slot(o, 3).", "'$end_of_table'" },
        { "ets:slot(o, 4).", "error:badarg" },
        { "ets:lookup(o, 1).", "[{1.0,aa}]" },
        { "ets:member(o, 2.0).", "true" },
        { "ets:update_counter(o, 2, {1, 1}).", "error:badarg" },
        { "ets:setopts(o, {heir, none}).", "true" },
        { "ets:setopts(o, [{heir, none}]).", "true" },
        { "ets:setopts(o, [{heir, none}, bogus]).", "error:badarg" },
        { "ets:info(o, type).", "ordered_set" },
        { "ets:delete(o).", "true" },
    };
    CHECK_SCRIPT(st);
}

/* OTP 27's first_lookup/1, next_lookup/2, last_lookup/1, prev_lookup/2 and update_element/4,
 * as its manual gives them (OTP 25, the erl at hand, has none of them). */
static void test_otp27_calls(void **state)
{
    (void)state;
    static const struct step st[] = {
        { "ets:new(o, [named_table, ordered_set]).", "o" },
        { "ets:first_lookup(o).", "'$end_of_table'" },
        { "ets:insert(o, [{1,a},{2,b},{3,c}]).", "true" },
        { "ets:first_lookup(o).", "{1,[{1,a}]}" },
        { "ets:next_lookup(o, 1).", "{2,[{2,b}]}" },
        { "ets:next_lookup(o, 3).", "'$end_of_table'" },
        { "ets:last_lookup(o).", "{3,[{3,c}]}" },
        { "ets:prev_lookup(o, 2.5).", "{2,[{2,b}]}" },
        { "ets:prev_lookup(o, 1).", "'$end_of_table'" },
        { "ets:next_lookup(o, '$end_of_table').", "error:badarg" },
        { "ets:new(b, [named_table, bag]).", "b" },
        { "ets:insert(b, [{k,1},{k,2}]).", "true" },
        { "ets:first_lookup(b).", "{k,[{k,1},{k,2}]}" },
        { "ets:next_lookup(b, k).", "'$end_of_table'" },
        { "ets:next_lookup(b, nokey).", "error:badarg" },
        { "ets:first_lookup(nosuch).", "error:badarg" },
        { "ets:update_element(o, 1, {2, x}, {0, d}).", "true" },
        { "ets:update_element(o, 9, {2, x}, {0, d}).", "true" },
        { "ets:update_element(o, 10, [{2, x}, {3, y}], {0, d, e}).", "true" },
        { "ets:update_element(o, 11, {3, x}, {0, d}).", "error:badarg" },
        { "ets:update_element(o, 11, {1, x}, {0, d}).", "error:badarg" },
        { "ets:update_element(o, 1, {2, y}, notatuple).", "error:badarg" },
        { "ets:update_element(b, k, {2, y}, {k, 0}).", "error:badarg" },
        { "ets:tab2list(o).", "[{1,x},{2,b},{3,c},{9,x},{10,x,y}]" },
    };
    CHECK_SCRIPT(st);
}

/* Arguments ETS refuses, functions it does not have, tables that do not exist. */
static void test_errors(void **state)
{
    (void)state;
    static const struct step st[] = {
        { "ets:insert(nosuch, {a}).", "error:badarg" },
        { "ets:lookup(#Ref<0.0.0.99>, a).", "error:badarg" },
        { "ets:new(x, [bogus]).", "error:badarg" },
        { "ets:new(\"x\", []).", "error:badarg" },
        { "ets:new(x, [{keypos, 0}]).", "error:badarg" },
        { "ets:new(x, [{heir, 1, 2}]).", "error:badarg" },
        { "ets:new(x, {set}).", "error:badarg" },
        { "ets:new(x, [set | bag]).", "error:badarg" },
        { "ets:new(x, [{write_concurrency, maybe}]).", "error:badarg" },
        { "ets:frob(1).", "error:undef" },
        { "ets:lookup(x).", "error:undef" },
        { "lists:reverse([1]).", "error:undef" },
        /* foldl/foldr take a function, which a script cannot write: undef, as shmets(1) says */
        { "ets:foldl(f, [], t).", "error:undef" },
        { "ets:foldr(f, [], t).", "error:undef" },
        { "ets:info(nosuch).", "undefined" },
        { "ets:info(nosuch, size).", "undefined" },
        { "ets:info(1, size).", "error:badarg" },
        { "ets:whereis(nosuch).", "undefined" },
        { "ets:whereis(1).", "error:badarg" },
        { "ets:new(t, [named_table, {write_concurrency, true}, {read_concurrency, true}, compressed,"
          " {decentralized_counters, true}, {heir, none}, {keypos, 1}, protected]).", "t" },
        { "ets:new(wa, [named_table, {write_concurrency, auto}]).", "wa" },
        { "ets:delete(wa).", "true" },
        { "ets:new(t, [named_table]).", "error:badarg" },
        { "ets:info(t, bogus).", "error:badarg" },
        { "ets:info(t, write_concurrency).", "true" },
        { "ets:info(t, compressed).", "true" },
        { "ets:info(t, binary).", "[]" },           /* ETS too, for a table without big binaries */
        { "ets:insert(t, {a, <<\"a long binary, a long binary, a long binary\">>}).", "true" },
        { "ets:lookup(t, a).", "[{a,<<97,32,108,111,110,103,32,98,105,110,97,114,121,44,32,97,32,108,111,110,103,"
          "32,98,105,110,97,114,121,44,32,97,32,108,111,110,103,32,98,105,110,97,114,121>>}]" },
        { "ets:delete(t, a).", "true" },
        { "ets:lookup_element(t, a, 0).", "error:badarg" },
        { "ets:slot(t, -1).", "error:badarg" },
        { "ets:slot(t, a).", "error:badarg" },
        { "ets:safe_fixtable(t, maybe).", "error:badarg" },
        { "ets:next(t, nokey).", "error:badarg" },
        { "ets:rename(t, 1).", "error:badarg" },
        { "ets:update_counter(t, a, 1).", "error:badarg" },
        { "ets:setopts(t, bogus).", "error:badarg" },
        { "ets:setopts(t, [{heir, <0.1.0>, data}]).", "true" },
        { "ets:setopts(t, [{heir, <0.1.0>, data}, {heir, none}]).", "error:badarg" },
        { "ets:setopts(t, {heir, none}).", "true" },
        /* a table's protection is fixed when it is made: badarg, and the script goes on */
        { "ets:setopts(t, {protection, public}).", "error:badarg" },
        { "ets:setopts(t, [{protection, private}]).", "error:badarg" },
        { "ets:setopts(t, [{heir, none}, {protection, protected}]).", "error:badarg" },
        { "ets:info(t, protection).", "protected" },
        { "ets:all().", "[t]" },
    };
    CHECK_SCRIPT(st);
}

/* Comments, and '.' and '%' inside strings, quoted atoms, $c and floats. */
static void test_comments_and_strings(void **state)
{
    (void)state;
    struct output o;
    run("% a comment. With \"a quote, a full stop. and 'an atom\n"
        "ets:new(c, [named_table]).   % ets:new(x, []).\n"
        "ets:insert(c, {\"a. b%c\", 'x. %y', $., $%, $\", $', <<\"e.%\">>, 1.5, 2.0e3, $\\\\}).\n"
        "ets:lookup(c, \"a. b%c\").%a comment right after the full stop\n"
        "ets:member(c, % a comment inside a call.\n"
        "           \"a. b%c\"\n"
        "          ) % and before its full stop.\n"
        ".\n"
        "'ets':'member'(c, 'x. %y').",      /* the full stop at the end of the input */
        NULL, &o);
    assert_string_equal(o.out, "c\n"
                               "true\n"
                               "[{[97,46,32,98,37,99],'x. %y',46,37,34,39,<<101,46,37>>,1.5,2.0e3,92}]\n"
                               "true\n"
                               "false\n");
    assert_string_equal(o.err, "");
    assert_true(exited_ok(&o));
    assert_int_equal(leftovers(o.pid), 0);
    output_free(&o);
}

/* A line per call, flushed as soon as the call ran: the next call is written only after. */
static char *read_line(struct child *c)
{
    char *line = NULL;
    size_t n = 0;
    grow(&line, &n, "", 0);
    for (;;) {
        struct pollfd p = { .fd = c->out, .events = POLLIN };
        int r = poll(&p, 1, TIMEOUT_MS);
        if (r == 0)
            fail_msg("no line from shmets script within %d ms (got \"%s\" so far)", TIMEOUT_MS, line);
        char ch;
        ssize_t k = read(c->out, &ch, 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            fail_msg("shmets script closed its output (got \"%s\")", line);
        if (ch == '\n')
            return line;
        grow(&line, &n, &ch, 1);
    }
}

static void put(struct child *c, const char *text)
{
    size_t len = strlen(text);
    assert_int_equal(write(c->in, text, len), (ssize_t)len);
}

static void expect_line(struct child *c, const char *call, const char *want)
{
    put(c, call);
    char *got = read_line(c);
    if (strcmp(got, want))
        fail_msg("%s: got %s, want %s", call, got, want);
    free(got);
}

static void test_pipe(void **state)
{
    (void)state;
    struct child c;
    spawn(&c, NULL);
    expect_line(&c, "ets:new(p, [named_table]).\n", "p");
    /* A call split over writes runs when its full stop and the byte after it arrived. */
    put(&c, "ets:insert(p,");
    put(&c, " {1.5, x}).");
    expect_line(&c, "\n", "true");
    expect_line(&c, "ets:lookup(p, 1.5).\n", "[{1.5,x}]");
    /* A table known by its reference: new/2's answer is fed back. */
    put(&c, "ets:new(u, []).\n");
    char *ref = read_line(&c), call[256];
    assert_true(!strncmp(ref, "#Ref<", 5));
    snprintf(call, sizeof call, "ets:insert(%s, {k, v}).\n", ref);
    expect_line(&c, call, "true");
    snprintf(call, sizeof call, "ets:lookup(%s, k).\n", ref);
    expect_line(&c, call, "[{k,v}]");
    snprintf(call, sizeof call, "ets:delete(%s).\n", ref);
    expect_line(&c, call, "true");
    expect_line(&c, call, "error:badarg");
    free(ref);
    struct output o;
    finish(&c, "ets:member(p, 1.5).\n", &o);
    assert_string_equal(o.out, "true\n");
    assert_string_equal(o.err, "");
    assert_true(exited_ok(&o));
    assert_int_equal(leftovers(o.pid), 0);
    output_free(&o);
}

/* The calls before the error ran and printed; the error names its line; nothing is left. */
static void test_syntax_error(void **state)
{
    (void)state;
    static const struct {
        const char *input, *line;
    } cases[] = {
        { "ets:new(t, [named_table]).\nets:insert(t, {a, 1}).\n\nets:insert(t,\n   {b 2}).\nets:lookup(t, a).\n",
          "line 5:" },
        { "ets:new(t, [named_table]).\nets:insert(t, {a, 1}).\nets:insert(t, X).\n", "line 3:" },
        { "ets:new(t, [named_table]).\nets:insert(t, {a, 1}).\nets:insert(t, \"open string).\n"
          "ets:insert(t, {b, 2}).\n", "line 3:" },
        { "ets:new(t, [named_table]).\nets:insert(t, {a, 1}).\n\n   ets:insert(t, {b, 2})\n", "line 4:" },
        { "ets:new(t, [named_table]).\nets:insert(t, {a, 1}).\nets insert(t, {b, 2}).\n", "line 3:" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct output o;
        run(cases[i].input, NULL, &o);
        if (strcmp(o.out, "t\ntrue\n"))
            fail_msg("case %zu: stdout %s", i, o.out);
        if (!strstr(o.err, cases[i].line) || !strstr(o.err, "syntax error") || strstr(o.err, "Sanitizer"))
            fail_msg("case %zu: stderr %s (want %s)", i, o.err, cases[i].line);
        assert_true(WIFEXITED(o.status) && WEXITSTATUS(o.status) != 0);
        assert_int_equal(leftovers(o.pid), 0);
        output_free(&o);
    }
}

/* An error ETS would not raise stops the script with a message and a non-zero status. */
static void test_fatal_error(void **state)
{
    (void)state;
    struct output o;
    run("ets:new(t, [named_table]).\nets:new('a\\0b', [named_table]).\nets:info(t, size).\n", NULL, &o);
    assert_string_equal(o.out, "t\n");
    if (!strstr(o.err, "line 2:") || !strstr(o.err, "NUL character") || strstr(o.err, "Sanitizer"))
        fail_msg("stderr: %s", o.err);
    assert_true(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 1);
    assert_int_equal(leftovers(o.pid), 0);
    output_free(&o);
}

/*
 * SIGTERM while the script waits for input, or has just printed a line, with the end of its
 * input arriving right behind the signal: it removes its instance and dies of the signal
 * (not of the end of input, with status 0).  Repeated, as the interesting moments are short.
 */
static void test_signal(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        struct child c;
        spawn(&c, NULL);
        expect_line(&c, "ets:new(t, [named_table]).\n", "t");
        expect_line(&c, "ets:insert(t, {a, 1}).\n", "true");
        assert_true(segments(c.pid, false) > 0);      /* the instance exists while it runs */
        if (round % 2)
            usleep(1000);                           /* else: kill at once, maybe before it waits */
        kill(c.pid, SIGTERM);
        struct output o;
        finish(&c, NULL, &o);
        if (!WIFSIGNALED(o.status) || WTERMSIG(o.status) != SIGTERM)
            fail_msg("round %d: status %d, stderr %s", round, o.status, o.err);
        assert_int_equal(leftovers(o.pid), 0);
        output_free(&o);
    }
}

/* FILE, and --instance NAME: that instance stays for the next run and the caller removes it. */
static void test_file_and_instance(void **state)
{
    (void)state;
    char path[] = "/tmp/test_script.XXXXXX", inst[64];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "ets:new(f, [named_table, public]).\nets:insert(f, {k, 42}).\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    snprintf(inst, sizeof inst, "test_script.%d", (int)getpid());
    struct output o1, o2, o;
    run(NULL, (const char *const[]){ "--instance", inst, path, NULL }, &o1);
    unlink(path);
    run("ets:lookup(f, k).\nets:lookup_element(f, k, 2).\n", (const char *const[]){ "--instance", inst, NULL }, &o2);
    int rc = shmets_destroy_instance(inst);     /* before any assertion can leave it behind */
    assert_string_equal(o1.out, "f\ntrue\n");
    assert_true(exited_ok(&o1));
    assert_string_equal(o2.out, "[{k,42}]\n42\n");
    assert_string_equal(o2.err, "");
    assert_true(exited_ok(&o2));
    assert_int_equal(rc, 0);
    output_free(&o1);
    output_free(&o2);
    run(NULL, (const char *const[]){ "/nonexistent/script", NULL }, &o);
    assert_true(WIFEXITED(o.status) && WEXITSTATUS(o.status) != 0);
    assert_non_null(strstr(o.err, "/nonexistent/script"));
    output_free(&o);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_set, teardown),
        cmocka_unit_test_teardown(test_otp27_calls, teardown),
        cmocka_unit_test_teardown(test_bag, teardown),
        cmocka_unit_test_teardown(test_duplicate_bag, teardown),
        cmocka_unit_test_teardown(test_ordered_set, teardown),
        cmocka_unit_test_teardown(test_errors, teardown),
        cmocka_unit_test_teardown(test_comments_and_strings, teardown),
        cmocka_unit_test_teardown(test_pipe, teardown),
        cmocka_unit_test_teardown(test_syntax_error, teardown),
        cmocka_unit_test_teardown(test_fatal_error, teardown),
        cmocka_unit_test_teardown(test_signal, teardown),
        cmocka_unit_test_teardown(test_file_and_instance, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
