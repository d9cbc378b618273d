/*
 * cmd_tab.c — the table subcommands of `shmets`: ls, info, get, insert, delete, select, check.
 * The helpers every subcommand shares (options, opening, naming a table) are tool.c's.
 *
 *   shmets ls [--instance NAME]                  what ets:i() shows, plus heir and protection
 *   shmets info TAB                              ets:info/1, one {Item,Value} a line
 *   shmets get TAB KEY                           ets:lookup/2, one object a line
 *   shmets insert TAB OBJECT...                  ets:insert/2 of the list of them (atomic)
 *   shmets delete TAB KEY                        ets:delete/2
 *   shmets select TAB MATCHSPEC                  ets:select/2, one result a line
 *   shmets check TAB                             shmets_check(): exit 0 if every invariant holds
 *   shmets check --salvage TAB NEWTAB            shmets_salvage(): what validates into NEWTAB
 *
 * TAB is a table's name (a named table) or its numeric id (as ls shows it).  KEY, OBJECT and
 * MATCHSPEC are terms in Erlang syntax (shmets_term_parse).  Subcommands that only look do not
 * create an instance that does not exist; insert does not either (the table must exist).
 * Owner and heir come from the catalog, not from etsmgr; ls shows "PID dead" for a dead one
 * and info adds {owner_alive,B} and {heir_alive,B} (tools/liveness.c), with a note where a
 * dead owner's table waits for an etsmgr that does not run.
 */
#include "tool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int begin(const char *cmd, int argc, char **argv, int nmin, int nmax, const char *usage,
                 struct tool_args *a, shmets **db, shmets_tab **t)
{
    int rc = tool_args(cmd, argc, argv, strcmp(cmd, "check") ? "" : "salvage", nmin, nmax, usage, a);
    if (rc)
        return rc;
    if ((rc = tool_open(a, true, db)))
        return rc;
    if (t && (rc = tool_attach(*db, a->argv[0], t))) {
        shmets_close(*db);
        return rc;
    }
    return 0;
}

static int end(struct tool_args *a, shmets *db, int status)
{
    shmets_close(db);
    free(a->argv);
    return status;
}

int cmd_ls(int argc, char **argv)
{
    struct tool_args a;
    shmets *db;
    int rc = begin("ls", argc, argv, 0, 0, "[--instance NAME]", &a, &db, NULL);
    if (rc)
        return free(a.argv), rc;
    uint64_t *ids;
    size_t n;
    if ((rc = shmets_all(db, &ids, &n)))
        return end(&a, db, tool_fail("ls", rc));
    printf("%-8s %-24s %-14s %10s %12s %-13s %-13s %-10s\n", "id", "name", "type", "size", "mem", "owner",
           "heir", "protection");
    int status = 0, dead = 0;
    for (size_t i = 0; i < n; i++) {
        shmets_tab *t;
        shmets_tab_info in;
        rc = shmets_attach(db, ids[i], &t);
        if (rc == -SHMETS_ENOENT)
            continue;                   /* deleted since shmets_all */
        if (rc == 0) {
            rc = shmets_info(t, &in);
            shmets_detach(t);
        }
        if (rc == -SHMETS_EOWNER) {
            printf("%-8llu %-24s %-14s %10s %12s %-13s %-13s %-10s\n", (unsigned long long)ids[i], "-", "-",
                   "-", "-", "-", "-", "private");
            continue;
        }
        if (rc == -SHMETS_ENOENT)
            continue;
        if (rc) {
            char what[64];
            snprintf(what, sizeof what, "table %llu", (unsigned long long)ids[i]);
            status = tool_fail(what, rc);        /* listed as far as it goes, then exit 1 */
            continue;
        }
        char owner[32], heir[32];
        struct tool_live l = { (int32_t)in.owner, (int32_t)in.heir, true, in.heir != 0 };
        tool_liveness(db, ids[i], &l);
        tool_pid_text(l.owner, l.owner_alive, owner, sizeof owner);
        tool_pid_text(l.heir, l.heir_alive, heir, sizeof heir);
        dead += !l.owner_alive;
        printf("%-8llu %-24s %-14s %10llu %12llu %-13s %-13s %-10s\n", (unsigned long long)in.id, in.name,
               tool_kind_names[in.kind], (unsigned long long)in.size, (unsigned long long)in.memory_words,
               owner, heir, tool_access_names[in.access]);
    }
    free(ids);
    if (dead && !tool_etsmgr_runs(a.instance ? a.instance : "default"))
        tool_note_no_etsmgr(stdout, a.instance ? a.instance : "default");
    return end(&a, db, status);
}

int cmd_info(int argc, char **argv)
{
    struct tool_args a;
    shmets *db;
    shmets_tab *t;
    int rc = begin("info", argc, argv, 1, 1, "[--instance NAME] TAB", &a, &db, &t);
    if (rc)
        return free(a.argv), rc;
    shmets_term list;
    if ((rc = shmets_info_term(t, &list)))
        return end(&a, db, tool_fail(a.argv[0], rc));
    tool_print_list(stdout, list);
    shmets_term_free(&list);
    /* Whether the owner and the heir live (pid and start time), and, for a dead owner with no
     * etsmgr running, the note (on stderr: stdout stays one {Item,Value} a line). */
    struct tool_live l;
    if (tool_liveness(db, shmets_id(t), &l) == 0) {
        printf("{owner_alive,%s}\n", l.owner_alive ? "true" : "false");
        if (l.heir)
            printf("{heir_alive,%s}\n", l.heir_alive ? "true" : "false");
        if (!l.owner_alive && !tool_etsmgr_runs(a.instance ? a.instance : "default"))
            tool_note_no_etsmgr(stderr, a.instance ? a.instance : "default");
    }
    return end(&a, db, 0);
}

int cmd_get(int argc, char **argv)
{
    struct tool_args a;
    shmets *db;
    shmets_tab *t;
    int rc = begin("get", argc, argv, 2, 2, "[--instance NAME] TAB KEY", &a, &db, &t);
    if (rc)
        return free(a.argv), rc;
    shmets_term key, objs;
    if (tool_term(a.argv[1], &key))
        return end(&a, db, 1);
    rc = shmets_lookup(t, key, &objs);
    shmets_term_free(&key);
    if (rc)
        return end(&a, db, tool_fail(a.argv[0], rc));
    int found = tool_print_list(stdout, objs);
    shmets_term_free(&objs);
    if (!found)
        fprintf(stderr, "shmets: get: %s: %s: %s\n", a.argv[0], shmets_strerror(SHMETS_ENOKEY), a.argv[1]);
    return end(&a, db, found ? 0 : 1);
}

int cmd_insert(int argc, char **argv)
{
    struct tool_args a;
    shmets *db;
    shmets_tab *t;
    int rc = begin("insert", argc, argv, 2, -1, "[--instance NAME] TAB OBJECT...", &a, &db, &t);
    if (rc)
        return free(a.argv), rc;
    /* The objects as one list, inserted in one atomic call. */
    shmets_builder *b;
    shmets_term list;
    if ((rc = shmets_builder_create(&b)))
        return end(&a, db, tool_fail("insert", rc));
    shmets_build_list(b, (size_t)a.argc - 1);
    for (int i = 1; i < a.argc; i++) {
        shmets_term o;
        if (tool_term(a.argv[i], &o)) {
            shmets_builder_destroy(b);
            return end(&a, db, 1);
        }
        shmets_build_term(b, o);
        shmets_term_free(&o);
    }
    shmets_build_nil(b);
    rc = shmets_builder_finish(b, &list);
    shmets_builder_destroy(b);
    if (rc || (rc = shmets_insert(t, list)))
        rc = tool_fail(a.argv[0], rc);
    shmets_term_free(&list);
    return end(&a, db, rc);
}

int cmd_delete(int argc, char **argv)
{
    struct tool_args a;
    shmets *db;
    shmets_tab *t;
    int rc = begin("delete", argc, argv, 2, 2, "[--instance NAME] TAB KEY", &a, &db, &t);
    if (rc)
        return free(a.argv), rc;
    shmets_term key;
    if (tool_term(a.argv[1], &key))
        return end(&a, db, 1);
    rc = shmets_delete_key(t, key);
    shmets_term_free(&key);
    return end(&a, db, rc ? tool_fail(a.argv[0], rc) : 0);
}

int cmd_select(int argc, char **argv)
{
    struct tool_args a;
    shmets *db;
    shmets_tab *t;
    int rc = begin("select", argc, argv, 2, 2, "[--instance NAME] TAB MATCHSPEC", &a, &db, &t);
    if (rc)
        return free(a.argv), rc;
    shmets_term spec, res;
    shmets_ms *ms;
    if (tool_term(a.argv[1], &spec))
        return end(&a, db, 1);
    rc = shmets_ms_compile(spec, &ms);
    shmets_term_free(&spec);
    if (rc)
        return end(&a, db, tool_fail("the match specification", rc));
    rc = shmets_select(t, ms, false, &res);
    shmets_ms_free(ms);
    if (rc)
        return end(&a, db, tool_fail(a.argv[0], rc));
    tool_print_list(stdout, res);
    shmets_term_free(&res);
    return end(&a, db, 0);
}

int cmd_check(int argc, char **argv)
{
    struct tool_args a;
    shmets *db;
    shmets_tab *t;
    int rc = begin("check", argc, argv, 1, 2, "[--instance NAME] TAB | check [--instance NAME] --salvage TAB NEWTAB",
                   &a, &db, &t);
    if (rc)
        return free(a.argv), rc;
    if (a.salvage != (a.argc == 2)) {
        fprintf(stderr, "usage: shmets check [--instance NAME] TAB | check [--instance NAME] --salvage TAB NEWTAB\n");
        return end(&a, db, 2);
    }
    if (a.salvage) {                /* shmets_salvage: what validates goes to NEWTAB */
        shmets_tab *nt;
        shmets_salvage_report r;
        if ((rc = shmets_salvage(t, a.argv[1], &nt, &r)))
            return end(&a, db, tool_fail(a.argv[0], rc));
        printf("%s: salvaged %llu objects into %s (id %llu); dropped %llu of the %llu the table counted\n",
               a.argv[0], (unsigned long long)r.kept, a.argv[1], (unsigned long long)shmets_id(nt),
               (unsigned long long)r.dropped, (unsigned long long)r.recorded);
        shmets_detach(nt);
        return end(&a, db, 0);
    }
    uint64_t size = 0;
    rc = shmets_check(t);
    if (rc)
        return end(&a, db, tool_fail(a.argv[0], rc));
    shmets_size(t, &size);
    printf("%s: ok (%llu objects; every invariant holds)\n", a.argv[0], (unsigned long long)size);
    return end(&a, db, 0);
}
