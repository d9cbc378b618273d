%% -*- erlang -*-
%% ets_script.hrl — the script language of `shmets script`, read and run against real ETS.
%% Included by ets_run.escript, gen.escript and compare.escript (each in this directory).
%%
%% A script is a sequence of calls `ets:Function(Arg, ...).`, each ended by a full stop
%% followed by white space or the end of the input; `%` starts a comment.  Arguments are
%% literal terms only: integers, floats, atoms, strings, binaries, tuples, lists, maps.
%% Each call prints one line: its result as io_lib:format("~w", [Result]) writes it, or
%% `error:badarg` where ETS raises badarg (`error:Reason` for any other error).
%%
%% Erlang/OTP 25 has no ets:lookup_element/4 (OTP 26 added it); es_apply/2 gives it OTP 26's
%% semantics (erl_db.c, ets_lookup_element_4): badarg for a missing table or a position that
%% is not a small integer >= 1, Default for a missing key, else as lookup_element/3.
%%
%% OTP 25.2.3's lookup_element/3 truncates the position to 32 bits when the key is present:
%% position 2^32 aborts the emulator ("size_object: bad tag"), 2^32+2 returns element 2.
%% es_apply/2 answers positions from 2^32 up to the largest small integer (2^59-1) as ETS
%% means to, without calling it: no object has that many elements, so badarg for a present
%% key, and for a missing one badarg (lookup_element/3) or the default (lookup_element/4).
%%
%% OTP 25.2.3's update_counter/4 inserts a default object shorter than the keypos when the
%% key is missing, and crashes the emulator (heap corruption).  The manual says badarg ("the
%% default object arity is smaller than keypos"); es_apply/2 answers so without calling ETS.
%% (With the key present the default is not used and ETS is called; gen.escript does not
%% write that case, where the manual and ETS might be read differently.)

%% OTP 25 has neither OTP 27's first_lookup/1, next_lookup/2, last_lookup/1, prev_lookup/2
%% nor its update_element/4; es_apply/2 gives them the current manual's meaning: the step of
%% first/next/last/prev and {Key, lookup(T, Key)}, or '$end_of_table' at the end (where a key
%% '$end_of_table' is told from the end, eot_is_key/3); update_element/3 when
%% the key is there, else the default with its key element replaced by Key, updated as
%% update_element/3 would update it, inserted — and badarg, with nothing inserted, for a
%% default that is not a tuple of at least keypos elements, used or not (the current ETS).

%% The calls a script may make: the interface of `shmets script`.
-compile({nowarn_unused_function, [es_calls/0, es_cont_call/2, es_read/1, es_split/3, es_line/1, es_call/1, es_literal/1, es_format/1, es_read_file/1, es_read_stdin/1,
                            es_apply/2, es_apply1/2, es_catch/1, lookup_element4/4]}).

es_calls() ->
    [{new, 2}, {delete, 1}, {delete, 2}, {delete_all_objects, 1}, {delete_object, 2},
     {insert, 2}, {insert_new, 2}, {lookup, 2}, {lookup_element, 3}, {lookup_element, 4},
     {member, 2}, {take, 2}, {first, 1}, {next, 2}, {last, 1}, {prev, 2}, {tab2list, 1},
     {slot, 2}, {safe_fixtable, 2}, {update_counter, 3}, {update_counter, 4},
     {update_element, 3}, {rename, 2}, {info, 1}, {info, 2}, {all, 0}, {whereis, 1},
     {first_lookup, 1}, {next_lookup, 2}, {last_lookup, 1}, {prev_lookup, 2},
     {update_element, 4},
     %% the select/match family (match_spec_compile's result is a reference in ETS and a
     %% binary in shmets: compare.escript has no rule for it, gen.escript does not write it)
     {select, 1}, {select, 2}, {select, 3}, {select_reverse, 1}, {select_reverse, 2},
     {select_reverse, 3}, {select_count, 2}, {select_delete, 2}, {select_replace, 2},
     {match, 1}, {match, 2}, {match, 3}, {match_object, 1}, {match_object, 2},
     {match_object, 3}, {match_delete, 2}, {match_spec_compile, 1}, {match_spec_run, 2},
     {is_compiled_ms, 1}, {test_ms, 2}].

%% Continuations (select/3, select_reverse/3, match/3, match_object/3 and their /1 forms)
%% are printed differently by ETS and shmets, so a script cannot write one literally.  The
%% convention: the atom `last_cont` as the only argument of select/1, select_reverse/1,
%% match/1 or match_object/1 stands for the continuation that the most recent call of any of
%% those eight forms (/3 or /1) returned: Cont of its {Results, Cont}, or '$end_of_table' if
%% it returned '$end_of_table'.  If that call raised an error, or there was none, `last_cont`
%% is the atom itself (not a continuation: badarg).  Other calls in between change nothing.
es_cont_call(F, 1) -> lists:member(F, [select, select_reverse, match, match_object]);
es_cont_call(F, 3) -> lists:member(F, [select, select_reverse, match, match_object]);
es_cont_call(_, _) -> false.

%% ------------------------------------------------------------------------------------------
%% Reading a script

%% es_read(Text) -> [{Line, Function, Args}], Text a UTF-8 binary.
%% Throws {script_error, Line, Message} for anything that is not a call of es_calls() with
%% literal arguments.
es_read(Bin) ->
    Text = case unicode:characters_to_list(Bin, utf8) of
               L when is_list(L) -> L;
               _ -> throw({script_error, 0, "the input is not UTF-8"})
           end,
    case erl_scan:string(Text, {1, 1}) of
        {ok, Toks, _} -> es_split(Toks, [], []);
        {error, {Loc, Mod, Desc}, _} -> throw({script_error, es_line(Loc), Mod:format_error(Desc)})
    end.

es_split([], [], Acc) -> lists:reverse(Acc);
es_split([], Cur, _) ->
    throw({script_error, es_line(element(2, lists:last(Cur))),
           "the last call is not ended by a full stop"});
es_split([{dot, _} = D | Rest], Cur, Acc) ->
    es_split(Rest, [], [es_call(lists:reverse([D | Cur])) | Acc]);
es_split([T | Rest], Cur, Acc) -> es_split(Rest, [T | Cur], Acc).

es_line({L, _}) -> L;
es_line(L) when is_integer(L) -> L;
es_line(_) -> 0.

es_call([First | _] = Toks) ->
    Line = es_line(element(2, First)),
    Bad = fun(Fmt, As) -> throw({script_error, Line, lists:flatten(io_lib:format(Fmt, As))}) end,
    case erl_parse:parse_exprs(Toks) of
        {ok, [{call, _, {remote, _, {atom, _, ets}, {atom, _, F}}, ArgForms}]} ->
            lists:member({F, length(ArgForms)}, es_calls())
                orelse Bad("ets:~w/~w is not a call of the script language", [F, length(ArgForms)]),
            Args = [case es_literal(A) of
                        true -> erl_parse:normalise(A);
                        false -> Bad("argument ~b of ets:~w is not a literal term", [I, F])
                    end || {I, A} <- lists:zip(lists:seq(1, length(ArgForms)), ArgForms)],
            {Line, F, Args};
        {ok, _} -> Bad("not a call ets:Function(Args)", []);
        {error, {_, Mod, Desc}} -> Bad("~ts", [Mod:format_error(Desc)])
    end.

%% Literal terms only: no variables, operators but unary minus and plus on numbers, calls, funs.
es_literal({integer, _, _}) -> true;
es_literal({float, _, _}) -> true;
es_literal({char, _, _}) -> true;
es_literal({atom, _, _}) -> true;
es_literal({string, _, _}) -> true;
es_literal({nil, _}) -> true;
es_literal({op, _, Op, {N, _, _}}) when (Op =:= '-' orelse Op =:= '+'),
                                      (N =:= integer orelse N =:= float orelse N =:= char) -> true;
es_literal({cons, _, H, T}) -> es_literal(H) andalso es_literal(T);
es_literal({tuple, _, Es}) -> lists:all(fun es_literal/1, Es);
es_literal({map, _, Fs}) ->
    lists:all(fun({map_field_assoc, _, K, V}) -> es_literal(K) andalso es_literal(V);
                 (_) -> false
              end, Fs);
es_literal({bin, _, Els}) ->
    lists:all(fun({bin_element, _, V, Size, _Tsl}) ->
                      (es_literal(V) andalso element(1, V) =/= atom)
                          andalso (Size =:= default orelse element(1, Size) =:= integer);
                 (_) -> false
              end, Els);
es_literal(_) -> false.

%% ------------------------------------------------------------------------------------------
%% Running a call

%% es_apply(F, Args) -> {ok, Result} | {error, Reason}
%% ets:all/0 leaves out the tables that existed before the first call (the system's own), as
%% a fresh shmets instance has only the script's.
es_apply(F, Args) ->
    case get(es_system_tables) of
        undefined -> put(es_system_tables, ets:all());
        _ -> ok
    end,
    Args1 = case Args of
                [last_cont] ->
                    case es_cont_call(F, 1) andalso get(es_last_cont) of
                        {cont, C} -> [C];
                        _ -> Args
                    end;
                _ -> Args
            end,
    R = es_apply1(F, Args1),
    case es_cont_call(F, length(Args)) of
        true ->
            case R of
                {ok, {_, C1}} -> put(es_last_cont, {cont, C1});
                {ok, '$end_of_table'} -> put(es_last_cont, {cont, '$end_of_table'});
                _ -> erase(es_last_cont)
            end;
        false -> ok
    end,
    R.

es_apply1(all, []) ->
    es_catch(fun() -> ets:all() -- get(es_system_tables) end);
es_apply1(lookup_element, [T, K, P, D]) ->
    es_catch(fun() -> lookup_element4(T, K, P, D) end);
es_apply1(lookup_element, [T, K, P]) when is_integer(P), P >= (1 bsl 32), P < (1 bsl 59) ->
    es_catch(fun() -> ets:lookup(T, K), error(badarg) end);
es_apply1(update_counter, [T, K, Op, D]) when is_tuple(D) ->
    es_catch(fun() ->
                     case catch {ets:info(T, type), ets:info(T, keypos)} of
                         {Type, KP} when (Type =:= set orelse Type =:= ordered_set),
                                         tuple_size(D) < KP ->
                             case ets:member(T, K) of
                                 true -> ets:update_counter(T, K, Op, D);
                                 false -> error(badarg)
                             end;
                         _ -> ets:update_counter(T, K, Op, D)
                     end
             end);
es_apply1(F, [T | Rest]) when F =:= first_lookup; F =:= next_lookup; F =:= last_lookup;
                              F =:= prev_lookup ->
    Step = #{first_lookup => first, next_lookup => next, last_lookup => last,
             prev_lookup => prev},
    es_catch(fun() ->
                     K = erlang:apply(ets, maps:get(F, Step), [T | Rest]),
                     case K =/= '$end_of_table' orelse eot_is_key(F, T, Rest) of
                         true -> {K, ets:lookup(T, K)};
                         false -> '$end_of_table'
                     end
             end);
es_apply1(update_element, [T, K, Spec, D]) ->
    es_catch(fun() -> update_element4(T, K, Spec, D) end);
es_apply1(F, Args) ->
    es_catch(fun() -> erlang:apply(ets, F, Args) end).

%% The step gave '$end_of_table': is that the key found (the _lookup forms are not ambiguous)?
%% Exact for an ordered_set, where the step's answer is the nearest key in term order.
eot_is_key(F, T, Rest) ->
    ets:member(T, '$end_of_table') andalso
        case {F, Rest} of
            {next_lookup, [K]} -> K < '$end_of_table';
            {prev_lookup, [K]} -> K > '$end_of_table';
            _ -> true
        end.

update_element4(T, K, Spec, D) ->
    Type = ets:info(T, type),
    KP = ets:info(T, keypos),
    (Type =:= set orelse Type =:= ordered_set) orelse error(badarg),
    (is_tuple(D) andalso tuple_size(D) >= KP) orelse error(badarg),
    case ets:member(T, K) of
        true -> ets:update_element(T, K, Spec);
        false ->
            S = ets:new(es_scratch, [Type, {keypos, KP}]),
            try
                true = ets:insert(S, setelement(KP, D, K)),
                true = ets:update_element(S, K, Spec),
                ets:insert(T, ets:lookup(S, K))
            after
                ets:delete(S)
            end
    end.

es_catch(Fun) ->
    try {ok, Fun()}
    catch error:Reason -> {error, Reason}
    end.

lookup_element4(T, K, P, D) ->
    ets:info(T, type) =/= undefined orelse error(badarg),
    (is_integer(P) andalso P >= 1 andalso P < (1 bsl 59)) orelse error(badarg),
    case ets:member(T, K) of
        false -> D;
        true when P >= (1 bsl 32) -> error(badarg);
        true -> ets:lookup_element(T, K, P)
    end.

%% The line a call prints (without the newline), as characters.
es_format({ok, R}) -> io_lib:format("~w", [R]);
es_format({error, badarg}) -> "error:badarg";
es_format({error, R}) -> io_lib:format("error:~w", [R]).

%% Read a whole file ("-": standard input) as a binary.
es_read_file("-") ->
    ok = io:setopts(standard_io, [binary]),
    es_read_stdin([]);
es_read_file(File) ->
    case file:read_file(File) of
        {ok, Bin} -> Bin;
        {error, Why} -> throw({script_error, 0, io_lib:format("cannot read ~ts: ~ts",
                                                               [File, file:format_error(Why)])})
    end.

es_read_stdin(Acc) ->
    case io:get_chars(standard_io, '', 65536) of
        eof -> iolist_to_binary(lists:reverse(Acc));
        {error, Why} -> throw({script_error, 0, io_lib:format("cannot read standard input: ~p", [Why])});
        Data -> es_read_stdin([Data | Acc])
    end.
