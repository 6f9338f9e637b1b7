#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What `enrich` costs per record: the Avro stats pipeline (decode -> filter ->
# 10 s window by machine_id -> count/avg/max -> null sink) with and without an
# enrich step over a 10,000-device file table (3 fields added per record), run
# by `sluice bench --pipeline` on the same generated input. Prints the median
# ns per record of each (wall clock, RUNS runs) and their difference, and,
# with --callgrind, the instructions per record of the enrich step (the
# table load at start-up is left out) and of the whole pipeline without it,
# and the step's instructions in ns at that pipeline's measured rate (its
# instructions per record over its median wall ns per record). The wall
# clock covers the run only; CPU (user + sys, also printed) includes the
# start-up, where `sluice bench` encodes the whole input and the table is
# loaded, so it is about twice the wall time on an idle host. On a loaded
# host the wall figure queues for a CPU: compare runs taken with `uptime`.
# FORMAT=json decodes JSON readings instead (records without a shape); FORK=1
# adds a second branch below decode, so that enrich copies each record;
# KEYS=100 draws the readings from 100 of the table's 10,000 devices (the
# entries looked up then stay in the CPU's caches: a control for misses).
#
#   bench/enrich_cost.sh [BUILD_DIR] [--callgrind]
#     env RUNS=5 RECORDS=2000000 FORMAT=avro|json FORK=0|1 KEYS=10000
set -euo pipefail
build=build callgrind=0
for a in "$@"; do
  case "$a" in
    --callgrind) callgrind=1 ;;
    *) build="$a" ;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
sluice="$root/$build/sluice"
runs=${RUNS:-5} records=${RECORDS:-2000000} keys=10000 format=${FORMAT:-avro}
ikeys=${KEYS:-$keys} # devices the readings come from
if ! [[ "$ikeys" =~ ^[1-9][0-9]*$ ]] || ((ikeys > keys)); then
  echo "enrich_cost.sh: KEYS must be 1 to $keys (devices of the table the readings come from)" >&2
  exit 2
fi
case "$format" in
  avro) decode='format = "avro", schema = "reading.avsc"' ;;
  json) decode='format = "json"' ;;
  *) echo "enrich_cost.sh: FORMAT must be avro or json" >&2; exit 2 ;;
esac
fork=""
[[ "${FORK:-0}" == 1 ]] && fork='d:null_sink {}' # a second branch: enrich must copy
dir=$(mktemp -d /tmp/sluice-enrich-XXXXXX)
trap 'rm -rf "$dir"' EXIT
cp "$root/pipelines/schemas/machine_reading.avsc" "$dir/reading.avsc"
for ((m = 1; m <= keys; m++)); do
  printf '{"machine_id":"m%04d","line":"L%d","name":"Machine %d","max_temp":%d}\n' \
    "$m" $((m % 20)) "$m" $((80 + m % 15))
done >"$dir/devices.jsonl"
write() { # $1 = file, $2 = the enrich step or ""
  cat >"$1" <<LUA
local sl = require "sluice"
local p = sl.pipeline { name = "enrich-bench" }
p:table { id = "devices", path = "devices.jsonl", key = "machine_id" }
local d = p:kafka_source { topic = "telemetry" }
  :decode { $decode }
d$2
  :filter "temperature between -40 and 150"
  :window { tumbling = "10s", key = "machine_id", time = "ts" }
  :aggregate { n = "count()", avg_temperature = "avg(temperature)",
               max_temperature = "max(temperature)" }
  :null_sink {}
$fork
LUA
}
write "$dir/base.lua" ""
write "$dir/enrich.lua" '
  :enrich { table = "devices", key = "machine_id", fields = {"line", "name", "max_temp"} }'

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
# One run of pipeline $1: "WALL_NS CPU_NS" per record (CPU: user + sys of the
# whole process, start-up included, the same for both pipelines).
one() {
  /usr/bin/time -f '%U %S' -o "$dir/time" \
    "$sluice" bench --keys "$ikeys" --records "$records" --pipeline "$dir/$1.lua" 2>/dev/null |
    sed -n 's/.*"ns_per_record":\([0-9.]*\).*/\1/p' | tr '\n' ' '
  awk -v n="$records" '{printf "%.1f\n", ($1 + $2) * 1e9 / n}' "$dir/time"
}
declare -A wall cpu
for p in base enrich; do
  for ((i = 0; i < runs; i++)); do one "$p"; done >"$dir/runs.$p"
  wall[$p]=$(cut -d' ' -f1 "$dir/runs.$p" | median)
  cpu[$p]=$(cut -d' ' -f2 "$dir/runs.$p" | median)
  printf '%-7s %s, medians of %d runs: %s ns/record wall, %s ns/record CPU\n' "$p" "$format" \
    "$runs" "${wall[$p]}" "${cpu[$p]}"
done
awk -v bw="${wall[base]}" -v ew="${wall[enrich]}" -v bc="${cpu[base]}" -v ec="${cpu[enrich]}" \
  'BEGIN {printf "enrich adds %.1f ns per record wall, %.1f CPU (differences of the medians)\n",
          ew - bw, ec - bc}'
if [[ "$callgrind" == 1 ]]; then
  # Inclusive count of function $2 in a callgrind run of pipeline $1. The
  # pipeline's total moves a little with the once-a-second ticks under
  # valgrind's slowdown; enrich_process's own count does not.
  count() {
    valgrind --tool=callgrind --toggle-collect=sl_runtime_run --callgrind-out-file="$dir/cg.$1" \
      "$sluice" bench --keys "$ikeys" --records 200000 --pipeline "$dir/$1.lua" >/dev/null \
      2>"$dir/cg.log"
    callgrind_annotate --inclusive=yes "$dir/cg.$1" |
      awk -v f="$2" '$0 ~ ":" f " " {gsub(",", "", $1); print $1; exit}'
  }
  ir=$(count enrich enrich_process)
  base=$(count base sl_runtime_run)
  echo "enrich costs $((ir / 200000)) instructions per record (callgrind, enrich_process inclusive, 200k records)"
  echo "the pipeline without enrich: $((base / 200000)) instructions per record (sl_runtime_run inclusive)"
  awk -v ir="$ir" -v base="$base" -v ns="${wall[base]}" 'BEGIN {
    rate = base / 200000 / ns
    printf "at the %.2f instructions per wall ns of the pipeline without it: %.1f ns per record\n",
      rate, ir / 200000 / rate
  }'
fi
