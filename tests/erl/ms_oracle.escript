#!/usr/bin/env escript
%% -*- erlang -*-
%%
%% ms_oracle.escript — the real-Erlang side of tests/test_ms_erl.c: random match
%% specifications and objects, and what OTP's ETS says of them.
%%
%% Usage: escript tests/erl/ms_oracle.escript SEED N OUT
%%
%% Writes OUT: records, each a 32-bit big-endian length and that many bytes.  The first record
%% is the header <<"shmets-ms-oracle v1 seed=S n=N">>; then N records, each
%% term_to_binary({Spec, Objects, TestMs, Run}) where
%%   Objects  a few terms, most of them tuples shaped like a head of Spec (so that clauses match)
%%   TestMs   [ets:test_ms(O, Spec) || O <- Objects]
%%   Run      {ok, ets:match_spec_run(Objects, ets:match_spec_compile(Spec))}, or badarg when
%%            match_spec_compile/1 refuses the spec.
%% The same SEED gives the same records (the generator uses only rand seeded with SEED).
%%
%% WHAT IS GENERATED.  Heads derived from random objects by replacing parts with '$N' (some
%% repeated, a few with ERTS's odd numbers like '$4294967297'), '_', list tails ([H | '$1']),
%% and sub-maps; guards and bodies from every guard function of OTP 25's table dialect, the
%% special forms, '$_', '$$', {const, X}, {{...}}, lists and maps of expressions; integers
%% from small to bignum, floats, atoms that need quoting, strings, binaries and bitstrings.
%% About one spec in five is made wrong on purpose (unknown function, wrong arity, unbound
%% variable, not a list, a malformed clause, a variable map key in a head, trace-only forms,
%% a tuple that is no call) so that the error messages are compared too.
%% Left out, because shmets follows OTP 27 or its own documented limits there: -0.0 (a
%% distinct term in shmets), functions OTP 26 added, integers near Erlang's size limit (shifts
%% are kept small), maps of more than 32 keys, pids, ports, references and funs, and
%% self() where its value would show (it is compared through is_pid/1 and ==).

-mode(compile).

main([SeedS, NS, Out]) ->
    Seed = list_to_integer(SeedS),
    N = list_to_integer(NS),
    rand:seed(exsss, Seed),
    Header = iolist_to_binary(io_lib:format("shmets-ms-oracle v1 seed=~b n=~b", [Seed, N])),
    Recs = [record(case_(I)) || I <- lists:seq(1, N)],
    ok = file:write_file(Out, [rec(Header) | Recs]),
    halt(0);
main(_) ->
    io:format(standard_error, "usage: ms_oracle.escript SEED N OUT~n", []),
    halt(2).

rec(B) -> [<<(byte_size(B)):32>>, B].

record({Spec, Objs}) ->
    TestMs = [ets:test_ms(O, Spec) || O <- Objs],
    Run = try ets:match_spec_compile(Spec) of
              C -> {ok, ets:match_spec_run(Objs, C)}
          catch error:badarg -> badarg
          end,
    rec(term_to_binary({Spec, Objs, TestMs, Run})).

%% ---- random helpers ----

r(N) -> rand:uniform(N).                       % 1..N
pick(L) -> lists:nth(r(length(L)), L).
chance(P) -> rand:uniform() < P.

%% ---- terms ----

atoms() -> [a, b, c, foo, bar, x, y, true, false, 'EXIT', ok, error, nonode@nohost,
            'A b', 'Quoted', '', '$_', '$$', '$1x', '$01', 'é', 'a\nb', 'don\'t', '_a',
            'and', 'end', 'a@b', 'a.b', '$3', '$27', 'ÿ', '\x{100}x'].

small_int() -> pick([0, 1, 2, 3, -1, 7, 255, 256, -256, 1000, 65535, -65536,
                     2147483647, -2147483648, 2147483648, r(100) - 50]).
big_int() ->
    pick([1 bsl 59, (1 bsl 59) - 1, -(1 bsl 59), 1 bsl 60, 1 bsl 63, (1 bsl 63) - 1, -(1 bsl 63),
          1 bsl 64, -(1 bsl 64), (1 bsl 64) + 1, 1 bsl 100, -(1 bsl 100) + 12345,
          12345678901234567890123456789, 9007199254740993, 1 bsl 1023, (1 bsl 1024) - 1]).
float_() ->
    F = pick([0.5, 1.0, 2.5, -2.5, 1.5, 3.14159, -0.75, 1.0e20, 1.0e-10, 123456.789,
              4503599627370495.5, 1.0e300, -1.0e300, 0.1, 100.0, float(r(1000) - 500) / 8,
              (rand:uniform() - 0.5) * math:pow(10, r(40) - 20), 9007199254740992.0,
              18446744073709551616.0, -9.3e18]),
    case F == 0 of true -> 0.0; false -> F end.      % never -0.0

string_() -> pick(["", "a", "abc", "hello world", "a\nb", [1, 2, 3], [300, 1], "é", [255, 0]]).
binary_() -> pick([<<>>, <<"a">>, <<"abc">>, <<1, 2, 3>>, <<"a\"b">>, <<255, 0, 7>>,
                   <<1:3>>, <<1, 2, 3:4>>, <<"hello">>]).

scalar() ->
    case r(6) of
        1 -> small_int();
        2 -> big_int();
        3 -> float_();
        4 -> pick(atoms());
        5 -> binary_();
        6 -> string_()
    end.

term(0) -> scalar();
term(D) ->
    case r(9) of
        1 -> list_to_tuple([term(D - 1) || _ <- lists:seq(1, r(4) - 1)]);
        2 -> [term(D - 1) || _ <- lists:seq(1, r(4) - 1)];
        3 -> [term(D - 1) | term(0)];
        4 -> maps:from_list([{term(0), term(D - 1)} || _ <- lists:seq(1, r(4) - 1)]);
        _ -> scalar()
    end.

object() ->
    Es = [term(2) || _ <- lists:seq(1, r(4))],
    case chance(0.25) of                            % a repeated part, for repeated variables
        true -> list_to_tuple(Es ++ [pick(Es)]);
        false -> list_to_tuple(Es)
    end.

%% ---- heads: an object with parts replaced by variables ----

var() ->
    case r(30) of
        1 -> '$4294967297';                         % wraps to '$1' in ERTS
        2 -> '$100';
        3 -> '$0';
        _ -> list_to_atom("$" ++ integer_to_list(r(6)))
    end.

pattern(T, D) ->
    case r(8) of
        1 -> var();
        2 when D > 0 -> '_';
        _ -> pattern_in(T, D)
    end.

pattern_in(T, D) when is_tuple(T) ->
    list_to_tuple([pattern(E, D + 1) || E <- tuple_to_list(T)]);
pattern_in([_ | _] = L, D) ->
    case chance(0.3) of
        true ->
            {Pre, _} = lists:split(min(r(length_(L)), length_(L)) - 1, proper(L)),
            Pre2 = [pattern(E, D + 1) || E <- Pre],
            case Pre2 of
                [] -> pattern_in(L, D);
                _ -> Pre2 ++ pick([var(), '_'])
            end;
        false -> pat_list(L, D)
    end;
pattern_in(M, D) when is_map(M) ->
    Ks = [K || K <- maps:keys(M), chance(0.7)],
    maps:from_list([{K, pattern(maps:get(K, M), D + 1)} || K <- Ks]);
pattern_in(T, _) -> T.

length_(L) -> length(proper(L)).
proper([H | T]) -> [H | proper(T)];
proper(_) -> [].

pat_list([H | T], D) -> [pattern(H, D + 1) | pat_list(T, D)];
pat_list(T, D) -> pattern(T, D + 1).

%% Some objects differ from the one a head was made from.
vary(O) when is_tuple(O) ->
    case r(6) of
        1 -> object();
        2 -> term(2);
        3 -> list_to_tuple([case chance(0.3) of true -> term(1); false -> E end || E <- tuple_to_list(O)]);
        _ -> O
    end.

head_vars(P) -> lists:usort(hv(P)).
hv(A) when is_atom(A) ->
    case atom_to_list(A) of
        "$" ++ Ds when Ds =/= "", Ds =/= "_", Ds =/= "$" ->
            case lists:all(fun(C) -> C >= $0 andalso C =< $9 end, Ds) of
                true -> [A];
                false -> []
            end;
        _ -> []
    end;
hv(T) when is_tuple(T) -> lists:append([hv(E) || E <- tuple_to_list(T)]);
hv([H | T]) -> hv(H) ++ hv(T);
hv(M) when is_map(M) -> lists:append([hv(V) || V <- maps:values(M)]);
hv(_) -> [].

%% ---- guards and bodies ----

fns() ->
    [{is_atom, 1}, {is_float, 1}, {is_integer, 1}, {is_list, 1}, {is_number, 1}, {is_pid, 1},
     {is_port, 1}, {is_reference, 1}, {is_tuple, 1}, {is_map, 1}, {is_binary, 1},
     {is_function, 1}, {is_record, 3}, {is_map_key, 2}, {abs, 1}, {element, 2}, {hd, 1},
     {tl, 1}, {length, 1}, {node, 0}, {node, 1}, {round, 1}, {trunc, 1}, {float, 1}, {size, 1},
     {bit_size, 1}, {byte_size, 1}, {map_size, 1}, {map_get, 2}, {binary_part, 2},
     {binary_part, 3}, {'+', 1}, {'-', 1}, {'+', 2}, {'-', 2}, {'*', 2}, {'/', 2}, {'div', 2},
     {'rem', 2}, {'band', 2}, {'bor', 2}, {'bxor', 2}, {'bnot', 1}, {'bsl', 2}, {'bsr', 2},
     {'>', 2}, {'>=', 2}, {'<', 2}, {'=<', 2}, {'=:=', 2}, {'==', 2}, {'=/=', 2}, {'/=', 2},
     {'not', 1}, {'xor', 2}].

%% An expression; Vs are the head's variables.
expr(Vs, D) when D =< 0 -> leaf(Vs);
expr(Vs, D) ->
    case r(14) of
        1 -> leaf(Vs);
        2 -> leaf(Vs);
        3 -> {list_to_tuple([expr(Vs, D - 1) || _ <- lists:seq(1, r(3) - 1)])};
        4 -> [expr(Vs, D - 1) || _ <- lists:seq(1, r(3))];
        5 -> [expr(Vs, D - 1) | expr(Vs, D - 1)];
        6 -> maps:from_list([{scalar(), expr(Vs, D - 1)} || _ <- lists:seq(1, r(2))]);
        7 -> list_to_tuple([pick(['andalso', 'orelse', 'and', 'or']) | [bool(Vs, D - 1) || _ <- lists:seq(1, r(3))]]);
        8 -> arith(Vs, D);
        9 -> arith(Vs, D);
        10 -> bool(Vs, D);
        _ -> call(Vs, D)
    end.

leaf(Vs) ->
    case r(10) of
        N when N =< 4, Vs =/= [] -> pick(Vs);
        5 -> '$_';
        6 -> '$$';
        7 -> {const, term(2)};
        8 -> pick([{node}, {is_pid, {self}}, {'==', {self}, {self}}]);
        _ -> case scalar() of
                 A when is_atom(A) -> case hv(A) of [] -> A; _ -> {const, A} end;
                 S -> S
             end
    end.

num(Vs, D) ->
    case r(5) of
        1 -> small_int();
        2 -> big_int();
        3 -> float_();
        4 when D > 0 -> arith(Vs, D - 1);
        _ -> leaf(Vs)
    end.

arith(Vs, D) ->
    Op = pick(['+', '-', '*', '/', 'div', 'rem', 'band', 'bor', 'bxor', 'bsl', 'bsr', abs,
               'bnot', round, trunc, float, '-']),
    case Op of
        'bsl' -> {'bsl', num(Vs, D - 1), pick([0, 1, 3, 64, 100, -2, -70, 1000, r(200) - 100])};
        'bsr' -> {'bsr', num(Vs, D - 1), pick([0, 1, 3, 64, -5, 1000, r(200) - 100])};
        U when U == abs; U == 'bnot'; U == round; U == trunc; U == float -> {U, num(Vs, D - 1)};
        '-' -> case chance(0.3) of true -> {'-', num(Vs, D - 1)}; false -> {'-', num(Vs, D - 1), num(Vs, D - 1)} end;
        _ -> {Op, num(Vs, D - 1), num(Vs, D - 1)}
    end.

bool(Vs, D) ->
    case r(6) of
        1 -> pick([true, false]);
        2 -> {pick(['>', '>=', '<', '=<', '=:=', '==', '=/=', '/=']), expr(Vs, D - 1), expr(Vs, D - 1)};
        3 -> {pick([is_atom, is_float, is_integer, is_list, is_number, is_tuple, is_map, is_binary,
                    is_function, is_pid]), expr(Vs, D - 1)};
        4 -> {'not', bool(Vs, D - 1)};
        5 -> {is_record, expr(Vs, D - 1), pick([a, b, foo, 1]), pick([1, 2, 3, -1, 1 bsl 60, a])};
        _ -> {is_map_key, leaf(Vs), expr(Vs, D - 1)}
    end.

call(Vs, D) ->
    {F, A} = pick(fns()),
    Args = [case {F, I} of
                {element, 1} -> pick([1, 2, 3, 0, 5, 1 bsl 60]);
                {binary_part, 2} when A == 3 -> pick([0, 1, 2, 3, -1]);
                {binary_part, 3} -> pick([0, 1, 2, -1, -2, 4]);
                {binary_part, 2} -> {{pick([0, 1, 2]), pick([0, 1, -1, 5])}};
                {binary_part, 1} -> pick([binary_(), leaf(Vs)]);
                _ -> expr(Vs, D - 1)
            end || I <- lists:seq(1, A)],
    list_to_tuple([F | Args]).

guards(Vs) -> [case chance(0.6) of true -> bool(Vs, 2); false -> expr(Vs, 2) end || _ <- lists:seq(1, r(3) - 1)].
body(Vs) -> [expr(Vs, 3) || _ <- lists:seq(1, r(2))].

%% ---- specs ----

case_(_I) ->
    O = object(),
    Clauses = [clause(O) || _ <- lists:seq(1, r(3))],
    Spec = case chance(0.2) of
               true -> break(Clauses);
               false -> Clauses
           end,
    Objs = [O | [vary(O) || _ <- lists:seq(1, r(3))]],
    {Spec, Objs}.

clause(O) ->
    Head = case r(12) of
               1 -> '_';
               2 -> var();
               3 -> pattern(object(), 0);
               _ -> pattern(O, 0)
           end,
    Vs = head_vars(Head),
    {Head, guards(Vs), body(Vs)}.

%% Make a spec wrong in one of the ways ERTS reports.
break(Clauses) ->
    [{H, G, B} | Rest] = Clauses,
    case r(17) of
        1 -> {H, G, B};
        2 -> [{H, G} | Rest];
        3 -> [{H, G, B} | x];
        4 -> [{H, foo, B} | Rest];
        5 -> [{H, G, []} | Rest];
        6 -> [{H, G, foo} | Rest];
        7 -> [{H, G, B ++ ['$77']} | Rest];
        8 -> [{H, [{'>', '$88', '$99'} | G], B} | Rest];
        9 -> [{H, G, [{nosuchfn, '$_'} | B]} | Rest];
        10 -> [{H, G, [{hd, '$_', '$_'}, {const, 1, 2}, {'and'}] ++ B} | Rest];
        11 -> [{{H, #{'$1' => 1, x => '_'}}, G, B} | Rest];
        12 -> [{H, G, [{message, a}, {return_trace}, {get_tcw}, {self, 1}]} | Rest];
        13 -> [{H, G, [{1, 2}, {"str", x}, {{a}, b}, {'$1'}]} | Rest];
        14 -> [{H, G ++ [true | x], B} | Rest];
        15 -> Rest ++ [{H, G, [{{'$123', {const, 'A b'}, {const}}}]}];
        16 -> [{H, G, [{term(2), term(2)}, {const, term(2), term(1)}, {pick(atoms()), term(1), term(2)}]} | Rest];
        _ -> []
    end.
