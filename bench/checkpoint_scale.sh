#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What one checkpoint costs when K distinct keys changed in the interval
# (issue 17, docs/state.md "Checkpoint cost at scale"), on one Redis and on a
# 3-primary Redis Cluster, and how long a fresh worker takes to restore the
# largest K.
#
# The input is the live simulator with `machines = K` paced at K readings
# per interval (rate = K / interval), so every interval every machine sends
# one reading and every checkpoint writes K changed window states (plus one
# watermark entry per partition). The interval is 1 s, longer when K would
# need more than MAX_RATE readings/s (the checkpoint's cost depends on the
# keys it writes, not on the interval; a longer interval only keeps the
# input rate within what a shared machine sustains). The pipeline:
#   simulator(json, 12 partitions) -> decode -> window{tumbling = "24h",
#   key = machine_id} -> aggregate{count, avg, max, p95} -> file_sink /dev/null
# The windows never close during a run, so each checkpoint is K puts and no
# deletes. Per checkpoint (bench/checkpoint_scale.py): bytes received by the
# Redis primaries (INFO total_net_input_bytes), Redis CPU (used_cpu_sys +
# used_cpu_user of every node: all primaries, the busiest, the replicas),
# the time Redis spent in the checkpoint scripts (commandstats evalsha), and
# the wall time of the checkpoint as the worker logs it. Medians over every measured
# checkpoint of every run. Redis runs with appendonly yes, appendfsync
# always (the setting docs/state.md recommends); the cluster has REPLICAS
# replicas per primary. The restore is a fresh worker with a kafka_source
# (only a Kafka assignment restores state): it uses SLUICE_TEST_KAFKA_BROKERS
# or starts scripts/kafka-broker.sh. Starts its own servers and stops them.
#
#   bench/checkpoint_scale.sh [BUILD_DIR]
# env: KEYS ("10000 100000 1000000"), RUNS (3), RUNS_1M (1: runs for K >= 1M),
#      CHECKPOINTS (3 measured per run, after 1 not counted), SETUPS
#      ("single cluster"), MAX_RATE (50000 readings/s), PARTITIONS (12),
#      REPLICAS (1), AOF (always | everysec | no), RESTORE (1; 0 skips it),
#      KEEP (0; 1 keeps the logs of Redis and the workers)
# A small run (the ctest smoke test bench_checkpoint_scale; 4 partitions let
# the restore use the worker's in-process Kafka):
#   KEYS=2000 RUNS=1 CHECKPOINTS=2 PARTITIONS=4 SETUPS=single bench/checkpoint_scale.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
BIN=$BUILD/sluice
KEYS=${KEYS:-10000 100000 1000000}
RUNS=${RUNS:-3}
CHECKPOINTS=${CHECKPOINTS:-3}
SETUPS=${SETUPS:-single cluster}
MAX_RATE=${MAX_RATE:-50000}
PARTITIONS=${PARTITIONS:-12}
REPLICAS=${REPLICAS:-1}
AOF=${AOF:-always}
RESTORE=${RESTORE:-1}
[ -x "$BIN" ] || { echo "build first: $BIN is missing" >&2; exit 2; }
for t in redis-server redis-cli python3; do
  command -v "$t" >/dev/null || { echo "$t missing" >&2; exit 2; }
done
source "$ROOT/scripts/e2e/lib/redis_cluster.sh"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/checkpoint_scale.XXXXXX")
PIDS=()
KAFKA_DIR=""
stop_servers() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
cleanup() {
  local rc=$?
  stop_servers
  if [ -n "$KAFKA_DIR" ]; then
    bash "$ROOT/scripts/kafka-broker.sh" stop "$KAFKA_DIR" >/dev/null 2>&1 || true
  fi
  if [ $rc != 0 ] || [ "${KEEP:-0}" = 1 ]; then
    echo "checkpoint_scale: logs kept in $TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
aof_args() {
  if [ "$AOF" = no ]; then echo "--appendonly no"; else echo "--appendonly yes --appendfsync $AOF"; fi
}

# start_single: one Redis; sets URL and NODES.
start_single() {
  local port
  port=$(free_port)
  mkdir -p "$TMP/single"
  # shellcheck disable=SC2046
  redis-server --port "$port" --bind 127.0.0.1 --save '' $(aof_args) --dir "$TMP/single" \
    --logfile "$TMP/single.log" --daemonize no </dev/null &
  PIDS+=($!)
  rcl_wait 20 rcl_answers "$port" || { echo "redis-server did not start" >&2; exit 1; }
  URL="redis://127.0.0.1:$port"
  NODES="127.0.0.1:$port"
}

# start_cluster: 3 primaries with REPLICAS replicas each; sets URL and NODES.
# cluster-node-timeout is Redis' default: a primary that runs a large
# checkpoint script for longer than the timeout is failed over (docs/state.md).
start_cluster() {
  export RCL_NODE_TIMEOUT=15000
  local i p ports=() n=$((3 * (1 + REPLICAS)))
  for i in $(seq 1 "$n"); do
    p=$(free_port)
    ports+=("$p")
    # shellcheck disable=SC2046
    rcl_start_node "$TMP/node$p" "$p" "$(free_port)" $(aof_args)
    PIDS+=("$RCL_PID")
  done
  rcl_create "$REPLICAS" "${ports[@]}" || exit 1
  mapfile -t prim < <(rcl_primaries "${ports[0]}")
  URL="redis://127.0.0.1:${prim[0]},127.0.0.1:${prim[1]},127.0.0.1:${prim[2]}"
  NODES=$(printf '127.0.0.1:%s,' "${ports[@]}")
  NODES=${NODES%,}
}

# start_kafka: the broker for the restore (SLUICE_TEST_KAFKA_BROKERS, or one
# started here) with the topic "simulator" of PARTITIONS partitions; sets BROKERS.
start_kafka() {
  [ -n "${BROKERS:-}" ] || BROKERS=${SLUICE_TEST_KAFKA_BROKERS:-embedded}
  # The worker's in-process broker makes topics of 4 partitions: enough for
  # PARTITIONS=4 (the smoke test); more need a real broker.
  if [ "$BROKERS" = embedded ] && [ "$PARTITIONS" = 4 ]; then return 0; fi
  if [ "$BROKERS" = embedded ]; then
    KAFKA_DIR=$TMP/kafka
    bash "$ROOT/scripts/kafka-broker.sh" start "$KAFKA_DIR" >"$TMP/kafka.out" </dev/null
    BROKERS=$(sed -n 's/^SLUICE_TEST_KAFKA_BROKERS=//p' "$TMP/kafka.out")
  fi
  "$BUILD/bench/kafka_topic" "$BROKERS" simulator "$PARTITIONS" >/dev/null ||
    { echo "cannot create the topic simulator on $BROKERS" >&2; exit 1; }
}

# The measured worker reads the simulator; the restoring one reads Kafka (the
# same stages after the source, so the same state).
STAGES='
  :decode { format = "json" }
  :window { tumbling = "24h", key = "machine_id", time = "ts" }
  :aggregate { n = "count()", avg_temp = "avg(temperature)", max_vib = "max(vibration)",
               p95_temp = "p95(temperature)" }
  :file_sink { path = "/dev/null" }'
cat >"$TMP/p.lua" <<LUA
local sl = require "sluice"
local p = sl.pipeline { name = sl.param("name", "ckpt-scale"), state = "redis",
                        checkpoint = sl.param("checkpoint", "1s") }
p:simulator { machines = sl.param("machines", 1000), rate = sl.param("rate", 1000),
              partitions = sl.param("partitions", 12), format = "json", faults = false }$STAGES
LUA
cat >"$TMP/restore.lua" <<LUA
local sl = require "sluice"
local p = sl.pipeline { name = sl.param("name", "ckpt-scale"), state = "redis" }
p:kafka_source { topic = "simulator" }$STAGES
LUA

echo "checkpoint_scale: keys per interval {$KEYS}, $PARTITIONS partitions, AOF $AOF," \
  "$CHECKPOINTS checkpoints per run measured"
echo "machine: $(nproc) CPUs, load $(uptime | sed 's/.*load average: //'), $(redis-server --version | awk '{print $3}')"
RESULTS=$TMP/results.jsonl
: >"$RESULTS"
for setup in $SETUPS; do
  "start_$setup"
  largest="" last_name=""
  for k in $KEYS; do
    interval_ms=$(((k + MAX_RATE - 1) / MAX_RATE * 1000))
    [ "$interval_ms" -ge 1000 ] || interval_ms=1000
    rate=$((k * 1000 / interval_ms))
    runs=$RUNS
    [ "$k" -lt 1000000 ] || runs=${RUNS_1M:-1}
    for i in $(seq 1 "$runs"); do
      name="scale-$setup-$k-$i"
      out=$(python3 "$ROOT/bench/checkpoint_scale.py" run --bin "$BIN" --pipeline "$TMP/p.lua" \
        --url "$URL" --nodes "$NODES" --name "$name" --keys "$k" --rate "$rate" \
        --interval-ms "$interval_ms" --partitions "$PARTITIONS" --checkpoints "$CHECKPOINTS" \
        --log "$TMP/$name.log")
      echo "{\"setup\":\"$setup\",\"interval_ms\":$interval_ms,\"run\":$out}" >>"$RESULTS"
      echo "  $setup K=$k run $i done (interval ${interval_ms} ms, load $(cut -d' ' -f1 /proc/loadavg))" >&2
      largest=$k last_name=$name
    done
  done
  if [ "$RESTORE" = 0 ]; then
    stop_servers
    continue
  fi
  # A fresh worker on the same Redis restores the largest K's state. Only a
  # Kafka assignment restores (the simulator has no owner to hand partitions
  # over), so the worker reads an empty topic named like the simulator's
  # checkpoint topic, and the stored offsets are set back to 0 first (they
  # count simulator readings, past the end of that topic).
  start_kafka
  for n in $(seq 0 $((PARTITIONS - 1))); do
    redis-cli -c -p "${NODES##*:}" SET "sl:{$last_name:simulator:$n}:offset" 0 >/dev/null
  done
  out=$(SLUICE_KAFKA_BROKERS=$BROKERS python3 "$ROOT/bench/checkpoint_scale.py" restore \
    --bin "$BIN" --pipeline "$TMP/restore.lua" --url "$URL" --nodes "$NODES" \
    --name "$last_name" --keys "$largest" --partitions "$PARTITIONS" \
    --log "$TMP/$last_name-restore.log")
  echo "{\"setup\":\"$setup\",\"restore\":$out}" >>"$RESULTS"
  stop_servers
done
echo "after the runs: load $(uptime | sed 's/.*load average: //')"

python3 - "$RESULTS" "$PARTITIONS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
parts = int(sys.argv[2])
med = statistics.median
bad = []
print("\n%-8s %9s %6s %9s %12s %8s %11s %11s %11s %10s %10s %10s %9s" % (
    "setup", "keys", "ckpts", "puts", "bytes", "B/key", "cpu_prim_ms", "cpu_busy_ms",
    "cpu_repl_ms", "script_ms", "redis_ms", "wall_ms", "mem_MB"))
groups = {}
for r in rows:
    if "run" in r:
        groups.setdefault((r["setup"], r["run"]["keys"]), []).append(r)
for (setup, k), rs in groups.items():
    cs = [c for r in rs for c in r["run"]["checkpoints"]]
    for c in cs:
        # Every key must have changed in the interval (plus a watermark per partition).
        if c["puts"] < k or c["deletes"]:
            bad.append("%s K=%d: a checkpoint wrote %d puts, %d deletes (want >= %d puts)"
                       % (setup, k, c["puts"], c["deletes"], k))
    m = lambda f: med([c[f] for c in cs])
    print("%-8s %9d %6d %9d %12d %8.1f %11.1f %11.1f %11.1f %10.1f %10.1f %10.1f %9.0f" % (
        setup, k, len(cs), m("puts"), m("bytes_in"), m("bytes_in") / k,
        m("cpu_primaries_s") * 1e3, m("cpu_busiest_primary_s") * 1e3,
        m("cpu_replicas_s") * 1e3, m("evalsha_ms"),
        m("redis_ms"), m("wall_ms"), rs[-1]["run"]["used_memory"] / 1e6))
    print("         interval %d ms, %d runs, %d checkpoints left out (fewer keys, or run together);"
          " wall per checkpoint: %s ms; partitions per primary: %s"
          % (rs[0]["interval_ms"], len(rs), sum(r["run"]["skipped"] for r in rs),
             " ".join("%.0f" % c["wall_ms"] for c in cs),
             " ".join("/".join(map(str, r["run"]["checkpoints"][0]["partitions_per_primary"]))
                      for r in rs)))
for r in rows:
    if "restore" in r:
        x = r["restore"]
        print("restore %-8s %d keys: %d entries in %d partitions, start to restored %.2f s "
              "(sum of the partitions' restore %.2f s)" % (
                  r["setup"], x["keys"], x["entries"], x["partitions"],
                  x["start_to_restored_s"], x["restore_ms_sum"] / 1e3))
        if x["entries"] < x["keys"] or x["partitions"] != parts:
            bad.append("restore on %s: %d entries, %d partitions" % (
                r["setup"], x["entries"], x["partitions"]))
for b in bad:
    print("FAIL: " + b)
sys.exit(1 if bad else 0)
PY
