#!/usr/bin/env escript
%% -*- erlang -*-
%%! -noinput
%%
%% bench/ycsb.escript — the ETS figures of `shmets-bench --workload` (YCSB's core workloads,
%% issue 19), run by it as a child process when `escript` is present (its pid ended by
%% shmets-bench however the run ends).
%%
%%   escript bench/ycsb.escript --records N --value-bytes B --seconds D --warmup W --ops N
%%           --zipf-theta T --distribution default|uniform|zipfian|latest
%%           --insert-order hashed|ordered --workloads a,b,c,f,d,e --procs 1,2
%%
%% The workloads of bench/shmets-bench/ycsb.h in Erlang: a public set with write_concurrency
%% and read_concurrency (an ordered_set for e) of {Key, <<Value:B/binary>>, Counter}, P client
%% processes (Erlang processes on the VM's schedulers, one per core) each drawing its
%% operations from the workload's mix: ets:lookup/2 (the value's first 8 bytes checked
%% against the key), ets:insert/2 for updates and inserts, ets:update_counter(T, K, {3, 1})
%% for read-modify-write, and for scans ets:lookup/2 of the start key then ets:next/2 and
%% ets:lookup/2 for each following one.  Keys are the same integers as the C peers' (the
%% bijective 59-bit mix of the record number: Erlang small integers).
%%
%% CHOOSING RECORDS.  YCSB's generators need 64-bit arithmetic (FNV-64) that Erlang does in
%% bignums (~1 µs a draw), which would be measured instead of ETS; so the zipfian and latest
%% draws are made before the run, 2^20 of them a workload, kept in a persistent_term binary
%% that every client walks from its own offset (a run of a few seconds goes round it a few
%% times: the same distribution).  Latest draws are zipfian ranks subtracted from the newest
%% record at the time of use; uniform draws are made live (a 32-bit xorshift).  Keys of the
%% loaded records are precomputed in a persistent_term tuple for the same reason.
%%
%% Timing as in ycsb_run.c: per-client counters (atomics, published every 64 operations), the
%% window after the warm-up; one operation in 8 timed (erlang:monotonic_time/1), the first
%% 20,000 of each kind a client.  After each run the table's size is compared with the records
%% loaded plus every insert: a mismatch prints "CHECK FAILED".
%%
%% Output: one line a run,
%%   workload ets procs secs n_read n_update n_insert n_scan n_rmw p50 p99 p999 inserts bad
%%   then p50 p99 of read update insert scan rmw, then the cores the VM had and those the rest of
%%   the machine used meanwhile (/proc/self/stat and /proc/stat)
%% and "# ..." lines for shmets-bench's standard error.
-mode(compile).

-define(DRAWS, 1048576).
-define(WIN, 65536).
-define(PAD, 8).
-define(MAXSAMP, 20000).
-define(ITEMS, 10000000000).
-define(M59, 16#7FFFFFFFFFFFFFF).
-define(M64, 16#FFFFFFFFFFFFFFFF).

main(Args) ->
    O = opts(Args, #{records => 1000000, value_bytes => 32, seconds => 5.0, warmup => 0.5, ops => 0,
                     theta => 0.99, dist => "default", order => "hashed", workloads => "abcfde", procs => [1, 2]}),
    N = maps:get(records, O),
    persistent_term:put({ycsb, keys}, list_to_tuple([key(O, I) || I <- lists:seq(0, N - 1)])),
    Ws = maps:get(workloads, O),
    case [W || W <- Ws, W =/= $e] of
        [] -> ok;
        SetWs -> phase(set, SetWs, O)
    end,
    case lists:member($e, Ws) of
        true -> phase(ordered_set, "e", O);
        false -> ok
    end,
    halt(0).

opts([], O) -> O;
opts(["--records", V | T], O) -> opts(T, O#{records => list_to_integer(V)});
opts(["--value-bytes", V | T], O) -> opts(T, O#{value_bytes => list_to_integer(V)});
opts(["--seconds", V | T], O) -> opts(T, O#{seconds => num(V)});
opts(["--warmup", V | T], O) -> opts(T, O#{warmup => num(V)});
opts(["--ops", V | T], O) -> opts(T, O#{ops => list_to_integer(V)});
opts(["--zipf-theta", V | T], O) -> opts(T, O#{theta => num(V)});
opts(["--distribution", V | T], O) -> opts(T, O#{dist => V});
opts(["--insert-order", V | T], O) -> opts(T, O#{order => V});
opts(["--workloads", V | T], O) -> opts(T, O#{workloads => [C || C <- V, C =/= $,]});
opts(["--procs", V | T], O) -> opts(T, O#{procs => [list_to_integer(P) || P <- string:lexemes(V, ",")]});
opts([X | _], _) ->
    io:format(standard_error, "ycsb.escript: unknown argument ~s~n", [X]),
    halt(2).

num(S) ->
    case string:to_float(S) of
        {F, ""} -> F;
        _ -> float(list_to_integer(S))
    end.

%% ---- keys, values, the workloads --------------------------------------------------------------

key(O, I) ->
    case maps:get(order, O) of
        "ordered" -> I;
        _ -> mix59(I)
    end.

mix59(X0) ->
    X1 = ((X0 band ?M59) * 16#9E3779B97F4A7C15) band ?M59,
    X2 = X1 bxor (X1 bsr 29),
    X3 = (X2 * 16#BF58476D1CE4E5B9) band ?M59,
    X4 = X3 bxor (X3 bsr 32),
    X5 = (X4 * 16#94D049BB133111EB) band ?M59,
    X5 bxor (X5 bsr 29).

value(K, G, B) ->
    <<K:64/little, G:64/little, 0:((B - 16) * 8)>>.

%% {read, update, insert, scan, rmw} and the default distribution
mix($a) -> {{0.5, 0.5, 0.0, 0.0, 0.0}, "zipfian"};
mix($b) -> {{0.95, 0.05, 0.0, 0.0, 0.0}, "zipfian"};
mix($c) -> {{1.0, 0.0, 0.0, 0.0, 0.0}, "zipfian"};
mix($d) -> {{0.95, 0.0, 0.05, 0.0, 0.0}, "latest"};
mix($e) -> {{0.0, 0.0, 0.05, 0.95, 0.0}, "zipfian"};
mix($f) -> {{0.5, 0.0, 0.0, 0.0, 0.5}, "zipfian"}.

%% ---- the generators (bench/shmets-bench/ycsb_gen.c) -------------------------------------------

zeta(N, Theta) when N =< 1000000 ->
    lists:foldl(fun(I, S) -> S + math:pow(I, -Theta) end, 0.0, lists:seq(1, N));
zeta(N, Theta) ->
    M = 1000000,
    S = zeta(M, Theta),
    E = 1 - Theta,
    Int = (math:pow(N, E) - math:pow(M, E)) / E,
    F = math:pow(N, -Theta) - math:pow(M, -Theta),
    D1 = -Theta * (math:pow(N, -Theta - 1) - math:pow(M, -Theta - 1)),
    S + Int + F / 2 + D1 / 12.

zipf(Items, Theta) ->
    Zetan = case {Items, Theta} of
                {?ITEMS, 0.99} -> 26.46902820178302;
                _ -> zeta(Items, Theta)
            end,
    Zeta2 = 1 + math:pow(2, -Theta),
    Eta = (1 - math:pow(2 / Items, 1 - Theta)) / (1 - Zeta2 / Zetan),
    {Items, Theta, 1 / (1 - Theta), Zetan, Eta}.

zipf_next({Items, Theta, Alpha, Zetan, Eta}) ->
    U = rand:uniform(),
    Uz = U * Zetan,
    Second = 1.0 + math:pow(0.5, Theta),
    if Uz < 1.0 -> 0;
       Uz < Second -> 1;
       true -> min(Items - 1, trunc(Items * math:pow(Eta * U - Eta + 1, Alpha)))
    end.

%% YCSB's Utils.fnvhash64 (FNV-1a over the 8 bytes, low first, made non-negative).
fnv(V) -> fnv(V, 16#CBF29CE484222325, 8).
fnv(_, H, 0) when H >= 1 bsl 63 -> (1 bsl 64) - H;
fnv(_, H, 0) -> H;
fnv(V, H, I) -> fnv(V bsr 8, ((H bxor (V band 255)) * 1099511628211) band ?M64, I - 1).

%% The draws of a workload: record numbers (zipfian: the scrambled zipfian over YCSB's key
%% space of the records and the inserts expected), ranks (latest), or none (uniform).
draws("uniform", _, _) -> none;
draws("latest", O, _) ->
    Z = zipf(maps:get(records, O), maps:get(theta, O)),
    list_to_binary([<<(zipf_next(Z)):64/little>> || _ <- lists:seq(1, ?DRAWS)]);
draws("zipfian", O, Ins) ->
    N = maps:get(records, O),
    Space = case Ins > 0 of
                true when map_get(ops, O) > 0 -> N + trunc(maps:get(ops, O) * Ins * 2);
                true -> N + N div 10;
                false -> N
            end,
    Z = zipf(?ITEMS, maps:get(theta, O)),
    list_to_binary([<<(fnv(zipf_next(Z)) rem Space):64/little>> || _ <- lists:seq(1, ?DRAWS)]).

%% ---- a table and its workloads ----------------------------------------------------------------

phase(Kind, Ws, O) ->
    N = maps:get(records, O),
    B = maps:get(value_bytes, O),
    T = ets:new(ycsb, [Kind, public, {write_concurrency, true}, {read_concurrency, true}]),
    Keys = persistent_term:get({ycsb, keys}),
    load(T, Keys, 0, N, B),
    Seq = atomics:new(1, []),
    atomics:put(Seq, 1, N),
    [begin
         {Mix, Dflt} = mix(W),
         Dist = case maps:get(dist, O) of "default" -> Dflt; D -> D end,
         persistent_term:put({ycsb, draws}, draws(Dist, O, element(3, Mix))),
         [run(W, P, T, Seq, O) || P <- maps:get(procs, O)]
     end || W <- Ws],
    ets:delete(T).

load(_, _, I, N, _) when I >= N -> ok;
load(T, Keys, I, N, B) ->
    Hi = min(N, I + 1000),
    ets:insert(T, [begin K = element(J + 1, Keys), {K, value(K, 0, B), 0} end || J <- lists:seq(I, Hi - 1)]),
    load(T, Keys, Hi, N, B).

run(W, P, T, Seq, O) ->
    {Mix, Dflt} = mix(W),
    Dist = case maps:get(dist, O) of "default" -> Dflt; D -> D end,
    Start = atomics:get(Seq, 1),
    Limit = atomics:new(1, []),
    atomics:put(Limit, 1, Start),
    Win = atomics:new(?WIN, []),
    Ctr = atomics:new(?PAD * P, []),
    Flags = atomics:new(2, []),                 % 1: stop, 2: measuring
    Ops = maps:get(ops, O),
    Ctl = #{t => T, seq => Seq, limit => Limit, win => Win, ctr => Ctr, flags => Flags, mix => Mix, dist => Dist,
            o => O, b => maps:get(value_bytes, O)},
    Self = self(),
    Budget = fun(I) -> case Ops of 0 -> infinity; _ -> Ops div P + (case I of 1 -> Ops rem P; _ -> 0 end) end end,
    Clients = [spawn_link(fun() -> client(Self, Ctl, I, P, Budget(I)) end) || I <- lists:seq(1, P)],
    Snap = fun() -> [[atomics:get(Ctr, ?PAD * (I - 1) + K) || K <- lists:seq(1, 5)] || I <- lists:seq(1, P)] end,
    {Dt, S0, S1, Done} =
        case Ops of
            0 ->
                timer:sleep(round(maps:get(warmup, O) * 1000)),
                atomics:put(Flags, 2, 1),
                put(cpu0, cpu()),
                T0 = erlang:monotonic_time(nanosecond),
                A = Snap(),
                timer:sleep(round(maps:get(seconds, O) * 1000)),
                T1 = erlang:monotonic_time(nanosecond),
                Z = Snap(),
                put(cpu1, cpu()),
                atomics:put(Flags, 2, 0),
                atomics:put(Flags, 1, 1),
                R = [receive {done, Pid, Bad, Samp, _} -> {Bad, Samp} end || Pid <- Clients],
                {(T1 - T0) / 1.0e9, A, Z, R};
            _ ->
                atomics:put(Flags, 2, 1),
                put(cpu0, cpu()),
                T0 = erlang:monotonic_time(nanosecond),
                R = [receive {done, Pid, Bad, Samp, Cnt} -> {Bad, Samp, Cnt} end || Pid <- Clients],
                T1 = erlang:monotonic_time(nanosecond),
                put(cpu1, cpu()),
                {(T1 - T0) / 1.0e9, [[0, 0, 0, 0, 0] || _ <- Clients], [C || {_, _, C} <- R],
                 [{Bd, Sp} || {Bd, Sp, _} <- R]}
        end,
    Counts = lists:foldl(fun({A, Z}, Acc) -> [X + (Zb - Ab) || {X, Ab, Zb} <- lists:zip3(Acc, A, Z)] end,
                         [0, 0, 0, 0, 0], lists:zip(S0, S1)),
    Bad = lists:sum([Bd || {Bd, _} <- Done]),
    PerKind = [lists:sort(lists:append([element(K, Sp) || {_, Sp} <- Done])) || K <- lists:seq(1, 5)],
    All = lists:sort(lists:append(PerKind)),
    End = atomics:get(Seq, 1),
    Size = ets:info(T, size),
    case Size =:= End of
        true -> ok;
        false -> io:format("# ets ~c P=~B: CHECK FAILED: ~B objects, and ~B were loaded or inserted~n", [W, P, Size, End])
    end,
    Pct = fun(L, Q) -> case length(L) of 0 -> 0; Len -> lists:nth(min(Len, trunc(Q * Len) + 1), L) end end,
    {Ours0, Busy0} = get(cpu0),
    {Ours1, Busy1} = get(cpu1),
    Ours = (Ours1 - Ours0) / Dt,
    Other = max(0.0, (Busy1 - Busy0) / Dt - Ours),
    io:format("~c\tets\t~B\t~.6f\t~B\t~B\t~B\t~B\t~B\t~B\t~B\t~B\t~B\t~B~s\t~.2f\t~.2f~n",
              [W, P, Dt | Counts] ++ [Pct(All, 0.5), Pct(All, 0.99), Pct(All, 0.999), End - Start, Bad,
                                      [io_lib:format("\t~B\t~B", [Pct(L, 0.5), Pct(L, 0.99)]) || L <- PerKind],
                                      Ours, Other]).

%% Seconds of CPU this VM has used (every thread), and the whole machine's busy seconds (steal
%% included), from /proc, as shmets-bench measures its other peers.
cpu() ->
    Tck = case get(clk_tck) of
              undefined ->
                  T = case string:to_integer(string:trim(os:cmd("getconf CLK_TCK"))) of
                          {N, _} when is_integer(N), N > 0 -> N;
                          _ -> 100
                      end,
                  put(clk_tck, T),
                  T;
              T -> T
          end,
    {ok, Self} = file:read_file("/proc/self/stat"),
    [_, AfterComm] = binary:split(Self, <<") ">>),
    F = binary:split(AfterComm, <<" ">>, [global]),
    Ours = (binary_to_integer(lists:nth(12, F)) + binary_to_integer(lists:nth(13, F))) / Tck,
    {ok, Stat} = file:read_file("/proc/stat"),
    [Cpu | _] = binary:split(Stat, <<"\n">>),
    [_ | Nums] = binary:split(Cpu, <<" ">>, [global, trim_all]),
    [U, Ni, Sy, _Idle, _Io, Irq, Sirq, Steal | _] = [binary_to_integer(X) || X <- Nums],
    {Ours, (U + Ni + Sy + Irq + Sirq + Steal) / Tck}.

%% ---- a client ---------------------------------------------------------------------------------

-record(c, {t, ctl, idx, x, off = 0, g, cnt = {0, 0, 0, 0, 0}, samp = {[], [], [], [], []}, sn = {0, 0, 0, 0, 0},
            bad = 0, budget, cum, draws, n, b, ordered, flags, limit, latest}).

client(Parent, Ctl, I, P, Budget) ->
    {R, U, In, Sc, _} = maps:get(mix, Ctl),
    Draws = persistent_term:get({ycsb, draws}),
    O = maps:get(o, Ctl),
    S = #c{t = maps:get(t, Ctl), ctl = Ctl, idx = I, x = ((I * 2654435761) band 16#FFFFFFFF) bor 1,
           off = case Draws of none -> 0; _ -> (I - 1) * (?DRAWS div P) end, g = I bsl 40, budget = Budget,
           cum = list_to_tuple([trunc(C * 4294967296) || C <- [R, R + U, R + U + In, R + U + In + Sc]]), draws = Draws, n = maps:get(records, O),
           b = maps:get(b, Ctl), ordered = maps:get(order, O) =:= "ordered", flags = maps:get(flags, Ctl),
           limit = maps:get(limit, Ctl), latest = maps:get(dist, Ctl) =:= "latest"},
    loop(Parent, S, 0).

xs(X0) ->
    X1 = X0 bxor ((X0 bsl 13) band 16#FFFFFFFF),
    X2 = X1 bxor (X1 bsr 17),
    X2 bxor ((X2 bsl 5) band 16#FFFFFFFF).

loop(Parent, #c{budget = 0} = S, _) -> finish(Parent, S);
loop(Parent, S, It) ->
    Flags = S#c.flags,
    case It band 63 of
        0 ->
            publish(S),
            case atomics:get(Flags, 1) of
                1 -> finish(Parent, S);
                _ -> step(Parent, S, It, Flags)
            end;
        _ -> step(Parent, S, It, Flags)
    end.

step(Parent, S0, It, Flags) ->
    X = xs(S0#c.x),
    S = S0#c{x = X, budget = case S0#c.budget of infinity -> infinity; Bu -> Bu - 1 end},
    {C1, C2, C3, C4} = S#c.cum,
    Op = if X < C1 -> 1; X < C2 -> 2; X < C3 -> 3; X < C4 -> 4; true -> 5 end,
    Timed = It band 7 =:= 0 andalso atomics:get(Flags, 2) =:= 1,
    T0 = case Timed of true -> erlang:monotonic_time(nanosecond); false -> 0 end,
    S1 = op(Op, S),
    S2 = case Timed of
             true ->
                 Dt = erlang:monotonic_time(nanosecond) - T0,
                 case element(Op, S1#c.sn) of
                     Ns when Ns < ?MAXSAMP ->
                         S1#c{samp = setelement(Op, S1#c.samp, [Dt | element(Op, S1#c.samp)]),
                              sn = setelement(Op, S1#c.sn, Ns + 1)};
                     _ -> S1
                 end;
             false -> S1
         end,
    loop(Parent, S2#c{cnt = setelement(Op, S2#c.cnt, element(Op, S2#c.cnt) + 1)}, It + 1).

publish(#c{ctl = Ctl, idx = I, cnt = Cnt}) ->
    Ctr = maps:get(ctr, Ctl),
    [atomics:put(Ctr, ?PAD * (I - 1) + K, element(K, Cnt)) || K <- lists:seq(1, 5)].

finish(Parent, S) ->
    publish(S),
    Parent ! {done, self(), S#c.bad, S#c.samp, tuple_to_list(S#c.cnt)}.

key_of(#c{n = N}, Nr) when Nr < N -> element(Nr + 1, persistent_term:get({ycsb, keys}));
key_of(#c{ordered = true}, Nr) -> Nr;
key_of(_, Nr) -> mix59(Nr).

%% A record number below the acknowledged limit.
choose(S) ->
    Limit = atomics:get(S#c.limit, 1),
    case S#c.draws of
        none ->
            X = xs(S#c.x),
            {X rem Limit, S#c{x = X}};
        D ->
            choose(S, D, Limit, 0)
    end.

choose(S, D, Limit, Tries) ->
    Off = S#c.off,
    <<_:Off/binary-unit:64, V:64/little, _/binary>> = D,
    S1 = S#c{off = (Off + 1) band (?DRAWS - 1)},
    if S#c.latest -> {max(0, Limit - 1 - V), S1};
       V < Limit; Tries > 1000 -> {V rem Limit, S1};
       true -> choose(S1, D, Limit, Tries + 1)
    end.

check(K, [{K, <<K:64/little, _/binary>>, _}]) -> 0;
check(_, _) -> 1.

op(1, S) ->                                     % read
    {Nr, S1} = choose(S),
    K = key_of(S1, Nr),
    S1#c{bad = S1#c.bad + check(K, ets:lookup(S1#c.t, K))};
op(2, S) ->                                     % update
    {Nr, S1} = choose(S),
    K = key_of(S1, Nr),
    G = S1#c.g + 1,
    ets:insert(S1#c.t, {K, value(K, G, S1#c.b), 0}),
    S1#c{g = G};
op(3, S) ->                                     % insert
    Ctl = S#c.ctl,
    Nr = atomics:add_get(maps:get(seq, Ctl), 1, 1) - 1,
    K = key_of(S, Nr),
    ets:insert(S#c.t, {K, value(K, 0, S#c.b), 0}),
    ack(Ctl, Nr),
    S;
op(4, S) ->                                     % scan
    {Nr, S1} = choose(S),
    K = key_of(S1, Nr),
    X = xs(S1#c.x),
    S1#c{x = X, bad = S1#c.bad + scan(S1#c.t, K, 1 + X rem 100, 0)};
op(5, S) ->                                     % read-modify-write
    {Nr, S1} = choose(S),
    K = key_of(S1, Nr),
    try ets:update_counter(S1#c.t, K, {3, 1}) of
        _ -> S1
    catch error:badarg -> S1#c{bad = S1#c.bad + 1}
    end.

scan(_, '$end_of_table', _, Bad) -> Bad;
scan(_, _, 0, Bad) -> Bad;
scan(T, K, Left, Bad) ->
    B = Bad bor check(K, ets:lookup(T, K)),
    case Left of
        1 -> B;
        _ -> scan(T, ets:next(T, K), Left - 1, B)
    end.

ack(Ctl, Nr) ->
    Win = maps:get(win, Ctl),
    atomics:put(Win, (Nr band (?WIN - 1)) + 1, Nr + 1),
    advance(maps:get(limit, Ctl), Win).

advance(Limit, Win) ->
    L = atomics:get(Limit, 1),
    case atomics:get(Win, (L band (?WIN - 1)) + 1) =:= L + 1 of
        true ->
            _ = atomics:compare_exchange(Limit, 1, L, L + 1),
            advance(Limit, Win);
        false -> ok
    end.
