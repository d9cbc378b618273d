/*
 * test_group.c — instances shared between users (issue 17): the owner rule across uids, as
 * include/shmets.h's INSTANCES SHARED BETWEEN USERS draws it, with the kernel's word for it
 * where the kernel can give it.
 *
 * THE UIDS.  The test runs as root (CI does) and forks children that drop to one of three
 * uids, none of which any account uses here: OWNER and MEMBER, both in group GROUP (a gid no
 * group has: the library takes a decimal gid as well as a name), and OUTSIDER, in no group but
 * its own (setgroups, setresgid and setresuid in the child only; nothing is added to the
 * system).  A child reports a broken expectation through a pipe and exits 1; it never calls
 * cmocka.  Children use nothing they inherited from the parent but numbers: they open
 * everything themselves after dropping privileges.  Not root: every test is skipped, saying
 * why.
 *
 * Each test gets an instance the OWNER makes with the group, holding a public set `pub`
 * (the key k and N objects {I, <<64 bytes>>}), a protected ordered_set `prot` and a private
 * bag `priv`, each with {k, Protection}; the owner exits, its tables stay (no etsmgr runs
 * but in the test that starts one).  The parent, root, opens it naming the group.
 *
 * What is checked:
 *   - the modes: control segment 0660, public 0660, protected 0640, private 0600, all in the
 *     group and the owner's uid; an instance made without a group keeps 0644/0600, the member
 *     cannot open it, and naming a group for it is refused;
 *   - the member reads a protected table while its owner writes it, and its write to it is
 *     refused: by the library (-SHMETS_EOWNER) and by the kernel (no read-write open, no
 *     writable mapping);
 *   - the member writes a public table; cannot read a private one (the library and the kernel);
 *   - the member cannot delete or rename the owner's tables, set their heir, remove their
 *     segments, nor take one over by rewriting the catalog itself (the kernel still refuses it
 *     the segment); through an etsmgr run with --group, it cannot give away, unregister or
 *     take over the owner's managed table, while its own requests are served;
 *   - a uid outside the group cannot open the instance nor read any segment of it;
 *   - the tool takes the group (`shmets --instance I --group G ...`, after the subcommand too,
 *     or SHMETS_GROUP) and keeps the same rules;
 *   - a member SIGKILLed inside a read section does not hold reclamation: its slot is cleared
 *     and the memory deleted after it entered comes back;
 *   - garbage a member writes into the readers' registry (slots, the slot count, the high-water
 *     mark) leaves every table correct and its deleted memory reclaimed, the bad slots cleared.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mgrutil.h"
#define UIDKID_TRACK(pid) mu_track(pid)
#define UIDKID_UNTRACK(pid) mu_untrack(pid)
#include "uidkid.h"
#include "store/tab.h"
#include "base/proc.h"

#include <grp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>

#define OWNER_UID    64998
#define MEMBER_UID   64997
#define OUTSIDER_UID 64999
#define GROUP_ID     64990
#define GROUP        "64990"
#define NOBJ         2000

static char inst[96];
static int ninst;
static uint64_t id_pub, id_prot, id_priv;

/* ---- children of other uids -------------------------------------------------------- */

/* ---- helpers of both sides ---------------------------------------------------------- */

static shmets *open_grp(const char *name, const char *group, int *rc)
{
    shmets_open_opts o;
    shmets_open_opts_init(&o);
    o.group = group;
    shmets *d = NULL;
    *rc = shmets_open_ex(name, &o, &d);
    return *rc ? NULL : d;
}

static shmets_term term(const char *text)
{
    shmets_term t = { NULL, 0 };
    if (shmets_term_parse(text, strlen(text), &t))
        abort();
    return t;
}

static int insert_text(shmets_tab *t, const char *text)
{
    shmets_term x = term(text);
    int rc = shmets_insert(t, x);
    shmets_term_free(&x);
    return rc;
}

/* The ~w text of lookup(key) in buf ("error N" if it fails). */
static const char *lookup_text(shmets_tab *t, const char *key, char *buf, size_t n)
{
    shmets_term k = term(key), r;
    int rc = shmets_lookup(t, k, &r);
    shmets_term_free(&k);
    if (rc) {
        snprintf(buf, n, "error %d", rc);
        return buf;
    }
    char *txt = NULL;
    shmets_term_format(r, &txt, NULL);
    snprintf(buf, n, "%s", txt ? txt : "?");
    free(txt);
    shmets_term_free(&r);
    return buf;
}

static void seg_name(uint64_t id, char *out, size_t n)
{
    if (id)
        snprintf(out, n, "/shmets.%s.%llu", inst, (unsigned long long)id);
    else
        snprintf(out, n, "/shmets.%s", inst);
}

static void stat_seg(uint64_t id, struct stat *st)
{
    char name[160], path[200];
    seg_name(id, name, sizeof name);
    snprintf(path, sizeof path, "/dev/shm%s", name);
    assert_int_equal(stat(path, st), 0);
}

static const char *bin64 = "<<\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\">>";

/* As the owner: the instance, with the group, and its three tables. */
static void make_tables(void *arg)
{
    (void)arg;
    int rc;
    shmets *d = open_grp(inst, GROUP, &rc);
    CHILD_CHECK(d, "owner: open with group: %s (%s)", shmets_strerror(rc), shmets_errdetail());
    static const struct { const char *name; enum shmets_kind kind; enum shmets_access acc; const char *obj; } tabs[] = {
        { "pub", SHMETS_SET, SHMETS_PUBLIC, "{k, public}" },
        { "prot", SHMETS_ORDERED_SET, SHMETS_PROTECTED, "{k, protected}" },
        { "priv", SHMETS_BAG, SHMETS_PRIVATE, "{k, private}" },
    };
    for (size_t i = 0; i < 3; i++) {
        shmets_opts o;
        shmets_opts_init(&o);
        o.kind = tabs[i].kind;
        o.access = tabs[i].acc;
        o.named = true;
        shmets_tab *t;
        rc = shmets_new(d, tabs[i].name, &o, &t);
        CHILD_CHECK(rc == 0, "owner: new %s: %s", tabs[i].name, shmets_errdetail());
        CHILD_CHECK(insert_text(t, tabs[i].obj) == 0, "owner: insert into %s: %s", tabs[i].name, shmets_errdetail());
        if (i == 0) {
            char txt[256];
            for (int k = 1; k <= NOBJ; k++) {
                snprintf(txt, sizeof txt, "{%d, %s}", k, bin64);
                CHILD_CHECK(insert_text(t, txt) == 0, "owner: insert %d: %s", k, shmets_errdetail());
            }
        }
    }
    shmets_close(d);
}

static shmets *root_open(void)
{
    int rc;
    shmets *d = open_grp(inst, GROUP, &rc);
    if (!d)
        fail_msg("root: open %s with the group: %s (%s)", inst, shmets_strerror(rc), shmets_errdetail());
    return d;
}

static shmets_tab *root_attach(shmets *d, const char *name)
{
    shmets_tab *t;
    int rc = shmets_attach_name(d, name, &t);
    if (rc)
        fail_msg("root: attach %s: %s (%s)", name, shmets_strerror(rc), shmets_errdetail());
    return t;
}

/* Every table as make_tables left it, and shmets_check passing where root may run it (the
 * public table: root is not the other tables' owner process). */
static void tables_intact(shmets *d)
{
    char buf[256];
    shmets_tab *p = root_attach(d, "pub"), *r = root_attach(d, "prot"), *v = NULL;
    assert_string_equal(lookup_text(p, "k", buf, sizeof buf), "[{k,public}]");
    assert_string_equal(lookup_text(r, "k", buf, sizeof buf), "[{k,protected}]");
    int rc = shmets_check(p);
    if (rc)
        fail_msg("check pub: %s", shmets_errdetail());
    /* The private table: root reads its segment (file modes do not stop root), the library
     * refuses it as not the owner: it is still there. */
    assert_int_equal(shmets_attach_name(d, "priv", &v), -SHMETS_EOWNER);
    shmets_detach(p);
    shmets_detach(r);
}

/* ---- fixtures ------------------------------------------------------------------------- */

#define NEED_ROOT()                                                                         \
    do {                                                                                    \
        if (geteuid() != 0) {                                                               \
            print_message("test_group: not root, so no other uid can be made: "            \
                          "skipped (CI runs as root)\n");                                   \
            skip();                                                                         \
        }                                                                                   \
    } while (0)

static int grp_setup(void **state)
{
    (void)state;
    if (geteuid() != 0)
        return 0;
    snprintf(inst, sizeof inst, "%s.%d", mu_inst, ninst++);
    run_as(OWNER_UID, GROUP_ID, make_tables, NULL, "owner making the tables");
    shmets *d = root_open();
    assert_int_equal(shmets_whereis(d, "pub", &id_pub), 0);
    assert_int_equal(shmets_whereis(d, "prot", &id_prot), 0);
    assert_int_equal(shmets_whereis(d, "priv", &id_priv), 0);
    shmets_close(d);
    return 0;
}

static int grp_teardown(void **state)
{
    (void)state;
    if (geteuid() != 0)
        return 0;
    assert_int_equal(shmets_destroy_instance(inst), 0);
    return 0;
}

/* ---- the modes ------------------------------------------------------------------------ */

static void plain_instance(void *arg)
{
    const char *name = arg;
    shmets *d;
    CHILD_CHECK(shmets_open(name, &d) == 0, "owner: open %s: %s", name, shmets_errdetail());
    shmets_opts o;
    shmets_opts_init(&o);
    o.named = true;
    shmets_tab *t;
    CHILD_CHECK(shmets_new(d, "p", &o, &t) == 0, "owner: new: %s", shmets_errdetail());
    shmets_close(d);
    int rc;
    CHILD_CHECK(!open_grp(name, GROUP, &rc) && rc == -SHMETS_EACCES,
                "owner: naming a group for an instance made without one: %d", rc);
}

static void member_refused(void *arg)
{
    const char *name = arg;
    int rc;
    shmets *d = open_grp(name, GROUP, &rc);
    CHILD_CHECK(!d && rc == -SHMETS_EACCES, "member: open of a group-less instance with the group: %d", rc);
    d = open_grp(name, NULL, &rc);
    CHILD_CHECK(!d && rc == -SHMETS_EACCES, "member: open of a group-less instance: %d", rc);
}

static void test_modes(void **state)
{
    (void)state;
    NEED_ROOT();
    struct stat st;
    struct { uint64_t id; unsigned mode; } want[] = { { 0, 0660 }, { id_pub, 0660 }, { id_prot, 0640 }, { id_priv, 0600 } };
    for (size_t i = 0; i < 4; i++) {
        stat_seg(want[i].id, &st);
        if ((st.st_mode & 07777) != want[i].mode || st.st_gid != GROUP_ID || st.st_uid != OWNER_UID)
            fail_msg("segment %llu: mode %04o uid %u gid %u; want %04o, uid %u, gid %u", (unsigned long long)want[i].id,
                     st.st_mode & 07777, st.st_uid, st.st_gid, want[i].mode, OWNER_UID, GROUP_ID);
    }
    /* Without a group: today's modes, the owner's own group, and the member shut out. */
    char plain[128];
    snprintf(plain, sizeof plain, "%s.plain", inst);
    run_as(OWNER_UID, GROUP_ID, plain_instance, plain, "owner of a group-less instance");
    char path[200];
    snprintf(path, sizeof path, "/dev/shm/shmets.%s", plain);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(st.st_gid, OWNER_UID);
    snprintf(path, sizeof path, "/dev/shm/shmets.%s.1", plain);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    run_as(MEMBER_UID, GROUP_ID, member_refused, plain, "member");
    assert_int_equal(shmets_destroy_instance(plain), 0);
}

/* ---- the member reads a protected table while its owner writes ------------------------- */

struct live {
    int ready[2], done[2];
};

static void live_owner(void *arg)
{
    struct live *l = arg;
    close(l->ready[0]);
    close(l->done[1]);
    int rc;
    shmets *d = open_grp(inst, GROUP, &rc);
    CHILD_CHECK(d, "owner: open: %s", shmets_errdetail());
    shmets_opts o;
    shmets_opts_init(&o);
    o.named = true;                 /* protected set */
    shmets_tab *t;
    CHILD_CHECK(shmets_new(d, "live", &o, &t) == 0, "owner: new live: %s", shmets_errdetail());
    CHILD_CHECK(insert_text(t, "{k, 0}") == 0, "owner: insert: %s", shmets_errdetail());
    CHILD_CHECK(write(l->ready[1], "r", 1) == 1, "owner: ready");
    char txt[256];
    long i = 1;
    for (; i < 1000000; i++) {
        snprintf(txt, sizeof txt, "[{k, %ld}, {%ld, %s}]", i, i, bin64);
        CHILD_CHECK(insert_text(t, txt) == 0, "owner: insert %ld: %s", i, shmets_errdetail());
        if (i > 50) {
            shmets_term key;
            snprintf(txt, sizeof txt, "%ld", i - 50);
            key = term(txt);
            CHILD_CHECK(shmets_delete_key(t, key) == 0, "owner: delete: %s", shmets_errdetail());
            shmets_term_free(&key);
        }
        struct pollfd p = { .fd = l->done[0], .events = POLLIN };
        if (poll(&p, 1, 0) == 1)
            break;
    }
    CHILD_CHECK(shmets_check(t) == 0, "owner: check after %ld writes: %s", i, shmets_errdetail());
    shmets_close(d);
}

static void live_member(void *arg)
{
    struct live *l = arg;
    close(l->ready[1]);
    close(l->done[0]);
    char c;
    CHILD_CHECK(read(l->ready[0], &c, 1) == 1, "member: the owner never got ready");
    int rc;
    shmets *d = open_grp(inst, GROUP, &rc);
    CHILD_CHECK(d, "member: open with the group: %s (%s)", shmets_strerror(rc), shmets_errdetail());
    shmets_tab *t;
    rc = shmets_attach_name(d, "live", &t);
    CHILD_CHECK(rc == 0, "member: attach live: %s", shmets_errdetail());
    long last = -1, changes = 0;
    char buf[256];
    for (int n = 0; n < 4000 || changes < 20; n++) {
        long v;
        const char *txt = lookup_text(t, "k", buf, sizeof buf);
        CHILD_CHECK(sscanf(txt, "[{k,%ld}]", &v) == 1, "member: lookup gave %s", txt);
        CHILD_CHECK(v >= last, "member: k went back from %ld to %ld", last, v);
        changes += v != last;
        last = v;
        CHILD_CHECK(n < 2000000, "member: the owner's writes never showed (k = %ld)", v);
    }
    /* Its writes: the library refuses them, and the kernel would. */
    rc = insert_text(t, "{k, -1}");
    CHILD_CHECK(rc == -SHMETS_EOWNER, "member: insert into a protected table: %d", rc);
    char seg[160];
    snprintf(seg, sizeof seg, "/shmets.%s.%llu", inst, (unsigned long long)shmets_id(t));
    int fd = shm_open(seg, O_RDWR, 0);
    CHILD_CHECK(fd < 0 && errno == EACCES, "member: %s opened read-write (%s)", seg, fd < 0 ? strerror(errno) : "it worked");
    fd = shm_open(seg, O_RDONLY, 0);
    CHILD_CHECK(fd >= 0, "member: %s cannot be opened for reading: %s", seg, strerror(errno));
    void *w = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHILD_CHECK(w == MAP_FAILED && errno == EACCES, "member: %s mapped writable", seg);
    close(fd);
    CHILD_CHECK(write(l->done[1], "d", 1) == 1, "member: done");
    shmets_close(d);
}

static void test_member_reads_protected_while_owner_writes(void **state)
{
    (void)state;
    NEED_ROOT();
    struct live l;
    assert_int_equal(pipe(l.ready), 0);
    assert_int_equal(pipe(l.done), 0);
    struct kid o = spawn_as(OWNER_UID, GROUP_ID, live_owner, &l, "owner writing");
    struct kid m = spawn_as(MEMBER_UID, GROUP_ID, live_member, &l, "member reading");
    close(l.ready[0]);
    close(l.ready[1]);
    close(l.done[0]);
    close(l.done[1]);
    kid_wait(&m);
    kid_wait(&o);
}

/* ---- public and private ---------------------------------------------------------------- */

/* In a member's child: the instance, and the owner's public and protected tables. */
static shmets *member_open(shmets_tab **p, shmets_tab **r)
{
    int rc;
    shmets *d = open_grp(inst, GROUP, &rc);
    CHILD_CHECK(d, "member: open: %s", shmets_errdetail());
    CHILD_CHECK(shmets_attach_name(d, "pub", p) == 0, "member: attach pub: %s", shmets_errdetail());
    CHILD_CHECK(shmets_attach_name(d, "prot", r) == 0, "member: attach prot: %s", shmets_errdetail());
    return d;
}

static void member_writes_public(void *arg)
{
    (void)arg;
    int rc;
    shmets_tab *p, *r;
    shmets *d = member_open(&p, &r);
    rc = insert_text(p, "{m, member}");
    CHILD_CHECK(rc == 0, "member: insert into the public table: %s", shmets_errdetail());
    shmets_term key = term("1");
    CHILD_CHECK(shmets_delete_key(p, key) == 0, "member: delete from the public table: %s", shmets_errdetail());
    shmets_term_free(&key);
    char buf[256];
    const char *txt = lookup_text(p, "m", buf, sizeof buf);
    CHILD_CHECK(!strcmp(txt, "[{m,member}]"), "member: lookup m: %s", txt);
    txt = lookup_text(r, "k", buf, sizeof buf);
    CHILD_CHECK(!strcmp(txt, "[{k,protected}]"), "member: lookup in prot: %s", txt);
    rc = insert_text(r, "{m, member}");
    CHILD_CHECK(rc == -SHMETS_EOWNER, "member: insert into the protected table: %d", rc);
    shmets_close(d);
}

static void test_member_writes_public(void **state)
{
    (void)state;
    NEED_ROOT();
    run_as(MEMBER_UID, GROUP_ID, member_writes_public, NULL, "member");
    shmets *d = root_open();
    shmets_tab *p = root_attach(d, "pub");
    char buf[256];
    assert_string_equal(lookup_text(p, "m", buf, sizeof buf), "[{m,member}]");
    assert_string_equal(lookup_text(p, "1", buf, sizeof buf), "[]");
    uint64_t n;
    assert_int_equal(shmets_size(p, &n), 0);
    assert_int_equal(n, NOBJ + 1);
    struct stat st;
    stat_seg(id_pub, &st);
    assert_int_equal(st.st_uid, OWNER_UID);         /* still the owner's */
    tables_intact(d);
    shmets_close(d);
}

static void member_cannot_read_private(void *arg)
{
    (void)arg;
    int rc;
    shmets *d = open_grp(inst, GROUP, &rc);
    CHILD_CHECK(d, "member: open: %s", shmets_errdetail());
    shmets_tab *v;
    rc = shmets_attach_name(d, "priv", &v);
    CHILD_CHECK(rc == -SHMETS_EOWNER, "member: attach of a private table by name: %d", rc);
    rc = shmets_attach(d, id_priv, &v);
    CHILD_CHECK(rc == -SHMETS_EOWNER, "member: attach of a private table by id: %d", rc);
    char seg[160];
    seg_name(id_priv, seg, sizeof seg);
    int fd = shm_open(seg, O_RDONLY, 0);
    CHILD_CHECK(fd < 0 && errno == EACCES, "member: private segment %s opened (%s)", seg,
                fd < 0 ? strerror(errno) : "it worked");
    shmets_close(d);
}

static void test_member_cannot_read_private(void **state)
{
    (void)state;
    NEED_ROOT();
    run_as(MEMBER_UID, GROUP_ID, member_cannot_read_private, NULL, "member");
    shmets *d = root_open();
    tables_intact(d);
    shmets_close(d);
}

/* ---- delete, rename, heir, take-over -------------------------------------------------- */

static void member_cannot_administer(void *arg)
{
    (void)arg;
    int rc;
    shmets_tab *p, *r;
    shmets *d = member_open(&p, &r);
    rc = shmets_rename(p, "mine");
    CHILD_CHECK(rc == -SHMETS_EOWNER, "member: rename of the owner's public table: %d", rc);
    rc = shmets_rename(r, "mine");
    CHILD_CHECK(rc == -SHMETS_EOWNER, "member: rename of the owner's protected table: %d", rc);
    rc = shmets_set_heir(r, (uint32_t)getpid(), NULL);
    CHILD_CHECK(rc == -SHMETS_EOWNER, "member: heir of the owner's protected table: %d", rc);
    rc = shmets_delete(p);
    CHILD_CHECK(rc == -SHMETS_EOWNER, "member: delete of the owner's public table: %d", rc);
    rc = shmets_delete(r);
    CHILD_CHECK(rc == -SHMETS_EOWNER, "member: delete of the owner's protected table: %d", rc);
    for (int i = 0; i < 3; i++) {
        char seg[160];
        seg_name(i == 0 ? 0 : i == 1 ? id_pub : id_prot, seg, sizeof seg);
        CHILD_CHECK(shm_unlink(seg) != 0 && (errno == EACCES || errno == EPERM), "member: removed %s", seg);
    }
    /* A hostile member may write the catalog itself (it shares the control segment): name
     * itself the owner of the protected table.  The kernel still refuses it the segment. */
    shmets_detach(r);
    struct cat_owner nw = { .pid = getpid(), .inc = proc_self_incarnation(), .uid = getuid() };
    struct cat_entry *e = malloc(sizeof *e);
    CHILD_CHECK(e && cat_find_id(&d->c, id_prot, e) == 0, "member: catalog entry of prot");
    rc = cat_set_owner(&d->c, id_prot, e->owner_pid, e->owner_inc, &nw);
    CHILD_CHECK(rc == 0, "member: rewriting the catalog: %d", rc);
    free(e);
    rc = shmets_attach(d, id_prot, &r);
    CHILD_CHECK(rc == -SHMETS_EACCES, "member: attach of a protected table it named itself the owner of: %d (%s)",
                rc, shmets_errdetail());
    shmets_close(d);
}

static void test_member_cannot_delete_rename_or_take(void **state)
{
    (void)state;
    NEED_ROOT();
    run_as(MEMBER_UID, GROUP_ID, member_cannot_administer, NULL, "member");
    shmets *d = root_open();
    tables_intact(d);
    for (int i = 0; i < 4; i++) {
        struct stat st;
        stat_seg(i == 0 ? 0 : i == 1 ? id_pub : i == 2 ? id_prot : id_priv, &st);
        assert_int_equal(st.st_uid, OWNER_UID);
    }
    shmets_close(d);
}

/* Through etsmgr --group. */
struct mgr_case {
    int go[2];                  /* the parent closes it: the owner may exit */
    int idp[2];                 /* the owner sends its managed table's id */
};

static etsmgr *connect_mgr(shmets *d, const char *who)
{
    etsmgr *m;
    int rc = etsmgr_connect(d, NULL, &m);
    CHILD_CHECK(rc == 0, "%s: connect to etsmgr: %s (%s)", who, shmets_strerror(rc), shmets_errdetail());
    return m;
}

static void mgr_owner(void *arg)
{
    struct mgr_case *c = arg;
    close(c->go[1]);
    close(c->idp[0]);
    int rc;
    shmets *d = open_grp(inst, GROUP, &rc);
    CHILD_CHECK(d, "owner: open: %s", shmets_errdetail());
    etsmgr *m = connect_mgr(d, "owner");
    shmets_term opts = term("[protected, named_table]");
    uint64_t id = 0;
    rc = etsmgr_new_table(m, "mtab", "mtab", opts, &id);
    shmets_term_free(&opts);
    CHILD_CHECK(rc == 0, "owner: new_table: %s (%s)", shmets_strerror(rc), shmets_errdetail());
    CHILD_CHECK(write(c->idp[1], &id, sizeof id) == sizeof id, "owner: id");
    char b;
    CHILD_CHECK(read(c->go[0], &b, 1) == 0, "owner: go");
    shmets_tab *t;
    CHILD_CHECK(shmets_attach(d, id, &t) == 0, "owner: attach its table: %s", shmets_errdetail());
    CHILD_CHECK(insert_text(t, "{still, mine}") == 0, "owner: write its table: %s", shmets_errdetail());
    etsmgr_disconnect(m);
    shmets_close(d);
}

static uint64_t mgr_id;

static void mgr_member(void *arg)
{
    (void)arg;
    int rc;
    shmets *d = open_grp(inst, GROUP, &rc);
    CHILD_CHECK(d, "member: open: %s", shmets_errdetail());
    etsmgr *m = connect_mgr(d, "member");
    shmets_term gift = term("gift");
    rc = etsmgr_give_away(m, mgr_id, getpid(), gift);
    CHILD_CHECK(rc == -SHMETS_EOWNER, "member: give_away of the owner's table to itself: %d", rc);
    rc = etsmgr_give_away(m, mgr_id, getppid(), gift);
    CHILD_CHECK(rc == -SHMETS_EOWNER, "member: give_away of the owner's table to root: %d", rc);
    shmets_term_free(&gift);
    rc = etsmgr_del_table(m, "mtab");
    CHILD_CHECK(rc == -SHMETS_EOWNER, "member: del_table of the owner's table: %d", rc);
    shmets_term opts = term("[public]");
    uint64_t id;
    rc = etsmgr_new_table(m, "mtab", "mtab", opts, &id);
    CHILD_CHECK(rc == -SHMETS_EOWNER, "member: new_table on the owner's name: %d", rc);
    rc = etsmgr_new_table(m, "own", "own", opts, &id);     /* its own requests are served */
    CHILD_CHECK(rc == 0, "member: new_table of its own: %s (%s)", shmets_strerror(rc), shmets_errdetail());
    shmets_term_free(&opts);
    shmets_tab *t;
    rc = shmets_attach(d, mgr_id, &t);
    CHILD_CHECK(rc == 0, "member: attach the owner's managed table: %s", shmets_errdetail());
    rc = shmets_delete(t);
    CHILD_CHECK(rc == -SHMETS_EOWNER, "member: delete of the owner's managed table: %d", rc);
    etsmgr_disconnect(m);
    shmets_close(d);
}

static void test_etsmgr_applies_the_owner_rule(void **state)
{
    (void)state;
    NEED_ROOT();
    assert_int_equal(chmod(mu_dir, 0711), 0);
    char exe[PATH_MAX], pidf[PATH_MAX + 112];
    mu_exe(exe, sizeof exe);
    pid_t dpid = fork();
    if (dpid == 0) {
        char log[PATH_MAX + 8];
        snprintf(log, sizeof log, "%s/log", mu_dir);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(exe, exe, "--instance", inst, "--runtime-dir", mu_dir, "--group", GROUP, (char *)NULL);
        _exit(127);
    }
    mu_track(dpid);
    snprintf(pidf, sizeof pidf, "%s/%s.pid", mu_dir, inst);
    int ok = 0;
    for (int i = 0; i < 500 && !ok; i++) {
        FILE *f = fopen(pidf, "r");
        int got = 0;
        ok = f && fscanf(f, "%d", &got) == 1 && got == (int)dpid;
        if (f)
            fclose(f);
        if (!ok)
            mu_sleep_ms(10);
    }
    assert_true(ok);
    char sock[PATH_MAX + 112];
    snprintf(sock, sizeof sock, "%s/%s.sock", mu_dir, inst);
    struct stat st;
    assert_int_equal(stat(sock, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0660);
    assert_int_equal(st.st_gid, GROUP_ID);

    struct mgr_case c;
    assert_int_equal(pipe(c.go), 0);
    assert_int_equal(pipe(c.idp), 0);
    struct kid o = spawn_as(OWNER_UID, GROUP_ID, mgr_owner, &c, "owner through etsmgr");
    close(c.go[0]);
    close(c.idp[1]);
    mgr_id = 0;
    ssize_t n = read(c.idp[0], &mgr_id, sizeof mgr_id);
    close(c.idp[0]);
    if (n != (ssize_t)sizeof mgr_id) {
        close(c.go[1]);
        kid_wait(&o);
        fail_msg("the owner sent no table id");
    }
    /* The managed table is the owner's, in the group, protected. */
    stat_seg(mgr_id, &st);
    assert_int_equal(st.st_uid, OWNER_UID);
    assert_int_equal(st.st_gid, GROUP_ID);
    assert_int_equal(st.st_mode & 07777, 0640);
    run_as(MEMBER_UID, GROUP_ID, mgr_member, NULL, "member through etsmgr");
    close(c.go[1]);
    kid_wait(&o);
    stat_seg(mgr_id, &st);
    assert_int_equal(st.st_uid, OWNER_UID);
    mu_kill(dpid, SIGTERM);
    assert_int_equal(chmod(mu_dir, 0700), 0);
}

/* ---- outside the group ------------------------------------------------------------------ */

static void outsider(void *arg)
{
    (void)arg;
    int rc;
    shmets *d = open_grp(inst, GROUP, &rc);
    CHILD_CHECK(!d && rc == -SHMETS_EACCES, "outsider: open naming the group: %d", rc);
    d = open_grp(inst, NULL, &rc);
    CHILD_CHECK(!d && rc == -SHMETS_EACCES, "outsider: open: %d", rc);
    uint64_t ids[4] = { 0, id_pub, id_prot, id_priv };
    for (int i = 0; i < 4; i++) {
        char seg[160];
        seg_name(ids[i], seg, sizeof seg);
        int fd = shm_open(seg, O_RDONLY, 0);
        CHILD_CHECK(fd < 0 && errno == EACCES, "outsider: %s opened for reading (%s)", seg,
                    fd < 0 ? strerror(errno) : "it worked");
    }
    /* Nor can it make an instance for a group it is not in. */
    char other[128];
    snprintf(other, sizeof other, "%s.out", inst);
    d = open_grp(other, GROUP, &rc);
    CHILD_CHECK(!d && rc == -SHMETS_EACCES, "outsider: new instance for a group it is not in: %d", rc);
}

static void test_outsider_cannot_open(void **state)
{
    (void)state;
    NEED_ROOT();
    run_as(OUTSIDER_UID, -1, outsider, NULL, "outsider");
    char path[200];
    snprintf(path, sizeof path, "/dev/shm/shmets.%s.out", inst);
    assert_int_not_equal(access(path, F_OK), 0);        /* nothing left behind */
    shmets *d = root_open();
    tables_intact(d);
    shmets_close(d);
}

/* ---- the tool ----------------------------------------------------------------------------- */

static char tool_exe[PATH_MAX];

/* Run the tool with args (and SHMETS_GROUP=env if env); its standard output in out, its exit
 * status returned. */
static int tool_run(const char *env, char *out, size_t n, const char *const *args)
{
    if (env)
        setenv("SHMETS_GROUP", env, 1);         /* this process is a child of its own (uidkid.h) */
    else
        unsetenv("SHMETS_GROUP");
    return mu_capture(tool_exe, args, 0, out, n);
}

static void member_uses_the_tool(void *arg)
{
    (void)arg;
    char out[4096];
    const char *get_prot[] = { "--instance", inst, "--group", GROUP, "get", "prot", "k", NULL };
    int rc = tool_run(NULL, out, sizeof out, get_prot);
    CHILD_CHECK(rc == 0 && strstr(out, "{k,protected}"), "member: shmets --instance I --group G get prot k: %d, %s", rc, out);
    const char *get_after[] = { "get", "--instance", inst, "--group", GROUP, "pub", "k", NULL };
    rc = tool_run(NULL, out, sizeof out, get_after);
    CHILD_CHECK(rc == 0 && strstr(out, "{k,public}"), "member: shmets get --instance I --group G pub k: %d, %s", rc, out);
    const char *get_env[] = { "get", "--instance", inst, "prot", "k", NULL };
    rc = tool_run(GROUP, out, sizeof out, get_env);
    CHILD_CHECK(rc == 0 && strstr(out, "{k,protected}"), "member: SHMETS_GROUP=G shmets get: %d, %s", rc, out);
    rc = tool_run(NULL, out, sizeof out, get_env);
    CHILD_CHECK(rc == 1, "member: shmets get without the group: %d, %s", rc, out);
    const char *ins_pub[] = { "--group", GROUP, "--instance", inst, "insert", "pub", "{tool, member}", NULL };
    rc = tool_run(NULL, out, sizeof out, ins_pub);
    CHILD_CHECK(rc == 0, "member: shmets insert into pub: %d, %s", rc, out);
    const char *ins_prot[] = { "--group", GROUP, "--instance", inst, "insert", "prot", "{tool, member}", NULL };
    rc = tool_run(NULL, out, sizeof out, ins_prot);
    CHILD_CHECK(rc == 1, "member: shmets insert into prot: %d, %s", rc, out);
}

static void test_tool_takes_the_group(void **state)
{
    (void)state;
    NEED_ROOT();
    char exe[PATH_MAX];
    mu_exe(exe, sizeof exe);
    char *slash = strrchr(exe, '/');
    assert_non_null(slash);
    *slash = 0;
    if (snprintf(tool_exe, sizeof tool_exe, "%s/shmets", exe) >= (int)sizeof tool_exe)
        fail_msg("path too long");
    assert_int_equal(access(tool_exe, X_OK), 0);
    run_as(MEMBER_UID, GROUP_ID, member_uses_the_tool, NULL, "member with the tool");
    shmets *d = root_open();
    shmets_tab *p = root_attach(d, "pub"), *r = root_attach(d, "prot");
    char buf[256];
    assert_string_equal(lookup_text(p, "tool", buf, sizeof buf), "[{tool,member}]");
    assert_string_equal(lookup_text(r, "tool", buf, sizeof buf), "[]");
    shmets_detach(p);
    shmets_detach(r);
    tables_intact(d);
    shmets_close(d);
}

/* ---- reclamation -------------------------------------------------------------------------- */

/* Delete every {I, _} of pub as root and reclaim: the memory comes back (nothing holds it),
 * and the table is what is left. */
static void delete_and_reclaim(shmets *d)
{
    shmets_tab *p = root_attach(d, "pub");
    uint64_t used0, used1, fr, freed = 0;
    assert_int_equal(shmets_memory(p, &used0, &fr), 0);
    char txt[32];
    for (int k = 1; k <= NOBJ; k++) {
        snprintf(txt, sizeof txt, "%d", k);
        shmets_term key = term(txt);
        assert_int_equal(shmets_delete_key(p, key), 0);
        shmets_term_free(&key);
    }
    assert_int_equal(shmets_reclaim(p, 0, &freed), 0);
    assert_int_equal(shmets_memory(p, &used1, &fr), 0);
    /* Each object holds 64 bytes of binary and more: at least that much came back. */
    if (used1 + (uint64_t)NOBJ * 64 > used0)
        fail_msg("memory in use %llu before the deletes, %llu after: it was not reclaimed",
                 (unsigned long long)used0, (unsigned long long)used1);
    uint64_t n;
    assert_int_equal(shmets_size(p, &n), 0);
    assert_int_equal(n, 1);
    shmets_detach(p);
    tables_intact(d);
}

struct section {
    int ready[2];
};

static void member_in_section(void *arg)
{
    struct section *s = arg;
    close(s->ready[0]);
    int rc;
    shmets *d = open_grp(inst, GROUP, &rc);
    CHILD_CHECK(d, "member: open: %s", shmets_errdetail());
    shmets_tab *p;
    CHILD_CHECK(shmets_attach_name(d, "pub", &p) == 0, "member: attach: %s", shmets_errdetail());
    CHILD_CHECK(shmets_read_begin(d) == 0, "member: read_begin: %s", shmets_errdetail());
    char buf[256];
    const char *txt = lookup_text(p, "k", buf, sizeof buf);
    CHILD_CHECK(!strcmp(txt, "[{k,public}]"), "member: lookup: %s", txt);
    CHILD_CHECK(write(s->ready[1], "r", 1) == 1, "member: ready");
    for (;;)
        pause();            /* inside the section, until SIGKILL */
}

static void test_member_killed_in_read_section(void **state)
{
    (void)state;
    NEED_ROOT();
    struct section s;
    assert_int_equal(pipe(s.ready), 0);
    struct kid m = spawn_as(MEMBER_UID, GROUP_ID, member_in_section, &s, "member in a read section");
    close(s.ready[1]);
    char c;
    ssize_t n = read(s.ready[0], &c, 1);
    close(s.ready[0]);
    if (n != 1)
        kid_wait(&m);       /* it failed: says why */
    shmets *d = root_open();
    /* It holds a slot with an epoch: the memory deleted from now on waits for it... */
    struct rcu_registry *reg = &d->c.h->reg;
    int held = 0;
    for (uint32_t i = 0; i < rcu_nslots(reg); i++)
        held |= atomic_load(&reg->slots[i].pid) == m.pid && atomic_load(&reg->slots[i].epoch) != 0;
    assert_true(held);
    /* ...until it dies. */
    kill(m.pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(m.pid, &st, 0), m.pid);
    mu_untrack(m.pid);
    close(m.rfd);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    delete_and_reclaim(d);
    for (uint32_t i = 0; i < rcu_nslots(reg); i++)
        if (atomic_load(&reg->slots[i].pid) == m.pid)
            fail_msg("slot %u still names the dead member %d", i, (int)m.pid);
    shmets_close(d);
}

/* Garbage in the registry: each slot claims to be in a section since epoch 1 (the oldest),
 * which would hold every reclamation if it were believed. */
static void member_writes_garbage(void *arg)
{
    (void)arg;
    char seg[160];
    seg_name(0, seg, sizeof seg);
    int fd = shm_open(seg, O_RDWR, 0);
    CHILD_CHECK(fd >= 0, "member: open %s read-write: %s", seg, strerror(errno));
    size_t len = offsetof(struct ctl_hdr, reg) + offsetof(struct rcu_registry, slots) +
                 (size_t)RCU_SLOTS_DEFAULT * sizeof(struct rcu_slot);
    unsigned char *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHILD_CHECK(base != MAP_FAILED, "member: map %s: %s", seg, strerror(errno));
    struct rcu_registry *reg = &((struct ctl_hdr *)base)->reg;
    uint32_t hw = atomic_load(&reg->hiwater);
    CHILD_CHECK(hw + 8 < RCU_SLOTS_DEFAULT, "member: registry too full (%u)", hw);
    struct { int32_t pid; uint64_t inc; } bad[] = {
        { -7, 1 },                      /* no state a claimer makes */
        { INT32_MIN, 0 },
        { 1, 12345 },                   /* init, but not its incarnation */
        { 0x3fffffff, 0x1234 },         /* no such process */
        { 0x7fffffff, 0 },              /* a pid with no incarnation */
        { 4194303, ~0ull },
    };
    size_t nbad = sizeof bad / sizeof bad[0];
    for (size_t i = 0; i < nbad; i++) {
        struct rcu_slot *sl = &reg->slots[hw + i];
        atomic_store(&sl->incarnation, bad[i].inc);
        atomic_store(&sl->epoch, 1);
        atomic_store(&sl->pid, bad[i].pid);
    }
    /* One slot of random bytes but a pid the claim protocol never leaves (-1, 0). */
    struct rcu_slot *sl = &reg->slots[hw + nbad];
    CHILD_CHECK(getrandom(sl, sizeof *sl, 0) == (ssize_t)sizeof *sl, "member: getrandom");
    if (atomic_load(&sl->pid) == 0 || atomic_load(&sl->pid) == -1)
        atomic_store(&sl->pid, -2);
    /* The count and the high-water mark: past the registry. */
    atomic_store(&reg->hiwater, UINT32_MAX);
    __atomic_store_n(&reg->nslots, UINT32_MAX, __ATOMIC_RELAXED);
    munmap(base, len);
    close(fd);
}

static void test_garbage_in_registry(void **state)
{
    (void)state;
    NEED_ROOT();
    shmets *before = root_open();
    uint32_t hw = atomic_load(&before->c.h->reg.hiwater);
    shmets_close(before);
    run_as(MEMBER_UID, GROUP_ID, member_writes_garbage, NULL, "member writing garbage");
    shmets *d = root_open();            /* a registry of garbage still opens */
    delete_and_reclaim(d);
    struct rcu_registry *reg = &d->c.h->reg;
    /* Each bad slot was cleared (and may since have been claimed by this process's reader). */
    for (uint32_t i = hw; i < hw + 6; i++) {
        int32_t pid = atomic_load(&reg->slots[i].pid);
        if (pid != 0 && pid != getpid())
            fail_msg("garbage slot %u (pid %d, epoch %llu) was not cleared", i, (int)pid,
                     (unsigned long long)atomic_load(&reg->slots[i].epoch));
    }
    /* The private table, read by its segment (root), and a new reader of another process. */
    run_as(MEMBER_UID, GROUP_ID, member_writes_public, NULL, "member after the garbage");
    shmets_close(d);
}

int main(void)
{
    mu_init("test_group");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_modes, grp_setup, grp_teardown),
        cmocka_unit_test_setup_teardown(test_member_reads_protected_while_owner_writes, grp_setup, grp_teardown),
        cmocka_unit_test_setup_teardown(test_member_writes_public, grp_setup, grp_teardown),
        cmocka_unit_test_setup_teardown(test_member_cannot_read_private, grp_setup, grp_teardown),
        cmocka_unit_test_setup_teardown(test_member_cannot_delete_rename_or_take, grp_setup, grp_teardown),
        cmocka_unit_test_setup_teardown(test_etsmgr_applies_the_owner_rule, grp_setup, grp_teardown),
        cmocka_unit_test_setup_teardown(test_outsider_cannot_open, grp_setup, grp_teardown),
        cmocka_unit_test_setup_teardown(test_tool_takes_the_group, grp_setup, grp_teardown),
        cmocka_unit_test_setup_teardown(test_member_killed_in_read_section, grp_setup, grp_teardown),
        cmocka_unit_test_setup_teardown(test_garbage_in_registry, grp_setup, grp_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (mu_fini())
        rc = 1;
    return rc;
}
