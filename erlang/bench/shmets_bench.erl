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
                {Name, F} <- [{ets, {ets, E}}, {shmets, {shmets, S}}]],
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

%% P processes each looking up random keys for Secs seconds; the total rate.  The keys are drawn
%% beforehand (a tuple of 65,536 random keys a process, walked in turn), and each store has a loop
%% of its own, so what is timed is the lookup and a loop step, not the drawing or a fun call.
run(P, Secs, F) ->
    Parent = self(),
    Pids = [spawn_opt(fun() -> worker(Parent, F) end, [link]) || _ <- lists:seq(1, P)],
    [receive {ready, W} -> ok end || W <- Pids],
    [W ! go || W <- Pids],
    T0 = erlang:monotonic_time(),
    timer:sleep(Secs * 1000),
    [W ! stop || W <- Pids],
    Total = lists:sum([receive {done, W, N} -> N end || W <- Pids]),
    T1 = erlang:monotonic_time(),
    Total / (erlang:convert_time_unit(T1 - T0, native, nanosecond) / 1.0e9).

worker(Parent, {Mod, Tab}) ->
    rand:seed(exsss),
    Keys = list_to_tuple([rand:uniform(?N) || _ <- lists:seq(1, 65536)]),
    Parent ! {ready, self()},
    receive go -> ok end,
    loop(Parent, Mod, Tab, Keys, 0).

loop(Parent, Mod, Tab, Keys, N) ->
    receive stop -> Parent ! {done, self(), N}
    after 0 ->
            case Mod of
                ets -> ets_batch(Tab, Keys, N band 65535, 1000);
                shmets -> shmets_batch(Tab, Keys, N band 65535, 1000)
            end,
            loop(Parent, Mod, Tab, Keys, N + 1000)
    end.

ets_batch(_, _, _, 0) -> ok;
ets_batch(T, Keys, I, C) ->
    [_] = ets:lookup(T, element((I band 65535) + 1, Keys)),
    ets_batch(T, Keys, I + 1, C - 1).

shmets_batch(_, _, _, 0) -> ok;
shmets_batch(T, Keys, I, C) ->
    [_] = shmets:lookup(T, element((I band 65535) + 1, Keys)),
    shmets_batch(T, Keys, I + 1, C - 1).
