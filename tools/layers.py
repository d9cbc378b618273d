#!/usr/bin/env python3
"""layers.py — `make layers`: shm/, mgr/ and tools/ include and call down the layers, with no cycle.

The layers, lowest first.  This list is the one place the order is written (CONVENTIONS.md item
1a; ARCHITECTURE.md draws it).  Folders on one line are siblings: neither may include the other.

    shm/base
    shm/term
    shm/ms shm/mem
    shm/store
    shm/index
    shm/table
    shm/tabfile shm/etsmgr
    mgr tools

include/ (the public headers) sits below them all: anyone may include it.

The rules, over every `#include "..."` of every .c and .h under the folders above:
  U. A file includes only files of its own folder and of the layers below it.  An include that
     goes up a layer, or sideways to a sibling, is refused, naming the file and line.
  C. No cycle among files.  A .c and the .h of the same name are one file here (the header is the
     .c's interface: a .c that includes x.h needs x.c), so `a.c` including `b.h` while `b.c`
     includes `a.h` is a cycle, as is one through any number of files.  Each cycle is refused
     once, naming its files and the include lines that close it.
  An include that names no file of the tree (a typo) is refused too.
  L. Every file stays under LINES_MAX lines (CONVENTIONS.md item 9: one concept a file).

A shared header (term.h, ms.h, table.h, mgr.h ...) declares the functions of several .c files,
so includes alone do not show which .c needs which.  With --objects DIR (make layers passes the
build folder), the calls are read too: `nm` of DIR/<file>.o gives the functions each .c calls
and each defines, and a call from a.c to a function b.c defines counts as a.c needing b.c, under
the same two rules (a call up a layer is refused naming the function; a cycle of calls is one).

Usage: tools/layers.py [--objects DIR] [ROOT]   (ROOT: the repository, by default the current
folder; DIR relative to ROOT).
Exit status 0 when every rule holds, 1 otherwise; one line a violation on stderr.
"""
import os
import re
import subprocess
import sys

# The first indented block of the comment above, a line a layer.
LAYERS = [line.split() for line in __doc__.split("\n\n    ")[1].split("\n\n")[0].splitlines()]
LINES_MAX = 1500
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def rank_of(path):
    """The layer of a file (its rank, and its folder), or None for a file outside every layer."""
    for rank, folders in enumerate(LAYERS):
        for folder in folders:
            if path.startswith(folder + "/") and "/" not in path[len(folder) + 1:]:
                return rank, folder
    return None


def resolve(root, src, name):
    """The repository path an include of src names, as the compiler (-Iinclude -Ishm) finds it."""
    for base in (os.path.dirname(src), "shm", "include"):
        p = os.path.normpath(os.path.join(base, name))
        if os.path.isfile(os.path.join(root, p)):
            return p
    return None


def unit(path):
    return os.path.splitext(path)[0]


def symbols(obj):
    """The global functions and data an object defines, and the ones it uses."""
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 2 and f[0] == "U":
            used.add(f[1])
        elif len(f) == 3 and f[1] in "TDBRCGSV":
            defined.add(f[2])
    return defined, used


def main():
    args = sys.argv[1:]
    objects = None
    if args[:1] == ["--objects"] and len(args) >= 2:
        objects, args = args[1], args[2:]
    root = args[0] if args else "."
    files = []
    for top in sorted({f.split("/")[0] for line in LAYERS for f in line}):
        for d, _, names in os.walk(os.path.join(root, top)):
            for n in names:
                if n.endswith((".c", ".h")):
                    files.append(os.path.relpath(os.path.join(d, n), root))
    files.sort()
    bad = []
    edges = {}          # unit -> {unit: (file, line)}
    for src in files:
        layer = rank_of(src)
        if layer is None:
            bad.append(f"{src}: in no layer (tools/layers.py lists the folders)")
            continue
        with open(os.path.join(root, src), encoding="utf-8", errors="replace") as fh:
            lines = fh.readlines()
        if len(lines) >= LINES_MAX:
            bad.append(f"{src}: {len(lines)} lines, not under {LINES_MAX}: split it by concern")
        for ln, text in enumerate(lines, 1):
            m = INCLUDE.match(text)
            if not m:
                continue
            dst = resolve(root, src, m.group(1))
            if dst is None:
                bad.append(f'{src}:{ln}: #include "{m.group(1)}" names no file of the tree')
                continue
            if dst.startswith("include/"):
                continue
            to = rank_of(dst)
            if to is None:
                bad.append(f'{src}:{ln}: #include "{m.group(1)}" reaches {dst}, in no layer')
                continue
            if to[1] != layer[1] and to[0] >= layer[0]:
                how = "a sibling of" if to[0] == layer[0] else "above"
                bad.append(f'{src}:{ln}: #include "{m.group(1)}" goes up: {to[1]}/ is {how} {layer[1]}/')
            a, b = unit(src), unit(dst)
            if a != b:
                edges.setdefault(a, {}).setdefault(b, (src, ln))
    if objects is not None:
        owner, uses = {}, {}
        for src in files:
            if not src.endswith(".c") or rank_of(src) is None:
                continue
            obj = os.path.join(root, objects, src[:-2] + ".o")
            if not os.path.isfile(obj):
                bad.append(f"{src}: no object {os.path.join(objects, src[:-2] + '.o')} to read its calls from")
                continue
            defined, used = symbols(obj)
            uses[src] = used
            for d in defined:
                owner.setdefault(d, src)
        for src, used in sorted(uses.items()):
            layer = rank_of(src)
            for sym in sorted(used):
                dst = owner.get(sym)
                if dst is None or unit(dst) == unit(src):
                    continue
                to = rank_of(dst)
                if to[1] != layer[1] and to[0] >= layer[0]:
                    how = "a sibling of" if to[0] == layer[0] else "above"
                    bad.append(f"{src}: calls {sym} of {dst}, which goes up: {to[1]}/ is {how} {layer[1]}/")
                edges.setdefault(unit(src), {}).setdefault(unit(dst), (src, f"calls {sym}"))
    # Cycles: every strongly connected component of more than one unit (Tarjan), then one cycle
    # through it, found by a walk that stays inside the component.
    index, low, stack, on, comps = {}, {}, [], set(), []

    def strong(v):
        work = [(v, iter(sorted(edges.get(v, {}))))]
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        while work:
            u, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(edges.get(nxt, {})))))
                elif nxt in on:
                    low[u] = min(low[u], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[u])
            if low[u] == index[u]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == u:
                        break
                if len(comp) > 1:
                    comps.append(sorted(comp))

    for v in sorted(set(edges) | {w for e in edges.values() for w in e}):
        if v not in index:
            strong(v)
    for comp in comps:
        inside = set(comp)
        start = comp[0]
        # breadth-first from start back to start, inside the component: the shortest cycle through it
        prev, frontier, found = {start: None}, [start], None
        while frontier and found is None:
            nf = []
            for u in frontier:
                for w in sorted(edges.get(u, {})):
                    if w not in inside:
                        continue
                    if w == start:
                        found = u
                        break
                    if w not in prev:
                        prev[w] = u
                        nf.append(w)
                if found is not None:
                    break
            frontier = nf
        path = [found]
        while prev[path[-1]] is not None:
            path.append(prev[path[-1]])
        path.reverse()
        path.append(start)
        hops = ", ".join(f"{edges[a][b][0]}:{edges[a][b][1]}" if isinstance(edges[a][b][1], int)
                         else f"{edges[a][b][0]} {edges[a][b][1]}" for a, b in zip(path, path[1:]))
        more = f" (with {len(comp) - len(path) + 1} more in the knot: {' '.join(sorted(inside - set(path)))})" \
            if len(comp) > len(path) - 1 else ""
        bad.append(f"cycle: {' -> '.join(path)} ({hops}){more}")
    for b in bad:
        print(f"layers: {b}", file=sys.stderr)
    if bad:
        print(f"layers: {len(bad)} violation(s)", file=sys.stderr)
        return 1
    what = "include and call" if objects is not None else "include"
    print(f"layers: {len(files)} files of shm/, mgr/, tools/ {what} down the layers only, with no cycle, each under {LINES_MAX} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
