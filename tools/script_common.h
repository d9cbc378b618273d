/*
 * script_common.h — private to `shmets script` (not installed): what the files of the
 * interpreter share.  script.c has the design (S.1 ..., R.1 ...), the run and the program;
 * script_scan.c reads and takes apart a call; script_common.c holds the messages, the table
 * cache, results and argument checks; the
 * handlers are script_ets.c (ETS's table calls), script_ms.c (the select family),
 * script_file.c (table files) and script_mgr.c (etsmgr, messages and time).
 */
#ifndef SHMETS_SCRIPT_COMMON_H
#define SHMETS_SCRIPT_COMMON_H

#include "shmets.h"
#include "etsmgr.h"
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* The longest call text accepted: a term's largest encoding, written out as text. */
#define CALL_TEXT_MAX ((size_t)SHMETS_TERM_MAX_SIZE * 4 + (64u << 10))
#define ATOM_BUF (SHMETS_ATOM_MAX_CHARS * 4 + 1)        /* UTF-8 text of an atom, NUL */

/* ---- process state ----------------------------------------------------------------- */

struct tabent {
    uint64_t id;
    shmets_tab *t;
    shmets_term ref;            /* its reference (ref_of_id), owned */
};

struct cache {
    struct tabent *v;
    size_t n, cap;
};

struct text {
    char *p;
    size_t n, cap;
};

enum scan_state { SC_CODE, SC_STRING, SC_QATOM, SC_STRING_ESC, SC_QATOM_ESC, SC_CHAR, SC_CHAR_ESC,
                  SC_COMMENT };

struct script {
    /* input */
    int fd;
    const char *src;            /* "standard input" or the file's name, for messages */
    unsigned char buf[1 << 16];
    size_t pos, len;
    bool eof;                   /* read(2) said so: never ask again (a terminal would wait) */
    int line;                   /* line of the next byte to read */
    /* the call being read */
    struct text call;
    int call_line;              /* line of the first byte of `call` */
    int first_line;             /* line of its first significant character (0: none yet) */
    size_t last_sig;            /* offset of its last significant character */
    /* the call being run */
    char fn[ATOM_BUF];
    size_t arity;
    bool fatal;                 /* the handler's error is not a badarg (R.2) */
    char msg[256];              /* the handler's own words for a fatal error, "" if none */
    struct tabent *cur;         /* the table the call resolved, if any */
    /* instance */
    shmets *db;
    char inst[80];
    bool temporary;
    struct cache tabs;
    /* `last_cont` (R.8): the continuation of the last /3 or /1 select-family call */
    enum { CONT_NONE, CONT_EOT, CONT_TERM } cont_state;
    shmets_term last_cont;      /* owned, for CONT_TERM */
    sigset_t waitmask;          /* the mask while waiting: INT, TERM, HUP let through */
    sigset_t handled;           /* those of INT, TERM, HUP that we catch */
    int status;                 /* exit status so far */
    /* the shell's line source (script_run_source, tools/shell.c), instead of fd */
    long (*source)(void *arg, char *buf, size_t cap, bool continuing);
    void *source_arg;
};

/* The signal that arrived (R.5), 0 if none. */
extern volatile sig_atomic_t got_signal;

#define IN_EOF  (-1)
#define IN_STOP (-2)            /* a signal or a read error: stop */

struct result {
    const char *text;           /* a constant line, or NULL: */
    shmets_term term;           /* a term the result owns */
};

typedef int (*call_fn)(struct script *s, const shmets_term *a, struct result *r);

/* One call a handler file offers (tables end with a NULL name). */
struct call_def {
    const char *mod;
    const char *name;
    size_t arity;
    call_fn fn;
};
extern const struct call_def script_ets_calls[], script_ms_calls[], script_file_calls[], script_mgr_calls[];
/* script_mgr.c: drop the connection to etsmgr, if one was made (at the end of a run). */
void script_mgr_drop(void);

/* script_scan.c: read the next call into s->call (1), or IN_EOF / IN_STOP; take it apart. */
int parse_call(struct script *s, char *mod, size_t modsz, shmets_term *args);
int read_call(struct script *s);
/* script_common.c: messages, the table cache (R.3), results, argument checks. */
/* A message on standard error, naming the input and line (0: none); sets status 1. */
void say(struct script *s, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The words of a library error and its detail. */
void say_err(struct script *s, int line, const char *what, int rc);
int atom_arg(struct script *s, shmets_term t, char *out);
bool atom_is(shmets_term t, const char *want);
int bool_arg(shmets_term t, bool *b);
int cache_add(struct cache *c, shmets_tab *t, struct tabent **out);
void cache_drop(struct cache *c, struct tabent *e, bool detach);
struct tabent *cache_find(struct cache *c, uint64_t id);
void cache_free(struct cache *c);
int heir_arg(shmets_term opt, uint32_t *pid, shmets_term *data);
int ref_of_id(uint64_t id, shmets_term *out);
int res_bool(struct result *r, bool b);
int res_key(struct result *r, shmets_term key);
int tab_arg(struct script *s, shmets_term name, struct tabent **e);
int tab_by_id(struct script *s, uint64_t id, struct tabent **e);

#endif
