/*
 * script_mgr.c — `shmets script`: etsmgr, messages and time (R.9 of script.c).
 */
#include "script_common.h"

/* ---- etsmgr, messages and time (R.9) -------------------------------------------------
 * R.9  With etsmgr (issue 6): etsmgr:new_table/4, add_table/3, del_table/2 and info/1 (whose
 *      first argument, Inst_name, is the script's instance as an atom) print the daemon's reply as the original etsmgr returns it ({ok, Pid, Tab}, {error,
 *      Reason}, a map); ets:give_away/3 prints true or error:badarg as ETS; self() (also
 *      inside arguments) is this process, <0.PID.0>; shmets:receive(TimeoutMs) prints the
 *      next message for this process ({'ETS-TRANSFER', Tab, From, Data}) or `timeout`;
 *      shmets:sleep(Ms) waits and prints ok.  The connection to the instance's etsmgr is made
 *      at the first of these calls (include/etsmgr.h: started on demand unless
 *      SHMETS_NO_AUTOSTART=1; a daemon the run started for its own temporary instance is
 *      stopped at the end); a table handle is re-attached after its owner changed
 *      (give_away, ETS-TRANSFER), so that it carries the new owner's rights.
 */

static etsmgr *script_mgr;
static bool script_temp;        /* the instance is the run's own (destroyed at its end) */

static int mgr_conn(struct script *s)
{
    if (script_mgr)
        return 0;
    int rc = etsmgr_connect(s->db, NULL, &script_mgr);
    script_temp = s->temporary;
    if (rc) {
        s->fatal = true;
        snprintf(s->msg, sizeof s->msg, "no etsmgr for instance %s: %s", s->inst, shmets_errdetail());
    }
    return rc;
}

/* Forget the cached handle of the table a term names (its rights changed). */
static void mgr_forget(struct script *s, shmets_term tab)
{
    shmets_tab *t;
    if (shmets_attach_term(s->db, tab, &t) != 0)
        return;
    struct tabent *e = cache_find(&s->tabs, shmets_id(t));
    shmets_detach(t);
    if (e)
        cache_drop(&s->tabs, e, true);
}

/* The Inst_name argument of the etsmgr calls: this script's instance, as an atom. */
static int inst_arg(struct script *s, shmets_term t)
{
    const char *txt;
    size_t len;
    if (shmets_term_get_atom(t, &txt, &len) || len != strlen(s->inst) || memcmp(txt, s->inst, len))
        return -SHMETS_EINVAL;
    return 0;
}

/* {Tag, Args...} to the daemon; the reply into r.  With inst, a[0] is the Inst_name. */
static int mgr_request(struct script *s, const char *tag, const shmets_term *a, size_t n, shmets_term *reply)
{
    int rc = mgr_conn(s);
    if (rc)
        return rc;
    shmets_builder *b;
    shmets_term q;
    if ((rc = shmets_builder_create(&b)))
        return rc;
    shmets_build_tuple(b, n + 1);
    shmets_build_atom(b, tag, strlen(tag));
    for (size_t i = 0; i < n; i++)
        shmets_build_term(b, a[i]);
    rc = shmets_builder_finish(b, &q);
    shmets_builder_destroy(b);
    if (!rc)
        rc = etsmgr_call(script_mgr, q, reply);
    shmets_term_free(&q);
    if (rc) {
        s->fatal = true;
        snprintf(s->msg, sizeof s->msg, "etsmgr: %s", shmets_errdetail());
    }
    return rc;
}

static int op_mgr_new_table(struct script *s, const shmets_term *a, struct result *r)
{
    int rc = inst_arg(s, a[0]);
    rc = rc ? rc : mgr_request(s, "new_table", a + 1, 3, &r->term);
    size_t n;
    shmets_term tag, tab, opt;
    shmets_list_iter it;
    if (rc || shmets_term_tuple_arity(r->term, &n) || n != 3 || shmets_term_tuple_element(r->term, 1, &tag) ||
        !atom_is(tag, "ok") || shmets_term_tuple_element(r->term, 3, &tab))
        return rc;
    mgr_forget(s, tab);
    /* The heir's data, when the table came back to its client (include/etsmgr.h). */
    for (shmets_list_begin(a[3], &it); shmets_list_next(&it, &opt) == 1;) {
        uint32_t pid;
        shmets_term data;
        shmets_tab *t;
        if (heir_arg(opt, &pid, &data) == 0 && pid && pid != (uint32_t)getpid() &&
            shmets_attach_term(s->db, tab, &t) == 0) {
            etsmgr_setopts_heir(s->db, shmets_id(t), (pid_t)pid, &data);
            shmets_detach(t);
        }
    }
    return 0;
}

static int op_mgr_add_table(struct script *s, const shmets_term *a, struct result *r)
{
    int rc = inst_arg(s, a[0]);
    return rc ? rc : mgr_request(s, "add_table", a + 1, 2, &r->term);
}

static int op_mgr_del_table(struct script *s, const shmets_term *a, struct result *r)
{
    int rc = inst_arg(s, a[0]);
    return rc ? rc : mgr_request(s, "del_table", a + 1, 1, &r->term);
}

static int op_mgr_info(struct script *s, const shmets_term *a, struct result *r)
{
    int rc = inst_arg(s, a[0]);
    rc = rc ? rc : mgr_conn(s);
    return rc ? rc : etsmgr_info(script_mgr, &r->term);
}

static int op_give_away(struct script *s, const shmets_term *a, struct result *r)
{
    shmets_term reply;
    int rc = mgr_request(s, "give_away", a, 3, &reply);
    if (rc)
        return rc;
    bool ok = atom_is(reply, "true");
    shmets_term_free(&reply);
    if (!ok)
        return -SHMETS_EINVAL;          /* ETS: badarg */
    mgr_forget(s, a[0]);
    return res_bool(r, true);
}

static int op_self(struct script *s, const shmets_term *a, struct result *r)
{
    (void)s;
    (void)a;
    shmets_builder *b;
    int rc = shmets_builder_create(&b);
    if (rc)
        return rc;
    shmets_build_pid(b, (uint32_t)getpid());
    rc = shmets_builder_finish(b, &r->term);
    shmets_builder_destroy(b);
    return rc;
}

static int ms_arg(shmets_term t, int *ms)
{
    int64_t v;
    if (shmets_term_get_int64(t, &v) || v < 0 || v > 24 * 3600 * 1000)
        return -SHMETS_ETYPE;
    *ms = (int)v;
    return 0;
}

static int op_receive(struct script *s, const shmets_term *a, struct result *r)
{
    int ms, rc = ms_arg(a[0], &ms);
    if (rc || (rc = mgr_conn(s)))
        return rc;
    rc = etsmgr_next_event(script_mgr, ms, &r->term);
    if (rc == -SHMETS_EAGAIN) {
        r->text = "timeout";
        return 0;
    }
    size_t n;
    shmets_term tag, tab;
    if (!rc && shmets_term_tuple_arity(r->term, &n) == 0 && n == 4 && shmets_term_tuple_element(r->term, 1, &tag) == 0 &&
        atom_is(tag, "ETS-TRANSFER") && shmets_term_tuple_element(r->term, 2, &tab) == 0)
        mgr_forget(s, tab);
    if (rc) {
        s->fatal = true;
        snprintf(s->msg, sizeof s->msg, "receive: %s", shmets_errdetail());
    }
    return rc;
}

static int op_sleep(struct script *s, const shmets_term *a, struct result *r)
{
    (void)s;
    int ms, rc = ms_arg(a[0], &ms);
    if (rc)
        return rc;
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) && errno == EINTR && !got_signal)
        ;
    r->text = "ok";
    return 0;
}

/* The calls of this file, for run_call (script.c). */
const struct call_def script_mgr_calls[] = {
    { "etsmgr", "new_table", 4, op_mgr_new_table },
    { "etsmgr", "add_table", 3, op_mgr_add_table },
    { "etsmgr", "del_table", 2, op_mgr_del_table },
    { "etsmgr", "info", 1, op_mgr_info },
    { "ets", "give_away", 3, op_give_away },
    { "erlang", "self", 0, op_self },
    { "shmets", "receive", 1, op_receive },
    { "shmets", "sleep", 1, op_sleep },
    { NULL, NULL, 0, NULL },
};


/* Drop the connection to etsmgr, if one was made (at the end of a run). */
void script_mgr_drop(void)
{
    /* The daemon this run started for its own instance has nothing left to do: stop it (the
     * instance is destroyed next; the daemon would see that too, within a second).  A daemon
     * of a named instance stays: the run's tables still need it when this process exits (an
     * heir inherits, a managed table is kept); started by autostart, it exits when idle. */
    if (script_mgr && script_temp && etsmgr_autostarted(script_mgr))
        etsmgr_stop(script_mgr);
    etsmgr_disconnect(script_mgr);
    script_mgr = NULL;
}
