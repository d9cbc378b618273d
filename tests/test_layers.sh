#!/bin/sh
# tests/test_layers.sh — `make layers` (tools/layers.py) refuses what it is there to refuse.
# In a temporary copy of shm/, mgr/, tools/ and include/: the tree as it is passes; an include
# that goes up a layer is refused, naming its file and line; a cycle between two files of one
# layer is refused, naming both.  Then, in a tree of three small files compiled here, the calls
# (--objects): a call up a layer is refused naming the function, and a cycle of calls hidden
# behind one shared header is refused.  Prints cmocka's summary lines, so tests/run.sh counts
# them.
set -u
root=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0
ok()   { echo "[       OK ] $1"; passed=$((passed + 1)); }
fail() { echo "[  FAILED  ] $1: $2"; failed=$((failed + 1)); }
fresh() { rm -rf "$tmp/t" && mkdir "$tmp/t" && cp -r "$root/shm" "$root/mgr" "$root/tools" "$root/include" "$tmp/t/"; }

fresh
if "$root/tools/layers.py" "$tmp/t" >"$tmp/out" 2>&1; then ok tree_as_it_is
else fail tree_as_it_is "$(cat "$tmp/out")"; fi

# An upward include: the lowest layer reaching for the table front end.
fresh
echo '#include "table/table.h"' >>"$tmp/t/shm/base/proc.c"
line=$(wc -l <"$tmp/t/shm/base/proc.c")
if "$root/tools/layers.py" "$tmp/t" >"$tmp/out" 2>&1; then fail upward_include "accepted"
elif grep -q "shm/base/proc.c:$line: #include \"table/table.h\" goes up" "$tmp/out"; then ok upward_include
else fail upward_include "refused, but not naming shm/base/proc.c:$line: $(cat "$tmp/out")"; fi

# A cycle inside one layer: seg.c needing alloc.h while alloc.h needs seg.h.
fresh
echo '#include "mem/alloc.h"' >>"$tmp/t/shm/mem/seg.c"
if "$root/tools/layers.py" "$tmp/t" >"$tmp/out" 2>&1; then fail cycle "accepted"
elif grep -q "cycle: .*shm/mem/alloc.*shm/mem/seg\|cycle: .*shm/mem/seg.*shm/mem/alloc" "$tmp/out" && ! grep -q "goes up" "$tmp/out"; then ok cycle
else fail cycle "refused, but not as a cycle of shm/mem/seg and shm/mem/alloc: $(cat "$tmp/out")"; fi

# Calls: a.c and b.c of shm/base/ call each other through base/ab.h (no include shows it), and
# a.c calls a function of shm/term/c.c, a layer up.
rm -rf "$tmp/t" && mkdir -p "$tmp/t/shm/base" "$tmp/t/shm/term" "$tmp/t/include" "$tmp/t/o/shm/base" "$tmp/t/o/shm/term"
printf 'int fa(int);\nint fb(int);\n' >"$tmp/t/shm/base/ab.h"
printf '#include "base/ab.h"\nint fc(int);\nint fa(int x) { return x ? fb(x - 1) + fc(x) : 0; }\n' >"$tmp/t/shm/base/a.c"
printf '#include "base/ab.h"\nint fb(int x) { return fa(x); }\n' >"$tmp/t/shm/base/b.c"
printf 'int fc(int x) { return x; }\n' >"$tmp/t/shm/term/c.c"
for f in base/a base/b term/c; do
    ${CC:-cc} -I"$tmp/t/shm" -c "$tmp/t/shm/$f.c" -o "$tmp/t/o/shm/$f.o" || fail calls "cannot compile $f.c"
done
if "$root/tools/layers.py" --objects o "$tmp/t" >"$tmp/out" 2>&1; then fail calls "accepted"
elif grep -q "shm/base/a.c: calls fc of shm/term/c.c, which goes up" "$tmp/out" &&
     grep -q "cycle: shm/base/a -> shm/base/b -> shm/base/a" "$tmp/out"; then ok calls
else fail calls "refused, but not naming fc's upward call and the a/b cycle: $(cat "$tmp/out")"; fi

[ "$passed" -gt 0 ] && echo "[  PASSED  ] $passed test(s)."
[ "$failed" -gt 0 ] && { echo "[  FAILED  ] $failed test(s)."; exit 1; }
exit 0
