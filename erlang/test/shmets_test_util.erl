%% shmets_test_util — helpers of the EUnit suites: one instance per test, named from the run's
%% prefix (erlang/test/run.sh sets SHMETS_TEST_PREFIX), removed with its segments afterwards.
-module(shmets_test_util).
-export([inst/0, with_db/1, cleanup/1, call/3, bin/0, etsmgr/0, runtime_dir/0,
         start_etsmgr/1, stop_etsmgr/1, wait_until/2, os_cmd/2]).

inst() ->
    Prefix = os:getenv("SHMETS_TEST_PREFIX", "erlt" ++ os:getpid()),
    list_to_binary(Prefix ++ "." ++ integer_to_list(erlang:unique_integer([positive]))).

with_db(F) ->
    I = inst(),
    {ok, D} = shmets:open(I),
    try F(D) after shmets:close(D), cleanup(I) end.

cleanup(I) ->
    S = "/dev/shm/shmets." ++ binary_to_list(I),
    [file:delete(F) || F <- [S | filelib:wildcard(S ++ ".*")]],
    ok.

%% A call's answer, or badarg, or {error, Reason}: what the suites compare.
call(M, F, Args) ->
    try apply(M, F, Args)
    catch error:badarg -> badarg;
          error:undef -> undef;
          error:R -> {error, R}
    end.

bin() -> os:getenv("SHMETS_BIN", "build/shmets").
etsmgr() -> os:getenv("SHMETS_ETSMGR", "build/etsmgr").
runtime_dir() -> os:getenv("SHMETS_RUNTIME_DIR").

%% Start the etsmgr of this build for instance I in the run's runtime directory; its OS pid.
%% Ready when its log says it serves the instance (the socket file exists from bind(2) on,
%% before listen(2): a client connecting then would be refused).
start_etsmgr(I) ->
    Log = filename:join(runtime_dir(), binary_to_list(I) ++ ".log"),
    Cmd = etsmgr() ++ " --instance " ++ binary_to_list(I) ++ " --runtime-dir " ++ runtime_dir()
        ++ " >/dev/null 2>" ++ Log ++ " & echo $!",
    Pid = list_to_integer(string:trim(os:cmd(Cmd))),
    Ready = fun() -> case file:read_file(Log) of
                         {ok, B} -> binary:match(B, <<"serves instance">>) =/= nomatch;
                         _ -> false
                     end
            end,
    ok = wait_until(Ready, 3000),
    Pid.

stop_etsmgr(Pid) ->
    os:cmd("kill " ++ integer_to_list(Pid)),
    ok.

wait_until(F, Ms) when Ms =< 0 -> case F() of true -> ok; _ -> timeout end;
wait_until(F, Ms) ->
    case F() of
        true -> ok;
        _ -> timer:sleep(20), wait_until(F, Ms - 20)
    end.

%% Run a shell command with Input on its stdin; its output.
os_cmd(Cmd, Input) ->
    File = filename:join(runtime_dir(), "in." ++ integer_to_list(erlang:unique_integer([positive]))),
    ok = file:write_file(File, Input),
    Out = os:cmd(Cmd ++ " < " ++ File),
    file:delete(File),
    Out.
