#!/bin/sh
# tests/diff/run.sh — the differential test: one generated script of ets calls through real
# ETS (Erlang/OTP) and through `shmets script`, compared call by call.
#
#   tests/diff/run.sh [--seed S] [--calls N] [--skip C,...] [--keep] SHMETS OUTDIR
#
#   SHMETS    the shmets program (build/shmets, or build/san-*/shmets)
#   OUTDIR    where the script and both outputs go (created; kept after a failure, or with
#             --keep, so that a difference can be looked at and the run repeated by hand)
#   --seed S  the generator's seed (default: $SHMETS_DIFF_SEED, else 1)
#   --calls N random calls per table type (default 2500)
#   --skip C,... cases gen.escript leaves out (see there; to look past known differences)
#
# Steps, each with its own line of output:
#   1. The harness tests itself (it must be able to fail): tests/diff/selftest/rules.ok must
#      compare equal to real ETS and every change in selftest/mutations.txt must be reported
#      as one difference; the generated script's ETS output from another Erlang VM (whose
#      hash tables have another order) must compare equal; and two changes to the output of
#      a small generated script must each be one difference.
#   2. If SHMETS has no `script` subcommand yet, the test stops there and passes, saying so.
#   3. SHMETS runs the script in an instance of its own (diff-PID, removed afterwards);
#      tests/diff/compare.escript prints each difference and the summary line
#          diff: N calls, M tables, D differences
# Exit status 0 only if everything above holds.
set -u

here=$(cd "$(dirname "$0")" && pwd)
seed=${SHMETS_DIFF_SEED:-1}
calls=2500
keep=0
skip=
while [ $# -gt 0 ]; do
    case "$1" in
        --seed) seed=$2; shift 2 ;;
        --calls) calls=$2; shift 2 ;;
        --skip) skip="--skip $2"; shift 2 ;;
        --keep) keep=1; shift ;;
        -*) echo "usage: tests/diff/run.sh [--seed S] [--calls N] [--skip C,...] [--keep] SHMETS OUTDIR" >&2; exit 2 ;;
        *) break ;;
    esac
done
[ $# -eq 2 ] || { echo "usage: tests/diff/run.sh [--seed S] [--calls N] [--skip C,...] [--keep] SHMETS OUTDIR" >&2; exit 2; }
shmets=$1
out=$2
mkdir -p "$out" || exit 2
inst="diff-$$"

cleanup() {
    rm -f "/dev/shm/shmets.$inst" /dev/shm/shmets."$inst".*
}
trap cleanup EXIT
trap 'exit 2' INT TERM HUP

fail() {
    echo "diff: FAILED: $*"
    echo "diff: files in $out"
    exit 1
}

script="$out/calls.ets"
# shellcheck disable=SC2086
escript "$here/gen.escript" --seed "$seed" --calls "$calls" --conts $skip --out "$script" 2>"$out/gen.err" \
    || { cat "$out/gen.err"; fail "gen.escript"; }
escript "$here/ets_run.escript" "$script" >"$out/erl.out" 2>"$out/erl.err" \
    || { cat "$out/erl.err"; fail "ets_run.escript"; }

# 1. The harness's own test.
escript "$here/compare.escript" --mutations "$here/selftest/mutations.txt" \
        "$here/selftest/rules.ets" "$here/selftest/rules.ok" >"$out/selftest.txt" 2>&1 \
    || { cat "$out/selftest.txt"; fail "the harness does not pass its own test (selftest/)"; }
escript "$here/compare.escript" --label erl2 "$script" "$out/erl.out" >"$out/selftest-erl.txt" 2>&1 \
    || { cat "$out/selftest-erl.txt"; fail "the generated script: ETS against ETS in another VM"; }
small="$out/small.ets"
# shellcheck disable=SC2086
escript "$here/gen.escript" --seed "$seed" --calls 40 $skip --out "$small" 2>/dev/null \
    && escript "$here/ets_run.escript" "$small" >"$out/small.out" 2>"$out/erl.err" \
    || { cat "$out/erl.err"; fail "gen.escript or ets_run.escript (small script)"; }
badarg=$(grep -n -m1 '^error:badarg$' "$out/small.out" | cut -d: -f1)
last=$(wc -l <"$out/small.out")
printf '%s\ttrue\tthe first badarg\n%s\t<drop>\tthe last line\n' "$badarg" "$last" >"$out/mutations.txt"
escript "$here/compare.escript" --mutations "$out/mutations.txt" "$small" "$out/small.out" \
        >"$out/selftest-small.txt" 2>&1 \
    || { cat "$out/selftest-small.txt"; fail "changes to a generated script's output are not caught"; }
echo "diff: harness self-test passed: $(grep -c '^[0-9]' "$here/selftest/mutations.txt") wrong outputs of selftest/rules.ets caught; ETS against ETS in another VM: 0 differences in $(grep -c . "$out/erl.out") calls"

# 2. Is there a `script` subcommand?
[ -x "$shmets" ] || fail "no program $shmets"
if ! "$shmets" script --instance "$inst" </dev/null >"$out/probe.out" 2>&1; then
    if ! grep -q 'script' "$out/probe.out"; then
        echo "diff: skipped: $shmets has no script subcommand yet"
        [ "$keep" -eq 1 ] || rm -rf "$out"
        exit 0
    fi
    cat "$out/probe.out"
    fail "$shmets script fails on an empty script"
fi

# 3. The real comparison.
"$shmets" script --instance "$inst" "$script" >"$out/shmets.out" 2>"$out/shmets.err"
rc=$?
cleanup
escript "$here/compare.escript" "$script" "$out/shmets.out"
crc=$?
if [ "$rc" -ne 0 ]; then
    if grep -q 'ERROR: [A-Za-z]*Sanitizer\|runtime error:' "$out/shmets.err"; then
        echo "diff: $shmets script exited with status $rc; the sanitizer says:"
        grep -m1 -A8 'ERROR: [A-Za-z]*Sanitizer\|runtime error:' "$out/shmets.err" | sed 's/^/  /'
    else
        echo "diff: $shmets script exited with status $rc; its standard error ends:"
        tail -n 5 "$out/shmets.err" | sed 's/^/  /'
    fi
fi
[ "$crc" -eq 0 ] && [ "$rc" -eq 0 ] || fail "shmets script differs from ETS (seed $seed)"
[ "$keep" -eq 1 ] || rm -rf "$out"
exit 0
