#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Pick at most N inputs of a fuzz corpus that cover the most code edges.

usage: cmin.py CONTROL_FILE N OUT_DIR

CONTROL_FILE is what `fuzz_<target> -merge=1 -merge_control_file=F EMPTY_DIR
ALL_DIR` leaves: the inputs, then a "COV index edge..." line per input.
libFuzzer's own merge keeps every input that adds a feature (hit counts
included), which makes corpora of thousands of files; this keeps the named
seeds (files whose name is not a SHA-1), then greedily the input adding the
most uncovered edges (the smaller on a tie) until N files or no gain, and
copies them to OUT_DIR. Called by `scripts/fuzz.sh cmin`."""
import os
import re
import shutil
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    control, cap, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    lines = open(control, encoding="utf-8", errors="replace").read().split("\n")
    n = int(lines[0])
    files = lines[2:2 + n]
    cov = {i: set() for i in range(n)}
    for line in lines[2 + n:]:
        parts = line.split()
        if parts and parts[0] == "COV":
            cov[int(parts[1])] = set(parts[2:])
    sha1 = re.compile(r"^[0-9a-f]{40}$")
    chosen = [i for i in range(n) if not sha1.match(os.path.basename(files[i]))]
    covered = set().union(*(cov[i] for i in chosen)) if chosen else set()
    total = set().union(*cov.values()) if cov else set()
    left = set(range(n)) - set(chosen)
    while len(chosen) < cap and left:
        best = max(left, key=lambda i: (len(cov[i] - covered), -os.path.getsize(files[i])))
        if not cov[best] - covered:
            break
        covered |= cov[best]
        chosen.append(best)
        left.discard(best)
    os.makedirs(out, exist_ok=True)
    for i in chosen:
        shutil.copy(files[i], out)
    print(f"cmin: kept {len(chosen)} of {n} inputs, {len(covered)} of {len(total)} edges")


if __name__ == "__main__":
    main()
