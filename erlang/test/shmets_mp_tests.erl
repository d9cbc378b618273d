%% shmets_mp_tests — shmets tables between OS processes: the shmets tool (C) and a BEAM node,
%% two BEAM nodes, an owner's death handing the table to an heir in another OS process, and
%% a node killed with SIGKILL while it writes.
-module(shmets_mp_tests).
-include_lib("eunit/include/eunit.hrl").

-import(shmets_test_util, [inst/0, cleanup/1, bin/0]).

str(I) -> binary_to_list(I).
q(I) -> "<<\"" ++ str(I) ++ "\">>".

with_child(F) ->
    C = shmets_child:start(),
    try F(C) after shmets_child:stop(C) end.

%% The shmets tool writes, this node reads; this node writes, the tool reads.
c_and_erlang_test() ->
    I = inst(),
    try
        Out = shmets_test_util:os_cmd(bin() ++ " script --instance " ++ str(I),
                                      "ets:new(ct, [named_table, public]).\n"
                                      "ets:insert(ct, [{1, one}, {2, <<\"two\">>}, {k, [1.5, \"s\"]}]).\n"),
        ?assertEqual("ct\ntrue\n", Out),
        {ok, D} = shmets:open(I),
        {ok, ct} = shmets:attach(D, ct),
        ?assertEqual([{2, <<"two">>}], shmets:lookup(ct, 2)),
        ?assertEqual([{k, [1.5, "s"]}], shmets:lookup(ct, k)),
        ?assertEqual(3, shmets:info(ct, size)),
        true = shmets:insert(ct, {from_erlang, self()}),
        T = shmets:new(D, et, [named_table, public, ordered_set]),
        true = shmets:insert(T, [{I2, I2 * I2} || I2 <- lists:seq(1, 10)]),
        Out2 = shmets_test_util:os_cmd(bin() ++ " script --instance " ++ str(I),
                                       "ets:lookup(et, 7).\nets:select_count(et, [{{'_','$1'},[{'>','$1',50}],[true]}]).\n"
                                       "ets:member(ct, from_erlang).\n"),
        ?assertEqual("[{7,49}]\n3\ntrue\n", Out2),
        shmets:close(D)
    after cleanup(I)
    end.

%% Two BEAM nodes share one table: each sees the other's writes.
two_nodes_test() ->
    I = inst(),
    try
        with_child(
          fun(C) ->
                  {ok, D} = shmets:open(I),
                  T = shmets:new(D, shared, [named_table, public]),
                  true = shmets:insert(T, {a, 1}),
                  ok = shmets_child:ask(C, "{ok, D} = shmets:open(" ++ q(I) ++ "), ok."),
                  {ok, shared} = shmets_child:ask(C, "shmets:attach(D, shared)."),
                  [{a, 1}] = shmets_child:ask(C, "shmets:lookup(shared, a)."),
                  true = shmets_child:ask(C, "shmets:insert(shared, [{b, 2}, {c, 3}])."),
                  4 = shmets_child:ask(C, "shmets:update_counter(shared, b, 2)."),
                  ?assertEqual([{b, 4}], shmets:lookup(T, b)),
                  ?assertEqual([{a, 1}, {b, 4}, {c, 3}], lists:sort(shmets:tab2list(T))),
                  %% an unnamed table, attached by id
                  U = shmets:new(D, u, [public, ordered_set]),
                  true = shmets:insert(U, [{X, x} || X <- lists:seq(1, 100)]),
                  Id = shmets:id(U),
                  100 = shmets_child:ask(C, "{ok, U} = shmets:attach(D, " ++ integer_to_list(Id) ++
                                            "), length(shmets:tab2list(U))."),
                  ?assertEqual(protected_write_refused(C, D), ok),
                  shmets:close(D)
          end)
    after cleanup(I)
    end.

protected_write_refused(C, D) ->
    P = shmets:new(D, prot, [named_table]),
    true = shmets:insert(P, {mine, 1}),
    {ok, prot} = shmets_child:ask(C, "shmets:attach(D, prot)."),
    [{mine, 1}] = shmets_child:ask(C, "shmets:lookup(prot, mine)."),
    {exception, "error:badarg"} = shmets_child:ask(C, "shmets:insert(prot, {theirs, 1})."),
    ok.
