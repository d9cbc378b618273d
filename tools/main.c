/*
 * main.c — `shmets`, the command-line tool: main() and the term subcommands.
 *
 * It speaks the term layer (below) and the tables of an instance: ls, info, get, insert,
 * delete, select, check (tools/cmd_tab.c, with the helpers of tools/tool.c), dump, load,
 * fileinfo (tools/cmd_file.c), top (tools/top.c), events (tools/cmd_events.c) and shell (tools/shell.c); man/shmets.1
 * describes them all.  Every
 * subcommand reports errors in words (shmets_strerror plus the detail) and exits non-zero
 * (2 for a usage error).  `--instance NAME` and `--group GROUP` (the group an instance is
 * shared with, issue 17; also SHMETS_GROUP) may come before the subcommand or after it.
 *
 *   shmets parse TERM...          canonical form of each term: ~w text, type, ETF bytes
 *   shmets format                 ETF bytes (binary_to_term input) on stdin -> ~w text
 *   shmets etf TERM               ETF bytes of TERM on stdout (term_to_binary)
 *   shmets compare A B            A < B, A == B, A =:= B as Erlang decides them
 *   shmets sort TERM...           the terms in Erlang's term order
 *   shmets hash TERM [SEED]       the 64-bit hash of TERM's canonical encoding
 *   shmets script [--instance NAME] [--group GROUP] [FILE]
 *                                 run ets:Function(Arg, ...). calls (FILE or standard input),
 *                                 one ~w result line per call (tools/script.c)
 */
#include "shmets.h"
#include "tool.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {
    [SHMETS_T_INTEGER] = "integer", [SHMETS_T_FLOAT] = "float", [SHMETS_T_ATOM] = "atom",
    [SHMETS_T_REF] = "reference", [SHMETS_T_FUN] = "fun", [SHMETS_T_PORT] = "port",
    [SHMETS_T_PID] = "pid", [SHMETS_T_TUPLE] = "tuple", [SHMETS_T_MAP] = "map",
    [SHMETS_T_NIL] = "nil", [SHMETS_T_LIST] = "list", [SHMETS_T_BINARY] = "bitstring",
};

static int parse_arg(const char *text, shmets_term *t)
{
    int rc = shmets_term_parse(text, strlen(text), t);
    if (rc)
        tool_fail(text, rc);
    return rc;
}

static void print_term(FILE *f, shmets_term t)
{
    char *s;
    if (shmets_term_format(t, &s, NULL) == 0) {
        fputs(s, f);
        free(s);
    }
}

static int cmd_parse(int argc, char **argv)
{
    int status = 0;
    for (int i = 0; i < argc; i++) {
        shmets_term t;
        if (parse_arg(argv[i], &t)) {
            status = 1;
            continue;
        }
        print_term(stdout, t);
        printf("\n  type %s, %zu bytes: 131", type_names[shmets_term_type(t)], t.len + 1);
        for (size_t k = 0; k < t.len && k < 64; k++)
            printf(" %u", t.ptr[k]);
        printf("%s\n", t.len > 64 ? " ..." : "");
        shmets_term_free(&t);
    }
    return status;
}

static int cmd_format(void)
{
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    if (!buf)
        return tool_fail("stdin", -SHMETS_ENOMEM);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len, stdin)) > 0) {
        len += got;
        if (len == cap) {
            unsigned char *n = realloc(buf, cap *= 2);
            if (!n) {
                free(buf);
                return tool_fail("stdin", -SHMETS_ENOMEM);
            }
            buf = n;
        }
    }
    shmets_term t;
    int rc = shmets_term_from_etf(buf, len, 0, &t);
    free(buf);
    if (rc)
        return tool_fail("stdin", rc);
    print_term(stdout, t);
    putchar('\n');
    shmets_term_free(&t);
    return 0;
}

static int cmd_etf(const char *text)
{
    shmets_term t;
    if (parse_arg(text, &t))
        return 1;
    unsigned char *b;
    size_t n;
    int rc = shmets_term_to_etf(t, &b, &n);
    shmets_term_free(&t);
    if (rc)
        return tool_fail(text, rc);
    fwrite(b, 1, n, stdout);
    free(b);
    return 0;
}

static int cmd_compare(const char *x, const char *y)
{
    shmets_term a, b;
    if (parse_arg(x, &a))
        return 1;
    if (parse_arg(y, &b)) {
        shmets_term_free(&a);
        return 1;
    }
    int c = shmets_term_compare(a, b);
    print_term(stdout, a);
    printf(" %s ", c < 0 ? "<" : c > 0 ? ">" : "==");
    print_term(stdout, b);
    printf("\n=:= %s\n", shmets_term_exact_equal(a, b) ? "true" : "false");
    shmets_term_free(&a);
    shmets_term_free(&b);
    return 0;
}

static int by_term_order(const void *x, const void *y)
{
    return shmets_term_compare(*(const shmets_term *)x, *(const shmets_term *)y);
}

static int cmd_sort(int argc, char **argv)
{
    shmets_term *t = calloc((size_t)argc, sizeof *t);
    if (!t)
        return tool_fail("sort", -SHMETS_ENOMEM);
    int n = 0, status = 0;
    for (int i = 0; i < argc; i++) {
        if (parse_arg(argv[i], &t[n]) == 0)
            n++;
        else
            status = 1;
    }
    qsort(t, (size_t)n, sizeof *t, by_term_order);
    for (int i = 0; i < n; i++) {
        fputs(i ? " < " : "", stdout);
        if (i && shmets_term_compare(t[i - 1], t[i]) == 0)
            fputs("(==) ", stdout);
        print_term(stdout, t[i]);
    }
    putchar('\n');
    for (int i = 0; i < n; i++)
        shmets_term_free(&t[i]);
    free(t);
    return status;
}

static int cmd_hash(const char *text, const char *seed)
{
    shmets_term t;
    if (parse_arg(text, &t))
        return 1;
    uint64_t s = seed ? strtoull(seed, NULL, 0) : 0;
    printf("%016" PRIx64 "\n", shmets_term_hash(t, s));
    shmets_term_free(&t);
    return 0;
}

static int usage(void)
{
    fputs("usage: shmets parse TERM...\n"
          "       shmets format            (ETF on stdin)\n"
          "       shmets etf TERM          (ETF on stdout)\n"
          "       shmets compare A B\n"
          "       shmets sort TERM...\n"
          "       shmets hash TERM [SEED]\n"
          "       shmets script [--instance NAME] [--group GROUP] [FILE]\n"
          "table subcommands (each takes --instance NAME and --group GROUP, before or after\n"
          "the subcommand; TAB is a name or an id):\n"
          "       shmets ls\n"
          "       shmets info TAB\n"
          "       shmets get TAB KEY\n"
          "       shmets insert TAB OBJECT...\n"
          "       shmets delete TAB KEY\n"
          "       shmets select TAB MATCHSPEC\n"
          "       shmets check TAB\n"
          "       shmets check --salvage TAB NEWTAB   (copy what validates of a damaged table)\n"
          "       shmets top [--iterations N] [--interval SECONDS]\n"
          "       shmets events [--json]\n"
          "       shmets shell\n"
          "       shmets dump [--md5sum] [--object-count] [--sync] [--erlang] TAB FILE\n"
          "       shmets load [--verify] FILE\n"
          "       shmets fileinfo FILE\n", stderr);
    return 2;
}

static int dispatch(int argc, char **argv);

int main(int argc, char **argv)
{
    /* `shmets --instance NAME --group GROUP CMD ...`: options before the subcommand are the
     * subcommand's (the group goes to SHMETS_GROUP, which shmets_open reads). */
    char *lead[2] = { NULL, NULL };
    int nlead = 0;
    while (argc >= 3 && (!strcmp(argv[1], "--instance") || !strcmp(argv[1], "--group"))) {
        if (!strcmp(argv[1], "--group"))
            setenv("SHMETS_GROUP", argv[2], 1);
        else if (nlead == 0) {
            lead[nlead++] = argv[1];
            lead[nlead++] = argv[2];
        } else {
            return usage();
        }
        argv[2] = argv[0];
        argv += 2;
        argc -= 2;
    }
    char **moved = NULL;
    if (nlead && argc >= 2) {           /* CMD --instance NAME ARGS... */
        moved = calloc((size_t)argc + 3, sizeof *moved);
        if (!moved)
            return 1;
        moved[0] = argv[0];
        moved[1] = argv[1];
        moved[2] = lead[0];
        moved[3] = lead[1];
        for (int i = 2; i < argc; i++)
            moved[i + 2] = argv[i];
        argc += 2;
        argv = moved;
    }
    int rc = dispatch(argc, argv);
    free(moved);
    return rc;
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *cmd = argv[1];
    if (!strcmp(cmd, "parse") && argc >= 3)
        return cmd_parse(argc - 2, argv + 2);
    if (!strcmp(cmd, "format") && argc == 2)
        return cmd_format();
    if (!strcmp(cmd, "etf") && argc == 3)
        return cmd_etf(argv[2]);
    if (!strcmp(cmd, "compare") && argc == 4)
        return cmd_compare(argv[2], argv[3]);
    if (!strcmp(cmd, "sort") && argc >= 3)
        return cmd_sort(argc - 2, argv + 2);
    if (!strcmp(cmd, "script"))
        return script_main(argc - 2, argv + 2);
    static const struct { const char *name; int (*fn)(int, char **); } tabcmds[] = {
        { "ls", cmd_ls }, { "info", cmd_info }, { "get", cmd_get }, { "insert", cmd_insert },
        { "delete", cmd_delete }, { "select", cmd_select }, { "check", cmd_check },
        { "top", cmd_top }, { "shell", cmd_shell }, { "dump", cmd_dump }, { "load", cmd_load },
        { "fileinfo", cmd_fileinfo }, { "events", cmd_events },
    };
    for (size_t i = 0; i < sizeof tabcmds / sizeof tabcmds[0]; i++)
        if (!strcmp(cmd, tabcmds[i].name))
            return tabcmds[i].fn(argc - 2, argv + 2);
    if (!strcmp(cmd, "hash") && (argc == 3 || argc == 4))
        return cmd_hash(argv[2], argc == 4 ? argv[3] : NULL);
    return usage();
}
