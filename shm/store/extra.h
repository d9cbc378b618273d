/*
 * extra.h — private to libshmets (not installed): the table header's records besides the index
 * and limbo (extra.c).
 */
#ifndef SHMETS_EXTRA_H
#define SHMETS_EXTRA_H

#include "store/plan.h"
#include "store/tab.h"
#include "shmets.h"

/* Plan the heir's data (copied into a fresh block; the old one retired). */
int  tab_put_heir_data(struct tab *t, struct plan *p, shmets_term data);
/* Make the spare empty index if there is none (best effort; caller holds TAB_ALL, or nobody
 * can see the table yet). */
void tab_make_spare(struct tab *t);

#endif
