#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What `enrich` costs per record: the Avro stats pipeline (decode -> filter ->
# 10 s window by machine_id -> count/avg/max -> null sink) with and without an
# enrich step over a 10,000-device file table (3 fields added per record), run
# by `sluice bench --pipeline` on the same generated input. Prints the median
# ns per record of each (wall clock, RUNS runs) and, with --callgrind, the
# instructions per record of the enrich step (the table load at start-up is
# left out).
#
#   bench/enrich_cost.sh [BUILD_DIR] [--callgrind]     env RUNS=5 RECORDS=2000000
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
runs=${RUNS:-5} records=${RECORDS:-2000000} keys=10000
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
p:kafka_source { topic = "telemetry" }
  :decode { format = "avro", schema = "reading.avsc" }$2
  :filter "temperature between -40 and 150"
  :window { tumbling = "10s", key = "machine_id", time = "ts" }
  :aggregate { n = "count()", avg_temperature = "avg(temperature)",
               max_temperature = "max(temperature)" }
  :null_sink {}
LUA
}
write "$dir/base.lua" ""
write "$dir/enrich.lua" '
  :enrich { table = "devices", key = "machine_id", fields = {"line", "name", "max_temp"} }'

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
for p in base enrich; do
  for ((i = 0; i < runs; i++)); do
    "$sluice" bench --keys "$keys" --records "$records" --pipeline "$dir/$p.lua" 2>/dev/null |
      sed -n 's/.*"ns_per_record":\([0-9.]*\).*/\1/p'
  done | median | xargs printf '%-7s median ns/record over %d runs: %s\n' "$p" "$runs"
done
if [[ "$callgrind" == 1 ]]; then
  # The inclusive count of enrich_process: the whole pipeline's total also
  # moves with the once-a-second ticks under valgrind's slowdown.
  valgrind --tool=callgrind --toggle-collect=sl_runtime_run --callgrind-out-file="$dir/cg" \
    "$sluice" bench --keys "$keys" --records 200000 --pipeline "$dir/enrich.lua" >/dev/null \
    2>"$dir/cg.log"
  ir=$(callgrind_annotate --inclusive=yes "$dir/cg" | awk '/enrich_process/ {gsub(",", "", $1); print $1; exit}')
  echo "enrich costs $((ir / 200000)) instructions per record (callgrind, enrich_process inclusive, 200k records)"
fi
