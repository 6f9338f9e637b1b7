#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Issue 16's "sparse devices" workload end to end on a real broker: N JSON readings
# (default 3,000,000) of KEYS machines (default 10,000) drawn at random, ts +1 ms a
# reading with 10 % moved back 1-500 ms, pre-loaded into a 4-partition topic keyed by
# machine_id (kcat, librdkafka's default partitioner), then
#   kafka_source -> decode json -> window{tumbling 10s, key machine_id, time ts, delay 1s}
#   -> aggregate{n = count(), avg_temp = avg(temperature), max_temp = max(temperature)}
#   -> kafka_sink{key = "machine_id"}
# with state = "memory" and state = "redis" (checkpoint = "1s"), RUNS times each
# (interleaved), a fresh consumer group and result topic per run. Every run's results
# are checked against an independent computation from the input file
# (bench/kafka_sparse.py check). Per run: records per CPU-second of the worker (user +
# sys from /proc/PID/stat when its sink has taken the last result), records per
# wall-second (process start to that moment, and first record read to that moment), peak RSS (VmHWM), broker and Redis CPU
# over the run. Prints one JSON line per run, then the medians.
#
#   bench/kafka_sparse.sh [--records N] [--keys N] [--runs R] [--states "memory redis"]
#                         [--format json|avro] [--callgrind]
# --format avro: the readings are loaded as Avro (schemas/machine_reading.avsc, through a
# sluice pipeline file_source -> kafka_sink{format = "avro", key = "machine_id"}, so each
# message also carries a sluice-id header) and the results are written as Avro
# (schemas/sparse_result.avsc), read back with kcat -f '%R%s' and checked the same way.
# --keys 1000: the dense variant (~16 readings per window).
# Also per run: the worker's main thread (the one running the pipeline) from
# /proc/PID/task/PID/schedstat between the first record and the last result: time on a
# CPU, waiting for one (runqueue: the machine is busy), and blocked (neither: waiting for
# Kafka, Redis or a timer; what a core of its own would not remove), and the time spent
# in checkpoints (sluice_checkpoint_seconds: Redis write + offset commit).
# --callgrind: after the timed runs, one more run with state = "redis" under
# `valgrind --tool=callgrind` (all threads), then the instructions per reading of each
# phase (bench/kafka_sparse_phases.sh; use --records 300000 or so: it is ~50x slower).
# Environment: BUILD (default build). Everything lives under $BUILD/kafka-sparse and is
# stopped on exit; bounded by timeouts.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${BUILD:-$here/build}" && pwd)"
sluice="$build/sluice"
topic_tool="$build/bench/kafka_topic"
records=3000000 keys=10000 runs=3 states="memory redis" callgrind=0 format=json
while [[ $# -gt 0 ]]; do
  case "$1" in
    --records) records="$2" ;;
    --keys) keys="$2" ;;
    --runs) runs="$2" ;;
    --states) states="$2" ;;
    --format) format="$2" ;;
    --callgrind) callgrind=1; shift; continue ;;
    *) echo "usage: $0 [--records N] [--keys N] [--runs R] [--states \"memory redis\"] [--format json|avro] [--callgrind]" >&2; exit 2 ;;
  esac
  shift 2
done
[[ "$format" == json || "$format" == avro ]] || { echo "--format json or avro" >&2; exit 2; }
[[ -x "$sluice" && -x "$topic_tool" ]] || { echo "build first: $sluice, $topic_tool" >&2; exit 1; }
command -v kcat >/dev/null && command -v redis-server >/dev/null && command -v curl >/dev/null ||
  { echo "kcat, redis-server and curl are needed" >&2; exit 1; }

work="$build/kafka-sparse"
rm -rf "$work"
mkdir -p "$work"
worker="" redis_pid=""
cleanup() {
  [[ -n "$worker" ]] && { kill "$worker" 2>/dev/null || true; wait "$worker" 2>/dev/null || true; }
  [[ -n "$redis_pid" ]] && { kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; }
  "$here/scripts/kafka-broker.sh" stop "$work/broker" >/dev/null 2>&1 || true
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
now_ms() { date +%s%3N; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
hz="$(getconf CLK_TCK)"

echo "generating $records readings of $keys machines..." >&2
python3 "$here/bench/kafka_sparse.py" gen "$records" "$keys" 16 "$work/readings.txt"

echo "starting Kafka and Redis..." >&2
brokers="$("$here/scripts/kafka-broker.sh" start "$work/broker" | sed -n 's/^SLUICE_TEST_KAFKA_BROKERS=//p')"
[[ -n "$brokers" ]] || { echo "the broker did not start" >&2; exit 1; }
broker_pid="$(cat "$work/broker/pid")"
redis_port="$(free_port)"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$work" --logfile "$work/redis.log" &
redis_pid=$!
for _ in $(seq 1 50); do
  redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
export SLUICE_KAFKA_BROKERS="$brokers" SLUICE_REDIS_URL="redis://127.0.0.1:$redis_port"
"$topic_tool" "$brokers" readings 4

echo "loading the topic..." >&2
t0=$(now_ms)
if [[ "$format" == json ]]; then
  # idempotent, so that a retried batch cannot land after later ones (order per partition)
  timeout 600 kcat -P -b "$brokers" -t readings -K $'\t' -z lz4 -X enable.idempotence=true -l "$work/readings.txt"
else
  # Binary Avro cannot go through kcat's line mode: a sluice pipeline encodes the same
  # readings, in file order, keyed (and so partitioned) by machine_id like kcat's.
  cut -f 2 "$work/readings.txt" >"$work/readings.jsonl"
  cp "$here/bench/pipelines/schemas/machine_reading.avsc" "$here/bench/pipelines/schemas/sparse_result.avsc" "$work/"
  cat >"$work/load.lua" <<LUA
local sl = require "sluice"
local p = sl.pipeline { name = "sparse-load", kafka = { ["compression.type"] = "lz4" } }
p:file_source { path = "readings.jsonl", format = "json" }
  :kafka_sink { topic = "readings", key = "machine_id", format = "avro", schema = "machine_reading.avsc" }
LUA
  (cd "$work" && timeout 600 "$sluice" run load.lua --api off 2>"$work/load.log") ||
    { echo "loading failed: $(tail -n 3 "$work/load.log")" >&2; exit 1; }
fi
echo "loaded in $(( $(now_ms) - t0 )) ms" >&2

decode="format = \"json\"" sink_format=""
if [[ "$format" == avro ]]; then
  decode='format = "avro", schema = "machine_reading.avsc"'
  sink_format=', format = "avro", schema = "sparse_result.avsc"'
fi

sink_in() { # records taken by the kafka_sink so far
  { curl -s "http://127.0.0.1:$1/metrics" 2>/dev/null || true; } |
    awk '/^sluice_records_in_total/ && /kafka_sink/ {s += $NF} END {printf "%d", s}'
}
checkpoint_s() { # seconds spent in checkpoints so far (sum of sluice_checkpoint_seconds)
  { curl -s "http://127.0.0.1:$1/metrics" 2>/dev/null || true; } |
    awk '/^sluice_checkpoint_seconds_sum/ {s += $NF} END {printf "%.3f", s}'
}
sched() { cat "/proc/$1/task/$1/schedstat" 2>/dev/null || echo "0 0 0"; }
decode_in() {
  { curl -s "http://127.0.0.1:$1/metrics" 2>/dev/null || true; } |
    awk '/^sluice_records_in_total/ && /decode/ {s += $NF} END {printf "%d", s}'
}

run_one() { # STATE RUN_NUMBER: prints one JSON line
  local state="$1" i="$2" name="sparse-$1-$2"
  "$topic_tool" "$brokers" "$name" 4
  cat >"$work/$name.lua" <<LUA
local sl = require "sluice"
local p = sl.pipeline { name = "$name", state = "$state", checkpoint = "1s" }
p:kafka_source { topic = "readings" }
  :decode { $decode }
  :window { tumbling = "10s", key = "machine_id", time = "ts", delay = "1s" }
  :aggregate { n = "count()", avg_temp = "avg(temperature)", max_temp = "max(temperature)" }
  :kafka_sink { topic = "$name", key = "machine_id"$sink_format }
LUA
  local port b0 r0 t0
  port="$(free_port)"
  b0="$(ticks "$broker_pid")" r0="$(ticks "$redis_pid")"
  t0=$(now_ms)
  (cd "$work" && exec ${wrap:-} "$sluice" run "$name.lua" --api "127.0.0.1:$port" 2>"$work/$name.log") &
  worker=$!
  # Done when every record is read and the sink's count has not moved for 2 s; CPU and
  # time are those of the first poll that showed the final count.
  local deadline=$(( $(now_ms) + 1800000 )) n=0 out=-1 last_out=-1 at_ms=0 at_cpu=0 since=0 first=0
  local st="0 0 0" st_first="0 0 0" st_at="0 0 0"
  while :; do
    kill -0 "$worker" 2>/dev/null || { echo "the worker exited: $(tail -n 5 "$work/$name.log")" >&2; exit 1; }
    [[ $(now_ms) -lt $deadline ]] || { echo "$name did not finish in 1800 s" >&2; exit 1; }
    local cpu now
    cpu="$(ticks "$worker")" st="$(sched "$worker")"
    now=$(now_ms)
    [[ "$n" -ge "$records" ]] || n="$(decode_in "$port")"
    [[ "$first" -eq 0 && "$n" -gt 0 ]] && first=$now st_first="$st"
    out="$(sink_in "$port")"
    if [[ "$out" != "$last_out" ]]; then last_out="$out" at_ms=$now at_cpu=$cpu since=$now st_at="$st"; fi
    [[ "$n" -ge "$records" && $(( now - since )) -ge ${settle_ms:-2000} ]] && break
    sleep ${poll_s:-0.05}
  done
  local hwm ckpt
  hwm="$(awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$worker/status")"
  ckpt="$(checkpoint_s "$port")"
  kill -TERM "$worker"
  wait "$worker" || { echo "$name: exit status $?: $(tail -n 3 "$work/$name.log")" >&2; exit 1; }
  worker=""
  local b1 r1
  b1="$(ticks "$broker_pid")" r1="$(ticks "$redis_pid")"
  local fmt='%s\n'
  [[ "$format" == avro ]] && fmt='%R%s'
  timeout 300 kcat -C -b "$brokers" -t "$name" -e -q -o beginning -f "$fmt" >"$work/$name.out" 2>/dev/null
  local check
  check="$(python3 "$here/bench/kafka_sparse.py" check "$work/readings.txt" "$work/$name.out" "$format")" ||
    { echo "$name: results wrong: $check" >&2; exit 1; }
  python3 - "$state" "$records" "$at_cpu" "$hz" "$(( at_ms - t0 ))" "$(( at_ms - first ))" "$hwm" "$(( b1 - b0 ))" "$(( r1 - r0 ))" "$check" "$format" "$st_first" "$st_at" "$ckpt" <<'PY'
import json, sys
state, n, cpu, hz, wall, wall1, hwm, bk, rd, check, fmt, st0, st1, ckpt = sys.argv[1:]
n, cpu_s, wall_s, wall1_s = int(n), int(cpu) / int(hz), int(wall) / 1000, int(wall1) / 1000
c = json.loads(check)
(run0, q0, _), (run1, q1, _) = (map(int, st0.split()), map(int, st1.split()))
main_run, main_runq = (run1 - run0) / 1e9, (q1 - q0) / 1e9
main_blocked = max(0.0, wall1_s - main_run - main_runq)
print(json.dumps({"state": state, "format": fmt, "records": n, "results": c["results"], "checked": c["ok"],
                  "worker_cpu_s": round(cpu_s, 2), "wall_s": round(wall_s, 2),
                  "records_per_cpu_s": round(n / cpu_s), "records_per_wall_s": round(n / wall_s),
                  "wall_over_cpu": round(wall_s / cpu_s, 2),
                  "wall_from_first_record_s": round(wall1_s, 2),
                  "records_per_wall_s_from_first": round(n / wall1_s), "peak_rss_mib": float(hwm),
                  "broker_cpu_s": int(bk) / int(hz), "redis_cpu_s": int(rd) / int(hz),
                  "main_run_s": round(main_run, 2), "main_runq_s": round(main_runq, 2),
                  "main_blocked_s": round(main_blocked, 2), "checkpoint_s": float(ckpt)}))
PY
}

: >"$work/runs.jsonl"
for i in $(seq 1 "$runs"); do
  for state in $states; do
    echo "run $i, state = $state..." >&2
    run_one "$state" "$i" | tee -a "$work/runs.jsonl"
  done
done
python3 - "$work/runs.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for state in sorted({r["state"] for r in rows}):
    rs = [r for r in rows if r["state"] == state]
    med = {k: statistics.median(r[k] for r in rs)
           for k in ("records_per_cpu_s", "records_per_wall_s", "wall_over_cpu",
                     "records_per_wall_s_from_first", "peak_rss_mib",
                     "worker_cpu_s", "broker_cpu_s", "redis_cpu_s", "main_run_s",
                     "main_runq_s", "main_blocked_s", "checkpoint_s")}
    print(json.dumps({"median_of": len(rs), "state": state, "format": rs[0]["format"], "results": rs[0]["results"], **med}))
PY

if [[ "$callgrind" == 1 ]]; then
  echo "profiling one state = redis run under callgrind..." >&2
  wrap="valgrind --tool=callgrind --callgrind-out-file=$work/callgrind.out" settle_ms=10000 poll_s=0.5 \
    run_one redis cg >/dev/null
  "$here/bench/kafka_sparse_phases.sh" "$work/callgrind.out" "$records"
fi
