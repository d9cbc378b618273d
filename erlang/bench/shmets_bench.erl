%% shmets_bench — `make bench` (erlang-bench): Erlang processes reading a shmets table through
%% the NIF against ets:lookup/2 on an ETS set of the same workload, in the same VM, with P = 1
%% and 2 reading processes.  The workload: N = 100,000 objects {K, <<K:64, 0:192>>} (K an
%% integer), uniformly random hits.  Prints TSV (store, P, lookups/s) and one sentence.
%% Never fails on speed.  BENCH_SECONDS (default 2) per run.
-module(shmets_bench).
-export([main/0]).

-define(N, 100000).

main() ->
    Secs = list_to_integer(os:getenv("BENCH_SECONDS", "2")),
    Inst = "bench" ++ os:getpid(),
    {ok, D} = shmets:open(Inst),
    try
        S = shmets:new(D, bench, [set, public]),
        E = ets:new(bench, [set, public, {read_concurrency, true}]),
        Objs = [{K, <<K:64, 0:192>>} || K <- lists:seq(1, ?N)],
        [begin shmets:insert(S, C), ets:insert(E, C) end || C <- chunks(Objs, 1000)],
        [{1, <<1:64, 0:192>>}] = shmets:lookup(S, 1),
        io:format("store\tP\tlookups_per_s\tns_per_lookup_per_process~n"),
        R = [{Name, P, run(P, Secs, F)}
             || P <- [1, 2],
                {Name, F} <- [{ets, fun(K) -> ets:lookup(E, K) end},
                              {shmets, fun(K) -> shmets:lookup(S, K) end}]],
        [io:format("~s\t~p\t~b\t~b~n", [Name, P, round(Rate), round(P * 1.0e9 / Rate)]) || {Name, P, Rate} <- R],
        Get = fun(Nm, P) -> hd([X || {N2, P2, X} <- R, N2 =:= Nm, P2 =:= P]) end,
        io:format(standard_error,
                  "erlang-bench: lookups of a 100,000-object set by 1 and 2 Erlang processes: "
                  "ets ~.2f and ~.2f M/s, shmets through the NIF ~.2f and ~.2f M/s (~p schedulers, ~p s a run)~n",
                  [Get(ets, 1) / 1.0e6, Get(ets, 2) / 1.0e6, Get(shmets, 1) / 1.0e6, Get(shmets, 2) / 1.0e6,
                   erlang:system_info(schedulers_online), Secs]),
        shmets:delete(S)
    after
        shmets:close(D),
        [file:delete(F) || F <- ["/dev/shm/shmets." ++ Inst | filelib:wildcard("/dev/shm/shmets." ++ Inst ++ ".*")]]
    end,
    halt(0).

chunks([], _) -> [];
chunks(L, N) when length(L) =< N -> [L];
chunks(L, N) -> {A, B} = lists:split(N, L), [A | chunks(B, N)].

%% P processes each looking up random keys for Secs seconds; the total rate.
run(P, Secs, F) ->
    Parent = self(),
    Pids = [spawn_opt(fun() -> worker(Parent, F) end, [link]) || _ <- lists:seq(1, P)],
    [W ! go || W <- Pids],
    T0 = erlang:monotonic_time(),
    timer:sleep(Secs * 1000),
    [W ! stop || W <- Pids],
    Total = lists:sum([receive {done, W, N} -> N end || W <- Pids]),
    T1 = erlang:monotonic_time(),
    Total / (erlang:convert_time_unit(T1 - T0, native, nanosecond) / 1.0e9).

worker(Parent, F) ->
    receive go -> ok end,
    rand:seed(exsss),
    loop(Parent, F, 0).

loop(Parent, F, N) ->
    receive stop -> Parent ! {done, self(), N}
    after 0 ->
            batch(F, 1000),
            loop(Parent, F, N + 1000)
    end.

batch(_, 0) -> ok;
batch(F, I) -> [_] = F(rand:uniform(?N)), batch(F, I - 1).
