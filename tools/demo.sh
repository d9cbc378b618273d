#!/bin/sh
# tools/demo.sh SHMETS — the main job, `make demo`: shmets' term layer at work, checked against
# real Erlang where `erl` is installed.  Grows with the project (tables, etsmgr) as they land.
set -eu
shmets=${1:-build/shmets}
say() { printf '\n== %s\n' "$*"; }
run() { printf '$ shmets'; for a in "$@"; do printf " '%s'" "$a"; done; printf '\n'; "$shmets" "$@"; }

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
