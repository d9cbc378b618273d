/*
 * liveness.c — whether a table's owner and heir are alive, and whether an etsmgr serves the
 * instance, for `shmets ls`, `info` and `top` (issue 15).
 *
 * A process is alive when its pid runs AND its start time is the one the catalog recorded
 * (shm/base/proc.c's incarnation): a dead owner whose pid was reused is shown dead.  The
 * catalog entry is read directly (shmets_info shows a dead heir as none, and has no word for
 * a dead owner).
 *
 * Whether an etsmgr runs: the daemon holds an flock on <runtime dir>/<instance>.lock for its
 * life; the lock is looked up in /proc/locks by the file's device and inode, never taken, so
 * looking cannot stop a daemon that is starting.  Without etsmgr nobody applies the death
 * rules: a dead owner's table stays, data intact, until an etsmgr runs (which then gives it
 * to its heir, keeps it for its client or deletes it) or until it is deleted.
 */
#include "tool.h"
#include "base/proc.h"
#include "etsmgr/mgr_proto.h"
#include "table/table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

int tool_liveness(shmets *db, uint64_t id, struct tool_live *l)
{
    struct cat_entry *e = malloc(sizeof *e);
    if (!e)
        return -SHMETS_ENOMEM;
    int rc = cat_find_id(&db->c, id, e);
    if (!rc) {
        l->owner = e->owner_pid;
        l->owner_alive = e->owner_pid > 0 && proc_alive(e->owner_pid, e->owner_inc);
        l->heir = e->heir_pid > 0 ? e->heir_pid : 0;
        l->heir_alive = l->heir && e->heir_inc && proc_alive(e->heir_pid, e->heir_inc);
    }
    free(e);
    return rc;
}

void tool_pid_text(int32_t pid, bool alive, char *out, size_t n)
{
    if (pid <= 0)
        snprintf(out, n, "none");
    else
        snprintf(out, n, alive ? "%d" : "%d dead", (int)pid);
}

bool tool_etsmgr_runs(const char *inst)
{
    char dir[4096], lockp[4096 + 80];
    struct stat st;
    if (mgr_runtime_dir(getenv("SHMETS_RUNTIME_DIR"), dir, sizeof dir) ||
        mgr_path(dir, inst, "lock", lockp, sizeof lockp) || stat(lockp, &st))
        return false;
    FILE *f = fopen("/proc/locks", "r");
    char line[256];
    bool held = false;
    while (f && !held && fgets(line, sizeof line, f)) {
        unsigned maj, mn;
        unsigned long ino;
        char *p = strstr(line, "FLOCK");
        /* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" */
        if (!p)
            continue;
        for (char *tok = strtok(p, " "); tok; tok = strtok(NULL, " "))
            if (sscanf(tok, "%x:%x:%lu", &maj, &mn, &ino) == 3 && strchr(tok, ':') != strrchr(tok, ':')) {
                held = ino == (unsigned long)st.st_ino && maj == major(st.st_dev) && mn == minor(st.st_dev);
                break;
            }
    }
    if (f)
        fclose(f);
    return held;
}

void tool_note_no_etsmgr(FILE *f, const char *inst)
{
    fprintf(f, "note: no etsmgr runs for instance %s: a dead owner's table stays as it is until one "
               "does (or until it is deleted)\n", inst);
}
