#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The layering of core/ (README "Development", core/*/README.md), checked.

Each folder core/PART/ has a README.md with one line

    May include: base, codec, connectors

naming the parts its files may reach: other folders of core/, and from
outside core/ `connectors` and `operators`. include/sluice/ (the public
headers) is open to everyone. Two checks, both failing with file:line:

1. Includes: every `#include "..."` of a file in core/PART/ must resolve to
   PART itself, to a part its README allows, or to include/sluice/.
2. Calls (needs a build: --build DIR): the symbols each object file of
   core/ uses, read with `nm`, must be defined in the same part or in an
   allowed one (a hand-written prototype cannot sneak past check 1), and no
   two files of core/ may depend on each other, directly or around a loop
   (runtime.c -> checkpoint.c -> runtime.c, http_server.c <-> http_api.c...):
   a part depends on the parts below it, and a file on the files below it.

Usage: scripts/check_layers.py [--build DIR]   (exit 0: clean, 1: violations)
CTest runs it as `check_layers` against the build being tested.

       scripts/check_layers.py --fix-includes FILE...
rewrites includes written before core/ had part folders ("window_store.h",
"../../core/http_server.h") to the part form ("state/window_store.h"), for
code merged from an older branch.
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTSIDE = {"connectors", "operators"}  # top-level folders a part may name
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def rel(path):
    return os.path.relpath(path, ROOT)


def read_rules():
    """{part: set of allowed parts} from core/*/README.md."""
    rules, problems = {}, []
    core = os.path.join(ROOT, "core")
    for part in sorted(os.listdir(core)):
        if not os.path.isdir(os.path.join(core, part)):
            continue
        readme = os.path.join(core, part, "README.md")
        allowed = None
        if os.path.exists(readme):
            with open(readme, encoding="utf-8") as f:
                for line in f:
                    m = re.match(r"^May include:\s*(.*)$", line.strip())
                    if m:
                        words = re.split(r"[,\s]+", m.group(1).strip().rstrip("."))
                        allowed = {w for w in words if w and w != "nothing"}
                        break
        if allowed is None:
            problems.append(f"{rel(readme)}:1: no 'May include:' line for core/{part}/")
            allowed = set()
        rules[part] = allowed
    for part, allowed in rules.items():
        for a in sorted(allowed - set(rules) - OUTSIDE):
            problems.append(f"core/{part}/README.md: 'May include' names '{a}', not a part")
    return rules, problems


def part_of(path):
    """'engine' for core/engine/x.c, 'connectors' for connectors/x.c, else None."""
    parts = rel(path).split(os.sep)
    if parts[0] == "core" and len(parts) > 2:
        return parts[1]
    if parts[0] in OUTSIDE:
        return parts[0]
    if parts[0] == "include":
        return "public"
    return None


def resolve(src, name):
    """The file an #include "name" in src reaches, as the compiler searches:
    the including file's folder, then include/, core/, connectors/."""
    for d in (os.path.dirname(src), os.path.join(ROOT, "include"), os.path.join(ROOT, "core"),
              os.path.join(ROOT, "connectors")):
        p = os.path.normpath(os.path.join(d, name))
        if os.path.isfile(p):
            return p
    return None


def core_sources():
    out = []
    for dirpath, _, files in os.walk(os.path.join(ROOT, "core")):
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                out.append(os.path.join(dirpath, f))
    return sorted(out)


def check_includes(rules):
    problems = []
    for src in core_sources():
        me = part_of(src)
        with open(src, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                m = INCLUDE_RE.match(line)
                if not m:
                    continue
                target = resolve(src, m.group(1))
                if target is None:
                    continue  # a generated header or a system one in quotes
                tp = part_of(target)
                if tp in (me, "public"):
                    continue
                if tp not in rules.get(me, set()):
                    allowed = ", ".join(sorted(rules.get(me, set()))) or "nothing"
                    problems.append(f'{rel(src)}:{n}: core/{me}/ may not include "{m.group(1)}" '
                                    f"({tp or rel(target)}); it may include: {allowed}")
    return problems


def read_objects(build):
    """{source: (defined symbols, undefined symbols)} for core/, connectors/
    and operators/ objects of the sluice_core library whose source exists."""
    objdir = os.path.join(build, "CMakeFiles", "sluice_core.dir")
    sources = {}
    for dirpath, _, files in os.walk(objdir):
        for f in files:
            if not f.endswith(".c.o"):
                continue
            o = os.path.join(dirpath, f)
            src = os.path.join(ROOT, os.path.relpath(o, objdir)[:-2])
            if os.path.isfile(src) and part_of(src) not in (None, "public"):
                sources[o] = src  # else a stale object of a removed file, or generated code
    objs = {src: (set(), set()) for src in sources.values()}
    if not sources:
        return objs
    # One nm for every object: -A prefixes each line with "object:".
    out = subprocess.run(["nm", "-A"] + sorted(sources), check=True, capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        obj, _, rest = line.partition(": ") if ": " in line else line.partition(":")
        w = rest.split()
        defs, undef = objs[sources[obj]]
        if len(w) == 3 and w[1] in "TDBRCV":
            defs.add(w[2])
        elif len(w) == 2 and w[0] == "U":
            undef.add(w[1])
    return objs


def find_cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def shortest_loop(graph, why, comp):
    """One shortest loop through the first file of a cycle, each step with
    a symbol that makes it: "a.c -> b.c (sym) -> a.c (sym)"."""
    members, start = set(comp), comp[0]
    prev, queue = {start: None}, [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph.get(v, ())):
            if w not in members:
                continue
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                path.reverse()
                path.append(start)
                text = rel(path[0])
                for a, b in zip(path, path[1:]):
                    text += f" -> {rel(b)} ({why[(a, b)]})"
                return text
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return ", ".join(rel(c) for c in comp)


def check_calls(rules, build):
    objs = read_objects(build)
    if not any(part_of(s) not in OUTSIDE for s in objs):
        return [f"{build}: no object files of core/ (build first, or pass --build DIR)"]
    owner = {}
    for src, (defs, _) in objs.items():
        for s in defs:
            owner.setdefault(s, src)
    problems, graph, why = [], {}, {}
    for src, (_, undef) in sorted(objs.items()):
        me = part_of(src)
        if me in OUTSIDE:
            continue
        for sym in sorted(undef):
            dst = owner.get(sym)
            if dst is None or dst == src:
                continue
            tp = part_of(dst)
            if tp != me and tp not in rules.get(me, set()):
                problems.append(f"{rel(src)}: uses {sym} of {rel(dst)}: core/{me}/ may not "
                                f"depend on {tp}")
            if tp not in OUTSIDE:
                graph.setdefault(src, set()).add(dst)
                why.setdefault((src, dst), sym)
    for comp in find_cycles(graph):
        problems.append(f"cycle among {len(comp)} files: " + shortest_loop(graph, why, comp))
    return problems


def fix_includes(files):
    """Rewrite bare or ../core/ includes of core headers to "part/name.h"."""
    where = {}
    for src in core_sources():
        if src.endswith(".h"):
            where.setdefault(os.path.basename(src), []).append(rel(src)[len("core/"):])
    bare = re.compile(r'^(\s*#\s*include\s+")((?:\.\./)*(?:core/)?)([\w]+\.h)(".*)$')
    for path in files:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        changed = 0
        for i, line in enumerate(lines):
            m = bare.match(line)
            if not m or len(where.get(m.group(3), [])) != 1:
                continue
            beside = os.path.join(os.path.dirname(os.path.abspath(path)), m.group(3))
            if not m.group(2) and os.path.isfile(beside) and part_of(beside) in OUTSIDE | {None}:
                continue  # a header beside the file (operators/builtin.h, a test fixture)
            if m.group(2) and "core/" not in m.group(2):
                continue  # ../operators/x.h and the like
            lines[i] = m.group(1) + where[m.group(3)][0] + m.group(4)
            changed += 1
        if changed:
            with open(path, "w", encoding="utf-8") as f:
                f.write("\n".join(lines))
            print(f"{path}: {changed} include(s) rewritten")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", help="a build directory (checks the calls between objects)")
    ap.add_argument("--fix-includes", nargs="+", metavar="FILE",
                    help="rewrite old-style includes of core headers in FILE... and exit")
    args = ap.parse_args()
    if args.fix_includes:
        return fix_includes(args.fix_includes)
    rules, problems = read_rules()
    problems += check_includes(rules)
    if args.build:
        problems += check_calls(rules, os.path.abspath(args.build))
    for p in problems:
        print(p)
    if problems:
        print(f"check_layers: {len(problems)} problem(s); the allowed parts are in "
              "core/*/README.md ('May include:')", file=sys.stderr)
        return 1
    if args.build:
        print("check_layers: every part of core/ includes and calls only the parts it may; "
              "no file of core/ depends on itself through others")
    else:
        print("check_layers: every part of core/ includes only the parts it may "
              "(calls and cycles not checked: no --build)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
