#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end measurements against a real Apache Kafka broker and Redis:
#
#  1. throughput: N readings are produced into topic `readings` (simulator ->
#     kafka_sink, raw bytes), then the reference pipeline kafka_source ->
#     decode -> filter -> 10 s window -> count/avg/max/p95 -> kafka_sink runs
#     with state = "redis", checkpoint = "1s". /metrics is polled every 50 ms;
#     records/s = N / (time the source had read all N - time it read its
#     first), then the pipeline is stopped with SIGTERM.
#  2. latency: the same pipeline fed live by the simulator (RATE readings/s,
#     event time = wall clock) with delay = 0 writes its results to a topic
#     created with message.timestamp.type=LogAppendTime. A result's Kafka
#     timestamp is then the broker's clock when it appended it, and
#     timestamp - window_end is the time from the window closing (event time
#     reaching window_end, which no earlier than the record that closed it
#     arrived) to its result sitting in Kafka (acks = all, one broker).
#  3. idle RSS: a Kafka pipeline with no input, VmRSS after 10 s.
#
#   bench/kafka_e2e.sh [--format avro|json] [--records N] [--keys N]
#                      [--rate R] [--seconds S] [--window D] [--linger MS]
#                      [--checkpoint D]
# Environment: BUILD (default build); PERF_RECORD=1 records a perf profile of
# the consumer in $BUILD/kafka-e2e/consume.perf. Everything lives under
# $BUILD/kafka-e2e and is stopped on exit; bounded by timeouts throughout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${BUILD:-$here/build}" && pwd)"
sluice="$build/sluice"
topic_tool="$build/bench/kafka_topic"
format=avro records=2000000 keys=10000 rate=20000 seconds=30 window=1s linger="" checkpoint=1s
while [[ $# -gt 0 ]]; do
  case "$1" in
    --format) format="$2" ;;
    --records) records="$2" ;;
    --keys) keys="$2" ;;
    --rate) rate="$2" ;;
    --seconds) seconds="$2" ;;
    --window) window="$2" ;;
    --linger) linger="$2" ;; # the live pipeline's Kafka producer linger.ms (librdkafka: 5)
    --checkpoint) checkpoint="$2" ;; # the live pipeline's checkpoint interval
    *) echo "usage: $0 [--format avro|json] [--records N] [--keys N] [--rate R] [--seconds S] [--window D] [--linger MS] [--checkpoint D]" >&2; exit 2 ;;
  esac
  shift 2
done
[[ -x "$sluice" && -x "$topic_tool" ]] || { echo "build first: $sluice, $topic_tool" >&2; exit 1; }
command -v kcat >/dev/null && command -v redis-server >/dev/null && command -v curl >/dev/null ||
  { echo "kcat, redis-server and curl are needed" >&2; exit 1; }

work="$build/kafka-e2e"
rm -rf "$work"
mkdir -p "$work"
cp "$here/pipelines/schemas/machine_reading.avsc" "$work/reading.avsc"
pids=()
redis_pid=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [[ -n "$redis_pid" ]] && { kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; }
  "$here/scripts/kafka-broker.sh" stop "$work/broker" >/dev/null 2>&1 || true
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
now_ms() { date +%s%3N; }
rss_mib() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
cpu_s() { # user + system CPU seconds of a process so far
  awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"
}

echo "starting Kafka and Redis..." >&2
brokers="$("$here/scripts/kafka-broker.sh" start "$work/broker" | sed -n 's/^SLUICE_TEST_KAFKA_BROKERS=//p')"
[[ -n "$brokers" ]] || { echo "the broker did not start" >&2; exit 1; }
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
"$topic_tool" "$brokers" results 4
"$topic_tool" "$brokers" live-results 4 append-time
"$topic_tool" "$brokers" idle 4

decode="format = \"$format\""
[[ "$format" == avro ]] && decode="$decode, schema = \"reading.avsc\""
aggregate='n = "count()", avg_temperature = "avg(temperature)", max_temperature = "max(temperature)", p95_temperature = "p95(temperature)"'

# ---- 1. throughput -----------------------------------------------------------
cat >"$work/produce.lua" <<EOF
local sl = require "sluice"
local p = sl.pipeline { name = "e2e-produce" }
p:simulator { machines = $keys, records = $records, rate = 0, format = "$format", faults = false }
  :kafka_sink { topic = "readings", raw = true }
EOF
cat >"$work/consume.lua" <<EOF
local sl = require "sluice"
local p = sl.pipeline { name = "e2e-consume", state = "redis", checkpoint = "1s" }
p:kafka_source { topic = "readings" }
  :decode { $decode }
  :filter "temperature between -40 and 150"
  :window { tumbling = "10s", key = "machine_id", time = "ts" }
  :aggregate { $aggregate }
  :kafka_sink { topic = "results" }
EOF
echo "producing $records $format readings..." >&2
t0=$(now_ms)
(cd "$work" && timeout 300 "$sluice" run produce.lua --api off 2>"$work/produce.log")
produce_ms=$(( $(now_ms) - t0 ))

# What the broker delivers to a bare consumer (kcat, no processing): the
# ceiling for the pipeline on this machine.
t0=$(now_ms)
kcat_n="$(timeout 300 kcat -C -b "$brokers" -t readings -e -q -o beginning -f '\n' 2>/dev/null | wc -l)"
kcat_ms=$(( $(now_ms) - t0 ))

api_port="$(free_port)"
(cd "$work" && exec timeout 600 "$sluice" run consume.lua --api "127.0.0.1:$api_port" 2>"$work/consume.log") &
consumer=$!
pids+=("$consumer")
source_in() { # records read from Kafka so far: what the decode node received
  { curl -s "http://127.0.0.1:$api_port/metrics" 2>/dev/null || true; } |
    awk '/^sluice_records_in_total/ && /decode[#:]/ {s += $NF} END {printf "%d", s}'
}
perf_pid=""
if [[ -n "${PERF_RECORD:-}" ]]; then # profile the consumer: $work/consume.perf
  sleep 0.5
  perf record -q -g -o "$work/consume.perf" -p "$(pgrep -P "$consumer" sluice)" >/dev/null 2>&1 &
  perf_pid=$!
fi
# The metrics are republished every ~100 ms: `first` and `last` are the
# first publish showing a record and the first showing all N, so the
# figure is good to about +-0.1 s; `steady` is the rate between the first
# and the last publish strictly inside the run.
first="" last="" deadline=$(( $(now_ms) + 180000 )) prev=0 n1="" t1="" nk="" tk=""
while :; do
  n="$(source_in)"
  [[ -z "$first" && "${n:-0}" -gt 0 ]] && first=$(now_ms)
  if [[ "${n:-0}" != "$prev" && "${n:-0}" -gt 0 && "${n:-0}" -lt "$records" ]]; then
    [[ -z "$n1" ]] && { n1=$n; t1=$(now_ms); }
    nk=$n tk=$(now_ms)
  fi
  prev="${n:-0}"
  if [[ "${n:-0}" -ge "$records" ]]; then last=$(now_ms); break; fi
  [[ $(now_ms) -lt $deadline ]] || { echo "the consumer did not finish in 180 s (read ${n:-0})" >&2; exit 1; }
  kill -0 "$consumer" 2>/dev/null || { echo "the consumer exited: $(tail -n 5 "$work/consume.log")" >&2; exit 1; }
  sleep 0.05
done
[[ -n "$perf_pid" ]] && { kill -INT "$perf_pid"; wait "$perf_pid" || true; }
consumer_pid="$(pgrep -P "$consumer" sluice || echo "$consumer")"
consumer_rss="$(rss_mib "$consumer_pid" 2>/dev/null || echo "?")"
consumer_cpu="$(cpu_s "$consumer_pid" 2>/dev/null || echo "?")"
kill -TERM "$consumer"
wait "$consumer" || true
consume_ms=$(( last - first ))
steady=0
[[ -n "$t1" && "$tk" -gt "$t1" ]] && steady=$(( (nk - n1) * 1000 / (tk - t1) ))
results="$(timeout 60 kcat -C -b "$brokers" -t results -e -q -o beginning -f '.\n' 2>/dev/null | wc -l)"

# ---- 2. latency ----------------------------------------------------------------
live_keys=$(( keys < 1000 ? keys : 1000 ))
cat >"$work/live.lua" <<EOF
local sl = require "sluice"
local p = sl.pipeline { name = "e2e-live", state = "redis", checkpoint = "$checkpoint" }
p:simulator { machines = $live_keys, rate = $rate, format = "$format", faults = false }
  :decode { $decode }
  :filter "temperature between -40 and 150"
  :window { tumbling = "$window", key = "machine_id", time = "ts", delay = "0s" }
  :aggregate { $aggregate }
  :kafka_sink { topic = "live-results" }
EOF
echo "running live at $rate readings/s for $seconds s..." >&2
[[ -n "$linger" ]] && export SLUICE_KAFKA_LINGER_MS="$linger"
live_port="$(free_port)"
(cd "$work" && exec timeout $(( seconds + 30 )) "$sluice" run live.lua --api "127.0.0.1:$live_port" 2>"$work/live.log") &
live=$!
pids+=("$live")
sleep "$seconds"
live_rss="$(rss_mib "$(pgrep -P "$live" sluice || echo "$live")" 2>/dev/null || echo "?")"
# What the target is about, measured inside the worker: from the arrival of
# the record that closed a window (or the tick that fired it) to the sink
# taking the result (sluice_sink_latency_seconds of the kafka_sink); the
# quantiles are bucket bounds ("at most").
curl -s "http://127.0.0.1:$live_port/metrics" >"$work/live-metrics.txt" || true
sink_latency="$(python3 - "$work/live-metrics.txt" <<'EOF'
import re, sys
buckets = []
for line in open(sys.argv[1]):
    m = re.match(r'sluice_sink_latency_seconds_bucket\{(.*)\} (\S+)', line)
    if m and 'kafka_sink' in m.group(1):
        le = re.search(r'le="([^"]+)"', m.group(1)).group(1)
        buckets.append((float('inf') if le == '+Inf' else float(le), float(m.group(2))))
buckets.sort()
total = buckets[-1][1] if buckets else 0
def q(p):
    for le, n in buckets:
        if n >= p * total:
            return le * 1000
    return float('nan')
print('"sink_latency_results":%d,"sink_latency_p50_le_ms":%g,"sink_latency_p99_le_ms":%g'
      % (total, q(0.5), q(0.99)) if total else '"sink_latency_results":0')
EOF
)"
kill -TERM "$live"
wait "$live" || true
unset SLUICE_KAFKA_LINGER_MS
timeout 60 kcat -C -b "$brokers" -t live-results -e -q -o beginning -f '%T %s\n' >"$work/live-results.txt" 2>/dev/null || true
latency="$(python3 - "$work/live-results.txt" <<'EOF'
import json, sys, datetime
rows = []
for line in open(sys.argv[1]):
    ts, _, body = line.partition(" ")
    try:
        end = json.loads(body)["window_end"]
    except (ValueError, KeyError):
        continue
    if isinstance(end, str):
        end = datetime.datetime.fromisoformat(end.replace("Z", "+00:00")).timestamp() * 1000
    rows.append((end, int(ts) - end))
# The first two windows are warm-up (a partial first window, the producer's
# first connection and the first checkpoint) and are left out.
ends = sorted(set(e for e, _ in rows))
lat = sorted(l for e, l in rows if e in set(ends[2:]))
if not lat:
    print('"latency_results":0')
else:
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
    print('"latency_windows":%d,"latency_results":%d,"latency_p50_ms":%.0f,"latency_p99_ms":%.0f,'
          '"latency_max_ms":%.0f' % (len(ends) - 2, len(lat), q(0.50), q(0.99), lat[-1]))
EOF
)"

# ---- 3. idle RSS ---------------------------------------------------------------
cat >"$work/idle.lua" <<EOF
local sl = require "sluice"
local p = sl.pipeline { name = "e2e-idle" }
p:kafka_source { topic = "idle" }
  :decode { $decode }
  :filter "temperature between -40 and 150"
  :window { tumbling = "10s", key = "machine_id", time = "ts" }
  :aggregate { $aggregate }
  :kafka_sink { topic = "idle-results" }
EOF
(cd "$work" && exec timeout 60 "$sluice" run idle.lua --api off 2>"$work/idle.log") &
idle=$!
pids+=("$idle")
sleep 10
idle_rss="$(rss_mib "$(pgrep -P "$idle" sluice || echo "$idle")" 2>/dev/null || echo "?")"
kill -TERM "$idle"
wait "$idle" || true

awk -v n="$records" -v pm="$produce_ms" -v cm="$consume_ms" -v res="$results" \
  -v kn="$kcat_n" -v steady="$steady" -v km="$kcat_ms" -v crss="$consumer_rss" -v ccpu="$consumer_cpu" -v lrss="$live_rss" -v irss="$idle_rss" -v fmt="$format" \
  -v lat="$latency" -v rate="$rate" -v win="$window" -v linger="${linger:-default}" -v ckpt="$checkpoint" -v slat="$sink_latency" 'BEGIN {
  printf "{\"format\":\"%s\",\"records\":%d,\"produce_records_per_sec\":%.0f,", fmt, n, n / (pm / 1000)
  printf "\"kcat_records\":%d,\"kcat_records_per_sec\":%.0f,", kn, kn / (km / 1000)
  printf "\"consume_seconds\":%.3f,\"consume_records_per_sec\":%.0f,\"results\":%d,", cm / 1000, n / (cm / 1000), res
  printf "\"consume_steady_records_per_sec\":%d,", steady
  printf "\"consumer_cpu_s\":%s,\"consumer_rss_mib\":%s,\"live_rate\":%d,\"live_window\":\"%s\",", ccpu, crss, rate, win
  printf "\"live_linger_ms\":\"%s\",\"live_checkpoint\":\"%s\",%s,%s,", linger, ckpt, lat, slat
  printf "\"live_rss_mib\":%s,\"idle_rss_mib\":%s}\n", lrss, irss
}'
