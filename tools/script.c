/*
 * script.c — `shmets script [--instance NAME] [--group GROUP] [FILE]`: run ets:Function(Arg, ...) calls
 * written in Erlang syntax against an instance, one result line per call.
 *
 * WHAT IT IS FOR
 * --------------
 * A way to drive shmets tables without writing C: a test can pipe the same calls into
 * `shmets script` and into erl and compare the lines; a person can try ETS semantics at a
 * shell.  Each call prints exactly one line, its result as io_lib:format("~w", [Result])
 * writes it, or `error:badarg` where ETS raises badarg, or `error:undef` for a function ETS
 * does not have (any module but ets, any function or arity not listed in `calls[]` below).
 *
 * INPUT
 * -----
 * A sequence of calls `ets:F(A1, ..., An).`, each ended by a full stop: a `.` followed by
 * white space, a `%` or the end of the input (Erlang's own rule; `1.5` has no full stop).
 * `%` starts a comment to the end of the line.  Arguments are literal terms, read by
 * shmets_term_parse(): no variables, no expressions.  Tables are named by atoms (named
 * tables) or by the reference new/2 printed for them (shmets_id_term).
 *
 * HOW A CALL IS READ (the scanner)
 * --------------------------------
 * S.1  The input is read as it arrives (read(2) of what the pipe holds, never "all of
 *      stdin first"), and a call runs as soon as its full stop has been seen, so a program
 *      can write one call, read its line, and decide on the next.  To know that a `.` is a
 *      full stop the scanner needs the one character after it, and no more.
 * S.2  The scanner is a small state machine over bytes: code, "string", 'quoted atom', the
 *      character after `$` (so `$.`, `$%`, `$"` and `$'` are characters, and `$\` takes one
 *      more), backslash escapes inside strings and quoted atoms, and `%` comments.  Only a
 *      `.` met in code can end a call.  It remembers the last significant character before
 *      the full stop (outside comments and white space), which must be the call's `)`.
 * S.3  The call's text is then taken apart by hand: module atom, `:`, function atom, `(`,
 *      bare or quoted atoms with white space and comments between.  The text between `(`
 *      and the final `)` is handed to shmets_term_parse() wrapped as `{...}`: a tuple rather
 *      than a list, so that `ets:f(a | b)` is refused and the arguments are views into one
 *      term, valid for the whole call.  A syntax error reported by the parser (line and
 *      column in its detail) is moved by the position of the `(` to the line and column of
 *      the input.
 * S.4  A syntax error stops the script: the rest of the input cannot be trusted to split
 *      into the calls its author meant.  The message names the input's line on standard
 *      error and the exit status is 1.
 *
 * HOW A CALL RUNS
 * ---------------
 * R.1  `calls[]` maps name and arity to a handler; each handler checks its arguments as
 *      ETS does (an argument ETS refuses is badarg before any table is touched), resolves
 *      the table, calls the library and fills a `struct result`.  Handlers follow the
 *      library's convention: 0 or a negative SHMETS_E... code.
 * R.2  Error translation is in one place, report_error(): the codes with which the library
 *      answers where ETS raises badarg (SHMETS_EINVAL, ETYPE, ERANGE, EBADPOS, ENOKEY,
 *      EEXIST, ENOENT, EOWNER, EACCES) print `error:badarg`.  Every other code (ENOMEM,
 *      EBADSEG, ESYS, EAGAIN, ETOOBIG, EVERSION, ...) is not something ETS would say: its
 *      words and detail go to standard error with the line of the call, and the script
 *      stops with status 1 — it does not print a line ETS would not print.  One exception:
 *      EBADSEG (a damaged table, issue 20) prints its detail the same way and then the line
 *      `error:ebadseg`, and the script goes on (its exit status is 1 at the end): a table one
 *      process scribbled on must not stop a reader that has other work.  A handler whose
 *      library call cannot fail for a bad argument (new/2 after the options were checked:
 *      EINVAL then means "this version cannot": options that parse but that the library
 *      refuses together) marks its error fatal, so that it is not passed off as badarg.
 * R.3  Table handles: one shmets_tab per table id, kept in a small array (`struct cache`),
 *      attached on first use and detached when the table is deleted.  An atom is resolved
 *      with shmets_whereis() (a catalog lookup, so a name that another process moved to a
 *      new table finds the new one); a reference by comparing its bytes with the
 *      references of the cached tables, else by shmets_attach_term().  A call that finds its
 *      table gone (SHMETS_ENOENT: deleted by another process of a shared instance) drops the
 *      handle.
 * R.4  The instance: with --instance NAME, that instance (created if it does not exist),
 *      left as it is at exit.  Without it a fresh private one, `script.<pid>.<random>`,
 *      made for this run and removed with every table in it at exit: on end of input, on a
 *      syntax or fatal error, and on SIGINT, SIGTERM and SIGHUP (see R.5).  Tables made by
 *      the script are owned by this process, as ETS tables are owned by the shell.
 * R.5  Signals.  SIGINT, SIGTERM and SIGHUP are blocked while a call runs and let through
 *      only while the script waits — for input (ppoll() with the wait mask, which unblocks
 *      atomically, so a signal that arrives just before the wait is not lost; one that
 *      comes with the input is found pending by sigpending()) and while output is flushed.  The handler only records the signal; the main loop then closes
 *      the instance, removes the temporary one, and dies of the same signal.  A call is never
 *      cut in the middle, and removal runs with ordinary (non-async-signal-safe) code.
 *      SIGPIPE is ignored: a reader that went away makes the flush fail, which stops the
 *      script through the same cleanup.  A signal ignored by the parent stays ignored.
 * R.6  script_run_buffer() runs the calls of a buffer, as from a file, against a fresh
 *      instance of a given name that it removes at the end with every table in it, whatever
 *      the calls did.  It leaves signal handling alone (the caller's stays, and a signal does
 *      not stop the calls), and it drops the etsmgr connection (R.9) at the end; whether a
 *      daemon may be started is the caller's (SHMETS_NO_AUTOSTART).  It is for programs that
 *      run many scripts in one process: the fuzz target tests/fuzz/script.c.
 *
 * The select family (select/2, select_reverse/2, select_count/2, select_delete/2,
 * select_replace/2, match/2, match_object/2, match_delete/2), match_spec_compile/1 (whose
 * result is a binary holding the program, where ETS gives an opaque reference),
 * match_spec_run/2, is_compiled_ms/1 and test_ms/2 are offered, and the /3 forms with a
 * limit (select, select_reverse, match, match_object) whose continuations, printed as terms,
 * the /1 forms take back.  R.8: the atom `last_cont` as the only argument of a /1 form
 * stands for the continuation the last /3 or /1 form gave (its '$end_of_table' included; an
 * error forgets it), so that a script can follow chunks without quoting a continuation —
 * the differential harness writes it on both sides (tests/diff/ets_script.hrl).
 * Not offered: foldl/foldr — functions cannot be written as literal terms; they are
 * error:undef like any unknown function.  setopts/2 takes {heir, Pid, Data} and
 * {heir, none} only; {protection, P}, which ETS accepts from the owner, is error:badarg and
 * the script goes on: a shmets table's protection is fixed when it is made, because the
 * kernel enforces it (the segment's mode, and every other process's read-only or read-write
 * mapping of it), and changing it would mean remapping the table under every process that
 * has it open.
 * info/1,2 and all/0 see a private table of another process only as far as the library lets
 * a process attach it: info on it is badarg where ETS would answer, all/0 lists it by its
 * reference even if it is named.  {write_concurrency, auto} is taken as true (the library's
 * option is a boolean), so info(T, write_concurrency) then says true where ETS says auto.
 *
 * THE FILES: this one runs the calls (R.2) and is the program (R.4 to R.6); script_scan.c
 * reads and takes apart a call (S.1 to S.4); the handlers are script_ets.c (ETS's table
 * calls), script_ms.c (the select family, R.8), script_file.c (table files) and script_mgr.c
 * (etsmgr, messages and time, R.9); script_common.c has what they share (messages, the table
 * cache of R.3, results, argument checks).  Each handler file ends with its table of calls.
 */
#include "script_common.h"

static void on_signal(int sig)
{
    got_signal = sig;
}


/* ---- running a call (R.2) ---------------------------------------------------------- */

/* Write one result line and flush it, letting signals through meanwhile (R.5). */
static int emit(struct script *s, const char *line)
{
    sigset_t old;
    fputs(line, stdout);
    fputc('\n', stdout);
    sigprocmask(SIG_SETMASK, &s->waitmask, &old);
    int rc = fflush(stdout);
    int err = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (got_signal)
        return IN_STOP;
    if (rc == EOF || ferror(stdout)) {
        say(s, 0, "writing the standard output: %s", strerror(err));
        return IN_STOP;
    }
    return 0;
}

static bool is_badarg(int rc)
{
    switch (-rc) {
    case SHMETS_EINVAL: case SHMETS_ETYPE: case SHMETS_ERANGE: case SHMETS_EBADPOS:
    case SHMETS_ENOKEY: case SHMETS_EEXIST: case SHMETS_ENOENT: case SHMETS_EOWNER:
    case SHMETS_EACCES:
        return true;
    default:
        return false;
    }
}

/* A handler's error: a badarg line, or a message and a stop (R.2). */
static int report_error(struct script *s, int rc)
{
    if (rc == -SHMETS_ENOENT && s->cur)         /* the table went away: drop its handle */
        cache_drop(&s->tabs, s->cur, true);
    s->cur = NULL;
    if (!s->fatal && is_badarg(rc))
        return emit(s, "error:badarg");
    char what[ATOM_BUF + 32];
    snprintf(what, sizeof what, "ets:%s/%zu", s->fn, s->arity);
    if (s->msg[0])
        say(s, s->first_line, "%s: %s", what, s->msg);
    else
        say_err(s, s->first_line, what, rc);
    if (rc == -SHMETS_EBADSEG)                  /* R.2: a damaged table; the next call may be fine */
        return emit(s, "error:ebadseg");
    return IN_STOP;
}

static int run_call(struct script *s)
{
    char mod[ATOM_BUF];
    shmets_term args;
    int rc = parse_call(s, mod, sizeof mod, &args);
    if (rc)
        return IN_STOP;
    static const struct call_def *const tables[] = {
        script_ets_calls, script_ms_calls, script_file_calls, script_mgr_calls,
    };
    const struct call_def *def = NULL;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0] && !def; t++)
        for (const struct call_def *c = tables[t]; c->name && !def; c++)
            if (!strcmp(c->mod, mod) && !strcmp(c->name, s->fn) && c->arity == s->arity)
                def = c;
    if (!def) {
        shmets_term_free(&args);
        return emit(s, "error:undef");
    }
    shmets_term a[4];
    for (size_t i = 0; i < s->arity; i++)
        shmets_term_tuple_element(args, i + 1, &a[i]);
    struct result r = { 0 };
    s->fatal = false;
    s->msg[0] = 0;
    s->cur = NULL;
    rc = def->fn(s, a, &r);
    s->cur = rc ? s->cur : NULL;
    if (rc) {
        shmets_term_free(&r.term);
        shmets_term_free(&args);
        return report_error(s, rc);
    }
    char *txt = NULL;
    if (!r.text && (rc = shmets_term_format(r.term, &txt, NULL)) != 0) {
        say_err(s, s->first_line, "formatting the result", rc);
        rc = IN_STOP;
    } else {
        rc = emit(s, r.text ? r.text : txt);
    }
    free(txt);
    shmets_term_free(&r.term);
    shmets_term_free(&args);
    return rc;
}

/* ---- the program (R.4, R.5) -------------------------------------------------------- */

static void signals_init(struct script *s)
{
    static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
    sigset_t block;
    sigemptyset(&block);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old, sa = { .sa_handler = on_signal };
        sigemptyset(&sa.sa_mask);
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;                   /* ignored by whoever started us: stays ignored */
        sigaddset(&block, sigs[i]);
        sigaction(sigs[i], &sa, NULL);
    }
    s->handled = block;
    sigprocmask(SIG_BLOCK, &block, &s->waitmask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigismember(&block, sigs[i]))
            sigdelset(&s->waitmask, sigs[i]);
    signal(SIGPIPE, SIG_IGN);
}

static int open_instance(struct script *s, const char *name)
{
    if (!name) {
        uint32_t r = 0;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            r = (uint32_t)getppid() * 2654435761u;
        snprintf(s->inst, sizeof s->inst, "script.%d.%08" PRIx32, (int)getpid(), r);
        s->temporary = true;
    } else {
        snprintf(s->inst, sizeof s->inst, "%s", name);
    }
    int rc = shmets_open(s->inst, &s->db);
    if (rc) {
        char what[128];
        snprintf(what, sizeof what, "instance %s", s->inst);
        say_err(s, 0, what, rc);
        s->temporary = false;
    }
    return rc;
}

static void close_instance(struct script *s)
{
    shmets_term_free(&s->last_cont);
    cache_free(&s->tabs);
    if (s->db)
        shmets_close(s->db);
    s->db = NULL;
    if (s->temporary) {
        int rc = shmets_destroy_instance(s->inst);
        if (rc && rc != -SHMETS_ENOENT)
            say_err(s, 0, "removing the temporary instance", rc);
    }
}

static int usage(void)
{
    fputs("usage: shmets script [--instance NAME] [--group GROUP] [FILE]\n", stderr);
    return 2;
}

int script_main(int argc, char **argv)
{
    static struct script s;     /* large (its input buffer): not on the stack */
    const char *inst = NULL, *file = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--instance") && i + 1 < argc)
            inst = argv[++i];
        else if (!strncmp(argv[i], "--instance=", 11))
            inst = argv[i] + 11;
        else if (!strcmp(argv[i], "--group") && i + 1 < argc)
            setenv("SHMETS_GROUP", argv[++i], 1);       /* shmets_open reads it */
        else if (!strncmp(argv[i], "--group=", 8))
            setenv("SHMETS_GROUP", argv[i] + 8, 1);
        else if (argv[i][0] == '-' && argv[i][1])
            return usage();
        else if (!file)
            file = argv[i];
        else
            return usage();
    }
    s.line = 1;
    s.fd = 0;
    s.src = "standard input";
    if (file && strcmp(file, "-")) {
        s.src = file;
        s.fd = open(file, O_RDONLY | O_CLOEXEC);
        if (s.fd < 0) {
            say(&s, 0, "%s: %s", file, strerror(errno));
            return 1;
        }
    }
    signals_init(&s);
    if (open_instance(&s, inst) == 0) {
        int rc;
        while ((rc = read_call(&s)) == 1 && run_call(&s) == 0)
            ;
    }
    script_mgr_drop();
    close_instance(&s);
    free(s.call.p);
    if (s.fd > 0)
        close(s.fd);
    if (got_signal) {
        int sig = got_signal;
        sigset_t set;
        signal(sig, SIG_DFL);
        sigemptyset(&set);
        sigaddset(&set, sig);
        raise(sig);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        return 128 + sig;
    }
    return s.status;
}

/* The shell (tools/shell.c): calls read from source(), errors reported and the rest of the
 * line dropped, never the end of the session (see tool.h). */
int script_run_source(const char *instance, script_source source, void *arg)
{
    static struct script s;
    s.line = 1;
    s.src = "the shell";
    s.source = source;
    s.source_arg = arg;
    if (open_instance(&s, instance) == 0) {
        for (;;) {
            int rc = read_call(&s);
            if (rc == 1 && run_call(&s) == 0)
                continue;
            if (rc == 0 || s.eof || got_signal)
                break;
            s.pos = s.len;              /* drop the rest of the line */
            s.call.n = 0;
        }
    }
    script_mgr_drop();
    close_instance(&s);
    free(s.call.p);
    return s.status;
}

/* R.6: the calls of buf[0..len) against a fresh instance `inst`, removed at the end.  Returns
 * the exit status script_main() would (0, or 1 after a syntax or fatal error), or 2 when the
 * buffer cannot be made into input. */
int script_run_buffer(const void *buf, size_t len, const char *inst)
{
    static struct script s;     /* large (its input buffer): not on the stack */
    memset(&s, 0, sizeof s);
    s.line = 1;
    s.src = "the buffer";
    s.fd = memfd_create("shmets-script", MFD_CLOEXEC);
    if (s.fd < 0 || write(s.fd, buf, len) != (ssize_t)len || lseek(s.fd, 0, SEEK_SET) != 0) {
        say(&s, 0, "making input of %zu bytes: %s", len, strerror(errno));
        if (s.fd >= 0)
            close(s.fd);
        return 2;
    }
    sigprocmask(SIG_BLOCK, NULL, &s.waitmask);          /* waits change no mask (R.6) */
    snprintf(s.inst, sizeof s.inst, "%s", inst);
    int rc = shmets_open(s.inst, &s.db);
    if (rc) {
        say_err(&s, 0, "opening the instance", rc);
    } else {
        s.temporary = true;
        while (read_call(&s) == 1 && run_call(&s) == 0)
            ;
    }
    script_mgr_drop();
    close_instance(&s);
    free(s.call.p);
    close(s.fd);
    return s.status;
}
