/*
 * registry.h — private to build/shmets-bench: what the guardian ends and removes (util.c).
 */
#ifndef SHMETS_BENCH_REGISTRY_H
#define SHMETS_BENCH_REGISTRY_H

#include <stdatomic.h>
#include <sys/types.h>

#define REG_PIDS  512
#define REG_NAMES 16
#define REG_NAME  320

struct registry {
    _Atomic pid_t pids[REG_PIDS];           /* processes alive that the run started; 0: free */
    _Atomic int ninsts, npaths;
    char insts[REG_NAMES][REG_NAME];        /* shmets instances to destroy */
    char paths[REG_NAMES][REG_NAME];        /* files or directories to remove */
};

extern struct registry *registry;

#endif
