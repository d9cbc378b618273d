/*
 * shell.c — `shmets shell [--instance NAME]`: the script language (tools/script.c) typed at a
 * prompt, with line editing and history from libedit.
 *
 * The interpreter is script.c's own, fed line by line through script_run_source(): libedit
 * reads a line (prompt "shmets> ", or "     > " while a call is not yet ended by its full
 * stop), the line goes to the scanner, and every call it completes runs and prints its one
 * result line.  Unlike `shmets script`, an error does not end the session: a syntax error or
 * a failed call says so on standard error and the rest of that line is dropped.  The
 * instance is NAME (default "default"), created if missing and left as it is: tables made in
 * the shell stay after it (their owner, the shell's process, is then gone).
 *
 * History is kept in $HOME/.shmets_history (the last 1000 calls), loaded at start and saved
 * after each line.  Ctrl-D on an empty line ends the session; Ctrl-C at the prompt drops the
 * line being typed (and a call begun on earlier lines), not the session.  A call that runs is
 * never cut: the interrupt is seen at the next prompt.  When standard input is not a
 * terminal, libedit reads it plainly, so `shmets shell < calls` works as a script that goes
 * on after errors.
 */
#include "tool.h"

#include <errno.h>
#include <histedit.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

struct sh {
    EditLine *el;
    History *hist;
    HistEvent ev;
    bool continuing;
    char path[4096];
};

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

static char *prompt(EditLine *el)
{
    struct sh *s;
    el_get(el, EL_CLIENTDATA, &s);
    return s->continuing ? "     > " : "shmets> ";
}

static long source(void *arg, char *buf, size_t cap, bool continuing)
{
    struct sh *s = arg;
    int n;
    s->continuing = continuing;
    const char *line;
    for (;;) {
        interrupted = 0;
        line = el_gets(s->el, &n);
        if (line && n > 0)
            break;
        if (!interrupted && !(n < 0 && errno == EINTR))
            return 0;                   /* end of input */
        fputc('\n', stdout);
        if (continuing)
            return -1;                  /* Ctrl-C: drop the call begun on earlier lines */
        el_reset(s->el);
    }
    if ((size_t)n > cap)
        n = (int)cap;               /* longer lines arrive cut: the scanner reports the call */
    memcpy(buf, line, (size_t)n);
    if (n > 1 || line[0] != '\n') {
        char *copy = strndup(line, (size_t)n);
        if (copy) {
            size_t k = strlen(copy);
            if (k && copy[k - 1] == '\n')
                copy[k - 1] = 0;
            history(s->hist, &s->ev, H_ENTER, copy);
            if (s->path[0])
                history(s->hist, &s->ev, H_SAVE, s->path);
            free(copy);
        }
    }
    return n;
}

int cmd_shell(int argc, char **argv)
{
    struct tool_args a;
    int rc = tool_args("shell", argc, argv, "", 0, 0, "[--instance NAME]", &a);
    if (rc)
        return rc;
    static struct sh s;
    const char *home = getenv("HOME");
    if (home && *home)
        snprintf(s.path, sizeof s.path, "%s/.shmets_history", home);
    s.hist = history_init();
    s.el = el_init("shmets", stdin, stdout, stderr);
    if (!s.hist || !s.el) {
        fprintf(stderr, "shmets shell: libedit could not start\n");
        free(a.argv);
        return 1;
    }
    history(s.hist, &s.ev, H_SETSIZE, 1000);
    history(s.hist, &s.ev, H_SETUNIQUE, 1);
    if (s.path[0])
        history(s.hist, &s.ev, H_LOAD, s.path);
    el_set(s.el, EL_CLIENTDATA, &s);
    el_set(s.el, EL_PROMPT, prompt);
    el_set(s.el, EL_EDITOR, "emacs");
    el_set(s.el, EL_HIST, history, s.hist);
    el_set(s.el, EL_SIGNAL, 1);
    struct sigaction sa = { .sa_handler = on_interrupt };     /* no SA_RESTART: el_gets returns */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    el_source(s.el, NULL);          /* the user's ~/.editrc, if any */
    rc = script_run_source(a.instance ? a.instance : "default", source, &s);
    el_end(s.el);
    history_end(s.hist);
    free(a.argv);
    return rc;
}
