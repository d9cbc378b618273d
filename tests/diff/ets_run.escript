#!/usr/bin/env escript
%% -*- erlang -*-
%%
%% ets_run.escript — the real-ETS side of the differential test: runs a script of
%% `shmets script` (see ets_script.hrl for the language) against Erlang's own ETS and prints
%% what `shmets script` must print, one line per call.
%%
%% Usage: escript tests/diff/ets_run.escript [FILE]     (FILE, or standard input)
%%
%% The whole script is read and checked first; a script error (not a call, not a literal
%% argument, a call outside the language) is reported on standard error with its line, and
%% nothing runs: exit status 2.  Every call runs in this one process, which owns the tables.

-mode(compile).
-include("ets_script.hrl").

main(Args) ->
    File = case Args of
               [] -> "-";
               [F] -> F;
               _ ->
                   io:format(standard_error, "usage: ets_run.escript [FILE]~n", []),
                   halt(2)
           end,
    try es_read(es_read_file(File)) of
        Calls ->
            Out = [[unicode:characters_to_binary(es_format(es_apply(F, As))), $\n]
                   || {_Line, F, As} <- Calls],
            ok = file:write(standard_io, Out),
            halt(0)
    catch
        throw:{script_error, Line, Msg} ->
            io:format(standard_error, "ets_run: ~ts:~b: ~ts~n", [File, Line, Msg]),
            halt(2)
    end.
