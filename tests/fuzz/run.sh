#!/bin/sh
# tests/fuzz/run.sh SECONDS NAME... — run each libFuzzer target build/fuzz/NAME for SECONDS
# seconds (make fuzz; the layout is in tests/fuzz/fuzz.h), one after another, at nice 10.
#
# Each run reads its seeds from tests/fuzz/NAME/ and keeps what it finds new in
# build/fuzz/corpus/NAME/ (libFuzzer writes new inputs to the first directory only, so the
# checked-in seeds are never touched); a crash, leak, sanitizer report, broken property
# (FUZZ_CHECK) or timeout leaves its input as build/fuzz/crash-NAME-*, leak-*, timeout-*.
# Options: FUZZ_OPTS in the environment is added to libFuzzer's command line (e.g. -jobs=2,
# -max_len=8192).  After each run the shared memory its process left (instances fuzz.<pid>,
# fuzz.h F.2) is removed.  One line a target: executions, coverage, corpus size, findings.
# Exit status 1 if any target found something.
set -u
[ $# -ge 2 ] || { echo "usage: tests/fuzz/run.sh SECONDS NAME..." >&2; exit 2; }
secs=$1; shift
out=build/fuzz
bad=""
for name in "$@"; do
    mkdir -p "$out/corpus/$name"
    dict=""
    [ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
    log="$out/$name.log"
    # shellcheck disable=SC2086
    nice -n 10 "$out/$name" -max_total_time="$secs" -timeout=25 -rss_limit_mb=4096 \
        -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$out/" $dict ${FUZZ_OPTS:-} \
        "$out/corpus/$name" "tests/fuzz/$name" >"$log" 2>&1 &
    pid=$!
    wait $pid
    rc=$?
    for f in /dev/shm/shmets.fuzz."$pid" /dev/shm/shmets.fuzz."$pid".*; do
        [ -e "$f" ] && rm -f "$f"
    done
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1)
    corp=$(ls "$out/corpus/$name" | wc -l)
    found=$(ls "$out" | grep -cE "^(crash|leak|timeout|oom|slow-unit)-" || true)
    if [ "$rc" -ne 0 ]; then
        echo "fuzz $name: FOUND something (exit $rc) after ${execs:-?} executions; see $log"
        grep -E "^(==[0-9]+==ERROR|SUMMARY|fuzz:|artifact_prefix|Test unit written)" "$log" | head -8
        bad="$bad $name"
    else
        echo "fuzz $name: ${secs} s, ${execs:-?} executions, ${cov:-cov: ?}, ${ft:-ft: ?}, $corp new inputs in $out/corpus/$name"
    fi
done
[ -z "$bad" ] || { echo "fuzz: targets with findings:$bad"; exit 1; }
