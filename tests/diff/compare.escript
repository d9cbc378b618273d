#!/usr/bin/env escript
%% -*- erlang -*-
%%
%% compare.escript — compares what `shmets script` printed for a script with what real ETS
%% gives for it, call by call.
%%
%% Usage: escript tests/diff/compare.escript [--max-shown N] [--label NAME] SCRIPT OUTPUT
%%        escript tests/diff/compare.escript --mutations FILE SCRIPT OUTPUT
%%
%% SCRIPT is run again here against ETS (the code of ets_run.escript, ets_script.hrl), which
%% also tells, for each call, what the table held just before it.  OUTPUT holds the other
%% implementation's lines, one per call, each read back as a term (references, pids and ports
%% become placeholders first: erl_parse has no syntax for them); ETS's results get the same
%% placeholders.  Both are normalised and compared by the rules below.  Every difference is
%% counted; the first N (default 60) are shown with the call, both results and the rule.  A
%% line says how many walks (R5) and sweeps (R6) were checked; the last line is the summary
%%     diff: N calls, M tables, D differences
%% and the exit status is 0 only for 0 differences (2 for a usage or script error).
%%
%% With --mutations, the harness tests itself: OUTPUT must give no difference, and each
%% mutation in FILE must give exactly one; the exit status is 0 if all of that holds.  A
%% mutation is a line LINE<tab>TEXT[<tab>LINE<tab>TEXT...]<tab>WHY: those lines of OUTPUT
%% replaced by the texts (<drop> removes the line: only sensible for the last one).
%%
%% RULES (the documented differences between ETS and shmets, which are not bugs):
%%   R1 Exact.  By default the two results must be the same term (=:=) after normalisation.
%%   R2 Normalisation.  A reference that names a table becomes {'$tab', N}, N counting the
%%      script's successful ets:new calls; each side learns which of its references names
%%      table N where the call says so (ets:new of an unnamed table, ets:whereis/1,
%%      ets:info(T, id), ets:info(T)); a reference never learnt is {'$ref', unknown}, and so is
%%      a second reference for a table that has one.  Pids are '$pid' (owners are processes
%%      of different systems); ets:info's memory is '$int'; the times of safe_fixed and
%%      safe_fixed_monotonic_time are '$time'.
%%   R3 ets:all/0: compared as sets; on the ETS side only the script's tables count (erl has
%%      system tables of its own; ets_run.escript leaves out those that exist before the
%%      script's first call, this filter catches any made later).
%%   R4 Hash tables (set, bag, duplicate_bag) order their buckets differently:
%%      - tab2list/1: the same objects; for each key the same objects in the same order;
%%      - first/1, last/1: badarg exactly, '$end_of_table' for an empty table, else any key
%%        of the table (which may be '$end_of_table');
%%      - next/2, prev/2: badarg exactly, else '$end_of_table' or a key of the table other
%%        than the argument (with one key in the table this is exact);
%%      - slot/2: the objects it returns must be objects of the table.  ETS has at least 256
%%        slots, shmets its own number: slot 0 must be a list; for another index below 2^32
%%        '$end_of_table', badarg or a list of objects of the table is accepted; a negative,
%%        non-integer or larger index must be badarg on both sides.
%%   R5 Hash-table walks: after first/1 (last/1) and next/2 (prev/2) of each key of the table,
%%      with no other call between, the other side's answers are each key and
%%      '$end_of_table' exactly once, and following them from first's answer visits every key
%%      once and ends (its order has no cycle).
%%   R6 Slot sweeps of hash tables: after slot 0, 1, 2, ... with no other call between, the
%%      other side's first answer that is not a list is '$end_of_table', and its lists before
%%      it hold each object of the table once.
%%   R7 The select/match family.  select/2, select_reverse/2, match/2, match_object/2 on a
%%      hash table: the same results as a multiset.  The /3 forms and the /1 forms on
%%      `last_cont` (ets_script.hrl): a continuation is each side's own and compares as
%%      '$cont', but {Results, '$end_of_table'} stays itself: on an ordered_set a chunk must
%%      end the walk where ETS's does (a full chunk that reaches the last object comes with a
%%      continuation that leads to '$end_of_table'); on a hash table a run of chunks (a /3
%%      call and the /1 calls on `last_cont` after it) is judged whole at its end
%%      (chunk_step/end_chunks), each chunk may end it or not.  Counts
%%      (select_count, select_delete, select_replace) and errors are exact.
%%   Ordered sets are exact throughout (their order is Erlang's term order).

-mode(compile).
-include("ets_script.hrl").

-record(side, {refs = #{} :: #{string() => pos_integer()}}).

main(Args) ->
    try opts(Args, #{max => 60, label => "shmets", mutations => none}) of
        #{script := Script, output := Output, mutations := none} = O ->
            Calls = es_read(es_read_file(Script)),
            halt(report(Calls, read_output(Output), O));
        #{script := Script, output := Output, mutations := MutFile} ->
            Calls = es_read(es_read_file(Script)),
            halt(self_test(Calls, read_output(Output), read_mutations(MutFile)))
    catch
        throw:{script_error, Line, Msg} ->
            io:format(standard_error, "compare: ~b: ~ts~n", [Line, Msg]),
            halt(2);
        throw:usage ->
            io:format(standard_error,
                      "usage: compare.escript [--max-shown N] [--label NAME] SCRIPT OUTPUT~n"
                      "       compare.escript --mutations FILE SCRIPT OUTPUT~n", []),
            halt(2)
    end.

opts(["--max-shown", N | Rest], O) -> opts(Rest, O#{max := list_to_integer(N)});
opts(["--label", L | Rest], O) -> opts(Rest, O#{label := L});
opts(["--mutations", F | Rest], O) -> opts(Rest, O#{mutations := F});
opts([Script, Output], O) -> O#{script => Script, output => Output};
opts(_, _) -> throw(usage).

read_output(File) ->
    case file:read_file(File) of
        {ok, B} -> split_lines(B);
        {error, Why} ->
            throw({script_error, 0, io_lib:format("cannot read ~ts: ~ts",
                                                  [File, file:format_error(Why)])})
    end.

%% Compare, show the differences and the summary; the exit status.
report(Calls, Lines, #{max := Max, label := Label}) ->
    {Diffs, Missing, Extra, {Tabs, Walks, Sweeps, Runs}} = compare(Calls, Lines),
    NCalls = length(Calls),
    show(Diffs, Max, Label),
    Missing > 0 andalso
        io:format("diff: ~ts printed ~b lines for ~b calls: no result from line ~b of the script "
                  "on (~b calls)~n",
                  [Label, length(Lines), NCalls, line_of(lists:nth(length(Lines) + 1, Calls)),
                   Missing]),
    Extra > 0 andalso
        io:format("diff: ~ts printed ~b lines more than the script has calls (~b)~n",
                  [Label, Extra, NCalls]),
    tally(Diffs),
    io:format("diff: checked ~b full walks (R5), ~b slot sweeps (R6) and ~b runs of chunks "
              "(R7) of hash tables~n", [Walks, Sweeps, Runs]),
    D = length(Diffs) + Missing + Extra,
    io:format("diff: ~b calls, ~b tables, ~b differences~n", [NCalls, Tabs, D]),
    case D of 0 -> 0; _ -> 1 end.

%% The comparison runs in a process of its own: its tables go with it, so the next comparison
%% starts from nothing.  Returns {Diffs, Missing, Extra, Tables}.
compare(Calls, Lines) ->
    Parent = self(),
    {Pid, Mon} = spawn_monitor(
                   fun() ->
                           St0 = #{tabs => 0, tab_of => #{}, names => [], erl => #side{},
                                   got => #side{}, diffs => []},
                           St = compare_all(Calls, Lines, St0),
                           NCalls = length(Calls),
                           Parent ! {self(), {lists:reverse(maps:get(diffs, St)),
                                              max(0, NCalls - length(Lines)),
                                              max(0, length(Lines) - NCalls),
                                              {maps:get(tabs, St), maps:get(walks, St, 0),
                                               maps:get(sweeps, St, 0),
                                               maps:get(chunk_runs, St, 0)}}}
                   end),
    receive
        {Pid, Result} ->
            erlang:demonitor(Mon, [flush]),
            Result;
        {'DOWN', Mon, process, Pid, Why} ->
            throw({script_error, 0, io_lib:format("internal error: ~p", [Why])})
    end.

%% --mutations (see the top): the mutations in FILE.
read_mutations(File) ->
    [case string:split(L, "\t", all) of
         [_, _, _ | _] = Fs when length(Fs) rem 2 =:= 1 ->
             {Edits, [Why]} = lists:split(length(Fs) - 1, Fs),
             {pairs(Edits), Why};
         _ -> throw({script_error, 0, io_lib:format("~ts: bad line ~ts", [File, L])})
     end || L <- string:split(unicode:characters_to_list(es_read_file(File)), "\n", all),
            L =/= "", hd(L) =/= $#].

pairs([N, Text | Rest]) -> [{list_to_integer(N), Text} | pairs(Rest)];
pairs([]) -> [].

self_test(Calls, Lines, Mutations) ->
    Base = case compare(Calls, Lines) of
               {[], 0, 0, _} -> [];
               {Ds, M, E, _} -> [io_lib:format("the unchanged output gives ~b differences",
                                               [length(Ds) + M + E])]
           end,
    Failed = Base ++ lists:append([mutation(Calls, Lines, Mut) || Mut <- Mutations]),
    [io:format("compare: self-test: ~ts~n", [F]) || F <- Failed],
    io:format("compare: self-test: ~b mutations, ~b not caught as one difference~n",
              [length(Mutations), length(Failed)]),
    case Failed of [] -> 0; _ -> 1 end.

mutation(Calls, Lines, {Edits, Why}) ->
    Mutated = lists:foldl(fun edit/2, Lines, Edits),
    case compare(Calls, Mutated) of
        {[_], 0, 0, _} -> [];
        {[], 1, 0, _} -> [];
        {Ds, M, E, _} ->
            [io_lib:format("~ts (~ts) gives ~b differences",
                           [[io_lib:format("line ~b changed to ~ts; ", [N, T]) || {N, T} <- Edits],
                            Why, length(Ds) + M + E])]
    end.

edit({N, "<drop>"}, Lines) -> lists:sublist(Lines, N - 1) ++ lists:nthtail(N, Lines);
edit({N, Text}, Lines) ->
    lists:sublist(Lines, N - 1) ++ [unicode:characters_to_binary(Text) | lists:nthtail(N, Lines)].

line_of({Line, _, _}) -> Line.

split_lines(<<>>) -> [];
split_lines(B) ->
    Ls = binary:split(B, <<"\n">>, [global]),
    case lists:last(Ls) of
        <<>> -> lists:droplast(Ls);
        _ -> Ls
    end.

show(Diffs, Max, Label) ->
    Pad = lists:duplicate(max(0, length(Label) - 3), $\s),
    lists:foreach(
      fun({Line, F, Args, ExpText, GotText, Rule}) ->
              io:format("diff: line ~b: ~ts~n  erl: ~ts~ts~n  ~ts: ~ts~n  rule: ~ts~n",
                        [Line, clip(call_text(F, Args)), Pad, clip(ExpText), Label,
                         clip(GotText), Rule])
      end, lists:sublist(Diffs, Max)),
    length(Diffs) > Max andalso
        io:format("diff: ... ~b more differences not shown~n", [length(Diffs) - Max]).

tally([]) -> ok;
tally(Diffs) ->
    Count = lists:foldl(fun({_, F, Args, _, _, _}, M) ->
                                maps:update_with({F, length(Args)}, fun(N) -> N + 1 end, 1, M)
                        end, #{}, Diffs),
    io:format("diff: differences by call:~ts~n",
              [[io_lib:format(" ~w/~b ~b", [F, A, N]) || {{F, A}, N} <- lists:sort(maps:to_list(Count))]]).

call_text(F, Args) ->
    ["ets:", atom_to_list(F), "(", lists:join(", ", [io_lib:format("~w", [A]) || A <- Args]), ")."].

clip(Chars) ->
    S = unicode:characters_to_list(iolist_to_binary(
                                     unicode:characters_to_binary(Chars))),
    case length(S) > 400 of
        true -> lists:sublist(S, 400) ++ "...";
        false -> S
    end.

%% ------------------------------------------------------------------------------------------
%% The replay

compare_all([], _, St) -> end_chunks(end_sweep(end_walk(St)));
compare_all([{_, F, Args} | Calls], [], St) ->
    %% No line left to compare: run the rest all the same, to count the tables.
    Ctx = context(F, Args, St),
    {_, St1} = learn(F, Args, es_apply(F, Args), Ctx, St),
    compare_all(Calls, [], St1);
compare_all([{Line, F, Args} | Calls], [GotBin | Lines], St) ->
    Ctx = context(F, Args, St),
    R = es_apply(F, Args),
    {Hint, St1} = learn(F, Args, R, Ctx, St),
    ExpText = es_format(R),
    GotText = unicode:characters_to_list(GotBin, utf8),
    GotText1 = case is_list(GotText) of true -> GotText; false -> binary_to_list(GotBin) end,
    %% ETS's result as the parsed line would give it (faster than parsing ~w's text); the
    %% other side's line is parsed unless it is the same text
    ExpTerm = placeholders(R),
    GotTerm = case lists:flatten(ExpText) =:= GotText1 of
                  true -> ExpTerm;
                  false -> parse_line(GotText1)
              end,
    {Exp, ErlSide} = norm(F, Args, ExpTerm, Hint, maps:get(erl, St1)),
    {Got, GotSide} = norm(F, Args, GotTerm, Hint, maps:get(got, St1)),
    St2 = chunk_step(Line, F, Args, Ctx, Exp, Got, GotText1,
                     sweep_step(Line, F, Args, Ctx, Got, GotText1,
                                walk_step(Line, F, Args, Ctx, Exp, Got, GotText1,
                                          St1#{erl := ErlSide, got := GotSide}))),
    Ctx1 = case {Args, St2} of
               {[last_cont], #{chunks := #{hash := true}}} -> Ctx#{run => hash};
               _ -> Ctx
           end,
    case check(F, Args, Ctx1, Exp, Got, St2) of
        ok -> compare_all(Calls, Lines, St2);
        {diff, Rule} ->
            D = {Line, F, Args, ExpText, GotText1, Rule},
            compare_all(Calls, Lines, St2#{diffs := [D | maps:get(diffs, St2)]})
    end.

%% Rule R5: a walk is a run of calls first(T) (or last(T)) and then next(T, K) (prev) with
%% nothing else in between, on a hash table.  When the walk has asked next of every key of the
%% table once, the other side's answers (first's and each next's) must be every key and
%% '$end_of_table', each exactly once, whatever its order, and followed from first's answer
%% they visit every key once and end: no cycle.
walk_step(Line, F, [Tab | Rest], #{hash := true, keys := Keys}, Exp, Got, GotText, St)
  when (F =:= first orelse F =:= last), Exp =/= {'$error', badarg} ->
    Next = case F of first -> next; last -> prev end,
    (end_walk(St))#{walk => #{tab => Tab, next => Next, keys => Keys, args => [],
                              got => [Got], last => {Line, F, [Tab | Rest], GotText}}};
walk_step(Line, F, [Tab, K], _Ctx, Exp, Got, GotText, St = #{walk := W = #{tab := Tab, next := F}})
  when Exp =/= {'$error', badarg} ->
    St#{walk := W#{args := [K | maps:get(args, W)], got := [Got | maps:get(got, W)],
                   step => maps:put(K, Got, maps:get(step, W, #{})),
                   last := {Line, F, [Tab, K], GotText}}};
walk_step(_, _, _, _, _, _, _, St) -> end_walk(St).

end_walk(St = #{walk := #{keys := Keys0, args := Args, got := Got, next := Next,
                          last := {Line, F, A, GotText}}}) ->
    Keys = dedup(xsort(Keys0)),
    Complete0 = xsort(Args) =:= Keys andalso not lists:member('$end_of_table', Keys),
    %% follow the other side's chain from first's answer: every key once, then the end
    Step = maps:get(step, maps:get(walk, St), #{}),
    Complete = Complete0 andalso Keys =/= [],
    St1 = (maps:remove(walk, St))#{walks => maps:get(walks, St, 0) + case Complete of
                                                                      true -> 1;
                                                                      false -> 0
                                                                  end},
    Chain = fun Follow(_, N) when N > length(Keys) -> {loop, N};
                Follow('$end_of_table', N) -> {ended, N};
                Follow(K, N) ->
                    case Step of
                        #{K := Next1} -> Follow(Next1, N + 1);
                        _ -> {stray, N}
                    end
            end,
    case Complete andalso (xsort(Got) =/= xsort(['$end_of_table' | Keys])
                           orelse Chain(lists:last(Got), 0) =/= {ended, length(Keys)}) of
        false -> St1;
        true ->
            Rule = io_lib:format("R5 a walk by ~w over all ~b keys of a hash table: the answers "
                                 "must be each key and '$end_of_table' once, in one chain",
                                 [Next, length(Keys)]),
            D = {Line, F, A, "(the end of the walk)", GotText, Rule},
            St1#{diffs := [D | maps:get(diffs, St1)]}
    end;
end_walk(St) -> St.

dedup([A, B | R]) when A =:= B -> dedup([B | R]);
dedup([A | R]) -> [A | dedup(R)];
dedup([]) -> [].

%% Rule R6: a sweep is a run of calls slot(T, 0), slot(T, 1), ... on a hash table with nothing
%% else in between.  Where the other side answers its first non-list, that answer must be
%% '$end_of_table', and its lists up to there must hold the table's objects, each once.
sweep_step(Line, slot, [Tab, 0], #{hash := true, objs := Objs}, Got, GotText, St) ->
    (end_sweep(St))#{sweep => #{tab => Tab, objs => Objs, next => 1, got => [Got],
                                last => {Line, [Tab, 0], GotText}}};
sweep_step(Line, slot, [Tab, I], _, Got, GotText, St = #{sweep := W = #{tab := Tab, next := I}}) ->
    St#{sweep := W#{next := I + 1, got := [Got | maps:get(got, W)],
                    last := {Line, [Tab, I], GotText}}};
sweep_step(_, _, _, _, _, _, St) -> end_sweep(St).

end_sweep(St = #{sweep := #{objs := Objs, got := Got0, last := {Line, A, GotText}}}) ->
    St1 = maps:remove(sweep, St),
    {Lists, Rest} = lists:splitwith(fun is_list/1, lists:reverse(Got0)),
    Verdict = case Rest of
                  [] -> unknown;            % more slots than the sweep asked for
                  ['$end_of_table' | _] -> xsort(lists:append(Lists)) =:= xsort(Objs);
                  _ -> false
              end,
    Sweeps = maps:get(sweeps, St1, 0) + case Verdict of unknown -> 0; _ -> 1 end,
    case Verdict of
        false ->
            Rule = io_lib:format("R6 slot 0, 1, ... of a hash table of ~b objects: lists of each "
                                 "object once, then '$end_of_table'", [length(Objs)]),
            D = {Line, slot, A, "(the end of the sweep)", GotText, Rule},
            St1#{diffs := [D | maps:get(diffs, St1)], sweeps => Sweeps};
        _ -> St1#{sweeps => Sweeps}
    end;
end_sweep(St) -> St.

%% Rule R7, the chunks of a hash table: a run is a call select/3 (select_reverse/3, match/3,
%% match_object/3) on a hash table followed by calls of a /1 form on `last_cont`, with nothing
%% else in between.  The chunks' boundaries are each implementation's own, so at the end of
%% the run: if ETS's chunks ended ('$end_of_table'), all the other side's results together
%% must be ETS's, as a multiset; if not (the run asked for the first chunks only), the other
%% side's results must be part of what the /2 form gives, at least as many as ETS gave, and
%% all of it if the other side ended.  Ordered sets are compared call by call (R1, R7).
chunk_step(Line, F, [_, _, _] = Args, #{sel := true, hash := true, full := Full}, Exp, Got,
           GotText, St) when is_list(Full) ->
    St1 = end_chunks(St),
    case Exp of
        {L, _} when is_list(L) ->
            St1#{chunks => #{hash => true, full => Full, exp => [Exp], got => [Got],
                             last => {Line, F, Args, GotText}}};
        _ -> St1
    end;
chunk_step(Line, F, [last_cont], _Ctx, Exp, Got, GotText, St = #{chunks := C}) ->
    St#{chunks := C#{exp := [Exp | maps:get(exp, C)], got := [Got | maps:get(got, C)],
                     last := {Line, F, [last_cont], GotText}}};
chunk_step(_, _, _, _, _, _, _, St) -> end_chunks(St).

end_chunks(St = #{chunks := #{full := Full, exp := Exp0, got := Got0, last := {Line, F, A, GotText}}}) ->
    St1 = maps:remove(chunks, St),
    Results = fun(Answers) -> lists:append([L || {L, _} <- Answers, is_list(L)]) end,
    Ended = fun(Answers) -> lists:any(fun('$end_of_table') -> true;
                                         ({_, '$end_of_table'}) -> true;
                                         (_) -> false
                                      end, Answers) end,
    ExpR = Results(Exp0),
    GotR = Results(Got0),
    {Ok, What} =
        case {Ended(Exp0), Ended(Got0)} of
            {true, _} -> {xsort(GotR) =:= xsort(ExpR), "all of ETS's results, as a multiset"};
            {false, true} -> {xsort(GotR) =:= xsort(Full), "all of the /2 form's results"};
            {false, false} ->
                {length(GotR) >= length(ExpR) andalso submultiset(xsort(GotR), xsort(Full)),
                 "part of the /2 form's results, at least as many as ETS's"}
        end,
    Runs = maps:get(chunk_runs, St1, 0) + 1,
    case Ok of
        true -> St1#{chunk_runs => Runs};
        false ->
            Rule = io_lib:format("R7 the chunks of a hash table (~b calls): ~ts (~b results; "
                                 "ETS ~b of ~b)", [length(Got0), What, length(GotR),
                                                   length(ExpR), length(Full)]),
            D = {Line, F, A, "(the end of the chunks)", GotText, Rule},
            St1#{diffs := [D | maps:get(diffs, St1)], chunk_runs => Runs}
    end;
end_chunks(St) -> St.

submultiset([], _) -> true;
submultiset(_, []) -> false;
submultiset([A | As], [B | Bs]) when A =:= B -> submultiset(As, Bs);
submultiset(As, [_ | Bs]) -> submultiset(As, Bs).

%% What the table named by the call's first argument holds just before the call (for the
%% calls whose rules need it).
context(F, [Tab | _], _St) when F =:= first; F =:= last; F =:= next; F =:= prev; F =:= slot;
                                F =:= tab2list ->
    Type = try ets:info(Tab, type) catch error:badarg -> undefined end,
    Hash = lists:member(Type, [set, bag, duplicate_bag]),
    case Hash of
        true ->
            KP = ets:info(Tab, keypos),
            Objs = ets:tab2list(Tab),
            #{type => Type, hash => true, objs => Objs, keypos => KP,
              keys => [element(KP, O) || O <- Objs]};
        false -> #{type => Type, hash => false}
    end;
context(F, [Tab | _] = Args, _St) when F =:= select; F =:= select_reverse; F =:= match;
                                    F =:= match_object; F =:= select_count;
                                    F =:= select_delete; F =:= select_replace;
                                    F =:= match_delete ->
    Type = try ets:info(Tab, type) catch error:badarg -> undefined end,
    Hash = lists:member(Type, [set, bag, duplicate_bag]),
    %% a /3 call: everything its chunks may hold (its /2 form, before the call)
    Full = case Args of
               [_, Spec, _] -> try ets:F(Tab, Spec) catch error:_ -> none end;
               _ -> none
           end,
    #{type => Type, hash => Hash, sel => true, full => Full};
context(_, _, _) -> #{type => undefined, hash => false}.

%% Table numbers: each successful ets:new gets the next; the ETS reference of each is kept
%% (tab_of) so that later calls know which table a name denotes.  Returns the hint: the number
%% of the table whose reference this call's result may carry.
learn(new, [Name, _], {ok, R}, _Ctx, St = #{tabs := N, tab_of := TabOf, names := Names}) ->
    Ref = case is_reference(R) of true -> R; false -> ets:whereis(Name) end,
    Names1 = case is_atom(R) of true -> [R | Names]; false -> Names end,
    {N + 1, St#{tabs := N + 1, tab_of := TabOf#{Ref => N + 1}, names := Names1}};
learn(rename, [_, New], {ok, _}, _Ctx, St = #{names := Names}) ->
    {none, St#{names := [New | Names]}};
learn(F, [Name | Rest], {ok, _}, _Ctx, St = #{tab_of := TabOf})
  when F =:= whereis; F =:= info andalso (Rest =:= [] orelse Rest =:= [id]) ->
    Hint = case catch ets:whereis(Name) of
               Ref when is_reference(Ref) -> maps:get(Ref, TabOf, none);
               _ -> none
           end,
    {Hint, St};
learn(_, _, _, _, St) -> {none, St}.

%% ------------------------------------------------------------------------------------------
%% Reading a result line back as a term

%% What parse_line(es_format(R)) gives, straight from R.
placeholders({ok, T}) -> ph(T);
placeholders({error, E}) -> {'$error', ph(E)}.

ph(R) when is_reference(R) -> {'$ref', inner(ref_to_list(R), "#Ref<")};
ph(P) when is_pid(P) -> {'$pid', inner(pid_to_list(P), "<")};
ph(P) when is_port(P) -> {'$port', inner(port_to_list(P), "#Port<")};
ph(T) when is_tuple(T) -> list_to_tuple(ph(tuple_to_list(T)));
ph([H | T]) -> [ph(H) | ph(T)];
ph(M) when is_map(M) -> maps:from_list(ph(maps:to_list(M)));
ph(T) -> T.

inner(S, Prefix) -> lists:droplast(lists:nthtail(length(Prefix), S)).

parse_line("error:badarg") -> {'$error', badarg};
parse_line("true") -> true;
parse_line("false") -> false;
parse_line("[]") -> [];
parse_line("'$end_of_table'") -> '$end_of_table';
parse_line(Text) ->
    S = lists:flatten(Text),
    case S of
        "error:" ++ Rest ->
            case parse_term(Rest) of
                {ok, T} -> {'$error', T};
                error -> {'$unreadable', S}
            end;
        _ ->
            case parse_term(S) of
                {ok, T} -> T;
                error -> {'$unreadable', S}
            end
    end.

parse_term(S0) ->
    %% (the substitutions only where they can apply: re on long lines is slow)
    S3 = case lists:member($#, S0) orelse string:find(S0, "<0.") =/= nomatch of
             false -> S0;
             true ->
                 S1 = re:replace(S0, "#Ref<([0-9.]+)>", "{'$ref',\"\\1\"}",
                                 [global, unicode, {return, list}]),
                 S2 = re:replace(S1, "#Port<([0-9.]+)>", "{'$port',\"\\1\"}",
                                 [global, unicode, {return, list}]),
                 re:replace(S2, "<([0-9]+\\.[0-9]+\\.[0-9]+)>", "{'$pid',\"\\1\"}",
                            [global, unicode, {return, list}])
         end,
    case erl_scan:string(S3 ++ " .") of
        {ok, Toks, _} ->
            case erl_parse:parse_term(Toks) of
                {ok, T} -> {ok, T};
                _ -> error
            end;
        _ -> error
    end.

%% ------------------------------------------------------------------------------------------
%% Normalisation (rule R2)

norm(F, Args, T, Hint, Side) ->
    {T1, Side1} = walk(T, Hint, Side),
    {info_norm(F, Args, T1), Side1}.

walk({'$ref', S}, Hint, Side = #side{refs = Refs}) when is_list(S) ->
    case Refs of
        #{S := N} -> {{'$tab', N}, Side};
        _ when is_integer(Hint) ->
            %% a table has one reference: a second one for it is not learnt
            case lists:member(Hint, maps:values(Refs)) of
                false -> {{'$tab', Hint}, Side#side{refs = Refs#{S => Hint}}};
                true -> {{'$ref', unknown}, Side}
            end;
        _ -> {{'$ref', unknown}, Side}
    end;
walk({'$pid', S}, _, Side) when is_list(S) -> {'$pid', Side};
walk({'$port', S}, _, Side) when is_list(S) -> {'$port', Side};
walk(T, Hint, Side) when is_tuple(T) ->
    {L, Side1} = walk(tuple_to_list(T), Hint, Side),
    {list_to_tuple(L), Side1};
walk([H | Tl], Hint, Side) ->
    {H1, Side1} = walk(H, Hint, Side),
    {Tl1, Side2} = walk(Tl, Hint, Side1),
    {[H1 | Tl1], Side2};
walk(M, Hint, Side) when is_map(M) ->
    {L, Side1} = walk(maps:to_list(M), Hint, Side),
    {maps:from_list(L), Side1};
walk(T, _, Side) -> {T, Side}.

info_norm(info, [_, memory], N) when is_integer(N) -> '$int';
info_norm(info, [_, I], {_, L}) when I =:= safe_fixed; I =:= safe_fixed_monotonic_time -> {'$time', L};
info_norm(info, [_], L) when is_list(L) ->
    [case E of
         {memory, N} when is_integer(N) -> {memory, '$int'};
         _ -> E
     end || E <- L];
info_norm(F, Args, {L, Cont}) when is_list(L), Cont =/= '$end_of_table',
                                   (length(Args) =:= 3 orelse length(Args) =:= 1),
                                   (F =:= select orelse F =:= select_reverse orelse
                                    F =:= match orelse F =:= match_object) ->
    %% R7: a continuation is each implementation's own ('$end_of_table' is not: where the
    %% chunks end is compared)
    {L, '$cont'};
info_norm(_, _, T) -> T.

%% ------------------------------------------------------------------------------------------
%% The rules

check(all, [], _Ctx, Exp, Got, #{names := Names}) when is_list(Exp), is_list(Got) ->
    Mine = [E || E <- Exp, is_tab(E) orelse lists:member(E, Names)],
    case lists:sort(Mine) =:= lists:sort(Got) of
        true -> ok;
        false -> {diff, io_lib:format("R3 all/0 as a set (the script's tables in erl: ~w)", [lists:sort(Mine)])}
    end;
check(F, _, #{hash := true, keys := Keys}, Exp, Got, _) when F =:= first; F =:= last ->
    %% ('$end_of_table' may be a key of the table: then it is one of the keys)
    case Exp of
        {'$error', _} -> exact(Exp, Got);
        _ when Keys =:= [] -> exact(Exp, Got);
        _ ->
            case lists:member(Got, Keys) of
                true -> ok;
                false -> {diff, "R4 first/last on a hash table: a key of the table"}
            end
    end;
check(F, [_, K], #{hash := true, keys := Keys}, Exp, Got, _) when F =:= next; F =:= prev ->
    case Exp of
        {'$error', _} -> exact(Exp, Got);
        _ when Got =:= '$end_of_table' -> ok;
        _ ->
            case lists:member(Got, Keys) andalso Got =/= K of
                true -> ok;
                false -> {diff, "R4 next/prev on a hash table: '$end_of_table' or a key of the "
                                "table other than the argument"}
            end
    end;
check(tab2list, _, #{hash := true, type := Type, keypos := KP}, Exp, Got, _)
  when is_list(Exp), is_list(Got) ->
    case xsort(Exp) =:= xsort(Got) of
        false -> {diff, "R4 tab2list on a hash table: the same objects in any order"};
        true ->
            case by_key(KP, Exp) =:= by_key(KP, Got) of
                true -> ok;
                false -> {diff, io_lib:format("R4 tab2list on a ~w: the objects of each key in "
                                              "the same order", [Type])}
            end
    end;
check(slot, [_, I], #{hash := true, objs := Objs}, Exp, Got, _) ->
    %% Slot 0 is a list (every table has a slot); a slot below 2^32 may be anything else
    %% plausible (the other side may have more or fewer slots than ETS); else exact.
    Plausible = is_integer(I) andalso I > 0 andalso I < (1 bsl 32),
    GotOk = case Got of
                L when is_list(L) -> lists:all(fun(O) -> lists:member(O, Objs) end, L);
                _ -> false
            end,
    if
        is_list(Exp), I =:= 0, GotOk -> ok;
        is_list(Exp), I =:= 0 -> {diff, "R4 slot 0 of a hash table: a list of objects of the table"};
        Plausible, GotOk -> ok;
        Plausible, Got =:= '$end_of_table' -> ok;
        Plausible, Got =:= {'$error', badarg} -> ok;
        Plausible -> {diff, "R4 slot of a hash table: '$end_of_table', badarg or a list of "
                            "objects of the table"};
        true -> exact(Exp, Got)
    end;
check(F, [_, _], #{sel := true, hash := true, type := Type}, Exp, Got, _)
  when (F =:= select orelse F =:= select_reverse orelse F =:= match orelse F =:= match_object),
       is_list(Exp), is_list(Got) ->
    case xsort(Exp) =:= xsort(Got) of
        true -> ok;
        false -> {diff, io_lib:format("R7 ~w/2 on a ~w: the same results in any order (~b vs ~b)",
                                      [F, Type, length(Exp), length(Got)])}
    end;
check(F, [_, _, _], #{sel := true, hash := true}, Exp, Got, _)
  when (F =:= select orelse F =:= select_reverse orelse F =:= match orelse F =:= match_object) ->
    %% a hash table's chunk: judged at the end of the run of chunks (chunk_step)
    case {Exp, Got} of
        {{L, _}, {L2, C}} when is_list(L), is_list(L2), (C =:= '$cont' orelse C =:= '$end_of_table') -> ok;
        {{L, _}, _} when is_list(L) -> {diff, "R7 a chunk of a hash table: {Results, Cont}"};
        _ -> exact(Exp, Got)
    end;
check(F, [last_cont], #{run := hash}, Exp, Got, _) ->
    case {Exp, Got} of
        {_, '$end_of_table'} -> ok;
        {_, {L2, C}} when is_list(L2), (C =:= '$cont' orelse C =:= '$end_of_table') -> ok;
        {{'$error', _}, _} -> exact(Exp, Got);
        _ -> {diff, io_lib:format("R7 ~w(last_cont) in a hash table's chunks: {Results, Cont} "
                                  "or '$end_of_table'", [F])}
    end;
check(_, _, _, Exp, Got, _) -> exact(Exp, Got).

is_tab({'$tab', _}) -> true;
is_tab(_) -> false.

%% A sort that orders terms equal by == (1 and 1.0) too.
xsort(L) -> lists:sort(fun(A, B) -> {A, term_to_binary(A)} =< {B, term_to_binary(B)} end, L).

exact(T, T) -> ok;
exact(A, B) when is_list(A), is_list(B), length(A) =:= length(B) ->
    [{I, X, Y} | _] = [{I, X, Y} || {I, X, Y} <- lists:zip3(lists:seq(1, length(A)), A, B),
                                    X =/= Y],
    {diff, io_lib:format("R1 exact; element ~b differs~ts: ~w vs ~w",
                         [I, normalised(X, Y), X, Y])};
exact(A, B) -> {diff, io_lib:format("R1 exact~ts", [normalised(A, B)])}.

normalised(A, B) ->
    case has_placeholder(A) orelse has_placeholder(B) of
        false -> "";
        true -> io_lib:format(" after normalisation: ~w vs ~w", [A, B])
    end.

has_placeholder({'$tab', _}) -> true;
has_placeholder({'$ref', _}) -> true;
has_placeholder({'$time', _}) -> true;
has_placeholder(A) when A =:= '$pid'; A =:= '$port'; A =:= '$int' -> true;
has_placeholder(T) when is_tuple(T) -> has_placeholder(tuple_to_list(T));
has_placeholder([H | T]) -> has_placeholder(H) orelse has_placeholder(T);
has_placeholder(_) -> false.

%% The objects of each key, in the order given.
by_key(KP, Objs) ->
    xsort(maps:to_list(
                 lists:foldl(fun(O, M) ->
                                     maps:update_with(element(KP, O), fun(L) -> L ++ [O] end, [O], M)
                             end, #{}, Objs))).
