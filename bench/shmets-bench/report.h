/*
 * report.h — private to build/shmets-bench: the report of a run (report.c).
 */
#ifndef SHMETS_BENCH_REPORT_H
#define SHMETS_BENCH_REPORT_H

/* Read DIR/results.tsv and DIR/readers.tsv; write DIR/report.md, DIR/read-scaling.dat and .gp,
 * and DIR/read-scaling.svg with gnuplot (when it is installed).  Returns 0 or -1. */
int report_write(const char *dir);
/* The colour (#rrggbb) the plots give a system. */
const char *report_colour(const char *sys);

#endif
