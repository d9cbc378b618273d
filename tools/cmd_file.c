/*
 * cmd_file.c — table files from the command line (shm/tabfile/tabfile.c does the work).
 *
 *   shmets dump [--md5sum] [--object-count] [--sync] [--erlang] TAB FILE   ets:tab2file/3
 *   shmets load [--verify] FILE                                    ets:file2tab/2
 *   shmets fileinfo FILE                                           ets:tabfile_info/1
 *
 * --erlang writes Erlang's own format (ets:file2tab/1,2 reads it); load and fileinfo read
 * either format, and fileinfo says which.
 *
 * PROGRESS.  When standard error is a terminal, dump and load draw a bar there, redrawn at
 * most ten times a second from the library's progress callback, and end it with a newline;
 * otherwise they draw nothing (a script's log stays clean).  A load from a regular file knows
 * its total from the file's trailer; a dump takes the table's size when it starts (a table
 * that grows meanwhile ends past 100%, which the bar clamps).
 */
#include "tool.h"
#include "etsmgr.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void progress_init(struct progress *p, const char *what)
{
    memset(p, 0, sizeof *p);
    p->what = what;
    p->on = isatty(STDERR_FILENO);
}

void progress_cb(uint64_t done, uint64_t total, void *arg)
{
    struct progress *p = arg;
    if (!p->on)
        return;
    long long t = now_ns();
    if (p->drawn && t - p->last_ns < 100000000LL && done != total)
        return;
    p->last_ns = t;
    p->drawn = true;
    enum { W = 40 };
    char bar[W + 1];
    if (total) {
        uint64_t k = done >= total ? W : done * W / total;
        memset(bar, '#', k);
        memset(bar + k, '.', W - k);
        bar[W] = 0;
        unsigned pct = done >= total ? 100 : (unsigned)(done * 100 / total);
        fprintf(stderr, "\r%s [%s] %3u%% %llu/%llu objects", p->what, bar, pct, (unsigned long long)done,
                (unsigned long long)total);
    } else {
        fprintf(stderr, "\r%s %llu objects", p->what, (unsigned long long)done);
    }
    fflush(stderr);
}

void progress_end(struct progress *p)
{
    if (p->on && p->drawn)
        fputc('\n', stderr);
    p->drawn = false;
}

int cmd_dump(int argc, char **argv)
{
    struct tool_args a;
    int rc = tool_args("dump", argc, argv, "md5sum,object-count,sync,erlang", 2, 2,
                       "[--instance NAME] [--md5sum] [--object-count] [--sync] [--erlang] TAB FILE", &a);
    if (rc)
        return rc;
    shmets *db;
    shmets_tab *t;
    if ((rc = tool_open(&a, true, &db)))
        return free(a.argv), rc;
    if ((rc = tool_attach(db, a.argv[0], &t)) == 0) {
        struct progress p;
        shmets_tabfile_opts o;
        shmets_tabfile_opts_init(&o);
        o.md5sum = a.md5sum;
        o.object_count = a.object_count;
        o.sync = a.sync;
        o.erlang = a.erlang;
        progress_init(&p, "dump");
        o.progress = progress_cb;
        o.progress_arg = &p;
        rc = shmets_tab2file(t, a.argv[1], &o);
        progress_end(&p);
        if (rc)
            rc = tool_fail(a.argv[1], rc);
    }
    shmets_close(db);
    free(a.argv);
    return rc;
}

/* The loaded table belongs to this process, which exits now.  Once its owner is gone, etsmgr
 * deletes a table that is neither managed nor has an heir (as ETS deletes a dead process's
 * tables), so: --manage NAME registers it with etsmgr (it waits, owned by nobody, for the
 * program whose etsmgr_new_table(NAME) takes it), --give-to PID gives it away to a live
 * process (which receives {'ETS-TRANSFER', Tab, ShmetsPid, loaded}).  With neither and an
 * etsmgr running, a note says what will happen.  A failure to hand over deletes nothing: the
 * error says so, and the table's fate is then etsmgr's rule.  Returns 0 or 1. */
static int hand_over(const struct tool_args *a, shmets *db, shmets_tab *t)
{
    etsmgr_opts mo;
    etsmgr_opts_init(&mo);
    mo.no_autostart = !a->manage && !a->give_to;
    etsmgr *m;
    int rc = etsmgr_connect(db, &mo, &m);
    if (mo.no_autostart) {
        if (!rc) {
            fprintf(stderr, "shmets load: note: etsmgr runs, and will delete table %llu when this process exits (it is not "
                            "managed and has no heir): load with --manage NAME or --give-to PID to keep it\n",
                    (unsigned long long)shmets_id(t));
            etsmgr_disconnect(m);
        }
        return 0;
    }
    if (rc)
        return tool_fail("etsmgr", rc);
    if (a->manage) {
        rc = etsmgr_add_table(m, a->manage, shmets_id(t));
        if (!rc)
            printf("managed by etsmgr as %s\n", a->manage);
    } else {
        shmets_term gift;
        rc = shmets_term_parse("loaded", 6, &gift);
        if (!rc) {
            rc = etsmgr_give_away(m, shmets_id(t), (pid_t)a->give_to, gift);
            shmets_term_free(&gift);
        }
        if (!rc)
            printf("given to process %ld\n", a->give_to);
    }
    etsmgr_disconnect(m);
    return rc ? tool_fail(a->manage ? "etsmgr add_table" : "etsmgr give_away", rc) : 0;
}

int cmd_load(int argc, char **argv)
{
    struct tool_args a;
    int rc = tool_args("load", argc, argv, "verify,manage,give-to", 1, 1,
                       "[--instance NAME] [--verify] [--manage NAME | --give-to PID] FILE", &a);
    if (rc)
        return rc;
    if (a.manage && a.give_to) {
        fprintf(stderr, "shmets load: --manage and --give-to exclude each other\n");
        free(a.argv);
        return 2;
    }
    shmets *db;
    shmets_tab *t;
    if ((rc = tool_open(&a, false, &db)))
        return free(a.argv), rc;
    struct progress p;
    shmets_tabfile_opts o;
    shmets_tabfile_opts_init(&o);
    o.verify = a.verify;
    progress_init(&p, "load");
    o.progress = progress_cb;
    o.progress_arg = &p;
    rc = shmets_file2tab(db, a.argv[0], &o, &t);
    progress_end(&p);
    if (rc) {
        rc = tool_fail(a.argv[0], rc);
    } else {
        shmets_tab_info in;
        if (shmets_info(t, &in) == 0)
            printf("loaded %s: table %llu (%s), %llu objects\n", a.argv[0], (unsigned long long)in.id,
                   in.name, (unsigned long long)in.size);
        rc = hand_over(&a, db, t);
        shmets_detach(t);
    }
    shmets_close(db);
    free(a.argv);
    return rc;
}

/* ets:tabfile_info/1's list for d (fileinfo prints it, the script's tabfile_info/1 returns
 * it): name, type, protection, named_table, keypos, size, extended_info, version.  The name
 * is an atom, or a UTF-8 binary when no atom can hold it (shmets allows names of 1020
 * bytes, an atom has at most 255 characters). */
int tool_tabfile_info_term(const shmets_tabfile_desc *d, shmets_term *out)
{
    shmets_builder *b;
    shmets_term name;
    int rc = shmets_builder_create(&b);
    if (rc)
        return rc;
    shmets_build_atom(b, d->name, strlen(d->name));
    if (shmets_builder_finish(b, &name)) {
        shmets_build_binary(b, d->name, strlen(d->name));
        if ((rc = shmets_builder_finish(b, &name))) {
            shmets_builder_destroy(b);
            return rc;
        }
    }
    shmets_build_list(b, 8);
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "name", 4);
    shmets_build_term(b, name);
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "type", 4);
    shmets_build_atom(b, tool_kind_names[d->kind], strlen(tool_kind_names[d->kind]));
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "protection", 10);
    shmets_build_atom(b, tool_access_names[d->access], strlen(tool_access_names[d->access]));
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "named_table", 11);
    shmets_build_atom(b, d->named ? "true" : "false", d->named ? 4 : 5);
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "keypos", 6);
    shmets_build_uint(b, d->keypos);
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "size", 4);
    shmets_build_uint(b, d->size);
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "extended_info", 13);
    if (d->object_count || d->md5sum) {
        shmets_build_list(b, (size_t)d->object_count + (size_t)d->md5sum);
        if (d->object_count)
            shmets_build_atom(b, "object_count", 12);
        if (d->md5sum)
            shmets_build_atom(b, "md5sum", 6);
    }
    shmets_build_nil(b);
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "version", 7);
    shmets_build_tuple(b, 2);
    shmets_build_uint(b, d->version);
    shmets_build_int(b, 0);
    shmets_build_nil(b);
    rc = shmets_builder_finish(b, out);
    shmets_builder_destroy(b);
    shmets_term_free(&name);
    return rc;
}

int cmd_fileinfo(int argc, char **argv)
{
    struct tool_args a;
    int rc = tool_args("fileinfo", argc, argv, "", 1, 1, "FILE", &a);
    if (rc)
        return rc;
    shmets_tabfile_desc d;
    shmets_term list;
    if ((rc = shmets_tabfile_info(a.argv[0], &d)) || (rc = tool_tabfile_info_term(&d, &list))) {
        rc = tool_fail(a.argv[0], rc);
        free(a.argv);
        return rc;
    }
    tool_print_list(stdout, list);
    shmets_term_free(&list);
    printf("{format,%s}\n", d.erlang ? "erlang" : "shmets");
    free(a.argv);
    return 0;
}
