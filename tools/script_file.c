/*
 * script_file.c — `shmets script`: table files, tab2file/2,3, file2tab/1,2 and
 * tabfile_info/1, with ETS's file names, options and error terms.
 */
#include "script_common.h"

/* ---- table files: tab2file/2,3, file2tab/1,2, tabfile_info/1 ------------------------- */

/* Append the UTF-8 of a file name's part t (an atom, a character, or a list of those and of
 * lists: Erlang's file:name_all() but binaries) to out[*n]. */
static int filename_part(shmets_term t, char *out, size_t cap, size_t *n, int depth)
{
    const char *txt;
    size_t len;
    uint64_t c;
    if (shmets_term_get_atom(t, &txt, &len) == 0) {
        if (*n + len >= cap)
            return -SHMETS_ETYPE;
        memcpy(out + *n, txt, len);
        *n += len;
        return 0;
    }
    if (shmets_term_get_uint64(t, &c) == 0) {
        if (c == 0 || c > 0x10ffff || *n + 5 >= cap)
            return -SHMETS_ETYPE;
        if (c < 0x80) {
            out[(*n)++] = (char)c;
        } else if (c < 0x800) {
            out[(*n)++] = (char)(0xc0 | c >> 6);
            out[(*n)++] = (char)(0x80 | (c & 0x3f));
        } else if (c < 0x10000) {
            out[(*n)++] = (char)(0xe0 | c >> 12);
            out[(*n)++] = (char)(0x80 | (c >> 6 & 0x3f));
            out[(*n)++] = (char)(0x80 | (c & 0x3f));
        } else {
            out[(*n)++] = (char)(0xf0 | c >> 18);
            out[(*n)++] = (char)(0x80 | (c >> 12 & 0x3f));
            out[(*n)++] = (char)(0x80 | (c >> 6 & 0x3f));
            out[(*n)++] = (char)(0x80 | (c & 0x3f));
        }
        return 0;
    }
    if (shmets_term_type(t) == SHMETS_T_NIL)
        return 0;
    shmets_list_iter it;
    shmets_term el;
    int more, rc;
    if (depth > 100 || shmets_term_type(t) != SHMETS_T_LIST || shmets_list_begin(t, &it))
        return -SHMETS_ETYPE;
    while ((more = shmets_list_next(&it, &el)) == 1)
        if ((rc = filename_part(el, out, cap, n, depth + 1)))
            return rc;
    if (more < 0 || shmets_term_type(it.tail) != SHMETS_T_NIL)
        return -SHMETS_ETYPE;
    return 0;
}

/* A file name as ETS takes it (a string, an atom, or a deep list of characters, atoms and
 * lists; not a binary) into out. */
static int filename_arg(shmets_term t, char *out, size_t cap)
{
    size_t n = 0;
    if (shmets_term_get_uint64(t, &(uint64_t){ 0 }) == 0)
        return -SHMETS_ETYPE;               /* a character alone is not a name */
    int rc = filename_part(t, out, cap, &n, 0);
    out[n] = 0;
    return rc;
}

/* The result: the term written as `fmt` says, %s standing for the file name's ~w text. */
static int res_text(struct result *r, const char *fmt, shmets_term fname)
{
    char *name = NULL, *txt = NULL;
    int rc = shmets_term_format(fname, &name, NULL);
    if (rc)
        return rc;
    if (asprintf(&txt, fmt, name) < 0)
        txt = NULL;
    free(name);
    if (!txt)
        return -SHMETS_ENOMEM;
    rc = shmets_term_parse(txt, strlen(txt), &r->term);
    free(txt);
    return rc;
}

/* A file error of the library as ETS words it (inner: "{file_error,%s,E}"), wrapped by
 * outer ("{error,%s}" or "{error,{read_error,%s}}"); other errors are the script's own. */
static int res_file_error(struct script *s, struct result *r, int rc, shmets_term fname, bool reading)
{
    const char *e = rc == -SHMETS_ENOENT ? "enoent" : rc == -SHMETS_EACCES ? "eacces" : NULL;
    if (e) {
        char fmt[80];
        snprintf(fmt, sizeof fmt, reading ? "{error,{read_error,{file_error,%%s,%s}}}" : "{error,{file_error,%%s,%s}}", e);
        return res_text(r, fmt, fname);
    }
    if (rc == -SHMETS_EBADFILE || rc == -SHMETS_EVERSION)
        return res_text(r, "{error,badfile}", fname);
    if (rc == -SHMETS_EEXIST && reading)
        return res_text(r, "{error,cannot_create_table}", fname);
    s->fatal = true;
    return rc;
}

/* The options of tab2file/3 and file2tab/2: a proper list.  *bad: the first unknown one. */
static int tabfile_opts_arg(shmets_term list, bool dumping, shmets_tabfile_opts *o, shmets_term *bad)
{
    shmets_list_iter it;
    shmets_term opt;
    int more;
    bad->ptr = NULL;
    if (shmets_list_begin(list, &it))
        return -SHMETS_ETYPE;
    while ((more = shmets_list_next(&it, &opt)) == 1) {
        size_t n;
        shmets_term tag, v;
        bool b, ok = false;
        if (!shmets_term_tuple_arity(opt, &n) && n == 2 && !shmets_term_tuple_element(opt, 1, &tag) &&
            !shmets_term_tuple_element(opt, 2, &v)) {
            if (atom_is(tag, dumping ? "sync" : "verify") && !bool_arg(v, &b)) {
                ok = true;
                if (dumping)
                    o->sync = b;
                else
                    o->verify = b;
            } else if (dumping && atom_is(tag, "extended_info")) {
                shmets_list_iter ei;
                shmets_term x;
                int m;
                ok = shmets_list_begin(v, &ei) == 0;
                while (ok && (m = shmets_list_next(&ei, &x)) == 1) {
                    if (atom_is(x, "object_count"))
                        o->object_count = true;
                    else if (atom_is(x, "md5sum"))
                        o->md5sum = true;
                    else
                        ok = false;
                }
                ok = ok && shmets_term_type(ei.tail) == SHMETS_T_NIL;
            }
        }
        if (!ok && !bad->ptr)
            *bad = opt;
    }
    if (more < 0 || shmets_term_type(it.tail) != SHMETS_T_NIL)
        return -SHMETS_ETYPE;
    return 0;
}

/* The options argument of tab2file/3 (dumping) or file2tab/2 into o: 0, or 1 with r set to
 * ETS's {error,{unknown_option,Opt}} for the first option it does not know, or an error. */
static int tabfile_opts_result(shmets_term list, bool dumping, shmets_tabfile_opts *o, struct result *r)
{
    shmets_term bad;
    shmets_builder *b;
    int rc = tabfile_opts_arg(list, dumping, o, &bad);
    if (rc || !bad.ptr)
        return rc;
    if ((rc = shmets_builder_create(&b)))
        return rc;
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "error", 5);
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "unknown_option", 14);
    shmets_build_term(b, bad);
    rc = shmets_builder_finish(b, &r->term);
    shmets_builder_destroy(b);
    return rc ? rc : 1;
}

/* {ok, T} as the result. */
static int res_ok(struct result *r, shmets_term t)
{
    shmets_builder *b;
    int rc = shmets_builder_create(&b);
    if (rc)
        return rc;
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "ok", 2);
    shmets_build_term(b, t);
    rc = shmets_builder_finish(b, &r->term);
    shmets_builder_destroy(b);
    return rc;
}

static int op_tab2file(struct script *s, const shmets_term *a, struct result *r)
{
    char path[4096];
    shmets_tabfile_opts o;
    struct tabent *e;
    shmets_tabfile_opts_init(&o);
    int rc = filename_arg(a[1], path, sizeof path);
    if (rc)
        return rc;
    if (s->arity == 3 && (rc = tabfile_opts_result(a[2], true, &o, r)))
        return rc > 0 ? 0 : rc;
    if (tab_arg(s, a[0], &e))
        return res_text(r, "{error,badtab}", a[1]);
    rc = shmets_tab2file(e->t, path, &o);
    if (rc == -SHMETS_EOWNER)
        return res_text(r, "{error,badtab}", a[1]);
    if (rc)
        return res_file_error(s, r, rc, a[1], false);
    r->text = "ok";
    return 0;
}

static int op_file2tab(struct script *s, const shmets_term *a, struct result *r)
{
    char path[4096];
    shmets_tabfile_opts o;
    shmets_tabfile_opts_init(&o);
    int rc = filename_arg(a[0], path, sizeof path);
    if (rc)
        return rc;
    if (s->arity == 2 && (rc = tabfile_opts_result(a[1], false, &o, r)))
        return rc > 0 ? 0 : rc;
    shmets_tab *t;
    struct tabent *e;
    if ((rc = shmets_file2tab(s->db, path, &o, &t)))
        return res_file_error(s, r, rc, a[0], true);
    if ((rc = cache_add(&s->tabs, t, &e)))
        return rc;
    shmets_term tab;
    if ((rc = shmets_tab_term(e->t, &tab)))
        return rc;
    rc = res_ok(r, tab);
    shmets_term_free(&tab);
    return rc;
}

static int op_tabfile_info(struct script *s, const shmets_term *a, struct result *r)
{
    char path[4096];
    shmets_tabfile_desc d;
    shmets_term list;
    int rc = filename_arg(a[0], path, sizeof path);
    if (rc)
        return rc;
    if ((rc = shmets_tabfile_info(path, &d)))
        return res_file_error(s, r, rc, a[0], true);
    if ((rc = tool_tabfile_info_term(&d, &list)))
        return rc;
    rc = res_ok(r, list);
    shmets_term_free(&list);
    return rc;
}


/* The calls of this file, for run_call (script.c); table files. */
const struct call_def script_file_calls[] = {
    { "ets", "tab2file", 2, op_tab2file },
    { "ets", "tab2file", 3, op_tab2file },
    { "ets", "file2tab", 1, op_file2tab },
    { "ets", "file2tab", 2, op_file2tab },
    { "ets", "tabfile_info", 1, op_tabfile_info },
    { NULL, NULL, 0, NULL },
};
