/*
 * events.c — what etsmgr tells its followers (`shmets events`, etsmgr_follow in
 * include/etsmgr.h): one {event, Term} packet per thing that happens, to every connection that
 * asked with the request `follow`.
 *
 * THE EVENTS, the first element naming it (more elements may follow in later versions):
 *   {owner_dead, Tab, Pid}            a table's owner died (the rules below follow at once)
 *   {inherited, Tab, FromPid, HeirPid} its live heir inherited it (W.1 of watch.c)
 *   {kept, Tab, ClientPid}            a managed table is etsmgr's until its client is back (W.2)
 *   {deleted, Tab, Pid}               the dead owner Pid's table was deleted (W.3)
 *   {given_back, Tab, ClientPid}      etsmgr gave a kept table back (new_table, add_table)
 *   {client_up, Pid}, {client_down, Pid}  a connection of process Pid opened, closed
 * Each is sent once, when the daemon acts; a rescan that finds nothing to do sends nothing.
 *
 * BOUNDED: an event goes through mgr_client_send like any packet, so a follower that does not
 * read is dropped past MGR_OUTQ_BYTES, as any client is; followers are connections, so at most
 * MGR_CLIENTS_MAX.  Calls only conn.c (below serve.c and watch.c, which call it).
 */
#include "mgr.h"

#include <stdlib.h>
#include <string.h>

static void send_all(struct mgr *m, shmets_builder *b)
{
    shmets_term t;
    unsigned char *buf = NULL;
    size_t len;
    if (shmets_builder_finish(b, &t))
        return;
    if (shmets_term_to_etf(t, &buf, &len) == 0 && len <= MGR_PACKET_MAX)
        for (struct mgr_client *cl = m->clients; cl; cl = cl->next)
            if (cl->follows && !cl->dead)
                mgr_client_send(m, cl, buf, len, 0);
    free(buf);
    shmets_term_free(&t);
}

static int followers(struct mgr *m)
{
    for (struct mgr_client *cl = m->clients; cl; cl = cl->next)
        if (cl->follows && !cl->dead)
            return 1;
    return 0;
}

void mgr_event_tab(struct mgr *m, const char *what, const struct cat_entry *e, pid_t p1, pid_t p2)
{
    shmets_builder *b;
    if (!followers(m) || shmets_builder_create(&b))
        return;
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "event", 5);
    shmets_build_tuple(b, p2 ? 4 : 3);
    shmets_build_atom(b, what, strlen(what));
    mgr_tid_term(e, b);
    shmets_build_pid(b, (uint32_t)p1);
    if (p2)
        shmets_build_pid(b, (uint32_t)p2);
    send_all(m, b);
    shmets_builder_destroy(b);
}

void mgr_event_pid(struct mgr *m, const char *what, pid_t pid)
{
    shmets_builder *b;
    if (!followers(m) || shmets_builder_create(&b))
        return;
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, "event", 5);
    shmets_build_tuple(b, 2);
    shmets_build_atom(b, what, strlen(what));
    shmets_build_pid(b, (uint32_t)pid);
    send_all(m, b);
    shmets_builder_destroy(b);
}
