#!/bin/sh
# tools/demo.sh SHMETS — the main job, `make demo`: shmets' term layer at work, checked against
# real Erlang where `erl` is installed, and tables shared by processes through `shmets script`.
# Then etsmgr: processes sharing a table, readers reading, the owner killed with SIGKILL, the heir
# receiving ETS-TRANSFER and taking over, nothing lost.
set -eu
shmets=${1:-build/shmets}
say() { printf '\n== %s\n' "$*"; }
run() { printf '$ shmets'; for a in "$@"; do printf " '%s'" "$a"; done; printf '\n'; "$shmets" "$@"; }

# One instance, shared by the processes below; removed at exit however the demo ends.
inst="demo.$$"
mgrdir=""; mgrpid=""
cleanup() {
    [ -n "$mgrpid" ] && kill "$mgrpid" 2>/dev/null && wait "$mgrpid" 2>/dev/null
    [ -n "$mgrdir" ] && rm -rf "$mgrdir"
    rm -f /dev/shm/shmets."$inst" /dev/shm/shmets."$inst".*
}
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

# ---- etsmgr (issue 6): an owner killed, its heir takes over, readers never stop ----------
etsmgr="$(dirname "$shmets")/etsmgr"
if [ -x "$etsmgr" ]; then
    mgrdir=$(mktemp -d "${TMPDIR:-/tmp}/shmets-demo.XXXXXX")
    export SHMETS_RUNTIME_DIR="$mgrdir" SHMETS_NO_AUTOSTART=1
    say "etsmgr, the supervisor: one daemon per instance, watching owners and readers by pidfd"
    echo "\$ etsmgr --instance $inst --runtime-dir $mgrdir &"
    "$etsmgr" --instance "$inst" --runtime-dir "$mgrdir" 2>"$mgrdir/log" &
    mgrpid=$!
    i=0; while [ ! -S "$mgrdir/$inst.sock" ] && [ $i -lt 300 ]; do sleep 0.01; i=$((i + 1)); done

    # The heir: a process that waits for the table.
    printf 'shmets:receive(10000).\nets:insert(accounts, {written_by_the_heir, 1}).\nets:info(accounts, size).\nets:lookup(accounts, 500).\nshmets:sleep(2000).\n' > "$mgrdir/heir.in"
    "$shmets" script --instance "$inst" < "$mgrdir/heir.in" > "$mgrdir/heir.out" 2>&1 &
    heir=$!
    # The owner: makes a protected table (only it writes) with that heir, fills it, and works on.
    { printf 'ets:new(accounts, [named_table, protected, {heir, <0.%d.0>, {took_over, accounts}}]).\n' "$heir"
      printf 'ets:insert(accounts, ['
      k=1; while [ $k -le 1000 ]; do printf '{%d,%d}' $k $((k * 10)); [ $k -lt 1000 ] && printf ','; k=$((k + 1)); done
      printf ']).\nshmets:sleep(60000).\n'; } > "$mgrdir/owner.in"
    "$shmets" script --instance "$inst" < "$mgrdir/owner.in" > "$mgrdir/owner.out" 2>&1 &
    owner=$!
    i=0; while [ "$(wc -l < "$mgrdir/owner.out")" -lt 2 ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
    say "Process $owner owns table accounts (1000 objects, protected), heir: process $heir"
    cat "$mgrdir/owner.out"

    # Readers: three processes, each looking up keys every 5 ms for about a second.
    r=1; while [ $r -le 3 ]; do
        k=1; while [ $k -le 200 ]; do printf 'ets:lookup(accounts, %d).\nshmets:sleep(5).\n' $((k * 5)); k=$((k + 1)); done > "$mgrdir/reader$r.in"
        "$shmets" script --instance "$inst" < "$mgrdir/reader$r.in" > "$mgrdir/reader$r.out" 2>&1 &
        eval "reader$r=\$!"
        r=$((r + 1))
    done
    sleep 0.3
    say "kill -9 $owner (the owner), while the readers read"
    kill -9 "$owner"; wait "$owner" 2>/dev/null || true
    wait "$reader1" "$reader2" "$reader3" || true
    wait "$heir" || true
    say "The heir's view: the message, then it writes as the new owner; nothing lost (1000 + 1)"
    cat "$mgrdir/heir.out"
    say "The readers: every lookup found its object, before, during and after the handover"
    r=1; while [ $r -le 3 ]; do
        good=0; k=1; bad=0
        while IFS= read -r line; do
            case "$line" in ok) continue ;; "[{$((k * 5)),$((k * 50))}]") good=$((good + 1)) ;; *) bad=$((bad + 1)); [ $bad -le 3 ] && echo "line $k: $line" ;; esac
            k=$((k + 1))
        done < "$mgrdir/reader$r.out"
        echo "reader $r: $good lookups right, $bad wrong"
        [ "$bad" -eq 0 ] || exit 1
        r=$((r + 1))
    done
    say "etsmgr's log"
    kill "$mgrpid"; wait "$mgrpid" 2>/dev/null || true; mgrpid=""
    cat "$mgrdir/log"
    grep -q "^{'ETS-TRANSFER',accounts,<0.$owner.0>,{took_over,accounts}}\$" "$mgrdir/heir.out" &&
        grep -q '^1001$' "$mgrdir/heir.out" || { echo "the handover went wrong"; exit 1; }
fi
