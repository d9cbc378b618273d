/*
 * shmets_nif.c — the NIF behind erlang/src/shmets.erl: ETS calls on shmets tables.
 *
 * Built against the library's public headers only (shmets.h, etsmgr.h).
 *
 * TERMS
 * -----
 * T.1  An argument goes to the library as ETF: enif_term_to_binary, then shmets_term_from_etf,
 *      which validates and canonicalises it like any other input (DESIGN §2).  A result is
 *      canonical ETF already: enif_binary_to_term on its bytes (after the version byte 131).
 * T.2  Errors: the codes with which the library answers where ETS raises badarg (EINVAL,
 *      ETYPE, ERANGE, EBADPOS, ENOKEY, EEXIST, ENOENT, EOWNER, EACCES, as tools/script.c's
 *      R.2) raise badarg; any other raises error:{shmets_error, Code, Detail} (Code the
 *      error's atom, e.g. enomem), which ETS would never raise, so it is not passed off as one.
 *
 * TABLES AND HANDLES
 * ------------------
 * H.1  A table handle is a resource (TAB) wrapping one shmets_tab and a reference on its
 *      instance's resource (DB).  An unnamed table's term is the resource itself (a reference,
 *      as ETS's tids are); a named table's term is its name, resolved on every call through
 *      the node's lock-free name map (namemap.c, liburcu's rculfhash).  A handle that nothing
 *      refers to any more is detached when the resource is garbage-collected.
 * H.2  The map holds named tables the node made or attached, and every table an Erlang
 *      process of this node owns (by id, so that the owner's exit finds the resource alive).
 *      When a named table's handle finds its table gone (deleted by another OS process) and
 *      another table of that name exists, the name is resolved again, once, as ets does for a
 *      name moved to a new table.
 * H.3  Deleting through a resource that other terms may still use cannot free the
 *      shmets_tab under them: delete/1 attaches a second handle and deletes through it; the
 *      resource's handle then answers ENOENT (badarg) until it is collected.
 *
 * OWNERSHIP (two worlds)
 * ----------------------
 * O.1  etsmgr and every C process see the BEAM OS process as the owner of the tables the node
 *      makes (pid <0.OSPID.0> in their terms).  Inside the node the NIF tracks the Erlang
 *      owner: a monitor on the owning process, held by the table's resource.
 * O.2  When the owner exits: an Erlang heir that is alive becomes the owner and receives
 *      {'ETS-TRANSFER', Tab, DeadOwner, HeirData}; an heir in another OS process ({os_pid, N})
 *      is given the table through etsmgr (etsmgr_give_away), which sends it the same message;
 *      otherwise the table is deleted — ETS's rules.
 * O.3  An OS-process heir is also recorded in the table itself (shmets_set_heir), so that a
 *      node killed outright hands its tables on through etsmgr as any dead process does.  An
 *      Erlang heir is not (it dies with the node).
 * O.4  ETS-TRANSFERs that etsmgr sends to the BEAM OS process (a C owner died with the node as
 *      heir; a C process gave the node a table) go to the instance's receiver, set by
 *      shmets:open/2's {receiver, Pid}: a small Erlang process polls the etsmgr connection
 *      with enif_select, attaches the table again (with owner rights), makes the receiver its
 *      Erlang owner and forwards {'ETS-TRANSFER', Tab, {os_pid, N}, Data}.
 * O.5  Pids: a C process appears to Erlang as {os_pid, N}; an Erlang process appears to C
 *      processes as the BEAM's OS pid, <0.OSPID.0>.
 *
 * SCHEDULING
 * ----------
 * S.1  Calls whose work depends on the table's size (tab2list, the select and match family,
 *      delete_all_objects) or on the argument's (insert of a long list) move to a dirty CPU
 *      scheduler (enif_schedule_nif) when the table has more than DIRTY_OBJECTS objects or
 *      the list more than DIRTY_OBJECTS elements; file calls always run on a dirty I/O
 *      scheduler.  Point calls (lookup, insert of one object, ...) are short: a lookup is a
 *      few hundred nanoseconds plus the copy of its result.
 */
#include "shmets_nif.h"
#include "namemap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DIRTY_OBJECTS 2000
#define ATOM_BUF (SHMETS_ATOM_MAX_CHARS * 4 + 1)

static ErlNifResourceType *DB_RT, *TAB_RT;
static ERL_NIF_TERM A_OK, A_ERROR, A_TRUE, A_FALSE, A_UNDEFINED, A_EOT, A_TRANSFER, A_OS_PID,
    A_SHMETS_ERROR, A_NONE, A_SHMETS_CONT, A_PID, A_OS;

/* ---- terms (T.1) ------------------------------------------------------------------------ */

/* T.1's fast path for the commonest keys — small integers, Latin-1 atoms, short binaries —
 * written as ETF by hand into buf (the library validates and canonicalises it all the same);
 * 0 if t is none of those. */
static size_t quick_etf(ErlNifEnv *env, ERL_NIF_TERM t, unsigned char *buf, size_t cap)
{
    int i;
    ErlNifBinary b;
    buf[0] = 131;
    if (enif_get_int(env, t, &i)) {
        if (i >= 0 && i < 256) {
            buf[1] = 97;
            buf[2] = (unsigned char)i;
            return 3;
        }
        uint32_t u = (uint32_t)i;
        buf[1] = 98;
        buf[2] = (unsigned char)(u >> 24);
        buf[3] = (unsigned char)(u >> 16);
        buf[4] = (unsigned char)(u >> 8);
        buf[5] = (unsigned char)u;
        return 6;
    }
    if (enif_is_atom(env, t)) {
        int n = enif_get_atom(env, t, (char *)buf + 3, (unsigned)(cap - 3), ERL_NIF_LATIN1);
        if (n <= 0 || n - 1 > 255)
            return 0;                   /* not Latin-1, or long: the general path */
        buf[1] = 115;                   /* SMALL_ATOM_EXT, Latin-1 */
        buf[2] = (unsigned char)(n - 1);
        return (size_t)(n - 1) + 3;
    }
    if (enif_is_binary(env, t) && enif_inspect_binary(env, t, &b) && b.size + 6 <= cap) {
        buf[1] = 109;
        buf[2] = (unsigned char)(b.size >> 24);
        buf[3] = (unsigned char)(b.size >> 16);
        buf[4] = (unsigned char)(b.size >> 8);
        buf[5] = (unsigned char)b.size;
        memcpy(buf + 6, b.data, b.size);
        return b.size + 6;
    }
    return 0;
}

static int to_term(ErlNifEnv *env, ERL_NIF_TERM t, shmets_term *out)
{
    unsigned char quick[512];
    size_t n = quick_etf(env, t, quick, sizeof quick);
    if (n)
        return shmets_term_from_etf(quick, n, 0, out);
    ErlNifBinary b;
    if (!enif_term_to_binary(env, t, &b))
        return -SHMETS_ENOMEM;
    int rc = shmets_term_from_etf(b.data, b.size, 0, out);
    enif_release_binary(&b);
    return rc;
}

static int mk(ErlNifEnv *env, shmets_term t, ERL_NIF_TERM *out)
{
    unsigned char stack[512];
    unsigned char *buf = t.len + 1 <= sizeof stack ? stack : enif_alloc(t.len + 1);
    if (!buf)
        return -SHMETS_ENOMEM;
    buf[0] = 131;
    memcpy(buf + 1, t.ptr, t.len);
    size_t n = enif_binary_to_term(env, buf, t.len + 1, out, 0);
    if (buf != stack)
        enif_free(buf);
    return n ? 0 : -SHMETS_EBADTERM;    /* e.g. a C process's pid <0.N.0>, N >= 32768 */
}

/* mk, then free t. */
static int mk_free(ErlNifEnv *env, shmets_term *t, ERL_NIF_TERM *out)
{
    int rc = t->ptr ? mk(env, *t, out) : (*out = A_EOT, 0);
    shmets_term_free(t);
    return rc;
}

/* An atom's text as UTF-8, NUL-terminated (OTP 25's enif_get_atom knows Latin-1 only):
 * > 0 on success, 0 if t is not an atom or does not fit. */
static int atom_text(ErlNifEnv *env, ERL_NIF_TERM t, char *buf, size_t cap)
{
    shmets_term a;
    const char *p;
    size_t n;
    if (!enif_is_atom(env, t) || to_term(env, t, &a))
        return 0;
    int ok = shmets_term_get_atom(a, &p, &n) == 0 && n < cap;
    if (ok) {
        memcpy(buf, p, n);
        buf[n] = 0;
    }
    shmets_term_free(&a);
    return ok ? (int)n + 1 : 0;
}

/* The atom of UTF-8 text. */
static int make_atom(ErlNifEnv *env, const char *text, ERL_NIF_TERM *out)
{
    shmets_builder *b;
    shmets_term t;
    int rc = shmets_builder_create(&b);
    if (rc)
        return rc;
    shmets_build_atom(b, text, strlen(text));
    rc = shmets_builder_finish(b, &t);
    shmets_builder_destroy(b);
    return rc ? rc : mk_free(env, &t, out);
}

static bool is_badarg(int rc)
{
    switch (-rc) {
    case SHMETS_EINVAL: case SHMETS_ETYPE: case SHMETS_ERANGE: case SHMETS_EBADPOS:
    case SHMETS_ENOKEY: case SHMETS_EEXIST: case SHMETS_ENOENT: case SHMETS_EOWNER:
    case SHMETS_EACCES: case SHMETS_EBADTERM:
        return true;
    }
    return false;
}

static const char *code_name(int rc)
{
    static const char *names[SHMETS_ECOUNT] = {
        "ok", "einval", "enomem", "ebadterm", "etoodeep", "etoobig", "esyntax", "etype",
        "erange", "ebadpos", "ebuild", "eexist", "enoent", "eacces", "ebadseg", "eversion",
        "esys", "eagain", "eowner", "enokey", "ebadfile"};
    int c = rc < 0 ? -rc : rc;
    return c < SHMETS_ECOUNT ? names[c] : "unknown";
}

/* T.2 */
static ERL_NIF_TERM fail(ErlNifEnv *env, int rc)
{
    if (is_badarg(rc))
        return enif_make_badarg(env);
    const char *d = shmets_errdetail();
    char msg[512];
    snprintf(msg, sizeof msg, "%s%s%s", shmets_strerror(rc), *d ? ": " : "", d);
    return enif_raise_exception(env, enif_make_tuple3(env, A_SHMETS_ERROR, enif_make_atom(env, code_name(rc)),
                                                      enif_make_string(env, msg, ERL_NIF_LATIN1)));
}

static ERL_NIF_TERM err_tuple(ErlNifEnv *env, int rc)
{
    return enif_make_tuple2(env, A_ERROR, enif_make_atom(env, code_name(rc)));
}

static bool is_dirty(void)
{
    int t = enif_thread_type();
    return t == ERL_NIF_THR_DIRTY_CPU_SCHEDULER || t == ERL_NIF_THR_DIRTY_IO_SCHEDULER;
}

/* ---- instances ---------------------------------------------------------------------------- */

static void db_dtor(ErlNifEnv *env, void *obj)
{
    (void)env;
    dbres *d = obj;
    if (d->mgr)
        etsmgr_disconnect(d->mgr);
    if (d->db)
        shmets_close(d->db);
    if (d->lock)
        enif_mutex_destroy(d->lock);
}

static void db_stop(ErlNifEnv *env, void *obj, ErlNifEvent e, int is_direct_call)
{
    (void)env; (void)obj; (void)e; (void)is_direct_call;   /* the fd is etsmgr's to close */
}

static int get_db(ErlNifEnv *env, ERL_NIF_TERM t, dbres **d)
{
    if (!enif_get_resource(env, t, DB_RT, (void **)d) || __atomic_load_n(&(*d)->closed, __ATOMIC_ACQUIRE))
        return -SHMETS_EINVAL;
    return 0;
}

/* The node's etsmgr connection for d, made on first use (d->lock held). */
static int db_mgr_locked(dbres *d, etsmgr **m)
{
    int rc = 0;
    if (!d->mgr)
        rc = etsmgr_connect(d->db, NULL, &d->mgr);
    *m = d->mgr;
    return rc;
}

/* ---- table resources ------------------------------------------------------------------------ */

static void tab_dtor(ErlNifEnv *env, void *obj)
{
    (void)env;
    tabres *r = obj;
    if (r->t)
        shmets_detach(r->t);
    if (r->heir_env)
        enif_free_env(r->heir_env);
    if (r->lock)
        enif_mutex_destroy(r->lock);
    if (r->db)
        enif_release_resource(r->db);
}

static void tab_down(ErlNifEnv *env, void *obj, ErlNifPid *pid, ErlNifMonitor *mon);

/* A resource for handle t (taken over) of instance d: one reference, the caller's. */
static int tab_make(dbres *d, shmets_tab *t, tabres **out)
{
    shmets_tab_info info;
    int rc = shmets_info(t, &info);
    if (rc) {
        shmets_detach(t);
        return rc;
    }
    tabres *r = enif_alloc_resource(TAB_RT, sizeof *r);
    if (!r) {
        shmets_detach(t);
        return -SHMETS_ENOMEM;
    }
    memset(r, 0, sizeof *r);
    r->lock = enif_mutex_create("shmets_tab");
    r->db = d;
    enif_keep_resource(d);
    r->t = t;
    r->id = info.id;
    r->named = info.named;
    r->kind = info.kind;
    r->access = info.access;
    r->keypos = info.keypos;
    {
        /* atoms live in every env: make it in a scratch env */
        ErlNifEnv *e = enif_alloc_env();
        if (make_atom(e, info.name, &r->name))
            r->name = enif_make_atom(e, "");
        enif_free_env(e);
    }
    *out = r;
    return 0;
}

static ERL_NIF_TERM tab_term(ErlNifEnv *env, tabres *r)
{
    return r->named ? r->name : enif_make_resource(env, r);
}

/* Register r in the name map (H.2): by name if named, by id if owned here. */
static void tab_register(tabres *r)
{
    if (r->named)
        namemap_put(NM_NAME, (uint64_t)r->name, r);
    if (r->local)
        namemap_put(NM_ID, r->id, r);
}

static void tab_unregister(tabres *r)
{
    if (r->named)
        namemap_del(NM_NAME, (uint64_t)r->name, r);
    namemap_del(NM_ID, r->id, r);
}

/* Resolve a table term to a resource, with a reference the caller releases. */
static int get_tab(ErlNifEnv *env, ERL_NIF_TERM t, tabres **r, bool *by_name)
{
    *by_name = false;
    if (enif_get_resource(env, t, TAB_RT, (void **)r)) {
        enif_keep_resource(*r);
        return 0;
    }
    if (enif_is_atom(env, t) && (*r = namemap_get(NM_NAME, (uint64_t)t))) {
        *by_name = true;
        return 0;
    }
    return -SHMETS_ENOENT;
}

/* The Erlang side of protection (O.1): for tables owned here, the owner rule between Erlang
 * processes; the library enforces it between OS processes. */
static int access_check(ErlNifEnv *env, tabres *r, bool write)
{
    if (__atomic_load_n(&r->db->closed, __ATOMIC_ACQUIRE))
        return -SHMETS_ENOENT;
    if (r->access == SHMETS_PUBLIC || (r->access == SHMETS_PROTECTED && !write))
        return 0;
    int rc = 0;
    enif_mutex_lock(r->lock);
    if (r->local) {
        ErlNifPid self;
        if (!enif_self(env, &self) || enif_compare_pids(&self, &r->owner) != 0)
            rc = -SHMETS_EOWNER;
    }
    enif_mutex_unlock(r->lock);
    return rc;
}

static bool is_owner(ErlNifEnv *env, tabres *r)
{
    ErlNifPid self;
    return r->local && enif_self(env, &self) && enif_compare_pids(&self, &r->owner) == 0;
}

/* Monitor pid as r's new local owner (r->lock held). */
static void set_owner_locked(ErlNifEnv *env, tabres *r, const ErlNifPid *pid)
{
    if (r->monitored)
        enif_demonitor_process(env, r, &r->mon);
    r->owner = *pid;
    r->local = true;
    r->monitored = enif_monitor_process(env, r, pid, &r->mon) == 0;
}

/* Delete r's table through a second handle (H.3). */
static int tab_delete(tabres *r)
{
    shmets_tab *t2;
    int rc = shmets_attach(r->db->db, r->id, &t2);
    if (!rc)
        rc = shmets_delete(t2);
    return rc;
}

static void send_transfer(ErlNifEnv *env, tabres *r, const ErlNifPid *to, ERL_NIF_TERM from_in,
                          ErlNifEnv *from_env, ERL_NIF_TERM data_in, ErlNifEnv *data_env)
{
    (void)from_env; (void)data_env;
    ErlNifEnv *me = enif_alloc_env();
    ERL_NIF_TERM msg = enif_make_tuple4(me, A_TRANSFER, tab_term(me, r), enif_make_copy(me, from_in),
                                        enif_make_copy(me, data_in));
    enif_send(env, to, me, msg);
    enif_free_env(me);
}

/* O.2: the Erlang owner exited. */
static void tab_down(ErlNifEnv *env, void *obj, ErlNifPid *pid, ErlNifMonitor *mon)
{
    tabres *r = obj;
    enif_mutex_lock(r->lock);
    if (!r->local || !r->monitored || enif_compare_monitors(mon, &r->mon) != 0 || r->deleted) {
        enif_mutex_unlock(r->lock);
        return;
    }
    r->monitored = false;
    ErlNifPid dead = *pid;
    ErlNifEnv *scratch = enif_alloc_env();
    ERL_NIF_TERM data = r->heir_env ? enif_make_copy(scratch, r->heir_data) : enif_make_list(scratch, 0);
    if (r->heir_kind == HEIR_PID && enif_compare_pids(&r->heir, &dead) != 0) {
        set_owner_locked(env, r, &r->heir);
        if (r->monitored) {
            ErlNifPid heir = r->heir;
            r->heir_kind = HEIR_NONE;           /* as ETS: the heir does not stay heir */
            enif_mutex_unlock(r->lock);
            send_transfer(env, r, &heir, enif_make_pid(scratch, &dead), scratch, data, scratch);
            enif_free_env(scratch);
            return;
        }
    }
    if (r->heir_kind == HEIR_OS) {
        etsmgr *m;
        shmets_term gift = {0};
        int rc;
        enif_mutex_lock(r->db->lock);
        rc = db_mgr_locked(r->db, &m);
        enif_mutex_unlock(r->db->lock);
        if (!rc && !(rc = to_term(scratch, data, &gift)))
            rc = etsmgr_give_away(m, r->id, (pid_t)r->heir_os, gift);
        shmets_term_free(&gift);
        if (!rc) {
            r->local = false;
            enif_mutex_unlock(r->lock);
            enif_free_env(scratch);
            namemap_del(NM_ID, r->id, r);
            return;
        }
    }
    r->local = false;
    r->deleted = true;
    enif_mutex_unlock(r->lock);
    enif_free_env(scratch);
    tab_delete(r);
    tab_unregister(r);
}

/* ---- running a call on a table ------------------------------------------------------------- */

typedef int (*tab_op)(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out);

/* Resolve argv[0], check access, run op; H.2's one retry by name. */
static ERL_NIF_TERM run(ErlNifEnv *env, const ERL_NIF_TERM argv[], bool write, tab_op op)
{
    tabres *r;
    bool by_name;
    ERL_NIF_TERM out;
    int rc = get_tab(env, argv[0], &r, &by_name);
    if (rc)
        return fail(env, rc);
    rc = access_check(env, r, write);
    if (!rc)
        rc = op(env, r, argv, &out);
    if (rc == -SHMETS_ENOENT && by_name && !r->local) {
        shmets_tab *t;
        char name[ATOM_BUF];
        tabres *r2;
        if (atom_text(env, argv[0], name, sizeof name) > 0 &&
            shmets_attach_name(r->db->db, name, &t) == 0 && shmets_id(t) != r->id &&
            tab_make(r->db, t, &r2) == 0) {
            tab_register(r2);
            enif_release_resource(r);
            r = r2;
            rc = access_check(env, r, write);
            if (!rc)
                rc = op(env, r, argv, &out);
        }
    }
    enif_release_resource(r);
    return rc ? fail(env, rc) : out;
}

/* Objects in the table, for S.1's choice (0 if it cannot be told). */
static uint64_t tab_size(ErlNifEnv *env, ERL_NIF_TERM t)
{
    tabres *r;
    bool by_name;
    uint64_t n = 0;
    if (get_tab(env, t, &r, &by_name) == 0) {
        shmets_size(r->t, &n);
        enif_release_resource(r);
    }
    return n;
}

#define DIRTY_IF(cond, name)                                                                  \
    do {                                                                                      \
        if (!is_dirty() && (cond))                                                            \
            return enif_schedule_nif(env, #name, ERL_NIF_DIRTY_JOB_CPU_BOUND, nif_##name, argc, argv); \
    } while (0)

static bool long_list(ErlNifEnv *env, ERL_NIF_TERM l)
{
    unsigned n;
    return enif_is_list(env, l) && enif_get_list_length(env, l, &n) && n > DIRTY_OBJECTS;
}

/* ---- instance calls ----------------------------------------------------------------------- */

static ERL_NIF_TERM nif_open(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    ErlNifBinary b;
    char inst[72];
    if (!enif_inspect_binary(env, argv[0], &b) || b.size == 0 || b.size >= sizeof inst)
        return enif_make_badarg(env);
    memcpy(inst, b.data, b.size);
    inst[b.size] = 0;
    dbres *d = enif_alloc_resource(DB_RT, sizeof *d);
    if (!d)
        return fail(env, -SHMETS_ENOMEM);
    memset(d, 0, sizeof *d);
    memcpy(d->inst, inst, b.size + 1);
    d->lock = enif_mutex_create("shmets_db");
    int rc = shmets_open(inst, &d->db);
    if (rc) {
        enif_release_resource(d);
        return rc == -SHMETS_EINVAL ? enif_make_badarg(env) : err_tuple(env, rc);
    }
    ERL_NIF_TERM t = enif_make_resource(env, d);
    enif_release_resource(d);
    return enif_make_tuple2(env, A_OK, t);
}

static bool of_db(void *res, void *arg)
{
    tabres *r = res;
    return r->db == arg && !r->local;
}

static ERL_NIF_TERM nif_close(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    dbres *d;
    if (get_db(env, argv[0], &d))
        return enif_make_badarg(env);
    __atomic_store_n(&d->closed, 1, __ATOMIC_RELEASE);
    enif_mutex_lock(d->lock);
    if (d->selecting && d->mgr)
        enif_select(env, (ErlNifEvent)etsmgr_fd(d->mgr), ERL_NIF_SELECT_STOP, d, NULL, A_UNDEFINED);
    d->selecting = false;
    if (d->has_receiver) {
        ErlNifEnv *me = enif_alloc_env();
        enif_send(env, &d->inbox, me, enif_make_atom(me, "stop"));
        enif_free_env(me);
        d->has_receiver = false;
    }
    enif_mutex_unlock(d->lock);
    namemap_del_if(of_db, d);
    return A_OK;
}

/* One etsmgr message for this OS process (O.4), forwarded to the receiver. */
static void handle_event(ErlNifEnv *env, dbres *d, shmets_term msg)
{
    size_t n;
    shmets_term tag, tab, from, data;
    const char *a;
    size_t alen;
    ERL_NIF_TERM out;
    ErlNifEnv *me = enif_alloc_env();
    if (shmets_term_tuple_arity(msg, &n) == 0 && n == 4 && shmets_term_tuple_element(msg, 1, &tag) == 0 &&
        shmets_term_get_atom(tag, &a, &alen) == 0 && alen == 12 && memcmp(a, "ETS-TRANSFER", 12) == 0) {
        shmets_term_tuple_element(msg, 2, &tab);
        shmets_term_tuple_element(msg, 3, &from);
        shmets_term_tuple_element(msg, 4, &data);
        shmets_tab *t;
        tabres *r;
        uint32_t num, serial;
        shmets_term node;
        ERL_NIF_TERM f, dt;
        if (shmets_term_get_pid(from, &num, &serial, &node) == 0)
            f = enif_make_tuple2(me, A_OS_PID, enif_make_uint(me, num));
        else if (mk(me, from, &f))
            f = A_UNDEFINED;
        if (mk(me, data, &dt))
            dt = enif_make_binary(me, &(ErlNifBinary){0});
        if (shmets_attach_term(d->db, tab, &t) == 0 && tab_make(d, t, &r) == 0) {
            enif_mutex_lock(r->lock);
            set_owner_locked(env, r, &d->receiver);
            bool alive = r->monitored;
            if (!alive) {                       /* the receiver is gone: as ETS, no owner */
                r->local = false;
                r->deleted = true;
            }
            enif_mutex_unlock(r->lock);
            if (alive) {
                tab_register(r);
            } else {
                tab_delete(r);
                tab_unregister(r);
            }
            out = enif_make_tuple4(me, A_TRANSFER, tab_term(me, r), f, dt);
            enif_release_resource(r);
        } else {
            out = enif_make_tuple2(me, enif_make_atom(me, "shmets_event"), mk(me, msg, &dt) ? A_UNDEFINED : dt);
        }
    } else {
        if (mk(me, msg, &out))
            out = A_UNDEFINED;
        out = enif_make_tuple2(me, enif_make_atom(me, "shmets_event"), out);
    }
    enif_send(env, &d->receiver, me, out);
    enif_free_env(me);
}

/* mgr_events(Db): drain etsmgr's messages, then wait for more (enif_select to the caller). */
static ERL_NIF_TERM nif_mgr_events(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    dbres *d;
    shmets_term msg;
    if (get_db(env, argv[0], &d))
        return enif_make_badarg(env);
    enif_mutex_lock(d->lock);
    if (!d->mgr || !d->has_receiver) {
        enif_mutex_unlock(d->lock);
        return enif_make_badarg(env);
    }
    int rc;
    while ((rc = etsmgr_next_event(d->mgr, 0, &msg)) == 0) {
        handle_event(env, d, msg);
        shmets_term_free(&msg);
    }
    int fd = etsmgr_fd(d->mgr);
    d->selecting = fd >= 0 && enif_select(env, (ErlNifEvent)fd, ERL_NIF_SELECT_READ, d, NULL, A_UNDEFINED) >= 0;
    enif_mutex_unlock(d->lock);
    return d->selecting ? A_OK : err_tuple(env, rc == -SHMETS_EAGAIN ? -SHMETS_ESYS : rc);
}

/* set_receiver(Db, Pid): connect to etsmgr; Pid receives this OS process's messages. */
static ERL_NIF_TERM nif_set_receiver(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    dbres *d;
    ErlNifPid pid;
    etsmgr *m;
    if (get_db(env, argv[0], &d) || !enif_get_local_pid(env, argv[1], &pid))
        return enif_make_badarg(env);
    enif_mutex_lock(d->lock);
    int rc = db_mgr_locked(d, &m);
    if (!rc) {
        d->receiver = pid;
        enif_self(env, &d->inbox);
        d->has_receiver = true;
    }
    enif_mutex_unlock(d->lock);
    return rc ? err_tuple(env, rc) : A_OK;
}

/* ---- new, attach, delete ------------------------------------------------------------------- */

/* HeirSpec: none | {pid, Pid, Data} | {os, N, Data}, split out of the options by shmets.erl. */
static int heir_arg(ErlNifEnv *env, ERL_NIF_TERM spec, int *kind, ErlNifPid *pid, uint32_t *os, ERL_NIF_TERM *data)
{
    int n;
    const ERL_NIF_TERM *el;
    if (enif_is_identical(spec, A_NONE)) {
        *kind = HEIR_NONE;
        return 0;
    }
    if (!enif_get_tuple(env, spec, &n, &el) || n != 3)
        return -SHMETS_ETYPE;
    *data = el[2];
    if (enif_is_identical(el[0], A_PID) && enif_get_local_pid(env, el[1], pid)) {
        *kind = HEIR_PID;
        return 0;
    }
    if (enif_is_identical(el[0], A_OS) && enif_get_uint(env, el[1], os) && *os > 0) {
        *kind = HEIR_OS;
        return 0;
    }
    return -SHMETS_ETYPE;
}

/* Record the heir in r (r->lock held); an OS heir also in the table (O.3). */
static int set_heir_locked(tabres *r, int kind, const ErlNifPid *pid, uint32_t os, ErlNifEnv *env, ERL_NIF_TERM data)
{
    int rc = 0;
    if (kind == HEIR_OS || r->heir_kind == HEIR_OS) {
        shmets_term d = {0};
        if (kind == HEIR_OS && (rc = to_term(env, data, &d)))
            return rc;
        rc = shmets_set_heir(r->t, kind == HEIR_OS ? os : 0, kind == HEIR_OS ? &d : NULL);
        shmets_term_free(&d);
        if (rc)
            return rc;
    }
    if (r->heir_env)
        enif_clear_env(r->heir_env);
    else
        r->heir_env = enif_alloc_env();
    r->heir_kind = kind;
    if (pid)
        r->heir = *pid;
    r->heir_os = os;
    r->heir_data = kind == HEIR_NONE ? enif_make_list(r->heir_env, 0) : enif_make_copy(r->heir_env, data);
    return 0;
}

/* new_nif(Db, Name, Opts, HeirSpec) */
static ERL_NIF_TERM nif_new(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    dbres *d;
    char name[ATOM_BUF];
    shmets_term opts_t = {0};
    shmets_opts o;
    int hk;
    ErlNifPid hpid;
    uint32_t hos = 0;
    ERL_NIF_TERM hdata = 0;
    shmets_tab *t;
    tabres *r;
    int rc = get_db(env, argv[0], &d);
    if (rc || atom_text(env, argv[1], name, sizeof name) <= 0 ||
        heir_arg(env, argv[3], &hk, &hpid, &hos, &hdata))
        return enif_make_badarg(env);
    shmets_opts_init(&o);
    if ((rc = to_term(env, argv[2], &opts_t)) || (rc = shmets_opts_from_term(opts_t, &o)))
        goto out;
    if ((rc = shmets_new(d->db, name, &o, &t)) || (rc = tab_make(d, t, &r)))
        goto out;
    ErlNifPid self;
    enif_self(env, &self);
    enif_mutex_lock(r->lock);
    set_owner_locked(env, r, &self);
    if (hk != HEIR_NONE)          /* as ETS, the owner itself may be named (it never inherits) */
        rc = set_heir_locked(r, hk, &hpid, hos, env, hdata);
    enif_mutex_unlock(r->lock);
    tab_register(r);
    ERL_NIF_TERM out = tab_term(env, r);
    if (rc) {
        tab_delete(r);
        tab_unregister(r);
    }
    enif_release_resource(r);
    shmets_term_free(&opts_t);
    return rc ? fail(env, rc) : out;
out:
    shmets_term_free(&opts_t);
    return fail(env, rc);
}

/* attach_nif(Db, NameOrId) -> {ok, Tab} | {error, Reason} */
static ERL_NIF_TERM nif_attach(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    dbres *d;
    char name[ATOM_BUF];
    ErlNifUInt64 id;
    shmets_tab *t;
    tabres *r;
    int rc;
    if (get_db(env, argv[0], &d))
        return enif_make_badarg(env);
    if (atom_text(env, argv[1], name, sizeof name) > 0) {
        rc = shmets_attach_name(d->db, name, &t);
    } else if (enif_get_uint64(env, argv[1], &id)) {
        if ((r = namemap_get(NM_ID, id)) && r->db == d) {       /* owned here: the same resource */
            ERL_NIF_TERM out = enif_make_tuple2(env, A_OK, tab_term(env, r));
            enif_release_resource(r);
            return out;
        }
        if (r)
            enif_release_resource(r);
        rc = shmets_attach(d->db, id, &t);
    } else {
        return enif_make_badarg(env);
    }
    if (!rc)
        rc = tab_make(d, t, &r);
    if (rc)
        return err_tuple(env, rc);
    if (r->named) {
        tabres *old = namemap_get(NM_NAME, (uint64_t)r->name);
        if (old && old->id == r->id && old->db == d) {          /* keep the one we have */
            enif_release_resource(r);
            r = old;
        } else {
            if (old)
                enif_release_resource(old);
            tab_register(r);
        }
    }
    ERL_NIF_TERM out = enif_make_tuple2(env, A_OK, tab_term(env, r));
    enif_release_resource(r);
    return out;
}

static int op_id(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    (void)argv;
    *out = enif_make_uint64(env, r->id);
    return 0;
}

static ERL_NIF_TERM nif_id(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    return run(env, argv, false, op_id);
}

static int op_delete1(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    (void)argv;
    if (r->access != SHMETS_PUBLIC && r->local && !is_owner(env, r))
        return -SHMETS_EOWNER;
    int rc = tab_delete(r);
    if (rc)
        return rc;
    enif_mutex_lock(r->lock);
    if (r->monitored)
        enif_demonitor_process(env, r, &r->mon);
    r->monitored = false;
    r->local = false;
    r->deleted = true;
    enif_mutex_unlock(r->lock);
    tab_unregister(r);
    *out = A_TRUE;
    return 0;
}

static ERL_NIF_TERM nif_delete1(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    return run(env, argv, true, op_delete1);
}

/* ---- point calls ------------------------------------------------------------------------ */

/* op with one term argument (argv[1]) converted. */
#define WITH_ARG1(x)                                                                          \
    shmets_term x;                                                                            \
    int rc = to_term(env, argv[1], &x);                                                       \
    if (rc)                                                                                   \
        return rc;

static int op_insert(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    WITH_ARG1(o);
    rc = shmets_insert(r->t, o);
    shmets_term_free(&o);
    *out = A_TRUE;
    return rc;
}

static int op_insert_new(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    int ins = 0;
    WITH_ARG1(o);
    rc = shmets_insert_new(r->t, o, &ins);
    shmets_term_free(&o);
    *out = ins ? A_TRUE : A_FALSE;
    return rc;
}

/* lookup/2: up to LOOKUP_VIEWS objects are made straight from the table's bytes inside a read
 * section (shmets_lookup_view: no copy of the list); more, or a compressed table (whose views
 * are refused), go through the copying shmets_lookup. */
#define LOOKUP_VIEWS 8
static int op_lookup(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    shmets_term objs, views[LOOKUP_VIEWS];
    ERL_NIF_TERM els[LOOKUP_VIEWS];
    size_t n = 0;
    WITH_ARG1(k);
    if (shmets_read_begin(r->db->db) == 0) {
        rc = shmets_lookup_view(r->t, k, views, LOOKUP_VIEWS, &n);
        if (!rc && n <= LOOKUP_VIEWS)
            for (size_t i = 0; i < n && !rc; i++)
                rc = mk(env, views[i], &els[i]);
        shmets_read_end(r->db->db);
        if (!rc && n <= LOOKUP_VIEWS) {
            shmets_term_free(&k);
            *out = enif_make_list_from_array(env, els, (unsigned)n);
            return 0;
        }
    }
    rc = shmets_lookup(r->t, k, &objs);
    shmets_term_free(&k);
    return rc ? rc : mk_free(env, &objs, out);
}

static int op_member(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    int found = 0;
    WITH_ARG1(k);
    rc = shmets_member(r->t, k, &found);
    shmets_term_free(&k);
    *out = found ? A_TRUE : A_FALSE;
    return rc;
}

static int op_take(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    shmets_term objs;
    WITH_ARG1(k);
    rc = shmets_take(r->t, k, &objs);
    shmets_term_free(&k);
    return rc ? rc : mk_free(env, &objs, out);
}

static int op_delete2(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    WITH_ARG1(k);
    rc = shmets_delete_key(r->t, k);
    shmets_term_free(&k);
    *out = A_TRUE;
    return rc;
}

static int op_delete_object(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    WITH_ARG1(o);
    rc = shmets_delete_object(r->t, o);
    shmets_term_free(&o);
    *out = A_TRUE;
    return rc;
}

static int op_delete_all(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    (void)env; (void)argv;
    *out = A_TRUE;
    return shmets_delete_all_objects(r->t);
}

/* A position: a positive small integer (ETS: badarg otherwise). */
static int pos_arg(ErlNifEnv *env, ERL_NIF_TERM t, uint64_t *pos)
{
    ErlNifUInt64 p;
    if (!enif_get_uint64(env, t, &p) || p == 0 || p >= 1ull << 59)
        return -SHMETS_EBADPOS;
    *pos = p;
    return 0;
}

static int op_lookup_element(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out, bool dflt)
{
    uint64_t pos;
    shmets_term k = {0}, d = {0}, res;
    int rc = pos_arg(env, argv[2], &pos);
    if (!rc)
        rc = to_term(env, argv[1], &k);
    if (!rc && dflt)
        rc = to_term(env, argv[3], &d);
    if (!rc)
        rc = shmets_lookup_element(r->t, k, pos, dflt ? &d : NULL, &res);
    shmets_term_free(&k);
    shmets_term_free(&d);
    return rc ? rc : mk_free(env, &res, out);
}

static int op_lookup_element3(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    return op_lookup_element(env, r, argv, out, false);
}

static int op_lookup_element4(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    return op_lookup_element(env, r, argv, out, true);
}

static int op_update_counter(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out, bool dflt)
{
    shmets_term k = {0}, ops = {0}, d = {0}, res;
    int rc = to_term(env, argv[1], &k);
    if (!rc)
        rc = to_term(env, argv[2], &ops);
    if (!rc && dflt)
        rc = to_term(env, argv[3], &d);
    if (!rc)
        rc = shmets_update_counter(r->t, k, ops, dflt ? &d : NULL, &res);
    shmets_term_free(&k);
    shmets_term_free(&ops);
    shmets_term_free(&d);
    return rc ? rc : mk_free(env, &res, out);
}

static int op_update_counter3(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    return op_update_counter(env, r, argv, out, false);
}

static int op_update_counter4(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    return op_update_counter(env, r, argv, out, true);
}

static int op_update_element(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    shmets_term k = {0}, el = {0};
    int upd = 0;
    int rc = to_term(env, argv[1], &k);
    if (!rc)
        rc = to_term(env, argv[2], &el);
    if (!rc)
        rc = shmets_update_element(r->t, k, el, &upd);
    shmets_term_free(&k);
    shmets_term_free(&el);
    *out = upd ? A_TRUE : A_FALSE;
    return rc;
}

static int op_first(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    (void)argv;
    shmets_term k;
    int rc = shmets_first(r->t, &k);
    return rc ? rc : mk_free(env, &k, out);
}

static int op_last(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    (void)argv;
    shmets_term k;
    int rc = shmets_last(r->t, &k);
    return rc ? rc : mk_free(env, &k, out);
}

static int op_next(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    shmets_term n;
    WITH_ARG1(k);
    rc = shmets_next(r->t, k, &n);
    shmets_term_free(&k);
    return rc ? rc : mk_free(env, &n, out);
}

static int op_prev(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    shmets_term n;
    WITH_ARG1(k);
    rc = shmets_prev(r->t, k, &n);
    shmets_term_free(&k);
    return rc ? rc : mk_free(env, &n, out);
}

static int op_tab2list(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    (void)argv;
    shmets_term l;
    int rc = shmets_tab2list(r->t, &l);
    return rc ? rc : mk_free(env, &l, out);
}

/* ---- the select family ------------------------------------------------------------------- */

/* Compile argv[1]: a specification, or with kind a match pattern. */
static int ms_arg(ErlNifEnv *env, ERL_NIF_TERM t, enum shmets_ms_match_kind kind, shmets_ms **ms)
{
    shmets_term s, spec = {0};
    if (!kind && enif_is_empty_list(env, t)) {
        *ms = NULL;                     /* the empty specification: nothing matches */
        return 0;
    }
    int rc = to_term(env, t, &s);
    if (rc)
        return rc == -SHMETS_EBADTERM ? -SHMETS_EINVAL : rc;
    if (kind) {
        rc = shmets_ms_from_pattern(s, kind, &spec);
        shmets_term_free(&s);
        if (rc)
            return rc;
        s = spec;
    }
    rc = shmets_ms_compile(s, ms);
    shmets_term_free(&s);
    return rc;
}

static int select_common(ErlNifEnv *env, tabres *r, ERL_NIF_TERM spec, enum shmets_ms_match_kind kind,
                         bool reverse, ERL_NIF_TERM *out)
{
    shmets_ms *ms;
    shmets_term res;
    int rc = ms_arg(env, spec, kind, &ms);
    if (rc)
        return rc;
    rc = shmets_select(r->t, ms, reverse, &res);
    shmets_ms_free(ms);
    return rc ? rc : mk_free(env, &res, out);
}

static int op_select(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    return select_common(env, r, argv[1], 0, false, out);
}
static int op_select_reverse(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    return select_common(env, r, argv[1], 0, true, out);
}
static int op_match(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    return select_common(env, r, argv[1], SHMETS_MS_MATCH, false, out);
}
static int op_match_object(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    return select_common(env, r, argv[1], SHMETS_MS_MATCH_OBJECT, false, out);
}

static int op_select_count(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    shmets_ms *ms;
    uint64_t n = 0;
    int rc = ms_arg(env, argv[1], 0, &ms);
    if (rc)
        return rc;
    rc = shmets_select_count(r->t, ms, &n);
    shmets_ms_free(ms);
    *out = enif_make_uint64(env, n);
    return rc;
}

static int op_select_delete(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    shmets_ms *ms;
    uint64_t n = 0;
    int rc = ms_arg(env, argv[1], 0, &ms);
    if (rc)
        return rc;
    rc = shmets_select_delete(r->t, ms, &n);
    shmets_ms_free(ms);
    *out = enif_make_uint64(env, n);
    return rc;
}

static int op_match_delete(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    shmets_ms *ms;
    uint64_t n = 0;
    int rc = ms_arg(env, argv[1], SHMETS_MS_MATCH_DELETE, &ms);
    if (rc)
        return rc;
    rc = shmets_select_delete(r->t, ms, &n);
    shmets_ms_free(ms);
    *out = A_TRUE;
    return rc;
}

static int op_select_replace(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    shmets_ms *ms;
    uint64_t n = 0;
    int rc = ms_arg(env, argv[1], 0, &ms);
    if (rc)
        return rc;
    rc = shmets_select_replace(r->t, ms, &n);
    shmets_ms_free(ms);
    *out = enif_make_uint64(env, n);
    return rc;
}

/* A continuation: {shmets_cont, Db, Bin} with Bin the library's continuation term's bytes. */
static int cont_out(ErlNifEnv *env, dbres *d, shmets_term *res, shmets_term *cont, ERL_NIF_TERM *out)
{
    ERL_NIF_TERM l, c;
    if (!res->ptr) {
        shmets_term_free(cont);
        *out = A_EOT;
        return 0;
    }
    int rc = mk_free(env, res, &l);
    if (rc) {
        shmets_term_free(cont);
        return rc;
    }
    if (!cont->ptr) {
        c = A_EOT;
    } else {
        unsigned char *p = enif_make_new_binary(env, cont->len, &c);
        memcpy(p, cont->ptr, cont->len);
        c = enif_make_tuple3(env, A_SHMETS_CONT, enif_make_resource(env, d), c);
        shmets_term_free(cont);
    }
    *out = enif_make_tuple2(env, l, c);
    return 0;
}

static int select_limit(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out,
                        enum shmets_ms_match_kind kind, bool reverse)
{
    shmets_ms *ms;
    shmets_term res, cont;
    ErlNifUInt64 limit;
    if (!enif_get_uint64(env, argv[2], &limit) || limit == 0 || limit >= 1ull << 59)
        return -SHMETS_EINVAL;
    int rc = ms_arg(env, argv[1], kind, &ms);
    if (rc)
        return rc;
    rc = shmets_select_limit(r->t, ms, limit, reverse, &res, &cont);
    shmets_ms_free(ms);
    return rc ? rc : cont_out(env, r->db, &res, &cont, out);
}

static int op_select3(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    return select_limit(env, r, argv, out, 0, false);
}
static int op_select_reverse3(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    return select_limit(env, r, argv, out, 0, true);
}
static int op_match3(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    return select_limit(env, r, argv, out, SHMETS_MS_MATCH, false);
}
static int op_match_object3(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    return select_limit(env, r, argv, out, SHMETS_MS_MATCH_OBJECT, false);
}

/* select/1 */
static ERL_NIF_TERM nif_select1(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    int n;
    const ERL_NIF_TERM *el;
    dbres *d;
    ErlNifBinary b;
    shmets_term cont, res, next;
    ERL_NIF_TERM out;
    if (enif_is_identical(argv[0], A_EOT))
        return A_EOT;
    if (!enif_get_tuple(env, argv[0], &n, &el) || n != 3 || !enif_is_identical(el[0], A_SHMETS_CONT) ||
        get_db(env, el[1], &d) || !enif_inspect_binary(env, el[2], &b))
        return enif_make_badarg(env);
    DIRTY_IF(true, select1);
    int rc = shmets_term_from_etf(b.data, b.size, SHMETS_ETF_NO_VERSION, &cont);
    if (!rc) {
        rc = shmets_select_continue(d->db, cont, &res, &next);
        shmets_term_free(&cont);
    }
    if (!rc)
        rc = cont_out(env, d, &res, &next, &out);
    return rc ? fail(env, rc) : out;
}

/* ---- info, ownership calls ----------------------------------------------------------------- */

static ERL_NIF_TERM os_pid_term(ErlNifEnv *env, uint32_t n)
{
    return n ? enif_make_tuple2(env, A_OS_PID, enif_make_uint(env, n)) : A_NONE;
}

static const char *kind_name(enum shmets_kind k)
{
    return k == SHMETS_ORDERED_SET ? "ordered_set" : k == SHMETS_BAG ? "bag" : k == SHMETS_DUPLICATE_BAG ? "duplicate_bag" : "set";
}

static const char *access_name(enum shmets_access a)
{
    return a == SHMETS_PUBLIC ? "public" : a == SHMETS_PRIVATE ? "private" : "protected";
}

static ERL_NIF_TERM kv(ErlNifEnv *env, const char *k, ERL_NIF_TERM v)
{
    return enif_make_tuple2(env, enif_make_atom(env, k), v);
}

static ERL_NIF_TERM boolean(bool b)
{
    return b ? A_TRUE : A_FALSE;
}

/* ets:info/1's list, in ETS's order. */
static int info_list(ErlNifEnv *env, tabres *r, ERL_NIF_TERM *out)
{
    shmets_tab_info i;
    int rc = shmets_info(r->t, &i);
    if (rc)
        return rc;
    ERL_NIF_TERM owner, heir;
    enif_mutex_lock(r->lock);
    owner = r->local ? enif_make_pid(env, &r->owner) : os_pid_term(env, i.owner);
    if (r->heir_kind == HEIR_PID)
        heir = enif_make_pid(env, &r->heir);
    else
        heir = os_pid_term(env, i.heir);
    enif_mutex_unlock(r->lock);
    ERL_NIF_TERM items[] = {
        kv(env, "id", enif_make_resource(env, r)),
        kv(env, "decentralized_counters", boolean(i.decentralized_counters)),
        kv(env, "read_concurrency", boolean(i.read_concurrency)),
        kv(env, "write_concurrency", boolean(i.write_concurrency)),
        kv(env, "compressed", boolean(i.compressed)),
        kv(env, "memory", enif_make_uint64(env, i.memory_words)),
        kv(env, "owner", owner),
        kv(env, "heir", heir),
        kv(env, "name", r->name),
        kv(env, "size", enif_make_uint64(env, i.size)),
        kv(env, "node", enif_make_atom(env, "nonode@nohost")),
        kv(env, "named_table", boolean(i.named)),
        kv(env, "type", enif_make_atom(env, kind_name(i.kind))),
        kv(env, "keypos", enif_make_uint(env, i.keypos)),
        kv(env, "protection", enif_make_atom(env, access_name(i.access))),
    };
    *out = enif_make_list_from_array(env, items, sizeof items / sizeof items[0]);
    return 0;
}

static ERL_NIF_TERM info_call(ErlNifEnv *env, const ERL_NIF_TERM argv[], bool item)
{
    tabres *r;
    bool by_name;
    ERL_NIF_TERM out;
    char name[64];
    if (item && enif_get_atom(env, argv[1], name, sizeof name, ERL_NIF_LATIN1) <= 0)
        return enif_make_badarg(env);
    if (!enif_is_atom(env, argv[0]) && !enif_is_ref(env, argv[0]))
        return enif_make_badarg(env);
    if (get_tab(env, argv[0], &r, &by_name))
        return A_UNDEFINED;
    int rc = access_check(env, r, false);
    if (!rc && r->access == SHMETS_PRIVATE && !r->local)
        rc = -SHMETS_EOWNER;
    if (rc == -SHMETS_EOWNER)
        rc = 0;                 /* ETS: info works on any table */
    if (!rc)
        rc = info_list(env, r, &out);
    if (!rc && item) {
        ERL_NIF_TERM l = out, h, t;
        int n;
        const ERL_NIF_TERM *el;
        bool found = false;
        ERL_NIF_TERM want = enif_make_atom(env, name);
        while (enif_get_list_cell(env, l, &h, &t)) {
            if (enif_get_tuple(env, h, &n, &el) && enif_is_identical(el[0], want)) {
                out = el[1];
                found = true;
                break;
            }
            l = t;
        }
        if (!found) {
            shmets_term v;
            rc = shmets_info_item(r->t, name, &v);
            if (!rc)
                rc = mk_free(env, &v, &out);
        }
    }
    enif_release_resource(r);
    if (rc == -SHMETS_ENOENT)
        return A_UNDEFINED;
    return rc ? fail(env, rc) : out;
}

static ERL_NIF_TERM nif_info1(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    return info_call(env, argv, false);
}

static ERL_NIF_TERM nif_info2(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    return info_call(env, argv, true);
}

/* rename(Tab, Name): ets:rename/2; the name map follows a named table to its new name. */
static int op_rename(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    char name[ATOM_BUF];
    if (atom_text(env, argv[1], name, sizeof name) <= 0)
        return -SHMETS_ETYPE;
    if (r->access != SHMETS_PUBLIC && r->local && !is_owner(env, r))
        return -SHMETS_EOWNER;
    int rc = shmets_rename(r->t, name);
    if (rc)
        return rc;
    ERL_NIF_TERM old = r->name;
    if (r->named)
        namemap_del(NM_NAME, (uint64_t)old, r);
    __atomic_store_n(&r->name, argv[1], __ATOMIC_RELEASE);    /* an atom: valid in every env */
    if (r->named)
        namemap_put(NM_NAME, (uint64_t)argv[1], r);
    *out = tab_term(env, r);
    return 0;
}

/* give_away(Tab, Pid | {os_pid, N}, Gift) */
static int op_give_away(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    ErlNifPid to, self;
    int n;
    const ERL_NIF_TERM *el;
    unsigned os;
    enif_self(env, &self);
    if (enif_get_local_pid(env, argv[1], &to)) {
        enif_mutex_lock(r->lock);
        if (!is_owner(env, r) || enif_compare_pids(&to, &self) == 0 || !enif_is_process_alive(env, &to)) {
            enif_mutex_unlock(r->lock);
            return -SHMETS_EOWNER;
        }
        set_owner_locked(env, r, &to);
        enif_mutex_unlock(r->lock);
        send_transfer(env, r, &to, enif_make_pid(env, &self), env, argv[2], env);
        *out = A_TRUE;
        return 0;
    }
    if (enif_get_tuple(env, argv[1], &n, &el) && n == 2 && enif_is_identical(el[0], A_OS_PID) &&
        enif_get_uint(env, el[1], &os) && os > 0) {
        etsmgr *m;
        shmets_term gift;
        enif_mutex_lock(r->lock);
        if (!is_owner(env, r)) {
            enif_mutex_unlock(r->lock);
            return -SHMETS_EOWNER;
        }
        int rc = to_term(env, argv[2], &gift);
        if (!rc) {
            enif_mutex_lock(r->db->lock);
            rc = db_mgr_locked(r->db, &m);
            enif_mutex_unlock(r->db->lock);
            if (!rc)
                rc = etsmgr_give_away(m, r->id, (pid_t)os, gift);
            shmets_term_free(&gift);
        }
        if (!rc) {
            if (r->monitored)
                enif_demonitor_process(env, r, &r->mon);
            r->monitored = false;
            r->local = false;
        }
        enif_mutex_unlock(r->lock);
        if (!rc)
            namemap_del(NM_ID, r->id, r);
        *out = A_TRUE;
        return rc;
    }
    return -SHMETS_ETYPE;
}

/* setopts(Tab, HeirSpec): shmets.erl checks the option list and passes the heir. */
static int op_setopts(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    int kind;
    ErlNifPid pid;
    uint32_t os = 0;
    ERL_NIF_TERM data = 0;
    int rc = heir_arg(env, argv[1], &kind, &pid, &os, &data);
    if (rc)
        return rc;
    enif_mutex_lock(r->lock);
    if (!is_owner(env, r))
        rc = -SHMETS_EOWNER;
    else
        rc = set_heir_locked(r, kind, &pid, os, env, data);
    enif_mutex_unlock(r->lock);
    *out = A_TRUE;
    return rc;
}

/* ---- files ----------------------------------------------------------------------------- */

static int path_arg(ErlNifEnv *env, ERL_NIF_TERM t, char *buf, size_t cap)
{
    ErlNifBinary b;
    if (enif_inspect_binary(env, t, &b) && b.size < cap && !memchr(b.data, 0, b.size)) {
        memcpy(buf, b.data, b.size);
        buf[b.size] = 0;
        return 0;
    }
    return -SHMETS_EINVAL;
}

/* tab2file_nif(Tab, PathBin, {ObjectCount, Md5, Sync, Erlang}) */
static int op_tab2file(ErlNifEnv *env, tabres *r, const ERL_NIF_TERM argv[], ERL_NIF_TERM *out)
{
    char path[4096];
    int n;
    const ERL_NIF_TERM *el;
    shmets_tabfile_opts o;
    shmets_tabfile_opts_init(&o);
    if (path_arg(env, argv[1], path, sizeof path) || !enif_get_tuple(env, argv[2], &n, &el) || n != 4)
        return -SHMETS_EINVAL;
    o.object_count = enif_is_identical(el[0], A_TRUE);
    o.md5sum = enif_is_identical(el[1], A_TRUE);
    o.sync = enif_is_identical(el[2], A_TRUE);
    o.erlang = enif_is_identical(el[3], A_TRUE);
    int rc = shmets_tab2file(r->t, path, &o);
    *out = rc ? err_tuple(env, rc) : A_OK;
    return rc == -SHMETS_EOWNER ? rc : 0;
}

static ERL_NIF_TERM nif_tab2file(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    return run(env, argv, false, op_tab2file);
}

/* file2tab_nif(Db, PathBin, Verify) -> {ok, Tab} | {error, Reason} */
static ERL_NIF_TERM nif_file2tab(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    dbres *d;
    char path[4096];
    shmets_tabfile_opts o;
    shmets_tab *t;
    tabres *r;
    if (get_db(env, argv[0], &d) || path_arg(env, argv[1], path, sizeof path))
        return enif_make_badarg(env);
    shmets_tabfile_opts_init(&o);
    o.verify = enif_is_identical(argv[2], A_TRUE);
    int rc = shmets_file2tab(d->db, path, &o, &t);
    if (!rc)
        rc = tab_make(d, t, &r);
    if (rc)
        return err_tuple(env, rc);
    ErlNifPid self;
    enif_self(env, &self);
    enif_mutex_lock(r->lock);
    set_owner_locked(env, r, &self);
    enif_mutex_unlock(r->lock);
    tab_register(r);
    ERL_NIF_TERM out = enif_make_tuple2(env, A_OK, tab_term(env, r));
    enif_release_resource(r);
    return out;
}

/* ---- the table of NIFs ------------------------------------------------------------------ */

#define TABOP(name, write, op)                                                                \
    static ERL_NIF_TERM nif_##name(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])       \
    {                                                                                         \
        (void)argc;                                                                           \
        return run(env, argv, write, op);                                                     \
    }
/* S.1: moved to a dirty scheduler for a big table or a long list. */
#define TABOP_BIG(name, write, op, listarg)                                                   \
    static ERL_NIF_TERM nif_##name(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])       \
    {                                                                                         \
        DIRTY_IF((listarg) >= 0 ? long_list(env, argv[(listarg) < argc ? (listarg) : 0])      \
                                : tab_size(env, argv[0]) > DIRTY_OBJECTS, name);              \
        return run(env, argv, write, op);                                                     \
    }

TABOP_BIG(insert, true, op_insert, 1)
TABOP_BIG(insert_new, true, op_insert_new, 1)
TABOP(lookup, false, op_lookup)
TABOP(member, false, op_member)
TABOP(take, true, op_take)
TABOP(delete2, true, op_delete2)
TABOP(delete_object, true, op_delete_object)
TABOP_BIG(delete_all_objects, true, op_delete_all, -1)
TABOP(lookup_element3, false, op_lookup_element3)
TABOP(lookup_element4, false, op_lookup_element4)
TABOP(update_counter3, true, op_update_counter3)
TABOP(update_counter4, true, op_update_counter4)
TABOP(update_element, true, op_update_element)
TABOP(first, false, op_first)
TABOP(last, false, op_last)
TABOP(next, false, op_next)
TABOP(prev, false, op_prev)
TABOP_BIG(tab2list, false, op_tab2list, -1)
TABOP_BIG(select2, false, op_select, -1)
TABOP_BIG(select_reverse2, false, op_select_reverse, -1)
TABOP_BIG(select3, false, op_select3, -1)
TABOP_BIG(select_reverse3, false, op_select_reverse3, -1)
TABOP_BIG(match2, false, op_match, -1)
TABOP_BIG(match3, false, op_match3, -1)
TABOP_BIG(match_object2, false, op_match_object, -1)
TABOP_BIG(match_object3, false, op_match_object3, -1)
TABOP_BIG(select_count, false, op_select_count, -1)
TABOP_BIG(select_delete, true, op_select_delete, -1)
TABOP_BIG(match_delete, true, op_match_delete, -1)
TABOP_BIG(select_replace, true, op_select_replace, -1)
TABOP(give_away, false, op_give_away)
TABOP(setopts, false, op_setopts)
TABOP(rename, true, op_rename)

static int load(ErlNifEnv *env, void **priv, ERL_NIF_TERM info)
{
    (void)priv; (void)info;
    ErlNifResourceTypeInit db_init = {.dtor = db_dtor, .stop = db_stop, .members = 3};
    ErlNifResourceTypeInit tab_init = {.dtor = tab_dtor, .down = tab_down, .members = 3};
    DB_RT = enif_init_resource_type(env, "shmets_db", &db_init, ERL_NIF_RT_CREATE, NULL);
    TAB_RT = enif_init_resource_type(env, "shmets_tab", &tab_init, ERL_NIF_RT_CREATE, NULL);
    if (!DB_RT || !TAB_RT || namemap_init())
        return 1;
    A_OK = enif_make_atom(env, "ok");
    A_ERROR = enif_make_atom(env, "error");
    A_TRUE = enif_make_atom(env, "true");
    A_FALSE = enif_make_atom(env, "false");
    A_UNDEFINED = enif_make_atom(env, "undefined");
    A_EOT = enif_make_atom(env, "$end_of_table");
    A_TRANSFER = enif_make_atom(env, "ETS-TRANSFER");
    A_OS_PID = enif_make_atom(env, "os_pid");
    A_SHMETS_ERROR = enif_make_atom(env, "shmets_error");
    A_NONE = enif_make_atom(env, "none");
    A_SHMETS_CONT = enif_make_atom(env, "shmets_cont");
    A_PID = enif_make_atom(env, "pid");
    A_OS = enif_make_atom(env, "os");
    return 0;
}

/* The name map's threads and resources cannot be handed to a new version of the library
 * (N.2 of namemap.c): no upgrade. */
static int upgrade(ErlNifEnv *env, void **priv, void **old, ERL_NIF_TERM info)
{
    (void)env; (void)priv; (void)old; (void)info;
    return 1;
}

#define IO ERL_NIF_DIRTY_JOB_IO_BOUND
static ErlNifFunc funcs[] = {
    {"open_nif", 1, nif_open, 0},
    {"close_nif", 1, nif_close, 0},
    {"set_receiver_nif", 2, nif_set_receiver, 0},
    {"mgr_events_nif", 1, nif_mgr_events, 0},
    {"new_nif", 4, nif_new, 0},
    {"attach_nif", 2, nif_attach, 0},
    {"id_nif", 1, nif_id, 0},
    {"delete_nif", 1, nif_delete1, 0},
    {"insert_nif", 2, nif_insert, 0},
    {"insert_new_nif", 2, nif_insert_new, 0},
    {"lookup_nif", 2, nif_lookup, 0},
    {"member_nif", 2, nif_member, 0},
    {"take_nif", 2, nif_take, 0},
    {"delete_nif", 2, nif_delete2, 0},
    {"delete_object_nif", 2, nif_delete_object, 0},
    {"delete_all_objects_nif", 1, nif_delete_all_objects, 0},
    {"lookup_element_nif", 3, nif_lookup_element3, 0},
    {"lookup_element_nif", 4, nif_lookup_element4, 0},
    {"update_counter_nif", 3, nif_update_counter3, 0},
    {"update_counter_nif", 4, nif_update_counter4, 0},
    {"update_element_nif", 3, nif_update_element, 0},
    {"first_nif", 1, nif_first, 0},
    {"last_nif", 1, nif_last, 0},
    {"next_nif", 2, nif_next, 0},
    {"prev_nif", 2, nif_prev, 0},
    {"tab2list_nif", 1, nif_tab2list, 0},
    {"select_nif", 2, nif_select2, 0},
    {"select_nif", 3, nif_select3, 0},
    {"select_nif", 1, nif_select1, 0},
    {"select_reverse_nif", 2, nif_select_reverse2, 0},
    {"select_reverse_nif", 3, nif_select_reverse3, 0},
    {"match_nif", 2, nif_match2, 0},
    {"match_nif", 3, nif_match3, 0},
    {"match_object_nif", 2, nif_match_object2, 0},
    {"match_object_nif", 3, nif_match_object3, 0},
    {"select_count_nif", 2, nif_select_count, 0},
    {"select_delete_nif", 2, nif_select_delete, 0},
    {"match_delete_nif", 2, nif_match_delete, 0},
    {"select_replace_nif", 2, nif_select_replace, 0},
    {"info_nif", 1, nif_info1, 0},
    {"info_nif", 2, nif_info2, 0},
    {"give_away_nif", 3, nif_give_away, 0},
    {"setopts_nif", 2, nif_setopts, 0},
    {"rename_nif", 2, nif_rename, 0},
    {"tab2file_nif", 3, nif_tab2file, IO},
    {"file2tab_nif", 3, nif_file2tab, IO},
};

ERL_NIF_INIT(shmets, funcs, load, NULL, upgrade, NULL)
