/*
 * script_common.c — `shmets script`: what the files of the interpreter share: the signal that
 * arrived and the messages on standard error, the table cache (R.3 of script.c: one handle per
 * table id, resolving atoms and references), the results a handler fills, and the argument
 * checks.  It calls none of them.
 */
#include "script_common.h"

/* The signal that arrived (R.5 of script.c; on_signal there records it), 0 if none. */
volatile sig_atomic_t got_signal;


/* ---- messages ---------------------------------------------------------------------- */

/* A message on standard error, naming the input and line (0: none); sets status 1. */
void say(struct script *s, int line, const char *fmt, ...)
{
    va_list ap;
    fputs("shmets script: ", stderr);
    if (line > 0)
        fprintf(stderr, "%s, line %d: ", s->src, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    s->status = 1;
}

/* The words of a library error and its detail. */
void say_err(struct script *s, int line, const char *what, int rc)
{
    const char *d = shmets_errdetail();
    say(s, line, "%s: %s%s%s", what, shmets_strerror(rc), *d ? ": " : "", d);
}

/* ---- the table cache (R.3) --------------------------------------------------------- */

/* The reference of table `id` (named tables have one too: whereis/1 gives it). */
int ref_of_id(uint64_t id, shmets_term *out)
{
    return shmets_id_term(id, out);
}

struct tabent *cache_find(struct cache *c, uint64_t id)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].id == id)
            return &c->v[i];
    return NULL;
}

/* Take handle t into the cache (or, if its id is there already, keep the cached one and
 * detach t).  Returns 0 with *out set, or -SHMETS_ENOMEM (t detached). */
int cache_add(struct cache *c, shmets_tab *t, struct tabent **out)
{
    uint64_t id = shmets_id(t);
    struct tabent *e = cache_find(c, id);
    if (e) {
        if (e->t != t)
            shmets_detach(t);
        *out = e;
        return 0;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct tabent *v = realloc(c->v, cap * sizeof *v);
        if (!v) {
            shmets_detach(t);
            return -SHMETS_ENOMEM;
        }
        c->v = v;
        c->cap = cap;
    }
    e = &c->v[c->n];
    int rc = ref_of_id(id, &e->ref);
    if (rc) {
        shmets_detach(t);
        return rc;
    }
    e->id = id;
    e->t = t;
    c->n++;
    *out = e;
    return 0;
}

/* Forget an entry; detach its handle unless the library released it already (delete/1). */
void cache_drop(struct cache *c, struct tabent *e, bool detach)
{
    if (detach)
        shmets_detach(e->t);
    shmets_term_free(&e->ref);
    *e = c->v[--c->n];
}

void cache_free(struct cache *c)
{
    while (c->n)
        cache_drop(c, &c->v[c->n - 1], true);
    free(c->v);
    c->v = NULL;
    c->cap = 0;
}

/* The cached entry of table `id`, attaching it first if need be. */
int tab_by_id(struct script *s, uint64_t id, struct tabent **e)
{
    if ((*e = cache_find(&s->tabs, id)))
        return 0;
    shmets_tab *t;
    int rc = shmets_attach(s->db, id, &t);
    return rc ? rc : cache_add(&s->tabs, t, e);
}

/* Copy an atom's text, NUL-terminated, into out[ATOM_BUF]: -SHMETS_ETYPE if not an atom.
 * An atom with a NUL character cannot be a C string: -SHMETS_EINVAL, marked fatal. */
int atom_arg(struct script *s, shmets_term t, char *out)
{
    const char *txt;
    size_t len;
    int rc = shmets_term_get_atom(t, &txt, &len);
    if (rc)
        return rc;
    if (len >= ATOM_BUF || memchr(txt, 0, len)) {
        s->fatal = true;
        snprintf(s->msg, sizeof s->msg, "an atom with a NUL character cannot name a table in shmets");
        return -SHMETS_EINVAL;
    }
    memcpy(out, txt, len);
    out[len] = 0;
    return 0;
}

/*
 * The table an argument names (an atom of a named table, or a reference): *e, which also
 * becomes s->cur.  Returns 0, -SHMETS_ENOENT (no such table), -SHMETS_ETYPE (neither an atom
 * nor a reference), or an attach error.
 */
int tab_arg(struct script *s, shmets_term name, struct tabent **e)
{
    int rc;
    enum shmets_type ty = shmets_term_type(name);
    if (ty == SHMETS_T_ATOM) {
        char txt[ATOM_BUF];
        uint64_t id;
        if ((rc = atom_arg(s, name, txt)) || (rc = shmets_whereis(s->db, txt, &id)) ||
            (rc = tab_by_id(s, id, e)))
            return rc;
    } else if (ty == SHMETS_T_REF) {
        *e = NULL;
        for (size_t i = 0; i < s->tabs.n && !*e; i++)
            if (shmets_term_exact_equal(s->tabs.v[i].ref, name))
                *e = &s->tabs.v[i];
        if (!*e) {
            shmets_tab *t;
            if ((rc = shmets_attach_term(s->db, name, &t)) || (rc = cache_add(&s->tabs, t, e)))
                return rc;
        }
    } else {
        return -SHMETS_ETYPE;
    }
    s->cur = *e;
    return 0;
}

/* ---- results ----------------------------------------------------------------------- */


int res_bool(struct result *r, bool b)
{
    r->text = b ? "true" : "false";
    return 0;
}

/* A key or '$end_of_table' ({NULL, 0}); the result takes the term. */
int res_key(struct result *r, shmets_term key)
{
    if (!key.ptr)
        r->text = "'$end_of_table'";
    else
        r->term = key;
    return 0;
}

/* ---- argument checks --------------------------------------------------------------- */

bool atom_is(shmets_term t, const char *want)
{
    const char *txt;
    size_t len;
    return shmets_term_get_atom(t, &txt, &len) == 0 && len == strlen(want) && !memcmp(txt, want, len);
}

int bool_arg(shmets_term t, bool *b)
{
    if (atom_is(t, "true"))
        *b = true;
    else if (atom_is(t, "false"))
        *b = false;
    else
        return -SHMETS_ETYPE;
    return 0;
}

/* {heir, Pid, Data} or {heir, none}: *pid 0 for none; *data a view (or {NULL, 0}). */
int heir_arg(shmets_term opt, uint32_t *pid, shmets_term *data)
{
    size_t n;
    shmets_term tag, p;
    if (shmets_term_tuple_arity(opt, &n) || (n != 2 && n != 3) ||
        shmets_term_tuple_element(opt, 1, &tag) || !atom_is(tag, "heir") ||
        shmets_term_tuple_element(opt, 2, &p))
        return -SHMETS_ETYPE;
    data->ptr = NULL;
    data->len = 0;
    if (n == 2) {
        *pid = 0;
        return atom_is(p, "none") ? 0 : -SHMETS_ETYPE;
    }
    uint32_t serial;
    shmets_term node;
    if (shmets_term_get_pid(p, pid, &serial, &node) || *pid == 0)
        return -SHMETS_ETYPE;
    return shmets_term_tuple_element(opt, 3, data);
}
