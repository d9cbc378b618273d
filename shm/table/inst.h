/*
 * inst.h — private to libshmets (not installed): an open instance and the read sections of its
 * threads (inst.c).  The front end (table.c and the files beside it) calls it; it calls none of
 * them.
 */
#ifndef SHMETS_INST_H
#define SHMETS_INST_H

#include "store/tab.h"

/* The calling thread's reader for t's instance, registered on first use; NULL with the error
 * detail set when no reader slot is free. */
struct rcu_reader *tab_reader(struct tab *t);
/* Is the calling thread inside a read section of db (shmets_read_begin)? */
int inst_in_section(struct shmets *db);
/* shmets_close once every table is detached (table.c detaches them: inst.c is below it). */
void inst_close(struct shmets *db);

#endif
