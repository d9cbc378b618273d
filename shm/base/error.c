/*
 * error.c — the one error convention of shmets (CONVENTIONS.md item 4).
 *
 * Every call returns 0 or a negative code from enum shmets_error.  The words for each code live
 * in one table whose length a static_assert ties to the enum, so a code added without words
 * does not compile.  What a failing call knew beyond the code (a byte offset, a line and
 * column, an argument's name) goes to a thread-local detail buffer through err_set(); the
 * caller reads it with shmets_errdetail().  Broken internal invariants are not errors: they
 * call die(), which prints where and what, then aborts.
 */
#include "shmets.h"
#include "base/util.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const error_words[] = {
    [SHMETS_OK]       = "success",
    [SHMETS_EINVAL]   = "invalid argument",
    [SHMETS_ENOMEM]   = "out of memory",
    [SHMETS_EBADTERM] = "malformed term encoding",
    [SHMETS_ETOODEEP] = "term nested too deeply",
    [SHMETS_ETOOBIG]  = "term too large",
    [SHMETS_ESYNTAX]  = "term syntax error",
    [SHMETS_ETYPE]    = "term is of the wrong type",
    [SHMETS_ERANGE]   = "value out of range",
    [SHMETS_EBADPOS]  = "position out of range",
    [SHMETS_EBUILD]   = "term builder misused",
    [SHMETS_EEXIST]   = "already exists",
    [SHMETS_ENOENT]   = "no such segment or table",
    [SHMETS_EACCES]   = "permission denied",
    [SHMETS_EBADSEG]  = "not a shmets segment, or a damaged one",
    [SHMETS_EVERSION] = "segment of another layout version or library ABI",
    [SHMETS_ESYS]     = "system call failed",
    [SHMETS_EAGAIN]   = "resource temporarily exhausted",
    [SHMETS_EOWNER]   = "not the table's owner",
    [SHMETS_ENOKEY]   = "no such key in the table",
    [SHMETS_EBADFILE] = "not a shmets table file, or a truncated or damaged one",
};
static_assert(sizeof error_words / sizeof error_words[0] == SHMETS_ECOUNT,
              "every shmets_error code needs words in error_words[]");

static __thread char detail[512];

const char *shmets_strerror(int err)
{
    if (err < 0)
        err = -err;
    if (err >= SHMETS_ECOUNT || !error_words[err])
        return "unknown error";
    return error_words[err];
}

const char *shmets_errdetail(void)
{
    return detail;
}

int err_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return -code;
}

void err_clear(void)
{
    detail[0] = '\0';
}

void die(const char *file, int line, const char *what)
{
    fprintf(stderr, "shmets: internal invariant broken at %s:%d: %s\n", file, line, what);
    abort();
}
