/*
 * tool.c — the helpers every subcommand of `shmets` shares (tool.h): the options and
 * positional arguments, errors in words, opening the instance, naming a table, reading and
 * printing terms, the names of kinds and protections.  It calls no subcommand.
 */
#include "tool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const tool_kind_names[5] = { "?", "set", "ordered_set", "bag", "duplicate_bag" };
const char *const tool_access_names[4] = { "?", "public", "protected", "private" };

int tool_fail(const char *what, int rc)
{
    const char *d = shmets_errdetail();
    fprintf(stderr, "shmets: %s: %s%s%s\n", what, shmets_strerror(rc), *d ? ": " : "", d);
    return 1;
}

static bool allowed_flag(const char *allowed, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = allowed; p && *p;) {
        const char *c = strchr(p, ',');
        size_t m = c ? (size_t)(c - p) : strlen(p);
        if (m == n && !strncmp(p, name, n))
            return true;
        p = c ? c + 1 : NULL;
    }
    return false;
}

int tool_parse(const char *cmd, int argc, char **argv, const char *allowed, struct tool_args *a)
{
    memset(a, 0, sizeof *a);
    a->interval = 1.0;
    a->argv = calloc((size_t)argc + 1, sizeof *a->argv);
    if (!a->argv)
        return tool_fail(cmd, -SHMETS_ENOMEM) + 1;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (s[0] != '-' || s[1] != '-' || !strcmp(s, "--")) {
            if (!strcmp(s, "--"))
                for (i++; i < argc; i++)
                    a->argv[a->argc++] = argv[i];
            else
                a->argv[a->argc++] = argv[i];
            continue;
        }
        char name[32];
        const char *val = strchr(s, '=');
        size_t n = val ? (size_t)(val - s - 2) : strlen(s + 2);
        if (n >= sizeof name)
            goto bad;
        memcpy(name, s + 2, n);
        name[n] = 0;
        bool takes = !strcmp(name, "instance") || !strcmp(name, "group") || !strcmp(name, "iterations") ||
                     !strcmp(name, "interval") || !strcmp(name, "manage") || !strcmp(name, "give-to");
        if (strcmp(name, "instance") && strcmp(name, "group") && !allowed_flag(allowed, name))
            goto bad;
        if (takes && !val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "shmets %s: --%s needs a value\n", cmd, name);
                return 2;
            }
            val = argv[++i];
        } else if (val) {
            if (!takes)
                goto bad;
            val++;
        }
        char *end;
        if (!strcmp(name, "instance"))
            a->instance = val;
        else if (!strcmp(name, "group"))
            setenv("SHMETS_GROUP", val, 1);     /* shmets_open reads it (include/shmets.h) */
        else if (!strcmp(name, "iterations")) {
            long v = strtol(val, &end, 10);
            if (*end || v < 0 || v > 1000000000 || end == val) {
                fprintf(stderr, "shmets %s: --iterations wants a count, not %s\n", cmd, val);
                return 2;
            }
            a->iterations = (int)v;
        } else if (!strcmp(name, "interval")) {
            double v = strtod(val, &end);
            if (*end || end == val || !(v >= 0.01 && v <= 3600)) {
                fprintf(stderr, "shmets %s: --interval wants seconds (0.01 to 3600), not %s\n", cmd, val);
                return 2;
            }
            a->interval = v;
        } else if (!strcmp(name, "md5sum"))
            a->md5sum = true;
        else if (!strcmp(name, "object-count"))
            a->object_count = true;
        else if (!strcmp(name, "sync"))
            a->sync = true;
        else if (!strcmp(name, "verify"))
            a->verify = true;
        else if (!strcmp(name, "erlang"))
            a->erlang = true;
        else if (!strcmp(name, "json"))
            a->json = true;
        else if (!strcmp(name, "salvage"))
            a->salvage = true;
        else if (!strcmp(name, "manage"))
            a->manage = val;
        else if (!strcmp(name, "give-to")) {
            long v = strtol(val, &end, 10);
            if (*end || end == val || v <= 0 || v > 4194304) {
                fprintf(stderr, "shmets %s: --give-to wants a process id, not %s\n", cmd, val);
                return 2;
            }
            a->give_to = v;
        }
        continue;
bad:
        fprintf(stderr, "shmets %s: unknown option %s\n", cmd, s);
        return 2;
    }
    return 0;
}

int tool_open(const struct tool_args *a, bool must_exist, shmets **db)
{
    const char *inst = a->instance ? a->instance : "default";
    char what[128];
    snprintf(what, sizeof what, "instance %s", inst);
    if (must_exist && strlen(inst) <= 64 && !strchr(inst, '/')) {
        char path[128];
        snprintf(path, sizeof path, "/dev/shm/shmets.%s", inst);
        if (access(path, F_OK) != 0 && errno == ENOENT) {
            fprintf(stderr, "shmets: %s: %s: it has no control segment (no table was ever made in it)\n",
                    what, shmets_strerror(SHMETS_ENOENT));
            return 1;
        }
    }
    int rc = shmets_open(inst, db);
    return rc ? tool_fail(what, rc) : 0;
}

int tool_attach(shmets *db, const char *tab, shmets_tab **t)
{
    char *end;
    errno = 0;
    unsigned long long id = strtoull(tab, &end, 10);
    int rc;
    if (*tab >= '0' && *tab <= '9' && !*end && !errno)
        rc = shmets_attach(db, id, t);
    else
        rc = shmets_attach_name(db, tab, t);
    if (rc) {
        char what[128];
        snprintf(what, sizeof what, "table %.100s", tab);
        return tool_fail(what, rc);
    }
    return 0;
}

int tool_term(const char *text, shmets_term *t)
{
    int rc = shmets_term_parse(text, strlen(text), t);
    return rc ? tool_fail(text, rc) : 0;
}

void tool_print(FILE *f, shmets_term t)
{
    char *s;
    if (shmets_term_format(t, &s, NULL) == 0) {
        fputs(s, f);
        free(s);
    }
    fputc('\n', f);
}

int tool_args(const char *cmd, int argc, char **argv, const char *allowed, int nmin, int nmax,
              const char *usage, struct tool_args *a)
{
    int rc = tool_parse(cmd, argc, argv, allowed, a);
    if (!rc && (a->argc < nmin || (nmax >= 0 && a->argc > nmax))) {
        fprintf(stderr, "usage: shmets %s %s\n", cmd, usage);
        rc = 2;
    }
    if (rc) {
        free(a->argv);
        a->argv = NULL;
    }
    return rc;
}

int tool_print_list(FILE *f, shmets_term list)
{
    shmets_list_iter it;
    shmets_term el;
    int n = 0;
    shmets_list_begin(list, &it);
    while (shmets_list_next(&it, &el) == 1) {
        tool_print(f, el);
        n++;
    }
    return n;
}

/* Take the arguments (tool_args), open the instance and, when t, attach argv[0]. */
