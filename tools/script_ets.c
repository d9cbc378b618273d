/*
 * script_ets.c — `shmets script`: the handlers of ETS's table calls (R.1 of script.c): new,
 * insert, lookup, traversal, update_counter, setopts, info, all, whereis ...  Each checks its
 * arguments as ETS does, resolves the table and fills a struct result.
 */
#include "script_common.h"

/* ---- the calls (R.1) --------------------------------------------------------------- */


/* ets:new/2 */
static int op_new(struct script *s, const shmets_term *a, struct result *r)
{
    char name[ATOM_BUF];
    shmets_opts o;
    int rc;
    if ((rc = atom_arg(s, a[0], name)) || (rc = shmets_opts_from_term(a[1], &o)))
        return rc;
    shmets_tab *t;
    struct tabent *e;
    rc = shmets_new(s->db, name, &o, &t);
    if (rc == -SHMETS_EINVAL)
        s->fatal = true;        /* the options were checked: this version cannot (R.2) */
    if (rc || (rc = cache_add(&s->tabs, t, &e)))
        return rc;
    if (o.named)
        return shmets_term_dup(a[0], &r->term);
    return shmets_tab_term(e->t, &r->term);
}

/* ets:delete/1: the library releases the handle. */
static int op_delete(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    int rc = tab_arg(s, a[0], &e);
    if (rc || (rc = shmets_delete(e->t)))
        return rc;
    cache_drop(&s->tabs, e, false);
    s->cur = NULL;
    return res_bool(r, true);
}

/* Calls of the form f(Tab, Term) -> true. */
static int op_tab_term(struct script *s, const shmets_term *a, struct result *r,
                       int (*fn)(shmets_tab *, shmets_term))
{
    struct tabent *e;
    int rc = tab_arg(s, a[0], &e);
    return rc ? rc : (rc = fn(e->t, a[1])) ? rc : res_bool(r, true);
}

static int op_delete_key(struct script *s, const shmets_term *a, struct result *r)
{
    return op_tab_term(s, a, r, shmets_delete_key);
}

static int op_insert(struct script *s, const shmets_term *a, struct result *r)
{
    return op_tab_term(s, a, r, shmets_insert);
}

static int op_delete_object(struct script *s, const shmets_term *a, struct result *r)
{
    return op_tab_term(s, a, r, shmets_delete_object);
}

static int op_delete_all_objects(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    int rc = tab_arg(s, a[0], &e);
    return rc ? rc : (rc = shmets_delete_all_objects(e->t)) ? rc : res_bool(r, true);
}

static int op_insert_new(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    int inserted, rc = tab_arg(s, a[0], &e);
    return rc ? rc : (rc = shmets_insert_new(e->t, a[1], &inserted)) ? rc : res_bool(r, inserted);
}

static int op_member(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    int found, rc = tab_arg(s, a[0], &e);
    return rc ? rc : (rc = shmets_member(e->t, a[1], &found)) ? rc : res_bool(r, found);
}

/* Calls of the form f(Tab, Key) -> Term. */
static int op_key_term(struct script *s, const shmets_term *a, struct result *r,
                       int (*fn)(shmets_tab *, shmets_term, shmets_term *))
{
    struct tabent *e;
    int rc = tab_arg(s, a[0], &e);
    return rc ? rc : fn(e->t, a[1], &r->term);
}

static int op_lookup(struct script *s, const shmets_term *a, struct result *r)
{
    return op_key_term(s, a, r, shmets_lookup);
}

static int op_take(struct script *s, const shmets_term *a, struct result *r)
{
    return op_key_term(s, a, r, shmets_take);
}

/* ets:next/2 and prev/2: a key or '$end_of_table'. */
static int op_step(struct script *s, const shmets_term *a, struct result *r,
                   int (*fn)(shmets_tab *, shmets_term, shmets_term *))
{
    struct tabent *e;
    shmets_term k;
    int rc = tab_arg(s, a[0], &e);
    return rc ? rc : (rc = fn(e->t, a[1], &k)) ? rc : res_key(r, k);
}

static int op_next(struct script *s, const shmets_term *a, struct result *r)
{
    return op_step(s, a, r, shmets_next);
}

static int op_prev(struct script *s, const shmets_term *a, struct result *r)
{
    return op_step(s, a, r, shmets_prev);
}

/* ets:first/1 and last/1. */
static int op_end(struct script *s, const shmets_term *a, struct result *r,
                  int (*fn)(shmets_tab *, shmets_term *))
{
    struct tabent *e;
    shmets_term k;
    int rc = tab_arg(s, a[0], &e);
    return rc ? rc : (rc = fn(e->t, &k)) ? rc : res_key(r, k);
}

static int op_first(struct script *s, const shmets_term *a, struct result *r)
{
    return op_end(s, a, r, shmets_first);
}

static int op_last(struct script *s, const shmets_term *a, struct result *r)
{
    return op_end(s, a, r, shmets_last);
}

static int op_tab2list(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    int rc = tab_arg(s, a[0], &e);
    return rc ? rc : shmets_tab2list(e->t, &r->term);
}

/* ets:lookup_element/3,4 */
static int op_lookup_element(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    uint64_t pos;
    /* A position is a small integer of the VM (1 .. 2^59 - 1; larger ones are badarg whatever
     * the key); lookup_element/4 of an absent key gives the default for any of them (OTP 26),
     * even past every object's arity. */
    int rc = shmets_term_get_uint64(a[2], &pos);
    if (!rc && (pos == 0 || pos >= 1ull << 59))
        rc = -SHMETS_EBADPOS;
    if (rc || (rc = tab_arg(s, a[0], &e)))
        return rc;
    return shmets_lookup_element(e->t, a[1], pos, s->arity == 4 ? &a[3] : NULL, &r->term);
}

static int op_slot(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    uint64_t i;
    shmets_term objs;
    int rc = shmets_term_get_uint64(a[1], &i);
    if (rc || (rc = tab_arg(s, a[0], &e)) || (rc = shmets_slot(e->t, i, &objs)))
        return rc;
    return res_key(r, objs);
}

static int op_safe_fixtable(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    bool fix;
    int rc = bool_arg(a[1], &fix);
    if (rc || (rc = tab_arg(s, a[0], &e)) || (rc = shmets_safe_fixtable(e->t, fix)))
        return rc;
    return res_bool(r, true);
}

/* ets:update_counter/3,4 */
static int op_update_counter(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    int rc = tab_arg(s, a[0], &e);
    return rc ? rc : shmets_update_counter(e->t, a[1], a[2], s->arity == 4 ? &a[3] : NULL, &r->term);
}

/* ets:update_element/3,4 (4: OTP 27's, with a default object) */
static int op_update_element(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    int updated = 1, rc = tab_arg(s, a[0], &e);
    if (!rc)
        rc = s->arity == 4 ? shmets_update_element_default(e->t, a[1], a[2], a[3])
                           : shmets_update_element(e->t, a[1], a[2], &updated);
    return rc ? rc : res_bool(r, updated);
}

/* ets:first_lookup/1, last_lookup/1 (OTP 27): {Key, Objects} or '$end_of_table'. */
static int res_key_objects(struct result *r, shmets_term k, shmets_term objs)
{
    if (!k.ptr)
        return res_key(r, k);
    shmets_builder *b;
    int rc = shmets_builder_create(&b);
    if (!rc) {
        shmets_build_tuple(b, 2);
        shmets_build_term(b, k);
        shmets_build_term(b, objs);
        rc = shmets_builder_finish(b, &r->term);
        shmets_builder_destroy(b);
    }
    shmets_term_free(&k);
    shmets_term_free(&objs);
    return rc;
}

static int op_end_lookup(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    shmets_term k, objs;
    int rc = tab_arg(s, a[0], &e);
    if (!rc)
        rc = !strcmp(s->fn, "first_lookup") ? shmets_first_lookup(e->t, &k, &objs)
                                            : shmets_last_lookup(e->t, &k, &objs);
    return rc ? rc : res_key_objects(r, k, objs);
}

/* ets:next_lookup/2, prev_lookup/2 (OTP 27). */
static int op_step_lookup(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    shmets_term k, objs;
    int rc = tab_arg(s, a[0], &e);
    if (!rc)
        rc = !strcmp(s->fn, "next_lookup") ? shmets_next_lookup(e->t, a[1], &k, &objs)
                                           : shmets_prev_lookup(e->t, a[1], &k, &objs);
    return rc ? rc : res_key_objects(r, k, objs);
}

/* ets:rename/2: ETS answers with the table's term afterwards (the new name if named). */
static int op_rename(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    char name[ATOM_BUF];
    int rc = atom_arg(s, a[1], name);
    if (rc || (rc = tab_arg(s, a[0], &e)) || (rc = shmets_rename(e->t, name)))
        return rc;
    return shmets_tab_term(e->t, &r->term);
}

/* ets:setopts/2: one option or a list; all are checked before any is applied, and, as in
 * ETS, an option given twice is badarg.  {protection, P} is badarg too, and the script goes
 * on: a table's protection is fixed when it is made (script.c says why). */
static int setopt_check(struct script *s, shmets_term opt)
{
    uint32_t pid;
    shmets_term data;
    (void)s;
    if (heir_arg(opt, &pid, &data) == 0)
        return 0;
    return -SHMETS_ETYPE;
}

static int setopt_apply(shmets_tab *t, shmets_term opt)
{
    uint32_t pid;
    shmets_term data;
    int rc = heir_arg(opt, &pid, &data);
    return rc ? rc : shmets_set_heir(t, pid, data.ptr ? &data : NULL);
}

static int op_setopts(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    shmets_list_iter it;
    shmets_term opt;
    int rc, more;
    bool list = shmets_list_begin(a[1], &it) == 0;
    if (list) {
        size_t n = 0;
        while ((more = shmets_list_next(&it, &opt)) == 1)
            if ((rc = setopt_check(s, opt)) || ++n > 1)
                return rc ? rc : -SHMETS_ETYPE;
        if (more < 0 || shmets_term_type(it.tail) != SHMETS_T_NIL)
            return -SHMETS_ETYPE;
    } else if ((rc = setopt_check(s, a[1]))) {
        return rc;
    }
    if ((rc = tab_arg(s, a[0], &e)))
        return rc;
    if (!list)
        rc = setopt_apply(e->t, a[1]);
    else
        for (shmets_list_begin(a[1], &it); !rc && shmets_list_next(&it, &opt) == 1;)
            rc = setopt_apply(e->t, opt);
    return rc ? rc : res_bool(r, true);
}

/* ets:info/1,2: `undefined` for a table that does not exist. */
static int op_info(struct script *s, const shmets_term *a, struct result *r)
{
    struct tabent *e;
    int rc = tab_arg(s, a[0], &e);
    if (rc == -SHMETS_ENOENT) {
        r->text = "undefined";
        return 0;
    }
    if (rc)
        return rc;
    if (s->arity == 1)
        rc = shmets_info_term(e->t, &r->term);
    else {
        char item[ATOM_BUF];
        rc = atom_arg(s, a[1], item);
        if (!rc)
            rc = shmets_info_item(e->t, item, &r->term);
    }
    if (rc == -SHMETS_ENOENT) {         /* deleted by another process meanwhile */
        cache_drop(&s->tabs, e, true);
        s->cur = NULL;
        r->text = "undefined";
        return 0;
    }
    return rc;
}

/* ets:all/0: named tables by name, others by reference; tables this process cannot attach
 * (private tables of others) by reference too. */
static int op_all(struct script *s, const shmets_term *a, struct result *r)
{
    (void)a;
    uint64_t *ids;
    size_t n, k = 0;
    int rc = shmets_all(s->db, &ids, &n);
    if (rc)
        return rc;
    shmets_term *terms = calloc(n ? n : 1, sizeof *terms);
    if (!terms) {
        free(ids);
        return -SHMETS_ENOMEM;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        struct tabent *e;
        rc = tab_by_id(s, ids[i], &e);
        if (rc == -SHMETS_ENOENT) {
            rc = 0;                     /* deleted meanwhile */
            continue;
        }
        if (rc == -SHMETS_EOWNER || rc == -SHMETS_EACCES)
            rc = ref_of_id(ids[i], &terms[k]);
        else if (!rc)
            rc = shmets_tab_term(e->t, &terms[k]);
        k += !rc;
    }
    shmets_builder *b = NULL;
    if (!rc)
        rc = shmets_builder_create(&b);
    if (!rc) {
        if (k)
            shmets_build_list(b, k);
        for (size_t i = 0; i < k; i++)
            shmets_build_term(b, terms[i]);
        shmets_build_nil(b);
        rc = shmets_builder_finish(b, &r->term);
        shmets_builder_destroy(b);
    }
    for (size_t i = 0; i < k; i++)
        shmets_term_free(&terms[i]);
    free(terms);
    free(ids);
    return rc;
}

static int op_whereis(struct script *s, const shmets_term *a, struct result *r)
{
    char name[ATOM_BUF];
    uint64_t id;
    int rc = atom_arg(s, a[0], name);
    if (!rc)
        rc = shmets_whereis(s->db, name, &id);
    if (rc == -SHMETS_ENOENT) {
        r->text = "undefined";
        return 0;
    }
    return rc ? rc : ref_of_id(id, &r->term);
}



/* The calls of this file, for run_call (script.c); ETS's table calls. */
const struct call_def script_ets_calls[] = {
    { "ets", "new", 2, op_new },
    { "ets", "delete", 1, op_delete },
    { "ets", "delete", 2, op_delete_key },
    { "ets", "delete_all_objects", 1, op_delete_all_objects },
    { "ets", "delete_object", 2, op_delete_object },
    { "ets", "insert", 2, op_insert },
    { "ets", "insert_new", 2, op_insert_new },
    { "ets", "lookup", 2, op_lookup },
    { "ets", "lookup_element", 3, op_lookup_element },
    { "ets", "lookup_element", 4, op_lookup_element },
    { "ets", "member", 2, op_member },
    { "ets", "take", 2, op_take },
    { "ets", "first", 1, op_first },
    { "ets", "next", 2, op_next },
    { "ets", "last", 1, op_last },
    { "ets", "prev", 2, op_prev },
    { "ets", "first_lookup", 1, op_end_lookup },
    { "ets", "next_lookup", 2, op_step_lookup },
    { "ets", "last_lookup", 1, op_end_lookup },
    { "ets", "prev_lookup", 2, op_step_lookup },
    { "ets", "tab2list", 1, op_tab2list },
    { "ets", "slot", 2, op_slot },
    { "ets", "safe_fixtable", 2, op_safe_fixtable },
    { "ets", "update_counter", 3, op_update_counter },
    { "ets", "update_counter", 4, op_update_counter },
    { "ets", "update_element", 3, op_update_element },
    { "ets", "update_element", 4, op_update_element },
    { "ets", "rename", 2, op_rename },
    { "ets", "setopts", 2, op_setopts },
    { "ets", "info", 1, op_info },
    { "ets", "info", 2, op_info },
    { "ets", "all", 0, op_all },
    { "ets", "whereis", 1, op_whereis },
    { NULL, NULL, 0, NULL },
};
