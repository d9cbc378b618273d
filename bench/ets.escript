#!/usr/bin/env escript
%% -*- erlang -*-
%%! -noinput
%%
%% bench/ets.escript — the ETS figures of build/shmets-bench (issue 8), run by it as a child
%% process when `escript` is present (its pid ended by shmets-bench however the run ends).
%%
%%   escript bench/ets.escript --objects N --seconds D --warmup W --runs R1:1,R1:2,R2:1,O1:2 [--mem]
%%
%% The workload of shared/WORKLOAD.md in Erlang: a table of N objects {K, <<V:32/binary>>}
%% (public, {read_concurrency, true}; an ordered_set for O1), P reader processes (Erlang
%% processes on the VM's schedulers, one per core) each doing ets:lookup/2 of random keys; the
%% lookup copies the object to the reader's heap, the value's first 8 bytes are checked against
%% the key and the value is folded into a checksum (erlang:crc32/2, the bytes are folded in C).
%% Keys come from a 32-bit xorshift per reader (its state stays a small integer: a 64-bit
%% xorshift64* would allocate a bignum per key in Erlang and measure that instead of ETS).
%% R2 adds one writer process overwriting random keys with ets:insert/2.
%%
%% Timing as in shmets-bench (run.c): readers count in an atomics array (one counter per
%% cache line, stored every 256 lookups); after the warm-up the parent takes a snapshot, sleeps
%% D, takes another.  One lookup in 256 is timed alone (erlang:monotonic_time/1).
%%
%% Output: one TSV line per run, the columns of shmets-bench plus the per-reader median:
%%   case peer procs lookups_per_s writes_per_s mem_bytes p50_ns p99_ns reader_median
%% M lines give ets:info(T, memory) in bytes, after loading (peer ets; ets-ordered for O1's).
-mode(compile).

-define(CHUNK, 256).
-define(SAMPLES, 16384).
-define(PAD, 8).                       % atomics a cache line

main(Args) ->
    O = opts(Args, #{objects => 1000000, seconds => 5.0, warmup => 0.5, runs => [], mem => false}),
    N = maps:get(objects, O),
    Runs = maps:get(runs, O),
    Mem = maps:get(mem, O),
    SetRuns = [R || {C, _} = R <- Runs, C =/= "O1"],
    OrdRuns = [R || {"O1", _} = R <- Runs],
    phase(set, "ets", SetRuns, Mem, N, O),
    phase(ordered_set, "ets-ordered", OrdRuns, Mem, N, O),
    halt(0).

opts([], O) -> O;
opts(["--objects", V | T], O) -> opts(T, O#{objects => list_to_integer(V)});
opts(["--seconds", V | T], O) -> opts(T, O#{seconds => num(V)});
opts(["--warmup", V | T], O) -> opts(T, O#{warmup => num(V)});
opts(["--mem" | T], O) -> opts(T, O#{mem => true});
opts(["--runs", V | T], O) ->
    Runs = [begin [C, P] = string:split(R, ":"), {C, list_to_integer(P)} end
            || R <- string:lexemes(V, ","), R =/= ""],
    opts(T, O#{runs => Runs});
opts([X | _], _) ->
    io:format(standard_error, "ets.escript: unknown argument ~s~n", [X]),
    halt(2).

num(S) ->
    case string:to_float(S) of
        {F, ""} -> F;
        _ -> float(list_to_integer(S))
    end.

phase(_, _, [], false, _, _) -> ok;
phase(Kind, MemName, Runs, Mem, N, O) ->
    T = load(Kind, N),
    Mem andalso line("M", MemName, 0, 0, 0, ets:info(T, memory) * erlang:system_info(wordsize), 0, 0, 0),
    [run(C, P, T, N, O) || {C, P} <- Runs],
    ets:delete(T).

value(K, G) ->
    M = 16#FFFFFFFFFFFFFFFF,
    <<K:64/little, G:64/little, ((K * 16#9E3779B97F4A7C15) band M):64/little, (((bnot K) bxor G) band M):64/little>>.

load(Kind, N) ->
    T = ets:new(bench, [Kind, public, {read_concurrency, true}]),
    load(T, 0, N),
    T.

load(T, K, N) when K >= N -> T;
load(T, K, N) ->
    Hi = min(N, K + 1000),
    ets:insert(T, [{I, value(I, 0)} || I <- lists:seq(K, Hi - 1)]),
    load(T, Hi, N).

%% ---- one run ---------------------------------------------------------------------------------

run(Case, P, T, N, O) ->
    Ctr = atomics:new(?PAD * (P + 2), [{signed, false}]),
    Stop = atomics:new(1, []),
    Self = self(),
    Readers = [spawn_link(fun() -> reader(Self, T, N, I, Ctr, Stop) end) || I <- lists:seq(1, P)],
    Writer = case Case of
                 "R2" -> [spawn_link(fun() -> writer(Self, T, N, Ctr, Stop, P + 1) end)];
                 _ -> []
             end,
    timer:sleep(round(maps:get(warmup, O) * 1000)),
    T0 = erlang:monotonic_time(nanosecond),
    S0 = [atomics:get(Ctr, ?PAD * I) || I <- lists:seq(1, P + 1)],
    timer:sleep(round(maps:get(seconds, O) * 1000)),
    T1 = erlang:monotonic_time(nanosecond),
    S1 = [atomics:get(Ctr, ?PAD * I) || I <- lists:seq(1, P + 1)],
    atomics:put(Stop, 1, 1),
    Done = [receive {done, Pid, Bad, Samples} -> {Bad, Samples} end || Pid <- Readers],
    [receive {done, Pid, _, _} -> ok end || Pid <- Writer],
    Dt = (T1 - T0) / 1.0e9,
    Rates = [(B - A) / Dt || {A, B} <- lists:zip(lists:sublist(S0, P), lists:sublist(S1, P))],
    Writes = case Writer of
                 [] -> 0;
                 _ -> (lists:last(S1) - lists:last(S0)) / Dt
             end,
    case lists:sum([B || {B, _} <- Done]) of
        0 -> ok;
        Bad -> io:format(standard_error, "ets.escript: ~B lookups found a wrong value~n", [Bad])
    end,
    Sorted = lists:sort(lists:append([S || {_, S} <- Done])),
    {P50, P99} = case length(Sorted) of
                     0 -> {0, 0};
                     L -> {lists:nth(L div 2 + 1, Sorted), lists:nth(L * 99 div 100 + 1, Sorted)}
                 end,
    line(Case, "ets", P, lists:sum(Rates), Writes, 0, P50, P99, median(lists:sort(Rates))).

median(L) ->
    N = length(L),
    case N rem 2 of
        1 -> lists:nth(N div 2 + 1, L);
        0 -> (lists:nth(N div 2, L) + lists:nth(N div 2 + 1, L)) / 2
    end.

line(Case, Peer, P, Lookups, Writes, Mem, P50, P99, Med) ->
    io:format("~s\t~s\t~B\t~B\t~B\t~B\t~B\t~B\t~B~n",
              [Case, Peer, P, round(Lookups), round(Writes), Mem, P50, P99, round(Med)]).

%% ---- readers and the writer ------------------------------------------------------------------

xs(X0) ->
    X1 = X0 bxor ((X0 bsl 13) band 16#FFFFFFFF),
    X2 = X1 bxor (X1 bsr 17),
    X2 bxor ((X2 bsl 5) band 16#FFFFFFFF).

reader(Parent, T, N, I, Ctr, Stop) ->
    X = ((I * 2654435761) band 16#FFFFFFFF) bor 1,
    reader(Parent, T, N, I, Ctr, Stop, X, 0, 0, 0, [], 0).

reader(Parent, T, N, I, Ctr, Stop, X, Acc, Bad, Cnt, Samples, NS) ->
    case atomics:get(Stop, 1) of
        1 ->
            Parent ! {done, self(), Bad, Samples};
        _ ->
            %% one timed lookup, then the rest of the chunk
            X1 = xs(X),
            K = X1 rem N,
            Ta = erlang:monotonic_time(nanosecond),
            {Acc1, Bad1} = look(T, K, Acc, Bad),
            Tb = erlang:monotonic_time(nanosecond),
            {Samples1, NS1} = case NS < ?SAMPLES of
                                  true -> {[Tb - Ta | Samples], NS + 1};
                                  false -> {Samples, NS}
                              end,
            {X2, Acc2, Bad2} = chunk(T, N, X1, Acc1, Bad1, ?CHUNK - 1),
            Cnt1 = Cnt + ?CHUNK,
            atomics:put(Ctr, ?PAD * I, Cnt1),
            reader(Parent, T, N, I, Ctr, Stop, X2, Acc2, Bad2, Cnt1, Samples1, NS1)
    end.

chunk(_, _, X, Acc, Bad, 0) -> {X, Acc, Bad};
chunk(T, N, X, Acc, Bad, J) ->
    X1 = xs(X),
    {Acc1, Bad1} = look(T, X1 rem N, Acc, Bad),
    chunk(T, N, X1, Acc1, Bad1, J - 1).

look(T, K, Acc, Bad) ->
    case ets:lookup(T, K) of
        [{_, <<K:64/little, _/binary>> = V}] -> {erlang:crc32(Acc, V), Bad};
        _ -> {Acc, Bad + 1}
    end.

writer(Parent, T, N, Ctr, Stop, Slot) ->
    writer(Parent, T, N, Ctr, Stop, Slot, 16#2545F491, 1).

writer(Parent, T, N, Ctr, Stop, Slot, X, G) ->
    case atomics:get(Stop, 1) of
        1 ->
            Parent ! {done, self(), 0, []};
        _ ->
            X1 = xs(X),
            K = X1 rem N,
            ets:insert(T, {K, value(K, G)}),
            atomics:put(Ctr, ?PAD * Slot, G),
            writer(Parent, T, N, Ctr, Stop, Slot, X1, G + 1)
    end.
