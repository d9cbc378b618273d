#!/bin/sh
# bench/incache.sh BUILD_DIR — where a lookup's time goes, for `make bench` (issue 23).
#
# Runs R1 at P = 1 again on a table of 1,000 objects (every bucket and object stays in the
# cache) for shmets's APIs, the locked hash and the floor, and writes BUILD_DIR/bench/incache.md:
# beside each rate of the 1,000,000-object run (BUILD_DIR/bench/results.tsv, made just before),
# the in-cache rate and the share of a lookup's time that memory adds.  The in-cache rate is
# what the instructions alone allow (the callgrind counts say how many there are); the rest is
# waiting on cache misses: a shmets lookup waits on two that depend on each other (bucket line,
# then object), the locked hash on one.  Figures, never pass/fail.
set -eu
B=${1:-build}
out=$B/bench
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
peers=shmets,shmets-zc,shmets-batch,rwlock,floor
"$B/shmets-bench" --case R1 --peer "$peers" --procs 1 --seconds "${BENCH_SECONDS:-2}" --objects 1000 \
    --out "$dir" > /dev/null 2> "$dir/log" || { cat "$dir/log" >&2; exit 1; }
{
    echo "## R1 at P = 1 with every line in cache: instructions against misses"
    echo
    echo "\`bench/incache.sh\`: R1 again on a table of 1,000 objects (it stays in the cache), against the"
    echo "1,000,000-object run above. The in-cache rate is what the instructions alone allow; \"memory\" is the"
    echo "share of a lookup's time spent waiting on cache misses at 1,000,000 objects."
    echo
    echo "| system | 1,000,000 objects, M/s | 1,000 objects, M/s | ns a lookup (1M) | ns in cache | memory |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
    awk -F'\t' -v peers="$peers" '
        FNR == 1 { file++ }
        /^#/ || $1 != "R1" || $3 != 1 { next }
        file == 1 { big[$2] = $4 }
        file == 2 { small[$2] = $4 }
        END {
            n = split(peers, p, ",")
            for (i = 1; i <= n; i++) {
                b = big[p[i]]; s = small[p[i]]
                if (b == "" || s == "" || b <= 0 || s <= 0) continue
                printf "| %s | %.2f | %.2f | %.0f | %.0f | %.0f%% |\n", p[i], b / 1e6, s / 1e6, 1e9 / b, 1e9 / s,
                       100 * (1e9 / b - 1e9 / s) / (1e9 / b)
            }
        }' "$out/results.tsv" "$dir/results.tsv"
} > "$out/incache.md"
cat "$out/incache.md"
