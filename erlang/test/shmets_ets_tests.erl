%% shmets_ets_tests — every call of the shmets module against the same call on a real ETS
%% table of the same options: the same answers and the same badargs.  Hash tables traverse in
%% an order of their own, so answers that list objects are compared sorted there.
-module(shmets_ets_tests).
-include_lib("eunit/include/eunit.hrl").
-include_lib("stdlib/include/ms_transform.hrl").

-import(shmets_test_util, [with_db/1, call/3]).

kinds() -> [set, ordered_set, bag, duplicate_bag].

%% Run Calls ({Fun, Args} with 'T' for the table) on an ETS table and a shmets table made
%% with Opts; every answer must agree.
same(Opts, Calls) ->
    with_db(fun(D) -> same(D, Opts, Calls) end).

same(D, Opts, Calls) ->
    Name = list_to_atom("t" ++ integer_to_list(erlang:unique_integer([positive]))),
    E = ets:new(Name, Opts),
    S = shmets:new(D, Name, Opts),
    Ordered = lists:member(ordered_set, Opts),
    try
        lists:foreach(
          fun({F, Args}) ->
                  RE = norm(Ordered, F, call(ets, F, subst(Args, E))),
                  RS = norm(Ordered, F, call(shmets, F, subst(Args, S))),
                  ?assertEqual({F, Args, RE}, {F, Args, RS})
          end, Calls)
    after
        catch ets:delete(E), catch shmets:delete(S)
    end.

%% A sort that tells 1 from 1.0 (lists:sort/1 is stable on ==, so their order would stay).
xsort(L) -> [X || {_, X} <- lists:sort([{{X, term_to_binary(X)}, X} || X <- L])].

subst('T', T) -> T;
subst([H | L], T) -> [subst(H, T) | subst(L, T)];
subst(X, _) -> X.

%% Lists of objects from a hash table: sorted.  Counts are integers either way.
norm(false, F, L) when is_list(L), F =/= lookup_element -> xsort(L);
norm(false, F, {L, C}) when is_list(L), F =:= select orelse F =:= match orelse F =:= match_object ->
    {xsort(L), is_tuple(C) orelse C};
norm(true, F, {L, C}) when is_list(L), F =:= select orelse F =:= match orelse F =:= match_object ->
    {L, is_tuple(C) orelse C};
norm(_, _, X) -> X.

objects() -> [{a, 1}, {b, 2, x}, {c, 3}, {d, 4}, {1, int}, {1.0, float}, {<<"bin">>, [1, 2]},
              {{t, 1}, tup}, {"str", s}, {e, 5}].

basic_calls() ->
    [{insert, ['T', {a, 1}]},
     {insert, ['T', objects()]},
     {insert, ['T', {a, 2}]},
     {insert, ['T', {a, 2}]},
     {insert_new, ['T', {a, 9}]},
     {insert_new, ['T', [{f, 6}, {g, 7}]]},
     {insert_new, ['T', [{h, 8}, {a, 0}]]},
     {lookup, ['T', a]},
     {lookup, ['T', 1]},
     {lookup, ['T', 1.0]},
     {lookup, ['T', zz]},
     {member, ['T', b]},
     {member, ['T', zz]},
     {lookup_element, ['T', c, 2]},
     {lookup_element, ['T', a, 2]},
     {lookup_element, ['T', zz, 2]},
     {lookup_element, ['T', c, 9]},
     {lookup_element, ['T', c, 0]},
     {tab2list, ['T']},
     {info, ['T', size]},
     {info, ['T', type]},
     {info, ['T', keypos]},
     {info, ['T', protection]},
     {info, ['T', named_table]},
     {info, ['T', bogus]},
     {take, ['T', d]},
     {take, ['T', d]},
     {delete, ['T', c]},
     {delete, ['T', zz]},
     {delete_object, ['T', {b, 2, x}]},
     {delete_object, ['T', {a, 1}]},
     {lookup, ['T', a]},
     {select, ['T', [{{'$1', '$2'}, [{is_integer, '$2'}], [{{'$2', '$1'}}]}]]},
     {select, ['T', ets:fun2ms(fun({K, V}) when is_atom(K) -> V end)]},
     {select, ['T', [{{a, '_'}, [], ['$_']}]]},
     {select, ['T', []]},
     {select, ['T', [bad]]},
     {select, ['T', {not_a_list}]},
     {select_reverse, ['T', [{'_', [], ['$_']}]]},
     {select_count, ['T', [{{'_', '$1'}, [{is_integer, '$1'}], [true]}]]},
     {match, ['T', {'$1', '$2'}]},
     {match, ['T', {a, '$1'}]},
     {match_object, ['T', {'_', '_'}]},
     {match_object, ['T', {'_', '_', '_'}]},
     {match_delete, ['T', {f, '_'}]},
     {select_delete, ['T', [{{g, '_'}, [], [true]}]]},
     {tab2list, ['T']},
     {insert, ['T', notatuple]},
     {insert, ['T', {}]},
     {insert, ['T', [{x, 1} | improper]]},
     {insert, ['T', [{y, 1}, bad]]},
     {insert_new, ['T', bad]},
     {lookup, ['T', y]},
     {delete_object, ['T', bad]},
     {update_element, ['T', e, {2, new}]},
     {update_element, ['T', zz, {2, new}]},
     {update_element, ['T', e, {1, new}]},
     {update_element, ['T', e, {9, new}]},
     {update_counter, ['T', e, 1]},
     {update_counter, ['T', e, {2, 10}]},
     {update_counter, ['T', e, [{2, 1}, {2, -100, 0, 7}]]},
     {update_counter, ['T', e, {1, 1}]},
     {update_counter, ['T', zz, 1]},
     {update_counter, ['T', zz, 1, {zz, 41}]},
     {update_counter, ['T', a, 1]},
     {lookup, ['T', e]},
     {delete_all_objects, ['T']},
     {tab2list, ['T']},
     {first, ['T']},
     {last, ['T']}].

basic_test_() ->
    [{atom_to_list(K), fun() -> same([K, public], basic_calls()) end} || K <- kinds()].

named_test_() ->
    [{atom_to_list(K), fun() -> same([K, named_table], basic_calls()) end} || K <- kinds()].

keypos_test() ->
    same([set, {keypos, 2}],
         [{insert, ['T', {x, a, 1}]}, {insert, ['T', {a}]}, {lookup, ['T', a]},
          {lookup_element, ['T', a, 3]}, {update_counter, ['T', a, {3, 5}]},
          {update_counter, ['T', a, {2, 5}]}, {select, ['T', [{{'_', '$1', '_'}, [], ['$1']}]]}]).

%% first/next/last/prev: a traversal visits every key once, in term order for an ordered_set.
walk(M, T, First, Next) ->
    walk(M, T, M:First(T), Next, []).
walk(_, _, '$end_of_table', _, Acc) -> lists:reverse(Acc);
walk(M, T, K, Next, Acc) -> walk(M, T, M:Next(T, K), Next, [K | Acc]).

traversal_test_() ->
    [{atom_to_list(K),
      fun() ->
              with_db(fun(D) ->
                              E = ets:new(e, [K]), S = shmets:new(D, s, [K]),
                              Objs = [{I rem 37, I} || I <- lists:seq(1, 300)] ++ objects(),
                              ets:insert(E, Objs), shmets:insert(S, Objs),
                              F = case K of ordered_set -> fun(X) -> X end; _ -> fun xsort/1 end,
                              ?assertEqual(F(walk(ets, E, first, next)), F(walk(shmets, S, first, next))),
                              ?assertEqual(F(walk(ets, E, last, prev)), F(walk(shmets, S, last, prev))),
                              ?assertEqual(F(ets:tab2list(E)), F(shmets:tab2list(S))),
                              ?assertEqual(ets:info(E, size), shmets:info(S, size)),
                              [?assertEqual(call(ets, next, [E, nokey]), call(shmets, next, [S, nokey]))
                               || K =/= ordered_set],
                              [?assertEqual(call(ets, next, [E, 0.5]), call(shmets, next, [S, 0.5]))
                               || K =:= ordered_set]
                      end)
      end} || K <- kinds()].

%% select/3 and select/1: the chunks together give what select/2 gives.
chunks(M, {L, C}) -> L ++ chunks(M, M:select(C));
chunks(_, '$end_of_table') -> [].

select_limit_test_() ->
    [{atom_to_list(K),
      fun() ->
              with_db(fun(D) ->
                              E = ets:new(e, [K]), S = shmets:new(D, s, [K]),
                              Objs = [{I, I * I} || I <- lists:seq(1, 500)],
                              ets:insert(E, Objs), shmets:insert(S, Objs),
                              MS = ets:fun2ms(fun({X, Y}) when X rem 3 =:= 0 -> Y end),
                              F = case K of ordered_set -> fun(X) -> X end; _ -> fun xsort/1 end,
                              ?assertEqual(F(chunks(ets, ets:select(E, MS, 7))),
                                           F(chunks(shmets, shmets:select(S, MS, 7)))),
                              ?assertEqual(F(ets:select(E, MS)), F(shmets:select(S, MS))),
                              ?assertEqual('$end_of_table', shmets:select(S, [{{nokey, '_'}, [], ['$_']}], 5)),
                              ?assertEqual(call(ets, select, [E, MS, 0]), call(shmets, select, [S, MS, 0])),
                              {M1, _} = shmets:match(S, {'$1', 4}, 3),
                              ?assertEqual([[2]], M1),
                              ?assertEqual(F(ets:match_object(E, {'_', 9})), F(shmets:match_object(S, {'_', 9})))
                      end)
      end} || K <- kinds()].

select_replace_test_() ->
    [{atom_to_list(K),
      fun() ->
              MS = [{{'$1', '$2'}, [{is_integer, '$2'}], [{{'$1', {'+', '$2', 100}}}]}],
              same([K], [{insert, ['T', [{I, I} || I <- lists:seq(1, 20)] ++ [{x, y}]]},
                         {select_replace, ['T', MS]},
                         {select_replace, ['T', [{{'$1', '$2'}, [], [{{'$2', '$1'}}]}]]},
                         {tab2list, ['T']}])
      end} || K <- kinds()].

lookup_element4_test() ->
    with_db(fun(D) ->
                    S = shmets:new(D, s, [set]),
                    true = shmets:insert(S, {a, 1}),
                    ?assertEqual(1, shmets:lookup_element(S, a, 2, dflt)),
                    ?assertEqual(dflt, shmets:lookup_element(S, zz, 2, dflt)),
                    ?assertEqual(badarg, call(shmets, lookup_element, [S, a, 3, dflt]))
            end).

%% Protection between Erlang processes, as ETS: a protected table is written by its owner
%% only, a private one read by its owner only.
in_other(F) ->
    Self = self(),
    spawn(fun() -> Self ! {other, F()} end),
    receive {other, R} -> R after 5000 -> timeout end.

protection_test_() ->
    [{atom_to_list(P),
      fun() ->
              with_db(fun(D) ->
                              E = ets:new(e, [P]), S = shmets:new(D, s, [P]),
                              ets:insert(E, {a, 1}), shmets:insert(S, {a, 1}),
                              [?assertEqual(in_other(fun() -> call(ets, F, [E | A]) end),
                                            in_other(fun() -> call(shmets, F, [S | A]) end))
                               || {F, A} <- [{lookup, [a]}, {insert, [{b, 2}]}, {delete, [a]},
                                             {tab2list, []}, {delete, []}]],
                              ?assertEqual(ets:info(E, size), shmets:info(S, size))
                      end)
      end} || P <- [public, protected, private]].

deleted_table_test() ->
    same([set], [{insert, ['T', {a, 1}]}, {delete, ['T']}, {lookup, ['T', a]},
                 {insert, ['T', {a, 1}]}, {info, ['T']}, {info, ['T', size]}, {delete, ['T']}]).

new_badarg_test() ->
    with_db(fun(D) ->
                    [?assertEqual(call(ets, new, [x, O]), call(shmets, new, [D, x, O]))
                     || O <- [[bogus], [{keypos, 0}], [set | bag], [{heir, 1, 2}]]],
                    ?assertEqual(badarg, call(shmets, new, [D, "notatom", []])),
                    T = shmets:new(D, dup, [named_table]),
                    ?assertEqual(badarg, call(shmets, new, [D, dup, [named_table]])),
                    shmets:delete(T)
            end).

info_test() ->
    with_db(fun(D) ->
                    O = [bag, public, {keypos, 2}, named_table, {read_concurrency, true}],
                    E = ets:new(inf, O), S = shmets:new(D, inf, O),
                    IE = ets:info(E), IS = shmets:info(S),
                    [?assertEqual({K, proplists:get_value(K, IE)}, {K, proplists:get_value(K, IS)})
                     || K <- [owner, heir, name, size, named_table, type, keypos, protection,
                              read_concurrency, write_concurrency, compressed]],
                    ?assertEqual([K || {K, _} <- IE], [K || {K, _} <- IS]),
                    ets:delete(E)
            end).

files_test() ->
    with_db(fun(D) ->
                    Dir = shmets_test_util:runtime_dir(),
                    F1 = filename:join(Dir, "t1.tab"), F2 = filename:join(Dir, "t2.tab"),
                    S = shmets:new(D, ft, [ordered_set, named_table]),
                    Objs = [{I, integer_to_list(I)} || I <- lists:seq(1, 100)],
                    shmets:insert(S, Objs),
                    ok = shmets:tab2file(S, F1, [{extended_info, [md5sum]}]),
                    ok = shmets:tab2file(S, F2, [{format, erlang}]),
                    shmets:delete(S),
                    {ok, S2} = shmets:file2tab(D, F1, [{verify, true}]),
                    ?assertEqual(Objs, shmets:tab2list(S2)),
                    %% OTP reads the file written in its format
                    {ok, E} = ets:file2tab(F2),
                    ?assertEqual(Objs, ets:tab2list(E)),
                    ?assertMatch({error, _}, shmets:file2tab(D, filename:join(Dir, "nofile"))),
                    %% and shmets reads a file OTP wrote
                    shmets:delete(S2), ets:delete(E),
                    E2 = ets:new(ft, [set, named_table]), ets:insert(E2, Objs),
                    ok = ets:tab2file(E2, F2), ets:delete(E2),
                    {ok, S3} = shmets:file2tab(D, F2),
                    ?assertEqual(Objs, lists:sort(shmets:tab2list(S3))),
                    file:delete(F1), file:delete(F2)
            end).

give_away_test() ->
    with_db(fun(D) ->
                    S = shmets:new(D, g, [public]),
                    Self = self(),
                    P = spawn(fun() -> receive M -> Self ! {got, M} end end),
                    ?assertEqual(badarg, call(shmets, give_away, [S, self(), x])),
                    ?assertEqual(true, shmets:give_away(S, P, gift)),
                    receive {got, M} -> ?assertEqual({'ETS-TRANSFER', S, Self, gift}, M)
                    after 2000 -> erlang:error(no_transfer) end,
                    ?assertEqual(badarg, call(shmets, give_away, [S, P, again]))
            end).

setopts_test() ->
    with_db(fun(D) ->
                    S = shmets:new(D, h, []),
                    ?assertEqual(true, shmets:setopts(S, {heir, self(), x})),
                    ?assertEqual(self(), shmets:info(S, heir)),
                    ?assertEqual(true, shmets:setopts(S, [{heir, none}])),
                    ?assertEqual(none, shmets:info(S, heir)),
                    ?assertEqual(badarg, call(shmets, setopts, [S, {protection, public}])),
                    ?assertEqual(badarg, in_other(fun() -> call(shmets, setopts, [S, {heir, none}]) end))
            end).

%% The /3 forms with a limit and their continuations, forwards and backwards.
chunks_of(M, F, T, Arg, Limit) -> all_chunks(M, apply(M, F, [T, Arg, Limit]), F).
all_chunks(M, {L, C}, F) -> L ++ all_chunks(M, cont(M, F, C), F);
all_chunks(_, '$end_of_table', _) -> [].
cont(M, select_reverse, C) -> M:select_reverse(C);
cont(M, match, C) -> M:match(C);
cont(M, match_object, C) -> M:match_object(C);
cont(M, select, C) -> M:select(C).

limit_forms_test_() ->
    [{atom_to_list(K) ++ " " ++ atom_to_list(F),
      fun() ->
              with_db(fun(D) ->
                              E = ets:new(e, [K]), S = shmets:new(D, s, [K]),
                              Objs = [{I rem 50, I} || I <- lists:seq(1, 400)],
                              ets:insert(E, Objs), shmets:insert(S, Objs),
                              Arg = case F of
                                        match -> {'$1', '$2'};
                                        match_object -> {'_', '_'};
                                        _ -> [{{'$1', '$2'}, [{'<', '$1', 30}], [{{'$2', '$1'}}]}]
                                    end,
                              Sort = case K of ordered_set -> fun(X) -> X end; _ -> fun xsort/1 end,
                              ?assertEqual(Sort(chunks_of(ets, F, E, Arg, 9)), Sort(chunks_of(shmets, F, S, Arg, 9)))
                      end)
      end} || K <- kinds(), F <- [select, select_reverse, match, match_object],
              F =/= select_reverse orelse K =:= ordered_set orelse K =:= set].

%% give_away/3 and setopts/2: ETS's answers, badargs included.
ownership_calls_test() ->
    with_db(fun(D) ->
                    E = ets:new(e, [public]), S = shmets:new(D, s, [public]),
                    Dead = spawn(fun() -> ok end),
                    Live = spawn(fun() -> receive stop -> ok end end),
                    timer:sleep(20),
                    Calls = [{setopts, [{heir, none}]}, {setopts, [[]]}, {setopts, [{heir, Dead, x}]},
                             {setopts, [{heir, self(), y}]}, {setopts, [[{heir, none}, {heir, none}]]},
                             {setopts, [{heir, notapid, x}]}, {setopts, [{bogus, 1}]},
                             {give_away, [self(), x]}, {give_away, [Dead, x]}, {give_away, [notapid, x]},
                             {give_away, [Live, gift]}, {give_away, [Live, again]}],
                    [?assertEqual({F, A, call(ets, F, [E | A])}, {F, A, call(shmets, F, [S | A])}) || {F, A} <- Calls],
                    ?assertEqual(call(ets, info, [E, heir]) =:= self(), call(shmets, info, [S, heir]) =:= self()),
                    Live ! stop
            end).

heir_self_test() ->
    with_db(fun(D) ->
                    E = ets:new(e, [{heir, self(), d}]), S = shmets:new(D, s, [{heir, self(), d}]),
                    ?assertEqual(ets:info(E, heir), shmets:info(S, heir))
            end).

rename_test_() ->
    [{atom_to_list(N),
      fun() ->
              with_db(fun(D) ->
                              Opts = [set, public | [named_table || N =:= named]],
                              E = ets:new(r1, Opts), S = shmets:new(D, r1, Opts),
                              ets:insert(E, {a, 1}), shmets:insert(S, {a, 1}),
                              E2 = ets:rename(E, r2), S2 = shmets:rename(S, r2),
                              ?assertEqual(is_atom(E2), is_atom(S2)),
                              N =:= named andalso ?assertEqual(E2, S2),
                              ?assertEqual(ets:lookup(E2, a), shmets:lookup(S2, a)),
                              ?assertEqual(ets:info(E2, name), shmets:info(S2, name)),
                              ?assertEqual(call(ets, lookup, [r1, a]), call(shmets, lookup, [r1, a])),
                              ?assertEqual(call(ets, rename, [E2, "str"]), call(shmets, rename, [S2, "str"])),
                              X = ets:new(r3, [named_table]), Y = shmets:new(D, r3, [named_table]),
                              R = fun(T) when is_reference(T) -> a_table; (T) -> T end,
                              ?assertEqual(R(call(ets, rename, [E2, r3])), R(call(shmets, rename, [S2, r3]))),
                              ets:delete(X), shmets:delete(Y), ets:delete(E2)
                      end)
      end} || N <- [named, unnamed]].
