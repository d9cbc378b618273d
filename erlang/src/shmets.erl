%% @doc shmets — Erlang ETS tables shared between the OS processes of one host.
%%
%% The API mirrors `ets' with an instance in front: `{ok, Db} = shmets:open(Instance)',
%% `Tab = shmets:new(Db, Name, Options)' or `{ok, Tab} = shmets:attach(Db, NameOrId)', then
%% ets's calls on `Tab' (`insert/2', `lookup/2', `select/2', ...), with ets's return values and
%% `badarg' where ets raises it.  Match specifications are plain terms, so `ets:fun2ms/1'
%% output works as it is.  A named table's term is its name (an atom, resolved by the NIF's
%% lock-free name map); an unnamed table's term is a reference (a NIF resource; the handle is
%% released when the last copy of it is garbage-collected).  A name is resolved among the
%% tables this node made or attached: attach a table made elsewhere before naming it.
%%
%% == Instances ==
%% An instance (atom or binary; `default') is a namespace of tables on the host: the shared
%% memory segments `/dev/shm/shmets.<Instance>*'.  C programs linked with libshmets, the
%% `shmets' tool and other BEAM nodes see the same tables.
%%
%% == Ownership across the two worlds ==
%% A table made through shmets is owned by the BEAM OS process as far as etsmgr and C
%% processes are concerned, and by the calling Erlang process inside the node.  When that
%% Erlang process exits, the table goes to its heir or is deleted, as in ETS, and the heir
%% receives `{'ETS-TRANSFER', Tab, FromPid, HeirData}'.
%%
%% How pids appear to each other:
%% <ul>
%% <li>A C process (or another BEAM node) appears to Erlang as `{os_pid, N}', N its OS pid:
%%     in `info(Tab, owner)' of a table it owns, as FromPid of an `ETS-TRANSFER' it caused,
%%     and as the heir or give_away target: `{heir, {os_pid, N}, Data}',
%%     `give_away(Tab, {os_pid, N}, Gift)' (through etsmgr, which must be running or
%%     startable).</li>
%% <li>An Erlang process appears to C processes as its node's OS pid, `<0.OSPID.0>' in their
%%     terms: etsmgr sees one owner, the BEAM.  An heir `{os_pid, N}' is also recorded in the
%%     table itself, so when the node dies (even by kill -9) etsmgr hands the table to it as
%%     for any dead owner.  An Erlang heir dies with its node and is not recorded there.</li>
%% <li>Tables etsmgr hands to this OS process (a C owner died naming the node as its heir, or
%%     gave it a table) are delivered to the instance's receiver, set with
%%     `open(Instance, [{receiver, Pid}])': Pid becomes the Erlang owner and receives
%%     `{'ETS-TRANSFER', Tab, {os_pid, N}, Data}'.  Without a receiver such a table stays the
%%     OS process's, with no Erlang owner, until the node exits (etsmgr then applies its
%%     rules again).</li>
%% </ul>
%%
%% == Differences from ets ==
%% <ul>
%% <li>`file2tab' takes the instance: `file2tab(Db, File)', `file2tab(Db, File, Options)'.
%%     `tab2file/3' takes `{format, erlang}' to write OTP's own format (ets:file2tab/1 reads
%%     it); the default is shmets's format (man shmets-tabfile(5)).</li>
%% <li>`setopts/2' takes the heir only; `{protection, _}' is badarg.</li>
%% <li>Errors ETS would never raise (out of memory in /dev/shm, a damaged segment) are
%%     `error:{shmets_error, Code, Message}'.</li>
%% <li>`info/1' reports `node' as `nonode@nohost' and `memory' as the table segment's words.</li>
%% <li>Names: a node resolves a name among the tables it made or attached, in any instance;
%%     when two instances have tables of one name, the one made or attached last wins.</li>
%% <li>`id/1' gives the table's integer id, which `attach/2' takes in another process or
%%     node (an unnamed table's reference is a NIF resource, meaningful in its node only).</li>
%% <li>Scheduling: calls whose work grows with the table or with a list argument run on
%%     dirty schedulers past 2,000 objects, file calls always; a single very large object
%%     (megabytes) is still copied on the calling scheduler.</li>
%% <li>A term nested deeper than 1000 containers is refused
%%     (`error:{shmets_error, etoodeep, _}'), where ETS stores it.</li>
%% </ul>
-module(shmets).

-export([open/1, open/2, close/1, new/3, attach/2, id/1,
         insert/2, insert_new/2, lookup/2, lookup_element/3, lookup_element/4, member/2,
         take/2, delete/1, delete/2, delete_object/2, delete_all_objects/1,
         update_counter/3, update_counter/4, update_element/3,
         first/1, next/2, last/1, prev/2, tab2list/1,
         select/1, select/2, select/3, select_reverse/1, select_reverse/2, select_reverse/3,
         select_count/2, select_delete/2, select_replace/2,
         match/2, match/3, match/1, match_object/2, match_object/3, match_object/1,
         match_delete/2, info/1, info/2, give_away/3, setopts/2, rename/2,
         tab2file/2, tab2file/3, file2tab/2, file2tab/3]).

-on_load(init/0).

-type db() :: reference().
-type tab() :: atom() | reference().
-export_type([db/0, tab/0]).

init() ->
    Dir = case code:priv_dir(shmets) of
              {error, _} ->
                  filename:join(filename:dirname(filename:dirname(code:which(?MODULE))), "priv");
              D -> D
          end,
    erlang:load_nif(filename:join(Dir, "shmets_nif"), 0).

%% ---- instances ------------------------------------------------------------------------------

%% @doc Open an instance (created if need be).  `default' is etsmgr's default instance.
-spec open(atom() | binary() | string()) -> {ok, db()} | {error, atom()}.
open(Inst) -> open(Inst, []).

%% @doc Open an instance.  Options: `{receiver, Pid}': Pid receives the ETS-TRANSFERs that
%% etsmgr sends to this OS process (this connects to etsmgr, starting it if need be unless
%% SHMETS_NO_AUTOSTART=1).
-spec open(atom() | binary() | string(), [{receiver, pid()}]) -> {ok, db()} | {error, atom()}.
open(Inst, Opts) when is_atom(Inst) -> open(atom_to_binary(Inst, utf8), Opts);
open(Inst, Opts) when is_list(Inst) ->
    case catch unicode:characters_to_binary(Inst) of
        B when is_binary(B) -> open(B, Opts);
        _ -> erlang:error(badarg)
    end;
open(Inst, Opts) when is_binary(Inst), is_list(Opts) ->
    case open_nif(Inst) of
        {ok, Db} ->
            case proplists:get_value(receiver, Opts) of
                undefined -> {ok, Db};
                Pid when is_pid(Pid) ->
                    case start_inbox(Db, Pid) of
                        ok -> {ok, Db};
                        Err -> close(Db), Err
                    end;
                _ -> close(Db), erlang:error(badarg)
            end;
        Err -> Err
    end;
open(_, _) -> erlang:error(badarg).

start_inbox(Db, Pid) ->
    Parent = self(),
    Inbox = spawn(fun() ->
                          R = set_receiver_nif(Db, Pid),
                          R =:= ok andalso mgr_events_nif(Db),
                          Parent ! {self(), R},
                          R =:= ok andalso inbox(Db)
                  end),
    receive {Inbox, R} -> R end.

inbox(Db) ->
    receive
        stop -> ok;                         % close/1
        {select, _, _, ready_input} ->
            try mgr_events_nif(Db) of
                ok -> inbox(Db);
                _ -> ok
            catch error:badarg -> ok       % the instance was closed
            end
    end.

%% @doc Close an instance handle: calls on its tables raise badarg afterwards.  Tables owned by
%% Erlang processes stay theirs.
-spec close(db()) -> ok.
close(Db) -> close_nif(Db).

%% ---- tables ----------------------------------------------------------------------------------

%% @doc ets:new/2 in instance Db.  `{heir, Pid, Data}' names an Erlang process,
%% `{heir, {os_pid, N}, Data}' an OS process (see the module doc).
-spec new(db(), atom(), list()) -> tab().
new(Db, Name, Opts) when is_atom(Name), is_list(Opts) ->
    {Rest, Heir} = split_heir(Opts),
    new_nif(Db, Name, Rest, Heir);
new(_, _, _) -> erlang:error(badarg).

%% @doc A table made by any process, by name (named tables) or id.
-spec attach(db(), atom() | non_neg_integer()) -> {ok, tab()} | {error, atom()}.
attach(Db, NameOrId) -> attach_nif(Db, NameOrId).

%% @doc The table's id in its instance (an integer, stable for the table's life, never reused):
%% what attach/2 takes in another process or node for an unnamed table.
-spec id(tab()) -> non_neg_integer().
id(Tab) -> id_nif(Tab).

split_heir(Opts) -> split_heir(Opts, [], none).
split_heir([], Acc, Heir) -> {lists:reverse(Acc), Heir};
split_heir([{heir, none} | T], Acc, _) -> split_heir(T, Acc, none);
split_heir([{heir, Pid, Data} | T], Acc, _) when is_pid(Pid) -> split_heir(T, Acc, {pid, Pid, Data});
split_heir([{heir, {os_pid, N}, Data} | T], Acc, _) when is_integer(N), N > 0 ->
    split_heir(T, Acc, {os, N, Data});
split_heir([{heir, _, _} | _], _, _) -> erlang:error(badarg);
split_heir([{heir, _} | _], _, _) -> erlang:error(badarg);
split_heir([O | T], Acc, Heir) -> split_heir(T, [O | Acc], Heir);
split_heir(_, _, _) -> erlang:error(badarg).

insert(T, O) -> insert_nif(T, O).
insert_new(T, O) -> insert_new_nif(T, O).
lookup(T, K) -> lookup_nif(T, K).
lookup_element(T, K, P) -> lookup_element_nif(T, K, P).
lookup_element(T, K, P, D) -> lookup_element_nif(T, K, P, D).
member(T, K) -> member_nif(T, K).
take(T, K) -> take_nif(T, K).
delete(T) -> delete_nif(T).
delete(T, K) -> delete_nif(T, K).
delete_object(T, O) -> delete_object_nif(T, O).
delete_all_objects(T) -> delete_all_objects_nif(T).
update_counter(T, K, Op) -> update_counter_nif(T, K, Op).
update_counter(T, K, Op, D) -> update_counter_nif(T, K, Op, D).
update_element(T, K, E) -> update_element_nif(T, K, E).
first(T) -> first_nif(T).
next(T, K) -> next_nif(T, K).
last(T) -> last_nif(T).
prev(T, K) -> prev_nif(T, K).
tab2list(T) -> tab2list_nif(T).

select(T, MS) -> select_nif(T, MS).
select(T, MS, Limit) -> select_nif(T, MS, Limit).
select(Cont) -> select_nif(Cont).
select_reverse(Cont) -> select_nif(Cont).
select_reverse(T, MS) -> select_reverse_nif(T, MS).
select_reverse(T, MS, Limit) -> select_reverse_nif(T, MS, Limit).
select_count(T, MS) -> select_count_nif(T, MS).
select_delete(T, MS) -> select_delete_nif(T, MS).
select_replace(T, MS) -> select_replace_nif(T, MS).
match(T, P) -> match_nif(T, P).
match(T, P, Limit) -> match_nif(T, P, Limit).
match(Cont) -> select_nif(Cont).
match_object(T, P) -> match_object_nif(T, P).
match_object(T, P, Limit) -> match_object_nif(T, P, Limit).
match_object(Cont) -> select_nif(Cont).
match_delete(T, P) -> match_delete_nif(T, P).

info(T) -> info_nif(T).
info(T, Item) -> info_nif(T, Item).

%% @doc ets:rename/2: the table's term afterwards (the new name if it is named).
rename(T, Name) -> rename_nif(T, Name).

%% @doc ets:give_away/3; To is a pid of this node or `{os_pid, N}'.
give_away(T, To, Gift) -> give_away_nif(T, To, Gift).

%% @doc ets:setopts/2: `{heir, Pid, Data}', `{heir, {os_pid, N}, Data}', `{heir, none}', or a
%% list of one of them.
setopts(T, Opt) when is_tuple(Opt) -> setopts(T, [Opt]);
setopts(T, []) -> info(T, size) =:= undefined andalso erlang:error(badarg), true;
setopts(T, [Opt]) ->
    case Opt of
        {heir, none} -> setopts_nif(T, none);
        {heir, Pid, Data} when is_pid(Pid) -> setopts_nif(T, {pid, Pid, Data});
        {heir, {os_pid, N}, Data} when is_integer(N), N > 0 -> setopts_nif(T, {os, N, Data});
        _ -> erlang:error(badarg)
    end;
setopts(_, _) -> erlang:error(badarg).

%% @doc ets:tab2file/2,3.  Options: `{extended_info, [object_count | md5sum]}',
%% `{sync, boolean()}', and `{format, shmets | erlang}'.
tab2file(T, File) -> tab2file(T, File, []).
tab2file(T, File, Opts) when is_list(Opts) ->
    Ext = proplists:get_value(extended_info, Opts, []),
    is_list(Ext) orelse erlang:error(badarg),
    F = {lists:member(object_count, Ext), lists:member(md5sum, Ext),
         proplists:get_value(sync, Opts, false) =:= true,
         proplists:get_value(format, Opts, shmets) =:= erlang},
    tab2file_nif(T, filename_bin(File), F);
tab2file(_, _, _) -> erlang:error(badarg).

%% @doc ets:file2tab/1,2 into instance Db.  Options: `{verify, boolean()}'.
file2tab(Db, File) -> file2tab(Db, File, []).
file2tab(Db, File, Opts) when is_list(Opts) ->
    file2tab_nif(Db, filename_bin(File), proplists:get_value(verify, Opts, false) =:= true);
file2tab(_, _, _) -> erlang:error(badarg).

filename_bin(F) ->
    try unicode:characters_to_binary(filename:flatten(F)) of
        B when is_binary(B) -> B;
        _ -> erlang:error(badarg)
    catch _:_ -> erlang:error(badarg)
    end.

%% ---- NIF stubs ---------------------------------------------------------------------------------
-define(NIF, erlang:nif_error(nif_not_loaded)).
open_nif(_) -> ?NIF.
close_nif(_) -> ?NIF.
set_receiver_nif(_, _) -> ?NIF.
mgr_events_nif(_) -> ?NIF.
new_nif(_, _, _, _) -> ?NIF.
attach_nif(_, _) -> ?NIF.
id_nif(_) -> ?NIF.
delete_nif(_) -> ?NIF.
insert_nif(_, _) -> ?NIF.
insert_new_nif(_, _) -> ?NIF.
lookup_nif(_, _) -> ?NIF.
member_nif(_, _) -> ?NIF.
take_nif(_, _) -> ?NIF.
delete_nif(_, _) -> ?NIF.
delete_object_nif(_, _) -> ?NIF.
delete_all_objects_nif(_) -> ?NIF.
lookup_element_nif(_, _, _) -> ?NIF.
lookup_element_nif(_, _, _, _) -> ?NIF.
update_counter_nif(_, _, _) -> ?NIF.
update_counter_nif(_, _, _, _) -> ?NIF.
update_element_nif(_, _, _) -> ?NIF.
first_nif(_) -> ?NIF.
last_nif(_) -> ?NIF.
next_nif(_, _) -> ?NIF.
prev_nif(_, _) -> ?NIF.
tab2list_nif(_) -> ?NIF.
select_nif(_) -> ?NIF.
select_nif(_, _) -> ?NIF.
select_nif(_, _, _) -> ?NIF.
select_reverse_nif(_, _) -> ?NIF.
select_reverse_nif(_, _, _) -> ?NIF.
match_nif(_, _) -> ?NIF.
match_nif(_, _, _) -> ?NIF.
match_object_nif(_, _) -> ?NIF.
match_object_nif(_, _, _) -> ?NIF.
select_count_nif(_, _) -> ?NIF.
select_delete_nif(_, _) -> ?NIF.
match_delete_nif(_, _) -> ?NIF.
select_replace_nif(_, _) -> ?NIF.
info_nif(_) -> ?NIF.
info_nif(_, _) -> ?NIF.
give_away_nif(_, _, _) -> ?NIF.
setopts_nif(_, _) -> ?NIF.
rename_nif(_, _) -> ?NIF.
tab2file_nif(_, _, _) -> ?NIF.
file2tab_nif(_, _, _) -> ?NIF.
