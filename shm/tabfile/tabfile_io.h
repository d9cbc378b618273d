/*
 * tabfile_io.h — private to libshmets (not installed): what the two table-file formats share
 * (tabfile_io.c).  tabfile.c has shmets's own format and the public calls; tabfile_otp.c has
 * Erlang's (disk_log) format.  Both write through struct tf_wr and load through struct tf_rd
 * and struct tf_batch, so bounds, batching and the no-half-table rule live in one place.
 */
#ifndef SHMETS_TABFILE_IO_H
#define SHMETS_TABFILE_IO_H

#include "shmets.h"

#include <md5.h>
#include <stdio.h>

#define TF_IOBUF (1u << 20)

/* A file being written: every byte goes through tf_wr_put, which feeds the MD5 when md5on. */
struct tf_wr {
    FILE *f;
    MD5_CTX md5;
    bool md5on;
    uint64_t count, total;      /* objects written; the table's size when the dump began */
    const shmets_tabfile_opts *o;
    int err;                    /* errno of a failed write */
};
/* 0, or -1 with w->err set (later calls keep failing). */
int tf_wr_put(struct tf_wr *w, const void *p, size_t n);

/* A buffered reader over fd that feeds the MD5 of what it consumes when md5on. */
struct tf_rd {
    int fd;
    unsigned char *buf;         /* TF_IOBUF bytes */
    size_t pos, len;
    bool eof;
    MD5_CTX md5;
    bool md5on;
    const char *what;           /* the file, for messages */
};
/* Exactly n bytes; -SHMETS_EBADFILE (truncated) if the file ends first. */
int tf_rd_get(struct tf_rd *r, void *out, size_t n);
/* *end: no byte is left. */
int tf_rd_at_end(struct tf_rd *r, bool *end);

/* Objects gathered for one insert: the ETF of one list, 131 108 N(4) objects... 106; an
 * object's bytes (without its 131) are appended at p + len.  len starts at 6. */
struct tf_batch {
    unsigned char *p;
    size_t len, cap;
    uint32_t n;
    uint64_t first;             /* number (from 1) of its first object, for messages */
};
#define TF_BATCH_OBJS  1024u
#define TF_BATCH_BYTES (4u << 20)
int tf_batch_room(struct tf_batch *b, size_t more);
/* Validate and insert the batch (a malformed object: -SHMETS_EBADFILE). */
int tf_batch_flush(struct tf_batch *b, shmets_tab *t, const char *what);

/* errno as a code and words: ENOENT, EACCES, ENOMEM, else SHMETS_ESYS. */
int tf_sys_err(const char *what, const char *path);

/* The options of the table a file describes (its kind, protection, keypos, flags and sizes;
 * the library's defaults for the rest). */
void tf_opts_of(const shmets_tabfile_desc *d, shmets_opts *o);
/* Make the table a file describes: refused if its name is a named table's already; a named
 * table is made under a temporary name until tf_finish_table gives it its own.  Options the
 * library refuses are -SHMETS_EBADFILE (they came from the file). */
int tf_new_table(shmets *db, shmets_opts *opts, const char *name, const char *what, shmets_tab **t);
int tf_finish_table(shmets_tab *t, bool named, const char *name, const char *what);
/* Delete a table whose load failed, keeping the failure's detail; returns rc. */
int tf_drop_table(shmets_tab *t, int rc);

#endif
