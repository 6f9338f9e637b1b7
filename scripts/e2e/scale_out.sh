#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The scale-out benchmark in short (bench/scale_out.sh, docs/scaling.md): one worker
# owns a 12-partition topic while input flows at 1000 readings/s, a second joins, the
# group rebalances (every partition revoked, checkpointed, assigned and restored from
# Redis), the input ends and both drain. The bench itself fails unless every window
# result is out exactly once (by sluice-id) with the exact count and sum and no worker
# failed; here the report must also show the rebalance it measured: all 12 partitions
# revoked and assigned again, split over both workers, which then both took records.
# Figures are printed, never asserted (the host is shared).
set -euo pipefail
root=${SLUICE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
out=$(mktemp -d "${TMPDIR:-/tmp}/sluice-e2e-scale-out.XXXXXX")
trap 'rm -rf "$out"' EXIT
SCALE_OUT_DIR="$out" bash "$root/bench/scale_out.sh" --workers "1 2" --phase 8 --rate 1000 \
  --heartbeat-ms 500 --session-ms 6000 || { echo "scale_out: FAIL: bench/scale_out.sh failed"; exit 1; }
python3 - "$out/report.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rb = [r for r in rows if r["kind"] == "rebalance"]
two = [r for r in rows if r["kind"] == "phase" and r["workers"] == 2]
problems = []
if len(rb) != 1:
    problems.append("%d rebalances measured, expected 1" % len(rb))
elif (rb[0]["revoked_partitions"], rb[0]["assigned_partitions"]) != (12, 12) or \
        sorted(rb[0]["restore_ms_per_worker"]) != ["1", "2"] or rb[0]["pause_ms"] is None:
    problems.append("rebalance not as expected: %s" % json.dumps(rb[0]))
if len(two) != 1 or len(two[0]["per_worker"]) != 2 or \
        any(w["records"] <= 0 for w in two[0]["per_worker"].values()):
    problems.append("the two-worker phase is not two workers taking records: %s" % two)
if problems:
    print("scale_out: FAIL: " + "; ".join(problems))
    sys.exit(1)
PY
echo "scale_out (e2e): the rebalance was measured and every result is exact: ok"
