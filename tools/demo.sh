#!/bin/sh
# tools/demo.sh SHMETS — the main job, `make demo`: shmets' term layer at work, checked against
# real Erlang where `erl` is installed, and tables shared by processes through `shmets script`.
# Grows with the project (etsmgr) as it lands.
set -eu
shmets=${1:-build/shmets}
say() { printf '\n== %s\n' "$*"; }
run() { printf '$ shmets'; for a in "$@"; do printf " '%s'" "$a"; done; printf '\n'; "$shmets" "$@"; }

# One instance, shared by the processes below; removed at exit however the demo ends.
inst="demo.$$"
cleanup() { rm -f /dev/shm/shmets."$inst" /dev/shm/shmets."$inst".*; }
trap cleanup EXIT
trap 'cleanup; exit 1' HUP INT TERM PIPE
script() { printf '$ shmets script --instance %s <<EOF\n%s\nEOF\n' "$inst" "$1"; printf '%s\n' "$1" | "$shmets" script --instance "$inst"; }

say "Tables in shared memory: one process makes and fills them ..."
script "ets:new(dogs, [ordered_set, named_table, public]).
ets:insert(dogs, [{rufsen, 7, <<\"Norrbotten\">>}, {fido, 3, <<\"Lyon\">>}, {laika, 12, <<\"Moscow\">>}]).
ets:new(visits, [set, named_table, public, {write_concurrency, true}]).
ets:update_counter(visits, rufsen, 1, {rufsen, 0}).
ets:insert(visits, {fido, 41})."

say "... and other processes read and write them, with ETS's semantics"
script "ets:tab2list(dogs).
ets:lookup(dogs, laika).
ets:next(dogs, fido).
ets:update_counter(visits, fido, [{2, 1}, {2, 100, 100, 0}]).
ets:update_counter(visits, rufsen, 18446744073709551615).
ets:lookup_element(visits, rufsen, 2).
ets:insert_new(dogs, [{rex, 1, <<>>}, {fido, 0, <<>>}]).
ets:member(dogs, rex).
ets:info(dogs, size).
ets:insert(dogs, notatuple)."

say "Erlang term syntax in, canonical External Term Format out"
run parse '{rufsen, dog, 7}' '#{name => <<"Rufsen">>, age => 7}' '[1,2|3]' "'é'" '<0.4242.0>'

say "Erlang's term order: number < atom < reference < fun < port < pid < tuple < map < [] < list < binary"
run sort '<<"bin">>' '[a]' '[]' '#{}' '{b}' '<0.1.0>' 'foo' '3' '2.5' '3.0' '"abc"' '#Ref<0.1.2.3>'

say "== and =:= (ordered_set keys use ==, set and bag keys use =:=)"
run compare '1' '1.0'
run compare '9007199254740993' '9007199254740992.0'

say "Bad input gets a clear error"
run parse '{unclosed, tuple' || true
run parse 'Variable' || true
printf '\203\150\377\141' > "${TMPDIR:-/tmp}/shmets-demo.$$"
printf '$ shmets format < (a tuple claiming 255 elements, holding 1)\n'
"$shmets" format < "${TMPDIR:-/tmp}/shmets-demo.$$" || true
rm -f "${TMPDIR:-/tmp}/shmets-demo.$$"

if command -v erl >/dev/null 2>&1; then
    say "Checked against Erlang/OTP: shmets' bytes equal term_to_binary(T, [{minor_version,2}])"
    t='{rufsen, [1,2,3], <<"bin">>, -1.5e3, 16#FFFFFFFFFFFFFFFFFF, [a|b], {}}'
    ours=$("$shmets" etf "$t" | od -An -tu1 | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')
    esc=$(printf '%s' "$t" | sed 's/["\\]/\\&/g')
    theirs=$(cd "${TMPDIR:-/tmp}" && erl -noshell -eval "{ok,Ts,_} = erl_scan:string(\"$esc.\"), {ok,T} = erl_parse:parse_term(Ts), io:format(\"~s\", [lists:join(\" \", [integer_to_list(B) || B <- binary_to_list(term_to_binary(T, [{minor_version,2}]))])]), halt().")
    echo "term:    $t"
    echo "shmets:  $ours"
    echo "erlang:  $theirs"
    [ "$ours" = "$theirs" ] && echo "identical" || { echo "DIFFERENT"; exit 1; }
fi
