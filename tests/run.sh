#!/bin/sh
# tests/run.sh TEST... — run cmocka test programs from the repository root, one after another,
# and close with one line counting the tests: "check: N passed, N failed".
# A program that crashes or exits non-zero counts as failed even if it printed no summary.
set -u
passed=0; failed=0; bad=""
for t in "$@"; do
    out=$(mktemp)
    "$t" >"$out" 2>&1
    rc=$?
    cat "$out"
    p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
    rm -f "$out"
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$rc" -ne 0 ]; then
        [ "$f" -eq 0 ] && failed=$((failed + 1))
        bad="$bad ${t##*/}"
    fi
done
echo "check: $passed passed, $failed failed"
[ -z "$bad" ] || { echo "check: failing programs:$bad"; exit 1; }
