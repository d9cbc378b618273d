/*
 * cmd_events.c — `shmets events [--instance NAME] [--json]`: follow the instance's etsmgr and
 * print what it does, one line an event, as it happens (include/etsmgr.h, EVENTS, has the
 * list: {owner_dead, Tab, Pid}, {inherited, Tab, FromPid, HeirPid}, {kept, Tab, ClientPid},
 * {deleted, Tab, Pid}, {given_back, Tab, ClientPid}, {client_up, Pid}, {client_down, Pid}).
 *
 * Each line is the event as an Erlang term (~w text), or with --json one JSON object, for log
 * shippers: {"event": Name, then the elements under the names below}, every element as its
 * Erlang text in a JSON string (a pid "<0.12.0>", a table's name or id), e.g.
 *   {"event":"inherited","tab":"t","from":"<0.12.0>","heir":"<0.13.0>"}
 * An event this version does not know gets "args": [...].
 *
 * It never starts a daemon: with none running it says so and exits 1.  It exits 0 on SIGINT
 * or SIGTERM (checked between waits of at most 200 ms: a signal interrupts poll, and the flag
 * it sets ends the loop) and when the daemon stops (its stream ends: etsmgr_next_event says
 * -SHMETS_ENOENT).  Lines are flushed one by one, so a pipe sees each event at once.
 */
#include "tool.h"
#include "etsmgr.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop_sig;

static void on_signal(int sig)
{
    stop_sig = sig;
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_event(FILE *f, shmets_term ev)
{
    static const struct { const char *name; const char *fields[3]; } known[] = {
        { "owner_dead", { "tab", "pid" } }, { "inherited", { "tab", "from", "heir" } },
        { "kept", { "tab", "client" } }, { "deleted", { "tab", "pid" } },
        { "given_back", { "tab", "client" } }, { "client_up", { "pid" } }, { "client_down", { "pid" } },
        { "ETS-TRANSFER", { "tab", "from", "data" } },
    };
    size_t ar = 0;
    shmets_term first;
    const char *name = NULL;
    size_t nlen = 0;
    if (shmets_term_tuple_arity(ev, &ar) || ar < 1 || shmets_term_tuple_element(ev, 1, &first) ||
        shmets_term_get_atom(first, &name, &nlen)) {
        char *txt = NULL;
        shmets_term_format(ev, &txt, NULL);
        fputs("{\"event\":\"unknown\",\"term\":", f);
        json_string(f, txt ? txt : "");
        fputs("}\n", f);
        free(txt);
        return;
    }
    char nm[64];
    snprintf(nm, sizeof nm, "%.*s", (int)nlen, name);
    int k = -1;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(nm, known[i].name))
            k = (int)i;
    fputs("{\"event\":", f);
    json_string(f, nm);
    for (size_t i = 2; i <= ar; i++) {
        shmets_term el;
        char *txt = NULL, field[16];
        if (shmets_term_tuple_element(ev, i, &el) || shmets_term_format(el, &txt, NULL))
            continue;
        if (k >= 0 && i - 2 < 3 && known[k].fields[i - 2])
            snprintf(field, sizeof field, "%s", known[k].fields[i - 2]);
        else
            snprintf(field, sizeof field, "arg%zu", i - 1);
        fputc(',', f);
        json_string(f, field);
        fputc(':', f);
        json_string(f, txt);
        free(txt);
    }
    fputs("}\n", f);
}

int cmd_events(int argc, char **argv)
{
    struct tool_args a;
    int rc = tool_args("events", argc, argv, "json", 0, 0, "[--instance NAME] [--json]", &a);
    if (rc)
        return free(a.argv), rc;
    shmets *db;
    if ((rc = tool_open(&a, true, &db)))
        return free(a.argv), rc;
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;          /* no SA_RESTART: poll returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    etsmgr_opts o;
    etsmgr_opts_init(&o);
    o.no_autostart = true;
    etsmgr *m;
    const char *inst = a.instance ? a.instance : "default";
    if ((rc = etsmgr_connect(db, &o, &m)) || (rc = etsmgr_follow(m))) {
        if (rc == -SHMETS_ENOENT)
            fprintf(stderr, "shmets events: no etsmgr runs for instance %s\n", inst);
        else
            tool_fail("events", rc);
        shmets_close(db);
        free(a.argv);
        return 1;
    }
    int status = 0;
    while (!stop_sig) {
        shmets_term ev;
        rc = etsmgr_next_event(m, 0, &ev);
        if (rc == -SHMETS_EAGAIN) {
            struct pollfd p = { .fd = etsmgr_fd(m), .events = POLLIN };
            if (p.fd < 0)
                break;
            poll(&p, 1, 200);
            continue;
        }
        if (rc == -SHMETS_ENOENT)       /* the daemon stopped */
            break;
        if (rc) {
            status = tool_fail("events", rc);
            break;
        }
        if (a.json) {
            json_event(stdout, ev);
        } else {
            char *txt = NULL;
            if (shmets_term_format(ev, &txt, NULL) == 0)
                printf("%s\n", txt);
            free(txt);
        }
        shmets_term_free(&ev);
    }
    etsmgr_disconnect(m);
    shmets_close(db);
    free(a.argv);
    return status;
}
