/*
 * cmd_file.c — table files from the command line (shm/tabfile.c does the work).
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

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const kind_names[] = { "?", "set", "ordered_set", "bag", "duplicate_bag" };
static const char *const access_names[] = { "?", "public", "protected", "private" };

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
    int rc = tool_parse("dump", argc, argv, "md5sum,object-count,sync,erlang", &a);
    if (rc || a.argc != 2) {
        free(a.argv);
        if (!rc)
            fputs("usage: shmets dump [--instance NAME] [--md5sum] [--object-count] [--sync] [--erlang] TAB FILE\n", stderr);
        return rc ? rc : 2;
    }
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

int cmd_load(int argc, char **argv)
{
    struct tool_args a;
    int rc = tool_parse("load", argc, argv, "verify", &a);
    if (rc || a.argc != 1) {
        free(a.argv);
        if (!rc)
            fputs("usage: shmets load [--instance NAME] [--verify] FILE\n", stderr);
        return rc ? rc : 2;
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
        shmets_detach(t);
    }
    shmets_close(db);
    free(a.argv);
    return rc;
}

int cmd_fileinfo(int argc, char **argv)
{
    struct tool_args a;
    int rc = tool_parse("fileinfo", argc, argv, "", &a);
    if (rc || a.argc != 1) {
        free(a.argv);
        if (!rc)
            fputs("usage: shmets fileinfo FILE\n", stderr);
        return rc ? rc : 2;
    }
    shmets_tabfile_desc d;
    if ((rc = shmets_tabfile_info(a.argv[0], &d))) {
        rc = tool_fail(a.argv[0], rc);
        free(a.argv);
        return rc;
    }
    /* As ets:tabfile_info/1 lists it, the name as an atom. */
    shmets_builder *b;
    shmets_term name;
    if (shmets_builder_create(&b) == 0) {
        shmets_build_atom(b, d.name, strlen(d.name));
        if (shmets_builder_finish(b, &name) == 0) {
            printf("{name,");
            char *s;
            if (shmets_term_format(name, &s, NULL) == 0)
                fputs(s, stdout), free(s);
            printf("}\n");
            shmets_term_free(&name);
        }
        shmets_builder_destroy(b);
    }
    printf("{type,%s}\n{protection,%s}\n{named_table,%s}\n{keypos,%u}\n{size,%llu}\n",
           kind_names[d.kind], access_names[d.access], d.named ? "true" : "false", d.keypos,
           (unsigned long long)d.size);
    printf("{extended_info,[%s%s%s]}\n{version,{%u,0}}\n", d.object_count ? "object_count" : "",
           d.object_count && d.md5sum ? "," : "", d.md5sum ? "md5sum" : "", d.version);
    printf("{format,%s}\n", d.erlang ? "erlang" : "shmets");
    free(a.argv);
    return 0;
}
