#!/bin/sh
# bench/cost.sh BUILD_DIR — instructions per lookup, for `make bench` (issue 23).
#
# Runs BUILD_DIR/bench/lookup_cost under valgrind's callgrind once per API (200,000 objects,
# 100,000 lookups each; COST_MODES="none ordered ..." runs only those), counting only the
# instructions of its run() function (--toggle-collect), and writes BUILD_DIR/bench/cost.tsv
# and cost.md: the instructions per lookup with the harness (the key draw, and the value
# reached through the public accessors and folded, as every peer of the read benchmark does),
# and the library's own: the inclusive instructions of the calls run() makes into the library
# (functions named shmets_*, read from callgrind's call records), so that no harness work —
# a batch's key array filled, a loop — is counted as the library's.  (Until 2026-12 the library
# column was run() less the `none` mode's run(), which counted a batch's harness too: 13 more
# a key for batchkey, 9-18 more for the single lookups.)  Counts, not times: whatever else the
# machine does, so a regression is seen as a number — the same on every run of the same binary
# for the hash modes; the ordered_set modes move by up to ~8% between runs, as the skip list's
# node heights come from each new table's random seed.
set -eu
B=${1:-build}
exe=$B/bench/lookup_cost
out=$B/bench
N=200000
M=100000
command -v valgrind >/dev/null || { echo "cost.sh: valgrind is missing (tools/deps.sh bench installs it)" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'mode\tinstructions_per_lookup\tlibrary_only\n' > "$out/cost.tsv"
for mode in ${COST_MODES:-none copy into zc zckey batch batchkey member element ordered next fold range rangezc kv write}; do
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$mode" --toggle-collect=run \
        "$exe" "$mode" "$N" "$M" > /dev/null 2> "$tmp/log.$mode"
    ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$tmp/cg.$mode" | head -1)
    [ -n "$ir" ] || ir=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$tmp/cg.$mode" | head -1)
    # The library's share: each call record under fn=run to a shmets_* function carries the
    # call's inclusive cost as its last number (names are given once, then by their "(id)");
    # the harness's callback (foldl's fold_cb, which folds the value), called from inside the library, is
    # taken out again.
    lib=$(awk 'function nm(s,  id, r) {
                   if (match(s, /^\([0-9]+\)/)) {
                       id = substr(s, 2, RLENGTH - 2); r = substr(s, RLENGTH + 1); sub(/^ /, "", r)
                       if (r != "") names[id] = r
                       return names[id]
                   }
                   return s
               }
               /^fn=/ { cur = nm(substr($0, 4)); next }
               /^cfn=/ { callee = nm(substr($0, 5)); next }
               /^calls=/ { incall = 1; next }
               incall { incall = 0
                        if (cur == "run" && callee ~ /^shmets_/) sum += $NF
                        else if (callee == "fold_cb") sum -= $NF }
               END { printf "%.0f", sum }' "$tmp/cg.$mode")
    echo "$mode $ir $lib" >> "$tmp/ir"
done
awk -v M="$M" '$1 != "none" { printf "%s\t%.0f\t%.0f\n", $1, $2 / M, $3 / M }' "$tmp/ir" >> "$out/cost.tsv"
{
    echo "## Instructions per lookup (callgrind)"
    echo
    echo "\`bench/cost.sh\`: \`lookup_cost\` under valgrind's callgrind, $M lookups of uniformly drawn keys"
    echo "in a set of $N objects {K, <<32 bytes>>} (an ordered_set for \`ordered\`); counts, not times."
    echo "\"with harness\" includes drawing the key and reaching and folding the value through the"
    echo "public accessors ($(awk -v M="$M" '$1 == "none" { printf "%.0f", $2 / M }' "$tmp/ir") instructions, the \`none\` mode); \"library\" is what the calls"
    echo "into the library ran (callgrind's inclusive count of each shmets_* call run() makes)."
    echo
    echo "| API | what a lookup is | with harness | library |"
    echo "| --- | --- | ---: | ---: |"
    awk -F'\t' 'NR > 1 {
        w["copy"] = "shmets_lookup: a list copied out (malloc), freed";
        w["into"] = "shmets_lookup_into, prepared key, into our buffer";
        w["zc"] = "read_begin, shmets_lookup_view, read_end";
        w["zckey"] = "the same with a prepared key (lookup_view_key)";
        w["batch"] = "lookup_bulk_view of 32 keys, per key";
        w["batchkey"] = "lookup_bulk_view_keys of 32 prepared keys, per key";
        w["ordered"] = "ordered_set: read_begin, lookup_view, read_end";
        w["next"] = "ordered_set: shmets_next from a drawn key (copied out)";
        w["fold"] = "ordered_set: shmets_foldl, per object";
        w["range"] = "ordered_set: select of a bound prefix {B, _} (100 objects), per object";
        w["rangezc"] = "ordered_set: shmets_range_view of 100 objects from {B, 0}, per object";
        w["member"] = "shmets_member (no value reached: its harness is the key draw alone)";
        w["element"] = "shmets_lookup_element of the value (position 2), copied out (malloc), freed";
        w["kv"] = "shmets_kv_get (byte keys)";
        w["write"] = "R2'"'"'s write: {K, <<V>>} built (builder_view) and inserted over K'"'"'s object, per write";
        printf "| %s | %s | %s | %s |\n", $1, w[$1], $2, $3 }' "$out/cost.tsv"
} > "$out/cost.md"
cat "$out/cost.md"
