%% shmets_fuzz_tests — the NIF against malformed arguments (the fuzz discipline of issue 9,
%% as a property test): random terms, deep, large, improper, of every type, are passed to
%% every call, on tables of every kind and on things that are not tables.  Each call must
%% answer or raise badarg (or error:{shmets_error, ...}); a crash of the node fails the run.
%% SHMETS_TEST_SEED=N replays a run; SHMETS_FUZZ_N=N sets the number of calls (default 4000).
-module(shmets_fuzz_tests).
-include_lib("eunit/include/eunit.hrl").

-import(shmets_test_util, [with_db/1]).

calls() ->
    [{insert, 2}, {insert_new, 2}, {lookup, 2}, {lookup_element, 3}, {lookup_element, 4},
     {member, 2}, {take, 2}, {delete, 1}, {delete, 2}, {delete_object, 2},
     {delete_all_objects, 1}, {update_counter, 3}, {update_counter, 4}, {update_element, 3},
     {first, 1}, {next, 2}, {last, 1}, {prev, 2}, {tab2list, 1}, {select, 1}, {select, 2},
     {select, 3}, {select_reverse, 2}, {select_reverse, 3}, {select_count, 2},
     {select_delete, 2}, {select_replace, 2}, {match, 1}, {match, 2}, {match, 3},
     {match_object, 2}, {match_object, 3}, {match_delete, 2}, {info, 1}, {info, 2},
     {give_away, 3}, {setopts, 2}, {rename, 2}, {id, 1}, {attach, 2}, {new, 3}].

seed() ->
    case os:getenv("SHMETS_TEST_SEED") of
        false -> erlang:phash2(os:timestamp());
        "" -> erlang:phash2(os:timestamp());
        S -> list_to_integer(S)
    end.

%% In a process of its own: the heirs and gifts it names (self()) send it messages that must
%% not reach the other tests.
malformed_args_test_() ->
    {timeout, 60, fun() ->
                          {P, Ref} = spawn_monitor(fun run/0),
                          receive {'DOWN', Ref, process, P, R} -> ?assertEqual(normal, R) end
                  end}.

run() ->
    Seed = seed(),
    N = list_to_integer(os:getenv("SHMETS_FUZZ_N", "4000")),
    rand:seed(exsss, {Seed, 16, 2026}),
    io:format(user, "~nshmets_fuzz_tests: seed ~p (SHMETS_TEST_SEED=~p replays it), ~p calls~n", [Seed, Seed, N]),
    with_db(fun(D) ->
                    Tabs = [fresh(D, K) || K <- [set, ordered_set, bag, duplicate_bag]],
                    Counts = loop(D, Tabs, N, #{}),
                    io:format(user, "shmets_fuzz_tests: ~p~n", [maps:to_list(Counts)])
            end).

fresh(D, K) ->
    Name = list_to_atom("fz_" ++ atom_to_list(K)),
    catch shmets:delete(Name),
    T = shmets:new(D, Name, [K, public, named_table]),
    shmets:insert(T, [{leaf(), leaf()} || _ <- lists:seq(1, 20)] ++ [{I, I} || I <- lists:seq(1, 20)]),
    T.

loop(_, _, 0, C) -> C;
loop(D, Tabs, N, C) ->
    Tabs2 = [case shmets:info(T) of undefined -> fresh(D, shmets_kind(T)); _ -> T end || T <- Tabs],
    {F, A} = lists:nth(rand:uniform(length(calls())), calls()),
    Args = args(D, Tabs2, F, A),
    R = try apply(shmets, F, Args) of
            _ -> ok
        catch
            error:badarg -> badarg;
            error:{shmets_error, _, _} -> shmets_error;
            C2:E:St -> erlang:error({unexpected, {F, Args}, C2, E, St})
        end,
    loop(D, Tabs2, N - 1, maps:update_with(R, fun(X) -> X + 1 end, 1, C)).

shmets_kind(fz_set) -> set;
shmets_kind(fz_ordered_set) -> ordered_set;
shmets_kind(fz_bag) -> bag;
shmets_kind(fz_duplicate_bag) -> duplicate_bag.

args(D, Tabs, F, A) ->
    First = case {F, rand:uniform(10)} of
                {attach, _} -> D;
                {new, _} -> D;
                {_, X} when X =< 7 -> lists:nth(rand:uniform(length(Tabs)), Tabs);
                _ -> rand_term(3)
            end,
    Rest = [arg(F, I) || I <- lists:seq(2, A)],
    [First | Rest].

%% Arguments near the valid ones as often as random ones.
arg(new, 2) -> oneof([rand_term(1), list_to_atom("fz_new" ++ integer_to_list(rand:uniform(5)))]);
arg(new, 3) -> oneof([rand_term(3), [oneof([set, bag, public, private, named_table, {keypos, rand:uniform(3)},
                                               {heir, self(), rand_term(2)}, {heir, rand_term(1), x},
                                               {write_concurrency, rand_term(1)}, compressed, rand_term(1)])
                                     || _ <- lists:seq(1, rand:uniform(4))]]);
arg(F, 2) when F =:= select; F =:= select_count; F =:= select_delete; F =:= select_replace;
                F =:= select_reverse -> oneof([rand_term(4), rand_ms()]);
arg(F, 3) when F =:= select; F =:= select_reverse; F =:= match; F =:= match_object ->
    oneof([rand_term(1), rand:uniform(10), 0, -1]);
arg(update_counter, 3) -> oneof([rand_term(2), rand:uniform(5) - 2, {rand:uniform(4) - 1, rand_term(1)},
                                 [{2, 1}, {2, 1, 10, 0}]]);
arg(give_away, 2) -> oneof([rand_term(2), {os_pid, rand:uniform(5)}, spawn(fun() -> ok end)]);
arg(setopts, 2) -> oneof([rand_term(2), {heir, none}, {heir, self(), rand_term(1)}, [{heir, x, y}]]);
arg(_, _) -> rand_term(3).

rand_ms() ->
    [{oneof([{'$1', '$2'}, '_', {'_', '$1', '_'}, rand_term(2)]),
      oneof([[], [{is_integer, '$1'}], [{'>', '$2', rand_term(1)}], rand_term(2)]),
      oneof([['$_'], ['$$'], [{{'$2', '$1'}}], [true], [{element, rand_term(1), '$_'}], rand_term(2)])}
     || _ <- lists:seq(1, rand:uniform(3))].

oneof(L) -> lists:nth(rand:uniform(length(L)), L).

rand_term(0) -> leaf();
rand_term(Depth) ->
    case rand:uniform(12) of
        1 -> list_to_tuple([rand_term(Depth - 1) || _ <- lists:seq(1, rand:uniform(5) - 1)]);
        2 -> [rand_term(Depth - 1) || _ <- lists:seq(1, rand:uniform(5) - 1)];
        3 -> [rand_term(Depth - 1) | rand_term(Depth - 1)];                % often improper
        4 -> maps:from_list([{rand_term(Depth - 1), rand_term(Depth - 1)} || _ <- lists:seq(1, rand:uniform(4))]);
        5 -> deep(rand:uniform(1500));
        6 -> list_to_tuple([rand:uniform(3) || _ <- lists:seq(1, rand:uniform(300))]);
        _ -> leaf()
    end.

deep(0) -> x;
deep(N) -> case N rem 3 of 0 -> {deep(N - 1)}; 1 -> [deep(N - 1)]; _ -> #{k => deep(N - 1)} end.

leaf() ->
    oneof([rand:uniform(100) - 50, rand:uniform(1 bsl 70), -(1 bsl 200), 1 bsl 64 - 1, 0,
           rand:uniform() * 1.0e10, -0.0, 1.0,
           a, '$end_of_table', '_', '$1', '$_', '$$', set, bag, 'ünïcødé', '',
           <<>>, <<"bin">>, <<1:3>>, crypto_free_bin(), "string", [],
           self(), make_ref(), fun() -> ok end, fun lists:map/2, hd(erlang:ports()),
           lists:duplicate(rand:uniform(200), $x)]).

crypto_free_bin() -> list_to_binary([rand:uniform(256) - 1 || _ <- lists:seq(1, rand:uniform(64))]).

%% The name map under many schedulers: processes resolve a named table while another deletes
%% and remakes it; every answer is a lookup result or badarg (the table gone for a moment).
name_map_concurrency_test() ->
    with_db(fun(D) ->
                    T = shmets:new(D, nm, [named_table, public]),
                    shmets:insert(T, {k, 1}),
                    Self = self(),
                    Readers = [spawn_link(fun() -> reader(Self, 0) end) || _ <- lists:seq(1, 8)],
                    [begin
                         catch shmets:delete(nm),
                         T2 = shmets:new(D, nm, [named_table, public]),
                         shmets:insert(T2, {k, I}),
                         I rem 10 =:= 0 andalso timer:sleep(2)
                     end || I <- lists:seq(1, 200)],
                    [P ! stop || P <- Readers],
                    Counts = [receive {done, P, N} -> N after 5000 -> erlang:error(reader_stuck) end || P <- Readers],
                    ?assert(lists:sum(Counts) > 0),
                    ?assertEqual([{k, 200}], shmets:lookup(nm, k))
            end).

reader(Parent, N) ->
    receive stop -> Parent ! {done, self(), N}
    after 0 ->
            case shmets_test_util:call(shmets, lookup, [nm, k]) of
                [{k, _}] -> reader(Parent, N + 1);
                [] -> reader(Parent, N);
                badarg -> reader(Parent, N)
            end
    end.

%% Long calls move to dirty schedulers: a table of 20,000 objects, read whole.
big_table_test() ->
    with_db(fun(D) ->
                    T = shmets:new(D, big, [ordered_set]),
                    Objs = [{I, <<I:64>>} || I <- lists:seq(1, 20000)],
                    true = shmets:insert(T, Objs),
                    ?assertEqual(Objs, shmets:tab2list(T)),
                    ?assertEqual(10000, shmets:select_count(T, [{{'$1', '_'}, [{'=<', '$1', 10000}], [true]}])),
                    ?assertEqual(20000, length(shmets:select(T, [{'_', [], ['$_']}]))),
                    ?assertEqual(true, shmets:delete_all_objects(T)),
                    ?assertEqual(0, shmets:info(T, size))
            end).
