#!/usr/bin/env escript
%% tests/erl/tabfile_oracle.escript — Erlang's side of tests/test_tabfile_erl.c.
%%
%%   write DIR       make ETS tables of every kind and option, dump each with ets:tab2file/3
%%                   to DIR/e_N.tab and write DIR/e_N.txt: the sorted objects (~w) on one
%%                   line, then "Type Protection Keypos Named Compressed" on the next
%%   read FILE...    ets:file2tab(FILE, [{verify,true}]) of each: one line each, the same
%%                   two facts in one term {SortedObjects, [Type, ...]}, or {error, Reason}
-mode(compile).

main(["write", Dir]) ->
    Big = list_to_binary([X rem 251 || X <- lists:seq(1, 70000)]),
    Objs = fun(Kp) ->
               [key_at(Kp, {I, <<"v", (integer_to_binary(I))/binary>>, [I, I * 1.5], #{I => x}})
                || I <- lists:seq(1, 50)]
               ++ [key_at(Kp, {big, Big}), key_at(Kp, {1, dup}), key_at(Kp, {1, dup}),
                   key_at(Kp, {'quoted atom', "str", -12345678901234567890})]
           end,
    Cases = [{Type, Prot, Kp, Named, Comp, Ext}
             || Type <- [set, ordered_set, bag, duplicate_bag],
                {Prot, Kp, Named, Comp, Ext} <- [{public, 1, true, false, [object_count, md5sum]},
                                                 {protected, 2, false, true, []},
                                                 {private, 1, true, true, [md5sum]},
                                                 {public, 2, false, false, [object_count]}]],
    lists:foldl(
      fun({Type, Prot, Kp, Named, Comp, Ext}, N) ->
              Opts = [Type, Prot, {keypos, Kp}] ++ [named_table || Named] ++ [compressed || Comp],
              T = ets:new(list_to_atom("e_" ++ integer_to_list(N)), Opts),
              ets:insert(T, Objs(Kp)),
              F = filename:join(Dir, "e_" ++ integer_to_list(N)),
              ok = ets:tab2file(T, F ++ ".tab", [{extended_info, Ext}]),
              ok = file:write_file(F ++ ".txt",
                                   io_lib:format("~w~n~w ~w ~w ~w ~w~n",
                                                 [lists:sort(ets:tab2list(T)) | facts(T)])),
              ets:delete(T),
              N + 1
      end, 0, Cases);
main(["read" | Files]) ->
    [io:format("~w~n", [read(F)]) || F <- Files];
main(_) ->
    halt(2).

read(F) ->
    case ets:file2tab(F, [{verify, true}]) of
        {ok, T} ->
            R = {lists:sort(ets:tab2list(T)), facts(T)},
            ets:delete(T),
            R;
        Error ->
            Error
    end.

facts(T) ->
    [ets:info(T, I) || I <- [type, protection, keypos, named_table, compressed]].

key_at(1, Obj) -> Obj;
key_at(2, Obj) -> list_to_tuple([pad | tuple_to_list(Obj)]).
