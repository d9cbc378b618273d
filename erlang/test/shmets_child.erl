%% shmets_child — a BEAM node driven by a test through a port: it prints "pid N" (its OS pid),
%% then reads one Erlang expression a line, evaluates it with the bindings of the lines
%% before, and prints "=" and the result (~w) or "!" and the exception.  End of input halts.
-module(shmets_child).
-export([main/0, start/0, ask/2, ask/3, stop/1]).

main() ->
    io:format("pid ~s~n", [os:getpid()]),
    loop(erl_eval:new_bindings()).

loop(B) ->
    case io:get_line("") of
        eof -> halt(0);
        {error, _} -> halt(0);
        Line ->
            {ok, Toks, _} = erl_scan:string(Line),
            {ok, Exprs} = erl_parse:parse_exprs(Toks),
            try erl_eval:exprs(Exprs, B) of
                {value, V, B2} -> io:format("=~w~n", [V]), loop(B2)
            catch C:R -> io:format("!~w:~w~n", [C, R]), loop(B)
            end
    end.

%% ---- the test's side ----

%% A child node: {Port, OsPid}.
start() ->
    Ebin = os:getenv("SHMETS_EBIN", "build/erlang/shmets/ebin"),
    TEbin = os:getenv("SHMETS_TEST_EBIN", "build/erlang/test"),
    Cmd = "erl -noshell -pa " ++ Ebin ++ " -pa " ++ TEbin ++ " -s shmets_child main",
    Port = open_port({spawn, Cmd}, [{line, 65536}, exit_status, use_stdio]),
    receive {Port, {data, {eol, "pid " ++ N}}} -> {Port, list_to_integer(N)}
    after 8000 -> erlang:error(child_did_not_start)
    end.

ask(C, Expr) -> ask(C, Expr, 8000).
ask({Port, _}, Expr, Timeout) ->
    true = port_command(Port, Expr ++ "\n"),
    receive
        {Port, {data, {eol, "=" ++ V}}} ->
            case erl_scan:string(V ++ ".") of
                {ok, Toks, _} ->
                    case erl_parse:parse_term(Toks) of
                        {ok, T} -> T;
                        _ -> {raw, V}           % a reference, a pid: not readable
                    end;
                _ -> {raw, V}
            end;
        {Port, {data, {eol, "!" ++ E}}} -> {exception, E};
        {Port, {exit_status, S}} -> {exit, S}
    after Timeout -> timeout
    end.

stop({Port, Pid}) ->
    catch port_close(Port),
    os:cmd("kill -9 " ++ integer_to_list(Pid) ++ " 2>/dev/null"),
    ok.
