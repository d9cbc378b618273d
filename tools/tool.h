/*
 * tool.h — private to the shmets tool (not installed): what its subcommand files share.
 * Every subcommand reports errors in words (shmets_strerror plus the detail) on standard
 * error and returns a non-zero exit status; usage errors return 2.
 */
#ifndef SHMETS_TOOL_H
#define SHMETS_TOOL_H

#include "shmets.h"

#include <stdio.h>

/* Options every table subcommand takes, and the positional arguments left over. */
struct tool_args {
    const char *instance;       /* --instance NAME; NULL: "default" */
    int argc;                   /* positional arguments */
    char **argv;
    /* flags some subcommands take (others refuse them) */
    int iterations;             /* top --iterations N (0: until interrupted) */
    double interval;            /* top --interval SECONDS */
    bool md5sum, object_count, sync, verify, erlang, json;
    bool salvage;               /* check --salvage TAB NEWTAB */
    const char *manage;         /* load --manage NAME: etsmgr manages the loaded table as NAME */
    long give_to;               /* load --give-to PID: etsmgr gives the loaded table to PID */
};

/* Parse argv (after the subcommand's name): --instance, --group (which sets SHMETS_GROUP, the
 * group shmets_open shares the instance with) and the flags in `allowed`
 * ("iterations,interval,md5sum,object-count,sync,verify" by name).  Returns 0 or 2 (usage;
 * message given). */
int tool_parse(const char *cmd, int argc, char **argv, const char *allowed, struct tool_args *a);
/* tool_parse, then between nmin and nmax positional arguments (nmax < 0: no limit), else
 * "usage: shmets CMD USAGE".  Returns 0, or 2 (message given, a->argv freed). */
int tool_args(const char *cmd, int argc, char **argv, const char *allowed, int nmin, int nmax,
              const char *usage, struct tool_args *a);

/* "shmets: WHAT: words: detail" on standard error; returns 1. */
int tool_fail(const char *what, int rc);
/* Open the instance; with must_exist, refuse (ENOENT) one that has no control segment
 * rather than create it.  Returns 0 or 1 (message given). */
int tool_open(const struct tool_args *a, bool must_exist, shmets **db);
/* Attach TAB: a table name, or a numeric id.  Returns 0 or 1 (message given). */
int tool_attach(shmets *db, const char *tab, shmets_tab **t);
/* Parse a term argument.  Returns 0 or 1 (message given). */
int tool_term(const char *text, shmets_term *t);
/* The term as ~w text, then a newline. */
void tool_print(FILE *f, shmets_term t);
/* Each element of a list with tool_print; returns their number. */
int tool_print_list(FILE *f, shmets_term list);
/* Atoms of enum shmets_kind and enum shmets_access, by value ("?" at 0). */
extern const char *const tool_kind_names[5];
extern const char *const tool_access_names[4];
/* ets:tabfile_info/1's list of {Item, Value} for a file (fileinfo, the script's
 * tabfile_info/1).  Returns 0 or a SHMETS_E code. */
int tool_tabfile_info_term(const shmets_tabfile_desc *d, shmets_term *out);

/* A progress bar on standard error when it is a terminal (progress callback). */
struct progress {
    const char *what;
    bool on;
    long long last_ns;
    bool drawn;
};
void progress_init(struct progress *p, const char *what);
void progress_cb(uint64_t done, uint64_t total, void *arg);
void progress_end(struct progress *p);

/* liveness.c: a table's owner and heir (pid, 0: none) and whether each is alive (pid and
 * start time); whether an etsmgr serves an instance; the note said when none does. */
struct tool_live {
    int32_t owner, heir;
    bool owner_alive, heir_alive;
};
int tool_liveness(shmets *db, uint64_t id, struct tool_live *l);
/* "1234", "1234 dead", or "none". */
void tool_pid_text(int32_t pid, bool alive, char *out, size_t n);
bool tool_etsmgr_runs(const char *inst);
void tool_note_no_etsmgr(FILE *f, const char *inst);

int cmd_ls(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_insert(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_select(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_fileinfo(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_shell(int argc, char **argv);

/* tools/script.c */
int script_main(int argc, char **argv);
/* The interpreter over a source of text (the shell): source() fills buf with up to cap bytes
 * and returns their number, 0 at the end of input, or -1 (stop); `continuing` is true when a
 * call has begun and not ended.  Errors do not stop the run: the rest of the text source()
 * gave is dropped and the next call is read.  Returns the exit status. */
typedef long (*script_source)(void *arg, char *buf, size_t cap, bool continuing);
int script_run_source(const char *instance, script_source source, void *arg);
/* The calls in buf[0..len) against a fresh instance `inst`, removed at the end (R.6 of
 * script.c; for the fuzz target tests/fuzz/script.c).  Returns the exit status. */
int script_run_buffer(const void *buf, size_t len, const char *inst);

#endif
