/*
 * bench/r5.h — R5's match specification, [{{{B, '_'}, '_'}, [], ['$_']}], made with the
 * builder for each select (as an Erlang caller makes the term for each ets:select/2 call,
 * bench/range.escript), shared by bench/range.c and bench/lookup_cost.c.
 */
#ifndef SHMETS_BENCH_R5_H
#define SHMETS_BENCH_R5_H

#include "shmets.h"
#include <stdint.h>

static inline int r5_spec(shmets_builder *b, uint64_t bound, shmets_term *spec)
{
    shmets_build_list(b, 1);
    shmets_build_tuple(b, 3);
    shmets_build_tuple(b, 2);           /* the head: {{B, '_'}, '_'} */
    shmets_build_tuple(b, 2);
    shmets_build_uint(b, bound);
    shmets_build_atom(b, "_", 1);
    shmets_build_atom(b, "_", 1);
    shmets_build_nil(b);                /* no guards */
    shmets_build_list(b, 1);            /* ['$_'] */
    shmets_build_atom(b, "$_", 2);
    shmets_build_nil(b);
    shmets_build_nil(b);
    return shmets_builder_finish(b, spec);
}

#endif
