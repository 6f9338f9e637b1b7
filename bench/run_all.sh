#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Reproduces the in-memory figures of bench/README.md: `sluice bench` (Avro
# and JSON), the Avro-C floor and the count/avg/max pipeline, RUNS times each
# (default 5), and prints the medians as a table; then the memory per open
# key (a live pipeline holding 1M keys vs 1000 keys, /proc VmRSS) and, with
# --callgrind, the instructions per record of the reference pipeline.
#
#   bench/run_all.sh [--runs N] [--records N] [--keys N] [--callgrind]
# Environment: BUILD (default build). Results also go to $BUILD/bench-results.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${BUILD:-$here/build}" && pwd)"
sluice="$build/sluice"
floor="$build/bench/floor_avro"
runs=5 records=2000000 keys=10000 callgrind=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="$2"; shift ;;
    --records) records="$2"; shift ;;
    --keys) keys="$2"; shift ;;
    --callgrind) callgrind=1 ;;
    *) echo "usage: $0 [--runs N] [--records N] [--keys N] [--callgrind]" >&2; exit 2 ;;
  esac
  shift
done
[[ -x "$sluice" && -x "$floor" ]] || { echo "build first: $sluice, $floor" >&2; exit 1; }
out="$build/bench-results"
rm -rf "$out"
mkdir -p "$out"

measure() { # NAME COMMAND...: RUNS JSON lines into $out/NAME.jsonl
  local name="$1"
  shift
  for _ in $(seq 1 "$runs"); do
    timeout 300 "$@" >>"$out/$name.jsonl"
  done
}
echo "in-memory: $runs runs each of $records records, $keys keys..." >&2
measure sluice_avro "$sluice" bench --format avro --keys "$keys" --records "$records"
measure floor_avro "$floor" --keys "$keys" --records "$records"
measure sluice_json "$sluice" bench --format json --keys "$keys" --records "$records"
measure stats_avro "$sluice" bench --pipeline "$here/bench/pipelines/stats.lua" --keys "$keys" \
  --records "$records"

# Memory per open key: the count/avg/max pipeline fed live (event time = now,
# 1 h windows, so nothing closes) until every machine has reported, then
# VmRSS; 1M machines minus 1000 machines, per million keys.
open_keys_rss() { # MACHINES -> MiB
  local m="$1"
  local dir="$out/mem-$m"
  mkdir -p "$dir"
  cp "$here/pipelines/schemas/machine_reading.avsc" "$dir/reading.avsc"
  cat >"$dir/p.lua" <<EOF
local sl = require "sluice"
local p = sl.pipeline { name = "mem-$m" }
p:simulator { machines = $m, rate = 400000, format = "avro", faults = false }
  :decode { format = "avro", schema = "reading.avsc" }
  :filter "temperature between -40 and 150"
  :window { tumbling = "1h", key = "machine_id", time = "ts" }
  :aggregate { n = "count()", avg_temperature = "avg(temperature)", max_temperature = "max(temperature)" }
  :null_sink {}
EOF
  (cd "$dir" && exec timeout 60 "$sluice" run p.lua --api off 2>"$dir/log") &
  local pid=$!
  sleep 8 # 400k readings/s: every machine has reported at least twice
  local child
  child="$(pgrep -P "$pid" sluice || echo "$pid")"
  awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$child/status"
  kill -TERM "$pid"
  wait "$pid" || true
}
echo "memory per open key..." >&2
rss_small="$(open_keys_rss 1000)"
rss_large="$(open_keys_rss 1000000)"

ir_avro="" ir_json=""
if [[ "$callgrind" == 1 ]] && command -v valgrind >/dev/null; then
  echo "callgrind, 200k records..." >&2
  for f in avro json; do
    valgrind --tool=callgrind --toggle-collect=sl_runtime_run \
      --callgrind-out-file="$out/callgrind.$f.out" "$sluice" bench --format "$f" \
      --keys "$keys" --records 200000 >/dev/null 2>"$out/callgrind.$f.log"
    ir="$(callgrind_annotate "$out/callgrind.$f.out" 2>/dev/null |
      awk '/PROGRAM TOTALS/ {gsub(",", "", $1); printf "%.0f", $1 / 200000}')"
    if [[ "$f" == avro ]]; then ir_avro="$ir"; else ir_json="$ir"; fi
  done
fi

python3 - "$out" "$rss_small" "$rss_large" "$ir_avro" "$ir_json" <<'EOF'
import json, statistics, sys, os
out, rss_small, rss_large, ir_avro, ir_json = sys.argv[1:6]
def runs(name):
    return [json.loads(l) for l in open(os.path.join(out, name + ".jsonl")) if l.strip()]
def med(name, field):
    return statistics.median(r[field] for r in runs(name))
rows = [("sluice bench --format avro", "sluice_avro", 3.0e6),
        ("floor_avro (Avro-C + hash table)", "floor_avro", None),
        ("sluice bench --format json", "sluice_json", 1.5e6),
        ("sluice bench stats.lua (count/avg/max)", "stats_avro", None)]
print("%-40s %12s %9s %8s %8s" % ("in-memory, median of %d" % len(runs("sluice_avro")),
                                 "records/s", "ns/rec", "target", "vs floor"))
floor = med("floor_avro", "records_per_sec")
for label, name, target in rows:
    rps = med(name, "records_per_sec")
    print("%-40s %12.0f %9.1f %8s %7.2fx" % (label, rps, med(name, "ns_per_record"),
          ("%.1fM" % (target / 1e6)) if target else "-", rps / floor))
print("all runs (records/s):")
for _, name, _ in rows:
    print("  %-12s %s" % (name, " ".join("%.0f" % r["records_per_sec"] for r in runs(name))))
try:
    per_m = (float(rss_large) - float(rss_small)) / 0.999
    print("open keys, count/avg/max: RSS %s MiB at 1000 keys, %s MiB at 1M keys -> %.1f MiB "
          "per million keys (target <= 64)" % (rss_small, rss_large, per_m))
except ValueError:
    print("open keys: not measured (%s, %s)" % (rss_small, rss_large))
if ir_avro:
    print("callgrind, sl_runtime_run, 200k records: %s instructions/record Avro, %s JSON"
          % (ir_avro, ir_json))
EOF
