#!/usr/bin/env escript
%% -*- erlang -*-
%%! -noinput
%%
%% bench/range.escript — ETS's figure for R5 of issue 18 (bench/range.c has shmets's and
%% LMDB's): a public ordered_set with read_concurrency of N objects
%% {{K div 100, K rem 100}, <<V:32/binary>>}, P reader processes each doing, for D seconds,
%% ets:select/2 with the bound key prefix {B, '_'} (B uniformly drawn), and folding the
%% values of the 100 objects it returns (the first 8 bytes checked against K).
%%
%%   escript bench/range.escript [--objects N] [--seconds D] [--procs 1,2]
%%
%% Output: TSV lines (case, peer, procs, objects_per_s) as bench/range.c prints them.
-mode(compile).

main(Args) ->
    O = opts(Args, #{objects => 1000000, seconds => 2.0, procs => [1, 2]}),
    N = maps:get(objects, O),
    T = ets:new(r5, [ordered_set, public, {read_concurrency, true}]),
    [ets:insert(T, {{K div 100, K rem 100}, value(K)}) || K <- lists:seq(0, N - 1)],
    [run(T, N, P, maps:get(seconds, O)) || P <- maps:get(procs, O)],
    halt(0).

value(K) -> <<K:64/little, (binary:copy(<<(K band 255)>>, 24))/binary>>.

run(T, N, P, D) ->
    Parent = self(),
    End = erlang:monotonic_time(microsecond) + round(D * 1.0e6),
    T0 = erlang:monotonic_time(microsecond),
    Pids = [spawn_link(fun() -> Parent ! {done, self(), reader(T, N, End, I * 7919 + 1, 0, 0)} end)
            || I <- lists:seq(1, P)],
    Objs = lists:sum([receive {done, Pid, C} -> C end || Pid <- Pids]),
    Secs = (erlang:monotonic_time(microsecond) - T0) / 1.0e6,
    io:format("R5\tets\t~b\t~b~n", [P, round(Objs / Secs)]).

reader(T, N, End, Seed, Count, Sum) ->
    case erlang:monotonic_time(microsecond) >= End of
        true -> Count + (Sum band 0);
        false ->
            {Count1, Sum1, Seed1} = batch(T, N, 16, Seed, Count, Sum),
            reader(T, N, End, Seed1, Count1, Sum1)
    end.

batch(_, _, 0, Seed, Count, Sum) -> {Count, Sum, Seed};
batch(T, N, J, Seed0, Count, Sum) ->
    Seed = xorshift(Seed0),
    B = Seed rem (N div 100),
    Objs = ets:select(T, [{{{B, '_'}, '_'}, [], ['$_']}]),
    Sum1 = lists:foldl(fun({{B1, I}, <<K:64/little, _/binary>>}, S) when K =:= B1 * 100 + I -> S + K;
                          (_, _) -> exit(wrong_value) end, Sum, Objs),
    batch(T, N, J - 1, Seed, Count + length(Objs), Sum1).

xorshift(X0) ->
    X1 = X0 bxor ((X0 bsl 13) band 16#ffffffff),
    X2 = X1 bxor (X1 bsr 17),
    (X2 bxor ((X2 bsl 5) band 16#ffffffff)) band 16#ffffffff.

opts([], O) -> O;
opts(["--objects", V | T], O) -> opts(T, O#{objects => list_to_integer(V)});
opts(["--seconds", V | T], O) -> opts(T, O#{seconds => list_to_float(V ++ case lists:member($., V) of true -> ""; false -> ".0" end)});
opts(["--procs", V | T], O) -> opts(T, O#{procs => [list_to_integer(P) || P <- string:lexemes(V, ",")]});
opts([X | _], _) ->
    io:format(standard_error, "range.escript: unknown argument ~s~n", [X]),
    halt(2).
