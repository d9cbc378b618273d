/*
 * shmets_nif.h — shared declarations of the NIF's files (private to erlang/c_src).
 */
#ifndef SHMETS_NIF_H
#define SHMETS_NIF_H

#include <erl_nif.h>
#include <stdbool.h>
#include <stdint.h>

#include "shmets.h"
#include "etsmgr.h"

/* An instance handle (resource DB). */
typedef struct dbres {
    shmets *db;
    char inst[72];
    int closed;                 /* shmets:close/1 was called (atomic) */
    ErlNifMutex *lock;          /* guards mgr, receiver, selecting */
    etsmgr *mgr;                /* the node's etsmgr connection for this instance, or NULL */
    ErlNifPid receiver;         /* who gets ETS-TRANSFERs sent to this OS process */
    ErlNifPid inbox;            /* the process that polls the connection (shmets.erl) */
    bool has_receiver, selecting;
} dbres;

/* A table handle (resource TAB).  See "OWNERSHIP" in shmets_nif.c. */
typedef struct tabres {
    dbres *db;                  /* kept */
    shmets_tab *t;
    uint64_t id;
    ERL_NIF_TERM name;          /* the name's atom (atoms are valid in every env) */
    bool named;
    enum shmets_kind kind;
    enum shmets_access access;
    unsigned keypos;
    ErlNifMutex *lock;          /* guards the fields below */
    bool local;                 /* owned by an Erlang process of this node */
    bool monitored;
    bool deleted;               /* deleted through this node */
    ErlNifPid owner;
    ErlNifMonitor mon;
    int heir_kind;              /* HEIR_NONE, HEIR_PID (an Erlang process), HEIR_OS */
    ErlNifPid heir;
    uint32_t heir_os;
    ErlNifEnv *heir_env;        /* holds heir_data */
    ERL_NIF_TERM heir_data;
} tabres;

enum { HEIR_NONE = 0, HEIR_PID, HEIR_OS };

#endif
