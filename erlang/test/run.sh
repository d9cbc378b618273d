#!/bin/sh
# erlang/test/run.sh BUILD_DIR MODULE... — run the EUnit suites of the Erlang binding in one
# erl, with a private runtime directory (etsmgr sockets) and an instance prefix of this run;
# afterwards remove every segment of that prefix and the directory.  Tests that start etsmgr
# stop it by pid themselves.
set -u
B=$1
shift
export SHMETS_TEST_PREFIX="erl$$"
SHMETS_RUNTIME_DIR=$(mktemp -d "${TMPDIR:-/tmp}/shmets-erl.XXXXXX") || exit 1
export SHMETS_RUNTIME_DIR
export SHMETS_ETSMGR="$PWD/$B/etsmgr" SHMETS_BIN="$PWD/$B/shmets" SHMETS_EBIN="$PWD/$B/erlang/shmets/ebin"
export SHMETS_TEST_EBIN="$PWD/$B/erlang/test"
export SHMETS_NO_AUTOSTART=1
mods=$(echo "$@" | tr ' ' '\n' | grep '_tests$' | paste -sd, -)
erl -noshell -pa "$B/erlang/shmets/ebin" -pa "$B/erlang/test" \
    -eval "case eunit:test([$mods], []) of ok -> halt(0); _ -> halt(1) end"
rc=$?
rm -f /dev/shm/shmets."$SHMETS_TEST_PREFIX".*
rm -rf "$SHMETS_RUNTIME_DIR"
[ $rc -eq 0 ] || echo "erlang-check: FAILED" >&2
exit $rc
