%% shmets_owner_tests — ownership across the two worlds: an Erlang owner's exit hands the
%% table to its heir (in the node, or in another OS process through etsmgr) or deletes it; a
%% node killed outright hands its tables on through etsmgr; a node killed with SIGKILL while
%% it writes leaves tables that `shmets check` passes.
-module(shmets_owner_tests).
-include_lib("eunit/include/eunit.hrl").

-import(shmets_test_util, [inst/0, cleanup/1, bin/0, with_db/1, start_etsmgr/1, stop_etsmgr/1]).

str(I) -> binary_to_list(I).
q(I) -> "<<\"" ++ str(I) ++ "\">>".

with_child(F) ->
    C = shmets_child:start(),
    try F(C) after shmets_child:stop(C) end.

%% Run F in a process that owns what it makes; it exits when F returns and Stop is sent.
owner(F) ->
    Parent = self(),
    P = spawn(fun() -> Parent ! {made, self(), F()}, receive stop -> ok end end),
    receive {made, P, R} -> {P, R} after 5000 -> erlang:error(owner_timeout) end.

transfer(Tab) ->
    receive {'ETS-TRANSFER', Tab, _, _} = M -> M after 5000 -> timeout end.

%% As ETS: no heir, the table goes with its owner.
owner_exit_deletes_test() ->
    with_db(fun(D) ->
                    {P, T} = owner(fun() -> T = shmets:new(D, gone, [public]), shmets:insert(T, {a, 1}), T end),
                    Id = shmets:id(T),
                    ?assertEqual([{a, 1}], shmets:lookup(T, a)),
                    Ref = monitor(process, P), P ! stop,
                    receive {'DOWN', Ref, _, _, _} -> ok end,
                    ok = shmets_test_util:wait_until(fun() -> shmets:info(T) =:= undefined end, 2000),
                    ?assertEqual(badarg, shmets_test_util:call(shmets, lookup, [T, a])),
                    ?assertEqual({error, enoent}, shmets:attach(D, Id))
            end).

%% An heir in the node: it becomes the owner and gets the message.
owner_exit_local_heir_test() ->
    with_db(fun(D) ->
                    Self = self(),
                    {P, T} = owner(fun() -> T = shmets:new(D, inh, [named_table, {heir, Self, hd}]),
                                            shmets:insert(T, {a, 1}), T end),
                    ?assertEqual(P, shmets:info(inh, owner)),
                    ?assertEqual(badarg, shmets_test_util:call(shmets, insert, [T, {b, 2}])),
                    P ! stop,
                    ?assertEqual({'ETS-TRANSFER', inh, P, hd}, transfer(inh)),
                    ?assertEqual(self(), shmets:info(inh, owner)),
                    ?assertEqual(true, shmets:insert(inh, {b, 2})),
                    ?assertEqual(none, shmets:info(inh, heir)),
                    shmets:delete(inh)
            end).

%% An heir in another OS process (a second BEAM node): through etsmgr.
owner_exit_os_heir_test() ->
    I = inst(),
    M = start_etsmgr(I),
    try
        with_child(
          fun({_, ChildPid} = C) ->
                  ok = shmets_child:ask(C, "Self = self(), {ok, D} = shmets:open(" ++ q(I) ++ ", [{receiver, Self}]), ok."),
                  {ok, D} = shmets:open(I),
                  {P, _} = owner(fun() -> T = shmets:new(D, osinh, [named_table, {heir, {os_pid, ChildPid}, hello}]),
                                          shmets:insert(T, {k, v}), T end),
                  ?assertEqual({os_pid, ChildPid}, shmets:info(osinh, heir)),
                  P ! stop,
                  Me = list_to_integer(os:getpid()),
                  ?assertEqual({'ETS-TRANSFER', osinh, {os_pid, Me}, hello},
                               shmets_child:ask(C, "receive M -> M after 5000 -> timeout end.")),
                  ?assertEqual(true, shmets_child:ask(C, "shmets:insert(osinh, {new, owner}).")),
                  ?assertEqual([{new, owner}], shmets:lookup(osinh, new)),
                  ?assertEqual({os_pid, ChildPid}, shmets:info(osinh, owner)),
                  shmets:close(D)
          end)
    after stop_etsmgr(M), cleanup(I)
    end.

%% A node killed outright: etsmgr hands its table to the heir it named, this node.
node_killed_heir_test() ->
    I = inst(),
    M = start_etsmgr(I),
    try
        {ok, D} = shmets:open(I, [{receiver, self()}]),
        Me = os:getpid(),
        with_child(
          fun({_, ChildPid} = C) ->
                  true = shmets_child:ask(C, "{ok, D} = shmets:open(" ++ q(I) ++ "), T = shmets:new(D, orphan, "
                                          "[named_table, {heir, {os_pid, " ++ Me ++ "}, bye}]), "
                                          "shmets:insert(T, [{x, 1}, {y, 2}])."),
                  os:cmd("kill -9 " ++ integer_to_list(ChildPid)),
                  ?assertEqual({'ETS-TRANSFER', orphan, {os_pid, ChildPid}, bye}, transfer(orphan)),
                  ?assertEqual([{x, 1}, {y, 2}], lists:sort(shmets:tab2list(orphan))),
                  ?assertEqual(self(), shmets:info(orphan, owner)),
                  ?assertEqual(true, shmets:insert(orphan, {z, 3}))
          end),
        shmets:close(D)
    after stop_etsmgr(M), cleanup(I)
    end.

%% A node killed with SIGKILL in the middle of its writes: the table checks whole.
node_killed_while_writing_test() ->
    I = inst(),
    try
        with_child(
          fun({_, ChildPid} = C) ->
                  ok = shmets_child:ask(C, "{ok, D} = shmets:open(" ++ q(I) ++ "), "
                                        "T = shmets:new(D, w, [named_table, public]), "
                                        "W = fun W(N) -> shmets:insert(w, {N, lists:seq(1, N rem 64)}), "
                                        "shmets:delete(w, N - 50), shmets:update_counter(w, c, 1, {c, 0}), W(N + 1) end, "
                                        "[spawn(fun() -> W(K * 1000000) end) || K <- [1, 2]], ok."),
                  timer:sleep(400),
                  os:cmd("kill -9 " ++ integer_to_list(ChildPid)),
                  timer:sleep(50),
                  Out = os:cmd(bin() ++ " check --instance " ++ str(I) ++ " w"),
                  ?assertMatch("w: ok" ++ _, Out),
                  {ok, D} = shmets:open(I),
                  {ok, w} = shmets:attach(D, w),
                  ?assert(shmets:lookup_element(w, c, 2) > 0),
                  shmets:close(D)
          end)
    after cleanup(I)
    end.

%% A C process (the shmets tool) gives this node a table: the receiver owns it and is told.
c_gives_away_test() ->
    I = inst(),
    M = start_etsmgr(I),
    try
        {ok, D} = shmets:open(I, [{receiver, self()}]),
        Out = shmets_test_util:os_cmd(bin() ++ " script --instance " ++ str(I),
                                      "ets:new(gift, [named_table]).\nets:insert(gift, {a, 1}).\n"
                                      "ets:give_away(gift, <0." ++ os:getpid() ++ ".0>, present).\n"),
        ?assertEqual("gift\ntrue\ntrue\n", Out),
        ?assertMatch({'ETS-TRANSFER', gift, {os_pid, _}, present}, transfer(gift)),
        ?assertEqual(self(), shmets:info(gift, owner)),
        ?assertEqual(true, shmets:insert(gift, {b, 2})),
        ?assertEqual([{a, 1}, {b, 2}], lists:sort(shmets:tab2list(gift))),
        shmets:close(D)
    after stop_etsmgr(M), cleanup(I)
    end.
